//! The page cache of the public port: pages and API answers computed once per checkpoint.
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::*;

/// Pages and API answers computed once per checkpoint: a GET whose answer names the root it was read at
/// (`X-Accord-Root`) is kept, keyed by its URI, and served again until the log grows; it carries
/// `ETag: "<root>"` and `Cache-Control: public, max-age=5`, and a matching `If-None-Match` gets 304.
/// `X-Accord-Cache` says `hit` or `miss`. Bounded: at most [`PAGE_CACHE_ENTRIES`] answers of at most
/// [`PAGE_CACHE_ANSWER_BYTES`] each, all dropped when the root changes.
#[derive(Debug)]
pub struct PageCache {
    ledger: Arc<Ledger>,
    pages: std::sync::Mutex<(String, std::collections::HashMap<String, CachedPage>)>,
}

/// Most answers the page cache keeps.
pub const PAGE_CACHE_ENTRIES: usize = 512;
/// Largest answer the page cache keeps.
pub const PAGE_CACHE_ANSWER_BYTES: usize = 4 * 1024 * 1024;

impl PageCache {
    /// An empty cache over `ledger`'s checkpoints.
    pub fn new(ledger: Arc<Ledger>) -> Self {
        Self { ledger, pages: Default::default() }
    }
}

#[derive(Debug, Clone)]
struct CachedPage {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: bytes::Bytes,
}

impl CachedPage {
    fn response(&self, etag: &str, if_none_match: Option<&HeaderValue>, hit: bool) -> Response {
        let not_modified = if_none_match
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*"));
        let mut res = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut r = (self.status, self.body.clone()).into_response();
            *r.headers_mut() = self.headers.clone();
            r
        };
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=5"));
        h.insert("x-accord-cache", HeaderValue::from_static(if hit { "hit" } else { "miss" }));
        res
    }
}

pub(super) async fn page_cache(
    State(cache): State<Arc<PageCache>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() != axum::http::Method::GET {
        return next.run(req).await;
    }
    let key = req.uri().to_string();
    let inm = req.headers().get(header::IF_NONE_MATCH).cloned();
    let latest = hex::encode(cache.ledger.latest().root);
    let etag = format!("\"{latest}\"");
    let hit = {
        let pages = crate::sync::lock(&cache.pages);
        if pages.0 == latest {
            pages.1.get(&key).cloned()
        } else {
            None
        }
    };
    if let Some(page) = hit {
        return page.response(&etag, inm.as_ref(), true);
    }
    let res = next.run(req).await;
    let root = res.headers().get("x-accord-root").and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(root) = root else { return res };
    if res.status() != StatusCode::OK {
        return res;
    }
    let (parts, body) = res.into_parts();
    let body = match axum::body::to_bytes(body, PAGE_CACHE_ANSWER_BYTES).await {
        Ok(b) => b,
        Err(e) => return page_error(Error::internal(format!("page body: {e}"))),
    };
    let page = CachedPage { status: parts.status, headers: parts.headers, body };
    // Kept only when read at the root that is still the latest (a read can run ahead of the published
    // checkpoint for a moment; it is then served, not kept).
    if root == latest {
        let mut pages = crate::sync::lock(&cache.pages);
        if pages.0 != latest {
            *pages = (latest.clone(), Default::default());
        }
        if pages.1.len() < PAGE_CACHE_ENTRIES {
            pages.1.insert(key, page.clone());
        }
    }
    page.response(&format!("\"{root}\""), inm.as_ref(), false)
}
