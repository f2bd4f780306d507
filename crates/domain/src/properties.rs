//! The contact's properties, once: each one's name, EDM type, the API versions that have it,
//! how `$filter` and `$orderby` treat it and whether a client may write it. The JSON projection
//! (names and order), `$metadata` and `openapi.json` (types), the `$filter`/`$orderby` compiler
//! (what each name compiles to), the vCard reader and writer (which content line carries it) and
//! the tests read this table, so a new property is one line here plus its field in
//! [`crate::contact::ContactData`].
//!
//! The table is in Graph's order (the order its examples show): v1.0's and beta's own
//! properties are interleaved so that each version's list is the table filtered by version.

use crate::contact::ContactData;
use crate::version::ApiVersion;

/// Which API versions serve a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    Both,
    /// v1.0's fixed slots (phones, addresses, email slots, home page), which beta replaces
    /// with typed collections.
    V1,
    Beta,
}

impl Versions {
    pub const fn has(self, version: ApiVersion) -> bool {
        matches!(
            (self, version),
            (Versions::Both, _) | (Versions::V1, ApiVersion::V1) | (Versions::Beta, ApiVersion::Beta)
        )
    }
}

/// How `$filter` (and `$orderby`) treat a property. Text, date-times and ids also sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Case-insensitive text with its own folded, indexed key column (the store names it after
    /// the property: `displayName` -> `display_name_key`).
    IndexedText,
    /// Case-insensitive text read from the stored document (its folded copy for comparisons).
    Text,
    /// A UTC date-time: the server's creation and modification times, or a stored value.
    DateTime,
    /// An identifier, compared exactly with `eq` and `ne`.
    Id,
    /// Filtered with `any`/`all` on each address (`emailAddresses/any(a:a/address eq '...')`).
    EmailAddresses,
    /// Filtered with `any`/`all` on each name (`categories/any(c:c eq 'Red')`).
    Categories,
    /// Known, but not filterable here: a precise error rather than "unknown property".
    Unsupported,
}

impl Filter {
    /// Whether `$orderby` accepts the property.
    pub const fn sorts(self) -> bool {
        matches!(self, Filter::IndexedText | Filter::Text | Filter::DateTime | Filter::Id)
    }
}

/// How a vCard carries a property (docs/FILES.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VCard {
    /// No content line: the server's own values, and v1.0's slots, which are views of the
    /// collections that carry them.
    None,
    /// One text value on its own content line, written under the first name and read under any
    /// of them. The first line of a card wins; later ones are kept verbatim with the card's
    /// other unmapped lines, so nothing is lost.
    Text(&'static [&'static str]),
    /// Carried by the named content line through code in `vcard/` that knows its structure
    /// (components, TYPE parameters, dates, enumerations).
    Structured(&'static str),
}

/// One contact property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactProperty {
    pub name: &'static str,
    /// Its EDM type (`Edm.String`, `graph.emailAddress`, `Collection(...)`).
    pub edm: &'static str,
    /// Beta's type where it differs from v1.0's (beta's email addresses are typed).
    pub beta_edm: Option<&'static str>,
    pub versions: Versions,
    pub filter: Filter,
    /// The server sets it; a body that writes it is refused.
    pub read_only: bool,
    pub vcard: VCard,
}

impl ContactProperty {
    /// The EDM type in `version`.
    pub fn edm(&self, version: ApiVersion) -> &'static str {
        match (version, self.beta_edm) {
            (ApiVersion::Beta, Some(ty)) => ty,
            _ => self.edm,
        }
    }
}

const STRING: &str = "Edm.String";
const STRINGS: &str = "Collection(Edm.String)";
const DATE_TIME: &str = "Edm.DateTimeOffset";
const EMAIL: &str = "graph.emailAddress";
const ADDRESS: &str = "graph.physicalAddress";

const fn p(name: &'static str, edm: &'static str, versions: Versions, filter: Filter, vcard: VCard) -> ContactProperty {
    ContactProperty { name, edm, beta_edm: None, versions, filter, read_only: false, vcard }
}

/// A property the server sets.
const fn server(name: &'static str, edm: &'static str, filter: Filter) -> ContactProperty {
    ContactProperty { name, edm, beta_edm: None, versions: Versions::Both, filter, read_only: true, vcard: VCard::None }
}

use Filter::*;
use VCard::{Structured as Card, Text as Line};
use Versions::{Beta, Both, V1};

const NO: VCard = VCard::None;

