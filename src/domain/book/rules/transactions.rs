//! Transactions: disbursements against commitments and tranches, reversals and corrections (DOMAIN.md §7).

use prost::Message;
use rust_decimal::Decimal;

use super::*;

/// Move a disbursement (positive) or its reversal (negative) through the commitment, its tranche and the
/// pledges it draws on. Pledges get their allocation's share, in the pledge's currency.
pub(super) fn post_disbursement(out: &mut Out<'_>, t: &pb::TransactionRecorded, value: Decimal) -> Result<()> {
    let today = out.ctx.today;
    let mut cs = out.need("commitment_id", COMMITMENT, &t.commitment_id)?;
    let c: pb::CommitmentSigned = cs.decode()?;
    let total = parse_money("amount", c.amount.as_ref())?.value;
    cs.tally.disbursed = money::add("amount.value", cs.tally.disbursed, value)?;
    cs.status = if cs.tally.disbursed >= total { "disbursed".into() } else { "active".into() };
    if !t.tranche_id.is_empty() {
        let mut tr = out.need("tranche_id", TRANCHE, &t.tranche_id)?;
        tr.tally.disbursed = money::add("amount.value", tr.tally.disbursed, value)?;
        out.put(tr, if value > Decimal::ZERO { "disbursed" } else { "reversed" });
    }
    for a in &c.allocations {
        let mut p = out.need("commitment_id", PLEDGE, &a.pledge_id)?;
        let pbody: pb::PledgeAnnounced = p.decode()?;
        let share = money::div("amount.value", dec(a.amount.as_ref().map_or("0", |m| m.value.as_str())), total)?;
        let part = money::mul("amount.value", value, share)?;
        p.tally.disbursed = money::add("amount.value", p.tally.disbursed, part)?;
        p.status = pledge_status(&p, &pbody, today).into();
        out.put(p, if value > Decimal::ZERO { "disbursed" } else { "reversed" });
    }
    out.put(cs, if value > Decimal::ZERO { "disbursed" } else { "reversed" });
    Ok(())
}

