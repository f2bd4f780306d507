//! CSV contact files in the column sets Outlook and Google export, recognised by the header row.
//! A small RFC 4180 reader and writer (quoted fields may hold commas, quotes and line breaks),
//! each record tagged with the line it starts on.

use super::{csv_extra_property, date_part, finish, iso_date, BadRecord, Format, Imported, Record};
use crate::contact::{ContactData, EmailAddress, Phone, PostalAddress, Website};
use crate::xprop::{MultiValue, MAX_VALUE_CHARS};

/// Splits CSV text into records of fields, each with its starting line.
pub fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, BadRecord> {
    let mut out = Vec::new();
    let (mut line, mut start) = (1, 1);
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                // A quoted value keeps its line breaks as written (Outlook's notes hold CRLF).
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                quoted = true;
                any = true;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                any = true;
            }
            '\r' => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                if any || fields.iter().any(|f| !f.is_empty()) {
                    out.push((start, std::mem::take(&mut fields)));
                }
                fields.clear();
                any = false;
                line += 1;
                start = line;
            }
            c => {
                field.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err(BadRecord {
            line: start,
            reason: "a quoted field is not closed before the end of the file".into(),
        });
    }
    if any || !field.is_empty() {
        fields.push(field);
        out.push((start, fields));
    }
    Ok(out)
}

fn quote(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn write_row(out: &mut String, row: &[String]) {
    // A row of empty fields still has to read back as a row, not as a blank line.
    if row.iter().all(String::is_empty) {
        out.push_str("\"\"");
    }
    for (i, f) in row.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote(out, f);
    }
    out.push_str("\r\n");
}

