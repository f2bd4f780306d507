//! The canonical contact model and the rules Graph applies when a client writes one.
//!
//! One model holds everything Exchange keeps for a contact, beta-only fields included (typed
//! phones, postal addresses, websites, flag, ...). The v1.0 shape (`businessPhones`,
//! `homeAddress`, `primaryEmailAddress`, ...) is a projection of it (see `projection`), so a
//! `/beta` endpoint is a second projection of the same data rather than a migration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{GraphError, GraphResult};
use crate::ids::{ContactId, FolderId};
use crate::schema::SchemaExtension;
use crate::version::ApiVersion;
use crate::xprop;

pub const CONTACT_TYPE: &str = "microsoft.graph.contact";

/// An email address with the beta `typedEmailAddress` extras.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_label: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Phone {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

/// A postal address; `kind` is `home`, `business`, `other` or `unknown` as in beta.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PostalAddress {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_or_region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_office_box: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Website {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// Everything a client can write on a contact, in canonical form. Stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContactData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// True while `display_name` was composed by the server from the name parts, so that later
    /// name changes recompose it (as Exchange does) without clobbering a name the client chose.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub display_name_composed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_as: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initials: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yomi_given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yomi_surname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yomi_company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profession: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spouse_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_notes: Option<String>,
    /// Normalised UTC date-time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_addresses: Vec<EmailAddress>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub postal_addresses: Vec<PostalAddress>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub websites: Vec<Website>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub im_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    // Beta-only fields, kept so the beta projection needs no migration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wedding_anniversary: Option<String>,
    /// Beta `isFavorite` (shown in a beta response example, absent from the property table): a
    /// contact pinned by its owner.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_favorite: bool,
    /// MAPI extended properties, by canonical id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub single_value_extended_properties: Vec<xprop::SingleValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub multi_value_extended_properties: Vec<xprop::MultiValue>,
    /// Schema-extension values, by extension id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub schema_extensions: BTreeMap<String, Value>,
}

/// What a write is checked against: the API version whose shape the body has, and the schema
/// extensions whose values it may carry.
#[derive(Debug, Clone, Copy)]
pub struct WriteRules<'a> {
    pub version: ApiVersion,
    pub schemas: &'a [SchemaExtension],
    pub creating: bool,
}

pub const EMAIL_TYPES: &[&str] = &["unknown", "work", "personal", "main", "other"];
pub const PHONE_TYPES: &[&str] = &[
    "home",
    "business",
    "mobile",
    "other",
    "assistant",
    "homeFax",
    "businessFax",
    "otherFax",
    "pager",
    "radio",
    "unknown",
    "callback",
    "car",
    "primary",
    "telex",
    "ttyTdd",
    "organizationMain",
];
pub const ADDRESS_TYPES: &[&str] = &["unknown", "home", "business", "other"];
pub const WEBSITE_TYPES: &[&str] = &["other", "home", "work", "blog", "profile"];

/// A stored contact: the data plus the server-managed fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub folder_id: FolderId,
    pub change_key: String,
    pub created: String,
    pub modified: String,
    pub data: ContactData,
}

/// A contact as the store reads it: the server-managed fields and the canonical document, not
/// yet parsed. A read that only renders the contact renders the document itself
/// ([`crate::projection::ContactJson::stored`]); anything else parses it into a [`Contact`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoredContact {
    pub id: ContactId,
    pub folder_id: FolderId,
    pub change_key: String,
    pub created: String,
    pub modified: String,
    /// [`ContactData`] as JSON.
    pub doc: String,
}

impl StoredContact {
    pub fn parse(self) -> GraphResult<Contact> {
        let data: ContactData = serde_json::from_str(&self.doc).map_err(|e| self.corrupt(e))?;
        let StoredContact { id, folder_id, change_key, created, modified, .. } = self;
        Ok(Contact { id, folder_id, change_key, created, modified, data })
    }

    pub(crate) fn corrupt(&self, e: serde_json::Error) -> GraphError {
        GraphError::internal(format!("contact {} has a corrupt document: {e}", self.id))
    }
}

