//! Contact files: vCard 3.0 and 4.0 (2.1's quoted-printable and charsets read too), and the CSV
//! column sets Outlook and Google export. Parsing maps each record onto the canonical
//! [`ContactData`] through the same write rules as a beta JSON body, so a file cannot store what
//! the API would refuse; what has no Graph property is kept in extended properties (see
//! docs/FILES.md) and written back on export, so a round trip loses nothing.

pub mod csv;
pub mod parse;
pub mod write;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::contact::{ContactData, WriteRules};
use crate::error::GraphResult;
use crate::version::ApiVersion;
use crate::xprop::{MultiValue, SingleValue};

/// PS_PUBLIC_STRINGS: the MAPI namespace for named properties any client may define.
const NAMESPACE: &str = "{00020329-0000-0000-c000-000000000046}";

/// The extended property holding a vCard's UID, the stable key a re-import merges on.
pub fn uid_property() -> String {
    format!("String {NAMESPACE} Name rolo.vcard.uid")
}

/// The extended property holding vCard content lines that map to no Graph property, verbatim.
pub fn vcard_extra_property() -> String {
    format!("StringArray {NAMESPACE} Name rolo.vcard.extra")
}

/// The extended property holding CSV cells that map to no Graph property, as `Column=value`.
pub fn csv_extra_property() -> String {
    format!("StringArray {NAMESPACE} Name rolo.csv.extra")
}

/// A file format Rolo reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    VCard,
    OutlookCsv,
    GoogleCsv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "vcard" | "vcf" => Some(Format::VCard),
            "outlook-csv" | "outlook" => Some(Format::OutlookCsv),
            "google-csv" | "google" => Some(Format::GoogleCsv),
            _ => None,
        }
    }

    /// What a file holds, from its first bytes: a vCard starts with `BEGIN:VCARD`; a CSV file's
    /// header row names its column set.
    pub fn detect(text: &str) -> Option<Format> {
        let head = text.trim_start_matches('\u{feff}').trim_start();
        if crate::text::strip_prefix_ignore_ascii_case(head, "BEGIN:VCARD").is_some() {
            return Some(Format::VCard);
        }
        csv::detect(head)
    }
}

/// One record read from a file, mapped onto the canonical contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The 1-based line the record starts on.
    pub line: usize,
    pub data: ContactData,
    /// The stable key a re-import merges on (a vCard's UID).
    pub uid: Option<String>,
    /// The photo's bytes, as the file carried them.
    pub photo: Option<Vec<u8>>,
}

/// A record that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub line: usize,
    pub reason: String,
}

pub type Record = Result<Imported, BadRecord>;

/// Reads every record of a file in `format`.
pub fn read(text: &str, format: Format) -> Vec<Record> {
    let text = text.trim_start_matches('\u{feff}');
    match format {
        Format::VCard => parse::read_vcards(text),
        Format::OutlookCsv | Format::GoogleCsv => csv::read(text, format),
    }
}

/// Decodes a file's bytes: UTF-8 when valid, else Windows-1252 (what Outlook writes on Windows),
/// whose printable range this approximates with Latin-1.
pub fn decode_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Puts a draft through the rules a beta JSON body is checked with (enumerations, NUL
/// characters, collection sizes, extended property ids and limits, date formats), and composes
/// the display name when the file gave none.
pub(crate) fn finish(
    draft: ContactData,
    single: Vec<SingleValue>,
    multi: Vec<MultiValue>,
    birthday: Option<String>,
    anniversary: Option<String>,
) -> GraphResult<ContactData> {
    // A display name that is what the server would compose stays the server's, so later name
    // changes recompose it as they would for a contact created without one.
    let composed = draft.display_name.is_some() && draft.display_name == draft.composed_display_name();
    let mut body = serde_json::to_value(&draft).map_err(crate::error::GraphError::internal)?;
    if let Value::Object(o) = &mut body {
        o.remove("displayNameComposed");
        if composed {
            o.remove("displayName");
        }
        if let Some(b) = birthday {
            o.insert("birthday".into(), Value::String(b));
        }
        if let Some(a) = anniversary {
            o.insert("weddingAnniversary".into(), Value::String(a));
        }
        if !single.is_empty() {
            o.insert("singleValueExtendedProperties".into(), serde_json::to_value(single).unwrap_or_default());
        }
        if !multi.is_empty() {
            o.insert("multiValueExtendedProperties".into(), serde_json::to_value(multi).unwrap_or_default());
        }
    }
    let mut data = ContactData::default();
    data.apply(&body, WriteRules { version: ApiVersion::Beta, schemas: &[], creating: true })?;
    Ok(data)
}

/// A date as files write it (`1974-07-22`, `19740722`, a date-time, or Outlook's `7/22/1974`)
/// in ISO form; `None` for what cannot be a full date (`--0722`, no year), which is kept verbatim.
pub(crate) fn iso_date(raw: &str) -> Option<String> {
    let iso = loose_date(raw)?;
    crate::time::parse_date("date", &iso).ok()
}

fn loose_date(raw: &str) -> Option<String> {
    let s = raw.trim();
    let date = s.split('T').next().unwrap_or(s);
    let digits: String = date.chars().filter(|c| *c != '-').collect();
    if digits.len() == 8 && digits.chars().all(|c| c.is_ascii_digit()) && !date.starts_with("--") {
        let (y, rest) = digits.split_at_checked(4)?;
        let (m, d) = rest.split_at_checked(2)?;
        return Some(format!("{y}-{m}-{d}"));
    }
    let parts: Vec<&str> = s.split('/').collect();
    if let [m, d, y] = parts.as_slice() {
        let (m, d, y): (u32, u32, u32) = (m.parse().ok()?, d.parse().ok()?, y.parse().ok()?);
        return Some(format!("{y:04}-{m:02}-{d:02}"));
    }
    None
}

/// The date part of a stored birthday (`1974-07-22T00:00:00Z`).
pub(crate) fn date_part(stored: &str) -> &str {
    stored.split('T').next().unwrap_or(stored)
}

pub use write::{write_vcard, VCardVersion};
