//! The IATI Standard Ruleset (IATI/IATI-Rulesets `rulesets/standard.json`, as described in
//! ../shared/reference/domain-standards.md §1.2 and §3), re-implemented for IATI 2.03 activity files.
//!
//! Each check names the rule of `standard.json` it implements (`atleast_one`, `one_or_all`, `only_one_of`,
//! `date_now`, `date_order`, `time_limit`, `regex_matches`, `sum`, `strict_sum`, `loop`, `no_percent`,
//! `if_then`, `range`), with the context and case it comes from. Two rules of the earlier (2.01/2.02)
//! `standard.json` that the current one dropped are kept, marked "(2.0x ruleset)": `atleast_one` @value on
//! quantitative targets, actuals and baselines, and `no_more_than_one` reference on a result and its
//! indicator. A few rules of the 2.03 rules text that no ruleset encodes are added under the rule types the
//! ruleset runner defines for them (`startswith`, `unique`, `dependent`); they are marked "(2.03 rules
//! text)".
//!
//! It is written for any IATI 2.03 activity file, not for Accord's export: every rule reads only the
//! document. `now` (YYYY-MM-DD) is the ruleset's NOW: the day the file is validated (a test passes the day of
//! the ledger clock that produced the file). Dates are compared by their YYYY-MM-DD part, as the ruleset's
//! runner does.
//!
//! Where a case read literally cannot hold for a valid file, the reading taken is stated next to it.
// activity() walks the activity checks in the order of standard.json, one after another, to be read against it (issue 12).
#![allow(clippy::too_many_lines)]
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use roxmltree::{Document, Node};
use rust_decimal::Decimal;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// One rule broken: the rule's name in `standard.json` (or the 2.03 rules text), the activity's
/// identifier, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    pub activity: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]: {}", self.rule, self.activity, self.message)
    }
}

/// Every violation of the Standard Ruleset in an IATI activity file. A document that does not parse is one
/// violation of rule `xml`.
pub fn check(xml: &str, now: &str) -> Vec<Violation> {
    let doc = match Document::parse(xml) {
        Ok(d) => d,
        Err(e) => {
            return vec![Violation { rule: "xml", activity: String::new(), message: format!("not XML: {e}") }];
        }
    };
    let mut out = Vec::new();
    let root = doc.root_element();
    let activities: Vec<Node> =
        if root.has_tag_name("iati-activity") { vec![root] } else { children(root, "iati-activity").collect() };
    // unique (2.03 rules text: an iati-identifier identifies one activity): no two activities of the
    // file share an identifier.
    let mut seen = BTreeSet::new();
    for a in &activities {
        let id = identifier(*a);
        if !seen.insert(id.clone()) {
            out.push(Violation {
                rule: "unique",
                activity: id,
                message: "iati-identifier occurs more than once".into(),
            });
        }
    }
    for a in activities {
        let mut c = Ctx { id: identifier(a), out: &mut out, now };
        activity(&mut c, a);
        for p in descendants(a, "participating-org") {
            participating_org(&mut c, p);
        }
        for p in descendants(a, "policy-marker") {
            policy_marker(&mut c, p);
        }
        for t in children(a, "transaction") {
            transaction(&mut c, t);
        }
        for b in children(a, "budget") {
            period_order(&mut c, "//budget", b);
        }
        for p in children(a, "planned-disbursement") {
            period_order(&mut c, "//planned-disbursement", p);
        }
        for p in descendants(a, "period").filter(|p| p.parent_element().is_some_and(|i| i.has_tag_name("indicator"))) {
            period_order(&mut c, "//result/indicator/period", p);
        }
    }
    out
}

struct Ctx<'a> {
    id: String,
    out: &'a mut Vec<Violation>,
    now: &'a str,
}

impl Ctx<'_> {
    fn fail(&mut self, rule: &'static str, message: impl Into<String>) {
        self.out.push(Violation { rule, activity: self.id.clone(), message: message.into() });
    }
}

