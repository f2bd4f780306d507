//! Open extensions (`openTypeExtension`): an app's own named bag of values on a contact.

use serde_json::{json, Map, Value};

use crate::error::{ErrorKind, GraphError, GraphResult};

pub const EXTENSION_TYPE: &str = "microsoft.graph.openTypeExtension";
/// The id prefix Outlook items report for open extensions.
const ID_PREFIX: &str = "Microsoft.OutlookServices.OpenTypeExtension.";
/// A serialized extension may hold at most this many bytes; a contact at most this many.
pub const MAX_EXTENSION_BYTES: usize = 32 * 1024;
pub const MAX_EXTENSIONS_PER_CONTACT: usize = 32;

/// The limits open extensions are held to: Rolo's defaults above, or the emulator's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExtensionLimits {
    pub per_contact: usize,
    pub bytes: usize,
}

impl Default for ExtensionLimits {
    fn default() -> Self {
        ExtensionLimits { per_contact: MAX_EXTENSIONS_PER_CONTACT, bytes: MAX_EXTENSION_BYTES }
    }
}

/// `ErrorExtensionLimitExceeded`: a contact already holds all the extensions it may.
pub fn too_many(limits: ExtensionLimits) -> GraphError {
    GraphError::bad_request(
        "ErrorExtensionLimitExceeded",
        format!("A contact may hold at most {} open extensions.", limits.per_contact),
    )
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenExtension {
    pub name: String,
    /// The custom properties (primitives or arrays of primitives, with their annotations).
    pub properties: Map<String, Value>,
}

/// The bare extension name from a URL segment or `$filter` literal: the name itself, or either
/// fully qualified form.
pub fn bare_name(raw: &str) -> &str {
    for prefix in [ID_PREFIX, "microsoft.graph.openTypeExtension."] {
        if let Some(bare) = crate::text::strip_prefix_ignore_ascii_case(raw, prefix).filter(|b| !b.is_empty()) {
            return bare;
        }
    }
    raw
}

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("RequestBodyRead", message)
}

