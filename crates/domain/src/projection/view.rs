//! What the projections read of a contact, borrowed: from a parsed [`ContactData`], or straight
//! from the stored JSON document. A read that only renders a contact (a GET by id, a page)
//! borrows the document's strings instead of building a `ContactData` of owned strings and
//! dropping it again: only values with JSON escapes are decoded into their own string. Fields
//! the projections never show (extended properties, `displayNameComposed`) are skipped unread.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::contact::{ContactData, EmailAddress, Phone, PostalAddress, Website};

/// A string of a contact: borrowed from the document (or the parsed data) when it can be.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn of(s: &'a str) -> Self {
        Text(Cow::Borrowed(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            // A string with escapes, decoded by the parser into a buffer of its own.
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

fn text(s: &Option<String>) -> Option<Text<'_>> {
    s.as_deref().map(Text::of)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailView<'a> {
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    #[serde(borrow)]
    pub address: Option<Text<'a>>,
    #[serde(borrow, rename = "type")]
    pub kind: Option<Text<'a>>,
    #[serde(borrow)]
    pub other_label: Option<Text<'a>>,
}

/// A beta `phone`, serialised as [`Phone`] is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PhoneView<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub number: Option<Text<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddressView<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub street: Option<Text<'a>>,
    #[serde(borrow)]
    pub city: Option<Text<'a>>,
    #[serde(borrow)]
    pub state: Option<Text<'a>>,
    #[serde(borrow)]
    pub country_or_region: Option<Text<'a>>,
    #[serde(borrow)]
    pub postal_code: Option<Text<'a>>,
    #[serde(borrow)]
    pub post_office_box: Option<Text<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebsiteView<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub address: Option<Text<'a>>,
    #[serde(borrow)]
    pub display_name: Option<Text<'a>>,
}

impl Default for Text<'_> {
    fn default() -> Self {
        Text(Cow::Borrowed(""))
    }
}

/// The shown fields of a contact, named as in [`ContactData`] and its stored document.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContactView<'a> {
    #[serde(borrow)]
    pub given_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub middle_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub surname: Option<Text<'a>>,
    #[serde(borrow)]
    pub nick_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub title: Option<Text<'a>>,
    #[serde(borrow)]
    pub generation: Option<Text<'a>>,
    #[serde(borrow)]
    pub display_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub file_as: Option<Text<'a>>,
    #[serde(borrow)]
    pub initials: Option<Text<'a>>,
    #[serde(borrow)]
    pub yomi_given_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub yomi_surname: Option<Text<'a>>,
    #[serde(borrow)]
    pub yomi_company_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub job_title: Option<Text<'a>>,
    #[serde(borrow)]
    pub company_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub department: Option<Text<'a>>,
    #[serde(borrow)]
    pub office_location: Option<Text<'a>>,
    #[serde(borrow)]
    pub profession: Option<Text<'a>>,
    #[serde(borrow)]
    pub manager: Option<Text<'a>>,
    #[serde(borrow)]
    pub assistant_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub spouse_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub personal_notes: Option<Text<'a>>,
    #[serde(borrow)]
    pub birthday: Option<Text<'a>>,
    #[serde(borrow)]
    pub email_addresses: Vec<EmailView<'a>>,
    #[serde(borrow)]
    pub phones: Vec<PhoneView<'a>>,
    #[serde(borrow)]
    pub postal_addresses: Vec<AddressView<'a>>,
    #[serde(borrow)]
    pub websites: Vec<WebsiteView<'a>>,
    #[serde(borrow)]
    pub im_addresses: Vec<Text<'a>>,
    #[serde(borrow)]
    pub children: Vec<Text<'a>>,
    #[serde(borrow)]
    pub categories: Vec<Text<'a>>,
    /// Rare (beta's follow-up flag): parsed as a value, as `ContactData` holds it.
    pub flag: Option<Cow<'a, Value>>,
    #[serde(borrow)]
    pub gender: Option<Text<'a>>,
    #[serde(borrow)]
    pub wedding_anniversary: Option<Text<'a>>,
    pub is_favorite: bool,
    /// Rare too: schema-extension values, by extension id, parsed as values.
    pub schema_extensions: Cow<'a, BTreeMap<String, Value>>,
}

