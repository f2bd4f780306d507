//! Messages and events: the minimal, honest subset of Graph's mail and calendar that Rolo keeps
//! so People relevance has real signals. A stored item is its Graph-named JSON document plus the
//! columns the store derives from it; this module owns validation, the v1.0 projections and the
//! correspondents (who an item was exchanged with) the interactions aggregate counts.

use serde_json::{json, Map, Value};

use crate::contact::opt_string;
use crate::error::{GraphError, GraphResult};

pub const MESSAGE_TYPE: &str = "microsoft.graph.message";
pub const EVENT_TYPE: &str = "microsoft.graph.event";

/// Which kind of item: decides the table, the shape and the signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Message,
    Event,
    /// A To Do task (`crate::todo`): its folder is its list's id.
    Task,
    /// A group conversation's post (`crate::group`): its folder is its thread's id.
    Post,
}

impl ItemKind {
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::Message => "message",
            ItemKind::Event => "event",
            ItemKind::Task => "task",
            ItemKind::Post => "post",
        }
    }
}

/// The mail folders Rolo models: each message lives in one, named by its well-known name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailFolder {
    Inbox,
    Drafts,
    SentItems,
}

impl MailFolder {
    pub fn name(self) -> &'static str {
        match self {
            MailFolder::Inbox => "inbox",
            MailFolder::Drafts => "drafts",
            MailFolder::SentItems => "sentitems",
        }
    }

    pub fn parse(raw: &str) -> Option<MailFolder> {
        [MailFolder::Inbox, MailFolder::Drafts, MailFolder::SentItems]
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(raw))
    }
}

/// The folder every event lives in.
pub const CALENDAR_FOLDER: &str = "calendar";

/// A stored message or event.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    /// `inbox`, `drafts`, `sentitems` for messages; `calendar` for events.
    pub folder: String,
    pub change_key: String,
    pub created: String,
    pub modified: String,
    /// The Graph-named properties a client wrote (or delivery set), without server-managed ones.
    pub doc: Map<String, Value>,
}

/// How a message body is being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageWrite {
    /// A new draft (`POST /me/messages`, the `message` of `sendMail`).
    Draft,
    /// A received message placed in an inbox (`POST /users/{id}/messages` with
    /// `receivedDateTime`, a Rolo extension for crafting histories).
    Received,
    /// A PATCH of a stored message; only drafts may change their content.
    Patch { draft: bool },
}

const MESSAGE_READ_ONLY: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "isDraft",
    "parentFolderId",
    "bodyPreview",
    "conversationId",
    "hasAttachments",
];

/// Properties any stored message may change, sent or not (Graph's "updatable" list).
const MESSAGE_ALWAYS_UPDATABLE: &[&str] = &["categories", "flag", "isRead"];

fn invalid(code: &'static str, message: impl Into<String>) -> GraphError {
    GraphError::bad_request(code, message)
}

fn object<'v>(key: &str, value: &'v Value, type_name: &str) -> GraphResult<&'v Map<String, Value>> {
    value.as_object().ok_or_else(|| GraphError::wrong_type(key, type_name))
}

/// `{"name","address"}`, the address required.
fn email_address(key: &str, value: &Value) -> GraphResult<Value> {
    let obj = object(key, value, "microsoft.graph.emailAddress")?;
    let mut name = None;
    let mut address = None;
    for (k, v) in obj {
        match k.as_str() {
            "name" => name = opt_string(k, v)?,
            "address" => address = opt_string(k, v)?,
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, "microsoft.graph.emailAddress")),
        }
    }
    let address = address.filter(|a| !a.trim().is_empty()).ok_or_else(|| {
        invalid("ErrorInvalidRecipients", format!("Each recipient in '{key}' needs an email address."))
    })?;
    if address.len() > 320 {
        return Err(invalid("ErrorInvalidRecipients", format!("The address '{address}' is too long.")));
    }
    let name = name.unwrap_or_else(|| address.clone());
    Ok(json!({"name": name, "address": address.trim()}))
}

/// A `recipient`: `{"emailAddress": {...}}`.
fn recipient(key: &str, value: &Value) -> GraphResult<Value> {
    let obj = object(key, value, "microsoft.graph.recipient")?;
    let mut email = None;
    for (k, v) in obj {
        match k.as_str() {
            "emailAddress" => email = Some(email_address(key, v)?),
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, "microsoft.graph.recipient")),
        }
    }
    let email = email.ok_or_else(|| invalid("ErrorInvalidRecipients", format!("'{key}' needs an emailAddress.")))?;
    Ok(json!({ "emailAddress": email }))
}

