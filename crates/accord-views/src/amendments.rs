//! The amendment and correction log (DOMAIN.md §5): every subject amended, withdrawn or (a transaction)
//! reversed, each change with its entry, date, rationale, signers and amounts, and the net change.

use super::context::PlanContext;
use super::*;

pub(super) fn amendments(ctx: &PlanContext<'_>) -> Result<Vec<AmendmentLog>> {
    let r = ctx.r;
    let plan_s = &ctx.plan_s;
    let gov = &ctx.gov;
    let _pledges = &ctx.pledges;
    // Amendment and correction log.
    let mut amendments = Vec::new();
    for kind in
        [book::PLAN, book::GOAL, book::INDICATOR, book::PLEDGE, book::CONDITION, book::COMMITMENT, book::TRANSACTION]
    {
        let subjects = if kind == book::PLAN { std::sync::Arc::new(vec![plan_s.clone()]) } else { ctx.all(kind)? };
        for s in subjects.iter() {
            if s.version <= 1 && !s.tally.withdrawn && !s.tally.reversed {
                continue;
            }
            let mut corrections = Vec::new();
            // The amount before each amendment or withdrawal, starting from the original statement's.
            let mut prev_amount = match entry_statement(r, s.created_at)?.0.body {
                Body::PledgeAnnounced(p) => p.amount.map(|m| m.value.to_string()),
                Body::CommitmentSigned(c) => Some(c.amount.value.to_string()),
                _ => None,
            };
            for h in r.history(kind, &s.id)? {
                // A reversal corrects the transaction it reverses; the pledges and commitment it drew on
                // record it in their history too, but it is not a correction of theirs.
                let reversal = h.action == Action::Reversed && kind == book::TRANSACTION;
                if !(matches!(h.action, Action::Amended | Action::Withdrawn) || reversal) {
                    continue;
                }
                let (st, keyids) = entry_statement(r, h.index)?;
                let rationale = match &st.body {
                    Body::Amended(a) => a.rationale.clone(),
                    Body::Withdrawn(w) => w.rationale.clone(),
                    Body::TransactionReversed(x) => x.rationale.clone(),
                    _ => String::new(),
                };
                let next_amount = match &st.body {
                    Body::Amended(a) => match &a.version {
                        ds::Version::Pledge(p) => p.amount.as_ref().map(|m| m.value.to_string()),
                        ds::Version::Commitment(c) => Some(c.amount.value.to_string()),
                        _ => None,
                    },
                    Body::Withdrawn(_) => prev_amount.as_ref().map(|_| "0".to_string()),
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
                    date: st.effective_date.to_string(),
                    action: h.action.to_string(),
                    rationale,
                    signers: signer_parties(gov, &keyids),
                    old_amount,
                    new_amount,
                });
            }
            let (net, currency) = net_change(r, s)?;
            amendments.push(AmendmentLog {
                kind: kind.to_string(),
                id: s.id.clone(),
                corrections,
                net_change: net,
                currency,
            });
        }
    }

    Ok(amendments)
}
