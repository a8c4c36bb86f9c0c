//! `accord audit` (the whole ledger, with evidence) and `accord attest` (an auditor's signed attestation
//! over selected entries); `accord monitor` is in `monitor.rs`.
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use super::{keys, Reported, ServerArgs};
use crate::client::Client;
use crate::crypto::StrictNoteVerifier;
use crate::pb;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Audit a database file directly (a data directory or its ledger.db).
    #[arg(long, conflicts_with_all = ["server", "tiles"])]
    data_dir: Option<PathBuf>,
    /// Audit a server through its public API (StreamEntries, every stored checkpoint, proofs).
    #[arg(long, conflicts_with = "tiles")]
    server: Option<String>,
    /// Audit a log from its C2SP tlog-tiles alone (no gRPC): the ledger's HTTP port, a mirror, a web cache
    /// or a plain directory of static files. Every entry bundle, the checkpoint and every hash tile.
    #[arg(long)]
    tiles: Option<String>,
    /// The trusted log verifier key (required for --server; for --data-dir the database's own is used
    /// when not given).
    #[arg(long, env = "ACCORD_LOG_KEY")]
    log_key: Option<String>,
    /// Checkpoints obtained elsewhere (files) that must agree with the log (split-view detection).
    #[arg(long = "checkpoint")]
    checkpoints: Vec<PathBuf>,
    /// The log's high-water record (its latest signed checkpoint, kept outside the database): the audit
    /// reports entries the database lost below it. With --data-dir, DATA_DIR/high-water is read when present.
    #[arg(long = "high-water")]
    high_water: Vec<PathBuf>,
    /// Map checkpoints of the verifiable index obtained elsewhere (files, e.g. from a complete query's
    /// answer): each must be signed by the log's index key and name the map the audit recomputes from the
    /// log at its size. With --server, the server's current map checkpoint is checked too.
    #[arg(long = "map-checkpoint")]
    map_checkpoints: Vec<PathBuf>,
    /// Where to write the evidence on failure.
    #[arg(long, default_value = "audit-evidence.json")]
    evidence: PathBuf,
}

pub async fn audit(a: AuditArgs, json: bool) -> Result<()> {
    let tty = !json && std::io::stderr().is_terminal();
    let extra = extra_checkpoints(&a)?;
    let maps = a
        .map_checkpoints
        .iter()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let started = std::time::Instant::now();
    let progress = move |n: u64| {
        if tty && n.is_multiple_of(10_000) {
            eprint!("\rreplayed {n} entries");
        }
    };
    if let Some(location) = &a.tiles {
        let summary = audit_tiles(location, a.log_key.as_deref(), (extra, maps), tty, progress).await?;
        if tty {
            eprintln!();
        }
        print_summary(&a, &summary, json, started)?;
        if !summary.ok {
            return Err(Reported(1).into());
        }
        return Ok(());
    }
    let summary = match (&a.data_dir, &a.server) {
        (Some(d), _) => {
            let db = if d.is_dir() { d.join(crate::ledger::DB_FILE) } else { d.clone() };
            let key = a.log_key.as_deref().map(keys::read_log_key).transpose()?;
            let extra = extra.clone();
            tokio::task::spawn_blocking(move || {
                crate::audit::audit_database(&db, key.as_deref(), &extra, &maps, progress)
            })
            .await??
        }
        (None, Some(url)) => audit_server(url, a.log_key.as_deref(), (extra, maps), tty, progress).await?,
        (None, None) => bail!("give --data-dir, --server or --tiles"),
    };
    if tty {
        eprintln!();
    }
    print_summary(&a, &summary, json, started)?;
    if !summary.ok {
        return Err(Reported(1).into());
    }
    Ok(())
}

/// The checkpoints obtained elsewhere that must agree with the log: the --checkpoint files, then the
/// high-water records (DATA_DIR/high-water included when present).
fn extra_checkpoints(a: &AuditArgs) -> Result<Vec<String>> {
    let mut extra = a
        .checkpoints
        .iter()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let mut high_water = a.high_water.clone();
    if let Some(d) = a.data_dir.as_ref().filter(|d| d.is_dir()) {
        let own = d.join(crate::ledger::highwater::FILE);
        if own.exists() && !high_water.contains(&own) {
            high_water.push(own);
        }
    }
    for p in &high_water {
        match crate::ledger::highwater::read_note(p)? {
            Some(note) => extra.push(note),
            None => eprintln!("accord: warning: {} holds no checkpoint", p.display()),
        }
    }
    Ok(extra)
}

