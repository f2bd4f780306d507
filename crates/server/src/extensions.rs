//! Handlers for open extensions on contacts: `.../contacts/{id}/extensions[/{extensionId}]`.

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::extension::{bare_name, OpenExtension};
use rolo_domain::{ContactId, GraphError, GraphResult};
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::methods;
use crate::paths::FolderPath;
use crate::response::{json_status, no_content};

fn respond(status: StatusCode, v: &Value) -> GraphResult<Response> {
    Ok(json_status(status, serde_json::to_vec(v).map_err(GraphError::internal)?))
}

fn with_context(ext: &OpenExtension, context: String) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("@odata.context".into(), json!(context));
    if let Value::Object(body) = ext.to_v1() {
        m.extend(body);
    }
    Value::Object(m)
}

/// Every extension operation: GET (list or one), POST, PATCH, DELETE.
pub async fn serve(
    ctx: &Ctx,
    method: &axum::http::Method,
    folder: &FolderPath,
    id: &str,
    extension: Option<&str>,
    body: &Value,
) -> GraphResult<Response> {
    use axum::http::Method;
    let id = ContactId::parse(id)?;
    let scope = ctx.contact_scope(folder, &id).await?;
    let store = &ctx.state.store;
    let context = ctx.context(&format!("contacts('{id}')/extensions"));
    match (method, extension) {
        (&Method::GET, _) => {
            store.get_contact(ctx.mailbox(), &id, &scope).await?.ok_or_else(GraphError::item_not_found)?;
            let all = store.extensions_of(ctx.mailbox(), std::slice::from_ref(&id)).await?;
            match extension {
                None => {
                    let value: Vec<Value> = all.iter().map(|(_, e)| e.to_v1()).collect();
                    respond(StatusCode::OK, &json!({"@odata.context": context, "value": value}))
                }
                Some(raw) => {
                    let name = bare_name(raw);
                    let (_, e) = all
                        .iter()
                        .find(|(_, e)| e.name.eq_ignore_ascii_case(name))
                        .ok_or_else(GraphError::item_not_found)?;
                    respond(StatusCode::OK, &with_context(e, format!("{context}/$entity")))
                }
            }
        }
        (&Method::POST, None) => {
            let limits = ctx.state.limits().extensions;
            let ext = OpenExtension::from_v1(body, None)?;
            ext.check_size(limits)?;
            let ext = store.create_extension(ctx.mailbox(), &id, &scope, ext, limits).await?;
            respond(StatusCode::CREATED, &with_context(&ext, format!("{context}/$entity")))
        }
        (&Method::PATCH, Some(raw)) => {
            let limits = ctx.state.limits().extensions;
            let patch = OpenExtension::from_v1(body, Some(bare_name(raw)))?;
            patch.check_size(limits)?;
            let ext = store.update_extension(ctx.mailbox(), &id, &scope, patch, limits).await?;
            respond(StatusCode::OK, &with_context(&ext, format!("{context}/$entity")))
        }
        (&Method::DELETE, Some(raw)) => {
            store.delete_extension(ctx.mailbox(), &id, &scope, bare_name(raw)).await?;
            Ok(no_content())
        }
        (m, None) => Err(methods::method_not_allowed(m, methods::GET_POST)),
        (m, Some(_)) => Err(methods::method_not_allowed(m, methods::GET_PATCH_DELETE)),
    }
}
