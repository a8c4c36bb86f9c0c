//! Read models of the coalition queries (the wire's `CoalitionService`): which subjects a list request
//! matches ([`ListFilter`]), the status a reader is shown on an as-of day ([`status_of`]), and the figures
//! derived for one subject ([`figures`]: amounts and tallies, conversion into a requested currency,
//! milestones, assessments, tranche gates). Typed throughout; the server maps them to protobuf and adds
//! what only the log has (compiled statements, inclusion proofs).
use rust_decimal::Decimal;

use accord_domain::book::{self, GateCondition, GateStatus, Subject, SubjectKind, SubjectStatus};
use accord_domain::codes::{MilestoneStatus, PledgeKind, TransactionType};
use accord_domain::date::Day;
use accord_domain::money::{Amount, Currency};
use accord_domain::statement::{self as ds, Body};

use crate::{Error, Result, Source};

/// The filters of a list request, each parsed once at the edge; `None` is "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// The status shown ([`status_of`]).
    pub status: Option<SubjectStatus>,
    /// The subject's own day ([`subject_date`]) is on or after this one.
    pub from_date: Option<Day>,
    /// The subject's own day is on or before this one.
    pub to_date: Option<Day>,
    /// Pledges that share in this goal; indicators of this goal.
    pub goal_id: Option<String>,
    /// Pledges of this kind.
    pub pledge_kind: Option<PledgeKind>,
    /// Transactions and tranches of this commitment.
    pub commitment_id: Option<String>,
    /// Transactions of this type.
    pub transaction_type: Option<TransactionType>,
    /// Commitments and transactions received by this party.
    pub recipient_id: Option<String>,
}

impl ListFilter {
    /// The filters set, by their request field names.
    fn set(&self) -> [(&'static str, bool); 7] {
        [
            ("goal_id", self.goal_id.is_some()),
            ("pledge_kind", self.pledge_kind.is_some()),
            ("from_date", self.from_date.is_some()),
            ("to_date", self.to_date.is_some()),
            ("commitment_id", self.commitment_id.is_some()),
            ("transaction_type", self.transaction_type.is_some()),
            ("recipient_id", self.recipient_id.is_some()),
        ]
    }

    /// Refuse a filter that subjects of `kind` do not have (INVALID_ARGUMENT naming it), so a filter on the
    /// wrong kind never silently matches everything. The status filter applies to every kind.
    pub fn check(&self, kind: SubjectKind) -> Result<()> {
        let allowed: &[&str] = match kind {
            book::PLEDGE => &["goal_id", "pledge_kind", "from_date", "to_date"],
            book::INDICATOR => &["goal_id"],
            book::COMMITMENT => &["recipient_id", "from_date", "to_date"],
            book::TRANSACTION => &["commitment_id", "transaction_type", "recipient_id", "from_date", "to_date"],
            book::TRANCHE => &["commitment_id"],
            _ => &[],
        };
        match self.set().into_iter().find(|(name, on)| *on && !allowed.contains(name)) {
            Some((name, _)) => Err(Error::invalid(name, format!("is not a filter of {kind} queries"))),
            None => Ok(()),
        }
    }

    /// Whether subject `s` passes every filter set, on the as-of day `as_of` (days since the epoch).
    pub fn matches(&self, s: &Subject, as_of: i64) -> Result<bool> {
        if let Some(want) = self.status {
            if status_of(s, as_of)? != want {
                return Ok(false);
            }
        }
        if self.from_date.is_some() || self.to_date.is_some() {
            let Some(day) = subject_date(s)? else { return Ok(false) };
            if self.from_date.is_some_and(|from| day < from) || self.to_date.is_some_and(|to| day > to) {
                return Ok(false);
            }
        }
        let same = |want: &Option<String>, is: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == is);
        Ok(match s.kind {
            book::PLEDGE => {
                let p = s.body_as::<ds::PledgeAnnounced>()?;
                self.goal_id.as_deref().is_none_or(|g| p.goals.iter().any(|x| x.goal_id == g))
                    && self.pledge_kind.is_none_or(|k| p.pledge_kind == k)
            }
            book::INDICATOR => same(&self.goal_id, Some(s.body_as::<ds::IndicatorDefined>()?.goal_id.as_str())),
            book::COMMITMENT => {
                same(&self.recipient_id, Some(s.body_as::<ds::CommitmentSigned>()?.recipient_id.as_str()))
            }
            book::TRANSACTION => {
                let t = s.body_as::<ds::TransactionRecorded>()?;
                same(&self.commitment_id, t.commitment_id.as_deref())
                    && self.transaction_type.is_none_or(|x| t.transaction_type == x)
                    && same(&self.recipient_id, t.receiver_id.as_deref())
            }
            book::TRANCHE => same(&self.commitment_id, Some(s.tally.commitment_id.as_str())),
            _ => true,
        })
    }
}

