//! Microsoft 365 groups over HTTP: `/groups`, `/groups/{id}`, `/groups/{id}/members`,
//! `/me/memberOf` and `/users/{id}/memberOf`, and a group's conversations: conversations,
//! threads (`/groups/{id}/threads` and `.../conversations/{id}/threads`), posts, starting a
//! thread and replying. The shapes and the permission rules live in `rolo_domain::group`; the
//! router hands this module every path `route` recognises, before the mailbox URL space.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::group::{self, Group, GroupOp, Thread};
use rolo_domain::mail::{Item, ItemKind};
use rolo_domain::{Access, ApiVersion, ContactId, ErrorKind, GraphError, GraphResult, MailboxAccess, Principal};
use rolo_store::{PostAuthor, User};
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::methods::{check, Allowed, GET, GET_POST, POST};
use crate::paths::{decode, split_key};
use crate::query::{list_query, parse_options, Prefer};
use crate::response::with_context;
use crate::response::{json_status, with_header};
use crate::AppState;

/// A thread, addressed through `/groups/{g}/threads/{t}` or
/// `/groups/{g}/conversations/{c}/threads/{t}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ThreadRef {
    pub group: String,
    pub conversation: Option<String>,
    pub thread: String,
}

/// What a group URL addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Groups,
    Group(String),
    Members(String),
    /// `/me/memberOf` (`None`) or `/users/{id}/memberOf`.
    MemberOf(Option<String>),
    Conversations(String),
    Conversation {
        group: String,
        conversation: String,
    },
    /// `/groups/{g}/threads` (`None`) or `/groups/{g}/conversations/{c}/threads`.
    Threads {
        group: String,
        conversation: Option<String>,
    },
    Thread(ThreadRef),
    ThreadReply(ThreadRef),
    Posts(ThreadRef),
    Post(ThreadRef, String),
    PostReply(ThreadRef, String),
}

fn is(seg: &str, name: &str) -> bool {
    seg.eq_ignore_ascii_case(name)
}

fn is_reply(seg: &str) -> bool {
    is(seg, "reply") || is(seg, "microsoft.graph.reply")
}

/// Whether `rest` can be a group route at all, judged without decoding or allocating: every
/// mailbox request asks [`route`] first, and its full parse cost about 2% of a point GET. A
/// segment with `%` escapes or a `('key')` is left to the full parse.
fn may_be_group_route(rest: &str) -> bool {
    let mut segs = rest.split('/').filter(|s| !s.is_empty());
    let Some(first) = segs.next() else { return false };
    if first.contains('%') {
        return true;
    }
    let name = first.split('(').next().unwrap_or(first);
    if is(name, "groups") {
        return true;
    }
    // `me/memberOf` and `users/{id}/memberOf` end in memberOf.
    let last = segs.next_back().unwrap_or(first);
    (is(name, "me") || is(name, "users")) && (last.contains('%') || last.contains('(') || is(last, "memberOf"))
}

/// The group route of a path below the version root, or `None` when it is not one.
pub(crate) fn route(rest: &str) -> Option<Route> {
    if !may_be_group_route(rest) {
        return None;
    }
    let raw: Vec<String> = rest.split('/').filter(|s| !s.is_empty()).map(decode).collect::<GraphResult<_>>().ok()?;
    // `name('key')` reads as `name/key`.
    let mut segs: Vec<String> = Vec::new();
    for seg in &raw {
        let (name, key) = split_key(seg).ok()?;
        segs.push(name.to_owned());
        segs.extend(key);
    }
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let o = |x: &str| x.to_owned();
    match s.as_slice() {
        [m, mo] if is(m, "me") && is(mo, "memberOf") => return Some(Route::MemberOf(None)),
        [u, id, mo] if is(u, "users") && is(mo, "memberOf") => return Some(Route::MemberOf(Some(o(id)))),
        [g, ..] if is(g, "groups") => {}
        _ => return None,
    }
    let tail = s.get(1..)?;
    Some(match tail {
        [] => Route::Groups,
        [g] => Route::Group(o(g)),
        [g, m] if is(m, "members") => Route::Members(o(g)),
        [g, c] if is(c, "conversations") => Route::Conversations(o(g)),
        [g, c, id] if is(c, "conversations") => Route::Conversation { group: o(g), conversation: o(id) },
        [g, t] if is(t, "threads") => Route::Threads { group: o(g), conversation: None },
        [g, c, id, t] if is(c, "conversations") && is(t, "threads") => {
            Route::Threads { group: o(g), conversation: Some(o(id)) }
        }
        [g, t, id, more @ ..] if is(t, "threads") => {
            thread_tail(ThreadRef { group: o(g), conversation: None, thread: o(id) }, more)?
        }
        [g, c, cid, t, id, more @ ..] if is(c, "conversations") && is(t, "threads") => {
            thread_tail(ThreadRef { group: o(g), conversation: Some(o(cid)), thread: o(id) }, more)?
        }
        _ => return None,
    })
}

