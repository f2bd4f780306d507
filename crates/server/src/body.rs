//! Request bodies: Graph's size limit (an oversized upload is drained so the client sees the
//! 413), content codings, and JSON parsing with Graph's errors.

use axum::body::Body;
use axum::http::{header, HeaderMap};
use http_body_util::BodyExt;
use rolo_domain::{ErrorKind, GraphError, GraphResult};
use serde_json::Value;

/// Graph's limit on a request body.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Reads and discards a request body, up to the drain limit.
pub(crate) async fn drain(mut body: Body) {
    let mut total: u64 = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if total > DRAIN_LIMIT {
                break;
            }
        }
    }
}

fn too_large() -> GraphError {
    GraphError::new(
        ErrorKind::PayloadTooLarge,
        "RequestEntityTooLarge",
        format!("The request body is larger than the maximum of {MAX_BODY_BYTES} bytes."),
    )
}

/// How much of an oversized body is read and thrown away so the client sees the 413 rather than
/// a connection reset mid-upload; past this the connection is simply dropped.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// Reads a request body within Graph's 4 MB limit. An oversized body is drained, not kept.
pub(crate) async fn read_body(headers: &HeaderMap, mut body: Body) -> GraphResult<Vec<u8>> {
    // gzip bodies arrive here inflated (the router's decompression layer drops the header);
    // any other coding is refused rather than read as if it were JSON.
    if let Some(coding) = headers.get(header::CONTENT_ENCODING) {
        let coding = coding.to_str().unwrap_or("").trim();
        if !coding.eq_ignore_ascii_case("identity") {
            return Err(GraphError::new(
                ErrorKind::UnsupportedMediaType,
                "UnsupportedMediaType",
                format!("The content encoding '{coding}' is not supported; send gzip or no encoding."),
            ));
        }
    }
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > DRAIN_LIMIT) {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(MAX_BODY_BYTES as u64) as usize);
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| GraphError::bad_request("BadRequest", "The request body could not be read."))?;
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if total > DRAIN_LIMIT {
                break;
            }
            if total <= MAX_BODY_BYTES as u64 {
                bytes.extend_from_slice(&data);
            }
        }
    }
    if total > MAX_BODY_BYTES as u64 {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The media type of a request body, lower-cased and without parameters (empty when absent).
pub fn content_type(headers: &HeaderMap) -> String {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Parses a JSON body; an empty body reads as `{}`.
pub(crate) fn parse_json(headers: &HeaderMap, bytes: &[u8]) -> GraphResult<Value> {
    let mime = content_type(headers);
    if !(mime.is_empty() || mime == "application/json" || mime.ends_with("+json") || mime == "text/plain") {
        return Err(GraphError::new(
            ErrorKind::UnsupportedMediaType,
            "UnsupportedMediaType",
            format!("The content type '{mime}' is not supported; send application/json."),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(bytes).map_err(|_| {
        GraphError::bad_request(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )
    })
}
