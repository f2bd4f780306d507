//! Robustness: randomized and adversarial requests against the real server, on SQLite and
//! PostgreSQL. Requirement under test: bad input of any kind gets a Graph-style error
//! (`{"error":{"code","message","innerError":{...}}}`), never a panic or a 500.
//!
//! Every response is checked by [`graph_outcome_problem`]: status < 500, and any status >= 400
//! carries the Graph error envelope. Problems are collected per scenario (so one run reports all
//! of them, each with the request that caused it) and asserted at the end of the scenario.
//!
//! Randomness comes from a seeded `StdRng` (one fixed seed per scenario), so every run sends the
//! same requests. Set `ROLO_FUZZ_SEED` to explore other seeds.

#[path = "robustness/unicode.rs"]
mod unicode;

use unicode::arbitrary_unicode_everywhere;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{enc, Resp, TestServer};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use rolo_domain::properties::{contact_property, CONTACT_PROPERTIES};
use rolo_domain::ApiVersion;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// The check every response must pass.

/// What is wrong with a response under the requirement, if anything.
fn graph_outcome_problem(method: &Method, r: &Resp) -> Option<String> {
    let status = r.status.as_u16();
    if status >= 500 {
        return Some(format!("status {status} (>= 500)"));
    }
    if status < 400 {
        return None;
    }
    if *method == Method::HEAD {
        // A HEAD response has no body to carry the envelope.
        return None;
    }
    let err = &r.body["error"];
    if !err.is_object() {
        return Some(format!("status {status} without a Graph error envelope"));
    }
    if !err["code"].is_string() || err["code"].as_str() == Some("") {
        return Some(format!("status {status}: error.code is not a non-empty string"));
    }
    if !err["message"].is_string() {
        return Some(format!("status {status}: error.message is not a string"));
    }
    let inner = &err["innerError"];
    for k in ["request-id", "client-request-id", "date"] {
        if !inner[k].is_string() {
            return Some(format!("status {status}: innerError.{k} is not a string"));
        }
    }
    None
}

/// Asserts the requirement on one response: status < 500; a status >= 400 carries the envelope.
fn assert_graph_outcome(method: &Method, r: &Resp) {
    if let Some(p) = graph_outcome_problem(method, r) {
        panic!("{p}; body: {}", excerpt(&r.text, 500));
    }
}

fn excerpt(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", s.get(..end).unwrap_or_default(), s.len())
}

fn bytes_excerpt(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(b);
    excerpt(&s.replace('\u{0}', "\\u0000"), max)
}

// ---------------------------------------------------------------------------------------------
// Sending requests and recording problems.

/// One request to send: the path (and query) below `/v1.0`, or an absolute URL.
struct Req {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    content_type: Option<&'static str>,
    auth: bool,
}

impl Req {
    fn new(method: Method, path: impl Into<String>) -> Req {
        Req { method, path: path.into(), headers: Vec::new(), body: None, content_type: None, auth: true }
    }
    fn json(mut self, v: &Value) -> Req {
        self.body = Some(serde_json::to_vec(v).expect("serialize"));
        self.content_type = Some("application/json");
        self
    }
    fn raw(mut self, body: Vec<u8>, ct: Option<&'static str>) -> Req {
        self.body = Some(body);
        self.content_type = ct;
        self
    }
    fn header(mut self, name: &str, value: &[u8]) -> Req {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
        let value = HeaderValue::from_bytes(value).expect("header value");
        self.headers.push((name, value));
        self
    }
}

struct Probe<'a> {
    s: &'a TestServer,
    token: String,
    sent: usize,
    statuses: BTreeMap<u16, usize>,
    failures: Vec<String>,
    /// Requests the client itself refused to build (not a server outcome).
    unsendable: Vec<String>,
}

impl<'a> Probe<'a> {
    fn new(s: &'a TestServer, token: &str) -> Probe<'a> {
        Probe {
            s,
            token: token.to_owned(),
            sent: 0,
            statuses: BTreeMap::new(),
            failures: Vec::new(),
            unsendable: Vec::new(),
        }
    }

    fn describe(req: &Req) -> String {
        let hdrs: Vec<String> =
            req.headers.iter().map(|(k, v)| format!("{k}: {}", bytes_excerpt(v.as_bytes(), 80))).collect();
        let body = req.body.as_deref().map(|b| bytes_excerpt(b, 300)).unwrap_or_else(|| "-".into());
        format!(
            "{} {} | headers [{}] | content-type {:?} | body {}",
            req.method,
            excerpt(&req.path, 400),
            hdrs.join("; "),
            req.content_type,
            body
        )
    }

    /// Sends and checks one request; returns the response when one came back.
    async fn send(&mut self, req: Req) -> Option<Resp> {
        let url = if req.path.starts_with("http") { req.path.clone() } else { format!("{}{}", self.s.base, req.path) };
        let parsed = match reqwest::Url::parse(&url) {
            Ok(u) => u,
            Err(e) => {
                self.unsendable.push(format!("{e}: {}", excerpt(&url, 120)));
                return None;
            }
        };
        let mut b = self.s.client.request(req.method.clone(), parsed).timeout(Duration::from_secs(60));
        if req.auth {
            b = b.bearer_auth(&self.token);
        }
        if let Some(ct) = req.content_type {
            b = b.header("Content-Type", ct);
        }
        for (k, v) in &req.headers {
            b = b.header(k.clone(), v.clone());
        }
        if let Some(body) = &req.body {
            b = b.body(body.clone());
        }
        self.sent += 1;
        let resp = match b.send().await {
            Ok(r) => crate::common::into_resp(r).await,
            Err(e) => {
                let what = if e.is_builder() { "client build error" } else { "transport error (panic or reset?)" };
                if e.is_builder() {
                    self.unsendable.push(format!("{e}: {}", Self::describe(&req)));
                    self.sent -= 1;
                    return None;
                }
                self.failures.push(format!("{what}: {e}\n    request: {}", Self::describe(&req)));
                return None;
            }
        };
        *self.statuses.entry(resp.status.as_u16()).or_default() += 1;
        if let Some(problem) = graph_outcome_problem(&req.method, &resp) {
            self.failures.push(format!(
                "{problem}\n    request: {}\n    response body: {}",
                Self::describe(&req),
                excerpt(&resp.text, 400)
            ));
        }
        Some(resp)
    }

    /// The server still serves normal requests; then asserts no problem was recorded.
    async fn finish(mut self, scenario: &str) {
        for path in ["/me/contacts", "/me/contactFolders", "/me/contacts?$top=5&$orderby=displayName"] {
            let r = self.send(Req::new(Method::GET, path)).await.expect("health check got no response");
            assert_eq!(r.status, 200, "{scenario}: GET {path} after the barrage: {}", excerpt(&r.text, 500));
            assert!(r.body["value"].is_array(), "{scenario}: {}", excerpt(&r.text, 500));
        }
        eprintln!(
            "{scenario}: {} requests, statuses {:?}, {} not sendable by the client, {} problems",
            self.sent,
            self.statuses,
            self.unsendable.len(),
            self.failures.len()
        );
        for u in &self.unsendable {
            eprintln!("  not sent: {}", excerpt(u, 300));
        }
        if !self.failures.is_empty() {
            let shown: Vec<&String> = self.failures.iter().take(60).collect();
            let list: Vec<String> = shown.iter().enumerate().map(|(i, f)| format!("#{i}: {f}")).collect();
            panic!(
                "{scenario}: {} responses broke the requirement (showing {}):\n{}",
                self.failures.len(),
                shown.len(),
                list.join("\n")
            );
        }
    }
}

fn rng_for(scenario: u64) -> StdRng {
    let base: u64 = std::env::var("ROLO_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x005E_ED0F_F00D);
    StdRng::seed_from_u64(base ^ scenario.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// Every contact property of either version (from the domain's property table), plus
/// annotations and navigation properties a body might name.
fn contact_props() -> &'static [&'static str] {
    static PROPS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    PROPS.get_or_init(|| {
        let mut names: Vec<&str> = CONTACT_PROPERTIES.iter().map(|p| p.name).collect();
        names.extend([
            "@odata.type",
            "@odata.etag",
            "@odata.context",
            "@odata.id",
            "extensions",
            "singleValueExtendedProperties",
            "multiValueExtendedProperties",
            "photo",
        ]);
        names
    })
}

/// The v1.0 EDM type of a property a client may write.
fn writable_v1_type(prop: &str) -> Option<&'static str> {
    contact_property(prop, ApiVersion::V1).filter(|p| !p.read_only && p.name != "parentFolderId").map(|p| p.edm)
}
const FOLDER_PROPS: &[&str] =
    &["displayName", "parentFolderId", "id", "wellKnownName", "@odata.type", "childFolders", "contacts", "@odata.etag"];

/// Keys that look like real ones but are not.
const NEAR_KEYS: &[&str] = &[
    "GivenName",
    "givenname",
    "given_name",
    "",
    " ",
    "givenName ",
    "@odata.foo",
    "@odata.type ",
    "odata.type",
    "$ref",
    "__proto__",
    "constructor",
    "emailAddresses@odata.type",
    "givenName@odata.type",
    "\u{0}",
    "given\u{0}Name",
    "🙂",
    "emailAddresses/0",
    "homeAddress.city",
];

/// Fixed strings worth trying everywhere.
const NASTY: &[&str] = &[
    "",
    " ",
    "\t\r\n",
    "a\u{0}b",
    "\u{0}",
    "\u{0}\u{0}\u{0}",
    "👩‍👩‍👧‍👦🏳️‍🌈🙂",
    "مرحبا بالعالم",
    "\u{202E}gnp.exe",
    "שלום עולם",
    "Z̷̢̛̮̙a̶l̷g̵o̴",
    "İİİ",
    "ẞß",
    "ǅ",
    "\u{FEFF}bom",
    "\u{FFFF}\u{FFFE}",
    "\u{10FFFF}",
    "\u{1}\u{2}\u{1f}\u{7f}",
    "'; DROP TABLE contacts; --",
    "\" OR 1=1 --",
    "%_\\",
    "\\",
    "'",
    "''",
    "a'b",
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "null",
    "NaN",
    "2020-13-45",
];

fn short_ascii(rng: &mut StdRng) -> String {
    let n = rng.gen_range(1..12);
    (0..n).map(|_| rng.gen_range(b'a'..=b'z') as char).collect()
}

fn random_unicode(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| loop {
            let c = match rng.gen_range(0..5) {
                0 => rng.gen_range(0u32..0x80),
                1 => rng.gen_range(0x80u32..0x800),
                2 => rng.gen_range(0x800u32..0xD800),
                3 => rng.gen_range(0xE000u32..0x10000),
                _ => rng.gen_range(0x10000u32..0x110000),
            };
            if let Some(ch) = char::from_u32(c) {
                break ch;
            }
        })
        .collect()
}

fn long_string(rng: &mut StdRng) -> String {
    let n = rng.gen_range(10_000..100_000);
    match rng.gen_range(0..5) {
        0 => "x".repeat(n),
        1 => "é".repeat(n / 2),
        2 => "İ".repeat(n / 2),
        3 => {
            let mut s = "y".repeat(n);
            s.insert(n / 2, '\u{0}');
            s
        }
        _ => random_unicode(rng, n / 3),
    }
}

/// A string drawn from the adversarial pool; long ones (10-100 KB) now and then.
fn adv_string(rng: &mut StdRng) -> String {
    match rng.gen_range(0..16) {
        0..=4 => NASTY.choose(rng).unwrap().to_string(),
        5 | 6 => short_ascii(rng),
        7 => format!("{}\u{0}{}", short_ascii(rng), short_ascii(rng)),
        8 => {
            let n = rng.gen_range(1..40);
            random_unicode(rng, n)
        }
        9 => long_string(rng),
        10 => format!("{}@{}.test", short_ascii(rng), short_ascii(rng)),
        11 => {
            let n = rng.gen_range(2_000..4_000);
            "k".repeat(n)
        }
        _ => format!("{} {}", NASTY.choose(rng).unwrap(), short_ascii(rng)),
    }
}

/// Garbage (and some borderline valid) birthday values.
fn garbage_date(rng: &mut StdRng) -> Value {
    const DATES: &[&str] = &[
        "",
        "2020-02-30",
        "2020-02-30T00:00:00Z",
        "0000-00-00",
        "0000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59.9999999+14:00",
        "10000-01-01T00:00:00Z",
        "99999999-01-01T00:00:00Z",
        "+275760-09-13T00:00:00Z",
        "2020-01-01T25:61:61Z",
        "2020-01-01T00:00:00.12345678901234567890Z",
        "2020-01-01T00:00:00+99:99",
        "2020-01-01T00:00:00-24:00",
        "2020-01-01 00:00:00",
        "2020-1-1",
        "1/2/2020",
        "yesterday",
        "T",
        "Z",
        "2020-01-01T",
        "2020-01-01\u{0}",
        "１９９０-０１-０１",
        "1990-01-01T00:00:00Z\u{0}",
        "1970-01-01T00:00:00Z",
        "1601-01-01T00:00:00Z",
        "1990-06-15T00:00:00Z",
        "2020-W01-1",
        "P1D",
    ];
    match rng.gen_range(0..8) {
        0 => json!(rng.gen::<i64>()),
        1 => Value::Null,
        2 => json!(adv_string(rng)),
        3 => json!({"dateTime": "2020-01-01"}),
        _ => json!(DATES.choose(rng).unwrap()),
    }
}

fn random_number(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..9) {
        0 => json!(i64::MIN),
        1 => json!(u64::MAX),
        2 => json!(f64::MAX),
        3 => json!(f64::MIN_POSITIVE),
        4 => json!(-0.0),
        5 => json!(rng.gen::<f64>() * 1e300),
        6 => json!(0),
        _ => json!(rng.gen::<i32>()),
    }
}

