//! `/oauth2PermissionGrants`: an administrator's consent to an app's delegated permissions, as
//! Graph serves it (the HTTP form of `rolo apps grant`). Only callers holding
//! `DelegatedPermissionGrant.ReadWrite.All` (an admin-only scope, or the application role) or
//! `Directory.ReadWrite.All` may read or change them.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::consent;
use rolo_domain::{ErrorKind, GraphError, GraphResult, Principal};
use rolo_store::{PermissionGrant, RegisteredApp};
use serde_json::{json, Map, Value};

use crate::methods::{method_not_allowed, GET_PATCH_DELETE, GET_POST};
use crate::paths::split_key;
use crate::response::{json_value, no_content};
use crate::AppState;

const SCOPES: &[&str] = &["DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"];
/// Microsoft Graph's application id: the resource every Rolo grant is for.
const GRAPH_RESOURCE: &str = "00000003-0000-0000-c000-000000000000";

pub fn is_grants_path(rest: &str) -> bool {
    let first = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    let name = first.split('(').next().unwrap_or("");
    name.eq_ignore_ascii_case("oauth2PermissionGrants")
}

fn denied() -> GraphError {
    GraphError::new(
        ErrorKind::Forbidden,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn invalid(property: &str) -> GraphError {
    GraphError::bad_request(
        "Request_BadRequest",
        format!("Invalid value specified for property '{property}' of resource 'OAuth2PermissionGrant'."),
    )
}

fn not_found(id: &str) -> GraphError {
    GraphError::new(
        ErrorKind::NotFound,
        "Request_ResourceNotFound",
        format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

/// `oauth2PermissionGrants`, `.../{id}` or `...('{id}')` → the id.
fn parse_id(rest: &str) -> GraphResult<Option<String>> {
    let rest = rest.trim_start_matches('/').trim_end_matches('/');
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let (_, key) = split_key(first)?;
    match (key, tail) {
        (Some(id), "") if !id.is_empty() => Ok(Some(id)),
        (None, "") => Ok(None),
        (None, id) if !id.contains('/') => Ok(Some(crate::paths::decode(id)?)),
        _ => Err(GraphError::bad_request("BadRequest", "Resource not found for the segment 'oauth2PermissionGrants'.")),
    }
}

fn render(g: &PermissionGrant, apps: &[RegisteredApp]) -> Value {
    let client = apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(&g.client_id));
    json!({
        "id": g.id,
        "clientId": client.map_or(g.client_id.as_str(), |a| a.service_principal_id.as_str()),
        "consentType": if g.principal.is_some() { "Principal" } else { "AllPrincipals" },
        "principalId": g.principal,
        "resourceId": g.resource_id,
        "scope": g.scopes.join(" "),
    })
}

/// The app a `clientId` names: its service principal's object id, as Graph has it, or (a Rolo
/// extension) its application id.
fn find_client<'a>(apps: &'a [RegisteredApp], id: &str) -> Option<&'a RegisteredApp> {
    apps.iter().find(|a| a.service_principal_id.eq_ignore_ascii_case(id) || a.client_id.eq_ignore_ascii_case(id))
}

/// A grant's `scope`: space-separated delegated permission names Rolo knows, canonically spelled.
fn scopes_of(body: &Map<String, Value>) -> GraphResult<Vec<String>> {
    let raw = match body.get("scope") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(invalid("scope")),
    };
    raw.split_whitespace()
        .map(|s| consent::delegated(s).map(|(n, _)| n.to_owned()).ok_or_else(|| invalid("scope")))
        .collect()
}

pub async fn serve(
    state: &AppState,
    principal: &Principal,
    method: &Method,
    rest: &str,
    base: &str,
    body: &Value,
) -> GraphResult<Response> {
    if !principal.scopes.iter().any(|s| SCOPES.iter().any(|w| w.eq_ignore_ascii_case(s))) {
        return Err(denied());
    }
    let apps = state.store.list_apps().await?;
    let context = format!("{base}/$metadata#oauth2PermissionGrants");
    match (method, parse_id(rest)?) {
        (&Method::GET, None) => {
            let grants = state.store.list_grants().await?;
            let value: Vec<Value> = grants.iter().map(|g| render(g, &apps)).collect();
            json_value(StatusCode::OK, &json!({"@odata.context": context, "value": value}))
        }
        (&Method::GET, Some(id)) => {
            let g = state.store.find_grant(&id).await?.ok_or_else(|| not_found(&id))?;
            json_value(StatusCode::OK, &entity(&context, render(&g, &apps)))
        }
        (&Method::POST, None) => {
            let b =
                body.as_object().ok_or_else(|| GraphError::bad_request("BadRequest", "A JSON object is required."))?;
            let text = |k: &str| b.get(k).and_then(Value::as_str);
            let client = text("clientId").and_then(|c| find_client(&apps, c)).ok_or_else(|| invalid("clientId"))?;
            let principal_id = match text("consentType") {
                Some(t) if t.eq_ignore_ascii_case("AllPrincipals") => None,
                Some(t) if t.eq_ignore_ascii_case("Principal") => {
                    let key = text("principalId").ok_or_else(|| invalid("principalId"))?;
                    Some(state.user(key).await?.ok_or_else(|| invalid("principalId"))?.id)
                }
                _ => return Err(invalid("consentType")),
            };
            let resource = text("resourceId").ok_or_else(|| invalid("resourceId"))?;
            let scopes = scopes_of(b)?;
            let exists = state
                .store
                .list_grants()
                .await?
                .into_iter()
                .any(|g| g.client_id.eq_ignore_ascii_case(&client.client_id) && g.principal == principal_id);
            if exists {
                return Err(GraphError::new(
                    ErrorKind::Conflict,
                    "Request_BadRequest",
                    "Permission entry already exists.",
                ));
            }
            let resource = if resource.is_empty() { GRAPH_RESOURCE } else { resource };
            let g = state.store.grant_scopes(&client.client_id, principal_id.as_deref(), resource, &scopes).await?;
            json_value(StatusCode::CREATED, &entity(&context, render(&g, &apps)))
        }
        (&Method::PATCH, Some(id)) => {
            let b =
                body.as_object().ok_or_else(|| GraphError::bad_request("BadRequest", "A JSON object is required."))?;
            if let Some(k) = b.keys().find(|k| k.as_str() != "scope") {
                return Err(invalid(k));
            }
            let scopes = scopes_of(b)?;
            state.store.set_grant_scopes(&id, &scopes).await?.ok_or_else(|| not_found(&id))?;
            Ok(no_content())
        }
        (&Method::DELETE, Some(id)) => {
            if state.store.delete_grant(&id).await? {
                Ok(no_content())
            } else {
                Err(not_found(&id))
            }
        }
        (m, None) => Err(method_not_allowed(m, GET_POST)),
        (m, Some(_)) => Err(method_not_allowed(m, GET_PATCH_DELETE)),
    }
}

fn entity(context: &str, mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        let mut out = Map::new();
        out.insert("@odata.context".into(), format!("{context}/$entity").into());
        out.extend(std::mem::take(o));
        return Value::Object(out);
    }
    v
}
