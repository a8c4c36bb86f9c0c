//! Key files: party and log keys use the signed-note forms (`PRIVATE+KEY+name+id+base64` and
//! `name+id+base64`), so one format serves every key Accord handles.
use std::path::Path;

use anyhow::{Context, Result};

use crate::crypto::{self, PrivateKey, PublicKey};

/// Read a private key file.
pub fn read_private(path: &Path) -> Result<(String, PrivateKey)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading key file {}", path.display()))?;
    crypto::parse_private_key(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// A public key given as a verifier-key string, a file holding one, or 64 hex characters.
pub fn read_public(arg: &str) -> Result<(String, PublicKey)> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("reading {arg}"))?
    } else {
        arg.to_string()
    };
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let raw = hex::decode(text)?;
        return Ok((String::new(), crypto::public_key_from_bytes(&raw)?));
    }
    Ok(crypto::parse_verifier_key(text)?)
}

/// The trusted log key: a verifier-key string or a file holding one.
pub fn read_log_key(arg: &str) -> Result<String> {
    let text = if Path::new(arg).is_file() { std::fs::read_to_string(arg)? } else { arg.to_string() };
    let text = text.trim().to_string();
    crypto::parse_verifier_key(&text)
        .with_context(|| "the log key must be a signed-note verifier key name+hex8+base64")?;
    Ok(text)
}