/// A random JSON value: nested objects and arrays of everything, keys from the real names.
fn random_value(rng: &mut StdRng, depth: usize) -> Value {
    let max = if depth >= 4 { 4 } else { 6 };
    match rng.gen_range(0..max) {
        0 => Value::Null,
        1 => Value::Bool(rng.gen()),
        2 => random_number(rng),
        3 => Value::String(adv_string(rng)),
        4 => {
            let n = rng.gen_range(0..5);
            Value::Array((0..n).map(|_| random_value(rng, depth + 1)).collect())
        }
        _ => {
            let n = rng.gen_range(0..5);
            let mut m = Map::new();
            for _ in 0..n {
                m.insert(random_key(rng, contact_props()), random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

fn random_key(rng: &mut StdRng, props: &[&str]) -> String {
    match rng.gen_range(0..10) {
        0..=6 => props.choose(rng).unwrap().to_string(),
        7 => NEAR_KEYS.choose(rng).unwrap().to_string(),
        8 => ["address", "name", "street", "city", "state", "countryOrRegion", "postalCode", "postOfficeBox", "type"]
            .choose(rng)
            .unwrap()
            .to_string(),
        _ => adv_string(rng).chars().take(64).collect(),
    }
}

fn email_value(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..8) {
        0 => random_value(rng, 2),
        1 => Value::Null,
        _ => {
            let mut m = Map::new();
            if rng.gen_bool(0.8) {
                m.insert(
                    "address".into(),
                    if rng.gen_bool(0.85) { json!(adv_string(rng)) } else { random_value(rng, 3) },
                );
            }
            if rng.gen_bool(0.5) {
                m.insert("name".into(), json!(adv_string(rng)));
            }
            if rng.gen_bool(0.1) {
                m.insert(random_key(rng, &["type", "otherLabel", "@odata.type", "kind"]), random_value(rng, 3));
            }
            Value::Object(m)
        }
    }
}

/// A value of (mostly) the right type for `prop`, full of adversarial strings.
fn typed_value(rng: &mut StdRng, prop: &str, folder_ids: &[String]) -> Value {
    if rng.gen_bool(0.2) {
        return random_value(rng, 1);
    }
    match prop {
        p if writable_v1_type(p) == Some("Edm.String") => json!(adv_string(rng)),
        "birthday" | "weddingAnniversary" => garbage_date(rng),
        "emailAddresses" => {
            let n = rng.gen_range(0..5);
            Value::Array((0..n).map(|_| email_value(rng)).collect())
        }
        p if writable_v1_type(p) == Some("Collection(Edm.String)") => {
            let n = rng.gen_range(0..6);
            Value::Array((0..n).map(|_| json!(adv_string(rng))).collect())
        }
        p if writable_v1_type(p) == Some("graph.physicalAddress") => {
            let mut m = Map::new();
            for k in ["street", "city", "state", "countryOrRegion", "postalCode"] {
                if rng.gen_bool(0.5) {
                    m.insert(k.into(), json!(adv_string(rng)));
                }
            }
            Value::Object(m)
        }
        p if writable_v1_type(p) == Some("graph.emailAddress") => email_value(rng),
        "parentFolderId" => json!(folder_id_like(rng, folder_ids)),
        "@odata.type" => {
            json!(["#microsoft.graph.contact", "microsoft.graph.contact", "#microsoft.graph.event", "", "#"]
                .choose(rng)
                .unwrap())
        }
        _ => random_value(rng, 1),
    }
}

/// Real folder ids, well-known names and ids of every wrong shape.
fn folder_id_like(rng: &mut StdRng, folder_ids: &[String]) -> String {
    match rng.gen_range(0..8) {
        0 | 1 if !folder_ids.is_empty() => folder_ids.choose(rng).unwrap().clone(),
        2 => "contacts".into(),
        3 => "AAAAAAAAAAAAAAAAAAAAAA".into(),
        4 => "AAAAAAAAAAAAAAAAAAAA\u{0}A".into(),
        5 => "A".repeat(10_000),
        _ => adv_string(rng).chars().take(100).collect(),
    }
}

/// A random POST/PATCH contact body: mostly an object with real property names.
fn random_contact_body(rng: &mut StdRng, folder_ids: &[String]) -> Value {
    if rng.gen_bool(0.05) {
        return random_value(rng, 0);
    }
    let n = rng.gen_range(0..7);
    let mut m = Map::new();
    for _ in 0..n {
        let key = random_key(rng, contact_props());
        let v = typed_value(rng, &key, folder_ids);
        m.insert(key, v);
    }
    Value::Object(m)
}

fn random_folder_body(rng: &mut StdRng, folder_ids: &[String]) -> Value {
    if rng.gen_bool(0.05) {
        return random_value(rng, 0);
    }
    let n = rng.gen_range(0..4);
    let mut m = Map::new();
    for _ in 0..n {
        let key = random_key(rng, FOLDER_PROPS);
        let v = match key.as_str() {
            "displayName" if rng.gen_bool(0.85) => json!(adv_string(rng)),
            "parentFolderId" if rng.gen_bool(0.85) => json!(folder_id_like(rng, folder_ids)),
            _ => random_value(rng, 1),
        };
        m.insert(key, v);
    }
    Value::Object(m)
}

/// Encodes a query value as a form would (space as `+`), so long values stay within the
/// 65,534-byte URI limit of the `http` crate.
fn enc_plus(s: &str) -> String {
    enc(s).replace("%20", "+")
}

/// Percent-encodes every byte.
fn enc_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let n = rng.gen_range(0..max);
    (0..n).map(|_| rng.gen()).collect()
}

// --- $filter grammar ---------------------------------------------------------------------------

const FILTER_PROPS: &[&str] = &[
    "displayName",
    "givenName",
    "surname",
    "companyName",
    "jobTitle",
    "middleName",
    "personalNotes",
    "department",
    "birthday",
    "createdDateTime",
    "lastModifiedDateTime",
    "id",
    "parentFolderId",
    "changeKey",
    "emailAddresses",
    "categories",
    "businessPhones",
    "mobilePhone",
    "homeAddress/city",
    "emailAddresses/address",
    "primaryEmailAddress/address",
    "nope",
    "a/address",
    "c",
    "DisplayName",
    "displayname",
    "wellKnownName",
    "childFolders",
];

const OPS: &[&str] = &["eq", "ne", "gt", "ge", "lt", "le", "has", "add", "sub", "EQ", "Eq"];

fn literal(rng: &mut StdRng) -> String {
    match rng.gen_range(0..22) {
        0 => "null".into(),
        1 => "true".into(),
        2 => "false".into(),
        3 => "42".into(),
        4 => "-1".into(),
        5 => "99999999999999999999".into(),
        6 => "1.5e308".into(),
        7 => "1e999".into(),
        8 => "2020-01-01".into(),
        9 => "2020-01-01T00:00:00Z".into(),
        10 => "9999-99-99T99:99:99Z".into(),
        11 => "01234567-89ab-cdef-0123-456789abcdef".into(),
        12 => "duration'P1D'".into(),
        13 => "binary'AA=='".into(),
        14 => "'with\u{0}nul'".into(),
        15 => "'2020-01-01T00:00:00Z'".into(),
        16 => "'AAAAAAAAAAAAAAAAAAAAAA'".into(),
        17 => "-9223372036854775808".into(),
        _ => {
            let s: String = adv_string(rng).chars().take(200).collect();
            format!("'{}'", s.replace('\'', "''"))
        }
    }
}

/// A (mostly) well-formed filter expression of random shape.
fn filter_expr(rng: &mut StdRng, depth: usize) -> String {
    let leaf = depth >= 3 || rng.gen_bool(0.4);
    if leaf {
        let prop = FILTER_PROPS.choose(rng).unwrap();
        return match rng.gen_range(0..10) {
            0..=3 => format!("{prop} {} {}", OPS.choose(rng).unwrap(), literal(rng)),
            4 => format!("{} {} {prop}", literal(rng), OPS.choose(rng).unwrap()),
            5 => format!(
                "{}({prop},{})",
                ["startswith", "endswith", "contains", "substringof", "STARTSWITH"].choose(rng).unwrap(),
                literal(rng)
            ),
            6 => {
                let (coll, var, path) =
                    if rng.gen_bool(0.5) { ("emailAddresses", "a", "a/address") } else { ("categories", "c", "c") };
                let coll = if rng.gen_bool(0.2) { prop } else { coll };
                let kind = ["any", "all", "Any", "none"].choose(rng).unwrap();
                match rng.gen_range(0..4) {
                    0 => format!("{coll}/{kind}()"),
                    1 => format!("{coll}/{kind}({var}:{path} {} {})", OPS.choose(rng).unwrap(), literal(rng)),
                    2 => format!("{coll}/{kind}({var}:startswith({path},{}))", literal(rng)),
                    _ => format!("{coll}/{kind}({var}:{})", filter_expr(rng, depth + 1)),
                }
            }
            7 => {
                let n = rng.gen_range(0..6);
                let items: Vec<String> = (0..n).map(|_| literal(rng)).collect();
                format!("{prop} in ({})", items.join(","))
            }
            8 => format!(
                "{}({prop}) {} {}",
                ["tolower", "toupper", "trim", "length", "year", "concat"].choose(rng).unwrap(),
                OPS.choose(rng).unwrap(),
                literal(rng)
            ),
            _ => literal(rng),
        };
    }
    match rng.gen_range(0..4) {
        0 => format!("not ({})", filter_expr(rng, depth + 1)),
        1 => format!("({})", filter_expr(rng, depth + 1)),
        _ => format!(
            "{} {} {}",
            filter_expr(rng, depth + 1),
            ["and", "or", "AND", "Or"].choose(rng).unwrap(),
            filter_expr(rng, depth + 1)
        ),
    }
}

/// Random tokens of the grammar in random order: mostly invalid.
fn filter_soup(rng: &mut StdRng) -> String {
    const TOKENS: &[&str] = &[
        "(",
        ")",
        "((",
        "))",
        ",",
        ":",
        "/",
        "'",
        "''",
        "and",
        "or",
        "not",
        "eq",
        "ne",
        "gt",
        "in",
        "any(",
        "all(",
        "/any(",
        "a:",
        "a/address",
        "startswith(",
        "contains(",
        "endswith(",
        "tolower(",
        "null",
        "true",
        "-",
        "$it",
        "$root",
        "@p",
        "*",
        "%",
        "displayName",
        "emailAddresses",
        "categories",
        "birthday",
        "id",
        "'x'",
        "'",
        "2020-01-01",
        "1e",
        "0x1F",
        "\u{0}",
        "\\",
        "\"",
        ";",
        "&",
        "=",
        "#",
        "..",
        "::",
        "()",
        "[]",
        "{}",
    ];
    let n = rng.gen_range(1..16);
    let sep = if rng.gen_bool(0.7) { " " } else { "" };
    (0..n)
        .map(|_| if rng.gen_bool(0.9) { TOKENS.choose(rng).unwrap().to_string() } else { literal(rng) })
        .collect::<Vec<_>>()
        .join(sep)
}

fn orderby_value(rng: &mut StdRng) -> String {
    let n = rng.gen_range(0..4);
    let items: Vec<String> = (0..n)
        .map(|_| {
            let p = if rng.gen_bool(0.8) {
                FILTER_PROPS.choose(rng).unwrap().to_string()
            } else {
                adv_string(rng).chars().take(200).collect()
            };
            let dir = ["", " asc", " desc", " DESC", " sideways", " desc desc"].choose(rng).unwrap();
            format!("{p}{dir}")
        })
        .collect();
    items.join(",")
}

fn select_value(rng: &mut StdRng) -> String {
    let n = rng.gen_range(0..5);
    let items: Vec<String> = (0..n)
        .map(|_| match rng.gen_range(0..6) {
            0 => "*".into(),
            1 => adv_string(rng).chars().take(40).collect(),
            2 => "emailAddresses/address".into(),
            _ => contact_props().choose(rng).unwrap().to_string(),
        })
        .collect();
    items.join(",")
}

fn number_value(rng: &mut StdRng) -> String {
    [
        "-1",
        "0",
        "1",
        "5",
        "1000",
        "1001",
        "4294967295",
        "4294967296",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999",
        "+1",
        " 1",
        "1.0",
        "1e3",
        "0x10",
        "",
        "abc",
        "1\u{0}",
        "٣",
    ]
    .choose(rng)
    .unwrap()
    .to_string()
}

fn expand_value(rng: &mut StdRng) -> String {
    match rng.gen_range(0..6) {
        0 => "photo".into(),
        1 => "extensions($filter=id eq 'x';$select=id)".into(),
        2 => {
            let d = rng.gen_range(1..300);
            format!("{}{}", "a($expand=".repeat(d), ")".repeat(d))
        }
        3 => "*".into(),
        4 => "childFolders($levels=max),contacts($top=-1)".into(),
        _ => filter_soup(rng),
    }
}

/// Encodes a query value: usually as a client would, sometimes every byte, sometimes raw.
fn encode_value(rng: &mut StdRng, v: &str) -> String {
    match rng.gen_range(0..10) {
        0 => enc_all(v.as_bytes()),
        1 => v.replace(' ', "+").replace('&', "%26").replace('#', "%23").replace('%', "%25"),
        _ => enc(v),
    }
}

fn random_query(rng: &mut StdRng, skiptokens: &[String]) -> String {
    let n = rng.gen_range(1..5);
    let mut parts = Vec::new();
    for _ in 0..n {
        let (name, value): (&str, String) = match rng.gen_range(0..14) {
            0..=3 => (
                "$filter",
                match rng.gen_range(0..10) {
                    0..=5 => filter_expr(rng, 0),
                    6..=8 => filter_soup(rng),
                    _ => String::from_utf8_lossy(&random_bytes(rng, 60)).into_owned(),
                },
            ),
            4 => ("$orderby", orderby_value(rng)),
            5 => ("$select", select_value(rng)),
            6 => ("$top", number_value(rng)),
            7 => ("$skip", number_value(rng)),
            8 => ("$count", ["true", "false", "TRUE", "1", "yes", ""].choose(rng).unwrap().to_string()),
            9 => ("$expand", expand_value(rng)),
            10 => (
                "$skiptoken",
                match rng.gen_range(0..4) {
                    0 if !skiptokens.is_empty() => skiptokens.choose(rng).unwrap().clone(),
                    1 if !skiptokens.is_empty() => {
                        let mut t = skiptokens.choose(rng).unwrap().clone();
                        let i = rng.gen_range(0..t.len());
                        let flipped = if t.get(i..i + 1) == Some("A") { "B" } else { "A" };
                        t.replace_range(i..i + 1, flipped);
                        t
                    }
                    2 => format!("{}.{}", short_ascii(rng), short_ascii(rng)),
                    _ => adv_string(rng).chars().take(300).collect(),
                },
            ),
            11 => (
                ["$search", "$format", "$deltatoken", "$levels", "$apply", "$compute"].choose(rng).unwrap(),
                adv_string(rng).chars().take(100).collect(),
            ),
            12 => {
                // A random, percent-encoded name and value.
                let name = enc_all(&random_bytes(rng, 12));
                let value = enc_all(&random_bytes(rng, 40));
                parts.push(format!("{name}={value}"));
                continue;
            }
            _ => (["filter", "%24filter", "$FILTER", "$top", "$Top", "top"].choose(rng).unwrap(), filter_expr(rng, 1)),
        };
        let name = if rng.gen_bool(0.1) { enc_all(name.as_bytes()) } else { name.to_owned() };
        parts.push(format!("{name}={}", encode_value(rng, &value)));
    }
    if rng.gen_bool(0.1) {
        parts.push("&&=&$=&%00=%00".into());
    }
    parts.join("&")
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

struct Fixture {
    token: String,
    upn: String,
    user_id: String,
    contacts: Vec<String>,
    folders: Vec<String>,
}

async fn fixture(s: &TestServer) -> Fixture {
    let (user, t) = s.login("fuzz@contoso.test").await;
    let mut contacts = Vec::new();
    for i in 0..4 {
        contacts.push(
            s.create_contact(
                &t,
                json!({"givenName": format!("Seed{i}"), "surname": "Fuzz", "categories": ["Red"],
                       "emailAddresses": [{"address": format!("seed{i}@x.test"), "name": "S"}]}),
            )
            .await,
        );
    }
    let f1 = s.create_folder_at("/me/contactFolders", &t, "F1").await;
    let f2 = s.create_folder_at(&format!("/me/contactFolders/{f1}/childFolders"), &t, "F2").await;
    let f3 = s.create_folder_at("/me/contactFolders", &t, "F3").await;
    s.create_contact_at(&format!("/me/contactFolders/{f1}/contacts"), &t, json!({"givenName": "InF1"})).await;
    let folders = vec![f1, f2, f3, user.mailbox.default_folder_id.as_str().to_owned()];
    Fixture { token: t, upn: user.user_principal_name.clone(), user_id: user.id.clone(), contacts, folders }
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

/// 1a. Random JSON bodies on POST /me/contacts and PATCH /me/contacts/{id}.
async fn random_contact_bodies(s: TestServer) {
    let fx = fixture(&s).await;
    let mut rng = rng_for(1);
    let mut p = Probe::new(&s, &fx.token);
    for i in 0..260 {
        let body = random_contact_body(&mut rng, &fx.folders);
        let req = if i % 2 == 0 {
            let path = if rng.gen_bool(0.8) {
                "/me/contacts".to_owned()
            } else {
                format!("/me/contactFolders/{}/contacts", fx.folders.choose(&mut rng).unwrap())
            };
            Req::new(Method::POST, path)
        } else {
            Req::new(Method::PATCH, format!("/me/contacts/{}", fx.contacts.choose(&mut rng).unwrap()))
        };
        p.send(req.json(&body)).await;
    }
    p.finish("random_contact_bodies").await;
}

/// 1b. Random JSON bodies on POST/PATCH contact folders.
async fn random_folder_bodies(s: TestServer) {
    let fx = fixture(&s).await;
    let mut rng = rng_for(2);
    let mut p = Probe::new(&s, &fx.token);
    let movable = &fx.folders[..3];
    for i in 0..160 {
        let body = random_folder_body(&mut rng, &fx.folders);
        let req = match i % 3 {
            0 => Req::new(Method::POST, "/me/contactFolders"),
            1 => {
                Req::new(Method::POST, format!("/me/contactFolders/{}/childFolders", movable.choose(&mut rng).unwrap()))
            }
            _ => Req::new(Method::PATCH, format!("/me/contactFolders/{}", movable.choose(&mut rng).unwrap())),
        };
        p.send(req.json(&body)).await;
    }
    p.finish("random_folder_bodies").await;
}

/// 1c. Deterministic adversarial bodies: long values in indexed fields, NULs, deep nesting,
/// huge numbers, garbage dates, non-JSON bytes.
async fn adversarial_bodies(s: TestServer) {
    let fx = fixture(&s).await;
    let mut p = Probe::new(&s, &fx.token);
    let c = fx.contacts[0].clone();
    let f = fx.folders[0].clone();

    let long_values: Vec<(String, String)> = vec![
        ("3k".into(), "q".repeat(3_000)),
        ("10k".into(), "r".repeat(10_000)),
        ("100k".into(), "s".repeat(100_000)),
        ("10k-multibyte".into(), "é".repeat(5_000)),
        ("10k-random".into(), random_unicode(&mut rng_for(3), 4_000)),
    ];
    for (_, v) in &long_values {
        let bodies = [
            json!({"displayName": v}),
            json!({"givenName": v}),
            json!({"surname": v}),
            json!({"companyName": v}),
            json!({"givenName": "G", "emailAddresses": [{"address": v, "name": "N"}]}),
            json!({"givenName": "G", "categories": [v]}),
            json!({"givenName": "G", "primaryEmailAddress": {"address": v}}),
            json!({"givenName": v, "surname": v, "middleName": v, "generation": v}),
        ];
        for b in &bodies {
            p.send(Req::new(Method::POST, "/me/contacts").json(b)).await;
            p.send(Req::new(Method::PATCH, format!("/me/contacts/{c}")).json(b)).await;
        }
        p.send(Req::new(Method::POST, "/me/contactFolders").json(&json!({"displayName": v}))).await;
        p.send(Req::new(Method::PATCH, format!("/me/contactFolders/{f}")).json(&json!({"displayName": v}))).await;
    }
    // NUL characters in every kind of field (indexed, JSON-only, nested, folder name).
    for v in ["a\u{0}b", "\u{0}", "x\u{0}"] {
        let bodies = [
            json!({"displayName": v}),
            json!({"givenName": v}),
            json!({"surname": v}),
            json!({"companyName": v}),
            json!({"jobTitle": v}),
            json!({"personalNotes": v}),
            json!({"givenName": "G", "emailAddresses": [{"address": v}]}),
            json!({"givenName": "G", "emailAddresses": [{"address": "ok@x.test", "name": v}]}),
            json!({"givenName": "G", "categories": [v]}),
            json!({"givenName": "G", "homeAddress": {"city": v}}),
            json!({"givenName": "G", "businessPhones": [v]}),
            json!({"birthday": v}),
        ];
        for b in &bodies {
            p.send(Req::new(Method::POST, "/me/contacts").json(b)).await;
            p.send(Req::new(Method::PATCH, format!("/me/contacts/{c}")).json(b)).await;
        }
        p.send(Req::new(Method::POST, "/me/contactFolders").json(&json!({"displayName": v}))).await;
        p.send(Req::new(Method::PATCH, format!("/me/contactFolders/{f}")).json(&json!({"displayName": v}))).await;
    }
    // A NUL in a property name and as an unknown key.
    for raw in [
        &b"{\"given\\u0000Name\": \"x\"}"[..],
        b"{\"\\u0000\": 1}",
        b"{\"givenName\": \"a\\u0000\", \"surname\": \"\\u0000\"}",
    ] {
        p.send(Req::new(Method::POST, "/me/contacts").raw(raw.to_vec(), Some("application/json"))).await;
    }
    // Emoji, RTL, combining marks, case-expanding letters.
    for v in NASTY {
        p.send(Req::new(Method::POST, "/me/contacts").json(
            &json!({"givenName": v, "surname": v, "companyName": v, "categories": [v], "emailAddresses": [{"address": v}]}),
        ))
        .await;
    }
    // Garbage birthdays.
    let mut rng = rng_for(4);
    for _ in 0..30 {
        let b = json!({"givenName": "B", "birthday": garbage_date(&mut rng)});
        p.send(Req::new(Method::POST, "/me/contacts").json(&b)).await;
        p.send(Req::new(Method::PATCH, format!("/me/contacts/{c}")).json(&b)).await;
    }
    // Deep nesting: arrays and objects 200, 1000 and 100000 levels deep, at the top and inside
    // a property.
    for depth in [129usize, 200, 1_000, 100_000] {
        let arr = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let obj = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let in_prop = format!("{{\"givenName\": {arr}}}");
        let in_cat = format!("{{\"categories\": {arr}}}");
        let in_email = format!("{{\"emailAddresses\": [{{\"address\": {obj}}}]}}");
        for body in [&arr, &obj, &in_prop, &in_cat, &in_email] {
            p.send(Req::new(Method::POST, "/me/contacts").raw(body.clone().into_bytes(), Some("application/json")))
                .await;
            p.send(
                Req::new(Method::PATCH, format!("/me/contacts/{c}"))
                    .raw(body.clone().into_bytes(), Some("application/json")),
            )
            .await;
            p.send(
                Req::new(Method::POST, "/me/contactFolders").raw(body.clone().into_bytes(), Some("application/json")),
            )
            .await;
        }
        // Unterminated.
        p.send(Req::new(Method::POST, "/me/contacts").raw("[".repeat(depth).into_bytes(), Some("application/json")))
            .await;
    }
    // Huge numbers and odd literals, as raw text.
    for lit in [
        "1e999999",
        "-1e999999",
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678901234567890123456789012345678901234567890",
        "0.000000000000000000000000000000000000000000000000000000000001",
        "1E400",
        "NaN",
        "Infinity",
        "-0",
        "01",
        "1.",
        ".5",
        "0x10",
    ] {
        for key in ["givenName", "birthday", "categories", "emailAddresses", "parentFolderId", "zzz"] {
            let body = format!("{{\"{key}\": {lit}}}");
            p.send(Req::new(Method::POST, "/me/contacts").raw(body.into_bytes(), Some("application/json"))).await;
        }
        let body = format!("{{\"displayName\": {lit}}}");
        p.send(Req::new(Method::POST, "/me/contactFolders").raw(body.into_bytes(), Some("application/json"))).await;
    }
    // Bodies that are not (clean) JSON.
    let raws: Vec<Vec<u8>> = vec![
        vec![],
        b"   ".to_vec(),
        b"null".to_vec(),
        b"0".to_vec(),
        b"\"\\u0000\"".to_vec(),
        b"{}garbage".to_vec(),
        b"{} {}".to_vec(),
        b"{\"givenName\":\"a\",\"givenName\":5}".to_vec(),
        b"{\"givenName\":\"\\ud800\"}".to_vec(),
        b"{\"givenName\":\"\\udc00\\ud800\"}".to_vec(),
        b"{\"givenName\":\"\\u00\"}".to_vec(),
        b"\xEF\xBB\xBF{\"givenName\":\"bom\"}".to_vec(),
        b"\xFF\xFE{\x00}\x00".to_vec(),
        b"{\"givenName\":\"\xC3\x28\"}".to_vec(),
        b"{\"givenName\":\"\xED\xA0\x80\"}".to_vec(),
        b"{\"givenName\":\"raw\x00nul\"}".to_vec(),
        b"{\"givenName\":\"raw\nnewline\"}".to_vec(),
        b"\x00\x00\x00\x00".to_vec(),
        b"{'givenName': 'x'}".to_vec(),
        b"{givenName: x}".to_vec(),
        b"{\"givenName\":\"x\",}".to_vec(),
        b"[".to_vec(),
        b"}".to_vec(),
        random_bytes(&mut rng, 2_000),
    ];
    for raw in &raws {
        for ct in [Some("application/json"), Some("text/plain"), None] {
            p.send(Req::new(Method::POST, "/me/contacts").raw(raw.clone(), ct)).await;
        }
        p.send(Req::new(Method::PATCH, format!("/me/contacts/{c}")).raw(raw.clone(), Some("application/json"))).await;
        p.send(Req::new(Method::POST, "/me/contactFolders").raw(raw.clone(), Some("application/json"))).await;
        p.send(Req::new(Method::PATCH, format!("/me/contactFolders/{f}")).raw(raw.clone(), Some("application/json")))
            .await;
    }
    // Many values at once: 5,000 emails, categories and phones.
    let many: Vec<String> = (0..5_000).map(|i| format!("m{i}@x.test")).collect();
    let emails: Vec<Value> = many.iter().map(|a| json!({"address": a})).collect();
    p.send(
        Req::new(Method::POST, "/me/contacts")
            .json(&json!({"emailAddresses": emails, "categories": many, "businessPhones": many})),
    )
    .await;
    // The same category and address many times over (primary key collisions in side tables).
    p.send(Req::new(Method::POST, "/me/contacts").json(&json!({
        "categories": ["Dup", "dup", "DUP", "Dup"],
        "emailAddresses": [{"address": "d@x.test"}, {"address": "D@X.TEST"}, {"address": "d@x.test"}]
    })))
    .await;
    // Folder moves that would make cycles, the default folder, and deleted folders.
    let (f1, f2, f3, default) = (&fx.folders[0], &fx.folders[1], &fx.folders[2], &fx.folders[3]);
    let gone = s.create_folder_at("/me/contactFolders", &fx.token, "Gone").await;
    p.send(Req::new(Method::DELETE, format!("/me/contactFolders/{gone}"))).await;
    let folder_cases: Vec<(Method, String, Value)> = vec![
        (Method::PATCH, format!("/me/contactFolders/{f1}"), json!({"parentFolderId": f2})),
        (Method::PATCH, format!("/me/contactFolders/{f1}"), json!({"parentFolderId": f1})),
        (Method::PATCH, format!("/me/contactFolders/{f2}"), json!({"parentFolderId": f2})),
        (Method::PATCH, format!("/me/contactFolders/{f1}"), json!({"parentFolderId": gone})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"parentFolderId": default})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"displayName": "F1"})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"displayName": "f1"})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"displayName": ""})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"displayName": null})),
        (Method::PATCH, format!("/me/contactFolders/{default}"), json!({"displayName": "Renamed"})),
        (Method::PATCH, format!("/me/contactFolders/{default}"), json!({"parentFolderId": f1})),
        (Method::PATCH, "/me/contactFolders/contacts".into(), json!({"parentFolderId": f1})),
        (Method::DELETE, format!("/me/contactFolders/{default}"), Value::Null),
        (Method::DELETE, "/me/contactFolders/contacts".into(), Value::Null),
        (Method::POST, format!("/me/contactFolders/{default}/permanentDelete"), Value::Null),
        (
            Method::POST,
            format!("/me/contactFolders/{f1}/childFolders"),
            json!({"displayName": "X", "parentFolderId": f2}),
        ),
        (Method::POST, format!("/me/contactFolders/{gone}/childFolders"), json!({"displayName": "X"})),
        (Method::POST, format!("/me/contactFolders/{gone}/contacts"), json!({"givenName": "X"})),
        (Method::POST, "/me/contacts".into(), json!({"givenName": "X", "parentFolderId": gone})),
        (Method::PATCH, format!("/me/contacts/{c}"), json!({"parentFolderId": gone})),
        (Method::PATCH, format!("/me/contacts/{c}"), json!({"parentFolderId": "AAAAAAAAAAAAAAAAAAAAAA"})),
        (Method::PATCH, format!("/me/contacts/{c}"), json!({"parentFolderId": ""})),
        (Method::PATCH, format!("/me/contactFolders/{f2}/contacts/{c}"), json!({"givenName": "WrongFolder"})),
        (Method::GET, format!("/me/contactFolders/{f2}/childFolders/{f1}"), Value::Null),
        (Method::GET, format!("/me/contactFolders/{gone}/contacts"), Value::Null),
        (Method::DELETE, format!("/me/contactFolders/{gone}"), Value::Null),
    ];
    for (m, path, body) in folder_cases {
        let mut req = Req::new(m, path);
        if !body.is_null() {
            req = req.json(&body);
        }
        p.send(req).await;
    }
    p.finish("adversarial_bodies").await;

    // Contacts with long, nearly equal values in the sort keys (a mailbox of their own), then
    // paging over them one by one in each sortable order: every page must work, and each
    // contact must be served exactly once.
    let (_, t2) = s.login("pager@contoso.test").await;
    let mut p = Probe::new(&s, &t2);
    let stem = "w".repeat(5_000);
    let mut made = Vec::new();
    for tail in ["c", "a", "b"] {
        let v = format!("{stem}{tail}");
        let body = json!({"displayName": v, "givenName": v, "surname": v, "companyName": v});
        if let Some(r) = p.send(Req::new(Method::POST, "/me/contacts").json(&body)).await {
            if let Some(id) = r.body["id"].as_str() {
                made.push(id.to_owned());
            }
        }
    }
    made.sort();
    for order in ["displayName", "givenName%20desc", "surname", "companyName%20desc"] {
        let mut next = Some(format!("/me/contacts?$top=1&$orderby={order}&$select=id"));
        let mut seen = Vec::new();
        while let Some(url) = next.take() {
            if seen.len() > 10 {
                p.failures.push(format!("paging by {order} does not terminate: {seen:?}"));
                break;
            }
            let Some(r) = p.send(Req::new(Method::GET, url)).await else { break };
            if r.status != 200 {
                break;
            }
            for c in r.body["value"].as_array().into_iter().flatten() {
                seen.push(c["id"].as_str().unwrap_or_default().to_owned());
            }
            next = r.body["@odata.nextLink"].as_str().map(str::to_owned);
        }
        seen.sort();
        if seen != made {
            p.failures.push(format!("paging by {order} over long keys served {seen:?}, expected {made:?}"));
        }
    }
    p.finish("adversarial_bodies/long-key paging").await;
}

