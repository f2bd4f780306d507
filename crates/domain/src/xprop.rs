//! MAPI extended properties (`singleValueExtendedProperties`, `multiValueExtendedProperties`):
//! their id formats, checked and put in one canonical spelling so that the same property is
//! found however a client cases the type or the GUID. The `Name` part stays case-sensitive, as
//! on Exchange.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{GraphError, GraphResult};

/// MAPI property types, single-valued; the multi-valued ones add `Array`.
const SINGLE_TYPES: &[&str] = &[
    "ApplicationTime",
    "Binary",
    "Boolean",
    "CLSID",
    "Currency",
    "Double",
    "Error",
    "Float",
    "Integer",
    "Long",
    "Null",
    "Object",
    "Short",
    "SystemTime",
    "String",
];
const ARRAY_TYPES: &[&str] = &[
    "ApplicationTime",
    "Binary",
    "CLSID",
    "Currency",
    "Double",
    "Float",
    "Integer",
    "Long",
    "Object",
    "Short",
    "SystemTime",
    "String",
];

/// Most extended properties one contact may hold, single and multi together.
pub const MAX_PER_CONTACT: usize = 100;
/// Longest value kept, in characters (Exchange's limit for string properties set over REST).
pub const MAX_VALUE_CHARS: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SingleValue {
    pub id: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiValue {
    pub id: String,
    pub value: Vec<String>,
}

fn format_error() -> GraphError {
    GraphError::bad_request(
        "ErrorInvalidProperty",
        "PropertyId values may only be in one of the following formats: 'MapiPropertyType namespaceGuid Name propertyName', 'MapiPropertyType namespaceGuid Id propertyId' or 'MapiPropertyType propertyTag'.",
    )
}

fn combination_error() -> GraphError {
    GraphError::bad_request("ErrorInvalidExtendedProperty", "The extended property attribute combination is invalid.")
}

fn hex(s: &str, max: u64) -> Option<u64> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok().filter(|v| *v <= max)
}

fn guid(s: &str) -> Option<String> {
    let inner = s.strip_prefix('{')?.strip_suffix('}')?;
    crate::ids::is_guid(inner).then(|| inner.to_ascii_lowercase())
}

/// Parses an extended property id into its canonical spelling. `multi` says which collection it
/// is for: the type must then be an `...Array` type, and must not be otherwise.
pub fn canonical_id(raw: &str, multi: bool) -> GraphResult<String> {
    let parts: Vec<&str> = raw.split(' ').collect();
    let Some(type_raw) = parts.first() else { return Err(format_error()) };
    let split = type_raw.len().checked_sub(5).and_then(|i| type_raw.split_at_checked(i));
    let (base, is_array) = match split {
        Some((base, suffix)) if suffix.eq_ignore_ascii_case("Array") => (base, true),
        _ => (*type_raw, false),
    };
    let list = if is_array { ARRAY_TYPES } else { SINGLE_TYPES };
    let base = list.iter().find(|t| t.eq_ignore_ascii_case(base)).ok_or_else(format_error)?;
    let kind = if is_array { format!("{base}Array") } else { (*base).to_owned() };
    let id = match parts.as_slice() {
        [_, tag] => {
            // Property tags name predefined properties (ids below 0x8000) with their type bits.
            let tag = hex(tag, u32::MAX as u64).ok_or_else(format_error)?;
            if tag >> 16 == 0 || tag >> 16 >= 0x8000 {
                return Err(combination_error());
            }
            format!("{kind} 0x{tag:x}")
        }
        [_, g, how, name] if how.eq_ignore_ascii_case("Name") => {
            let g = guid(g).ok_or_else(format_error)?;
            if name.is_empty() {
                return Err(format_error());
            }
            format!("{kind} {{{g}}} Name {name}")
        }
        [_, g, how, n] if how.eq_ignore_ascii_case("Id") => {
            let g = guid(g).ok_or_else(format_error)?;
            let n = hex(n, 0xFFFF).ok_or_else(format_error)?;
            format!("{kind} {{{g}}} Id 0x{n:x}")
        }
        // Names may hold spaces: everything after `Name`.
        [_, g, how, ..] if how.eq_ignore_ascii_case("Name") && raw.len() < 512 => {
            let g = guid(g).ok_or_else(format_error)?;
            let name = raw.splitn(4, ' ').nth(3).unwrap_or_default();
            format!("{kind} {{{g}}} Name {name}")
        }
        _ => return Err(format_error()),
    };
    if is_array != multi {
        return Err(combination_error());
    }
    if id.contains('\0') || id.len() > 512 {
        return Err(format_error());
    }
    Ok(id)
}

