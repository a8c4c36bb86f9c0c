//! Queries over the projections (`accord.v1.CoalitionService`). Each answer is read inside one SQLite read
//! transaction, so the items and the checkpoint it names come from the same committed state; items carry
//! the entries they come from, with inclusion proofs at that checkpoint on request.
//! No SQL here (that is [`crate::store`]) and no tonic (that is [`crate::server::api`]).
pub mod complete;

use std::collections::BTreeMap;

use base64::prelude::*;
use prost::Message;
use rust_decimal::Decimal;

use crate::domain::book::{Subject, SubjectKind, SubjectStatus};
use crate::domain::codes::{PledgeKind, TransactionType};
use crate::domain::date::{self, Day};
use crate::domain::money::Currency;
use crate::error::{Error, Result};
use crate::ledger::ReadView;
use crate::merkle;
use crate::pb::{self, amended::Version, statement::Body, Statement};
use crate::store::{Reader, SubjectFilter};
use accord_views::query::{self as views, ListFilter};

/// Largest page; the default is [`DEFAULT_PAGE`].
pub const MAX_PAGE: u32 = 1000;
/// Page size when a request names none (`page_size` 0).
pub const DEFAULT_PAGE: u32 = 100;

/// The checkpoint and as-of date of a read (call inside [`Reader::snapshot`]).
pub fn read_at(r: &Reader) -> Result<pb::ReadAt> {
    let cp = r.read_checkpoint()?.ok_or_else(|| Error::internal("no checkpoint stored"))?;
    let as_of = if cp.size == 0 {
        String::new()
    } else {
        let last = r.entry_by_index(cp.size.saturating_sub(1))?.ok_or_else(|| Error::internal("last entry missing"))?;
        date::format_date(date::day_of_ms(last.integrated_at_ms))
    };
    Ok(pb::ReadAt { tree_size: cp.size, root_hash: cp.root.to_vec(), checkpoint: cp.note, as_of_date: as_of })
}

/// [`read_at`] through a ledger read view (what the edge holds; call inside [`crate::ledger::Ledger::snapshot`]).
pub fn read_at_of(view: &ReadView<'_>) -> Result<pb::ReadAt> {
    read_at(view.store_reader())
}

fn as_of_day(at: &pb::ReadAt) -> i64 {
    date::parse_date(&at.as_of_date).unwrap_or(0)
}

pub use crate::proto::statement_of_leaf;

/// A statement with an amendment's new version moved into the body (the compiled form).
pub fn compiled(mut st: Statement) -> Statement {
    if let Some(Body::Amended(a)) = &st.body {
        st.body = a.version.clone().map(|v| match v {
            Version::Plan(x) => Body::PlanCreated(x),
            Version::Goal(x) => Body::GoalDefined(x),
            Version::Indicator(x) => Body::IndicatorDefined(x),
            Version::Pledge(x) => Body::PledgeAnnounced(x),
            Version::Condition(x) => Body::ConditionDefined(x),
            Version::Commitment(x) => Body::CommitmentSigned(x),
        });
    }
    st
}

fn proven(r: &Reader, index: u64, size: u64) -> Result<pb::ProvenEntry> {
    let e = r.entry_by_index(index)?.ok_or_else(|| Error::internal(format!("entry {index} missing")))?;
    let proof = merkle::prove_record(size, index, &r.hashes())
        .map_err(|e| Error::internal(format!("inclusion proof: {e}")))?
        .into_iter()
        .map(|h| h.0.to_vec())
        .collect();
    Ok(pb::ProvenEntry { index, leaf: e.leaf, inclusion_proof: proof })
}

/// The page token of the last id listed (opaque to clients).
fn token(kind: &str, id: &str) -> String {
    BASE64_URL_SAFE_NO_PAD.encode(format!("{kind}\n{id}"))
}

fn untoken(kind: &str, t: &str) -> Result<String> {
    if t.is_empty() {
        return Ok(String::new());
    }
    let bad = || Error::invalid("page_token", "is not a token this query returned");
    let raw = BASE64_URL_SAFE_NO_PAD.decode(t).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (k, id) = text.split_once('\n').ok_or_else(bad)?;
    if k != kind {
        return Err(bad());
    }
    Ok(id.to_string())
}

