//! JSON forms: statements through the protobuf JSON mapping (via the compiled descriptor set), and
//! envelopes in the standard DSSE JSON form `{payloadType, payload, signatures: [{keyid, sig}]}`.
use std::sync::OnceLock;

use base64::prelude::*;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pb::{Envelope, Signature, Statement};

#[allow(
    clippy::expect_used,
    reason = "the descriptor set is compiled into the binary by build.rs; decoding it cannot fail at run time"
)]
fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET).expect("descriptor set compiled by build.rs")
    })
}

/// `accord.v1.Statement`'s descriptor, looked up once (every submission's text scan walks it).
fn statement_descriptor() -> Option<&'static prost_reflect::MessageDescriptor> {
    static DESC: OnceLock<Option<prost_reflect::MessageDescriptor>> = OnceLock::new();
    DESC.get_or_init(|| pool().get_message_by_name("accord.v1.Statement")).as_ref()
}

/// Decode any `accord.v1` message from its protobuf JSON mapping.
pub fn message_from_json<M: Message + Default>(full_name: &str, json: &str) -> Result<M> {
    let desc =
        pool().get_message_by_name(full_name).ok_or_else(|| Error::internal(format!("unknown message {full_name}")))?;
    let mut de = serde_json::Deserializer::from_str(json);
    let dynamic = DynamicMessage::deserialize(desc, &mut de)
        .map_err(|e| Error::invalid("json", format!("not a valid {full_name} in the protobuf JSON mapping: {e}")))?;
    de.end().map_err(|e| Error::invalid("json", format!("trailing characters: {e}")))?;
    M::decode(dynamic.encode_to_vec().as_slice()).map_err(|e| Error::internal(format!("re-decoding: {e}")))
}

/// Encode any `accord.v1` message in its protobuf JSON mapping (pretty-printed).
pub fn message_to_json<M: Message>(full_name: &str, msg: &M) -> Result<String> {
    let desc =
        pool().get_message_by_name(full_name).ok_or_else(|| Error::internal(format!("unknown message {full_name}")))?;
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice())
        .map_err(|e| Error::internal(format!("decoding: {e}")))?;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::pretty(&mut out);
    dynamic
        .serialize_with_options(&mut ser, &prost_reflect::SerializeOptions::new().stringify_64_bit_integers(false))
        .map_err(|e| Error::internal(format!("encoding JSON: {e}")))?;
    String::from_utf8(out).map_err(|e| Error::internal(e.to_string()))
}

/// A statement from its JSON mapping; `//` comments (as in templates) are allowed, a key given twice in
/// one object is not (which of the two would be signed is parser-dependent).
pub fn statement_from_json(json: &str) -> Result<Statement> {
    let json = strip_comments(json);
    reject_duplicate_keys(&json)?;
    let json = pasted_keys_as_base64(&json).unwrap_or(json);
    message_from_json("accord.v1.Statement", &json)
}

/// The JSON fields holding a party's raw public key (`bytes`, base64 in the protobuf JSON mapping).
const KEY_FIELDS: &[&str] = &["publicKeys", "public_keys", "newPublicKey", "new_public_key"];

/// A public key as a user pastes it: what `accord key show` prints as the verifier key (`name+hex8+base64`,
/// the `.pub` file) or the 64 hex characters, turned into the base64 of its 32 bytes. `None` for anything
/// else (left to the JSON mapping, which takes base64 and names the field when it is not).
fn pasted_key(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(s).ok().map(|raw| BASE64_STANDARD.encode(raw));
    }
    if s.contains('+') {
        if let Ok((_, pk)) = accord_tlog::note::parse_verifier_key(s) {
            return Some(BASE64_STANDARD.encode(pk.as_bytes()));
        }
    }
    None
}

