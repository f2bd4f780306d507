//! Replays the request/response examples of the Microsoft Graph v1.0 reference pages against Rolo
//! (cases in `tests/fixtures/conformance/cases.json`, see the README beside it) and keeps the
//! conformance table in `docs/COMPATIBILITY.md` in step with what the server does.
//!
//! Per case: status, the response headers the page shows, every documented property name
//! (nested names as `a/b`; arrays are entered through their first element) and
//! `@odata.context`. A case either passes or differs; every difference must be listed in the
//! case's `differences` with a reason whose `doc` phrase appears in docs/COMPATIBILITY.md, so
//! an unexpected difference, or a listed one that went away, fails the test. The rendered table
//! must equal the one between the conformance markers; `ROLO_BLESS=1` rewrites it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Resp, TestServer};

const CASES: &str = "tests/fixtures/conformance/cases.json";
const OPENAPI: &str = "tests/fixtures/graph-openapi/graph-contacts-openapi.yaml";
const DOC: &str = "../../docs/COMPATIBILITY.md";
const BEGIN: &str = "<!-- conformance:begin -->";
const END: &str = "<!-- conformance:end -->";

#[derive(Deserialize)]
struct Fixture {
    /// Scopes of the one delegated token every case uses.
    scopes: String,
    /// Objects created once, before the first case.
    world: Vec<Step>,
    cases: Vec<Case>,
}

/// A request (a case's, or one made to prepare cases); `bind` names the created object's `id`
/// for later paths.
#[derive(Deserialize)]
struct Step {
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    image: Option<Image>,
    #[serde(default)]
    bind: Option<String>,
    /// Placeholder name -> response property, for values other than the id (an owner).
    #[serde(default)]
    capture: BTreeMap<String, String>,
}

impl Step {
    /// Records what `bind` and `capture` name from a successful response.
    fn remember(&self, r: &Resp, vars: &mut Vars) {
        let names = self.bind.iter().map(|b| (b, "id")).chain(self.capture.iter().map(|(k, v)| (k, v.as_str())));
        for (name, field) in names {
            let v = r.body[field].as_str().unwrap_or_else(|| panic!("{}: no {field}: {}", self.path, r.text));
            vars.0.insert(name.clone(), v.to_owned());
        }
    }
}

/// A generated picture sent as the raw body (photo uploads).
#[derive(Deserialize, Clone, Copy)]
struct Image {
    width: u32,
    height: u32,
}

#[derive(Deserialize)]
struct Case {
    /// Graph reference page (`api-reference/v1.0/api/<page>.md`, or `concepts/<page>.md`).
    page: String,
    /// The example's name on the page (its `"name"` annotation).
    example: String,
    #[serde(default)]
    setup: Vec<Step>,
    #[serde(flatten)]
    request: Step,
    status: u16,
    /// Header name -> expected value prefix (case-insensitive); `*` only requires presence.
    #[serde(default)]
    response_headers: BTreeMap<String, String>,
    /// Documented property paths of the response body.
    #[serde(default)]
    properties: Vec<String>,
    /// What follows `$metadata#` in the documented `@odata.context` (ids as placeholders).
    #[serde(default)]
    context: Option<String>,
    /// Differences Rolo keeps on purpose.
    #[serde(default)]
    differences: Vec<Difference>,
}

#[derive(Deserialize)]
struct Difference {
    /// The difference exactly as the runner reports it.
    diff: String,
    reason: String,
    /// A phrase of docs/COMPATIBILITY.md (outside the table) that documents the choice.
    doc: String,
}

fn manifest(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(manifest(CASES)).expect("conformance cases");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{CASES}: {e}"))
}

/// Placeholder name -> value, filled into paths, headers and bodies.
struct Vars(BTreeMap<String, String>);

impl Vars {
    fn fill(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (k, v) in &self.0 {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    fn fill_json(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.fill_json(x)).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), self.fill_json(x))).collect()),
            other => other.clone(),
        }
    }

    /// Puts placeholders back for bound values (longest first), so reported differences do not
    /// depend on generated ids or the port.
    fn unfill(&self, s: &str) -> String {
        let mut pairs: Vec<(&String, &String)> = self.0.iter().filter(|(_, v)| v.len() >= 6).collect();
        pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let mut out = s.to_owned();
        for (k, v) in pairs {
            out = out.replace(v.as_str(), &format!("{{{k}}}"));
        }
        out
    }
}

async fn send(s: &TestServer, token: &str, vars: &Vars, req: &Step) -> Resp {
    let method = Method::from_bytes(req.method.as_bytes()).expect("method");
    let path = vars.fill(&req.path);
    let filled: Vec<(String, String)> = req.headers.iter().map(|(k, v)| (k.clone(), vars.fill(v))).collect();
    let headers: Vec<(&str, &str)> = filled.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    match (req.image, &req.body) {
        (Some(img), _) => {
            let bytes = rolo_media::sample(img.width, img.height, rolo_media::Format::Jpeg);
            s.send_raw(method, &path, Some(token), bytes, Some("image/jpeg"), &headers).await
        }
        (None, Some(b)) => s.send(method, &path, Some(token), Some(vars.fill_json(b)), &headers).await,
        (None, None) => s.send(method, &path, Some(token), None, &headers).await,
    }
}

