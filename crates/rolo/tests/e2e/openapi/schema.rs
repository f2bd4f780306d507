//! Validation of response bodies against OpenAPI 3.0 schemas with the `jsonschema` crate.
//!
//! OpenAPI 3.0's schema dialect is close to JSON Schema but not the same, so the spec is
//! translated once into a JSON Schema 2020-12 document:
//! * `nullable: true` becomes `null` among the allowed types (or an `anyOf` with `null` when the
//!   schema has no `type`); Graph's idiom for a nullable reference, `anyOf: [{$ref}, {type:
//!   object, nullable: true}]`, becomes `anyOf: [{$ref}, {type: null}]`, so it still checks the
//!   referenced type;
//! * objects are closed where a schema is used (`unevaluatedProperties: false` beside each
//!   `$ref` and inline object outside an `allOf`, which sees through the inheritance chain),
//!   except for OData annotations (keys with `@`); the component definitions themselves stay
//!   open, since derived types add properties to their bases;
//! * only `date-time` formats are checked and `pattern`s are left out: Graph's other formats
//!   (`int32`, `base64url`, Edm patterns) are not JSON Schema's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};

const COMPONENTS: &str = "#/components/schemas/";
const DEFS: &str = "#/$defs/";

/// Translates one OpenAPI schema; `closed` asks for undeclared properties to be refused.
fn translate(schema: &Value, closed: bool) -> Value {
    let Value::Object(o) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (k, v) in o {
        match k.as_str() {
            "nullable" | "pattern" | "discriminator" | "example" => {}
            "format" if v != "date-time" => {}
            "$ref" => {
                let r = v.as_str().unwrap_or_default();
                out.insert(k.clone(), json!(r.replace(COMPONENTS, DEFS)));
            }
            "properties" => {
                let props: Map<String, Value> =
                    v.as_object().into_iter().flatten().map(|(n, s)| (n.clone(), translate(s, true))).collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "anyOf" | "oneOf" => {
                let alts = v.as_array().into_iter().flatten().map(|alt| {
                    let null_object = alt.get("nullable") == Some(&json!(true))
                        && alt.get("type") == Some(&json!("object"))
                        && alt.get("properties").is_none();
                    if null_object {
                        json!({"type": "null"})
                    } else {
                        translate(alt, true)
                    }
                });
                out.insert(k.clone(), Value::Array(alts.collect()));
            }
            // The parts of an inheritance chain are open: the whole is closed where it is used.
            "allOf" => {
                out.insert(
                    k.clone(),
                    Value::Array(v.as_array().into_iter().flatten().map(|p| translate(p, false)).collect()),
                );
            }
            "items" | "additionalProperties" => {
                out.insert(k.clone(), translate(v, true));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    let structured = o.contains_key("properties") || o.contains_key("allOf") || o.contains_key("$ref");
    if closed && structured && !o.contains_key("additionalProperties") {
        out.insert("patternProperties".into(), json!({"@": true}));
        out.insert("unevaluatedProperties".into(), json!(false));
    }
    if o.get("nullable") == Some(&json!(true)) {
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), json!([t, "null"]));
                if let Some(Value::Array(e)) = out.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            _ => return json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
        }
    }
    Value::Object(out)
}

/// The spec's component schemas as JSON Schema `$defs` (translated once).
fn defs(spec: &'static Value) -> &'static Value {
    static DEFS_DOC: OnceLock<Value> = OnceLock::new();
    DEFS_DOC.get_or_init(|| {
        let schemas = spec["components"]["schemas"].as_object().expect("components.schemas");
        let defs: Map<String, Value> = schemas.iter().map(|(name, s)| (name.clone(), translate(s, false))).collect();
        Value::Object(defs)
    })
}

type Compiled = Arc<jsonschema::Validator>;

/// Validates `value` against the OpenAPI `schema` (a part of `spec`), appending one message per
/// violation, each starting with the JSON pointer of the offending value.
pub fn validate(spec: &'static Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    static CACHE: OnceLock<Mutex<HashMap<String, Compiled>>> = OnceLock::new();
    let key = schema.to_string();
    let cached = CACHE.get_or_init(Default::default).lock().unwrap().get(&key).cloned();
    let validator = cached.unwrap_or_else(|| {
        let mut root = match translate(schema, true) {
            Value::Object(o) => o,
            other => Map::from_iter([("allOf".to_owned(), json!([other]))]),
        };
        root.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
        root.insert("$defs".into(), defs(spec).clone());
        let root = Value::Object(root);
        let built = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema does not compile as JSON Schema: {e}"));
        let built = Arc::new(built);
        CACHE.get_or_init(Default::default).lock().unwrap().insert(key, built.clone());
        built
    });
    for e in validator.iter_errors(value) {
        let at = e.instance_path().to_string();
        let at = if at.is_empty() && path.is_empty() { "/ (root)".to_owned() } else { format!("{path}{at}") };
        errors.push(format!("{at}: {e}"));
    }
}
