//! The CardDAV front-end's one error type: a status and, where RFC 4918/6352/6578 define one, a
//! precondition element rendered as a `<D:error>` body. Graph errors from the store map onto it;
//! internal causes are logged, never sent.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rolo_domain::{ErrorKind, GraphError};

use super::xml::{escape, DECL, NAMESPACES};

#[derive(Debug, Clone)]
pub struct DavError {
    pub status: u16,
    /// The precondition element(s) inside `<D:error>`, already XML (`<C:valid-address-data/>`).
    pub condition: Option<String>,
    pub message: String,
    pub retry_after: Option<u64>,
}

pub type DavResult<T> = Result<T, DavError>;

impl DavError {
    pub fn new(status: u16, message: impl Into<String>) -> DavError {
        DavError { status, condition: None, message: message.into(), retry_after: None }
    }

    pub fn with(status: u16, condition: &str, message: impl Into<String>) -> DavError {
        DavError { status, condition: Some(condition.to_owned()), message: message.into(), retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> DavError {
        DavError::new(400, message)
    }

    pub fn not_found() -> DavError {
        DavError::new(404, "No such resource.")
    }

    pub fn need_privileges() -> DavError {
        DavError::with(403, "<D:need-privileges/>", "The caller may not do this here.")
    }

    pub fn precondition_failed() -> DavError {
        DavError::new(412, "The resource's ETag does not match the condition.")
    }

    pub fn unauthenticated() -> DavError {
        DavError::new(401, "Credentials are needed: an app password (Basic) or a bearer token.")
    }

    pub fn valid_address_data(why: &str) -> DavError {
        DavError::with(403, "<C:valid-address-data/>", format!("The vCard was not accepted: {why}"))
    }
}

impl From<GraphError> for DavError {
    fn from(e: GraphError) -> DavError {
        let status = e.status();
        let mut out = match e.kind {
            ErrorKind::Forbidden => DavError::need_privileges(),
            ErrorKind::Unauthorized => DavError::unauthenticated(),
            ErrorKind::Internal => {
                tracing::error!(code = %e.code, cause = ?e.cause, "carddav request failed");
                DavError::new(500, "Internal error.")
            }
            _ => DavError::new(status, e.message.clone()),
        };
        out.retry_after = e.retry_after;
        out
    }
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = match &self.condition {
            Some(c) => {
                let body = format!(
                    "{DECL}\n<D:error {NAMESPACES}>{c}<D:responsedescription>{}</D:responsedescription></D:error>",
                    escape(&self.message)
                );
                let mut r = Response::new(Body::from(body));
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
                r
            }
            None => {
                let mut r = Response::new(Body::from(format!("{}\n", self.message)));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
                r
            }
        };
        *resp.status_mut() = status;
        if self.status == 401 {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Rolo\", charset=\"UTF-8\""));
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
