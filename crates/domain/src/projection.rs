//! The JSON projections of contacts and folders, v1.0 and beta, as Graph renders them: every
//! property present (unset scalars `null`, unset collections `[]`, unset addresses `{}`),
//! `@odata.etag` as `W/"<changeKey>"`, and `$select` honoured with `id` and the etag always kept.
//! Both versions read the same canonical contact; beta shows its typed collections and flag,
//! v1.0 the fixed slots Exchange maps them to.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::json;

use crate::contact::{Contact, StoredContact};
use crate::error::{GraphError, GraphResult};
use crate::folder::ContactFolder;
use crate::version::ApiVersion;
use rolo_odata::SelectItem;

mod view;
pub use view::{AddressView, ContactView, EmailView, PhoneView, Text, WebsiteView};

/// v1.0 contact properties in the order Graph's examples show them (from [`crate::properties`]).
pub const CONTACT_V1_PROPERTIES: &[&str] = &crate::properties::V1_NAMES;

/// Beta contact properties: v1.0's fixed phone, address, email-slot and home-page properties
/// give way to typed collections, plus the flag and a few personal fields.
pub const CONTACT_BETA_PROPERTIES: &[&str] = &crate::properties::BETA_NAMES;

pub fn contact_properties(version: ApiVersion) -> &'static [&'static str] {
    match version {
        ApiVersion::V1 => CONTACT_V1_PROPERTIES,
        ApiVersion::Beta => CONTACT_BETA_PROPERTIES,
    }
}

pub const FOLDER_V1_PROPERTIES: &[&str] = &["id", "displayName", "parentFolderId"];
pub const FOLDER_BETA_PROPERTIES: &[&str] = &["id", "displayName", "parentFolderId", "wellKnownName"];

pub fn folder_properties(version: ApiVersion) -> &'static [&'static str] {
    match version {
        ApiVersion::V1 => FOLDER_V1_PROPERTIES,
        ApiVersion::Beta => FOLDER_BETA_PROPERTIES,
    }
}

/// A `$select` resolved against a type's properties: a bit per property. `id` is always
/// serialised; `named` remembers what the client listed, for `@odata.context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSet {
    bits: u64,
    named: u64,
}

impl FieldSet {
    pub const ALL: FieldSet = FieldSet { bits: u64::MAX, named: u64::MAX };

    /// Resolves `$select` items against `properties` (case-insensitively, as Graph does). `id` is
    /// always included.
    pub fn from_select(items: &[SelectItem], properties: &[&str], type_name: &str) -> GraphResult<FieldSet> {
        let mut named = 0u64;
        for item in items {
            match item {
                SelectItem::All => return Ok(FieldSet::ALL),
                SelectItem::Path(path) => {
                    let name = path.join("/");
                    let idx = properties
                        .iter()
                        .position(|p| p.eq_ignore_ascii_case(&name))
                        .ok_or_else(|| {
                            GraphError::bad_request(
                                "BadRequest",
                                format!("Parsing OData Select and Expand failed: Could not find a property named '{name}' on type '{type_name}'."),
                            )
                        })?;
                    named |= 1 << idx;
                }
            }
        }
        Ok(FieldSet { bits: named | 1, named })
    }

    pub fn contains(self, idx: usize) -> bool {
        self.bits & (1 << idx) != 0
    }

    /// The selected property names, for `@odata.context` (`contacts(displayName,...)`).
    pub fn names(self, properties: &[&str]) -> Option<String> {
        if self == FieldSet::ALL {
            return None;
        }
        let names: Vec<&str> =
            properties.iter().enumerate().filter(|(i, _)| self.named & (1 << i) != 0).map(|(_, n)| *n).collect();
        Some(names.join(","))
    }
}

/// The server-managed fields of a contact, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct ContactHead<'a> {
    pub id: &'a str,
    pub folder_id: &'a str,
    pub change_key: &'a str,
    pub created: &'a str,
    pub modified: &'a str,
}

