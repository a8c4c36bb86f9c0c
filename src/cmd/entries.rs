//! Reading and checking the log: `accord get`, `checkpoint`, `verify` (offline), `consistency` and `info`.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use super::*;

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(super) struct EntryKey {
    #[arg(long)]
    index: Option<u64>,
    /// Hex identity (SHA-256 of the canonical envelope).
    #[arg(long)]
    identity: Option<String>,
    #[arg(long)]
    statement_id: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct GetArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    key: EntryKey,
    /// Also write the entry's tlog-proof bundle here.
    #[arg(long)]
    proof_out: Option<PathBuf>,
    /// A C2SP tlog-policy file: prove the entry only in a checkpoint its quorum of witnesses cosigned (the
    /// log key is taken from the policy when --log-key is not given).
    #[arg(long)]
    policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct CheckpointArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// A stored checkpoint of this size instead of the latest.
    #[arg(long)]
    size: Option<u64>,
    /// Write the checkpoint note to this file.
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// A C2SP tlog-policy file: accept the checkpoint only when its quorum of witnesses cosigned it (the
    /// log key is taken from the policy when --log-key is not given).
    #[arg(long)]
    policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// Trusted log verifier key (name+hex8+base64) or a file holding it (or give --policy).
    #[arg(long, env = "ACCORD_LOG_KEY")]
    log_key: Option<String>,
    /// A C2SP tlog-policy file (log key, witness keys, quorum): the bundle's checkpoint must satisfy it.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The .tlog-proof bundle (its extra line carries the leaf unless --leaf is given).
    #[arg(required_unless_present = "index")]
    bundle: Option<PathBuf>,
    /// Read the log from its C2SP tlog-tiles (the ledger's HTTP port, a mirror, a cache or a directory):
    /// with a bundle, also check that the log as served today extends the bundle's checkpoint; with
    /// --index, fetch that entry and prove it from the tiles alone.
    #[arg(long)]
    tiles: Option<String>,
    /// The entry to fetch from --tiles and verify (instead of a bundle file).
    #[arg(long, requires = "tiles", conflicts_with = "bundle")]
    index: Option<u64>,
    /// Write the verified entry's .tlog-proof bundle here (with --index).
    #[arg(long, short = 'o', requires = "index")]
    output: Option<PathBuf>,
    /// Leaf bytes (accord.v1.LogEntry) when the bundle has no extra line.
    #[arg(long)]
    leaf: Option<PathBuf>,
    /// Public key (.pub file, verifier key or 64 hex) of a signer; repeat for co-signers. Keys that the
    /// statement itself introduces (charter founders, admitted party, rotated key) need not be given.
    #[arg(long = "signer")]
    signers: Vec<String>,
}

#[derive(Debug, Args)]
pub(super) struct ConsistencyArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The older checkpoint note file.
    old: PathBuf,
    /// The newer checkpoint note file (default: the server's latest).
    new: Option<PathBuf>,
}

pub(super) async fn get(a: GetArgs, json: bool) -> Result<()> {
    use pb::get_entry_request::Key;
    let key = match (&a.key.index, &a.key.identity, &a.key.statement_id) {
        (Some(i), _, _) => Key::Index(*i),
        (_, Some(h), _) => Key::Identity(hex::decode(h).context("--identity: not hex")?),
        (_, _, Some(s)) => Key::StatementId(s.clone()),
        _ => bail!("give one of --index, --identity, --statement-id"),
    };
    let mut c = connect_with_policy(&a.server, a.policy.as_deref()).await?;
    let (entry, cp) = c.entry(key).await?;
    let le: pb::LogEntry = prost::Message::decode(entry.leaf.as_slice()).context("leaf is not a LogEntry")?;
    let env = le.envelope.clone().unwrap_or_default();
    let st: pb::Statement = prost::Message::decode(env.payload.as_slice()).context("payload is not a Statement")?;
    if let Some(p) = &a.proof_out {
        let proof = c
            .raw()
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                leaf: Some(pb::get_inclusion_proof_request::Leaf::Index(entry.index)),
                tree_size: cp.size,
            })
            .await?
            .into_inner();
        let bundle = ProofBundle {
            extra: Some(entry.leaf.clone()),
            index: entry.index,
            proof: proof.proof.iter().filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok()).collect(),
            checkpoint: cp.note.clone(),
        };
        std::fs::write(p, bundle.to_text())?;
    }
    let st_json: serde_json::Value = serde_json::from_str(&sj::statement_to_json(&st)?)?;
    let out = json!({
        "index": entry.index,
        "kind": entry.kind,
        "statement_id": entry.statement_id,
        "identity": hex::encode(&entry.identity),
        "leaf_hash": hex::encode(&entry.leaf_hash),
        "integrated_at_ms": entry.integrated_at_ms,
        "signers": env.signatures.iter().map(|s| s.keyid.clone()).collect::<Vec<_>>(),
        "statement": st_json,
        "verified_in_tree_size": cp.size,
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("entry {} ({}) statement_id {}", entry.index, entry.kind, entry.statement_id);
        println!("identity {}", hex::encode(&entry.identity));
        println!("inclusion verified in the checkpoint of size {}", cp.size);
        println!("{}", serde_json::to_string_pretty(out.get("statement").unwrap_or(&serde_json::Value::Null))?);
    }
    Ok(())
}

