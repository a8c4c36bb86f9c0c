//! The XML writer of the IATI export: quick-xml with the text a party wrote cleaned of what XML cannot
//! carry, and the first write error kept until the document is finished.
use std::borrow::Cow;
use std::io;

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::{Error, Result};

/// Whether XML 1.0 allows a character at all (the `Char` production): not the C0 controls other than tab,
/// newline and carriage return, nor U+FFFE / U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text with every character that XML cannot carry dropped; escaping itself is quick-xml's (text and
/// attribute values both), so nothing a party writes can end an element, open one or break the document.
pub fn xml_chars(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|c| is_xml_char(*c)).collect())
    }
}

/// Text for an XML comment, which has no escaping: only `A-Z a-z 0-9 . _ : / -` kept (anything else becomes
/// `_`) and never two `-` in a row, so the comment cannot end early.
pub(super) fn comment_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-') { c } else { '_' };
        if c == '-' && o.ends_with('-') {
            o.push('_');
        } else {
            o.push(c);
        }
    }
    o
}

fn tag<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
    let mut t = BytesStart::new(name);
    for (k, v) in attrs {
        t.push_attribute((*k, xml_chars(v).as_ref()));
    }
    t
}

/// The document under construction: quick-xml's writer, indented one space per level. Writing to memory
/// cannot fail; should it, the first error is kept and the export fails with it at the end.
pub(super) struct Xml {
    w: Writer<Vec<u8>>,
    err: Option<io::Error>,
}

impl Xml {
    pub(super) fn new(w: Writer<Vec<u8>>) -> Self {
        Xml { w, err: None }
    }
    pub(super) fn event(&mut self, e: Event) {
        if self.err.is_none() {
            self.err = self.w.write_event(e).err();
        }
    }
    pub(super) fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.event(Event::Start(tag(name, attrs)));
    }
    pub(super) fn end(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }
    pub(super) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.event(Event::Empty(tag(name, attrs)));
    }
    pub(super) fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.event(Event::Text(BytesText::new(&xml_chars(text))));
        self.end(name);
    }
    /// `<name attrs><narrative>text</narrative></name>`.
    pub(super) fn narrated(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.text("narrative", &[], text);
        self.end(name);
    }
    pub(super) fn finish(self) -> Result<String> {
        if let Some(e) = self.err {
            return Err(Error::internal(format!("writing the IATI document: {e}")));
        }
        let mut out = String::from_utf8(self.w.into_inner()).map_err(|e| Error::internal(e.to_string()))?;
        out.push('\n');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_cannot_carry_are_dropped_and_comments_cannot_end_early() {
        assert_eq!(xml_chars("a<b>&\"c'\u{1}\u{b}\u{fffe}\u{ffff}\td\ne"), "a<b>&\"c'\td\ne");
        assert!(matches!(xml_chars("plain ✓"), Cow::Borrowed(_)));
        assert_eq!(comment_text("CA--2026 -->x"), "CA-_2026_-__x");
    }
}
