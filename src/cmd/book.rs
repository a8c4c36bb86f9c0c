//! Commands over the coalition's book: statement templates, queries (readable tables or `--json`, each
//! answer verified against the signed checkpoint it names) and rebuilding projections from the log.
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{connect, today, write_out, ServerArgs};
use crate::json as sj;
use crate::pb;

#[derive(Debug, Subcommand)]
pub enum StatementCommand {
    /// Print a statement template for a kind (e.g. pledge.announced): its required fields as JSON with a
    /// comment on each (`--full`: every optional block too); fill it in, `accord statement check` it and
    /// sign it with `accord sign`.
    New(NewArgs),
    /// Check a statement or envelope before submitting it: the shape rules locally; with --server a dry
    /// run of every rule against the ledger's current state (nothing written). Prints who must sign; exit
    /// 0 when it passes, 1 when refused.
    Check(super::author::CheckArgs),
    /// List the statement kinds.
    Kinds,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Statement kind: charter, party.admitted, plan.created, goal.defined, indicator.defined,
    /// pledge.announced, condition.defined, commitment.signed, transaction.recorded, transaction.reversed,
    /// inkind.delivered, delivery.confirmed, milestone.updated, condition.assessed, progress.reported, attestation.issued,
    /// amended, withdrawn, fx_rate.recorded, key.rotated, key.revoked.
    kind: String,
    /// The ledger origin the statement is bound to.
    #[arg(long, env = "ACCORD_ORIGIN", default_value = "accord.localhost/ledger")]
    ledger: String,
    /// Statement id (default: a fresh time-based id).
    #[arg(long)]
    statement_id: Option<String>,
    /// Every optional field and block too, each commented and marked optional.
    #[arg(long)]
    full: bool,
    /// Output file (default: stdout).
    #[arg(short, long)]
    out: Option<PathBuf>,
}

/// What `accord query` lists.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Members with roles and keys.
    Parties(QueryArgs),
    Plans(QueryArgs),
    Goals(QueryArgs),
    Indicators(QueryArgs),
    /// Pledges with committed, disbursed and derived status.
    Pledges(QueryArgs),
    /// Conditions and their assessments.
    Conditions(QueryArgs),
    /// Commitments with tranches and condition status.
    Commitments(QueryArgs),
    /// Transactions (incoming funds, disbursements, expenditure, reimbursements).
    Transactions(QueryArgs),
    /// Any subject kind (delivery, report, attestation, fx_rate, tranche ...).
    Subjects {
        kind: String,
        #[command(flatten)]
        q: QueryArgs,
    },
    /// One subject: compiled view, status and every version and event in its history.
    History {
        /// Subject kind (pledge, commitment, condition, transaction ...).
        kind: String,
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        /// Verify the item and every history entry against the checkpoint (inclusion proofs).
        #[arg(long)]
        with_proofs: bool,
        /// Also prove which entries name the subject, all of them (the verifiable index, docs/INDEX.md);
        /// implies --with-proofs.
        #[arg(long)]
        complete: bool,
        /// With --complete, a C2SP tlog-policy file: the map checkpoint must carry its quorum of witness
        /// cosignatures (docs/INDEX.md §7.1).
        #[arg(long, requires = "complete")]
        policy: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[arg(long, default_value = "")]
    plan: String,
    /// Owning party (pledger, provider, condition party, reporter).
    #[arg(long, default_value = "")]
    party: String,
    #[arg(long, default_value = "")]
    goal: String,
    /// Pledge kind: money, in_kind, policy_action.
    #[arg(long, default_value = "")]
    pledge_kind: String,
    /// Derived status (e.g. announced, partially_committed, committed, partially_disbursed, fulfilled,
    /// withdrawn, lapsed, superseded).
    #[arg(long, default_value = "")]
    status: String,
    /// From date (YYYY-MM-DD, inclusive).
    #[arg(long, default_value = "")]
    from: String,
    /// To date (YYYY-MM-DD, inclusive).
    #[arg(long, default_value = "")]
    to: String,
    #[arg(long, default_value = "")]
    commitment: String,
    /// IATI transaction type (1, 3, 4, 7).
    #[arg(long, default_value_t = 0)]
    transaction_type: u32,
    #[arg(long, default_value = "")]
    recipient: String,
    /// Also show amounts converted to this currency at their value dates (recorded rates only).
    #[arg(long, default_value = "")]
    currency: String,
    /// Items per page (1..1000).
    #[arg(long, default_value_t = 100)]
    page_size: u32,
    /// Page token from a previous answer.
    #[arg(long, default_value = "")]
    page_token: String,
    /// Fetch every page.
    #[arg(long)]
    all: bool,
    /// Verify every item against the checkpoint the answer names (inclusion proofs of its entries).
    #[arg(long)]
    with_proofs: bool,
    /// Prove the answer complete: the verifiable index's lists and map proofs, under a map checkpoint
    /// built at the answer's log checkpoint, show these are every subject with --plan/--party and no other
    /// (docs/INDEX.md). One page; implies --with-proofs.
    #[arg(long)]
    complete: bool,
    /// With --complete, a C2SP tlog-policy file: the map checkpoint must carry its quorum of witness
    /// cosignatures (docs/INDEX.md §7.1).
    #[arg(long, requires = "complete")]
    policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Data directory of a ledger that is not being served.
    #[arg(long, env = "ACCORD_DATA_DIR", default_value = "./accord-data")]
    data_dir: PathBuf,
}

