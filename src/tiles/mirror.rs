//! A verifying mirror: follows a log through its tiles (the log's own HTTP port, another mirror, a cache
//! or a directory), checks everything against checkpoints signed by the pinned log key and against what it
//! verified before, and keeps a static tlog-tiles directory that re-serves exactly the signed log.
//!
//! New entry bundles are hashed into the tree the mirror holds; the result must be the new checkpoint's
//! root. Every new hash tile fetched must equal, byte for byte, the tile of that tree. Only then are the
//! staged tiles moved into place and the checkpoint written, so the directory never serves a tile of a
//! tree it did not verify. When the new tree does not extend the one verified before, the mirror keeps
//! what it has and reports the fork with both checkpoints.
use accord_tlog::tiles::{self, Extends, TileCache, TilePath, TILE_WIDTH};
use serde::Serialize;

use super::{Source, TileDir, Verifier};
use crate::crypto::cosign::{split_note, Cosigner};
use crate::crypto::{self, StrictNoteVerifier, VerifiedCheckpoint};
use crate::error::{Error, Kind, Result};

/// Entry bundles hashed and staged per step while catching up (bounds memory to ~64 × 256 leaves).
const BUNDLES_PER_STEP: u64 = 64;

/// Evidence that the source offered a tree that does not extend the one the mirror verified.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Fork {
    /// What the mirror had verified (and still serves).
    pub trusted: String,
    /// What the source offered, also signed by the log key.
    pub offered: String,
    /// Why the two cannot both be honest.
    pub reason: String,
}

/// What one round of following did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    /// Nothing new.
    UpToDate(u64),
    /// The source serves an older checkpoint that the mirror's tree contains (a stale cache).
    Stale {
        /// The source's size.
        offered: u64,
        /// The mirror's.
        have: u64,
    },
    /// Verified and published the tree of `to` entries.
    Advanced {
        /// The size before.
        from: u64,
        /// The size now.
        to: u64,
        /// Tiles written.
        tiles: usize,
    },
    /// Refused: the evidence (also written to `fork-evidence.json` in the directory).
    Forked(Box<Fork>),
}

/// A mirror of one log.
#[derive(Debug)]
pub struct Mirror {
    source: Source,
    log: StrictNoteVerifier,
    dir: TileDir,
    tree: Verifier,
    checkpoint: Option<VerifiedCheckpoint>,
    cosigner: Option<Cosigner>,
}

impl Mirror {
    /// Open the mirror directory, re-verifying what it holds (its checkpoint against the log key, its
    /// entry bundles against that checkpoint's root), and follow `source`.
    pub async fn open(
        source: Source,
        log: StrictNoteVerifier,
        dir: TileDir,
        cosigner: Option<Cosigner>,
    ) -> Result<Self> {
        let mut tree = Verifier::default();
        let checkpoint = match dir.checkpoint()? {
            None => None,
            Some(note) => {
                let cp = crypto::open_checkpoint(note.as_bytes(), &log)
                    .map_err(|e| Error::precondition("dir", format!("{}/checkpoint: {e}", dir.path().display())))?;
                let own = Source { kind: super::SourceKind::Dir(dir.path().to_path_buf()) };
                let mut next = 0;
                while next < cp.size {
                    let end = next.saturating_add(BUNDLES_PER_STEP * TILE_WIDTH).min(cp.size);
                    let leaves = own.leaves(next, end, cp.size, |_| {}).await?;
                    tree.extend(leaves.iter().map(Vec::as_slice));
                    next = end;
                }
                if tree.root() != cp.root {
                    return Err(Error::new(
                        Kind::DataLoss,
                        "dir",
                        format!("the entry bundles in {} do not hash to its checkpoint's root", dir.path().display()),
                    ));
                }
                Some(cp)
            }
        };
        Ok(Self { source, log, dir, tree, checkpoint, cosigner })
    }

    /// Entries verified.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// One round: fetch the source's checkpoint and, when it is newer, verify and publish what it adds.
    /// `progress` gets the entries verified so far in this round.
    pub async fn sync(&mut self, now_unix: u64, mut progress: impl FnMut(u64)) -> Result<Synced> {
        let cp = self.source.checkpoint(&self.log).await?;
        let have = self.size();
        let trusted_root = self.tree.root();
        if cp.size < have {
            if self.tree.root_at(cp.size)? == cp.root {
                return Ok(Synced::Stale { offered: cp.size, have });
            }
            return self.fork(&cp, "the offered checkpoint is smaller and its root is not the root of that many entries of the verified tree");
        }
        if cp.size == have {
            if cp.root == trusted_root {
                return Ok(Synced::UpToDate(have));
            }
            return self.fork(&cp, "same size, different root");
        }
        // Does the new tree extend ours? Asked of the source's hash tiles first, so that a fork is named
        // as one (with both checkpoints), and bad tiles as bad tiles.
        let mut cache = TileCache::default();
        let ext = self.source.prove(&mut cache, |c| c.extends(cp.size, &cp.root, have, &trusted_root)).await?;
        if let Extends::Forked { root_in_tiles } = ext {
            return self.fork(
                &cp,
                &format!(
                    "the offered tree's first {have} entries have root {}, not the verified {}",
                    hex::encode(root_in_tiles),
                    hex::encode(trusted_root)
                ),
            );
        }
        let staging = TileDir::create(&self.dir.path().join(".staging"))?;
        let result = self.advance(&cp, &staging, &mut progress).await;
        match result {
            Ok(tiles) => {
                self.publish(&cp, &staging, now_unix)?;
                self.checkpoint = Some(cp.clone());
                Ok(Synced::Advanced { from: have, to: cp.size, tiles })
            }
            Err(e) => {
                self.tree.truncate(have);
                let _ = std::fs::remove_dir_all(staging.path());
                Err(e)
            }
        }
    }

