//! Delta queries: `.../contacts/delta` per folder (and, a Rolo extension, mailbox-wide with
//! `?scope=mailbox`), and `/contactFolders/delta`. A round walks the changes with sequence numbers
//! in `(since, upto]`; its tokens carry that window, the position, `$select` and `changeType`,
//! sealed with the installation's key, so they survive restarts and work on every server process.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use rolo_domain::contact::CONTACT_TYPE;
use rolo_domain::projection::{
    contact_properties, folder_json, folder_properties, ContactJson, FieldSet, TypedContact,
};
use rolo_domain::todo::TASK_PROPERTIES;
use rolo_domain::{ErrorKind, GraphError, GraphResult};
use rolo_store::{ChangeType, DeltaItem, DeltaQuery, DeltaScope};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::paths::FolderPath;
use crate::query::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::response::json_status;
use crate::response::with_header;

/// What a delta token holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeltaState {
    /// Mailbox and scope the token belongs to.
    m: String,
    s: String,
    since: i64,
    /// Set inside a round (`$skiptoken`); absent on a `$deltatoken`, which starts the next round.
    upto: Option<i64>,
    after: Option<(i64, String)>,
    select: Option<String>,
    change_type: Option<String>,
}

fn scope_key(scope: &DeltaScope) -> String {
    match scope {
        DeltaScope::FolderContacts(f) => format!("contacts:{f}"),
        DeltaScope::MailboxContacts => "contacts:*".into(),
        DeltaScope::Folders => "folders".into(),
        DeltaScope::ListTasks(l) => format!("tasks:{l}"),
    }
}

fn parse_change_type(raw: &str) -> GraphResult<ChangeType> {
    match raw.to_ascii_lowercase().as_str() {
        "created" => Ok(ChangeType::Created),
        "updated" => Ok(ChangeType::Updated),
        "deleted" => Ok(ChangeType::Deleted),
        _ => Err(GraphError::bad_request(
            "BadRequest",
            format!("The changeType '{raw}' is not valid; use created, updated or deleted."),
        )),
    }
}

