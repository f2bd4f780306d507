//! Rendering [`GraphError`] as Graph's error envelope, with the request's ids.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rolo_domain::{ErrorKind, GraphError};
use serde_json::json;

use crate::request_id::RequestIds;

/// A [`GraphError`] on its way to the client. Handlers return `Result<Response, ApiError>`.
#[derive(Debug)]
pub struct ApiError(pub GraphError);

impl From<GraphError> for ApiError {
    fn from(e: GraphError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(&self.0, &RequestIds::current())
    }
}

pub fn error_response(e: &GraphError, ids: &RequestIds) -> Response {
    if e.kind == ErrorKind::Internal {
        tracing::error!(request_id = %ids.request_id, cause = e.cause.as_deref().unwrap_or(""), "internal error");
    }
    let body = json!({
        "error": {
            "code": e.code,
            "message": e.message,
            "innerError": {
                "date": rolo_domain::time::error_date(),
                "request-id": ids.request_id,
                "client-request-id": ids.client_request_id,
            }
        }
    });
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, crate::response::json_body(body.to_string())).into_response();
    if let Some(secs) = e.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    if let Some(methods) = e.allow {
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(methods));
    }
    if e.kind == ErrorKind::Unauthorized {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
    }
    resp
}
