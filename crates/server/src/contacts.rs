//! Handlers for contacts: `/me/contacts`, `/users/{id}/contacts`, and `contacts` under any
//! contact folder.

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::contact::{StoredContact, WriteRules, CONTACT_TYPE};
use rolo_domain::extension::{bare_name, ExtensionLimits, OpenExtension};
use rolo_domain::projection::{contact_properties, etag, ContactJson, FieldSet};
use rolo_domain::schema::SchemaExtension;
use rolo_domain::{Access, ApiVersion, Contact, ContactData, ContactId, GraphError, GraphResult};
use rolo_odata::{CompareOp, ExpandItem, Expr, Literal, SelectItem};
use rolo_store::Scope;
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::paths::FolderPath;
use crate::query::contact_list_query;
use crate::response::with_header;
use crate::response::{json_status, no_content};

/// The collection's name in `@odata.context`.
fn collection_context(ctx: &Ctx, folder: &FolderPath, resolved: &rolo_domain::FolderId, fields: FieldSet) -> String {
    let mut tail = String::with_capacity(64);
    if let FolderPath::Chain(_) = folder {
        tail.push_str("contactFolders('");
        tail.push_str(resolved.as_str());
        tail.push_str("')/");
    }
    tail.push_str("contacts");
    if let Some(names) = fields.names(contact_properties(ctx.version)) {
        tail.push('(');
        tail.push_str(&names);
        tail.push(')');
    }
    ctx.context(&tail)
}

/// Whether a name can only be a schema extension's id (contact properties hold no `_`).
fn is_schema_name(name: &str) -> bool {
    name.contains('_') && !name.starts_with('@')
}

/// `$select` split into contact properties and schema-extension ids (a value Graph returns only
/// when named, or on a full read).
struct Selection {
    fields: FieldSet,
    schema_values: Option<Vec<String>>,
}

impl Selection {
    fn json<'a>(&'a self, contact: &'a Contact, version: ApiVersion) -> ContactJson<'a> {
        let mut json = ContactJson::new(contact, self.fields, version);
        json.schema_values = self.schema_values.as_deref();
        json
    }

    /// The same, rendered from the stored document without parsing it into a `ContactData`.
    fn stored<'a>(&'a self, contact: &'a StoredContact, version: ApiVersion) -> GraphResult<ContactJson<'a>> {
        let mut json = ContactJson::stored(contact, self.fields, version)?;
        json.schema_values = self.schema_values.as_deref();
        Ok(json)
    }
}

async fn selection(ctx: &Ctx) -> GraphResult<Selection> {
    let Some(items) = &ctx.options.select else {
        return Ok(Selection { fields: FieldSet::ALL, schema_values: None });
    };
    let (schema, props): (Vec<&SelectItem>, Vec<&SelectItem>) =
        items.iter().partition(|i| matches!(i, SelectItem::Path(p) if p.len() == 1 && is_schema_name(&p[0])));
    let props: Vec<SelectItem> = props.into_iter().cloned().collect();
    let mut names = Vec::new();
    if !schema.is_empty() {
        let known = ctx.state.store.list_schema_extensions().await?;
        for item in schema {
            let SelectItem::Path(p) = item else { continue };
            if !known.iter().any(|k| k.id.eq_ignore_ascii_case(&p[0]) && k.targets_contacts()) {
                return Err(GraphError::bad_request(
                    "BadRequest",
                    format!("Parsing OData Select and Expand failed: Could not find a property named '{}' on type '{CONTACT_TYPE}'.", p[0]),
                ));
            }
            names.push(p[0].clone());
        }
    }
    let fields = if props.is_empty() && !names.is_empty() {
        FieldSet::from_select(&[], contact_properties(ctx.version), CONTACT_TYPE)?
    } else if props.iter().any(|p| matches!(p, SelectItem::All)) || props.is_empty() {
        FieldSet::ALL
    } else {
        FieldSet::from_select(&props, contact_properties(ctx.version), CONTACT_TYPE)?
    };
    let schema_values = if fields == FieldSet::ALL && names.is_empty() { None } else { Some(names) };
    Ok(Selection { fields, schema_values })
}

