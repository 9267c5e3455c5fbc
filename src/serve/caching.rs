//! What lets readers and feed fetchers ask "has it changed?" cheaply: an `ETag`
//! on every static file beside the `Last-Modified` that `ServeDir` sends, `304 Not
//! Modified` for a matching `If-None-Match` (`ServeDir` answers `If-Modified-Since`
//! itself), and a `Cache-Control` per kind of file.

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, ETAG, IF_NONE_MATCH, LAST_MODIFIED};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Feeds are polled: let caches keep them five minutes. Pages are revalidated on
/// every visit (a 304 costs nothing).
fn cache_control(path: &str) -> &'static str {
    if path.ends_with(".xml") || path.ends_with(".json") {
        "public, max-age=300"
    } else {
        "public, no-cache"
    }
}

/// A weak validator from what identifies a file version here: its length and its
/// modification time (as `ServeDir` reports them).
fn etag_of(length: &HeaderValue, modified: &HeaderValue) -> Option<HeaderValue> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    modified.as_bytes().hash(&mut hasher);
    let length = length.to_str().ok()?;
    HeaderValue::from_str(&format!("W/\"{length}-{:x}\"", hasher.finish())).ok()
}

/// Whether an `If-None-Match` value names `etag` (or is `*`); weak comparison.
fn matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(wanted), Ok(etag)) = (if_none_match.to_str(), etag.to_str()) else {
        return false;
    };
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    wanted
        .split(',')
        .any(|tag| tag.trim() == "*" || bare(tag) == bare(etag))
}

pub(super) async fn conditional_get(request: Request, next: Next) -> Response {
    let if_none_match = request.headers().get(IF_NONE_MATCH).cloned();
    let path = request.uri().path().to_string();
    let mut response = next.run(request).await;
    let headers = response.headers();
    let (Some(length), Some(modified)) = (headers.get(CONTENT_LENGTH), headers.get(LAST_MODIFIED))
    else {
        return response;
    };
    let Some(etag) = etag_of(length, modified) else {
        return response;
    };
    let cache = HeaderValue::from_static(cache_control(&path));
    if response.status() == StatusCode::OK
        && if_none_match.is_some_and(|wanted| matches(&wanted, &etag))
    {
        let modified = modified.clone();
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        let headers = not_modified.headers_mut();
        headers.insert(ETAG, etag);
        headers.insert(LAST_MODIFIED, modified);
        headers.insert(CACHE_CONTROL, cache);
        return not_modified;
    }
    let headers = response.headers_mut();
    headers.insert(ETAG, etag);
    headers.insert(CACHE_CONTROL, cache);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let etag = HeaderValue::from_static("W/\"10-ab\"");
        for wanted in ["W/\"10-ab\"", "\"10-ab\"", "\"x\", W/\"10-ab\"", "*"] {
            assert!(
                matches(&HeaderValue::from_static(wanted), &etag),
                "{wanted}"
            );
        }
        assert!(!matches(&HeaderValue::from_static("W/\"11-ab\""), &etag));
    }
}
