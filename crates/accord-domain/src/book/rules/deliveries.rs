//! In-kind deliveries, their confirmation by the receiver, and policy milestones (DOMAIN.md §7).

use crate::codes::PledgeKind;

use super::*;

pub(super) fn delivery(out: &mut Out<'_>, x: &d::InkindDelivered) -> Result<()> {
    let dl = x;
    let ctx = out.ctx;
    out.fresh("delivery_id", DELIVERY, &dl.delivery_id)?;
    let mut p = out.need("pledge_id", PLEDGE, &dl.pledge_id)?;
    let pbody: d::PledgeAnnounced = p.parsed()?;
    if pbody.pledge_kind != PledgeKind::InKind {
        return Err(Error::precondition(
            "pledge_id",
            format!("pledge {} is a {} pledge, not in_kind", dl.pledge_id, pbody.pledge_kind),
        ));
    }
    ctx.signed_by("pledge_id", &pbody.pledger_id, "a delivery")?;
    ctx.party("receiver_id", &dl.receiver_id)?;
    if let Some(item_id) = dl.item_id.as_ref().filter(|i| !pbody.items.iter().any(|x| x.item_id == **i)) {
        return Err(Error::precondition("item_id", format!("pledge {} has no item {item_id}", dl.pledge_id)));
    }
    let v = &dl.value;
    let pa = pbody.amount.as_ref().map_or("", |a| a.currency.as_str());
    if v.currency != pa {
        return Err(Error::invalid(
            "value.currency",
            format!("is {}, but pledge {} is in {pa}", v.currency, dl.pledge_id),
        ));
    }
    p.tally.delivered = money::add("value.value", p.tally.delivered, v.value)?;
    p.status = pledge_status(&p, &pbody, ctx.today);
    out.put(p, Action::Delivered);
    let mut s = out.new_subject(DELIVERY, &dl.delivery_id, &pbody.plan_id, &pbody.pledger_id);
    s.signers = vec![pbody.pledger_id.to_string()];
    s.tally.confirmed = ctx.signers.contains(dl.receiver_id.as_str());
    s.status = if s.tally.confirmed { SubjectStatus::Confirmed } else { SubjectStatus::Recorded };
    out.put(s, Action::Created);
    Ok(())
}

/// The receiver confirms a delivery recorded without its countersignature (DOMAIN.md §7).
pub(super) fn confirmation(out: &mut Out<'_>, c: &d::DeliveryConfirmed) -> Result<()> {
    let mut s = out.need("delivery_id", DELIVERY, &c.delivery_id)?;
    let dl: d::InkindDelivered = s.parsed()?;
    out.ctx.signed_by("delivery_id", &dl.receiver_id, "the confirmation of a delivery")?;
    if s.tally.confirmed {
        return Err(Error::precondition("delivery_id", format!("delivery {} is already confirmed", c.delivery_id)));
    }
    if c.date < dl.date {
        return Err(Error::precondition(
            "date",
            format!(
                "{} is before the delivery's date {}: goods are received after they are delivered",
                c.date, dl.date
            ),
        ));
    }
    s.tally.confirmed = true;
    s.status = SubjectStatus::Confirmed;
    out.put(s, Action::Confirmed);
    Ok(())
}

pub(super) fn milestone(out: &mut Out<'_>, m: &d::MilestoneUpdated) -> Result<()> {
    let ctx = out.ctx;
    let mut p = out.need("pledge_id", PLEDGE, &m.pledge_id)?;
    let pbody: d::PledgeAnnounced = p.parsed()?;
    if pbody.pledge_kind != PledgeKind::PolicyAction {
        return Err(Error::precondition(
            "pledge_id",
            format!("pledge {} is a {} pledge, not policy_action", m.pledge_id, pbody.pledge_kind),
        ));
    }
    ctx.signed_by("pledge_id", &pbody.pledger_id, "a milestone update")?;
    if !pbody.milestones.iter().any(|x| x.milestone_id == m.milestone_id) {
        return Err(Error::precondition(
            "milestone_id",
            format!("pledge {} has no milestone {}", m.pledge_id, m.milestone_id),
        ));
    }
    p.tally.milestones.insert(
        m.milestone_id.to_string(),
        MilestoneState {
            status: m.status,
            date: m.date,
            index: ctx.index,
            quantity_done: m.quantity_done.map(|q| q.to_string()).unwrap_or_default(),
        },
    );
    p.status = pledge_status(&p, &pbody, ctx.today);
    out.put(p, Action::Milestone);
    Ok(())
}
