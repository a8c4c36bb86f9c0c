//! Where an activity's money goes: its sectors (goal classifications weighted by pledge) and its recipient
//! countries, each with percentages that sum to exactly 100 as the Standard Ruleset requires.
use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::{Decimal, RoundingStrategy};

use super::sum;
use accord_domain::book::Subject;
use accord_domain::codes::{FundingSource, Vocabulary};
use accord_domain::money::Amount;
use accord_domain::statement as ds;
use accord_domain::Governance;

/// The IATI sector vocabulary of a goal classification's vocabulary: `dac5` → 1 (OECD DAC CRS purpose code),
/// `sdg_target` → 8 (SDG target), `plan` → 99 (reporting organisation: the plan's own codes).
fn sector_vocabulary(v: Vocabulary) -> &'static str {
    match v {
        Vocabulary::Dac5 => "1",
        Vocabulary::SdgTarget => "8",
        Vocabulary::Plan => "99",
    }
}

/// Percentages of `weights` (each ≥ 0) to two decimals that sum to exactly 100, as the Standard Ruleset's
/// `sum` and `strict_sum` require: each share rounded down, the remainder added to the largest (the first of
/// equals). Empty when the weights sum to zero.
fn percentages(weights: &[Decimal]) -> Vec<Decimal> {
    let total = sum(weights.iter().copied());
    if total <= Decimal::ZERO {
        return Vec::new();
    }
    let mut out: Vec<Decimal> = weights
        .iter()
        .map(|w| {
            w.checked_mul(Decimal::ONE_HUNDRED)
                .and_then(|x| x.checked_div(total))
                .unwrap_or_default()
                .round_dp_with_strategy(2, RoundingStrategy::ToZero)
        })
        .collect();
    let rest = Decimal::ONE_HUNDRED.checked_sub(sum(out.iter().copied())).unwrap_or_default();
    let largest = weights.iter().enumerate().fold(None::<(usize, Decimal)>, |best, (i, w)| match best {
        Some((_, b)) if b >= *w => best,
        _ => Some((i, *w)),
    });
    if let Some(x) = largest.and_then(|(i, _)| out.get_mut(i)) {
        *x = x.checked_add(rest).unwrap_or(*x);
    }
    out
}

