//! `/applications`: the registered apps in Graph's shapes. `GET` lists them and reads one;
//! `POST` registers one, `PATCH` changes it, `DELETE` removes it (with its admin consents and
//! its access policy) and `POST .../addPassword` gives a confidential client a new secret, shown
//! once. `id` is the app's client id, which Rolo also uses as the object id. Rolo's extensions:
//! `applicationPermissions` (the application roles `rolo apps add --roles` gives; Graph keeps
//! them on the service principal's app role assignments), `servicePrincipalId` (the id an
//! `oauth2PermissionGrant`'s `clientId` names) and `mailboxAccessPolicy` (the users whose
//! mailboxes the app may reach, `rolo apps restrict`; empty: every mailbox its roles allow).
//! Secrets and certificates are never shown. See docs/COMPATIBILITY.md.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::{ErrorKind, GraphError, GraphResult, Principal};
use rolo_store::RegisteredApp;
use serde_json::{json, Map, Value};

use crate::delegation::has_any;
use crate::paths::{decode, split_key};
use crate::response::{json_status, no_content};
use crate::AppState;

const READ: &[&str] =
    &["Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const WRITE: &[&str] = &["Application.ReadWrite.All", "Directory.ReadWrite.All"];

/// What a path under the root names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppRoute {
    Collection,
    One(String),
    /// `applications/{id}/addPassword`
    AddPassword(String),
}

impl AppRoute {
    /// The path's shape, for metrics.
    pub fn template(&self) -> &'static str {
        match self {
            AppRoute::Collection => "/applications",
            AppRoute::One(_) => "/applications/{id}",
            AppRoute::AddPassword(_) => "/applications/{id}/addPassword",
        }
    }
}

/// `applications`, `applications/{id}` (or `applications('{id}')`) and
/// `applications/{id}/addPassword`; `None` for anything else.
pub fn route(rest: &str) -> Option<AppRoute> {
    let rest = rest.trim_matches('/');
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let (name, key) = split_key(first).ok()?;
    if !name.eq_ignore_ascii_case("applications") {
        return None;
    }
    let (id, action) = match (key, tail.split_once('/')) {
        (None, _) if tail.is_empty() => return Some(AppRoute::Collection),
        (Some(key), _) if tail.is_empty() => return Some(AppRoute::One(key)),
        (Some(key), None) => (key, tail),
        (None, Some((id, action))) => (decode(id).ok()?, action),
        (None, None) => return Some(AppRoute::One(decode(tail).ok()?)),
        (Some(_), Some(_)) => return None,
    };
    action.eq_ignore_ascii_case("addPassword").then_some(AppRoute::AddPassword(id))
}

fn to_json(a: &RegisteredApp, policy: &[String]) -> Value {
    let uris = json!({"redirectUris": a.redirect_uris});
    json!({
        "id": a.client_id,
        "appId": a.client_id,
        "displayName": a.display_name,
        "createdDateTime": a.created_at,
        "isFallbackPublicClient": a.public_client,
        "publicClient": if a.public_client { uris.clone() } else { json!({"redirectUris": []}) },
        "web": if a.public_client { json!({"redirectUris": []}) } else { uris },
        "applicationPermissions": a.roles,
        "servicePrincipalId": a.service_principal_id,
        "mailboxAccessPolicy": policy,
    })
}