/// 2a. Random query strings on the collections.
async fn random_queries(s: TestServer) {
    let fx = fixture(&s).await;
    let mut p = Probe::new(&s, &fx.token);
    // Real skiptokens to tamper with and to replay against other queries.
    let mut tokens = Vec::new();
    for path in ["/me/contacts?$top=1", "/me/contacts?$top=2&$orderby=displayName%20desc", "/me/contactFolders?$top=1"]
    {
        if let Some(r) = p.send(Req::new(Method::GET, path)).await {
            if let Some(link) = r.body["@odata.nextLink"].as_str() {
                if let Some((_, tok)) = link.split_once("$skiptoken=") {
                    tokens.push(tok.to_owned());
                }
            }
        }
    }
    assert!(!tokens.is_empty(), "no skiptoken obtained from the fixture");
    let mut rng = rng_for(5);
    let f = fx.folders[0].clone();
    let targets = [
        "/me/contacts".to_owned(),
        "/me/contactFolders".to_owned(),
        format!("/me/contactFolders/{f}/contacts"),
        format!("/me/contactFolders/{f}/childFolders"),
        format!("/me/contacts/{}", fx.contacts[1]),
        format!("/me/contactFolders/{f}"),
    ];
    for i in 0..320 {
        let target = if i % 4 == 3 { targets.choose(&mut rng).unwrap() } else { &targets[i % 2] };
        let q = random_query(&mut rng, &tokens);
        p.send(Req::new(Method::GET, format!("{target}?{q}"))).await;
    }
    p.finish("random_queries").await;
}

