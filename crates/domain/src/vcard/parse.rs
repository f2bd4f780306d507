//! vCard reading: lines unfolded (and quoted-printable soft breaks joined), content lines split
//! into group, name, parameters and value, values decoded (quoted-printable, charsets, base64,
//! `data:` URIs, backslash escapes), and each card mapped onto a contact draft.

use base64::Engine;

use super::{finish, iso_date, BadRecord, Imported, Record};
use crate::contact::{ContactData, EmailAddress, Phone, PostalAddress, Website};
use crate::properties::vcard_text_property;
use crate::xprop::{MultiValue, SingleValue, MAX_VALUE_CHARS};

/// A logical line with the 1-based physical line it starts on.
struct Logical {
    line: usize,
    text: String,
}

fn is_quoted_printable(text: &str) -> bool {
    let head = text.split(':').next().unwrap_or_default().to_ascii_uppercase();
    head.contains("QUOTED-PRINTABLE")
}

/// Unfolds: a line starting with a space or tab continues the previous one (RFC 6350 §3.2), and
/// a quoted-printable value ending in `=` continues on the next line (vCard 2.1).
fn logical_lines(text: &str) -> Vec<Logical> {
    let mut out: Vec<Logical> = Vec::new();
    let mut qp_open = false;
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(last) = out.last_mut() {
            if qp_open {
                last.text.pop();
                last.text.push_str(raw);
                qp_open = raw.ends_with('=');
                continue;
            }
            if let Some(rest) = raw.strip_prefix(' ').or_else(|| raw.strip_prefix('\t')) {
                last.text.push_str(rest);
                qp_open = is_quoted_printable(&last.text) && last.text.ends_with('=');
                continue;
            }
        }
        out.push(Logical { line: i + 1, text: raw.to_owned() });
        qp_open = is_quoted_printable(raw) && raw.ends_with('=');
    }
    out
}

/// A parsed content line.
pub struct ContentLine {
    pub group: Option<String>,
    /// Upper-cased.
    pub name: String,
    /// Upper-cased names; values as written, quotes removed.
    pub params: Vec<(String, Vec<String>)>,
    pub value: String,
}

impl ContentLine {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.first()).map(String::as_str)
    }

    /// TYPE values and vCard 2.1's bare parameters (`TEL;WORK;FAX:`), lower-cased.
    pub fn types(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (n, values) in &self.params {
            if n == "TYPE" {
                out.extend(values.iter().flat_map(|v| v.split(',')).map(|v| v.trim().to_ascii_lowercase()));
            } else if values.is_empty() {
                out.push(n.to_ascii_lowercase());
            }
        }
        out
    }

    /// A parameter value with RFC 6868's escapes decoded (`^n` newline, `^'` quote, `^^` caret).
    fn caret_param(&self, name: &str) -> Option<String> {
        let raw = self.param(name)?;
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '^' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\'') => out.push('"'),
                Some('^') => out.push('^'),
                Some(other) => {
                    out.push('^');
                    out.push(other);
                }
                None => out.push('^'),
            }
        }
        Some(out).filter(|s| !s.is_empty())
    }

    fn encoding(&self) -> Option<String> {
        self.param("ENCODING").map(str::to_ascii_uppercase).or_else(|| {
            self.params
                .iter()
                .find(|(n, v)| v.is_empty() && (n == "QUOTED-PRINTABLE" || n == "BASE64" || n == "B"))
                .map(|(n, _)| n.clone())
        })
    }
}

/// Splits `[group.]name *(;param[=value]) : value`.
pub fn content_line(text: &str) -> Result<ContentLine, String> {
    let mut in_quotes = false;
    let mut colon = None;
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ':' if !in_quotes => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon =
        colon.ok_or_else(|| format!("the line has no ':' between a property name and its value: {}", preview(text)))?;
    let (head, value) = text.split_at_checked(colon).ok_or("bad line")?;
    let value = value.get(1..).unwrap_or_default().to_owned();
    let mut parts = split_unquoted(head, ';').into_iter();
    let full_name = parts.next().unwrap_or_default();
    let (group, name) = match full_name.rsplit_once('.') {
        Some((g, n)) => (Some(g.to_owned()), n),
        None => (None, full_name.as_str()),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("'{}' is not a property name", preview(&full_name)));
    }
    let params = parts
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (
                n.trim().to_ascii_uppercase(),
                split_unquoted(v, ',').into_iter().map(|v| v.trim_matches('"').to_owned()).collect(),
            ),
            None => (p.trim().to_ascii_uppercase(), Vec::new()),
        })
        .collect();
    Ok(ContentLine { group, name: name.to_ascii_uppercase(), params, value })
}

