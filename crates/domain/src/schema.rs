//! Schema extensions: tenant-wide definitions (`/schemaExtensions`) of typed property groups, and
//! their values on contacts, validated against the definition on every write.

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{ErrorKind, GraphError, GraphResult};

pub const STATUSES: &[&str] = &["InDevelopment", "Available", "Deprecated"];
pub const PROPERTY_TYPES: &[&str] = &["Binary", "Boolean", "DateTime", "Integer", "String"];
/// Types a definition may target (Graph's list); values are stored on contacts only here.
pub const TARGET_TYPES: &[&str] =
    &["contact", "administrativeUnit", "device", "event", "group", "message", "organization", "post", "user"];
/// Definitions one owner app may create, as on Graph.
pub const MAX_PER_OWNER: usize = 5;
const MAX_STRING_CHARS: usize = 256;
const MAX_BINARY_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaProperty {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaExtension {
    pub id: String,
    pub description: Option<String>,
    pub target_types: Vec<String>,
    pub properties: Vec<SchemaProperty>,
    pub status: String,
    pub owner: String,
}

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("BadRequest", message)
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric()) && s.len() <= 64
}

fn target_types(v: &Value) -> GraphResult<Vec<String>> {
    let items = v.as_array().ok_or_else(|| GraphError::wrong_type("targetTypes", "Collection(Edm.String)"))?;
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let s = item.as_str().ok_or_else(|| GraphError::wrong_type("targetTypes", "Collection(Edm.String)"))?;
        let t = TARGET_TYPES
            .iter()
            .find(|t| t.eq_ignore_ascii_case(s))
            .ok_or_else(|| bad(format!("The target type '{s}' is not supported for schema extensions.")))?;
        if !out.iter().any(|o| o.eq_ignore_ascii_case(t)) {
            // Graph echoes the casing the client used.
            out.push(s.to_owned());
        }
    }
    if out.is_empty() {
        return Err(bad("A schema extension needs at least one target type."));
    }
    Ok(out)
}

fn properties(v: &Value) -> GraphResult<Vec<SchemaProperty>> {
    let items = v
        .as_array()
        .ok_or_else(|| GraphError::wrong_type("properties", "Collection(microsoft.graph.extensionSchemaProperty)"))?;
    let mut out: Vec<SchemaProperty> = Vec::new();
    for item in items {
        let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
        let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
        if !is_name(name) {
            return Err(bad(format!(
                "'{name}' is not a valid property name: letters and digits, starting with a letter."
            )));
        }
        let kind = PROPERTY_TYPES
            .iter()
            .find(|t| t.eq_ignore_ascii_case(kind))
            .ok_or_else(|| bad(format!("'{kind}' is not a supported property type; use one of {PROPERTY_TYPES:?}.")))?;
        if out.iter().any(|p| p.name.eq_ignore_ascii_case(name)) {
            return Err(bad(format!("The property '{name}' is defined twice.")));
        }
        out.push(SchemaProperty { name: name.to_owned(), kind: (*kind).to_owned() });
    }
    if out.is_empty() {
        return Err(bad("A schema extension needs at least one property."));
    }
    Ok(out)
}

impl SchemaExtension {
    /// A definition from a `POST /schemaExtensions` body. An id without a `_` gets Graph's
    /// generated `ext{8 random}_` prefix. `owner` defaults to the calling app.
    pub fn from_create(body: &Value, caller_app: &str) -> GraphResult<SchemaExtension> {
        let obj = body.as_object().ok_or_else(|| bad("The request body must be a JSON object."))?;
        let mut id = None;
        let mut description = None;
        let mut targets = None;
        let mut props = None;
        let mut owner = None;
        for (k, v) in obj {
            match k.as_str() {
                "id" => id = v.as_str(),
                "description" => description = crate::contact::opt_string(k, v)?,
                "targetTypes" => targets = Some(target_types(v)?),
                "properties" => props = Some(properties(v)?),
                "owner" => owner = crate::contact::opt_string(k, v)?,
                "status" => {
                    if v.as_str() != Some("InDevelopment") {
                        return Err(bad("A schema extension is created with the status InDevelopment."));
                    }
                }
                k if k.starts_with("@odata.") => {}
                _ => return Err(GraphError::unknown_property(k, "microsoft.graph.schemaExtension")),
            }
        }
        let id = id.ok_or_else(|| bad("The property 'id' is required."))?;
        let id = match id.split_once('_') {
            Some((prefix, name)) if is_name(prefix) && is_name(name) => id.to_owned(),
            None if is_name(id) => {
                let mut rng = rand::thread_rng();
                let prefix: String = (0..8).map(|_| (b'a' + rng.gen_range(0..26u8)) as char).collect();
                format!("ext{prefix}_{id}")
            }
            _ => return Err(bad(format!("'{id}' is not a valid schema extension id: use 'domain_name' or 'name'."))),
        };
        if let Some(d) = &description {
            if d.chars().count() > 1024 {
                return Err(bad("The description may hold at most 1024 characters."));
            }
        }
        Ok(SchemaExtension {
            id,
            description,
            target_types: targets.ok_or_else(|| bad("The property 'targetTypes' is required."))?,
            properties: props.ok_or_else(|| bad("The property 'properties' is required."))?,
            status: "InDevelopment".into(),
            owner: owner.unwrap_or_else(|| caller_app.to_owned()),
        })
    }

