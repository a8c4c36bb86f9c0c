//! C2SP tlog-tiles (c2sp.org/tlog-tiles): tile paths, hash tiles, entry bundles.
//!
//! A log publishes its tree as tiles of height 8: the hash tile `tile/<L>/<N>` holds the 256 hashes of tree
//! level `8·L` from index `N·256`, and the entry bundle `tile/entries/<N>` holds entries `N·256 …`, each as
//! a big-endian `uint16` length and the entry exactly as hashed. A tile narrower than 256 (the right edge
//! of a tree) is named `….p/<W>`. `N` is written in groups of three digits, every group but the last
//! prefixed `x`: 1234067 is `x001/x234/067`.
//!
//! Go's `sumdb/tlog` names the same tiles `tile/8/<L>/…` and `tile/8/data/…`; [`TilePath::to_go_tile`]
//! gives the `tlog_tiles` (port of Go's package) tile, so its `TileHashReader` can check what a server
//! sent against a signed tree head. No storage, no network here.
use crate::error::{Error, Result};
use crate::merkle::{stored_hash_index, HashReader};

/// Tile height: every tile spans 2^8 = 256 hashes (the spec's only height).
pub const TILE_HEIGHT: u8 = 8;
/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Largest entry an entry bundle can carry (its length prefix is a `uint16`).
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;
/// Highest level a tile of height 8 can have (level 8·7 = 56; level 8 would be tree level 64).
pub const MAX_LEVEL: u8 = 7;

/// One tile of a tlog-tiles log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TilePath {
    /// A hash tile: `width` hashes of tree level `8·level` from index `index·256`.
    Hashes {
        /// The tile level L (tree level 8·L).
        level: u8,
        /// N: the tile's position in its level.
        index: u64,
        /// Hashes in the tile, 1–256 (256: a full tile).
        width: u16,
    },
    /// An entry bundle: `width` entries from `index·256`.
    Entries {
        /// N: the bundle's position.
        index: u64,
        /// Entries in the bundle, 1–256 (256: a full bundle).
        width: u16,
    },
}