impl ContactData {
    /// Applies a v1.0 JSON body (POST or PATCH) with Graph's rules: unknown and read-only
    /// properties are refused, structured values and collections are replaced whole, and the
    /// display name is recomposed when the server owns it. Returns the `parentFolderId` the body
    /// asked for, if any (a move).
    pub fn apply_v1(&mut self, body: &Value, creating: bool) -> GraphResult<Option<FolderId>> {
        self.apply(body, WriteRules { version: ApiVersion::V1, schemas: &[], creating })
    }

    /// Applies a body in the shape of `rules.version`: the properties both versions share, then
    /// each version's own (v1.0's fixed phone and address slots, beta's typed collections and
    /// flag), then extended properties and schema-extension values.
    pub fn apply(&mut self, body: &Value, rules: WriteRules<'_>) -> GraphResult<Option<FolderId>> {
        let creating = rules.creating;
        let v1 = rules.version == ApiVersion::V1;
        let beta = !v1;
        let obj = body
            .as_object()
            .ok_or_else(|| GraphError::bad_request("RequestBodyRead", "The request body must be a JSON object."))?;
        let mut parent = None;
        let mut display_name_set = false;
        // `emailAddresses` is applied before the single slots so a body may carry both.
        if let Some(v) = obj.get("emailAddresses") {
            self.email_addresses = emails_from(v, "emailAddresses", beta)?;
        }
        for (key, value) in obj {
            match key.as_str() {
                "emailAddresses" => {}
                k if k.starts_with("@odata.") => check_odata_annotation(k, value)?,
                k if crate::properties::is_read_only(k) => return Err(GraphError::read_only_property(key)),
                "parentFolderId" => {
                    if let Some(s) = opt_string(key, value)? {
                        parent = Some(FolderId::parse(&s)?);
                    }
                }
                "displayName" => {
                    self.display_name = opt_string(key, value)?;
                    self.display_name_composed = false;
                    display_name_set = true;
                }
                "givenName" => self.given_name = opt_string(key, value)?,
                "middleName" => self.middle_name = opt_string(key, value)?,
                "surname" => self.surname = opt_string(key, value)?,
                "nickName" => self.nick_name = opt_string(key, value)?,
                "title" => self.title = opt_string(key, value)?,
                "generation" => self.generation = opt_string(key, value)?,
                "fileAs" => self.file_as = opt_string(key, value)?,
                "initials" => self.initials = opt_string(key, value)?,
                "yomiGivenName" => self.yomi_given_name = opt_string(key, value)?,
                "yomiSurname" => self.yomi_surname = opt_string(key, value)?,
                "yomiCompanyName" => self.yomi_company_name = opt_string(key, value)?,
                "jobTitle" => self.job_title = opt_string(key, value)?,
                "companyName" => self.company_name = opt_string(key, value)?,
                "department" => self.department = opt_string(key, value)?,
                "officeLocation" => self.office_location = opt_string(key, value)?,
                "profession" => self.profession = opt_string(key, value)?,
                "manager" => self.manager = opt_string(key, value)?,
                "assistantName" => self.assistant_name = opt_string(key, value)?,
                "spouseName" => self.spouse_name = opt_string(key, value)?,
                "personalNotes" => self.personal_notes = opt_string(key, value)?,
                "birthday" => {
                    self.birthday = match opt_string(key, value)? {
                        Some(s) => Some(crate::time::parse_birthday(key, &s)?),
                        None => None,
                    }
                }
                "imAddresses" => self.im_addresses = string_list(key, value)?,
                "children" => self.children = string_list(key, value)?,
                "categories" => self.categories = string_list(key, value)?,
                "businessPhones" if v1 => self.set_phones("business", string_list(key, value)?),
                "homePhones" if v1 => self.set_phones("home", string_list(key, value)?),
                "mobilePhone" if v1 => {
                    let numbers = opt_string(key, value)?.into_iter().collect();
                    self.set_phones("mobile", numbers)
                }
                "businessAddress" if v1 => self.set_address("business", address_from(key, value)?),
                "homeAddress" if v1 => self.set_address("home", address_from(key, value)?),
                "otherAddress" if v1 => self.set_address("other", address_from(key, value)?),
                "businessHomePage" if v1 => {
                    self.websites.retain(|w| w.kind != "work");
                    if let Some(address) = opt_string(key, value)? {
                        self.websites.push(Website { kind: "work".into(), address: Some(address), display_name: None });
                    }
                }
                "primaryEmailAddress" if v1 => self.set_email_slot(0, key, value)?,
                "secondaryEmailAddress" if v1 => self.set_email_slot(1, key, value)?,
                "tertiaryEmailAddress" if v1 => self.set_email_slot(2, key, value)?,
                "phones" if beta => self.phones = phones_from(key, value)?,
                "postalAddresses" if beta => self.postal_addresses = addresses_from(key, value)?,
                "websites" if beta => self.websites = websites_from(key, value)?,
                "flag" if beta => self.flag = crate::flag::parse(value)?,
                "gender" if beta => self.gender = opt_string(key, value)?,
                "isFavorite" if beta => {
                    self.is_favorite = match value {
                        Value::Bool(b) => *b,
                        Value::Null => false,
                        _ => return Err(GraphError::wrong_type(key, "Edm.Boolean")),
                    }
                }
                "weddingAnniversary" if beta => {
                    self.wedding_anniversary = match opt_string(key, value)? {
                        Some(s) => Some(crate::time::parse_date(key, &s)?),
                        None => None,
                    }
                }
                "singleValueExtendedProperties" => {
                    xprop::merge_single(&mut self.single_value_extended_properties, key, value)?
                }
                "multiValueExtendedProperties" => {
                    xprop::merge_multi(&mut self.multi_value_extended_properties, key, value)?
                }
                "extensions" => {
                    return Err(GraphError::not_supported(
                        "Open extensions are written through .../contacts/{id}/extensions, or inline when a contact is created.",
                    ))
                }
                "photo" => {
                    return Err(GraphError::not_supported(
                        "A contact's photo is written through .../contacts/{id}/photo/$value.",
                    ))
                }
                _ => match rules.schemas.iter().find(|s| s.id == *key && s.targets_contacts()) {
                    Some(schema) => match schema.merge_values(self.schema_extensions.get(key), value)? {
                        Some(v) => {
                            self.schema_extensions.insert(key.clone(), v);
                        }
                        None => {
                            self.schema_extensions.remove(key);
                        }
                    },
                    None => return Err(GraphError::unknown_property(key, CONTACT_TYPE)),
                },
            }
        }
        xprop::check_count(self.single_value_extended_properties.len(), self.multi_value_extended_properties.len())?;
        if !display_name_set && (creating || self.display_name_composed) {
            let composed = self.composed_display_name();
            self.display_name_composed = composed.is_some();
            self.display_name = composed;
        }
        Ok(parent)
    }

