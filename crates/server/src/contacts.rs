//! Handlers for contacts: `/me/contacts`, `/users/{id}/contacts`, and `contacts` under any
//! contact folder.

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::contact::CONTACT_TYPE;
use rolo_domain::projection::{etag, ContactV1, FieldSet, CONTACT_V1_PROPERTIES};
use rolo_domain::{Contact, ContactData, ContactId, GraphError, GraphResult};
use rolo_store::Scope;
use serde_json::Value;

use crate::graph::{with_header, Ctx};
use crate::paths::FolderPath;
use crate::query::list_query;
use crate::response::{json_status, no_content};

/// The collection's name in `@odata.context`.
fn collection_context(ctx: &Ctx, folder: &FolderPath, resolved: &rolo_domain::FolderId, fields: FieldSet) -> String {
    let select = fields.names(CONTACT_V1_PROPERTIES).map(|n| format!("({n})")).unwrap_or_default();
    match folder {
        FolderPath::Default => ctx.context(&format!("contacts{select}")),
        FolderPath::Chain(_) => ctx.context(&format!("contactFolders('{resolved}')/contacts{select}")),
    }
}

fn fields(ctx: &Ctx) -> GraphResult<FieldSet> {
    reject_expand(ctx)?;
    match &ctx.options.select {
        Some(items) => FieldSet::from_select(items, CONTACT_V1_PROPERTIES, CONTACT_TYPE),
        None => Ok(FieldSet::ALL),
    }
}

fn reject_expand(ctx: &Ctx) -> GraphResult<()> {
    if let Some(item) = ctx.options.expand.first() {
        let name = item.path.join("/");
        if name.eq_ignore_ascii_case("photo") {
            return Err(GraphError::bad_request(
                "ExpandNotSupported",
                "Expand is not allowed for property 'Photo' according to the entity schema.",
            ));
        }
        return Err(GraphError::bad_request(
            "BadRequest",
            format!("Expanding '{name}' on contacts is not supported by this server yet."),
        ));
    }
    Ok(())
}

fn scope(folder: rolo_domain::FolderId, path: &FolderPath) -> Scope {
    match path {
        FolderPath::Default => Scope::Mailbox,
        FolderPath::Chain(_) => Scope::Folder(folder),
    }
}

fn entity_response(ctx: &Ctx, contact: &Contact, status: StatusCode, path: &FolderPath) -> GraphResult<Response> {
    let fields = match status {
        StatusCode::OK => fields(ctx)?,
        _ => FieldSet::ALL,
    };
    let context = collection_context(ctx, path, &contact.folder_id, fields) + "/$entity";
    let body =
        serde_json::to_vec(&ContactV1 { contact, fields, context: Some(&context) }).map_err(GraphError::internal)?;
    let resp = json_status(status, body);
    let resp = with_header(resp, "ETag", &etag(&contact.change_key));
    Ok(match ctx.prefer.applied(false) {
        Some(applied) => with_header(resp, "Preference-Applied", &applied),
        None => resp,
    })
}

/// `GET .../contacts`
pub async fn list(ctx: &Ctx, path: &FolderPath) -> GraphResult<Response> {
    let folder = ctx.contacts_folder(path).await?;
    let fields = fields(ctx)?;
    let scope_name = format!("contacts:{folder}");
    let (query, prefer_used) = list_query(&ctx.options, &ctx.prefer, &ctx.state.codec, &scope_name)?;
    let page = ctx.state.store.list_contacts(ctx.mailbox(), &folder, &query).await?;

    let mut out = Vec::with_capacity(256 + page.items.len() * 1200);
    out.extend_from_slice(b"{\"@odata.context\":");
    serde_json::to_writer(&mut out, &collection_context(ctx, path, &folder, fields)).map_err(GraphError::internal)?;
    if let Some(n) = page.count {
        out.extend_from_slice(format!(",\"@odata.count\":{n}").as_bytes());
    }
    out.extend_from_slice(b",\"value\":[");
    for (i, contact) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &ContactV1 { contact, fields, context: None }).map_err(GraphError::internal)?;
    }
    out.push(b']');
    if let Some(cursor) = page.next {
        let token = ctx.state.codec.encode(&scope_name, &ctx.options, cursor);
        let link = crate::query::next_link(&ctx.base, &ctx.path, ctx.raw_query.as_deref(), &token);
        out.extend_from_slice(b",\"@odata.nextLink\":");
        serde_json::to_writer(&mut out, &link).map_err(GraphError::internal)?;
    }
    out.push(b'}');
    let resp = json_status(StatusCode::OK, out);
    Ok(match ctx.prefer.applied(prefer_used) {
        Some(applied) => with_header(resp, "Preference-Applied", &applied),
        None => resp,
    })
}

/// `GET .../contacts/{id}`
pub async fn get(ctx: &Ctx, path: &FolderPath, id: &str) -> GraphResult<Response> {
    let id = ContactId::parse(id)?;
    let folder = ctx.contacts_folder(path).await?;
    let contact = ctx
        .state
        .store
        .get_contact(ctx.mailbox(), &id, &scope(folder, path))
        .await?
        .ok_or_else(GraphError::item_not_found)?;
    entity_response(ctx, &contact, StatusCode::OK, path)
}

/// `POST .../contacts`
pub async fn create(ctx: &Ctx, path: &FolderPath, body: &Value) -> GraphResult<Response> {
    let mut folder = ctx.contacts_folder(path).await?;
    let mut data = ContactData::default();
    if let Some(parent) = data.apply_v1(body, true)? {
        folder = parent;
    }
    let contact = ctx.state.store.create_contact(ctx.mailbox(), &folder, data).await?;
    entity_response(ctx, &contact, StatusCode::CREATED, path)
}

/// `PATCH .../contacts/{id}`: a merge; a `parentFolderId` moves the contact.
pub async fn update(ctx: &Ctx, path: &FolderPath, id: &str, body: Value) -> GraphResult<Response> {
    let id = ContactId::parse(id)?;
    let folder = ctx.contacts_folder(path).await?;
    // Validate before taking the write lock, so bad bodies cost no transaction.
    ContactData::default().apply_v1(&body, false)?;
    let edit = Box::new(move |data: &mut ContactData| data.apply_v1(&body, false));
    let contact =
        ctx.state.store.update_contact(ctx.mailbox(), &id, &scope(folder, path), ctx.if_match.clone(), edit).await?;
    entity_response(ctx, &contact, StatusCode::OK, path)
}

/// `DELETE .../contacts/{id}` and `POST .../contacts/{id}/permanentDelete`
pub async fn delete(ctx: &Ctx, path: &FolderPath, id: &str) -> GraphResult<Response> {
    let id = ContactId::parse(id)?;
    let folder = ctx.contacts_folder(path).await?;
    ctx.state.store.delete_contact(ctx.mailbox(), &id, &scope(folder, path), ctx.if_match.clone()).await?;
    Ok(no_content())
}