    /// Applies a PATCH: `description`, additive `properties` and `targetTypes`, and the forward-only
    /// `status` lifecycle. Only the owner app may update.
    pub fn apply_update(&mut self, body: &Value, caller_app: &str) -> GraphResult<()> {
        let obj = body.as_object().ok_or_else(|| bad("The request body must be a JSON object."))?;
        if let Some(owner) = obj.get("owner").and_then(Value::as_str) {
            if owner != self.owner {
                return Err(bad("The owner of a schema extension cannot be changed."));
            }
        } else if caller_app != self.owner {
            return Err(not_owner());
        }
        if self.status == "Deprecated" {
            return Err(bad("A deprecated schema extension can no longer be changed."));
        }
        for (k, v) in obj {
            match k.as_str() {
                "owner" => {}
                "id" if v.as_str() == Some(self.id.as_str()) => {}
                "description" => self.description = crate::contact::opt_string(k, v)?,
                "targetTypes" => {
                    let new = target_types(v)?;
                    if self.target_types.iter().any(|t| !new.iter().any(|n| n.eq_ignore_ascii_case(t))) {
                        return Err(bad("Only additive changes are allowed to targetTypes."));
                    }
                    self.target_types = new;
                }
                "properties" => {
                    let new = properties(v)?;
                    let kept = self.properties.iter().all(|p| new.iter().any(|n| n.name == p.name && n.kind == p.kind));
                    if !kept {
                        return Err(bad("Only additive changes are allowed to properties."));
                    }
                    self.properties = new;
                }
                "status" => {
                    let s = v.as_str().unwrap_or_default();
                    let from = STATUSES.iter().position(|x| *x == self.status).unwrap_or(0);
                    let to = STATUSES.iter().position(|x| *x == s).ok_or_else(|| {
                        bad(format!("'{s}' is not a valid status; use InDevelopment, Available or Deprecated."))
                    })?;
                    if to != from && to != from + 1 {
                        return Err(bad(format!("The status cannot move from {} to {s}.", self.status)));
                    }
                    self.status = s.to_owned();
                }
                k if k.starts_with("@odata.") => {}
                "id" => return Err(GraphError::read_only_property("id")),
                _ => return Err(GraphError::unknown_property(k, "microsoft.graph.schemaExtension")),
            }
        }
        Ok(())
    }

    /// Only the owner may delete, and only while the definition is in development.
    pub fn check_delete(&self, caller_app: &str) -> GraphResult<()> {
        if caller_app != self.owner {
            return Err(not_owner());
        }
        if self.status != "InDevelopment" {
            return Err(bad("Only a schema extension in development can be deleted."));
        }
        Ok(())
    }

    pub fn targets_contacts(&self) -> bool {
        self.target_types.iter().any(|t| t.eq_ignore_ascii_case("contact"))
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "description": self.description,
            "targetTypes": self.target_types,
            "status": self.status,
            "owner": self.owner,
            "properties": self.properties,
        })
    }

    /// Merges a value object from a contact PATCH into the stored one: each named property is
    /// checked against its type; `null` clears it. A `null` object clears them all. Returns
    /// `None` when nothing is left.
    pub fn merge_values(&self, current: Option<&Value>, body: &Value) -> GraphResult<Option<Value>> {
        let obj = match body {
            Value::Null => return Ok(None),
            Value::Object(o) => o,
            _ => return Err(GraphError::wrong_type(&self.id, "microsoft.graph.ComplexExtensionValue")),
        };
        let mut out: Map<String, Value> = current.and_then(Value::as_object).cloned().unwrap_or_default();
        for (k, v) in obj {
            if k.starts_with("@odata.") {
                continue;
            }
            let prop = self.properties.iter().find(|p| p.name == *k).ok_or_else(|| {
                GraphError::bad_request(
                    "RequestBodyRead",
                    format!("The property '{k}' does not exist on the schema extension '{}'.", self.id),
                )
            })?;
            if v.is_null() {
                out.remove(k);
                continue;
            }
            out.insert(k.clone(), check_value(&prop.kind, k, v)?);
        }
        Ok(if out.is_empty() { None } else { Some(Value::Object(out)) })
    }

    /// The value object as Graph returns it: every defined property, unset ones `null`.
    pub fn values_json(&self, stored: &Value) -> Value {
        let mut m = Map::new();
        m.insert("@odata.type".into(), json!("#microsoft.graph.ComplexExtensionValue"));
        for p in &self.properties {
            m.insert(p.name.clone(), stored.get(&p.name).cloned().unwrap_or(Value::Null));
        }
        Value::Object(m)
    }
}

