//! Authoring: `accord statement check` (the shape rules locally; with `--server` a dry run of every rule
//! against the ledger's state, nothing written) and `accord envelope show` (the statement, who has signed,
//! who still must). Who signs what is `crate::signing` (docs/SIGNING.md).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use prost::Message;
use serde_json::json;

use super::{connect, print_stdout, Reported, ServerArgs};
use crate::error::Error;
use crate::json as sj;
use crate::pb;
use crate::signing;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Statement JSON (a filled-in template, `//` comments allowed) or a DSSE envelope JSON.
    file: PathBuf,
    #[command(flatten)]
    remote: Remote,
}

/// An optional server: without it everything is checked locally.
#[derive(Debug, Args)]
struct Remote {
    /// gRPC endpoint of the ledger: also run every rule against its current state (a dry run of Submit,
    /// nothing written) and name the parties behind the keys.
    #[arg(long)]
    server: Option<String>,
    /// Trusted log verifier key (name+hex8+base64) or a file holding it (with --server).
    #[arg(long, env = "ACCORD_LOG_KEY")]
    log_key: Option<String>,
    /// Ledger origin the statement must be bound to (default: the one it names).
    #[arg(long)]
    ledger: Option<String>,
}

/// `accord envelope …`.
#[derive(Debug, Subcommand)]
pub enum EnvelopeCommand {
    /// The statement of an envelope, who has signed it (keyid, and party when the server knows the key)
    /// and who still must sign, k-of-n included.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// DSSE envelope JSON.
    file: PathBuf,
    #[command(flatten)]
    remote: Remote,
}

/// A statement, with the envelope it came in when it came signed.
struct Input {
    statement: pb::Statement,
    envelope: Option<pb::Envelope>,
}

fn load(p: &Path) -> Result<Input> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&sj::strip_comments(&text)).with_context(|| format!("{} is not JSON", p.display()))?;
    if value.get("payloadType").is_some() {
        let env = sj::envelope_from_json(&text).with_context(|| format!("{}", p.display()))?;
        let statement = pb::Statement::decode(env.payload.as_slice())
            .map_err(|e| Error::invalid("envelope.payload", format!("is not an accord.v1.Statement: {e}")))?;
        Ok(Input { statement, envelope: Some(env) })
    } else {
        let statement = sj::statement_from_json(&text).with_context(|| format!("{}", p.display()))?;
        Ok(Input { statement, envelope: None })
    }
}

/// An error's field path as the user wrote it in the statement file: the protobuf JSON mapping's names
/// ([`crate::error::Error::in_json_names`]), without the leading `statement.` (the file is the statement):
/// `statement.pledgeAnnounced.goals[0].goalId` → `pledgeAnnounced.goals[0].goalId`.
fn json_path(field: &str) -> String {
    let field = crate::error::FieldPath::parse(field).json().to_string();
    field.strip_prefix("statement.").map(str::to_string).unwrap_or(field)
}

/// The verdict of a check, local or from the server.
struct Verdict {
    where_: &'static str,
    resp: pb::CheckResponse,
}