/// The statement JSON with every pasted key form under [`KEY_FIELDS`] turned into base64; `None` when it
/// holds none (the text is then decoded exactly as written).
fn pasted_keys_as_base64(json: &str) -> Option<String> {
    fn walk(v: &mut serde_json::Value, changed: &mut bool) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m.iter_mut() {
                    if KEY_FIELDS.contains(&k.as_str()) {
                        let slots: Vec<&mut serde_json::Value> = match v {
                            serde_json::Value::Array(a) => a.iter_mut().collect(),
                            other => vec![other],
                        };
                        for slot in slots {
                            if let Some(b64) = slot.as_str().and_then(pasted_key) {
                                *slot = serde_json::Value::String(b64);
                                *changed = true;
                            }
                        }
                    } else {
                        walk(v, changed);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| walk(v, changed)),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut changed = false;
    walk(&mut v, &mut changed);
    if changed {
        serde_json::to_string(&v).ok()
    } else {
        None
    }
}

/// Refuse JSON with a key repeated inside one object, naming the key's path.
pub fn reject_duplicate_keys(json: &str) -> Result<()> {
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
    struct Walk(String);
    impl<'de> DeserializeSeed<'de> for Walk {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
            let mut i = 0usize;
            while seq.next_element_seed(Walk(format!("{}[{i}]", self.0)))?.is_some() {
                i = i.saturating_add(1);
            }
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(k) = map.next_key::<String>()? {
                let path = if self.0.is_empty() { k.clone() } else { format!("{}.{k}", self.0) };
                if !seen.insert(k) {
                    return Err(serde::de::Error::custom(format!("{path}: the key is given twice")));
                }
                map.next_value_seed(Walk(path))?;
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_str(json);
    Walk(String::new()).deserialize(&mut de).map_err(|e| {
        let msg = e.to_string();
        match msg.split_once(": the key is given twice") {
            Some((path, _)) => Error::invalid(path.to_string(), "the key is given twice (each key once per object)"),
            None => Error::invalid("json", format!("not JSON: {msg}")),
        }
    })
}

/// The first character anywhere in a statement's strings for which `forbidden` holds (the domain passes
/// its free-text rule), as (field path, character). Walks every string field through the descriptor, so a
/// new field is covered without a new check.
pub fn forbidden_text(st: &Statement, forbidden: &dyn Fn(char) -> bool) -> Option<(String, char)> {
    forbidden_text_in(&st.encode_to_vec(), forbidden)
}

/// [`forbidden_text`] of a statement given as its encoding `wire` (the envelope's payload, which the
/// stateless stage has checked is the statement's canonical encoding): nothing is encoded again.
pub fn forbidden_text_in(wire: &[u8], forbidden: &dyn Fn(char) -> bool) -> Option<(String, char)> {
    fn walk(m: &DynamicMessage, path: &str, forbidden: &dyn Fn(char) -> bool) -> Option<(String, char)> {
        use prost_reflect::Value;
        fn value(v: &Value, path: &str, forbidden: &dyn Fn(char) -> bool) -> Option<(String, char)> {
            match v {
                Value::String(s) => s.chars().find(|c| forbidden(*c)).map(|c| (path.into(), c)),
                Value::Message(m) => walk(m, path, forbidden),
                Value::List(l) => l.iter().enumerate().find_map(|(i, v)| value(v, &format!("{path}[{i}]"), forbidden)),
                _ => None,
            }
        }
        m.fields().find_map(|(f, v)| {
            let p = if path.is_empty() { f.name().to_string() } else { format!("{path}.{}", f.name()) };
            value(v, &p, forbidden)
        })
    }
    let desc = statement_descriptor()?;
    // Fast path: scan the encoding's strings in place. Only a statement that holds a forbidden character
    // (or that the scan cannot read) is decoded into a dynamic message to name the field, which costs
    // ten times more and would otherwise run for every submission (issue 14).
    if wire_is_clean(desc, wire, forbidden, 0) == Some(true) {
        return None;
    }
    let m = DynamicMessage::decode(desc.clone(), wire).ok()?;
    walk(&m, "", forbidden)
}

/// Whether no string field anywhere in the encoded message `wire` of type `desc` holds a character for
/// which `forbidden` holds; None when the encoding cannot be read (then the caller decodes it properly).
/// Walks the wire format with the descriptor: strings are checked, sub-messages recursed into (at most 64
/// deep), everything else skipped.
fn wire_is_clean(
    desc: &prost_reflect::MessageDescriptor,
    mut wire: &[u8],
    forbidden: &dyn Fn(char) -> bool,
    depth: u32,
) -> Option<bool> {
    use prost::encoding::decode_varint;
    use prost_reflect::Kind;
    if depth > 64 {
        return None;
    }
    while !wire.is_empty() {
        let key = decode_varint(&mut wire).ok()?;
        let number = u32::try_from(key >> 3).ok()?;
        let skip = match key & 7 {
            0 => {
                decode_varint(&mut wire).ok()?;
                0
            }
            1 => 8,
            5 => 4,
            2 => {
                let len = usize::try_from(decode_varint(&mut wire).ok()?).ok()?;
                let data = wire.get(..len)?;
                let clean = match desc.get_field(number).map(|f| f.kind()) {
                    Some(Kind::String) => !std::str::from_utf8(data).ok()?.chars().any(forbidden),
                    Some(Kind::Message(m)) => wire_is_clean(&m, data, forbidden, depth.saturating_add(1))?,
                    _ => true,
                };
                if !clean {
                    return Some(false);
                }
                len
            }
            _ => return None,
        };
        wire = wire.get(skip..)?;
    }
    Some(true)
}

/// A statement in the protobuf JSON mapping, pretty-printed, with 64-bit integers as numbers (as the CLI
/// shows statements).
pub fn statement_to_json(st: &Statement) -> Result<String> {
    message_to_json("accord.v1.Statement", st)
}

/// DSSE envelope JSON. Read as the DSSE spec allows (unknown fields ignored, standard or URL-safe base64,
/// padded or not); written with standard padded base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeJson {
    /// DSSE payload type; an Accord statement's is [`crate::PAYLOAD_TYPE`].
    pub payload_type: String,
    /// Base64 of the payload bytes (standard when written).
    pub payload: String,
    /// The signatures over the payload's DSSE PAE; absent in the JSON = none.
    #[serde(default)]
    pub signatures: Vec<SignatureJson>,
}

/// One DSSE signature in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureJson {
    /// Key id of the signer (see [`crate::crypto::keyid`]).
    pub keyid: String,
    /// Base64 of the Ed25519 signature (standard when written).
    pub sig: String,
}

impl From<&Envelope> for EnvelopeJson {
    fn from(e: &Envelope) -> Self {
        Self {
            payload_type: e.payload_type.clone(),
            payload: BASE64_STANDARD.encode(&e.payload),
            signatures: e
                .signatures
                .iter()
                .map(|s| SignatureJson { keyid: s.keyid.clone(), sig: BASE64_STANDARD.encode(&s.sig) })
                .collect(),
        }
    }
}

/// Base64 as DSSE reads it: the standard or the URL-safe alphabet, with or without padding.
pub fn dsse_base64(field: &str, s: &str) -> Result<Vec<u8>> {
    use base64::alphabet;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let cfg = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    GeneralPurpose::new(&alphabet::STANDARD, cfg)
        .decode(s)
        .or_else(|_| GeneralPurpose::new(&alphabet::URL_SAFE, cfg).decode(s))
        .map_err(|_| Error::invalid(field, "is not base64 (standard or URL-safe, padded or not, as DSSE allows)"))
}

impl TryFrom<&EnvelopeJson> for Envelope {
    type Error = Error;
    fn try_from(j: &EnvelopeJson) -> Result<Self> {
        let payload = dsse_base64("payload", &j.payload)?;
        let signatures = j
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(Signature { keyid: s.keyid.clone(), sig: dsse_base64(&format!("signatures[{i}].sig"), &s.sig)? })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Envelope { payload, payload_type: j.payload_type.clone(), signatures })
    }
}

