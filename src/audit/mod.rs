//! Whole-ledger audit: everything an auditor who trusts only the log key can check, from the entries and
//! checkpoints alone (a database file, or a server's StreamEntries).
//!
//! Checks, in order: entries are numbered 0..n without gaps; `integrated_at` never decreases; every
//! signature verifies against the key history recorded in the ledger itself and every statement obeys the
//! domain rules as of its position (the same replay the server does); the RFC 6962 tree recomputed from
//! the leaves equals every stored hash (database audits); every checkpoint is signed by the log key, names
//! the log's origin, and its root equals the recomputed root at its size — so consecutive checkpoints are
//! consistent, being prefixes of the one recomputed tree; and two checkpoints of the same size never differ
//! (a split view). A failure carries its evidence.
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::crypto::{self, StrictNoteVerifier};
use crate::error::{Error, Result};
use crate::merkle::{self, MemoryHashes};
use crate::store::{CheckpointRow, EntryRow};

/// What failed and the evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which check: entries, integrated_at, columns, replay, tree_hashes, checkpoint_signature,
    /// checkpoint_root, split_view.
    pub check: String,
    /// The entry index concerned, when one is.
    pub index: Option<u64>,
    /// The checkpoint size concerned, when one is.
    pub checkpoint_size: Option<u64>,
    /// What the check expected, in the form of `found` (an index, a hash or checkpoint root in hex, a bound);
    /// empty when the finding compares nothing.
    pub expected: String,
    /// What the ledger holds instead, in the same form as `expected` (for a replay failure: the error).
    pub found: String,
    /// The failure in words, for people.
    pub message: String,
    /// The signed checkpoint(s) involved (two for a split view).
    pub checkpoints: Vec<String>,
}

/// The audit's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// True when the audit found nothing: `findings` is empty.
    pub ok: bool,
    /// The origin of the log audited (the name of the trusted log key).
    pub origin: String,
    /// Entries given to the audit (the log size it judged).
    pub entries: u64,
    /// Checkpoints examined: the stored ones and the extra ones given.
    pub checkpoints_checked: u64,
    /// Stored tree hashes compared with the recomputed tree; 0 for an audit without a database.
    pub stored_hashes_checked: u64,
    /// Hex root of the tree recomputed from the leaves; empty when the entries were not numbered 0..n.
    pub root_hash: String,
    /// Hex root of the verifiable index's map recomputed from the log at its size (docs/INDEX.md); empty when
    /// the replay failed.
    pub map_root: String,
    /// Map checkpoints examined (each must be signed by the log's index key and name a map root equal to
    /// the recomputed one at its log size and root).
    pub map_checkpoints_checked: u64,
    /// Every failure found, with its evidence; the entry checks stop at the first.
    pub findings: Vec<Finding>,
}

fn finding(check: &str, message: impl Into<String>) -> Finding {
    Finding { check: check.into(), message: message.into(), ..Default::default() }
}