impl TilePath {
    /// Parse a tile path relative to the log's prefix (`tile/0/x001/234.p/5`, `tile/entries/000`). Only the
    /// canonical spelling is accepted: three-digit groups, no leading zeros in L or W, W in 1–255.
    pub fn parse(path: &str) -> Result<Self> {
        let bad = |rule: &str| Error::invalid("tile path", format!("{path:?}: {rule}"));
        if path.len() > 64 {
            return Err(bad("longer than any tile path"));
        }
        let rest = path.strip_prefix("tile/").ok_or_else(|| bad("must start with tile/"))?;
        let (kind, rest) = rest.split_once('/').ok_or_else(|| bad("missing the tile index"))?;
        let (digits, width) = match rest.split_once(".p/") {
            Some((n, w)) => {
                let width: u16 = canonical_decimal(w).ok_or_else(|| bad("the width W must be a decimal number"))?;
                if width == 0 || u64::from(width) >= TILE_WIDTH {
                    return Err(bad("a partial tile's width W is 1–255"));
                }
                (n, width)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index =
            parse_index(digits).ok_or_else(|| bad("N must be three-digit groups, all but the last x-prefixed"))?;
        if kind == "entries" {
            return Ok(Self::Entries { index, width });
        }
        let level: u8 =
            canonical_decimal(kind).ok_or_else(|| bad("the level L must be a decimal number or entries"))?;
        if level > 63 {
            return Err(bad("the level L is 0–63"));
        }
        Ok(Self::Hashes { level, index, width })
    }

    /// The tile's path relative to the log's prefix (no leading `/`).
    pub fn path(&self) -> String {
        let (kind, index, width) = match *self {
            Self::Hashes { level, index, width } => (level.to_string(), index, width),
            Self::Entries { index, width } => ("entries".to_string(), index, width),
        };
        let mut n = format!("{:03}", index % 1000);
        let mut rest = index / 1000;
        while rest > 0 {
            n = format!("x{:03}/{n}", rest % 1000);
            rest /= 1000;
        }
        if u64::from(width) == TILE_WIDTH {
            format!("tile/{kind}/{n}")
        } else {
            format!("tile/{kind}/{n}.p/{width}")
        }
    }

    /// Whether this is a full tile (immutable once published).
    pub fn is_full(&self) -> bool {
        u64::from(self.width()) == TILE_WIDTH
    }

    /// Hashes or entries in the tile.
    pub fn width(&self) -> u16 {
        match *self {
            Self::Hashes { width, .. } | Self::Entries { width, .. } => width,
        }
    }

    /// N, the tile's position in its level.
    pub fn index(&self) -> u64 {
        match *self {
            Self::Hashes { index, .. } | Self::Entries { index, .. } => index,
        }
    }

    /// The full-width tile at the same place.
    pub fn full(&self) -> Self {
        match *self {
            Self::Hashes { level, index, .. } => Self::Hashes { level, index, width: TILE_WIDTH as u16 },
            Self::Entries { index, .. } => Self::Entries { index, width: TILE_WIDTH as u16 },
        }
    }

    /// The tile as `tlog_tiles` (a port of Go's `sumdb/tlog`) names it, height 8; entry bundles are its
    /// "data" tiles.
    pub fn to_go_tile(&self) -> tlog_tiles::Tile {
        match *self {
            Self::Hashes { level, index, width } => {
                tlog_tiles::Tile::new(TILE_HEIGHT, level, index, u32::from(width), false)
            }
            Self::Entries { index, width } => tlog_tiles::Tile::new(TILE_HEIGHT, 0, index, u32::from(width), true),
        }
    }

    /// The tile of a `tlog_tiles` (Go-style) tile of height 8.
    pub fn from_go_tile(t: &tlog_tiles::Tile) -> Result<Self> {
        if t.height() != TILE_HEIGHT {
            return Err(Error::invalid("tile", format!("height {} is not the spec's 8", t.height())));
        }
        let width = u16::try_from(t.width())
            .ok()
            .filter(|w| *w >= 1 && u64::from(*w) <= TILE_WIDTH)
            .ok_or_else(|| Error::invalid("tile", format!("width {} is not 1–256", t.width())))?;
        Ok(if t.is_data() {
            Self::Entries { index: t.level_index(), width }
        } else {
            Self::Hashes { level: t.level(), index: t.level_index(), width }
        })
    }

    /// Whether a tree of `size` leaves has this tile: all of its `width` hashes (or entries) exist.
    pub fn exists_at(&self, size: u64) -> bool {
        let (level, index, width) = match *self {
            Self::Hashes { level, index, width } => (level, index, width),
            Self::Entries { index, width } => (0, index, width),
        };
        if level > MAX_LEVEL {
            return false;
        }
        let available = size.checked_shr(u32::from(level).saturating_mul(u32::from(TILE_HEIGHT))).unwrap_or(0);
        index
            .checked_mul(TILE_WIDTH)
            .and_then(|start| start.checked_add(u64::from(width)))
            .is_some_and(|end| end <= available)
    }

    /// The range of entries an entry bundle holds (`start..end`); for a hash tile, the range of its level's
    /// hashes.
    pub fn span(&self) -> std::ops::Range<u64> {
        let start = self.index().saturating_mul(TILE_WIDTH);
        start..start.saturating_add(u64::from(self.width()))
    }
}

impl std::fmt::Display for TilePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path())
    }
}

/// A decimal number without sign or leading zeros ("0" itself is fine).
fn canonical_decimal<T: std::str::FromStr>(s: &str) -> Option<T> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse().ok()).flatten()
}

fn parse_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    let (last, init) = groups.split_last()?;
    let mut n: u64 = 0;
    for (i, g) in init.iter().enumerate() {
        let digits = g.strip_prefix('x')?;
        // No x000 leading group: N has one spelling.
        if i == 0 && digits == "000" {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(three_digits(digits)?)?;
    }
    n.checked_mul(1000)?.checked_add(three_digits(last)?)
}

fn three_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Every tile of a tree of `size` leaves: for each level, the full tiles and the partial one at the right
/// edge, then the entry bundles likewise. Tiles that a smaller tree of `from` leaves already had complete
/// (full tiles below `from`'s edge) are left out, so `tiles_between(old, new)` is what a mirror or a static
/// directory lacks after growing from `old` to `new`.
pub fn tiles_between(from: u64, size: u64) -> Vec<TilePath> {
    let mut out = Vec::new();
    for level in 0..=MAX_LEVEL {
        let shift = u32::from(level).saturating_mul(u32::from(TILE_HEIGHT));
        let (have, count) = (from.checked_shr(shift).unwrap_or(0), size.checked_shr(shift).unwrap_or(0));
        if count == 0 {
            break;
        }
        push_level(&mut out, have, count, |index, width| TilePath::Hashes { level, index, width });
    }
    push_level(&mut out, from, size, |index, width| TilePath::Entries { index, width });
    out
}