pub async fn statement(c: StatementCommand, json: bool) -> Result<()> {
    match c {
        StatementCommand::Check(a) => super::author::check(a, json).await,
        StatementCommand::Kinds => {
            let kinds = sj::statement_kinds();
            if json {
                let v: Vec<_> = kinds.iter().map(|(k, f)| json!({"kind": k, "json_field": f})).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (k, _) in kinds {
                    println!("{k}");
                }
            }
            Ok(())
        }
        StatementCommand::New(a) => {
            let id = a.statement_id.unwrap_or_else(|| {
                let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                format!("st-{}-{:09}", d.as_secs(), d.subsec_nanos())
            });
            let t = sj::statement_template_with(&a.kind, &a.ledger, &id, &today(), a.full)?;
            write_out(a.out.as_deref(), &t)
        }
    }
}

pub fn rebuild(a: RebuildArgs, json: bool) -> Result<()> {
    let tty = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let started = std::time::Instant::now();
    let r = crate::ledger::rebuild(&a.data_dir, |done, total| {
        if tty && (done % 1000 == 0 || done == total) {
            eprint!("\rreplaying {done}/{total} entries");
        }
    })?;
    if tty {
        eprintln!();
    }
    if json {
        println!(
            "{}",
            json!({"ok": true, "entries": r.entries, "effects": r.effects, "millis": started.elapsed().as_millis() as u64})
        );
    } else {
        println!(
            "rebuilt the projections from {} entries ({} effects) in {:.1} s",
            r.entries,
            r.effects,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A complete list, verified ([`crate::client::Client::list_complete`]); a failed check is an error (exit 1).
async fn complete(
    client: &mut crate::client::Client,
    kind: &str,
    req: pb::ListRequest,
    converted: bool,
    json: bool,
) -> Result<()> {
    let (resp, proven) = client.list_complete(kind, req.clone()).await?;
    let filter = match (req.party_id.as_str(), req.plan_id.as_str()) {
        ("", "") => String::new(),
        ("", plan) => format!(" of plan {plan}"),
        (party, "") => format!(" of party {party}"),
        (party, plan) => format!(" of party {party} in plan {plan}"),
    };
    if json {
        let mut v: serde_json::Value = serde_json::from_str(&sj::message_to_json("accord.v1.ListResponse", &resp)?)?;
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "proven".into(),
                json!({
                    "complete": true,
                    "treeSize": proven.size,
                    "mapRoot": hex::encode(proven.map_root),
                    "lists": proven.lists.iter().map(|(k, n)| json!({"key": k, "entries": n})).collect::<Vec<_>>(),
                    "entries": proven.entries,
                    "items": proven.items,
                }),
            );
        }
        println!("{v}");
        return Ok(());
    }
    print_items(kind, &resp.items, converted);
    let lists: Vec<String> = proven.lists.iter().map(|(k, n)| format!("{k} ({n})")).collect();
    println!(
        "{} {kind} item(s){filter} at tree size {}: proven complete (map root {}, lists {}, {} entries read and proven)",
        proven.items,
        proven.size,
        hex::encode(proven.map_root),
        lists.join(", "),
        proven.entries
    );
    Ok(())
}

fn request(q: &QueryArgs) -> pb::ListRequest {
    pb::ListRequest {
        kind: String::new(),
        plan_id: q.plan.clone(),
        party_id: q.party.clone(),
        goal_id: q.goal.clone(),
        pledge_kind: q.pledge_kind.clone(),
        status: q.status.clone(),
        from_date: q.from.clone(),
        to_date: q.to.clone(),
        commitment_id: q.commitment.clone(),
        transaction_type: q.transaction_type,
        recipient_id: q.recipient.clone(),
        currency: q.currency.clone(),
        page_size: q.page_size,
        page_token: q.page_token.clone(),
        with_proofs: q.with_proofs,
        complete: q.complete,
    }
}

pub async fn query(c: QueryCommand, json: bool) -> Result<()> {
    let (kind, q) = match c {
        QueryCommand::Parties(q) => return parties(q, json).await,
        QueryCommand::History { kind, id, server, with_proofs, complete, policy } => {
            let mut client = super::entries::connect_with_policy(&server, policy.as_deref()).await?;
            return history(&mut client, &kind, &id, (with_proofs, complete), json).await;
        }
        QueryCommand::Plans(q) => ("plan".to_string(), q),
        QueryCommand::Goals(q) => ("goal".to_string(), q),
        QueryCommand::Indicators(q) => ("indicator".to_string(), q),
        QueryCommand::Pledges(q) => ("pledge".to_string(), q),
        QueryCommand::Conditions(q) => ("condition".to_string(), q),
        QueryCommand::Commitments(q) => ("commitment".to_string(), q),
        QueryCommand::Transactions(q) => ("transaction".to_string(), q),
        QueryCommand::Subjects { kind, q } => (kind, q),
    };
    let mut client = super::entries::connect_with_policy(&q.server, q.policy.as_deref()).await?;
    let mut req = request(&q);
    if q.complete {
        return complete(&mut client, &kind, req, !q.currency.is_empty(), json).await;
    }
    let mut items = Vec::new();
    let mut at = None;
    let mut next;
    loop {
        let resp = client.list(&kind, req.clone()).await?;
        at = at.or(resp.read_at.clone());
        items.extend(resp.items);
        next = resp.next_page_token;
        if !q.all || next.is_empty() {
            break;
        }
        req.page_token = next.clone();
    }
    let at = at.unwrap_or_default();
    if json {
        let resp = pb::ListResponse { read_at: Some(at), items, next_page_token: next, completeness: None };
        println!("{}", sj::message_to_json("accord.v1.ListResponse", &resp)?);
        return Ok(());
    }
    print_items(&kind, &items, !q.currency.is_empty());
    println!(
        "{} {kind} item(s) at tree size {} ({}){}",
        items.len(),
        at.tree_size,
        at.as_of_date,
        if q.with_proofs { "; every item verified against the signed checkpoint" } else { "" }
    );
    if !next.is_empty() {
        println!("more: --page-token {next}");
    }
    Ok(())
}

fn figures(i: &pb::Item) -> pb::Figures {
    i.figures.clone().unwrap_or_default()
}

fn body(i: &pb::Item) -> Option<pb::statement::Body> {
    i.compiled.as_ref().and_then(|s| s.body.clone())
}

fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in w.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> =
            cells.iter().zip(w.iter().chain(std::iter::repeat(&0))).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(w.iter().map(|n| "-".repeat(*n)).collect());
    for r in rows {
        line(r);
    }
}

