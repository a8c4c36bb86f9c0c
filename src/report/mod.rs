//! Transparency reports (DOMAIN.md §5): a deterministic function of the ledger up to a checkpoint.
//!
//! [`plan_report`] reads the projections inside one read transaction and computes every view; the result's
//! canonical JSON ([`Report::canonical_json`]) is what the server serves and what `accord report verify`
//! recomputes locally from the downloaded log and compares byte for byte. Amounts stay exact decimals in
//! the JSON (normalised strings); percentages are rounded half-to-even to one decimal; renderers
//! ([`render`]) round amounts to cents (banker's rounding) only when presenting.
mod corrections;
mod delivery;
pub mod iati;
mod model;
pub mod ocds;
mod periods;
pub mod render;
pub mod replay;
pub mod tables;

pub use model::*;

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use rust_decimal::Decimal;

use crate::domain::book::{self, Subject};
use crate::domain::money::{self, parse_money, Amount};
use crate::domain::StateView;
use crate::domain::{date, Governance};
use crate::error::{Error, Result};
use crate::pb::{self, statement::Body};
use crate::storage::{EntryRow, HistoryRow, Reader, SubjectFilter};

/// Report format identifier (bumped on any change to the JSON shape or a definition).
pub const FORMAT: &str = "accord.report.v2";

fn d(x: Decimal) -> String {
    x.normalize().to_string()
}

fn pct(num: Decimal, den: Decimal) -> String {
    money::percent(num, den).map(|p| format!("{p:.1}")).unwrap_or_default()
}

#[derive(Debug, Clone, Default)]
struct Sums {
    p: Decimal,
    c: Decimal,
    d: Decimal,
    has_p: bool,
}

impl Sums {
    fn row(&self, key: &str, name: &str, currency: &str) -> FlowRow {
        let (p, c, dd) = (self.p, self.c, self.d);
        FlowRow {
            key: key.into(),
            name: name.into(),
            currency: currency.into(),
            pledged: if self.has_p { d(p) } else { String::new() },
            committed: d(c),
            disbursed: d(dd),
            conversion: if self.has_p { pct(c, p) } else { String::new() },
            fulfilment: if self.has_p { pct(dd, p) } else { String::new() },
            execution: pct(dd, c),
            uncommitted: if self.has_p { d(sub(p, c)) } else { String::new() },
            pipeline: d(sub(c, dd)),
        }
    }
}

/// What a report reads: the projections and the log. Implemented by the SQLite reader (the server) and by
/// the in-memory replay of a downloaded log ([`replay::MemoryBook`], `report verify`); both give the same
/// answers in the same order, so the report is the same byte for byte.
pub trait Source: StateView {
    /// Subjects of a kind in a plan ("" = any plan), in id order.
    fn scan(&self, kind: &str, plan_id: &str) -> Result<Vec<Subject>>;
    fn entry(&self, index: u64) -> Result<Option<EntryRow>>;
    /// Entries that touched a subject, ordered by (index, action).
    fn history(&self, kind: &str, id: &str) -> Result<Vec<HistoryRow>>;
    fn governance(&self) -> Result<Governance>;
}

impl Source for Reader {
    fn scan(&self, kind: &str, plan_id: &str) -> Result<Vec<Subject>> {
        let mut out = Vec::new();
        let f = SubjectFilter { kind: kind.into(), plan_id: plan_id.into(), ..Default::default() };
        self.scan_subjects(&f, |s| {
            out.push(s);
            Ok(true)
        })?;
        Ok(out)
    }
    fn entry(&self, index: u64) -> Result<Option<EntryRow>> {
        self.entry_by_index(index)
    }
    fn history(&self, kind: &str, id: &str) -> Result<Vec<HistoryRow>> {
        Reader::history(self, kind, id)
    }
    fn governance(&self) -> Result<Governance> {
        Reader::governance(self)
    }
}

/// Everything of one kind in the plan (or everywhere, for kinds without a plan).
fn all(r: &dyn Source, kind: &str, plan: &str) -> Result<Vec<Subject>> {
    r.scan(kind, plan)
}

/// The plan's subjects of one kind that are not withdrawn, decoded: what the exports list.
fn standing<T: Message + Default>(r: &dyn Source, kind: &str, plan: &str) -> Result<Vec<(Subject, T)>> {
    r.scan(kind, plan)?.into_iter().filter(|s| !s.tally.withdrawn).map(|s| s.decode().map(|v| (s, v))).collect()
}

/// The party that publishes an export of the plan (IATI's reporting organisation, OCDS's publisher): the
/// first of its signatories with the secretariat role, else any party with that role.
fn publisher(plan: &pb::PlanCreated, gov: &Governance, export: &str) -> Result<String> {
    let is_secretariat = |id: &String| gov.parties.get(id).is_some_and(|p| p.roles.iter().any(|r| r == "secretariat"));
    plan.signatories
        .iter()
        .map(|s| s.party_id.clone())
        .chain(gov.parties.values().map(|p| p.party_id.clone()))
        .find(is_secretariat)
        .ok_or_else(|| {
            Error::precondition(
                "plan_id",
                format!("the {export} export needs a party with the secretariat role to publish it"),
            )
        })
}

fn amount(m: Option<&pb::Money>) -> Result<Amount> {
    parse_money("amount", m)
}

fn year_of(day: &str) -> String {
    day.get(..4).unwrap_or("").to_string()
}

fn integrated_day(r: &dyn Source, index: u64) -> Result<i64> {
    let e = r.entry(index)?.ok_or_else(|| Error::internal(format!("entry {index} missing")))?;
    Ok(date::day_of_ms(e.integrated_at_ms))
}

fn entry_statement(r: &dyn Source, index: u64) -> Result<(pb::Statement, Vec<String>)> {
    let e = r.entry(index)?.ok_or_else(|| Error::internal(format!("entry {index} missing")))?;
    let le = pb::LogEntry::decode(e.leaf.as_slice()).map_err(|e| Error::internal(e.to_string()))?;
    let env = le.envelope.unwrap_or_default();
    let st = pb::Statement::decode(env.payload.as_slice()).map_err(|e| Error::internal(e.to_string()))?;
    Ok((st, env.signatures.iter().map(|s| s.keyid.clone()).collect()))
}

fn median(v: &mut [i64]) -> String {
    if v.is_empty() {
        return String::new();
    }
    v.sort_unstable();
    let mid = v.len() / 2;
    let upper = v.get(mid).copied().map(Decimal::from).unwrap_or_default();
    let m = if v.len() % 2 == 1 {
        upper
    } else {
        let lower = mid.checked_sub(1).and_then(|i| v.get(i)).copied().map(Decimal::from).unwrap_or_default();
        div(add(lower, upper), Decimal::TWO)
    };
    d(m)
}

