//! Request ids: every response carries `request-id` and `client-request-id` (the client's own
//! value when it sent one), also inside error bodies; logs carry the request id.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

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
    let span = tracing::debug_span!("request", request_id = %ids.request_id);
    let mut resp = CURRENT.scope(ids.clone(), tracing::Instrument::instrument(next.run(req), span)).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ids.request_id) {
        h.insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&ids.client_request_id) {
        h.insert("client-request-id", v);
    }
    let status = resp.status().as_u16();
    if status >= 400 {
        tracing::info!(request_id = %ids.request_id, method = %method, path = %path, status, "request failed");
    } else {
        tracing::debug!(request_id = %ids.request_id, method = %method, path = %path, status, "served");
    }
    resp
}
