//! Handlers for messages and events, the minimal subset of Graph's mail and calendar that feeds
//! People relevance: `/me/messages`, `/me/mailFolders/{inbox|drafts|sentitems}/messages`,
//! `/me/sendMail`, `/me/messages/{id}/send` and `/me/events` (and the `/users/{id}` forms).

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::access::RouteKind;
use rolo_domain::mail::{
    self, Item, ItemKind, MailFolder, MessageWrite, CALENDAR_FOLDER, EVENT_PROPERTIES, EVENT_TYPE, MESSAGE_PROPERTIES,
    MESSAGE_TYPE,
};
use rolo_domain::projection::etag;
use rolo_domain::{Access, ContactId, GraphError, GraphResult};
use rolo_odata::{OrderItem, SelectItem};
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::query::list_query;
use crate::response::with_header;
use crate::response::{json_body, json_status, no_content};

/// What each kind is called in URLs, contexts and errors.
fn names(kind: ItemKind) -> (&'static str, &'static str, &'static [&'static str]) {
    match kind {
        ItemKind::Message => ("messages", MESSAGE_TYPE, MESSAGE_PROPERTIES),
        ItemKind::Event => ("events", EVENT_TYPE, EVENT_PROPERTIES),
        ItemKind::Task => ("tasks", rolo_domain::todo::TASK_TYPE, rolo_domain::todo::TASK_PROPERTIES),
        ItemKind::Post => ("posts", rolo_domain::group::POST_TYPE, rolo_domain::group::POST_PROPERTIES),
    }
}

/// `$select` as property names (`None`: everything).
pub(crate) fn selection(ctx: &Ctx, kind: ItemKind) -> GraphResult<Option<Vec<String>>> {
    let Some(items) = &ctx.options.select else { return Ok(None) };
    let (_, type_name, props) = names(kind);
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::All => return Ok(None),
            // Names match case-insensitively, as on Graph; the projection reads the canonical one.
            SelectItem::Path(p) if p.len() == 1 && props.iter().any(|n| n.eq_ignore_ascii_case(&p[0])) => {
                out.extend(props.iter().find(|n| n.eq_ignore_ascii_case(&p[0])).map(|n| (*n).to_owned()))
            }
            SelectItem::Path(p) => {
                return Err(GraphError::bad_request(
                    "BadRequest",
                    format!(
                        "Parsing OData Select and Expand failed: Could not find a property named '{}' on type '{type_name}'.",
                        p.join("/")
                    ),
                ))
            }
        }
    }
    Ok(Some(out))
}

/// The collection in `@odata.context`. As on Graph (and for contacts), a `$select` is named
/// there: `messages(sender,subject)`.
pub(crate) fn context_tail(kind: ItemKind, select: Option<&[String]>) -> String {
    match select {
        Some(picked) if !picked.is_empty() => format!("{}({})", names(kind).0, picked.join(",")),
        _ => names(kind).0.to_owned(),
    }
}

/// The mailbox owner as an `emailAddress`.
fn owner_email(ctx: &Ctx) -> Value {
    json!({"name": ctx.user.display_name, "address": ctx.user.user_principal_name})
}

fn project(ctx: &Ctx, kind: ItemKind, item: &Item, select: Option<&[String]>) -> Value {
    match kind {
        ItemKind::Message => mail::message_json(item, select),
        ItemKind::Event => mail::event_json(item, &ctx.user.user_principal_name, select),
        ItemKind::Task => rolo_domain::todo::task_json(item, select, false),
        ItemKind::Post => rolo_domain::group::post_json(item, select),
    }
}

fn entity_response(ctx: &Ctx, kind: ItemKind, item: &Item, status: StatusCode) -> GraphResult<Response> {
    let select = if status == StatusCode::OK { selection(ctx, kind)? } else { None };
    let mut value = project(ctx, kind, item, select.as_deref());
    if let Value::Object(m) = &mut value {
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            json!(ctx.context(&format!("{}/$entity", context_tail(kind, select.as_deref())))),
        );
        out.append(m);
        value = Value::Object(out);
    }
    let resp = json_status(status, serde_json::to_vec(&value).map_err(GraphError::internal)?);
    Ok(with_header(resp, "ETag", &etag(&item.change_key)))
}