/// Audit entries and checkpoints. `stored_hashes` (database audits) are compared with the recomputed
/// tree; `extra_checkpoints` are checkpoints obtained elsewhere (a monitor's, a colleague's) that must agree
/// with the log. `progress(done)` is called as entries are checked. Stops at the first failure of the
/// entry checks (later entries cannot be judged without the earlier state); checkpoint findings are all
/// reported.
pub fn audit(
    log: &StrictNoteVerifier,
    entries: Vec<EntryRow>,
    checkpoints: &[CheckpointRow],
    stored_hashes: Option<&dyn Fn(u64) -> Result<Vec<[u8; 32]>>>,
    extra_checkpoints: &[String],
    map_checkpoints: &[String],
    mut progress: impl FnMut(u64),
) -> Summary {
    let origin = log.name().to_string();
    let mut s = Summary { origin: origin.clone(), entries: entries.len() as u64, ..Default::default() };
    // 1. Numbering and integration times.
    if !check_numbering(&entries, &mut s.findings) {
        return s;
    }
    // 2. The tree, recomputed from the leaves, with the root at every size a checkpoint names.
    let mut wanted: BTreeSet<u64> = checkpoints.iter().map(|c| c.size).collect();
    wanted.extend(
        extra_checkpoints.iter().filter_map(|n| crypto::open_checkpoint(n.as_bytes(), log).ok().map(|c| c.size)),
    );
    let maps = open_map_checkpoints(log, map_checkpoints, entries.len() as u64, &mut s);
    wanted.extend(maps.iter().map(|m| m.log_size));
    let (tree, roots) = recompute_tree(&entries, &wanted);
    s.root_hash = hex::encode(tree.root());
    // 3. Stored hashes (a database's tree_hashes table) against the recomputed ones.
    if let Some(read) = stored_hashes {
        check_stored_hashes(read, entries.len() as u64, &tree, &mut s);
    }
    // 4. Checkpoints: signature, origin, size within the log, root equal to the recomputed root.
    check_checkpoints(log, entries.len() as u64, checkpoints, extra_checkpoints, &roots, &mut s);
    // 5. Signatures and domain rules, replayed in order (stops at the first failure).
    let n = entries.len();
    match crate::report::replay::MemoryBook::replay(&origin, entries, &mut progress) {
        Ok(book) => {
            progress(n as u64);
            // 6. The verifiable index: the map recomputed from the log, against every map checkpoint given.
            check_maps(&book, n as u64, &maps, &roots, &mut s);
        }
        Err(e) => {
            let index = e
                .message
                .split("entry ")
                .nth(1)
                .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|t| t.parse().ok());
            s.findings.push(Finding { index, found: e.to_string(), ..finding("replay", format!("{e}")) });
        }
    }
    s.ok = s.findings.is_empty();
    s
}

/// The map checkpoints given, each opened with the log's index key (`<origin>/index`) and within the log;
/// the others are findings.
fn open_map_checkpoints(
    log: &StrictNoteVerifier,
    notes: &[String],
    size: u64,
    s: &mut Summary,
) -> Vec<accord_tlog::mapcheckpoint::MapCheckpoint> {
    let key = accord_tlog::mapcheckpoint::map_verifier(log);
    let mut maps = Vec::new();
    for note in notes {
        s.map_checkpoints_checked = s.map_checkpoints_checked.saturating_add(1);
        match accord_tlog::mapcheckpoint::open_map_checkpoint(note.as_bytes(), &key) {
            Ok(m) if m.log_size > size => s.findings.push(Finding {
                checkpoint_size: Some(m.log_size),
                expected: format!("<= {size}"),
                found: m.log_size.to_string(),
                checkpoints: vec![note.clone()],
                ..finding(
                    "map_checkpoint",
                    format!("a map checkpoint names log size {}, beyond the log's {size} entries", m.log_size),
                )
            }),
            Ok(m) => maps.push(m),
            Err(e) => s.findings.push(Finding {
                checkpoints: vec![note.clone()],
                found: e.to_string(),
                ..finding(
                    "map_checkpoint",
                    format!("a map checkpoint does not verify with the index key {}: {e}", key.name()),
                )
            }),
        }
    }
    maps
}