/// The MAPI type a canonical id names, without `Array`.
fn base_type(id: &str) -> &str {
    let t = id.split(' ').next().unwrap_or_default();
    t.strip_suffix("Array").unwrap_or(t)
}

/// Checks that a value (always a string on the wire) fits the property's MAPI type.
fn check_value(id: &str, value: &str) -> GraphResult<()> {
    let ok = match base_type(id) {
        "Integer" | "Short" | "Long" | "Error" => value.trim().parse::<i64>().is_ok(),
        "Boolean" => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        "Double" | "Float" | "Currency" | "ApplicationTime" => value.trim().parse::<f64>().is_ok(),
        "SystemTime" => crate::time::normalize_datetime(value).is_some(),
        "CLSID" => crate::ids::is_guid(value.trim_matches(|c| c == '{' || c == '}')),
        "Binary" | "Object" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(value).is_ok()
        }
        _ => true,
    };
    if !ok || value.contains('\0') || value.chars().count() > MAX_VALUE_CHARS {
        return Err(GraphError::bad_request(
            "ErrorInvalidExtendedPropertyValue",
            format!("The value given for the extended property '{id}' is not valid for its type."),
        ));
    }
    Ok(())
}

fn entries(key: &str, value: &Value) -> GraphResult<Vec<(String, Value)>> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(GraphError::wrong_type(key, "Collection(microsoft.graph.singleValueLegacyExtendedProperty)")),
    };
    if items.len() > MAX_PER_CONTACT {
        return Err(limit_error());
    }
    items
        .iter()
        .map(|item| {
            let obj = item.as_object().ok_or_else(|| GraphError::wrong_type(key, "microsoft.graph.entity"))?;
            let mut id = None;
            let mut v = None;
            for (k, val) in obj {
                match k.as_str() {
                    "id" => id = Some(val.as_str().ok_or_else(|| GraphError::wrong_type("id", "Edm.String"))?),
                    "value" => v = Some(val.clone()),
                    k if k.starts_with("@odata.") => {}
                    _ => {
                        return Err(GraphError::unknown_property(
                            k,
                            "microsoft.graph.singleValueLegacyExtendedProperty",
                        ))
                    }
                }
            }
            let id = id.ok_or_else(format_error)?;
            Ok((id.to_owned(), v.unwrap_or(Value::Null)))
        })
        .collect()
}

fn limit_error() -> GraphError {
    GraphError::bad_request(
        "ErrorPropertyLimitExceeded",
        format!("A contact may hold at most {MAX_PER_CONTACT} extended properties."),
    )
}

/// Merges `singleValueExtendedProperties` from a request into a contact's list: properties are
/// set (or replaced) by id; a `null` value removes one.
pub fn merge_single(current: &mut Vec<SingleValue>, key: &str, body: &Value) -> GraphResult<()> {
    for (raw, value) in entries(key, body)? {
        let id = canonical_id(&raw, false)?;
        current.retain(|p| p.id != id);
        match value {
            Value::Null => {}
            Value::String(s) => {
                check_value(&id, &s)?;
                current.push(SingleValue { id, value: s });
            }
            Value::Bool(_) | Value::Number(_) => {
                let s = value.to_string();
                check_value(&id, &s)?;
                current.push(SingleValue { id, value: s });
            }
            _ => return Err(GraphError::wrong_type("value", "Edm.String")),
        }
    }
    Ok(())
}

