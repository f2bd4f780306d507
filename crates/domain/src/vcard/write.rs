//! vCard writing: 3.0 or 4.0, values escaped, lines folded at 75 octets, the photo inline, and
//! the lines kept from an import written back as they came.

use base64::Engine;

use super::parse::{ADDRESS_KINDS, EMAIL_KINDS, PHONE_KINDS, WEBSITE_KINDS};
use super::{date_part, vcard_extra_property};
use crate::contact::ContactData;
use crate::properties::vcard_text_lines;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VCardVersion {
    #[default]
    V3,
    V4,
}

/// A contact's photo as it is written: its media type and bytes.
pub struct PhotoRef<'a> {
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets, never inside a character (RFC 6350 §3.2).
fn fold(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

struct Out {
    text: String,
}

impl Out {
    fn line(&mut self, name: &str, value: &str) {
        fold(&mut self.text, &format!("{name}:{value}"));
    }
    fn text(&mut self, name: &str, value: &Option<String>) {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            self.line(name, &escape(v));
        }
    }
}

/// A quoted parameter value with RFC 6868's escapes, so any text fits.
fn caret_param(name: &str, value: &Option<String>) -> String {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => String::new(),
        Some(v) => {
            let mut out = format!(";{name}=\"");
            for c in v.chars() {
                match c {
                    '^' => out.push_str("^^"),
                    '\n' => out.push_str("^n"),
                    '"' => out.push_str("^'"),
                    '\r' => {}
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

fn typed(name: &str, types: &[&str]) -> String {
    if types.is_empty() {
        name.to_owned()
    } else {
        format!("{name};TYPE={}", types.join(","))
    }
}

fn lookup<'a>(table: &[(&str, &'a str)], kind: &str) -> Option<&'a str> {
    table.iter().find(|(k, _)| *k == kind).map(|(_, t)| *t)
}

/// Writes one card. `uid` is the contact's stable key (the UID it was imported with, else its id).
pub fn write_vcard(d: &ContactData, uid: &str, photo: Option<PhotoRef<'_>>, version: VCardVersion) -> String {
    let v4 = version == VCardVersion::V4;
    let mut o = Out { text: String::new() };
    o.text.push_str("BEGIN:VCARD\r\n");
    o.line("VERSION", if v4 { "4.0" } else { "3.0" });
    o.line("PRODID", "-//Rolo//Rolo contacts//EN");
    o.line("UID", &escape(uid));
    o.line("FN", &escape(d.display_name.as_deref().unwrap_or_default()));
    let n: Vec<String> = [&d.surname, &d.given_name, &d.middle_name, &d.title, &d.generation]
        .iter()
        .map(|p| escape(p.as_deref().unwrap_or_default()))
        .collect();
    o.line("N", &n.join(";"));
    if d.company_name.is_some() || d.department.is_some() {
        let org = [&d.company_name, &d.department].map(|p| escape(p.as_deref().unwrap_or_default()));
        o.line("ORG", &org.join(";"));
    }
    for e in &d.email_addresses {
        if let Some(a) = &e.address {
            let t: Vec<&str> = e.kind.as_deref().and_then(|k| lookup(EMAIL_KINDS, k)).into_iter().collect();
            let t = if v4 || t.is_empty() { t } else { [["INTERNET"].as_slice(), &t].concat() };
            let params = format!("{}{}", caret_param("X-NAME", &e.name), caret_param("X-LABEL", &e.other_label));
            o.line(&format!("{}{params}", typed("EMAIL", &t)), &escape(a));
        }
    }
    for p in &d.phones {
        if let Some(num) = &p.number {
            let t = PHONE_KINDS.iter().find(|(k, _)| *k == p.kind).map(|(_, t)| t.to_vec()).unwrap_or_default();
            o.line(&typed("TEL", &t), &escape(num));
        }
    }
    for a in &d.postal_addresses {
        let t: Vec<&str> = lookup(ADDRESS_KINDS, &a.kind).into_iter().collect();
        let parts = [&a.post_office_box, &None, &a.street, &a.city, &a.state, &a.postal_code, &a.country_or_region]
            .map(|p| escape(p.as_deref().unwrap_or_default()));
        o.line(&typed("ADR", &t), &parts.join(";"));
    }
    for w in &d.websites {
        if let Some(addr) = &w.address {
            let t: Vec<&str> = lookup(WEBSITE_KINDS, &w.kind).into_iter().collect();
            o.line(&format!("{}{}", typed("URL", &t), caret_param("X-NAME", &w.display_name)), &escape(addr));
        }
    }
    for im in &d.im_addresses {
        o.line("IMPP", &escape(im));
    }
    if let Some(b) = &d.birthday {
        o.line("BDAY", date_part(b));
    }
    if let Some(a) = &d.wedding_anniversary {
        o.line(if v4 { "ANNIVERSARY" } else { "X-ANNIVERSARY" }, a);
    }
    if !d.categories.is_empty() {
        let cats: Vec<String> = d.categories.iter().map(|c| escape(c)).collect();
        o.line("CATEGORIES", &cats.join(","));
    }
    // The one-line text properties, from the property table.
    for (p, names) in vcard_text_lines() {
        if let (Some(value), Some(name)) = (d.text(p.name), names.first()) {
            o.text(name, value);
        }
    }
    for c in &d.children {
        o.line("X-MS-CHILD", &escape(c));
    }
    if let Some(g) = d.gender.as_deref().filter(|g| !g.is_empty()) {
        match (v4, g) {
            (true, "male") => o.line("GENDER", "M"),
            (true, "female") => o.line("GENDER", "F"),
            (true, g) => o.line("GENDER", &format!(";{}", escape(g))),
            (false, g) => o.line("X-GENDER", &escape(g)),
        }
    }
    if let Some(p) = photo {
        let data = base64::engine::general_purpose::STANDARD.encode(p.bytes);
        if v4 {
            o.line("PHOTO", &format!("data:{};base64,{data}", p.content_type));
        } else {
            let kind = p.content_type.rsplit('/').next().unwrap_or("jpeg").to_ascii_uppercase();
            o.line(&format!("PHOTO;ENCODING=b;TYPE={kind}"), &data);
        }
    }
    let extra = vcard_extra_property();
    for line in d.multi_value_extended_properties.iter().filter(|p| p.id == extra).flat_map(|p| &p.value) {
        fold(&mut o.text, line);
    }
    o.text.push_str("END:VCARD\r\n");
    o.text
}