/// 2b. The named adversarial query strings.
async fn adversarial_queries(s: TestServer) {
    let fx = fixture(&s).await;
    let mut p = Probe::new(&s, &fx.token);
    let f = fx.folders[0].clone();
    let in_list: Vec<String> = (0..5_000).map(|i| format!("'v{i}'")).collect();
    let in_5000 = format!("displayName in ({})", in_list.join(","));
    let in_2000_id =
        format!("id in ({})", (0..2_000).map(|i| format!("'AAAAAAAAAAAAAAAAAA{i:04}'")).collect::<Vec<_>>().join(","));
    let in_997 = format!("jobTitle in ({})", (0..997).map(|i| format!("'j{i}'")).collect::<Vec<_>>().join(","));
    let in_998 = format!("jobTitle in ({})", (0..998).map(|i| format!("'j{i}'")).collect::<Vec<_>>().join(","));
    let in_2000_cat =
        format!("categories/any(c:{})", (0..2_000).map(|i| format!("c eq 'k{i}'")).collect::<Vec<_>>().join(" or "));
    let long_literal = format!("displayName eq '{}'", "a".repeat(60_000));
    let long_or = {
        let mut s = String::from("givenName eq 'x'");
        while s.len() < 50_000 {
            s.push_str(" or givenName eq 'x'");
        }
        s
    };
    let long_and_paren = format!("{}displayName eq 'a'{}", "(".repeat(30_000), ")".repeat(30_000));
    let long_not = format!("{}displayName eq 'a'", "not ".repeat(15_000));
    // About as long as a URI may be (65,534 bytes in the `http` crate, so the parser's own 64 KiB
    // limit cannot be reached through a query string). The URL encodes `'` as `%27`.
    let prefix_len = format!("{}/me/contacts?$filter=", s.base).len();
    let max_literal = format!("surname eq '{}'", "m".repeat(65_500 - prefix_len - "surname+eq+%27%27".len()));
    let mut rng = rng_for(6);
    let soup_60k = {
        let mut s = String::new();
        while enc_plus(&s).len() < 58_000 {
            s.push_str(&filter_soup(&mut rng));
            s.push(' ');
        }
        s
    };
    let mut filters: Vec<String> = vec![
        in_5000,
        in_2000_id,
        in_997,
        in_998,
        in_2000_cat,
        long_literal,
        long_or,
        long_and_paren,
        long_not,
        soup_60k,
        "displayName eq 'a\u{0}b'".into(),
        "startswith(displayName,'\u{0}')".into(),
        "contains(givenName,'\u{0}%_')".into(),
        "endswith(surname,'\u{0}')".into(),
        "emailAddresses/any(a:a/address eq '\u{0}')".into(),
        "categories/any(c:c eq '\u{0}')".into(),
        "id eq '\u{0}'".into(),
        "parentFolderId eq '\u{0}'".into(),
        "jobTitle eq '\u{0}'".into(),
        "birthday eq '\u{0}'".into(),
        "birthday ge 0001-01-01T00:00:00Z".into(),
        "birthday ge 9999-12-31T23:59:59.9999999Z".into(),
        "birthday lt 99999-01-01".into(),
        "createdDateTime gt 2020-01-01T00:00:00+99:00".into(),
        "lastModifiedDateTime eq '2020-02-30T00:00:00Z'".into(),
        "createdDateTime eq 2020-02-30".into(),
        format!("displayName eq '{}'", "é".repeat(3_000)),
        format!("startswith(displayName,'{}')", "z".repeat(20_000)),
        format!("emailAddresses/any(a:a/address eq '{}')", "m".repeat(20_000)),
        "displayName eq 99999999999999999999".into(),
        "displayName eq 1e999".into(),
        "displayName eq -9223372036854775809".into(),
        "displayName".into(),
        "true".into(),
        "null".into(),
        "'x'".into(),
        "".into(),
        " ".into(),
        "(".into(),
        ")".into(),
        "'".into(),
        "displayName eq 'unterminated".into(),
        "emailAddresses/any(".into(),
        "emailAddresses/any(a:".into(),
        "emailAddresses/any(a:a/address eq 'x'".into(),
        "emailAddresses/any(a:emailAddresses/any(b:b/address eq 'x'))".into(),
        "categories/any(c:categories/all(d:d eq c))".into(),
        "emailAddresses/all(a:a/address ne 'x') and categories/all(c:c eq 'Red')".into(),
        "displayName in ()".into(),
        "displayName in ('a',)".into(),
        "displayName in (displayName)".into(),
        "length(displayName) gt 3".into(),
        "tolower(tolower(tolower(displayName))) eq 'a'".into(),
        "displayName eq displayName".into(),
        "'a' eq 'a'".into(),
        "1 eq 1".into(),
        "not not not true".into(),
        "$it/displayName eq 'x'".into(),
        "@p1 eq 'x'".into(),
    ];
    let deep_parens = format!("{}displayName eq 'a'{}", "(".repeat(99), ")".repeat(99));
    filters.push(deep_parens);
    let deep_not = format!("{}true", "not ".repeat(99));
    filters.push(deep_not);

    for (i, flt) in filters.iter().enumerate() {
        let target = match i % 3 {
            0 => "/me/contacts".to_owned(),
            1 => format!("/me/contactFolders/{f}/contacts"),
            _ => "/me/contactFolders".to_owned(),
        };
        p.send(Req::new(Method::GET, format!("{target}?$filter={}", enc_plus(flt)))).await;
        if i % 3 != 0 {
            p.send(Req::new(Method::GET, format!("/me/contacts?$filter={}", enc_plus(flt)))).await;
        }
    }
    p.send(Req::new(Method::GET, format!("/me/contacts?$filter={}", enc_plus(&max_literal)))).await;
    // `%00` inside values of every option, raw in the URL.
    let raw_queries = [
        "$filter=displayName%20eq%20'a%00b'",
        "$filter=%00",
        "$filter=displayName%00eq%00'a'",
        "$orderby=displayName%00",
        "$orderby=%00",
        "$select=displayName,%00",
        "$select=%00",
        "$top=%00",
        "$top=1%00",
        "$skip=%00",
        "$count=%00",
        "$expand=%00",
        "$search=%00",
        "$skiptoken=%00",
        "$skiptoken=a%00.b",
        "%24filter%00=x",
        "%00=%00",
        "$filter=%ff%fe",
        "$filter=displayName%20eq%20'%ff'",
        "$filter=displayName%20eq%20'%C0%80'",
        "$filter=displayName%20eq%20'%ED%A0%80'",
        "$filter=%",
        "$filter=%%",
        "$filter=%zz",
        "$filter=displayName%20eq%20'%",
        "$top=-1",
        "$top=0",
        "$top=1001",
        "$top=99999999999999999999",
        "$top=18446744073709551615",
        "$top=4294967296",
        "$skip=-1",
        "$skip=18446744073709551615",
        "$skip=18446744073709551616",
        "$skip=9223372036854775808",
        "$skip=9223372036854775807",
        "$skip=9223372036854775806",
        "$skip=4294967296",
        "$skip=2147483648",
        "$skip=99999999999999999999",
        "$skip=1&$skiptoken=garbage",
        "$top=1&$skip=9223372036854775808&$count=true",
        "$orderby=shoeSize",
        "$orderby=shoeSize%20desc",
        "$orderby=displayName%20sideways",
        "$orderby=emailAddresses",
        "$orderby=categories",
        "$orderby=birthday,birthday,birthday",
        "$orderby=displayName,givenName,surname,companyName,birthday,createdDateTime,lastModifiedDateTime,id,jobTitle",
        "$orderby=",
        "$orderby=,",
        "$orderby=%20",
        "$select=",
        "$select=,",
        "$select=*,*",
        "$select=nope",
        "$select=emailAddresses/address",
        "$select=id,id,id",
        "$top=1&$top=2",
        "$filter=true&$filter=true",
        "$filter=true&%24filter=true",
        "$filter=true&filter=true",
        "$top=1&TOP=1",
        "$count=true&$count=false",
        "$skiptoken=",
        "$skiptoken=.",
        "$skiptoken=...",
        "$skiptoken=garbage",
        "$skiptoken=eyJrIjpbXSwicyI6LTF9.AAAAAAAAAAAAAAAAAAAAAA",
        "$skiptoken=%FF%FE.%FF",
        "$expand=",
        "$expand=photo",
        "$expand=extensions",
        "$expand=nonsense($filter=nope)",
        "$expand=a(",
        "$expand=a)",
        "$expand=*($levels=99999999999999999999)",
        "$search=",
        "$search=%22%22",
        "$search=%22",
        "$format=xml",
        "$format=%00",
        "$deltatoken=x",
        "$apply=groupby((displayName))",
        "$levels=max",
        "$=&$$=",
        "&&&",
        "=",
        "?",
        "$filter",
        "$top",
        "$count",
    ];
    for q in raw_queries {
        p.send(Req::new(Method::GET, format!("/me/contacts?{q}"))).await;
        p.send(Req::new(Method::GET, format!("/me/contactFolders?{q}"))).await;
        p.send(Req::new(Method::GET, format!("/me/contacts/{}?{q}", fx.contacts[0]))).await;
    }
    // A deeply nested $expand (beyond the limit) and a long $orderby and $select.
    let deep_expand = format!("{}{}", "a($expand=".repeat(500), ")".repeat(500));
    let long_orderby: Vec<&str> = std::iter::repeat_n("displayName desc", 3_000).collect();
    let orderby_1660: Vec<&str> = std::iter::repeat_n("displayName", 1_660).collect();
    let orderby_1999: Vec<&str> = std::iter::repeat_n("givenName", 1_999).collect();
    let long_select: Vec<&str> = std::iter::repeat_n("givenName", 5_000).collect();
    for q in [
        format!("$expand={}", enc(&deep_expand)),
        format!("$orderby={}", enc_plus(&long_orderby.join(","))),
        format!("$orderby={}", orderby_1660.join(",")),
        format!("$orderby={}", orderby_1999.join(",")),
        format!("$select={}", long_select.join(",")),
        format!("$skiptoken={}", "A".repeat(60_000)),
        format!("$search={}", "s".repeat(60_000)),
        format!("x={}", "y".repeat(60_000)),
    ] {
        p.send(Req::new(Method::GET, format!("/me/contacts?{q}"))).await;
    }
    // Random bytes, percent-encoded, as the whole query string and as option values.
    for _ in 0..40 {
        let b = random_bytes(&mut rng, 200);
        p.send(Req::new(Method::GET, format!("/me/contacts?{}", enc_all(&b)))).await;
        let opt = ["$filter", "$orderby", "$select", "$top", "$skip", "$expand", "$skiptoken", "$count"]
            .choose(&mut rng)
            .unwrap();
        p.send(Req::new(Method::GET, format!("/me/contactFolders?{opt}={}", enc_all(&b)))).await;
    }
    // Valid skiptokens replayed against other queries and collections.
    let first = p.send(Req::new(Method::GET, "/me/contacts?$top=1&$orderby=givenName")).await.unwrap();
    let link = first.body["@odata.nextLink"].as_str().expect("nextLink").to_owned();
    let tok = link.split_once("$skiptoken=").unwrap().1.to_owned();
    for q in [
        format!("$top=1&$orderby=surname&$skiptoken={tok}"),
        format!("$top=1&$skiptoken={tok}"),
        format!("$top=1&$orderby=givenName&$skiptoken={tok}&$skip=9223372036854775808"),
        format!("$top=1&$orderby=givenName&$skiptoken={tok}{tok}"),
        format!("$top=1&$orderby=givenName&$skiptoken={}", tok.get(..tok.len() / 2).unwrap_or_default()),
        format!("$top=1&$orderby=givenName&$skiptoken={tok}%00"),
    ] {
        p.send(Req::new(Method::GET, format!("/me/contacts?{q}"))).await;
        p.send(Req::new(Method::GET, format!("/me/contactFolders?{q}"))).await;
        p.send(Req::new(Method::GET, format!("/me/contactFolders/{f}/contacts?{q}"))).await;
    }
    p.finish("adversarial_queries").await;
}

