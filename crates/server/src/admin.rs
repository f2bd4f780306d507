//! The emulator's controls under `/rolo/admin/` (served only by `rolo serve --emulator` and
//! `rolo demo`, and without authentication, as local emulators are): reset and seed the state,
//! snapshot and restore it, and switch fidelity behaviours (throttling, injected faults, delta-token
//! expiry).
//!
//! Without a token, what keeps a web page the developer happens to visit from driving them is
//! [`admit`]: a loopback `Host` (no DNS rebinding), no foreign `Origin` (no cross-site requests),
//! and bodies declared as JSON (a form or `text/plain` post, which a page may send without asking,
//! is refused). Snapshots stay inside one directory.

use std::path::{Component, Path, PathBuf};

use axum::http::{header, HeaderMap, Method, StatusCode};
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
    /// A list page ends early (with a next link) once its items hold this many bytes.
    pub page_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            extensions: Default::default(),
            photo_bytes: crate::body::MAX_BODY_BYTES,
            page_bytes: crate::query::MAX_PAGE_BYTES,
        }
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

/// Who may reach the admin controls, and where snapshots live.
#[derive(Debug, Clone, Default)]
pub struct AdminSettings {
    /// Host names (without port) answered besides loopback ones (`localhost`, `127.0.0.0/8`, `[::1]`),
    /// e.g. the emulator's name on a container network.
    pub hosts: Vec<String>,
    /// Origins (`http://localhost:3000`) whose pages may call the controls; none by default.
    pub origins: Vec<String>,
    /// The directory snapshots are written to and restored from; none means no snapshots.
    pub snapshot_dir: Option<PathBuf>,
}

fn refuse(message: impl Into<String>) -> GraphError {
    GraphError::new(ErrorKind::Forbidden, "ErrorAccessDenied", message)
}

/// The host part of a `Host` header (`127.0.0.1:8080`, `[::1]:8080`, `localhost`), lower-cased.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => {
            host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h)
        }
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The doors, checked before the body is read: only for the emulator, only on a loopback (or
/// configured) Host, and never for another site's page.
pub fn admit(state: &AppState, headers: &HeaderMap, authority: Option<&str>) -> GraphResult<()> {
    if !state.emulator {
        return Err(not_found());
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(authority).map(host_name);
    let known =
        host.as_deref().is_some_and(|h| is_loopback_name(h) || state.admin.hosts.iter().any(|a| host_name(a) == h));
    if !known {
        return Err(refuse(
            "The emulator's admin controls answer only loopback hosts (configure others with [emulator] admin_hosts).",
        ));
    }
    match headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or("null")) {
        Some(origin) => {
            let origin = origin.trim_end_matches('/');
            if !state.admin.origins.iter().any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
                return Err(refuse(format!(
                    "The emulator's admin controls do not answer pages from {origin} (configure [emulator] admin_origins)."
                )));
            }
        }
        // A browser request without Origin (a no-cors GET) still says where it comes from.
        None => {
            let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("none");
            if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
                return Err(refuse("The emulator's admin controls do not answer other sites' pages."));
            }
        }
    }
    Ok(())
}

/// An admin request's body: nothing, or JSON declared as JSON. A page can post `text/plain` or a
/// form to any address without the browser asking first; it cannot so post `application/json`.
pub fn parse_body(headers: &HeaderMap, raw: &[u8]) -> GraphResult<Value> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    let mime = crate::body::content_type(headers);
    if mime != "application/json" && !mime.ends_with("+json") {
        return Err(GraphError::new(
            ErrorKind::UnsupportedMediaType,
            "UnsupportedMediaType",
            format!("The emulator's admin controls take application/json, not '{mime}'."),
        ));
    }
    serde_json::from_slice(raw)
        .map_err(|_| GraphError::bad_request("BadRequest", "The request body is not valid JSON."))
}

/// The snapshot file `{"path": ...}` names: a file name (or relative path) inside the snapshot
/// directory, or an absolute path that lies inside it once symbolic links are resolved.
fn snapshot_path(state: &AppState, body: &Value) -> GraphResult<PathBuf> {
    let raw = body
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| GraphError::bad_request("BadRequest", "Give the snapshot file as {\"path\": \"...\"}."))?;
    let dir = state.admin.snapshot_dir.as_deref().ok_or_else(|| {
        GraphError::bad_request("BadRequest", "Snapshots are off: no snapshot directory is configured.")
    })?;
    let outside = || {
        GraphError::bad_request(
            "BadRequest",
            format!("The snapshot path must name a file inside the snapshot directory {}.", dir.display()),
        )
    };
    let path = Path::new(raw);
    if raw.contains("://") || raw.starts_with("sqlite:") || path.components().any(|c| c == Component::ParentDir) {
        return Err(outside());
    }
    let dir = dir.canonicalize().map_err(|_| {
        GraphError::bad_request("BadRequest", format!("The snapshot directory {} does not exist.", dir.display()))
    })?;
    let joined = if path.is_absolute() { path.to_path_buf() } else { dir.join(path) };
    let (Some(parent), Some(file)) = (joined.parent(), joined.file_name()) else { return Err(outside()) };
    let parent = parent.canonicalize().map_err(|_| outside())?;
    if !parent.starts_with(&dir) {
        return Err(outside());
    }
    Ok(parent.join(file))
}