impl<'a> ContactHead<'a> {
    pub fn of(c: &'a Contact) -> Self {
        ContactHead {
            id: c.id.as_str(),
            folder_id: c.folder_id.as_str(),
            change_key: &c.change_key,
            created: &c.created,
            modified: &c.modified,
        }
    }

    pub fn of_stored(c: &'a StoredContact) -> Self {
        ContactHead {
            id: c.id.as_str(),
            folder_id: c.folder_id.as_str(),
            change_key: &c.change_key,
            created: &c.created,
            modified: &c.modified,
        }
    }
}

/// Serialises a contact in the shape of `version`.
pub struct ContactJson<'a> {
    pub head: ContactHead<'a>,
    pub view: ContactView<'a>,
    pub fields: FieldSet,
    /// `@odata.context`, written first, for single-entity responses.
    pub context: Option<&'a str>,
    pub version: ApiVersion,
    /// Which schema-extension values to show: all the contact has (`None`) or those named.
    pub schema_values: Option<&'a [String]>,
}

impl<'a> ContactJson<'a> {
    pub fn new(contact: &'a Contact, fields: FieldSet, version: ApiVersion) -> Self {
        Self::of_parts(ContactHead::of(contact), ContactView::of(&contact.data), fields, version)
    }

    /// A stored contact rendered from its document, which is never parsed into a
    /// [`ContactData`]: the projection reads the document's strings where they lie.
    pub fn stored(contact: &'a StoredContact, fields: FieldSet, version: ApiVersion) -> GraphResult<Self> {
        let view = ContactView::parse(&contact.doc).map_err(|e| contact.corrupt(e))?;
        Ok(Self::of_parts(ContactHead::of_stored(contact), view, fields, version))
    }

    fn of_parts(head: ContactHead<'a>, view: ContactView<'a>, fields: FieldSet, version: ApiVersion) -> Self {
        let schema_values = if fields == FieldSet::ALL { None } else { Some(&[][..]) };
        ContactJson { head, view, fields, context: None, version, schema_values }
    }

    pub fn with_context(mut self, context: &'a str) -> Self {
        self.context = Some(context);
        self
    }
}

/// A contact as a delta round reports it: with its `@odata.type`, as Graph's delta does.
pub struct TypedContact<'a>(pub ContactJson<'a>);

impl Serialize for TypedContact<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let inner = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("@odata.type", "#microsoft.graph.contact")?;
        if let serde_json::Value::Object(obj) = inner {
            for (k, v) in obj {
                m.serialize_entry(&k, &v)?;
            }
        }
        m.end()
    }
}

impl TypedContact<'_> {
    /// Appends what `serde_json::to_writer` writes for this value, without building the JSON
    /// tree its `Serialize` goes through: a delta page writes each of its contacts this way.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(br##"{"@odata.type":"#microsoft.graph.contact""##);
        self.0.entries(&mut RawSink { out, first: false })?;
        out.push(b'}');
        Ok(())
    }
}

impl Serialize for ContactJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.entries(&mut MapSink(&mut m))?;
        m.end()
    }
}

