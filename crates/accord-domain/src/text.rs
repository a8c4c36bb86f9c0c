//! Identifiers and free text (docs/SECURITY.md): what characters and lengths a statement's strings may have.
use crate::error::{Refusal, Result};

/// Longest identifier (party_id, plan_id, statement_id).
pub const MAX_ID_LEN: usize = 128;
/// Longest free-text field (names, titles, reasons).
pub const MAX_TEXT_LEN: usize = 4096;

/// An identifier: 1..=128 characters from `A–Z a–z 0–9 . _ - : @ + ~`, starting with a letter or digit
/// (docs/SECURITY.md). Identifiers appear in URLs, HTML, XML, CSV and file names: this set needs no
/// escaping in any of them and cannot start a spreadsheet formula.
pub fn check_id(field: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Refusal::invalid(field, "is required"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(Refusal::invalid(field, format!("is longer than {MAX_ID_LEN} characters")));
    }
    if !s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()) {
        return Err(Refusal::invalid(field, format!("{s:?} must start with a letter or a digit")));
    }
    if let Some(c) = s.chars().find(|c| !is_id_char(*c)) {
        return Err(Refusal::invalid(
            field,
            format!("{c:?} is not allowed in an identifier (letters, digits and . _ - : @ + ~ only)"),
        ));
    }
    Ok(())
}

/// A character allowed in identifiers.
pub fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@' | '+' | '~')
}

/// Free text: required or not, at most [`MAX_TEXT_LEN`] bytes. Control and bidi characters are refused for
/// every string of a statement at once (see [`is_forbidden_in_text`]).
pub fn check_text(field: &str, s: &str, required: bool) -> Result<()> {
    if required && s.trim().is_empty() {
        return Err(Refusal::invalid(field, "is required"));
    }
    if s.len() > MAX_TEXT_LEN {
        return Err(Refusal::invalid(field, format!("is longer than {MAX_TEXT_LEN} bytes")));
    }
    Ok(())
}

/// Control characters (C0 but newline and tab, DEL, C1) and bidirectional overrides/isolates.
pub fn is_forbidden_in_text(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_bounded_and_need_no_escaping() {
        assert!(check_id("id", "plan-2027:a@b+c~d_e.f").is_ok());
        for bad in ["", "-x", "a b", "a/b", "a<b", "=cmd", "a\u{202E}b"] {
            let e = check_id("plan_id", bad).unwrap_err();
            assert_eq!(e.field, "plan_id", "{bad:?}");
        }
        assert!(check_id("id", &"a".repeat(MAX_ID_LEN)).is_ok());
        assert!(check_id("id", &"a".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn free_text_refuses_controls_and_bidi_but_not_newlines() {
        assert!(!is_forbidden_in_text('\n') && !is_forbidden_in_text('\t') && !is_forbidden_in_text('é'));
        for c in ['\u{0}', '\u{7F}', '\u{85}', '\u{202E}', '\u{2066}'] {
            assert!(is_forbidden_in_text(c), "{c:?}");
        }
        assert!(check_text("name", " ", true).is_err());
        assert!(check_text("name", "", false).is_ok());
        assert!(check_text("name", &"x".repeat(MAX_TEXT_LEN + 1), false).is_err());
    }
}
