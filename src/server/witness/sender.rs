//! The ledger's side of the witness protocol: submit each new checkpoint, with a consistency proof from the
//! size the witness last cosigned, to every configured witness over HTTP or HTTPS (a reqwest client per
//! witness, connections reused, failed attempts retried a bounded number of times with exponential backoff),
//! store the cosignatures they return (in the database, with the checkpoint), and at start ask each for its
//! view of the log (a rolled-back database is refused). Once a witness holds the log, the index's map
//! checkpoint follows (docs/INDEX.md §7.1); its cosignatures are kept with the map, in memory.
//!
//! A sender runs until its [`CancellationToken`] (a child of the process's root, `server::shutdown`) is
//! cancelled, and stops then at once, also in the middle of a request or a backoff: the request is dropped.
use std::sync::Arc;
use std::time::Duration;

use base64::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::crypto::cosign::{split_note, CosignatureVerifier};
use crate::error::{Error, Kind, Result};
use crate::ledger::Ledger;

/// How long connecting to a witness may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a witness may take to answer once connected (sending the request and reading the whole answer).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from a witness: a few cosignature lines, or a tree size.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Attempts per submission: the first and up to three retries, after 250 ms, 500 ms and 1 s.
const ATTEMPTS: u32 = 4;
/// The first retry's wait; each further one doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// A witness the ledger submits its checkpoints to.
#[derive(Debug, Clone)]
pub struct WitnessTarget {
    /// Submission prefix, e.g. `https://witness.example/tlog`.
    pub url: String,
    /// The witness's cosignature verifier key; only cosignature lines that verify with it are kept.
    pub key: CosignatureVerifier,
    /// The HTTP client (its connection pool) for this witness.
    client: reqwest::Client,
}

impl WitnessTarget {
    /// The witness's key as its stored cosignatures name it: `name+hex8`, the key name and key ID (the start
    /// of its verifier key), so that two keys of one name, such as a rotated key, never share a row.
    pub fn id(&self) -> String {
        let vkey = self.key.verifier_key();
        vkey.get(..self.key.name.len().saturating_add(9)).unwrap_or(&vkey).to_string()
    }
    /// Parse `URL=VKEY` (`http://` or `https://`, HTTPS checked against the system's roots).
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_trusting(s, None)
    }
    /// Parse `URL=VKEY`, trusting for HTTPS also the CA certificates in `ca_pem` (PEM, one or more).
    pub fn parse_trusting(s: &str, ca_pem: Option<&[u8]>) -> Result<Self> {
        let (url, key) = s.split_once('=').ok_or_else(|| Error::invalid("witness", "expected URL=VERIFIER_KEY"))?;
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(Error::invalid("witness", format!("{url:?}: a witness URL starts with http:// or https://")));
        }
        let url = url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&url).map_err(|e| Error::invalid("witness", format!("{url:?}: {e}")))?;
        Ok(Self { client: client(ca_pem)?, url, key: CosignatureVerifier::from_verifier_key(key)? })
    }
}

/// The HTTP client of a witness: bounded connect and answer times, no redirects (a witness answers where it
/// is configured), HTTPS with the system's roots and `ca_pem`'s.
fn client(ca_pem: Option<&[u8]>) -> Result<reqwest::Client> {
    // tonic and tokio-rustls use ring; reqwest is built without a provider of its own.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(ANSWER_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("accord/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::invalid("witness_ca", format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(Error::invalid("witness_ca", "holds no PEM certificate"));
        }
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| Error::invalid("witness", format!("HTTP client: {e}")))
}

/// One failed attempt: whether trying again may help (no connection, a timeout, 429 or a 5xx answer), and
/// the answer when there was one (returned as it is once the attempts are spent).
struct Attempt {
    retry: bool,
    error: Error,
    answer: Option<(u16, String)>,
}