    /// Outlook's composition: given, middle and surname with the suffix; else the company;
    /// else the first email address.
    pub(crate) fn composed_display_name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.given_name, &self.middle_name, &self.surname, &self.generation]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if !parts.is_empty() {
            return Some(parts.join(" "));
        }
        if let Some(c) = self.company_name.as_deref().filter(|c| !c.trim().is_empty()) {
            return Some(c.to_owned());
        }
        self.email_addresses.first().and_then(|e| e.address.clone())
    }

    fn set_phones(&mut self, kind: &str, numbers: Vec<String>) {
        self.phones.retain(|p| p.kind != kind);
        self.phones.extend(numbers.into_iter().map(|n| Phone { kind: kind.to_owned(), number: Some(n) }));
    }

    fn set_address(&mut self, kind: &str, address: Option<PostalAddress>) {
        self.postal_addresses.retain(|a| a.kind != kind);
        if let Some(mut a) = address {
            a.kind = kind.to_owned();
            self.postal_addresses.push(a);
        }
    }

    fn set_email_slot(&mut self, slot: usize, key: &str, value: &Value) -> GraphResult<()> {
        let email = if value.is_null() { None } else { Some(email_from(value, key, false)?) };
        match email {
            Some(e) if slot < self.email_addresses.len() => self.email_addresses[slot] = e,
            Some(e) => self.email_addresses.push(e),
            None if slot < self.email_addresses.len() => {
                self.email_addresses.remove(slot);
            }
            None => {}
        }
        Ok(())
    }

    pub fn phones_of(&self, kind: &str) -> impl Iterator<Item = &str> {
        let kind = kind.to_owned();
        self.phones.iter().filter(move |p| p.kind == kind).filter_map(|p| p.number.as_deref())
    }

    pub fn address_of(&self, kind: &str) -> Option<&PostalAddress> {
        self.postal_addresses.iter().find(|a| a.kind == kind)
    }

    pub fn business_home_page(&self) -> Option<&str> {
        self.websites.iter().find(|w| w.kind == "work").and_then(|w| w.address.as_deref())
    }
}