fn thread_tail(t: ThreadRef, more: &[&str]) -> Option<Route> {
    Some(match more {
        [] => Route::Thread(t),
        [r] if is_reply(r) => Route::ThreadReply(t),
        [p] if is(p, "posts") => Route::Posts(t),
        [p, id] if is(p, "posts") => Route::Post(t, (*id).to_owned()),
        [p, id, r] if is(p, "posts") && is_reply(r) => Route::PostReply(t, (*id).to_owned()),
        _ => return None,
    })
}

/// The methods a group route serves.
pub(crate) fn allowed(route: &Route) -> Allowed {
    match route {
        Route::Conversations(_) | Route::Threads { .. } => GET_POST,
        Route::ThreadReply(_) | Route::PostReply(..) => POST,
        _ => GET,
    }
}

/// A request to a group route.
pub(crate) struct Call<'a> {
    pub parts: &'a Parts,
    pub version: ApiVersion,
    /// `http://host/v1.0` (or `/beta`).
    pub base: &'a str,
    /// The path below the version root.
    pub rest: &'a str,
    pub body: Value,
}

/// Serves a group route for an authenticated caller.
pub(crate) async fn serve(
    state: &Arc<AppState>,
    principal: &Principal,
    call: Call<'_>,
    route: Route,
) -> GraphResult<Response> {
    check(&call.parts.method, allowed(&route))?;
    let base = call.base;
    match &route {
        Route::Groups => {
            group::require(principal, GroupOp::ReadGroup)?;
            no_query_options(call.parts)?;
            let groups = state.store.list_groups().await?;
            let value: Vec<Value> = groups.iter().map(group::group_json).collect();
            ok(&json!({"@odata.context": format!("{base}/$metadata#groups"), "value": value}))
        }
        Route::Group(g) => {
            group::require(principal, GroupOp::ReadGroup)?;
            no_query_options(call.parts)?;
            let found = find_group(state, g).await?;
            ok(&with_context(format!("{base}/$metadata#groups/$entity"), group::group_json(&found)))
        }
        Route::Members(g) => {
            group::require(principal, GroupOp::ReadMembers)?;
            no_query_options(call.parts)?;
            let found = find_group(state, g).await?;
            let members = state.store.group_members(&found.id).await?;
            let value: Vec<Value> = members.iter().map(member_json).collect();
            ok(&json!({"@odata.context": format!("{base}/$metadata#directoryObjects"), "value": value}))
        }
        Route::MemberOf(who) => {
            no_query_options(call.parts)?;
            let own = principal.user_id.clone();
            let user = match who {
                None => {
                    let oid = own.clone().ok_or_else(|| {
                        GraphError::bad_request(
                            "BadRequest",
                            "/me request is only valid with delegated authentication flow.",
                        )
                    })?;
                    group::require(principal, GroupOp::ReadOwnMemberships)?;
                    state.user(&oid).await?.ok_or_else(|| not_found(&oid))?
                }
                Some(key) => {
                    let found = state.user(key).await?.filter(|u| u.kind != rolo_store::MailboxKind::Group);
                    let is_self = found.as_ref().is_some_and(|u| own.as_deref() == Some(u.id.as_str()));
                    if is_self {
                        group::require(principal, GroupOp::ReadOwnMemberships)?;
                    } else {
                        group::require(principal, GroupOp::ReadMembers)?;
                    }
                    found.ok_or_else(|| not_found(key))?
                }
            };
            let groups = state.store.member_of(&user.id).await?;
            let value: Vec<Value> = groups.iter().map(group::group_object_json).collect();
            ok(&json!({"@odata.context": format!("{base}/$metadata#directoryObjects"), "value": value}))
        }
        _ => conversations(state, principal, call, route).await,
    }
}