    /// Hash the new entries into the tree, compare roots and hash tiles, stage every new tile.
    async fn advance(
        &mut self,
        cp: &VerifiedCheckpoint,
        staging: &TileDir,
        progress: &mut impl FnMut(u64),
    ) -> Result<usize> {
        let have = self.size();
        let new_tiles = tiles::tiles_between(have, cp.size);
        // Entry bundles from the one holding entry `have`: its first entries must be the ones verified.
        let mut next = have.saturating_sub(have % TILE_WIDTH);
        while next < cp.size {
            let end = next.saturating_add(BUNDLES_PER_STEP * TILE_WIDTH).min(cp.size);
            let leaves = self.source.leaves(next, end, cp.size, |_| {}).await?;
            for (i, leaf) in leaves.iter().enumerate() {
                let idx = next.saturating_add(i as u64);
                if idx < have && self.tree.leaf_hash(idx) != Some(crate::merkle::leaf_hash(leaf)) {
                    return Err(Error::denied(
                        "tiles",
                        format!("entry {idx} in the source's bundle differs from the verified one (refused)"),
                    ));
                }
            }
            let fresh = usize::try_from(have.saturating_sub(next)).unwrap_or(usize::MAX);
            self.tree.extend(leaves.iter().skip(fresh).map(Vec::as_slice));
            for t in new_tiles.iter().filter(|t| matches!(t, TilePath::Entries { .. })) {
                let span = t.span();
                if span.start >= next && span.end <= end {
                    let from = usize::try_from(span.start.saturating_sub(next)).unwrap_or(usize::MAX);
                    let bundle =
                        tiles::entry_bundle(leaves.iter().skip(from).take(usize::from(t.width())).map(Vec::as_slice))?;
                    staging.write_tile(t, &bundle)?;
                }
            }
            next = end;
            progress(next.saturating_sub(have));
        }
        if self.tree.root() != cp.root {
            return Err(Error::denied(
                "tiles",
                format!("the entry bundles do not hash to the root of the checkpoint of size {} (refused)", cp.size),
            ));
        }
        for t in new_tiles.iter().filter(|t| matches!(t, TilePath::Hashes { .. })) {
            let fetched = self.source.tile(*t).await?;
            let want = self.tree.hash_tile(t)?;
            if fetched != want {
                return Err(Error::denied("tiles", format!("{t} is not a tile of the signed tree (refused)")));
            }
            staging.write_tile(t, &want)?;
        }
        Ok(new_tiles.len())
    }

    /// Move the staged tiles into place, then write the checkpoint (cosigned when the mirror witnesses).
    fn publish(&self, cp: &VerifiedCheckpoint, staging: &TileDir, now_unix: u64) -> Result<()> {
        for t in tiles::tiles_between(self.checkpoint.as_ref().map_or(0, |c| c.size), cp.size) {
            let from = staging.path().join(t.path());
            let to = self.dir.path().join(t.path());
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| super::io(parent, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| super::io(&from, e))?;
        }
        let _ = std::fs::remove_dir_all(staging.path());
        let mut note = cp.note.clone();
        if let Some(w) = &self.cosigner {
            let (body, _) = split_note(&cp.note)?;
            note.push_str(&w.cosign(body, now_unix));
        }
        self.dir.write_checkpoint(&note)
    }

    fn fork(&self, offered: &VerifiedCheckpoint, reason: &str) -> Result<Synced> {
        let fork = Fork {
            trusted: self.checkpoint.as_ref().map(|c| c.note.clone()).unwrap_or_default(),
            offered: offered.note.clone(),
            reason: reason.to_string(),
        };
        let json = serde_json::to_string_pretty(&fork).map_err(|e| Error::internal(e.to_string()))?;
        super::write_atomic(&self.dir.path().join("fork-evidence.json"), json.as_bytes())?;
        Ok(Synced::Forked(Box::new(fork)))
    }
}