fn not_owner() -> GraphError {
    GraphError::new(
        ErrorKind::Forbidden,
        "Authorization_RequestDenied",
        "Only the owner application of a schema extension may change or delete it.",
    )
}

fn check_value(kind: &str, name: &str, v: &Value) -> GraphResult<Value> {
    let wrong = |t: &str| GraphError::wrong_type(name, t);
    match kind {
        "String" => {
            let s = v.as_str().ok_or_else(|| wrong("Edm.String"))?;
            if s.chars().count() > MAX_STRING_CHARS || s.contains('\0') {
                return Err(bad(format!("The value of '{name}' may hold at most {MAX_STRING_CHARS} characters.")));
            }
            Ok(v.clone())
        }
        "Integer" => {
            let n = v.as_i64().ok_or_else(|| wrong("Edm.Int32"))?;
            i32::try_from(n).map(|n| json!(n)).map_err(|_| wrong("Edm.Int32"))
        }
        "Boolean" => v.as_bool().map(|b| json!(b)).ok_or_else(|| wrong("Edm.Boolean")),
        "DateTime" => {
            let s = v.as_str().ok_or_else(|| wrong("Edm.DateTimeOffset"))?;
            crate::time::normalize_datetime(s).map(Value::String).ok_or_else(|| wrong("Edm.DateTimeOffset"))
        }
        _ => {
            use base64::Engine;
            let s = v.as_str().ok_or_else(|| wrong("Edm.Binary"))?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(s).map_err(|_| wrong("Edm.Binary"))?;
            if bytes.len() > MAX_BINARY_BYTES {
                return Err(bad(format!("The value of '{name}' may hold at most {MAX_BINARY_BYTES} bytes.")));
            }
            Ok(v.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> SchemaExtension {
        SchemaExtension::from_create(
            &json!({"id": "contoso_course", "targetTypes": ["contact"],
                "properties": [{"name": "courseId", "type": "Integer"}, {"name": "courseName", "type": "String"},
                               {"name": "starts", "type": "DateTime"}]}),
            "app",
        )
        .unwrap()
    }

    #[test]
    fn definitions_follow_graphs_lifecycle() {
        let mut d = def();
        assert_eq!(d.status, "InDevelopment");
        assert_eq!(d.owner, "app");
        let generated = SchemaExtension::from_create(
            &json!({"id": "mySchema", "targetTypes": ["Contact"], "properties": [{"name": "a", "type": "String"}]}),
            "app",
        )
        .unwrap();
        assert!(generated.id.starts_with("ext") && generated.id.ends_with("_mySchema") && generated.id.len() == 20);
        assert_eq!(
            d.apply_update(&json!({"status": "Available"}), "other").unwrap_err().code,
            "Authorization_RequestDenied"
        );
        assert_eq!(d.apply_update(&json!({"status": "Deprecated"}), "app").unwrap_err().code, "BadRequest");
        d.apply_update(&json!({"status": "Available"}), "app").unwrap();
        assert_eq!(d.check_delete("app").unwrap_err().code, "BadRequest");
        let fewer = json!({"properties": [{"name": "courseId", "type": "Integer"}]});
        assert_eq!(d.apply_update(&fewer, "app").unwrap_err().code, "BadRequest");
        d.apply_update(&json!({"status": "InDevelopment"}), "app").unwrap_err();
    }

    #[test]
    fn values_are_typed_and_merged() {
        let d = def();
        let v = d.merge_values(None, &json!({"courseId": 7, "courseName": "Rust"})).unwrap().unwrap();
        let v = d.merge_values(Some(&v), &json!({"courseName": null, "starts": "2024-01-01T10:00:00+01:00"})).unwrap();
        assert_eq!(v.clone().unwrap(), json!({"courseId": 7, "starts": "2024-01-01T09:00:00Z"}));
        assert_eq!(d.values_json(&v.unwrap())["courseName"], Value::Null);
        assert_eq!(d.merge_values(None, &json!({"courseId": "7"})).unwrap_err().code, "RequestBodyRead");
        assert_eq!(d.merge_values(None, &json!({"nope": 1})).unwrap_err().code, "RequestBodyRead");
        assert_eq!(d.merge_values(None, &json!({"courseName": "x".repeat(257)})).unwrap_err().code, "BadRequest");
        assert_eq!(d.merge_values(None, &json!({"courseId": null})).unwrap(), None);
    }
}
