//! Building Graph-shaped successful responses.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

pub const JSON_CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// A response with a JSON body and Graph's standard headers.
pub fn json_body(body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    let h = resp.headers_mut();
    // Room for these three, the ETag and the two request ids, so the map is allocated once
    // instead of grown and rehashed on the way.
    h.reserve(8);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    resp
}

pub fn json_status(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = json_body(body);
    *resp.status_mut() = status;
    resp
}

/// A JSON value as a response with `status` and Graph's standard headers.
pub fn json_value(status: StatusCode, body: &Value) -> rolo_domain::GraphResult<Response> {
    Ok(json_status(status, serde_json::to_vec(body).map_err(rolo_domain::GraphError::internal)?))
}

pub fn no_content() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    resp
}

/// Puts a header on a response (values we build are always valid header text).
pub fn with_header(mut resp: Response, name: &'static str, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
    resp
}

/// `If-Match: W/"ck1", "ck2"` → the change keys; `*` stays as is.
pub(crate) fn if_match(headers: &HeaderMap) -> Option<Vec<String>> {
    let values: Vec<String> = headers
        .get_all(header::IF_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"').to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    (!values.is_empty()).then_some(values)
}

/// `value` with `@odata.context` first.
pub(crate) fn with_context(context: String, value: Value) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    if let Value::Object(mut m) = value {
        out.append(&mut m);
    }
    Value::Object(out)
}