/// Conversations, threads and posts: the permission, then membership, then the group's mailbox.
async fn conversations(
    state: &Arc<AppState>,
    principal: &Principal,
    call: Call<'_>,
    route: Route,
) -> GraphResult<Response> {
    let method = call.parts.method.clone();
    let mode = if method == Method::GET || method == Method::HEAD { Access::Read } else { Access::Write };
    let op = match (&route, mode) {
        (_, Access::Read) => GroupOp::ReadConversations,
        (Route::ThreadReply(_) | Route::PostReply(..), _) => GroupOp::Reply,
        _ => GroupOp::StartThread,
    };
    group::require(principal, op)?;
    let group_key = match &route {
        Route::Conversations(g) | Route::Conversation { group: g, .. } | Route::Threads { group: g, .. } => g,
        Route::Thread(t) | Route::ThreadReply(t) | Route::Posts(t) | Route::Post(t, _) | Route::PostReply(t, _) => {
            &t.group
        }
        _ => return Err(GraphError::internal("not a conversation route")),
    };
    let found = find_group(state, group_key).await?;
    let member = match &principal.user_id {
        Some(u) => state.store.is_member(&found.id, u).await?,
        None => false,
    };
    group::require_member(principal, member)?;
    let access = match &principal.user_id {
        Some(_) => MailboxAccess::Owner,
        None => {
            // An app's access policy reaches group mailboxes as it reaches users'.
            let app = principal.app_id.as_deref().unwrap_or_default();
            if !state.store.app_may_access(app, &found.id).await? {
                return Err(GraphError::access_denied());
            }
            MailboxAccess::App
        }
    };
    let mailbox_user = state.shared_user(&found.id).await?.ok_or_else(|| not_found(group_key))?;
    let app_key = principal.app_id.clone().unwrap_or_default();
    let _permit = state.throttle.admit(&app_key, &found.id)?;
    let parts = call.parts;
    let ctx = Ctx {
        version: call.version,
        access,
        mode,
        prefer: Prefer::parse(parts.headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok())),
        if_match: None,
        headers: parts.headers.clone(),
        raw_query: parts.uri.query().map(str::to_owned),
        path: format!("/{}", call.rest.trim_end_matches('/')),
        state: state.clone(),
        principal: principal.clone(),
        user: mailbox_user,
        base: call.base.to_owned(),
        options: parse_options(parts.uri.query())?,
    };
    let author = author(state, principal, &found).await?;
    let g = &found;
    let body = &call.body;
    match (method, route) {
        (Method::GET, Route::Conversations(_)) => {
            let value: Vec<Value> =
                by_conversation(ctx_threads(&ctx).await?).iter().map(group::conversation_json).collect();
            ok(&json!({"@odata.context": context(&ctx, g, "conversations"), "value": value}))
        }
        (Method::POST, Route::Conversations(_)) => {
            let topic = group::topic(body)?;
            let first = first_post(body.get("threads").and_then(|t| t.get(0)).unwrap_or(&Value::Null))?;
            let (thread, _) = ctx.state.store.start_thread(ctx.mailbox(), None, &topic, first, &author).await?;
            let value = with_context(context(&ctx, g, "conversations/$entity"), group::conversation_json(&thread));
            respond(StatusCode::CREATED, &value)
        }
        (Method::GET, Route::Conversation { conversation, .. }) => {
            let c = id(&conversation)?;
            let threads: Vec<Thread> =
                ctx_threads(&ctx).await?.into_iter().filter(|t| t.conversation_id == c).collect();
            let one = by_conversation(threads).into_iter().next().ok_or_else(GraphError::item_not_found)?;
            ok(&with_context(context(&ctx, g, "conversations/$entity"), group::conversation_json(&one)))
        }
        (Method::GET, Route::Threads { conversation, .. }) => {
            let mut threads = ctx_threads(&ctx).await?;
            let tail = match &conversation {
                Some(c) => {
                    let c = id(c)?;
                    threads.retain(|t| t.conversation_id == c);
                    if threads.is_empty() {
                        return Err(GraphError::item_not_found());
                    }
                    format!("conversations('{c}')/threads")
                }
                None => "threads".to_owned(),
            };
            let value: Vec<Value> = threads.iter().map(|t| group::thread_json(t, g)).collect();
            ok(&json!({"@odata.context": context(&ctx, g, &tail), "value": value}))
        }
        (Method::POST, Route::Threads { conversation, .. }) => {
            let conversation = conversation.as_deref().map(id).transpose()?;
            let topic = match &conversation {
                // A thread added to a conversation takes the conversation's topic.
                Some(_) => String::new(),
                None => group::topic(body)?,
            };
            let first = first_post(body)?;
            let store = &ctx.state.store;
            let (thread, _) =
                store.start_thread(ctx.mailbox(), conversation.as_deref(), &topic, first, &author).await?;
            respond(
                StatusCode::CREATED,
                &with_context(context(&ctx, g, "threads/$entity"), group::thread_json(&thread, g)),
            )
        }
        (Method::GET, Route::Thread(t)) => {
            let thread = find_thread(&ctx, &t).await?;
            ok(&with_context(context(&ctx, g, "threads/$entity"), group::thread_json(&thread, g)))
        }
        (Method::POST, Route::ThreadReply(t)) => {
            let thread = find_thread(&ctx, &t).await?;
            reply(&ctx, &thread, body, &author).await
        }
        (Method::GET, Route::Posts(t)) => {
            let thread = find_thread(&ctx, &t).await?;
            list_posts(&ctx, g, &thread).await
        }
        (Method::GET, Route::Post(t, p)) => {
            let thread = find_thread(&ctx, &t).await?;
            let post = find_post(&ctx, &thread, &p).await?;
            let select = crate::messages::selection(&ctx, ItemKind::Post)?;
            let tail = format!(
                "threads('{}')/{}/$entity",
                thread.id,
                crate::messages::context_tail(ItemKind::Post, select.as_deref())
            );
            let value = with_context(context(&ctx, g, &tail), group::post_json(&post, select.as_deref()));
            Ok(with_header(ok(&value)?, "ETag", &rolo_domain::projection::etag(&post.change_key)))
        }
        (Method::POST, Route::PostReply(t, p)) => {
            let thread = find_thread(&ctx, &t).await?;
            find_post(&ctx, &thread, &p).await?;
            reply(&ctx, &thread, body, &author).await
        }
        (m, r) => Err(crate::methods::method_not_allowed(&m, allowed(&r))),
    }
}