pub(super) fn transaction(out: &mut Out<'_>, t: &pb::TransactionRecorded) -> Result<()> {
    let ctx = out.ctx;
    out.fresh("txn_id", TRANSACTION, &t.txn_id)?;
    ctx.party("provider_id", &t.provider_id)?;
    if t.transaction_type != 4 {
        ctx.party("receiver_id", &t.receiver_id)?;
    }
    // The recording party: the receiver for incoming funds, the provider otherwise.
    let (recorder, other) =
        if t.transaction_type == 1 { (&t.receiver_id, &t.provider_id) } else { (&t.provider_id, &t.receiver_id) };
    ctx.signed_by(if t.transaction_type == 1 { "receiver_id" } else { "provider_id" }, recorder, "this transaction")?;
    let amount = parse_money("amount", t.amount.as_ref())?;
    // A transaction records money that moved: never dated after the day it is integrated (IATI Standard
    // Ruleset: transaction-date and value-date ≤ now).
    for (field, day) in [("date", date::parse_date(&t.date)), ("amount.value_date", Some(amount.value_date))] {
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
    let mut plan_id = String::new();
    if !t.commitment_id.is_empty() {
        let cs = out.need("commitment_id", COMMITMENT, &t.commitment_id)?;
        let c: pb::CommitmentSigned = cs.decode()?;
        plan_id = c.plan_id.clone();
        if cs.tally.withdrawn {
            return Err(Error::precondition("commitment_id", format!("commitment {} was withdrawn", t.commitment_id)));
        }
        if t.transaction_type != 4 {
            if t.provider_id != c.provider_id {
                return Err(Error::precondition(
                    "provider_id",
                    format!("commitment {} is provided by {}", t.commitment_id, c.provider_id),
                ));
            }
            if t.receiver_id != c.recipient_id {
                return Err(Error::precondition(
                    "receiver_id",
                    format!("commitment {} is to {}", t.commitment_id, c.recipient_id),
                ));
            }
        }
        let ca = parse_money("amount", c.amount.as_ref())?;
        if amount.currency != ca.currency {
            return Err(Error::invalid(
                "amount.currency",
                format!("is {}, but commitment {} is in {}", amount.currency, t.commitment_id, ca.currency),
            ));
        }
        if matches!(t.transaction_type, 3 | 7) {
            let disbursed = money::add("amount.value", cs.tally.disbursed, amount.value)?;
            if disbursed > ca.value {
                return Err(Error::precondition(
                    "amount.value",
                    format!(
                        "disbursing {} would bring commitment {} to {} of {} (Σ disbursements − reversals ≤ the commitment)",
                        amount.value,
                        t.commitment_id,
                        disbursed,
                        ca.value
                    ),
                ));
            }
            if !c.tranches.is_empty() && t.tranche_id.is_empty() {
                return Err(Error::invalid(
                    "tranche_id",
                    format!("commitment {} has tranches: name the one disbursed", t.commitment_id),
                ));
            }
            if !t.tranche_id.is_empty() {
                let tr = out.need("tranche_id", TRANCHE, &t.tranche_id)?;
                if tr.tally.commitment_id != t.commitment_id {
                    return Err(Error::precondition(
                        "tranche_id",
                        format!("tranche {} belongs to commitment {}", t.tranche_id, tr.tally.commitment_id),
                    ));
                }
                let tranche_disbursed = money::add("amount.value", tr.tally.disbursed, amount.value)?;
                if tranche_disbursed > tr.tally.value {
                    return Err(Error::precondition(
                        "amount.value",
                        format!(
                            "disbursing {} would bring tranche {} to {} of {}",
                            amount.value, t.tranche_id, tranche_disbursed, tr.tally.value
                        ),
                    ));
                }
                let gate = tranche_gate(ctx.view, &tr)?;
                if gate.status == "withheld" || gate.status == "pending" {
                    let (cid, outcome, day) = gate
                        .conditions
                        .iter()
                        .find(|(_, o, _)| o != "met" && o != "waived" && o != "withdrawn")
                        .cloned()
                        .unwrap_or_default();
                    let how = if outcome == "pending" {
                        "not yet assessed".to_string()
                    } else {
                        format!("assessed {outcome} on {day}")
                    };
                    return Err(Error::precondition(
                        "tranche_id",
                        format!(
                            "tranche {} is gated by condition {cid}, {how}: a gated tranche is disbursed only when all its conditions are met or waived",
                            t.tranche_id
                        ),
                    ));
                }
            }
        }
    } else if !t.tranche_id.is_empty() {
        return Err(Error::invalid("tranche_id", "a tranche is disbursed against its commitment: set commitment_id"));
    }
    if !t.corrects.is_empty() {
        correct(out, t)?;
    }
    if matches!(t.transaction_type, 3 | 7) {
        post_disbursement(out, t, amount.value)?;
    }
    let mut s = out.new_subject(TRANSACTION, &t.txn_id, &plan_id, recorder, t.encode_to_vec());
    s.signers = vec![recorder.clone()];
    s.tally.confirmed = !other.is_empty() && ctx.signers.contains(other.as_str());
    s.status = if s.tally.confirmed { "confirmed".into() } else { "recorded".into() };
    out.put(s, "created");
    if !t.commitment_id.is_empty() && !matches!(t.transaction_type, 3 | 7) {
        out.touch(COMMITMENT, &t.commitment_id, "flow");
    }
    Ok(())
}

/// A corrected re-entry (DOMAIN.md §7): it replaces a transaction of the same type that is already reversed
/// and not yet corrected; the original is marked corrected by it.
pub(super) fn correct(out: &mut Out<'_>, t: &pb::TransactionRecorded) -> Result<()> {
    let mut orig = out.need("corrects", TRANSACTION, &t.corrects)?;
    if !orig.tally.reversed {
        return Err(Error::precondition(
            "corrects",
            format!(
                "transaction {} is not reversed: a correction replaces a reversed transaction (reverse it first)",
                t.corrects
            ),
        ));
    }
    if !orig.tally.corrected_by.is_empty() {
        return Err(Error::precondition(
            "corrects",
            format!(
                "transaction {} is already corrected by {}: a transaction is corrected once",
                t.corrects, orig.tally.corrected_by
            ),
        ));
    }
    let o: pb::TransactionRecorded = orig.decode()?;
    if o.transaction_type != t.transaction_type {
        return Err(Error::precondition(
            "transaction_type",
            format!(
                "is {}, but transaction {} that it corrects is of type {}: a correction keeps the type",
                t.transaction_type, t.corrects, o.transaction_type
            ),
        ));
    }
    orig.tally.corrected_by = t.txn_id.clone();
    out.put(orig, "corrected");
    Ok(())
}

pub(super) fn reversal(out: &mut Out<'_>, r: &pb::TransactionReversed) -> Result<()> {
    let mut s = out.need("txn_id", TRANSACTION, &r.txn_id)?;
    if s.tally.reversed {
        return Err(Error::precondition("txn_id", format!("transaction {} is already reversed", r.txn_id)));
    }
    out.ctx.original_signers(&s, "a reversal")?;
    let t: pb::TransactionRecorded = s.decode()?;
    if let Some(m) = r.amount.as_ref() {
        let (given, whole) = (parse_money("amount", Some(m))?, parse_money("amount", t.amount.as_ref())?);
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
    if matches!(t.transaction_type, 3 | 7) {
        let amount = parse_money("amount", t.amount.as_ref())?;
        post_disbursement(out, &t, money::sub("amount.value", Decimal::ZERO, amount.value)?)?;
    }
    s.tally.reversed = true;
    s.status = "reversed".into();
    out.put(s, "reversed");
    Ok(())
}