fn children<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(n, name).next()
}

fn descendants<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.descendants().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn identifier(a: Node) -> String {
    child(a, "iati-identifier").and_then(|i| i.text()).unwrap_or("").trim().to_string()
}

fn lang<'a>(n: Node<'a, '_>) -> Option<&'a str> {
    n.attribute((XML_NS, "lang"))
}

/// The YYYY-MM-DD part of an ISO date or date-time, if it has that shape.
fn day(s: &str) -> Option<&str> {
    let d = s.trim().get(..10)?;
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    (digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7) && b.get(7) == Some(&b'-') && digits(8..10)).then_some(d)
}

/// The day one year after `d` (29 February goes to 28 February).
fn plus_one_year(d: &str) -> Option<String> {
    let y: u32 = d.get(..4)?.parse().ok()?;
    let md = d.get(4..)?;
    Some(if md == "-02-29" { format!("{:04}-02-28", y + 1) } else { format!("{:04}{md}", y + 1) })
}

fn dec(s: &str) -> Option<Decimal> {
    Decimal::from_str(s.trim()).ok()
}

/// The dates of `less` and `more` in order; a missing or unparseable side skips the case (the ruleset's
/// `date_order`: "if either of these dates is not found, the rule is ignored").
fn date_order(c: &mut Ctx, context: &str, less: Option<&str>, more: Option<&str>, what: &str) {
    if let (Some(l), Some(m)) = (less.and_then(day), more.and_then(day)) {
        if l > m {
            c.fail("date_order", format!("{context}: {what}: {l} is after {m}"));
        }
    }
}

/// The percentages of `nodes` sum to 100: one element without a percentage counts as 100 (IATI: "if only
/// one is reported, the percentage is assumed 100"), otherwise each must carry one (`dependent`, 2.03 rules
/// text: "if more than one, percentages must be given for all") and they must add up to exactly 100.
fn percentages_sum(c: &mut Ctx, rule: &'static str, what: &str, nodes: &[Node]) {
    if nodes.is_empty() {
        return;
    }
    if nodes.len() == 1 && nodes[0].attribute("percentage").is_none() {
        return;
    }
    let mut total = Decimal::ZERO;
    for n in nodes {
        match n.attribute("percentage") {
            None => {
                c.fail("dependent", format!("{what}: more than one given, but {} has no @percentage", describe(*n)));
                return;
            }
            Some(p) => match dec(p) {
                Some(v) => total += v,
                None => {
                    c.fail("range", format!("{what}: @percentage {p:?} is not a decimal"));
                    return;
                }
            },
        }
    }
    if total != Decimal::from(100) {
        c.fail(rule, format!("{what}: percentages sum to {total}, not 100"));
    }
}

fn describe(n: Node) -> String {
    let attrs: Vec<String> = n.attributes().map(|a| format!("@{}={:?}", a.name(), a.value())).collect();
    format!("<{} {}>", n.tag_name().name(), attrs.join(" "))
}