/// 3. Random and adversarial paths, with every method.
async fn random_paths(s: TestServer) {
    let fx = fixture(&s).await;
    let mut p = Probe::new(&s, &fx.token);
    let mut rng = rng_for(7);
    let methods =
        [Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE, Method::OPTIONS, Method::HEAD];
    let long_id = "A".repeat(10_000);
    let fixed_segments: Vec<String> = vec![
        "contacts".into(),
        "contactFolders".into(),
        "childFolders".into(),
        "permanentDelete".into(),
        "microsoft.graph.permanentDelete".into(),
        "CONTACTS".into(),
        "contacts('')".into(),
        "contacts('".into(),
        "contacts(')".into(),
        "contacts(''')".into(),
        "contacts('a''b')".into(),
        "contacts(\"x\")".into(),
        "contacts(x)".into(),
        "contacts()".into(),
        "contacts((()))".into(),
        format!("contacts('{}')", fx.contacts[0]),
        format!("contacts('{long_id}')"),
        format!("contactFolders('{}')", fx.folders[0]),
        "contactFolders('contacts')".into(),
        "contactFolders('%00')".into(),
        "childFolders('')".into(),
        "%00".into(),
        "%ff".into(),
        "%FF%FE".into(),
        "%C0%AF".into(),
        "%ED%A0%80".into(),
        "%2e%2e".into(),
        "..".into(),
        ".".into(),
        "%2F".into(),
        "%5C".into(),
        "%".into(),
        "%z".into(),
        "%zz".into(),
        "%%".into(),
        "%27".into(),
        "%28%27x%27%29".into(),
        long_id.clone(),
        "AAAAAAAAAAAAAAAAAAAAAA".into(),
        "AAAAAAAAAAAAAAAAAAAA%00A".into(),
        "$value".into(),
        "$count".into(),
        "$ref".into(),
        "$metadata".into(),
        "photo".into(),
        "extensions".into(),
        "delta()".into(),
        "microsoft.graph.delta()".into(),
        "contacts".into(),
        "%E2%80%AE".into(),
        "%F0%9F%99%82".into(),
        fx.contacts[0].clone(),
        fx.contacts[1].to_lowercase(),
        fx.folders[0].clone(),
        fx.folders[1].clone(),
        fx.folders[3].clone(),
    ];
    let owners: Vec<String> = vec![
        "/me".into(),
        "/ME".into(),
        format!("/users/{}", fx.upn),
        format!("/users/{}", fx.user_id),
        format!("/users('{}')", fx.upn),
        format!("/users('{}')", fx.user_id),
        "/users/%00".into(),
        "/users('%00')".into(),
        "/users/%ff".into(),
        "/users/a%00b@x.test".into(),
        "/users/00000000-0000-0000-0000-000000000000".into(),
        format!("/users/{}", "u".repeat(10_000)),
        "/users/'".into(),
        "/users('')".into(),
        "/users(".into(),
        "/users".into(),
        "/users/%27%27".into(),
        "/me('x')".into(),
        "/me%00".into(),
        "".into(),
        "/".into(),
        "//me".into(),
        "/%2e%2e/me".into(),
        "/groups/x".into(),
    ];
    for i in 0..420 {
        let owner = if i % 3 == 0 { owners.choose(&mut rng).unwrap().clone() } else { "/me".to_owned() };
        let n = rng.gen_range(0..5);
        let mut segs = Vec::new();
        for _ in 0..n {
            let seg = match rng.gen_range(0..10) {
                0 => format!("users/{}", enc_all(&random_bytes(&mut rng, 20))),
                1 => enc_all(&random_bytes(&mut rng, 30)),
                2 => enc(&adv_string(&mut rng).chars().take(200).collect::<String>()),
                3 => format!("contacts('{}')", enc(&adv_string(&mut rng).chars().take(60).collect::<String>())),
                _ => fixed_segments.choose(&mut rng).unwrap().clone(),
            };
            segs.push(seg);
        }
        let path = format!("{owner}/{}", segs.join("/"));
        let method = methods[i % methods.len()].clone();
        let mut req = Req::new(method.clone(), path);
        if matches!(method, Method::POST | Method::PATCH | Method::PUT) {
            let body = if rng.gen_bool(0.6) {
                json!({"givenName": "P", "displayName": "PathFolder"})
            } else {
                random_contact_body(&mut rng, &fx.folders)
            };
            req = req.json(&body);
        }
        p.send(req).await;
    }
    // The fixed, named shapes, with every method.
    let root = s.base.trim_end_matches("/v1.0").to_owned();
    let named: Vec<String> = vec![
        "/me/contacts/%00".into(),
        "/me/contacts/%ff".into(),
        "/me/contacts/a%00b".into(),
        format!("/me/contacts/{long_id}"),
        format!("/me/contacts('{long_id}')"),
        "/me/contacts('a''b')".into(),
        "/me/contacts('''')".into(),
        "/me/contacts('%00')".into(),
        "/me/contacts(%27x%27)".into(),
        "/me/contacts('x')/permanentDelete".into(),
        "/me/contactFolders/%00/contacts".into(),
        "/me/contactFolders/%00/childFolders/%00".into(),
        format!("/me/contactFolders/{long_id}/childFolders"),
        format!("/me/contactFolders/{}/childFolders/{}/childFolders/%00/contacts", fx.folders[0], fx.folders[1]),
        format!("/me/contactFolders/{}{}", fx.folders[0], "/childFolders/AAAAAAAAAAAAAAAAAAAAAA".repeat(200)),
        "/users/%00/contacts".into(),
        "/users/%00/contactFolders".into(),
        "/users('%00')/contacts".into(),
        "/users/%ff/contacts".into(),
        "/users/a%00/contacts".into(),
        format!("/users/{}/contacts", "x".repeat(10_000)),
        format!("/users/{}@x.test/contacts", "x".repeat(3_000)),
        "/users/%27/contacts".into(),
        "/users('a''b')/contacts".into(),
        "/users/%2e%2e/contacts".into(),
        "/me/contacts/..".into(),
        "/me/contacts/%2e%2e/%2e%2e/%2e%2e".into(),
        format!("{root}/v1.0%00/me/contacts"),
        format!("{root}/%00/me/contacts"),
        format!("{root}/V1.0/me/contacts"),
        format!("{root}/v1.0//me//contacts//"),
        format!("{root}/"),
        format!("{root}/v1.0"),
        format!("{root}/v1.0/"),
        format!("{root}/beta/me/contacts"),
    ];
    for path in &named {
        for m in &methods {
            let mut req = Req::new(m.clone(), path.clone());
            if matches!(*m, Method::POST | Method::PATCH | Method::PUT) {
                req = req.json(&json!({"givenName": "N"}));
            }
            p.send(req).await;
        }
    }
    // Unauthenticated, on garbage paths too: still the envelope.
    for path in ["/me/contacts/%00", "/users/%00/contacts", "/%ff", "/me/contacts?$filter=%00"] {
        let mut req = Req::new(Method::GET, path);
        req.auth = false;
        p.send(req).await;
    }
    p.finish("random_paths").await;
}

