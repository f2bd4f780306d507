//! Handlers for contact folders: `/contactFolders`, `childFolders` at any depth.

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::folder::FOLDER_TYPE;
use rolo_domain::projection::{folder_json, folder_properties, FieldSet};
use rolo_domain::{ContactFolder, FolderChanges, FolderId, Grant, GraphError, GraphResult, MailboxAccess};
use rolo_odata::{Expr, Literal};
use rolo_store::query::MAX_IN_ITEMS;
use rolo_store::ListQuery;
use serde_json::Value;

use crate::ctx::Ctx;
use crate::paths::FolderPath;
use crate::query::list_query;
use crate::response::with_header;
use crate::response::{json_status, no_content};

fn fields(ctx: &Ctx) -> GraphResult<FieldSet> {
    if let Some(item) = ctx.options.expand.first() {
        return Err(GraphError::bad_request(
            "BadRequest",
            format!("Expanding '{}' on contact folders is not supported by this server yet.", item.path.join("/")),
        ));
    }
    match &ctx.options.select {
        Some(items) => FieldSet::from_select(items, folder_properties(ctx.version), FOLDER_TYPE),
        None => Ok(FieldSet::ALL),
    }
}

fn entity(ctx: &Ctx, folder: &ContactFolder, status: StatusCode) -> GraphResult<Response> {
    let fields = if status == StatusCode::OK { fields(ctx)? } else { FieldSet::ALL };
    let context = ctx.context("contactFolders/$entity");
    let body = folder_json(folder, fields, Some(&context), ctx.version);
    Ok(json_status(status, serde_json::to_vec(&body).map_err(GraphError::internal)?))
}

/// The folder whose children a list shows, and the list's `@odata.context`.
async fn parent_of(ctx: &Ctx, parent: &FolderPath) -> GraphResult<(FolderId, String)> {
    match parent {
        FolderPath::Default => {
            ctx.require_whole_mailbox()?;
            Ok((ctx.mailbox().default_folder_id.clone(), ctx.context("contactFolders")))
        }
        FolderPath::Chain(chain) => {
            ctx.require_folder_chain(chain)?;
            let folder = ctx.folder_chain(chain).await?;
            let context = ctx.context(&format!("contactFolders('{}')/childFolders", folder.id));
            Ok((folder.id, context))
        }
    }
}

/// `GET /contactFolders/$count` and `GET .../childFolders/$count`
pub async fn count(ctx: &Ctx, parent: &FolderPath) -> GraphResult<u64> {
    let (parent_id, _) = parent_of(ctx, parent).await?;
    let mut query = crate::count::list_query(ctx)?;
    only_shared_children(ctx, &mut query);
    Ok(ctx.state.store.list_folders(ctx.mailbox(), &parent_id, &query).await?.count.unwrap_or(0))
}

/// `GET /contactFolders` (the default folder's children, as on Graph) and `GET .../childFolders`
pub async fn list(ctx: &Ctx, parent: &FolderPath) -> GraphResult<Response> {
    let (parent_id, context) = parent_of(ctx, parent).await?;
    let fields = fields(ctx)?;
    let scope_name = format!("folders:{parent_id}");
    let (mut query, prefer_used) = list_query(&ctx.options, &ctx.prefer, &ctx.state.codec, &scope_name)?;
    only_shared_children(ctx, &mut query);
    let page = ctx.state.store.list_folders(ctx.mailbox(), &parent_id, &query).await?;
    let mut body = serde_json::Map::new();
    body.insert("@odata.context".into(), Value::String(context));
    if let Some(n) = page.count {
        body.insert("@odata.count".into(), n.into());
    }
    body.insert(
        "value".into(),
        Value::Array(page.items.iter().map(|f| folder_json(f, fields, None, ctx.version)).collect()),
    );
    if let Some(cursor) = page.next {
        let token = ctx.state.codec.encode(&scope_name, &ctx.options, cursor);
        let link = crate::query::next_link(&ctx.base, &ctx.path, ctx.raw_query.as_deref(), &token);
        body.insert("@odata.nextLink".into(), Value::String(link));
    }
    let resp = json_status(StatusCode::OK, serde_json::to_vec(&body).map_err(GraphError::internal)?);
    Ok(match ctx.prefer.applied(prefer_used) {
        Some(applied) => with_header(resp, "Preference-Applied", &applied),
        None => resp,
    })
}

/// A folder grantee sees only the child folders shared with it: not the others' names, ids or
/// number.
fn only_shared_children(ctx: &Ctx, query: &mut ListQuery) {
    if let MailboxAccess::Folders(shared) = &ctx.access {
        query.filter = Some(match query.filter.take() {
            Some(asked) => Expr::And(Box::new(asked), Box::new(only_shared(shared))),
            None => only_shared(shared),
        });
    }
}

/// `id in (...)` over the folders shared with the caller, in lists the filter compiler accepts.
fn only_shared(shared: &[(FolderId, Grant)]) -> Expr {
    let ids: Vec<Expr> = shared.iter().map(|(id, _)| Expr::Literal(Literal::String(id.as_str().to_owned()))).collect();
    ids.chunks(MAX_IN_ITEMS)
        .map(|chunk| Expr::In(Box::new(Expr::Path(vec!["id".into()])), chunk.to_vec()))
        .reduce(|a, b| Expr::Or(Box::new(a), Box::new(b)))
        // No folder shared: nothing matches.
        .unwrap_or(Expr::In(Box::new(Expr::Path(vec!["id".into()])), Vec::new()))
}

/// `GET /contactFolders/{id}[/childFolders/{id}...]`
pub async fn get(ctx: &Ctx, chain: &[String]) -> GraphResult<Response> {
    ctx.require_folder_chain(chain)?;
    let folder = ctx.folder_chain(chain).await?;
    entity(ctx, &folder, StatusCode::OK)
}

/// `POST /contactFolders` and `POST .../childFolders`
pub async fn create(ctx: &Ctx, parent: &FolderPath, body: &Value) -> GraphResult<Response> {
    // Changing the folder tree takes the whole mailbox, not a shared folder.
    ctx.require_whole_mailbox()?;
    let changes = FolderChanges::from_v1(body, true)?;
    let parent_id = match parent {
        FolderPath::Default => changes.parent_id.clone().unwrap_or_else(|| ctx.mailbox().default_folder_id.clone()),
        FolderPath::Chain(chain) => ctx.folder_chain(chain).await?.id,
    };
    let name = changes.display_name.as_deref().unwrap_or_default();
    let folder = ctx.state.store.create_folder(ctx.mailbox(), &parent_id, name).await?;
    entity(ctx, &folder, StatusCode::CREATED)
}

/// `PATCH /contactFolders/{id}`: rename, or move with `parentFolderId`.
pub async fn update(ctx: &Ctx, chain: &[String], body: &Value) -> GraphResult<Response> {
    ctx.require_whole_mailbox()?;
    let changes = FolderChanges::from_v1(body, false)?;
    let folder = ctx.folder_chain(chain).await?;
    let folder = ctx.state.store.update_folder(ctx.mailbox(), &folder.id, &changes).await?;
    entity(ctx, &folder, StatusCode::OK)
}

/// `DELETE /contactFolders/{id}` and `POST .../permanentDelete`: the folder goes with its
/// child folders and contacts.
pub async fn delete(ctx: &Ctx, chain: &[String]) -> GraphResult<Response> {
    ctx.require_whole_mailbox()?;
    let folder = ctx.folder_chain(chain).await?;
    ctx.state.store.delete_folder(ctx.mailbox(), &folder.id).await?;
    Ok(no_content())
}