fn page_size(n: u32) -> Result<usize> {
    match n {
        0 => Ok(DEFAULT_PAGE as usize),
        n if n > MAX_PAGE => Err(Error::invalid("page_size", format!("{n} is above the limit of {MAX_PAGE}"))),
        n => Ok(n as usize),
    }
}

/// The request's filters, parsed once (an unknown status, pledge kind or transaction type, or a day that
/// is not one, is INVALID_ARGUMENT naming the field, where it would match nothing), then checked against
/// the filters `kind` has (so a typo never silently matches everything).
fn list_filter(kind: SubjectKind, q: &pb::ListRequest) -> Result<ListFilter> {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let filter = ListFilter {
        status: (!q.status.is_empty()).then(|| SubjectStatus::parse("status", &q.status)).transpose()?,
        from_date: Day::parse_opt("from_date", &q.from_date)?,
        to_date: Day::parse_opt("to_date", &q.to_date)?,
        goal_id: text(&q.goal_id),
        pledge_kind: (!q.pledge_kind.is_empty())
            .then(|| PledgeKind::parse("pledge_kind", &q.pledge_kind))
            .transpose()?,
        commitment_id: text(&q.commitment_id),
        transaction_type: (q.transaction_type != 0)
            .then(|| TransactionType::parse("transaction_type", q.transaction_type))
            .transpose()?,
        recipient_id: text(&q.recipient_id),
    };
    filter.check(kind)?;
    Ok(filter)
}

/// The currency a request asks amounts to be converted into; empty is none.
fn currency_of(field: &str, text: &str) -> Result<Option<Currency>> {
    Ok((!text.is_empty()).then(|| Currency::parse(field, text)).transpose()?)
}

/// List subjects of `kind` with the request's filters, one page.
pub fn list(view: &ReadView<'_>, kind: SubjectKind, q: &pb::ListRequest) -> Result<pb::ListResponse> {
    let r = view.store_reader();
    let wanted = list_filter(kind, q)?;
    let currency = currency_of("currency", &q.currency)?;
    let limit = page_size(q.page_size)?;
    let after = untoken(kind.as_str(), &q.page_token)?;
    r.snapshot(|r| {
        let at = read_at(r)?;
        let as_of = as_of_day(&at);
        let filter =
            SubjectFilter { kind: kind.to_string(), plan_id: q.plan_id.clone(), party_id: q.party_id.clone(), after };
        let mut found = Vec::new();
        let mut more = false;
        r.scan_subjects::<Error>(&filter, |s| {
            if !wanted.matches(&s, as_of)? {
                return Ok(true);
            }
            if found.len() == limit {
                more = true;
                return Ok(false);
            }
            found.push(s);
            Ok(true)
        })?;
        let next_page_token = match (more, found.last()) {
            (true, Some(last)) => token(kind.as_str(), &last.id),
            _ => String::new(),
        };
        let items = found.iter().map(|s| item(r, s, &at, q.with_proofs, currency)).collect::<Result<Vec<_>>>()?;
        Ok(pb::ListResponse { read_at: Some(at), items, next_page_token, completeness: None })
    })
}