fn activity(c: &mut Ctx, a: Node) {
    let transactions: Vec<Node> = children(a, "transaction").collect();

    // atleast_one, case 1: activity-date[@type='1' or @type='2'].
    if !children(a, "activity-date").any(|d| matches!(d.attribute("type"), Some("1" | "2"))) {
        c.fail("atleast_one", "no activity-date of type 1 (planned start) or 2 (actual start)");
    }
    // atleast_one, case 2: sector or transaction/sector.
    let activity_sectors: Vec<Node> = children(a, "sector").collect();
    let transactions_with_sector = transactions.iter().filter(|t| child(**t, "sector").is_some()).count();
    if activity_sectors.is_empty() && transactions_with_sector == 0 {
        c.fail("atleast_one", "no sector, neither on the activity nor on a transaction");
    }
    // atleast_one, case 3: other-identifier/owner-org/@ref or other-identifier/owner-org/narrative. Read
    // literally, as the runner reads it: every activity names an owner organisation of an other-identifier.
    if !descendants(a, "owner-org")
        .filter(|o| o.parent_element().is_some_and(|p| p.has_tag_name("other-identifier")))
        .any(|o| o.attribute("ref").is_some() || child(o, "narrative").is_some())
    {
        c.fail("atleast_one", "no other-identifier/owner-org with @ref or narrative");
    }
    // atleast_one, cases 4 and 5: transaction/provider-org and transaction/receiver-org, each with @ref or
    // narrative, on at least one transaction.
    for org in ["provider-org", "receiver-org"] {
        let named = |t: &Node| {
            t.children()
                .filter(|o| o.is_element() && o.tag_name().name() == org)
                .any(|o| o.attribute("ref").is_some() || child(o, "narrative").is_some())
        };
        if !transactions.iter().any(named) {
            c.fail("atleast_one", format!("no transaction/{org} with @ref or narrative"));
        }
    }

    // one_or_all, case 1 (and if_then, case 1): @xml:lang on the activity, or a language on every narrative
    // (and at least one narrative).
    if lang(a).is_none() {
        let narratives: Vec<Node> = descendants(a, "narrative").collect();
        let unlabelled = narratives.iter().filter(|n| lang(**n).is_none()).count();
        if unlabelled > 0 {
            c.fail(
                "one_or_all",
                format!("no @xml:lang on the activity and {unlabelled} narrative(s) without @xml:lang"),
            );
        } else if narratives.is_empty() {
            c.fail("if_then", "no @xml:lang on the activity and no narrative carrying one");
        }
    }
    // one_or_all, case 2: sector on the activity, or on every transaction. The 2.03 rules text adds "but not
    // both": with activity-level sectors no transaction may carry one.
    if activity_sectors.is_empty() {
        if transactions_with_sector > 0 && transactions_with_sector < transactions.len() {
            c.fail(
                "one_or_all",
                format!(
                    "sector is reported on {transactions_with_sector} of {} transactions: it must be on all of them or on the activity",
                    transactions.len()
                ),
            );
        }
    } else if transactions_with_sector > 0 {
        c.fail("one_or_all", "sector is reported both on the activity and on transactions");
    }
    // one_or_all, case 3 (and if_then, cases 2 and 3, for loan-status and forecast): @default-currency, or
    // @currency on every monetary value.
    if a.attribute("default-currency").is_none() {
        for name in ["value", "loan-status", "forecast"] {
            let missing = descendants(a, name).filter(|v| v.attribute("currency").is_none()).count();
            if missing > 0 {
                let rule = if name == "value" { "one_or_all" } else { "if_then" };
                c.fail(rule, format!("no @default-currency and {missing} {name} element(s) without @currency"));
            }
        }
    }

    // only_one_of: recipient-country / recipient-region on the activity exclude them on transactions.
    let countries: Vec<Node> = children(a, "recipient-country").collect();
    let regions: Vec<Node> = children(a, "recipient-region").collect();
    let tx_geo = transactions
        .iter()
        .filter(|t| child(**t, "recipient-country").is_some() || child(**t, "recipient-region").is_some())
        .count();
    if (!countries.is_empty() || !regions.is_empty()) && tx_geo > 0 {
        c.fail(
            "only_one_of",
            format!(
                "recipient-country/region on the activity and on {tx_geo} transaction(s): report them at one level"
            ),
        );
    }

    // date_now: @last-updated-datetime is not in the future.
    if let Some(u) = a.attribute("last-updated-datetime").and_then(day) {
        if u > c.now {
            c.fail("date_now", format!("@last-updated-datetime {u} is after now ({})", c.now));
        }
    }
    // date_order, activity dates: planned start ≤ planned end, actual start ≤ actual end, actual start and
    // actual end ≤ NOW.
    let date = |t: &str| {
        children(a, "activity-date").find(|d| d.attribute("type") == Some(t)).and_then(|d| d.attribute("iso-date"))
    };
    date_order(c, "//iati-activity", date("1"), date("3"), "activity-date type 1 vs type 3");
    date_order(c, "//iati-activity", date("2"), date("4"), "activity-date type 2 vs type 4");
    let now = c.now.to_string();
    date_order(c, "//iati-activity", date("2"), Some(&now), "activity-date type 2 vs NOW");
    date_order(c, "//iati-activity", date("4"), Some(&now), "activity-date type 4 vs NOW");
    // Results (2.0x ruleset).
    for r in children(a, "result") {
        for i in children(r, "indicator") {
            // //result/indicator no_more_than_one: `reference[1]` or `../reference[1]`: references on the
            // result or on its indicator, not both.
            if child(i, "reference").is_some() && child(r, "reference").is_some() {
                c.fail("no_more_than_one", "a reference on both the result and its indicator");
            }
            // //result/indicator[@measure='1' … '4']/(baseline | period/target | period/actual)
            // atleast_one: @value.
            if !matches!(i.attribute("measure"), Some("1" | "2" | "3" | "4")) {
                continue;
            }
            let valued = children(i, "baseline")
                .chain(children(i, "period").flat_map(|p| children(p, "target").chain(children(p, "actual"))));
            for v in valued.filter(|v| v.attribute("value").is_none()) {
                c.fail("atleast_one", format!("{} of a quantitative indicator has no @value", v.tag_name().name()));
            }
        }
    }

    // time_limit: a budget period is not longer than one year.
    for b in children(a, "budget") {
        let start = child(b, "period-start").and_then(|p| p.attribute("iso-date")).and_then(day);
        let end = child(b, "period-end").and_then(|p| p.attribute("iso-date")).and_then(day);
        if let (Some(s), Some(e)) = (start, end) {
            // Both ends are inclusive days: a year from 1 January ends on 31 December.
            if plus_one_year(s).is_some_and(|limit| e >= limit.as_str()) {
                c.fail("time_limit", format!("budget {s} to {e} is longer than one year"));
            }
        }
    }

    // regex_matches `[^\/\&\|\?]+` over reporting-org/@ref, iati-identifier, participating-org/@ref,
    // transaction/provider-org/@ref, transaction/receiver-org/@ref: non-empty, none of / & | ?.
    let mut refs: Vec<(String, String)> = Vec::new();
    if let Some(r) = child(a, "reporting-org").and_then(|r| r.attribute("ref")) {
        refs.push(("reporting-org/@ref".into(), r.into()));
    }
    refs.push(("iati-identifier".into(), c.id.clone()));
    for p in children(a, "participating-org") {
        if let Some(r) = p.attribute("ref") {
            refs.push(("participating-org/@ref".into(), r.into()));
        }
    }
    for t in &transactions {
        for org in ["provider-org", "receiver-org"] {
            for o in t.children().filter(|o| o.is_element() && o.tag_name().name() == org) {
                if let Some(r) = o.attribute("ref") {
                    refs.push((format!("transaction/{org}/@ref"), r.into()));
                }
            }
        }
    }
    for (path, v) in refs {
        if v.trim().is_empty() || v.contains(['/', '&', '|', '?']) {
            c.fail("regex_matches", format!("{path} {v:?} must be non-empty and contain none of / & | ?"));
        }
    }
    // startswith (2.03 rules text: the identifier "MUST be prefixed with EITHER the organisation identifier
    // found in reporting-org/@ref OR a previous reporting-org identifier reported in other-identifier"
    // (type B1)).
    if let Some(r) = child(a, "reporting-org").and_then(|r| r.attribute("ref")) {
        let previous = children(a, "other-identifier")
            .filter(|o| o.attribute("type") == Some("B1"))
            .filter_map(|o| o.attribute("ref"))
            .any(|p| !p.is_empty() && c.id.starts_with(p));
        if !c.id.starts_with(r) && !previous {
            c.fail("startswith", format!("iati-identifier {:?} does not start with reporting-org/@ref {r:?}", c.id));
        }
    }

    // sum: recipient-country and recipient-region percentages together sum to 100.
    let geo: Vec<Node> = countries.iter().chain(regions.iter()).copied().collect();
    percentages_sum(c, "sum", "recipient-country/recipient-region", &geo);
    // strict_sum: sectors of vocabulary 1 (or none given) sum to 100; loop: the same for every other
    // vocabulary present.
    let mut by_vocabulary: BTreeMap<String, Vec<Node>> = BTreeMap::new();
    for s in &activity_sectors {
        by_vocabulary.entry(s.attribute("vocabulary").unwrap_or("1").to_string()).or_default().push(*s);
    }
    for (v, nodes) in &by_vocabulary {
        let rule = if v == "1" { "strict_sum" } else { "loop" };
        percentages_sum(c, rule, &format!("sector vocabulary {v}"), nodes);
    }
    // if_then, case 4: sectors of vocabulary 98 or 99 (reporting organisation) carry a narrative.
    for s in activity_sectors.iter().filter(|s| matches!(s.attribute("vocabulary"), Some("98" | "99"))) {
        if child(*s, "narrative").is_none() {
            c.fail("if_then", format!("{} (reporting organisation vocabulary) has no narrative", describe(*s)));
        }
    }
    // range: percentages of recipient-country, recipient-region, sector and capital-spend are ≥ 0.
    for name in ["recipient-country", "recipient-region", "sector", "capital-spend"] {
        for n in children(a, name) {
            if let Some(p) = n.attribute("percentage") {
                match dec(p) {
                    Some(v) if v >= Decimal::ZERO => {}
                    _ => c.fail("range", format!("{name}/@percentage {p:?} is not a decimal ≥ 0")),
                }
            }
        }
    }
    // no_percent: crs-add/loan-terms/@rate-1 and @rate-2 carry no % sign.
    for lt in descendants(a, "loan-terms") {
        for r in ["rate-1", "rate-2"] {
            if lt.attribute(r).is_some_and(|v| v.contains('%')) {
                c.fail("no_percent", format!("loan-terms/@{r} contains a % sign"));
            }
        }
    }
}