fn p90(v: &mut [i64]) -> String {
    if v.is_empty() {
        return String::new();
    }
    v.sort_unstable();
    // Nearest-rank percentile.
    let rank = v.len().saturating_mul(90).div_ceil(100).max(1);
    v.get(rank.saturating_sub(1)).map(|x| x.to_string()).unwrap_or_default()
}

/// A commitment with its decoded body and converted amount.
struct Commit {
    s: Subject,
    c: pb::CommitmentSigned,
    amount: Amount,
    usd: Decimal,
    /// (goal, share of the commitment) from its allocations' pledges' goal shares.
    goals: Vec<(String, Decimal)>,
}

struct Txn {
    s: Subject,
    t: pb::TransactionRecorded,
    amount: Amount,
    usd: Decimal,
}

/// Compute a plan's report at the reader's current state, naming the checkpoint `at` (the caller reads
/// both inside one snapshot, or passes the verified checkpoint when recomputing locally).
pub fn plan_report(r: &dyn Source, plan_id: &str, at: &pb::ReadAt) -> Result<Report> {
    let plan_s =
        r.subject(book::PLAN, plan_id)?.ok_or_else(|| Error::not_found("plan_id", format!("no plan {plan_id:?}")))?;
    let plan: pb::PlanCreated = plan_s.decode()?;
    OVERFLOW.with(|o| o.set(false));
    let cur = plan.reporting_currency.clone();
    let gov = r.governance()?;
    let as_of = date::parse_date(&at.as_of_date).unwrap_or(0);
    let name = |p: &str| gov.parties.get(p).map(|x| x.name.clone()).unwrap_or_default();
    // Conversion gaps never break a report (DOMAIN.md §7): an amount no recorded rate converts (or whose
    // conversion leaves the decimal range) is listed in `unconverted` and left out of converted totals.
    let gaps: std::cell::RefCell<Vec<Unconverted>> = std::cell::RefCell::new(Vec::new());
    // Each (currency, value date) rate is looked up once: a plan has many flows and few rates.
    let rates: std::cell::RefCell<BTreeMap<(String, i64), Option<book::Rate>>> = Default::default();
    let conv = |a: &Amount, entry: u64| -> Result<Decimal> {
        let rate = if a.currency == cur {
            None
        } else {
            let key = (a.currency.clone(), a.value_date);
            let known = rates.borrow().get(&key).copied();
            match known {
                Some(rate) => rate,
                None => {
                    let rate = book::recorded_rate(r, &a.currency, &cur, &a.value_date_str())?;
                    rates.borrow_mut().insert(key, rate);
                    rate
                }
            }
        };
        match book::apply_rate(a, &cur, rate) {
            Ok(v) => Ok(v),
            Err(e) if book::is_conversion_gap(&e) => {
                gaps.borrow_mut().push(Unconverted {
                    entry,
                    from: a.currency.clone(),
                    to: cur.clone(),
                    value_date: a.value_date_str(),
                    amount: d(a.value),
                    reason: if e.kind == crate::error::Kind::FailedPrecondition {
                        "no recorded rate for the value date".into()
                    } else {
                        "the converted amount leaves the decimal range".into()
                    },
                });
                Ok(Decimal::ZERO)
            }
            Err(e) => Err(e),
        }
    };

    // Effective pledges (latest version, net of restatements, withdrawals excluded).
    let mut pledges: Vec<(Subject, pb::PledgeAnnounced, Option<Amount>, Decimal)> = Vec::new();
    for s in all(r, book::PLEDGE, plan_id)? {
        let p: pb::PledgeAnnounced = s.decode()?;
        if s.tally.withdrawn {
            continue;
        }
        let a = p.amount.as_ref().map(|m| amount(Some(m))).transpose()?;
        let usd = match &a {
            Some(a) => {
                let eff = Amount { value: sub(a.value, s.tally.restated), ..a.clone() };
                conv(&eff, s.version_at)?
            }
            None => Decimal::ZERO,
        };
        pledges.push((s, p, a, usd));
    }
    let pledge_goals: BTreeMap<String, Vec<(String, Decimal)>> = pledges
        .iter()
        .map(|(s, p, _, _)| {
            (
                s.id.clone(),
                p.goals.iter().map(|g| (g.goal_id.clone(), div(dec(&g.share), Decimal::ONE_HUNDRED))).collect(),
            )
        })
        .collect();
    let external_pledge: BTreeMap<String, bool> =
        pledges.iter().map(|(s, p, _, _)| (s.id.clone(), p.funding_source == "external")).collect();

    let mut commits = Vec::new();
    for s in all(r, book::COMMITMENT, plan_id)? {
        if s.tally.withdrawn {
            continue;
        }
        let c: pb::CommitmentSigned = s.decode()?;
        let a = amount(c.amount.as_ref())?;
        let usd = conv(&a, s.version_at)?;
        let total: Decimal = exact_sum(c.allocations.iter().map(|x| dec(x.amount.as_ref().map_or("0", |m| &m.value))));
        let mut goals = Vec::new();
        for al in &c.allocations {
            let w = if total.is_zero() {
                Decimal::ZERO
            } else {
                div(dec(al.amount.as_ref().map_or("0", |m| &m.value)), total)
            };
            for (g, sh) in pledge_goals.get(&al.pledge_id).cloned().unwrap_or_default() {
                goals.push((g, mul(w, sh)));
            }
        }
        commits.push(Commit { s, c, amount: a, usd, goals });
    }
    let commit_by_id: BTreeMap<String, &Commit> = commits.iter().map(|c| (c.s.id.clone(), c)).collect();
    let is_external_commit =
        |c: &Commit| c.c.allocations.iter().any(|a| external_pledge.get(&a.pledge_id) == Some(&true));

    // A flow's boundary (DOMAIN.md §5, §7): as the transaction states it, or else derived from the plan's
    // boundary parties (both inside: internal; only the receiver: incoming; only the provider: outgoing).
    let inside = |p: &str| plan.boundary_party_ids.iter().any(|b| b == p);
    let mut txns = Vec::new();
    for s in all(r, book::TRANSACTION, plan_id)? {
        let mut t: pb::TransactionRecorded = s.decode()?;
        if t.boundary.is_empty() && !plan.boundary_party_ids.is_empty() {
            t.boundary = match (inside(&t.provider_id), inside(&t.receiver_id)) {
                (true, true) => "internal",
                (false, true) => "incoming",
                (true, false) => "outgoing",
                (false, false) => "",
            }
            .into();
        }
        let a = amount(t.amount.as_ref())?;
        let usd = conv(&a, s.version_at)?;
        txns.push(Txn { s, t, amount: a, usd });
    }
    // Internal flows are shown, never added (DOMAIN.md §5 boundaries).
    let disbursements: Vec<&Txn> = txns
        .iter()
        .filter(|x| matches!(x.t.transaction_type, 3 | 7) && !x.s.tally.reversed && x.t.boundary != "internal")
        .collect();

    // Pledged / committed / disbursed.
    let mut donors: BTreeMap<String, Sums> = BTreeMap::new();
    let mut donor_cur: BTreeMap<String, BTreeMap<String, Sums>> = BTreeMap::new();
    let mut total = Sums { has_p: true, ..Default::default() };
    for (s, p, a, usd) in &pledges {
        if p.funding_source != "external" {
            continue;
        }
        let e = donors.entry(p.pledger_id.clone()).or_default();
        e.p.acc(*usd);
        e.has_p = true;
        total.p.acc(*usd);
        if let Some(a) = a {
            let pc = donor_cur.entry(p.pledger_id.clone()).or_default().entry(a.currency.clone()).or_default();
            pc.p.acc(sub(a.value, s.tally.restated));
            pc.has_p = true;
        }
    }
    for c in commits.iter().filter(|c| is_external_commit(c)) {
        let e = donors.entry(c.c.provider_id.clone()).or_default();
        e.c.acc(c.usd);
        total.c.acc(c.usd);
        donor_cur
            .entry(c.c.provider_id.clone())
            .or_default()
            .entry(c.amount.currency.clone())
            .or_default()
            .c
            .acc(c.amount.value);
    }
    for t in &disbursements {
        let Some(&cm) = commit_by_id.get(&t.t.commitment_id) else { continue };
        if !is_external_commit(cm) {
            continue;
        }
        let e = donors.entry(t.t.provider_id.clone()).or_default();
        e.d.acc(t.usd);
        total.d.acc(t.usd);
        donor_cur
            .entry(t.t.provider_id.clone())
            .or_default()
            .entry(t.amount.currency.clone())
            .or_default()
            .d
            .acc(t.amount.value);
    }
    let by_donor = donors.iter().map(|(k, s)| s.row(k, &name(k), &cur)).collect();
    let mut pledge_currency = Vec::new();
    let mut mixed = Vec::new();
    for (k, by_cur) in &donor_cur {
        if by_cur.len() == 1 {
            if let Some((c, s)) = by_cur.iter().next() {
                pledge_currency.push(s.row(k, &name(k), c));
            }
        } else {
            mixed.push(k.clone());
        }
    }
    let mut goals: BTreeMap<String, Sums> = BTreeMap::new();
    for (_, p, _, usd) in pledges.iter().filter(|x| x.1.funding_source == "external") {
        for g in &p.goals {
            let e = goals.entry(g.goal_id.clone()).or_default();
            e.p.acc(div(mul(*usd, dec(&g.share)), Decimal::ONE_HUNDRED));
            e.has_p = true;
        }
    }
    for c in commits.iter().filter(|c| is_external_commit(c)) {
        for (g, w) in &c.goals {
            goals.entry(g.clone()).or_default().c.acc(mul(c.usd, *w));
        }
    }
    for t in &disbursements {
        let Some(&cm) = commit_by_id.get(&t.t.commitment_id) else { continue };
        if !is_external_commit(cm) {
            continue;
        }
        for (g, w) in &cm.goals {
            goals.entry(g.clone()).or_default().d.acc(mul(t.usd, *w));
        }
    }
    let goal_title = |g: &str| -> String {
        r.subject(book::GOAL, g)
            .ok()
            .flatten()
            .and_then(|s| s.decode::<pb::GoalDefined>().ok())
            .map(|x| x.title)
            .unwrap_or_default()
    };
    let by_goal = goals.iter().map(|(k, s)| s.row(k, &goal_title(k), &cur)).collect();
    let mut recips: BTreeMap<String, Sums> = BTreeMap::new();
    let mut years: BTreeMap<String, Sums> = BTreeMap::new();
    for (_, p, a, usd) in pledges.iter().filter(|x| x.1.funding_source == "external") {
        let y = p
            .announced
            .as_ref()
            .map(|x| year_of(&x.date))
            .filter(|y| !y.is_empty())
            .or_else(|| a.as_ref().map(|a| year_of(&a.value_date_str())))
            .unwrap_or_default();
        let e = years.entry(y).or_default();
        e.p.acc(*usd);
        e.has_p = true;
    }
    for c in commits.iter().filter(|c| is_external_commit(c)) {
        recips.entry(c.c.recipient_id.clone()).or_default().c.acc(c.usd);
        years.entry(year_of(&c.c.signed_date)).or_default().c.acc(c.usd);
    }
    for t in &disbursements {
        let Some(&cm) = commit_by_id.get(&t.t.commitment_id) else { continue };
        if !is_external_commit(cm) {
            continue;
        }
        recips.entry(t.t.receiver_id.clone()).or_default().d.acc(t.usd);
        years.entry(year_of(&t.t.date)).or_default().d.acc(t.usd);
    }
    for y in years.values_mut() {
        y.has_p = true;
    }
    let funding = Funding {
        currency: cur.clone(),
        by_donor,
        total_external: total.row("total_external", "Total external", &cur),
        by_goal,
        by_recipient: recips.iter().map(|(k, s)| s.row(k, &name(k), &cur)).collect(),
        by_year: years.iter().map(|(k, s)| s.row(k, k, &cur)).collect(),
        pledge_currency,
        mixed_currency_donors: mixed,
    };

    // Plan coverage (FTS): incoming flows counted once at their current status.
    let committed_external: Decimal = exact_sum(commits.iter().filter(|c| is_external_commit(c)).map(|c| c.usd));
    let paid = total.d;
    let requirement =
        plan.requirement.as_ref().map(|m| amount(Some(m)).and_then(|a| conv(&a, plan_s.version_at))).transpose()?;
    let funded = add(paid, sub(committed_external, paid).max(Decimal::ZERO));
    let internal_total: Decimal =
        exact_sum(txns.iter().filter(|t| t.t.boundary == "internal" && !t.s.tally.reversed).map(|t| t.usd));
    let internal_flows = txns
        .iter()
        .filter(|t| t.t.boundary == "internal" && !t.s.tally.reversed)
        .map(|t| FlowLine {
            txn_id: t.s.id.clone(),
            transaction_type: t.t.transaction_type,
            date: t.t.date.clone(),
            provider: t.t.provider_id.clone(),
            receiver: t.t.receiver_id.clone(),
            amount: d(t.amount.value),
            currency: t.amount.currency.clone(),
            converted: d(t.usd),
        })
        .collect();
    let coverage = Coverage {
        requirement: requirement.map(d).unwrap_or_default(),
        funded: d(funded),
        paid: d(paid),
        committed_unpaid: d(sub(funded, paid)),
        percent_funded: requirement.map(|r| pct(funded, r)).unwrap_or_default(),
        unmet: requirement.map(|r| d(sub(r, funded))).unwrap_or_default(),
        pledged_beside: d(total.p),
        internal_flows,
        internal_total: d(internal_total),
    };

    // New money and restatements (DOMAIN.md §7): P_new = Σ over effective pledges claiming `new_money` of
    // (amount net of later restatements − the amounts it restates), never below zero per pledge; every
    // restatement listed, those of withdrawn pledges marked withdrawn (they no longer restate anything).
    let mut new_money = Decimal::ZERO;
    let mut all_p = Decimal::ZERO;
    let mut restatements = Vec::new();
    let mut by_pledge = Vec::new();
    let mut pledger_new: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for s in all(r, book::PLEDGE, plan_id)? {
        if !s.tally.withdrawn {
            continue;
        }
        let p: pb::PledgeAnnounced = s.decode()?;
        if p.funding_source != "external" {
            continue;
        }
        for x in &p.restates {
            let a = money::parse_money_or_zero("restates.amount", x.amount.as_ref())?;
            restatements.push(Restated {
                pledge_id: s.id.clone(),
                restates: x.pledge_id.clone(),
                amount: d(a.value),
                currency: a.currency,
                status: "withdrawn".into(),
            });
        }
    }
    for (s, p, _, usd) in &pledges {
        if p.funding_source != "external" {
            continue;
        }
        all_p.acc(*usd);
        let mut restated_here = Decimal::ZERO;
        let mut unconvertible = false;
        for x in &p.restates {
            let a = money::parse_money_or_zero("restates.amount", x.amount.as_ref())?;
            if !a.value.is_zero() {
                // The restated pledge's own amount is listed as unconverted when no rate converts it; a
                // restatement that cannot be converted leaves this pledge no new money (never overstated).
                match book::convert(r, &a, &cur) {
                    Ok(v) => restated_here.acc(v),
                    Err(e) if book::is_conversion_gap(&e) => unconvertible = true,
                    Err(e) => return Err(e),
                }
            }
            restatements.push(Restated {
                pledge_id: s.id.clone(),
                restates: x.pledge_id.clone(),
                amount: d(a.value),
                currency: a.currency,
                status: "effective".into(),
            });
        }
        let mine =
            if p.new_money && !unconvertible { sub(*usd, restated_here).max(Decimal::ZERO) } else { Decimal::ZERO };
        new_money.acc(mine);
        let e = pledger_new.entry(p.pledger_id.clone()).or_default();
        e.0.acc(*usd);
        e.1.acc(mine);
        by_pledge.push(NewMoneyPledge {
            pledge_id: s.id.clone(),
            pledger: p.pledger_id.clone(),
            claims_new_money: p.new_money,
            pledged: d(*usd),
            restated: d(restated_here),
            new_money: d(mine),
            restates: p.restates.iter().map(|x| x.pledge_id.clone()).collect(),
        });
    }
    restatements.sort_by(|a, b| (&a.pledge_id, &a.restates).cmp(&(&b.pledge_id, &b.restates)));
    let by_pledger = pledger_new
        .into_iter()
        .map(|(pledger, (pl, nm))| NewMoneyPledger { pledger, pledged: d(pl), new_money: d(nm), share: pct(nm, pl) })
        .collect();
    let new_money = NewMoney {
        new_money: d(new_money),
        pledged: d(all_p),
        share: pct(new_money, all_p),
        restatements,
        by_pledge,
        by_pledger,
    };

    // Usage years: commitments split by year, each at the commitment's value-date rate.
    let mut usage: BTreeMap<u32, Decimal> = BTreeMap::new();
    for c in commits.iter().filter(|c| is_external_commit(c)) {
        for y in &c.c.usage_years {
            let part = Amount { value: dec(&y.value), ..c.amount.clone() };
            usage.entry(y.year).or_default().acc(conv(&part, c.s.version_at)?);
        }
    }
    let usage_years_total = d(exact_sum(usage.values().copied()));
    let usage_years = usage.into_iter().map(|(year, a)| YearAmount { year, amount: d(a) }).collect();

    // Conditional tranches.
    let conditions = all(r, book::CONDITION, plan_id)?;
    let tranches_all = all(r, book::TRANCHE, plan_id)?;
    let mut gated: BTreeMap<&str, Vec<&Subject>> = BTreeMap::new();
    for t in &tranches_all {
        for c in &t.tally.conditions {
            gated.entry(c.as_str()).or_default().push(t);
        }
    }
    let mut totals: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    let mut cond_views = Vec::new();
    for cs in &conditions {
        let c: pb::ConditionDefined = cs.decode()?;
        if c.condition_type == "co_financing" {
            continue;
        }
        let mut lines = Vec::new();
        let mut gated_by_cur: BTreeMap<String, Decimal> = BTreeMap::new();
        for t in gated.get(cs.id.as_str()).into_iter().flatten() {
            let Some(&cm) = commit_by_id.get(&t.tally.commitment_id) else { continue };
            let gate = book::tranche_gate(r, t)?;
            let own = book::outcome_for(cs, &t.id);
            let evidence = own.and_then(|a| entry_statement(r, a.index).ok()).and_then(|(st, _)| match st.body {
                Some(Body::ConditionAssessed(x)) => Some(hex::encode(x.evidence_sha256)),
                _ => None,
            });
            gated_by_cur.entry(cm.amount.currency.clone()).or_default().acc(t.tally.value);
            totals.entry((gate.status.to_string(), cm.amount.currency.clone())).or_default().acc(t.tally.value);
            lines.push(TrancheLine {
                tranche_id: t.id.clone(),
                commitment_id: cm.s.id.clone(),
                recipient: cm.c.recipient_id.clone(),
                value: d(t.tally.value),
                currency: cm.amount.currency.clone(),
                disbursed: d(t.tally.disbursed),
                status: gate.status.to_string(),
                outcome: own.map(|a| a.outcome.clone()).unwrap_or_else(|| "pending".into()),
                date: own.map(|a| a.date.clone()).unwrap_or_default(),
                evidence_sha256: evidence.unwrap_or_default(),
            });
        }
        let (mut rest, mut rest_cur, mut rest_status) = (String::new(), String::new(), String::new());
        if let Some(stake) = c.amount_at_stake.as_ref().map(|m| amount(Some(m))).transpose()? {
            let left = sub(stake.value, gated_by_cur.get(&stake.currency).copied().unwrap_or_default());
            if left > Decimal::ZERO {
                let status = match cs.status.as_str() {
                    "met" | "waived" => "released",
                    "pending" => "pending",
                    _ => "withheld",
                };
                totals.entry((status.to_string(), stake.currency.clone())).or_default().acc(left);
                rest = d(left);
                rest_cur = stake.currency.clone();
                rest_status = status.into();
            }
        }
        cond_views.push(ConditionView {
            condition_id: cs.id.clone(),
            condition_type: c.condition_type.clone(),
            party: c.party_id.clone(),
            assessor: c.assessor_id.clone(),
            status: cs.status.clone(),
            currency: if rest_cur.is_empty() {
                lines.first().map(|l| l.currency.clone()).unwrap_or_default()
            } else {
                rest_cur
            },
            tranches: lines,
            uncommitted_at_stake: rest,
            uncommitted_status: rest_status,
        });
    }
    let tranches = Tranches {
        conditions: cond_views,
        totals: totals
            .into_iter()
            .map(|((status, currency), a)| StatusTotal { status, currency, amount: d(a) })
            .collect(),
    };

    // Reports and what auditors verified of them.
    let reports = all(r, book::REPORT, plan_id)?;
    let attestations = all(r, book::ATTESTATION, "")?;
    let mut attested: BTreeMap<u64, (String, Vec<pb::Adjustment>, u64)> = BTreeMap::new();
    for a in &attestations {
        let body: pb::AttestationIssued = a.decode()?;
        if !matches!(body.opinion.as_str(), "verified" | "verified_with_exceptions") {
            continue;
        }
        for idx in &a.tally.covered {
            attested.insert(*idx, (body.opinion.clone(), body.adjustments.clone(), a.created_at));
        }
    }
    // The opinion of the latest attestation covering each entry, whatever the opinion.
    let mut opinion_of: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    for a in &attestations {
        let body: pb::AttestationIssued = a.decode()?;
        for idx in &a.tally.covered {
            let e = opinion_of.entry(*idx).or_default();
            if a.created_at >= e.0 {
                *e = (a.created_at, body.opinion.clone());
            }
        }
    }
    let verified_value = |report: &Subject, item: &str| -> Option<String> {
        let (_, adj, _) = attested.get(&report.created_at)?;
        adj.iter().find(|x| x.item == item).map(|x| x.verified.clone())
    };

    // Co-financing tests.
    let mut co_financing = Vec::new();
    for cs in &conditions {
        let c: pb::ConditionDefined = cs.decode()?;
        let Some(rule) = c.co_financing.as_ref() else { continue };
        let ratio = dec(&rule.ratio);
        let mut rows = Vec::new();
        let (mut plan_real, mut plan_x) = (Decimal::ZERO, Decimal::ZERO);
        let mut years: BTreeSet<String> = BTreeSet::new();
        for t in &disbursements {
            if rule.party_ids.contains(&t.t.receiver_id) {
                years.insert(year_of(&t.t.date));
            }
        }
        for rep in &reports {
            if rule.party_ids.contains(&rep.party_id) {
                let b: pb::ProgressReported = rep.decode()?;
                years.insert(year_of(&b.period.unwrap_or_default().end));
            }
        }
        for y in &years {
            for party in &rule.party_ids {
                let grants: Vec<&&Txn> = disbursements
                    .iter()
                    .filter(|t| &t.t.receiver_id == party && &year_of(&t.t.date) == y)
                    .filter(|t| {
                        commit_by_id.get(&t.t.commitment_id).is_some_and(|&cm| {
                            is_external_commit(cm)
                                && (rule.finance_types.is_empty() || rule.finance_types.contains(&cm.c.finance_type))
                        })
                    })
                    .collect();
                let x: Decimal = exact_sum(grants.iter().map(|t| t.usd));
                let mut by_provider: BTreeMap<String, Decimal> = BTreeMap::new();
                for t in &grants {
                    by_provider.entry(t.t.provider_id.clone()).or_default().acc(t.usd);
                }
                let mut realised = Decimal::ZERO;
                let mut all_verified = true;
                let mut any = false;
                let mut row_opinions: BTreeSet<String> = BTreeSet::new();
                for rep in reports.iter().filter(|rep| &rep.party_id == party) {
                    let b: pb::ProgressReported = rep.decode()?;
                    if year_of(&b.period.clone().unwrap_or_default().end) != *y {
                        continue;
                    }
                    let Some(m) = b.co_financing_realised.as_ref() else { continue };
                    let mut a = amount(Some(m))?;
                    any = true;
                    if let Some((_, o)) = opinion_of.get(&rep.created_at) {
                        row_opinions.insert(o.clone());
                    }
                    match verified_value(rep, "co_financing_realised") {
                        Some(v) => a.value = dec(&v),
                        None if attested.contains_key(&rep.created_at) => {}
                        None => all_verified = false,
                    }
                    realised.acc(conv(&a, rep.created_at)?);
                }
                let indicative: Decimal = exact_sum(
                    pledges
                        .iter()
                        .filter(|(_, p, _, _)| &p.pledger_id == party && p.funding_source == "domestic_own_resources")
                        .map(|x| x.3),
                );
                let own_committed: Decimal =
                    exact_sum(commits.iter().filter(|c| &c.c.provider_id == party).map(|c| c.usd));
                let required = mul(ratio, x);
                plan_real.acc(realised);
                plan_x.acc(x);
                rows.push(CoFinancingRow {
                    year: y.clone(),
                    party: party.clone(),
                    external_grants: d(x),
                    external_grants_by_provider: by_provider.into_iter().map(|(k, v)| (k, d(v))).collect(),
                    required: d(required),
                    realised: d(realised),
                    indicative: d(indicative),
                    committed: d(own_committed),
                    realised_over_grants: pct(realised, x),
                    fulfilment: pct(realised, required),
                    realised_over_own_pledge: pct(realised, indicative),
                    result: if realised >= required { "met".into() } else { "notMet".into() },
                    verified: any && all_verified,
                    opinion: row_opinions.into_iter().collect::<Vec<_>>().join(", "),
                });
            }
        }
        co_financing.push(CoFinancing {
            condition_id: cs.id.clone(),
            ratio: d(ratio),
            finance_types: rule.finance_types.clone(),
            rows,
            plan_realised: d(plan_real),
            plan_external_grants: d(plan_x),
            plan_share: pct(plan_real, plan_x),
        });
    }

    // Indicator progress.
    let mut indicators = Vec::new();
    for is in all(r, book::INDICATOR, plan_id)? {
        let x: pb::IndicatorDefined = is.decode()?;
        let base = x.baseline.as_ref().map(|b| dec(&b.value)).unwrap_or_default();
        let mut targets: Vec<(String, Decimal)> =
            x.targets.iter().map(|t| (t.period.clone().unwrap_or_default().end, dec(&t.value))).collect();
        targets.sort();
        let end = targets.last().map(|t| t.1);
        let progress = |actual: Decimal, target: Decimal| pct(sub(actual, base), sub(target, base));
        let mut values = Vec::new();
        for rep in &reports {
            let b: pb::ProgressReported = rep.decode()?;
            let pe = b.period.clone().unwrap_or_default().end;
            for v in b.indicator_values.iter().filter(|v| v.indicator_id == is.id) {
                // DOMAIN.md §7: a clean attestation verifies the value as reported; an adjustment replaces it.
                let verified = match verified_value(rep, &format!("indicator:{}", is.id)) {
                    Some(v) => v,
                    None if attested.contains_key(&rep.created_at) => v.value.clone(),
                    None => String::new(),
                };
                let opinion = opinion_of.get(&rep.created_at).map(|o| o.1.clone()).unwrap_or_default();
                let used = if verified.is_empty() { v.value.clone() } else { verified.clone() };
                let period_t = targets.iter().find(|(e, _)| *e >= pe).map(|t| t.1);
                values.push(IndicatorValueView {
                    report_id: rep.id.clone(),
                    reporter: rep.party_id.clone(),
                    period_end: pe.clone(),
                    reported: v.value.clone(),
                    verified,
                    used: used.clone(),
                    opinion,
                    progress_to_end_target: end.map(|t| progress(dec(&used), t)).unwrap_or_default(),
                    period_target: period_t.map(d).unwrap_or_default(),
                    progress_to_period_target: period_t.map(|t| progress(dec(&used), t)).unwrap_or_default(),
                });
            }
        }
        indicators.push(IndicatorProgress {
            indicator_id: is.id.clone(),
            goal_id: x.goal_id.clone(),
            title: x.title.clone(),
            ascending: x.ascending,
            unit: x.unit.clone(),
            baseline: x.baseline.as_ref().map(|b| b.value.clone()).unwrap_or_default(),
            baseline_year: x.baseline.as_ref().map_or(0, |b| b.year),
            end_target: end.map(d).unwrap_or_default(),
            targets: targets.iter().map(|(e, v)| (e.clone(), d(*v))).collect(),
            values,
        });
    }

    // In-kind and policy delivery.
    let mut delivery = Delivery::default();
    for (s, p, a, _) in &pledges {
        match p.pledge_kind.as_str() {
            "in_kind" => {
                let a = a.clone().unwrap_or(Amount { value: Decimal::ZERO, currency: String::new(), value_date: 0 });
                delivery.in_kind.push(InKindLine {
                    pledge_id: s.id.clone(),
                    pledger: p.pledger_id.clone(),
                    currency: a.currency.clone(),
                    pledged: d(a.value),
                    delivered: d(s.tally.delivered),
                    share: pct(s.tally.delivered, a.value),
                });
            }
            "policy_action" => {
                let original: Option<pb::PledgeAnnounced> = if s.version > 1 {
                    match entry_statement(r, s.created_at)?.0.body {
                        Some(Body::PledgeAnnounced(p)) => Some(p),
                        _ => None,
                    }
                } else {
                    None
                };
                for m in &p.milestones {
                    let st = s.tally.milestones.get(&m.milestone_id);
                    let due = date::parse_date(&m.due_date).unwrap_or(0);
                    let days_late = match st {
                        Some(x) if x.status == "met" => {
                            date::parse_date(&x.date).unwrap_or(due).saturating_sub(due).max(0)
                        }
                        _ => as_of.saturating_sub(due).max(0),
                    };
                    delivery.milestones_total.acc(1);
                    if st.is_some_and(|x| x.status == "met") {
                        delivery.milestones_met.acc(1);
                    }
                    delivery.milestones.push(MilestoneLine {
                        pledge_id: s.id.clone(),
                        milestone_id: m.milestone_id.clone(),
                        title: m.title.clone(),
                        original_due_date: original
                            .as_ref()
                            .and_then(|o| o.milestones.iter().find(|x| x.milestone_id == m.milestone_id))
                            .map_or(m.due_date.clone(), |x| x.due_date.clone()),
                        due_date: m.due_date.clone(),
                        status: st.map_or("pending".into(), |x| x.status.clone()),
                        date: st.map(|x| x.date.clone()).unwrap_or_default(),
                        days_late,
                        quantity_done: st.map(|x| x.quantity_done.clone()).unwrap_or_default(),
                        quantity_target: m.quantity_target.clone(),
                        unit: m.unit.clone(),
                        percent_done: match st {
                            Some(x) if !m.quantity_target.is_empty() && !x.quantity_done.is_empty() => {
                                pct(dec(&x.quantity_done), dec(&m.quantity_target))
                            }
                            _ => String::new(),
                        },
                    });
                }
            }
            _ => {}
        }
    }

    let effective: Vec<(&Subject, &pb::PledgeAnnounced)> = pledges.iter().map(|(s, p, _, _)| (s, p)).collect();
    delivery.in_kind_items = delivery::items(r, plan_id, &effective)?;

    // Timeliness and verification coverage per reporter and per reporting period (DOMAIN.md §7): the
    // reporters owing reports are the plan's expected reporters, every party that filed one, and the
    // recipients of external commitments.
    let mut others: BTreeSet<String> = reports.iter().map(|s| s.party_id.clone()).collect();
    others.extend(commits.iter().filter(|c| is_external_commit(c)).map(|c| c.c.recipient_id.clone()));
    let mut filed = Vec::new();
    for rep in &reports {
        let b: pb::ProgressReported = rep.decode()?;
        let attested_at = attested.get(&rep.created_at).map(|(_, _, i)| integrated_day(r, *i)).transpose()?;
        let (mut reported, mut verified) = (None, None);
        if let Some(m) = b.co_financing_realised.as_ref() {
            let mut a = amount(Some(m))?;
            reported = Some(conv(&a, rep.created_at)?);
            if attested_at.is_some() {
                if let Some(v) = verified_value(rep, "co_financing_realised") {
                    a.value = dec(&v);
                }
                verified = Some(conv(&a, rep.created_at)?);
            }
        }
        filed.push(periods::Filed {
            party: rep.party_id.clone(),
            report_id: rep.id.clone(),
            period_end: date::parse_date(&b.period.unwrap_or_default().end).unwrap_or(0),
            integrated: integrated_day(r, rep.created_at)?,
            attested: attested_at,
            opinion: opinion_of.get(&rep.created_at).map(|o| o.1.clone()).unwrap_or_default(),
            reported,
            verified,
        });
    }
    let (timeliness, period_views) = periods::build(&plan, as_of, &periods::owing(&plan, others), &filed);

    // Verification coverage.
    let mut reported_amount = Decimal::ZERO;
    let mut verified_amount = Decimal::ZERO;
    let mut n_attested = 0u32;
    let mut lags = Vec::new();
    let mut opinions: BTreeMap<String, u32> = BTreeMap::new();
    for a in &attestations {
        let body: pb::AttestationIssued = a.decode()?;
        if a.tally.covered.iter().any(|i| reports.iter().any(|r| r.created_at == *i)) {
            opinions.entry(body.opinion.clone()).or_default().acc(1);
        }
    }
    for rep in &reports {
        let b: pb::ProgressReported = rep.decode()?;
        let attested_here = attested.get(&rep.created_at);
        if let Some((_, _, at_idx)) = attested_here {
            n_attested.acc(1);
            lags.push(integrated_day(r, *at_idx)?.saturating_sub(integrated_day(r, rep.created_at)?));
        }
        if let Some(m) = b.co_financing_realised.as_ref() {
            let usd = conv(&amount(Some(m))?, rep.created_at)?;
            reported_amount.acc(usd);
            if attested_here.is_some() {
                let mut a = amount(Some(m))?;
                if let Some(v) = verified_value(rep, "co_financing_realised") {
                    a.value = dec(&v);
                }
                verified_amount.acc(conv(&a, rep.created_at)?);
            }
        }
    }
    let verification = Verification {
        reported_amount: d(reported_amount),
        verified_amount: d(verified_amount),
        verified_share: pct(verified_amount, reported_amount),
        reports: reports.len() as u32,
        reports_attested: n_attested,
        attested_share: pct(Decimal::from(n_attested), Decimal::from(reports.len() as u32)),
        median_attestation_lag_days: median(&mut lags),
        opinions,
    };

    // Amendment and correction log.
    let mut amendments = Vec::new();
    for kind in
        [book::PLAN, book::GOAL, book::INDICATOR, book::PLEDGE, book::CONDITION, book::COMMITMENT, book::TRANSACTION]
    {
        let subjects = if kind == book::PLAN { vec![plan_s.clone()] } else { all(r, kind, plan_id)? };
        for s in subjects {
            if s.version <= 1 && !s.tally.withdrawn && !s.tally.reversed {
                continue;
            }
            let mut corrections = Vec::new();
            // The amount before each amendment or withdrawal, starting from the original statement's.
            let mut prev_amount = match entry_statement(r, s.created_at)?.0.body {
                Some(Body::PledgeAnnounced(p)) => p.amount.map(|m| m.value),
                Some(Body::CommitmentSigned(c)) => c.amount.map(|m| m.value),
                _ => None,
            };
            for h in r.history(kind, &s.id)? {
                // A reversal corrects the transaction it reverses; the pledges and commitment it drew on
                // record it in their history too, but it is not a correction of theirs.
                let reversal = h.action == "reversed" && kind == book::TRANSACTION;
                if !(matches!(h.action.as_str(), "amended" | "withdrawn") || reversal) {
                    continue;
                }
                let (st, keyids) = entry_statement(r, h.index)?;
                let rationale = match &st.body {
                    Some(Body::Amended(a)) => a.rationale.clone(),
                    Some(Body::Withdrawn(w)) => w.rationale.clone(),
                    Some(Body::TransactionReversed(x)) => x.rationale.clone(),
                    _ => String::new(),
                };
                let next_amount = match &st.body {
                    Some(Body::Amended(a)) => match &a.version {
                        Some(pb::amended::Version::Pledge(p)) => p.amount.as_ref().map(|m| m.value.clone()),
                        Some(pb::amended::Version::Commitment(c)) => c.amount.as_ref().map(|m| m.value.clone()),
                        _ => None,
                    },
                    Some(Body::Withdrawn(_)) => prev_amount.as_ref().map(|_| "0".to_string()),
                    _ => None,
                };
                let (old_amount, new_amount) = match (&prev_amount, &next_amount) {
                    (Some(o), Some(n)) => (o.clone(), n.clone()),
                    _ => (String::new(), String::new()),
                };
                if next_amount.is_some() {
                    prev_amount = next_amount;
                }
                corrections.push(Correction {
                    index: h.index,
                    date: st.effective_date.clone(),
                    action: h.action.clone(),
                    rationale,
                    signers: signer_parties(&gov, &keyids),
                    old_amount,
                    new_amount,
                });
            }
            let (net, currency) = net_change(r, &s)?;
            amendments.push(AmendmentLog {
                kind: kind.into(),
                id: s.id.clone(),
                corrections,
                net_change: net,
                currency,
            });
        }
    }

    let txn_subjects: Vec<&Subject> = txns.iter().map(|t| &t.s).collect();
    let corrections = corrections::log(r, &gov, &txn_subjects)?;

    let mut unconverted = gaps.into_inner();
    unconverted.sort();
    unconverted.dedup();
    Ok(Report {
        format: FORMAT.into(),
        plan: PlanInfo {
            plan_id: plan.plan_id.clone(),
            title: plan.title.clone(),
            period_start: plan.period.as_ref().map(|p| p.start.clone()).unwrap_or_default(),
            period_end: plan.period.as_ref().map(|p| p.end.clone()).unwrap_or_default(),
            reporting_currency: cur.clone(),
        },
        read_at: CheckpointInfo {
            tree_size: at.tree_size,
            root_hash: hex::encode(&at.root_hash),
            as_of_date: at.as_of_date.clone(),
            checkpoint: at.checkpoint.clone(),
        },
        funding,
        coverage,
        new_money,
        usage_years,
        usage_years_total,
        tranches,
        co_financing,
        indicators,
        delivery,
        timeliness,
        periods: period_views,
        verification,
        amendments,
        corrections,
        unconverted,
        overflow: OVERFLOW.with(|o| o.replace(false)),
    })
}

