//! Conformance of Rolo to Microsoft Graph's published OpenAPI description of the personal
//! contacts API (`tests/fixtures/graph-openapi/graph-contacts-openapi.yaml`, a subset of
//! Microsoft's published description kept in the repository; see the README beside it).
//!
//! * Bodies: a contact with every writable v1.0 property, a contact folder and the collections
//!   that list them are validated against `components.schemas` (declared properties only, JSON
//!   types, nullability, `date-time` formats, nested complex types) and must carry every
//!   non-navigation property of their schema.
//! * URL space: every spec path made only of `me`, `users/{id}`, `contacts`, `contactFolders`,
//!   `childFolders` and `permanentDelete` (plus key parameters) is called with each of its HTTP
//!   methods on real ids; the status must be one of the operation's declared success statuses
//!   and the body must match the declared response schema.
//! * The in-scope path list itself is checked to be non-empty and to hold the core families, so
//!   the suite fails instead of passing vacuously if the parser stops finding them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::common::TestServer;
use reqwest::Method;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// Loading the spec
// ---------------------------------------------------------------------------------------------

const SPEC_RELATIVE: &str = "tests/fixtures/graph-openapi/graph-contacts-openapi.yaml";

const CONTACT_SCHEMA: &str = "microsoft.graph.contact";
const FOLDER_SCHEMA: &str = "microsoft.graph.contactFolder";

/// Navigation properties, used only when the file does not mark them with
/// `x-ms-navigationProperty: true`.
const CONTACT_NAVIGATION: &[&str] =
    &["extensions", "photo", "singleValueExtendedProperties", "multiValueExtendedProperties"];
const FOLDER_NAVIGATION: &[&str] =
    &["childFolders", "contacts", "singleValueExtendedProperties", "multiValueExtendedProperties"];

/// Path segments (besides `{key}` parameters) that the URL-space check covers.
const IN_SCOPE_SEGMENTS: &[&str] = &["me", "users", "contacts", "contactFolders", "childFolders", "permanentDelete"];

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SPEC_RELATIVE)
}

/// The spec as JSON (YAML mapping keys that are not strings, e.g. `200`, become strings).
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = spec_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "OpenAPI description not found: looked for {} (= $CARGO_MANIFEST_DIR/{SPEC_RELATIVE}): {e}",
                path.display()
            )
        });
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        let doc = yaml_to_json(yaml);
        assert!(doc["paths"].is_object(), "{}: no `paths` object", path.display());
        assert!(doc["components"]["schemas"].is_object(), "{}: no `components.schemas` object", path.display());
        doc
    })
}

fn yaml_to_json(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => serde_yaml::to_string(&other).unwrap_or_default().trim().to_owned(),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

fn schema(name: &str) -> &'static Value {
    let s = &spec()["components"]["schemas"][name];
    assert!(s.is_object(), "components.schemas['{name}'] is missing from {}", spec_path().display());
    s
}

/// Resolves a local `$ref` (`#/components/schemas/x`).
fn resolve(reference: &str) -> &'static Value {
    let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {reference}"));
    spec().pointer(pointer).unwrap_or_else(|| panic!("unresolvable $ref {reference}"))
}

/// Name of the schema a `$ref` points at (`microsoft.graph.contact`).
fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

// ---------------------------------------------------------------------------------------------
// The validator (the `jsonschema` crate, on the spec translated to JSON Schema: openapi/schema.rs)
// ---------------------------------------------------------------------------------------------

#[path = "openapi/schema.rs"]
mod json_schema;

/// Annotations (`@odata.etag`, `@odata.context`, `x@odata.nextLink`...) are not properties.
fn is_annotation(key: &str) -> bool {
    key.starts_with('@') || key.contains("@odata.")
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// Validates `value` against the OpenAPI 3.0 `schema`, appending one message per violation,
/// each starting with the JSON pointer of the offending value.
fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    json_schema::validate(spec(), schema, value, path, errors);
}

fn ptr(path: &str) -> String {
    if path.is_empty() {
        "/ (root)".into()
    } else {
        path.to_owned()
    }
}