/// The subject's own day for range filters: a pledge's announcement, a commitment's signature, a
/// transaction's date; `None` for other kinds and for a pledge announced without a date.
pub fn subject_date(s: &Subject) -> Result<Option<Day>> {
    Ok(match s.kind {
        book::PLEDGE => s.body_as::<ds::PledgeAnnounced>()?.announced.as_ref().and_then(|a| a.date),
        book::COMMITMENT => Some(s.body_as::<ds::CommitmentSigned>()?.signed_date),
        book::TRANSACTION => Some(s.body_as::<ds::TransactionRecorded>()?.date),
        _ => None,
    })
}

/// The status a reader is shown on the as-of day: a pledge's lapse depends on that day
/// ([`book::pledge_status`]); every other status is as stored.
pub fn status_of(s: &Subject, as_of: i64) -> Result<SubjectStatus> {
    if s.kind == book::PLEDGE {
        return Ok(book::pledge_status(s, s.body_as::<ds::PledgeAnnounced>()?, as_of));
    }
    Ok(s.status)
}

/// The figures derived for one subject on the as-of day. Amounts are exact, in the subject's own currency;
/// zero means none (the wire leaves such a field empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// The subject's own amount as written (a pledge's, a commitment's, a transaction's, a delivery's
    /// value), or a tranche's value normalised; `None` when it has none.
    pub amount: Option<Decimal>,
    /// The currency of `amount` (none for tranches, which are in their commitment's).
    pub currency: Option<Currency>,
    /// Committed against a pledge.
    pub committed: Decimal,
    /// Disbursed against a pledge, commitment or tranche.
    pub disbursed: Decimal,
    /// Delivered in kind against a pledge.
    pub delivered: Decimal,
    /// Part of a pledge restated by later pledges.
    pub restated: Decimal,
    /// What is left: a pledge's amount less committed, a commitment's or tranche's less disbursed (zero
    /// when the subtraction would leave the decimal range).
    pub remaining: Decimal,
    /// The pledges that restate this one.
    pub restated_by: Vec<String>,
    /// A policy pledge's milestones.
    pub milestones: Vec<MilestoneView>,
    /// The amount in the requested currency, when one was asked for and a recorded rate converts it.
    pub converted: Option<Converted>,
    /// A condition's assessments.
    pub assessments: Vec<AssessmentView>,
    /// A transaction or delivery confirmed by its recipient.
    pub confirmed: bool,
    /// A transaction reversed.
    pub reversed: bool,
    /// Withdrawn.
    pub withdrawn: bool,
    /// The entries an attestation covers.
    pub covered: Vec<u64>,
}

/// An amount converted at its value date's recorded rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converted {
    /// The exact converted value.
    pub value: Decimal,
    /// The currency asked for.
    pub currency: Currency,
    /// The value date whose rate converted it (days since the epoch, as [`Amount::value_date`]).
    pub value_date: i64,
}

/// A policy milestone as the reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilestoneView {
    /// Its id.
    pub milestone_id: String,
    /// Its title.
    pub title: String,
    /// Due day of the current version.
    pub due_date: Day,
    /// Due day as first pledged (the same unless an amendment moved it).
    pub original_due_date: Day,
    /// As last updated; `None` while no update was recorded (shown as `pending`).
    pub status: Option<MilestoneStatus>,
    /// Day of the last update.
    pub date: Option<Day>,
    /// Quantity done so far, as written (empty when not given).
    pub quantity_done: String,
    /// Days past due: until the day it was met, or until the as-of day while it is not; 0 when on time.
    pub days_late: i64,
}

