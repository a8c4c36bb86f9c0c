//! Queries over the projections (`accord.v1.CoalitionService`). Each answer is read inside one SQLite read
//! transaction, so the items and the checkpoint it names come from the same committed state; items carry
//! the entries they come from, with inclusion proofs at that checkpoint on request.
//! No SQL here (that is [`crate::store`]) and no tonic (that is [`crate::server::api`]).
use std::collections::BTreeMap;

use base64::prelude::*;
use prost::Message;
use rust_decimal::Decimal;

use crate::domain::book::{self, Subject, SubjectKind, SubjectStatus};
use crate::domain::codes::MilestoneStatus;
use crate::domain::date;
use crate::domain::money::{self, Amount, Currency};
use crate::error::{Error, Result};
use crate::ledger::ReadView;
use crate::merkle;
use crate::pb::{self, amended::Version, statement::Body, Statement};
use crate::store::{Reader, SubjectFilter};
use accord_domain::statement as ds;

/// Largest page; the default is [`DEFAULT_PAGE`].
pub const MAX_PAGE: u32 = 1000;
pub const DEFAULT_PAGE: u32 = 100;

/// The checkpoint and as-of date of a read (call inside [`Reader::snapshot`]).
pub fn read_at(r: &Reader) -> Result<pb::ReadAt> {
    let cp = r.latest_checkpoint()?.ok_or_else(|| Error::internal("no checkpoint stored"))?;
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

fn s(d: Decimal) -> String {
    if d.is_zero() {
        String::new()
    } else {
        d.normalize().to_string()
    }
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

/// Which filters each kind accepts (anything else set is refused, so a typo never silently matches all).
fn check_filters(kind: SubjectKind, q: &pb::ListRequest) -> Result<()> {
    let set: &[(&str, bool)] = &[
        ("goal_id", !q.goal_id.is_empty()),
        ("pledge_kind", !q.pledge_kind.is_empty()),
        ("from_date", !q.from_date.is_empty()),
        ("to_date", !q.to_date.is_empty()),
        ("commitment_id", !q.commitment_id.is_empty()),
        ("transaction_type", q.transaction_type != 0),
        ("recipient_id", !q.recipient_id.is_empty()),
    ];
    let allowed: &[&str] = match kind {
        book::PLEDGE => &["goal_id", "pledge_kind", "from_date", "to_date"],
        book::INDICATOR => &["goal_id"],
        book::COMMITMENT => &["recipient_id", "from_date", "to_date"],
        book::TRANSACTION => &["commitment_id", "transaction_type", "recipient_id", "from_date", "to_date"],
        book::TRANCHE => &["commitment_id"],
        _ => &[],
    };
    for (name, on) in set {
        if *on && !allowed.contains(name) {
            return Err(Error::invalid(*name, format!("is not a filter of {kind} queries")));
        }
    }
    for (f, v) in [("from_date", &q.from_date), ("to_date", &q.to_date)] {
        if !v.is_empty() && date::parse_date(v).is_none() {
            return Err(Error::invalid(f, format!("{v:?} is not a date of the form YYYY-MM-DD")));
        }
    }
    if !q.currency.is_empty() {
        money::check_currency("currency", &q.currency)?;
    }
    Ok(())
}

/// The subject's own date for range filters.
fn subject_date(s: &Subject) -> Result<String> {
    Ok(match s.kind {
        book::PLEDGE => {
            let p: ds::PledgeAnnounced = s.parsed()?;
            p.announced.and_then(|a| a.date).map(|d| d.to_string()).unwrap_or_default()
        }
        book::COMMITMENT => s.parsed::<ds::CommitmentSigned>()?.signed_date.to_string(),
        book::TRANSACTION => s.parsed::<ds::TransactionRecorded>()?.date.to_string(),
        _ => String::new(),
    })
}

/// The status as shown: pledges' lapse depends on the as-of date.
fn status_of(s: &Subject, as_of: i64) -> Result<SubjectStatus> {
    if s.kind == book::PLEDGE {
        return Ok(book::pledge_status(s, &s.parsed()?, as_of));
    }
    Ok(s.status)
}

/// The request's status filter, parsed once: empty is none; an unknown status is refused naming the
/// values allowed (it would match nothing).
fn status_filter(q: &pb::ListRequest) -> Result<Option<SubjectStatus>> {
    if q.status.is_empty() {
        return Ok(None);
    }
    Ok(Some(SubjectStatus::parse("status", &q.status)?))
}

fn matches(s: &Subject, q: &pb::ListRequest, status: Option<SubjectStatus>, as_of: i64) -> Result<bool> {
    if let Some(want) = status {
        if status_of(s, as_of)? != want {
            return Ok(false);
        }
    }
    if !q.from_date.is_empty() || !q.to_date.is_empty() {
        let d = subject_date(s)?;
        if d.is_empty() || (!q.from_date.is_empty() && d < q.from_date) || (!q.to_date.is_empty() && d > q.to_date) {
            return Ok(false);
        }
    }
    match s.kind {
        book::PLEDGE => {
            let p: ds::PledgeAnnounced = s.parsed()?;
            if !q.goal_id.is_empty() && !p.goals.iter().any(|g| g.goal_id == q.goal_id) {
                return Ok(false);
            }
            if !q.pledge_kind.is_empty() && p.pledge_kind.as_str() != q.pledge_kind {
                return Ok(false);
            }
        }
        book::INDICATOR => {
            let x: ds::IndicatorDefined = s.parsed()?;
            if !q.goal_id.is_empty() && x.goal_id != q.goal_id {
                return Ok(false);
            }
        }
        book::COMMITMENT => {
            let c: ds::CommitmentSigned = s.parsed()?;
            if !q.recipient_id.is_empty() && c.recipient_id != q.recipient_id {
                return Ok(false);
            }
        }
        book::TRANSACTION => {
            let t: ds::TransactionRecorded = s.parsed()?;
            if (!q.commitment_id.is_empty() && t.commitment_id.as_deref() != Some(q.commitment_id.as_str()))
                || (q.transaction_type != 0 && t.transaction_type.code() != q.transaction_type)
                || (!q.recipient_id.is_empty() && t.receiver_id.as_deref() != Some(q.recipient_id.as_str()))
            {
                return Ok(false);
            }
        }
        book::TRANCHE if !q.commitment_id.is_empty() && s.tally.commitment_id != q.commitment_id => {
            return Ok(false);
        }
        _ => {}
    }
    Ok(true)
}

/// List subjects of `kind` with the request's filters, one page.
pub fn list(view: &ReadView<'_>, kind: SubjectKind, q: &pb::ListRequest) -> Result<pb::ListResponse> {
    let r = view.store_reader();
    check_filters(kind, q)?;
    let status = status_filter(q)?;
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
            if !matches(&s, q, status, as_of)? {
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
        let items = found.iter().map(|s| item(r, s, &at, q.with_proofs, &q.currency)).collect::<Result<Vec<_>>>()?;
        Ok(pb::ListResponse { read_at: Some(at), items, next_page_token })
    })
}

/// One subject with its history.
pub fn get(view: &ReadView<'_>, q: &pb::GetSubjectRequest) -> Result<pb::GetSubjectResponse> {
    let r = view.store_reader();
    let kind = SubjectKind::parse("kind", &q.kind)?;
    if !q.currency.is_empty() {
        money::check_currency("currency", &q.currency)?;
    }
    r.snapshot(|r| {
        let at = read_at(r)?;
        let s = r
            .subject(kind, &q.id)?
            .ok_or_else(|| Error::not_found("id", format!("no {} with id {:?}", q.kind, q.id)))?;
        let item = item(r, &s, &at, q.with_proofs, &q.currency)?;
        let gov = r.governance()?;
        let mut grouped: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for h in r.history(kind, &q.id)? {
            grouped.entry(h.index).or_default().push(h.action);
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
        Ok(pb::GetSubjectResponse { read_at: Some(at), item: Some(item), history })
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
                roles: p.roles.clone(),
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

/// An amount as the response spells it (value, currency); none gives two empty strings.
fn money_of(m: Option<&Amount>) -> (String, String) {
    m.map(|m| (m.value.to_string(), m.currency.to_string())).unwrap_or_default()
}

fn assessment_views(c: &Subject) -> Vec<pb::AssessmentView> {
    c.tally
        .outcomes
        .iter()
        .map(|(t, a)| pb::AssessmentView {
            condition_id: c.id.clone(),
            tranche_id: t.clone(),
            outcome: a.outcome.to_string(),
            date: a.date.to_string(),
            index: a.index,
        })
        .collect()
}

fn tranche_view(r: &Reader, t: &Subject) -> Result<pb::TrancheView> {
    let gate = book::tranche_gate(r, t)?;
    let conditions = gate
        .conditions
        .iter()
        .map(|(cid, state)| {
            // A condition not assessed for this tranche yet has no assessing entry (index 0); a failed
            // read is an error, not a missing assessment.
            let index = r
                .subject(book::CONDITION, cid)?
                .and_then(|c| book::outcome_for(&c, &t.id).map(|a| a.index))
                .unwrap_or_default();
            Ok(pb::AssessmentView {
                condition_id: cid.clone(),
                tranche_id: t.id.clone(),
                outcome: state.as_str().to_string(),
                date: state.date().map(|d| d.to_string()).unwrap_or_default(),
                index,
            })
        })
        .collect::<Result<_>>()?;
    Ok(pb::TrancheView {
        tranche_id: t.id.clone(),
        commitment_id: t.tally.commitment_id.clone(),
        value: s(t.tally.value),
        disbursed: s(t.tally.disbursed),
        status: gate.status.as_str().to_string(),
        conditions,
        index: t.created_at,
    })
}

/// The milestones of a policy-action pledge: current and original due dates, status, days late.
fn milestone_views(r: &Reader, s: &Subject, p: &ds::PledgeAnnounced, as_of: i64) -> Result<Vec<pb::MilestoneView>> {
    let original: Option<ds::PledgeAnnounced> = if s.version > 1 {
        let e = r.entry_by_index(s.created_at)?.ok_or_else(|| Error::internal("creating entry missing"))?;
        let st = statement_of_leaf(&e.leaf)?;
        match crate::proto::parse_stored_statement(&st)?.body {
            ds::Body::PledgeAnnounced(p) => Some(p),
            _ => None,
        }
    } else {
        None
    };
    p.milestones
        .iter()
        .map(|m| {
            let orig = original
                .as_ref()
                .and_then(|o| o.milestones.iter().find(|x| x.milestone_id == m.milestone_id))
                .map_or(m.due_date, |x| x.due_date)
                .to_string();
            let st = s.tally.milestones.get(m.milestone_id.as_str());
            let due = m.due_date.days();
            // The day met was parsed when storage read the tally (a stored day that is not one is DATA_LOSS).
            let days_late = match st {
                Some(x) if x.status == MilestoneStatus::Met => x.date.days().saturating_sub(due).max(0),
                _ => as_of.saturating_sub(due).max(0),
            };
            Ok(pb::MilestoneView {
                milestone_id: m.milestone_id.to_string(),
                title: m.title.clone(),
                due_date: m.due_date.to_string(),
                original_due_date: orig,
                status: st.map_or("pending", |x| x.status.as_str()).to_string(),
                date: st.map(|x| x.date.to_string()).unwrap_or_default(),
                quantity_done: st.map(|x| x.quantity_done.clone()).unwrap_or_default(),
                days_late,
            })
        })
        .collect()
}

/// An amount converted into `to` as the response carries it (the only typed → wire step of a query).
fn convert_money(r: &Reader, a: Option<&Amount>, to: &str) -> Result<Option<pb::Money>> {
    let Some(a) = a.filter(|_| !to.is_empty()) else { return Ok(None) };
    let to = Currency::parse("currency", to)?;
    // A missing rate (or a conversion out of range) leaves this item unconverted; it never fails the query.
    let v = match book::convert(r, a, to) {
        Ok(v) => v,
        Err(e) if book::is_conversion_gap(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(pb::Money { value: v.normalize().to_string(), currency: to.to_string(), value_date: a.value_date_str() }))
}

/// Build one item: compiled view, derived figures and (optionally) the proven entries.
fn item(r: &Reader, sub: &Subject, at: &pb::ReadAt, with_proofs: bool, currency: &str) -> Result<pb::Item> {
    let as_of = as_of_day(at);
    let version_entry = r
        .entry_by_index(sub.version_at)?
        .ok_or_else(|| Error::internal(format!("entry {} missing", sub.version_at)))?;
    let compiled_st = compiled(statement_of_leaf(&version_entry.leaf)?);
    let (f, tranches) = figures(r, sub, as_of, currency)?;
    let mut proof_at = vec![sub.created_at, sub.version_at];
    proof_at.dedup();
    Ok(pb::Item {
        kind: sub.kind.to_string(),
        id: sub.id.clone(),
        plan_id: sub.plan_id.clone(),
        party_id: sub.party_id.clone(),
        status: status_of(sub, as_of)?.as_str().to_string(),
        index: sub.created_at,
        version_index: sub.version_at,
        updated_index: sub.updated_at,
        version: sub.version,
        compiled: Some(compiled_st),
        figures: Some(f),
        tranches,
        proofs: if with_proofs {
            proof_at.iter().map(|&i| proven(r, i, at.tree_size)).collect::<Result<_>>()?
        } else {
            Vec::new()
        },
    })
}

/// The figures derived for a subject (amounts, tallies, conversion into `currency`, milestones,
/// assessments) and the views of its tranches.
fn figures(r: &Reader, sub: &Subject, as_of: i64, currency: &str) -> Result<(pb::Figures, Vec<pb::TrancheView>)> {
    let mut f = pb::Figures { withdrawn: sub.tally.withdrawn, ..Default::default() };
    let mut tranches = Vec::new();
    let t = &sub.tally;
    match sub.kind {
        book::PLEDGE => {
            let p: ds::PledgeAnnounced = sub.parsed()?;
            let (amount, cur) = money_of(p.amount.as_ref());
            // A pledge without money (in kind without a value, a policy action) counts as zero.
            let a = p.amount.as_ref().map_or(Decimal::ZERO, |m| m.value);
            f.amount = amount;
            f.currency = cur;
            f.committed = s(t.committed);
            f.disbursed = s(t.disbursed);
            f.delivered = s(t.delivered);
            f.restated = s(t.restated);
            f.remaining = s(a.checked_sub(t.committed).unwrap_or_default());
            f.restated_by = t.restated_by.clone();
            f.milestones = milestone_views(r, sub, &p, as_of)?;
            f.converted = convert_money(r, p.amount.as_ref(), currency)?;
        }
        book::COMMITMENT => {
            let c: ds::CommitmentSigned = sub.parsed()?;
            let (amount, cur) = money_of(Some(&c.amount));
            f.amount = amount;
            f.currency = cur;
            f.disbursed = s(t.disbursed);
            f.remaining = s(c.amount.value.checked_sub(t.disbursed).unwrap_or_default());
            f.converted = convert_money(r, Some(&c.amount), currency)?;
            for tr in &c.tranches {
                if let Some(ts) = r.subject(book::TRANCHE, tr.tranche_id.as_str())? {
                    tranches.push(tranche_view(r, &ts)?);
                }
            }
        }
        book::TRANCHE => {
            f.amount = s(t.value);
            f.disbursed = s(t.disbursed);
            f.remaining = s(t.value.checked_sub(t.disbursed).unwrap_or_default());
            tranches.push(tranche_view(r, sub)?);
        }
        book::CONDITION => f.assessments = assessment_views(sub),
        book::TRANSACTION => {
            let x: ds::TransactionRecorded = sub.parsed()?;
            (f.amount, f.currency) = money_of(Some(&x.amount));
            f.confirmed = t.confirmed;
            f.reversed = t.reversed;
            f.converted = convert_money(r, Some(&x.amount), currency)?;
        }
        book::DELIVERY => {
            let d: ds::InkindDelivered = sub.parsed()?;
            (f.amount, f.currency) = money_of(Some(&d.value));
            f.confirmed = t.confirmed;
            f.converted = convert_money(r, Some(&d.value), currency)?;
        }
        book::ATTESTATION => f.covered_indexes = t.covered.clone(),
        _ => {}
    }
    Ok((f, tranches))
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
