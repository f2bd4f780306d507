//! JSON batching: `POST /v1.0/$batch` with up to 20 requests. Each inner request runs through the
//! same router as a top-level one (so it is authenticated, authorized and answered exactly the
//! same way), in an order that honours `dependsOn`; independent requests run up to 4 at a time,
//! as Graph sends them to Outlook. A request whose dependency failed gets 424.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::BodyExt;
use rolo_domain::text::strip_prefix_ignore_ascii_case;
use rolo_domain::ApiVersion;
use rolo_domain::{ErrorKind, GraphError, GraphResult};
use serde_json::{json, Map, Value};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::response::json_status;
use crate::AppState;

pub const MAX_REQUESTS: usize = 20;
const MAX_CONCURRENT: usize = 4;

struct Inner {
    id: String,
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    depends_on: Vec<String>,
}

fn malformed(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("BadRequest", message)
}

/// Where a batch may send its requests: the URL roots (`http://host`, the public URL) that are
/// this service, for the absolute URLs some SDKs put in each request.
pub struct Origins(pub Vec<String>);

impl Origins {
    /// The request's own host (under either scheme, since a proxy may end TLS in front of Rolo)
    /// and the configured public URL.
    pub fn new(host: Option<&str>, public_url: Option<&str>) -> Origins {
        let mut roots = Vec::new();
        if let Some(host) = host.filter(|h| !h.is_empty()) {
            roots.push(format!("http://{host}"));
            roots.push(format!("https://{host}"));
        }
        if let Some(public) = public_url {
            roots.push(public.trim_end_matches('/').to_owned());
        }
        Origins(roots)
    }
}

/// An inner request's URL below the batch's version root (`me/contacts?$top=1`). Clients send
/// it relative with or without a leading `/` (Graph's examples), with a version prefix (the
/// JavaScript client's `BatchRequestContent`), or absolute (the Python SDK): an absolute URL
/// must be on this service and carry the version, and a version must be the batch's own.
fn relative_url(id: &str, raw: &str, version: ApiVersion, origins: &Origins) -> GraphResult<String> {
    let refused = || {
        malformed(format!(
            "The URL '{raw}' of request '{id}' is not valid: give it relative to the version root (/me/contacts), or absolute on this service."
        ))
    };
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    let (rest, absolute) = if path.contains("://") {
        let tail = origins
            .0
            .iter()
            .find_map(|root| strip_prefix_ignore_ascii_case(raw, root).filter(|tail| tail.starts_with('/')))
            .ok_or_else(refused)?;
        (tail, true)
    } else {
        (raw, false)
    };
    let rest = rest.trim_start_matches('/');
    let seg_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (first, tail) = rest.split_at(seg_end);
    match ApiVersion::from_segment(first) {
        Some(v) if v == version => Ok(tail.trim_start_matches('/').to_owned()),
        Some(_) => Err(malformed(format!(
            "The URL '{raw}' of request '{id}' names another API version than the batch's ('{}').",
            version.segment()
        ))),
        None if absolute => Err(refused()),
        None => Ok(rest.to_owned()),
    }
}

/// A header value as a string; the Python SDK sends each header as a list of values.
fn header_value(v: &Value) -> Option<HeaderValue> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(Value::as_str).collect::<Option<Vec<_>>>()?.join(", "),
        _ => return None,
    };
    HeaderValue::from_str(&text).ok()
}

