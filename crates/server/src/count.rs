//! `.../$count` on every collection Rolo serves (contacts in any folder, contact folders and
//! child folders, master categories, messages, events, a To Do list's tasks, a contact's
//! extensions): the number of items, as `text/plain`, after `$filter` (and `$search` where the
//! collection takes it: contacts; elsewhere the count refuses it as the list does).
//! `$top`, `$skip`, `$orderby` and `$select` do not change a count and are ignored, as OData
//! says. Graph wants no `ConsistencyLevel` header for Outlook collections, so none is required.

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use rolo_domain::mail::ItemKind;
use rolo_domain::{ContactId, GraphError, GraphResult};
use rolo_store::ListQuery;

use crate::ctx::Ctx;
use crate::paths::Resource;

/// The store query behind a count: the list's own `$filter`, one row fetched.
pub fn list_query(ctx: &Ctx) -> GraphResult<ListQuery> {
    if ctx.options.search.is_some() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "The query parameter '$search' is not supported on this resource.",
        ));
    }
    Ok(ListQuery {
        filter: ctx.options.filter.clone(),
        page_size: 1,
        count: true,
        version: ctx.version,
        ..ListQuery::default()
    })
}

/// Collections that are read whole (no `$filter`): a count with one would be a wrong number.
fn refuse_filter(ctx: &Ctx, what: &str) -> GraphResult<()> {
    if ctx.options.filter.is_some() || ctx.options.search.is_some() {
        return Err(GraphError::bad_request(
            "BadRequest",
            format!("$filter and $search are not supported on {what} by this server."),
        ));
    }
    Ok(())
}

/// `GET {collection}/$count`
pub async fn serve(ctx: &Ctx, collection: &Resource) -> GraphResult<Response> {
    let n = match collection {
        Resource::Contacts(folder) => crate::contacts::count(ctx, folder).await?,
        Resource::Folders(parent) => crate::folders::count(ctx, parent).await?,
        Resource::Messages(folder) => crate::messages::count(ctx, ItemKind::Message, folder.as_deref()).await?,
        Resource::Events => crate::messages::count(ctx, ItemKind::Event, None).await?,
        Resource::Tasks(list) => {
            let list = ContactId::parse(list)?.to_string();
            let query = list_query(ctx)?;
            ctx.state.store.list_tasks(ctx.mailbox(), &list, &query).await?.count.unwrap_or(0)
        }
        Resource::Categories => {
            refuse_filter(ctx, "masterCategories")?;
            ctx.state.store.list_categories(ctx.mailbox()).await?.len() as u64
        }
        Resource::ContactExtensions { folder, id, extension: None } => {
            refuse_filter(ctx, "extensions")?;
            let id = ContactId::parse(id)?;
            let scope = ctx.contact_scope(folder, &id).await?;
            let store = &ctx.state.store;
            store.get_contact(ctx.mailbox(), &id, &scope).await?.ok_or_else(GraphError::item_not_found)?;
            store.extensions_of(ctx.mailbox(), std::slice::from_ref(&id)).await?.len() as u64
        }
        // `paths::parse` marks only the collections above as counted.
        other => return Err(GraphError::internal(format!("$count reached {other:?}"))),
    };
    let mut resp = Response::new(Body::from(n.to_string()));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    Ok(resp)
}
