//! One party's `iati-activity`: its identification, participants, geography and sectors, budgets and
//! planned disbursements, conditions; transactions and results are written by their own files.
use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::results::results;
use super::sectors::{recipient_countries, sectors};
use super::xml::Xml;
use super::{transactions, Export, LANG};
use accord_domain::book::Subject;
use accord_domain::codes::ConditionType;
use accord_domain::money::{Amount, Currency};
use accord_domain::statement as ds;

/// One party's part of the plan as the export shows it.
pub(super) struct Activity<'e> {
    pub(super) party: &'e str,
    /// The party's pledges as exported: net of what later pledges restate (DOMAIN.md §7), as total pledged
    /// counts them; a fully superseded pledge is not exported at all.
    pub(super) pledges: Vec<(&'e Subject, &'e ds::PledgeAnnounced, Option<Amount>)>,
    /// The commitments the party signed as provider.
    pub(super) commitments: Vec<&'e (Subject, ds::CommitmentSigned)>,
    /// The currency of its first pledge or commitment with one, else the plan's reporting currency.
    pub(super) default_currency: Currency,
}

impl<'e> Activity<'e> {
    fn new(e: &'e Export, party: &'e str) -> Self {
        let mut pledges: Vec<(&Subject, &ds::PledgeAnnounced, Option<Amount>)> = Vec::new();
        for (s, p) in e.pledges.iter().filter(|(_, p)| p.pledger_id == party) {
            let mut m = p.amount.clone();
            if let Some(m) = m.as_mut().filter(|_| !s.tally.restated.is_zero()) {
                let net = m.value.checked_sub(s.tally.restated).unwrap_or_default();
                if net <= Decimal::ZERO {
                    continue;
                }
                m.value = net.normalize();
            }
            pledges.push((s, p, m));
        }
        let commitments: Vec<&(Subject, ds::CommitmentSigned)> =
            e.commitments.iter().filter(|(_, c)| c.provider_id == party).collect();
        let default_currency = pledges
            .iter()
            .filter_map(|(_, _, m)| m.as_ref())
            .map(|m| m.currency)
            .chain(commitments.iter().map(|(_, c)| c.amount.currency))
            .next()
            .unwrap_or(e.plan.reporting_currency);
        Activity { party, pledges, commitments, default_currency }
    }
}

/// The party's `iati-activity`, in the order of the 2.03 schema's sequence.
pub(super) fn activity(x: &mut Xml, e: &Export, party: &str) {
    let a = Activity::new(e, party);
    header(x, e, &a);
    geography(x, e, &a);
    budgets(x, &a);
    planned_disbursements(x, &a);
    // Transactions: pledges (12), commitments (2), flows (1, 3, 4, 7) each followed by its reversal if
    // reversed, co-financing spend (4).
    transactions::pledges(x, e, &a);
    transactions::commitments(x, &a);
    transactions::flows(x, e, party);
    transactions::co_financing(x, e, party);
    conditions(x, e, party);
    let goal_ids: BTreeSet<String> =
        a.pledges.iter().flat_map(|(_, p, _)| p.goals.iter().map(|g| g.goal_id.to_string())).collect();
    results(x, &goal_ids, &e.goals, &e.indicators, &e.rep.indicators, &e.period_of, &e.gov);
    x.end("iati-activity");
}

/// The activity's start tag and identification: identifier, reporting organisation, title, description,
/// participating organisations (the party as funder, its recipients as implementers), the ledger's own key,
/// status and dates.
fn header(x: &mut Xml, e: &Export, a: &Activity) {
    let party = a.party;
    let name = e.name_of(party);
    let org_type = e.org_type_of(party).unwrap_or_else(|| "10".into());
    let recipients: BTreeSet<String> = a
        .commitments
        .iter()
        .map(|(_, c)| c.recipient_id.to_string())
        .chain(a.pledges.iter().flat_map(|(_, p, _)| p.recipient_ids.iter().map(|r| r.to_string())))
        .filter(|r| r != party)
        .collect();
    let mut attrs = vec![("last-updated-datetime", e.generated.as_str()), ("xml:lang", LANG)];
    attrs.push(("default-currency", a.default_currency.as_str()));
    attrs.push(("hierarchy", "1"));
    x.start("iati-activity", &attrs);
    x.text("iati-identifier", &[], &format!("{}-{}-{}", e.reporter, e.plan_id, party));
    x.narrated(
        "reporting-org",
        &[("ref", &e.reporter), ("type", &e.reporter_type), ("secondary-reporter", "1")],
        &e.reporter_name,
    );
    x.narrated("title", &[], &format!("{} — {}", e.plan.title, name));
    x.narrated(
        "description",
        &[("type", "1")],
        &format!(
            "{}'s contribution to plan {} ({}), exported from a signed, append-only Accord ledger.",
            name, e.plan.plan_id, e.plan.title
        ),
    );
    x.narrated("participating-org", &[("ref", party), ("role", "1"), ("type", &org_type)], &name);
    for rcp in &recipients {
        match e.org_type_of(rcp) {
            Some(t) => x.narrated("participating-org", &[("ref", rcp), ("role", "4"), ("type", &t)], &e.name_of(rcp)),
            None => x.narrated("participating-org", &[("ref", rcp), ("role", "4")], &e.name_of(rcp)),
        }
    }
    // The ledger's own key for the activity (type A1, the reporting organisation's internal identifier).
    x.start("other-identifier", &[("ref", &format!("{}:{party}", e.plan_id)), ("type", "A1")]);
    x.narrated("owner-org", &[("ref", &e.reporter)], &e.reporter_name);
    x.end("other-identifier");
    x.empty("activity-status", &[("code", "2")]);
    x.empty("activity-date", &[("type", "1"), ("iso-date", &e.plan.period.start.to_string())]);
    x.empty("activity-date", &[("type", "3"), ("iso-date", &e.plan.period.end.to_string())]);
}

