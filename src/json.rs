//! JSON forms: statements through the protobuf JSON mapping (via the compiled descriptor set), and
//! envelopes in the standard DSSE JSON form `{payloadType, payload, signatures: [{keyid, sig}]}`.
use std::sync::OnceLock;

use base64::prelude::*;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pb::{Envelope, Signature, Statement};

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET).expect("descriptor set compiled by build.rs")
    })
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

pub fn statement_from_json(json: &str) -> Result<Statement> {
    message_from_json("accord.v1.Statement", json)
}

pub fn statement_to_json(st: &Statement) -> Result<String> {
    message_to_json("accord.v1.Statement", st)
}

/// DSSE envelope JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvelopeJson {
    pub payload_type: String,
    /// Standard base64 of the payload bytes.
    pub payload: String,
    #[serde(default)]
    pub signatures: Vec<SignatureJson>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureJson {
    pub keyid: String,
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

impl TryFrom<&EnvelopeJson> for Envelope {
    type Error = Error;
    fn try_from(j: &EnvelopeJson) -> Result<Self> {
        let payload =
            BASE64_STANDARD.decode(&j.payload).map_err(|_| Error::invalid("payload", "is not standard base64"))?;
        let signatures = j
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(Signature {
                    keyid: s.keyid.clone(),
                    sig: BASE64_STANDARD
                        .decode(&s.sig)
                        .map_err(|_| Error::invalid(format!("signatures[{i}].sig"), "is not standard base64"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Envelope { payload, payload_type: j.payload_type.clone(), signatures })
    }
}

pub fn envelope_from_json(json: &str) -> Result<Envelope> {
    let j: EnvelopeJson =
        serde_json::from_str(json).map_err(|e| Error::invalid("envelope", format!("not DSSE envelope JSON: {e}")))?;
    Envelope::try_from(&j)
}

pub fn envelope_to_json(e: &Envelope) -> String {
    serde_json::to_string_pretty(&EnvelopeJson::from(e)).expect("plain data serialises")
}
