//! XML text to a small element tree, with the safety limits applied while streaming.
//!
//! The tree is at most [`MAX_DEPTH`] deep and built with an explicit stack, so neither this
//! step nor the typed conversion after it can recurse deeply; the input size cap bounds the
//! number of nodes. Only the five predefined entities and character references are resolved.

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use crate::error::TwimlError;

/// Largest document [`parse`](crate::parse()) accepts, in bytes (64 KiB).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Deepest element nesting [`parse`](crate::parse()) accepts: `Response > verb > noun > child`
/// (e.g. `Response > Dial > Client > Parameter`).
pub const MAX_DEPTH: usize = 4;

/// One element: its name, attributes (unescaped), child elements and direct text.
#[derive(Debug)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Direct text content (text, CDATA and references), concatenated, untrimmed.
    pub text: String,
    /// `Response/Dial[1]/Conference[1]`: 1-based among same-named siblings.
    pub path: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_err(what: impl std::fmt::Display) -> TwimlError {
    TwimlError::parse_failure(what.to_string())
}

/// Reads `xml` into a tree rooted at `<Response>`.
pub(crate) fn read(xml: &str) -> Result<Element, TwimlError> {
    if xml.len() > MAX_DOCUMENT_BYTES {
        return Err(parse_err(format!(
            "document is {} bytes, more than the {MAX_DOCUMENT_BYTES} allowed",
            xml.len()
        )));
    }
    if xml.trim().is_empty() {
        return Err(parse_err("empty document"));
    }

    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_comments = true;
    reader.config_mut().check_end_names = true;

    let mut stack: Vec<Element> = Vec::with_capacity(MAX_DEPTH);
    let mut root: Option<Element> = None;

    loop {
        let event = reader.read_event().map_err(|e| {
            parse_err(format!(
                "malformed XML at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        match event {
            Event::Start(start) => {
                let element = open(&start, &stack, root.is_some())?;
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open(&start, &stack, root.is_some())?;
                close(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                // quick-xml has already checked that the name matches the open element.
                let element = stack
                    .pop()
                    .ok_or_else(|| parse_err("closing tag without an open element"))?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(text) => {
                let text = text
                    .xml_content()
                    .map_err(|e| parse_err(format!("bad text: {e}")))?;
                push_text(&mut stack, &text, root.is_some())?;
            }
            Event::CData(cdata) => {
                let text = cdata
                    .xml_content()
                    .map_err(|e| parse_err(format!("bad CDATA: {e}")))?;
                push_text(&mut stack, &text, root.is_some())?;
            }
            Event::GeneralRef(reference) => {
                let ch = resolve_reference(&reference).map_err(|e| match stack.last() {
                    Some(open) => parse_err(format!("{e} in {}", open.path)),
                    None => parse_err(e),
                })?;
                let mut buf = [0u8; 4];
                push_text(&mut stack, ch.encode_utf8(&mut buf), root.is_some())?;
            }
            Event::DocType(doctype) => {
                if root.is_some() || !stack.is_empty() {
                    return Err(parse_err("DOCTYPE after the root element"));
                }
                if doctype.contains(&b'[') {
                    return Err(parse_err(
                        "DOCTYPE with an internal subset (entity declarations) is not allowed",
                    ));
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }

    if let Some(open) = stack.last() {
        return Err(parse_err(format!(
            "document ends inside <{}> ({})",
            open.name, open.path
        )));
    }
    root.ok_or_else(|| parse_err("no root element"))
}

fn open(start: &BytesStart<'_>, stack: &[Element], root_done: bool) -> Result<Element, TwimlError> {
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|e| parse_err(format!("element name is not UTF-8: {e}")))?
        .to_owned();
    if root_done {
        return Err(parse_err(format!(
            "element <{name}> after the end of <Response>"
        )));
    }
    let path = match stack.last() {
        None => {
            if name != "Response" {
                return Err(parse_err(format!(
                    "root element is <{name}>, expected <Response>"
                )));
            }
            name.clone()
        }
        Some(parent) => {
            if stack.len() >= MAX_DEPTH {
                return Err(parse_err(format!(
                    "<{name}> inside {} is nested deeper than TwiML allows ({MAX_DEPTH} levels)",
                    parent.path
                )));
            }
            let index = 1 + parent.children.iter().filter(|c| c.name == name).count();
            format!("{}/{name}[{index}]", parent.path)
        }
    };

    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| parse_err(format!("bad attribute in {path}: {e}")))?;
        let key = std::str::from_utf8(attr.key.as_ref())
            .map_err(|e| parse_err(format!("attribute name in {path} is not UTF-8: {e}")))?
            .to_owned();
        // Resolves only predefined entities and character references; anything else errors.
        let value = attr
            .unescape_value()
            .map_err(|e| parse_err(format!("bad value of {path}/@{key}: {e}")))?
            .into_owned();
        attrs.push((key, value));
    }

    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
        path,
    })
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn push_text(stack: &mut [Element], text: &str, root_done: bool) -> Result<(), TwimlError> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None if root_done => Err(parse_err("text after the end of <Response>")),
        None => Err(parse_err(
            "not an XML document: text before the root element",
        )),
    }
}

fn resolve_reference(reference: &BytesRef<'_>) -> Result<char, String> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(ch)) => Ok(ch),
            Ok(None) | Err(_) => Err(format!(
                "bad character reference &{};",
                String::from_utf8_lossy(reference)
            )),
        };
    }
    match &**reference {
        b"amp" => Ok('&'),
        b"lt" => Ok('<'),
        b"gt" => Ok('>'),
        b"quot" => Ok('"'),
        b"apos" => Ok('\''),
        other => Err(format!(
            "undefined entity &{};",
            String::from_utf8_lossy(other)
        )),
    }
}