/// Audit a server through its public API: download every entry up to its latest checkpoint and every
/// checkpoint it stores, audit them as a database would be, then ask the server to explain the findings.
async fn audit_server(
    url: &str,
    log_key: Option<&str>,
    (extra, mut maps): (Vec<String>, Vec<String>),
    tty: bool,
    progress: impl FnMut(u64) + Send + 'static,
) -> Result<crate::audit::Summary> {
    let Some(key) = log_key.map(keys::read_log_key).transpose()? else {
        bail!("--log-key is required to audit a server (an audit trusts nothing the server says)")
    };
    let mut c = Client::connect(url, Some(&key)).await?;
    // The server's map checkpoint, taken before the log checkpoint audited (so it is within it).
    match current_map_checkpoint(&mut c).await {
        Ok(note) => maps.push(note),
        Err(e) => eprintln!("accord: warning: the server serves no map checkpoint ({e}); the index is not checked"),
    }
    let cp = c.checkpoint(None).await?;
    let mut stream = c
        .raw()
        .stream_entries(pb::StreamEntriesRequest { start_index: 0, end_index: cp.size, follow: false })
        .await
        .map_err(|s| anyhow::anyhow!("server: {}", s.message()))?
        .into_inner();
    let mut entries = Vec::new();
    while let Some(e) = stream.message().await.map_err(|s| anyhow::anyhow!("server: {}", s.message()))? {
        entries.push(crate::store::EntryRow {
            index: e.index,
            identity: crate::crypto::leaf_identity(&e.leaf).map(|h| h.to_vec()).unwrap_or_default(),
            leaf_hash: crate::merkle::leaf_hash(&e.leaf).to_vec(),
            statement_id: e.statement_id,
            kind: e.kind,
            integrated_at_ms: crate::pb::LogEntry::decode_ms(&e.leaf).unwrap_or_default(),
            leaf: e.leaf,
        });
        if tty && entries.len() % 10_000 == 0 {
            eprint!("\rdownloaded {} entries", entries.len());
        }
    }
    let log = StrictNoteVerifier::from_verifier_key(&key)?;
    // Every checkpoint the log ever signed and stores, up to the one audited, and the one it serves
    // as its latest (two different ones of the same size are a split view).
    let mut rows = match super::netaudit::list_checkpoints(url).await {
        Some(stored) => stored,
        None => {
            eprintln!("accord: warning: the server has no audit API; checking its latest checkpoint only");
            Vec::new()
        }
    };
    rows.retain(|r| r.size <= cp.size);
    if !rows.iter().any(|r| r.size == cp.size && r.root == cp.root) {
        rows.push(crate::store::CheckpointRow { size: cp.size, root: cp.root, note: cp.note.clone() });
    }
    let leaf_hashes: Vec<[u8; 32]> = entries.iter().map(|e| crate::merkle::leaf_hash(&e.leaf)).collect();
    let mut summary =
        tokio::task::spawn_blocking(move || crate::audit::audit(&log, entries, &rows, None, &extra, &maps, progress))
            .await?;
    super::netaudit::explain(&mut c, &leaf_hashes, &cp, &mut summary).await;
    Ok(summary)
}

/// The server's current map checkpoint: the one a complete list of plans is proven with (the audit checks
/// it; nothing here trusts it).
pub(super) async fn current_map_checkpoint(c: &mut Client) -> Result<String> {
    let req = pb::ListRequest { kind: "plan".into(), complete: true, ..Default::default() };
    let resp = c.coalition().list_subjects(req).await.map_err(|s| anyhow::anyhow!("server: {}", s.message()))?;
    let note = resp.into_inner().completeness.map(|c| c.map_checkpoint).unwrap_or_default();
    if note.is_empty() {
        bail!("the answer carries no map checkpoint");
    }
    Ok(note)
}

