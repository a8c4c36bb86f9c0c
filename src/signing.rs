//! Who signs what: the signer rules of `accord-domain` (governance.rs and book/rules) as a table per
//! statement kind, and the signers a given statement names. `docs/SIGNING.md` is this table (a test keeps
//! them equal); `accord statement check` and `accord envelope show` print it for one statement.
use crate::crypto;
use crate::pb::{self, statement::Body};

/// The signer rule of one statement kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Kind name, e.g. `pledge.announced`.
    pub kind: &'static str,
    /// Who must sign for the ledger to accept it.
    pub must_sign: &'static str,
    /// Who may countersign, and what that signature records ("—" when nobody).
    pub countersigns: &'static str,
}

const fn r(kind: &'static str, must_sign: &'static str, countersigns: &'static str) -> Rule {
    Rule { kind, must_sign, countersigns }
}

/// The rules, in the order of DOMAIN.md §3 (governance, plans, money and deliveries, reporting, versions).
/// Every signature must verify and be by an active key registered to a member, or by a key the statement
/// itself introduces (charter, party.admitted, key.rotated).
pub const RULES: &[Rule] = &[
    r("charter", "every founder, each with one of the keys the charter lists for it; no other key", "—"),
    r(
        "party.admitted",
        "the new party (with a key the statement gives it) and k members, k being the charter's admission rule",
        "—",
    ),
    r("key.rotated", "exactly two keys: the party's old key (oldKeyid) and the new key", "—"),
    r("key.revoked", "the party itself, or k other members (k of the admission rule)", "—"),
    r("plan.created", "a member holding the secretariat role, or k members", "—"),
    r("goal.defined", "the secretariat, a signatory of the plan, or k members", "—"),
    r("indicator.defined", "the secretariat, a signatory of the goal's plan, or k members", "—"),
    r("pledge.announced", "the pledger (pledgerId)", "—"),
    r("condition.defined", "the party whose money it gates (partyId)", "—"),
    r("commitment.signed", "both the provider (providerId) and the recipient (recipientId)", "—"),
    r(
        "transaction.recorded",
        "the recorder: the receiver (receiverId) for incoming funds (type 1), the provider (providerId) otherwise",
        "the other party: its signature marks the transaction confirmed",
    ),
    r("transaction.reversed", "the transaction's original signer (its recorder)", "—"),
    r(
        "inkind.delivered",
        "the pledger of the pledge delivered against (pledgeId)",
        "the receiver (receiverId): its signature marks the delivery confirmed (or later, delivery.confirmed)",
    ),
    r("delivery.confirmed", "the delivery's receiver", "—"),
    r("milestone.updated", "the pledger of the pledge (pledgeId)", "—"),
    r("condition.assessed", "the condition's designated assessor (its assessorId)", "—"),
    r("progress.reported", "the reporter (reporterId)", "—"),
    r("attestation.issued", "the auditor (auditorId), a member holding the auditor role", "—"),
    r(
        "amended",
        "every original signer of the subject again (e.g. both parties of a commitment, the pledger of a pledge)",
        "—",
    ),
    r("withdrawn", "every original signer of the subject again", "—"),
    r("fx_rate.recorded", "a member holding the rate_publisher role", "—"),
];

/// The rule of a kind.
pub fn rule(kind: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.kind == kind)
}

/// The table as markdown (the body of docs/SIGNING.md).
pub fn markdown_table() -> String {
    let mut s = String::from("| Statement kind | Must sign | Countersigns |\n|---|---|---|\n");
    for r in RULES {
        s.push_str(&format!("| `{}` | {} | {} |\n", r.kind, r.must_sign, r.countersigns));
    }
    s
}

/// A signature a statement needs: `k` of `parties` (or of `keyids`, when the statement itself names the
/// keys, as for founders and new parties). `k == 0` with no parties means the statement alone cannot
/// say (it depends on the ledger's state; the rule's text says what).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// In words, e.g. "the pledger GT-GOV-1 (pledgerId)".
    pub label: String,
    /// Parties any of which (k of which) satisfies the need.
    pub parties: Vec<String>,
    /// Keys any of which satisfies it, when the statement names them.
    pub keyids: Vec<String>,
    /// How many of them must sign.
    pub k: usize,
}