pub(crate) fn settings_json(state: &AppState) -> Value {
    json!({"throttling": state.throttle.enabled(), "faults": state.faults(), "limits": state.limits()})
}

/// Validates and applies the emulator's settings in `body` (`throttling`, `faults`, `limits`;
/// each optional) to this process: from a PATCH, or from another process's (`fleet.rs`).
pub(crate) fn apply_settings(state: &AppState, body: &Value) -> GraphResult<()> {
    if let Some(on) = body.get("throttling") {
        let on = on.as_bool().ok_or_else(|| GraphError::wrong_type("throttling", "Edm.Boolean"))?;
        state.throttle.set_enabled(on);
    }
    if let Some(f) = body.get("faults") {
        let faults: Faults = serde_json::from_value(f.clone())
            .map_err(|_| GraphError::wrong_type("faults", "{rate, status, retryAfterSeconds}"))?;
        if !(0.0..=1.0).contains(&faults.rate) || ![0, 429, 503].contains(&faults.status) {
            return Err(GraphError::bad_request("BadRequest", "faults.rate is 0 to 1 and faults.status 429 or 503."));
        }
        state.set_faults(faults);
    }
    if let Some(l) = body.get("limits") {
        let limits: Limits = serde_json::from_value(l.clone()).map_err(|_| {
            GraphError::wrong_type("limits", "{extensions: {perContact, bytes}, photoBytes, pageBytes}")
        })?;
        if limits.extensions.per_contact == 0
            || limits.extensions.bytes == 0
            || limits.photo_bytes == 0
            || limits.page_bytes == 0
        {
            return Err(GraphError::bad_request("BadRequest", "Limits must be positive."));
        }
        state.set_limits(limits);
    }
    Ok(())
}

pub async fn serve(
    state: &AppState,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &Value,
) -> GraphResult<Response> {
    // `admit` said so already; checked again so no other route into here can skip it.
    if !state.emulator {
        return Err(not_found());
    }
    let action = path.trim_start_matches("/rolo/admin").trim_matches('/');
    let ok = |v: Value| -> GraphResult<Response> {
        Ok(json_status(StatusCode::OK, serde_json::to_vec(&v).map_err(GraphError::internal)?))
    };
    match (method.clone(), action) {
        (Method::POST, "reset") => {
            state.emulator_store.wipe().await?;
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
            state.emulator_store.snapshot_to(&snapshot_path(state, body)?).await?;
            Ok(no_content())
        }
        (Method::POST, "restore") => {
            state.emulator_store.restore_from(&snapshot_path(state, body)?).await?;
            state.forget_users();
            Ok(no_content())
        }
        (Method::POST, "expire-delta-tokens") => {
            state.emulator_store.expire_delta_tokens().await?;
            Ok(no_content())
        }
        (Method::POST, "apps") => {
            // Registers an app as `rolo apps add` does; the secret is shown only in this answer.
            let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
            let list = |k: &str| -> Vec<String> {
                body.get(k)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default()
            };
            let reg = crate::credentials::AppRegistration {
                name: text("displayName")
                    .ok_or_else(|| GraphError::bad_request("BadRequest", "displayName is required."))?,
                roles: list("roles"),
                public: body.get("publicClient").and_then(Value::as_bool).unwrap_or(false),
                redirect_uris: list("redirectUris"),
                certificate: text("certificate"),
            };
            let (app, secret) = crate::credentials::register(state.store.as_ref(), &reg).await?;
            let out = json!({
                "appId": app.client_id,
                "displayName": app.display_name,
                "publicClient": app.public_client,
                "redirectUris": app.redirect_uris,
                "roles": app.roles,
                "clientSecret": secret,
            });
            Ok(json_status(StatusCode::CREATED, serde_json::to_vec(&out).map_err(GraphError::internal)?))
        }
        (Method::GET, "settings") => ok(settings_json(state)),
        // The other processes on this database take them at their next poll.
        (Method::PATCH, "settings") => ok(crate::fleet::change_emulator_settings(state, body).await?),
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
            let users = state.store.list_users().await?;
            // Groups have mailboxes but nobody signs in as one.
            for user in users.into_iter().filter(|u| u.kind != rolo_store::MailboxKind::Group) {
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