/// Where one condition stands, for one tranche or for every tranche it gates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentView {
    /// The condition.
    pub condition_id: String,
    /// The tranche ("" = every tranche the condition gates).
    pub tranche_id: String,
    /// Withdrawn, pending, or assessed with an outcome and its day.
    pub state: GateCondition,
    /// The entry that assessed it (0 when not assessed).
    pub index: u64,
}

/// A tranche and its gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrancheView {
    /// Its id.
    pub tranche_id: String,
    /// The commitment it belongs to.
    pub commitment_id: String,
    /// Its value, in the commitment's currency.
    pub value: Decimal,
    /// Disbursed against it.
    pub disbursed: Decimal,
    /// How it stands against its conditions.
    pub status: GateStatus,
    /// Each gating condition.
    pub conditions: Vec<AssessmentView>,
    /// The entry that created it.
    pub index: u64,
}

/// The figures of subject `sub` on the as-of day (`as_of`, days since the epoch), its amount converted
/// into `currency` when one is asked for, and the views of its tranches (a commitment's, or a tranche's
/// own). A missing rate leaves the amount unconverted; it never fails the query.
pub fn figures(
    src: &dyn Source,
    sub: &Subject,
    as_of: i64,
    currency: Option<Currency>,
) -> Result<(Figures, Vec<TrancheView>)> {
    let t = &sub.tally;
    let mut f = Figures { withdrawn: t.withdrawn, ..Figures::default() };
    let mut tranches = Vec::new();
    let money = |f: &mut Figures, a: Option<&Amount>| -> Result<()> {
        f.amount = a.map(|a| a.value);
        f.currency = a.map(|a| a.currency);
        f.converted = match (a, currency) {
            (Some(a), Some(to)) => convert(src, a, to)?,
            _ => None,
        };
        Ok(())
    };
    match sub.kind {
        book::PLEDGE => {
            let p = sub.body_as::<ds::PledgeAnnounced>()?;
            money(&mut f, p.amount.as_ref())?;
            // A pledge without money (in kind without a value, a policy action) counts as zero.
            let a = p.amount.as_ref().map_or(Decimal::ZERO, |m| m.value);
            (f.committed, f.disbursed, f.delivered, f.restated) = (t.committed, t.disbursed, t.delivered, t.restated);
            f.remaining = a.checked_sub(t.committed).unwrap_or_default();
            f.restated_by.clone_from(&t.restated_by);
            f.milestones = milestones(src, sub, p, as_of)?;
        }
        book::COMMITMENT => {
            let c = sub.body_as::<ds::CommitmentSigned>()?;
            money(&mut f, Some(&c.amount))?;
            f.disbursed = t.disbursed;
            f.remaining = c.amount.value.checked_sub(t.disbursed).unwrap_or_default();
            for tr in &c.tranches {
                if let Some(ts) = src.subject(book::TRANCHE, tr.tranche_id.as_str())? {
                    tranches.push(tranche_view(src, &ts)?);
                }
            }
        }
        book::TRANCHE => {
            f.amount = Some(t.value.normalize()).filter(|v| !v.is_zero());
            f.disbursed = t.disbursed;
            f.remaining = t.value.checked_sub(t.disbursed).unwrap_or_default();
            tranches.push(tranche_view(src, sub)?);
        }
        book::CONDITION => f.assessments = assessments(sub),
        book::TRANSACTION => {
            money(&mut f, Some(&sub.body_as::<ds::TransactionRecorded>()?.amount))?;
            (f.confirmed, f.reversed) = (t.confirmed, t.reversed);
        }
        book::DELIVERY => {
            money(&mut f, Some(&sub.body_as::<ds::InkindDelivered>()?.value))?;
            f.confirmed = t.confirmed;
        }
        book::ATTESTATION => f.covered.clone_from(&t.covered),
        _ => {}
    }
    Ok((f, tranches))
}