fn party(label: String, p: &str) -> Need {
    Need { label, parties: vec![p.to_string()], keyids: Vec::new(), k: 1 }
}

fn keyed(label: String, p: &pb::Party) -> Need {
    Need {
        label,
        parties: vec![p.party_id.clone()],
        keyids: p.public_keys.iter().map(|k| crypto::keyid_of_bytes(k)).collect(),
        k: 1,
    }
}

fn stateful(label: &str) -> Need {
    Need { label: label.to_string(), parties: Vec::new(), keyids: Vec::new(), k: 0 }
}

/// The signatures a statement needs, as far as the statement itself names them. `admission` is the
/// ledger's admission rule k and its members, when known (from the server); without it the needs that
/// depend on it say "k members" and cannot be checked.
pub fn needs(st: &pb::Statement, admission: Option<(usize, &[String])>) -> Vec<Need> {
    let k = admission.map(|a| a.0);
    let k_members = || match k {
        Some(k) => format!("{k} member(s) (the admission rule)"),
        None => "k members (the charter's admission rule)".to_string(),
    };
    match &st.body {
        Some(Body::Charter(c)) => {
            c.founders.iter().map(|f| keyed(format!("founder {} (one of its keys)", f.party_id), f)).collect()
        }
        Some(Body::PartyAdmitted(a)) => {
            let mut v = Vec::new();
            if let Some(p) = &a.party {
                v.push(keyed(format!("the new party {} (one of its keys)", p.party_id), p));
            }
            let members = admission.map(|a| a.1.to_vec()).unwrap_or_default();
            v.push(Need { label: k_members(), parties: members, keyids: Vec::new(), k: k.unwrap_or(0) });
            v
        }
        Some(Body::KeyRotated(r)) => vec![
            Need {
                label: format!("the old key {} of {}", r.old_keyid, r.party_id),
                parties: Vec::new(),
                keyids: vec![r.old_keyid.clone()],
                k: 1,
            },
            Need {
                label: "the new key".into(),
                parties: Vec::new(),
                keyids: vec![crypto::keyid_of_bytes(&r.new_public_key)],
                k: 1,
            },
        ],
        Some(Body::KeyRevoked(r)) => vec![Need {
            label: format!("the party {}, or {} other than it", r.party_id, k_members()),
            parties: vec![r.party_id.clone()],
            keyids: Vec::new(),
            k: 1,
        }],
        Some(Body::PledgeAnnounced(p)) => {
            vec![party(format!("the pledger {} (pledgerId)", p.pledger_id), &p.pledger_id)]
        }
        Some(Body::ConditionDefined(c)) => vec![party(format!("the party {} (partyId)", c.party_id), &c.party_id)],
        Some(Body::CommitmentSigned(c)) => vec![
            party(format!("the provider {} (providerId)", c.provider_id), &c.provider_id),
            party(format!("the recipient {} (recipientId)", c.recipient_id), &c.recipient_id),
        ],
        Some(Body::TransactionRecorded(t)) if t.transaction_type == 1 => {
            vec![party(format!("the receiver {} (receiverId; incoming funds)", t.receiver_id), &t.receiver_id)]
        }
        Some(Body::TransactionRecorded(t)) => {
            vec![party(format!("the provider {} (providerId)", t.provider_id), &t.provider_id)]
        }
        Some(Body::ProgressReported(r)) => {
            vec![party(format!("the reporter {} (reporterId)", r.reporter_id), &r.reporter_id)]
        }
        Some(Body::AttestationIssued(a)) => {
            vec![party(format!("the auditor {} (auditorId)", a.auditor_id), &a.auditor_id)]
        }
        Some(b) => {
            let kind = crate::proto::kind_name(b);
            vec![stateful(rule(kind).map_or("see docs/SIGNING.md", |r| r.must_sign))]
        }
        None => Vec::new(),
    }
}

/// Whether a need is met by these signers (keyids, and the parties they belong to when known).
pub fn met(n: &Need, keyids: &[String], parties: &[String]) -> Option<bool> {
    if n.k == 0 {
        return None;
    }
    let by_key = n.keyids.iter().filter(|k| keyids.contains(k)).count();
    let by_party = n.parties.iter().filter(|p| parties.contains(p)).count();
    Some(by_key.max(by_party) >= n.k)
}