/// Recompute the map from the replayed log at its size and at every map checkpoint's, and compare: the log
/// root the checkpoint names must be the recomputed tree's, and its map root the recomputed map's.
fn check_maps(
    book: &crate::report::replay::MemoryBook,
    size: u64,
    maps: &[accord_tlog::mapcheckpoint::MapCheckpoint],
    tree_roots: &BTreeMap<u64, [u8; 32]>,
    s: &mut Summary,
) {
    let mut sizes: BTreeSet<u64> = maps.iter().map(|m| m.log_size).collect();
    sizes.insert(size);
    let roots = match crate::vindex::roots_at(book, &sizes) {
        Ok(r) => r,
        Err(e) => {
            s.findings.push(Finding {
                found: e.to_string(),
                ..finding("map_root", format!("the map could not be recomputed: {e}"))
            });
            return;
        }
    };
    s.map_root = roots.get(&size).map(hex::encode).unwrap_or_default();
    for m in maps {
        let note = m.body();
        if tree_roots.get(&m.log_size) != Some(&m.log_root) {
            s.findings.push(Finding {
                checkpoint_size: Some(m.log_size),
                expected: tree_roots.get(&m.log_size).map(hex::encode).unwrap_or_default(),
                found: hex::encode(m.log_root),
                checkpoints: vec![note.clone()],
                ..finding(
                    "map_checkpoint",
                    format!("the map checkpoint at size {} names a log root the log does not have", m.log_size),
                )
            });
        }
        let expected = roots.get(&m.log_size).map(hex::encode).unwrap_or_default();
        if expected != hex::encode(m.map_root) {
            s.findings.push(Finding {
                checkpoint_size: Some(m.log_size),
                expected,
                found: hex::encode(m.map_root),
                checkpoints: vec![note],
                ..finding("map_root", format!("the map root signed at size {} is not the map of the log: the index omits, adds or misfiles entries", m.log_size))
            });
        }
    }
}

/// Entries are numbered 0..n without gaps and their integration times never decrease; columns that
/// disagree with their leaf are noted (at most ten). Returns false when the audit must stop here.
fn check_numbering(entries: &[EntryRow], findings: &mut Vec<Finding>) -> bool {
    let mut last_ms = i64::MIN;
    for (i, e) in entries.iter().enumerate() {
        if e.index != i as u64 {
            findings.push(Finding {
                index: Some(i as u64),
                expected: format!("entry {i}"),
                found: format!("entry {}", e.index),
                ..finding("entries", format!("entry {i} is missing or out of place (rows deleted or swapped)"))
            });
            return false;
        }
        let ms = crate::pb::LogEntry::decode_ms(&e.leaf).unwrap_or(i64::MIN);
        if ms < last_ms {
            findings.push(Finding {
                index: Some(i as u64),
                expected: format!("integrated_at_ms ≥ {last_ms}"),
                found: ms.to_string(),
                ..finding("integrated_at", format!("entry {i} was integrated before entry {}", i.saturating_sub(1)))
            });
            return false;
        }
        last_ms = ms;
        // A column that disagrees with its leaf does not change the tree: note it and go on, so that the
        // tree and checkpoint checks still run (at most ten such findings).
        if findings.len() < 10 {
            findings.extend(column_mismatch(e, ms));
        }
    }
    true
}

/// The tree recomputed from the leaves, and its root at every size in `wanted`.
fn recompute_tree(entries: &[EntryRow], wanted: &BTreeSet<u64>) -> (MemoryHashes, BTreeMap<u64, [u8; 32]>) {
    let mut tree = MemoryHashes::default();
    let mut roots = BTreeMap::new();
    if wanted.contains(&0) {
        roots.insert(0, merkle::empty_root());
    }
    for e in entries {
        tree.append(&e.leaf);
        let n = e.index.saturating_add(1);
        if wanted.contains(&n) {
            roots.insert(n, tree.root());
        }
    }
    (tree, roots)
}

/// Stored hashes (a database's tree_hashes table) against the recomputed ones: the first that differs.
fn check_stored_hashes(
    read: &dyn Fn(u64) -> Result<Vec<[u8; 32]>>,
    entries: u64,
    tree: &MemoryHashes,
    s: &mut Summary,
) {
    match read(merkle::stored_hash_count(entries)) {
        Ok(stored) => {
            s.stored_hashes_checked = stored.len() as u64;
            if let Some((i, (a, b))) = stored.iter().zip(tree.0.iter()).enumerate().find(|(_, (a, b))| **a != b.0) {
                // Stored hashes are written in integration order, so the first one that differs is at
                // the lowest level above the first changed leaf: the entry is the subtree's first leaf.
                let (level, n) = crate::merkle::split_stored_hash_index(i as u64);
                let leaf = n << level;
                let what = if level == 0 {
                    format!("entry {leaf}'s leaf hash stored at integration differs from the hash of its leaf now")
                } else {
                    format!("stored tree hash {i} (level {level}, from entry {leaf}) differs from the recomputed one")
                };
                s.findings.push(Finding {
                    index: Some(leaf),
                    expected: hex::encode(b.0),
                    found: hex::encode(a),
                    ..finding("tree_hashes", what)
                });
            }
        }
        Err(e) => s.findings.push(finding("tree_hashes", format!("cannot read the stored hashes: {e}"))),
    }
}