/// `POST .../reply` with `{"post": {...}}`: 202, no body, as Graph answers.
async fn reply(ctx: &Ctx, thread: &Thread, body: &Value, author: &PostAuthor) -> GraphResult<Response> {
    let post = body
        .get("post")
        .filter(|p| p.is_object())
        .ok_or_else(|| GraphError::bad_request("ErrorInvalidRequest", "A reply needs a 'post'."))?;
    let mut doc = Map::new();
    group::apply_post(&mut doc, post)?;
    ctx.state.store.add_post(ctx.mailbox(), &thread.id, doc, author).await?;
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    Ok(resp)
}

/// `GET .../posts`: `$filter` (categories, dates, sender), `$orderby`, `$top`, `$select`, paging.
async fn list_posts(ctx: &Ctx, g: &Group, thread: &Thread) -> GraphResult<Response> {
    let select = crate::messages::selection(ctx, ItemKind::Post)?;
    let scope_name = format!("posts:{}", thread.id);
    let (mut query, prefer_used) = list_query(&ctx.options, &ctx.prefer, &ctx.state.codec, &scope_name)?;
    query.version = ctx.version;
    query.max_bytes = Some(ctx.state.limits().page_bytes);
    let page = ctx.state.store.list_posts(ctx.mailbox(), &thread.id, &query).await?;
    let mut body = Map::new();
    let tail = format!("threads('{}')/{}", thread.id, crate::messages::context_tail(ItemKind::Post, select.as_deref()));
    body.insert("@odata.context".into(), json!(context(ctx, g, &tail)));
    if let Some(n) = page.count {
        body.insert("@odata.count".into(), json!(n));
    }
    let value: Vec<Value> = page.items.iter().map(|p| group::post_json(p, select.as_deref())).collect();
    body.insert("value".into(), Value::Array(value));
    if let Some(cursor) = page.next {
        let token = ctx.state.codec.encode(&scope_name, &ctx.options, cursor);
        let link = crate::query::next_link(&ctx.base, &ctx.path, ctx.raw_query.as_deref(), &token);
        body.insert("@odata.nextLink".into(), json!(link));
    }
    let resp = ok(&Value::Object(body))?;
    Ok(match ctx.prefer.applied(prefer_used) {
        Some(applied) => with_header(resp, "Preference-Applied", &applied),
        None => resp,
    })
}