/// Garbage headers (part 4): If-Match, Prefer, Content-Type, Accept, client-request-id, Authorization,
/// Host, including bytes that are not UTF-8.
async fn garbage_headers(s: TestServer) {
    let fx = fixture(&s).await;
    let mut p = Probe::new(&s, &fx.token);
    let c = fx.contacts[0].clone();
    let f = fx.folders[2].clone();
    let long = "x".repeat(8_000);
    let long_etag = format!("W/\"{}\"", "y".repeat(8_000));
    let if_match: Vec<&[u8]> = vec![
        b"garbage",
        b"",
        b"W/",
        b"\"",
        b"W/\"\"",
        b",,,",
        b"*,*",
        b"* , W/\"x\"",
        b"W/\"\\u0000\"",
        b"\xff\xfe",
        b"W/\"\xff\"",
        b"\"'; DROP TABLE contacts; --\"",
        b"W/\"%00\"",
        long.as_bytes(),
        long_etag.as_bytes(),
    ];
    for v in &if_match {
        for m in [Method::PATCH, Method::DELETE, Method::GET] {
            let mut req = Req::new(m.clone(), format!("/me/contacts/{c}")).header("If-Match", v);
            if m == Method::PATCH {
                req = req.json(&json!({"jobTitle": "IfMatch"}));
            }
            p.send(req).await;
        }
        p.send(
            Req::new(Method::PATCH, format!("/me/contactFolders/{f}"))
                .header("If-Match", v)
                .json(&json!({"displayName": "F3"})),
        )
        .await;
        p.send(
            Req::new(Method::PATCH, format!("/me/contacts/{c}"))
                .header("If-None-Match", v)
                .json(&json!({"jobTitle": "x"})),
        )
        .await;
    }
    let prefer: Vec<&[u8]> = vec![
        b"odata.maxpagesize=0",
        b"odata.maxpagesize=-1",
        b"odata.maxpagesize=99999999999999999999",
        b"odata.maxpagesize=18446744073709551615",
        b"odata.maxpagesize",
        b"odata.maxpagesize=",
        b"odata.maxpagesize=\"\"",
        b"odata.maxpagesize=1, odata.maxpagesize=2",
        b"IdType=",
        b"IdType=\"ImmutableId\"",
        b"IdType=\"RestId\"",
        b"return=minimal",
        b"return=representation",
        b"respond-async",
        b"outlook.timezone=\"Mars/Olympus\"",
        b"outlook.body-content-type=\"xml\"",
        b",,,=,=",
        b"=",
        b"\xff\xfe",
        b"odata.maxpagesize=\xff",
        long.as_bytes(),
    ];
    for v in &prefer {
        p.send(Req::new(Method::GET, "/me/contacts").header("Prefer", v)).await;
        p.send(Req::new(Method::GET, "/me/contactFolders?$top=2").header("Prefer", v)).await;
        p.send(Req::new(Method::POST, "/me/contacts").header("Prefer", v).json(&json!({"givenName": "Pref"}))).await;
        p.send(Req::new(Method::GET, format!("/me/contacts/{c}")).header("Prefer", v)).await;
    }
    let content_types: &[&[u8]] = &[
        b"",
        b"application/json; charset=utf-16",
        b"application/json; charset=garbage",
        b"application/json;;;",
        b"application/json, text/html",
        b"APPLICATION/JSON",
        b"application/merge-patch+json",
        b"application/vnd.api+json",
        b"text/plain",
        b"text/html",
        b"application/xml",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"*/*",
        b"json",
        b";",
        b"/",
        b"\xff\xfe",
        b"application/\xffjson",
        long.as_bytes(),
    ];
    for ct in content_types {
        let body = serde_json::to_vec(&json!({"givenName": "CT"})).unwrap();
        for (m, path) in [
            (Method::POST, "/me/contacts".to_owned()),
            (Method::PATCH, format!("/me/contacts/{c}")),
            (Method::POST, "/me/contactFolders".to_owned()),
            (Method::DELETE, "/me/contacts/AAAAAAAAAAAAAAAAAAAAAA".to_owned()),
            (Method::GET, "/me/contacts".to_owned()),
        ] {
            let mut req = Req::new(m, path).header("Content-Type", ct);
            req.body = Some(body.clone());
            p.send(req).await;
        }
    }
    let others: Vec<(&str, &[u8])> = vec![
        ("Accept", b"application/xml"),
        ("Accept", b"text/html"),
        ("Accept", b"application/json;odata.metadata=none"),
        ("Accept", b"application/json;odata.metadata=full;IEEE754Compatible=true"),
        ("Accept", b"\xff"),
        ("Accept-Charset", b"utf-16"),
        ("Accept-Encoding", b"gzip, br, zstd, garbage"),
        ("Accept-Language", b"\xff\xfe"),
        ("client-request-id", b"\xff\xfe"),
        ("client-request-id", b"not-a-guid"),
        ("client-request-id", long.as_bytes()),
        ("client-request-id", b"\"quoted\" <tag>"),
        ("request-id", b"spoofed"),
        ("Authorization", b"Bearer \xff\xfe"),
        ("Authorization", b"\xff"),
        ("Authorization", long.as_bytes()),
        ("Host", b"evil.test:99999"),
        ("Host", b"[::1"),
        ("Host", b"a b"),
        ("Host", b"\xff"),
        ("Host", b"x'y\"z<>"),
        ("X-HTTP-Method-Override", b"DELETE"),
        ("X-HTTP-Method", b"PATCH"),
        ("Content-Encoding", b"gzip"),
        ("Content-Encoding", b"\xff"),
        ("OData-Version", b"2.0"),
        ("OData-MaxVersion", b"garbage"),
        ("ConsistencyLevel", b"eventual"),
        ("Range", b"bytes=0-1"),
        ("Expect", b"100-continue"),
        ("Cookie", b"\xff=\xff"),
    ];
    for (name, v) in &others {
        let mut get = Req::new(Method::GET, "/me/contacts?$top=1");
        let mut post = Req::new(Method::POST, "/me/contacts").json(&json!({"givenName": "Hdr"}));
        let mut err = Req::new(Method::GET, "/me/contacts/AAAAAAAAAAAAAAAAAAAAAA");
        if *name == "Authorization" {
            get.auth = false;
            post.auth = false;
            err.auth = false;
        }
        p.send(get.header(name, v)).await;
        p.send(post.header(name, v)).await;
        p.send(err.header(name, v)).await;
    }
    // Many repeated headers, within the HTTP layer's limit of 100 headers a request.
    let mut req = Req::new(Method::GET, "/me/contacts");
    for _ in 0..30 {
        req = req.header("Prefer", b"odata.maxpagesize=1").header("If-Match", b"*").header("client-request-id", b"x");
    }
    p.send(req).await;
    p.finish("garbage_headers").await;
    // Past that limit the request is refused by the HTTP layer before Rolo sees it, as a proxy
    // would: 431 with no body (documented in docs/COMPATIBILITY.md).
    let mut many = s.client.get(format!("{}/me/contacts", s.base));
    for i in 0..150 {
        many = many.header(format!("x-extra-{i}"), "1");
    }
    assert_eq!(many.send().await.expect("request").status().as_u16(), 431);
}

/// A sanity check of the checker itself against known-good error responses.
async fn checker_accepts_envelopes(s: TestServer) {
    let (_, t) = s.login("check@contoso.test").await;
    let r = s.get("/me/contacts/AAAAAAAAAAAAAAAAAAAAAA", &t).await;
    assert_graph_outcome(&Method::GET, &r);
    assert_eq!(r.status, 404);
    let ok = s.get("/me/contacts", &t).await;
    assert_graph_outcome(&Method::GET, &ok);
    let fake = Resp {
        status: reqwest::StatusCode::BAD_REQUEST,
        headers: Default::default(),
        body: json!({}),
        text: "{}".into(),
    };
    assert!(graph_outcome_problem(&Method::GET, &fake).is_some());
}

both_backends!(
    checker_accepts_envelopes,
    arbitrary_unicode_everywhere,
    random_contact_bodies,
    random_folder_bodies,
    adversarial_bodies,
    random_queries,
    adversarial_queries,
    random_paths,
    garbage_headers,
);
