//! Witnesses (C2SP tlog-witness): `accord witness serve` cosigns checkpoints that are consistent with the
//! latest one it verified for that log (this file), and the ledger's side that submits each new checkpoint
//! to its configured witnesses and keeps the cosignatures they return (`sender.rs`).
//!
//! A witness also cosigns the log's map checkpoints (docs/INDEX.md §7.1, `POST /add-map-checkpoint`): a map
//! built at a prefix of the log it cosigned, and never two map roots at one log size.
//!
//! The witness state (latest cosigned checkpoint, and map checkpoint, per log origin) is persisted
//! atomically — written to a temporary file, synced and renamed — while a lock is held across the size
//! check, the proof check and the write, so two requests can never roll the state back (the race the spec
//! warns about).
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use accord_tlog::mapcheckpoint::{map_verifier, open_map_checkpoint, MapCheckpoint, MAP_ORIGIN_SUFFIX};

use crate::crypto::cosign::{split_note, Cosigner};
use crate::crypto::{self, StrictNoteVerifier};
use crate::error::{Error, Result};
use crate::merkle;

mod sender;
pub use sender::{check_views, run_sender, WitnessTarget};

/// Most consistency proof lines a request may carry (the spec's limit).
const MAX_PROOF_LINES: usize = 63;

/// What a witness remembers per log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogState {
    /// Size of the latest checkpoint cosigned for this log.
    pub size: u64,
    /// Base64 root hash.
    pub root: String,
    /// That checkpoint, as the signed note the log sent.
    pub checkpoint: String,
    /// The latest map checkpoint cosigned for this log's index (none yet; absent from state files written
    /// before witnesses cosigned map checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<MapState>,
}

/// What a witness remembers of the latest map checkpoint it cosigned for a log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapState {
    /// The log size the map was built at.
    pub size: u64,
    /// Base64 map root.
    pub root: String,
}

/// A witness: its key, the logs it knows, its state file.
#[derive(Debug)]
pub struct Witness {
    cosigner: Cosigner,
    logs: HashMap<String, StrictNoteVerifier>,
    state_path: PathBuf,
    state: Mutex<BTreeMap<String, LogState>>,
}