/// Parse DSSE envelope JSON (see [`EnvelopeJson`]); INVALID_ARGUMENT naming `envelope` when it is not
/// such JSON, or naming the field whose base64 does not decode.
pub fn envelope_from_json(json: &str) -> Result<Envelope> {
    let j: EnvelopeJson =
        serde_json::from_str(json).map_err(|e| Error::invalid("envelope", format!("not DSSE envelope JSON: {e}")))?;
    Envelope::try_from(&j)
}

/// DSSE envelope JSON, pretty-printed, with standard padded base64.
pub fn envelope_to_json(e: &Envelope) -> String {
    // A struct of strings always serialises; the fallback is never taken.
    serde_json::to_string_pretty(&EnvelopeJson::from(e)).unwrap_or_default()
}

/// Remove `//` line comments outside strings, so annotated templates (JSONC) can be signed as they are.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_str = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for n in chars.by_ref() {
                if n == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The statement kinds, as (kind name, body field name of `Statement`).
#[allow(clippy::expect_used, reason = "Statement and its body oneof are in the compiled-in descriptor set")]
pub fn statement_kinds() -> Vec<(String, String)> {
    let desc = pool().get_message_by_name("accord.v1.Statement").expect("Statement in the descriptor set");
    let oneof = desc.oneofs().find(|o| o.name() == "body").expect("Statement.body oneof");
    oneof.fields().map(|f| (kind_of_field(f.name()), f.name().to_string())).collect()
}

