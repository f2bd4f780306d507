//! Handlers for Microsoft To Do: `/me/todo/lists[/{id}]`, `.../lists/{id}/tasks[/{id}]`,
//! `.../tasks/delta` and `.../tasks/{id}/checklistItems[/{id}]` (and the `/users/{id}` forms).
//! Validation and shapes live in `rolo_domain::todo`; the scope check (`Tasks.*`) in `graph`.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::mail::{Item, ItemKind};
use rolo_domain::projection::etag;
use rolo_domain::todo::{self, TodoList};
use rolo_domain::{ContactId, GraphError, GraphResult};
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::messages::{context_tail, selection};
use crate::paths::Resource;
use crate::query::list_query;
use crate::response::with_context;
use crate::response::{json_status, no_content, with_header};

/// An id from a URL: malformed ids get Graph's 400s.
fn id(raw: &str) -> GraphResult<String> {
    Ok(ContactId::parse(raw)?.to_string())
}

fn respond(status: StatusCode, value: &Value, change_key: Option<&str>) -> GraphResult<Response> {
    let resp = json_status(status, serde_json::to_vec(value).map_err(GraphError::internal)?);
    Ok(match change_key {
        Some(ck) => with_header(resp, "ETag", &etag(ck)),
        None => resp,
    })
}

/// Serves every To Do route (`graph` has checked the method against `methods::allowed`).
pub async fn serve(ctx: &Ctx, method: &Method, resource: Resource, body: Value) -> GraphResult<Response> {
    match (method, resource) {
        (&Method::GET, Resource::TodoLists) => lists(ctx).await,
        (&Method::POST, Resource::TodoLists) => create_list(ctx, &body).await,
        (&Method::GET, Resource::TodoList(l)) => {
            let list = find_list(ctx, &l).await?;
            respond(StatusCode::OK, &with_context(ctx.context("todo/lists/$entity"), todo::list_json(&list)), None)
        }
        (&Method::PATCH, Resource::TodoList(l)) => update_list(ctx, &l, &body).await,
        (&Method::DELETE, Resource::TodoList(l)) => {
            ctx.state.store.delete_todo_list(ctx.mailbox(), &id(&l)?, ctx.if_match.clone()).await?;
            Ok(no_content())
        }
        (&Method::GET, Resource::Tasks(l)) => list_tasks(ctx, &l).await,
        (&Method::POST, Resource::Tasks(l)) => create_task(ctx, &l, &body).await,
        (&Method::GET, Resource::TasksDelta(l)) => {
            let list = find_list(ctx, &l).await?;
            crate::delta::tasks(ctx, list.id).await
        }
        (&Method::GET, Resource::Task { list, id: t }) => {
            let (list, t) = (id(&list)?, id(&t)?);
            let task = get_task(ctx, &list, &t).await?;
            task_response(ctx, &list, &task, StatusCode::OK)
        }
        (&Method::PATCH, Resource::Task { list, id: t }) => {
            let (list, t) = (id(&list)?, id(&t)?);
            let now = rolo_domain::time::now_utc();
            todo::apply_task(&mut Map::new(), &body, &now)?;
            let edit = Box::new(move |item: &mut Item| todo::apply_task(&mut item.doc, &body, &now));
            let task = ctx.state.store.update_task(ctx.mailbox(), &list, &t, ctx.if_match.clone(), edit).await?;
            task_response(ctx, &list, &task, StatusCode::OK)
        }
        (&Method::DELETE, Resource::Task { list, id: t }) => {
            ctx.state.store.delete_task(ctx.mailbox(), &id(&list)?, &id(&t)?, ctx.if_match.clone()).await?;
            Ok(no_content())
        }
        (m, Resource::ChecklistItems { list, task, id: item }) => checklist(ctx, m, &list, &task, item, body).await,
        (m, _) => Err(crate::methods::method_not_allowed(m, crate::methods::GET)),
    }
}

async fn find_list(ctx: &Ctx, raw: &str) -> GraphResult<TodoList> {
    let wanted = id(raw)?;
    ctx.state
        .store
        .todo_lists(ctx.mailbox())
        .await?
        .into_iter()
        .find(|l| l.id == wanted)
        .ok_or_else(GraphError::item_not_found)
}