impl Witness {
    /// Load (or start) the witness state.
    pub fn open(cosigner: Cosigner, logs: Vec<StrictNoteVerifier>, state_path: &Path) -> Result<Self> {
        let state = match std::fs::read_to_string(state_path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| {
                Error::invalid("state", format!("{} is not a witness state file: {e}", state_path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Error::internal(format!("reading {}: {e}", state_path.display()))),
        };
        Ok(Self {
            cosigner,
            logs: logs.into_iter().map(|l| (l.name().to_string(), l)).collect(),
            state_path: state_path.to_path_buf(),
            state: Mutex::new(state),
        })
    }

    /// The witness's cosignature verifier key, for logs and clients to name it.
    pub fn verifier_key(&self) -> String {
        self.cosigner.verifier_key()
    }

    fn persist(&self, state: &BTreeMap<String, LogState>) -> std::io::Result<()> {
        let tmp = self.state_path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            // Never an empty file in place of the state: a failed encoding fails the write.
            let json = serde_json::to_string_pretty(state).map_err(std::io::Error::other)?;
            std::io::Write::write_all(&mut f, json.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.state_path)?;
        if let Some(dir) = self.state_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// The add-checkpoint call: (HTTP status, content type, body).
    pub async fn add_checkpoint(&self, body: &str) -> Reply {
        let (old, proof, note) = match parse_add_checkpoint(body) {
            Ok(x) => x,
            Err(reply) => return reply,
        };
        let text = text_reply;
        let origin = note.lines().next().unwrap_or_default().to_string();
        let Some(log) = self.logs.get(&origin) else {
            return text(StatusCode::NOT_FOUND, format!("unknown log {origin:?}"));
        };
        let cp = match crypto::open_checkpoint(note.as_bytes(), log) {
            Ok(cp) => cp,
            // Not a signed note or not a checkpoint: malformed (400). Well-formed but not signed by the
            // log's key: forbidden (403).
            Err(e @ accord_tlog::Error::Malformed { .. }) => {
                return text(StatusCode::BAD_REQUEST, format!("checkpoint: {e}"))
            }
            Err(e) => return text(StatusCode::FORBIDDEN, format!("checkpoint signature: {e}")),
        };
        if old > cp.size {
            return text(
                StatusCode::BAD_REQUEST,
                format!("old size {old} is larger than the checkpoint's {}", cp.size),
            );
        }
        // Check and persist under one lock: no request can roll the state back.
        let mut state = self.state.lock().await;
        let known = state.get(&origin).cloned().unwrap_or_default();
        if old != known.size {
            return (StatusCode::CONFLICT, "text/x.tlog.size", format!("{}\n", known.size));
        }
        let root_b64 = BASE64_STANDARD.encode(cp.root);
        if old == cp.size {
            if known.size > 0 && known.root != root_b64 {
                return (StatusCode::CONFLICT, "text/x.tlog.size", format!("{}\n", known.size));
            }
        } else if old > 0 {
            let old_root = match stored_root(&origin, &known) {
                Ok(r) => r,
                Err(reply) => return reply,
            };
            if let Err(e) = merkle::verify_consistency(old, cp.size, &old_root, &cp.root, &proof) {
                tracing::warn!(origin, old, new = cp.size, error = %e, "inconsistent checkpoint refused (possible log misbehaviour)");
                return text(StatusCode::UNPROCESSABLE_ENTITY, format!("consistency proof: {e}"));
            }
        } else if !proof.is_empty() {
            return text(StatusCode::UNPROCESSABLE_ENTITY, "the proof must be empty when the old size is 0".into());
        }
        let mut next = state.clone();
        // The map cosigned last stays: it was built at a prefix of this log.
        let log = LogState { size: cp.size, root: root_b64, checkpoint: note.to_string(), map: known.map };
        next.insert(origin.clone(), log);
        if let Err(reply) = self.commit(&mut state, next) {
            return reply;
        }
        drop(state);
        self.cosign_note(note)
    }

    /// Persist `next` and make it the state, or the 500 reply when it cannot be written.
    fn commit(
        &self,
        state: &mut BTreeMap<String, LogState>,
        next: BTreeMap<String, LogState>,
    ) -> std::result::Result<(), Reply> {
        if let Err(e) = self.persist(&next) {
            tracing::error!(error = %e, "cannot persist the witness state");
            return Err(text_reply(StatusCode::INTERNAL_SERVER_ERROR, "cannot persist the witness state".into()));
        }
        *state = next;
        Ok(())
    }

    /// The reply to an accepted note: this witness's cosignature line over its body.
    fn cosign_note(&self, note: &str) -> Reply {
        let (body, _) = match split_note(note) {
            Ok(x) => x,
            Err(e) => return text_reply(StatusCode::BAD_REQUEST, e.to_string()),
        };
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        (StatusCode::OK, "text/plain; charset=utf-8", self.cosigner.cosign(body, ts))
    }

    /// The add-map-checkpoint call (docs/INDEX.md §7.1): cosign a map checkpoint of a known log whose (log
    /// size, log root) is a prefix of the log this witness last cosigned (at size `old`, the request's first
    /// line), unless it already cosigned a map at a larger log size or another map root at this one.
    pub async fn add_map_checkpoint(&self, body: &str) -> Reply {
        let (old, proof, note) = match parse_add_checkpoint(body) {
            Ok(x) => x,
            Err(reply) => return reply,
        };
        let text = text_reply;
        let map_origin = note.lines().next().unwrap_or_default();
        let Some(origin) = map_origin.strip_suffix(MAP_ORIGIN_SUFFIX) else {
            return text(
                StatusCode::BAD_REQUEST,
                format!("map checkpoint: the first line {map_origin:?} is not <log origin>{MAP_ORIGIN_SUFFIX}"),
            );
        };
        let Some(log) = self.logs.get(origin) else {
            return text(StatusCode::NOT_FOUND, format!("unknown log {origin:?}"));
        };
        let map = match open_map_checkpoint(note.as_bytes(), &map_verifier(log)) {
            Ok(m) => m,
            Err(e @ accord_tlog::Error::Malformed { .. }) => {
                return text(StatusCode::BAD_REQUEST, format!("map checkpoint: {e}"))
            }
            Err(e) => return text(StatusCode::FORBIDDEN, format!("map checkpoint signature: {e}")),
        };
        // Check and persist under the one lock add-checkpoint takes.
        let mut state = self.state.lock().await;
        let Some(known) = state.get(origin).cloned() else {
            // Nothing cosigned for this log yet: its log checkpoint comes first.
            return (StatusCode::CONFLICT, "text/x.tlog.size", "0\n".into());
        };
        if old != known.size || map.log_size > known.size {
            return (StatusCode::CONFLICT, "text/x.tlog.size", format!("{}\n", known.size));
        }
        if let Err(reply) = check_map_prefix(origin, &known, &map, &proof) {
            return reply;
        }
        let map_root = BASE64_STANDARD.encode(map.map_root);
        match &known.map {
            Some(m) if map.log_size < m.size => {
                return text(
                    StatusCode::CONFLICT,
                    format!("a map checkpoint at log size {} was cosigned; {} is older", m.size, map.log_size),
                )
            }
            Some(m) if map.log_size == m.size && m.root != map_root => {
                tracing::warn!(origin, size = map.log_size, cosigned = %m.root, offered = %map_root, "a second map root at one log size refused (possible index misbehaviour)");
                return text(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("another map root was cosigned at log size {}: the map of a log is one", m.size),
                );
            }
            // The map cosigned last again (a restarted ledger rebuilt it): cosigned again, nothing to write.
            Some(m) if map.log_size == m.size => {}
            _ => {
                let mut next = state.clone();
                next.insert(
                    origin.to_string(),
                    LogState { map: Some(MapState { size: map.log_size, root: map_root }), ..known },
                );
                if let Err(reply) = self.commit(&mut state, next) {
                    return reply;
                }
            }
        }
        drop(state);
        self.cosign_note(note)
    }
}

/// The root the witness state holds for a log. A corrupt state file must not turn into "no previous
/// root": the witness answers 500 and stops cosigning this log until an operator repairs it.
fn stored_root(origin: &str, known: &LogState) -> std::result::Result<Vec<u8>, Reply> {
    BASE64_STANDARD.decode(&known.root).map_err(|_| {
        tracing::error!(origin, "witness state: the stored root is not base64");
        text_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("witness state for {origin} is corrupt: the stored root is not base64"),
        )
    })
}

/// Whether the map's (log size, log root) is a prefix of the log `known` holds: equal sizes have equal
/// roots and an empty proof, the empty log has the empty root, a smaller size is proven consistent with
/// the stored root. The 422 reply (or 500 for a corrupt stored root) when not.
fn check_map_prefix(
    origin: &str,
    known: &LogState,
    map: &MapCheckpoint,
    proof: &[Vec<u8>],
) -> std::result::Result<(), Reply> {
    let text = text_reply;
    let refuse = |why: String| {
        tracing::warn!(
            origin,
            size = map.log_size,
            witnessed = known.size,
            "{why}: map checkpoint refused (possible log misbehaviour)"
        );
        Err(text(StatusCode::UNPROCESSABLE_ENTITY, why))
    };
    if map.log_size == known.size || map.log_size == 0 {
        let root = if map.log_size == 0 { BASE64_STANDARD.encode(merkle::empty_root()) } else { known.root.clone() };
        if !proof.is_empty() {
            return Err(text(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the proof must be empty when the map's log size is 0 or the witnessed size".into(),
            ));
        }
        if BASE64_STANDARD.encode(map.log_root) != root {
            return refuse(format!("the map's log root at size {} is not the log's", map.log_size));
        }
        return Ok(());
    }
    let root = stored_root(origin, known)?;
    match merkle::verify_consistency(map.log_size, known.size, &map.log_root, &root, proof) {
        Ok(()) => Ok(()),
        Err(e) => refuse(format!("consistency proof from the map's log size {}: {e}", map.log_size)),
    }
}

/// A reply of the witness API: (HTTP status, content type, body).
pub type Reply = (StatusCode, &'static str, String);

fn text_reply(code: StatusCode, msg: String) -> Reply {
    (code, "text/plain; charset=utf-8", format!("{msg}\n"))
}

/// An add-checkpoint request body: the old size, the consistency proof and the checkpoint note (C2SP
/// tlog-witness), or the 400 reply that says what is malformed.
fn parse_add_checkpoint(body: &str) -> std::result::Result<(u64, Vec<Vec<u8>>, &str), Reply> {
    let text = text_reply;
    let Some((head, note)) = body.split_once("\n\n") else {
        return Err(text(
            StatusCode::BAD_REQUEST,
            "expected: old size line, proof lines, empty line, checkpoint".into(),
        ));
    };
    let mut lines = head.lines();
    // ASCII decimal without leading zeroes (or a sign), as the spec writes it.
    let decimal = |n: &str| n.parse::<u64>().ok().filter(|v| v.to_string() == n);
    let Some(old) = lines.next().and_then(|l| l.strip_prefix("old ")).and_then(decimal) else {
        return Err(text(
            StatusCode::BAD_REQUEST,
            "the first line must be `old <size>` (decimal, no leading zeroes)".into(),
        ));
    };
    let proof: Vec<Vec<u8>> = match lines.map(|l| BASE64_STANDARD.decode(l)).collect::<std::result::Result<_, _>>() {
        Ok(p) => p,
        Err(_) => return Err(text(StatusCode::BAD_REQUEST, "a proof line is not base64".into())),
    };
    if proof.iter().any(|h| h.len() != 32) {
        return Err(text(StatusCode::BAD_REQUEST, "a proof line is not a 32-byte hash".into()));
    }
    if proof.len() > MAX_PROOF_LINES {
        return Err(text(StatusCode::BAD_REQUEST, format!("at most {MAX_PROOF_LINES} proof lines")));
    }
    Ok((old, proof, note))
}

/// The witness's HTTP routes: `POST /add-checkpoint` and `POST /add-map-checkpoint`.
pub fn router(w: Arc<Witness>) -> Router {
    Router::new()
        .route(
            "/add-checkpoint",
            post(|State(w): State<Arc<Witness>>, body: String| async move { respond(w.add_checkpoint(&body).await) }),
        )
        .route(
            "/add-map-checkpoint",
            post(
                |State(w): State<Arc<Witness>>, body: String| async move { respond(w.add_map_checkpoint(&body).await) },
            ),
        )
        .with_state(w)
}

fn respond((code, ct, body): Reply) -> Response {
    ([(header::CONTENT_TYPE, ct)], body).into_response().map_status(code)
}

trait MapStatus {
    fn map_status(self, code: StatusCode) -> Response;
}

impl MapStatus for Response {
    fn map_status(mut self, code: StatusCode) -> Response {
        *self.status_mut() = code;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{generate_key, LogSigner};

    fn witness(dir: &Path, log: &LogSigner) -> Witness {
        let w = Cosigner::new("w.example", generate_key());
        Witness::open(w, vec![log.verifier().clone()], &dir.join("w.state")).unwrap()
    }

    #[tokio::test]
    async fn malformed_requests_are_400_and_foreign_signatures_403() {
        let tmp = tempfile::tempdir().unwrap();
        let log = LogSigner::new("example.com/log", generate_key()).unwrap();
        let w = witness(tmp.path(), &log);
        let note = log.sign_checkpoint(3, &[1; 32]);
        let code = |r: (StatusCode, &'static str, String)| r.0;
        assert_eq!(code(w.add_checkpoint(&format!("old 0\n\n{note}")).await), StatusCode::OK);
        for bad in ["old 03", "old +3", "old -0", "old 3x", "old"] {
            assert_eq!(code(w.add_checkpoint(&format!("{bad}\n\n{note}")).await), StatusCode::BAD_REQUEST, "{bad}");
        }
        let short = BASE64_STANDARD.encode([0u8; 31]);
        assert_eq!(code(w.add_checkpoint(&format!("old 3\n{short}\n\n{note}")).await), StatusCode::BAD_REQUEST);
        // The log's origin line over a body that is not a checkpoint, or no signature block: malformed.
        let not_a_note = "example.com/log\n3\nAQ==\n";
        assert_eq!(code(w.add_checkpoint(&format!("old 3\n\n{not_a_note}")).await), StatusCode::BAD_REQUEST);
        // Well formed, signed by another key of the same name: forbidden.
        let other = LogSigner::new("example.com/log", generate_key()).unwrap().sign_checkpoint(4, &[2; 32]);
        assert_eq!(code(w.add_checkpoint(&format!("old 3\n\n{other}")).await), StatusCode::FORBIDDEN);
        // The state was not touched by any of these: 3 is still the size it knows.
        let (c, ct, body) = w.add_checkpoint(&format!("old 0\n\n{note}")).await;
        assert_eq!((c, ct, body.as_str()), (StatusCode::CONFLICT, "text/x.tlog.size", "3\n"));
    }

    /// A state file whose stored root is not base64 is corrupt: the witness says so (500, naming the log)
    /// instead of checking the consistency proof against an empty root (which answered 422 as if the log
    /// had misbehaved).
    #[tokio::test]
    async fn a_corrupt_stored_root_is_reported_not_read_as_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let log = LogSigner::new("example.com/log", generate_key()).unwrap();
        let w = witness(tmp.path(), &log);
        let note = log.sign_checkpoint(3, &[1; 32]);
        assert_eq!(w.add_checkpoint(&format!("old 0\n\n{note}")).await.0, StatusCode::OK);
        drop(w);
        let path = tmp.path().join("w.state");
        let mut state: BTreeMap<String, LogState> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        state.get_mut("example.com/log").unwrap().root = "not base64!".into();
        std::fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();
        let w = witness(tmp.path(), &log);
        let next = log.sign_checkpoint(5, &[2; 32]);
        let proof = BASE64_STANDARD.encode([0u8; 32]);
        let (code, _, body) = w.add_checkpoint(&format!("old 3\n{proof}\n\n{next}")).await;
        assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert!(body.contains("example.com/log") && body.contains("corrupt"), "{body}");
    }

    /// A log of `n` leaves, and its root at every size up to `n`.
    fn tree(n: u8) -> (merkle::MemoryHashes, Vec<[u8; 32]>) {
        let mut t = merkle::MemoryHashes::default();
        for i in 0..n {
            t.append(&[i]);
        }
        let roots = (0..=u64::from(n)).map(|s| merkle::tree_hash(s, &t).unwrap()).collect();
        (t, roots)
    }

    /// An add-map-checkpoint body: `old`, the proof lines, the note.
    fn map_request(old: u64, proof: &[[u8; 32]], note: &str) -> String {
        let lines: String = proof.iter().map(|h| format!("{}\n", BASE64_STANDARD.encode(h))).collect();
        format!("old {old}\n{lines}\n{note}")
    }

    fn consistency(t: &merkle::MemoryHashes, from: u64, to: u64) -> Vec<[u8; 32]> {
        merkle::prove_tree(to, from, t).unwrap().into_iter().map(|h| h.0).collect()
    }

    /// A witness of a log of 10 leaves (nothing cosigned yet), the log's signers and its roots.
    struct MapFixture {
        tmp: tempfile::TempDir,
        log: LogSigner,
        map: accord_tlog::mapcheckpoint::MapSigner,
        cosigner: Cosigner,
        t: merkle::MemoryHashes,
        roots: Vec<[u8; 32]>,
    }

    impl MapFixture {
        fn new() -> Self {
            let log = LogSigner::new("example.com/log", generate_key()).unwrap();
            let map = accord_tlog::mapcheckpoint::MapSigner::for_log(&log).unwrap();
            let (t, roots) = tree(10);
            let cosigner = Cosigner::new("w.example", generate_key());
            Self { tmp: tempfile::tempdir().unwrap(), log, map, cosigner, t, roots }
        }
        /// The witness on its state file, with one key across reopenings.
        fn open(&self) -> Witness {
            Witness::open(self.cosigner.clone(), vec![self.log.verifier().clone()], &self.tmp.path().join("w.state"))
                .unwrap()
        }
        fn wkey(&self) -> crate::crypto::cosign::CosignatureVerifier {
            crate::crypto::cosign::CosignatureVerifier::from_verifier_key(&self.cosigner.verifier_key()).unwrap()
        }
    }

    fn code(r: Reply) -> StatusCode {
        r.0
    }

    #[tokio::test]
    async fn map_checkpoints_are_cosigned_at_a_prefix_of_the_witnessed_log() {
        use accord_tlog::mapcheckpoint::MapSigner;
        let f = MapFixture::new();
        let (log, map, t, roots) = (&f.log, &f.map, &f.t, &f.roots);
        let w = f.open();
        let wkey = f.wkey();
        let map5 = map.sign(5, &roots[5], &[5; 32]);
        // Nothing witnessed for this log yet: its log checkpoint comes first (409 with size 0).
        let (c, ct, body) = w.add_map_checkpoint(&map_request(0, &[], &map5)).await;
        assert_eq!((c, ct, body.as_str()), (StatusCode::CONFLICT, "text/x.tlog.size", "0\n"));
        assert_eq!(
            code(w.add_checkpoint(&format!("old 0\n\n{}", log.sign_checkpoint(8, &roots[8]))).await),
            StatusCode::OK
        );

        // A smaller log size with a consistency proof to the witnessed root: cosigned over the map's body.
        let (c, _, lines) = w.add_map_checkpoint(&map_request(8, &consistency(t, 5, 8), &map5)).await;
        assert_eq!(c, StatusCode::OK, "{lines}");
        let (body5, _) = split_note(&map5).unwrap();
        assert!(wkey.verify_line(body5, lines.trim_end()).is_some(), "{lines}");
        // A wrong proof, or a log root the log does not have at that size: 422, nothing kept.
        let map6 = map.sign(6, &roots[6], &[6; 32]);
        assert_eq!(
            code(w.add_map_checkpoint(&map_request(8, &consistency(t, 5, 8), &map6)).await),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let forked = map.sign(6, &[7; 32], &[6; 32]);
        assert_eq!(
            code(w.add_map_checkpoint(&map_request(8, &consistency(t, 6, 8), &forked)).await),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let forked8 = map.sign(8, &[7; 32], &[8; 32]);
        assert_eq!(code(w.add_map_checkpoint(&map_request(8, &[], &forked8)).await), StatusCode::UNPROCESSABLE_ENTITY);
        // At the witnessed size: no proof, the witnessed root.
        let map8 = map.sign(8, &roots[8], &[8; 32]);
        assert_eq!(code(w.add_map_checkpoint(&map_request(8, &[], &map8)).await), StatusCode::OK);
        // Past the witnessed size, or a stale old size: 409 with the size the witness holds.
        let map9 = map.sign(9, &roots[9], &[9; 32]);
        let (c, ct, body) = w.add_map_checkpoint(&map_request(8, &[], &map9)).await;
        assert_eq!((c, ct, body.as_str()), (StatusCode::CONFLICT, "text/x.tlog.size", "8\n"));
        let (c, ct, body) = w.add_map_checkpoint(&map_request(5, &[], &map8)).await;
        assert_eq!((c, ct, body.as_str()), (StatusCode::CONFLICT, "text/x.tlog.size", "8\n"));
        // Unknown log: 404; the map key of another key of this log's name: 403; a log checkpoint: 400.
        let stranger = LogSigner::new("example.com/other", generate_key()).unwrap();
        let foreign_log = MapSigner::for_log(&stranger).unwrap().sign(8, &roots[8], &[8; 32]);
        assert_eq!(code(w.add_map_checkpoint(&map_request(8, &[], &foreign_log)).await), StatusCode::NOT_FOUND);
        let impostor = MapSigner::new("example.com/log", generate_key()).unwrap().sign(8, &roots[8], &[8; 32]);
        assert_eq!(code(w.add_map_checkpoint(&map_request(8, &[], &impostor)).await), StatusCode::FORBIDDEN);
        let log_note = log.sign_checkpoint(8, &roots[8]);
        assert_eq!(code(w.add_map_checkpoint(&map_request(8, &[], &log_note)).await), StatusCode::BAD_REQUEST);
        // The log signed by its own key is no map checkpoint either (it has the log's name, not the map's).
        let log_as_map = log_note.replacen("example.com/log\n", "example.com/log/index\n", 1);
        assert_eq!(code(w.add_map_checkpoint(&map_request(8, &[], &log_as_map)).await), StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn a_map_is_never_rolled_back_nor_cosigned_with_two_roots_at_one_size_also_after_reopening() {
        let f = MapFixture::new();
        let (log, map, t, roots) = (&f.log, &f.map, &f.t, &f.roots);
        let w = f.open();
        let wkey = f.wkey();
        assert_eq!(
            code(w.add_checkpoint(&format!("old 0\n\n{}", log.sign_checkpoint(8, &roots[8]))).await),
            StatusCode::OK
        );
        let (map5, map8) = (map.sign(5, &roots[5], &[5; 32]), map.sign(8, &roots[8], &[8; 32]));
        assert_eq!(code(w.add_map_checkpoint(&map_request(8, &[], &map8)).await), StatusCode::OK);
        // A map at a smaller log size than the one cosigned is a rollback (409); another map root at the same
        // size is refused (422); the same map again is cosigned again.
        let (c, _, body) = w.add_map_checkpoint(&map_request(8, &consistency(t, 5, 8), &map5)).await;
        assert_eq!(c, StatusCode::CONFLICT, "{body}");
        assert!(body.contains("log size 8"), "{body}");
        let other_root = map.sign(8, &roots[8], &[1; 32]);
        assert_eq!(
            code(w.add_map_checkpoint(&map_request(8, &[], &other_root)).await),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(code(w.add_map_checkpoint(&map_request(8, &[], &map8)).await), StatusCode::OK);

        // A log checkpoint cosigned later keeps the map state; so does reopening the state file.
        let note10 = log.sign_checkpoint(10, &roots[10]);
        assert_eq!(code(w.add_checkpoint(&map_request(8, &consistency(t, 8, 10), &note10)).await), StatusCode::OK);
        drop(w);
        let w = f.open();
        let (c, _, body) = w.add_map_checkpoint(&map_request(10, &consistency(t, 5, 10), &map5)).await;
        assert_eq!(c, StatusCode::CONFLICT, "the rollback is still refused after reopening: {body}");
        assert_eq!(
            code(w.add_map_checkpoint(&map_request(10, &consistency(t, 8, 10), &other_root)).await),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (c, _, lines) = w.add_map_checkpoint(&map_request(10, &consistency(t, 8, 10), &map8)).await;
        assert_eq!(c, StatusCode::OK, "{lines}");
        assert!(wkey.verify_note(&format!("{map8}{lines}")).is_some());
        let map10 = map.sign(10, &roots[10], &[10; 32]);
        assert_eq!(code(w.add_map_checkpoint(&map_request(10, &[], &map10)).await), StatusCode::OK);
        let state: BTreeMap<String, LogState> =
            serde_json::from_str(&std::fs::read_to_string(f.tmp.path().join("w.state")).unwrap()).unwrap();
        let kept = state.get("example.com/log").unwrap();
        assert_eq!(
            (kept.size, kept.map.clone()),
            (10, Some(MapState { size: 10, root: BASE64_STANDARD.encode([10; 32]) }))
        );
    }

    /// A state file written before witnesses cosigned map checkpoints (no `map` field) still loads, and a
    /// log without a map cosigned is written without the field.
    #[tokio::test]
    async fn an_old_state_file_without_map_state_loads() {
        use accord_tlog::mapcheckpoint::MapSigner;
        let tmp = tempfile::tempdir().unwrap();
        let log = LogSigner::new("example.com/log", generate_key()).unwrap();
        let (_, roots) = tree(3);
        let note = log.sign_checkpoint(3, &roots[3]);
        let old = serde_json::json!({
            "example.com/log": {"size": 3, "root": BASE64_STANDARD.encode(roots[3]), "checkpoint": note}
        });
        std::fs::write(tmp.path().join("w.state"), old.to_string()).unwrap();
        let w = witness(tmp.path(), &log);
        let (c, _, body) = w.add_checkpoint(&format!("old 0\n\n{note}")).await;
        assert_eq!((c, body.as_str()), (StatusCode::CONFLICT, "3\n"), "the old state was read");
        // The same checkpoint again is cosigned and written back, still without a map.
        assert_eq!(w.add_checkpoint(&format!("old 3\n\n{note}")).await.0, StatusCode::OK);
        let written = || std::fs::read_to_string(tmp.path().join("w.state")).unwrap();
        assert!(!written().contains("\"map\""), "{}", written());
        let map3 = MapSigner::for_log(&log).unwrap().sign(3, &roots[3], &[3; 32]);
        let (c, _, body) = w.add_map_checkpoint(&map_request(3, &[], &map3)).await;
        assert_eq!(c, StatusCode::OK, "{body}");
        assert!(written().contains("\"map\""), "{}", written());
    }
}