fn preview(s: &str) -> String {
    let cut = crate::text::truncate_at_char(s, 60);
    if cut.len() < s.len() {
        format!("{cut}...")
    } else {
        cut.to_owned()
    }
}

fn split_unquoted(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut in_quotes = false;
    for c in s.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        if c == sep && !in_quotes {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn quoted_printable(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None if i + 1 == bytes.len() => i += 1,
                None => return Err("the quoted-printable value has a bad '=' escape".into()),
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn decode_charset(bytes: Vec<u8>, charset: Option<&str>) -> Result<String, String> {
    match charset.map(str::to_ascii_lowercase).as_deref() {
        None | Some("utf-8") | Some("utf8") => {
            String::from_utf8(bytes).map_err(|_| "the value is not valid UTF-8 (name its CHARSET)".to_owned())
        }
        Some("iso-8859-1" | "latin1" | "windows-1252" | "cp1252" | "us-ascii" | "ascii") => {
            Ok(bytes.into_iter().map(char::from).collect())
        }
        Some(other) => Err(format!("the charset '{other}' is not supported (UTF-8, ISO-8859-1 and Windows-1252 are)")),
    }
}

/// The value as text: quoted-printable and charset decoded; backslash escapes still in place.
fn raw_text(cl: &ContentLine) -> Result<String, String> {
    if cl.encoding().as_deref() == Some("QUOTED-PRINTABLE") {
        decode_charset(quoted_printable(&cl.value)?, cl.param("CHARSET"))
    } else {
        Ok(cl.value.clone())
    }
}

pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits on a separator not escaped with a backslash; components keep their escapes.
fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            if let Some(l) = out.last_mut() {
                l.push('\\');
                l.push(c);
            }
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            out.push(String::new());
        } else if let Some(l) = out.last_mut() {
            l.push(c);
        }
    }
    out
}

fn components(s: &str) -> Vec<Option<String>> {
    split_escaped(s, ';').iter().map(|c| Some(unescape(c)).filter(|c| !c.is_empty())).collect()
}

fn decode_photo(cl: &ContentLine) -> Result<Option<Vec<u8>>, String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let clean = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let bytes = if matches!(cl.encoding().as_deref(), Some("B" | "BASE64")) {
        engine.decode(clean(&cl.value))
    } else if let Some(rest) = crate::text::strip_prefix_ignore_ascii_case(&cl.value, "data:") {
        match rest.split_once(";base64,") {
            Some((_, data)) => engine.decode(clean(data)),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    bytes.map(Some).map_err(|_| "the PHOTO's base64 does not decode".to_owned())
}

/// A card's lines mapped onto a draft.
#[derive(Default)]
struct Card {
    data: ContactData,
    uid: Option<String>,
    photo: Option<Vec<u8>>,
    birthday: Option<String>,
    anniversary: Option<String>,
    extra: Vec<String>,
}

pub const EMAIL_KINDS: &[(&str, &str)] =
    &[("work", "WORK"), ("personal", "HOME"), ("other", "OTHER"), ("main", "X-MAIN"), ("unknown", "X-UNKNOWN")];
/// Phone kinds and the TYPE values that say them; the more specific first.
pub const PHONE_KINDS: &[(&str, &[&str])] = &[
    ("homeFax", &["HOME", "FAX"]),
    ("businessFax", &["WORK", "FAX"]),
    ("otherFax", &["FAX"]),
    ("mobile", &["CELL"]),
    ("pager", &["PAGER"]),
    ("car", &["CAR"]),
    ("primary", &["MAIN"]),
    ("organizationMain", &["X-COMPANY-MAIN"]),
    ("assistant", &["X-ASSISTANT"]),
    ("radio", &["X-RADIO"]),
    ("callback", &["X-CALLBACK"]),
    ("telex", &["X-TELEX"]),
    ("ttyTdd", &["TEXTPHONE"]),
    ("unknown", &["X-UNKNOWN"]),
    ("home", &["HOME"]),
    ("business", &["WORK"]),
    ("other", &["OTHER"]),
];
pub const ADDRESS_KINDS: &[(&str, &str)] =
    &[("home", "HOME"), ("business", "WORK"), ("other", "OTHER"), ("unknown", "X-UNKNOWN")];
pub const WEBSITE_KINDS: &[(&str, &str)] =
    &[("work", "WORK"), ("home", "HOME"), ("blog", "X-BLOG"), ("profile", "X-PROFILE"), ("other", "OTHER")];
/// Properties that are the file's framing, regenerated on export.
const FRAMING: &[&str] = &["VERSION", "PRODID", "REV", "KIND"];
const IM_PROPERTIES: &[&str] =
    &["IMPP", "X-AIM", "X-JABBER", "X-MSN", "X-ICQ", "X-YAHOO", "X-SKYPE", "X-GOOGLE-TALK", "X-QQ", "X-MS-IMADDRESS"];

fn kind_of<'a>(types: &[String], table: &[(&'a str, &str)]) -> Option<&'a str> {
    table.iter().find(|(_, t)| types.iter().any(|x| x.eq_ignore_ascii_case(t))).map(|(k, _)| *k)
}