async fn run_steps(s: &TestServer, token: &str, vars: &mut Vars, steps: &[Step]) {
    for st in steps {
        let r = send(s, token, vars, st).await;
        assert!(r.status.is_success(), "setup {} {}: {} {}", st.method, st.path, r.status, r.text);
        st.remember(&r, vars);
    }
}

/// Whether `path` (`a/b/c`) names something in `v`; arrays are entered through their first item.
fn has_path(v: &Value, path: &str) -> bool {
    let mut cur = v;
    for seg in path.split('/') {
        while let Value::Array(a) = cur {
            match a.first() {
                Some(x) => cur = x,
                None => return false,
            }
        }
        match cur.get(seg) {
            Some(x) => cur = x,
            None => return false,
        }
    }
    true
}

/// The differences between what the page documents and what Rolo answered.
fn compare(case: &Case, r: &Resp, base: &str, vars: &Vars) -> Vec<String> {
    let mut diffs = Vec::new();
    if r.status.as_u16() != case.status {
        // A different status is the difference: an error body has none of the documented names.
        return vec![format!("status: expected {}, got {}", case.status, r.status.as_u16())];
    }
    for (name, want) in &case.response_headers {
        match r.header(name) {
            None => diffs.push(format!("header {name}: missing")),
            Some(got) => {
                let want = vars.fill(want);
                if want != "*" && !got.to_ascii_lowercase().starts_with(&want.to_ascii_lowercase()) {
                    diffs.push(format!("header {name}: expected `{want}`, got `{}`", vars.unfill(got)));
                }
            }
        }
    }
    for p in &case.properties {
        if !has_path(&r.body, p) {
            diffs.push(format!("property missing: {p}"));
        }
    }
    if let Some(ctx) = &case.context {
        let want = format!("{base}/$metadata#{}", vars.fill(ctx));
        match r.body["@odata.context"].as_str() {
            None => diffs.push("context: missing".to_owned()),
            Some(got) if got != want => {
                let shown = got.strip_prefix(&format!("{base}/$metadata#")).unwrap_or(got);
                diffs.push(format!("context: expected `{ctx}`, got `{}`", vars.unfill(shown)));
            }
            Some(_) => {}
        }
    }
    diffs
}

/// A notification endpoint on loopback that passes Graph's validation handshake (echoes
/// `validationToken`) and accepts notifications.
async fn hook_url() -> String {
    async fn receive(
        axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
    ) -> (reqwest::StatusCode, String) {
        match q.get("validationToken") {
            Some(t) => (reqwest::StatusCode::OK, t.clone()),
            None => (reqwest::StatusCode::ACCEPTED, String::new()),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind hook");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(receive);
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    url
}

/// An operation's shape: `GET /me/contactFolders/{}/contacts/{}`. Keys become `{}`, `/users/{}`
/// becomes `/me`, `delta()` is `delta`, a `childFolders/{}` chain collapses into its
/// `contactFolders/{}` (the same operation at any depth), and the segment after `extensions` or
/// `schemaExtensions` is a key even when the example spells out a name.
fn operation_shape(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default().trim_end_matches('/');
    let mut segs: Vec<String> = Vec::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let after_key_parent = matches!(segs.last().map(String::as_str), Some("extensions" | "schemaExtensions"));
        let seg = if seg.starts_with('{') || after_key_parent { "{}" } else { seg.trim_end_matches("()") };
        segs.push(seg.to_owned());
    }
    if segs.len() >= 2 && segs[0] == "users" && segs[1] == "{}" {
        segs.splice(0..2, ["me".to_owned()]);
    }
    let mut i = 0;
    while i + 3 < segs.len() {
        if segs[i] == "contactFolders" && segs[i + 1] == "{}" && segs[i + 2] == "childFolders" && segs[i + 3] == "{}" {
            segs.drain(i + 2..i + 4);
        } else {
            i += 1;
        }
    }
    format!("{} /{}", method.to_ascii_uppercase(), segs.join("/"))
}

/// Every operation of the OpenAPI subset that no case replays.
fn operations_without_case(fx: &Fixture) -> Vec<String> {
    let text = std::fs::read_to_string(manifest(OPENAPI)).expect("OpenAPI subset");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("OpenAPI YAML");
    let cases: Vec<String> = fx.cases.iter().map(|c| operation_shape(&c.request.method, &c.request.path)).collect();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        let (Some(path), Some(item)) = (path.as_str(), item.as_mapping()) else { continue };
        for method in item.keys().filter_map(|k| k.as_str()) {
            if !["get", "post", "patch", "put", "delete"].contains(&method) {
                continue;
            }
            let shape = operation_shape(method, path);
            if !cases.contains(&shape) && !missing.contains(&shape) {
                missing.push(shape);
            }
        }
    }
    missing.sort();
    missing
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// What the page documents, in one cell.
fn documented(case: &Case) -> String {
    let mut parts = vec![format!("{}", case.status)];
    if !case.response_headers.is_empty() {
        parts.push(case.response_headers.keys().cloned().collect::<Vec<_>>().join(", "));
    }
    if !case.properties.is_empty() {
        parts.push(format!("{} properties", case.properties.len()));
    }
    if case.context.is_some() {
        parts.push("context".to_owned());
    }
    parts.join("; ")
}

fn render(fx: &Fixture) -> String {
    let mut out = String::from("| Operation | Graph page (example) | Graph | Rolo | Test |\n|---|---|---|---|---|\n");
    for c in &fx.cases {
        let op = format!("`{} {}`", c.request.method, c.request.path);
        let page = format!("{} (`{}`)", c.page, c.example);
        let (rolo, test) = if c.differences.is_empty() {
            ("same".to_owned(), "pass")
        } else {
            // Differences sharing a reason are listed together, before it.
            let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
            for d in &c.differences {
                match groups.iter_mut().find(|(r, _)| *r == d.reason) {
                    Some((_, ds)) => ds.push(&d.diff),
                    None => groups.push((&d.reason, vec![&d.diff])),
                }
            }
            let d: Vec<String> = groups.iter().map(|(r, ds)| format!("{} ({r})", ds.join(", "))).collect();
            (d.join("; "), "expected difference")
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&op),
            cell(&page),
            cell(&documented(c)),
            cell(&rolo),
            test
        ));
    }
    out
}

