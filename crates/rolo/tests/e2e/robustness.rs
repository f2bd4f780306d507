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

#[path = "robustness/adversarial.rs"]
mod adversarial;
#[path = "robustness/generators.rs"]
mod generators;
#[path = "robustness/unicode.rs"]
mod unicode;
#[path = "robustness/wire.rs"]
mod wire;

use adversarial::{adversarial_bodies, adversarial_queries};
use generators::*;
use unicode::arbitrary_unicode_everywhere;
use wire::{garbage_headers, random_paths};

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