/// `pledge_announced` → `pledge.announced`, `fx_rate_recorded` → `fx_rate.recorded` (DOMAIN.md names).
fn kind_of_field(field: &str) -> String {
    match field.rsplit_once('_') {
        Some((head, tail)) if !["amended", "withdrawn", "charter"].contains(&field) => format!("{head}.{tail}"),
        _ => field.to_string(),
    }
}

fn comment_of(f: &prost_reflect::FieldDescriptor) -> String {
    let file = f.parent_file();
    let path = f.path();
    file.file_descriptor_proto()
        .source_code_info
        .as_ref()
        .and_then(|i| i.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.clone())
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| id_help(f.parent_message().name(), f.name()).unwrap_or(field_help(f.name())).to_string())
}

/// The statements that create a subject, with the id field they create it under: there the id is the new
/// subject's, not a reference to an earlier one.
const CREATES: &[(&str, &str, &str)] = &[
    ("PlanCreated", "plan_id", "plan"),
    ("GoalDefined", "goal_id", "goal"),
    ("IndicatorDefined", "indicator_id", "indicator"),
    ("PledgeAnnounced", "pledge_id", "pledge"),
    ("ConditionDefined", "condition_id", "condition"),
    ("CommitmentSigned", "commitment_id", "commitment"),
    ("TransactionRecorded", "txn_id", "transaction"),
    ("InkindDelivered", "delivery_id", "delivery"),
    ("ProgressReported", "report_id", "report"),
    ("AttestationIssued", "attestation_id", "attestation"),
];

/// The help of an id field that depends on the message it is in: the id a statement creates, or a
/// reference to an earlier subject.
fn id_help(message: &str, field: &str) -> Option<&'static str> {
    if CREATES.iter().any(|(m, f, _)| *m == message && *f == field) {
        return Some(match field {
            "plan_id" => "Id of this new plan: unique per ledger, 1-128 printable ASCII characters.",
            "goal_id" => "Id of this new goal: unique per ledger, 1-128 printable ASCII characters.",
            "indicator_id" => "Id of this new indicator: unique per ledger, 1-128 printable ASCII characters.",
            "condition_id" => "Id of this new condition: unique per ledger, 1-128 printable ASCII characters.",
            "commitment_id" => "Id of this new commitment: unique per ledger, 1-128 printable ASCII characters.",
            "txn_id" => "Id of this new transaction: unique per ledger, 1-128 printable ASCII characters.",
            _ => "Id of what this statement creates: unique per ledger, 1-128 printable ASCII characters.",
        });
    }
    Some(match field {
        "commitment_id" => "Id of the commitment (an earlier commitment.signed).",
        "txn_id" => "Id of the transaction (an earlier transaction.recorded).",
        "delivery_id" => "Id of the delivery (an earlier inkind.delivered).",
        _ => return None,
    })
}

