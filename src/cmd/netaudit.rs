//! Network audits: every checkpoint the server stores (AuditService.ListCheckpoints), and locating a
//! changed entry.
//!
//! When the leaves a server streams do not hash to its signed
//! root, the server's own proofs (built from the tree hashes it stored when it integrated each entry) say
//! which entry changed: a consistency proof from size `m` to the signed size verifies against the root
//! recomputed from the first `m` served leaves exactly when those leaves are the signed ones, so a binary
//! search over `m` finds the first changed entry in O(log n) requests. Inclusion proofs of its neighbours
//! then tell a changed entry from a checkpoint signed over a root no leaves produce.
use crate::merkle::Hash;

use crate::client::Client;
use crate::crypto::VerifiedCheckpoint;
use crate::merkle::{self, MemoryHashes};
use crate::pb::{self, audit_service_client::AuditServiceClient};
use crate::store::CheckpointRow;

/// What the search concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// Entry `index` is not the entry the log signed (its neighbours prove against the signed root).
    Entry { index: u64, proven_prefix: u64 },
    /// No entry can be blamed: not even the neighbours of the first mismatch prove against the signed root,
    /// so the checkpoint does not match the tree the server stores.
    Checkpoint { proven_prefix: u64 },
}

/// The RFC 6962 tree of the given leaf hashes.
fn tree_of(leaf_hashes: &[[u8; 32]]) -> MemoryHashes {
    let mut t = MemoryHashes::default();
    for (i, h) in leaf_hashes.iter().enumerate() {
        // Reading the hashes the tree itself holds cannot fail; were it to, the root would differ and say so.
        if let Ok(new) = merkle::stored_hashes_for_record_hash(i as u64, Hash(*h), &t) {
            t.0.extend(new);
        }
    }
    t
}

async fn consistency(c: &mut Client, from: u64, to: u64) -> Option<Vec<Vec<u8>>> {
    let r = c.raw().get_consistency_proof(pb::GetConsistencyProofRequest { from_size: from, to_size: Some(to) }).await;
    r.ok().map(|r| r.into_inner().proof)
}

async fn inclusion_holds(c: &mut Client, index: u64, leaf_hash: &[u8; 32], cp: &VerifiedCheckpoint) -> bool {
    let req = pb::GetInclusionProofRequest {
        leaf: Some(pb::get_inclusion_proof_request::Leaf::Index(index)),
        tree_size: cp.size,
    };
    match c.raw().get_inclusion_proof(req).await {
        Ok(r) => merkle::verify_inclusion(index, cp.size, leaf_hash, &r.into_inner().proof, &cp.root).is_ok(),
        Err(_) => false,
    }
}

/// Find the first served leaf that is not the one the log signed in `cp`. `leaf_hashes` are the RFC 6962
/// hashes of the served leaves `0..cp.size`, which do not hash to `cp.root`. None when the server's
/// proofs are unavailable.
pub async fn locate(c: &mut Client, leaf_hashes: &[[u8; 32]], cp: &VerifiedCheckpoint) -> Option<Located> {
    let n = cp.size;
    if leaf_hashes.len() as u64 != n || n == 0 {
        return None;
    }
    let tree = tree_of(leaf_hashes);
    // Invariant: the first `lo` served leaves are proven; the first `hi` are not (hi = n: the roots differ).
    let (mut lo, mut hi) = (0u64, n);
    while hi.saturating_sub(lo) > 1 {
        let m = lo.saturating_add(hi.saturating_sub(lo) / 2);
        let root = merkle::tree_hash(m, &tree).ok()?;
        let proof = consistency(c, m, n).await?;
        if merkle::verify_consistency(m, n, &root, &cp.root, &proof).is_ok() {
            lo = m;
        } else {
            hi = m;
        }
    }
    let k = lo;
    let leaf = |i: u64| usize::try_from(i).ok().and_then(|i| leaf_hashes.get(i)).copied().unwrap_or_default();
    let (before, after) = (k.saturating_sub(1), k.saturating_add(1));
    let genuine_root = (k > 0 && inclusion_holds(c, before, &leaf(before), cp).await)
        || (after < n && inclusion_holds(c, after, &leaf(after), cp).await);
    if genuine_root && !inclusion_holds(c, k, &leaf(k), cp).await {
        Some(Located::Entry { index: k, proven_prefix: lo })
    } else {
        Some(Located::Checkpoint { proven_prefix: lo })
    }
}

/// After a network audit whose served leaves do not hash to the signed root of `cp`: add the located
/// entry to the findings, or say that the checkpoint itself is at fault.
pub async fn explain(c: &mut Client, leaf_hashes: &[[u8; 32]], cp: &VerifiedCheckpoint, s: &mut crate::audit::Summary) {
    let mismatch = s.findings.iter().any(|f| f.check == "checkpoint_root" && f.checkpoint_size == Some(cp.size));
    if !mismatch || leaf_hashes.len() as u64 != cp.size {
        return;
    }
    match locate(c, leaf_hashes, cp).await {
        Some(Located::Entry { index, proven_prefix }) => s.findings.push(crate::audit::Finding {
            check: "leaf".into(),
            index: Some(index),
            checkpoint_size: Some(cp.size),
            expected: "the leaf the log signed (its neighbours prove against the signed root)".into(),
            found: hex::encode(
                usize::try_from(index).ok().and_then(|i| leaf_hashes.get(i)).copied().unwrap_or_default(),
            ),
            message: format!(
                "entry {index} as served is not the entry the log signed: the first {proven_prefix} entries prove \
                 against the signed root of size {} (server's consistency proofs), entry {index}'s inclusion proof \
                 fails",
                cp.size
            ),
            checkpoints: vec![cp.note.clone()],
        }),
        Some(Located::Checkpoint { proven_prefix }) => {
            if let Some(f) =
                s.findings.iter_mut().find(|f| f.check == "checkpoint_root" && f.checkpoint_size == Some(cp.size))
            {
                f.message.push_str(&format!(
                    "; no entry is to blame: the first {proven_prefix} entries prove against it and the \
                     neighbours of entry {proven_prefix} do not, so the signed root is not the root of the tree \
                     the server stores"
                ));
            }
        }
        None => {}
    }
}

/// Every checkpoint the server stores, in size order. None when the server does not offer the audit API
/// (an older server): the caller then checks the latest checkpoint only.
pub async fn list_checkpoints(url: &str) -> Option<Vec<CheckpointRow>> {
    let channel = crate::client::channel(url).await.ok()?;
    let mut c = AuditServiceClient::new(channel).max_decoding_message_size(crate::server::MAX_MESSAGE_BYTES);
    let mut out = Vec::new();
    let mut next = Some(0);
    while let Some(start) = next {
        let resp =
            c.list_checkpoints(pb::ListCheckpointsRequest { start_size: start, limit: 0 }).await.ok()?.into_inner();
        for cp in resp.checkpoints {
            out.push(CheckpointRow {
                size: cp.tree_size,
                // A malformed root shows as a mismatch with the signed note.
                root: cp.root_hash.as_slice().try_into().unwrap_or([0; 32]),
                note: cp.checkpoint,
            });
        }
        next = resp.next_size.filter(|n| *n > start);
    }
    Some(out)
}
