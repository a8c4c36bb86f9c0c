//! An activity's `<transaction>`s: pledges (12), commitments (2), flows (1, 3, 4, 7) each followed by its
//! reversal if reversed, and co-financing spend (4).
use rust_decimal::Decimal;

use super::activity::Activity;
use super::xml::Xml;
use super::Export;
use accord_domain::book::Subject;
use accord_domain::codes::{FundingSource, TransactionType};
use accord_domain::money::Amount;
use accord_domain::statement as ds;

struct Tx {
    ref_: String,
    code: u32,
    date: String,
    money: Amount,
    description: String,
    provider: String,
    receiver: String,
    /// Named receivers when there is no single one to reference.
    receiver_names: String,
    finance_type: String,
}

fn transaction(x: &mut Xml, t: &Tx) {
    x.start("transaction", &[("ref", &t.ref_)]);
    x.empty("transaction-type", &[("code", &t.code.to_string())]);
    x.empty("transaction-date", &[("iso-date", &t.date)]);
    x.text(
        "value",
        &[("currency", t.money.currency.as_str()), ("value-date", &t.money.value_date_str())],
        &t.money.value.to_string(),
    );
    if !t.description.is_empty() {
        x.narrated("description", &[], &t.description);
    }
    if !t.provider.is_empty() {
        x.empty("provider-org", &[("ref", &t.provider)]);
    }
    if !t.receiver.is_empty() {
        x.empty("receiver-org", &[("ref", &t.receiver)]);
    } else if !t.receiver_names.is_empty() {
        x.narrated("receiver-org", &[], &t.receiver_names);
    }
    if !t.finance_type.is_empty() {
        x.empty("finance-type", &[("code", &t.finance_type)]);
    }
    x.end("transaction");
}

/// The party's pledges, type 12.
pub(super) fn pledges(x: &mut Xml, e: &Export, a: &Activity) {
    for (s, p, m) in &a.pledges {
        if let Some(tx) = pledge(e, a, s, p, m.clone()) {
            transaction(x, &tx);
        }
    }
}

/// One pledge as a transaction; none when it has no money value and the activity no currency to give it,
/// or no announcement date.
fn pledge(e: &Export, a: &Activity, s: &Subject, p: &ds::PledgeAnnounced, m: Option<Amount>) -> Option<Tx> {
    let party = a.party;
    let mut description = format!("Pledge {} ({}, {})", s.id, p.pledge_kind, p.funding_source);
    // A pledge without a money value (a policy action) is still a pledge: value 0 in the activity's
    // default currency, at its announcement date, its milestones in the description.
    let m = match m {
        Some(m) => m,
        None => {
            let day = p.announced.as_ref().and_then(|a| a.date)?;
            let milestones: Vec<String> =
                p.milestones.iter().map(|m| format!("{} {} (due {})", m.milestone_id, m.title, m.due_date)).collect();
            description.push_str(&format!("; no money value; milestones: {}", milestones.join("; ")));
            Amount { value: Decimal::ZERO, currency: a.default_currency, value_date: day.days() }
        }
    };
    if !s.tally.restated.is_zero() {
        description.push_str(&format!(
            "; net of {} restated by {}",
            s.tally.restated.normalize(),
            s.tally.restated_by.join(", ")
        ));
    }
    for r in &p.restates {
        let a = format!("{} {}", r.amount.value, r.amount.currency);
        description.push_str(&format!("; restates {a} of pledge {}", r.pledge_id));
    }
    let date = p.announced.as_ref().and_then(|a| a.date).map_or_else(|| m.value_date_str(), |d| d.to_string());
    // The intended recipient: one party by reference, several named, or the party itself for its own
    // resources.
    let (receiver, receiver_names) = match p.recipient_ids.as_slice() {
        [one] => (one.to_string(), String::new()),
        [] if p.funding_source == FundingSource::DomesticOwnResources => (party.to_string(), String::new()),
        [] => (String::new(), String::new()),
        many => (
            String::new(),
            format!("Intended recipients: {}", many.iter().map(|r| e.name_of(r)).collect::<Vec<_>>().join(", ")),
        ),
    };
    Some(Tx {
        ref_: s.id.clone(),
        code: 12,
        date,
        money: m,
        description,
        provider: party.to_string(),
        receiver,
        receiver_names,
        finance_type: p.finance_type.clone().unwrap_or_default(),
    })
}