/// POST a body to the witness's `url` + `path`; returns (status, body) of the first answer that is not worth
/// retrying. A failure to connect or to answer in time, 429 and 5xx answers are retried up to
/// [`ATTEMPTS`] times in all, waiting [`FIRST_BACKOFF`], then twice as long each time; other answers (200,
/// 409, 4xx), and the last 429 or 5xx once the attempts are spent, are returned as they are. An answer over [`MAX_ANSWER_BYTES`] is refused. Everything runs
/// inside the returned future: dropping it drops the request.
async fn http_post(target: &WitnessTarget, path: &str, body: &str) -> Result<(u16, String)> {
    let url = format!("{}{path}", target.url);
    let mut wait = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match post_once(&target.client, &url, body).await {
            Ok(answer) => return Ok(answer),
            Err(a) if a.retry && attempt < ATTEMPTS => {
                tracing::debug!(witness = %target.url, attempt, error = %a.error, "witness attempt failed; retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
                attempt = attempt.saturating_add(1);
            }
            Err(Attempt { answer: Some(answer), .. }) => return Ok(answer),
            Err(a) => return Err(a.error),
        }
    }
}

/// One POST and its whole answer (at most [`MAX_ANSWER_BYTES`]); 429 and 5xx answers are retryable failures.
async fn post_once(client: &reqwest::Client, url: &str, body: &str) -> std::result::Result<(u16, String), Attempt> {
    let fail = |retry: bool, what: &dyn std::fmt::Display| Attempt {
        retry,
        error: Error::new(Kind::Unavailable, "witness", format!("{url}: {what}")),
        answer: None,
    };
    let mut resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "text/plain")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| fail(true, &error_chain(&e)))?;
    let status = resp.status();
    let mut answer = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(true, &error_chain(&e)))? {
        if answer.len().saturating_add(chunk.len()) > MAX_ANSWER_BYTES {
            return Err(fail(false, &format!("the answer is over {MAX_ANSWER_BYTES} bytes")));
        }
        answer.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let mut a = fail(true, &format!("HTTP {status}: {}", text.trim()));
        a.answer = Some((status.as_u16(), text));
        return Err(a);
    }
    Ok((status.as_u16(), text))
}