fn denied() -> GraphError {
    GraphError::new(
        ErrorKind::Forbidden,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn not_found(id: &str) -> GraphError {
    GraphError::new(
        ErrorKind::NotFound,
        "Request_ResourceNotFound",
        format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("Request_BadRequest", message)
}

pub async fn serve(
    state: &AppState,
    principal: &Principal,
    method: &Method,
    route: AppRoute,
    base: &str,
    body: &Value,
) -> GraphResult<Response> {
    let allowed = match route {
        AppRoute::Collection => crate::methods::GET_POST,
        AppRoute::One(_) => crate::methods::GET_PATCH_DELETE,
        AppRoute::AddPassword(_) => crate::methods::POST,
    };
    crate::methods::check(method, allowed)?;
    let needed = if *method == Method::GET { READ } else { WRITE };
    if !has_any(principal, needed) {
        return Err(denied());
    }
    let context = format!("{base}/$metadata#applications");
    match (route, method.as_str()) {
        (AppRoute::Collection, "GET") => {
            let mut value = Vec::new();
            for a in state.store.list_apps().await? {
                value.push(to_json(&a, &state.store.app_policy(&a.client_id).await?));
            }
            ok(StatusCode::OK, json!({"@odata.context": context, "value": value}))
        }
        (AppRoute::Collection, _) => {
            let a = create(state, body).await?;
            let mut v = to_json(&a, &state.store.app_policy(&a.client_id).await?);
            v["@odata.context"] = json!(format!("{context}/$entity"));
            ok(StatusCode::CREATED, v)
        }
        (AppRoute::One(id), "GET") => {
            let a = find(state, &id).await?;
            let mut v = to_json(&a, &state.store.app_policy(&a.client_id).await?);
            v["@odata.context"] = json!(format!("{context}/$entity"));
            ok(StatusCode::OK, v)
        }
        (AppRoute::One(id), "PATCH") => {
            let mut a = find(state, &id).await?;
            let policy = apply(state, &mut a, object(body)?, false).await?;
            state.store.update_app(&a).await?;
            if let Some(users) = policy {
                set_policy(state, &a.client_id, &users).await?;
            }
            Ok(no_content())
        }
        (AppRoute::One(id), _) => {
            let a = find(state, &id).await?;
            state.store.delete_app(&a.client_id).await?;
            Ok(no_content())
        }
        (AppRoute::AddPassword(id), _) => add_password(state, &id, body, base).await,
    }
}

fn ok(status: StatusCode, v: Value) -> GraphResult<Response> {
    Ok(json_status(status, serde_json::to_vec(&v).map_err(GraphError::internal)?))
}

async fn find(state: &AppState, id: &str) -> GraphResult<RegisteredApp> {
    state.store.find_app(id).await?.ok_or_else(|| not_found(id))
}

fn object(body: &Value) -> GraphResult<&Map<String, Value>> {
    body.as_object().ok_or_else(|| invalid("The request body must be a JSON object."))
}

/// `POST /applications`: a new registration, public when `isFallbackPublicClient` is true. As on
/// Graph, a confidential client gets no secret here: `addPassword` gives it one.
async fn create(state: &AppState, body: &Value) -> GraphResult<RegisteredApp> {
    let fields = object(body)?;
    let public = match fields.get("isFallbackPublicClient") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("isFallbackPublicClient must be a boolean.")),
    };
    if !fields.get("displayName").is_some_and(Value::is_string) {
        return Err(invalid("displayName is required."));
    }
    let mut app = crate::credentials::register_public_app_unsaved("");
    app.public_client = public;
    let policy = apply(state, &mut app, fields, true).await?;
    state.store.create_app(&app).await?;
    if let Some(users) = policy {
        set_policy(state, &app.client_id, &users).await?;
    }
    Ok(app)
}

/// Applies a body's writable properties to `app`; returns the access policy's users (ids) when
/// the body sets it. Unknown and read-only properties are refused, as Graph does.
async fn apply(
    state: &AppState,
    app: &mut RegisteredApp,
    fields: &Map<String, Value>,
    creating: bool,
) -> GraphResult<Option<Vec<String>>> {
    let mut uris: Option<Vec<String>> = None;
    let mut policy = None;
    for (name, value) in fields {
        match name.as_str() {
            "displayName" => {
                let n = value.as_str().map(str::trim).filter(|n| !n.is_empty() && n.chars().count() <= 256);
                app.display_name = n.ok_or_else(|| invalid("displayName must be a non-empty string."))?.to_owned();
            }
            "isFallbackPublicClient" if creating => {}
            "isFallbackPublicClient" if value.as_bool() == Some(app.public_client) => {}
            "isFallbackPublicClient" => {
                return Err(invalid("isFallbackPublicClient cannot be changed: register a new app instead."))
            }
            "web" | "publicClient" | "spa" => {
                let list = value.get("redirectUris").and_then(Value::as_array);
                let list = list.ok_or_else(|| invalid(format!("{name} must be an object with redirectUris.")))?;
                for uri in list {
                    let uri = uri.as_str().ok_or_else(|| invalid("A redirect URI must be a string."))?;
                    crate::credentials::check_redirect_uri(uri).map_err(|e| invalid(e.message))?;
                    let all = uris.get_or_insert_with(Vec::new);
                    if !all.iter().any(|u| u == uri) {
                        all.push(uri.to_owned());
                    }
                }
                uris.get_or_insert_with(Vec::new);
            }
            "applicationPermissions" => app.roles = roles(value)?,
            "mailboxAccessPolicy" => policy = Some(policy_users(state, value).await?),
            other if other.starts_with('@') => {}
            other => {
                return Err(invalid(format!(
                    "Property '{other}' does not exist or cannot be written on type 'microsoft.graph.application'."
                )))
            }
        }
    }
    if let Some(uris) = uris {
        app.redirect_uris = uris;
    }
    if app.public_client && !app.roles.is_empty() {
        return Err(invalid("A public client cannot hold application permissions."));
    }
    Ok(policy)
}

fn roles(value: &Value) -> GraphResult<Vec<String>> {
    let list = value.as_array().ok_or_else(|| invalid("applicationPermissions must be an array of strings."))?;
    let mut out: Vec<String> = Vec::new();
    for r in list {
        let r = r.as_str().filter(|r| crate::credentials::is_permission_name(r));
        let r = r.ok_or_else(|| invalid("applicationPermissions must hold permission names such as Contacts.Read."))?;
        if !out.iter().any(|o| o.eq_ignore_ascii_case(r)) {
            out.push(r.to_owned());
        }
    }
    Ok(out)
}

async fn policy_users(state: &AppState, value: &Value) -> GraphResult<Vec<String>> {
    let list = value.as_array().ok_or_else(|| invalid("mailboxAccessPolicy must be an array of user ids or names."))?;
    let mut out = Vec::new();
    for key in list {
        let key = key.as_str().ok_or_else(|| invalid("mailboxAccessPolicy must be an array of user ids or names."))?;
        let user = state.store.find_user(key).await?;
        let user = user.ok_or_else(|| invalid(format!("mailboxAccessPolicy names '{key}', who is no user.")))?;
        if !out.contains(&user.id) {
            out.push(user.id);
        }
    }
    Ok(out)
}

/// Makes the app's access policy list exactly `users`.
async fn set_policy(state: &AppState, client_id: &str, users: &[String]) -> GraphResult<()> {
    for old in state.store.app_policy(client_id).await? {
        if !users.contains(&old) {
            state.store.restrict_app(client_id, &old, false).await?;
        }
    }
    for u in users {
        state.store.restrict_app(client_id, u, true).await?;
    }
    Ok(())
}

/// `POST /applications/{id}/addPassword`: a new client secret, returned once. Rolo keeps one
/// secret per app, so the new one replaces the previous one (docs/COMPATIBILITY.md).
async fn add_password(state: &AppState, id: &str, body: &Value, base: &str) -> GraphResult<Response> {
    let mut app = find(state, id).await?;
    if app.public_client {
        return Err(invalid("A public client holds no secret."));
    }
    let name = match body.get("passwordCredential").and_then(|p| p.get("displayName")) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid("passwordCredential.displayName must be a string.")),
    };
    if !(body.is_null() || body.is_object()) {
        return Err(invalid("The request body must be a JSON object."));
    }
    let secret = crate::credentials::new_client_secret()?;
    app.secret_hash = crate::credentials::hash_client_secret(&secret)?;
    state.store.update_app(&app).await?;
    let hint: String = secret.chars().take(3).collect();
    ok(
        StatusCode::OK,
        json!({
            "@odata.context": format!("{base}/$metadata#microsoft.graph.passwordCredential"),
            "customKeyIdentifier": null,
            "displayName": if name.is_empty() { Value::Null } else { json!(name) },
            "endDateTime": null,
            "hint": hint,
            "keyId": rolo_domain::ids::new_guid(),
            "secretText": secret,
            "startDateTime": rolo_domain::time::now_utc(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let id = "0b5c-1".to_owned();
        assert_eq!(route("applications"), Some(AppRoute::Collection));
        assert_eq!(route("/applications/"), Some(AppRoute::Collection));
        assert_eq!(route("applications/0b5c-1"), Some(AppRoute::One(id.clone())));
        assert_eq!(route("applications('0b5c-1')"), Some(AppRoute::One(id.clone())));
        assert_eq!(route("applications/0b5c-1/addPassword"), Some(AppRoute::AddPassword(id.clone())));
        assert_eq!(route("applications('0b5c-1')/addPassword"), Some(AppRoute::AddPassword(id)));
        assert_eq!(route("applications/0b5c-1/removePassword"), None);
        assert_eq!(route("applications/a/b/c"), None);
        assert_eq!(route("servicePrincipals"), None);
    }
}
