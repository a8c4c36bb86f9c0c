//! What every view of a plan's report reads, loaded once ([`PlanContext::load`]): the plan, the parties,
//! the effective pledges, the commitments and transactions with their converted amounts, the conditions,
//! the progress reports and what auditors verified of them. Views (one file each) compute from it; none
//! reads a subject another view already read.
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;

use accord_domain::codes::{Boundary, FundingSource, Opinion};
use accord_domain::statement as ds;

use super::{all, d, div, exact_sum, mul, sub, Source, Unconverted};
use crate::{Error, Result};
use accord_domain::book::{self, Subject, SubjectKind};
use accord_domain::money::{Amount, Currency};
use accord_domain::{date, Governance};

/// A commitment with its decoded body and converted amount.
pub(super) struct Commit {
    pub s: Subject,
    pub c: ds::CommitmentSigned,
    pub amount: Amount,
    pub usd: Decimal,
    /// (goal, share of the commitment) from its allocations' pledges' goal shares.
    pub goals: Vec<(String, Decimal)>,
}

/// A transaction with its decoded body (its boundary derived when it states none) and converted amount.
pub(super) struct Txn {
    pub s: Subject,
    pub t: ds::TransactionRecorded,
    pub amount: Amount,
    pub usd: Decimal,
}

/// An effective pledge: (subject, body, amount, amount net of restatements in the reporting currency).
pub(super) type Pledge = (Subject, ds::PledgeAnnounced, Option<Amount>, Decimal);

/// The plan's data, loaded once for every view.
pub(super) struct PlanContext<'a> {
    pub r: &'a dyn Source,
    pub plan_s: Subject,
    pub plan: ds::PlanCreated,
    /// The reporting currency.
    pub cur: Currency,
    pub gov: Governance,
    /// The as-of day (day number) of the checkpoint.
    pub as_of: i64,
    /// Effective pledges (latest version, withdrawals excluded).
    pub pledges: Vec<Pledge>,
    /// Commitments not withdrawn.
    pub commits: Vec<Commit>,
    pub txns: Vec<Txn>,
    pub conditions: Vec<Subject>,
    pub reports: Vec<Subject>,
    pub attestations: Vec<Subject>,
    /// Entry → (opinion, adjustments, attestation entry) of the verified (or verified_with_exceptions)
    /// attestation covering it.
    pub attested: BTreeMap<u64, (String, Vec<ds::Adjustment>, u64)>,
    /// Entry → (attestation entry, opinion) of the latest attestation covering it, whatever the opinion.
    pub opinion_of: BTreeMap<u64, (u64, String)>,
    /// Whether each pledge (by id) is external.
    external_pledge: BTreeMap<String, bool>,
    /// Conversion gaps (DOMAIN.md §7): amounts no recorded rate converts, left out of converted totals.
    gaps: RefCell<Vec<Unconverted>>,
    /// Each (currency, value date) rate, looked up once: a plan has many flows and few rates.
    rates: RefCell<BTreeMap<(Currency, i64), Option<book::Rate>>>,
    /// Every subject of a kind in the plan (withdrawn ones too), read from the source once per report:
    /// the context and the views that list changes (amendments, new money) share one scan.
    scans: RefCell<BTreeMap<SubjectKind, Arc<Vec<Subject>>>>,
}

impl<'a> PlanContext<'a> {
    /// Load the plan `plan_id` as of the checkpoint's date `as_of_date`.
    pub(crate) fn load(r: &'a dyn Source, plan_id: &str, as_of_date: &str) -> Result<Self> {
        let plan_s = r
            .subject(book::PLAN, plan_id)?
            .ok_or_else(|| Error::not_found("plan_id", format!("no plan {plan_id:?}")))?;
        let plan: ds::PlanCreated = plan_s.parsed()?;
        let mut ctx = PlanContext {
            r,
            cur: plan.reporting_currency,
            plan_s,
            plan,
            gov: r.governance()?,
            as_of: date::parse_date(as_of_date).unwrap_or(0),
            pledges: Vec::new(),
            commits: Vec::new(),
            txns: Vec::new(),
            conditions: all(r, book::CONDITION, plan_id)?,
            reports: all(r, book::REPORT, plan_id)?,
            attestations: all(r, book::ATTESTATION, "")?,
            attested: BTreeMap::new(),
            opinion_of: BTreeMap::new(),
            external_pledge: BTreeMap::new(),
            gaps: RefCell::new(Vec::new()),
            rates: RefCell::new(BTreeMap::new()),
            scans: RefCell::new(BTreeMap::new()),
        };
        ctx.load_pledges()?;
        ctx.load_commitments()?;
        ctx.load_transactions()?;
        ctx.load_attestations()?;
        Ok(ctx)
    }