fn phone_kind(types: &[String]) -> &'static str {
    let has = |t: &str| types.iter().any(|x| x.eq_ignore_ascii_case(t) || (t == "CELL" && x == "iphone"));
    PHONE_KINDS.iter().find(|(_, ts)| ts.iter().all(|t| has(t))).map(|(k, _)| *k).unwrap_or("other")
}

impl Card {
    fn take(&mut self, cl: &ContentLine, raw: &str) -> Result<(), String> {
        let text = || raw_text(cl);
        let single = |s: &str| Some(unescape(s)).filter(|s| !s.is_empty());
        match cl.name.as_str() {
            n if FRAMING.contains(&n) => {}
            "UID" => self.uid = single(&text()?),
            "FN" => self.data.display_name = single(&text()?),
            "N" => {
                let mut c = components(&text()?).into_iter();
                let mut next = || c.next().flatten();
                self.data.surname = next();
                self.data.given_name = next();
                self.data.middle_name = next();
                self.data.title = next();
                self.data.generation = next();
            }
            "ORG" => {
                let c = components(&text()?);
                self.data.company_name = c.first().cloned().flatten();
                let units: Vec<String> = c.into_iter().skip(1).flatten().collect();
                self.data.department = Some(units.join(";")).filter(|d| !d.is_empty());
            }
            "CATEGORIES" => {
                let t = text()?;
                self.data
                    .categories
                    .extend(split_escaped(&t, ',').iter().map(|c| unescape(c.trim())).filter(|c| !c.is_empty()))
            }
            "EMAIL" => {
                let types = cl.types();
                let significant = types.iter().any(|t| t != "internet" && t != "pref" && t != "x400");
                let kind = kind_of(&types, EMAIL_KINDS).or(significant.then_some("other"));
                self.data.email_addresses.push(EmailAddress {
                    address: single(&text()?),
                    kind: kind.map(str::to_owned),
                    name: cl.caret_param("X-NAME"),
                    other_label: cl.caret_param("X-LABEL"),
                });
            }
            "TEL" => {
                let number = single(&text()?);
                let number = number.map(|n| n.strip_prefix("tel:").map(str::to_owned).unwrap_or(n));
                self.data.phones.push(Phone { kind: phone_kind(&cl.types()).into(), number });
            }
            "ADR" => {
                let mut c = components(&text()?).into_iter();
                let mut next = || c.next().flatten();
                let (pobox, ext, street) = (next(), next(), next());
                let street = match (ext, street) {
                    (Some(e), Some(s)) => Some(format!("{e}\n{s}")),
                    (e, s) => e.or(s),
                };
                let (city, state, postal_code, country_or_region) = (next(), next(), next(), next());
                let kind = kind_of(&cl.types(), ADDRESS_KINDS).unwrap_or("other");
                self.data.postal_addresses.push(PostalAddress {
                    kind: kind.into(),
                    street,
                    city,
                    state,
                    country_or_region,
                    postal_code,
                    post_office_box: pobox,
                });
            }
            "URL" => {
                let kind = kind_of(&cl.types(), WEBSITE_KINDS).unwrap_or("other");
                let display_name = cl.caret_param("X-NAME");
                self.data.websites.push(Website { kind: kind.into(), address: single(&text()?), display_name });
            }
            n if IM_PROPERTIES.contains(&n) => self.data.im_addresses.extend(single(&text()?)),
            "BDAY" | "ANNIVERSARY" | "X-ANNIVERSARY" | "X-MS-ANNIVERSARY" => match iso_date(&text()?) {
                Some(d) if cl.name == "BDAY" => self.birthday = Some(d),
                Some(d) => self.anniversary = Some(d),
                None => self.keep(raw),
            },
            "X-MS-CHILD" | "X-CHILD" => self.data.children.extend(single(&text()?)),
            "X-GENDER" => self.data.gender = single(&text()?),
            "GENDER" => {
                let mut c = components(&text()?).into_iter();
                let (sex, identity) = (c.next().flatten(), c.next().flatten());
                self.data.gender = match sex.as_deref() {
                    Some("M") => Some("male".into()),
                    Some("F") => Some("female".into()),
                    _ => identity.or(sex),
                }
            }
            "PHOTO" => match decode_photo(cl)? {
                Some(bytes) => self.photo = Some(bytes),
                None => self.keep(raw),
            },
            name => match vcard_text_property(name).and_then(|p| self.data.text_mut(p.name)) {
                // The first line of a kind wins; a second is kept verbatim, so nothing is lost.
                Some(slot) if slot.is_none() => *slot = single(&text()?),
                _ => self.keep(raw),
            },
        }
        Ok(())
    }