/// Fields the statement parser lets be empty (an absent message, an empty string or list): the template
/// leaves them out unless asked for every block (`--full`). Keyed by (message, field).
const OPTIONAL: &[(&str, &str)] = &[
    ("Party", "organisation_type"),
    ("Party", "country"),
    ("Charter", "purpose"),
    ("PlanCreated", "signatories"),
    ("PlanCreated", "report_schedule"),
    ("PlanCreated", "requirement"),
    ("PlanCreated", "description"),
    ("PlanCreated", "boundary_party_ids"),
    ("PlanCreated", "expected_reporters"),
    ("Signatory", "role"),
    ("ExpectedReporter", "schedule"),
    ("Classification", "share"),
    ("GoalDefined", "classifications"),
    ("GoalDefined", "description"),
    ("IndicatorDefined", "unit"),
    ("IndicatorDefined", "baseline"),
    ("IndicatorDefined", "targets"),
    ("PledgeAnnounced", "goals"),
    ("PledgeAnnounced", "recipient_ids"),
    ("PledgeAnnounced", "usage_period"),
    ("PledgeAnnounced", "new_money"),
    ("PledgeAnnounced", "restates"),
    ("PledgeAnnounced", "announced"),
    ("PledgeAnnounced", "expires_on"),
    ("PledgeAnnounced", "items"),
    ("PledgeAnnounced", "milestones"),
    ("PledgeAnnounced", "description"),
    ("PolicyMilestone", "quantity_target"),
    ("PolicyMilestone", "unit"),
    ("Announcement", "event"),
    ("Announcement", "date"),
    ("ConditionDefined", "pledge_ids"),
    ("ConditionDefined", "amount_at_stake"),
    ("ConditionDefined", "co_financing"),
    ("CoFinancingRule", "finance_types"),
    ("CoFinancingRule", "period"),
    ("CommitmentSigned", "allocations"),
    ("CommitmentSigned", "usage_years"),
    ("CommitmentSigned", "tranches"),
    ("Tranche", "condition_ids"),
    ("TransactionRecorded", "tranche_id"),
    ("TransactionRecorded", "boundary"),
    ("TransactionRecorded", "evidence_sha256"),
    ("TransactionRecorded", "description"),
    ("TransactionRecorded", "corrects"),
    ("TransactionReversed", "amount"),
    ("InkindDelivered", "item_id"),
    ("InkindDelivered", "quantity"),
    ("DeliveryConfirmed", "note"),
    ("MilestoneUpdated", "quantity_done"),
    ("MilestoneUpdated", "note"),
    ("ConditionAssessed", "tranche_id"),
    ("ConditionAssessed", "evidence_sha256"),
    ("ConditionAssessed", "rationale"),
    ("ProgressReported", "indicator_values"),
    ("ProgressReported", "co_financing_realised"),
    ("ProgressReported", "narrative_sha256"),
    ("AttestationIssued", "adjustments"),
    ("FxRateRecorded", "method"),
];

fn is_optional(f: &prost_reflect::FieldDescriptor) -> bool {
    let m = f.parent_message();
    OPTIONAL.iter().any(|(msg, field)| *msg == m.name() && *field == f.name())
}

/// Explanations of common field names the .proto files leave uncommented.
fn field_help(name: &str) -> &'static str {
    match name {
        "value" => "Exact decimal string, e.g. \"1250000.00\" (never a float).",
        "currency" | "to_currency" => "ISO 4217 currency code, e.g. \"EUR\".",
        "value_date" => "Value date of the amount, YYYY-MM-DD (required: conversions use the rate of this date).",
        "amount" | "unit_value" => "Money: exact decimal value, ISO 4217 currency and value date.",
        "description" | "note" | "purpose" => "Free text (optional, at most 4096 bytes).",
        "title" | "name" => "Human-readable name (required).",
        "text" => "What the condition requires, in words.",
        "start" => "First day, YYYY-MM-DD (inclusive).",
        "end" => "Last day, YYYY-MM-DD (inclusive).",
        "period" => "Period {start, end}, inclusive dates.",
        "rationale" | "reason" => "Why (required): kept in the history for everyone to read.",
        "scope" => "What the attestation covers, in words.",
        "plan_id" | "plan" => "Id of the plan (an earlier plan.created).",
        "pledge_id" => "Id of the pledge (an earlier pledge.announced).",
        "party_id" | "party" => "Party id of a member (as admitted in the charter or party.admitted).",
        "goal_id" => "Id of the goal (an earlier goal.defined).",
        "indicator_id" => "Id of the indicator (an earlier indicator.defined).",
        "condition_id" => "Id of the condition (an earlier condition.defined).",
        "commitment_id" => "Unique id of the commitment.",
        "txn_id" => "Id of the transaction (unique per ledger).",
        "milestone_id" | "item_id" => "Id, unique within the pledge.",
        "report_id" | "delivery_id" | "attestation_id" => "Unique id (1-128 printable ASCII characters).",
        "subject_id" => "Id of the amended or withdrawn subject.",
        "provider_id" => "The providing party (signs).",
        "recipient_id" | "receiver_id" => "The receiving party.",
        "year" => "Calendar year, e.g. 2026.",
        "unit" => "Unit of measure, e.g. \"vehicle\" or \"%\".",
        "signatories" => "Parties that sign the plan, with their roles.",
        "role" => "One of the roles of DOMAIN.md §2 (e.g. secretariat).",
        "report_schedule" => "Reporting frequency and deadline.",
        "days_after_period_end" => "Days after the period end a report is due.",
        "reported" | "verified" => "Decimal value.",
        "milestones" => "Policy milestones {milestone_id, title, due_date}.",
        "items" => "In-kind items {item_id, quantity, unit, unit value, valuation basis}.",
        "allocations" => "Pledges this commitment draws on, with amounts in each pledge's currency.",
        "classifications" => "Classifications {vocabulary, code, share}.",
        "baseline" => "Baseline {value, year}.",
        "indicator_values" => "Indicator values at the end of the period.",
        "adjustments" => "Figures the auditor verified at another value.",
        "announced" => "The announcing event and date.",
        "founders" => "Founding parties with their keys; each must sign the charter.",
        "admission" => "Admission rule: k of the members sign an admission.",
        "k" => "How many members must sign an admission.",
        "keyid" => "Lowercase hex SHA-256 of the public key.",
        _ => "See proto/accord/v1/statement.proto and DOMAIN.md §3.",
    }
}

