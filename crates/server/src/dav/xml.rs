//! DAV XML: request bodies read into a small namespaced tree (quick-xml does the parsing and
//! namespace resolution), and the writing side (escaping, property names with their prefixes).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::error::DavError;

pub const DAV: &str = "DAV:";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CALSERVER: &str = "http://calendarserver.org/ns/";

/// Elements deeper than this are refused (a request body is a handful of levels deep).
const MAX_DEPTH: usize = 32;

/// A property or element name: namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    pub ns: String,
    pub local: String,
}

impl Name {
    pub fn new(ns: &str, local: &str) -> Name {
        Name { ns: ns.to_owned(), local: local.to_owned() }
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// `<D:getetag/>`-style opening of this name: a known prefix, or a local declaration.
    pub fn open(&self) -> String {
        match prefix(&self.ns) {
            Some(p) => format!("{p}:{}", self.local),
            None if self.ns.is_empty() => self.local.clone(),
            None => format!("X:{} xmlns:X=\"{}\"", self.local, escape(&self.ns)),
        }
    }

    /// The closing tag name matching [`Name::open`].
    pub fn close(&self) -> String {
        match prefix(&self.ns) {
            Some(p) => format!("{p}:{}", self.local),
            None if self.ns.is_empty() => self.local.clone(),
            None => format!("X:{}", self.local),
        }
    }

    /// The property as an empty element.
    pub fn empty(&self) -> String {
        format!("<{}/>", self.open())
    }

    /// The property holding `inner` (already XML).
    pub fn with(&self, inner: &str) -> String {
        format!("<{}>{inner}</{}>", self.open(), self.close())
    }
}

fn prefix(ns: &str) -> Option<&'static str> {
    match ns {
        DAV => Some("D"),
        CARDDAV => Some("C"),
        CALSERVER => Some("CS"),
        _ => None,
    }
}

/// One element of a request body.
#[derive(Debug, Clone)]
pub struct Element {
    pub name: Name,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name.is(ns, local))
    }

    pub fn children_named<'a>(&'a self, ns: &'a str, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name.is(ns, local))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses a request body; an empty body is `None`. Malformed XML is a 400.
pub fn parse(body: &[u8]) -> Result<Option<Element>, DavError> {
    let text = std::str::from_utf8(body).map_err(|_| DavError::bad_request("The body is not UTF-8."))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let bad = |e: &dyn std::fmt::Display| DavError::bad_request(format!("The XML body is malformed: {e}"));
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| bad(&e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let ns = match ns {
                    ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                    ResolveResult::Unbound => String::new(),
                    ResolveResult::Unknown(p) => {
                        return Err(bad(&format!("unknown prefix '{}'", String::from_utf8_lossy(&p))))
                    }
                };
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|e| bad(&e))?;
                    let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                    let value = a.unescape_value().map_err(|e| bad(&e))?.into_owned();
                    attrs.push((key, value));
                }
                let el = Element { name: Name { ns, local }, attrs, children: Vec::new(), text: String::new() };
                if stack.len() >= MAX_DEPTH {
                    return Err(bad(&"too deeply nested"));
                }
                if empty {
                    attach(&mut stack, &mut root, el)?;
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| bad(&"unbalanced end tag"))?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.unescape().map_err(|e| bad(&e))?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::DocType(_) => return Err(bad(&"a DOCTYPE is not accepted")),
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(bad(&"the document ends inside an element"));
    }
    root.map(Some).ok_or_else(|| bad(&"no root element"))
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), DavError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => return Err(DavError::bad_request("The XML body has more than one root element.")),
    }
    Ok(())
}

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// The opening of every multistatus or error document.
pub const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
pub const NAMESPACES: &str =
    r#"xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/""#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_propfind_with_prefixes_and_default_namespaces() {
        let body = br#"<?xml version="1.0"?><propfind xmlns="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">
            <prop><getetag/><c:address-data version="4.0"/><x:foo xmlns:x="urn:x">t</x:foo></prop></propfind>"#;
        let root = parse(body).unwrap().unwrap();
        assert!(root.name.is(DAV, "propfind"));
        let prop = root.child(DAV, "prop").unwrap();
        assert!(prop.children[0].name.is(DAV, "getetag"));
        assert!(prop.children[1].name.is(CARDDAV, "address-data"));
        assert_eq!(prop.children[1].attr("version"), Some("4.0"));
        assert_eq!(prop.children[2].name, Name::new("urn:x", "foo"));
        assert_eq!(prop.children[2].text, "t");
    }

    #[test]
    fn refuses_malformed_bodies() {
        for bad in [&b"<a><b></a>"[..], b"<a>", b"<x:a/>", b"<a/><b/>", b"<!DOCTYPE a [<!ENTITY x 'y'>]><a/>", b"\xff"]
        {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.status, 400, "{}", String::from_utf8_lossy(bad));
        }
        assert!(parse(b"  ").unwrap().is_none());
    }

    #[test]
    fn names_render_with_known_prefixes_or_a_declaration() {
        assert_eq!(Name::new(DAV, "getetag").empty(), "<D:getetag/>");
        assert_eq!(Name::new("urn:x", "a").with("1"), "<X:a xmlns:X=\"urn:x\">1</X:a>");
    }
}
