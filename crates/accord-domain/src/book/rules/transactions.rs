//! Transactions: disbursements against commitments and tranches, reversals and corrections (DOMAIN.md §7).

use crate::codes::TransactionType;
use crate::ids::{CommitmentId, TrancheId, TxnId};
use rust_decimal::Decimal;

use super::*;

/// Move a disbursement (positive) or its reversal (negative) through the commitment, its tranche and the
/// pledges it draws on. Pledges get their allocation's share, in the pledge's currency.
pub(super) fn post_disbursement(out: &mut Out<'_>, t: &d::TransactionRecorded, value: Decimal) -> Result<()> {
    let today = out.ctx.today;
    let commitment_id = t.commitment_id.as_deref().unwrap_or_default();
    let mut cs = out.need("commitment_id", COMMITMENT, commitment_id)?;
    let c: d::CommitmentSigned = cs.parsed()?;
    let total = c.amount.value;
    cs.tally.disbursed = money::add("amount.value", cs.tally.disbursed, value)?;
    cs.status = if cs.tally.disbursed >= total { SubjectStatus::Disbursed } else { SubjectStatus::Active };
    if let Some(tranche_id) = &t.tranche_id {
        let mut tr = out.need("tranche_id", TRANCHE, tranche_id)?;
        tr.tally.disbursed = money::add("amount.value", tr.tally.disbursed, value)?;
        out.put(tr, if value > Decimal::ZERO { Action::Disbursed } else { Action::Reversed });
    }
    for a in &c.allocations {
        let mut p = out.need("commitment_id", PLEDGE, &a.pledge_id)?;
        let pbody: d::PledgeAnnounced = p.parsed()?;
        let share = money::div("amount.value", a.amount.value, total)?;
        let part = money::mul("amount.value", value, share)?;
        p.tally.disbursed = money::add("amount.value", p.tally.disbursed, part)?;
        p.status = pledge_status(&p, &pbody, today);
        out.put(p, if value > Decimal::ZERO { Action::Disbursed } else { Action::Reversed });
    }
    out.put(cs, if value > Decimal::ZERO { Action::Disbursed } else { Action::Reversed });
    Ok(())
}

pub(super) fn transaction(out: &mut Out<'_>, t: &d::TransactionRecorded) -> Result<()> {
    let ctx = out.ctx;
    out.fresh("txn_id", TRANSACTION, &t.txn_id)?;
    ctx.party("provider_id", &t.provider_id)?;
    let receiver = t.receiver_id.as_deref().unwrap_or_default();
    if t.transaction_type != TransactionType::Expenditure {
        ctx.party("receiver_id", receiver)?;
    }
    // The recording party: the receiver for incoming funds, the provider otherwise.
    let incoming = t.transaction_type == TransactionType::IncomingFunds;
    let (recorder, other) = if incoming { (receiver, &*t.provider_id) } else { (&*t.provider_id, receiver) };
    ctx.signed_by(if incoming { "receiver_id" } else { "provider_id" }, recorder, "this transaction")?;
    let amount = &t.amount;
    check_not_after_today(ctx, t)?;
    let plan_id = match &t.commitment_id {
        Some(commitment_id) => check_against_commitment(out, t, commitment_id, receiver)?,
        None if t.tranche_id.is_some() => {
            return Err(Error::invalid(
                "tranche_id",
                "a tranche is disbursed against its commitment: set commitment_id",
            ))
        }
        None => String::new(),
    };
    if let Some(corrects) = &t.corrects {
        correct(out, t, corrects, &plan_id)?;
    }
    if t.transaction_type.pays_out() {
        post_disbursement(out, t, amount.value)?;
    }
    let mut s = out.new_subject(TRANSACTION, &t.txn_id, &plan_id, recorder);
    s.signers = vec![recorder.to_string()];
    s.tally.confirmed = !other.is_empty() && ctx.signers.contains(other);
    s.status = if s.tally.confirmed { SubjectStatus::Confirmed } else { SubjectStatus::Recorded };
    out.put(s, Action::Created);
    if let Some(commitment_id) = t.commitment_id.as_ref().filter(|_| !t.transaction_type.pays_out()) {
        out.touch(COMMITMENT, commitment_id, Action::Flow);
    }
    Ok(())
}