fn example_scalar(f: &prost_reflect::FieldDescriptor, today: &str) -> serde_json::Value {
    use prost_reflect::Kind as K;
    let name = f.name();
    match f.kind() {
        K::Bool => serde_json::Value::Bool(false),
        K::Uint32 | K::Uint64 | K::Int32 | K::Int64 => serde_json::json!(0),
        K::Bytes => serde_json::Value::String(String::new()),
        K::Enum(_) => serde_json::json!(0),
        _ if name.ends_with("date") || name == "expires_on" || name == "start" || name == "end" => today.into(),
        _ if name.ends_with("currency") => "USD".into(),
        _ if ["value", "rate", "share", "ratio", "quantity", "reported", "verified"].contains(&name) => "0".into(),
        _ => serde_json::Value::String(String::new()),
    }
}

/// How a template is written: every optional block too (`--full`), and whether the message is the new
/// version inside an amendment (its id is the amended subject's).
#[derive(Clone, Copy)]
struct Shape<'a> {
    today: &'a str,
    full: bool,
    amended: bool,
}

fn template_field(
    f: &prost_reflect::FieldDescriptor,
    indent: usize,
    comma: &str,
    shape: Shape<'_>,
    depth: usize,
) -> String {
    let pad = "  ".repeat(indent);
    let mut out = String::new();
    let mut c = if shape.amended && CREATES.iter().any(|(m, id, _)| *m == f.parent_message().name() && *id == f.name())
    {
        "The amended subject's id: the same as subjectId above.".to_string()
    } else if let (Some(o), prost_reflect::Kind::Message(m)) = (f.containing_oneof(), f.kind()) {
        match CREATES.iter().find(|(msg, _, _)| *msg == m.name()) {
            Some((_, _, what)) if o.name() == "version" => {
                format!("The complete new version of the {what}: every field, as in the statement that created it.")
            }
            _ => comment_of(f),
        }
    } else {
        comment_of(f)
    };
    if is_optional(f) && !c.to_lowercase().contains("optional") {
        c = format!("Optional. {c}");
    }
    out.push_str(&format!("{pad}// {c}\n"));
    let key = f.json_name();
    let today = shape.today;
    match f.kind() {
        prost_reflect::Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
            out.push_str(&format!("{pad}\"{key}\": \"{today}T00:00:00Z\"{comma}\n"));
        }
        prost_reflect::Kind::Message(m) if depth < 6 => {
            let (open, close) = if f.is_list() { ("[{", "}]") } else { ("{", "}") };
            out.push_str(&format!("{pad}\"{key}\": {open}\n"));
            template_fields(&m, indent.saturating_add(1), &mut out, shape, depth.saturating_add(1));
            out.push_str(&format!("{pad}{close}{comma}\n"));
        }
        prost_reflect::Kind::Message(_) => out.push_str(&format!("{pad}\"{key}\": null{comma}\n")),
        _ if f.is_list() => out.push_str(&format!("{pad}\"{key}\": []{comma}\n")),
        _ => out.push_str(&format!("{pad}\"{key}\": {}{comma}\n", example_scalar(f, today))),
    }
    out
}