/// Every checkpoint (stored ones with their rows, then the extra ones): signed by the log key, its row
/// agreeing with its note, within the log, its root the recomputed one, and no two of one size differing.
fn check_checkpoints(
    log: &StrictNoteVerifier,
    entries: u64,
    checkpoints: &[CheckpointRow],
    extra_checkpoints: &[String],
    roots: &BTreeMap<u64, [u8; 32]>,
    s: &mut Summary,
) {
    let mut by_size: BTreeMap<u64, (String, [u8; 32])> = BTreeMap::new();
    let all: Vec<(String, Option<CheckpointRow>)> = checkpoints
        .iter()
        .map(|c| (c.note.clone(), Some(c.clone())))
        .chain(extra_checkpoints.iter().map(|n| (n.clone(), None)))
        .collect();
    for (note, row) in &all {
        s.checkpoints_checked = s.checkpoints_checked.saturating_add(1);
        let cp = match crypto::open_checkpoint(note.as_bytes(), log) {
            Ok(cp) => cp,
            Err(e) => {
                s.findings.push(Finding {
                    checkpoint_size: row.as_ref().map(|r| r.size),
                    checkpoints: vec![note.clone()],
                    ..finding("checkpoint_signature", format!("checkpoint is not validly signed by the log key: {e}"))
                });
                continue;
            }
        };
        if let Some(r) = row {
            if r.size != cp.size || r.root != cp.root {
                s.findings.push(Finding {
                    checkpoint_size: Some(r.size),
                    expected: format!("size {} root {}", r.size, hex::encode(r.root)),
                    found: format!("size {} root {}", cp.size, hex::encode(cp.root)),
                    checkpoints: vec![note.clone()],
                    ..finding("checkpoint_root", "the stored size or root differs from the signed note")
                });
            }
        }
        if cp.size > entries {
            s.findings.push(Finding {
                checkpoint_size: Some(cp.size),
                expected: format!("at most {entries} entries"),
                found: cp.size.to_string(),
                checkpoints: vec![note.clone()],
                ..finding("checkpoint_root", "a signed checkpoint covers entries the log does not hold")
            });
            continue;
        }
        check_checkpoint_root(note, &cp, roots, &mut by_size, &mut s.findings);
    }
}

/// A checkpoint within the log: its root is the recomputed root at its size, and no other checkpoint of
/// the same size seen so far (`by_size`) has a different root (a split view).
fn check_checkpoint_root(
    note: &str,
    cp: &crypto::VerifiedCheckpoint,
    roots: &BTreeMap<u64, [u8; 32]>,
    by_size: &mut BTreeMap<u64, (String, [u8; 32])>,
    findings: &mut Vec<Finding>,
) {
    if let Some(root) = roots.get(&cp.size) {
        if *root != cp.root {
            findings.push(Finding {
                checkpoint_size: Some(cp.size),
                expected: hex::encode(root),
                found: hex::encode(cp.root),
                checkpoints: vec![note.to_string()],
                ..finding(
                    "checkpoint_root",
                    format!(
                        "the signed root of size {} is not the root of the log's first {} leaves",
                        cp.size, cp.size
                    ),
                )
            });
        }
    }
    match by_size.get(&cp.size) {
        Some((other, root)) if *root != cp.root => findings.push(Finding {
            checkpoint_size: Some(cp.size),
            expected: hex::encode(root),
            found: hex::encode(cp.root),
            checkpoints: vec![other.clone(), note.to_string()],
            ..finding(
                "split_view",
                format!("two checkpoints of size {} signed by the log key have different roots", cp.size),
            )
        }),
        Some(_) => {}
        None => {
            by_size.insert(cp.size, (note.to_string(), cp.root));
        }
    }
}