fn push_level(out: &mut Vec<TilePath>, have: u64, count: u64, tile: impl Fn(u64, u16) -> TilePath) {
    let first = have / TILE_WIDTH;
    let full = count / TILE_WIDTH;
    for index in first..full {
        out.push(tile(index, TILE_WIDTH as u16));
    }
    let edge = u16::try_from(count % TILE_WIDTH).unwrap_or(0);
    if edge > 0 {
        out.push(tile(full, edge));
    }
}

/// The contents of hash tile `tile`: its hashes concatenated, read from the stored hashes of a tree that
/// has the tile ([`TilePath::exists_at`]).
pub fn hash_tile<R: HashReader>(tile: &TilePath, r: &R) -> Result<Vec<u8>> {
    let TilePath::Hashes { level, .. } = *tile else {
        return Err(Error::invalid("tile", "an entry bundle holds entries, not stored hashes"));
    };
    if level > MAX_LEVEL {
        return Err(Error::invalid("tile", format!("level {level} is above the highest, {MAX_LEVEL}")));
    }
    let tree_level = level.saturating_mul(TILE_HEIGHT);
    let indexes: Vec<u64> = tile.span().map(|n| stored_hash_index(tree_level, n)).collect();
    let hashes = r.read_hashes(&indexes).map_err(Error::Hashes)?;
    if hashes.len() != indexes.len() {
        return Err(Error::Hashes(tlog_tiles::Error::IndexesNotInTree));
    }
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Append one entry to an entry bundle: its length as a big-endian `uint16`, then its bytes.
pub fn push_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<()> {
    let len = u16::try_from(entry.len()).map_err(|_| {
        Error::invalid("entry", format!("is {} bytes; an entry bundle carries at most {MAX_ENTRY_BYTES}", entry.len()))
    })?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// An entry bundle of these entries.
pub fn entry_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for e in entries {
        push_entry(&mut out, e)?;
    }
    Ok(out)
}

/// Split an entry bundle that must hold exactly `width` entries, with no bytes left over.
pub fn split_bundle(data: &[u8], width: u16) -> Result<Vec<&[u8]>> {
    let bad = |rule: String| Error::invalid("entry bundle", rule);
    let mut out = Vec::with_capacity(usize::from(width));
    let mut rest = data;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<2>().ok_or_else(|| bad("ends inside a length prefix".into()))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(bad(format!("entry {} says {len} bytes but only {} remain", out.len(), tail.len())));
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    if out.len() != usize::from(width) {
        return Err(bad(format!("holds {} entries; the tile's width is {width}", out.len())));
    }
    Ok(out)
}

/// Split a hash tile that must hold exactly `width` hashes.
pub fn split_hash_tile(data: &[u8], width: u16) -> Result<Vec<[u8; 32]>> {
    if data.len() != usize::from(width) * 32 {
        return Err(Error::invalid(
            "hash tile",
            format!("is {} bytes; a tile of width {width} is {}", data.len(), usize::from(width) * 32),
        ));
    }
    Ok(data.chunks_exact(32).filter_map(|c| <[u8; 32]>::try_from(c).ok()).collect())
}

/// Tiles fetched from a server, a mirror or a directory, not yet trusted, and proofs computed from them
/// against a signed tree head. Each computation either succeeds with every tile it used checked against
/// the root (through `tlog_tiles::TileHashReader`, Go's algorithm), or names the tiles it still needs
/// ([`Proven::Need`]) so the caller can fetch them and ask again.
#[derive(Debug, Default)]
pub struct TileCache {
    tiles: std::collections::HashMap<TilePath, Vec<u8>>,
}

/// The outcome of a computation over a [`TileCache`].
#[derive(Debug)]
pub enum Proven<T> {
    /// Computed; every tile it read verified against the tree head.
    Done(T),
    /// These tiles are missing: fetch them ([`TileCache::insert`]) and ask again.
    Need(Vec<TilePath>),
}

struct CacheReader<'a> {
    cache: &'a TileCache,
    missing: std::cell::RefCell<Vec<TilePath>>,
}