fn template_fields(
    desc: &prost_reflect::MessageDescriptor,
    indent: usize,
    out: &mut String,
    shape: Shape<'_>,
    depth: usize,
) {
    let pad = "  ".repeat(indent);
    // Each field, or for a oneof its first variant with the others after it as commented-out alternatives.
    let mut fields: Vec<(prost_reflect::FieldDescriptor, Vec<prost_reflect::FieldDescriptor>)> = Vec::new();
    let mut seen_oneofs = std::collections::BTreeSet::new();
    for f in desc.fields() {
        if let Some(o) = f.containing_oneof() {
            if seen_oneofs.insert(o.name().to_string()) {
                fields.push((f, o.fields().skip(1).collect()));
            }
            continue;
        }
        if shape.full || !is_optional(&f) {
            fields.push((f, Vec::new()));
        }
    }
    let n = fields.len();
    for (i, (f, alternatives)) in fields.into_iter().enumerate() {
        let comma = if i.saturating_add(1) < n { "," } else { "" };
        if let Some(o) = f.containing_oneof() {
            let names: Vec<String> = o.fields().map(|x| x.json_name().to_string()).collect();
            out.push_str(&format!(
                "{pad}// {}: exactly one of {}. The first is filled in below; to use another, delete it and \
                 uncomment that one.\n",
                o.name(),
                names.join(", ")
            ));
        }
        out.push_str(&template_field(&f, indent, comma, shape, depth));
        for a in alternatives {
            for line in template_field(&a, indent, comma, shape, depth).lines() {
                let body = line.strip_prefix(pad.as_str()).unwrap_or(line);
                if body.starts_with("//") {
                    out.push_str(&format!("{pad}{body}\n"));
                } else {
                    out.push_str(&format!("{pad}// {body}\n"));
                }
            }
        }
    }
}

/// A statement template for one kind (e.g. `pledge.announced`), as JSON with `//` comments explaining
/// every field (taken from the .proto files). `accord sign` accepts it once filled in.
pub fn statement_template(kind: &str, ledger: &str, statement_id: &str, today: &str) -> Result<String> {
    statement_template_with(kind, ledger, statement_id, today, true)
}

