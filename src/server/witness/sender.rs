//! The ledger's side of the witness protocol: submit each new checkpoint, with a consistency proof from the
//! size the witness last cosigned, to every configured witness over plain HTTP/1.1, keep the cosignatures
//! they return, and at start ask each for its view of the log (a rolled-back database is refused).
use std::sync::Arc;
use std::time::Duration;

use base64::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::crypto::cosign::{split_note, CosignatureVerifier};
use crate::error::{Error, Result};
use crate::ledger::Ledger;

/// A witness the ledger submits its checkpoints to.
#[derive(Debug, Clone)]
pub struct WitnessTarget {
    /// Submission prefix, e.g. `http://witness.example:8081`.
    pub url: String,
    /// The witness's cosignature verifier key; only cosignature lines that verify with it are kept.
    pub key: CosignatureVerifier,
}

impl WitnessTarget {
    /// Parse `URL=VKEY`.
    pub fn parse(s: &str) -> Result<Self> {
        let (url, key) = s.split_once('=').ok_or_else(|| Error::invalid("witness", "expected URL=VERIFIER_KEY"))?;
        if !url.starts_with("http://") {
            return Err(Error::invalid(
                "witness",
                format!("{url:?}: witnesses are reached over http:// (loopback or a private network)"),
            ));
        }
        Ok(Self { url: url.trim_end_matches('/').to_string(), key: CosignatureVerifier::from_verifier_key(key)? })
    }
}

/// POST a body to `url` (plain HTTP/1.1); returns (status, body).
async fn http_post(url: &str, path: &str, body: &str) -> Result<(u16, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| Error::invalid("witness", "http:// URLs only"))?;
    let (host, prefix) = rest.split_once('/').map_or((rest, String::new()), |(h, p)| (h, format!("/{p}")));
    let io = |e: std::io::Error| Error::new(crate::error::Kind::Unavailable, "witness", format!("{url}: {e}"));
    let mut s = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(host))
        .await
        .map_err(|_| Error::new(crate::error::Kind::Unavailable, "witness", format!("{url}: connect timed out")))?
        .map_err(io)?;
    let req = format!(
        "POST {prefix}{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.map_err(io)?;
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut resp))
        .await
        .map_err(|_| Error::new(crate::error::Kind::Unavailable, "witness", format!("{url}: no answer")))?
        .map_err(io)?;
    let text = String::from_utf8_lossy(&resp);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, body.to_string()))
}

/// At start, before serving: ask each witness for its view of this log by offering the current checkpoint
/// (`old 0`). A witness that answers 409 with a larger tree size has seen checkpoints this database does not
/// hold — the database was rolled back — and the start is refused (docs/SECURITY.md). An unreachable
/// witness is only a warning: the high-water record still guards the start.
pub async fn check_views(ledger: &Ledger, targets: &[WitnessTarget]) -> Result<()> {
    let latest = ledger.latest();
    for t in targets {
        let body = format!("old 0\n\n{}", latest.note);
        match tokio::time::timeout(Duration::from_secs(5), http_post(&t.url, "/add-checkpoint", &body)).await {
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

/// Submit the ledger's checkpoints to one witness, forever: after each new checkpoint (and every few
/// seconds), send it with a consistency proof from the size the witness last cosigned, and keep the
/// cosignature it returns.
pub async fn run_sender(ledger: Arc<Ledger>, target: WitnessTarget) {
    let mut known: u64 = 0;
    let mut sizes = ledger.size_watch();
    let mut last_cosigned = u64::MAX;
    loop {
        let latest = ledger.latest();
        if latest.size != last_cosigned {
            for _ in 0..3 {
                let proof = if known == 0 || known >= latest.size {
                    Ok(Vec::new())
                } else {
                    let (l, old, new) = (ledger.clone(), known, latest.size);
                    tokio::task::spawn_blocking(move || l.consistency_proof(old, new))
                        .await
                        .unwrap_or_else(|e| Err(Error::internal(e.to_string())))
                };
                let proof = match proof {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(witness = %target.url, error = %e, "consistency proof");
                        break;
                    }
                };
                let mut body = format!("old {}\n", known.min(latest.size));
                for h in &proof {
                    body.push_str(&BASE64_STANDARD.encode(h));
                    body.push('\n');
                }
                body.push('\n');
                body.push_str(&latest.note);
                match http_post(&target.url, "/add-checkpoint", &body).await {
                    Ok((200, lines)) => {
                        let note = latest.note.to_string();
                        let (nbody, _) = split_note(&note).unwrap_or((&note, Vec::new()));
                        for line in lines.lines().filter(|l| target.key.verify_line(nbody, l).is_some()) {
                            ledger.add_cosignature(latest.size, &target.key.name, line);
                        }
                        known = latest.size;
                        last_cosigned = latest.size;
                        break;
                    }
                    Ok((409, size)) => match size.trim().parse::<u64>() {
                        Ok(s) if s <= latest.size => known = s,
                        _ => {
                            tracing::warn!(witness = %target.url, their_size = %size.trim(), "the witness has seen a larger tree than this log");
                            break;
                        }
                    },
                    Ok((code, why)) => {
                        tracing::warn!(witness = %target.url, code, why = %why.trim(), "the witness refused the checkpoint");
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(witness = %target.url, error = %e, "witness unreachable");
                        break;
                    }
                }
            }
        }
        tokio::select! {
            r = sizes.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