const MAX_RECIPIENTS: usize = 500;

pub(crate) fn recipients(key: &str, value: &Value) -> GraphResult<Value> {
    match value {
        Value::Null => Ok(json!([])),
        Value::Array(items) if items.len() <= MAX_RECIPIENTS => {
            Ok(Value::Array(items.iter().map(|v| recipient(key, v)).collect::<GraphResult<_>>()?))
        }
        Value::Array(_) => {
            Err(invalid("ErrorInvalidRecipients", format!("'{key}' may hold at most {MAX_RECIPIENTS} recipients.")))
        }
        _ => Err(GraphError::wrong_type(key, "Collection(microsoft.graph.recipient)")),
    }
}

pub(crate) fn item_body(key: &str, value: &Value) -> GraphResult<Value> {
    let obj = object(key, value, "microsoft.graph.itemBody")?;
    let mut content_type = "text".to_owned();
    let mut content = String::new();
    for (k, v) in obj {
        match k.as_str() {
            "contentType" => {
                let raw = opt_string(k, v)?.unwrap_or_else(|| "text".into());
                content_type = ["text", "html"]
                    .into_iter()
                    .find(|t| t.eq_ignore_ascii_case(&raw))
                    .ok_or_else(|| {
                        invalid(
                            "RequestBodyRead",
                            format!("The value '{raw}' is not valid for the enumeration 'microsoft.graph.bodyType'."),
                        )
                    })?
                    .to_owned();
            }
            "content" => content = opt_string(k, v)?.unwrap_or_default(),
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, "microsoft.graph.itemBody")),
        }
    }
    Ok(json!({"contentType": content_type, "content": content}))
}

pub(crate) fn enum_value(key: &str, value: &Value, allowed: &[&str], type_name: &str) -> GraphResult<Value> {
    let raw = value.as_str().ok_or_else(|| GraphError::wrong_type(key, type_name))?;
    allowed.iter().find(|a| a.eq_ignore_ascii_case(raw)).map(|a| json!(a)).ok_or_else(|| {
        invalid("RequestBodyRead", format!("The value '{raw}' is not valid for the enumeration '{type_name}'."))
    })
}

pub(crate) fn categories(key: &str, value: &Value) -> GraphResult<Value> {
    match value {
        Value::Null => Ok(json!([])),
        Value::Array(items) if items.len() <= 100 => {
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                let s = v.as_str().ok_or_else(|| GraphError::wrong_type(key, "Collection(Edm.String)"))?;
                if s.chars().count() > 255 {
                    return Err(invalid("ErrorInvalidProperty", "A category name holds at most 255 characters."));
                }
                out.push(json!(s));
            }
            Ok(Value::Array(out))
        }
        Value::Array(_) => Err(invalid("ErrorInvalidProperty", "An item may carry at most 100 categories.")),
        _ => Err(GraphError::wrong_type(key, "Collection(Edm.String)")),
    }
}

fn timestamp(key: &str, value: &Value) -> GraphResult<Value> {
    let raw = value.as_str().ok_or_else(|| GraphError::wrong_type(key, "Edm.DateTimeOffset"))?;
    crate::time::normalize_datetime(raw)
        .map(Value::String)
        .ok_or_else(|| invalid("RequestBodyRead", format!("'{raw}' is not a valid date-time for '{key}'.")))
}

