//! RFC 6962 / RFC 9162 Merkle tree hashing and proof verification, and the C2SP `tlog-proof` bundle.
//!
//! Hashing, stored-hash indexing and proof construction come from `tlog_tiles` (a port of Go's
//! `sumdb/tlog`), checked against the transparency-dev/merkle vectors in `tests/vectors.rs`. This module
//! adds the edge cases those vectors require and the empty-tree root. No storage, no signing, no network.
use base64::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Why a [`HashReader`] could not read (the stored-hash contract of `tlog_tiles`).
pub use tlog_tiles::Error as HashError;
pub use tlog_tiles::{
    prove_record, prove_tree, split_stored_hash_index, stored_hash_count, stored_hash_index,
    stored_hashes_for_record_hash, Hash, HashReader,
};

/// Root of the empty tree: SHA-256("") (RFC 6962 §2.1). Go's `tlog.TreeHash(0)` returns zeros instead;
/// a size-0 checkpoint must carry this value.
///
/// ```
/// let root = accord_tlog::merkle::empty_root();
/// assert_eq!(hex::encode(root), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// ```
pub fn empty_root() -> [u8; 32] {
    Sha256::digest(b"").into()
}

/// `SHA-256(0x00 ‖ leaf)` (RFC 6962 §2.1).
pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    tlog_tiles::record_hash(leaf).0
}

/// Tree hash of the first `n` leaves, with the RFC 6962 empty root for n = 0.
pub fn tree_hash<R: HashReader>(n: u64, r: &R) -> Result<[u8; 32]> {
    if n == 0 {
        return Ok(empty_root());
    }
    tlog_tiles::tree_hash(n, r).map(|h| h.0).map_err(Error::Hashes)
}

fn to_hashes(proof: &[Vec<u8>]) -> Result<Vec<Hash>> {
    proof
        .iter()
        .enumerate()
        .map(|(i, p)| {
            <[u8; 32]>::try_from(p.as_slice()).map(Hash).map_err(|_| {
                Error::invalid(format!("proof[{i}]"), format!("a proof hash is 32 bytes, got {}", p.len()))
            })
        })
        .collect()
}

fn to_hash(h: &[u8], field: &str) -> Result<Hash> {
    <[u8; 32]>::try_from(h).map(Hash).map_err(|_| Error::invalid(field, format!("a hash is 32 bytes, got {}", h.len())))
}

/// Verify that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`.
///
/// Always take `size` from a signed checkpoint: an audit path alone does not pin the tree size.
pub fn verify_inclusion(index: u64, size: u64, leaf_hash: &[u8], proof: &[Vec<u8>], root: &[u8]) -> Result<()> {
    if index >= size {
        return Err(Error::invalid("index", format!("index {index} is not below tree size {size}")));
    }
    let p = to_hashes(proof)?;
    let lh = to_hash(leaf_hash, "leaf_hash")?;
    let th = to_hash(root, "root")?;
    tlog_tiles::check_record(&p, size, th, index, lh)
        .map_err(|e| Error::denied("inclusion_proof", format!("does not verify: {e}")))
}

/// Verify that the tree of `size2` (root `root2`) extends the tree of `size1` (root `root1`).
///
/// As in the transparency-dev/merkle vectors, `size1 = 0` is rejected: every tree extends the empty tree,
/// so such a check proves nothing and callers handle size 0 themselves. Equal sizes need an empty proof
/// and byte-identical roots.
pub fn verify_consistency(size1: u64, size2: u64, root1: &[u8], root2: &[u8], proof: &[Vec<u8>]) -> Result<()> {
    let fail = |m: String| Error::denied("consistency_proof", m);
    if size1 > size2 {
        return Err(Error::invalid("from_size", format!("{size1} is larger than to_size {size2}")));
    }
    if size1 == 0 {
        return Err(fail("a consistency proof from the empty tree proves nothing".into()));
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(fail("sizes are equal but the proof is not empty".into()));
        }
        if root1 != root2 {
            return Err(fail("sizes are equal but the roots differ".into()));
        }
        return Ok(());
    }
    let r1 = to_hash(root1, "root1")?;
    let r2 = to_hash(root2, "root2")?;
    let p = to_hashes(proof)?;
    tlog_tiles::check_tree(&p, size2, r2, size1, r1).map_err(|e| fail(format!("does not verify: {e}")))
}

