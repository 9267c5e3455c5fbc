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
use std::path::{Path, PathBuf};

use super::fingerprints::article_fingerprint;
use super::prepared::Prepared;
use super::report::BuildError;
use crate::content::catalog::Entry;
use crate::render::site::PreparedArticle;
use crate::store::companion::{companion_path, replace_companion};
use crate::support::fingerprint::fingerprint;
use crate::support::parallel::map_in_parallel;

/// Bumped whenever the file's layout changes.
const FORMAT: u32 = 1;

/// The newest articles as the feeds show them, and where their bodies are to be
/// kept for the next build.
pub(super) struct FeedItems {
    pub(super) items: Vec<PreparedArticle>,
    /// Each item's [`body_key`].
    keys: Vec<String>,
    /// Where to keep the bodies; `None` when what is kept there already holds
    /// exactly these (or nothing is to be kept).
    keep_at: Option<PathBuf>,
}

/// The first `count` entries of `prepared` as the feeds show them. A build that
/// writes (`state`: its state file) takes each body kept beside the state under
/// its key and renders the others; without `state` (a dry run) every body is
/// rendered.
pub(super) fn feed_items(
    prepared: &Prepared,
    count: usize,
    state: Option<&Path>,
) -> Result<FeedItems, BuildError> {
    let path = state.map(|state| companion_path(state, "-feed-bodies"));
    let kept = path.as_deref().map_or_else(HashMap::new, read_bodies);
    let indexes: Vec<usize> = (0..count.min(prepared.catalog.entries.len())).collect();
    let prepare = |&i: &usize| {
        let key = body_key(&prepared.site_fingerprint, &prepared.catalog.entries[i]);
        let item = match kept.get(&key) {
            Some(body) => PreparedArticle {
                content_html: body.clone(),
                ..prepared.listing(i)?
            },
            None => prepared.article(i)?,
        };
        Ok::<_, BuildError>((key, item))
    };
    let prepared: Vec<_> = map_in_parallel(&indexes, prepare)
        .into_iter()
        .collect::<Result<_, _>>()?;
    let (keys, items): (Vec<String>, Vec<PreparedArticle>) = prepared.into_iter().unzip();
    let unchanged = keys.len() == kept.len() && keys.iter().all(|key| kept.contains_key(key));
    Ok(FeedItems {
        items,
        keys,
        keep_at: path.filter(|_| !unchanged),
    })
}

impl FeedItems {
    /// Keeps the items' bodies for the next build, where that changes what is kept.
    /// A failure only costs the next build the time to render them, so it is a
    /// warning.
    pub(super) fn keep_bodies(&self) {
        let Some(path) = &self.keep_at else { return };
        let bodies: Vec<(&str, &str)> = (self.keys.iter().zip(&self.items))
            .map(|(key, item)| (key.as_str(), item.content_html.as_str()))
            .collect();
        if let Err(e) = replace_companion(path, &[&encode(&bodies)]) {
            tracing::warn!(
                "{}: {e} (the next build renders the feeds' bodies again)",
                path.display()
            );
        }
    }
}

/// The key of `entry`'s rendered body: its article fingerprint under the site's
/// fingerprint `site`, and its id.
fn body_key(site: &str, entry: &Entry) -> String {
    let article = article_fingerprint(
        site,
        &entry.source_hash,
        entry.published.timestamp(),
        entry.updated.timestamp(),
    );
    fingerprint([article.as_bytes(), entry.article.id.as_bytes()])
}

/// The bodies kept in `path`, by key; none when it is missing or cannot be trusted.
fn read_bodies(path: &Path) -> HashMap<String, String> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| decode(&bytes))
        .unwrap_or_default()
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
    fn kept_bodies_read_back_and_a_damaged_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = companion_path(&dir.path().join("herald.sqlite"), "-feed-bodies");
        assert!(read_bodies(&path).is_empty(), "no file yet");
        replace_companion(&path, &[&encode(&[("a", "<p>甲</p>"), ("b", "")])]).unwrap();
        let read = read_bodies(&path);
        assert_eq!(read.len(), 2);
        assert_eq!(read["a"], "<p>甲</p>");
        assert_eq!(read["b"], "");

        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_bodies(&path).is_empty(), "damaged");
        std::fs::write(&path, &bytes[..10]).unwrap();
        assert!(read_bodies(&path).is_empty(), "cut short");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