/// Applies a message body to `doc`, as `mode` allows. Unknown properties are refused with
/// `RequestBodyRead`, server-managed ones with `ErrorInvalidProperty`.
pub fn apply_message(doc: &mut Map<String, Value>, body: &Value, mode: MessageWrite) -> GraphResult<()> {
    let obj = body
        .as_object()
        .ok_or_else(|| GraphError::bad_request("RequestBodyRead", "The request body must be a JSON object."))?;
    for (key, value) in obj {
        let k = key.as_str();
        if k.starts_with("@odata.") {
            continue;
        }
        if MESSAGE_READ_ONLY.contains(&k) {
            return Err(GraphError::read_only_property(k));
        }
        if let MessageWrite::Patch { draft: false } = mode {
            if !MESSAGE_ALWAYS_UPDATABLE.contains(&k) && is_message_property(k) {
                return Err(invalid(
                    "ErrorInvalidPropertyUpdateSentMessage",
                    format!("The property '{k}' can only be updated on a draft."),
                ));
            }
        }
        let stored = match k {
            "subject" => json!(opt_string(k, value)?.unwrap_or_default()),
            "body" => item_body(k, value)?,
            "from" | "sender" => match value {
                Value::Null => Value::Null,
                v => recipient(k, v)?,
            },
            "toRecipients" | "ccRecipients" | "bccRecipients" | "replyTo" => recipients(k, value)?,
            "importance" => enum_value(k, value, &["low", "normal", "high"], "microsoft.graph.importance")?,
            "isRead" => json!(value.as_bool().ok_or_else(|| GraphError::wrong_type(k, "Edm.Boolean"))?),
            "flag" => crate::flag::parse(value)?.unwrap_or_else(crate::flag::not_flagged),
            "categories" => categories(k, value)?,
            "receivedDateTime" | "sentDateTime" => match mode {
                MessageWrite::Received => timestamp(k, value)?,
                _ => return Err(GraphError::read_only_property(k)),
            },
            _ => return Err(GraphError::unknown_property(k, MESSAGE_TYPE)),
        };
        if stored.is_null() {
            doc.remove(k);
        } else {
            doc.insert(k.to_owned(), stored);
        }
    }
    if mode == MessageWrite::Received && !doc.contains_key("from") {
        return Err(invalid("ErrorInvalidRecipients", "A received message needs a 'from'."));
    }
    Ok(())
}

fn is_message_property(k: &str) -> bool {
    matches!(
        k,
        "subject"
            | "body"
            | "from"
            | "sender"
            | "toRecipients"
            | "ccRecipients"
            | "bccRecipients"
            | "replyTo"
            | "importance"
            | "receivedDateTime"
            | "sentDateTime"
    )
}

/// The address of a `recipient` value.
fn address_of(recipient: &Value) -> Option<&str> {
    recipient["emailAddress"]["address"].as_str()
}

fn name_of(recipient: &Value) -> &str {
    recipient["emailAddress"]["name"].as_str().unwrap_or_default()
}

/// Every address a message is addressed to (`to`, `cc`, `bcc`).
pub fn message_recipients(doc: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for key in ["toRecipients", "ccRecipients", "bccRecipients"] {
        for r in doc.get(key).and_then(Value::as_array).into_iter().flatten() {
            if let Some(a) = address_of(r) {
                out.push((a.to_owned(), name_of(r).to_owned()));
            }
        }
    }
    out
}

/// The sender's address of a message, if it has one.
pub fn message_from(doc: &Map<String, Value>) -> Option<&str> {
    doc.get("from").and_then(address_of)
}

/// What one item says about a correspondent of the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// The mailbox sent them mail (a message in Sent Items addressed to them).
    Sent,
    /// The mailbox received mail from them (a message in the Inbox).
    Received,
    /// They attend (or organise) one of the mailbox's events.
    Meeting,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Sent => "sent",
            Signal::Received => "received",
            Signal::Meeting => "meeting",
        }
    }
}

/// Someone an item was exchanged with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correspondent {
    pub address: String,
    pub display_name: String,
    pub signal: Signal,
    /// When: the message's received or sent time, the event's start (UTC, Graph's form).
    pub at: String,
}

/// The correspondents of a stored item, the mailbox owner (`owner`, an address) excluded and
/// each address counted once per item. Drafts say nothing about anyone.
pub fn correspondents(kind: ItemKind, folder: &str, doc: &Map<String, Value>, owner: &str) -> Vec<Correspondent> {
    let mut out: Vec<Correspondent> = Vec::new();
    let mut push = |address: &str, name: &str, signal: Signal, at: &str| {
        let address = address.trim();
        // Compared as the store folds them (Unicode lower case), so one item names each address once.
        let key = address.to_lowercase();
        if address.is_empty() || key == owner.to_lowercase() || out.iter().any(|c| c.address.to_lowercase() == key) {
            return;
        }
        out.push(Correspondent {
            address: address.to_owned(),
            display_name: name.to_owned(),
            signal,
            at: at.to_owned(),
        });
    };
    let text = |key: &str| doc.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    match (kind, MailFolder::parse(folder)) {
        (ItemKind::Message, Some(MailFolder::Inbox)) => {
            if let Some(from) = doc.get("from") {
                push(address_of(from).unwrap_or_default(), name_of(from), Signal::Received, &text("receivedDateTime"));
            }
        }
        (ItemKind::Message, Some(MailFolder::SentItems)) => {
            let at = text("sentDateTime");
            for (address, name) in message_recipients(doc) {
                push(&address, &name, Signal::Sent, &at);
            }
        }
        (ItemKind::Message, _) | (ItemKind::Task, _) | (ItemKind::Post, _) => {}
        (ItemKind::Event, _) => {
            let at = event_instant(doc.get("start")).unwrap_or_default();
            if let Some(org) = doc.get("organizer") {
                push(address_of(org).unwrap_or_default(), name_of(org), Signal::Meeting, &at);
            }
            for a in doc.get("attendees").and_then(Value::as_array).into_iter().flatten() {
                push(address_of(a).unwrap_or_default(), name_of(a), Signal::Meeting, &at);
            }
        }
    }
    out
}

