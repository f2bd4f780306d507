//! Handlers for contacts: `/me/contacts`, `/users/{id}/contacts`, and `contacts` under any
//! contact folder.

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::contact::CONTACT_TYPE;
use rolo_domain::extension::{bare_name, OpenExtension, MAX_EXTENSIONS_PER_CONTACT};
use rolo_domain::projection::{etag, ContactV1, FieldSet, CONTACT_V1_PROPERTIES};
use rolo_domain::{Contact, ContactData, ContactId, GraphError, GraphResult};
use rolo_odata::{CompareOp, Expr, Literal};
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
    match &ctx.options.select {
        Some(items) => FieldSet::from_select(items, CONTACT_V1_PROPERTIES, CONTACT_TYPE),
        None => Ok(FieldSet::ALL),
    }
}

/// What `$expand` asks for: nothing, every open extension, or the one named by
/// `extensions($filter=id eq '...')`. Anything else is refused with Graph's error.
enum Expansion {
    None,
    Extensions(Option<String>),
}

fn expansion(ctx: &Ctx) -> GraphResult<Expansion> {
    let Some(item) = ctx.options.expand.first() else { return Ok(Expansion::None) };
    let name = item.path.join("/");
    if name.eq_ignore_ascii_case("photo") {
        return Err(GraphError::bad_request(
            "ExpandNotSupported",
            "Expand is not allowed for property 'Photo' according to the entity schema.",
        ));
    }
    if !name.eq_ignore_ascii_case("extensions") || ctx.options.expand.len() > 1 {
        return Err(GraphError::bad_request(
            "BadRequest",
            format!("Expanding '{name}' on contacts is not supported by this server yet."),
        ));
    }
    let o = &item.options;
    if o.select.is_some() || !o.orderby.is_empty() || o.top.is_some() || o.skip.is_some() || !o.expand.is_empty() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "Only $filter=id eq '...' is supported inside $expand=extensions.",
        ));
    }
    match &o.filter {
        None => Ok(Expansion::Extensions(None)),
        Some(Expr::Compare(l, CompareOp::Eq, r)) => match (l.as_ref(), r.as_ref()) {
            (Expr::Path(p), Expr::Literal(Literal::String(id)))
            | (Expr::Literal(Literal::String(id)), Expr::Path(p))
                if p.len() == 1 && p[0].eq_ignore_ascii_case("id") =>
            {
                Ok(Expansion::Extensions(Some(bare_name(id).to_owned())))
            }
            _ => Err(GraphError::invalid_filter("Only $filter=id eq '...' is supported inside $expand=extensions.")),
        },
        Some(_) => Err(GraphError::invalid_filter("Only $filter=id eq '...' is supported inside $expand=extensions.")),
    }
}

/// Loads the requested extensions of `contacts`, grouped per contact.
async fn expanded(ctx: &Ctx, exp: &Expansion, contacts: &[&Contact]) -> GraphResult<Option<Vec<Vec<OpenExtension>>>> {
    let Expansion::Extensions(only) = exp else { return Ok(None) };
    let ids: Vec<ContactId> = contacts.iter().map(|c| c.id.clone()).collect();
    let all = ctx.state.store.extensions_of(ctx.mailbox(), &ids).await?;
    Ok(Some(
        ids.iter()
            .map(|id| {
                all.iter()
                    .filter(|(cid, e)| cid == id && only.as_ref().is_none_or(|n| n.eq_ignore_ascii_case(&e.name)))
                    .map(|(_, e)| e.clone())
                    .collect()
            })
            .collect(),
    ))
}

/// A contact's JSON with its expanded extensions.
fn with_extensions(v: ContactV1<'_>, extensions: &[OpenExtension]) -> GraphResult<Value> {
    let mut value = serde_json::to_value(&v).map_err(GraphError::internal)?;
    if let Value::Object(m) = &mut value {
        m.insert("extensions".into(), Value::Array(extensions.iter().map(OpenExtension::to_v1).collect()));
    }
    Ok(value)
}

fn scope(folder: rolo_domain::FolderId, path: &FolderPath) -> Scope {
    match path {
        FolderPath::Default => Scope::Mailbox,
        FolderPath::Chain(_) => Scope::Folder(folder),
    }
}

