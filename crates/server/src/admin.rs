//! The emulator's controls under `/rolo/admin/` (served only by `rolo serve --emulator` and
//! `rolo demo`, and without authentication, as local emulators are): reset and seed the state,
//! snapshot and restore it, and switch fidelity behaviours (throttling, injected faults, delta-token
//! expiry).

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::{ErrorKind, GraphError, GraphResult};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::response::{json_status, no_content};
use crate::AppState;

/// Requests answered with an error instead of being served, to test clients' retry logic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// The fraction of Graph requests (0 to 1) that fail.
    pub rate: f64,
    /// 429 or 503.
    pub status: u16,
    pub retry_after_seconds: u64,
}

impl Faults {
    /// The injected failure for this request, if it draws one.
    pub fn draw(&self) -> Option<GraphError> {
        if self.rate <= 0.0 || rand::random::<f64>() >= self.rate {
            return None;
        }
        let mut e = match self.status {
            503 => GraphError::new(
                ErrorKind::Unavailable,
                "serviceNotAvailable",
                "The service is temporarily unavailable (injected by the Rolo emulator).",
            ),
            _ => GraphError::new(
                ErrorKind::Throttled,
                "TooManyRequests",
                "Too many requests (injected by the Rolo emulator).",
            ),
        };
        e.retry_after = Some(self.retry_after_seconds.max(1));
        Some(e)
    }
}

/// Limits the emulator can tighten (or loosen) to exercise clients' handling of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    pub extensions: rolo_domain::extension::ExtensionLimits,
    /// Largest photo upload accepted, in bytes (Graph: the 4 MB request limit).
    pub photo_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { extensions: Default::default(), photo_bytes: crate::graph::MAX_BODY_BYTES }
    }
}

pub fn is_admin_path(path: &str) -> bool {
    path == "/rolo/admin" || path.starts_with("/rolo/admin/")
}

fn not_found() -> GraphError {
    GraphError::new(
        ErrorKind::NotFound,
        "ResourceNotFound",
        "The emulator's admin endpoints are off: start with --emulator.",
    )
}

fn path_of(body: &Value) -> GraphResult<std::path::PathBuf> {
    body.get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .ok_or_else(|| GraphError::bad_request("BadRequest", "Give the snapshot file as {\"path\": \"...\"}."))
}

fn settings_json(state: &AppState) -> Value {
    json!({"throttling": state.throttle.enabled(), "faults": state.faults(), "limits": state.limits()})
}

pub async fn serve(
    state: &AppState,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &Value,
) -> GraphResult<Response> {
    if !state.emulator {
        return Err(not_found());
    }
    let action = path.trim_start_matches("/rolo/admin").trim_matches('/');
    let ok = |v: Value| -> GraphResult<Response> {
        Ok(json_status(StatusCode::OK, serde_json::to_vec(&v).map_err(GraphError::internal)?))
    };
    match (method.clone(), action) {
        (Method::POST, "reset") => {
            state.store.wipe().await?;
            state.forget_users();
            let doc: Value = serde_json::from_str(crate::seed::CONTOSO).map_err(GraphError::internal)?;
            let seeded = crate::seed::seed(state.store.as_ref(), &doc).await?;
            ok(seeded.to_json())
        }
        (Method::POST, "seed") => {
            let seeded = crate::seed::seed(state.store.as_ref(), body).await?;
            ok(seeded.to_json())
        }
        (Method::POST, "import") => ok(crate::seed::import(state.store.as_ref(), body).await?),
        (Method::POST, "snapshot") => {
            state.store.snapshot_to(&path_of(body)?).await?;
            Ok(no_content())
        }
        (Method::POST, "restore") => {
            state.store.restore_from(&path_of(body)?).await?;
            state.forget_users();
            Ok(no_content())
        }
        (Method::POST, "expire-delta-tokens") => {
            state.store.expire_delta_tokens().await?;
            Ok(no_content())
        }
        (Method::GET, "settings") => ok(settings_json(state)),
        (Method::PATCH, "settings") => {
            if let Some(on) = body.get("throttling") {
                let on = on.as_bool().ok_or_else(|| GraphError::wrong_type("throttling", "Edm.Boolean"))?;
                state.throttle.set_enabled(on);
            }
            if let Some(f) = body.get("faults") {
                let faults: Faults = serde_json::from_value(f.clone())
                    .map_err(|_| GraphError::wrong_type("faults", "{rate, status, retryAfterSeconds}"))?;
                if !(0.0..=1.0).contains(&faults.rate) || ![0, 429, 503].contains(&faults.status) {
                    return Err(GraphError::bad_request(
                        "BadRequest",
                        "faults.rate is 0 to 1 and faults.status 429 or 503.",
                    ));
                }
                state.set_faults(faults);
            }
            if let Some(l) = body.get("limits") {
                let limits: Limits = serde_json::from_value(l.clone())
                    .map_err(|_| GraphError::wrong_type("limits", "{extensions: {perContact, bytes}, photoBytes}"))?;
                if limits.extensions.per_contact == 0 || limits.extensions.bytes == 0 || limits.photo_bytes == 0 {
                    return Err(GraphError::bad_request("BadRequest", "Limits must be positive."));
                }
                state.set_limits(limits);
            }
            ok(settings_json(state))
        }
        (Method::GET, "tokens") => {
            // Ready-made delegated tokens for every user, as the emulator's banner prints them.
            let scopes: Vec<String> = query
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("scopes=")))
                .map(|s| s.replace("%20", " ").replace('+', " "))
                .unwrap_or_else(|| "Contacts.ReadWrite MailboxSettings.ReadWrite User.ReadWrite".into())
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            let mut out = Vec::new();
            for user in state.store.list_users().await? {
                let token = state.authority.issue_delegated(&user, &scopes, 12 * 3600)?;
                out.push(json!({"id": user.id, "userPrincipalName": user.user_principal_name, "token": token}));
            }
            ok(json!({"scopes": scopes.join(" "), "value": out}))
        }
        _ => Err(GraphError::new(
            ErrorKind::NotFound,
            "ResourceNotFound",
            format!("The emulator has no admin action '{method} {action}'."),
        )),
    }
}