/// Audit a log from its tiles: every entry bundle up to the latest checkpoint (signed by the pinned key),
/// audited as a server's entries are; then every hash tile the source serves for that tree must be the
/// tile of the tree recomputed from the entries (a tile cache that lies to proof readers is a finding).
async fn audit_tiles(
    location: &str,
    log_key: Option<&str>,
    (extra, maps): (Vec<String>, Vec<String>),
    tty: bool,
    progress: impl FnMut(u64) + Send + 'static,
) -> Result<crate::audit::Summary> {
    let Some(key) = log_key.map(keys::read_log_key).transpose()? else {
        bail!("--log-key is required to audit tiles (an audit trusts nothing the source says)")
    };
    let log = StrictNoteVerifier::from_verifier_key(&key)?;
    let source = crate::tiles::Source::open(location)?;
    let cp = source.checkpoint(&log).await?;
    let leaves = source
        .leaves(0, cp.size, cp.size, |n| {
            if tty && n % 10_240 < 256 {
                eprint!("\rdownloaded {n} entries");
            }
        })
        .await?;
    let mut tree = crate::tiles::Verifier::default();
    tree.extend(leaves.iter().map(Vec::as_slice));
    let entries: Vec<_> =
        leaves.into_iter().enumerate().map(|(i, l)| crate::audit::entry_of_leaf(i as u64, l)).collect();
    let rows = vec![crate::store::CheckpointRow { size: cp.size, root: cp.root, note: cp.note.clone() }];
    let mut summary =
        tokio::task::spawn_blocking(move || crate::audit::audit(&log, entries, &rows, None, &extra, &maps, progress))
            .await?;
    for t in accord_tlog::tiles::tiles_between(0, cp.size) {
        if !matches!(t, accord_tlog::tiles::TilePath::Hashes { .. }) {
            continue;
        }
        let want = tree.hash_tile(&t)?;
        let (found, message) = match source.tile(t).await {
            Ok(got) if got == want => continue,
            Ok(got) => (
                hex::encode(got.get(..32).unwrap_or(&got)),
                format!("{t} is not the tile of the tree the entries give"),
            ),
            Err(e) => (String::new(), format!("{t}: {e}")),
        };
        summary.findings.push(crate::audit::Finding {
            check: "tiles".into(),
            checkpoint_size: Some(cp.size),
            expected: hex::encode(want.get(..32).unwrap_or(&want)),
            found,
            message,
            ..Default::default()
        });
        summary.ok = false;
    }
    Ok(summary)
}

