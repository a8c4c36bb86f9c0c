//! The map checkpoint (docs/INDEX.md §7, issue 17): a C2SP signed note committing the index's map root
//! as built from the log at a given size and root.
//!
//! Body, five lines, each ending in `\n`:
//!
//! ```text
//! <log origin>/index
//! accord-index/v1
//! <log size, decimal>
//! <log root, standard base64>
//! <map root, standard base64>
//! ```
//!
//! The first line is the map's origin and the signing key's name ([`MapSigner`]); the second names the
//! version of the map function and tree. It cannot be read as a log checkpoint: its second line is not a
//! size.
use base64::prelude::*;
use ed25519_dalek::{Signer as _, SigningKey};

use crate::error::{Error, Result};
use crate::note::{note_key_id, open_note, StrictNoteVerifier, VerifiedCheckpoint};

/// The suffix that turns a log origin into its map origin.
pub const MAP_ORIGIN_SUFFIX: &str = "/index";
/// The version line of map checkpoints this crate writes and reads.
pub const VERSION_LINE: &str = "accord-index/v1";

/// A map checkpoint's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapCheckpoint {
    /// The log's origin (the first line of its checkpoints).
    pub log_origin: String,
    /// The log size the map was built at (entries `0..log_size`).
    pub log_size: u64,
    /// The log's RFC 6962 root at that size.
    pub log_root: [u8; 32],
    /// The map root ([`crate::vmap::VerifiableMap::root`]).
    pub map_root: [u8; 32],
}

impl MapCheckpoint {
    /// `<log origin>/index`: the first line, and the name of the key that signs map checkpoints.
    pub fn map_origin(&self) -> String {
        format!("{}{MAP_ORIGIN_SUFFIX}", self.log_origin)
    }

    /// The note body (the text that is signed).
    pub fn body(&self) -> String {
        format!(
            "{}\n{VERSION_LINE}\n{}\n{}\n{}\n",
            self.map_origin(),
            self.log_size,
            BASE64_STANDARD.encode(self.log_root),
            BASE64_STANDARD.encode(self.map_root)
        )
    }

    /// Parse a body, strictly: exactly the five lines, a decimal size without leading zeros, and roots in
    /// canonical standard base64 of 32 bytes.
    pub fn parse_body(text: &str) -> Result<Self> {
        let bad = |m: String| Error::invalid("map_checkpoint", m);
        let body = text.strip_suffix('\n').ok_or_else(|| bad("the body ends with a newline".into()))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, version, size, log_root, map_root] = lines.as_slice() else {
            return Err(bad(format!("a map checkpoint has 5 lines, got {}", lines.len())));
        };
        let log_origin = origin
            .strip_suffix(MAP_ORIGIN_SUFFIX)
            .filter(|o| signed_note::is_key_name_valid(o))
            .ok_or_else(|| bad(format!("line 1 {origin:?} is not <log origin>{MAP_ORIGIN_SUFFIX}")))?;
        if *version != VERSION_LINE {
            return Err(bad(format!("line 2 {version:?} is not {VERSION_LINE:?} (an unknown index version)")));
        }
        let canonical = size.bytes().all(|b| b.is_ascii_digit()) && (*size == "0" || !size.starts_with('0'));
        let log_size = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| bad(format!("line 3 {size:?} is not a decimal log size")))?;
        Ok(MapCheckpoint {
            log_origin: log_origin.to_string(),
            log_size,
            log_root: root_line(log_root, "line 4 (log root)")?,
            map_root: root_line(map_root, "line 5 (map root)")?,
        })
    }

    /// Whether this map was built at the log checkpoint `log` (same origin, size and root): a reader holds
    /// both before trusting a map proof.
    pub fn check_log(&self, log: &VerifiedCheckpoint) -> Result<()> {
        if self.log_origin != log.origin || self.log_size != log.size || self.log_root != log.root {
            return Err(Error::denied(
                "map_checkpoint",
                format!(
                    "built at {} size {} root {}, not at the log checkpoint {} size {} root {}",
                    self.log_origin,
                    self.log_size,
                    hex::encode(self.log_root),
                    log.origin,
                    log.size,
                    hex::encode(log.root)
                ),
            ));
        }
        Ok(())
    }
}