/// A statement template: the required fields only, or with `full` every optional block too (each
/// commented, and marked optional). A oneof shows its first variant, the others commented out.
#[allow(clippy::expect_used, reason = "the fields named are in the compiled-in descriptor set")]
pub fn statement_template_with(
    kind: &str,
    ledger: &str,
    statement_id: &str,
    today: &str,
    full: bool,
) -> Result<String> {
    let kinds = statement_kinds();
    let (kind, field) = kinds.iter().find(|(k, f)| k == kind || f == kind).ok_or_else(|| {
        Error::invalid(
            "kind",
            format!(
                "{kind:?} is not a statement kind; one of: {}",
                kinds.iter().map(|k| k.0.clone()).collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let st = pool().get_message_by_name("accord.v1.Statement").expect("Statement");
    let body = st.get_field_by_name(field).expect("body field");
    let prost_reflect::Kind::Message(m) = body.kind() else { return Err(Error::internal("body is not a message")) };
    let mut out = if full {
        format!("// {kind}: every field, the optional ones marked. Check it with `accord statement check FILE`.\n{{\n")
    } else {
        format!(
            "// {kind}: the required fields (`accord statement new {kind} --full` adds every optional block).\n\
             // Check it with `accord statement check FILE`; who signs it: docs/SIGNING.md.\n{{\n"
        )
    };
    out.push_str(&format!("  // {}\n", comment_of(&st.get_field_by_name("ledger").expect("ledger"))));
    out.push_str(&format!("  \"ledger\": {},\n", serde_json::Value::from(ledger)));
    out.push_str(&format!("  // {}\n", comment_of(&st.get_field_by_name("statement_id").expect("statement_id"))));
    out.push_str(&format!("  \"statementId\": {},\n", serde_json::Value::from(statement_id)));
    out.push_str("  // When the signer issued the statement (RFC 3339).\n");
    out.push_str(&format!("  \"issuedAt\": \"{today}T00:00:00Z\",\n"));
    out.push_str(&format!("  // {}\n", comment_of(&st.get_field_by_name("effective_date").expect("effective_date"))));
    out.push_str(&format!("  \"effectiveDate\": \"{today}\",\n"));
    out.push_str(&format!("  // {}\n", comment_of(&body)));
    out.push_str(&format!("  \"{}\": {{\n", body.json_name()));
    let amended = m.name() == "Amended";
    template_fields(&m, 2, &mut out, Shape { today, full, amended }, 0);
    out.push_str("  }\n}\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire scan finds a forbidden character wherever the dynamic walk does: in a top-level string, in
    /// a string inside a repeated sub-message, and nowhere in a clean statement; the path comes from the walk.
    #[test]
    fn forbidden_text_fast_path_agrees_with_the_walk() {
        use crate::pb::{statement::Body, Charter, Party};
        let bell = |c: char| c == '\u{7}';
        let statement = |id: &str, name: &str| Statement {
            ledger: "l".into(),
            statement_id: id.into(),
            body: Some(Body::Charter(Charter {
                name: "c".into(),
                founders: vec![
                    Party { party_id: "A".into(), ..Default::default() },
                    Party { name: name.into(), ..Default::default() },
                ],
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(forbidden_text(&statement("S1", "clean\nname"), &bell), None);
        assert_eq!(forbidden_text(&statement("S\u{7}", "x"), &bell), Some(("statement_id".into(), '\u{7}')));
        assert_eq!(
            forbidden_text(&statement("S1", "ring\u{7}"), &bell),
            Some(("charter.founders[1].name".into(), '\u{7}'))
        );
        let desc = pool().get_message_by_name("accord.v1.Statement").expect("descriptor");
        assert_eq!(wire_is_clean(&desc, &statement("S1", "ring\u{7}").encode_to_vec(), &bell, 0), Some(false));
        assert_eq!(wire_is_clean(&desc, &statement("S1", "ok").encode_to_vec(), &bell, 0), Some(true));
        assert_eq!(wire_is_clean(&desc, &[0x0a, 0x05, b'a'], &bell, 0), None, "a length past the end");
    }

    #[test]
    fn dsse_reader_accepts_what_the_spec_accepts() {
        let env = Envelope {
            payload: vec![0xfb, 0xff, 0xfe, 1, 2],
            payload_type: "application/vnd.accord.statement+protobuf".into(),
            signatures: vec![Signature { keyid: "k".into(), sig: vec![0xff; 64] }],
        };
        let std_json = envelope_to_json(&env);
        // Written in standard padded base64, unchanged.
        assert!(std_json.contains("\"+//+AQI=\""), "{std_json}");
        assert_eq!(envelope_from_json(&std_json).unwrap(), env);
        for (payload, sig) in [
            ("-__-AQI", BASE64_URL_SAFE_NO_PAD.encode([0xff; 64])),
            ("-__-AQI=", BASE64_URL_SAFE.encode([0xff; 64])),
            ("+//+AQI", BASE64_STANDARD_NO_PAD.encode([0xff; 64])),
        ] {
            let j = format!(
                r#"{{"payloadType": "{}", "payload": "{payload}", "extra": {{"x": 1}},
                    "signatures": [{{"keyid": "k", "sig": "{sig}", "note": "ignored"}}]}}"#,
                env.payload_type
            );
            assert_eq!(envelope_from_json(&j).unwrap(), env, "{j}");
        }
        let bad = r#"{"payloadType": "t", "payload": "a*b", "signatures": []}"#;
        assert_eq!(envelope_from_json(bad).unwrap_err().field, "payload");
    }

    #[test]
    fn comments_are_stripped_outside_strings_only() {
        let t = "{ // c\n \"a\": \"x//y\", // d\n \"b\": \"q\\\"//\" }";
        let v: serde_json::Value = serde_json::from_str(&strip_comments(t)).unwrap();
        assert_eq!(v["a"], "x//y");
        assert_eq!(v["b"], "q\"//");
    }
}