/// What `$expand` asks for. Graph allows open extensions (all, or one by id) and extended
/// properties by id; anything else is refused with Graph's error.
enum Expansion {
    Extensions(Option<String>),
    Single(Vec<String>),
    Multi(Vec<String>),
}

fn expansions(ctx: &Ctx) -> GraphResult<Vec<Expansion>> {
    ctx.options.expand.iter().map(expansion).collect()
}

fn expansion(item: &ExpandItem) -> GraphResult<Expansion> {
    let name = item.path.join("/");
    if name.eq_ignore_ascii_case("photo") {
        return Err(GraphError::bad_request(
            "ExpandNotSupported",
            "Expand is not allowed for property 'Photo' according to the entity schema.",
        ));
    }
    let single = name.eq_ignore_ascii_case("singleValueExtendedProperties");
    let multi = name.eq_ignore_ascii_case("multiValueExtendedProperties");
    if !name.eq_ignore_ascii_case("extensions") && !single && !multi {
        return Err(GraphError::bad_request(
            "BadRequest",
            format!("Parsing OData Select and Expand failed: Could not find a property named '{name}' on type '{CONTACT_TYPE}'."),
        ));
    }
    let o = &item.options;
    if o.select.is_some() || !o.orderby.is_empty() || o.top.is_some() || o.skip.is_some() || !o.expand.is_empty() {
        return Err(GraphError::bad_request(
            "BadRequest",
            format!("Only $filter=id eq '...' is supported inside $expand={name}."),
        ));
    }
    let mut ids = Vec::new();
    match &o.filter {
        None if !single && !multi => return Ok(Expansion::Extensions(None)),
        None => {
            return Err(GraphError::bad_request(
                "ErrorInvalidRequest",
                format!("Extended properties are expanded by id: use $expand={name}($filter=id eq '...')."),
            ))
        }
        Some(f) => id_list(f, &name, &mut ids)?,
    }
    if single || multi {
        let ids = ids.iter().map(|id| rolo_domain::xprop::canonical_id(id, multi)).collect::<GraphResult<Vec<_>>>()?;
        return Ok(if single { Expansion::Single(ids) } else { Expansion::Multi(ids) });
    }
    match ids.as_slice() {
        [one] => Ok(Expansion::Extensions(Some(bare_name(one).to_owned()))),
        _ => Err(GraphError::invalid_filter("Only $filter=id eq '...' is supported inside $expand=extensions.")),
    }
}

/// `id eq 'a' or id eq 'b'` → `[a, b]`.
fn id_list(e: &Expr, name: &str, out: &mut Vec<String>) -> GraphResult<()> {
    match e {
        Expr::Or(a, b) => {
            id_list(a, name, out)?;
            id_list(b, name, out)
        }
        Expr::Compare(l, CompareOp::Eq, r) => match (l.as_ref(), r.as_ref()) {
            (Expr::Path(p), Expr::Literal(Literal::String(id)))
            | (Expr::Literal(Literal::String(id)), Expr::Path(p))
                if p.len() == 1 && p[0].eq_ignore_ascii_case("id") =>
            {
                out.push(id.clone());
                Ok(())
            }
            _ => {
                Err(GraphError::invalid_filter(format!("Only $filter=id eq '...' is supported inside $expand={name}.")))
            }
        },
        _ => Err(GraphError::invalid_filter(format!("Only $filter=id eq '...' is supported inside $expand={name}."))),
    }
}