/// A client of `server` that, with a C2SP tlog-policy file, counts checkpoints and map checkpoints only
/// when its quorum of witnesses cosigned them ([`crate::client::Client::with_policy`]); the log key is
/// the policy's first log's when `--log-key` is not given.
pub(super) async fn connect_with_policy(server: &ServerArgs, policy: Option<&Path>) -> Result<crate::client::Client> {
    let policy = policy.map(read_policy).transpose()?;
    let mut server = server.clone();
    if server.log_key.is_none() {
        server.log_key = policy.as_ref().and_then(|p| p.logs.first()).map(|l| l.verifier_key());
    }
    let c = connect(&server).await?;
    Ok(match policy {
        Some(p) => c.with_policy(p),
        None => c,
    })
}

pub(super) fn read_policy(p: &Path) -> Result<crate::crypto::cosign::Policy> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    crate::crypto::cosign::Policy::parse(&text).with_context(|| format!("{}", p.display()))
}

pub(super) async fn checkpoint(a: CheckpointArgs, json: bool) -> Result<()> {
    let policy = a.policy.as_deref().map(read_policy).transpose()?;
    let mut server = a.server.clone();
    if server.log_key.is_none() {
        server.log_key = policy.as_ref().and_then(|p| p.logs.first()).map(|l| l.verifier_key());
    }
    let mut c = connect(&server).await?;
    let cp = c.checkpoint(a.size).await?;
    let cosigned_by = match &policy {
        Some(p) => Some(p.check(&cp.note)?.cosigned_by),
        None => None,
    };
    if let Some(p) = &a.out {
        std::fs::write(p, &cp.note)?;
    }
    if json {
        println!(
            "{}",
            json!({"origin": cp.origin, "tree_size": cp.size, "root_hash": hex::encode(cp.root), "checkpoint": cp.note, "verified": true, "cosigned_by": cosigned_by})
        );
    } else {
        print!("{}", cp.note);
    }
    Ok(())
}

/// The bundle of entry `index` built from tiles alone: the entry from its bundle, the inclusion proof from
/// hash tiles checked against the latest checkpoint signed by `log`.
async fn bundle_from_tiles(
    source: &crate::tiles::Source,
    log: &crypto::StrictNoteVerifier,
    index: u64,
) -> Result<ProofBundle> {
    let cp = source.checkpoint(log).await?;
    if index >= cp.size {
        return Err(Error::not_found(
            "index",
            format!("the log served at {} has {} entries", source.location(), cp.size),
        )
        .into());
    }
    let leaf = source.leaves(index, index.saturating_add(1), cp.size, |_| {}).await?.pop().context("no entry")?;
    let lh = crate::merkle::leaf_hash(&leaf);
    let mut cache = accord_tlog::tiles::TileCache::default();
    let proof = source.prove(&mut cache, |c| c.inclusion_proof(cp.size, &cp.root, index, &lh)).await?;
    Ok(ProofBundle { extra: Some(leaf), index, proof, checkpoint: cp.note })
}

/// The log as served by `source` today must extend the bundle's checkpoint (else it forked since).
async fn check_still_logged(
    source: &crate::tiles::Source,
    log: &crypto::StrictNoteVerifier,
    bundle: &ProofBundle,
) -> Result<u64> {
    let then = crypto::open_checkpoint(bundle.checkpoint.as_bytes(), log)?;
    let now = source.checkpoint(log).await?;
    if now.size < then.size {
        bail!(
            "{} serves a tree of {} entries, older than the bundle's {}; try the log itself",
            source.location(),
            now.size,
            then.size
        );
    }
    let mut cache = accord_tlog::tiles::TileCache::default();
    match source.prove(&mut cache, |c| c.extends(now.size, &now.root, then.size, &then.root)).await? {
        accord_tlog::tiles::Extends::Yes(_) => Ok(now.size),
        accord_tlog::tiles::Extends::Forked { root_in_tiles } => Err(Error::denied(
            "checkpoint",
            format!(
                "FORK: the log served at {} (size {}) does not extend the bundle's checkpoint: its first {} entries have root {}, the bundle's checkpoint says {}",
                source.location(), now.size, then.size, hex::encode(root_in_tiles), hex::encode(then.root)
            ),
        )
        .into()),
    }
}