/// One subject with its history.
pub fn get(view: &ReadView<'_>, q: &pb::GetSubjectRequest) -> Result<pb::GetSubjectResponse> {
    let r = view.store_reader();
    let kind = SubjectKind::parse("kind", &q.kind)?;
    let currency = currency_of("currency", &q.currency)?;
    r.snapshot(|r| {
        let at = read_at(r)?;
        let s = r
            .subject(kind, &q.id)?
            .ok_or_else(|| Error::not_found("id", format!("no {} with id {:?}", q.kind, q.id)))?;
        let item = item(r, &s, &at, q.with_proofs, currency)?;
        let gov = r.governance()?;
        let mut grouped: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for h in r.history(kind, &q.id)? {
            grouped.entry(h.index).or_default().push(h.action.to_string());
        }
        let mut history = Vec::new();
        for (index, actions) in grouped {
            let e = r.entry_by_index(index)?.ok_or_else(|| Error::internal(format!("entry {index} missing")))?;
            let le = pb::LogEntry::decode(e.leaf.as_slice())
                .map_err(|e| Error::corrupt("entries", index, format!("the leaf does not decode: {e}")))?;
            let env = le.envelope.ok_or_else(|| Error::corrupt("entries", index, "the leaf has no envelope"))?;
            let mut signer_parties: Vec<String> =
                env.signatures.iter().filter_map(|sig| gov.keys.get(&sig.keyid).map(|k| k.party_id.clone())).collect();
            signer_parties.dedup();
            let statement = Statement::decode(env.payload.as_slice()).map_err(|e| Error::internal(e.to_string()))?;
            history.push(pb::HistoryEntry {
                index,
                actions,
                statement_id: e.statement_id.clone(),
                statement_kind: e.kind.clone(),
                integrated_at_ms: e.integrated_at_ms,
                signer_parties,
                statement: Some(statement),
                proof: if q.with_proofs { Some(proven(r, index, at.tree_size)?) } else { None },
            });
        }
        Ok(pb::GetSubjectResponse { read_at: Some(at), item: Some(item), history, completeness: None })
    })
}

/// Parties with their key history.
pub fn parties(view: &ReadView<'_>, q: &pb::ListPartiesRequest) -> Result<pb::ListPartiesResponse> {
    let r = view.store_reader();
    let limit = page_size(q.page_size)?;
    let after = untoken("party", &q.page_token)?;
    r.snapshot(|r| {
        let at = read_at(r)?;
        let gov = r.governance()?;
        let mut keys: BTreeMap<&str, Vec<&crate::domain::KeyRecord>> = BTreeMap::new();
        for k in gov.keys.values() {
            keys.entry(k.party_id.as_str()).or_default().push(k);
        }
        let mut parties = Vec::new();
        let mut next_page_token = String::new();
        for p in gov.parties.values().filter(|p| p.party_id > after) {
            if parties.len() == limit {
                next_page_token =
                    token("party", &parties.last().map(|p: &pb::PartyView| p.party_id.clone()).unwrap_or_default());
                break;
            }
            let mut ks = keys.get(p.party_id.as_str()).cloned().unwrap_or_default();
            ks.sort_by_key(|k| (k.added_at, k.keyid.clone()));
            let mut proof_idx: Vec<u64> = std::iter::once(p.admitted_at)
                .chain(ks.iter().flat_map(|k| std::iter::once(k.added_at).chain(k.revoked_at)))
                .collect();
            proof_idx.sort_unstable();
            proof_idx.dedup();
            parties.push(pb::PartyView {
                party_id: p.party_id.clone(),
                name: p.name.clone(),
                roles: p.roles.iter().map(|r| r.to_string()).collect(),
                organisation_type: p.organisation_type.clone(),
                country: p.country.clone(),
                index: p.admitted_at,
                keys: ks
                    .iter()
                    .map(|k| pb::KeyView {
                        keyid: k.keyid.clone(),
                        public_key: k.public_key.to_vec(),
                        added_index: k.added_at,
                        revoked_index: k.revoked_at,
                    })
                    .collect(),
                proofs: if q.with_proofs {
                    proof_idx.iter().map(|&i| proven(r, i, at.tree_size)).collect::<Result<_>>()?
                } else {
                    Vec::new()
                },
            });
        }
        Ok(pb::ListPartiesResponse { read_at: Some(at), parties, next_page_token })
    })
}

/// A decimal as the response spells it: normalised, and empty for zero.
fn s(d: Decimal) -> String {
    if d.is_zero() {
        String::new()
    } else {
        d.normalize().to_string()
    }
}

fn assessment(a: &views::AssessmentView) -> pb::AssessmentView {
    pb::AssessmentView {
        condition_id: a.condition_id.clone(),
        tranche_id: a.tranche_id.clone(),
        outcome: a.state.as_str().to_string(),
        date: a.state.date().map(|d| d.to_string()).unwrap_or_default(),
        index: a.index,
    }
}

