//! Witnesses (C2SP tlog-witness): `accord witness serve` cosigns checkpoints that are consistent with the
//! latest one it verified for that log (this file), and the ledger's side that submits each new checkpoint
//! to its configured witnesses and keeps the cosignatures they return (`sender.rs`).
//!
//! The witness state (latest cosigned checkpoint per log origin) is persisted atomically — written to a
//! temporary file, synced and renamed — while a lock is held across the size check, the proof check and
//! the write, so two requests can never roll the state back (the race the spec warns about).
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
            let Ok(old_root) = BASE64_STANDARD.decode(&known.root) else {
                // A corrupt state file must not turn into "no previous root": the witness stops cosigning
                // this log until an operator repairs it.
                tracing::error!(origin, "witness state: the stored root is not base64");
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("witness state for {origin} is corrupt: the stored root is not base64"),
                );
            };
            if let Err(e) = merkle::verify_consistency(old, cp.size, &old_root, &cp.root, &proof) {
                tracing::warn!(origin, old, new = cp.size, error = %e, "inconsistent checkpoint refused (possible log misbehaviour)");
                return text(StatusCode::UNPROCESSABLE_ENTITY, format!("consistency proof: {e}"));
            }
        } else if !proof.is_empty() {
            return text(StatusCode::UNPROCESSABLE_ENTITY, "the proof must be empty when the old size is 0".into());
        }
        let mut next = state.clone();
        next.insert(origin.clone(), LogState { size: cp.size, root: root_b64, checkpoint: note.to_string() });
        if let Err(e) = self.persist(&next) {
            tracing::error!(error = %e, "cannot persist the witness state");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "cannot persist the witness state".into());
        }
        *state = next;
        drop(state);
        let (body, _) = match split_note(note) {
            Ok(x) => x,
            Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
        };
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        (StatusCode::OK, "text/plain; charset=utf-8", self.cosigner.cosign(body, ts))
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

/// The witness's HTTP routes: `POST /add-checkpoint`.
pub fn router(w: Arc<Witness>) -> Router {
    Router::new()
        .route(
            "/add-checkpoint",
            post(|State(w): State<Arc<Witness>>, body: String| async move {
                let (code, ct, body) = w.add_checkpoint(&body).await;
                ([(header::CONTENT_TYPE, ct)], body).into_response().map_status(code)
            }),
        )
        .with_state(w)
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
}