/// A Graph property a column holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Given,
    Middle,
    Surname,
    Title,
    Suffix,
    Nick,
    YomiGiven,
    YomiSurname,
    YomiCompany,
    Email(usize),
    EmailName(usize),
    Phone(&'static str, usize),
    Street(&'static str),
    City(&'static str),
    State(&'static str),
    Postal(&'static str),
    Country(&'static str),
    PoBox(&'static str),
    JobTitle,
    Department,
    Company,
    Office,
    Manager,
    Assistant,
    Spouse,
    Children,
    Birthday,
    Anniversary,
    Notes,
    Categories,
    Gender,
    Profession,
    Web(&'static str),
    Im,
    Initials,
    FileAs,
}

use Field::*;

/// Outlook's export columns (English), in its order.
const OUTLOOK: &[(&str, Field)] = &[
    ("Title", Title),
    ("First Name", Given),
    ("Middle Name", Middle),
    ("Last Name", Surname),
    ("Suffix", Suffix),
    ("Nickname", Nick),
    ("Given Yomi", YomiGiven),
    ("Surname Yomi", YomiSurname),
    ("Company Yomi", YomiCompany),
    ("Company", Company),
    ("Department", Department),
    ("Job Title", JobTitle),
    ("Office Location", Office),
    ("Business Street", Street("business")),
    ("Business City", City("business")),
    ("Business State", State("business")),
    ("Business Postal Code", Postal("business")),
    ("Business Country/Region", Country("business")),
    ("Business PO Box", PoBox("business")),
    ("Home Street", Street("home")),
    ("Home City", City("home")),
    ("Home State", State("home")),
    ("Home Postal Code", Postal("home")),
    ("Home Country/Region", Country("home")),
    ("Home PO Box", PoBox("home")),
    ("Other Street", Street("other")),
    ("Other City", City("other")),
    ("Other State", State("other")),
    ("Other Postal Code", Postal("other")),
    ("Other Country/Region", Country("other")),
    ("Other PO Box", PoBox("other")),
    ("Assistant's Phone", Phone("assistant", 0)),
    ("Business Fax", Phone("businessFax", 0)),
    ("Business Phone", Phone("business", 0)),
    ("Business Phone 2", Phone("business", 1)),
    ("Callback", Phone("callback", 0)),
    ("Car Phone", Phone("car", 0)),
    ("Company Main Phone", Phone("organizationMain", 0)),
    ("Home Fax", Phone("homeFax", 0)),
    ("Home Phone", Phone("home", 0)),
    ("Home Phone 2", Phone("home", 1)),
    ("Mobile Phone", Phone("mobile", 0)),
    ("Other Fax", Phone("otherFax", 0)),
    ("Other Phone", Phone("other", 0)),
    ("Pager", Phone("pager", 0)),
    ("Primary Phone", Phone("primary", 0)),
    ("Radio Phone", Phone("radio", 0)),
    ("TTY/TDD Phone", Phone("ttyTdd", 0)),
    ("Telex", Phone("telex", 0)),
    ("Anniversary", Anniversary),
    ("Assistant's Name", Assistant),
    ("Birthday", Birthday),
    ("Categories", Categories),
    ("Children", Children),
    ("E-mail Address", Email(0)),
    ("E-mail Display Name", EmailName(0)),
    ("E-mail 2 Address", Email(1)),
    ("E-mail 2 Display Name", EmailName(1)),
    ("E-mail 3 Address", Email(2)),
    ("E-mail 3 Display Name", EmailName(2)),
    ("File As", FileAs),
    ("Gender", Gender),
    ("Initials", Initials),
    ("Manager's Name", Manager),
    ("Notes", Notes),
    ("Profession", Profession),
    ("Spouse", Spouse),
    ("Web Page", Web("work")),
    ("Personal Web Page", Web("home")),
    ("IM Address", Im),
];

/// Google Contacts' fixed columns; its numbered ones (`E-mail 1 - Value`, ...) are handled apart.
const GOOGLE: &[(&str, Field)] = &[
    ("First Name", Given),
    ("Middle Name", Middle),
    ("Last Name", Surname),
    ("Phonetic First Name", YomiGiven),
    ("Phonetic Last Name", YomiSurname),
    ("Name Prefix", Title),
    ("Name Suffix", Suffix),
    ("Nickname", Nick),
    ("File As", FileAs),
    ("Organization Name", Company),
    ("Organization Title", JobTitle),
    ("Organization Department", Department),
    ("Birthday", Birthday),
    ("Notes", Notes),
    ("Labels", Categories),
];

/// Recognises a column set from a header row.
pub fn detect(head: &str) -> Option<Format> {
    let first = head.lines().next().unwrap_or_default();
    if first.contains("E-mail 1 - Value") || first.contains("Organization Name") || first.contains("Given Name") {
        Some(Format::GoogleCsv)
    } else if first.contains("First Name") || first.contains("E-mail Address") {
        Some(Format::OutlookCsv)
    } else {
        None
    }
}

/// A Google numbered column: `E-mail 2 - Value` is (`E-mail`, 1, `Value`).
fn numbered(column: &str) -> Option<(&str, usize, &str)> {
    let (head, part) = column.split_once(" - ")?;
    let (section, n) = head.rsplit_once(' ')?;
    let n: usize = n.parse().ok()?;
    Some((section, n.checked_sub(1)?, part))
}

const G_EMAIL: &[(&str, &str)] = &[("work", "Work"), ("personal", "Home"), ("other", "Other")];
const G_PHONE: &[(&str, &str)] = &[
    ("mobile", "Mobile"),
    ("business", "Work"),
    ("home", "Home"),
    ("businessFax", "Work Fax"),
    ("homeFax", "Home Fax"),
    ("otherFax", "Other Fax"),
    ("pager", "Pager"),
    ("primary", "Main"),
    ("other", "Other"),
];
const G_ADDRESS: &[(&str, &str)] = &[("home", "Home"), ("business", "Work"), ("other", "Other")];
const G_WEB: &[(&str, &str)] =
    &[("work", "Work"), ("home", "Home Page"), ("blog", "Blog"), ("profile", "Profile"), ("other", "Other")];

fn from_label(table: &[(&'static str, &str)], label: &str, default: &'static str) -> &'static str {
    let label = label.trim().trim_start_matches("* ");
    table.iter().find(|(_, l)| l.eq_ignore_ascii_case(label)).map(|(k, _)| *k).unwrap_or(default)
}

fn to_label<'a>(table: &[(&str, &'a str)], kind: &str) -> &'a str {
    table.iter().find(|(k, _)| *k == kind).map(|(_, l)| *l).unwrap_or("Other")
}

#[derive(Default)]
struct Draft {
    data: ContactData,
    birthday: Option<String>,
    anniversary: Option<String>,
    extra: Vec<String>,
}

fn address<'a>(d: &'a mut ContactData, kind: &str) -> &'a mut PostalAddress {
    let i = match d.postal_addresses.iter().position(|a| a.kind == kind) {
        Some(i) => i,
        None => {
            d.postal_addresses.push(PostalAddress { kind: kind.into(), ..Default::default() });
            d.postal_addresses.len() - 1
        }
    };
    &mut d.postal_addresses[i]
}

fn email(d: &mut ContactData, slot: usize) -> &mut EmailAddress {
    while d.email_addresses.len() <= slot {
        d.email_addresses.push(EmailAddress::default());
    }
    &mut d.email_addresses[slot]
}

impl Draft {
    fn set(&mut self, field: Field, raw: String, format: Format) -> Result<(), String> {
        let d = &mut self.data;
        let v = Some(raw.clone());
        match field {
            Given => d.given_name = v,
            Middle => d.middle_name = v,
            Surname => d.surname = v,
            Title => d.title = v,
            Suffix => d.generation = v,
            Nick => d.nick_name = v,
            YomiGiven => d.yomi_given_name = v,
            YomiSurname => d.yomi_surname = v,
            YomiCompany => d.yomi_company_name = v,
            Email(slot) => email(d, slot).address = v,
            EmailName(slot) => email(d, slot).name = v,
            Phone(kind, _) => d.phones.push(crate::contact::Phone { kind: kind.into(), number: v }),
            Street(k) => address(d, k).street = v,
            City(k) => address(d, k).city = v,
            State(k) => address(d, k).state = v,
            Postal(k) => address(d, k).postal_code = v,
            Country(k) => address(d, k).country_or_region = v,
            PoBox(k) => address(d, k).post_office_box = v,
            JobTitle => d.job_title = v,
            Department => d.department = v,
            Company => d.company_name = v,
            Office => d.office_location = v,
            Manager => d.manager = v,
            Assistant => d.assistant_name = v,
            Spouse => d.spouse_name = v,
            Profession => d.profession = v,
            Notes => d.personal_notes = v,
            Initials => d.initials = v,
            FileAs => d.file_as = v,
            Im => d.im_addresses.extend(v),
            Web(kind) => d.websites.push(Website { kind: kind.into(), address: v, display_name: None }),
            Children => d.children.extend(v.iter().flat_map(|c| c.split(';')).map(|c| c.trim().to_owned())),
            Gender => d.gender = v.filter(|g| !g.eq_ignore_ascii_case("unspecified")).map(|g| g.to_ascii_lowercase()),
            Categories => {
                let items: Vec<String> = if format == Format::GoogleCsv {
                    raw.split(" ::: ").filter(|l| !l.starts_with("* ")).map(str::to_owned).collect()
                } else {
                    raw.split(';').map(|c| c.trim().to_owned()).collect()
                };
                d.categories.extend(items.into_iter().filter(|c| !c.is_empty()));
            }
            Birthday | Anniversary => {
                // Outlook writes `0/0/00` for no date.
                if raw == "0/0/00" {
                    return Ok(());
                }
                let date = iso_date(&raw).ok_or_else(|| format!("'{raw}' is not a date"))?;
                if field == Birthday {
                    self.birthday = Some(date)
                } else {
                    self.anniversary = Some(date)
                }
            }
        }
        Ok(())
    }

    /// Google's numbered columns: labels decide the kind, ` ::: ` separates several values.
    fn set_numbered(&mut self, section: &str, n: usize, part: &str, v: &str, labels: &[(String, usize, String)]) {
        let label =
            labels.iter().find(|(s, i, _)| s == section && *i == n).map(|(_, _, l)| l.as_str()).unwrap_or_default();
        let d = &mut self.data;
        let values = v.split(" ::: ").map(str::to_owned);
        match (section, part) {
            ("E-mail", "Value") => {
                let kind = (!label.is_empty()).then(|| from_label(G_EMAIL, label, "other").to_owned());
                d.email_addresses.extend(values.map(|a| EmailAddress {
                    address: Some(a),
                    kind: kind.clone(),
                    ..Default::default()
                }))
            }
            ("Phone", "Value") => {
                let kind = from_label(G_PHONE, label, "other");
                d.phones.extend(values.map(|n| Phone { kind: kind.into(), number: Some(n) }))
            }
            ("Website", "Value") => {
                let kind = from_label(G_WEB, label, "other");
                d.websites.extend(values.map(|a| Website { kind: kind.into(), address: Some(a), display_name: None }))
            }
            ("Address", p) => {
                let kind = from_label(G_ADDRESS, label, "other");
                // One address per number: the slot is found by its position among the addresses.
                while d.postal_addresses.len() <= n {
                    d.postal_addresses.push(PostalAddress { kind: kind.into(), ..Default::default() });
                }
                let a = &mut d.postal_addresses[n];
                let v = Some(v.to_owned());
                match p {
                    "Street" => a.street = v,
                    "City" => a.city = v,
                    "PO Box" => a.post_office_box = v,
                    "Region" => a.state = v,
                    "Postal Code" => a.postal_code = v,
                    "Country" => a.country_or_region = v,
                    _ => {}
                }
            }
            ("Relation", "Value") => match label.trim_start_matches("* ").to_ascii_lowercase().as_str() {
                "spouse" => d.spouse_name = Some(v.to_owned()),
                "manager" => d.manager = Some(v.to_owned()),
                "assistant" => d.assistant_name = Some(v.to_owned()),
                "child" => d.children.extend(values),
                _ => self.keep(&format!("{section} {} - {label}", n + 1), v),
            },
            ("Event", "Value") if label.eq_ignore_ascii_case("anniversary") => match iso_date(v) {
                Some(dt) => self.anniversary = Some(dt),
                None => self.keep("Event - Anniversary", v),
            },
            _ => self.keep(&format!("{section} {} - {part}", n + 1), v),
        }
    }

    fn keep(&mut self, column: &str, v: &str) {
        let entry = format!("{column}={v}");
        if entry.chars().count() <= MAX_VALUE_CHARS && self.extra.len() < crate::contact::MAX_COLLECTION_ITEMS {
            self.extra.push(entry);
        }
    }
}

/// Reads a CSV file in `format`'s column set: each row a contact, unknown columns kept.
pub fn read(text: &str, format: Format) -> Vec<Record> {
    let rows = match records(text) {
        Ok(r) => r,
        Err(bad) => return vec![Err(bad)],
    };
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else { return Vec::new() };
    let table = if format == Format::GoogleCsv { GOOGLE } else { OUTLOOK };
    let mut out = Vec::new();
    for (line, row) in rows {
        if row.len() > header.len() && row.iter().skip(header.len()).any(|f| !f.is_empty()) {
            out.push(Err(BadRecord {
                line,
                reason: format!("the row has {} fields; the header has {}", row.len(), header.len()),
            }));
            continue;
        }
        let mut draft = Draft::default();
        let labels: Vec<(String, usize, String)> = header
            .iter()
            .zip(&row)
            .filter_map(|(h, v)| {
                numbered(h).filter(|(_, _, p)| *p == "Label").map(|(s, n, _)| (s.to_owned(), n, v.clone()))
            })
            .collect();
        let mut failed = None;
        for (column, value) in header.iter().zip(&row) {
            if value.is_empty() {
                continue;
            }
            if let Some((_, f)) = table.iter().find(|(c, _)| c == column) {
                if let Err(e) = draft.set(*f, value.clone(), format) {
                    failed = Some(format!("column '{column}': {e}"));
                    break;
                }
            } else if let (Format::GoogleCsv, Some((s, n, p))) = (format, numbered(column)) {
                if p != "Label" && p != "Formatted" {
                    draft.set_numbered(s, n, p, value, &labels);
                }
            } else {
                draft.keep(column, value);
            }
        }
        if let Some(reason) = failed {
            out.push(Err(BadRecord { line, reason }));
            continue;
        }
        draft.data.email_addresses.retain(|e| e.address.is_some());
        let multi = if draft.extra.is_empty() {
            Vec::new()
        } else {
            vec![MultiValue { id: csv_extra_property(), value: draft.extra }]
        };
        out.push(
            finish(draft.data, Vec::new(), multi, draft.birthday, draft.anniversary)
                .map(|data| Imported { line, data, uid: None, photo: None })
                .map_err(|e| BadRecord { line, reason: e.message }),
        );
    }
    out
}

fn get(d: &ContactData, field: Field) -> String {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let addr = |k: &str, f: fn(&PostalAddress) -> &Option<String>| d.address_of(k).map(|a| s(f(a))).unwrap_or_default();
    match field {
        Given => s(&d.given_name),
        Middle => s(&d.middle_name),
        Surname => s(&d.surname),
        Title => s(&d.title),
        Suffix => s(&d.generation),
        Nick => s(&d.nick_name),
        YomiGiven => s(&d.yomi_given_name),
        YomiSurname => s(&d.yomi_surname),
        YomiCompany => s(&d.yomi_company_name),
        Email(i) => d.email_addresses.get(i).map(|e| s(&e.address)).unwrap_or_default(),
        EmailName(i) => d.email_addresses.get(i).map(|e| s(&e.name)).unwrap_or_default(),
        Phone(k, i) => d.phones_of(k).nth(i).unwrap_or_default().to_owned(),
        Street(k) => addr(k, |a| &a.street),
        City(k) => addr(k, |a| &a.city),
        State(k) => addr(k, |a| &a.state),
        Postal(k) => addr(k, |a| &a.postal_code),
        Country(k) => addr(k, |a| &a.country_or_region),
        PoBox(k) => addr(k, |a| &a.post_office_box),
        JobTitle => s(&d.job_title),
        Department => s(&d.department),
        Company => s(&d.company_name),
        Office => s(&d.office_location),
        Manager => s(&d.manager),
        Assistant => s(&d.assistant_name),
        Spouse => s(&d.spouse_name),
        Children => d.children.join(";"),
        Birthday => d.birthday.as_deref().map(date_part).unwrap_or_default().to_owned(),
        Anniversary => s(&d.wedding_anniversary),
        Notes => s(&d.personal_notes),
        Categories => d.categories.join(";"),
        Gender => s(&d.gender),
        Profession => s(&d.profession),
        Web(k) => d.websites.iter().find(|w| w.kind == k).map(|w| s(&w.address)).unwrap_or_default(),
        Im => d.im_addresses.first().cloned().unwrap_or_default(),
        Initials => s(&d.initials),
        FileAs => s(&d.file_as),
    }
}

/// Google's relations: the people Graph names on a contact.
fn relations(d: &ContactData) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (label, v) in [("Spouse", &d.spouse_name), ("Manager", &d.manager), ("Assistant", &d.assistant_name)] {
        out.extend(v.clone().map(|v| (label.to_owned(), v)));
    }
    out.extend(d.children.iter().map(|c| ("Child".to_owned(), c.clone())));
    out
}

fn extras(d: &ContactData) -> Vec<(String, String)> {
    let id = csv_extra_property();
    d.multi_value_extended_properties
        .iter()
        .filter(|p| p.id == id)
        .flat_map(|p| &p.value)
        .filter_map(|e| e.split_once('=').map(|(c, v)| (c.to_owned(), v.to_owned())))
        .collect()
}

/// Writes contacts in `format`'s column set; the columns an import kept are written back.
pub fn write(contacts: &[&ContactData], format: Format) -> String {
    let mut header: Vec<String> = Vec::new();
    let fixed = if format == Format::GoogleCsv { GOOGLE } else { OUTLOOK };
    header.extend(fixed.iter().map(|(c, _)| (*c).to_owned()));
    let max = |f: fn(&ContactData) -> usize| contacts.iter().map(|d| f(d)).max().unwrap_or(0);
    let google = format == Format::GoogleCsv;
    let (emails, phones, addrs, webs) = if google {
        (
            max(|d| d.email_addresses.len()),
            max(|d| d.phones.len()),
            max(|d| d.postal_addresses.len()),
            max(|d| d.websites.len()),
        )
    } else {
        (0, 0, 0, 0)
    };
    for i in 1..=emails {
        header.extend([format!("E-mail {i} - Label"), format!("E-mail {i} - Value")]);
    }
    for i in 1..=phones {
        header.extend([format!("Phone {i} - Label"), format!("Phone {i} - Value")]);
    }
    for i in 1..=addrs {
        for p in ["Label", "Street", "City", "PO Box", "Region", "Postal Code", "Country"] {
            header.push(format!("Address {i} - {p}"));
        }
    }
    for i in 1..=webs {
        header.extend([format!("Website {i} - Label"), format!("Website {i} - Value")]);
    }
    let rels = if google { contacts.iter().map(|d| relations(d).len()).max().unwrap_or(0) } else { 0 };
    for i in 1..=rels {
        header.extend([format!("Relation {i} - Label"), format!("Relation {i} - Value")]);
    }
    let fixed_len = header.len();
    for d in contacts {
        for (c, _) in extras(d) {
            if !header.contains(&c) {
                header.push(c);
            }
        }
    }
    let mut out = String::new();
    write_row(&mut out, &header);
    for d in contacts {
        let mut row: Vec<String> = fixed.iter().map(|(_, f)| get(d, *f)).collect();
        if google {
            row[fixed.iter().position(|(_, f)| *f == Categories).unwrap_or(0)] = d.categories.join(" ::: ");
            let o = |v: &Option<String>| v.clone().unwrap_or_default();
            for i in 0..emails {
                let e = d.email_addresses.get(i);
                let label = e.and_then(|e| e.kind.as_deref()).map(|k| to_label(G_EMAIL, k)).unwrap_or_default();
                row.extend([label.to_owned(), e.map(|e| o(&e.address)).unwrap_or_default()]);
            }
            for i in 0..phones {
                let p = d.phones.get(i);
                row.extend([
                    p.map(|p| to_label(G_PHONE, &p.kind)).unwrap_or_default().to_owned(),
                    p.map(|p| o(&p.number)).unwrap_or_default(),
                ]);
            }
            for i in 0..addrs {
                match d.postal_addresses.get(i) {
                    Some(a) => row.extend([
                        to_label(G_ADDRESS, &a.kind).to_owned(),
                        o(&a.street),
                        o(&a.city),
                        o(&a.post_office_box),
                        o(&a.state),
                        o(&a.postal_code),
                        o(&a.country_or_region),
                    ]),
                    None => row.extend(std::iter::repeat_n(String::new(), 7)),
                }
            }
            for i in 0..webs {
                let w = d.websites.get(i);
                row.extend([
                    w.map(|w| to_label(G_WEB, &w.kind)).unwrap_or_default().to_owned(),
                    w.map(|w| o(&w.address)).unwrap_or_default(),
                ]);
            }
            let mut rs = relations(d);
            rs.resize(rels, (String::new(), String::new()));
            row.extend(rs.into_iter().flat_map(|(l, v)| [l, v]));
        }
        row.resize(header.len(), String::new());
        for (c, v) in extras(d) {
            if let Some(i) = header.iter().skip(fixed_len).position(|h| *h == c) {
                row[fixed_len + i] = v;
            }
        }
        write_row(&mut out, &row);
    }
    out
}