fn entity_response(
    ctx: &Ctx,
    contact: &Contact,
    status: StatusCode,
    path: &FolderPath,
    extensions: Option<&[OpenExtension]>,
) -> GraphResult<Response> {
    let fields = match status {
        StatusCode::OK => fields(ctx)?,
        _ => FieldSet::ALL,
    };
    let context = collection_context(ctx, path, &contact.folder_id, fields) + "/$entity";
    let v = ContactV1 { contact, fields, context: Some(&context) };
    let body = match extensions {
        Some(exts) => serde_json::to_vec(&with_extensions(v, exts)?),
        None => serde_json::to_vec(&v),
    }
    .map_err(GraphError::internal)?;
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
    let exp = expansion(ctx)?;
    let scope_name = format!("contacts:{folder}");
    let (query, prefer_used) = list_query(&ctx.options, &ctx.prefer, &ctx.state.codec, &scope_name)?;
    let page = ctx.state.store.list_contacts(ctx.mailbox(), &folder, &query).await?;
    let extensions = expanded(ctx, &exp, &page.items.iter().collect::<Vec<_>>()).await?;

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
        let v = ContactV1 { contact, fields, context: None };
        match &extensions {
            Some(exts) => serde_json::to_writer(&mut out, &with_extensions(v, &exts[i])?),
            None => serde_json::to_writer(&mut out, &v),
        }
        .map_err(GraphError::internal)?;
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
    let exp = expansion(ctx)?;
    let extensions = expanded(ctx, &exp, &[&contact]).await?;
    entity_response(ctx, &contact, StatusCode::OK, path, extensions.as_ref().map(|e| e[0].as_slice()))
}

/// `POST .../contacts`
pub async fn create(ctx: &Ctx, path: &FolderPath, body: &Value) -> GraphResult<Response> {
    let mut folder = ctx.contacts_folder(path).await?;
    // Open extensions may come inline; the response then shows them expanded, as on Graph.
    let mut body = body.clone();
    let inline = match body.as_object_mut().and_then(|o| o.remove("extensions")) {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(inline_extensions(&items)?),
        Some(_) => return Err(GraphError::wrong_type("extensions", "Collection(microsoft.graph.extension)")),
    };
    let mut data = ContactData::default();
    if let Some(parent) = data.apply_v1(&body, true)? {
        folder = parent;
    }
    let exts = inline.clone().unwrap_or_default();
    let contact = ctx.state.store.create_contact_with_extensions(ctx.mailbox(), &folder, data, exts).await?;
    entity_response(ctx, &contact, StatusCode::CREATED, path, inline.as_deref())
}

fn inline_extensions(items: &[Value]) -> GraphResult<Vec<OpenExtension>> {
    if items.len() > MAX_EXTENSIONS_PER_CONTACT {
        return Err(GraphError::bad_request(
            "ErrorExtensionLimitExceeded",
            format!("A contact may hold at most {MAX_EXTENSIONS_PER_CONTACT} open extensions."),
        ));
    }
    let mut out: Vec<OpenExtension> = Vec::with_capacity(items.len());
    for item in items {
        let ext = OpenExtension::from_v1(item, None)?;
        if out.iter().any(|e| e.name.eq_ignore_ascii_case(&ext.name)) {
            return Err(GraphError::new(
                rolo_domain::ErrorKind::Conflict,
                "nameAlreadyExists",
                format!("The extension '{}' is given twice.", ext.name),
            ));
        }
        out.push(ext);
    }
    Ok(out)
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
    entity_response(ctx, &contact, StatusCode::OK, path, None)
}

/// `DELETE .../contacts/{id}` and `POST .../contacts/{id}/permanentDelete`
pub async fn delete(ctx: &Ctx, path: &FolderPath, id: &str) -> GraphResult<Response> {
    let id = ContactId::parse(id)?;
    let folder = ctx.contacts_folder(path).await?;
    ctx.state.store.delete_contact(ctx.mailbox(), &id, &scope(folder, path), ctx.if_match.clone()).await?;
    Ok(no_content())
}