/// //participating-org atleast_one: @ref or narrative.
fn participating_org(c: &mut Ctx, p: Node) {
    if p.attribute("ref").is_none() && child(p, "narrative").is_none() {
        c.fail("atleast_one", format!("{} has neither @ref nor narrative", describe(p)));
    }
}

/// //policy-marker atleast_one: @significance for vocabulary 1 (or none), a narrative for vocabulary 99.
fn policy_marker(c: &mut Ctx, p: Node) {
    match p.attribute("vocabulary") {
        None | Some("1") if p.attribute("significance").is_none() => {
            c.fail("atleast_one", format!("{} (vocabulary 1) has no @significance", describe(p)));
        }
        Some("99") if child(p, "narrative").is_none() => {
            c.fail("atleast_one", format!("{} (vocabulary 99) has no narrative", describe(p)));
        }
        _ => {}
    }
}

/// //transaction date_order: transaction-date/@iso-date and value/@value-date ≤ NOW.
fn transaction(c: &mut Ctx, t: Node) {
    let r = t.attribute("ref").unwrap_or("").to_string();
    let now = c.now.to_string();
    let td = child(t, "transaction-date").and_then(|d| d.attribute("iso-date"));
    date_order(c, "//transaction", td, Some(&now), &format!("transaction {r:?} transaction-date vs NOW"));
    let vd = child(t, "value").and_then(|v| v.attribute("value-date"));
    date_order(c, "//transaction", vd, Some(&now), &format!("transaction {r:?} value-date vs NOW"));
}

/// //budget, //planned-disbursement, //result/indicator/period date_order: period-start ≤ period-end.
fn period_order(c: &mut Ctx, context: &str, n: Node) {
    let s = child(n, "period-start").and_then(|p| p.attribute("iso-date"));
    let e = child(n, "period-end").and_then(|p| p.attribute("iso-date"));
    date_order(c, context, s, e, "period-start vs period-end");
}