/// Header line of a C2SP tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A C2SP `tlog-proof` (c2sp.org/tlog-proof@v1): the checkpoint, the index, the inclusion proof and
/// optional opaque extra data. Accord puts the leaf bytes in the `extra` line, so one file is enough to
/// verify an entry offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofBundle {
    /// Opaque extra data; Accord's is the leaf, exactly as hashed.
    pub extra: Option<Vec<u8>>,
    /// The leaf index.
    pub index: u64,
    /// The inclusion proof, from the leaf up.
    pub proof: Vec<[u8; 32]>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

/// Longest bundle we parse (leaf ≤ 1 MiB base64, 64 proof lines, checkpoint with cosignatures).
pub const MAX_BUNDLE_BYTES: usize = 2 * 1024 * 1024;

impl ProofBundle {
    /// The bundle as text, exactly as c2sp.org/tlog-proof writes it.
    pub fn to_text(&self) -> String {
        let mut s = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            s.push_str(&format!("extra {}\n", BASE64_STANDARD.encode(extra)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&BASE64_STANDARD.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parse a bundle (at most [`MAX_BUNDLE_BYTES`]); the checkpoint is kept verbatim, not verified.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |m: &str| Error::invalid("tlog-proof", m.to_string());
        if text.len() > MAX_BUNDLE_BYTES {
            return Err(bad("larger than 2 MiB"));
        }
        let (head, checkpoint) = text.split_once("\n\n").ok_or_else(|| bad("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(bad("first line must be c2sp.org/tlog-proof@v1"));
        }
        let mut extra = None;
        let mut line = lines.next().ok_or_else(|| bad("missing index line"))?;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(BASE64_STANDARD.decode(b64).map_err(|_| bad("extra is not base64"))?);
            line = lines.next().ok_or_else(|| bad("missing index line"))?;
        }
        let idx = line.strip_prefix("index ").ok_or_else(|| bad("expected 'index N'"))?;
        let index: u64 = idx.parse().map_err(|_| bad("index is not a decimal number"))?;
        if index.to_string() != idx {
            return Err(bad("index has leading zeros or a sign"));
        }
        let mut proof = Vec::new();
        for l in lines {
            if proof.len() >= 64 {
                return Err(bad("more than 64 proof hashes"));
            }
            let h = BASE64_STANDARD.decode(l).map_err(|_| bad("proof line is not base64"))?;
            proof.push(<[u8; 32]>::try_from(h.as_slice()).map_err(|_| bad("proof hash is not 32 bytes"))?);
        }
        if checkpoint.is_empty() {
            return Err(bad("checkpoint is empty"));
        }
        Ok(Self { extra, index, proof, checkpoint: checkpoint.to_string() })
    }

    /// The proof hashes as byte vectors, the form [`verify_inclusion`] takes.
    pub fn proof_vecs(&self) -> Vec<Vec<u8>> {
        self.proof.iter().map(|h| h.to_vec()).collect()
    }
}

/// Stored hashes read one at a time (in `tlog` stored-hash order), for [`inclusion_proof`]: an in-memory
/// tree answers a lookup in a few instructions, without the vector a [`HashReader`] returns.
pub trait StoredHashes {
    /// The stored hash at `index`; None when the tree does not hold it.
    fn stored_hash(&self, index: u64) -> Option<Hash>;
}

/// The RFC 6962 audit path of leaf `index` in the tree of `size` leaves: the same proof as
/// [`prove_record`] (the tests compare the two on every leaf of many trees), read from `hashes` one stored
/// hash at a time, with one allocation (the result). `prove_record` collects the hashes in a vector and
/// copies what remains of it at every level of its recursion; on GetInclusionProof from the in-memory
/// tree, those allocations and copies cost more than the hashing (issue 14).
pub fn inclusion_proof<S: StoredHashes + ?Sized>(size: u64, index: u64, hashes: &S) -> Result<Vec<[u8; 32]>> {
    inclusion_proof_with(size, index, hashes, None)
}

/// [`inclusion_proof`] with the tree's [`RightEdge`] at `size` (ignored when it is of another size): the
/// siblings that end at the tree's right edge are then looked up instead of hashed again.
pub fn inclusion_proof_with<S: StoredHashes + ?Sized>(
    size: u64,
    index: u64,
    hashes: &S,
    edge: Option<&RightEdge>,
) -> Result<Vec<[u8; 32]>> {
    let edge = edge.filter(|e| e.size == size);
    if index >= size {
        return Err(Error::Hashes(tlog_tiles::Error::InvalidInput(format!("leaf {index} is not below size {size}"))));
    }
    // From the root down to the leaf: at each level the leaf's side is kept and the other side's range
    // is noted. Left sides are complete subtrees of the largest power of two below the range's width.
    let mut siblings = [(0u64, 0u64); 64];
    let mut depth = 0usize;
    let (mut lo, mut hi) = (0u64, size);
    while hi.wrapping_sub(lo) > 1 {
        // lo < hi throughout: the differences below cannot wrap.
        let mid = lo.wrapping_add(1u64.wrapping_shl(hi.wrapping_sub(lo).wrapping_sub(1).ilog2()));
        let slot = siblings.get_mut(depth).ok_or(Error::Hashes(tlog_tiles::Error::BadMath))?;
        if index < mid {
            *slot = (mid, hi);
            hi = mid;
        } else {
            *slot = (lo, mid);
            lo = mid;
        }
        depth = depth.wrapping_add(1);
    }
    // The audit path lists the siblings from the leaf up.
    siblings
        .get(..depth)
        .unwrap_or_default()
        .iter()
        .rev()
        .map(|&(lo, hi)| match edge.filter(|_| hi == size).and_then(|e| e.suffix(lo)) {
            Some(h) => Ok(h.0),
            None => subtree_hash(lo, hi, hashes).map(|h| h.0),
        })
        .collect()
}

/// The hashes along a tree's incomplete right edge at one size: for each start `lo` of the complete
/// subtrees the tree splits into, the hash of leaves `[lo, size)`. Every audit path in the tree ends with
/// one of them; computed once per size (a few node hashes), they spare each proof hashing them again.
#[derive(Debug, Clone)]
pub struct RightEdge {
    size: u64,
    /// (lo, hash of `[lo, size)`), in increasing `lo`.
    suffixes: Vec<(u64, Hash)>,
}

impl RightEdge {
    /// The right edge of the tree of `size` leaves.
    pub fn new<S: StoredHashes + ?Sized>(size: u64, hashes: &S) -> Result<Self> {
        let mut parts = Vec::new();
        for_each_complete_subtree(0, size, hashes, |lo, h| {
            parts.push((lo, h));
            Ok(())
        })?;
        let mut suffixes = Vec::with_capacity(parts.len());
        let mut right: Option<Hash> = None;
        for &(lo, h) in parts.iter().rev() {
            let hash = match right {
                Some(r) => tlog_tiles::node_hash(h, r),
                None => h,
            };
            suffixes.push((lo, hash));
            right = Some(hash);
        }
        suffixes.reverse();
        Ok(Self { size, suffixes })
    }
    /// The tree size this edge belongs to.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// The hash of `[lo, size)` when `lo` starts one of the tree's complete subtrees.
    fn suffix(&self, lo: u64) -> Option<Hash> {
        let i = self.suffixes.binary_search_by_key(&lo, |&(l, _)| l).ok()?;
        self.suffixes.get(i).map(|&(_, h)| h)
    }
}

/// The hash of leaves `[lo, hi)`, where `lo` is aligned to the largest complete subtree that fits: the
/// stored hashes of its complete subtrees, combined right to left.
fn subtree_hash<S: StoredHashes + ?Sized>(lo: u64, hi: u64, hashes: &S) -> Result<Hash> {
    let mut parts = [Hash([0; 32]); 64];
    let mut n = 0usize;
    for_each_complete_subtree(lo, hi, hashes, |_, h| {
        let slot = parts.get_mut(n).ok_or(Error::Hashes(tlog_tiles::Error::BadMath))?;
        *slot = h;
        n = n.wrapping_add(1);
        Ok(())
    })?;
    let parts = parts.get(..n).unwrap_or_default();
    let (last, rest) = parts.split_last().ok_or(Error::Hashes(tlog_tiles::Error::BadMath))?;
    Ok(rest.iter().rev().fold(*last, |right, left| tlog_tiles::node_hash(*left, right)))
}

/// The complete subtrees `[lo, hi)` splits into, largest first, each given to `f` with its first leaf and
/// its stored hash. `lo` must be aligned to the largest one (it is for the ranges of an audit path and for
/// a whole tree).
fn for_each_complete_subtree<S: StoredHashes + ?Sized>(
    lo: u64,
    hi: u64,
    hashes: &S,
    mut f: impl FnMut(u64, Hash) -> Result<()>,
) -> Result<()> {
    let mut lo = lo;
    while lo < hi {
        let level = hi.wrapping_sub(lo).ilog2();
        let width = 1u64.wrapping_shl(level);
        if lo & width.wrapping_sub(1) != 0 {
            return Err(Error::Hashes(tlog_tiles::Error::BadMath));
        }
        let level8 = u8::try_from(level).map_err(|_| Error::Hashes(tlog_tiles::Error::BadMath))?;
        let h = hashes
            .stored_hash(stored_hash_index(level8, lo.wrapping_shr(level)))
            .ok_or(Error::Hashes(tlog_tiles::Error::IndexesNotInTree))?;
        f(lo, h)?;
        lo = lo.wrapping_add(width);
    }
    Ok(())
}

/// A [`HashReader`] over an in-memory vector of stored hashes (tests, benches, offline replay).
#[derive(Debug, Default, Clone)]
pub struct MemoryHashes(pub Vec<Hash>);

impl MemoryHashes {
    /// Append a leaf and every stored hash it completes.
    pub fn append(&mut self, leaf: &[u8]) {
        let n = self.leaves();
        // Reading the hashes this tree itself holds cannot fail; on a bug the leaf is left out, which
        // every root comparison then reports.
        if let Ok(hashes) = tlog_tiles::stored_hashes(n, leaf, self) {
            self.0.extend(hashes);
        }
    }
    /// Number of leaves.
    pub fn leaves(&self) -> u64 {
        // stored_hash_count(n) is strictly increasing; invert by search.
        let total = self.0.len() as u64;
        let (mut lo, mut hi) = (0u64, total.saturating_add(1));
        while lo.saturating_add(1) < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            if tlog_tiles::stored_hash_count(mid) <= total {
                lo = mid
            } else {
                hi = mid
            }
        }
        lo
    }
    /// The RFC 6962 root of the leaves appended so far.
    pub fn root(&self) -> [u8; 32] {
        tree_hash(self.leaves(), self).unwrap_or_default()
    }
}

impl HashReader for MemoryHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes.iter().map(|&i| self.0.get(i as usize).copied().ok_or(tlog_tiles::Error::IndexesNotInTree)).collect()
    }
}

impl StoredHashes for MemoryHashes {
    fn stored_hash(&self, index: u64) -> Option<Hash> {
        self.0.get(usize::try_from(index).ok()?).copied()
    }
}
