//! The rendered bodies (`content.html`) of the articles the feeds showed at the last
//! build, kept in a file beside the state (`herald.sqlite-feed-bodies`), so that a
//! build renders only the bodies of articles new to the feeds. Every feed carries
//! the whole text of its newest articles (50 by default), and a build that adds one
//! article would otherwise fetch, decode and render all of them again: about a
//! tenth of such a build on 10,000 articles.
//!
//! A body is kept under a key that covers everything it is rendered from
//! ([`body_key`]: the article's fingerprint, which covers Herald's version, the
//! templates, the site values, its source and its times, and its id), so a stale
//! body is never used: a changed article, template or setting simply misses. The
//! file is only a cache. It is replaced atomically and ends with a fingerprint of
//! what it holds; one that cannot be read, or whose fingerprint does not match, is
//! ignored (every body is then rendered), and failing to write it only costs the
//! next build the time to render them.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::fingerprints::article_fingerprint;
use crate::content::catalog::Entry;
use crate::support::fingerprint::fingerprint;

/// Bumped whenever the file's layout changes.
const FORMAT: u32 = 1;

/// The bodies the last build's feeds showed, by [`body_key`].
#[derive(Debug, Default)]
pub(super) struct FeedBodies {
    bodies: HashMap<String, String>,
}

/// The key of `entry`'s rendered body: its article fingerprint under the site's
/// fingerprint `site`, and its id.
pub(super) fn body_key(site: &str, entry: &Entry) -> String {
    let article = article_fingerprint(
        site,
        &entry.source_hash,
        entry.published.timestamp(),
        entry.updated.timestamp(),
    );
    fingerprint([article.as_bytes(), entry.article.id.as_bytes()])
}

/// Where the bodies are kept for the state file `state`.
pub(super) fn feed_bodies_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push("-feed-bodies");
    PathBuf::from(name)
}

impl FeedBodies {
    /// The bodies in `path`; none when it is missing or cannot be trusted.
    pub(super) fn read(path: &Path) -> FeedBodies {
        let bodies = std::fs::read(path)
            .ok()
            .and_then(|bytes| decode(&bytes))
            .unwrap_or_default();
        FeedBodies { bodies }
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.bodies.get(key).map(String::as_str)
    }

    /// True when `keys` are exactly the keys held: saving them would change nothing.
    pub(super) fn holds_exactly<'a>(&self, keys: impl ExactSizeIterator<Item = &'a str>) -> bool {
        keys.len() == self.bodies.len() && {
            let mut keys = keys;
            keys.all(|key| self.bodies.contains_key(key))
        }
    }
}

/// Replaces the file at `path` with `bodies` (key, rendered body), atomically.
pub(super) fn save_feed_bodies(path: &Path, bodies: &[(&str, &str)]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(&encode(bodies))?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn encode(bodies: &[(&str, &str)]) -> Vec<u8> {
    let size: usize = bodies.iter().map(|(k, b)| 8 + k.len() + b.len()).sum();
    let mut out = Vec::with_capacity(8 + size + 64);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&(bodies.len() as u32).to_le_bytes());
    for text in bodies.iter().flat_map(|(key, body)| [key, body]) {
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    let check = fingerprint([out.as_slice()]);
    out.extend_from_slice(check.as_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<HashMap<String, String>> {
    const CHECK: usize = 64;
    let (payload, check) = bytes.split_at_checked(bytes.len().checked_sub(CHECK)?)?;
    if fingerprint([payload]).as_bytes() != check {
        return None;
    }
    let mut rest = payload;
    let u32_at = |rest: &mut &[u8]| -> Option<usize> {
        let (n, tail) = rest.split_at_checked(4)?;
        *rest = tail;
        Some(u32::from_le_bytes(n.try_into().ok()?) as usize)
    };
    if u32_at(&mut rest)? != FORMAT as usize {
        return None;
    }
    let count = u32_at(&mut rest)?;
    let text = |rest: &mut &[u8]| -> Option<String> {
        let len = u32_at(rest)?;
        let (text, tail) = rest.split_at_checked(len)?;
        *rest = tail;
        String::from_utf8(text.to_vec()).ok()
    };
    let mut bodies = HashMap::with_capacity(count.min(1024));
    for _ in 0..count {
        let key = text(&mut rest)?;
        bodies.insert(key, text(&mut rest)?);
    }
    rest.is_empty().then_some(bodies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_bodies_read_back_and_a_damaged_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = feed_bodies_path(&dir.path().join("herald.sqlite"));
        assert!(FeedBodies::read(&path).get("a").is_none(), "no file yet");
        save_feed_bodies(&path, &[("a", "<p>甲</p>"), ("b", "")]).unwrap();
        let read = FeedBodies::read(&path);
        assert_eq!(read.get("a"), Some("<p>甲</p>"));
        assert_eq!(read.get("b"), Some(""));
        assert!(read.holds_exactly(["b", "a"].into_iter()));
        assert!(!read.holds_exactly(["a"].into_iter()));
        assert!(!read.holds_exactly(["a", "c"].into_iter()));

        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(FeedBodies::read(&path).get("a").is_none(), "damaged");
        std::fs::write(&path, &bytes[..10]).unwrap();
        assert!(FeedBodies::read(&path).get("a").is_none(), "cut short");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