/// Every contact property, in Graph's order.
pub const CONTACT_PROPERTIES: &[ContactProperty] = &[
    server("id", STRING, Id),
    server("createdDateTime", DATE_TIME, DateTime),
    server("lastModifiedDateTime", DATE_TIME, DateTime),
    server("changeKey", STRING, Unsupported),
    p("categories", STRINGS, Both, Categories, Card("CATEGORIES")),
    p("parentFolderId", STRING, Both, Id, NO),
    p("birthday", DATE_TIME, Both, DateTime, Card("BDAY")),
    p("fileAs", STRING, Both, Text, Line(&["X-FILE-AS", "SORT-STRING"])),
    p("displayName", STRING, Both, IndexedText, Card("FN")),
    p("givenName", STRING, Both, IndexedText, Card("N")),
    p("initials", STRING, Both, Text, Line(&["X-INITIALS"])),
    p("middleName", STRING, Both, Text, Card("N")),
    p("nickName", STRING, Both, Text, Line(&["NICKNAME"])),
    p("surname", STRING, Both, IndexedText, Card("N")),
    p("title", STRING, Both, Text, Card("N")),
    p("yomiGivenName", STRING, Both, Text, Line(&["X-PHONETIC-FIRST-NAME"])),
    p("yomiSurname", STRING, Both, Text, Line(&["X-PHONETIC-LAST-NAME"])),
    p("yomiCompanyName", STRING, Both, Text, Line(&["X-PHONETIC-ORG"])),
    p("generation", STRING, Both, Text, Card("N")),
    ContactProperty {
        beta_edm: Some("Collection(graph.typedEmailAddress)"),
        ..p("emailAddresses", "Collection(graph.emailAddress)", Both, EmailAddresses, Card("EMAIL"))
    },
    p("primaryEmailAddress", EMAIL, V1, Unsupported, NO),
    p("secondaryEmailAddress", EMAIL, V1, Unsupported, NO),
    p("tertiaryEmailAddress", EMAIL, V1, Unsupported, NO),
    p("imAddresses", STRINGS, Both, Unsupported, Card("IMPP")),
    p("jobTitle", STRING, Both, Text, Line(&["TITLE"])),
    p("companyName", STRING, Both, IndexedText, Card("ORG")),
    p("department", STRING, Both, Text, Card("ORG")),
    p("officeLocation", STRING, Both, Text, Line(&["X-OFFICE-LOCATION"])),
    p("profession", STRING, Both, Text, Line(&["ROLE"])),
    p("businessHomePage", STRING, V1, Unsupported, NO),
    p("assistantName", STRING, Both, Text, Line(&["X-MS-ASSISTANT", "X-ASSISTANT"])),
    p("manager", STRING, Both, Text, Line(&["X-MS-MANAGER", "X-MANAGER"])),
    p("homePhones", STRINGS, V1, Unsupported, NO),
    p("mobilePhone", STRING, V1, Unsupported, NO),
    p("businessPhones", STRINGS, V1, Unsupported, NO),
    p("phones", "Collection(graph.phone)", Beta, Unsupported, Card("TEL")),
    p("spouseName", STRING, Both, Text, Line(&["X-MS-SPOUSE", "X-SPOUSE"])),
    p("personalNotes", STRING, Both, Text, Line(&["NOTE"])),
    p("children", STRINGS, Both, Unsupported, Card("X-MS-CHILD")),
    p("homeAddress", ADDRESS, V1, Unsupported, NO),
    p("businessAddress", ADDRESS, V1, Unsupported, NO),
    p("otherAddress", ADDRESS, V1, Unsupported, NO),
    p("gender", STRING, Beta, Text, Card("GENDER")),
    p("weddingAnniversary", "Edm.Date", Beta, Unsupported, Card("ANNIVERSARY")),
    // Shown in a beta response example, absent from beta's property table (docs/COMPATIBILITY.md).
    p("isFavorite", "Edm.Boolean", Beta, Unsupported, NO),
    // `flag/flagStatus` filters and sorts (the store's compiler knows that member).
    p("flag", "graph.followupFlag", Beta, Unsupported, NO),
    p("postalAddresses", "Collection(graph.physicalAddress)", Beta, Unsupported, Card("ADR")),
    p("websites", "Collection(graph.website)", Beta, Unsupported, Card("URL")),
];

/// The property named exactly `name` in `version`.
pub fn contact_property(name: &str, version: ApiVersion) -> Option<&'static ContactProperty> {
    CONTACT_PROPERTIES.iter().find(|p| p.name == name && p.versions.has(version))
}

/// Whether a body may not write `name` (the server sets it).
pub fn is_read_only(name: &str) -> bool {
    CONTACT_PROPERTIES.iter().any(|p| p.read_only && p.name == name)
}