thread_local! {
    /// Set when a figure of the report being computed left the exact decimal range.
    static OVERFLOW: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Exact report arithmetic that never panics (docs/SECURITY.md): a result that would leave the decimal
/// range is clamped and flagged, and the report then says so instead of failing. With amounts bounded at
/// the shape check this takes hundreds of thousands of maximal statements in one plan.
fn clamp(r: Option<Decimal>, positive: bool) -> Decimal {
    r.unwrap_or_else(|| {
        OVERFLOW.with(|o| o.set(true));
        if positive {
            Decimal::MAX
        } else {
            Decimal::MIN
        }
    })
}
fn add(a: Decimal, b: Decimal) -> Decimal {
    clamp(a.checked_add(b), b.is_sign_positive())
}
fn sub(a: Decimal, b: Decimal) -> Decimal {
    clamp(a.checked_sub(b), b.is_sign_negative())
}
fn mul(a: Decimal, b: Decimal) -> Decimal {
    clamp(a.checked_mul(b), a.is_sign_negative() == b.is_sign_negative())
}
fn div(a: Decimal, b: Decimal) -> Decimal {
    if b.is_zero() {
        return Decimal::ZERO;
    }
    clamp(a.checked_div(b), a.is_sign_negative() == b.is_sign_negative())
}

/// `+=` that never panics: exact (clamped and flagged) for decimals, saturating for counters.
trait Acc {
    fn acc(&mut self, x: Self);
    fn acc_sub(&mut self, x: Self);
}
impl Acc for Decimal {
    fn acc(&mut self, x: Self) {
        *self = add(*self, x);
    }
    fn acc_sub(&mut self, x: Self) {
        *self = sub(*self, x);
    }
}
macro_rules! saturating_acc {
    ($($t:ty),*) => {$(
        impl Acc for $t {
            fn acc(&mut self, x: Self) {
                *self = self.saturating_add(x);
            }
            fn acc_sub(&mut self, x: Self) {
                *self = self.saturating_sub(x);
            }
        }
    )*};
}
saturating_acc!(u32, u64, usize, i64);

/// Sum decimals exactly (clamped and flagged like [`add`]).
fn exact_sum(it: impl IntoIterator<Item = Decimal>) -> Decimal {
    it.into_iter().fold(Decimal::ZERO, add)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap_or_default()
}

fn signer_parties(gov: &Governance, keyids: &[String]) -> Vec<String> {
    let mut v: Vec<String> = keyids.iter().filter_map(|k| gov.keys.get(k).map(|k| k.party_id.clone())).collect();
    v.sort();
    v.dedup();
    v
}

/// Current amount − original amount of a money subject.
fn net_change(r: &dyn Source, s: &Subject) -> Result<(String, String)> {
    let current = match s.kind.as_str() {
        book::PLEDGE => s.decode::<pb::PledgeAnnounced>()?.amount,
        book::COMMITMENT => s.decode::<pb::CommitmentSigned>()?.amount,
        _ => None,
    };
    let Some(cur) = current else { return Ok((String::new(), String::new())) };
    let original = match entry_statement(r, s.created_at)?.0.body {
        Some(Body::PledgeAnnounced(p)) => p.amount,
        Some(Body::CommitmentSigned(c)) => c.amount,
        _ => None,
    };
    let a = amount(Some(&cur))?;
    let orig = original.map(|o| amount(Some(&o))).transpose()?.map(|b| b.value).unwrap_or_default();
    // A withdrawal takes the subject to zero.
    let delta = if s.tally.withdrawn { sub(Decimal::ZERO, orig) } else { sub(a.value, orig) };
    Ok((d(delta), a.currency))
}

/// How a third party verifies the checkpoint a report names (shown on HTML pages).
pub const VERIFY_HELP: &str = "<p>To check these figures yourself: <code>accord report verify --plan PLAN --server URL --log-key KEY</code> downloads every entry up to this checkpoint, checks them against its signature and root hash, recomputes the report and compares it byte for byte. The log key is published by the coalition; any RFC 6962 and Ed25519 implementation can check the checkpoint (see docs/FORMAT.md).</p>";

/// The formats `GetReport` serves.
pub const FORMATS: &[&str] = &["json", "markdown", "html", "csv", "iati", "ocds"];

/// Answer a `GetReport` request from the read pool: compute the report at the latest checkpoint inside one
/// snapshot and render the requested format.
pub fn serve_report(readers: &crate::storage::Readers, q: &pb::GetReportRequest) -> Result<pb::GetReportResponse> {
    crate::domain::check_id("plan_id", &q.plan_id)?;
    let format = if q.format.is_empty() { "json" } else { q.format.as_str() };
    if !FORMATS.contains(&format) {
        return Err(Error::invalid("format", format!("{format:?} is not one of {}", FORMATS.join(", "))));
    }
    readers.with(|r| {
        r.snapshot(|r| {
            let at = crate::query::read_at(r)?;
            let rep = plan_report(r, &q.plan_id, &at)?;
            let json = rep.canonical_json();
            let file = |name: String, media: &str, content: String| pb::ReportFile {
                name,
                media_type: media.into(),
                content: content.into_bytes(),
            };
            let files = match format {
                "markdown" => vec![file(format!("{}.md", q.plan_id), "text/markdown", render::markdown(&rep))],
                "html" => vec![file(format!("{}.html", q.plan_id), "text/html", render::html(&rep, VERIFY_HELP))],
                "csv" => render::csv_files(&rep, q.hxl).into_iter().map(|f| file(f.name, "text/csv", f.text)).collect(),
                "iati" => vec![file(
                    format!("{}.iati.xml", q.plan_id),
                    "application/xml",
                    iati::iati_activities(r, &rep, &at.as_of_date)?,
                )],
                "ocds" => vec![file(
                    format!("{}.ocds.json", q.plan_id),
                    "application/json",
                    ocds::release_package(r, &rep, &at)?,
                )],
                _ => Vec::new(),
            };
            Ok(pb::GetReportResponse { read_at: Some(at), canonical_json: json, files })
        })
    })
}

/// Recompute a plan's report from entries already checked against the signed checkpoint `at`: replay them
/// in memory (every signature and rule re-checked, signatures in parallel) and compute the report the way
/// the server does.
pub fn recompute(
    origin: &str,
    entries: Vec<EntryRow>,
    plan_id: &str,
    at: &pb::ReadAt,
    progress: impl FnMut(u64),
) -> Result<Report> {
    let mut at = at.clone();
    at.as_of_date = entries.last().map(|e| date::format_date(date::day_of_ms(e.integrated_at_ms))).unwrap_or_default();
    let book = replay::MemoryBook::replay(origin, entries, progress)?;
    plan_report(&book, plan_id, &at)
}

/// Field-by-field differences between two JSON documents (`path: expected → found`).
pub fn diff_json(expected: &str, found: &str) -> Vec<String> {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value as V;
        match (a, b) {
            (V::Object(x), V::Object(y)) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    walk(&p, x.get(k).unwrap_or(&V::Null), y.get(k).unwrap_or(&V::Null), out);
                }
            }
            (V::Array(x), V::Array(y)) => {
                for i in 0..x.len().max(y.len()) {
                    walk(&format!("{path}[{i}]"), x.get(i).unwrap_or(&V::Null), y.get(i).unwrap_or(&V::Null), out);
                }
            }
            _ if a != b => out.push(format!("{path}: {a} → {b}")),
            _ => {}
        }
    }
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.to_string()));
    let mut out = Vec::new();
    walk("", &parse(expected), &parse(found), &mut out);
    out
}