/// `a` in `to` at its value date's recorded rate; `None` when no rate converts it (or the result leaves the
/// decimal range).
fn convert(src: &dyn Source, a: &Amount, to: Currency) -> Result<Option<Converted>> {
    match book::convert(src, a, to) {
        Ok(value) => Ok(Some(Converted { value, currency: to, value_date: a.value_date })),
        Err(e) if book::is_conversion_gap(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A condition's own assessments (by tranche, "" for condition-wide).
fn assessments(c: &Subject) -> Vec<AssessmentView> {
    let view = |(t, a): (&String, &book::Assessment)| AssessmentView {
        condition_id: c.id.clone(),
        tranche_id: t.clone(),
        state: GateCondition::Assessed(a.outcome, a.date),
        index: a.index,
    };
    c.tally.outcomes.iter().map(view).collect()
}

/// A tranche with its gate and where each gating condition stands.
fn tranche_view(src: &dyn Source, t: &Subject) -> Result<TrancheView> {
    let gate = book::tranche_gate(src, t)?;
    let mut conditions = Vec::new();
    for (cid, state) in gate.conditions {
        // A condition not assessed for this tranche yet has no assessing entry (index 0); a failed read is
        // an error, not a missing assessment.
        let condition = src.subject(book::CONDITION, &cid)?;
        let index = condition.and_then(|c| book::outcome_for(&c, &t.id).map(|a| a.index)).unwrap_or_default();
        conditions.push(AssessmentView { condition_id: cid, tranche_id: t.id.clone(), state, index });
    }
    Ok(TrancheView {
        tranche_id: t.id.clone(),
        commitment_id: t.tally.commitment_id.clone(),
        value: t.tally.value,
        disbursed: t.tally.disbursed,
        status: gate.status,
        conditions,
        index: t.created_at,
    })
}

/// A policy pledge's milestones: current and original due days, status, days late.
fn milestones(src: &dyn Source, s: &Subject, p: &ds::PledgeAnnounced, as_of: i64) -> Result<Vec<MilestoneView>> {
    let original = if s.version > 1 {
        match src.statement(s.created_at)? {
            Some((ds::Statement { body: Body::PledgeAnnounced(p), .. }, _)) => Some(p),
            _ => None,
        }
    } else {
        None
    };
    let view = |m: &ds::PolicyMilestone| {
        let first = original.as_ref().and_then(|o| o.milestones.iter().find(|x| x.milestone_id == m.milestone_id));
        let st = s.tally.milestones.get(m.milestone_id.as_str());
        let due = m.due_date.days();
        let days_late = match st {
            Some(x) if x.status == MilestoneStatus::Met => x.date.days().saturating_sub(due).max(0),
            _ => as_of.saturating_sub(due).max(0),
        };
        MilestoneView {
            milestone_id: m.milestone_id.to_string(),
            title: m.title.clone(),
            due_date: m.due_date,
            original_due_date: first.map_or(m.due_date, |x| x.due_date),
            status: st.map(|x| x.status),
            date: st.map(|x| x.date),
            quantity_done: st.map(|x| x.quantity_done.clone()).unwrap_or_default(),
            days_late,
        }
    };
    Ok(p.milestones.iter().map(view).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_the_kind_does_not_have_is_refused_by_name() {
        let f = ListFilter { transaction_type: Some(TransactionType::Disbursement), ..ListFilter::default() };
        let e = f.check(book::PLEDGE).unwrap_err();
        assert_eq!(e.to_string(), "transaction_type: is not a filter of pledge queries");
        assert!(f.check(book::TRANSACTION).is_ok());
        let f = ListFilter { status: Some(SubjectStatus::Active), ..ListFilter::default() };
        assert!(book::SubjectKind::ALL.iter().all(|k| f.check(*k).is_ok()), "status filters every kind");
    }

    #[test]
    fn tranches_match_on_their_commitment_and_stored_status() {
        let mut t = Subject::new(book::TRANCHE, "T1");
        t.tally.commitment_id = "C1".into();
        let by = |c: &str| ListFilter { commitment_id: Some(c.into()), ..ListFilter::default() };
        assert!(by("C1").matches(&t, 0).unwrap());
        assert!(!by("C2").matches(&t, 0).unwrap());
        assert!(ListFilter::default().matches(&t, 0).unwrap());
        let status = |s| ListFilter { status: Some(s), ..ListFilter::default() };
        assert!(status(SubjectStatus::Active).matches(&t, 0).unwrap());
        assert!(!status(SubjectStatus::Withdrawn).matches(&t, 0).unwrap());
        // A range filter needs the subject's own day; a tranche has none, so it never matches one.
        let from = ListFilter { from_date: Day::from_days(0), ..ListFilter::default() };
        assert!(!from.matches(&t, 0).unwrap());
    }
}
