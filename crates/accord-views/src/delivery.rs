//! In-kind and policy delivery (DOMAIN.md §5, §7): delivered value / pledged value per in-kind pledge; per
//! item (and for deliveries that name no item) the quantity and value pledged, delivered, and confirmed by
//! the receiver; policy milestones with due dates, days late and quantity done against target.
use super::context::PlanContext;
use super::*;
use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{add, d, dec, mul, Acc, InKindItemLine, Source};
use crate::Result;
use accord_domain::book::{self, Subject};
use accord_domain::codes::{MilestoneStatus, PledgeKind};
use accord_domain::statement as ds;

#[derive(Default)]
struct Sums {
    q_delivered: Decimal,
    v_delivered: Decimal,
    q_confirmed: Decimal,
    v_confirmed: Decimal,
    n: u32,
    confirmed: u32,
}

/// One line per pledged item of every effective in-kind pledge in `pledges`, then one per pledge for the
/// deliveries that name no item.
pub(super) fn items(
    r: &dyn Source,
    plan_id: &str,
    pledges: &[(&Subject, &ds::PledgeAnnounced)],
) -> Result<Vec<InKindItemLine>> {
    // (pledge, item) → sums of its deliveries.
    let mut sums: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for s in super::all(r, book::DELIVERY, plan_id)? {
        let x: ds::InkindDelivered = s.parsed()?;
        let e =
            sums.entry((x.pledge_id.to_string(), x.item_id.as_deref().unwrap_or_default().to_string())).or_default();
        let (q, v) = (x.quantity.unwrap_or_default(), x.value.value);
        e.q_delivered = add(e.q_delivered, q);
        e.v_delivered = add(e.v_delivered, v);
        e.n.acc(1);
        if s.tally.confirmed {
            e.q_confirmed = add(e.q_confirmed, q);
            e.v_confirmed = add(e.v_confirmed, v);
            e.confirmed.acc(1);
        }
    }
    let mut out = Vec::new();
    for (s, p) in pledges.iter().filter(|(_, p)| p.pledge_kind == PledgeKind::InKind) {
        let currency = p.amount.as_ref().map(|m| m.currency.to_string()).unwrap_or_default();
        let line = |item_id: &str, sums: Option<&Sums>| {
            let z = Sums::default();
            let x = sums.unwrap_or(&z);
            InKindItemLine {
                pledge_id: s.id.clone(),
                item_id: item_id.into(),
                currency: currency.clone(),
                quantity_delivered: d(x.q_delivered),
                value_delivered: d(x.v_delivered),
                quantity_confirmed: d(x.q_confirmed),
                value_confirmed: d(x.v_confirmed),
                deliveries: x.n,
                confirmed: x.confirmed,
                ..Default::default()
            }
        };
        for it in &p.items {
            let mut l = line(&it.item_id, sums.get(&(s.id.clone(), it.item_id.to_string())));
            l.description = it.description.clone();
            l.unit = it.unit.clone();
            l.quantity_pledged = it.quantity.to_string();
            if let Some(uv) = &it.unit_value {
                l.value_pledged = d(mul(it.quantity, uv.value));
            }
            out.push(l);
        }
        if let Some(x) = sums.get(&(s.id.clone(), String::new())) {
            out.push(line("", Some(x)));
        }
    }
    Ok(out)
}

/// The delivery view.
pub(super) fn view(ctx: &PlanContext<'_>) -> Result<Delivery> {
    let r = ctx.r;
    let plan_id = ctx.plan.plan_id.as_str();
    let as_of = ctx.as_of;
    let pledges = &ctx.pledges;
    // In-kind and policy delivery.
    let mut delivery = Delivery::default();
    for (s, p, a, _) in pledges.iter() {
        match p.pledge_kind {
            PledgeKind::InKind => {
                let (value, currency) = a.as_ref().map_or((Decimal::ZERO, ""), |a| (a.value, a.currency.as_str()));
                delivery.in_kind.push(InKindLine {
                    pledge_id: s.id.clone(),
                    pledger: p.pledger_id.to_string(),
                    currency: currency.to_string(),
                    pledged: d(value),
                    delivered: d(s.tally.delivered),
                    share: pct(s.tally.delivered, value),
                });
            }
            PledgeKind::PolicyAction => {
                let original: Option<ds::PledgeAnnounced> = if s.version > 1 {
                    match entry_statement(r, s.created_at)?.0.body {
                        Body::PledgeAnnounced(p) => Some(p),
                        _ => None,
                    }
                } else {
                    None
                };
                for m in &p.milestones {
                    let st = s.tally.milestones.get(m.milestone_id.as_str());
                    let due = m.due_date.days();
                    let days_late = match st {
                        Some(x) if x.status == MilestoneStatus::Met => x.date.days().saturating_sub(due).max(0),
                        _ => as_of.saturating_sub(due).max(0),
                    };
                    delivery.milestones_total.acc(1);
                    if st.is_some_and(|x| x.status == MilestoneStatus::Met) {
                        delivery.milestones_met.acc(1);
                    }
                    delivery.milestones.push(MilestoneLine {
                        pledge_id: s.id.clone(),
                        milestone_id: m.milestone_id.to_string(),
                        title: m.title.clone(),
                        original_due_date: original
                            .as_ref()
                            .and_then(|o| o.milestones.iter().find(|x| m.milestone_id == x.milestone_id))
                            .map_or(m.due_date.to_string(), |x| x.due_date.to_string()),
                        due_date: m.due_date.to_string(),
                        status: st.map_or("pending", |x| x.status.as_str()).to_string(),
                        date: st.map(|x| x.date.to_string()).unwrap_or_default(),
                        days_late,
                        quantity_done: st.map(|x| x.quantity_done.clone()).unwrap_or_default(),
                        quantity_target: m.quantity_target.map(|q| q.to_string()).unwrap_or_default(),
                        unit: m.unit.clone(),
                        percent_done: match (st, m.quantity_target) {
                            (Some(x), Some(target)) if !x.quantity_done.is_empty() => {
                                pct(dec(&x.quantity_done), target)
                            }
                            _ => String::new(),
                        },
                    });
                }
            }
            _ => {}
        }
    }

    let effective: Vec<(&Subject, &ds::PledgeAnnounced)> = pledges.iter().map(|(s, p, _, _)| (s, p)).collect();
    delivery.in_kind_items = delivery::items(r, plan_id, &effective)?;

    Ok(delivery)
}