fn parse(body: &Value, version: ApiVersion, origins: &Origins) -> GraphResult<Vec<Inner>> {
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("The batch request must be an object with a 'requests' array."))?;
    if requests.is_empty() {
        return Err(malformed("The batch request holds no requests."));
    }
    if requests.len() > MAX_REQUESTS {
        return Err(malformed(format!("Number of requests inside batch exceeds the limit of {MAX_REQUESTS}.")));
    }
    let mut out = Vec::with_capacity(requests.len());
    let mut seen = HashSet::new();
    for r in requests {
        let field = |name: &str| r.get(name).and_then(Value::as_str).map(str::to_owned);
        let id = field("id").ok_or_else(|| malformed("Every batch request needs a string 'id'."))?;
        if !seen.insert(id.to_lowercase()) {
            return Err(malformed(format!("Batch request ids must be unique; '{id}' is repeated.")));
        }
        let method = field("method")
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| malformed(format!("Request '{id}' needs a valid 'method'.")))?;
        let raw_url = field("url").ok_or_else(|| malformed(format!("Request '{id}' needs a 'url'.")))?;
        let url = relative_url(&id, &raw_url, version, origins)?;
        let mut headers = Vec::new();
        match r.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                for (k, v) in h {
                    // Header names match case-insensitively (`HeaderName` is lower-case).
                    let name = HeaderName::from_bytes(k.as_bytes())
                        .map_err(|_| malformed(format!("Bad header name '{k}'.")))?;
                    let value = header_value(v).ok_or_else(|| malformed(format!("Bad value for header '{k}'.")))?;
                    headers.push((name, value));
                }
            }
            Some(_) => return Err(malformed(format!("The headers of request '{id}' must be an object."))),
        }
        let content_type = headers.iter().find(|(n, _)| *n == header::CONTENT_TYPE).map(|(_, v)| v.clone());
        let body = match r.get("body") {
            None | Some(Value::Null) => None,
            Some(b) => {
                let ct = content_type
                    .as_ref()
                    .ok_or_else(|| malformed(format!("Request '{id}' has a body but no Content-Type header.")))?;
                let json_body = ct.to_str().unwrap_or("").to_ascii_lowercase().contains("json");
                Some(match (b, json_body) {
                    // A binary body (a photo) travels base64-encoded.
                    (Value::String(s), false) => STANDARD
                        .decode(s)
                        .map_err(|_| malformed(format!("The body of request '{id}' is not base64.")))?,
                    (other, _) => serde_json::to_vec(other).map_err(GraphError::internal)?,
                })
            }
        };
        // The Python SDK spells it `depends_on`.
        let depends_on = match r.get("dependsOn").or_else(|| r.get("depends_on")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|d| d.as_str().map(str::to_owned).ok_or_else(|| malformed("'dependsOn' must list request ids.")))
                .collect::<GraphResult<_>>()?,
            Some(_) => return Err(malformed("'dependsOn' must be an array of request ids.")),
        };
        out.push(Inner { id, method, url, headers, body, depends_on });
    }
    // Every dependency must exist, and they must not form a cycle.
    let ids: HashMap<String, usize> = out.iter().enumerate().map(|(i, r)| (r.id.to_lowercase(), i)).collect();
    for r in &out {
        for d in &r.depends_on {
            if !ids.contains_key(&d.to_lowercase()) {
                return Err(malformed(format!("Request '{}' depends on '{d}', which is not in the batch.", r.id)));
            }
        }
    }
    let mut state = vec![0u8; out.len()]; // 0 new, 1 visiting, 2 done
    fn visit(i: usize, out: &[Inner], ids: &HashMap<String, usize>, state: &mut [u8]) -> bool {
        match state[i] {
            1 => return false,
            2 => return true,
            _ => {}
        }
        state[i] = 1;
        for d in &out[i].depends_on {
            if !visit(ids[&d.to_lowercase()], out, ids, state) {
                return false;
            }
        }
        state[i] = 2;
        true
    }
    for i in 0..out.len() {
        if !visit(i, &out, &ids, &mut state) {
            return Err(malformed("The dependsOn references of the batch form a cycle."));
        }
    }
    Ok(out)
}

/// Runs one inner request through the router and renders it as a batch response entry.
async fn run_one(state: Arc<AppState>, outer: HeaderMap, version: ApiVersion, r: Inner) -> (String, Entry, bool) {
    let url = format!("/{}/{}", version.segment(), r.url);
    let nested = url.split('?').next().unwrap_or("").trim_end_matches('/').to_ascii_lowercase().ends_with("/$batch");
    if nested {
        let e = GraphError::bad_request("BadRequest", "A batch cannot hold another batch.");
        return (r.id.clone(), entry(&r.id, 400, error_headers(), EntryBody::Value(error_body(&e))), false);
    }
    let mut req = Request::builder().method(r.method).uri(&url);
    for name in [header::AUTHORIZATION, header::HOST] {
        if let Some(v) = outer.get(&name) {
            req = req.header(name, v);
        }
    }
    for (k, v) in r.headers {
        req = req.header(k, v);
    }
    let req = match req.body(Body::from(r.body.unwrap_or_default())) {
        Ok(req) => req,
        Err(_) => {
            let e = GraphError::bad_request("BadRequest", format!("The URL of request '{}' is not valid.", r.id));
            return (r.id.clone(), entry(&r.id, 400, error_headers(), EntryBody::Value(error_body(&e))), false);
        }
    };
    let resp = match crate::router(state).oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    let status = resp.status().as_u16();
    let mut headers = Map::new();
    for (k, v) in resp.headers() {
        if let Ok(v) = v.to_str() {
            headers.insert(header_case(k.as_str()), json!(v));
        }
    }
    let content_type =
        resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body = if bytes.is_empty() {
        EntryBody::Value(Value::Null)
    } else if content_type.contains("json") {
        // The handler's JSON goes into the batch response as it was written: checked (without
        // building a tree) instead of parsed and written again, which was a create's largest
        // per-item cost inside a batch.
        if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
            EntryBody::Json(bytes)
        } else {
            EntryBody::Value(Value::Null)
        }
    } else if content_type.starts_with("text/") {
        // Text (a `$count`) travels as itself; only binary bodies are base64-encoded.
        EntryBody::Value(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    } else {
        EntryBody::Value(Value::String(STANDARD.encode(&bytes)))
    };
    (r.id.clone(), entry(&r.id, status, headers, body), (200..300).contains(&status))
}