/// A plain (non-`$`) query parameter, percent-decoded (`+` is a space, as in a form).
fn custom_param(ctx: &Ctx, name: &str) -> Option<String> {
    let query = ctx.raw_query.as_deref()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// 410 with a `Location` that starts a fresh round, as Graph answers a token it cannot use.
fn sync_state_not_found(ctx: &Ctx) -> Response {
    let e = GraphError::new(
        ErrorKind::Gone,
        "syncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
    );
    let resp = crate::error::error_response(&e, &crate::request_id::RequestIds::current());
    let extra = if custom_param(ctx, "scope").is_some_and(|s| s.eq_ignore_ascii_case("mailbox")) {
        "?scope=mailbox"
    } else {
        ""
    };
    with_header(resp, "Location", &format!("{}{}{extra}", ctx.base, ctx.path))
}

/// `GET .../contacts/delta`
pub async fn contacts(ctx: &Ctx, folder: &FolderPath) -> GraphResult<Response> {
    let scope = match custom_param(ctx, "scope").as_deref() {
        Some(s) if s.eq_ignore_ascii_case("mailbox") => {
            ctx.require_whole_mailbox()?;
            DeltaScope::MailboxContacts
        }
        _ => DeltaScope::FolderContacts(ctx.contacts_folder(folder).await?),
    };
    run(ctx, scope).await
}

/// `GET /contactFolders/delta`
pub async fn folders(ctx: &Ctx) -> GraphResult<Response> {
    ctx.require_whole_mailbox()?;
    run(ctx, DeltaScope::Folders).await
}

/// `GET .../todo/lists/{id}/tasks/delta` (the list checked by the caller).
pub async fn tasks(ctx: &Ctx, list: String) -> GraphResult<Response> {
    run(ctx, DeltaScope::ListTasks(list)).await
}

/// `$select` on a task delta: task property names, canonically spelled.
fn task_selection(select: &str) -> GraphResult<Vec<String>> {
    let items = rolo_odata::parse_select(select).map_err(|e| GraphError::bad_request("BadRequest", e.to_string()))?;
    let mut out = Vec::new();
    for item in items {
        let name = item.to_string();
        let canonical = TASK_PROPERTIES.iter().find(|p| p.eq_ignore_ascii_case(&name)).ok_or_else(|| {
            GraphError::bad_request(
                "BadRequest",
                format!("Could not find a property named '{name}' on type '{}'.", rolo_domain::todo::TASK_TYPE),
            )
        })?;
        out.push((*canonical).to_owned());
    }
    Ok(out)
}

async fn run(ctx: &Ctx, scope: DeltaScope) -> GraphResult<Response> {
    let key = scope_key(&scope);
    let token = ctx.options.skiptoken.as_deref().or(ctx.options.deltatoken.as_deref());
    let mut state = match token {
        None => DeltaState {
            m: ctx.mailbox().id.clone(),
            s: key.clone(),
            since: 0,
            upto: None,
            after: None,
            select: ctx
                .options
                .select
                .as_ref()
                .map(|items| items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")),
            change_type: custom_param(ctx, "changeType"),
        },
        Some(raw) => match ctx.state.codec.open::<DeltaState>(raw) {
            Some(st) if st.m == ctx.mailbox().id && st.s == key => st,
            _ => return Ok(sync_state_not_found(ctx)),
        },
    };
    // A round's first page takes its upper bound from the mailbox's counter; its later pages
    // carry it in their token and need the counter only for the tombstone floor, so they read
    // it and the page at the same time (one round trip of waiting instead of two).
    let changes = match state.upto {
        None => Some(ctx.state.store.change_state(ctx.mailbox()).await?),
        Some(_) => None,
    };
    // A token older than the tombstones kept can no longer say what was removed since it.
    let since = state.since;
    let expired = |floor: i64| since != 0 && since < floor;
    if changes.is_some_and(|c| expired(c.floor)) {
        return Ok(sync_state_not_found(ctx));
    }
    let upto = *state.upto.get_or_insert_with(|| changes.map_or(0, |c| c.current));
    let is_tasks = matches!(scope, DeltaScope::ListTasks(_));
    let task_select = match (&state.select, is_tasks) {
        (Some(sel), true) => Some(task_selection(sel)?),
        _ => None,
    };
    let fields = match &state.select {
        Some(_) if is_tasks => FieldSet::ALL,
        Some(sel) => {
            let items =
                rolo_odata::parse_select(sel).map_err(|e| GraphError::bad_request("BadRequest", e.to_string()))?;
            let (props, type_name) = if scope == DeltaScope::Folders {
                (folder_properties(ctx.version), rolo_domain::folder::FOLDER_TYPE)
            } else {
                (contact_properties(ctx.version), CONTACT_TYPE)
            };
            FieldSet::from_select(&items, props, type_name)?
        }
        None => FieldSet::ALL,
    };
    let change_type = state.change_type.as_deref().map(parse_change_type).transpose()?;
    let page_size = ctx.prefer.max_page_size.unwrap_or(DEFAULT_PAGE_SIZE).min(MAX_PAGE_SIZE);
    let query = DeltaQuery {
        scope: scope.clone(),
        since: state.since,
        upto,
        after: state.after.clone(),
        page_size,
        change_type,
        max_bytes: Some(ctx.state.limits().page_bytes),
    };
    let page = if changes.is_some() {
        ctx.state.store.delta(ctx.mailbox(), &query).await?
    } else {
        let (floor, page) =
            tokio::join!(ctx.state.store.change_state(ctx.mailbox()), ctx.state.store.delta(ctx.mailbox(), &query));
        // A page read while the tombstones it needed were compacted away is dropped.
        if expired(floor?.floor) {
            return Ok(sync_state_not_found(ctx));
        }
        page?
    };

    let (type_name, context) = match scope {
        DeltaScope::Folders => ("#microsoft.graph.contactFolder", "Collection(contactFolder)"),
        DeltaScope::ListTasks(_) => ("#microsoft.graph.todoTask", "Collection(todoTask)"),
        _ => ("#microsoft.graph.contact", "Collection(contact)"),
    };
    // The body is written straight into its buffer, as lists are: a contact's JSON tree was
    // built twice (its view, then with its type in front) and serialized a third time.
    let mut out = Vec::with_capacity(256 + page.items.len() * 1200);
    out.extend_from_slice(b"{\"@odata.context\":");
    serde_json::to_writer(&mut out, &format!("{}/$metadata#{context}", ctx.base)).map_err(GraphError::internal)?;
    out.extend_from_slice(b",\"value\":[");
    for (i, (_, item)) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match item {
            DeltaItem::Contact(c) => {
                // Rendered from the stored document, as lists and GET by id are. Schema-extension
                // values are not change-tracked on Graph, so delta leaves them out.
                let mut json = ContactJson::stored(c, fields, ctx.version)?;
                json.schema_values = Some(&[]);
                TypedContact(json).write_json(&mut out)
            }
            DeltaItem::Folder(f) => {
                let mut v = folder_json(f, fields, None, ctx.version);
                if let Value::Object(m) = &mut v {
                    m.insert("@odata.type".into(), json!(type_name));
                }
                serde_json::to_writer(&mut out, &v)
            }
            DeltaItem::Task(t) => {
                serde_json::to_writer(&mut out, &rolo_domain::todo::task_json(t, task_select.as_deref(), false))
            }
            DeltaItem::Removed(id) => serde_json::to_writer(
                &mut out,
                &json!({"@odata.type": type_name, "id": id, "@removed": {"reason": "deleted"}}),
            ),
        }
        .map_err(GraphError::internal)?;
    }
    out.push(b']');
    // The mailbox-wide extension keeps its marker in the links, so the token matches its scope.
    let extra = if scope == DeltaScope::MailboxContacts { "scope=mailbox&" } else { "" };
    let (key, link) = if page.more {
        state.after = page.items.last().map(|(k, _)| k.clone());
        ("@odata.nextLink", format!("{}{}?{extra}$skiptoken={}", ctx.base, ctx.path, ctx.state.codec.seal(&state)))
    } else {
        let next = DeltaState { since: upto, upto: None, after: None, ..state };
        ("@odata.deltaLink", format!("{}{}?{extra}$deltatoken={}", ctx.base, ctx.path, ctx.state.codec.seal(&next)))
    };
    out.extend_from_slice(format!(",\"{key}\":").as_bytes());
    serde_json::to_writer(&mut out, &link).map_err(GraphError::internal)?;
    out.push(b'}');
    let resp = json_status(StatusCode::OK, out);
    Ok(match ctx.prefer.max_page_size {
        Some(n) => {
            let mut resp = resp;
            if let Ok(v) = HeaderValue::from_str(&format!("odata.maxpagesize={n}")) {
                resp.headers_mut().insert("Preference-Applied", v);
            }
            resp
        }
        None => resp,
    })
}