fn root_line(line: &str, field: &str) -> Result<[u8; 32]> {
    BASE64_STANDARD
        .decode(line)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .filter(|r| BASE64_STANDARD.encode(r) == line)
        .ok_or_else(|| Error::invalid("map_checkpoint", format!("{field} is not canonical base64 of 32 bytes")))
}

/// Signs map checkpoints with an Ed25519 key named `<log origin>/index`.
#[derive(Debug)]
pub struct MapSigner {
    log_origin: String,
    key: SigningKey,
    verifier: StrictNoteVerifier,
}

impl MapSigner {
    /// A signer for the map of log `log_origin`; refuses an origin that is not a valid key name.
    pub fn new(log_origin: &str, key: SigningKey) -> Result<Self> {
        let name = format!("{log_origin}{MAP_ORIGIN_SUFFIX}");
        if !signed_note::is_key_name_valid(log_origin) {
            return Err(Error::invalid("origin", "must be non-empty with no spaces or '+' (it names the key)"));
        }
        let verifier = StrictNoteVerifier::new(&name, key.verifying_key());
        Ok(Self { log_origin: log_origin.to_string(), key, verifier })
    }

    /// The signer of the map of the log `log` signs: the log's key under the map's name (`<log origin>/index`,
    /// so its key ID differs and no note of one kind verifies as the other).
    pub fn for_log(log: &crate::note::LogSigner) -> Result<Self> {
        Self::new(log.origin(), log.key.clone())
    }

    /// The verifier of the map signer's signatures (name `<log origin>/index`).
    pub fn verifier(&self) -> &StrictNoteVerifier {
        &self.verifier
    }

    /// Sign the map checkpoint for `(log_size, log_root, map_root)` and return the whole signed note.
    pub fn sign(&self, log_size: u64, log_root: &[u8; 32], map_root: &[u8; 32]) -> String {
        let cp =
            MapCheckpoint { log_origin: self.log_origin.clone(), log_size, log_root: *log_root, map_root: *map_root };
        let body = cp.body();
        let name = cp.map_origin();
        let mut line = note_key_id(&name, &self.key.verifying_key()).to_be_bytes().to_vec();
        line.extend_from_slice(&self.key.sign(body.as_bytes()).to_bytes());
        format!("{body}\n— {name} {}\n", BASE64_STANDARD.encode(line))
    }
}

/// The verifier of the map checkpoints of the log whose checkpoints `log` verifies (the map signer of
/// [`MapSigner::for_log`]): the same public key, named `<log origin>/index`.
pub fn map_verifier(log: &StrictNoteVerifier) -> StrictNoteVerifier {
    StrictNoteVerifier::new(&format!("{}{MAP_ORIGIN_SUFFIX}", log.name()), *log.key())
}