/// The shape rules, locally: what the server checks before it looks at the ledger's state (sizes,
/// canonical encoding, every field rule, signatures by keys the statement introduces).
fn local(input: &Input, origin: &str) -> Verdict {
    let limits = crate::ledger::Limits::default();
    let prepared = match &input.envelope {
        Some(env) => crate::ledger::prepare_with(env, origin, &limits, |_| None),
        None => crate::ledger::prepare_unsigned(&input.statement, origin, &limits),
    };
    let kind = input.statement.body.as_ref().map(crate::proto::kind_name).unwrap_or_default();
    let rule = signing::rule(kind);
    let mut resp = pb::CheckResponse {
        ok: true,
        kind: kind.to_string(),
        must_sign: rule.map(|r| r.must_sign.to_string()).unwrap_or_default(),
        countersigns: rule.map(|r| r.countersigns.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    if let Err(e) = prepared.map_err(crate::error::Error::in_json_names) {
        resp.ok = false;
        resp.code = e.code_name().into();
        resp.field = e.field.to_string();
        resp.message = e.to_string();
    }
    Verdict { where_: "local", resp }
}

async fn remote(r: &Remote, input: &Input) -> Result<Option<(Verdict, BTreeMap<String, String>)>> {
    let Some(server) = &r.server else { return Ok(None) };
    let mut c = connect(&ServerArgs { server: server.clone(), log_key: r.log_key.clone() }).await?;
    let req = pb::CheckRequest {
        envelope: input.envelope.clone(),
        statement: if input.envelope.is_none() { Some(input.statement.clone()) } else { None },
    };
    let resp =
        c.raw().check(req).await.map_err(|s| anyhow::anyhow!("server: {} ({:?})", s.message(), s.code()))?.into_inner();
    // keyid → party, for naming the signatures.
    let parties = c.key_parties().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some((Verdict { where_: "server", resp }, parties)))
}

/// The signatures a statement names, each signed or not; `None` when that cannot be told here (a party
/// whose keys only the server knows, a need that depends on the ledger's state).
fn local_needs(input: &Input, keyids: &[String], parties: &[String], resolved: bool) -> Vec<(String, Option<bool>)> {
    signing::needs(&input.statement, None)
        .into_iter()
        .map(|n| {
            let met = signing::met(&n, keyids, parties);
            let unknowable = !resolved && n.keyids.is_empty() && !keyids.is_empty() && met == Some(false);
            (n.label.clone(), if unknowable { None } else { met })
        })
        .collect()
}

fn verdict_json(v: &Verdict) -> serde_json::Value {
    let r = &v.resp;
    json!({
        "ok": r.ok,
        "checked": v.where_,
        "kind": r.kind,
        "error": if r.ok {
            serde_json::Value::Null
        } else {
            json!({"code": r.code, "field": r.field, "field_json": json_path(&r.field), "message": r.message})
        },
        "must_sign": r.must_sign,
        "countersigns": r.countersigns,
        "signed_by": r.signed_by,
        "missing": r.missing,
        "duplicate": r.duplicate,
    })
}

/// Add a member to a JSON object.
fn set(v: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_string(), value);
    }
}

fn print_verdict(out: &mut String, v: &Verdict) {
    let r = &v.resp;
    let what = if v.where_ == "server" {
        "every rule against the ledger's current state (dry run, nothing written)"
    } else {
        "the shape rules (local; add --server URL for the rules against the ledger's state)"
    };
    if r.ok {
        out.push_str(&format!(
            "OK: {} passes {what}{}\n",
            r.kind,
            if r.duplicate { "; already in the log" } else { "" }
        ));
    } else {
        out.push_str(&format!("REFUSED ({}): {} — {what}\n", r.code, r.message));
        if !r.field.is_empty() {
            out.push_str(&format!("in the JSON: {}\n", json_path(&r.field)));
        }
    }
    if !r.must_sign.is_empty() {
        out.push_str(&format!("must sign:    {}\n", r.must_sign));
    }
    if !r.countersigns.is_empty() && r.countersigns != "—" {
        out.push_str(&format!("countersigns: {}\n", r.countersigns));
    }
    if !r.signed_by.is_empty() {
        out.push_str(&format!("signed by:    {}\n", r.signed_by.join(", ")));
    }
    for m in &r.missing {
        out.push_str(&format!("still needs:  {m}\n"));
    }
}

fn needs_lines(out: &mut String, needs: &[(String, Option<bool>)]) {
    for (label, met) in needs {
        let state = match met {
            Some(true) => "signed",
            Some(false) => "NOT SIGNED",
            None => "unknown here (--server tells)",
        };
        out.push_str(&format!("  - {label}: {state}\n"));
    }
}

