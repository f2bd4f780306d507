//! openapi.json against the route table, the router and the model.

use std::collections::BTreeMap;

use super::*;
use crate::metadata::csdl;

fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (_, rest) = line.split_once(&format!(" {name}=\""))?;
    rest.split_once('"').map(|(value, _)| value)
}

/// What a CSDL document makes addressable, read back from its text.
#[derive(Default)]
struct Csdl {
    base: BTreeMap<String, String>,
    /// (type, navigation property) → its type
    nav: BTreeMap<(String, String), String>,
    streams: BTreeSet<String>,
    /// (operation, binding type)
    bound: BTreeSet<(String, String)>,
    /// entity set or singleton → `Collection(graph.x)` or `graph.x`
    roots: BTreeMap<String, String>,
}

fn read_csdl(text: &str) -> Csdl {
    let mut c = Csdl::default();
    let (mut current, mut operation) = (None::<String>, None::<String>);
    for line in text.lines().map(str::trim) {
        let name = attr(line, "Name").unwrap_or_default().to_owned();
        if line.starts_with("<EntityType ") {
            if let Some(b) = attr(line, "BaseType") {
                c.base.insert(name.clone(), b.trim_start_matches("graph.").to_owned());
            }
            if attr(line, "HasStream") == Some("true") {
                c.streams.insert(name.clone());
            }
            current = (!line.ends_with("/>")).then_some(name);
        } else if line.starts_with("<NavigationProperty ") {
            let owner = current.clone().expect("navigation property outside an entity type");
            c.nav.insert((owner, name), attr(line, "Type").unwrap().to_owned());
        } else if line.starts_with("<Function ") || line.starts_with("<Action ") {
            operation = Some(name);
        } else if line.starts_with("<Parameter ") && name == "bindingParameter" {
            c.bound.insert((operation.clone().unwrap(), attr(line, "Type").unwrap().to_owned()));
        } else if line.starts_with("<EntitySet ") {
            c.roots.insert(name, format!("Collection({})", attr(line, "EntityType").unwrap()));
        } else if line.starts_with("<Singleton ") {
            c.roots.insert(name, attr(line, "Type").unwrap().to_owned());
        }
    }
    c
}

impl Csdl {
    fn navigation(&self, ty: &str, name: &str) -> Option<(String, String)> {
        let mut t = ty.trim_start_matches("graph.").to_owned();
        loop {
            if let Some(target) = self.nav.get(&(t.clone(), name.to_owned())) {
                return Some((t, target.clone()));
            }
            t = self.base.get(&t)?.clone();
        }
    }

    /// Walks a route through the model, returning what it used (`root:users`,
    /// `nav:contact/photo`, `op:delta(Collection(graph.contact))`), or why it cannot.
    fn walk(&self, path: &str) -> Result<Vec<String>, String> {
        let mut segs = path.split('/').filter(|s| !s.is_empty());
        let first = segs.next().unwrap_or_default();
        let mut ty = self.roots.get(first).ok_or(format!("no entity set or singleton {first}"))?.clone();
        let mut used = vec![format!("root:{first}")];
        for seg in segs {
            let collection = ty.strip_prefix("Collection(").and_then(|t| t.strip_suffix(')')).map(str::to_owned);
            if seg.starts_with('{') {
                ty = collection.ok_or(format!("{seg}: a key on the single-valued {ty}"))?;
            } else if let Some(function) = seg.strip_suffix("()") {
                let key = (function.to_owned(), ty.clone());
                if !self.bound.contains(&key) {
                    return Err(format!("no function {function} bound to {ty}"));
                }
                used.push(format!("op:{function}({ty})"));
            } else if seg == "$value" {
                if !self.streams.contains(ty.trim_start_matches("graph.")) {
                    return Err(format!("$value on {ty}, which has no stream"));
                }
            } else if let Some((owner, target)) = collection.is_none().then(|| self.navigation(&ty, seg)).flatten() {
                used.push(format!("nav:{owner}/{seg}"));
                ty = target;
            } else if self.bound.contains(&(seg.to_owned(), ty.clone())) {
                used.push(format!("op:{seg}({ty})"));
            } else {
                return Err(format!("{seg} is not a navigation property or action of {ty}"));
            }
        }
        Ok(used)
    }
}

/// Navigation properties reachable only through `$expand`, never as a path.
const EXPAND_ONLY: &[&str] = &["singleValueExtendedProperties", "multiValueExtendedProperties"];