fn tranche(t: &views::TrancheView) -> pb::TrancheView {
    pb::TrancheView {
        tranche_id: t.tranche_id.clone(),
        commitment_id: t.commitment_id.clone(),
        value: s(t.value),
        disbursed: s(t.disbursed),
        status: t.status.to_string(),
        conditions: t.conditions.iter().map(assessment).collect(),
        index: t.index,
    }
}

fn milestone(m: &views::MilestoneView) -> pb::MilestoneView {
    pb::MilestoneView {
        milestone_id: m.milestone_id.clone(),
        title: m.title.clone(),
        due_date: m.due_date.to_string(),
        original_due_date: m.original_due_date.to_string(),
        status: m.status.map_or("pending", |x| x.as_str()).to_string(),
        date: m.date.map(|d| d.to_string()).unwrap_or_default(),
        quantity_done: m.quantity_done.clone(),
        days_late: m.days_late,
    }
}

/// The figures as the response carries them (the typed → wire step of a query).
fn wire_figures(f: &views::Figures) -> pb::Figures {
    pb::Figures {
        amount: f.amount.map(|a| a.to_string()).unwrap_or_default(),
        currency: f.currency.map(|c| c.to_string()).unwrap_or_default(),
        committed: s(f.committed),
        disbursed: s(f.disbursed),
        delivered: s(f.delivered),
        restated: s(f.restated),
        remaining: s(f.remaining),
        restated_by: f.restated_by.clone(),
        milestones: f.milestones.iter().map(milestone).collect(),
        converted: f.converted.map(|c| pb::Money {
            value: c.value.normalize().to_string(),
            currency: c.currency.to_string(),
            value_date: date::format_date(c.value_date),
        }),
        assessments: f.assessments.iter().map(assessment).collect(),
        confirmed: f.confirmed,
        reversed: f.reversed,
        withdrawn: f.withdrawn,
        covered_indexes: f.covered.clone(),
    }
}

/// Build one item: compiled view, derived figures and (optionally) the proven entries.
fn item(r: &Reader, sub: &Subject, at: &pb::ReadAt, with_proofs: bool, currency: Option<Currency>) -> Result<pb::Item> {
    let as_of = as_of_day(at);
    let version_entry = r
        .entry_by_index(sub.version_at)?
        .ok_or_else(|| Error::internal(format!("entry {} missing", sub.version_at)))?;
    let compiled_st = compiled(statement_of_leaf(&version_entry.leaf)?);
    let (f, tranches) = views::figures(r, sub, as_of, currency)?;
    let mut proof_at = vec![sub.created_at, sub.version_at];
    proof_at.dedup();
    Ok(pb::Item {
        kind: sub.kind.to_string(),
        id: sub.id.clone(),
        plan_id: sub.plan_id.clone(),
        party_id: sub.party_id.clone(),
        status: views::status_of(sub, as_of)?.to_string(),
        index: sub.created_at,
        version_index: sub.version_at,
        updated_index: sub.updated_at,
        version: sub.version,
        compiled: Some(compiled_st),
        figures: Some(wire_figures(&f)),
        tranches: tranches.iter().map(tranche).collect(),
        proofs: if with_proofs {
            proof_at.iter().map(|&i| proven(r, i, at.tree_size)).collect::<Result<_>>()?
        } else {
            Vec::new()
        },
    })
}

/// Columns shown for a subject's history, by the CLI and the public page alike.
pub const HISTORY_COLUMNS: [&str; 6] = ["entry", "date", "statement", "actions", "signed by", "statement id"];

/// One display row per history entry: index, effective date, statement kind, actions, signers, statement id.
pub fn history_rows(history: &[pb::HistoryEntry]) -> Vec<Vec<String>> {
    history
        .iter()
        .map(|h| {
            vec![
                h.index.to_string(),
                h.statement.as_ref().map(|s| s.effective_date.clone()).unwrap_or_default(),
                h.statement_kind.clone(),
                h.actions.join(", "),
                h.signer_parties.join(", "),
                h.statement_id.clone(),
            ]
        })
        .collect()
}