/// As `merge_single`, for `multiValueExtendedProperties` (values are string collections).
pub fn merge_multi(current: &mut Vec<MultiValue>, key: &str, body: &Value) -> GraphResult<()> {
    for (raw, value) in entries(key, body)? {
        let id = canonical_id(&raw, true)?;
        current.retain(|p| p.id != id);
        match value {
            Value::Null => {}
            Value::Array(items) => {
                if items.len() > crate::contact::MAX_COLLECTION_ITEMS {
                    return Err(limit_error());
                }
                let values = items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => check_value(&id, s).map(|_| s.clone()),
                        _ => Err(GraphError::wrong_type("value", "Collection(Edm.String)")),
                    })
                    .collect::<GraphResult<Vec<_>>>()?;
                current.push(MultiValue { id, value: values });
            }
            _ => return Err(GraphError::wrong_type("value", "Collection(Edm.String)")),
        }
    }
    Ok(())
}

pub fn check_count(single: usize, multi: usize) -> GraphResult<()> {
    if single + multi > MAX_PER_CONTACT {
        return Err(limit_error());
    }
    Ok(())
}

pub fn single_json(p: &SingleValue) -> Value {
    json!({"id": p.id, "value": p.value})
}

pub fn multi_json(p: &MultiValue) -> Value {
    json!({"id": p.id, "value": p.value})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical() {
        assert_eq!(
            canonical_id("string {66F5A359-4659-4830-9070-00047EC6AC6E} name Color", false).unwrap(),
            "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color"
        );
        assert_eq!(
            canonical_id("Integer {66f5a359-4659-4830-9070-00047ec6ac6e} Id 0x8012", false).unwrap(),
            "Integer {66f5a359-4659-4830-9070-00047ec6ac6e} Id 0x8012"
        );
        assert_eq!(canonical_id("String 0x3A25001F", false).unwrap(), "String 0x3a25001f");
        assert_eq!(
            canonical_id("StringArray {66f5a359-4659-4830-9070-00047ec6ac6e} Name Tags", true).unwrap(),
            "StringArray {66f5a359-4659-4830-9070-00047ec6ac6e} Name Tags"
        );
        assert_eq!(
            canonical_id("String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Two Words", false).unwrap(),
            "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Two Words"
        );
    }

    #[test]
    fn bad_ids_get_graphs_errors() {
        let code = |s: &str, multi: bool| canonical_id(s, multi).unwrap_err().code;
        assert_eq!(code("Test", false), "ErrorInvalidProperty");
        assert_eq!(code("Text {66f5a359-4659-4830-9070-00047ec6ac6e} Name X", false), "ErrorInvalidProperty");
        assert_eq!(code("String {not-a-guid} Name X", false), "ErrorInvalidProperty");
        assert_eq!(code("String {66f5a359-4659-4830-9070-00047ec6ac6e} Id 8012", false), "ErrorInvalidProperty");
        assert_eq!(
            code("StringArray {66f5a359-4659-4830-9070-00047ec6ac6e} Name X", false),
            "ErrorInvalidExtendedProperty"
        );
        assert_eq!(code("String {66f5a359-4659-4830-9070-00047ec6ac6e} Name X", true), "ErrorInvalidExtendedProperty");
        assert_eq!(code("String 0x8001001F", false), "ErrorInvalidExtendedProperty");
        assert_eq!(code("", false), "ErrorInvalidProperty");
    }

    #[test]
    fn values_are_checked_against_their_type_and_merged() {
        let mut list = Vec::new();
        let g = "{66f5a359-4659-4830-9070-00047ec6ac6e}";
        merge_single(&mut list, "k", &json!([{"id": format!("Integer {g} Name N"), "value": "12"}])).unwrap();
        merge_single(&mut list, "k", &json!([{"id": format!("integer {g} name n"), "value": "13"}])).unwrap();
        assert_eq!(list.len(), 2, "the Name part is case-sensitive");
        merge_single(&mut list, "k", &json!([{"id": format!("Integer {g} Name N"), "value": null}])).unwrap();
        assert_eq!(list, vec![SingleValue { id: format!("Integer {g} Name n"), value: "13".into() }]);
        let err = merge_single(&mut list, "k", &json!([{"id": format!("Integer {g} Name N"), "value": "x"}]));
        assert_eq!(err.unwrap_err().code, "ErrorInvalidExtendedPropertyValue");
        let mut multi = Vec::new();
        merge_multi(&mut multi, "k", &json!([{"id": format!("StringArray {g} Name T"), "value": ["a", "b"]}])).unwrap();
        assert_eq!(multi[0].value, ["a", "b"]);
    }
}