/// Navigation properties of an entity schema: `x-ms-navigationProperty: true` when the file
/// uses that marker anywhere, otherwise the known relationships.
fn navigation_properties(schema_name: &str) -> BTreeSet<String> {
    let s = schema(schema_name);
    let props = s["properties"].as_object().cloned().unwrap_or_default();
    static USES_MARKER: OnceLock<bool> = OnceLock::new();
    let file_uses_marker = *USES_MARKER.get_or_init(|| spec().to_string().contains("x-ms-navigationProperty"));
    if file_uses_marker {
        props
            .iter()
            .filter(|(_, p)| p.get("x-ms-navigationProperty").and_then(Value::as_bool) == Some(true))
            .map(|(k, _)| k.clone())
            .collect()
    } else {
        let known = match schema_name {
            CONTACT_SCHEMA => CONTACT_NAVIGATION,
            FOLDER_SCHEMA => FOLDER_NAVIGATION,
            other => panic!("no navigation property list for {other}"),
        };
        known.iter().map(|s| s.to_string()).collect()
    }
}

/// Every non-navigation, non-annotation property the schema declares must be in `value`.
fn check_presence(schema_name: &str, value: &Value, path: &str, errors: &mut Vec<String>) {
    let nav = navigation_properties(schema_name);
    let Some(obj) = value.as_object() else {
        errors.push(format!("{}: expected a {schema_name} object, got {}", ptr(path), short(value)));
        return;
    };
    for key in schema(schema_name)["properties"].as_object().into_iter().flat_map(|p| p.keys()) {
        if nav.contains(key) || is_annotation(key) {
            continue;
        }
        if !obj.contains_key(key) {
            errors.push(format!(
                "{}: schema `{schema_name}` declares structural property `{key}` but the full response lacks it",
                ptr(path)
            ));
        }
    }
}

/// Validation + presence for a full (no `$select`) entity response.
fn entity_errors(schema_name: &str, body: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(schema(schema_name), body, "", &mut errors);
    check_presence(schema_name, body, "", &mut errors);
    errors
}

/// Validation against an operation's response schema; entity responses (a `$ref` to the
/// contact or folder schema, or a collection whose `value` items are such a `$ref`) are also
/// checked for presence of every structural property.
fn response_errors(response_schema: &Value, body: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(response_schema, body, "", &mut errors);
    let entity = |s: &Value| s.get("$ref").and_then(Value::as_str).map(ref_name).map(str::to_owned);
    let tracked = |n: &str| n == CONTACT_SCHEMA || n == FOLDER_SCHEMA;
    if let Some(name) = entity(response_schema).filter(|n| tracked(n)) {
        check_presence(&name, body, "", &mut errors);
    } else if let Some(name) = entity(&response_schema["properties"]["value"]["items"]).filter(|n| tracked(n)) {
        for (i, item) in body["value"].as_array().into_iter().flatten().enumerate() {
            check_presence(&name, item, &format!("/value/{i}"), &mut errors);
        }
    }
    errors
}

fn assert_no_errors(what: &str, body: &Value, errors: &[String]) {
    assert!(
        errors.is_empty(),
        "{what}: {} OpenAPI violation(s):\n  - {}\nbody: {}",
        errors.len(),
        errors.join("\n  - "),
        serde_json::to_string_pretty(body).unwrap_or_default()
    );
}

/// The 2XX response of an operation in the spec (`paths[path][method]`).
fn operation(path: &str, method: &str) -> &'static Value {
    let op = &spec()["paths"][path][method];
    assert!(op.is_object(), "spec has no operation {} {path}", method.to_uppercase());
    op
}

/// The success response keys an operation declares (`200`, `201`, `204`, `2XX`).
fn success_keys(op: &Value) -> Vec<String> {
    op["responses"].as_object().into_iter().flat_map(|r| r.keys()).filter(|k| k.starts_with('2')).cloned().collect()
}

fn status_matches(key: &str, status: u16) -> bool {
    if key.eq_ignore_ascii_case("2XX") {
        (200..300).contains(&status)
    } else {
        key.parse::<u16>().ok() == Some(status)
    }
}