/// Loads the open extensions `$expand` asks for, grouped per contact.
async fn open_extensions(
    ctx: &Ctx,
    exps: &[Expansion],
    ids: &[&ContactId],
) -> GraphResult<Option<Vec<Vec<OpenExtension>>>> {
    let Some(only) = exps.iter().find_map(|e| match e {
        Expansion::Extensions(only) => Some(only),
        _ => None,
    }) else {
        return Ok(None);
    };
    let ids: Vec<ContactId> = ids.iter().map(|&id| id.clone()).collect();
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

/// A contact's JSON with what `$expand` asked for. Extended properties come from the contact's
/// own document; a property asked for but not set is simply absent, as on Graph.
fn expanded(
    ctx: &Ctx,
    contact: &Contact,
    v: ContactJson<'_>,
    exps: &[Expansion],
    extensions: Option<&[OpenExtension]>,
) -> GraphResult<Value> {
    let mut value = serde_json::to_value(&v).map_err(GraphError::internal)?;
    let Value::Object(m) = &mut value else { return Ok(value) };
    if let Some(exts) = extensions {
        m.insert("extensions".into(), Value::Array(exts.iter().map(OpenExtension::to_v1).collect()));
    }
    for e in exps {
        let (name, found): (&str, Vec<Value>) = match e {
            Expansion::Extensions(_) => continue,
            Expansion::Single(ids) => (
                "singleValueExtendedProperties",
                contact
                    .data
                    .single_value_extended_properties
                    .iter()
                    .filter(|p| ids.contains(&p.id))
                    .map(rolo_domain::xprop::single_json)
                    .collect(),
            ),
            Expansion::Multi(ids) => (
                "multiValueExtendedProperties",
                contact
                    .data
                    .multi_value_extended_properties
                    .iter()
                    .filter(|p| ids.contains(&p.id))
                    .map(rolo_domain::xprop::multi_json)
                    .collect(),
            ),
        };
        if !found.is_empty() {
            let context = ctx.context(&format!("contacts('{}')/{name}", contact.id));
            m.insert(format!("{name}@odata.context"), json!(context));
            m.insert(name.into(), Value::Array(found));
        }
    }
    Ok(value)
}

/// The rules a write body is checked against; schema-extension definitions are loaded only when
/// the body names one.
async fn write_rules(ctx: &Ctx, body: &Value) -> GraphResult<Vec<SchemaExtension>> {
    let names_schema = body.as_object().is_some_and(|o| o.keys().any(|k| is_schema_name(k)));
    if names_schema {
        ctx.state.store.list_schema_extensions().await
    } else {
        Ok(Vec::new())
    }
}

async fn entity_response(
    ctx: &Ctx,
    contact: &Contact,
    status: StatusCode,
    path: &FolderPath,
    exps: &[Expansion],
    extensions: Option<&[OpenExtension]>,
) -> GraphResult<Response> {
    let sel = match status {
        StatusCode::OK => selection(ctx).await?,
        _ => Selection { fields: FieldSet::ALL, schema_values: None },
    };
    let context = collection_context(ctx, path, &contact.folder_id, sel.fields) + "/$entity";
    let v = sel.json(contact, ctx.version).with_context(&context);
    let mut body = Vec::with_capacity(ENTITY_CAPACITY);
    if exps.is_empty() && extensions.is_none() {
        v.write_json(&mut body)
    } else {
        serde_json::to_writer(&mut body, &expanded(ctx, contact, v, exps, extensions)?)
    }
    .map_err(GraphError::internal)?;
    Ok(entity_body(ctx, status, body, &contact.change_key))
}

/// Sized for a typical contact, so the body is not regrown several times while it is written.
const ENTITY_CAPACITY: usize = 2048;

/// A contact read and shown as it is: rendered from its stored document.
async fn stored_response(ctx: &Ctx, contact: &StoredContact, path: &FolderPath) -> GraphResult<Response> {
    let sel = selection(ctx).await?;
    let context = collection_context(ctx, path, &contact.folder_id, sel.fields) + "/$entity";
    let v = sel.stored(contact, ctx.version)?.with_context(&context);
    let mut body = Vec::with_capacity(ENTITY_CAPACITY);
    v.write_json(&mut body).map_err(GraphError::internal)?;
    Ok(entity_body(ctx, StatusCode::OK, body, &contact.change_key))
}

fn entity_body(ctx: &Ctx, status: StatusCode, body: Vec<u8>, change_key: &str) -> Response {
    let resp = json_status(status, body);
    let resp = with_header(resp, "ETag", &etag(change_key));
    match ctx.prefer.applied(false) {
        Some(applied) => with_header(resp, "Preference-Applied", &applied),
        None => resp,
    }
}

/// What `GET .../contacts` lists: the folder (for `@odata.context`), the name its `$skiptoken`s
/// are bound to, and the store scope. On beta, `/me/contacts` lists every contact of the
/// mailbox, as Graph's beta does; v1.0 lists the default folder.
async fn list_target(ctx: &Ctx, path: &FolderPath) -> GraphResult<(rolo_domain::FolderId, String, Scope)> {
    if ctx.version == ApiVersion::Beta && *path == FolderPath::Default {
        ctx.require_whole_mailbox()?;
        return Ok((ctx.mailbox().default_folder_id.clone(), "contacts:*".to_owned(), Scope::Mailbox));
    }
    let folder = ctx.contacts_folder(path).await?;
    Ok((folder.clone(), format!("contacts:{folder}"), Scope::Folder(folder)))
}

/// `GET .../contacts/$count`
pub async fn count(ctx: &Ctx, path: &FolderPath) -> GraphResult<u64> {
    let (_, _, scope) = list_target(ctx, path).await?;
    // A count ignores `$orderby` and `$skip`, so unlike the list it takes them beside `$search`.
    let search = match &ctx.options.search {
        Some(text) => rolo_domain::search::parse(text)?,
        None => Vec::new(),
    };
    let query = rolo_store::ListQuery {
        filter: ctx.options.filter.clone(),
        search,
        page_size: 1,
        count: true,
        version: ctx.version,
        ..rolo_store::ListQuery::default()
    };
    Ok(ctx.state.store.list_contacts(ctx.mailbox(), &scope, &query).await?.count.unwrap_or(0))
}

/// `GET .../contacts`
pub async fn list(ctx: &Ctx, path: &FolderPath) -> GraphResult<Response> {
    let (folder, scope_name, list_scope) = list_target(ctx, path).await?;
    let sel = selection(ctx).await?;
    let exps = expansions(ctx)?;
    let (mut query, prefer_used) = contact_list_query(&ctx.options, &ctx.prefer, &ctx.state.codec, &scope_name)?;
    query.version = ctx.version;
    query.max_bytes = Some(ctx.state.limits().page_bytes);
    // Rendered from the stored documents; only an expansion, which reads extended properties,
    // parses them.
    let page = ctx.state.store.list_stored_contacts(ctx.mailbox(), &list_scope, &query).await?;
    let extensions = open_extensions(ctx, &exps, &page.items.iter().map(|c| &c.id).collect::<Vec<_>>()).await?;

    let mut out = Vec::with_capacity(256 + page.items.len() * 1200);
    out.extend_from_slice(b"{\"@odata.context\":");
    serde_json::to_writer(&mut out, &collection_context(ctx, path, &folder, sel.fields))
        .map_err(GraphError::internal)?;
    if let Some(n) = page.count {
        out.extend_from_slice(format!(",\"@odata.count\":{n}").as_bytes());
    }
    out.extend_from_slice(b",\"value\":[");
    for (i, stored) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if exps.is_empty() {
            sel.stored(stored, ctx.version)?.write_json(&mut out)
        } else {
            let contact = stored.clone().parse()?;
            let v = sel.json(&contact, ctx.version);
            let exts = extensions.as_ref().map(|e| e[i].as_slice());
            serde_json::to_writer(&mut out, &expanded(ctx, &contact, v, &exps, exts)?)
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
    let scope = ctx.contact_scope(path, &id).await?;
    let exps = expansions(ctx)?;
    let stored =
        ctx.state.store.get_stored_contact(ctx.mailbox(), &id, &scope).await?.ok_or_else(GraphError::item_not_found)?;
    if exps.is_empty() {
        return stored_response(ctx, &stored, path).await;
    }
    let contact = stored.parse()?;
    let extensions = open_extensions(ctx, &exps, &[&contact.id]).await?;
    entity_response(ctx, &contact, StatusCode::OK, path, &exps, extensions.as_ref().map(|e| e[0].as_slice())).await
}

/// A merged contact, as `GET` shows it (`merge.rs`).
pub(crate) async fn merged_response(ctx: &Ctx, contact: &Contact, path: &FolderPath) -> GraphResult<Response> {
    entity_response(ctx, contact, StatusCode::OK, path, &[], None).await
}

/// `POST .../contacts`
pub async fn create(ctx: &Ctx, path: &FolderPath, body: &Value) -> GraphResult<Response> {
    let mut folder = ctx.contacts_folder(path).await?;
    // Open extensions may come inline; the response then shows them expanded, as on Graph.
    let mut body = body.clone();
    let inline = match body.as_object_mut().and_then(|o| o.remove("extensions")) {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(inline_extensions(&items, ctx.state.limits().extensions)?),
        Some(_) => return Err(GraphError::wrong_type("extensions", "Collection(microsoft.graph.extension)")),
    };
    let schemas = write_rules(ctx, &body).await?;
    let mut data = ContactData::default();
    if let Some(parent) = data.apply(&body, WriteRules { version: ctx.version, schemas: &schemas, creating: true })? {
        // The body may name another folder: a folder grantee's write stays in its shared folders.
        ctx.access.folder(&parent, Access::Write)?;
        folder = parent;
    }
    let exts = inline.clone().unwrap_or_default();
    let contact = ctx.state.store.create_contact_with_extensions(ctx.mailbox(), &folder, data, exts).await?;
    entity_response(ctx, &contact, StatusCode::CREATED, path, &[], inline.as_deref()).await
}

fn inline_extensions(items: &[Value], limits: ExtensionLimits) -> GraphResult<Vec<OpenExtension>> {
    if items.len() > limits.per_contact {
        return Err(rolo_domain::extension::too_many(limits));
    }
    let mut out: Vec<OpenExtension> = Vec::with_capacity(items.len());
    for item in items {
        let ext = OpenExtension::from_v1(item, None)?;
        ext.check_size(limits)?;
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
    let scope = ctx.contact_scope(path, &id).await?;
    let schemas = write_rules(ctx, &body).await?;
    let version = ctx.version;
    // Validate before taking the write lock, so bad bodies cost no transaction.
    let target = ContactData::default().apply(&body, WriteRules { version, schemas: &schemas, creating: false })?;
    if let Some(target) = &target {
        // A move may only land where the caller may write: a folder grantee cannot take a
        // contact out of the folders shared with it.
        ctx.access.folder(target, Access::Write)?;
    }
    let edit = Box::new(move |data: &mut ContactData| {
        data.apply(&body, WriteRules { version, schemas: &schemas, creating: false })
    });
    let contact = ctx.state.store.update_contact(ctx.mailbox(), &id, &scope, ctx.if_match.clone(), edit).await?;
    entity_response(ctx, &contact, StatusCode::OK, path, &[], None).await
}

/// `DELETE .../contacts/{id}` and `POST .../contacts/{id}/permanentDelete`
pub async fn delete(ctx: &Ctx, path: &FolderPath, id: &str) -> GraphResult<Response> {
    let id = ContactId::parse(id)?;
    let scope = ctx.contact_scope(path, &id).await?;
    ctx.state.store.delete_contact(ctx.mailbox(), &id, &scope, ctx.if_match.clone()).await?;
    Ok(no_content())
}
