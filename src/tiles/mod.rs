//! Reading and writing a log published as C2SP tlog-tiles: a [`Source`] (an HTTP(S) tile server, a mirror,
//! a cache, or a plain directory of static files) from which clients fetch the signed checkpoint, hash
//! tiles and entry bundles and verify them; and a static directory ([`TileDir`]) that `accord tiles
//! export`, `accord serve --tiles-dir` and `accord mirror` keep, which any web server can publish.
//!
//! Nothing fetched is trusted: the checkpoint must be signed by the pinned log key, every entry bundle is
//! hashed into the tree and compared with that checkpoint's root, and proofs read from hash tiles are
//! checked before they are used (`accord_tlog::tiles::TileCache`).
use std::path::{Path, PathBuf};
use std::time::Duration;

use accord_tlog::tiles::{self, Proven, TileCache, TilePath, TILE_WIDTH};

use crate::crypto::{self, StrictNoteVerifier};
use crate::error::{Error, Kind, Result};
use crate::merkle::MemoryHashes;

mod mirror;
pub use mirror::{Mirror, Synced};

/// Largest checkpoint fetched (a signed note with many cosignatures is a few KiB).
const MAX_CHECKPOINT_BYTES: usize = 64 * 1024;
/// Largest entry bundle: 256 entries of at most 65,535 bytes and their length prefixes.
const MAX_BUNDLE_BYTES: usize = 256 * (tiles::MAX_ENTRY_BYTES + 2);
/// Entry bundles fetched at once.
const PARALLEL_FETCHES: usize = 8;

/// Where tiles come from.
#[derive(Debug, Clone)]
pub struct Source {
    kind: SourceKind,
}

#[derive(Debug, Clone)]
enum SourceKind {
    Http { client: reqwest::Client, base: String },
    Dir(PathBuf),
}

fn unavailable(what: impl std::fmt::Display) -> Error {
    Error::new(Kind::Unavailable, "tiles", what.to_string())
}

