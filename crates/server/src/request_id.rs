//! Request ids: every response carries `request-id` and `client-request-id` (the client's own
//! value when it sent one), also inside error bodies; logs carry the request id.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;

#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

tokio::task_local! {
    static CURRENT: RequestIds;
}

impl RequestIds {
    /// The ids of the request being served on this task.
    pub fn current() -> RequestIds {
        CURRENT.try_with(Clone::clone).unwrap_or_else(|_| {
            let id = rolo_domain::ids::new_guid();
            RequestIds { request_id: id.clone(), client_request_id: id }
        })
    }
}

pub async fn middleware(req: Request, next: Next) -> Response {
    let request_id = rolo_domain::ids::new_guid();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let ids = RequestIds { request_id, client_request_id };
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    // At info level, so every line logged while serving the request (JSON logs included) carries
    // its id, the request's own closing line too.
    let span = tracing::info_span!("request", request_id = %ids.request_id);
    let served = async move {
        let resp = match AssertUnwindSafe(next.run(req)).catch_unwind().await {
            Ok(resp) => resp,
            Err(panic) => panicked(&method, &path, panic.as_ref()),
        };
        let status = resp.status().as_u16();
        if status >= 400 {
            tracing::info!(method = %method, path = %path, status, "request failed");
        } else {
            tracing::debug!(method = %method, path = %path, status, "served");
        }
        resp
    };
    let mut resp = CURRENT.scope(ids.clone(), tracing::Instrument::instrument(served, span)).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ids.request_id) {
        h.insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&ids.client_request_id) {
        h.insert("client-request-id", v);
    }
    resp
}

/// The last resort when a handler panics: the client gets Graph's 500 envelope (with the
/// request id, as every error does) instead of a dropped connection, and the log gets the panic
/// with the request id. Rolo's goal stays zero panics; this only keeps one from going unseen.
fn panicked(method: &axum::http::Method, path: &str, panic: &(dyn Any + Send)) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    let ids = RequestIds::current();
    tracing::error!(method = %method, path = %path, panic = %what, "handler panicked");
    crate::error::error_response(&rolo_domain::GraphError::internal(what), &ids)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::Router;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_graphs_500_envelope_with_the_request_id() {
        async fn boom() -> &'static str {
            panic!("boom at byte 6")
        }
        let app = Router::new().fallback(boom).layer(axum::middleware::from_fn(super::middleware));
        let req = axum::http::Request::get("/v1.0/me").header("client-request-id", "c-1").body(Body::empty()).unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let request_id = resp.headers()["request-id"].to_str().unwrap().to_owned();
        let body: serde_json::Value =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(body["error"]["code"], "generalException");
        assert_eq!(body["error"]["message"], "An internal server error occurred.");
        assert_eq!(body["error"]["innerError"]["request-id"], request_id.as_str());
        assert_eq!(body["error"]["innerError"]["client-request-id"], "c-1");
        // The panic's text is for the log only.
        assert!(!body.to_string().contains("boom"));
    }
}