impl ContactJson<'_> {
    /// Appends the JSON `serde_json::to_writer` writes for this contact, byte for byte, without
    /// going through serde's map serializer for the keys: the property names are known JSON
    /// strings, so only the values are escaped (half of a contact's escaping was its keys).
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'{');
        self.entries(&mut RawSink { out, first: true })?;
        out.push(b'}');
        Ok(())
    }

    /// The contact's entries in Graph's order, into either sink.
    fn entries<M: Entries>(&self, m: &mut M) -> Result<(), M::Error> {
        let c = &self.head;
        let d = &self.view;
        let beta = self.version == ApiVersion::Beta;
        if let Some(ctx) = self.context {
            m.serialize_entry("@odata.context", ctx)?;
        }
        m.serialize_entry("@odata.etag", &etag(c.change_key))?;
        for (idx, name) in contact_properties(self.version).iter().enumerate() {
            if !self.fields.contains(idx) {
                continue;
            }
            match *name {
                "emailAddresses" if beta => {
                    let list: Vec<EmailBeta> = d.email_addresses.iter().map(EmailBeta).collect();
                    m.serialize_entry(name, &list)?
                }
                "phones" => m.serialize_entry(name, &d.phones)?,
                "postalAddresses" => {
                    let list: Vec<AddressBeta> = d.postal_addresses.iter().map(AddressBeta).collect();
                    m.serialize_entry(name, &list)?
                }
                "websites" => {
                    let list: Vec<WebsiteBeta> = d.websites.iter().map(WebsiteBeta).collect();
                    m.serialize_entry(name, &list)?
                }
                "flag" => match &d.flag {
                    Some(f) => m.serialize_entry(name, f)?,
                    None => m.serialize_entry(name, &crate::flag::not_flagged())?,
                },
                "gender" => m.serialize_entry(name, &d.gender)?,
                "weddingAnniversary" => m.serialize_entry(name, &d.wedding_anniversary)?,
                "isFavorite" => m.serialize_entry(name, &d.is_favorite)?,
                "id" => m.serialize_entry(name, c.id)?,
                "createdDateTime" => m.serialize_entry(name, c.created)?,
                "lastModifiedDateTime" => m.serialize_entry(name, c.modified)?,
                "changeKey" => m.serialize_entry(name, c.change_key)?,
                "categories" => m.serialize_entry(name, &d.categories)?,
                "parentFolderId" => m.serialize_entry(name, c.folder_id)?,
                "birthday" => m.serialize_entry(name, &d.birthday)?,
                "fileAs" => m.serialize_entry(name, d.file_as.as_ref().map_or("", Text::as_str))?,
                "displayName" => m.serialize_entry(name, &d.display_name)?,
                "givenName" => m.serialize_entry(name, &d.given_name)?,
                "initials" => m.serialize_entry(name, &d.initials)?,
                "middleName" => m.serialize_entry(name, &d.middle_name)?,
                "nickName" => m.serialize_entry(name, &d.nick_name)?,
                "surname" => m.serialize_entry(name, &d.surname)?,
                "title" => m.serialize_entry(name, &d.title)?,
                "yomiGivenName" => m.serialize_entry(name, &d.yomi_given_name)?,
                "yomiSurname" => m.serialize_entry(name, &d.yomi_surname)?,
                "yomiCompanyName" => m.serialize_entry(name, &d.yomi_company_name)?,
                "generation" => m.serialize_entry(name, &d.generation)?,
                "emailAddresses" => {
                    let list: Vec<EmailV1> = d.email_addresses.iter().map(EmailV1).collect();
                    m.serialize_entry(name, &list)?
                }
                "primaryEmailAddress" => m.serialize_entry(name, &d.email_addresses.first().map(EmailV1))?,
                "secondaryEmailAddress" => m.serialize_entry(name, &d.email_addresses.get(1).map(EmailV1))?,
                "tertiaryEmailAddress" => m.serialize_entry(name, &d.email_addresses.get(2).map(EmailV1))?,
                "imAddresses" => m.serialize_entry(name, &d.im_addresses)?,
                "jobTitle" => m.serialize_entry(name, &d.job_title)?,
                "companyName" => m.serialize_entry(name, &d.company_name)?,
                "department" => m.serialize_entry(name, &d.department)?,
                "officeLocation" => m.serialize_entry(name, &d.office_location)?,
                "profession" => m.serialize_entry(name, &d.profession)?,
                "businessHomePage" => m.serialize_entry(name, &d.business_home_page())?,
                "assistantName" => m.serialize_entry(name, &d.assistant_name)?,
                "manager" => m.serialize_entry(name, &d.manager)?,
                "homePhones" => m.serialize_entry(name, &Seq(|| d.phones_of("home")))?,
                "mobilePhone" => m.serialize_entry(name, &d.phones_of("mobile").next())?,
                "businessPhones" => m.serialize_entry(name, &Seq(|| d.phones_of("business")))?,
                "spouseName" => m.serialize_entry(name, &d.spouse_name)?,
                "personalNotes" => m.serialize_entry(name, d.personal_notes.as_ref().map_or("", Text::as_str))?,
                "children" => m.serialize_entry(name, &d.children)?,
                "homeAddress" => m.serialize_entry(name, &AddressV1(d.address_of("home")))?,
                "businessAddress" => m.serialize_entry(name, &AddressV1(d.address_of("business")))?,
                "otherAddress" => m.serialize_entry(name, &AddressV1(d.address_of("other")))?,
                _ => {}
            }
        }
        // Schema-extension values: all of them on a full read, the named ones under `$select`.
        for (id, values) in d.schema_extensions.iter() {
            if self.schema_values.is_none_or(|named| named.iter().any(|n| n.eq_ignore_ascii_case(id))) {
                let mut v = serde_json::Map::new();
                v.insert("@odata.type".into(), json!("#microsoft.graph.ComplexExtensionValue"));
                if let Some(obj) = values.as_object() {
                    v.extend(obj.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                m.serialize_entry(id, &v)?;
            }
        }
        Ok(())
    }
}

/// A sequence serialised straight from an iterator, without collecting it first.
struct Seq<F>(F);

impl<I: Iterator<Item = T>, T: Serialize, F: Fn() -> I> Serialize for Seq<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// Where a contact's entries go: serde's map serializer, or straight into a JSON buffer.
trait Entries {
    type Error;
    fn serialize_entry<V: Serialize + ?Sized>(&mut self, key: &str, value: &V) -> Result<(), Self::Error>;
}

struct MapSink<'m, M>(&'m mut M);