impl tlog_tiles::TileReader for CacheReader<'_> {
    fn height(&self) -> u8 {
        TILE_HEIGHT
    }
    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> std::result::Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        let mut out = Vec::with_capacity(tiles.len());
        for t in tiles {
            match TilePath::from_go_tile(t).ok().and_then(|p| self.cache.tiles.get(&p).map(|d| (p, d))) {
                Some((_, data)) => out.push(data.clone()),
                None => {
                    if let Ok(p) = TilePath::from_go_tile(t) {
                        self.missing.borrow_mut().push(p);
                    }
                }
            }
        }
        if out.len() == tiles.len() {
            Ok(out)
        } else {
            Err(tlog_tiles::Error::IndexesNotInTree)
        }
    }
    fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
}

impl TileCache {
    /// Keep a fetched hash tile (checked only when a computation reads it).
    pub fn insert(&mut self, tile: TilePath, data: Vec<u8>) {
        self.tiles.insert(tile, data);
    }

    /// Hash tiles held.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// Whether no tile is held.
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }

    fn run<T>(
        &self,
        size: u64,
        root: &[u8; 32],
        f: impl FnOnce(&dyn HashReader) -> std::result::Result<T, tlog_tiles::Error>,
        what: &str,
    ) -> Result<Proven<T>> {
        let reader = CacheReader { cache: self, missing: Default::default() };
        let hashes = tlog_tiles::TileHashReader::new(size, tlog_tiles::Hash(*root), &reader);
        let result = f(&hashes);
        let mut missing = reader.missing.into_inner();
        if !missing.is_empty() {
            missing.sort();
            missing.dedup();
            return Ok(Proven::Need(missing));
        }
        result.map(Proven::Done).map_err(|e| {
            Error::denied("tiles", format!("{what}: the tiles do not verify against the tree head of size {size}: {e}"))
        })
    }

    /// The inclusion proof of the leaf with hash `leaf_hash` at `index` in the tree of `size` leaves with
    /// root `root`, checked with [`crate::merkle::verify_inclusion`] before it is returned: a forged tile
    /// can only make this fail, never succeed.
    pub fn inclusion_proof(
        &self,
        size: u64,
        root: &[u8; 32],
        index: u64,
        leaf_hash: &[u8; 32],
    ) -> Result<Proven<Vec<[u8; 32]>>> {
        if index >= size {
            return Err(Error::invalid("index", format!("{index} is not below the tree size {size}")));
        }
        let proof = match self.run(size, root, |r| tlog_tiles::prove_record(size, index, &Dyn(r)), "inclusion proof")? {
            Proven::Done(p) => p,
            Proven::Need(n) => return Ok(Proven::Need(n)),
        };
        let proof: Vec<[u8; 32]> = proof.into_iter().map(|h| h.0).collect();
        let vecs: Vec<Vec<u8>> = proof.iter().map(|h| h.to_vec()).collect();
        crate::merkle::verify_inclusion(index, size, leaf_hash, &vecs, root)?;
        Ok(Proven::Done(proof))
    }

    /// Whether the tree of `old` leaves with root `old_root` is a prefix of the tree of `size` leaves with
    /// root `root`, from this tree's tiles. A consistency proof and the old tree's root are both read from
    /// the tiles, and the proof must verify from that root to `root`; so tiles that do not belong to the
    /// tree are an error, and [`Extends::Forked`] is proof that the two tree heads cannot both be honest.
    pub fn extends(&self, size: u64, root: &[u8; 32], old: u64, old_root: &[u8; 32]) -> Result<Proven<Extends>> {
        if old > size {
            return Err(Error::invalid("old_size", format!("{old} is larger than the tree size {size}")));
        }
        if old == 0 {
            return Ok(Proven::Done(if *old_root == crate::merkle::empty_root() {
                Extends::Yes(Vec::new())
            } else {
                Extends::Forked { root_in_tiles: crate::merkle::empty_root() }
            }));
        }
        let read = |r: &dyn HashReader| {
            let proof = tlog_tiles::prove_tree(size, old, &Dyn(r))?;
            let prefix = tlog_tiles::tree_hash(old, &Dyn(r))?;
            Ok((proof, prefix))
        };
        let (proof, prefix) = match self.run(size, root, read, "consistency")? {
            Proven::Done(x) => x,
            Proven::Need(n) => return Ok(Proven::Need(n)),
        };
        let proof: Vec<[u8; 32]> = proof.into_iter().map(|h| h.0).collect();
        let vecs: Vec<Vec<u8>> = proof.iter().map(|h| h.to_vec()).collect();
        crate::merkle::verify_consistency(old, size, &prefix.0, root, &vecs).map_err(|e| {
            Error::denied("tiles", format!("the tiles do not verify against the tree head of size {size}: {e}"))
        })?;
        Ok(Proven::Done(if prefix.0 == *old_root {
            Extends::Yes(proof)
        } else {
            Extends::Forked { root_in_tiles: prefix.0 }
        }))
    }
}