/// Recipient countries and sectors, with percentages.
fn geography(x: &mut Xml, e: &Export, a: &Activity) {
    let weighted: Vec<(&ds::PledgeAnnounced, Option<Amount>)> =
        a.pledges.iter().map(|(_, p, m)| (*p, m.clone())).collect();
    if let Some(countries) = recipient_countries(a.party, &a.commitments, &weighted, &e.gov) {
        for (code, pct) in countries {
            x.empty("recipient-country", &[("code", &code), ("percentage", &pct.normalize().to_string())]);
        }
    }
    for (vocabulary, code, pct, titles) in sectors(&weighted, &e.goals) {
        let attrs = [("vocabulary", vocabulary), ("code", code.as_str())];
        let pct = pct.normalize().to_string();
        let attrs = [attrs[0], attrs[1], ("percentage", pct.as_str())];
        if matches!(vocabulary, "98" | "99") {
            x.narrated("sector", &attrs, &titles);
        } else {
            x.empty("sector", &attrs);
        }
    }
}

/// Budgets: per usage year (and currency) of the party's commitments, committed (status 2), each period one
/// calendar year.
fn budgets(x: &mut Xml, a: &Activity) {
    let mut budgets: BTreeMap<(u32, String), Decimal> = BTreeMap::new();
    for (_, c) in &a.commitments {
        let currency = c.amount.currency.to_string();
        for u in c.usage_years.iter().filter(|u| u.year > 0) {
            let e = budgets.entry((u.year, currency.clone())).or_default();
            *e = e.checked_add(u.value).unwrap_or(*e);
        }
    }
    for ((year, currency), v) in &budgets {
        x.start("budget", &[("type", "1"), ("status", "2")]);
        let (start, end) = (format!("{year:04}-01-01"), format!("{year:04}-12-31"));
        x.empty("period-start", &[("iso-date", &start)]);
        x.empty("period-end", &[("iso-date", &end)]);
        x.text("value", &[("currency", currency), ("value-date", &start)], &v.normalize().to_string());
        x.end("budget");
    }
}

/// Planned disbursements: per commitment and usage year, provider to recipient.
fn planned_disbursements(x: &mut Xml, a: &Activity) {
    for (_, c) in &a.commitments {
        let currency = c.amount.currency.as_str();
        for u in c.usage_years.iter().filter(|u| u.year > 0) {
            let (start, end) = (format!("{:04}-01-01", u.year), format!("{:04}-12-31", u.year));
            x.start("planned-disbursement", &[("type", "1")]);
            x.empty("period-start", &[("iso-date", &start)]);
            x.empty("period-end", &[("iso-date", &end)]);
            x.text("value", &[("currency", currency), ("value-date", &start)], &u.value.to_string());
            x.empty("provider-org", &[("ref", c.provider_id.as_str())]);
            x.empty("receiver-org", &[("ref", c.recipient_id.as_str())]);
            x.end("planned-disbursement");
        }
    }
}

/// Conditions the party set, and co-financing rules that apply to it.
fn conditions(x: &mut Xml, e: &Export, party: &str) {
    let mut conds = Vec::new();
    for (s, c) in &e.conditions {
        match c.condition_type {
            ConditionType::CoFinancing => {
                let Some(rule) = &c.co_financing else { continue };
                if rule.party_ids.iter().any(|p| p == party) {
                    conds.push((
                        3,
                        format!(
                            "{}: co-financing rule (no IATI condition type): own resources at least {} times the external flows of finance types {} received in each {}. {}",
                            s.id,
                            rule.ratio,
                            if rule.finance_types.is_empty() { "any".to_string() } else { rule.finance_types.join(", ") },
                            rule.period.map_or("year", |p| p.as_str()),
                            c.text
                        ),
                    ));
                }
            }
            kind if c.party_id == party => {
                let code = match kind {
                    ConditionType::Policy => 1,
                    ConditionType::Performance => 2,
                    _ => 3,
                };
                conds.push((code, format!("{}: {}", s.id, c.text)));
            }
            _ => {}
        }
    }
    x.start("conditions", &[("attached", if conds.is_empty() { "0" } else { "1" })]);
    for (code, text) in conds {
        x.narrated("condition", &[("type", &code.to_string())], &text);
    }
    x.end("conditions");
}