/// The JSON schema of the declared response matching `status`, if the operation declares one.
fn response_schema(op: &Value, status: u16) -> Option<&Value> {
    let key = success_keys(op).into_iter().find(|k| status_matches(k, status))?;
    let mut resp = &op["responses"][&key];
    if let Some(r) = resp.get("$ref").and_then(Value::as_str) {
        resp = resolve(r);
    }
    resp.get("content")?.get("application/json")?.get("schema")
}

// ---------------------------------------------------------------------------------------------
// The in-scope URL space
// ---------------------------------------------------------------------------------------------

fn is_param(seg: &str) -> bool {
    seg.starts_with('{') && seg.ends_with('}')
}

/// Spec paths whose segments are only the in-scope names and key parameters (a parameter only
/// after `users`, `contactFolders`, `childFolders` or `contacts`), with their HTTP methods.
fn in_scope_operations() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in spec()["paths"].as_object().expect("paths") {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut ok = !segs.is_empty();
        for (i, seg) in segs.iter().enumerate() {
            if is_param(seg) {
                ok &= i > 0 && matches!(segs[i - 1], "users" | "contactFolders" | "childFolders" | "contacts");
            } else {
                ok &= IN_SCOPE_SEGMENTS.contains(seg);
            }
            // `users` must be followed by its key.
            if *seg == "users" {
                ok &= segs.get(i + 1).is_some_and(|s| is_param(s));
            }
        }
        if !ok {
            continue;
        }
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_some() {
                out.push((path.clone(), method.to_owned()));
            }
        }
    }
    out
}

