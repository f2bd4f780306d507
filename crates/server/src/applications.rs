//! `GET /applications` and `GET /applications/{id}`: the registered apps, as Graph lists them
//! (read-only here; `rolo apps add` registers one). `id` is the app's client id, which Rolo also
//! uses as the object id; `applicationPermissions` (a Rolo extension) lists the application
//! roles `rolo apps add --roles` gave it, which Graph keeps on the service principal's
//! app role assignments, and `servicePrincipalId` (also Rolo's) the id an
//! `oauth2PermissionGrant`'s `clientId` names. Secrets and certificates are never shown.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::{ErrorKind, GraphError, GraphResult, Principal};
use rolo_store::RegisteredApp;
use serde_json::{json, Value};

use crate::delegation::has_any;
use crate::paths::{decode, split_key};
use crate::response::json_status;
use crate::AppState;

const READ: &[&str] =
    &["Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];

/// `applications`, `applications/{id}` or `applications('{id}')` → `Some(id)`; anything else
/// under the root → `None`.
pub fn route(rest: &str) -> Option<Option<String>> {
    let rest = rest.trim_matches('/');
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let (name, key) = split_key(first).ok()?;
    if !name.eq_ignore_ascii_case("applications") {
        return None;
    }
    match (key, tail) {
        (key, "") => Some(key),
        (None, id) if !id.contains('/') => Some(Some(decode(id).ok()?)),
        _ => None,
    }
}

fn to_json(a: &RegisteredApp) -> Value {
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
    })
}

pub async fn serve(
    state: &AppState,
    principal: &Principal,
    method: &Method,
    id: Option<String>,
    base: &str,
) -> GraphResult<Response> {
    crate::methods::check(method, crate::methods::GET)?;
    if !has_any(principal, READ) {
        return Err(GraphError::new(
            ErrorKind::Forbidden,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    let apps = state.store.list_apps().await?;
    let context = format!("{base}/$metadata#applications");
    let body = match id {
        None => json!({"@odata.context": context, "value": apps.iter().map(to_json).collect::<Vec<_>>()}),
        Some(id) => {
            let a = apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(&id)).ok_or_else(|| {
                GraphError::new(
                    ErrorKind::NotFound,
                    "Request_ResourceNotFound",
                    format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
                )
            })?;
            let mut v = to_json(a);
            v["@odata.context"] = json!(format!("{context}/$entity"));
            v
        }
    };
    Ok(json_status(StatusCode::OK, serde_json::to_vec(&body).map_err(GraphError::internal)?))
}