/// The first post of a new thread: `posts[0]` of the body.
fn first_post(thread: &Value) -> GraphResult<Map<String, Value>> {
    let post = thread
        .get("posts")
        .and_then(|p| p.get(0))
        .ok_or_else(|| GraphError::bad_request("ErrorInvalidRequest", "A new thread needs a first post."))?;
    let mut doc = Map::new();
    group::apply_post(&mut doc, post)?;
    Ok(doc)
}

/// Who a post is from: the signed-in member, or (for an app) the group itself.
async fn author(state: &AppState, principal: &Principal, g: &Group) -> GraphResult<PostAuthor> {
    if let Some(u) = &principal.user_id {
        if let Some(user) = state.user(u).await? {
            return Ok(PostAuthor {
                user_id: Some(user.id),
                name: user.display_name,
                address: user.user_principal_name,
            });
        }
    }
    Ok(PostAuthor { user_id: None, name: g.display_name.clone(), address: g.mail.clone() })
}

async fn ctx_threads(ctx: &Ctx) -> GraphResult<Vec<Thread>> {
    if ctx.options.filter.is_some() || !ctx.options.orderby.is_empty() || ctx.options.search.is_some() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "$filter, $orderby and $search are not supported on conversations and threads by this server.",
        ));
    }
    ctx.state.store.threads(ctx.mailbox()).await
}

/// One conversation per conversation id, from its most recent thread, with every thread's senders.
fn by_conversation(threads: Vec<Thread>) -> Vec<Thread> {
    let mut out: Vec<Thread> = Vec::new();
    for t in threads {
        match out.iter_mut().find(|c| c.conversation_id == t.conversation_id) {
            Some(c) => {
                for s in t.senders {
                    if !c.senders.contains(&s) {
                        c.senders.push(s);
                    }
                }
            }
            None => out.push(t),
        }
    }
    out
}

async fn find_thread(ctx: &Ctx, t: &ThreadRef) -> GraphResult<Thread> {
    let thread = ctx.state.store.get_thread(ctx.mailbox(), &id(&t.thread)?).await?;
    let thread = thread.ok_or_else(GraphError::item_not_found)?;
    match &t.conversation {
        Some(c) if id(c)? != thread.conversation_id => Err(GraphError::item_not_found()),
        _ => Ok(thread),
    }
}

async fn find_post(ctx: &Ctx, thread: &Thread, raw: &str) -> GraphResult<Item> {
    let post = ctx.state.store.get_post(ctx.mailbox(), &thread.id, &id(raw)?).await?;
    post.ok_or_else(GraphError::item_not_found)
}

async fn find_group(state: &AppState, key: &str) -> GraphResult<Group> {
    if !rolo_domain::ids::is_guid(key) {
        return Err(GraphError::bad_request("Request_BadRequest", format!("Invalid object identifier '{key}'.")));
    }
    state.store.get_group(key).await?.ok_or_else(|| not_found(key))
}

