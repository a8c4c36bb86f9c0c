//! Party and commitment pages, and the links between plan, party, pledge and commitment.
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};

use super::*;

/// A link to a party's page, named by the party's name (the id when it is not a member).
pub(super) fn party_link(gov: &crate::domain::Governance, id: &str) -> Markup {
    let name = gov.parties.get(id).map(|p| p.name.as_str()).unwrap_or(id);
    html! { a href={ "/party/" (seg(id)) } { (name) } }
}

/// Subjects of one kind owned by (or, for commitments, made to) a party, as table rows with links.
pub(super) fn party_subjects(v: &ReadView<'_>, kind: book::SubjectKind, q: pb::ListRequest) -> Result<Vec<pb::Item>> {
    let mut items = Vec::new();
    let mut q = q;
    q.page_size = 1000;
    loop {
        let r = crate::query::list(v, kind, &q)?;
        items.extend(r.items);
        if r.next_page_token.is_empty() || items.len() >= 10_000 {
            return Ok(items);
        }
        q.page_token = r.next_page_token;
    }
}

pub(super) fn subject_list(kind: &str, items: &[pb::Item], gov: &crate::domain::Governance) -> Markup {
    html! {
        div class="scroll" tabindex="0" role="region" aria-label=(kind) {
            table {
                thead { tr { th scope="col" { (kind) } th scope="col" { "plan" } th scope="col" { "party" } th scope="col" { "amount" } th scope="col" { "status" } } }
                tbody {
                    @for i in items {
                        @let f = i.figures.clone().unwrap_or_default();
                        tr {
                            td { a href={ "/" (kind) "/" (seg(&i.id)) } { (i.id) } }
                            td { a href={ "/plan/" (seg(&i.plan_id)) } { (i.plan_id) } }
                            td { (party_link(gov, &i.party_id)) }
                            td { (amount(&f.amount)) " " (f.currency) }
                            td { (i.status) }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn party(State(ledger): State<Arc<Ledger>>, Path(id): Path<String>) -> Response {
    let res = read(ledger, move |v| {
        crate::domain::check_id("party_id", &id)?;
        let at = crate::query::read_at_of(v)?;
        let gov = v.governance()?;
        let p = gov.parties.get(&id).ok_or_else(|| Error::not_found("party_id", format!("no member {id:?}")))?;
        let by = |kind| party_subjects(v, kind, pb::ListRequest { party_id: id.clone(), ..Default::default() });
        let pledges = by(book::PLEDGE)?;
        let provided = by(book::COMMITMENT)?;
        let received =
            party_subjects(v, book::COMMITMENT, pb::ListRequest { recipient_id: id.clone(), ..Default::default() })?;
        let facts = vec![
            vec!["party".into(), p.party_id.clone()],
            vec!["name".into(), p.name.clone()],
            vec!["roles".into(), p.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")],
            vec!["organisation type".into(), p.organisation_type.clone()],
            vec!["country".into(), p.country.clone()],
            vec!["admitted at entry".into(), p.admitted_at.to_string()],
        ];
        let body = html! {
            h1 { (p.name) }
            (read_at_line(&at))
            (html_table(&["", ""], facts, "party"))
            h2 { "Pledges" }
            (subject_list("pledge", &pledges, &gov))
            h2 { "Commitments it made" }
            (subject_list("commitment", &provided, &gov))
            h2 { "Commitments made to it" }
            (subject_list("commitment", &received, &gov))
            (downloads(&at, &[]))
        };
        Ok((page(&p.name, body), at))
    })
    .await;
    match res {
        Ok((h, at)) => stamped(Html(h).into_response(), &at),
        Err(r) => r,
    }
}

pub(super) async fn commitment(State(ledger): State<Arc<Ledger>>, Path(id): Path<String>) -> Response {
    let res = read(ledger, move |v| {
        let q = pb::GetSubjectRequest { kind: book::COMMITMENT.to_string(), id: id.clone(), ..Default::default() };
        let resp = crate::query::get(v, &q)?;
        let gov = v.governance()?;
        let item = resp.item.unwrap_or_default();
        let f = item.figures.clone().unwrap_or_default();
        let c = match item.compiled.as_ref().and_then(|s| s.body.as_ref()).map(crate::proto::parse_body).transpose()? {
            Some(ds::Body::CommitmentSigned(c)) => c,
            _ => return Err(Error::internal("commitment body")),
        };
        let history = crate::query::history_rows(&resp.history);
        let at = resp.read_at.unwrap_or_default();
        let amendments = amendments_of(v, c.plan_id.as_str(), "commitment", &id, &at)?;
        let tranches: Vec<Vec<String>> = item
            .tranches
            .iter()
            .map(|t| vec![t.tranche_id.clone(), amount(&t.value), amount(&t.disbursed), t.status.clone()])
            .collect();
        let body = html! {
            h1 { "Commitment " (id) }
            (read_at_line(&at))
            table id="commitment" {
                tbody {
                    tr { th scope="row" { "plan" } td { a href={ "/plan/" (seg(c.plan_id.as_str())) } { (c.plan_id) } } }
                    tr { th scope="row" { "provider" } td { (party_link(&gov, c.provider_id.as_str())) } }
                    tr { th scope="row" { "recipient" } td { (party_link(&gov, c.recipient_id.as_str())) } }
                    tr { th scope="row" { "draws on" } td {
                        @for (k, a) in c.allocations.iter().enumerate() {
                            @if k > 0 { ", " }
                            a href={ "/pledge/" (seg(a.pledge_id.as_str())) } { (a.pledge_id) }
                        }
                    } }
                    tr { th scope="row" { "signed" } td { (c.signed_date) } }
                    tr { th scope="row" { "amount" } td { (amount(&f.amount)) " " (f.currency) } }
                    tr { th scope="row" { "disbursed" } td { (amount(&f.disbursed)) } }
                    tr { th scope="row" { "status" } td { (item.status) } }
                }
            }
            (amendments)
            h2 { "Tranches" }
            (html_table(&["tranche", "value", "disbursed", "status"], tranches, "tranches"))
            h2 { "History" }
            (html_table(&crate::query::HISTORY_COLUMNS, history, "history"))
            (downloads(&at, &resp.history.iter().map(|h| (format!("/entry/{}.tlog-proof", h.index), format!("entry {} ({}) as a C2SP tlog-proof", h.index, h.statement_kind))).collect::<Vec<_>>()))
        };
        Ok((page(&format!("Commitment {id}"), body), at))
    })
    .await;
    match res {
        Ok((h, at)) => stamped(Html(h).into_response(), &at),
        Err(r) => r,
    }
}

/// A subject's amendments, withdrawals and reversals with their rationale and the amount before → after,
/// from its plan's amendment log (the same rows as the report's); nothing when it has none.
pub(super) fn amendments_of(v: &ReadView<'_>, plan_id: &str, kind: &str, id: &str, at: &pb::ReadAt) -> Result<Markup> {
    let rep = crate::report::plan_report_at(v, plan_id, &crate::report::read_at(at))?;
    let logs: Vec<_> = rep.amendments.iter().filter(|a| a.kind == kind && a.id == id).collect();
    if logs.is_empty() {
        return Ok(html! {});
    }
    let rows = crate::report::render::amendment_rows_of(logs);
    Ok(html! {
        h2 { "Amendments" }
        (html_table(crate::report::render::AMENDMENT_HEADER, rows, "amendments"))
    })
}