fn print_items(kind: &str, items: &[pb::Item], converted: bool) {
    match kind {
        "pledge" => {
            let rows = items.iter().map(|i| pledge_row(i, converted)).collect();
            let mut h = vec!["PLEDGE", "PLEDGER", "KIND", "AMOUNT", "COMMITTED", "DISBURSED", "STATUS", "ENTRY"];
            if converted {
                h.push("CONVERTED");
            }
            print_table(&h, rows);
        }
        "commitment" => {
            let rows = items.iter().map(commitment_row).collect();
            print_table(&["COMMITMENT", "PROVIDER → RECIPIENT", "AMOUNT", "DISBURSED", "STATUS", "TRANCHES"], rows);
        }
        "transaction" => {
            let rows = items.iter().map(transaction_row).collect();
            print_table(
                &["TXN", "TYPE", "DATE", "PROVIDER → RECEIVER", "AMOUNT", "COMMITMENT/TRANCHE", "STATUS"],
                rows,
            );
        }
        "condition" => {
            let rows = items.iter().map(condition_row).collect();
            print_table(&["CONDITION", "TYPE", "PARTY", "ASSESSOR", "STATUS", "ASSESSMENTS"], rows);
        }
        _ => {
            let rows = items.iter().map(subject_row).collect();
            print_table(&["ID", "PLAN", "PARTY", "AMOUNT", "STATUS", "VERSION", "ENTRY"], rows);
        }
    }
}