/// Whether one tree head extends another ([`TileCache::extends`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extends {
    /// It does; the consistency proof.
    Yes(Vec<[u8; 32]>),
    /// It does not: the newer tree's first `old` leaves have this root, not the older head's.
    Forked {
        /// The root of the older size inside the newer tree.
        root_in_tiles: [u8; 32],
    },
}

/// A `&dyn HashReader` as a sized reader (tlog_tiles' functions take `&impl HashReader`).
struct Dyn<'a>(&'a dyn HashReader);

impl HashReader for Dyn<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        self.0.read_hashes(indexes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::MemoryHashes;

    #[test]
    fn paths_round_trip_and_match_go_spelling() {
        for (tile, path) in [
            (TilePath::Hashes { level: 0, index: 0, width: 256 }, "tile/0/000"),
            (TilePath::Hashes { level: 4, index: 1_234_067, width: 1 }, "tile/4/x001/x234/067.p/1"),
            (TilePath::Hashes { level: 1, index: 1000, width: 256 }, "tile/1/x001/000"),
            (TilePath::Entries { index: 5, width: 255 }, "tile/entries/005.p/255"),
            (TilePath::Entries { index: 999_999, width: 256 }, "tile/entries/x999/999"),
        ] {
            assert_eq!(tile.path(), path);
            assert_eq!(TilePath::parse(path).unwrap(), tile, "{path}");
            // Go's path is ours with the height after `tile/` and `data` for entries.
            let go = tile.to_go_tile().path();
            let ours = path.replacen("tile/", "tile/8/", 1).replace("/entries/", "/data/");
            assert_eq!(go, ours);
            assert_eq!(TilePath::from_go_tile(&tile.to_go_tile()).unwrap(), tile);
        }
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        for p in [
            "tile/0/0",
            "tile/0/0000",
            "tile/00/000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/05",
            "tile/64/000",
            "tile/-1/000",
            "tile/entries/x1/000",
            "tile/data/000",
            "tiles/0/000",
            "tile/0/000/",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/0/../000",
        ] {
            assert!(TilePath::parse(p).is_err(), "{p} should be refused");
        }
    }

    #[test]
    fn tiles_between_lists_new_and_edge_tiles() {
        let t = tiles_between(0, 70_000);
        // Level 0: 273 full + partial of 112; level 1: 1 full + partial 17; level 2: partial 1.
        assert_eq!(t.iter().filter(|p| matches!(p, TilePath::Hashes { level: 0, .. })).count(), 274);
        assert!(t.contains(&TilePath::Hashes { level: 1, index: 1, width: 17 }));
        assert!(t.contains(&TilePath::Hashes { level: 2, index: 0, width: 1 }));
        assert!(t.contains(&TilePath::Entries { index: 273, width: 112 }));
        assert!(t.iter().all(|p| p.exists_at(70_000)));
        let grown = tiles_between(300, 600);
        assert_eq!(
            grown,
            vec![
                TilePath::Hashes { level: 0, index: 1, width: 256 },
                TilePath::Hashes { level: 0, index: 2, width: 88 },
                TilePath::Hashes { level: 1, index: 0, width: 2 },
                TilePath::Entries { index: 1, width: 256 },
                TilePath::Entries { index: 2, width: 88 },
            ]
        );
        assert!(tiles_between(5, 5).iter().all(|t| !t.is_full()));
    }

    #[test]
    fn hash_tiles_verify_with_tlog_tiles() {
        let mut tree = MemoryHashes::default();
        let leaves: Vec<Vec<u8>> = (0..700u32).map(|i| i.to_be_bytes().to_vec()).collect();
        for l in &leaves {
            tree.append(l);
        }
        let size = 700;
        let root = tlog_tiles::Hash(tree.root());
        struct Reader<'a>(&'a MemoryHashes);
        impl tlog_tiles::TileReader for Reader<'_> {
            fn height(&self) -> u8 {
                TILE_HEIGHT
            }
            fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> std::result::Result<Vec<Vec<u8>>, tlog_tiles::Error> {
                tiles
                    .iter()
                    .map(|t| {
                        hash_tile(&TilePath::from_go_tile(t).unwrap(), self.0)
                            .map_err(|_| tlog_tiles::Error::InvalidTile)
                    })
                    .collect()
            }
            fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
        }
        let reader = Reader(&tree);
        let hr = tlog_tiles::TileHashReader::new(size, root, &reader);
        for i in [0u64, 1, 255, 256, 511, 699] {
            let proof = tlog_tiles::prove_record(size, i, &hr).unwrap();
            tlog_tiles::check_record(&proof, size, root, i, tlog_tiles::record_hash(&leaves[i as usize])).unwrap();
        }
        let bundle = entry_bundle(leaves[256..512].iter().map(Vec::as_slice)).unwrap();
        let split = split_bundle(&bundle, 256).unwrap();
        assert_eq!(split[3], &leaves[259][..]);
        assert!(split_bundle(&bundle, 255).is_err());
        assert!(split_bundle(&bundle[..bundle.len() - 1], 256).is_err());
        assert!(push_entry(&mut Vec::new(), &vec![0u8; MAX_ENTRY_BYTES + 1]).is_err());
    }

    /// Fill a cache by answering every Need from the true tree (or a doctored one), as a client would.
    fn settle<T>(
        cache: &mut TileCache,
        tree: &MemoryHashes,
        mut f: impl FnMut(&TileCache) -> Result<Proven<T>>,
    ) -> Result<T> {
        for _ in 0..8 {
            match f(cache)? {
                Proven::Done(t) => return Ok(t),
                Proven::Need(tiles) => {
                    for t in tiles {
                        cache.insert(t, hash_tile(&t, tree).unwrap());
                    }
                }
            }
        }
        panic!("did not settle")
    }

    #[test]
    fn tile_cache_proves_and_refuses_a_forged_tile() {
        let mut tree = MemoryHashes::default();
        let leaves: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut roots = vec![crate::merkle::empty_root()];
        for l in &leaves {
            tree.append(l);
            roots.push(tree.root());
        }
        let (size, root) = (1000u64, roots[1000]);
        let lh = |i: u64| crate::merkle::leaf_hash(&leaves[i as usize]);
        for index in [0u64, 255, 256, 777, 999] {
            let mut cache = TileCache::default();
            settle(&mut cache, &tree, |c| c.inclusion_proof(size, &root, index, &lh(index))).unwrap();
        }
        for old in [1u64, 255, 256, 257, 700, 1000] {
            let mut cache = TileCache::default();
            let got = settle(&mut cache, &tree, |c| c.extends(size, &root, old, &roots[old as usize])).unwrap();
            assert!(matches!(got, Extends::Yes(_)), "prefix {old}");
            let got = settle(&mut cache, &tree, |c| c.extends(size, &root, old, &[7; 32])).unwrap();
            assert_eq!(got, Extends::Forked { root_in_tiles: roots[old as usize] });
        }
        // One flipped bit in a level-0 tile: the proof through it is refused, and so is the consistency
        // check that reads it (never reported as a fork).
        let mut cache = TileCache::default();
        settle(&mut cache, &tree, |c| c.inclusion_proof(size, &root, 300, &lh(300))).unwrap();
        let t = TilePath::Hashes { level: 0, index: 1, width: 256 };
        let mut forged = hash_tile(&t, &tree).unwrap();
        forged[45 * 32] ^= 1;
        cache.insert(t, forged);
        assert!(cache.inclusion_proof(size, &root, 300, &lh(300)).is_err());
        let mut cache = TileCache::default();
        settle(&mut cache, &tree, |c| c.extends(size, &root, 302, &roots[302])).unwrap();
        let mut forged = hash_tile(&t, &tree).unwrap();
        forged[32] ^= 1;
        cache.insert(t, forged);
        assert!(cache.extends(size, &root, 302, &roots[302]).is_err());
    }
}