    /// Every subject of `kind` in the plan, withdrawn ones too, in id order: scanned once per report.
    pub(crate) fn all(&self, kind: SubjectKind) -> Result<Arc<Vec<Subject>>> {
        if let Some(v) = self.scans.borrow().get(&kind) {
            return Ok(Arc::clone(v));
        }
        let v = Arc::new(all(self.r, kind, &self.plan.plan_id)?);
        self.scans.borrow_mut().insert(kind, Arc::clone(&v));
        Ok(v)
    }

    fn load_pledges(&mut self) -> Result<()> {
        for s in self.all(book::PLEDGE)?.iter().cloned() {
            if s.tally.withdrawn {
                continue;
            }
            let p: ds::PledgeAnnounced = s.parsed()?;
            let a = p.amount.clone();
            let usd = match &a {
                Some(a) => {
                    let eff = Amount { value: sub(a.value, s.tally.restated), ..a.clone() };
                    self.conv(&eff, s.version_at)?
                }
                None => Decimal::ZERO,
            };
            self.pledges.push((s, p, a, usd));
        }
        self.external_pledge = self
            .pledges
            .iter()
            .map(|(s, p, _, _)| (s.id.clone(), p.funding_source == FundingSource::External))
            .collect();
        Ok(())
    }

    fn load_commitments(&mut self) -> Result<()> {
        let pledge_goals: BTreeMap<String, Vec<(String, Decimal)>> = self
            .pledges
            .iter()
            .map(|(s, p, _, _)| {
                (
                    s.id.clone(),
                    p.goals.iter().map(|g| (g.goal_id.to_string(), div(g.share, Decimal::ONE_HUNDRED))).collect(),
                )
            })
            .collect();
        for s in self.all(book::COMMITMENT)?.iter().cloned() {
            if s.tally.withdrawn {
                continue;
            }
            let c: ds::CommitmentSigned = s.parsed()?;
            let a = c.amount.clone();
            let usd = self.conv(&a, s.version_at)?;
            let value = |al: &ds::PledgeAllocation| al.amount.value;
            let total: Decimal = exact_sum(c.allocations.iter().map(value));
            let mut goals = Vec::new();
            for al in &c.allocations {
                let w = if total.is_zero() { Decimal::ZERO } else { div(value(al), total) };
                for (g, sh) in pledge_goals.get(al.pledge_id.as_str()).cloned().unwrap_or_default() {
                    goals.push((g, mul(w, sh)));
                }
            }
            self.commits.push(Commit { s, c, amount: a, usd, goals });
        }
        Ok(())
    }

    /// A flow's boundary (DOMAIN.md §5, §7): as the transaction states it, or else derived from the plan's
    /// boundary parties (both inside: internal; only the receiver: incoming; only the provider: outgoing).
    fn load_transactions(&mut self) -> Result<()> {
        for s in self.all(book::TRANSACTION)?.iter().cloned() {
            let mut t: ds::TransactionRecorded = s.parsed()?;
            let inside = |p: &str| self.plan.boundary_party_ids.iter().any(|b| *b == p);
            if t.boundary.is_none() && !self.plan.boundary_party_ids.is_empty() {
                let receiver = t.receiver_id.as_deref().unwrap_or_default();
                t.boundary = match (inside(&t.provider_id), inside(receiver)) {
                    (true, true) => Some(Boundary::Internal),
                    (false, true) => Some(Boundary::Incoming),
                    (true, false) => Some(Boundary::Outgoing),
                    (false, false) => None,
                };
            }
            let a = t.amount.clone();
            let usd = self.conv(&a, s.version_at)?;
            self.txns.push(Txn { s, t, amount: a, usd });
        }
        Ok(())
    }