impl Source {
    /// `http://…` or `https://…` (the log's tlog-tiles prefix), or a directory (optionally `file://`).
    pub fn open(location: &str) -> Result<Self> {
        if location.starts_with("http://") || location.starts_with("https://") {
            // tonic and tokio-rustls use ring; reqwest is built without a provider of its own.
            let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(60))
                .user_agent(concat!("accord/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::invalid("tiles", format!("HTTP client: {e}")))?;
            return Ok(Self { kind: SourceKind::Http { client, base: location.trim_end_matches('/').to_string() } });
        }
        let dir = PathBuf::from(location.strip_prefix("file://").unwrap_or(location));
        if !dir.is_dir() {
            return Err(Error::not_found("tiles", format!("{} is not a URL or a directory", dir.display())));
        }
        Ok(Self { kind: SourceKind::Dir(dir) })
    }

    /// The location, for messages.
    pub fn location(&self) -> String {
        match &self.kind {
            SourceKind::Http { base, .. } => base.clone(),
            SourceKind::Dir(d) => d.display().to_string(),
        }
    }

    /// The resource at `rel` (a tlog-tiles path), None when the source does not have it.
    async fn get(&self, rel: &str, limit: usize) -> Result<Option<Vec<u8>>> {
        match &self.kind {
            SourceKind::Dir(dir) => match tokio::fs::read(dir.join(rel)).await {
                Ok(b) if b.len() > limit => Err(Error::invalid(rel, format!("is over {limit} bytes"))),
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(unavailable(format!("reading {}: {e}", dir.join(rel).display()))),
            },
            SourceKind::Http { client, base } => {
                let url = format!("{base}/{rel}");
                let mut last = None;
                // Bounded retry with backoff on transport errors and 5xx; a 404 is an answer.
                for attempt in 0..4u32 {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(200u64 << attempt)).await;
                    }
                    match fetch(client, &url, limit).await {
                        Ok(r) => return Ok(r),
                        Err((retry, e)) if retry => last = Some(e),
                        Err((_, e)) => return Err(e),
                    }
                }
                Err(last.unwrap_or_else(|| unavailable(format!("{url}: no answer"))))
            }
        }
    }

    /// The latest checkpoint, verified against the pinned log key; the note is kept whole (witness
    /// cosignatures included).
    pub async fn checkpoint(&self, log: &StrictNoteVerifier) -> Result<crypto::VerifiedCheckpoint> {
        let note = self
            .get("checkpoint", MAX_CHECKPOINT_BYTES)
            .await?
            .ok_or_else(|| Error::not_found("checkpoint", format!("{} has no checkpoint", self.location())))?;
        Ok(crypto::open_checkpoint(&note, log)?)
    }

    /// A tile's contents, checked for shape (not yet for truth). A partial tile that the source does not
    /// keep is read from the full tile, when that exists, and cut to the width asked for.
    pub async fn tile(&self, tile: TilePath) -> Result<Vec<u8>> {
        let limit = match tile {
            TilePath::Hashes { .. } => 256 * 32,
            TilePath::Entries { .. } => MAX_BUNDLE_BYTES,
        };
        let mut data = self.get(&tile.path(), limit).await?;
        let mut width = tile.width();
        if data.is_none() && !tile.is_full() {
            data = self.get(&tile.full().path(), limit).await?;
            width = TILE_WIDTH as u16;
        }
        let data = data.ok_or_else(|| Error::not_found("tile", format!("{} has no {tile}", self.location())))?;
        let scope = |e: accord_tlog::Error| Error::invalid(tile.path(), e.to_string());
        match tile {
            TilePath::Hashes { .. } => {
                let hashes = tiles::split_hash_tile(&data, width).map_err(scope)?;
                Ok(hashes.iter().take(usize::from(tile.width())).flatten().copied().collect())
            }
            TilePath::Entries { .. } => {
                let entries = tiles::split_bundle(&data, width).map_err(scope)?;
                if width == tile.width() {
                    return Ok(data);
                }
                tiles::entry_bundle(entries.into_iter().take(usize::from(tile.width()))).map_err(scope)
            }
        }
    }

    /// The leaves `start..end` of the tree of `size` leaves, from its entry bundles (several fetched at
    /// once, in order); `progress` is called with the count so far. Not yet verified: hash them into a
    /// tree and compare with the signed root ([`Verifier`]).
    pub async fn leaves(&self, start: u64, end: u64, size: u64, mut progress: impl FnMut(u64)) -> Result<Vec<Vec<u8>>> {
        use futures::StreamExt;
        if end > size || start > end {
            return Err(Error::invalid("range", format!("{start}..{end} is not inside the tree of size {size}")));
        }
        let bundles: Vec<TilePath> = (start / TILE_WIDTH..end.div_ceil(TILE_WIDTH))
            .map(|n| {
                let width = size.saturating_sub(n.saturating_mul(TILE_WIDTH)).min(TILE_WIDTH) as u16;
                TilePath::Entries { index: n, width }
            })
            .collect();
        let mut fetched = futures::stream::iter(bundles.into_iter().map(|t| async move { (t, self.tile(t).await) }))
            .buffered(PARALLEL_FETCHES);
        let mut out = Vec::with_capacity(usize::try_from(end.saturating_sub(start)).unwrap_or(0));
        while let Some((t, data)) = fetched.next().await {
            let data = data?;
            let entries = tiles::split_bundle(&data, t.width()).map_err(|e| Error::invalid(t.path(), e.to_string()))?;
            let first = t.index().saturating_mul(TILE_WIDTH);
            for (i, e) in entries.into_iter().enumerate() {
                let idx = first.saturating_add(i as u64);
                if (start..end).contains(&idx) {
                    out.push(e.to_vec());
                }
            }
            progress(out.len() as u64);
        }
        Ok(out)
    }

    /// Run a computation over hash tiles of one tree head, fetching what it needs until it is done.
    pub async fn prove<T>(
        &self,
        cache: &mut TileCache,
        f: impl Fn(&TileCache) -> accord_tlog::Result<Proven<T>>,
    ) -> Result<T> {
        for _ in 0..16 {
            match f(cache)? {
                Proven::Done(t) => return Ok(t),
                Proven::Need(tiles) => {
                    for t in tiles {
                        let data = self.tile(t).await?;
                        cache.insert(t, data);
                    }
                }
            }
        }
        Err(Error::internal("tile proof did not settle after 16 rounds of fetches"))
    }
}

/// One GET; Err((retryable, error)).
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    limit: usize,
) -> std::result::Result<Option<Vec<u8>>, (bool, Error)> {
    let mut res = client.get(url).send().await.map_err(|e| (true, unavailable(format!("{url}: {e}"))))?;
    let status = res.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err((status.is_server_error(), unavailable(format!("{url}: HTTP {status}"))));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| (true, unavailable(format!("{url}: {e}"))))? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err((false, Error::invalid(url, format!("is over {limit} bytes"))));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The tree rebuilt from leaves, as a client or mirror holds it: every stored hash, so that any tile of