/// A transaction records money that moved: never dated after the day it is integrated (IATI Standard
/// Ruleset: transaction-date and value-date ≤ now).
fn check_not_after_today(ctx: &Ctx<'_>, t: &d::TransactionRecorded) -> Result<()> {
    for (field, day) in [("date", Some(t.date.days())), ("amount.value_date", Some(t.amount.value_date))] {
        if day.is_some_and(|d| d > ctx.today) {
            return Err(Error::precondition(
                field,
                format!(
                    "{} is after the integration date {}: a transaction records money that has moved",
                    day.map(date::format_date).unwrap_or_default(),
                    date::format_date(ctx.today)
                ),
            ));
        }
    }
    Ok(())
}

/// A transaction against a commitment: the commitment is live, between the same parties (unless an
/// expenditure), in the same currency, and a disbursement fits within it and its tranche. Returns the
/// commitment's plan.
fn check_against_commitment(
    out: &Out<'_>,
    t: &d::TransactionRecorded,
    commitment_id: &CommitmentId,
    receiver: &str,
) -> Result<String> {
    let amount = &t.amount;
    let cs = out.need("commitment_id", COMMITMENT, commitment_id)?;
    let c: d::CommitmentSigned = cs.parsed()?;
    if cs.tally.withdrawn {
        return Err(Error::precondition("commitment_id", format!("commitment {commitment_id} was withdrawn")));
    }
    if t.transaction_type != TransactionType::Expenditure {
        if t.provider_id != c.provider_id {
            return Err(Error::precondition(
                "provider_id",
                format!("commitment {commitment_id} is provided by {}", c.provider_id),
            ));
        }
        if receiver != c.recipient_id.as_str() {
            return Err(Error::precondition(
                "receiver_id",
                format!("commitment {commitment_id} is to {}", c.recipient_id),
            ));
        }
    }
    let ca = &c.amount;
    if amount.currency != ca.currency {
        return Err(Error::invalid(
            "amount.currency",
            format!("is {}, but commitment {commitment_id} is in {}", amount.currency, ca.currency),
        ));
    }
    if t.transaction_type.pays_out() {
        let disbursed = money::add("amount.value", cs.tally.disbursed, amount.value)?;
        if disbursed > ca.value {
            return Err(Error::precondition(
                "amount.value",
                format!(
                    "disbursing {} would bring commitment {} to {} of {} (Σ disbursements − reversals ≤ the commitment)",
                    amount.value,
                    commitment_id,
                    disbursed,
                    ca.value
                ),
            ));
        }
        if !c.tranches.is_empty() && t.tranche_id.is_none() {
            return Err(Error::invalid(
                "tranche_id",
                format!("commitment {commitment_id} has tranches: name the one disbursed"),
            ));
        }
        if let Some(tranche_id) = &t.tranche_id {
            check_tranche_disbursal(out, t, commitment_id, tranche_id)?;
        }
    }
    Ok(c.plan_id.to_string())
}