/// A pledge's row: id, pledger, kind, amount, committed, disbursed, status, entry (and converted amount).
fn pledge_row(i: &pb::Item, converted: bool) -> Vec<String> {
    let f = figures(i);
    let k = match body(i) {
        Some(pb::statement::Body::PledgeAnnounced(p)) => p.pledge_kind,
        _ => String::new(),
    };
    let mut r = vec![
        i.id.clone(),
        i.party_id.clone(),
        k,
        format!("{} {}", f.amount, f.currency),
        f.committed.clone(),
        f.disbursed.clone(),
        i.status.clone(),
        i.index.to_string(),
    ];
    if converted {
        r.push(f.converted.as_ref().map(|m| format!("{} {}", m.value, m.currency)).unwrap_or_default());
    }
    r
}

/// A commitment's row: id, provider → recipient, amount, disbursed, status, tranches.
fn commitment_row(i: &pb::Item) -> Vec<String> {
    let f = figures(i);
    let (prov, rec) = match body(i) {
        Some(pb::statement::Body::CommitmentSigned(c)) => (c.provider_id, c.recipient_id),
        _ => Default::default(),
    };
    let tranches: Vec<String> =
        i.tranches.iter().map(|t| format!("{} {} {}", t.tranche_id, t.value, t.status)).collect();
    vec![
        i.id.clone(),
        format!("{prov} → {rec}"),
        format!("{} {}", f.amount, f.currency),
        f.disbursed.clone(),
        i.status.clone(),
        tranches.join("; "),
    ]
}

/// A transaction's row: id, type, date, provider → receiver, amount, commitment/tranche, status.
fn transaction_row(i: &pb::Item) -> Vec<String> {
    let f = figures(i);
    let t = match body(i) {
        Some(pb::statement::Body::TransactionRecorded(t)) => t,
        _ => Default::default(),
    };
    vec![
        i.id.clone(),
        t.transaction_type.to_string(),
        t.date,
        format!("{} → {}", t.provider_id, t.receiver_id),
        format!("{} {}", f.amount, f.currency),
        if t.tranche_id.is_empty() { t.commitment_id } else { format!("{}/{}", t.commitment_id, t.tranche_id) },
        i.status.clone(),
    ]
}