/// The commitments the party signed as provider, type 2.
pub(super) fn commitments(x: &mut Xml, a: &Activity) {
    for (s, c) in &a.commitments {
        transaction(
            x,
            &Tx {
                ref_: s.id.clone(),
                code: 2,
                date: c.signed_date.to_string(),
                money: c.amount.clone(),
                description: format!("Commitment {} to {}", s.id, c.recipient_id),
                provider: c.provider_id.to_string(),
                receiver: c.recipient_id.to_string(),
                receiver_names: String::new(),
                finance_type: c.finance_type.clone().unwrap_or_default(),
            },
        );
    }
}

/// The flows of the party (incoming funds it received, the others it provided), each followed by its
/// reversal when reversed.
pub(super) fn flows(x: &mut Xml, e: &Export, party: &str) {
    for (s, t) in e.transactions.iter().filter(|(_, t)| {
        if t.transaction_type == TransactionType::IncomingFunds {
            t.receiver_id.as_deref() == Some(party)
        } else {
            t.provider_id == party
        }
    }) {
        let commitment_id = t.commitment_id.as_deref().unwrap_or_default();
        let mut description = match &t.tranche_id {
            None => format!("{} against commitment {commitment_id}", s.id),
            Some(tranche) => format!("{} against commitment {commitment_id}, tranche {tranche}", s.id),
        };
        if !t.description.is_empty() {
            description.push_str(&format!(": {}", t.description));
        }
        // DOMAIN.md §7: a corrected re-entry names the reversed transaction it replaces.
        if let Some(corrects) = &t.corrects {
            description.push_str(&format!("; corrects {corrects} (reversed)"));
        }
        let reversal = e.reversals.get(s.id.as_str()).filter(|_| s.tally.reversed);
        if let Some(rev) = reversal {
            description.push_str(&format!("; reversed on {} by {}-reversal", rev.date, s.id));
        }
        let money = t.amount.clone();
        let mut tx = Tx {
            ref_: s.id.clone(),
            code: t.transaction_type.code(),
            date: t.date.to_string(),
            money: money.clone(),
            description,
            provider: t.provider_id.to_string(),
            receiver: t.receiver_id.as_ref().map(|r| r.to_string()).unwrap_or_default(),
            receiver_names: String::new(),
            finance_type: e.finance_of.get(commitment_id).cloned().unwrap_or_default(),
        };
        transaction(x, &tx);
        // A reversal: the same transaction type with the negated amount at the original value date (so
        // any conversion nets to zero), dated when it was reversed, its ref and description naming the
        // original.
        if let Some(rev) = reversal {
            let Some(neg) = Decimal::ZERO.checked_sub(money.value) else { continue };
            tx.ref_ = format!("{}-reversal", s.id);
            tx.date = if rev.date.is_empty() { t.date.to_string() } else { rev.date.clone() };
            tx.money = Amount { value: neg.normalize(), ..money };
            tx.description = format!("Reversal of {} (original transaction ref {}): {}", s.id, s.id, rev.rationale);
            transaction(x, &tx);
        }
    }
}

/// Co-financing from own resources realised in the party's progress reports, type 4.
pub(super) fn co_financing(x: &mut Xml, e: &Export, party: &str) {
    for (s, rep) in e.reports.iter().filter(|(s, _)| s.party_id == party) {
        let Some(m) = rep.co_financing_realised.clone() else { continue };
        transaction(
            x,
            &Tx {
                ref_: format!("{}-co-financing", s.id),
                code: 4,
                date: rep.period.end.to_string(),
                money: m,
                description: format!("Co-financing from own resources reported in {}", s.id),
                provider: party.to_string(),
                receiver: party.to_string(),
                receiver_names: String::new(),
                finance_type: String::new(),
            },
        );
    }
}
