//! The contact's properties, once: each one's name, EDM type, the API versions that have it,
//! how `$filter` and `$orderby` treat it and whether a client may write it. The JSON projection
//! (names and order), `$metadata` and `openapi.json` (types), the `$filter`/`$orderby` compiler
//! (what each name compiles to) and the tests read this table, so a new property is one line here
//! plus its field in [`crate::contact::ContactData`].
//!
//! The table is in Graph's order (the order its examples show): v1.0's and beta's own
//! properties are interleaved so that each version's list is the table filtered by version.

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

const fn p(name: &'static str, edm: &'static str, versions: Versions, filter: Filter) -> ContactProperty {
    ContactProperty { name, edm, beta_edm: None, versions, filter, read_only: false }
}

/// A property the server sets.
const fn server(name: &'static str, edm: &'static str, filter: Filter) -> ContactProperty {
    ContactProperty { name, edm, beta_edm: None, versions: Versions::Both, filter, read_only: true }
}

use Filter::*;
use Versions::{Beta, Both, V1};

/// Every contact property, in Graph's order.
pub const CONTACT_PROPERTIES: &[ContactProperty] = &[
    server("id", STRING, Id),
    server("createdDateTime", DATE_TIME, DateTime),
    server("lastModifiedDateTime", DATE_TIME, DateTime),
    server("changeKey", STRING, Unsupported),
    p("categories", STRINGS, Both, Categories),
    p("parentFolderId", STRING, Both, Id),
    p("birthday", DATE_TIME, Both, DateTime),
    p("fileAs", STRING, Both, Text),
    p("displayName", STRING, Both, IndexedText),
    p("givenName", STRING, Both, IndexedText),
    p("initials", STRING, Both, Text),
    p("middleName", STRING, Both, Text),
    p("nickName", STRING, Both, Text),
    p("surname", STRING, Both, IndexedText),
    p("title", STRING, Both, Text),
    p("yomiGivenName", STRING, Both, Text),
    p("yomiSurname", STRING, Both, Text),
    p("yomiCompanyName", STRING, Both, Text),
    p("generation", STRING, Both, Text),
    ContactProperty {
        beta_edm: Some("Collection(graph.typedEmailAddress)"),
        ..p("emailAddresses", "Collection(graph.emailAddress)", Both, EmailAddresses)
    },
    p("primaryEmailAddress", EMAIL, V1, Unsupported),
    p("secondaryEmailAddress", EMAIL, V1, Unsupported),
    p("tertiaryEmailAddress", EMAIL, V1, Unsupported),
    p("imAddresses", STRINGS, Both, Unsupported),
    p("jobTitle", STRING, Both, Text),
    p("companyName", STRING, Both, IndexedText),
    p("department", STRING, Both, Text),
    p("officeLocation", STRING, Both, Text),
    p("profession", STRING, Both, Text),
    p("businessHomePage", STRING, V1, Unsupported),
    p("assistantName", STRING, Both, Text),
    p("manager", STRING, Both, Text),
    p("homePhones", STRINGS, V1, Unsupported),
    p("mobilePhone", STRING, V1, Unsupported),
    p("businessPhones", STRINGS, V1, Unsupported),
    p("phones", "Collection(graph.phone)", Beta, Unsupported),
    p("spouseName", STRING, Both, Text),
    p("personalNotes", STRING, Both, Text),
    p("children", STRINGS, Both, Unsupported),
    p("homeAddress", ADDRESS, V1, Unsupported),
    p("businessAddress", ADDRESS, V1, Unsupported),
    p("otherAddress", ADDRESS, V1, Unsupported),
    p("gender", STRING, Beta, Text),
    p("weddingAnniversary", "Edm.Date", Beta, Unsupported),
    // `flag/flagStatus` filters and sorts (the store's compiler knows that member).
    p("flag", "graph.followupFlag", Beta, Unsupported),
    p("postalAddresses", "Collection(graph.physicalAddress)", Beta, Unsupported),
    p("websites", "Collection(graph.website)", Beta, Unsupported),
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
        assert_eq!(BETA_NAMES.len(), 37);
        assert_eq!(
            contact_property("emailAddresses", ApiVersion::Beta).unwrap().edm(ApiVersion::Beta),
            "Collection(graph.typedEmailAddress)"
        );
        assert!(contact_property("mobilePhone", ApiVersion::Beta).is_none());
        assert!(contact_property("gender", ApiVersion::V1).is_none());
        // The FieldSet bitmap holds at most 64 properties.
        assert!(CONTACT_PROPERTIES.len() <= 64);
    }
}
