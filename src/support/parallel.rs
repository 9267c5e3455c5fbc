//! Running independent pieces of work (seeds to parse, pages to render) on every core.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many threads rendering and parsing use: the cores available, at most 8.
pub(crate) fn worker_count() -> usize {
    // Asked once: the answer comes from reading the cgroup's files, and a build asks
    // for it at every stage.
    static COUNT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
    })
}

/// `items.iter().map(work).collect()`, spread over [`worker_count`] threads.
///
/// Items are handed out one at a time, so a few slow items do not leave the other
/// threads idle; results come back in the order of `items`. A panic in `work` is
/// re-raised on the calling thread.
pub(crate) fn map_in_parallel<T, R, F>(items: &[T], work: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = worker_count().min(items.len());
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else { break };
                        mine.push((index, work(item)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

/// Drops `value` on a thread of its own. Freeing 10,000 articles' worth of small
/// allocations takes milliseconds that the caller need not wait for; when the
/// process ends first, the operating system reclaims the memory at once.
pub(crate) fn drop_in_background<T: Send + 'static>(value: T) {
    // If no thread can be started, the closure (and `value` in it) is dropped here.
    let _ = std::thread::Builder::new()
        .name("herald-drop".into())
        .spawn(move || drop(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = map_in_parallel(&items, |n| n * n);
        assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
        assert!(map_in_parallel(&[] as &[u64], |n| *n).is_empty());
    }
}
