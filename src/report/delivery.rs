//! The in-kind view per item (DOMAIN.md §7): for each item an in-kind pledge lists (and for deliveries
//! that name no item), the quantity and value pledged, delivered, and confirmed by the receiver.
use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{add, d, dec, mul, Acc, InKindItemLine, Source};
use crate::domain::book::{self, Subject};
use crate::error::Result;
use crate::pb;

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
    pledges: &[(&Subject, &pb::PledgeAnnounced)],
) -> Result<Vec<InKindItemLine>> {
    // (pledge, item) → sums of its deliveries.
    let mut sums: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for s in super::all(r, book::DELIVERY, plan_id)? {
        let x: pb::InkindDelivered = s.decode()?;
        let e = sums.entry((x.pledge_id.clone(), x.item_id.clone())).or_default();
        let (q, v) = (dec(&x.quantity), x.value.as_ref().map(|m| dec(&m.value)).unwrap_or_default());
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
    for (s, p) in pledges.iter().filter(|(_, p)| p.pledge_kind == "in_kind") {
        let currency = p.amount.as_ref().map(|m| m.currency.clone()).unwrap_or_default();
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
            let mut l = line(&it.item_id, sums.get(&(s.id.clone(), it.item_id.clone())));
            l.description = it.description.clone();
            l.unit = it.unit.clone();
            l.quantity_pledged = it.quantity.clone();
            if let Some(uv) = &it.unit_value {
                l.value_pledged = d(mul(dec(&it.quantity), dec(&uv.value)));
            }
            out.push(l);
        }
        if let Some(x) = sums.get(&(s.id.clone(), String::new())) {
            out.push(line("", Some(x)));
        }
    }
    Ok(out)
}