/// Open a signed map checkpoint: the note verifies under `verifier` (strictly), its body is a map
/// checkpoint, and its first line is the key's name. Other signatures (witnesses) are ignored.
pub fn open_map_checkpoint(note: &[u8], verifier: &StrictNoteVerifier) -> Result<MapCheckpoint> {
    let text = open_note(note, verifier).map_err(|e| e.scope("map_checkpoint"))?;
    let text = String::from_utf8(text).map_err(|_| Error::invalid("map_checkpoint", "body is not UTF-8"))?;
    let cp = MapCheckpoint::parse_body(&text)?;
    if cp.map_origin() != verifier.name() {
        return Err(Error::denied(
            "map_checkpoint",
            format!("origin {:?} is not the map key's name {:?}", cp.map_origin(), verifier.name()),
        ));
    }
    Ok(cp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{open_checkpoint, LogSigner};

    const ORIGIN: &str = "accord.test/log";

    fn signer(seed: u8) -> MapSigner {
        MapSigner::new(ORIGIN, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn a_signed_map_checkpoint_opens_with_its_key_and_not_another() {
        let s = signer(7);
        let note = s.sign(12, &[1; 32], &[2; 32]);
        assert!(note.starts_with("accord.test/log/index\naccord-index/v1\n12\n"), "{note}");
        let cp = open_map_checkpoint(note.as_bytes(), s.verifier()).unwrap();
        assert_eq!(cp, MapCheckpoint { log_origin: ORIGIN.into(), log_size: 12, log_root: [1; 32], map_root: [2; 32] });
        assert!(open_map_checkpoint(note.as_bytes(), signer(8).verifier()).is_err(), "another key");
        let tampered = note.replacen("\n12\n", "\n13\n", 1);
        assert!(open_map_checkpoint(tampered.as_bytes(), s.verifier()).is_err(), "changed size");
        // A key of the same bytes named for another log does not open it.
        let other = MapSigner::new("accord.test/other", SigningKey::from_bytes(&[7; 32])).unwrap();
        assert!(open_map_checkpoint(note.as_bytes(), other.verifier()).is_err());
    }

    #[test]
    fn map_and_log_checkpoints_cannot_be_taken_for_each_other() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let log = LogSigner::new(ORIGIN, key.clone()).unwrap();
        let log_note = log.sign_checkpoint(12, &[1; 32]);
        let log_cp = open_checkpoint(log_note.as_bytes(), log.verifier()).unwrap();
        // The same key material signs the map under the name <origin>/index.
        let map = MapSigner::new(ORIGIN, key).unwrap();
        let map_note = map.sign(12, &[1; 32], &[2; 32]);
        assert!(open_checkpoint(map_note.as_bytes(), log.verifier()).is_err(), "a map note is no log checkpoint");
        assert!(open_map_checkpoint(log_note.as_bytes(), map.verifier()).is_err());
        assert!(
            MapCheckpoint::parse_body(&format!("{ORIGIN}/index\n12\n{}\n", BASE64_STANDARD.encode([1; 32]))).is_err()
        );
        let cp = open_map_checkpoint(map_note.as_bytes(), map.verifier()).unwrap();
        cp.check_log(&log_cp).unwrap();
        let stale = MapCheckpoint { log_size: 11, ..cp.clone() };
        assert!(stale.check_log(&log_cp).is_err(), "built at another size");
        let wrong_root = MapCheckpoint { log_root: [3; 32], ..cp };
        assert!(wrong_root.check_log(&log_cp).is_err(), "built at another root");
    }

    #[test]
    fn bodies_are_parsed_strictly() {
        let cp = MapCheckpoint { log_origin: ORIGIN.into(), log_size: 0, log_root: [1; 32], map_root: [0; 32] };
        let body = cp.body();
        assert_eq!(MapCheckpoint::parse_body(&body).unwrap(), cp);
        let r1 = BASE64_STANDARD.encode([1; 32]);
        let r0 = BASE64_STANDARD.encode([0; 32]);
        for bad in [
            body.trim_end().to_string(),
            format!("{body}extra\n"),
            format!("{ORIGIN}\naccord-index/v1\n0\n{r1}\n{r0}\n"),
            format!("{ORIGIN}/index\naccord-index/v2\n0\n{r1}\n{r0}\n"),
            format!("{ORIGIN}/index\naccord-index/v1\n00\n{r1}\n{r0}\n"),
            format!("{ORIGIN}/index\naccord-index/v1\n+1\n{r1}\n{r0}\n"),
            format!("{ORIGIN}/index\naccord-index/v1\n0\n{}\n{r0}\n", r1.trim_end_matches('=')),
            format!("{ORIGIN}/index\naccord-index/v1\n0\n{r1}\n{}\n", BASE64_STANDARD.encode([0; 31])),
            format!("/index\naccord-index/v1\n0\n{r1}\n{r0}\n"),
        ] {
            assert!(MapCheckpoint::parse_body(&bad).is_err(), "{bad:?}");
        }
    }
}