fn check_odata_annotation(key: &str, value: &Value) -> GraphResult<()> {
    if key == "@odata.type" {
        let t = value.as_str().unwrap_or_default().trim_start_matches('#');
        if t != CONTACT_TYPE {
            return Err(GraphError::bad_request(
                "RequestBodyRead",
                format!("A type named '{t}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."),
            ));
        }
    }
    Ok(())
}

pub(crate) fn opt_string(key: &str, value: &Value) -> GraphResult<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => checked_text(key, s).map(|s| Some(s.to_owned())),
        _ => Err(GraphError::wrong_type(key, "Edm.String")),
    }
}

/// Text stored in a property: NUL characters are refused (neither Exchange nor PostgreSQL text
/// can hold them).
fn checked_text<'a>(key: &str, s: &'a str) -> GraphResult<&'a str> {
    if s.contains('\0') {
        return Err(GraphError::bad_request(
            "RequestBodyRead",
            format!("The value of property '{key}' contains a NUL character, which is not allowed."),
        ));
    }
    Ok(s)
}

/// Most values one collection property may hold: every one is indexed inside the write's
/// transaction, so an unbounded list would hold the mailbox's write lock for long.
pub const MAX_COLLECTION_ITEMS: usize = 250;

fn check_len(key: &str, items: &[Value]) -> GraphResult<()> {
    if items.len() > MAX_COLLECTION_ITEMS {
        return Err(GraphError::bad_request(
            "ErrorInvalidProperty",
            format!("The property '{key}' may hold at most {MAX_COLLECTION_ITEMS} values."),
        ));
    }
    Ok(())
}

fn string_list(key: &str, value: &Value) -> GraphResult<Vec<String>> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => {
            check_len(key, items)?;
            items
                .iter()
                .map(|v| match v.as_str() {
                    Some(s) => checked_text(key, s).map(str::to_owned),
                    None => Err(GraphError::wrong_type(key, "Collection(Edm.String)")),
                })
                .collect()
        }
        _ => Err(GraphError::wrong_type(key, "Collection(Edm.String)")),
    }
}

fn email_from(value: &Value, key: &str, typed: bool) -> GraphResult<EmailAddress> {
    let obj = value.as_object().ok_or_else(|| GraphError::wrong_type(key, "microsoft.graph.emailAddress"))?;
    let mut e = EmailAddress::default();
    for (k, v) in obj {
        match k.as_str() {
            "address" => e.address = opt_string(k, v)?,
            "name" => e.name = opt_string(k, v)?,
            "type" if typed => e.kind = enum_value(k, v, EMAIL_TYPES, "microsoft.graph.emailType")?,
            "otherLabel" if typed => e.other_label = opt_string(k, v)?,
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, "microsoft.graph.emailAddress")),
        }
    }
    Ok(e)
}

fn emails_from(value: &Value, key: &str, typed: bool) -> GraphResult<Vec<EmailAddress>> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => {
            check_len(key, items)?;
            items.iter().map(|v| email_from(v, key, typed)).collect()
        }
        _ => Err(GraphError::wrong_type(key, "Collection(microsoft.graph.emailAddress)")),
    }
}

fn address_from(key: &str, value: &Value) -> GraphResult<Option<PostalAddress>> {
    address_fields(key, value, false)
}

