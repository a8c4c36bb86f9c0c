//! The verifiable map of the index (docs/INDEX.md §3–§6, issue 17): key hash (32 bytes) → strictly
//! increasing list of log indices, committed by a compact binary sparse Merkle tree over the 256 key bits,
//! with proofs of presence (with exactly the list) and of absence.
//!
//! The tree (Diem/Aptos JMT-style, binary):
//! - key bit `i` is bit `7 - i % 8` of byte `i / 8` (most significant first); 0 goes left, 1 right;
//! - a subtree holding no key hashes to [`PLACEHOLDER`] (32 zero bytes);
//! - a subtree holding exactly one key is that key's leaf, at whatever depth: [`leaf_hash`]
//!   `= SHA-256(0x00 ‖ key_hash ‖ value_hash)`;
//! - a subtree holding two or more keys is an internal node: [`node_hash`] `= SHA-256(0x01 ‖ left ‖ right)`;
//! - [`value_hash`] of a list is a hash chain over its indices, so appending is O(1) per index.
//!
//! [`VerifiableMap`] keeps the lists and the hashes of its internal nodes in memory, takes appends in
//! batches and, on [`VerifiableMap::commit`], recomputes only the nodes on the touched keys' paths. It can
//! be rebuilt from its `(key_hash, list)` pairs ([`VerifiableMap::from_lists`]).
use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The hash of an empty subtree, and the root of the empty map: 32 zero bytes.
pub const PLACEHOLDER: [u8; 32] = [0; 32];

/// Key bits: a proof has at most this many siblings.
pub const KEY_BITS: usize = 256;

