//! In-kind deliveries, their confirmation by the receiver, and policy milestones (DOMAIN.md §7).

use prost::Message;

use super::*;

pub(super) fn delivery(out: &mut Out<'_>, d: &pb::InkindDelivered) -> Result<()> {
    let ctx = out.ctx;
    out.fresh("delivery_id", DELIVERY, &d.delivery_id)?;
    let mut p = out.need("pledge_id", PLEDGE, &d.pledge_id)?;
    let pbody: pb::PledgeAnnounced = p.decode()?;
    if pbody.pledge_kind != "in_kind" {
        return Err(Error::precondition(
            "pledge_id",
            format!("pledge {} is a {} pledge, not in_kind", d.pledge_id, pbody.pledge_kind),
        ));
    }
    ctx.signed_by("pledge_id", &pbody.pledger_id, "a delivery")?;
    ctx.party("receiver_id", &d.receiver_id)?;
    if !d.item_id.is_empty() && !pbody.items.iter().any(|i| i.item_id == d.item_id) {
        return Err(Error::precondition("item_id", format!("pledge {} has no item {}", d.pledge_id, d.item_id)));
    }
    let v = parse_money("value", d.value.as_ref())?;
    let pa = amount_of(pbody.amount.as_ref()).map(|a| a.currency).unwrap_or_default();
    if v.currency != pa {
        return Err(Error::invalid(
            "value.currency",
            format!("is {}, but pledge {} is in {pa}", v.currency, d.pledge_id),
        ));
    }
    p.tally.delivered = money::add("value.value", p.tally.delivered, v.value)?;
    p.status = pledge_status(&p, &pbody, ctx.today).into();
    out.put(p, "delivered");
    let mut s = out.new_subject(DELIVERY, &d.delivery_id, &pbody.plan_id, &pbody.pledger_id, d.encode_to_vec());
    s.signers = vec![pbody.pledger_id.clone()];
    s.tally.confirmed = ctx.signers.contains(&d.receiver_id);
    s.status = if s.tally.confirmed { "confirmed".into() } else { "recorded".into() };
    out.put(s, "created");
    Ok(())
}

/// The receiver confirms a delivery recorded without its countersignature (DOMAIN.md §7).
pub(super) fn confirmation(out: &mut Out<'_>, c: &pb::DeliveryConfirmed) -> Result<()> {
    let mut s = out.need("delivery_id", DELIVERY, &c.delivery_id)?;
    let d: pb::InkindDelivered = s.decode()?;
    out.ctx.signed_by("delivery_id", &d.receiver_id, "the confirmation of a delivery")?;
    if s.tally.confirmed {
        return Err(Error::precondition("delivery_id", format!("delivery {} is already confirmed", c.delivery_id)));
    }
    let (given, delivered) = (date::parse_date(&c.date), date::parse_date(&d.date));
    if given < delivered {
        return Err(Error::precondition(
            "date",
            format!("{} is before the delivery's date {}: goods are received after they are delivered", c.date, d.date),
        ));
    }
    s.tally.confirmed = true;
    s.status = "confirmed".into();
    out.put(s, "confirmed");
    Ok(())
}

pub(super) fn milestone(out: &mut Out<'_>, m: &pb::MilestoneUpdated) -> Result<()> {
    let ctx = out.ctx;
    let mut p = out.need("pledge_id", PLEDGE, &m.pledge_id)?;
    let pbody: pb::PledgeAnnounced = p.decode()?;
    if pbody.pledge_kind != "policy_action" {
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
        m.milestone_id.clone(),
        MilestoneState {
            status: m.status.clone(),
            date: m.date.clone(),
            index: ctx.index,
            quantity_done: m.quantity_done.clone(),
        },
    );
    p.status = pledge_status(&p, &pbody, ctx.today).into();
    out.put(p, "milestone");
    Ok(())
}