impl<M: SerializeMap> Entries for MapSink<'_, M> {
    type Error = M::Error;
    fn serialize_entry<V: Serialize + ?Sized>(&mut self, key: &str, value: &V) -> Result<(), M::Error> {
        self.0.serialize_entry(key, value)
    }
}

struct RawSink<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl Entries for RawSink<'_> {
    type Error = serde_json::Error;
    fn serialize_entry<V: Serialize + ?Sized>(&mut self, key: &str, value: &V) -> serde_json::Result<()> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        // What serde_json escapes: controls, quote and backslash. Property names have none;
        // schema-extension ids are the client's and go through serde_json when they do.
        if key.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            serde_json::to_writer(&mut *self.out, key)?;
        } else {
            self.out.push(b'"');
            self.out.extend_from_slice(key.as_bytes());
            self.out.push(b'"');
        }
        self.out.push(b':');
        serde_json::to_writer(&mut *self.out, value)
    }
}

/// A beta `typedEmailAddress`.
struct EmailBeta<'v, 'a>(&'v EmailView<'a>);

impl Serialize for EmailBeta<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", e.kind.as_ref().map_or("unknown", Text::as_str))?;
        if let Some(label) = &e.other_label {
            m.serialize_entry("otherLabel", label)?;
        }
        m.serialize_entry("name", &e.name)?;
        m.serialize_entry("address", &e.address)?;
        m.end()
    }
}

/// A beta `physicalAddress`: its type, then the fields that are set.
struct AddressBeta<'v, 'a>(&'v AddressView<'a>);

impl Serialize for AddressBeta<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", if a.kind.as_str().is_empty() { "unknown" } else { a.kind.as_str() })?;
        for (k, v) in [
            ("postOfficeBox", &a.post_office_box),
            ("street", &a.street),
            ("city", &a.city),
            ("state", &a.state),
            ("countryOrRegion", &a.country_or_region),
            ("postalCode", &a.postal_code),
        ] {
            if let Some(v) = v {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

struct WebsiteBeta<'v, 'a>(&'v WebsiteView<'a>);

impl Serialize for WebsiteBeta<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let w = self.0;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("type", &w.kind)?;
        m.serialize_entry("address", &w.address)?;
        m.serialize_entry("displayName", &w.display_name)?;
        m.end()
    }
}