/// Write the evidence file on failure and print the summary (JSON, or a line per finding).
fn print_summary(
    a: &AuditArgs,
    summary: &crate::audit::Summary,
    json: bool,
    started: std::time::Instant,
) -> Result<()> {
    if !summary.ok {
        std::fs::write(&a.evidence, serde_json::to_string_pretty(summary)?)
            .with_context(|| format!("writing {}", a.evidence.display()))?;
    }
    if json {
        let mut v = serde_json::to_value(summary)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("millis".into(), (started.elapsed().as_millis() as u64).into());
            if !summary.ok {
                o.insert("evidence_file".into(), a.evidence.display().to_string().into());
            }
        }
        println!("{v}");
    } else if summary.ok {
        println!(
            "audit passed: {} entries, {} checkpoints, {} stored hashes, {} map checkpoints; root {}, map root {} ({:.1} s)",
            summary.entries,
            summary.checkpoints_checked,
            summary.stored_hashes_checked,
            summary.map_checkpoints_checked,
            summary.root_hash,
            summary.map_root,
            started.elapsed().as_secs_f64()
        );
    } else {
        eprintln!("audit FAILED ({} finding(s)); evidence in {}:", summary.findings.len(), a.evidence.display());
        for f in &summary.findings {
            eprintln!(
                "  [{}]{}{} {}",
                f.check,
                f.index.map(|i| format!(" entry {i}")).unwrap_or_default(),
                f.checkpoint_size.map(|s| format!(" checkpoint of size {s}")).unwrap_or_default(),
                f.message
            );
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The auditor's private key file.
    #[arg(long)]
    key: PathBuf,
    /// The auditor's party id (must hold the auditor role).
    #[arg(long)]
    auditor: String,
    /// Cover every entry in a subject's history, as KIND:ID (e.g. report:R-GT-2026); repeat.
    #[arg(long = "subject")]
    subjects: Vec<String>,
    /// Cover the progress reports and transactions of this party.
    #[arg(long)]
    party: Option<String>,
    /// Only entries whose effective date is on or after this day (YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Only entries whose effective date is on or before this day.
    #[arg(long)]
    to: Option<String>,
    /// verified, verified_with_exceptions, not_verified, unable_to_verify.
    #[arg(long, default_value = "verified")]
    opinion: String,
    /// What the attestation covers, in words (default: the selection).
    #[arg(long)]
    scope: Option<String>,
    #[arg(long)]
    attestation_id: Option<String>,
    /// Only list what would be covered; sign nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write the signed envelope here instead of submitting it.
    #[arg(short, long)]
    out: Option<PathBuf>,
}

pub async fn attest(a: AttestArgs, json: bool) -> Result<()> {
    let mut c = super::connect(&a.server).await?;
    let info =
        c.raw().get_log_info(pb::GetLogInfoRequest {}).await.map_err(|s| anyhow::anyhow!("server: {}", s.message()))?;
    let origin = info.into_inner().origin;
    let indexes = select_entries(&mut c, &a).await?;
    let (covered, rows) = entries_in_period(&mut c, &a, indexes).await?;
    if covered.is_empty() {
        bail!("no selected entry falls in the period");
    }
    if !json {
        println!("covers {} entries:", rows.len());
        for r in &rows {
            println!(
                "  entry {:>6}  {:<22} {:<14} {}",
                r["index"],
                r["kind"].as_str().unwrap_or(""),
                r["effective_date"].as_str().unwrap_or(""),
                r["statement_id"].as_str().unwrap_or("")
            );
        }
    }
    if a.dry_run {
        if json {
            println!("{}", json!({"ok": true, "covers": rows}));
        }
        return Ok(());
    }
    let (_, key) = keys::read_private(&a.key)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let id = a.attestation_id.clone().unwrap_or_else(|| format!("att-{}-{}", a.auditor, now.as_secs()));
    let scope = a.scope.clone().unwrap_or_else(|| {
        let mut parts: Vec<String> = a.subjects.clone();
        parts.extend(a.party.iter().map(|p| format!("party {p}")));
        format!("{} entries: {}", rows.len(), parts.join(", "))
    });
    let st = pb::Statement {
        ledger: origin,
        statement_id: id.clone(),
        issued_at: Some(prost_types::Timestamp { seconds: now.as_secs() as i64, nanos: 0 }),
        effective_date: super::today(),
        body: Some(pb::statement::Body::AttestationIssued(pb::AttestationIssued {
            attestation_id: id.clone(),
            auditor_id: a.auditor.clone(),
            scope,
            covered_entries: covered,
            opinion: a.opinion.clone(),
            adjustments: vec![],
        })),
    };
    crate::proto::check_statement(&st, &st.ledger).map_err(|e| anyhow::anyhow!("attestation: {e}"))?;
    let env = crate::crypto::seal(&st, &[&key]);
    if let Some(p) = &a.out {
        std::fs::write(p, crate::json::envelope_to_json(&env))?;
        if json {
            println!("{}", json!({"ok": true, "attestation_id": id, "envelope": p, "covers": rows}));
        }
        return Ok(());
    }
    let r = c.submit(env).await?;
    if json {
        println!(
            "{}",
            json!({"ok": true, "attestation_id": id, "index": r.receipt.index, "tree_size": r.receipt.tree_size, "covers": rows})
        );
    } else {
        println!(
            "attestation {id} is entry {} (inclusion verified in the tree of size {})",
            r.receipt.index, r.receipt.tree_size
        );
    }
    Ok(())
}

/// The entries an attestation selects: the history of each --subject, and the reports, transactions and
/// deliveries of --party.
async fn select_entries(c: &mut Client, a: &AttestArgs) -> Result<std::collections::BTreeSet<u64>> {
    let mut indexes = std::collections::BTreeSet::new();
    for s in &a.subjects {
        let (kind, id) = s.split_once(':').with_context(|| format!("--subject {s:?}: expected KIND:ID"))?;
        let h = c.subject(kind, id, true).await?;
        indexes.extend(h.history.iter().map(|e| e.index));
    }
    if let Some(p) = &a.party {
        for kind in ["report", "transaction", "delivery"] {
            let mut page_token = String::new();
            loop {
                let req = pb::ListRequest { party_id: p.clone(), page_size: 1000, page_token, ..Default::default() };
                let resp = c.list(kind, req).await?;
                indexes.extend(resp.items.iter().map(|i| i.index));
                if resp.next_page_token.is_empty() {
                    break;
                }
                page_token = resp.next_page_token;
            }
        }
    }
    if indexes.is_empty() {
        bail!("nothing selected: give --subject KIND:ID or --party P");
    }
    Ok(indexes)
}

/// Of the selected entries, those whose effective date falls in --from..--to: their leaf identities (what
/// the attestation covers) and a row describing each, both computed from the leaf alone.
async fn entries_in_period(
    c: &mut Client,
    a: &AttestArgs,
    indexes: std::collections::BTreeSet<u64>,
) -> Result<(Vec<Vec<u8>>, Vec<serde_json::Value>)> {
    let mut covered = Vec::new();
    let mut rows = Vec::new();
    for i in indexes {
        let (e, _) = c.entry(pb::get_entry_request::Key::Index(i)).await?;
        // Only the leaf bytes are proven (inclusion at a signed checkpoint); the identity signed over and
        // everything listed are computed from them, never taken from the server's other fields.
        let st = crate::query::statement_of_leaf(&e.leaf)?;
        let identity = crate::crypto::leaf_identity(&e.leaf)
            .with_context(|| format!("entry {i}: the leaf is not an accord.v1.LogEntry"))?
            .to_vec();
        let kind = st.body.as_ref().map(crate::proto::kind_name).unwrap_or("?");
        let day = st.effective_date.clone();
        if a.from.as_ref().is_some_and(|f| &day < f) || a.to.as_ref().is_some_and(|t| &day > t) {
            continue;
        }
        rows.push(json!({"index": e.index, "kind": kind, "statement_id": st.statement_id, "effective_date": day, "identity": hex::encode(&identity)}));
        covered.push(identity);
    }
    Ok((covered, rows))
}