/// An item id from a URL: malformed ids get Graph's 400s.
fn item_id(raw: &str) -> GraphResult<String> {
    Ok(ContactId::parse(raw)?.to_string())
}

/// `GET .../messages`, `GET .../mailFolders/{name}/messages` and `GET .../events`. Messages are
/// listed newest first unless `$orderby` says otherwise, as on Graph.
pub async fn list(ctx: &Ctx, kind: ItemKind, folder: Option<&str>) -> GraphResult<Response> {
    ctx.require_whole_mailbox()?;
    let folder = folder.map(mail_folder).transpose()?;
    let select = selection(ctx, kind)?;
    let scope_name = format!("{}:{}", names(kind).0, folder.map(MailFolder::name).unwrap_or("*"));
    let mut options = ctx.options.clone();
    if kind == ItemKind::Message && options.orderby.is_empty() {
        options.orderby = vec![OrderItem { path: vec!["receivedDateTime".into()], descending: true }];
    }
    let (mut query, prefer_used) = list_query(&options, &ctx.prefer, &ctx.state.codec, &scope_name)?;
    query.version = ctx.version;
    query.max_bytes = Some(ctx.state.limits().page_bytes);
    let page = ctx.state.store.list_items(ctx.mailbox(), kind, folder.map(MailFolder::name), &query).await?;
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(ctx.context(&context_tail(kind, select.as_deref()))));
    if let Some(n) = page.count {
        body.insert("@odata.count".into(), json!(n));
    }
    body.insert(
        "value".into(),
        Value::Array(page.items.iter().map(|i| project(ctx, kind, i, select.as_deref())).collect()),
    );
    if let Some(cursor) = page.next {
        let token = ctx.state.codec.encode(&scope_name, &options, cursor);
        let link = crate::query::next_link(&ctx.base, &ctx.path, ctx.raw_query.as_deref(), &token);
        body.insert("@odata.nextLink".into(), json!(link));
    }
    let resp = json_status(StatusCode::OK, serde_json::to_vec(&body).map_err(GraphError::internal)?);
    Ok(match ctx.prefer.applied(prefer_used) {
        Some(applied) => with_header(resp, "Preference-Applied", &applied),
        None => resp,
    })
}

/// `GET .../messages/$count` (also under `mailFolders/{name}`) and `GET .../events/$count`
pub async fn count(ctx: &Ctx, kind: ItemKind, folder: Option<&str>) -> GraphResult<u64> {
    ctx.require_whole_mailbox()?;
    let folder = folder.map(mail_folder).transpose()?;
    let query = crate::count::list_query(ctx)?;
    let page = ctx.state.store.list_items(ctx.mailbox(), kind, folder.map(MailFolder::name), &query).await?;
    Ok(page.count.unwrap_or(0))
}

fn mail_folder(raw: &str) -> GraphResult<MailFolder> {
    MailFolder::parse(raw).ok_or_else(|| {
        GraphError::bad_request(
            "ErrorInvalidIdMalformed",
            format!("Rolo serves the inbox, drafts and sentitems mail folders only, not '{raw}'."),
        )
    })
}

/// `GET .../messages/{id}` and `GET .../events/{id}`
pub async fn get(ctx: &Ctx, kind: ItemKind, id: &str) -> GraphResult<Response> {
    ctx.require_whole_mailbox()?;
    let id = item_id(id)?;
    let item = ctx.state.store.get_item(ctx.mailbox(), kind, &id).await?.ok_or_else(GraphError::item_not_found)?;
    entity_response(ctx, kind, &item, StatusCode::OK)
}