/// A disbursement from a tranche: the tranche is the commitment's, has room for the amount, and is not
/// gated by a condition that is not yet met or waived.
fn check_tranche_disbursal(
    out: &Out<'_>,
    t: &d::TransactionRecorded,
    commitment_id: &CommitmentId,
    tranche_id: &TrancheId,
) -> Result<()> {
    let amount = &t.amount;
    let tr = out.need("tranche_id", TRANCHE, tranche_id)?;
    if tr.tally.commitment_id != commitment_id.as_str() {
        return Err(Error::precondition(
            "tranche_id",
            format!("tranche {tranche_id} belongs to commitment {}", tr.tally.commitment_id),
        ));
    }
    let tranche_disbursed = money::add("amount.value", tr.tally.disbursed, amount.value)?;
    if tranche_disbursed > tr.tally.value {
        return Err(Error::precondition(
            "amount.value",
            format!(
                "disbursing {} would bring tranche {} to {} of {}",
                amount.value, tranche_id, tranche_disbursed, tr.tally.value
            ),
        ));
    }
    let gate = tranche_gate(out.ctx.view, &tr)?;
    if !gate.status.is_open() {
        let (cid, state) = gate
            .conditions
            .iter()
            .find(|(_, c)| !c.clears())
            .ok_or_else(|| Error::internal(format!("tranche {tranche_id} is {} by no condition", gate.status)))?;
        let how = match state {
            GateCondition::Assessed(outcome, day) => format!("assessed {outcome} on {day}"),
            GateCondition::Pending | GateCondition::Withdrawn => "not yet assessed".to_string(),
        };
        return Err(Error::precondition(
            "tranche_id",
            format!(
                "tranche {tranche_id} is gated by condition {cid}, {how}: a gated tranche is disbursed only when all its conditions are met or waived"
            ),
        ));
    }
    Ok(())
}

/// A corrected re-entry (DOMAIN.md §7): it replaces a transaction of the same type and plan (`plan_id`,
/// the correction's, from its commitment) that is already reversed and not yet corrected; the original is
/// marked corrected by it. Keeping the plan keeps every entry acting on a plan's subjects in that plan
/// (docs/INDEX.md §1.3).
pub(super) fn correct(out: &mut Out<'_>, t: &d::TransactionRecorded, corrects: &TxnId, plan_id: &str) -> Result<()> {
    let mut orig = out.need("corrects", TRANSACTION, corrects)?;
    if !orig.tally.reversed {
        return Err(Error::precondition(
            "corrects",
            format!(
                "transaction {corrects} is not reversed: a correction replaces a reversed transaction (reverse it first)"
            ),
        ));
    }
    if !orig.tally.corrected_by.is_empty() {
        return Err(Error::precondition(
            "corrects",
            format!(
                "transaction {corrects} is already corrected by {}: a transaction is corrected once",
                orig.tally.corrected_by
            ),
        ));
    }
    let o: d::TransactionRecorded = orig.parsed()?;
    if o.transaction_type != t.transaction_type {
        return Err(Error::precondition(
            "transaction_type",
            format!(
                "is {}, but transaction {corrects} that it corrects is of type {}: a correction keeps the type",
                t.transaction_type.code(),
                o.transaction_type.code()
            ),
        ));
    }
    if orig.plan_id != plan_id {
        let plan = |p: &str| if p.is_empty() { "no plan".to_string() } else { format!("plan {p}") };
        return Err(Error::precondition(
            "corrects",
            format!(
                "transaction {corrects} is in {}, this correction in {}: a correction stays in the plan of the transaction it corrects",
                plan(&orig.plan_id),
                plan(plan_id)
            ),
        ));
    }
    orig.tally.corrected_by = t.txn_id.to_string();
    out.put(orig, Action::Corrected);
    Ok(())
}

pub(super) fn reversal(out: &mut Out<'_>, r: &d::TransactionReversed) -> Result<()> {
    let mut s = out.need("txn_id", TRANSACTION, &r.txn_id)?;
    if s.tally.reversed {
        return Err(Error::precondition("txn_id", format!("transaction {} is already reversed", r.txn_id)));
    }
    out.ctx.original_signers(&s, "a reversal")?;
    let t: d::TransactionRecorded = s.parsed()?;
    if let Some(given) = r.amount.as_ref() {
        let whole = &t.amount;
        if given.currency != whole.currency || given.value != whole.value {
            return Err(Error::precondition(
                "amount",
                format!(
                    "is {} {}, but transaction {} is {} {}: a reversal takes back the whole amount",
                    given.value, given.currency, r.txn_id, whole.value, whole.currency
                ),
            ));
        }
    }
    if t.transaction_type.pays_out() {
        post_disbursement(out, &t, money::sub("amount.value", Decimal::ZERO, t.amount.value)?)?;
    }
    s.tally.reversed = true;
    s.status = SubjectStatus::Reversed;
    out.put(s, Action::Reversed);
    Ok(())
}
