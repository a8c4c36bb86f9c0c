//! The correction log (DOMAIN.md §7): per reversed transaction, the original, its reversal and the
//! corrected re-entry (a later `transaction.recorded` whose `corrects` names it), each with its signers and
//! dates, and the net change the correction made.
use super::{d, entry_statement, signer_parties, sub, CorrectionStep, Source, TxnCorrection};
use crate::{Error, Result};
use accord_domain::book::{self, Subject};
use accord_domain::codes::Action;
use accord_domain::statement::{self as ds, Body};
use accord_domain::Governance;

/// One step read from its entry: the statement's date, signers and rationale.
fn step(
    r: &dyn Source,
    gov: &Governance,
    index: u64,
    name: &str,
    t: &ds::TransactionRecorded,
    negate: bool,
) -> Result<CorrectionStep> {
    let (st, keyids) = entry_statement(r, index)?;
    let rationale = match &st.body {
        Body::TransactionReversed(x) => x.rationale.clone(),
        Body::TransactionRecorded(x) => x.description.clone(),
        _ => String::new(),
    };
    let m = &t.amount;
    let value = m.value;
    Ok(CorrectionStep {
        step: name.into(),
        txn_id: t.txn_id.to_string(),
        entry: index,
        date: st.effective_date.to_string(),
        value_date: m.value_date_str(),
        signers: signer_parties(gov, &keyids),
        amount: d(if negate { sub(rust_decimal::Decimal::ZERO, value) } else { value }),
        currency: m.currency.to_string(),
        rationale,
    })
}

/// The log of every reversed transaction among `txns` (those of one plan), in entry order.
pub(super) fn log(r: &dyn Source, gov: &Governance, txns: &[&Subject]) -> Result<Vec<TxnCorrection>> {
    let mut out = Vec::new();
    for s in txns.iter().filter(|s| s.tally.reversed) {
        let t: ds::TransactionRecorded = s.parsed()?;
        let mut steps = vec![step(r, gov, s.created_at, "original", &t, false)?];
        let reversal =
            r.history(book::TRANSACTION, &s.id)?.into_iter().find(|h| h.action == Action::Reversed).ok_or_else(
                || Error::internal(format!("transaction {} is reversed but has no reversal entry", s.id)),
            )?;
        steps.push(step(r, gov, reversal.index, "reversal", &t, true)?);
        let original = t.amount.clone();
        let mut net = Some(sub(rust_decimal::Decimal::ZERO, original.value));
        if !s.tally.corrected_by.is_empty() {
            let c = r.subject(book::TRANSACTION, &s.tally.corrected_by)?.ok_or_else(|| {
                Error::internal(format!("transaction {} is corrected by a missing {}", s.id, s.tally.corrected_by))
            })?;
            let ct: ds::TransactionRecorded = c.parsed()?;
            let ca = ct.amount.clone();
            net = (ca.currency == original.currency).then(|| sub(ca.value, original.value));
            steps.push(step(r, gov, c.created_at, "correction", &ct, false)?);
        }
        out.push(TxnCorrection {
            txn_id: s.id.clone(),
            transaction_type: t.transaction_type.code(),
            steps,
            corrected_by: s.tally.corrected_by.clone(),
            net_change: net.map(d).unwrap_or_default(),
            currency: original.currency.to_string(),
        });
    }
    Ok(out)
}
