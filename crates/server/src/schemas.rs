//! `/schemaExtensions`: tenant-wide schema extension definitions. They live at the service root
//! (no mailbox), are governed by the directory's `Application.*` scopes, and answer with the
//! directory's error codes.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::schema::SchemaExtension;
use rolo_domain::{ErrorKind, GraphError, GraphResult, Principal};
use rolo_odata::{CompareOp, Expr, Literal};
use serde_json::{json, Value};

use crate::methods::{method_not_allowed, GET_PATCH_DELETE, GET_POST};
use crate::paths::{decode, split_key};
use crate::response::{json_status, no_content};
use crate::AppState;

const READ_SCOPES: &[&str] = &[
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "Directory.Read.All",
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.AccessAsUser.All",
];
const WRITE_SCOPES: &[&str] = &["Application.ReadWrite.All", "Directory.AccessAsUser.All"];

pub fn is_schema_path(rest: &str) -> bool {
    let first = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    first.eq_ignore_ascii_case("schemaExtensions")
        || first.get(..17).is_some_and(|p| p.eq_ignore_ascii_case("schemaExtensions("))
}

fn denied() -> GraphError {
    GraphError::new(
        ErrorKind::Forbidden,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn require(principal: &Principal, scopes: &[&str]) -> GraphResult<()> {
    if principal.scopes.iter().any(|s| scopes.iter().any(|w| w.eq_ignore_ascii_case(s))) {
        Ok(())
    } else {
        Err(denied())
    }
}

/// The calling application: schema extensions are owned by apps.
fn caller_app(principal: &Principal) -> String {
    principal.app_id.clone().unwrap_or_else(|| crate::auth::CLI_APP_ID.to_owned())
}

/// `schemaExtensions/{id}` or `schemaExtensions('{id}')` → the id.
fn parse_id(rest: &str) -> GraphResult<Option<String>> {
    let rest = rest.trim_start_matches('/').trim_end_matches('/');
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let (_, key) = split_key(first)?;
    match (key, tail) {
        (Some(id), "") if !id.is_empty() => Ok(Some(decode(&id)?)),
        (None, "") => Ok(None),
        (None, id) if !id.contains('/') => Ok(Some(decode(id)?)),
        _ => Err(bad_path()),
    }
}

fn bad_path() -> GraphError {
    GraphError::bad_request("BadRequest", "Resource not found for the segment 'schemaExtensions'.")
}

fn not_found(id: &str) -> GraphError {
    GraphError::new(
        ErrorKind::NotFound,
        "Request_ResourceNotFound",
        format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

pub async fn serve(
    state: &AppState,
    principal: &Principal,
    method: &Method,
    rest: &str,
    query: Option<&str>,
    base: &str,
    body: &Value,
) -> GraphResult<Response> {
    let id = parse_id(rest)?;
    let store = &state.store;
    let json = |status: StatusCode, v: Value| -> GraphResult<Response> {
        Ok(json_status(status, serde_json::to_vec(&v).map_err(GraphError::internal)?))
    };
    match (method.clone(), id) {
        (Method::GET, None) => {
            require(principal, READ_SCOPES)?;
            let options = crate::query::parse_options(query)?;
            let mut all = store.list_schema_extensions().await?;
            if let Some(f) = &options.filter {
                let mut keep = Vec::new();
                for ext in all {
                    if matches(f, &ext)? {
                        keep.push(ext);
                    }
                }
                all = keep;
            }
            if let Some(top) = options.top {
                all.truncate(top as usize);
            }
            let value: Vec<Value> = all.iter().map(SchemaExtension::to_json).collect();
            json(
                StatusCode::OK,
                json!({"@odata.context": format!("{base}/$metadata#schemaExtensions"), "value": value}),
            )
        }
        (Method::POST, None) => {
            require(principal, WRITE_SCOPES)?;
            let ext = SchemaExtension::from_create(body, &caller_app(principal))?;
            let ext = store.create_schema_extension(ext).await?;
            let mut v = ext.to_json();
            v["@odata.context"] = json!(format!("{base}/$metadata#schemaExtensions/$entity"));
            json(StatusCode::CREATED, v)
        }
        (Method::GET, Some(id)) => {
            require(principal, READ_SCOPES)?;
            let ext = store.get_schema_extension(&id).await?.ok_or_else(|| not_found(&id))?;
            let mut v = ext.to_json();
            v["@odata.context"] = json!(format!("{base}/$metadata#schemaExtensions/$entity"));
            json(StatusCode::OK, v)
        }
        (Method::PATCH, Some(id)) => {
            require(principal, WRITE_SCOPES)?;
            let app = caller_app(principal);
            let body = body.clone();
            store
                .update_schema_extension(&id, Box::new(move |ext| ext.apply_update(&body, &app)))
                .await
                .map_err(|e| if e.code == "Request_ResourceNotFound" { not_found(&id) } else { e })?;
            Ok(no_content())
        }
        (Method::DELETE, Some(id)) => {
            require(principal, WRITE_SCOPES)?;
            let app = caller_app(principal);
            store.delete_schema_extension(&id, Box::new(move |ext| ext.check_delete(&app))).await.map_err(|e| {
                if e.code == "Request_ResourceNotFound" {
                    not_found(&id)
                } else {
                    e
                }
            })?;
            Ok(no_content())
        }
        (m, None) => Err(method_not_allowed(&m, GET_POST)),
        (m, Some(_)) => Err(method_not_allowed(&m, GET_PATCH_DELETE)),
    }
}

/// `$filter` on definitions: `eq`/`ne` on `id`, `description`, `status` and `owner`, with
/// `and`, `or` and `not`, as Graph supports.
fn matches(e: &Expr, ext: &SchemaExtension) -> GraphResult<bool> {
    let unsupported = || {
        GraphError::bad_request(
            "BadRequest",
            "Unsupported query on schema extensions: use eq on id, description, status or owner.",
        )
    };
    Ok(match e {
        Expr::And(a, b) => matches(a, ext)? && matches(b, ext)?,
        Expr::Or(a, b) => matches(a, ext)? || matches(b, ext)?,
        Expr::Not(a) => !matches(a, ext)?,
        Expr::Compare(l, op @ (CompareOp::Eq | CompareOp::Ne), r) => {
            let (path, lit) = match (l.as_ref(), r.as_ref()) {
                (Expr::Path(p), Expr::Literal(lit)) | (Expr::Literal(lit), Expr::Path(p)) => (p, lit),
                _ => return Err(unsupported()),
            };
            // Property names match case-insensitively, as on Graph.
            let actual = match path.join("/").to_ascii_lowercase().as_str() {
                "id" => Some(ext.id.as_str()),
                "description" => ext.description.as_deref(),
                "status" => Some(ext.status.as_str()),
                "owner" => Some(ext.owner.as_str()),
                _ => return Err(unsupported()),
            };
            let equal = match lit {
                Literal::String(s) => actual == Some(s.as_str()),
                Literal::Null => actual.is_none(),
                _ => return Err(unsupported()),
            };
            equal == (*op == CompareOp::Eq)
        }
        _ => return Err(unsupported()),
    })
}