    /// What auditors verified of each entry, and the opinion of the latest attestation covering it.
    fn load_attestations(&mut self) -> Result<()> {
        for a in &self.attestations {
            let body: ds::AttestationIssued = a.parsed()?;
            let opinion = body.opinion.as_str().to_string();
            for idx in &a.tally.covered {
                let e = self.opinion_of.entry(*idx).or_default();
                if a.created_at >= e.0 {
                    *e = (a.created_at, opinion.clone());
                }
                if matches!(body.opinion, Opinion::Verified | Opinion::VerifiedWithExceptions) {
                    self.attested.insert(*idx, (opinion.clone(), body.adjustments.clone(), a.created_at));
                }
            }
        }
        Ok(())
    }

    /// An amount in the reporting currency at its value-date rate. A gap in the rates (no rate recorded,
    /// or a result out of the decimal range) never breaks the report (DOMAIN.md §7): the amount counts as
    /// zero in converted totals and is listed among the unconverted.
    pub(crate) fn conv(&self, a: &Amount, entry: u64) -> Result<Decimal> {
        let rate = if a.currency == self.cur {
            None
        } else {
            let key = (a.currency, a.value_date);
            let known = self.rates.borrow().get(&key).copied();
            match known {
                Some(rate) => rate,
                None => {
                    let rate = book::recorded_rate(self.r, a.currency, self.cur, &a.value_date_str())?;
                    self.rates.borrow_mut().insert(key, rate);
                    rate
                }
            }
        };
        match book::apply_rate(a, self.cur, rate) {
            Ok(v) => Ok(v),
            Err(e) if book::is_conversion_gap(&e) => {
                self.gaps.borrow_mut().push(Unconverted {
                    entry,
                    from: a.currency.to_string(),
                    to: self.cur.to_string(),
                    value_date: a.value_date_str(),
                    amount: d(a.value),
                    reason: if e.refusal().is_some_and(|r| r.kind == accord_domain::RefusalKind::Precondition) {
                        "no recorded rate for the value date".into()
                    } else {
                        "the converted amount leaves the decimal range".into()
                    },
                });
                Ok(Decimal::ZERO)
            }
            Err(e) => Err(e),
        }
    }

    /// The amounts no recorded rate converted, each once, in order.
    pub(crate) fn unconverted(&self) -> Vec<Unconverted> {
        let mut v = self.gaps.borrow().clone();
        v.sort();
        v.dedup();
        v
    }

    /// A party's name ("" when unknown).
    pub(crate) fn name(&self, party: &str) -> String {
        self.gov.parties.get(party).map(|x| x.name.clone()).unwrap_or_default()
    }

    /// Whether a commitment draws on an external pledge.
    pub(crate) fn is_external(&self, c: &Commit) -> bool {
        c.c.allocations.iter().any(|a| self.external_pledge.get(a.pledge_id.as_str()) == Some(&true))
    }

    /// The commitments by id.
    pub(crate) fn commit_by_id(&self) -> BTreeMap<String, &Commit> {
        self.commits.iter().map(|c| (c.s.id.clone(), c)).collect()
    }

    /// Disbursements and reimbursements that count: not reversed, not internal (internal flows are shown,
    /// never added: DOMAIN.md §5 boundaries).
    pub(crate) fn disbursements(&self) -> Vec<&Txn> {
        self.txns
            .iter()
            .filter(|x| {
                x.t.transaction_type.pays_out() && !x.s.tally.reversed && x.t.boundary != Some(Boundary::Internal)
            })
            .collect()
    }

    /// The value an auditor's adjustment gives `item` of a report, when a verified attestation adjusts it.
    pub(crate) fn verified_value(&self, report: &Subject, item: &str) -> Option<String> {
        let (_, adj, _) = self.attested.get(&report.created_at)?;
        adj.iter().find(|x| x.item == item).map(|x| x.verified.to_string())
    }
}

impl Txn {
    /// The receiver's id, "" when the transaction names none.
    pub(crate) fn receiver(&self) -> &str {
        self.t.receiver_id.as_deref().unwrap_or_default()
    }
    /// The commitment's id, "" when none.
    pub(crate) fn commitment(&self) -> &str {
        self.t.commitment_id.as_deref().unwrap_or_default()
    }
    /// Whether the flow is internal to the plan (shown, never added).
    pub(crate) fn is_internal(&self) -> bool {
        self.t.boundary == Some(Boundary::Internal)
    }
    /// The transaction's date, `YYYY-MM-DD`.
    pub(crate) fn date(&self) -> String {
        self.t.date.to_string()
    }
}