/// An id from a URL: malformed ids get Graph's 400s.
fn id(raw: &str) -> GraphResult<String> {
    Ok(ContactId::parse(raw)?.to_string())
}

fn not_found(key: &str) -> GraphError {
    GraphError::new(
        ErrorKind::NotFound,
        "Request_ResourceNotFound",
        format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present."),
    )
}

/// Directory lists here serve their default shape: better a 400 than an option ignored.
fn no_query_options(parts: &Parts) -> GraphResult<()> {
    let o = parse_options(parts.uri.query())?;
    if o.filter.is_some() || o.search.is_some() || !o.orderby.is_empty() || o.top.is_some() || o.select.is_some() {
        return Err(GraphError::bad_request(
            "Request_BadRequest",
            "$filter, $search, $orderby, $top and $select are not supported on groups by this server.",
        ));
    }
    Ok(())
}

/// A member in a collection of directory objects.
fn member_json(u: &User) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.user",
        "id": u.id,
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": null,
        "jobTitle": null,
        "mail": u.user_principal_name,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": null,
        "userPrincipalName": u.user_principal_name,
    })
}

fn context(ctx: &Ctx, g: &Group, tail: &str) -> String {
    format!("{}/$metadata#groups('{}')/{tail}", ctx.base, g.id)
}

fn respond(status: StatusCode, value: &Value) -> GraphResult<Response> {
    Ok(json_status(status, serde_json::to_vec(value).map_err(GraphError::internal)?))
}

fn ok(value: &Value) -> GraphResult<Response> {
    respond(StatusCode::OK, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_recognised() {
        let g = "00000000-0000-0000-0000-000000000001";
        assert_eq!(route("groups"), Some(Route::Groups));
        assert_eq!(route(&format!("groups('{g}')")), Some(Route::Group(g.into())));
        assert_eq!(route(&format!("groups/{g}/members")), Some(Route::Members(g.into())));
        assert_eq!(route("me/memberOf"), Some(Route::MemberOf(None)));
        assert_eq!(route("users/x/memberOf"), Some(Route::MemberOf(Some("x".into()))));
        let t = ThreadRef { group: g.into(), conversation: Some("c".into()), thread: "t".into() };
        assert_eq!(
            route(&format!("groups/{g}/conversations/c/threads/t/posts/p/reply")),
            Some(Route::PostReply(t.clone(), "p".into()))
        );
        let plain = ThreadRef { conversation: None, ..t };
        assert_eq!(route(&format!("groups/{g}/threads/t/reply")), Some(Route::ThreadReply(plain)));
        assert_eq!(route("me/contacts"), None);
        // The quick refusal leaves escaped and keyed segments to the full parse.
        assert_eq!(route("%67roups"), Some(Route::Groups));
        assert_eq!(route("me/memberof/"), Some(Route::MemberOf(None)));
        assert_eq!(route("users('x')/memberOf"), Some(Route::MemberOf(Some("x".into()))));
        assert_eq!(route("users/x/contacts/y"), None);
        assert_eq!(route(&format!("groups/{g}/nope")), None);
    }

    /// The route table `openapi.json` is built from and this one agree on every group route.
    #[test]
    fn allowed_methods_match_the_described_routes() {
        let mut checked = 0;
        for r in crate::openapi::routes().into_iter().filter(|r| r.area == crate::openapi::Area::Groups) {
            let concrete: Vec<String> =
                r.path
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') {
                            "00000000-0000-0000-0000-000000000001".to_owned()
                        } else {
                            s.to_owned()
                        }
                    })
                    .collect();
            let parsed = route(concrete.join("/").trim_start_matches('/')).unwrap_or_else(|| panic!("{}", r.path));
            let mut described: Vec<String> = r.ops.iter().map(|o| o.method.to_ascii_uppercase()).collect();
            let mut served: Vec<String> = allowed(&parsed).split(", ").map(str::to_owned).collect();
            described.sort();
            served.sort();
            assert_eq!(served, described, "{}", r.path);
            checked += 1;
        }
        assert!(checked >= 14, "{checked} routes");
    }
}