/// `SHA-256(0x00 ‖ key_hash ‖ value_hash)`: a subtree holding exactly one key.
pub fn leaf_hash(key_hash: &[u8; 32], value_hash: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(key_hash);
    h.update(value_hash);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`: a subtree holding two keys or more.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// One step of the list's hash chain: `SHA-256(chain ‖ u64be(index))`.
pub fn chain_step(chain: &[u8; 32], index: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(chain);
    h.update(index.to_be_bytes());
    h.finalize().into()
}

/// The value hash of a list of log indices: `c_0 = 32 zero bytes`, `c_i = SHA-256(c_{i-1} ‖ u64be(x_i))`,
/// value hash `c_n`. A stored list is never empty and strictly increases ([`check_list`]).
pub fn value_hash(list: &[u64]) -> [u8; 32] {
    list.iter().fold([0; 32], |c, x| chain_step(&c, *x))
}

/// A list the map may hold: not empty, strictly increasing.
pub fn check_list(list: &[u64]) -> Result<()> {
    if list.is_empty() {
        return Err(Error::invalid("list", "a key present in the map has at least one index"));
    }
    if list.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
        return Err(Error::invalid("list", "log indices strictly increase"));
    }
    Ok(())
}

/// Key bit `i` (most significant bit of byte 0 first); bits past 255 read as 0.
pub fn bit(key: &[u8; 32], i: usize) -> bool {
    key.get(i >> 3).is_some_and(|b| b & (0x80_u8 >> (i & 7)) != 0)
}

/// `key` with every bit from `depth` on set to `fill`: the lowest (`false`) or highest (`true`) key of the
/// subtree at `depth` that holds `key`.
fn bound(key: &[u8; 32], depth: usize, fill: bool) -> [u8; 32] {
    let mut out = *key;
    for (i, byte) in out.iter_mut().enumerate() {
        let first = i.saturating_mul(8);
        if first >= depth {
            *byte = if fill { 0xff } else { 0 };
        } else if depth < first.saturating_add(8) {
            // 1..=7 bits of this byte belong to the prefix; the others are filled.
            let keep = u32::try_from(depth.saturating_sub(first)).unwrap_or(8);
            let low: u8 = 0xff_u8.checked_shr(keep).unwrap_or(0);
            *byte = if fill { *byte | low } else { *byte & !low };
        }
    }
    out
}

/// `key` with bit `i` set to `v`.
fn with_bit(key: &[u8; 32], i: usize, v: bool) -> [u8; 32] {
    let mut out = *key;
    if let Some(b) = out.get_mut(i >> 3) {
        let m = 0x80_u8 >> (i & 7);
        *b = if v { *b | m } else { *b & !m };
    }
    out
}

/// One key's list and its value hash.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Leaf {
    indices: Vec<u64>,
    value_hash: [u8; 32],
}

/// The map, in memory: lists by key hash, and the hash of every internal node as of the last commit.
#[derive(Debug, Default, Clone)]
pub struct VerifiableMap {
    leaves: BTreeMap<[u8; 32], Leaf>,
    /// Internal nodes by (depth, lowest key of the subtree).
    nodes: HashMap<(u8, [u8; 32]), [u8; 32]>,
    /// Keys appended to since the last commit.
    touched: BTreeSet<[u8; 32]>,
    root: [u8; 32],
    /// One past the highest index appended.
    next: u64,
}

impl VerifiableMap {
    /// The empty map (root [`PLACEHOLDER`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuild a map from its `(key_hash, list)` pairs (each key once, each list valid) and commit it.
    pub fn from_lists(lists: impl IntoIterator<Item = ([u8; 32], Vec<u64>)>) -> Result<Self> {
        let mut m = Self::new();
        for (key, list) in lists {
            check_list(&list).map_err(|e| e.scope(&format!("key {}", hex::encode(key))))?;
            let value_hash = value_hash(&list);
            m.next = m.next.max(list.last().map_or(0, |x| x.saturating_add(1)));
            if m.leaves.insert(key, Leaf { indices: list, value_hash }).is_some() {
                return Err(Error::invalid("lists", format!("key {} is given twice", hex::encode(key))));
            }
            m.touched.insert(key);
        }
        m.commit();
        Ok(m)
    }

    /// Stage log entry `index` under each of `keys` (duplicates count once). Every entry is appended, in
    /// log order: `index` must be [`VerifiableMap::next_index`]; if not, nothing is staged. The root
    /// changes on [`VerifiableMap::commit`].
    pub fn append_entry(&mut self, index: u64, keys: impl IntoIterator<Item = [u8; 32]>) -> Result<()> {
        if index != self.next {
            return Err(Error::invalid(
                "index",
                format!("the next entry is {}, not {index}: every entry is appended, in log order", self.next),
            ));
        }
        let next = index.checked_add(1).ok_or_else(|| Error::invalid("index", "is the largest u64"))?;
        let keys: BTreeSet<[u8; 32]> = keys.into_iter().collect();
        for k in keys {
            let leaf = self.leaves.entry(k).or_insert_with(|| Leaf { indices: Vec::new(), value_hash: [0; 32] });
            leaf.indices.push(index);
            leaf.value_hash = chain_step(&leaf.value_hash, index);
            self.touched.insert(k);
        }
        self.next = next;
        Ok(())
    }

    /// The log size the map is built at: one past the last entry appended (for a map rebuilt by
    /// [`VerifiableMap::from_lists`], one past the highest index it lists).
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Recompute the nodes on the paths of the keys appended to since the last commit, and return the new
    /// root. Cost: O(touched keys × depth) hashes.
    pub fn commit(&mut self) -> [u8; 32] {
        if !self.touched.is_empty() || self.root == PLACEHOLDER {
            self.root = self.update(0, &[0; 32]);
            self.touched.clear();
        }
        self.root
    }

    /// The root as of the last commit.
    pub fn root(&self) -> [u8; 32] {
        self.root
    }

    /// Whether appends are staged and not yet committed.
    pub fn is_dirty(&self) -> bool {
        !self.touched.is_empty()
    }

    /// A key's list (staged appends included).
    pub fn get(&self, key_hash: &[u8; 32]) -> Option<&[u64]> {
        self.leaves.get(key_hash).map(|l| l.indices.as_slice())
    }

    /// How many keys the map holds.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// Whether the map holds no key.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Every `(key_hash, list)`, by key hash: what [`VerifiableMap::from_lists`] rebuilds from.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8; 32], &[u64])> {
        self.leaves.iter().map(|(k, l)| (k, l.indices.as_slice()))
    }

    /// The keys of the subtree at `depth` holding `key`: none, one (its key) or several.
    fn census(&self, depth: usize, key: &[u8; 32]) -> Census<'_> {
        let mut it = self.leaves.range(bound(key, depth, false)..=bound(key, depth, true));
        match (it.next(), it.next()) {
            (None, _) => Census::Empty,
            (Some((k, l)), None) => Census::One(k, l),
            (Some(_), Some(_)) => Census::Many,
        }
    }

    fn update(&mut self, depth: usize, key: &[u8; 32]) -> [u8; 32] {
        match self.census(depth, key) {
            Census::Empty => PLACEHOLDER,
            Census::One(k, l) => leaf_hash(k, &l.value_hash),
            Census::Many => {
                let lo = bound(key, depth, false);
                let slot = (u8::try_from(depth).unwrap_or(u8::MAX), lo);
                let clean = self.touched.range(lo..=bound(key, depth, true)).next().is_none();
                if let (true, Some(h)) = (clean, self.nodes.get(&slot)) {
                    return *h;
                }
                let next = depth.saturating_add(1);
                let left = self.update(next, &with_bit(&lo, depth, false));
                let right = self.update(next, &with_bit(&lo, depth, true));
                let h = node_hash(&left, &right);
                self.nodes.insert(slot, h);
                h
            }
        }
    }

    /// The hash of the subtree at `depth` holding `key`, as committed.
    fn subtree(&self, depth: usize, key: &[u8; 32]) -> [u8; 32] {
        match self.census(depth, key) {
            Census::Empty => PLACEHOLDER,
            Census::One(k, l) => leaf_hash(k, &l.value_hash),
            Census::Many => {
                let lo = bound(key, depth, false);
                let slot = (u8::try_from(depth).unwrap_or(u8::MAX), lo);
                if let Some(h) = self.nodes.get(&slot) {
                    return *h;
                }
                let next = depth.saturating_add(1);
                node_hash(
                    &self.subtree(next, &with_bit(&lo, depth, false)),
                    &self.subtree(next, &with_bit(&lo, depth, true)),
                )
            }
        }
    }

    /// The proof for `key_hash` against the committed root: presence with its list, or absence. Refused
    /// while appends are staged (commit first), since the proof would not match [`VerifiableMap::root`].
    pub fn prove(&self, key_hash: &[u8; 32]) -> Result<MapProof> {
        if self.is_dirty() {
            return Err(Error::invalid("map", "appends are staged: commit before proving"));
        }
        let mut siblings = Vec::new();
        let mut depth = 0usize;
        loop {
            match self.census(depth, key_hash) {
                Census::Empty => return Ok(MapProof { siblings, terminal: Terminal::Empty }),
                Census::One(k, _) if k == key_hash => return Ok(MapProof { siblings, terminal: Terminal::Present }),
                Census::One(k, l) => {
                    let terminal = Terminal::Other { key_hash: *k, value_hash: l.value_hash };
                    return Ok(MapProof { siblings, terminal });
                }
                Census::Many => {
                    let next = depth.saturating_add(1);
                    siblings.push(self.subtree(next, &with_bit(key_hash, depth, !bit(key_hash, depth))));
                    depth = next;
                }
            }
        }
    }
}

enum Census<'a> {
    Empty,
    One(&'a [u8; 32], &'a Leaf),
    Many,
}

/// Where a key's path ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terminal {
    /// At the key's own leaf: the key is present (its value hash comes from the list being proved).
    Present,
    /// At an empty subtree: the key is absent.
    Empty,
    /// At another key's leaf: the key is absent.
    Other {
        /// The other key.
        key_hash: [u8; 32],
        /// Its value hash.
        value_hash: [u8; 32],
    },
}

/// A proof for one key: the sibling hashes from the root down (index `i` is the sibling at depth `i + 1`,
/// across key bit `i`), and where the path ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapProof {
    /// Siblings from the root down, placeholders included.
    pub siblings: Vec<[u8; 32]>,
    /// Where the path ends.
    pub terminal: Terminal,
}

/// Verify `proof` for `key_hash` under `root`: with `Some(list)`, that the key is present with exactly
/// that list; with `None`, that the key is absent (docs/INDEX.md §6).
pub fn verify(root: &[u8; 32], key_hash: &[u8; 32], list: Option<&[u64]>, proof: &MapProof) -> Result<()> {
    let denied = |m: &str| Error::denied("map_proof", m);
    if proof.siblings.len() > KEY_BITS {
        return Err(Error::invalid("map_proof", format!("more than {KEY_BITS} siblings")));
    }
    let depth = proof.siblings.len();
    let mut h = match (&proof.terminal, list) {
        (Terminal::Present, Some(list)) => {
            check_list(list)?;
            leaf_hash(key_hash, &value_hash(list))
        }
        (Terminal::Present, None) => return Err(denied("proves presence, but absence was claimed")),
        (_, Some(_)) => return Err(denied("proves absence, but a list was claimed")),
        (Terminal::Empty, None) => PLACEHOLDER,
        (Terminal::Other { key_hash: other, value_hash }, None) => {
            if other == key_hash {
                return Err(denied("the leaf it ends at is the key's own"));
            }
            if bound(other, depth, false) != bound(key_hash, depth, false) {
                return Err(denied("the leaf it ends at is not on the key's path"));
            }
            leaf_hash(other, value_hash)
        }
    };
    for (i, sibling) in proof.siblings.iter().enumerate().rev() {
        h = if bit(key_hash, i) { node_hash(sibling, &h) } else { node_hash(&h, sibling) };
    }
    if &h == root {
        Ok(())
    } else {
        Err(denied("does not lead to the map root"))
    }
}

const TAG_EMPTY: u8 = 0;
const TAG_PRESENT: u8 = 1;
const TAG_OTHER: u8 = 2;

impl MapProof {
    /// The proof's bytes (docs/INDEX.md §5): a terminal tag (0 empty, 1 present, 2 another leaf), the
    /// sibling count as u16 big-endian, a bitmap of `ceil(count / 8)` bytes whose bit `i` (most
    /// significant first) is set when sibling `i` is not the placeholder, those siblings (32 bytes each,
    /// from the root down), and for tag 2 the other leaf's key hash and value hash.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.siblings.len();
        let mut bitmap = vec![0u8; n.div_ceil(8)];
        let mut hashes = Vec::new();
        for (i, s) in self.siblings.iter().enumerate() {
            if *s != PLACEHOLDER {
                if let Some(b) = bitmap.get_mut(i >> 3) {
                    *b |= 0x80 >> (i & 7);
                }
                hashes.extend_from_slice(s);
            }
        }
        let tag = match self.terminal {
            Terminal::Empty => TAG_EMPTY,
            Terminal::Present => TAG_PRESENT,
            Terminal::Other { .. } => TAG_OTHER,
        };
        let mut out = vec![tag];
        out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&bitmap);
        out.extend_from_slice(&hashes);
        if let Terminal::Other { key_hash, value_hash } = &self.terminal {
            out.extend_from_slice(key_hash);
            out.extend_from_slice(value_hash);
        }
        out
    }

    /// Parse [`MapProof::encode`]'s bytes. Refuses anything else: an unknown tag, more than 256 siblings,
    /// a bitmap bit set past the count, a listed sibling equal to the placeholder, or bytes left over.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |m: &str| Error::invalid("map_proof", m);
        let (&tag, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        let (count, rest) = rest.split_first_chunk::<2>().ok_or_else(|| bad("no sibling count"))?;
        let n = usize::from(u16::from_be_bytes(*count));
        if n > KEY_BITS {
            return Err(bad("more than 256 siblings"));
        }
        let (bitmap, mut rest) = rest.split_at_checked(n.div_ceil(8)).ok_or_else(|| bad("bitmap cut short"))?;
        let mut siblings = Vec::with_capacity(n);
        for i in 0..n {
            let set = bitmap.get(i >> 3).is_some_and(|b| b & (0x80_u8 >> (i & 7)) != 0);
            if !set {
                siblings.push(PLACEHOLDER);
                continue;
            }
            let (h, r) = rest.split_first_chunk::<32>().ok_or_else(|| bad("sibling cut short"))?;
            if *h == PLACEHOLDER {
                return Err(bad("a listed sibling is the placeholder (its bitmap bit must be clear)"));
            }
            siblings.push(*h);
            rest = r;
        }
        let padding = (n..n.div_ceil(8).saturating_mul(8))
            .any(|i| bitmap.get(i >> 3).is_some_and(|b| b & (0x80_u8 >> (i & 7)) != 0));
        if padding {
            return Err(bad("bitmap bits past the sibling count are set"));
        }
        let terminal = match tag {
            TAG_EMPTY => Terminal::Empty,
            TAG_PRESENT => Terminal::Present,
            TAG_OTHER => {
                let (k, r) = rest.split_first_chunk::<32>().ok_or_else(|| bad("other leaf cut short"))?;
                let (v, r) = r.split_first_chunk::<32>().ok_or_else(|| bad("other leaf cut short"))?;
                rest = r;
                Terminal::Other { key_hash: *k, value_hash: *v }
            }
            _ => return Err(bad("unknown terminal tag")),
        };
        if !rest.is_empty() {
            return Err(bad("bytes after the proof"));
        }
        Ok(MapProof { siblings, terminal })
    }
}