/// any size up to the current one can be compared byte for byte with what a server sent.
#[derive(Debug, Default)]
pub struct Verifier {
    tree: MemoryHashes,
    leaf_hashes: Vec<[u8; 32]>,
}

impl Verifier {
    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.leaf_hashes.len() as u64
    }
    /// The root of the leaves so far.
    pub fn root(&self) -> [u8; 32] {
        self.tree.root()
    }
    /// The hash of leaf `index`.
    pub fn leaf_hash(&self, index: u64) -> Option<[u8; 32]> {
        self.leaf_hashes.get(usize::try_from(index).ok()?).copied()
    }
    /// Append leaves.
    pub fn extend<'a>(&mut self, leaves: impl IntoIterator<Item = &'a [u8]>) {
        for l in leaves {
            self.leaf_hashes.push(crate::merkle::leaf_hash(l));
            self.tree.append(l);
        }
    }
    /// Forget every leaf from `size` on (undo an [`Verifier::extend`] that did not verify).
    pub fn truncate(&mut self, size: u64) {
        self.leaf_hashes.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        self.tree.0.truncate(usize::try_from(crate::merkle::stored_hash_count(size)).unwrap_or(usize::MAX));
    }
    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<[u8; 32]> {
        Ok(crate::merkle::tree_hash(size, &self.tree)?)
    }
    /// The stored hashes (a [`crate::merkle::HashReader`]).
    pub fn hashes(&self) -> &MemoryHashes {
        &self.tree
    }
    /// The hash tile `tile` of this tree, as a server must serve it.
    pub fn hash_tile(&self, tile: &TilePath) -> Result<Vec<u8>> {
        tiles::hash_tile(tile, &self.tree).map_err(|e| Error::internal(format!("{tile}: {e}")))
    }
}

/// A static tlog-tiles directory: `checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`. Tiles
/// are written before the checkpoint that needs them, each through a temporary file and a rename, so a
/// reader never sees a checkpoint whose tiles are missing, nor half a tile.
#[derive(Debug, Clone)]
pub struct TileDir {
    dir: PathBuf,
}

impl TileDir {
    /// The directory (created when missing).
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        Ok(Self { dir: dir.to_path_buf() })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The checkpoint note in the directory, if any.
    pub fn checkpoint(&self) -> Result<Option<String>> {
        match std::fs::read_to_string(self.dir.join("checkpoint")) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&self.dir.join("checkpoint"), e)),
        }
    }

    /// The size of the tree whose tiles the directory holds: its checkpoint's, checked against `log`.
    pub fn size(&self, log: &StrictNoteVerifier) -> Result<u64> {
        match self.checkpoint()? {
            None => Ok(0),
            Some(note) => Ok(crypto::open_checkpoint(note.as_bytes(), log)
                .map_err(|e| {
                    Error::precondition(
                        "tiles_dir",
                        format!("{}/checkpoint is not this log's: {e}", self.dir.display()),
                    )
                })?
                .size),
        }
    }

    /// Write one tile (through a temporary file and a rename).
    pub fn write_tile(&self, tile: &TilePath, data: &[u8]) -> Result<()> {
        write_atomic(&self.dir.join(tile.path()), data)
    }

    /// Publish a checkpoint (after its tiles).
    pub fn write_checkpoint(&self, note: &str) -> Result<()> {
        write_atomic(&self.dir.join("checkpoint"), note.as_bytes())
    }

    /// Bring the directory from the tree of `from` leaves to the one of `note` (`size` leaves): every
    /// tile it lacks from `tile_of`, then the checkpoint. Returns the tiles written.
    pub fn update(
        &self,
        from: u64,
        size: u64,
        note: &str,
        mut tile_of: impl FnMut(&TilePath) -> Result<Vec<u8>>,
    ) -> Result<usize> {
        let todo = tiles::tiles_between(from, size);
        for t in &todo {
            let data = tile_of(t)?;
            self.write_tile(t, &data)?;
        }
        self.write_checkpoint(note)?;
        Ok(todo.len())
    }
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::internal(format!("{}: {e}", path.display()))
}

/// Write through a temporary file beside the target and a rename.
fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("tile");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, data).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}