/// A `dateTimeTimeZone` as a sortable timestamp (`2024-01-02T03:04:05Z`). UTC values are exact;
/// a named zone's wall-clock time is taken as is (Rolo carries no time-zone database).
pub fn event_instant(v: Option<&Value>) -> Option<String> {
    let dt = v?.get("dateTime")?.as_str()?;
    let head = dt.get(..19)?;
    Some(format!("{head}Z"))
}

// ---------------------------------------------------------------------------------------------
// Events.

const EVENT_READ_ONLY: &[&str] =
    &["id", "createdDateTime", "lastModifiedDateTime", "changeKey", "isOrganizer", "bodyPreview"];

const RESPONSES: &[&str] = &["none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded"];

fn attendee(key: &str, value: &Value) -> GraphResult<Value> {
    let obj = object(key, value, "microsoft.graph.attendee")?;
    let mut kind = json!("required");
    let mut email = None;
    let mut status = json!({"response": "none", "time": "0001-01-01T00:00:00Z"});
    for (k, v) in obj {
        match k.as_str() {
            "type" => kind = enum_value(k, v, &["required", "optional", "resource"], "microsoft.graph.attendeeType")?,
            "emailAddress" => email = Some(email_address(key, v)?),
            "status" => {
                let s = object(k, v, "microsoft.graph.responseStatus")?;
                let mut response = json!("none");
                let mut time = json!("0001-01-01T00:00:00Z");
                for (sk, sv) in s {
                    match sk.as_str() {
                        "response" => response = enum_value(sk, sv, RESPONSES, "microsoft.graph.responseType")?,
                        "time" => time = timestamp(sk, sv)?,
                        sk if sk.starts_with("@odata.") => {}
                        _ => return Err(GraphError::unknown_property(sk, "microsoft.graph.responseStatus")),
                    }
                }
                status = json!({"response": response, "time": time});
            }
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, "microsoft.graph.attendee")),
        }
    }
    let email = email.ok_or_else(|| invalid("ErrorInvalidRecipients", "Each attendee needs an emailAddress."))?;
    Ok(json!({"type": kind, "status": status, "emailAddress": email}))
}