/// A condition's row: id, type, party, assessor, status, assessments.
fn condition_row(i: &pb::Item) -> Vec<String> {
    let c = match body(i) {
        Some(pb::statement::Body::ConditionDefined(c)) => c,
        _ => Default::default(),
    };
    let a: Vec<String> = figures(i)
        .assessments
        .iter()
        .map(|a| format!("{} {} {}", if a.tranche_id.is_empty() { "all" } else { &a.tranche_id }, a.outcome, a.date))
        .collect();
    vec![i.id.clone(), c.condition_type, c.party_id, c.assessor_id, i.status.clone(), a.join("; ")]
}

/// Any other subject's row: id, plan, party, amount, status, version, entry.
fn subject_row(i: &pb::Item) -> Vec<String> {
    let f = figures(i);
    vec![
        i.id.clone(),
        i.plan_id.clone(),
        i.party_id.clone(),
        if f.amount.is_empty() { String::new() } else { format!("{} {}", f.amount, f.currency) },
        i.status.clone(),
        i.version.to_string(),
        i.index.to_string(),
    ]
}

async fn parties(q: QueryArgs, json: bool) -> Result<()> {
    let mut client = connect(&q.server).await?;
    let req =
        pb::ListPartiesRequest { page_size: q.page_size, page_token: q.page_token.clone(), with_proofs: q.with_proofs };
    let resp = client
        .coalition()
        .list_parties(req)
        .await
        .map_err(|s| anyhow::anyhow!("server: {}", s.message()))?
        .into_inner();
    if json {
        println!("{}", sj::message_to_json("accord.v1.ListPartiesResponse", &resp)?);
        return Ok(());
    }
    let rows = resp
        .parties
        .iter()
        .map(|p| {
            let active = p.keys.iter().filter(|k| k.revoked_index.is_none()).count();
            vec![
                p.party_id.clone(),
                p.name.clone(),
                p.roles.join(","),
                format!("{active} active / {} total", p.keys.len()),
                p.index.to_string(),
            ]
        })
        .collect();
    print_table(&["PARTY", "NAME", "ROLES", "KEYS", "ADMITTED AT"], rows);
    Ok(())
}

async fn history(
    client: &mut crate::client::Client,
    kind: &str,
    id: &str,
    (with_proofs, complete): (bool, bool),
    json: bool,
) -> Result<()> {
    let (resp, proven) = if complete {
        let (resp, proven) = client.subject_complete(kind, id).await?;
        (resp, Some(proven))
    } else {
        (client.subject(kind, id, with_proofs).await?, None)
    };
    if json {
        println!("{}", sj::message_to_json("accord.v1.GetSubjectResponse", &resp)?);
        return Ok(());
    }
    let Some(item) = &resp.item else { bail!("the server sent no item") };
    let f = figures(item);
    println!(
        "{} {} — status {} (version {}, entry {})",
        item.kind, item.id, item.status, item.version, item.version_index
    );
    if !f.amount.is_empty() {
        println!("amount {} {}; committed {}; disbursed {}", f.amount, f.currency, f.committed, f.disbursed);
    }
    let header: Vec<String> = crate::query::HISTORY_COLUMNS.iter().map(|c| c.to_uppercase()).collect();
    print_table(&header.iter().map(String::as_str).collect::<Vec<_>>(), crate::query::history_rows(&resp.history));
    if with_proofs || complete {
        println!("{} history entries verified against the signed checkpoint", resp.history.len());
    }
    if let Some(p) = proven {
        let indices: Vec<String> =
            resp.completeness.iter().flat_map(|c| &c.entries).map(|e| e.index.to_string()).collect();
        println!(
            "{} entries name {kind} {id} at tree size {}, proven complete (map root {}): {}",
            p.entries,
            p.size,
            hex::encode(p.map_root),
            indices.join(", ")
        );
    }
    Ok(())
}