/// The rule: every route Rolo serves appears in `$metadata` and `openapi.json`, and
/// nothing else does.
#[test]
fn both_documents_describe_exactly_the_route_table() {
    for version in [ApiVersion::V1, ApiVersion::Beta] {
        let c = read_csdl(csdl(version));
        let mut used = BTreeSet::new();
        for route in routes().iter().filter(|r| r.area != Area::Public && !r.path.starts_with("/$")) {
            let walked = c.walk(&route.path).unwrap_or_else(|e| panic!("{version:?} {}: {e}", route.path));
            used.extend(walked);
        }
        let mut described: BTreeSet<String> = c.roots.keys().map(|r| format!("root:{r}")).collect();
        described.extend(
            c.nav.keys().filter(|(_, n)| !EXPAND_ONLY.contains(&n.as_str())).map(|(t, n)| format!("nav:{t}/{n}")),
        );
        described.extend(c.bound.iter().map(|(o, b)| format!("op:{o}({b})")));
        assert_eq!(described, used, "{version:?}: $metadata describes what no route serves, or the reverse");

        let doc: Value = serde_json::from_slice(document(version)).unwrap();
        let in_doc: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(p, item)| {
                item.as_object().unwrap().keys().filter(|k| *k != "parameters").map(move |m| (p.clone(), m.clone()))
            })
            .collect();
        let in_table: BTreeSet<(String, String)> =
            routes().iter().flat_map(|r| r.ops.iter().map(move |o| (r.path.clone(), o.method.to_owned()))).collect();
        assert_eq!(in_doc, in_table);
    }
}

/// Every mailbox route is one the URL parser accepts, and every root route reaches its module.
#[test]
fn the_router_accepts_every_route() {
    for route in routes() {
        let concrete: Vec<String> = route
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "AAMkAGI2THVSAAA".to_owned() } else { s.to_owned() })
            .collect();
        let concrete = concrete.join("/");
        let rest = concrete.trim_start_matches('/');
        match route.area {
            Area::Mailbox => {
                crate::paths::parse(rest).unwrap_or_else(|e| panic!("{}: {}", route.path, e.message));
            }
            Area::Root if rest.starts_with("subscriptions") => {
                assert!(crate::subscriptions::is_subscriptions_path(rest))
            }
            Area::Root if rest.starts_with("schemaExtensions") => assert!(crate::schemas::is_schema_path(rest)),
            Area::Root => assert_eq!(rest, "$batch"),
            Area::Directory => assert!(crate::users::route(rest).is_some(), "{}", route.path),
            Area::Groups => assert!(crate::groups::route(rest).is_some(), "{}", route.path),
            Area::Public => assert!(["", "$metadata", "openapi.json"].contains(&rest)),
        }
    }
}

/// Schemas carry the projection's properties with the CSDL's types.
#[test]
fn schemas_follow_the_model() {
    for version in [ApiVersion::V1, ApiVersion::Beta] {
        let doc: Value = serde_json::from_slice(document(version)).unwrap();
        let schemas = &doc["components"]["schemas"];
        let contact = schemas["microsoft.graph.contact"]["properties"].as_object().unwrap();
        for name in rolo_domain::projection::contact_properties(version) {
            assert!(contact.contains_key(*name), "{version:?}: contact.{name}");
        }
        for name in rolo_domain::projection::folder_properties(version) {
            assert!(schemas["microsoft.graph.contactFolder"]["properties"].get(*name).is_some(), "folder.{name}");
        }
        assert_eq!(contact["birthday"], json!({"type": "string", "format": "date-time", "nullable": true}));
        assert_eq!(contact["categories"], json!({"type": "array", "items": {"type": "string"}}));
        let write = schemas["microsoft.graph.contact-write"]["properties"].as_object().unwrap();
        assert!(!write.contains_key("id") && !write.contains_key("changeKey") && write.contains_key("givenName"));
        assert!(schemas["microsoft.graph.ODataErrors.ODataError"].is_object());
        // Every $ref resolves.
        let text = String::from_utf8(document(version).to_vec()).unwrap();
        for r in text.split("\"$ref\":\"#/components/").skip(1) {
            let pointer = r.split('"').next().unwrap();
            let (kind, name) = pointer.split_once('/').unwrap();
            assert!(doc["components"][kind][name].is_object(), "unresolved {pointer}");
        }
    }
    let beta: Value = serde_json::from_slice(document(ApiVersion::Beta)).unwrap();
    assert!(beta["components"]["schemas"]["microsoft.graph.followupFlag"].is_object());
    let v1: Value = serde_json::from_slice(document(ApiVersion::V1)).unwrap();
    assert!(v1["components"]["schemas"]["microsoft.graph.followupFlag"].is_null());
}