/// An inner response's body: JSON as the inner handler wrote it, or a value built here.
enum EntryBody {
    Json(axum::body::Bytes),
    Value(Value),
}

/// One entry of the batch's `responses`, written as `{"id","status","headers","body"}`.
struct Entry {
    id: String,
    status: u16,
    headers: Map<String, Value>,
    body: EntryBody,
}

fn entry(id: &str, status: u16, headers: Map<String, Value>, body: EntryBody) -> Entry {
    Entry { id: id.to_owned(), status, headers, body }
}

impl Entry {
    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"id\":");
        serde_json::to_writer(&mut *out, &self.id)?;
        out.extend_from_slice(format!(",\"status\":{},\"headers\":", self.status).as_bytes());
        serde_json::to_writer(&mut *out, &self.headers)?;
        out.extend_from_slice(b",\"body\":");
        match &self.body {
            EntryBody::Json(raw) => out.extend_from_slice(raw),
            EntryBody::Value(v) => serde_json::to_writer(&mut *out, v)?,
        }
        out.push(b'}');
        Ok(())
    }
}

/// Header names as Graph writes them inside batch responses (`Content-Type`, `OData-Version`,
/// `ETag`): clients such as the JavaScript SDK look them up case-sensitively.
fn header_case(name: &str) -> String {
    match name {
        "etag" => "ETag".into(),
        "odata-version" => "OData-Version".into(),
        _ => name
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// The headers of an error entry the batch itself produces (a 424, a refused request).
fn error_headers() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Content-Type".into(), json!("application/json"));
    m
}

fn error_body(e: &GraphError) -> Value {
    let ids = crate::request_id::RequestIds::current();
    json!({"error": {"code": e.code, "message": e.message, "innerError": {
        "date": rolo_domain::time::error_date(), "request-id": ids.request_id, "client-request-id": ids.client_request_id}}})
}

/// `POST /v1.0/$batch`
pub async fn handle(
    state: Arc<AppState>,
    outer: HeaderMap,
    version: ApiVersion,
    origins: Origins,
    body: Value,
) -> GraphResult<Response> {
    let requests = parse(&body, version, &origins)?;
    let order: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
    let mut pending: Vec<Inner> = requests;
    let mut results: HashMap<String, (Entry, bool)> = HashMap::new();
    while !pending.is_empty() {
        // Requests whose dependencies all finished: failed dependencies make them fail with 424.
        let (ready, waiting): (Vec<Inner>, Vec<Inner>) = pending
            .into_iter()
            .partition(|r| r.depends_on.iter().all(|d| results.keys().any(|k| k.eq_ignore_ascii_case(d))));
        pending = waiting;
        let mut running = JoinSet::new();
        for r in ready {
            let failed_dependency =
                r.depends_on.iter().any(|d| results.iter().any(|(k, (_, ok))| k.eq_ignore_ascii_case(d) && !ok));
            if failed_dependency {
                let e =
                    GraphError::new(ErrorKind::BadRequest, "FailedDependency", "A request this one depends on failed.");
                results.insert(
                    r.id.clone(),
                    (entry(&r.id, 424, error_headers(), EntryBody::Value(error_body(&e))), false),
                );
                continue;
            }
            while running.len() >= MAX_CONCURRENT {
                if let Some(Ok((id, v, ok))) = running.join_next().await {
                    results.insert(id, (v, ok));
                }
            }
            running.spawn(run_one(state.clone(), outer.clone(), version, r));
        }
        while let Some(done) = running.join_next().await {
            let (id, v, ok) = done.map_err(GraphError::internal)?;
            results.insert(id, (v, ok));
        }
    }
    let mut body = Vec::with_capacity(order.len() * 2048);
    body.extend_from_slice(b"{\"responses\":[");
    for (i, (entry, _)) in order.iter().filter_map(|id| results.remove(id)).enumerate() {
        if i > 0 {
            body.push(b',');
        }
        entry.write(&mut body).map_err(GraphError::internal)?;
    }
    body.extend_from_slice(b"]}");
    Ok(json_status(StatusCode::OK, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_urls_resolve_below_the_version_root() {
        let origins = Origins::new(Some("rolo.test:8080"), Some("https://graph.example/api/"));
        let v1 = ApiVersion::V1;
        let ok = |raw: &str| relative_url("1", raw, v1, &origins).unwrap();
        assert_eq!(ok("/me/contacts?$top=1"), "me/contacts?$top=1");
        assert_eq!(ok("me/contacts"), "me/contacts");
        assert_eq!(ok("/v1.0/me/contacts"), "me/contacts");
        assert_eq!(ok("v1.0/me/contacts"), "me/contacts");
        assert_eq!(
            ok("http://rolo.test:8080/v1.0/me/contacts?$filter=a eq 'http://x'"),
            "me/contacts?$filter=a eq 'http://x'"
        );
        assert_eq!(ok("HTTPS://Rolo.Test:8080/V1.0/me"), "me");
        assert_eq!(ok("https://graph.example/api/v1.0/me/contacts"), "me/contacts");
        assert_eq!(ok("/me/contacts?next=https://elsewhere/x"), "me/contacts?next=https://elsewhere/x");
        for bad in [
            "/beta/me/contacts",
            "http://rolo.test:8080/beta/me",
            "http://rolo.test:8080/me/contacts",
            "http://rolo.test:80800/v1.0/me",
            "https://graph.microsoft.com/v1.0/me",
            "https://graph.example/v1.0/me",
            "ftp://rolo.test:8080/v1.0/me",
        ] {
            assert_eq!(relative_url("1", bad, v1, &origins).unwrap_err().code, "BadRequest", "{bad}");
        }
        assert_eq!(relative_url("1", "/beta/me", ApiVersion::Beta, &origins).unwrap(), "me");
        // Without a Host header or public URL, nothing absolute is this server.
        assert!(relative_url("1", "http://rolo.test:8080/v1.0/me", v1, &Origins::new(None, None)).is_err());
    }

    /// An entry written from the inner handler's bytes is what serializing the parsed body
    /// wrote before (same keys, order and values), and built bodies are serialized as values.
    #[test]
    fn entries_are_written_as_json_objects() {
        let mut headers = Map::new();
        headers.insert("Content-Type".into(), json!("application/json"));
        headers.insert("ETag".into(), json!("W/\"a\\\"b\""));
        let raw = br#"{"@odata.context":"x","id":"AA\u00e9=","n":[1,2.5,null],"o":{"b":true}}"#;
        let parsed: Value = serde_json::from_slice(raw).unwrap();
        let mut out = Vec::new();
        entry("1\"x", 201, headers.clone(), EntryBody::Json(axum::body::Bytes::from_static(raw)))
            .write(&mut out)
            .unwrap();
        let written: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(written, json!({"id": "1\"x", "status": 201, "headers": headers, "body": parsed}));
        let keys: Vec<&String> = written.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "status", "headers", "body"]);
        let mut out = Vec::new();
        entry("2", 204, Map::new(), EntryBody::Value(Value::Null)).write(&mut out).unwrap();
        assert_eq!(out, br#"{"id":"2","status":204,"headers":{},"body":null}"#);
    }

    #[test]
    fn sdk_additions_are_tolerated() {
        let origins = Origins::new(Some("h"), None);
        let body = serde_json::json!({"requests": [
            {"id": "a", "method": "post", "url": "http://h/v1.0/me/contacts", "depends_on": [],
             "headers": {"content-type": ["application/json"], "Accept": "application/json"}, "body": {"givenName": "X"}},
            {"id": "b", "method": "GET", "url": "/me/contacts", "depends_on": ["a"], "headers": null}
        ]});
        let parsed = parse(&body, ApiVersion::V1, &origins).unwrap();
        assert_eq!(parsed[0].method, Method::POST);
        assert_eq!(parsed[0].url, "me/contacts");
        assert_eq!(parsed[0].headers[0], (header::CONTENT_TYPE, HeaderValue::from_static("application/json")));
        assert_eq!(parsed[1].depends_on, ["a"]);
        assert!(parsed[1].headers.is_empty());
    }
}
