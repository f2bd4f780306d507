//! Folder sharing, a Rolo extension Graph lacks: `.../contactFolders/{id}/permissions`, shaped
//! like Graph's calendar permissions (`emailAddress`, `role`). Only the mailbox's owner manages
//! who a folder is shared with; grantees then reach it through `/users/{owner}/contactFolders/{id}`
//! with the `Contacts.*.Shared` scopes.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::{Grant, GraphError, GraphResult, MailboxAccess};
use rolo_store::FolderPermission;
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::methods;
use crate::response::{json_status, no_content};

fn to_json(p: &FolderPermission) -> Value {
    json!({
        "id": p.id,
        "emailAddress": {"name": p.grantee.display_name, "address": p.grantee.user_principal_name},
        "role": p.grant.name(),
        "allowedRoles": ["read", "write"],
        "isRemovable": true,
        "isInsideOrganization": true,
    })
}

fn role(body: &Value) -> GraphResult<Grant> {
    let raw = body.get("role").and_then(Value::as_str).unwrap_or_default();
    Grant::parse(raw).ok_or_else(|| {
        GraphError::bad_request(
            "ErrorInvalidProperty",
            format!("'{raw}' is not a valid role for a contact folder: use read or write."),
        )
    })
}

pub async fn serve(
    ctx: &Ctx,
    method: &Method,
    chain: &[String],
    id: Option<&str>,
    body: &Value,
) -> GraphResult<Response> {
    // Sharing is the owner's decision: not an app's, not a delegate's.
    if ctx.access != MailboxAccess::Owner {
        return Err(GraphError::access_denied());
    }
    let folder = ctx.folder_chain(chain).await?.id;
    let store = &ctx.state.store;
    let context = ctx.context(&format!("contactFolders('{folder}')/permissions"));
    let entity = |status: StatusCode, p: &FolderPermission| -> GraphResult<Response> {
        let mut v = to_json(p);
        v["@odata.context"] = json!(format!("{context}/$entity"));
        Ok(json_status(status, serde_json::to_vec(&v).map_err(GraphError::internal)?))
    };
    match (method.clone(), id) {
        (Method::GET, None) => {
            let list = store.folder_permissions(ctx.mailbox(), &folder).await?;
            let body = json!({"@odata.context": context, "value": list.iter().map(to_json).collect::<Vec<_>>()});
            Ok(json_status(StatusCode::OK, serde_json::to_vec(&body).map_err(GraphError::internal)?))
        }
        (Method::POST, None) => {
            let grant = role(body)?;
            let address = body.pointer("/emailAddress/address").and_then(Value::as_str).ok_or_else(|| {
                GraphError::bad_request("ErrorInvalidProperty", "emailAddress.address names the user to share with.")
            })?;
            let grantee = ctx.state.user(address).await?.ok_or_else(|| GraphError::invalid_user(address))?;
            if grantee.id == ctx.user.id {
                return Err(GraphError::bad_request("ErrorInvalidUser", "A folder cannot be shared with its owner."));
            }
            let p = store.add_folder_permission(ctx.mailbox(), &folder, &grantee, grant).await?;
            entity(StatusCode::CREATED, &p)
        }
        (Method::GET, Some(id)) => {
            let list = store.folder_permissions(ctx.mailbox(), &folder).await?;
            let p = list.iter().find(|p| p.id == id).ok_or_else(GraphError::item_not_found)?;
            entity(StatusCode::OK, p)
        }
        (Method::PATCH, Some(id)) => {
            let p = store.update_folder_permission(ctx.mailbox(), &folder, id, role(body)?).await?;
            entity(StatusCode::OK, &p)
        }
        (Method::DELETE, Some(id)) => {
            store.delete_folder_permission(ctx.mailbox(), &folder, id).await?;
            Ok(no_content())
        }
        (m, None) => Err(methods::method_not_allowed(&m, methods::GET_POST)),
        (m, Some(_)) => Err(methods::method_not_allowed(&m, methods::GET_PATCH_DELETE)),
    }
}