/// An error with its sources (reqwest's own message is only "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// At start, before serving: ask each witness for its view of this log by offering the current checkpoint
/// (`old 0`). A witness that answers 409 with a larger tree size has seen checkpoints this database does not
/// hold — the database was rolled back — and the start is refused (docs/SECURITY.md). An unreachable
/// witness is only a warning: the high-water record still guards the start.
pub async fn check_views(ledger: &Ledger, targets: &[WitnessTarget]) -> Result<()> {
    let latest = ledger.latest();
    for t in targets {
        let body = format!("old 0\n\n{}", latest.note);
        match tokio::time::timeout(Duration::from_secs(5), http_post(t, "/add-checkpoint", &body)).await {
            Ok(Ok((409, size))) => {
                if let Ok(theirs) = size.trim().parse::<u64>() {
                    if theirs > latest.size {
                        return Err(Error::precondition(
                            "data_dir",
                            format!(
                                "witness {} has cosigned a tree of size {theirs} of this log, but the database holds {}: \
                                 acknowledged entries are missing. Restore a backup holding at least {theirs} entries",
                                t.url, latest.size
                            ),
                        ));
                    }
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(witness = %t.url, error = %e, "witness unreachable at start; its view is not checked")
            }
            Err(_) => {
                tracing::warn!(witness = %t.url, "witness did not answer in 5 s at start; its view is not checked")
            }
        }
    }
    Ok(())
}

/// Submit the ledger's checkpoints to one witness until `stop` is cancelled: after each new checkpoint (and
/// every few seconds), send it with a consistency proof from the size the witness last cosigned, and keep
/// the cosignature it returns. Cancelling `stop` ends the sender at once, also in the middle of a request
/// (its connection is closed); a consistency proof being computed then finishes on the blocking pool and is
/// dropped.
pub async fn run_sender(ledger: Arc<Ledger>, target: WitnessTarget, stop: CancellationToken) {
    stop.run_until_cancelled(send_forever(ledger, target)).await;
}

/// The sender's loop; it ends only when the ledger's size watch closes.
async fn send_forever(ledger: Arc<Ledger>, target: WitnessTarget) {
    let mut sizes = ledger.size_watch();
    // The size the witness last cosigned (0: not known yet), and the size whose cosignature was last kept.
    // A cosignature of the latest checkpoint stored before a restart is not asked for again.
    let (mut known, mut last_cosigned) = (0u64, u64::MAX);
    let at_start = ledger.latest().size;
    if ledger.has_cosignature(at_start, &target.id()) {
        (known, last_cosigned) = (at_start, at_start);
    }
    crate::metrics::metrics().preinit_witness(&target.url);
    // Failed rounds in a row: the first of a streak is logged at warn (and every WARN_EVERY-th after it,
    // about once a minute), the others at debug; every one is counted.
    let mut failing = 0u32;
    let mut maps = MapRounds::default();
    loop {
        let latest = ledger.latest();
        if latest.size != last_cosigned {
            for _ in 0..3 {
                match submit(&ledger, &target, &latest, known).await {
                    Submitted::Cosigned => {
                        if failing > 0 {
                            tracing::info!(witness = %target.url, size = latest.size, failed_rounds = failing, "witness cosigning again");
                        }
                        failing = 0;
                        (known, last_cosigned) = (latest.size, latest.size);
                        break;
                    }
                    Submitted::Behind(size) => known = size,
                    Submitted::Failed { reason, detail } => {
                        crate::metrics::metrics().witness_failed(&target.url, reason);
                        if failing.is_multiple_of(WARN_EVERY) {
                            tracing::warn!(witness = %target.url, reason, size = latest.size, failed_rounds = failing.saturating_add(1), "{detail}");
                        } else {
                            tracing::debug!(witness = %target.url, reason, size = latest.size, "{detail}");
                        }
                        failing = failing.saturating_add(1);
                        break;
                    }
                }
            }
        }
        // The witness holds the log at `known`: the map checkpoint built at a prefix of it comes next.
        if last_cosigned == known {
            if let Some(size) = maps.send(&ledger, &target, known).await {
                // The witness holds another log size: its log checkpoint is sent again first.
                (known, last_cosigned) = (size, u64::MAX);
            }
        }
        tokio::select! {
            r = sizes.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// A witness failing round after round is logged at warn once per this many rounds (2 s apart).
const WARN_EVERY: u32 = 30;

/// What one submission of a checkpoint to a witness came to.
enum Submitted {
    /// The witness cosigned it; its cosignatures were kept.
    Cosigned,
    /// The witness has cosigned this smaller size: resend with a proof from there.
    Behind(u64),
    /// Refused, unreachable, or no proof could be made; try again at the next round. `reason` is one of
    /// [`crate::metrics::WITNESS_FAILURE_REASONS`], `detail` what is logged.
    Failed { reason: &'static str, detail: String },
}

/// A request body of add-checkpoint or add-map-checkpoint: `old <old>`, the consistency proof from `from`
/// to `to` (computed on a blocking thread; none from the empty tree or to the same size), an empty line,
/// and `note`.
async fn request_body(ledger: &Arc<Ledger>, old: u64, from: u64, to: u64, note: &str) -> Result<String> {
    let proof = if from == 0 || from >= to {
        Vec::new()
    } else {
        let l = ledger.clone();
        tokio::task::spawn_blocking(move || l.consistency_proof(from, to))
            .await
            .unwrap_or_else(|e| Err(Error::internal(e.to_string())))?
    };
    let mut body = format!("old {old}\n");
    for h in &proof {
        body.push_str(&BASE64_STANDARD.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    Ok(body)
}

/// Send `latest` to the witness with a consistency proof from `known`, the size it last cosigned.
async fn submit(ledger: &Arc<Ledger>, target: &WitnessTarget, latest: &crate::ledger::Latest, known: u64) -> Submitted {
    let body = match request_body(ledger, known.min(latest.size), known, latest.size, &latest.note).await {
        Ok(b) => b,
        Err(e) => return Submitted::Failed { reason: "proof", detail: format!("consistency proof: {e}") },
    };
    match http_post(target, "/add-checkpoint", &body).await {
        Ok((200, lines)) => {
            let note = latest.note.to_string();
            let (nbody, _) = split_note(&note).unwrap_or((&note, Vec::new()));
            // Kept only once stored: a failed write (logged, counted) asks again at the next round.
            let mut stored = true;
            for line in lines.lines().filter(|l| target.key.verify_line(nbody, l).is_some()) {
                stored &= ledger.add_cosignature(latest.size, &target.id(), line).await;
            }
            if stored {
                Submitted::Cosigned
            } else {
                Submitted::Failed { reason: "store", detail: "the witness's cosignature could not be stored".into() }
            }
        }
        Ok((409, size)) => match size.trim().parse::<u64>() {
            Ok(s) if s <= latest.size => Submitted::Behind(s),
            _ => Submitted::Failed {
                reason: "larger_tree",
                detail: format!("the witness has seen a larger tree than this log (size {:?})", size.trim()),
            },
        },
        Ok((code, why)) => Submitted::Failed {
            reason: "refused",
            detail: format!("the witness refused the checkpoint: HTTP {code}: {}", why.trim()),
        },
        Err(e) => Submitted::Failed { reason: "unreachable", detail: format!("witness unreachable: {e}") },
    }
}

/// The map checkpoints (docs/INDEX.md §7.1) one witness was sent: the log size of the last it cosigned, and
/// the failed rounds in a row (logged as for log checkpoints).
#[derive(Debug, Default)]
struct MapRounds {
    cosigned: Option<u64>,
    failing: u32,
}

impl MapRounds {
    /// Send the index's committed map checkpoint to the witness, which holds the log at `known`, when it
    /// was built at a prefix of that log and the witness has not cosigned it yet; its verified cosignature
    /// lines go to the index, which serves them with the note. Returns the witness's log size when it
    /// holds another one than `known`. A failure is counted (reason `map`), logged, and retried next round.
    async fn send(&mut self, ledger: &Arc<Ledger>, target: &WitnessTarget, known: u64) -> Option<u64> {
        let map = ledger.index().committed()?;
        if map.size > known || self.cosigned == Some(map.size) {
            return None;
        }
        let (reason, detail) = match submit_map(ledger, target, map.size, &map.note, known).await {
            Submitted::Cosigned => {
                if self.failing > 0 {
                    tracing::info!(witness = %target.url, size = map.size, failed_rounds = self.failing, "witness cosigning map checkpoints again");
                }
                (self.cosigned, self.failing) = (Some(map.size), 0);
                return None;
            }
            Submitted::Behind(size) if size != known => return Some(size),
            Submitted::Behind(size) => ("map", format!("the witness answered 409 with the size it holds, {size}")),
            Submitted::Failed { reason, detail } => (reason, detail),
        };
        crate::metrics::metrics().witness_failed(&target.url, reason);
        if self.failing.is_multiple_of(WARN_EVERY) {
            tracing::warn!(witness = %target.url, reason, size = map.size, failed_rounds = self.failing.saturating_add(1), "map checkpoint: {detail}");
        } else {
            tracing::debug!(witness = %target.url, reason, size = map.size, "map checkpoint: {detail}");
        }
        self.failing = self.failing.saturating_add(1);
        None
    }
}

/// Send the map checkpoint `note`, built at log size `size`, to the witness with a consistency proof from
/// `size` to `known`, the log size the witness holds, and add the cosignature lines that verify with its
/// key to the index.
async fn submit_map(ledger: &Arc<Ledger>, target: &WitnessTarget, size: u64, note: &str, known: u64) -> Submitted {
    let failed = |detail: String| Submitted::Failed { reason: "map", detail };
    let body = match request_body(ledger, known, size, known, note).await {
        Ok(b) => b,
        Err(e) => return failed(format!("consistency proof: {e}")),
    };
    match http_post(target, "/add-map-checkpoint", &body).await {
        Ok((200, lines)) => {
            let (nbody, _) = split_note(note).unwrap_or((note, Vec::new()));
            let valid: Vec<&str> = lines.lines().filter(|l| target.key.verify_line(nbody, l).is_some()).collect();
            if valid.is_empty() {
                return failed("no cosignature line the witness returned verifies with its key".into());
            }
            for line in valid {
                ledger.index().add_cosignature(size, line);
            }
            Submitted::Cosigned
        }
        Ok((409, size)) => match size.trim().parse::<u64>() {
            Ok(s) => Submitted::Behind(s),
            Err(_) => failed(format!("the witness refused the map checkpoint: HTTP 409: {}", size.trim())),
        },
        Ok((code, why)) => failed(format!("the witness refused the map checkpoint: HTTP {code}: {}", why.trim())),
        Err(e) => failed(format!("witness unreachable: {e}")),
    }
}