/// `POST .../messages`: a draft; or, when the body carries `receivedDateTime` (or is posted to
/// `mailFolders/inbox/messages`), a received message placed in the inbox: how tests and seeds
/// craft a mailbox's history.
pub async fn create_message(ctx: &Ctx, folder: Option<&str>, body: &Value) -> GraphResult<Response> {
    ctx.require_whole_mailbox()?;
    let received = match folder.map(mail_folder).transpose()? {
        Some(MailFolder::Inbox) => true,
        Some(MailFolder::Drafts) => false,
        Some(MailFolder::SentItems) => {
            return Err(GraphError::bad_request(
                "ErrorInvalidRequest",
                "Messages reach Sent Items by being sent (sendMail), not by being created there.",
            ))
        }
        None => body.get("receivedDateTime").is_some_and(|v| !v.is_null()),
    };
    let mut doc = Map::new();
    if received {
        mail::apply_message(&mut doc, body, MessageWrite::Received)?;
        if !doc.contains_key("receivedDateTime") {
            doc.insert("receivedDateTime".into(), json!(rolo_domain::time::now_utc()));
        }
        if !doc.contains_key("sentDateTime") {
            doc.insert("sentDateTime".into(), doc["receivedDateTime"].clone());
        }
    } else {
        mail::apply_message(&mut doc, body, MessageWrite::Draft)?;
    }
    doc.insert("conversationId".into(), json!(ContactId::generate().to_string()));
    let folder = if received { MailFolder::Inbox } else { MailFolder::Drafts };
    let item = ctx.state.store.create_item(ctx.mailbox(), ItemKind::Message, folder.name(), doc).await?;
    entity_response(ctx, ItemKind::Message, &item, StatusCode::CREATED)
}

/// `POST .../sendMail`: `{"message": {...}, "saveToSentItems": true}` → 202. A copy lands in the
/// sender's Sent Items (unless `saveToSentItems` is false) and one in the Inbox of each recipient
/// whose address is a Rolo user's principal name; other recipients get nothing.
pub async fn send_mail(ctx: &Ctx, body: &Value) -> GraphResult<Response> {
    ctx.principal.require_route(RouteKind::MailSend, Access::Write, true)?;
    if !matches!(ctx.access, rolo_domain::MailboxAccess::Owner | rolo_domain::MailboxAccess::App) {
        return Err(GraphError::access_denied());
    }
    let obj = body
        .as_object()
        .ok_or_else(|| GraphError::bad_request("RequestBodyRead", "The request body must be a JSON object."))?;
    let mut message = None;
    let mut save = true;
    for (k, v) in obj {
        match k.as_str() {
            "message" => message = Some(v),
            "saveToSentItems" => {
                save = match v {
                    Value::Null => true,
                    Value::Bool(b) => *b,
                    Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                    Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                    _ => return Err(GraphError::wrong_type(k, "Edm.Boolean")),
                }
            }
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, "microsoft.graph.sendMail")),
        }
    }
    let message = message
        .filter(|m| !m.is_null())
        .ok_or_else(|| GraphError::bad_request("ErrorInvalidParameter", "sendMail needs a 'message' parameter."))?;
    let mut doc = Map::new();
    mail::apply_message(&mut doc, message, MessageWrite::Draft)?;
    deliver(ctx, doc, save).await?;
    Ok(accepted())
}

/// `POST .../messages/{id}/send`: sends a draft as `sendMail` would, then removes it from Drafts
/// (its Sent Items copy gets a new id, as on Graph).
pub async fn send_draft(ctx: &Ctx, id: &str) -> GraphResult<Response> {
    ctx.principal.require_route(RouteKind::MailSend, Access::Write, true)?;
    if !matches!(ctx.access, rolo_domain::MailboxAccess::Owner | rolo_domain::MailboxAccess::App) {
        return Err(GraphError::access_denied());
    }
    let id = item_id(id)?;
    let draft = ctx
        .state
        .store
        .get_item(ctx.mailbox(), ItemKind::Message, &id)
        .await?
        .ok_or_else(GraphError::item_not_found)?;
    if draft.folder != MailFolder::Drafts.name() {
        return Err(GraphError::bad_request("ErrorInvalidOperation", "Only a draft can be sent."));
    }
    let mut doc = draft.doc;
    doc.remove("conversationId");
    deliver(ctx, doc, true).await?;
    ctx.state.store.delete_item(ctx.mailbox(), ItemKind::Message, &id, None).await?;
    Ok(accepted())
}

fn accepted() -> Response {
    let mut resp = json_body(Vec::new());
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp.headers_mut().remove(axum::http::header::CONTENT_TYPE);
    resp
}