/// `/me/contactFolders/{id_1}/contacts` → `/me/contactFolders/{}/contacts`.
fn shape(path: &str) -> String {
    path.split('/').map(|s| if is_param(s) { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// A contact with every writable v1.0 property set.
fn full_contact_body() -> Value {
    json!({
        "givenName": "Pavel",
        "middleName": "J.",
        "surname": "Bansky",
        "displayName": "Pavel Bansky (conformance)",
        "nickName": "Pasha",
        "title": "Dr.",
        "generation": "Jr.",
        "initials": "P.J.B.",
        "fileAs": "Bansky, Pavel",
        "yomiGivenName": "パベル",
        "yomiSurname": "バンスキー",
        "yomiCompanyName": "コントソ",
        "birthday": "1974-07-22T00:00:00Z",
        "categories": ["Red category", "VIP"],
        "emailAddresses": [
            {"address": "pavel@contoso.test", "name": "Pavel Bansky"},
            {"address": "pavel.b@fabrikam.test", "name": "Pavel (Fabrikam)"},
            {"address": "pb@home.test", "name": "Pavel (home)"}
        ],
        "imAddresses": ["sip:pavel@contoso.test"],
        "jobTitle": "Program Manager",
        "companyName": "Contoso",
        "department": "Devices",
        "officeLocation": "18/2111",
        "profession": "Engineer",
        "businessHomePage": "https://contoso.test/pavel",
        "assistantName": "Alex Wilber",
        "manager": "Megan Bowen",
        "homePhones": ["+1 425 555 0101", "+1 425 555 0102"],
        "mobilePhone": "+1 425 555 0199",
        "businessPhones": ["+1 425 555 0100"],
        "spouseName": "Anna",
        "personalNotes": "Met at the conformance test.",
        "children": ["Tom", "Eva"],
        "homeAddress": {"street": "1 Home St", "city": "Redmond", "state": "WA", "countryOrRegion": "USA", "postalCode": "98052"},
        "businessAddress": {"street": "1 Microsoft Way", "city": "Redmond", "state": "WA", "countryOrRegion": "USA", "postalCode": "98052"},
        "otherAddress": {"street": "2 Other Rd", "city": "Seattle", "state": "WA", "countryOrRegion": "USA", "postalCode": "98101"}
    })
}

fn id_of(resp: &crate::common::Resp, what: &str) -> String {
    assert_eq!(resp.status, 201, "creating {what}: {}", resp.text);
    resp.body["id"].as_str().unwrap_or_else(|| panic!("creating {what}: no id in {}", resp.text)).to_owned()
}

// ---------------------------------------------------------------------------------------------
// 1. Schema conformance of bodies
// ---------------------------------------------------------------------------------------------

async fn contact_bodies_conform(s: TestServer) {
    let (_, t) = s.login("conformance@contoso.test").await;
    let body = full_contact_body();
    // Every writable v1.0 property of the property table is in the body, so a property added to
    // Rolo without being added here shows up. Left out: what the server sets (read-only in the
    // table), the folder (the URL names it) and the email slots (`emailAddresses` fills them).
    let left_out = ["parentFolderId", "primaryEmailAddress", "secondaryEmailAddress", "tertiaryEmailAddress"];
    for p in rolo_domain::properties::CONTACT_PROPERTIES {
        let v1 = p.versions.has(rolo_domain::ApiVersion::V1);
        let set = p.read_only || left_out.contains(&p.name) || body.get(p.name).is_some();
        assert!(!v1 || set, "the full contact body does not set `{}`", p.name);
    }

    let created = s.post("/me/contacts", &t, body.clone()).await;
    assert_eq!(created.status, 201, "POST /me/contacts: {}", created.text);
    assert_no_errors("POST /me/contacts response", &created.body, &entity_errors(CONTACT_SCHEMA, &created.body));
    let id = created.body["id"].as_str().expect("id").to_owned();

    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(got.status, 200, "GET contact: {}", got.text);
    assert_no_errors("GET /me/contacts/{id}", &got.body, &entity_errors(CONTACT_SCHEMA, &got.body));
    // What was written reads back (so the validator checked populated values, not defaults).
    for (k, v) in body.as_object().unwrap() {
        if k == "birthday" {
            assert!(got.body[k].as_str().is_some_and(|b| b.starts_with("1974-07-22")), "birthday: {}", got.body[k]);
        } else {
            assert_eq!(&got.body[k], v, "property `{k}` did not round-trip");
        }
    }

    // A minimal contact: unset properties must still be typed per the schema (null only where
    // nullable, [] for collections).
    let bare = s.post("/me/contacts", &t, json!({"givenName": "Bare"})).await;
    assert_eq!(bare.status, 201, "{}", bare.text);
    let bare_id = bare.body["id"].as_str().unwrap().to_owned();
    let bare_got = s.get(&format!("/me/contacts/{bare_id}"), &t).await;
    assert_no_errors("GET minimal contact", &bare_got.body, &entity_errors(CONTACT_SCHEMA, &bare_got.body));

    // The same contact in a folder, and the collections that list them.
    let folder = s.post("/me/contactFolders", &t, json!({"displayName": "Conformance"})).await;
    let folder_id = id_of(&folder, "folder");
    let in_folder = s.post(&format!("/me/contactFolders/{folder_id}/contacts"), &t, body.clone()).await;
    assert_eq!(in_folder.status, 201, "{}", in_folder.text);
    assert_no_errors("POST folder contact", &in_folder.body, &entity_errors(CONTACT_SCHEMA, &in_folder.body));

    for (url, spec_path) in [
        ("/me/contacts".to_owned(), "/me/contacts"),
        (format!("/me/contactFolders/{folder_id}/contacts"), "/me/contactFolders/{id_1}/contacts"),
    ] {
        let list = s.get(&url, &t).await;
        assert_eq!(list.status, 200, "GET {url}: {}", list.text);
        let items = list.body["value"].as_array().unwrap_or_else(|| panic!("GET {url}: no value array: {}", list.text));
        assert!(!items.is_empty(), "GET {url}: empty list");
        let op = operation(spec_path, "get");
        let schema = response_schema(op, 200).expect("list response schema");
        assert_no_errors(&format!("GET {url}"), &list.body, &response_errors(schema, &list.body));
        // And each item directly against the entity schema, independent of the operation.
        for (i, item) in items.iter().enumerate() {
            assert_no_errors(&format!("GET {url} value[{i}]"), item, &entity_errors(CONTACT_SCHEMA, item));
        }
    }
}

async fn folder_bodies_conform(s: TestServer) {
    let (_, t) = s.login("folders@contoso.test").await;
    let created = s.post("/me/contactFolders", &t, json!({"displayName": "Top"})).await;
    assert_eq!(created.status, 201, "POST /me/contactFolders: {}", created.text);
    assert_no_errors("POST /me/contactFolders", &created.body, &entity_errors(FOLDER_SCHEMA, &created.body));
    let top = created.body["id"].as_str().unwrap().to_owned();

    let child = s.post(&format!("/me/contactFolders/{top}/childFolders"), &t, json!({"displayName": "Child"})).await;
    assert_eq!(child.status, 201, "POST childFolders: {}", child.text);
    assert_no_errors("POST childFolders", &child.body, &entity_errors(FOLDER_SCHEMA, &child.body));
    let child_id = child.body["id"].as_str().unwrap().to_owned();

    for url in [format!("/me/contactFolders/{top}"), format!("/me/contactFolders/{top}/childFolders/{child_id}")] {
        let got = s.get(&url, &t).await;
        assert_eq!(got.status, 200, "GET {url}: {}", got.text);
        assert_no_errors(&format!("GET {url}"), &got.body, &entity_errors(FOLDER_SCHEMA, &got.body));
    }

    for (url, spec_path) in [
        ("/me/contactFolders".to_owned(), "/me/contactFolders"),
        (format!("/me/contactFolders/{top}/childFolders"), "/me/contactFolders/{id_1}/childFolders"),
    ] {
        let list = s.get(&url, &t).await;
        assert_eq!(list.status, 200, "GET {url}: {}", list.text);
        let items = list.body["value"].as_array().unwrap_or_else(|| panic!("GET {url}: no value array: {}", list.text));
        assert!(!items.is_empty(), "GET {url}: empty list");
        let schema = response_schema(operation(spec_path, "get"), 200).expect("list response schema");
        assert_no_errors(&format!("GET {url}"), &list.body, &response_errors(schema, &list.body));
        for (i, item) in items.iter().enumerate() {
            assert_no_errors(&format!("GET {url} value[{i}]"), item, &entity_errors(FOLDER_SCHEMA, item));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. URL-space coverage
// ---------------------------------------------------------------------------------------------

/// Real ids, created on demand: one child folder per parent folder and one contact per folder
/// (the key `None` is the default folder, i.e. `/me/contacts`).
struct Fixture<'a> {
    s: &'a TestServer,
    token: String,
    user_id: String,
    upn: String,
    root_folder: Option<String>,
    children: HashMap<String, String>,
    contacts: HashMap<Option<String>, String>,
    counter: usize,
}

impl<'a> Fixture<'a> {
    fn unique(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{}", self.counter)
    }

    async fn new_root_folder(&mut self) -> String {
        let name = self.unique("folder");
        let r = self.s.post("/me/contactFolders", &self.token, json!({"displayName": name})).await;
        id_of(&r, "a root folder")
    }

    async fn new_child_folder(&mut self, parent: &str) -> String {
        let name = self.unique("child");
        let r = self
            .s
            .post(&format!("/me/contactFolders/{parent}/childFolders"), &self.token, json!({"displayName": name}))
            .await;
        id_of(&r, "a child folder")
    }

    async fn new_contact(&mut self, folder: Option<&str>) -> String {
        let name = self.unique("contact");
        let url = match folder {
            Some(f) => format!("/me/contactFolders/{f}/contacts"),
            None => "/me/contacts".to_owned(),
        };
        let r = self.s.post(&url, &self.token, json!({"givenName": name})).await;
        id_of(&r, "a contact")
    }

    async fn root_folder(&mut self) -> String {
        if self.root_folder.is_none() {
            self.root_folder = Some(self.new_root_folder().await);
        }
        self.root_folder.clone().unwrap()
    }

    async fn child_of(&mut self, parent: &str) -> String {
        if !self.children.contains_key(parent) {
            let c = self.new_child_folder(parent).await;
            self.children.insert(parent.to_owned(), c);
        }
        self.children[parent].clone()
    }

    async fn contact_in(&mut self, folder: Option<&str>) -> String {
        let key = folder.map(str::to_owned);
        if !self.contacts.contains_key(&key) {
            let c = self.new_contact(folder).await;
            self.contacts.insert(key.clone(), c);
        }
        self.contacts[&key].clone()
    }

    /// Substitutes real ids into a template. The last key is a throwaway item when the call
    /// destroys it (`DELETE`, or `POST .../permanentDelete`).
    async fn concrete(&mut self, template: &str, method: &str, user_ref: &str) -> String {
        let segs: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
        let last_param = segs.iter().rposition(|s| is_param(s));
        let destructive = method == "delete" || (method == "post" && segs.last() == Some(&"permanentDelete"));
        let mut folder: Option<String> = None; // the folder the walk is in (None = default)
        let mut out = String::new();
        for (i, seg) in segs.iter().enumerate() {
            out.push('/');
            if !is_param(seg) {
                out.push_str(seg);
                continue;
            }
            let throwaway = destructive && Some(i) == last_param;
            let id = match segs[i - 1] {
                "users" => user_ref.to_owned(),
                "contactFolders" => {
                    let f = if throwaway { self.new_root_folder().await } else { self.root_folder().await };
                    folder = Some(f.clone());
                    f
                }
                "childFolders" => {
                    let parent = folder.clone().expect("childFolders after a folder");
                    let f = if throwaway { self.new_child_folder(&parent).await } else { self.child_of(&parent).await };
                    folder = Some(f.clone());
                    f
                }
                "contacts" => {
                    if throwaway {
                        self.new_contact(folder.as_deref()).await
                    } else {
                        self.contact_in(folder.as_deref()).await
                    }
                }
                other => panic!("no id substitution after `{other}` in {template}"),
            };
            out.push_str(&id);
        }
        out
    }

    fn body_for(&mut self, template: &str, method: &str) -> Option<Value> {
        let last = template.rsplit('/').next().unwrap_or_default();
        let collection = !is_param(last);
        let segs: Vec<&str> = template.split('/').collect();
        // The resource the call addresses: the last named segment (the one before a trailing key).
        let resource = if collection { last } else { segs[segs.len() - 2] };
        let targets_folder = matches!(resource, "contactFolders" | "childFolders");
        match method {
            "post" if last == "permanentDelete" => None,
            "post" if collection && targets_folder => Some(json!({"displayName": self.unique("unique-name")})),
            "post" => Some(json!({"givenName": "X"})),
            "patch" | "put" if targets_folder => Some(json!({"displayName": self.unique("renamed-unique")})),
            "patch" | "put" => Some(json!({"jobTitle": "Y"})),
            _ => None,
        }
    }
}

fn method_of(m: &str) -> Method {
    Method::from_bytes(m.to_uppercase().as_bytes()).expect("method")
}

async fn url_space_coverage(s: TestServer) {
    let (user, t) = s.login("coverage@contoso.test").await;
    let mut fx = Fixture {
        s: &s,
        token: t.clone(),
        user_id: user.id.clone(),
        upn: user.user_principal_name.clone(),
        root_folder: None,
        children: HashMap::new(),
        contacts: HashMap::new(),
        counter: 0,
    };
    // Populate every collection the GETs list (default folder, a folder, its child, contacts in
    // each) so collection bodies are validated item by item, not vacuously.
    let root = fx.root_folder().await;
    let child = fx.child_of(&root).await;
    fx.contact_in(None).await;
    fx.contact_in(Some(&root)).await;
    fx.contact_in(Some(&child)).await;
    let mut listed_items = 0usize;

    let mut ops = in_scope_operations();
    assert!(!ops.is_empty(), "no in-scope operations found in {}", spec_path().display());
    // Reads first, destructive calls last.
    let rank = |m: &str| ["get", "post", "patch", "put", "delete"].iter().position(|x| *x == m).unwrap_or(9);
    ops.sort_by(|a, b| rank(&a.1).cmp(&rank(&b.1)).then(a.0.cmp(&b.0)));

    let mut rows: Vec<(String, String, String, u16, bool)> = Vec::new(); // template, method, variant, status, ok
    let mut failures: Vec<String> = Vec::new();
    for (template, method) in &ops {
        let op = operation(template, method);
        let success = success_keys(op);
        let variants: Vec<(&str, String)> = if template.starts_with("/users/") {
            vec![("user id", fx.user_id.clone()), ("UPN", fx.upn.clone())]
        } else {
            vec![("me", String::new())]
        };
        for (variant, user_ref) in variants {
            let url = fx.concrete(template, method, &user_ref).await;
            let body = fx.body_for(template, method);
            let resp = s.send(method_of(method), &url, Some(&t), body.clone(), &[]).await;
            let status = resp.status.as_u16();
            if method == "get" && !is_param(template.rsplit('/').next().unwrap_or_default()) {
                let n = resp.body["value"].as_array().map_or(0, Vec::len);
                assert!(n > 0, "GET {url}: the fixture populated this collection but it lists nothing: {}", resp.text);
                listed_items += n;
            }
            let mut problems = Vec::new();
            if success.is_empty() {
                problems.push("the operation declares no success (2xx) response".to_owned());
            } else if !success.iter().any(|k| status_matches(k, status)) {
                problems.push(format!(
                    "status {status} is not among the declared success responses {success:?}; body: {}",
                    short(&resp.body)
                ));
            } else if let Some(schema) = response_schema(op, status) {
                if resp.text.is_empty() {
                    if status != 204 {
                        problems.push(format!(
                            "status {status} with an empty body, but the operation declares a JSON body"
                        ));
                    }
                } else {
                    problems.extend(response_errors(schema, &resp.body));
                }
            }
            let ok = problems.is_empty();
            if !ok {
                failures.push(format!(
                    "{} {template} [{variant}] → {} {url} {}: {}",
                    method.to_uppercase(),
                    method.to_uppercase(),
                    body.map(|b| b.to_string()).unwrap_or_default(),
                    problems.join("; ")
                ));
            }
            rows.push((template.clone(), method.to_uppercase(), variant.to_owned(), status, ok));
        }
    }

    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(10);
    let mut table = format!("\nOpenAPI URL-space coverage ({} operations, {} calls)\n", ops.len(), rows.len());
    table.push_str(&format!("{:<width$}  {:<6}  {:<7}  {:>6}  result\n", "path", "method", "as", "status"));
    for (path, method, variant, status, ok) in &rows {
        table.push_str(&format!(
            "{path:<width$}  {method:<6}  {variant:<7}  {status:>6}  {}\n",
            if *ok { "ok" } else { "FAIL" }
        ));
    }
    table.push_str(&format!("({listed_items} collection items validated)\n"));
    eprintln!("{table}");
    assert!(
        failures.is_empty(),
        "{} call(s) deviate from the OpenAPI description:\n  - {}",
        failures.len(),
        failures.join("\n  - ")
    );
}

// ---------------------------------------------------------------------------------------------
// 3. The in-scope path list is found
// ---------------------------------------------------------------------------------------------

#[test]
fn spec_is_found_and_in_scope_paths_are_listed() {
    let ops = in_scope_operations();
    let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (p, m) in &ops {
        by_path.entry(p.clone()).or_default().push(m.to_uppercase());
    }
    eprintln!("\nIn-scope spec paths ({} paths, {} operations):", by_path.len(), ops.len());
    for (p, ms) in &by_path {
        eprintln!("  {p:<70} {}", ms.join(" "));
    }
    assert!(!ops.is_empty(), "the parser found no contacts/contactFolders paths in {}", spec_path().display());

    // The core families must be among them, whatever the spec names its key parameters.
    let shapes: BTreeSet<(String, String)> = ops.iter().map(|(p, m)| (shape(p), m.clone())).collect();
    for (p, m) in [
        ("/me/contacts", "get"),
        ("/me/contacts", "post"),
        ("/me/contacts/{}", "get"),
        ("/me/contacts/{}", "patch"),
        ("/me/contacts/{}", "delete"),
        ("/me/contactFolders", "get"),
        ("/me/contactFolders", "post"),
        ("/me/contactFolders/{}", "get"),
        ("/me/contactFolders/{}/contacts", "get"),
        ("/me/contactFolders/{}/childFolders", "post"),
        ("/users/{}/contacts", "get"),
        ("/users/{}/contactFolders/{}", "patch"),
    ] {
        assert!(
            shapes.contains(&(p.to_owned(), m.to_owned())),
            "expected {} {p} among the in-scope spec operations",
            m.to_uppercase()
        );
    }
    // Nothing out of scope slipped in.
    for (p, _) in &ops {
        for bad in [
            "extensions",
            "photo",
            "$value",
            "delta",
            "ExtendedProperties",
            "$count",
            "masterCategories",
            "subscriptions",
            "people",
            "outlook",
        ] {
            assert!(!p.contains(bad), "out-of-scope path {p} was selected");
        }
    }
    // Entity schemas the body checks rely on exist and have properties.
    for name in [CONTACT_SCHEMA, FOLDER_SCHEMA, "microsoft.graph.emailAddress", "microsoft.graph.physicalAddress"] {
        assert!(schema(name)["properties"].as_object().is_some_and(|p| !p.is_empty()), "{name} has no properties");
    }
}

/// The validator itself catches what it should (so a green run means something).
#[test]
fn validator_reports_violations() {
    let contact = schema(CONTACT_SCHEMA);
    let mut e = Vec::new();
    validate(
        contact,
        &json!({"id": "x", "bogus": 1, "categories": "nope", "birthday": "July", "homeAddress": {"city": 5}, "primaryEmailAddress": null}),
        "",
        &mut e,
    );
    let text = e.join("\n");
    let at = |p: &str| e.iter().any(|m| m.starts_with(&format!("{p}: ")));
    assert!(e.iter().any(|m| m.starts_with("/ (root): ") && m.contains("'bogus'")), "an undeclared property: {text}");
    assert!(at("/categories"), "a string where an array is declared: {text}");
    assert!(at("/birthday"), "not a date-time: {text}");
    // A nullable reference is an `anyOf`: the violation is reported where it starts.
    assert!(at("/homeAddress"), "a number where a string is declared: {text}");
    let mut nested = Vec::new();
    validate(schema("microsoft.graph.physicalAddress"), &json!({"city": 5}), "/homeAddress", &mut nested);
    assert!(nested.iter().any(|m| m.starts_with("/homeAddress/city: ")), "{nested:?}");
    assert!(!text.contains("primaryEmailAddress"), "a nullable reference accepts null: {text}");
    let mut e = Vec::new();
    validate(contact, &json!({"id": null, "categories": [null]}), "", &mut e);
    let places: BTreeSet<&str> = e.iter().filter_map(|m| m.split(": ").next()).collect();
    assert_eq!(places, BTreeSet::from(["/categories/0", "/id"]), "{e:?}");
    let mut e = Vec::new();
    check_presence(CONTACT_SCHEMA, &json!({"id": "x"}), "", &mut e);
    assert!(e.iter().any(|m| m.contains("`givenName`")) && !e.iter().any(|m| m.contains("`photo`")), "{e:?}");
    // Annotations are not properties; a nested undeclared property is refused too.
    let mut e = Vec::new();
    validate(contact, &json!({"@odata.etag": "W/\"x\"", "emailAddresses": [{"address": "a@b.c", "x": 1}]}), "", &mut e);
    assert!(e.len() == 1 && e[0].starts_with("/emailAddresses/0: "), "{e:?}");
    for (ok, date) in
        [(true, "2017-04-13T15:51:04.1234567Z"), (true, "2024-02-29T00:00:00+05:30"), (false, "2017-04-13")]
    {
        let mut e = Vec::new();
        validate(contact, &json!({"birthday": date}), "", &mut e);
        assert_eq!(e.is_empty(), ok, "{date}: {e:?}");
    }
}

both_backends!(contact_bodies_conform, folder_bodies_conform, url_space_coverage);