fn is_primitive(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// A NUL in a property's name or text: refused as in every other stored text (neither Exchange
/// nor PostgreSQL text can hold one).
fn has_nul(key: &str, value: &Value) -> bool {
    let text_nul = |v: &Value| v.as_str().is_some_and(|s| s.contains('\0'));
    key.contains('\0') || text_nul(value) || value.as_array().is_some_and(|a| a.iter().any(text_nul))
}

impl OpenExtension {
    /// Parses a body: `extensionName` (or the name from the URL, for PATCH), an optional
    /// `@odata.type`, and custom properties that are primitives or arrays of primitives.
    /// `null` values are refused, as Graph does for Outlook items.
    pub fn from_v1(body: &Value, name_from_url: Option<&str>) -> GraphResult<OpenExtension> {
        let obj = body.as_object().ok_or_else(|| invalid("An extension must be a JSON object."))?;
        let mut name = name_from_url.map(str::to_owned);
        let mut properties = Map::new();
        for (key, value) in obj {
            if has_nul(key, value) {
                return Err(invalid(format!(
                    "The extension property '{}' contains a NUL character, which is not allowed.",
                    key.replace('\0', "")
                )));
            }
            match key.as_str() {
                "@odata.type" => {
                    let t = value.as_str().unwrap_or_default().trim_start_matches('#');
                    let ok = t.eq_ignore_ascii_case(EXTENSION_TYPE)
                        || t.eq_ignore_ascii_case("Microsoft.OutlookServices.OpenTypeExtension");
                    if !ok {
                        return Err(invalid(format!("The type '{t}' is not an open extension type.")));
                    }
                }
                "extensionName" => {
                    let n = value.as_str().ok_or_else(|| GraphError::wrong_type(key, "Edm.String"))?;
                    if let Some(url) = name_from_url {
                        if !url.eq_ignore_ascii_case(n) {
                            return Err(invalid("The extensionName does not match the extension addressed."));
                        }
                    }
                    name = Some(n.to_owned());
                }
                "id" => {}
                k if k.contains("@odata.") => {
                    properties.insert(k.to_owned(), value.clone());
                }
                _ => {
                    let ok = is_primitive(value) || value.as_array().is_some_and(|a| a.iter().all(is_primitive));
                    if !ok {
                        return Err(invalid(format!(
                            "The extension property '{key}' must be a string, number, boolean or an array of them (null is not allowed)."
                        )));
                    }
                    properties.insert(key.clone(), value.clone());
                }
            }
        }
        let name = name.ok_or_else(|| invalid("An open extension needs an extensionName."))?;
        let lower = name.to_ascii_lowercase();
        if name.trim().is_empty() || name.len() > 256 || name.contains('\0') {
            return Err(invalid("The extensionName must hold 1 to 256 characters."));
        }
        if lower.starts_with("com.microsoft") || lower.starts_with("com.onmicrosoft") {
            return Err(invalid("Extension names starting with Com.Microsoft or Com.OnMicrosoft are reserved."));
        }
        Ok(OpenExtension { name, properties })
    }

    /// Merges a PATCH into this extension, as Graph does for Outlook items.
    pub fn merge(&mut self, patch: OpenExtension, limits: ExtensionLimits) -> GraphResult<()> {
        self.properties.extend(patch.properties);
        self.check_size(limits)
    }

    /// `ErrorExtensionTooLarge` when the data is over the size limit.
    pub fn check_size(&self, limits: ExtensionLimits) -> GraphResult<()> {
        let size = serde_json::to_vec(&self.properties).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > limits.bytes {
            return Err(GraphError::new(
                ErrorKind::PayloadTooLarge,
                "ErrorExtensionTooLarge",
                format!("An open extension may hold at most {} bytes of data.", limits.bytes),
            ));
        }
        Ok(())
    }

    pub fn id(&self) -> String {
        format!("{ID_PREFIX}{}", self.name)
    }

    /// The v1.0 JSON of the extension.
    pub fn to_v1(&self) -> Value {
        let mut m = Map::new();
        m.insert("@odata.type".into(), json!(format!("#{EXTENSION_TYPE}")));
        m.insert("id".into(), json!(self.id()));
        m.insert("extensionName".into(), json!(self.name));
        for (k, v) in &self.properties {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_merges_and_refuses() {
        let mut e = OpenExtension::from_v1(
            &json!({"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "Com.Contoso.Referral", "dealValue": 500, "tags": ["a"]}),
            None,
        )
        .unwrap();
        assert_eq!(e.id(), "Microsoft.OutlookServices.OpenTypeExtension.Com.Contoso.Referral");
        let patch =
            OpenExtension::from_v1(&json!({"dealValue": 600, "x": true}), Some("Com.Contoso.Referral")).unwrap();
        e.merge(patch, ExtensionLimits::default()).unwrap();
        assert_eq!(e.to_v1()["dealValue"], 600);
        assert_eq!(e.to_v1()["tags"], json!(["a"]));
        assert!(OpenExtension::from_v1(&json!({"extensionName": "A", "v": null}), None).is_err());
        assert!(OpenExtension::from_v1(&json!({"extensionName": "A", "v": {"x": 1}}), None).is_err());
        assert!(OpenExtension::from_v1(&json!({"extensionName": "Com.Microsoft.X"}), None).is_err());
        assert!(OpenExtension::from_v1(&json!({"v": 1}), None).is_err());
        for nul in [json!({"extensionName": "A", "v": "a\u{0}b"}), json!({"extensionName": "A", "v": ["ok", "\u{0}"]})]
        {
            assert_eq!(OpenExtension::from_v1(&nul, None).unwrap_err().code, "RequestBodyRead");
        }
        assert!(OpenExtension::from_v1(&json!({"extensionName": "A", "k\u{0}": 1}), None).is_err());
        let big = "x".repeat(MAX_EXTENSION_BYTES);
        let big = OpenExtension::from_v1(&json!({"extensionName": "A", "v": big}), None).unwrap();
        assert_eq!(big.check_size(ExtensionLimits::default()).unwrap_err().status(), 413);
        assert_eq!(bare_name("microsoft.graph.openTypeExtension.Com.A"), "Com.A");
        assert_eq!(bare_name("Com.A"), "Com.A");
    }
}