/// Applies an event body to `doc`. On creation `start` and `end` are required; `organizer`
/// defaults to `owner` (the handler passes the mailbox owner's `emailAddress`).
pub fn apply_event(doc: &mut Map<String, Value>, body: &Value, creating: bool, owner: &Value) -> GraphResult<()> {
    let obj = body
        .as_object()
        .ok_or_else(|| GraphError::bad_request("RequestBodyRead", "The request body must be a JSON object."))?;
    for (key, value) in obj {
        let k = key.as_str();
        if k.starts_with("@odata.") {
            continue;
        }
        if EVENT_READ_ONLY.contains(&k) {
            return Err(GraphError::read_only_property(k));
        }
        let stored = match k {
            "subject" => json!(opt_string(k, value)?.unwrap_or_default()),
            "body" => item_body(k, value)?,
            "start" | "end" => crate::flag::date_time_time_zone(k, value)?,
            "attendees" => match value {
                Value::Null => json!([]),
                Value::Array(items) if items.len() <= MAX_RECIPIENTS => {
                    Value::Array(items.iter().map(|v| attendee(k, v)).collect::<GraphResult<_>>()?)
                }
                Value::Array(_) => {
                    return Err(invalid(
                        "ErrorInvalidRecipients",
                        format!("An event may have at most {MAX_RECIPIENTS} attendees."),
                    ))
                }
                _ => return Err(GraphError::wrong_type(k, "Collection(microsoft.graph.attendee)")),
            },
            "organizer" => match value {
                Value::Null => json!({ "emailAddress": owner }),
                v => recipient(k, v)?,
            },
            "categories" => categories(k, value)?,
            "importance" => enum_value(k, value, &["low", "normal", "high"], "microsoft.graph.importance")?,
            _ => return Err(GraphError::unknown_property(k, EVENT_TYPE)),
        };
        doc.insert(k.to_owned(), stored);
    }
    if creating {
        if !doc.contains_key("start") || !doc.contains_key("end") {
            return Err(invalid("ErrorInvalidRequest", "An event needs a start and an end."));
        }
        doc.entry("organizer").or_insert_with(|| json!({ "emailAddress": owner }));
    }
    if let (Some(s), Some(e)) = (doc.get("start"), doc.get("end")) {
        if s["timeZone"] == e["timeZone"] && s["dateTime"].as_str() > e["dateTime"].as_str() {
            return Err(invalid("ErrorInvalidRequest", "An event cannot end before it starts."));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Projections.

/// The v1.0 property names of a message, in Graph's order.
pub const MESSAGE_PROPERTIES: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "isRead",
    "isDraft",
    "body",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
];

/// The v1.0 property names of an event, in Graph's order.
pub const EVENT_PROPERTIES: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "subject",
    "bodyPreview",
    "importance",
    "isOrganizer",
    "body",
    "start",
    "end",
    "attendees",
    "organizer",
];

/// The first 255 characters of a body's text, tags stripped from HTML, whitespace collapsed.
pub(crate) fn body_preview(body: Option<&Value>) -> String {
    let Some(b) = body else { return String::new() };
    let content = b["content"].as_str().unwrap_or_default();
    let text = if b["contentType"] == "html" {
        let mut out = String::with_capacity(content.len());
        let mut in_tag = false;
        for ch in content.chars() {
            match ch {
                '<' => in_tag = true,
                '>' if in_tag => {
                    in_tag = false;
                    out.push(' ');
                }
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    } else {
        content.to_owned()
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(255).collect()
}

/// A message as v1.0 shows it; `select` (property names) limits it, `id` always shown.
pub fn message_json(item: &Item, select: Option<&[String]>) -> Value {
    let d = &item.doc;
    let get = |k: &str| d.get(k).cloned();
    let mut out = Map::new();
    out.insert("@odata.etag".into(), json!(crate::projection::etag(&item.change_key)));
    for name in MESSAGE_PROPERTIES {
        if let Some(sel) = select {
            if *name != "id" && !sel.iter().any(|s| s == name) {
                continue;
            }
        }
        let v = match *name {
            "id" => json!(item.id),
            "createdDateTime" => json!(item.created),
            "lastModifiedDateTime" => json!(item.modified),
            "changeKey" => json!(item.change_key),
            "categories" => get("categories").unwrap_or_else(|| json!([])),
            "receivedDateTime" => get("receivedDateTime").unwrap_or_else(|| json!(item.created)),
            "sentDateTime" => get("sentDateTime").unwrap_or(Value::Null),
            "subject" => get("subject").unwrap_or(Value::Null),
            "bodyPreview" => json!(body_preview(d.get("body"))),
            "importance" => get("importance").unwrap_or_else(|| json!("normal")),
            "parentFolderId" => json!(item.folder),
            "conversationId" => get("conversationId").unwrap_or(Value::Null),
            "isRead" => get("isRead").unwrap_or(json!(item.folder != MailFolder::Inbox.name())),
            "isDraft" => json!(item.folder == MailFolder::Drafts.name()),
            "body" => get("body").unwrap_or_else(|| json!({"contentType": "text", "content": ""})),
            "sender" => get("sender").or_else(|| get("from")).unwrap_or(Value::Null),
            "from" => get("from").unwrap_or(Value::Null),
            "toRecipients" | "ccRecipients" | "bccRecipients" | "replyTo" => get(name).unwrap_or_else(|| json!([])),
            "flag" => get("flag").unwrap_or_else(crate::flag::not_flagged),
            _ => continue,
        };
        out.insert((*name).to_owned(), v);
    }
    Value::Object(out)
}

/// An event as v1.0 shows it; `owner` is the mailbox owner's address (for `isOrganizer`).
pub fn event_json(item: &Item, owner: &str, select: Option<&[String]>) -> Value {
    let d = &item.doc;
    let get = |k: &str| d.get(k).cloned();
    let mut out = Map::new();
    out.insert("@odata.etag".into(), json!(crate::projection::etag(&item.change_key)));
    for name in EVENT_PROPERTIES {
        if let Some(sel) = select {
            if *name != "id" && !sel.iter().any(|s| s == name) {
                continue;
            }
        }
        let v = match *name {
            "id" => json!(item.id),
            "createdDateTime" => json!(item.created),
            "lastModifiedDateTime" => json!(item.modified),
            "changeKey" => json!(item.change_key),
            "categories" => get("categories").unwrap_or_else(|| json!([])),
            "subject" => get("subject").unwrap_or(Value::Null),
            "bodyPreview" => json!(body_preview(d.get("body"))),
            "importance" => get("importance").unwrap_or_else(|| json!("normal")),
            "isOrganizer" => {
                json!(d.get("organizer").and_then(address_of).is_some_and(|a| a.eq_ignore_ascii_case(owner)))
            }
            "body" => get("body").unwrap_or_else(|| json!({"contentType": "text", "content": ""})),
            "attendees" => get("attendees").unwrap_or_else(|| json!([])),
            _ => get(name).unwrap_or(Value::Null),
        };
        out.insert((*name).to_owned(), v);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(body: Value, mode: MessageWrite) -> GraphResult<Map<String, Value>> {
        let mut d = Map::new();
        apply_message(&mut d, &body, mode)?;
        Ok(d)
    }

    #[test]
    fn messages_are_validated() {
        let d = doc(
            json!({"subject": "Hi", "toRecipients": [{"emailAddress": {"address": "a@b.c"}}]}),
            MessageWrite::Draft,
        )
        .unwrap();
        assert_eq!(d["toRecipients"][0]["emailAddress"]["name"], "a@b.c");
        assert_eq!(doc(json!({"nope": 1}), MessageWrite::Draft).unwrap_err().code, "RequestBodyRead");
        assert_eq!(doc(json!({"isDraft": true}), MessageWrite::Draft).unwrap_err().code, "ErrorInvalidProperty");
        assert_eq!(
            doc(json!({"receivedDateTime": "2024-01-01T00:00:00Z"}), MessageWrite::Draft).unwrap_err().code,
            "ErrorInvalidProperty"
        );
        assert!(doc(json!({"receivedDateTime": "2024-01-01T00:00:00Z"}), MessageWrite::Received).is_err());
        assert_eq!(
            doc(json!({"subject": "x"}), MessageWrite::Patch { draft: false }).unwrap_err().code,
            "ErrorInvalidPropertyUpdateSentMessage"
        );
        assert!(doc(json!({"isRead": true, "categories": ["A"]}), MessageWrite::Patch { draft: false }).is_ok());
        assert!(doc(json!({"toRecipients": [{"emailAddress": {}}]}), MessageWrite::Draft).is_err());
    }

    #[test]
    fn correspondents_exclude_the_owner_and_drafts() {
        let d = doc(
            json!({"toRecipients": [
                {"emailAddress": {"address": "A@x.test", "name": "A"}},
                {"emailAddress": {"address": "me@x.test"}},
                {"emailAddress": {"address": "a@X.test"}}
            ]}),
            MessageWrite::Draft,
        )
        .unwrap();
        assert!(correspondents(ItemKind::Message, "drafts", &d, "me@x.test").is_empty());
        let unicode = doc(json!({"toRecipients": [{"emailAddress": {"address": "Ä@x.test"}}, {"emailAddress": {"address": "ä@x.test"}}]}), MessageWrite::Draft).unwrap();
        assert_eq!(correspondents(ItemKind::Message, "sentitems", &unicode, "me@x.test").len(), 1);
        let c = correspondents(ItemKind::Message, "sentitems", &d, "ME@x.test");
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].address.as_str(), c[0].signal), ("A@x.test", Signal::Sent));
    }

    #[test]
    fn events_default_their_organizer() {
        let me = json!({"name": "Me", "address": "me@x.test"});
        let mut d = Map::new();
        let body = json!({"subject": "S", "start": {"dateTime": "2024-01-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2024-01-01T11:00:00", "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": "b@x.test"}}]});
        apply_event(&mut d, &body, true, &me).unwrap();
        assert_eq!(d["organizer"]["emailAddress"]["address"], "me@x.test");
        assert_eq!(d["attendees"][0]["type"], "required");
        let c = correspondents(ItemKind::Event, CALENDAR_FOLDER, &d, "me@x.test");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].at, "2024-01-01T10:00:00Z");
        let mut d = Map::new();
        assert!(apply_event(&mut d, &json!({"subject": "x"}), true, &me).is_err());
    }
}
