//! The high-water record: the latest checkpoint the log signed, kept durably **outside** the database.
//!
//! The database can be lost or rolled back behind the log's back (a deleted or truncated WAL, a restored
//! old copy, a lost volume with `log.key` kept elsewhere). Signing again from such a database would
//! publish a second history under the same key: a fork. So every checkpoint is written here and
//! fdatasync'ed after its COMMIT and before anyone sees it, and [`crate::ledger::Ledger::open`] refuses a
//! database whose tree is behind this record or disagrees with it (docs/SECURITY.md, docs/OPERATIONS.md).
//!
//! Format (`high-water` in the data directory unless configured elsewhere): two slots of
//! [`SLOT`] bytes, written alternately so that a torn write can only damage the slot being written while
//! the other keeps the previous checkpoint. A slot is `"accordhw"`, a big-endian u64 sequence number, a
//! big-endian u32 length, the signed checkpoint note (that many bytes), then SHA-256 of everything before
//! it. The valid slot with the higher sequence number is the record. Anyone holding the log's verifier key
//! can check the note; `accord audit --high-water FILE` compares a database with it.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::crypto::{self, StrictNoteVerifier, VerifiedCheckpoint};
use crate::error::{Error, Kind, Result};

/// Default file name inside the data directory.
pub const FILE: &str = "high-water";
/// Bytes per slot.
pub const SLOT: usize = 4096;
const MAGIC: &[u8; 8] = b"accordhw";
/// Magic, sequence number and length.
const HEADER: usize = 8 + 8 + 4;

/// An open high-water file.
#[derive(Debug)]
pub struct HighWater {
    file: File,
    path: PathBuf,
    seq: u64,
    latest: Option<String>,
}

fn io(path: &Path, what: &str, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(28) {
        return Error::new(Kind::ResourceExhausted, "", format!("{what} {}: the disk is full", path.display()));
    }
    Error::new(Kind::Unavailable, "", format!("{what} {}: {e}", path.display()))
}

/// Decode one slot: (sequence number, note), or None when it is empty or damaged.
fn decode_slot(b: &[u8]) -> Option<(u64, String)> {
    let magic = b.get(..8)?;
    if magic != MAGIC {
        return None;
    }
    let seq = u64::from_be_bytes(b.get(8..16)?.try_into().ok()?);
    let len = usize::try_from(u32::from_be_bytes(b.get(16..20)?.try_into().ok()?)).ok()?;
    let end = HEADER.checked_add(len)?;
    let body = b.get(..end)?;
    let sum = b.get(end..end.checked_add(32)?)?;
    if Sha256::digest(body).as_slice() != sum {
        return None;
    }
    Some((seq, String::from_utf8(b.get(HEADER..end)?.to_vec()).ok()?))
}

fn encode_slot(seq: u64, note: &str) -> Result<Vec<u8>> {
    let len = u32::try_from(note.len()).ok().filter(|l| (*l as usize).saturating_add(HEADER + 32) <= SLOT).ok_or_else(
        || Error::internal(format!("a checkpoint of {} bytes does not fit a high-water slot", note.len())),
    )?;
    let mut b = Vec::with_capacity(SLOT);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(note.as_bytes());
    let sum = Sha256::digest(&b);
    b.extend_from_slice(&sum);
    b.resize(SLOT, 0);
    Ok(b)
}

/// The checkpoint note recorded at `path`, read without opening it for writing (audits).
pub fn read_note(path: &Path) -> Result<Option<String>> {
    let bytes = std::fs::read(path).map_err(|e| io(path, "reading", e))?;
    Ok(best_slot(&bytes).map(|(_, n)| n))
}

fn best_slot(bytes: &[u8]) -> Option<(u64, String)> {
    [bytes.get(..SLOT), bytes.get(SLOT..2 * SLOT)]
        .into_iter()
        .flatten()
        .filter_map(decode_slot)
        .max_by_key(|(seq, _)| *seq)
}

impl HighWater {
    /// Open the record at `path`, creating an empty one (both slots allocated, file and directory
    /// synced) when `create` is set and there is none.
    pub fn open(path: &Path, create: bool) -> Result<Self> {
        let existed = path.exists();
        if !existed && !create {
            return Err(Error::not_found("high_water", format!("no high-water record at {}", path.display())));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)
            .map_err(|e| io(path, "opening", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io(path, "reading", e))?;
        if !existed || bytes.is_empty() {
            // Allocate both slots now, so that later writes overwrite blocks the file already owns.
            file.write_all(&[0u8; 2 * SLOT]).and_then(|_| file.sync_all()).map_err(|e| io(path, "creating", e))?;
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            bytes = vec![0u8; 2 * SLOT];
        }
        let (seq, latest) = match best_slot(&bytes) {
            Some((s, n)) => (s, Some(n)),
            None => (0, None),
        };
        Ok(Self { file, path: path.to_path_buf(), seq, latest })
    }

    /// Where the record is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recorded checkpoint note, if any.
    pub fn latest_note(&self) -> Option<&str> {
        self.latest.as_deref()
    }

    /// The recorded checkpoint, verified with the log's key.
    pub fn latest(&self, log: &StrictNoteVerifier) -> Result<Option<VerifiedCheckpoint>> {
        self.latest
            .as_deref()
            .map(|n| {
                crypto::open_checkpoint(n.as_bytes(), log).map_err(|e| {
                    Error::precondition(
                        "high_water",
                        format!("{} holds a checkpoint the log key did not sign: {}", self.path.display(), e.rule()),
                    )
                })
            })
            .transpose()
    }

    /// Record `note` (a checkpoint the log just signed and committed) durably: written over the older slot
    /// and fdatasync'ed before returning.
    pub fn record(&mut self, note: &str) -> Result<()> {
        let seq = self.seq.wrapping_add(1);
        let slot = encode_slot(seq, note)?;
        let offset = if seq.is_multiple_of(2) { 0 } else { SLOT as u64 };
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.write_all(&slot))
            .and_then(|_| self.file.sync_data())
            .map_err(|e| io(&self.path, "writing", e))?;
        self.seq = seq;
        self.latest = Some(note.to_string());
        Ok(())
    }
}

/// fsync a directory, so that a file created in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    File::open(d).and_then(|f| f.sync_all()).map_err(|e| io(d, "syncing", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternate_slots_survive_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE);
        let mut hw = HighWater::open(&p, true).unwrap();
        assert_eq!(hw.latest_note(), None);
        hw.record("one\n").unwrap();
        hw.record("two\n").unwrap();
        assert_eq!(HighWater::open(&p, false).unwrap().latest_note(), Some("two\n"));
        // Tear the slot holding "two": the record falls back to "one", never to garbage.
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[20] ^= 0xff;
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(HighWater::open(&p, false).unwrap().latest_note(), Some("one\n"));
        assert!(HighWater::open(&dir.path().join("missing"), false).is_err());
    }
}