/// Sends a message: the Sent Items copy (when `save`), and one Inbox copy per Rolo recipient.
async fn deliver(ctx: &Ctx, mut doc: Map<String, Value>, save: bool) -> GraphResult<()> {
    let recipients = mail::message_recipients(&doc);
    if recipients.is_empty() {
        return Err(GraphError::bad_request(
            "ErrorInvalidRecipients",
            "At least one recipient is not valid: the message has no recipients.",
        ));
    }
    let now = rolo_domain::time::now_utc();
    let sender = json!({ "emailAddress": owner_email(ctx) });
    doc.insert("from".into(), sender.clone());
    doc.insert("sender".into(), sender);
    doc.insert("sentDateTime".into(), json!(now));
    doc.insert("receivedDateTime".into(), json!(now));
    doc.insert("conversationId".into(), json!(ContactId::generate().to_string()));
    doc.remove("isRead");
    let store = &ctx.state.store;
    if save {
        let mut sent = doc.clone();
        sent.insert("isRead".into(), json!(true));
        store.create_item(ctx.mailbox(), ItemKind::Message, MailFolder::SentItems.name(), sent).await?;
    }
    // Recipients never see the Bcc line; each Rolo mailbox gets one copy however often it is named.
    let mut delivered: Vec<String> = Vec::new();
    let mut copy = doc;
    copy.remove("bccRecipients");
    for (address, _) in recipients {
        let key = address.to_lowercase();
        if delivered.contains(&key) {
            continue;
        }
        delivered.push(key);
        let Some(user) = ctx.state.user(&address).await? else { continue };
        if !user.user_principal_name.eq_ignore_ascii_case(&address) {
            continue;
        }
        store.create_item(&user.mailbox, ItemKind::Message, MailFolder::Inbox.name(), copy.clone()).await?;
    }
    Ok(())
}

/// `POST .../events`: the organizer defaults to the mailbox owner.
pub async fn create_event(ctx: &Ctx, body: &Value) -> GraphResult<Response> {
    ctx.require_whole_mailbox()?;
    let mut doc = Map::new();
    mail::apply_event(&mut doc, body, true, &owner_email(ctx))?;
    let item = ctx.state.store.create_item(ctx.mailbox(), ItemKind::Event, CALENDAR_FOLDER, doc).await?;
    entity_response(ctx, ItemKind::Event, &item, StatusCode::CREATED)
}

/// `PATCH .../messages/{id}` (`categories`, `flag`, `isRead`; drafts also their content) and
/// `PATCH .../events/{id}`.
pub async fn update(ctx: &Ctx, kind: ItemKind, id: &str, body: Value) -> GraphResult<Response> {
    ctx.require_whole_mailbox()?;
    let id = item_id(id)?;
    let owner = owner_email(ctx);
    // Validate the body's shape before taking the write lock; folder-dependent rules run inside.
    match kind {
        ItemKind::Message => mail::apply_message(&mut Map::new(), &body, MessageWrite::Patch { draft: true })?,
        ItemKind::Event => mail::apply_event(&mut Map::new(), &body, false, &owner)?,
        // Tasks are written through `todo`, under their list.
        ItemKind::Task | ItemKind::Post => {
            return Err(GraphError::internal("a task or post reached the message handlers"))
        }
    }
    let edit = Box::new(move |item: &mut Item| match kind {
        ItemKind::Message => {
            let draft = item.folder == MailFolder::Drafts.name();
            mail::apply_message(&mut item.doc, &body, MessageWrite::Patch { draft })
        }
        ItemKind::Event => mail::apply_event(&mut item.doc, &body, false, &owner),
        ItemKind::Task | ItemKind::Post => Err(GraphError::internal("a task or post reached the message handlers")),
    });
    let item = ctx.state.store.update_item(ctx.mailbox(), kind, &id, ctx.if_match.clone(), edit).await?;
    entity_response(ctx, kind, &item, StatusCode::OK)
}

/// `DELETE .../messages/{id}` and `DELETE .../events/{id}`
pub async fn delete(ctx: &Ctx, kind: ItemKind, id: &str) -> GraphResult<Response> {
    ctx.require_whole_mailbox()?;
    let id = item_id(id)?;
    ctx.state.store.delete_item(ctx.mailbox(), kind, &id, ctx.if_match.clone()).await?;
    Ok(no_content())
}