fn address_fields(key: &str, value: &Value, typed: bool) -> GraphResult<Option<PostalAddress>> {
    let obj: &Map<String, Value> = match value {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(GraphError::wrong_type(key, "microsoft.graph.physicalAddress")),
    };
    let mut a = PostalAddress::default();
    for (k, v) in obj {
        match k.as_str() {
            "type" if typed => {
                a.kind = enum_value(k, v, ADDRESS_TYPES, "microsoft.graph.physicalAddressType")?
                    .unwrap_or_else(|| "unknown".into())
            }
            "postOfficeBox" if typed => a.post_office_box = opt_string(k, v)?,
            "street" => a.street = opt_string(k, v)?,
            "city" => a.city = opt_string(k, v)?,
            "state" => a.state = opt_string(k, v)?,
            "countryOrRegion" => a.country_or_region = opt_string(k, v)?,
            "postalCode" => a.postal_code = opt_string(k, v)?,
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, "microsoft.graph.physicalAddress")),
        }
    }
    let empty = a.street.is_none()
        && a.post_office_box.is_none()
        && a.city.is_none()
        && a.state.is_none()
        && a.country_or_region.is_none()
        && a.postal_code.is_none();
    Ok(if empty { None } else { Some(a) })
}

/// A string from a fixed vocabulary, matched ignoring case and stored in its canonical casing.
fn enum_value(key: &str, value: &Value, allowed: &[&str], type_name: &str) -> GraphResult<Option<String>> {
    match opt_string(key, value)? {
        None => Ok(None),
        Some(s) => match allowed.iter().find(|a| a.eq_ignore_ascii_case(&s)) {
            Some(a) => Ok(Some((*a).to_owned())),
            None => Err(GraphError::bad_request(
                "RequestBodyRead",
                format!("The value '{s}' is not valid for the enumeration '{type_name}'."),
            )),
        },
    }
}

fn items<'v>(key: &str, value: &'v Value, type_name: &str) -> GraphResult<&'v [Value]> {
    match value {
        Value::Null => Ok(&[]),
        Value::Array(items) => {
            check_len(key, items)?;
            Ok(items)
        }
        _ => Err(GraphError::wrong_type(key, &format!("Collection({type_name})"))),
    }
}

fn object<'v>(key: &str, value: &'v Value, type_name: &str) -> GraphResult<&'v Map<String, Value>> {
    value.as_object().ok_or_else(|| GraphError::wrong_type(key, type_name))
}

/// Beta `phones`: `{type, number}`; a phone without a type is `other`.
fn phones_from(key: &str, value: &Value) -> GraphResult<Vec<Phone>> {
    let mut out = Vec::new();
    for item in items(key, value, "microsoft.graph.phone")? {
        let mut p = Phone { kind: "other".into(), number: None };
        for (k, v) in object(key, item, "microsoft.graph.phone")? {
            match k.as_str() {
                "type" => p.kind = enum_value(k, v, PHONE_TYPES, "microsoft.graph.phoneType")?.unwrap_or(p.kind),
                "number" => p.number = opt_string(k, v)?,
                "language" | "region" => {}
                k if k.starts_with("@odata.") => {}
                _ => return Err(GraphError::unknown_property(k, "microsoft.graph.phone")),
            }
        }
        if p.number.is_some() {
            out.push(p);
        }
    }
    Ok(out)
}

/// Beta `postalAddresses`: typed addresses with `postOfficeBox`.
fn addresses_from(key: &str, value: &Value) -> GraphResult<Vec<PostalAddress>> {
    let mut out = Vec::new();
    for item in items(key, value, "microsoft.graph.physicalAddress")? {
        if let Some(mut a) = address_fields(key, item, true)? {
            if a.kind.is_empty() {
                a.kind = "unknown".into();
            }
            out.push(a);
        }
    }
    Ok(out)
}