/// An entry known only by its leaf (a log read from tlog-tiles, which publish no columns): the columns are
/// what the leaf says, left empty when it does not decode (the replay then reports it).
pub fn entry_of_leaf(index: u64, leaf: Vec<u8>) -> EntryRow {
    let (kind, statement_id) = match crate::proto::statement_of_leaf(&leaf) {
        Ok(st) => (st.body.as_ref().map(crate::proto::kind_name).unwrap_or_default().to_string(), st.statement_id),
        Err(_) => Default::default(),
    };
    EntryRow {
        index,
        identity: crate::crypto::leaf_identity(&leaf).map(|h| h.to_vec()).unwrap_or_default(),
        leaf_hash: crate::merkle::leaf_hash(&leaf).to_vec(),
        statement_id,
        kind,
        integrated_at_ms: crate::pb::LogEntry::decode_ms(&leaf).unwrap_or_default(),
        leaf,
    }
}

/// The columns a server stores beside the leaf and serves (kind, statement id, integration time) must say
/// what the leaf says: a row edited after integration is a finding, even though no hash covers the column.
fn column_mismatch(e: &EntryRow, leaf_ms: i64) -> Option<Finding> {
    let (kind, sid) = match crate::proto::statement_of_leaf(&e.leaf) {
        Ok(st) => (st.body.as_ref().map(crate::proto::kind_name).unwrap_or_default(), st.statement_id),
        // An undecodable leaf is the replay's finding, with its message.
        Err(_) => return None,
    };
    let bad = |column: &str, stored: String, leaf: String| {
        Some(Finding {
            index: Some(e.index),
            expected: leaf,
            found: stored,
            ..finding("columns", format!("entry {}'s stored {column} differs from its leaf", e.index))
        })
    };
    if e.kind != kind {
        return bad("kind", e.kind.clone(), kind.to_string());
    }
    if e.statement_id != sid {
        return bad("statement_id", e.statement_id.clone(), sid);
    }
    if e.integrated_at_ms != leaf_ms {
        return bad("integrated_at_ms", e.integrated_at_ms.to_string(), leaf_ms.to_string());
    }
    None
}

impl crate::pb::LogEntry {
    /// The integration time of a leaf, without decoding the envelope's payload.
    pub fn decode_ms(leaf: &[u8]) -> Option<i64> {
        <crate::pb::LogEntry as prost::Message>::decode(leaf).ok().map(|l| l.integrated_at_ms)
    }
}

/// Read every entry and checkpoint of a database file for an audit, and its stored hashes.
pub fn audit_database(
    path: &std::path::Path,
    log_key: Option<&str>,
    extra_checkpoints: &[String],
    map_checkpoints: &[String],
    progress: impl FnMut(u64),
) -> Result<Summary> {
    let r = crate::store::open_read_only(path)?;
    r.quick_check()?;
    let meta = r.meta()?;
    let key = log_key.unwrap_or(&meta.verifier_key);
    let log = StrictNoteVerifier::from_verifier_key(key)?;
    if log.name() != meta.origin {
        return Err(Error::precondition(
            "log_key",
            format!("the key is for {:?}, the database is {:?}", log.name(), meta.origin),
        ));
    }
    let mut entries = Vec::new();
    let mut next = 0u64;
    loop {
        let batch = r.entries_as_stored(next, i64::MAX as u64, 10_000)?;
        if batch.is_empty() {
            break;
        }
        next = batch.last().map(|e| e.index.saturating_add(1)).unwrap_or(next);
        // Rows are read by index order; a gap shows up as a jump in `index`, kept for the check.
        entries.extend(batch);
    }
    let checkpoints = r.checkpoints()?;
    let read = |count: u64| -> Result<Vec<[u8; 32]>> { Ok(r.stored_hashes(count)?) };
    Ok(audit(&log, entries, &checkpoints, Some(&read), extra_checkpoints, map_checkpoints, progress))
}