pub(super) async fn verify(a: VerifyArgs, json: bool) -> Result<()> {
    let policy = a.policy.as_deref().map(read_policy).transpose()?;
    let log_key = match (&a.log_key, &policy) {
        (Some(k), _) => keys::read_log_key(k)?,
        (None, Some(p)) => p.logs.first().map(|l| l.verifier_key()).context("the policy names no log")?,
        (None, None) => bail!("give --log-key or --policy"),
    };
    let verifier = crypto::StrictNoteVerifier::from_verifier_key(&log_key)?;
    let source = a.tiles.as_deref().map(crate::tiles::Source::open).transpose()?;
    let (bundle, label) = match (&a.bundle, a.index, &source) {
        (Some(path), _, _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            (ProofBundle::parse(&text)?, path.display().to_string())
        }
        (None, Some(index), Some(s)) => {
            (bundle_from_tiles(s, &verifier, index).await?, format!("tiles at {}", s.location()))
        }
        _ => bail!("give a bundle file, or --tiles with --index"),
    };
    if let Some(p) = &policy {
        p.check(&bundle.checkpoint)?;
    }
    let leaf = match (&a.leaf, &bundle.extra) {
        (Some(p), _) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        (None, Some(extra)) => extra.clone(),
        (None, None) => bail!("the bundle has no extra line with the leaf; pass --leaf"),
    };
    let signers = a.signers.iter().map(|s| keys::read_public(s).map(|k| k.1)).collect::<Result<Vec<_>>>()?;
    let v = client::verify_offline(&leaf, &bundle, &verifier, &signers)?;
    let still = match (&source, &a.bundle) {
        (Some(s), Some(_)) => Some(check_still_logged(s, &verifier, &bundle).await?),
        _ => None,
    };
    if let Some(out) = &a.output {
        std::fs::write(out, bundle.to_text()).with_context(|| format!("writing {}", out.display()))?;
    }
    let kind = v.statement.body.as_ref().map(crate::proto::kind_name).unwrap_or("?");
    if json {
        println!(
            "{}",
            json!({"ok": true, "index": v.index, "tree_size": v.checkpoint.size, "root_hash": hex::encode(v.checkpoint.root),
                   "origin": v.checkpoint.origin, "kind": kind, "statement_id": v.statement.statement_id,
                   "integrated_at_ms": v.entry.integrated_at_ms, "signers": v.verified_signers,
                   "still_in_tree_of_size": still})
        );
    } else {
        println!(
            "OK: {} entry {} ({kind}, statement_id {}) is in {}'s tree of size {}",
            label, v.index, v.statement.statement_id, v.checkpoint.origin, v.checkpoint.size
        );
        println!(
            "    checkpoint signed by the trusted log key; {} signature(s) verified (verify_strict)",
            v.verified_signers.len()
        );
        if let Some(size) = still {
            println!("    the log as served today (size {size}) extends that checkpoint (verified from its tiles)");
        }
    }
    Ok(())
}

pub(super) async fn consistency(a: ConsistencyArgs, json: bool) -> Result<()> {
    let mut c = connect(&a.server).await?;
    let read_cp = |p: &Path| -> Result<crypto::VerifiedCheckpoint> {
        let text = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        crypto::open_checkpoint(&text, c.log_key()).with_context(|| format!("{}", p.display()))
    };
    let old = read_cp(&a.old)?;
    let new = match &a.new {
        Some(p) => read_cp(p)?,
        None => c.checkpoint(None).await?,
    };
    let (old, new) = if old.size <= new.size { (old, new) } else { (new, old) };
    let proof = c.check_consistency(&old, &new).await?;
    if json {
        println!("{}", json!({"ok": true, "from_size": old.size, "to_size": new.size, "proof_hashes": proof.len()}));
    } else {
        println!(
            "OK: the tree of size {} extends the tree of size {} ({} proof hashes verified)",
            new.size,
            old.size,
            proof.len()
        );
    }
    Ok(())
}

pub(super) async fn info(a: ServerArgs, json: bool) -> Result<()> {
    let mut c = connect(&a).await?;
    let info = c.raw().get_log_info(pb::GetLogInfoRequest {}).await?.into_inner();
    if let Some(k) = &a.log_key {
        if keys::read_log_key(k)? != info.verifier_key {
            return Err(
                Error::denied("verifier_key", "the server presents a different log key than the trusted one").into()
            );
        }
    }
    if json {
        println!(
            "{}",
            json!({"origin": info.origin, "verifier_key": info.verifier_key, "tree_size": info.tree_size,
                   "root_hash": hex::encode(&info.root_hash), "server_version": info.server_version, "schema_version": info.schema_version})
        );
    } else {
        println!("origin        {}", info.origin);
        println!("verifier key  {}", info.verifier_key);
        println!("tree size     {}", info.tree_size);
        println!("root hash     {}", hex::encode(&info.root_hash));
        println!("version       {} (schema {})", info.server_version, info.schema_version);
    }
    Ok(())
}