/// `accord statement check FILE [--server URL]`: exit 0 when it passes, 1 when refused.
pub async fn check(a: CheckArgs, json: bool) -> Result<()> {
    let input = load(&a.file)?;
    let origin = a.remote.ledger.clone().unwrap_or_else(|| input.statement.ledger.clone());
    let mut verdict = local(&input, &origin);
    let mut named = BTreeMap::new();
    if verdict.resp.ok {
        if let Some((v, parties)) = remote(&a.remote, &input).await? {
            verdict = v;
            named = parties;
        }
    }
    let keyids: Vec<String> =
        input.envelope.iter().flat_map(|e| e.signatures.iter().map(|s| s.keyid.clone())).collect();
    let parties: Vec<String> = keyids.iter().filter_map(|k| named.get(k).cloned()).collect();
    let needs = local_needs(&input, &keyids, &parties, !named.is_empty());
    if json {
        let mut v = verdict_json(&verdict);
        set(&mut v, "needs", needs.iter().map(|(l, m)| json!({"label": l, "signed": m})).collect());
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
    } else {
        let mut out = String::new();
        print_verdict(&mut out, &verdict);
        if !needs.is_empty() {
            out.push_str("signatures this statement names:\n");
            needs_lines(&mut out, &needs);
        }
        print_stdout(&out)?;
    }
    if verdict.resp.ok {
        Ok(())
    } else {
        Err(Reported(1).into())
    }
}

/// `accord envelope show FILE [--server URL]`.
pub async fn envelope(c: EnvelopeCommand, json: bool) -> Result<()> {
    let EnvelopeCommand::Show(a) = c;
    let input = load(&a.file)?;
    let Some(env) = &input.envelope else {
        anyhow::bail!("{} is a statement, not an envelope (sign it with `accord sign`)", a.file.display())
    };
    let origin = a.remote.ledger.clone().unwrap_or_else(|| input.statement.ledger.clone());
    let mut verdict = local(&input, &origin);
    let mut named = BTreeMap::new();
    if let Some((v, parties)) = remote(&a.remote, &input).await? {
        verdict = v;
        named = parties;
    }
    let keyids: Vec<String> = env.signatures.iter().map(|s| s.keyid.clone()).collect();
    // Keys the statement itself introduces (founders, a new party) are named from it.
    let introduced: BTreeMap<String, String> = signing::needs(&input.statement, None)
        .into_iter()
        .flat_map(|n| {
            let p = n.parties.first().cloned().unwrap_or_default();
            n.keyids.into_iter().map(move |k| (k, p.clone()))
        })
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let signer = |k: &String| named.get(k).or_else(|| introduced.get(k)).cloned();
    let parties: Vec<String> = keyids.iter().filter_map(signer).collect();
    let needs = local_needs(&input, &keyids, &parties, !named.is_empty());
    let statement = sj::statement_to_json(&input.statement)?;
    if json {
        let st: serde_json::Value = serde_json::from_str(&statement)?;
        let sigs: Vec<_> = keyids.iter().map(|k| json!({"keyid": k, "party": signer(k)})).collect();
        let mut v = verdict_json(&verdict);
        set(&mut v, "statement", st);
        set(&mut v, "signatures", sigs.into());
        set(&mut v, "needs", needs.iter().map(|(l, m)| json!({"label": l, "signed": m})).collect());
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
        return Ok(());
    }
    let mut out = format!("statement ({}):\n{statement}\n", verdict.resp.kind);
    out.push_str(&format!("signatures ({}):\n", keyids.len()));
    for k in &keyids {
        match signer(k) {
            Some(p) => out.push_str(&format!("  - {k} ({p})\n")),
            None => out.push_str(&format!(
                "  - {k} (party unknown{})\n",
                if a.remote.server.is_some() { "" } else { "; --server names it" }
            )),
        }
    }
    if !needs.is_empty() {
        out.push_str("signatures this statement names:\n");
        needs_lines(&mut out, &needs);
    }
    print_verdict(&mut out, &verdict);
    print_stdout(&out)
}