    /// Keeps a line Graph has no property for, verbatim, within the extended property limits.
    fn keep(&mut self, raw: &str) {
        if raw.chars().count() <= MAX_VALUE_CHARS && self.extra.len() < crate::contact::MAX_COLLECTION_ITEMS {
            self.extra.push(raw.to_owned());
        }
    }

    fn finish(self, line: usize) -> Record {
        let bad = |reason: String| BadRecord { line, reason };
        let mut single = Vec::new();
        if let Some(uid) = &self.uid {
            single.push(SingleValue { id: super::uid_property(), value: uid.clone() });
        }
        let mut multi = Vec::new();
        if !self.extra.is_empty() {
            multi.push(MultiValue { id: super::vcard_extra_property(), value: self.extra });
        }
        let data = finish(self.data, single, multi, self.birthday, self.anniversary).map_err(|e| bad(e.message))?;
        Ok(Imported { line, data, uid: self.uid, photo: self.photo })
    }
}

/// Reads every card of a file; each bad card is reported with the line it starts on and why.
pub fn read_vcards(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut current: Option<(usize, Result<Card, String>)> = None;
    for l in logical_lines(text) {
        let trimmed = l.text.trim();
        if trimmed.is_empty() {
            continue;
        }
        let upper = trimmed.to_ascii_uppercase();
        if upper == "BEGIN:VCARD" {
            if let Some((line, _)) = current.take() {
                out.push(Err(BadRecord { line, reason: "the card has no END:VCARD".into() }));
            }
            current = Some((l.line, Ok(Card::default())));
            continue;
        }
        if upper == "END:VCARD" {
            match current.take() {
                Some((line, Ok(card))) => out.push(card.finish(line)),
                Some((line, Err(reason))) => out.push(Err(BadRecord { line, reason })),
                None => out.push(Err(BadRecord { line: l.line, reason: "END:VCARD without BEGIN:VCARD".into() })),
            }
            continue;
        }
        match &mut current {
            Some((_, Ok(card))) => {
                let taken = content_line(&l.text).and_then(|cl| card.take(&cl, &l.text));
                if let Err(e) = taken {
                    current = current.map(|(line, _)| (line, Err(format!("line {}: {e}", l.line))));
                }
            }
            Some((_, Err(_))) => {}
            None => out.push(Err(BadRecord {
                line: l.line,
                reason: format!("a line outside BEGIN:VCARD ... END:VCARD: {}", preview(trimmed)),
            })),
        }
    }
    if let Some((line, _)) = current {
        out.push(Err(BadRecord { line, reason: "the card has no END:VCARD".into() }));
    }
    out
}