impl<'a> ContactView<'a> {
    /// Reads the shown fields from a stored document without parsing the rest.
    pub fn parse(doc: &'a str) -> serde_json::Result<Self> {
        serde_json::from_str(doc)
    }

    /// Borrows the shown fields of parsed data.
    pub fn of(d: &'a ContactData) -> Self {
        let texts = |v: &'a [String]| v.iter().map(|s| Text::of(s)).collect();
        ContactView {
            given_name: text(&d.given_name),
            middle_name: text(&d.middle_name),
            surname: text(&d.surname),
            nick_name: text(&d.nick_name),
            title: text(&d.title),
            generation: text(&d.generation),
            display_name: text(&d.display_name),
            file_as: text(&d.file_as),
            initials: text(&d.initials),
            yomi_given_name: text(&d.yomi_given_name),
            yomi_surname: text(&d.yomi_surname),
            yomi_company_name: text(&d.yomi_company_name),
            job_title: text(&d.job_title),
            company_name: text(&d.company_name),
            department: text(&d.department),
            office_location: text(&d.office_location),
            profession: text(&d.profession),
            manager: text(&d.manager),
            assistant_name: text(&d.assistant_name),
            spouse_name: text(&d.spouse_name),
            personal_notes: text(&d.personal_notes),
            birthday: text(&d.birthday),
            email_addresses: d.email_addresses.iter().map(EmailView::of).collect(),
            phones: d.phones.iter().map(PhoneView::of).collect(),
            postal_addresses: d.postal_addresses.iter().map(AddressView::of).collect(),
            websites: d.websites.iter().map(WebsiteView::of).collect(),
            im_addresses: texts(&d.im_addresses),
            children: texts(&d.children),
            categories: texts(&d.categories),
            flag: d.flag.as_ref().map(Cow::Borrowed),
            gender: text(&d.gender),
            wedding_anniversary: text(&d.wedding_anniversary),
            is_favorite: d.is_favorite,
            schema_extensions: Cow::Borrowed(&d.schema_extensions),
        }
    }

    /// The numbers of one kind of phone, in order (v1.0's `businessPhones`, `homePhones`...).
    pub fn phones_of<'s>(&'s self, kind: &'s str) -> impl Iterator<Item = &'s str> {
        self.phones.iter().filter(move |p| p.kind.as_str() == kind).filter_map(|p| p.number.as_ref().map(Text::as_str))
    }

    /// The first postal address of one kind (v1.0's `homeAddress`...).
    pub fn address_of(&self, kind: &str) -> Option<&AddressView<'a>> {
        self.postal_addresses.iter().find(|a| a.kind.as_str() == kind)
    }

    /// v1.0's `businessHomePage`: the first `work` website's address.
    pub fn business_home_page(&self) -> Option<&str> {
        self.websites.iter().find(|w| w.kind.as_str() == "work").and_then(|w| w.address.as_ref()).map(Text::as_str)
    }
}

impl<'a> EmailView<'a> {
    fn of(e: &'a EmailAddress) -> Self {
        EmailView {
            name: text(&e.name),
            address: text(&e.address),
            kind: text(&e.kind),
            other_label: text(&e.other_label),
        }
    }
}

impl<'a> PhoneView<'a> {
    fn of(p: &'a Phone) -> Self {
        PhoneView { kind: Text::of(&p.kind), number: text(&p.number) }
    }
}

impl<'a> AddressView<'a> {
    fn of(a: &'a PostalAddress) -> Self {
        AddressView {
            kind: Text::of(&a.kind),
            street: text(&a.street),
            city: text(&a.city),
            state: text(&a.state),
            country_or_region: text(&a.country_or_region),
            postal_code: text(&a.postal_code),
            post_office_box: text(&a.post_office_box),
        }
    }
}

impl<'a> WebsiteView<'a> {
    fn of(w: &'a Website) -> Self {
        WebsiteView { kind: Text::of(&w.kind), address: text(&w.address), display_name: text(&w.display_name) }
    }
}