/// Activity-level sectors (vocabulary, code, percentage, narrative): the goal classifications of the
/// activity's pledges, each pledge weighted by its amount as exported (in its own currency when all the
/// party's pledges share one; otherwise, and when no pledge has an amount, each pledge equally), each goal by
/// the pledge's share in it, each code by its share in the goal (equal shares when the goal gives none); and
/// the goals themselves under vocabulary 98 (reporting organisation 2), so that every activity funding a goal
/// has a sector even when its goals carry no classification. Percentages are per vocabulary and sum to 100
/// in each.
pub(super) fn sectors(
    pledges: &[(&ds::PledgeAnnounced, Option<Amount>)],
    goals: &BTreeMap<String, ds::GoalDefined>,
) -> Vec<(&'static str, String, Decimal, String)> {
    let currencies: BTreeSet<&str> =
        pledges.iter().filter_map(|(_, m)| m.as_ref()).map(|m| m.currency.as_str()).collect();
    let by_amount = currencies.len() == 1;
    let mut weights: Vec<Decimal> = pledges
        .iter()
        .map(|(_, m)| match m {
            Some(m) if by_amount => m.value.max(Decimal::ZERO),
            _ if by_amount => Decimal::ZERO,
            _ => Decimal::ONE,
        })
        .collect();
    if sum(weights.iter().copied()).is_zero() {
        weights = vec![Decimal::ONE; pledges.len()];
    }
    // vocabulary → code → (weight, goal titles)
    let mut acc: BTreeMap<&'static str, BTreeMap<String, (Decimal, BTreeSet<String>)>> = BTreeMap::new();
    for ((p, _), w) in pledges.iter().zip(&weights) {
        for gs in &p.goals {
            let Some(goal) = goals.get(gs.goal_id.as_str()) else { continue };
            let wg = w.checked_mul(gs.share).and_then(|x| x.checked_div(Decimal::ONE_HUNDRED)).unwrap_or_default();
            let title = if goal.title.is_empty() { goal.goal_id.to_string() } else { goal.title.clone() };
            // The plan's goals themselves: vocabulary 98 (reporting organisation 2), code = goal id.
            let e = acc.entry("98").or_default().entry(goal.goal_id.to_string()).or_default();
            e.0 = e.0.checked_add(wg).unwrap_or(e.0);
            e.1.insert(title.clone());
            let mut by_vocab: BTreeMap<&'static str, Vec<&ds::Classification>> = BTreeMap::new();
            for c in &goal.classifications {
                by_vocab.entry(sector_vocabulary(c.vocabulary)).or_default().push(c);
            }
            for (v, cs) in by_vocab {
                let shares: Option<Vec<Decimal>> = cs.iter().map(|c| c.share).collect();
                let n = Decimal::from(cs.len());
                for (i, c) in cs.iter().enumerate() {
                    let part = match &shares {
                        Some(sh) => sh
                            .get(i)
                            .and_then(|s| wg.checked_mul(*s))
                            .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
                            .unwrap_or_default(),
                        None => wg.checked_div(n).unwrap_or_default(),
                    };
                    let e = acc.entry(v).or_default().entry(c.code.to_string()).or_default();
                    e.0 = e.0.checked_add(part).unwrap_or(e.0);
                    e.1.insert(title.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (v, codes) in acc {
        let ws: Vec<Decimal> = codes.values().map(|(w, _)| *w).collect();
        for ((code, (_, titles)), pct) in codes.iter().zip(percentages(&ws)) {
            if !pct.is_zero() {
                out.push((v, code.clone(), pct, titles.iter().cloned().collect::<Vec<_>>().join("; ")));
            }
        }
    }
    out
}

/// Activity-level recipient countries with percentages, from the parties' ISO 3166 `country`: the
/// recipients of the activity's commitments split by committed amount (when they share one currency), else
/// the one country of its pledges' intended recipients (the party itself for its own resources). None when
/// that data is missing or cannot be split without inventing figures.
pub(super) fn recipient_countries(
    party: &str,
    commitments: &[&(Subject, ds::CommitmentSigned)],
    pledges: &[(&ds::PledgeAnnounced, Option<Amount>)],
    gov: &Governance,
) -> Option<Vec<(String, Decimal)>> {
    let country = |id: &str| gov.parties.get(id).map(|p| p.country.clone()).filter(|c| !c.is_empty());
    if !commitments.is_empty() {
        let mut by: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut currencies = BTreeSet::new();
        for (_, c) in commitments {
            let m = &c.amount;
            currencies.insert(m.currency.to_string());
            let e = by.entry(country(&c.recipient_id)?).or_default();
            *e = e.checked_add(m.value).unwrap_or(*e);
        }
        if by.len() > 1 && currencies.len() > 1 {
            return None;
        }
        let ws: Vec<Decimal> = by.values().copied().collect();
        return Some(by.keys().cloned().zip(percentages(&ws)).collect());
    }
    let mut recipients: BTreeSet<&str> =
        pledges.iter().flat_map(|(p, _)| p.recipient_ids.iter().map(|r| r.as_str())).collect();
    if recipients.is_empty() && pledges.iter().any(|(p, _)| p.funding_source == FundingSource::DomesticOwnResources) {
        recipients.insert(party);
    }
    let countries: Option<BTreeSet<String>> = recipients.iter().map(|r| country(r)).collect();
    let countries = countries?;
    match countries.len() {
        1 => countries.into_iter().next().map(|c| vec![(c, Decimal::ONE_HUNDRED)]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_domain::codes::PledgeKind;
    use accord_domain::ids::{Code, CommitmentId, GoalId, PartyId, PlanId, PledgeId};

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn percentages_sum_to_exactly_100() {
        assert_eq!(percentages(&[d("1"), d("1"), d("1")]), [d("33.34"), d("33.33"), d("33.33")]);
        assert_eq!(percentages(&[d("2"), d("1")]), [d("66.67"), d("33.33")]);
        assert_eq!(percentages(&[d("0"), d("5")]), [d("0"), d("100")]);
        assert!(percentages(&[d("0")]).is_empty());
    }

    fn goal(id: &str, classes: &[(&str, &str, &str)]) -> (String, ds::GoalDefined) {
        let classifications = classes
            .iter()
            .map(|(v, c, s)| ds::Classification {
                vocabulary: Vocabulary::parse("vocabulary", v).unwrap(),
                code: Code::parse("code", c).unwrap(),
                share: (!s.is_empty()).then(|| d(s)),
            })
            .collect();
        let g = ds::GoalDefined {
            goal_id: GoalId::parse("goal_id", id).unwrap(),
            plan_id: PlanId::parse("plan_id", "P").unwrap(),
            title: format!("Goal {id}"),
            classifications,
            description: String::new(),
        };
        (id.into(), g)
    }

    fn amount(value: &str, currency: &str, day: &str) -> Amount {
        Amount {
            value: d(value),
            currency: currency.parse().unwrap(),
            value_date: accord_domain::date::parse_date(day).unwrap(),
        }
    }

    fn pledge(goals: &[(&str, &str)], money: Option<(&str, &str)>) -> (ds::PledgeAnnounced, Option<Amount>) {
        let goals = goals
            .iter()
            .map(|(g, s)| ds::GoalShare { goal_id: GoalId::parse("goal_id", g).unwrap(), share: d(s) })
            .collect();
        let money = money.map(|(v, c)| amount(v, c, "2026-01-20"));
        let p = ds::PledgeAnnounced {
            pledge_id: PledgeId::parse("pledge_id", "PL").unwrap(),
            plan_id: PlanId::parse("plan_id", "P").unwrap(),
            pledger_id: PartyId::parse("pledger_id", "DA").unwrap(),
            pledge_kind: PledgeKind::Money,
            amount: money.clone(),
            goals,
            recipient_ids: Vec::new(),
            usage_period: None,
            finance_type: None,
            funding_source: FundingSource::External,
            new_money: false,
            restates: Vec::new(),
            announced: None,
            expires_on: None,
            items: Vec::new(),
            milestones: Vec::new(),
            description: String::new(),
        };
        (p, money)
    }

    /// Sectors per vocabulary: DAC codes (1) weighted by amount and goal share, given code shares used, SDG
    /// targets (8) over the goals that have one, the plan's own codes (99) with a narrative.
    #[test]
    fn sectors_are_weighted_per_vocabulary_and_sum_to_100() {
        let goals: BTreeMap<String, ds::GoalDefined> = [
            goal(
                "G1",
                &[("dac5", "15113", "70"), ("dac5", "15130", "30"), ("sdg_target", "16.5", ""), ("plan", "RL", "")],
            ),
            goal("G2", &[("dac5", "15210", "")]),
        ]
        .into_iter()
        .collect();
        let p1 = pledge(&[("G1", "50"), ("G2", "50")], Some(("300", "USD")));
        let p2 = pledge(&[("G2", "100")], Some(("100", "USD")));
        let pledges = [(&p1.0, p1.1.clone()), (&p2.0, p2.1.clone())];
        let got: Vec<(&str, String, String, String)> =
            sectors(&pledges, &goals).into_iter().map(|(v, c, p, n)| (v, c, p.normalize().to_string(), n)).collect();
        // G1 weighs 150, G2 250 of the 400: 15113 = 150 × 0.7 = 105, 15130 = 45, 15210 = 250.
        assert_eq!(
            got,
            [
                ("1", "15113".into(), "26.25".into(), "Goal G1".into()),
                ("1", "15130".into(), "11.25".into(), "Goal G1".into()),
                ("1", "15210".into(), "62.5".into(), "Goal G2".into()),
                ("8", "16.5".into(), "100".into(), "Goal G1".into()),
                ("98", "G1".into(), "37.5".into(), "Goal G1".into()),
                ("98", "G2".into(), "62.5".into(), "Goal G2".into()),
                ("99", "RL".into(), "100".into(), "Goal G1".into()),
            ]
        );
        // Pledges in two currencies are weighted equally rather than summed across currencies.
        let p3 = pledge(&[("G2", "100")], Some(("100", "EUR")));
        let mixed = [(&p1.0, p1.1.clone()), (&p3.0, p3.1.clone())];
        let dac: Vec<String> = sectors(&mixed, &goals)
            .into_iter()
            .filter(|s| s.0 == "1")
            .map(|s| format!("{}={}", s.1, s.2.normalize()))
            .collect();
        assert_eq!(dac, ["15113=17.5", "15130=7.5", "15210=75"]);
    }

    fn gov(countries: &[(&str, &str)]) -> Governance {
        let mut g = Governance::default();
        for (id, c) in countries {
            g.parties.insert(
                id.to_string(),
                accord_domain::state::PartyRecord {
                    party_id: id.to_string(),
                    name: id.to_string(),
                    roles: vec![],
                    organisation_type: "10".into(),
                    country: c.to_string(),
                    admitted_at: 0,
                },
            );
        }
        g
    }

    fn commitment(to: &str, value: &str, currency: &str) -> (Subject, ds::CommitmentSigned) {
        let c = ds::CommitmentSigned {
            commitment_id: CommitmentId::parse("commitment_id", "C").unwrap(),
            plan_id: PlanId::parse("plan_id", "P").unwrap(),
            provider_id: PartyId::parse("provider_id", "DA").unwrap(),
            recipient_id: PartyId::parse("recipient_id", to).unwrap(),
            allocations: Vec::new(),
            amount: amount(value, currency, "2026-02-15"),
            signed_date: accord_domain::date::Day::parse("signed_date", "2026-02-15").unwrap(),
            finance_type: None,
            usage_years: Vec::new(),
            tranches: Vec::new(),
            agreement_sha256: None,
        };
        (Subject::new(accord_domain::book::COMMITMENT, ""), c)
    }

    /// Recipient countries come from the parties' countries, split by committed amount; nothing is
    /// invented when a country is missing or amounts in several currencies would have to be added.
    #[test]
    fn recipient_countries_only_from_data_the_ledger_has() {
        let g = gov(&[("GT", "GT"), ("HN", "HN"), ("X", ""), ("DA", "DE")]);
        let (a, b) = (commitment("GT", "30", "EUR"), commitment("HN", "10", "EUR"));
        let got = recipient_countries("DA", &[&a, &b], &[], &g);
        assert_eq!(got, Some(vec![("GT".into(), d("75")), ("HN".into(), d("25"))]));
        let c = commitment("HN", "10", "USD");
        assert_eq!(recipient_countries("DA", &[&a, &c], &[], &g), None, "two currencies");
        let x = commitment("X", "10", "EUR");
        assert_eq!(recipient_countries("DA", &[&a, &x], &[], &g), None, "a recipient without a country");
        // No commitment: the one country of the pledges' recipients, or the party's own for own resources.
        let mut own = pledge(&[], Some(("5", "GTQ")));
        own.0.funding_source = FundingSource::DomesticOwnResources;
        assert_eq!(recipient_countries("GT", &[], &[(&own.0, own.1.clone())], &g), Some(vec![("GT".into(), d("100"))]));
        let mut two = pledge(&[], Some(("5", "EUR")));
        two.0.recipient_ids =
            vec![PartyId::parse("recipient_ids", "GT").unwrap(), PartyId::parse("recipient_ids", "HN").unwrap()];
        assert_eq!(recipient_countries("DA", &[], &[(&two.0, two.1.clone())], &g), None, "no amounts to split by");
    }
}