/// Whether `name` is a contact property of either version.
pub fn is_contact_property(name: &str) -> bool {
    CONTACT_PROPERTIES.iter().any(|p| p.name == name)
}

/// The properties a vCard carries as one text line, with the line's names (written as the first).
pub fn vcard_text_lines() -> impl Iterator<Item = (&'static ContactProperty, &'static [&'static str])> {
    CONTACT_PROPERTIES.iter().filter_map(|p| match p.vcard {
        VCard::Text(names) => Some((p, names)),
        _ => None,
    })
}

/// The property a vCard text line named `line` (upper case) carries.
pub fn vcard_text_property(line: &str) -> Option<&'static ContactProperty> {
    vcard_text_lines().find(|(_, names)| names.contains(&line)).map(|(p, _)| p)
}

/// Maps the plain text properties to their fields of [`ContactData`], both ways, for code that
/// works from this table rather than field by field (the vCard reader and writer).
macro_rules! text_fields {
    ($($name:literal => $field:ident),* $(,)?) => {
        impl ContactData {
            /// The text field behind a property name, as stored (no composition or defaults).
            pub fn text(&self, name: &str) -> Option<&Option<String>> {
                match name {
                    $($name => Some(&self.$field),)*
                    _ => None,
                }
            }

            /// [`ContactData::text`], to write.
            pub fn text_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
                match name {
                    $($name => Some(&mut self.$field),)*
                    _ => None,
                }
            }
        }
    };
}

text_fields! {
    "displayName" => display_name, "givenName" => given_name, "middleName" => middle_name,
    "surname" => surname, "nickName" => nick_name, "title" => title, "generation" => generation,
    "fileAs" => file_as, "initials" => initials, "yomiGivenName" => yomi_given_name,
    "yomiSurname" => yomi_surname, "yomiCompanyName" => yomi_company_name, "jobTitle" => job_title,
    "companyName" => company_name, "department" => department, "officeLocation" => office_location,
    "profession" => profession, "manager" => manager, "assistantName" => assistant_name,
    "spouseName" => spouse_name, "personalNotes" => personal_notes, "gender" => gender,
}

/// How many properties `version` has.
const fn count(version: ApiVersion) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < CONTACT_PROPERTIES.len() {
        if CONTACT_PROPERTIES[i].versions.has(version) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The names `version` has, in table order.
const fn names<const N: usize>(version: ApiVersion) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut n, mut i) = (0, 0);
    while i < CONTACT_PROPERTIES.len() {
        if CONTACT_PROPERTIES[i].versions.has(version) {
            out[n] = CONTACT_PROPERTIES[i].name;
            n += 1;
        }
        i += 1;
    }
    out
}

const V1_COUNT: usize = count(ApiVersion::V1);
const BETA_COUNT: usize = count(ApiVersion::Beta);
pub(crate) const V1_NAMES: [&str; V1_COUNT] = names::<V1_COUNT>(ApiVersion::V1);
pub(crate) const BETA_NAMES: [&str; BETA_COUNT] = names::<BETA_COUNT>(ApiVersion::Beta);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_versions_split_as_graph_does() {
        for (i, a) in CONTACT_PROPERTIES.iter().enumerate() {
            assert!(CONTACT_PROPERTIES.iter().skip(i + 1).all(|b| b.name != a.name), "{} twice", a.name);
            // Schema-extension ids hold `_`; property names never do.
            assert!(!a.name.contains('_'));
        }
        assert_eq!(V1_NAMES.len(), 41);
        assert_eq!(BETA_NAMES.len(), 38);
        assert_eq!(
            contact_property("emailAddresses", ApiVersion::Beta).unwrap().edm(ApiVersion::Beta),
            "Collection(graph.typedEmailAddress)"
        );
        assert!(contact_property("mobilePhone", ApiVersion::Beta).is_none());
        assert!(contact_property("gender", ApiVersion::V1).is_none());
        // Every text line reads and writes a plain text field, and no vCard name is claimed twice.
        let mut seen = Vec::new();
        for (p, names) in vcard_text_lines() {
            assert_eq!(p.edm, STRING, "{}", p.name);
            assert!(ContactData::default().text(p.name).is_some(), "{} has no text field", p.name);
            for n in names {
                assert!(!seen.contains(n), "{n} twice");
                seen.push(n);
            }
        }
        assert_eq!(vcard_text_property("X-ASSISTANT").map(|p| p.name), Some("assistantName"));
        // The FieldSet bitmap holds at most 64 properties.
        assert!(CONTACT_PROPERTIES.len() <= 64);
    }
}