/// `GET .../todo/lists`: every list, the default first (Rolo serves them in one page).
async fn lists(ctx: &Ctx) -> GraphResult<Response> {
    // Better a 400 than a filter silently ignored.
    let o = &ctx.options;
    if o.filter.is_some() || o.search.is_some() || !o.orderby.is_empty() || o.skip.is_some() || o.top.is_some() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "$filter, $search, $orderby, $skip and $top are not supported on todo lists by this server.",
        ));
    }
    let lists = ctx.state.store.todo_lists(ctx.mailbox()).await?;
    let value: Vec<Value> = lists.iter().map(todo::list_json).collect();
    respond(StatusCode::OK, &json!({"@odata.context": ctx.context("todo/lists"), "value": value}), None)
}

/// `POST .../todo/lists`
async fn create_list(ctx: &Ctx, body: &Value) -> GraphResult<Response> {
    let name = todo::list_display_name(body)?
        .ok_or_else(|| GraphError::bad_request("invalidRequest", "A task list needs a displayName."))?;
    let list = ctx.state.store.create_todo_list(ctx.mailbox(), name).await?;
    respond(StatusCode::CREATED, &with_context(ctx.context("todo/lists/$entity"), todo::list_json(&list)), None)
}

/// `PATCH .../todo/lists/{id}`: `displayName` only; the default list keeps its name.
async fn update_list(ctx: &Ctx, raw: &str, body: &Value) -> GraphResult<Response> {
    let name = todo::list_display_name(body)?;
    let current = find_list(ctx, raw).await?;
    let name = name.unwrap_or_else(|| current.display_name.clone());
    let list = ctx.state.store.rename_todo_list(ctx.mailbox(), &current.id, ctx.if_match.clone(), name).await?;
    respond(StatusCode::OK, &with_context(ctx.context("todo/lists/$entity"), todo::list_json(&list)), None)
}

/// `$expand=checklistItems`, the one navigation a task expands here.
fn expand_checklist(ctx: &Ctx) -> GraphResult<bool> {
    let mut expand = false;
    for item in &ctx.options.expand {
        if item.path.len() == 1 && item.path[0].eq_ignore_ascii_case("checklistItems") {
            expand = true;
        } else {
            return Err(GraphError::bad_request(
                "BadRequest",
                format!(
                    "Parsing OData Select and Expand failed: Could not find a property named '{}' on type '{}'.",
                    item.path.join("/"),
                    todo::TASK_TYPE
                ),
            ));
        }
    }
    Ok(expand)
}

fn task_value(ctx: &Ctx, task: &Item, select: Option<&[String]>) -> GraphResult<Value> {
    Ok(todo::task_json(task, select, expand_checklist(ctx)?))
}

fn task_response(ctx: &Ctx, list: &str, task: &Item, status: StatusCode) -> GraphResult<Response> {
    let select = if status == StatusCode::OK { selection(ctx, ItemKind::Task)? } else { None };
    let context =
        ctx.context(&format!("todo/lists('{list}')/{}/$entity", context_tail(ItemKind::Task, select.as_deref())));
    respond(status, &with_context(context, task_value(ctx, task, select.as_deref())?), Some(&task.change_key))
}

async fn get_task(ctx: &Ctx, list: &str, task: &str) -> GraphResult<Item> {
    ctx.state.store.get_task(ctx.mailbox(), list, task).await?.ok_or_else(GraphError::item_not_found)
}

/// `GET .../lists/{id}/tasks`: `$filter`, `$orderby`, `$top`, `$select`, `$count`, paging.
async fn list_tasks(ctx: &Ctx, raw: &str) -> GraphResult<Response> {
    let list = id(raw)?;
    let select = selection(ctx, ItemKind::Task)?;
    expand_checklist(ctx)?;
    let scope_name = format!("tasks:{list}");
    let (mut query, prefer_used) = list_query(&ctx.options, &ctx.prefer, &ctx.state.codec, &scope_name)?;
    query.version = ctx.version;
    query.max_bytes = Some(ctx.state.limits().page_bytes);
    let page = ctx.state.store.list_tasks(ctx.mailbox(), &list, &query).await?;
    let mut body = Map::new();
    let tail = context_tail(ItemKind::Task, select.as_deref());
    body.insert("@odata.context".into(), json!(ctx.context(&format!("todo/lists('{list}')/{tail}"))));
    if let Some(n) = page.count {
        body.insert("@odata.count".into(), json!(n));
    }
    let value = page.items.iter().map(|t| task_value(ctx, t, select.as_deref())).collect::<GraphResult<Vec<_>>>()?;
    body.insert("value".into(), Value::Array(value));
    if let Some(cursor) = page.next {
        let token = ctx.state.codec.encode(&scope_name, &ctx.options, cursor);
        let link = crate::query::next_link(&ctx.base, &ctx.path, ctx.raw_query.as_deref(), &token);
        body.insert("@odata.nextLink".into(), json!(link));
    }
    let resp = json_status(StatusCode::OK, serde_json::to_vec(&body).map_err(GraphError::internal)?);
    Ok(match ctx.prefer.applied(prefer_used) {
        Some(applied) => with_header(resp, "Preference-Applied", &applied),
        None => resp,
    })
}