/// Beta `websites`: `{type, address, displayName}`.
fn websites_from(key: &str, value: &Value) -> GraphResult<Vec<Website>> {
    let mut out = Vec::new();
    for item in items(key, value, "microsoft.graph.website")? {
        let mut w = Website { kind: "other".into(), address: None, display_name: None };
        for (k, v) in object(key, item, "microsoft.graph.website")? {
            match k.as_str() {
                "type" => w.kind = enum_value(k, v, WEBSITE_TYPES, "microsoft.graph.websiteType")?.unwrap_or(w.kind),
                "address" => w.address = opt_string(k, v)?,
                "displayName" => w.display_name = opt_string(k, v)?,
                k if k.starts_with("@odata.") => {}
                _ => return Err(GraphError::unknown_property(k, "microsoft.graph.website")),
            }
        }
        if w.address.is_some() || w.display_name.is_some() {
            out.push(w);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every entry of the property table is written by `apply` in exactly the versions that
    /// have it (refused as read-only where the table says so, unknown in the other version).
    #[test]
    fn every_table_property_is_writable_where_it_exists() {
        for version in [ApiVersion::V1, ApiVersion::Beta] {
            for p in crate::properties::CONTACT_PROPERTIES {
                let mut data = ContactData::default();
                let rules = WriteRules { version, schemas: &[], creating: false };
                let result = data.apply(&json!({ p.name: null }), rules);
                let unknown = result.as_ref().is_err_and(|e| e.message.contains("does not exist"));
                if p.read_only {
                    assert_eq!(result.unwrap_err().code, "ErrorInvalidProperty", "{}", p.name);
                } else {
                    assert_eq!(unknown, !p.versions.has(version), "{version:?} {}: {result:?}", p.name);
                }
            }
        }
    }

    fn created(body: Value) -> ContactData {
        let mut d = ContactData::default();
        d.apply_v1(&body, true).unwrap();
        d
    }

    #[test]
    fn display_name_is_composed_and_recomposed_until_set() {
        let mut d = created(json!({"givenName": "Pavel", "surname": "Bansky"}));
        assert_eq!(d.display_name.as_deref(), Some("Pavel Bansky"));
        d.apply_v1(&json!({"surname": "Banski"}), false).unwrap();
        assert_eq!(d.display_name.as_deref(), Some("Pavel Banski"));
        d.apply_v1(&json!({"displayName": "PB"}), false).unwrap();
        d.apply_v1(&json!({"surname": "B"}), false).unwrap();
        assert_eq!(d.display_name.as_deref(), Some("PB"));
    }

    #[test]
    fn v1_phones_and_addresses_map_onto_typed_collections() {
        let d = created(json!({
            "businessPhones": ["+1 1", "+1 2"], "homePhones": ["+1 3"], "mobilePhone": "+1 4",
            "homeAddress": {"city": "Oslo"}, "businessHomePage": "https://x.test"
        }));
        assert_eq!(d.phones_of("business").collect::<Vec<_>>(), ["+1 1", "+1 2"]);
        assert_eq!(d.phones_of("mobile").collect::<Vec<_>>(), ["+1 4"]);
        assert_eq!(d.address_of("home").unwrap().city.as_deref(), Some("Oslo"));
        assert_eq!(d.business_home_page(), Some("https://x.test"));
    }

    #[test]
    fn unknown_read_only_and_mistyped_properties_are_refused() {
        let mut d = ContactData::default();
        assert_eq!(d.apply_v1(&json!({"nope": 1}), true).unwrap_err().code, "RequestBodyRead");
        assert_eq!(d.apply_v1(&json!({"id": "x"}), true).unwrap_err().code, "ErrorInvalidProperty");
        assert_eq!(d.apply_v1(&json!({"givenName": 5}), true).unwrap_err().code, "RequestBodyRead");
        assert_eq!(d.apply_v1(&json!({"homeAddress": {"zip": "1"}}), true).unwrap_err().code, "RequestBodyRead");
        assert_eq!(d.apply_v1(&json!([1]), true).unwrap_err().code, "RequestBodyRead");
        assert_eq!(d.apply_v1(&json!({"children": ["a\u{0}"]}), true).unwrap_err().code, "RequestBodyRead");
        assert_eq!(d.apply_v1(&json!({"surname": "a\u{0}"}), true).unwrap_err().code, "RequestBodyRead");
    }

    #[test]
    fn email_slots_follow_the_list() {
        let mut d = created(json!({"emailAddresses": [{"address": "a@x.test"}, {"address": "b@x.test"}]}));
        d.apply_v1(&json!({"secondaryEmailAddress": null}), false).unwrap();
        assert_eq!(d.email_addresses.len(), 1);
        d.apply_v1(&json!({"tertiaryEmailAddress": {"address": "c@x.test"}}), false).unwrap();
        assert_eq!(d.email_addresses[1].address.as_deref(), Some("c@x.test"));
    }
}