pub async fn replay_graph_examples(s: TestServer) {
    let fx = fixture();
    let doc_path = manifest(DOC);
    let doc = std::fs::read_to_string(&doc_path).expect("docs/COMPATIBILITY.md");
    let (before, rest) = doc.split_once(BEGIN).expect("conformance begin marker");
    let (_, after) = rest.split_once(END).expect("conformance end marker");
    let prose = format!("{before}{after}");

    let user = s.user("ada@contoso.test").await;
    let token = s.token(&user, &fx.scopes);
    let hook = hook_url().await;
    let in_a_day = (time::OffsetDateTime::now_utc() + time::Duration::hours(24))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let mut vars = Vars(BTreeMap::new());
    vars.0.insert("userId".into(), user.id.to_string());
    vars.0.insert("upn".into(), user.user_principal_name.to_string());
    vars.0.insert("defaultFolderId".into(), user.mailbox.default_folder_id.to_string());
    vars.0.insert("hookUrl".into(), hook);
    vars.0.insert("inADay".into(), in_a_day);
    // A Microsoft 365 group the user is a member of (groups are made by `rolo groups add`, not
    // over Graph), for the group cases.
    let group = rolo_store::NewGroup {
        display_name: "Sales".into(),
        mail: "sales@contoso.test".into(),
        description: "The sales team".into(),
        visibility: "Public".into(),
        members: vec![user.id.clone()],
    };
    let group = rolo_store::Groups::create_group(s.store.as_ref(), group).await.expect("group");
    vars.0.insert("groupId".into(), group.id);
    run_steps(&s, &token, &mut vars, &fx.world).await;

    let mut failures = Vec::new();
    for case in &fx.cases {
        for d in &case.differences {
            if !prose.contains(&d.doc) {
                failures.push(format!("{} {}: reason not in COMPATIBILITY.md: {:?}", case.page, case.example, d.doc));
            }
        }
        run_steps(&s, &token, &mut vars, &case.setup).await;
        let r = send(&s, &token, &vars, &case.request).await;
        let got = compare(case, &r, &s.base, &vars);
        if got.is_empty() {
            case.request.remember(&r, &mut vars);
        }
        let expected: Vec<&str> = case.differences.iter().map(|d| d.diff.as_str()).collect();
        for g in &got {
            if !expected.contains(&g.as_str()) {
                failures
                    .push(format!("{} {}: unexpected difference: {g}\n    body: {}", case.page, case.example, r.text));
            }
        }
        for e in &expected {
            if !got.iter().any(|g| g == e) {
                failures.push(format!("{} {}: listed difference no longer seen: {e}", case.page, case.example));
            }
        }
    }
    for op in operations_without_case(&fx) {
        failures.push(format!("OpenAPI operation without a case: {op}"));
    }
    assert!(failures.is_empty(), "conformance failures:\n{}", failures.join("\n"));

    let table = render(&fx);
    let current = rest.split_once(END).map(|(t, _)| t.trim()).unwrap_or_default();
    if current != table.trim() {
        if std::env::var("ROLO_BLESS").as_deref() == Ok("1") {
            std::fs::write(&doc_path, format!("{before}{BEGIN}\n{table}{END}{after}")).expect("write doc");
        } else {
            panic!("the conformance table in docs/COMPATIBILITY.md is out of date; run with ROLO_BLESS=1 or paste:\n{table}");
        }
    }
}
