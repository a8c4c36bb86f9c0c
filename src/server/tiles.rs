//! The C2SP tlog-tiles read API (c2sp.org/tlog-tiles) on the public HTTP port: `/checkpoint` (the latest
//! signed checkpoint with its witness cosignatures), hash tiles `/tile/<L>/<N>[.p/<W>]` and entry bundles
//! `/tile/entries/<N>[.p/<W>]`. Readers compute proofs themselves from what any cache or mirror serves.
//!
//! Every tile is read at the latest published checkpoint: hash tiles are copied from the stored hashes in
//! memory, entry bundles from the stored leaves; nothing is recomputed. A full tile never changes, so it is
//! served `immutable` for a year; a partial tile and the checkpoint are cacheable for seconds only.
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::ledger::Ledger;
use accord_tlog::tiles::TilePath;

/// Cache-Control of a full tile: it never changes.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of a partial tile (the log may drop it once the full tile exists).
pub const PARTIAL: &str = "public, max-age=60";
/// Cache-Control of the checkpoint: the log grows; a cache may hold it this long.
pub const CHECKPOINT: &str = "public, max-age=2";

/// The tlog-tiles routes, at the root of the HTTP port (merged into the public page's router).
pub fn routes() -> Router<Arc<Ledger>> {
    Router::new().route("/checkpoint", get(checkpoint)).route("/tile/{*rest}", get(tile))
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// Headers every tlog-tiles response carries: any origin may read it (browser verifiers).
fn shared(mut res: Response, cache: &'static str) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

async fn checkpoint(State(ledger): State<Arc<Ledger>>) -> Response {
    let latest = ledger.latest();
    let note = ledger.cosigned_note(latest.size, &latest.note);
    shared(text(StatusCode::OK, note), CHECKPOINT)
}

async fn tile(State(ledger): State<Arc<Ledger>>, Path(rest): Path<String>) -> Response {
    let tile = match TilePath::parse(&format!("tile/{rest}")) {
        Ok(t) => t,
        Err(e) => return shared(text(StatusCode::BAD_REQUEST, format!("{e}\n")), "no-store"),
    };
    let read = match tile {
        // Copied from memory under a read lock: cheaper than a hop to the blocking pool.
        TilePath::Hashes { .. } => ledger.tile(&tile),
        TilePath::Entries { .. } => {
            let ledger = ledger.clone();
            match tokio::task::spawn_blocking(move || ledger.tile(&tile)).await {
                Ok(r) => r,
                Err(e) => Err(crate::error::Error::internal(format!("tile read: {e}"))),
            }
        }
    };
    match read {
        Ok(Some(data)) => {
            let res = ([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response();
            shared(res, if tile.is_full() { IMMUTABLE } else { PARTIAL })
        }
        Ok(None) => shared(
            text(StatusCode::NOT_FOUND, format!("{tile} is not in the tree of size {}\n", ledger.latest().size)),
            "no-store",
        ),
        Err(e) => {
            tracing::error!(error = %e, %tile, "tile read");
            shared(
                text(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged on the server)\n".into()),
                "no-store",
            )
        }
    }
}

/// The same API over a static tlog-tiles directory (`accord mirror`): the files as written, with the same
/// cache headers. Paths are parsed as tile paths before any file is opened, so nothing else in (or
/// outside) the directory can be read.
pub fn dir_router(dir: std::path::PathBuf) -> Router {
    let dir = Arc::new(dir);
    Router::new()
        .route("/checkpoint", get(dir_checkpoint))
        .route("/tile/{*rest}", get(dir_tile))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(dir)
}

async fn dir_checkpoint(State(dir): State<Arc<std::path::PathBuf>>) -> Response {
    match tokio::fs::read_to_string(dir.join("checkpoint")).await {
        Ok(note) => shared(text(StatusCode::OK, note), CHECKPOINT),
        Err(_) => shared(text(StatusCode::NOT_FOUND, "no checkpoint yet\n".into()), "no-store"),
    }
}

async fn dir_tile(State(dir): State<Arc<std::path::PathBuf>>, Path(rest): Path<String>) -> Response {
    let tile = match TilePath::parse(&format!("tile/{rest}")) {
        Ok(t) => t,
        Err(e) => return shared(text(StatusCode::BAD_REQUEST, format!("{e}\n")), "no-store"),
    };
    match tokio::fs::read(dir.join(tile.path())).await {
        Ok(data) => {
            let res = ([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response();
            shared(res, if tile.is_full() { IMMUTABLE } else { PARTIAL })
        }
        Err(_) => shared(text(StatusCode::NOT_FOUND, format!("no {tile} here\n")), "no-store"),
    }
}

/// Keep a static tlog-tiles directory (`accord serve --tiles-dir`) up to date with the ledger: after every
/// published checkpoint, the tiles it adds and then the checkpoint itself, until `stop`. A failure is
/// logged and retried at the next checkpoint; it never affects the ledger.
pub async fn keep_dir(ledger: Arc<Ledger>, dir: crate::tiles::TileDir, stop: tokio_util::sync::CancellationToken) {
    let mut sizes = ledger.size_watch();
    let log = match crate::crypto::StrictNoteVerifier::from_verifier_key(ledger.verifier_key()) {
        Ok(l) => l,
        Err(e) => return tracing::error!(error = %e, "tiles dir: the ledger's own key does not parse"),
    };
    let mut have: Option<u64> = None;
    loop {
        let (l, d, log2) = (ledger.clone(), dir.clone(), log.clone());
        let done = tokio::task::spawn_blocking(move || -> crate::error::Result<u64> {
            let from = d.size(&log2)?;
            let latest = l.latest();
            if from > latest.size {
                return Err(crate::error::Error::precondition(
                    "tiles_dir",
                    format!("{} holds a tree of {from} entries; the ledger has {}", d.path().display(), latest.size),
                ));
            }
            let note = l.cosigned_note(latest.size, &latest.note);
            d.update(from, latest.size, &note, |t| {
                l.tile(t)?.ok_or_else(|| crate::error::Error::internal(format!("{t} is missing at its own size")))
            })?;
            Ok(latest.size)
        })
        .await;
        match done {
            Ok(Ok(size)) => {
                if have != Some(size) {
                    tracing::debug!(size, dir = %dir.path().display(), "tiles dir updated");
                }
                have = Some(size);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, dir = %dir.path().display(), "tiles dir update failed"),
            Err(e) => tracing::warn!(error = %e, "tiles dir task"),
        }
        // A new checkpoint, or every 10 s (a witness's cosignature arrives after its checkpoint).
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = sizes.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
        }
    }
}