/// `W/"<changeKey>"`, the weak etag Graph puts in `@odata.etag` and the `ETag` header.
pub fn etag(change_key: &str) -> String {
    // Twice per contact served (`@odata.etag`, `ETag`): built directly, not through `format!`.
    let mut s = String::with_capacity(change_key.len() + 4);
    s.push_str("W/\"");
    s.push_str(change_key);
    s.push('"');
    s
}

struct EmailV1<'v, 'a>(&'v EmailView<'a>);

impl Serialize for EmailV1<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("name", &self.0.name)?;
        m.serialize_entry("address", &self.0.address)?;
        m.end()
    }
}

/// A v1.0 `physicalAddress`: `{}` when unset, only the set fields otherwise.
struct AddressV1<'v, 'a>(Option<&'v AddressView<'a>>);

impl Serialize for AddressV1<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(a) = self.0 {
            for (k, v) in [
                ("street", &a.street),
                ("city", &a.city),
                ("state", &a.state),
                ("countryOrRegion", &a.country_or_region),
                ("postalCode", &a.postal_code),
            ] {
                if let Some(v) = v {
                    m.serialize_entry(k, v)?;
                }
            }
        }
        m.end()
    }
}

/// The JSON of a contact folder (no etag: folders have no change key on Graph); beta adds
/// `wellKnownName`.
pub fn folder_json(
    folder: &ContactFolder,
    fields: FieldSet,
    context: Option<&str>,
    version: ApiVersion,
) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Some(ctx) = context {
        m.insert("@odata.context".into(), json!(ctx));
    }
    if fields.contains(0) {
        m.insert("id".into(), json!(folder.id.as_str()));
    }
    if fields.contains(1) {
        m.insert("displayName".into(), json!(folder.display_name));
    }
    if fields.contains(2) {
        m.insert("parentFolderId".into(), json!(folder.parent_id.as_str()));
    }
    if version == ApiVersion::Beta && fields.contains(3) {
        m.insert("wellKnownName".into(), json!(folder.well_known_name));
    }
    serde_json::Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::{ContactData, WriteRules};
    use crate::ids::{ContactId, FolderId};
    use serde_json::Value;

    fn sample() -> Contact {
        let mut data = ContactData::default();
        data.apply_v1(&json!({"givenName": "Alex", "surname": "Wilber", "emailAddresses": [{"name": "Alex", "address": "a@x.test"}]}), true)
            .unwrap();
        Contact {
            id: ContactId::generate(),
            folder_id: FolderId::generate(),
            change_key: "CK".into(),
            created: "2024-01-01T00:00:00Z".into(),
            modified: "2024-01-01T00:00:00Z".into(),
            data,
        }
    }

    #[test]
    fn full_projection_has_graph_defaults() {
        let c = sample();
        let v: Value = serde_json::to_value(ContactJson::new(&c, FieldSet::ALL, ApiVersion::V1)).unwrap();
        assert_eq!(v["@odata.etag"], "W/\"CK\"");
        assert_eq!(v["displayName"], "Alex Wilber");
        assert_eq!(v["homeAddress"], json!({}));
        assert_eq!(v["businessPhones"], json!([]));
        assert_eq!(v["mobilePhone"], Value::Null);
        assert_eq!(v["fileAs"], "");
        assert_eq!(v["primaryEmailAddress"], json!({"name": "Alex", "address": "a@x.test"}));
        assert_eq!(v["secondaryEmailAddress"], Value::Null);
        assert_eq!(v.as_object().unwrap().len(), CONTACT_V1_PROPERTIES.len() + 1);
    }

    /// Every entry of the property table is serialised, and `$select` finds it, in exactly the
    /// versions that have it.
    #[test]
    fn every_table_property_is_projected() {
        let c = sample();
        for version in [ApiVersion::V1, ApiVersion::Beta] {
            let v: Value = serde_json::to_value(ContactJson::new(&c, FieldSet::ALL, version)).unwrap();
            for p in crate::properties::CONTACT_PROPERTIES {
                assert_eq!(v.get(p.name).is_some(), p.versions.has(version), "{version:?} {}", p.name);
                let select = [SelectItem::Path(vec![p.name.to_owned()])];
                let fields = FieldSet::from_select(&select, contact_properties(version), "t");
                assert_eq!(fields.is_ok(), p.versions.has(version), "{version:?} $select={}", p.name);
            }
        }
    }

    /// The direct writer is byte for byte what serde_json writes, in both versions, with and
    /// without `$select` and a context, for values that need escaping and schema-extension ids
    /// that do too.
    #[test]
    fn write_json_is_serde_jsons_output() {
        let mut c = sample();
        c.data
            .apply_v1(
                &json!({"personalNotes": "a \"quote\", a \\ and a\nline\u{1}", "jobTitle": "Ingénieure ✓",
                        "businessPhones": ["+1 1"], "homeAddress": {"city": "Oslo"}, "categories": ["Red"]}),
                false,
            )
            .unwrap();
        c.data.schema_extensions.insert("ext_plain".into(), json!({"a": 1}));
        c.data.schema_extensions.insert("ext_\"odd\\\u{2}".into(), json!({"b": "x\ny"}));
        let select = [SelectItem::Path(vec!["personalNotes".into()]), SelectItem::Path(vec!["homeAddress".into()])];
        for version in [ApiVersion::V1, ApiVersion::Beta] {
            let props = contact_properties(version);
            let some = FieldSet::from_select(&select[..1], props, "t").unwrap();
            let named = ["ext_plain".to_owned()];
            for (fields, schema) in [(FieldSet::ALL, None), (some, Some(&named[..])), (some, Some(&[][..]))] {
                for context in [None, Some("https://x/v1.0/$metadata#users('u')/contacts/$entity")] {
                    let mut j = ContactJson::new(&c, fields, version);
                    j.schema_values = schema;
                    j.context = context;
                    let mut direct = Vec::new();
                    j.write_json(&mut direct).unwrap();
                    let serde = serde_json::to_vec(&j).unwrap();
                    assert_eq!(String::from_utf8(direct).unwrap(), String::from_utf8(serde).unwrap());
                    // A delta page's contact: the same with its type first.
                    let typed = TypedContact(j);
                    let mut direct = Vec::new();
                    typed.write_json(&mut direct).unwrap();
                    assert_eq!(String::from_utf8(direct).unwrap(), serde_json::to_string(&typed).unwrap());
                }
            }
        }
    }

    /// A contact with every shown field set, in both versions' shapes, values that need
    /// escaping, extended properties (stored, never shown) and schema-extension values.
    fn rich() -> Contact {
        let mut c = sample();
        let beta = WriteRules { version: ApiVersion::Beta, schemas: &[], creating: false };
        c.data
            .apply(
                &json!({"displayName": "Dr \"Al\" W\\ilber\n\u{7}", "middleName": "Q", "nickName": "Al", "title": "Dr",
                        "generation": "III", "fileAs": "Wilber, Alex", "initials": "A.W.", "yomiGivenName": "アレックス",
                        "yomiSurname": "ウィルバー", "yomiCompanyName": "コ", "jobTitle": "Ingénieure ✓", "companyName": "Co",
                        "department": "R&D", "officeLocation": "4/12", "profession": "Eng", "manager": "M",
                        "assistantName": "As", "spouseName": "Sp", "personalNotes": "line 1\r\nline 2\t\u{1f}",
                        "birthday": "1990-05-01T00:00:00Z", "imAddresses": ["im1", "im\"2"], "children": ["C1"],
                        "categories": ["Red", "Blue"],
                        "emailAddresses": [{"type": "work", "name": "W", "address": "w@x.test"},
                                           {"type": "other", "otherLabel": "Old", "address": "o@x.test"},
                                           {"name": "Nameless"}, {"address": "4@x.test"}],
                        "phones": [{"type": "home", "number": "1"}, {"type": "business", "number": "2"},
                                   {"type": "mobile", "number": "3"}, {"type": "home", "number": "4"},
                                   {"type": "pager"}, {"type": "mobile", "number": "5"}],
                        "postalAddresses": [{"type": "business", "street": "1 Main", "city": "Oslo", "postOfficeBox": "9"},
                                            {"type": "home", "countryOrRegion": "NO", "postalCode": "0150", "state": "S"},
                                            {"type": "other", "city": "Bergen"}, {"city": "Nowhere"}],
                        "websites": [{"type": "blog", "address": "https://b.test"},
                                     {"type": "work", "address": "https://w.test", "displayName": "Work"}],
                        "flag": {"flagStatus": "flagged",
                                 "startDateTime": {"dateTime": "2024-01-01T00:00:00", "timeZone": "UTC"},
                                 "dueDateTime": {"dateTime": "2024-02-01T00:00:00", "timeZone": "UTC"}},
                        "gender": "female", "weddingAnniversary": "2010-06-01", "isFavorite": true,
                        "singleValueExtendedProperties": [{"id": "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color", "value": "Green"}],
                        "multiValueExtendedProperties": [{"id": "StringArray {66f5a359-4659-4830-9070-00047ec6ac6e} Name Tags", "value": ["a", "b"]}]}),
                beta,
            )
            .unwrap();
        c.data.schema_extensions.insert("ext_plain".into(), json!({"a": 1, "b": "x\ny"}));
        c.data.schema_extensions.insert("ext_\"odd".into(), json!({"c": [1.5, true, null]}));
        c
    }

    fn stored(c: &Contact, doc: String) -> StoredContact {
        StoredContact {
            id: c.id.clone(),
            folder_id: c.folder_id.clone(),
            change_key: c.change_key.clone(),
            created: c.created.clone(),
            modified: c.modified.clone(),
            doc,
        }
    }

    /// The same document as PostgreSQL's `jsonb` gives it back: spaces after `:` and `,`, keys
    /// reordered (shortest first), and non-ASCII characters written as `\u` escapes.
    fn jsonb_like(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort_by_key(|k| (k.len(), k.as_str()));
                let items: Vec<String> =
                    keys.iter().map(|k| format!("{}: {}", jsonb_like(&json!(k)), jsonb_like(&m[k.as_str()]))).collect();
                format!("{{{}}}", items.join(", "))
            }
            Value::Array(a) => format!("[{}]", a.iter().map(jsonb_like).collect::<Vec<_>>().join(", ")),
            Value::String(s) => {
                let plain = serde_json::to_string(s).unwrap();
                plain
                    .chars()
                    .map(|ch| if ch.is_ascii() { ch.to_string() } else { format!("\\u{:04x}", ch as u32) })
                    .collect()
            }
            other => other.to_string(),
        }
    }

    /// Rendering the stored document directly writes exactly what parsing it into a `Contact`
    /// and rendering that writes: both versions, with and without `$select`, a context and
    /// named schema-extension values, from the document as Rolo writes it and as PostgreSQL
    /// returns it, for a full contact and an empty one; and so for a delta page's contact, typed.
    #[test]
    fn rendering_the_stored_document_is_rendering_the_parsed_contact() {
        let select = [
            SelectItem::Path(vec!["personalNotes".into()]),
            SelectItem::Path(vec!["homeAddress".into()]),
            SelectItem::Path(vec!["emailAddresses".into()]),
        ];
        let mut empty = sample();
        empty.data = ContactData::default();
        for c in [rich(), sample(), empty] {
            let doc = serde_json::to_string(&c.data).unwrap();
            let reshaped = jsonb_like(&serde_json::from_str(&doc).unwrap());
            assert!(doc == "{}" || doc != reshaped);
            for doc in [doc, reshaped] {
                let s = stored(&c, doc);
                let parsed = s.clone().parse().unwrap();
                assert_eq!(parsed, c);
                for version in [ApiVersion::V1, ApiVersion::Beta] {
                    let props = contact_properties(version);
                    let picked = [&select[..1], &select[1..2], &select[2..]]
                        .into_iter()
                        .filter_map(|sel| FieldSet::from_select(sel, props, "t").ok());
                    let named = ["EXT_PLAIN".to_owned()];
                    // All fields without schema-extension values is a delta page's contact.
                    let mut cases = vec![(FieldSet::ALL, None), (FieldSet::ALL, Some(&[][..]))];
                    for fields in picked {
                        cases.push((fields, Some(&named[..])));
                        cases.push((fields, Some(&[][..])));
                    }
                    for (fields, schema) in cases {
                        for context in [None, Some("https://x/v1.0/$metadata#users('u')/contacts/$entity")] {
                            let mut from_doc = ContactJson::stored(&s, fields, version).unwrap();
                            let mut from_data = ContactJson::new(&parsed, fields, version);
                            (from_doc.schema_values, from_data.schema_values) = (schema, schema);
                            (from_doc.context, from_data.context) = (context, context);
                            let (mut a, mut b) = (Vec::new(), Vec::new());
                            from_doc.write_json(&mut a).unwrap();
                            from_data.write_json(&mut b).unwrap();
                            let a = String::from_utf8(a).unwrap();
                            assert_eq!(a, String::from_utf8(b).unwrap());
                            assert_eq!(a, serde_json::to_string(&from_data).unwrap());
                            assert_eq!(a, serde_json::to_string(&from_doc).unwrap());
                            // A delta page's contact: the same with its type in front.
                            let (mut a, mut b) = (Vec::new(), Vec::new());
                            TypedContact(from_doc).write_json(&mut a).unwrap();
                            TypedContact(from_data).write_json(&mut b).unwrap();
                            assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_corrupt_document_is_an_internal_error() {
        let s = stored(&sample(), "{\"givenName\": 7}".into());
        let err = ContactJson::stored(&s, FieldSet::ALL, ApiVersion::V1).err().unwrap();
        assert_eq!(err.kind, crate::ErrorKind::Internal);
        assert!(err.cause.unwrap().contains("corrupt document"));
        assert_eq!(s.parse().unwrap_err().kind, crate::ErrorKind::Internal);
    }

    #[test]
    fn select_keeps_id_and_etag() {
        let c = sample();
        let f =
            FieldSet::from_select(&[SelectItem::Path(vec!["DisplayName".into()])], CONTACT_V1_PROPERTIES, "t").unwrap();
        let v: Value = serde_json::to_value(ContactJson::new(&c, f, ApiVersion::V1)).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 3);
        assert_eq!(f.names(CONTACT_V1_PROPERTIES).unwrap(), "displayName");
        let err = FieldSet::from_select(
            &[SelectItem::Path(vec!["nope".into()])],
            CONTACT_V1_PROPERTIES,
            "microsoft.graph.contact",
        )
        .unwrap_err();
        assert_eq!(err.code, "BadRequest");
    }

    #[test]
    fn beta_shows_the_same_data_typed() {
        let mut c = sample();
        c.data
            .apply_v1(&json!({"businessPhones": ["+1 1"], "homeAddress": {"city": "Oslo"}, "businessHomePage": "https://x.test"}), false)
            .unwrap();
        let v: Value = serde_json::to_value(ContactJson::new(&c, FieldSet::ALL, ApiVersion::Beta)).unwrap();
        assert_eq!(v["phones"], json!([{"type": "business", "number": "+1 1"}]));
        assert_eq!(v["postalAddresses"], json!([{"type": "home", "city": "Oslo"}]));
        assert_eq!(v["websites"], json!([{"type": "work", "address": "https://x.test", "displayName": null}]));
        assert_eq!(v["emailAddresses"], json!([{"type": "unknown", "name": "Alex", "address": "a@x.test"}]));
        assert_eq!(v["flag"], json!({"flagStatus": "notFlagged"}));
        assert!(v.get("businessPhones").is_none());
        assert_eq!(v.as_object().unwrap().len(), CONTACT_BETA_PROPERTIES.len() + 1);
    }
}