/// `POST .../lists/{id}/tasks`
async fn create_task(ctx: &Ctx, raw: &str, body: &Value) -> GraphResult<Response> {
    let list = id(raw)?;
    let mut doc = Map::new();
    todo::apply_task(&mut doc, body, &rolo_domain::time::now_utc())?;
    let task = ctx.state.store.create_task(ctx.mailbox(), &list, doc).await?;
    task_response(ctx, &list, &task, StatusCode::CREATED)
}

/// `.../tasks/{id}/checklistItems[/{id}]`: the items live in the task's document, so each write
/// is a versioned edit of the task (it gets a new change key, and shows in `tasks/delta`).
/// Checklist items carry no change key of their own, so `If-Match` does not apply to them.
async fn checklist(
    ctx: &Ctx,
    method: &Method,
    list: &str,
    task: &str,
    item: Option<String>,
    body: Value,
) -> GraphResult<Response> {
    let (list, task) = (id(list)?, id(task)?);
    let item = item.as_deref().map(id).transpose()?;
    let context = |one: bool| {
        let tail = if one { "/$entity" } else { "" };
        ctx.context(&format!("todo/lists('{list}')/tasks('{task}')/checklistItems{tail}"))
    };
    let store = &ctx.state.store;
    let now = rolo_domain::time::now_utc();
    match (method, item) {
        (&Method::GET, None) => {
            let t = get_task(ctx, &list, &task).await?;
            let value: Vec<Value> = todo::checklist_items(&t).iter().map(todo::checklist_json).collect();
            respond(StatusCode::OK, &json!({"@odata.context": context(false), "value": value}), None)
        }
        (&Method::GET, Some(c)) => {
            let t = get_task(ctx, &list, &task).await?;
            let found = todo::checklist_items(&t).into_iter().find(|x| x["id"] == c.as_str());
            let found = found.ok_or_else(GraphError::item_not_found)?;
            respond(StatusCode::OK, &with_context(context(true), todo::checklist_json(&found)), None)
        }
        (&Method::POST, None) => {
            todo::new_checklist_item(&mut Map::new(), &body, &now)?;
            let made = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
            let out = made.clone();
            let edit = Box::new(move |t: &mut Item| {
                let c = todo::add_checklist_item(&mut t.doc, &body, &now)?;
                *out.lock().map_err(|_| GraphError::internal("poisoned"))? = c;
                Ok(())
            });
            store.update_task(ctx.mailbox(), &list, &task, None, edit).await?;
            let c = made.lock().map_err(|_| GraphError::internal("poisoned"))?.clone();
            respond(StatusCode::CREATED, &with_context(context(true), todo::checklist_json(&c)), None)
        }
        (&Method::PATCH, Some(c)) => {
            todo::check_checklist_patch(&body)?;
            let cid = c.clone();
            let edit = Box::new(move |t: &mut Item| todo::update_checklist_item(&mut t.doc, &c, &body, &now).map(drop));
            let t = store.update_task(ctx.mailbox(), &list, &task, None, edit).await?;
            let found = todo::checklist_items(&t).into_iter().find(|x| x["id"] == cid.as_str());
            let found = found.ok_or_else(GraphError::item_not_found)?;
            respond(StatusCode::OK, &with_context(context(true), todo::checklist_json(&found)), None)
        }
        (&Method::DELETE, Some(c)) => {
            let edit = Box::new(move |t: &mut Item| todo::delete_checklist_item(&mut t.doc, &c));
            store.update_task(ctx.mailbox(), &list, &task, None, edit).await?;
            Ok(no_content())
        }
        (m, _) => Err(crate::methods::method_not_allowed(m, crate::methods::GET)),
    }
}
