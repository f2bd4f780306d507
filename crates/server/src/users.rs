//! The directory, as Graph serves it: `GET /me`, `/users`, `/users/{id | userPrincipalName}`,
//! `/users/$count`, `/organization` and `/organization/{id}`. Only these exact shapes are routed
//! here; anything deeper (`/users/{id}/contacts`) is a mailbox path for `paths::parse`.
//!
//! Graph checks the directory scopes, not the mailbox ones: `User.Read` reads the signed-in user,
//! `User.ReadBasic.All` everyone's basic profile, `User.Read.All` / `Directory.Read.All` everyone's
//! full profile. Shared mailboxes are listed as users (their accounts are disabled, as Exchange
//! creates them); in-place archives are not directory objects and are never listed.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use rolo_domain::{ErrorKind, GraphError, GraphResult, Principal};
use rolo_odata::{CompareOp, Expr, Function, Literal, QueryOptions, SelectItem};
use rolo_store::{Cursor, MailboxKind, User};
use serde_json::{json, Map, Value};

use crate::methods::{method_not_allowed, GET, GET_POST};
use crate::paths::{decode, split_key};
use crate::query::{next_link, parse_options};
use crate::response::json_status;
use crate::AppState;

/// What a directory URL addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Me,
    List,
    Count,
    One(String),
    Organizations,
    Organization(String),
}

/// The directory target of a path below the version root, or `None` when the path is not one of
/// the directory's shapes (it is then a mailbox path, or an error `paths::parse` reports).
pub(crate) fn route(rest: &str) -> Option<Target> {
    // Every shape below has one or two segments; a mailbox path (`me/contacts/{id}`) is refused
    // before its segments are decoded and allocated.
    if rest.split('/').filter(|s| !s.is_empty()).nth(2).is_some() {
        return None;
    }
    let segs: Vec<String> = rest.split('/').filter(|s| !s.is_empty()).map(decode).collect::<GraphResult<_>>().ok()?;
    let first = segs.first()?;
    let (name, key) = split_key(first).ok()?;
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    match (segs.get(1), segs.len(), key) {
        (None, 1, None) if is("me") => Some(Target::Me),
        (None, 1, None) if is("users") => Some(Target::List),
        (None, 1, Some(k)) if is("users") => Some(Target::One(k)),
        (Some(s), 2, None) if is("users") && s.eq_ignore_ascii_case("$count") => Some(Target::Count),
        (Some(s), 2, None) if is("users") && !s.contains('(') => Some(Target::One(s.clone())),
        (None, 1, None) if is("organization") => Some(Target::Organizations),
        (None, 1, Some(k)) if is("organization") => Some(Target::Organization(k)),
        (Some(s), 2, None) if is("organization") => Some(Target::Organization(s.clone())),
        _ => None,
    }
}

/// A request to the directory.
pub(crate) struct Call<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub raw_query: Option<&'a str>,
    /// `http://host/v1.0` (or `/beta`).
    pub base: &'a str,
}

/// Serves a directory target for an authenticated caller.
pub(crate) async fn serve(
    state: &AppState,
    principal: &Principal,
    call: Call<'_>,
    target: Target,
    body: &Value,
) -> GraphResult<Response> {
    if target == Target::List && call.method == Method::POST {
        return create(state, principal, &call, body).await;
    }
    if call.method != Method::GET {
        let allowed = if target == Target::List { GET_POST } else { GET };
        return Err(method_not_allowed(call.method, allowed));
    }
    let opts = parse_options(call.raw_query)?;
    match target {
        Target::Me => {
            let oid = principal.user_id.clone().ok_or_else(|| {
                GraphError::bad_request("BadRequest", "/me request is only valid with delegated authentication flow.")
            })?;
            let view = view_of(principal, true)?;
            let user = state.user(&oid).await?.filter(listed).ok_or_else(|| not_found(&oid))?;
            entity(&call, &opts, &user, view)
        }
        Target::One(key) => {
            let found = state.user(&key).await?.filter(listed);
            if let Some(u) = found.as_ref().filter(|u| principal.user_id.as_deref() == Some(u.id.as_str())) {
                return entity(&call, &opts, u, view_of(principal, true)?);
            }
            // Callers who may read only themselves learn nothing about who else exists.
            let view = view_of(principal, false)?;
            entity(&call, &opts, &found.ok_or_else(|| not_found(&key))?, view)
        }
        Target::List | Target::Count => {
            let view = view_of(principal, false)?;
            let eventual = call
                .headers
                .get("consistencylevel")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"));
            let users = state.store.list_users().await?.into_iter().filter(listed).collect::<Vec<_>>();
            if target == Target::Count {
                if !eventual {
                    return Err(GraphError::bad_request("Request_BadRequest", "Count is not currently supported."));
                }
                let matched = select_users(users, &opts, call.raw_query, eventual)?;
                let mut resp = Response::new(Body::from(matched.len().to_string()));
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                return Ok(resp);
            }
            list(state, &call, &opts, users, view, eventual)
        }
        Target::Organizations | Target::Organization(_) => {
            require_any(principal, ORGANIZATION_DELEGATED, ORGANIZATION_APP)?;
            let org = organization(state).await?;
            let context = format!("{}/$metadata#organization", call.base);
            let mut body = Map::new();
            if let Target::Organization(id) = &target {
                if !id.eq_ignore_ascii_case(&state.authority.tenant_id) {
                    return Err(not_found(id));
                }
                body.insert("@odata.context".into(), json!(format!("{context}/$entity")));
                body.extend(org);
            } else {
                body.insert("@odata.context".into(), json!(context));
                body.insert("value".into(), json!([org]));
            }
            Ok(json_status(StatusCode::OK, serde_json::to_vec(&body).map_err(GraphError::internal)?))
        }
    }
}

/// Who may create users: Graph's `User.ReadWrite.All` or `Directory.ReadWrite.All`, delegated
/// (admin-only consent: Rolo's stand-in for an administrator role) or as an app's role.
const WRITE_ALL: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];

fn bad_user(message: &str) -> GraphError {
    GraphError::bad_request("Request_BadRequest", message)
}

/// `POST /users`: a new user with a mailbox and a password (Graph's `passwordProfile`), enabled.
async fn create(state: &AppState, principal: &Principal, call: &Call<'_>, body: &Value) -> GraphResult<Response> {
    require_any(principal, WRITE_ALL, WRITE_ALL)?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let upn = text("userPrincipalName")
        .filter(|u| u.split_once('@').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()))
        .ok_or_else(|| bad_user("Invalid value specified for property 'userPrincipalName' of resource 'User'."))?;
    let display = text("displayName")
        .ok_or_else(|| bad_user("Invalid value specified for property 'displayName' of resource 'User'."))?;
    // A Rolo extension: `mailboxSettings.userPurpose` "shared" makes a shared mailbox (as
    // Exchange's `New-Mailbox -Shared`): no password, its account disabled, members added
    // through `mailboxPermissions`.
    let shared = match body.pointer("/mailboxSettings/userPurpose") {
        None | Some(Value::Null) => false,
        Some(v) if v == "shared" => true,
        Some(v) if v == "user" => false,
        Some(_) => {
            return Err(bad_user("Rolo creates users (userPurpose \"user\") and shared mailboxes (\"shared\")."))
        }
    };
    let password = body.pointer("/passwordProfile/password").and_then(Value::as_str).filter(|p| !p.is_empty());
    let password = match (shared, password) {
        (false, Some(p)) => Some(p),
        (false, None) => {
            return Err(bad_user("Invalid value specified for property 'passwordProfile' of resource 'User'."))
        }
        (true, None) => None,
        (true, Some(_)) => return Err(bad_user("Nobody signs in as a shared mailbox: it takes no password.")),
    };
    let enabled = body.get("accountEnabled");
    if (!shared && enabled.is_some_and(|v| v != &Value::Bool(true))) || (shared && enabled == Some(&Value::Bool(true)))
    {
        return Err(bad_user(if shared {
            "A shared mailbox's account is disabled: nobody signs in as it."
        } else {
            "Rolo creates enabled users: `rolo users disable` disables one."
        }));
    }
    if state.store.find_user(upn).await?.is_some() {
        return Err(bad_user("Another object with the same value for property userPrincipalName already exists."));
    }
    let mut user = state.store.create_user(upn, display).await?;
    match password {
        Some(p) => crate::credentials::set_password(state.store.as_ref(), &user, p).await?,
        None => {
            state.store.mark_shared_mailbox(&user.id).await?;
            user.kind = MailboxKind::Shared;
        }
    }
    let opts = parse_options(None)?;
    let mut resp = entity(call, &opts, &user, View::Full)?;
    *resp.status_mut() = StatusCode::CREATED;
    Ok(resp)
}

/// Which properties a caller sees of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Full,
    /// `User.ReadBasic.All` on someone else: the basic profile only (display name, names, mail,
    /// user principal name, id); the other properties read as null.
    Basic,
}

const OWN: &[&str] = &["User.Read", "User.ReadWrite"];
const BASIC_ALL: &[&str] = &["User.ReadBasic.All"];
const FULL_DELEGATED: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];
const FULL_APP: &[&str] = &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const ORGANIZATION_DELEGATED: &[&str] = &[
    "User.Read",
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];
const ORGANIZATION_APP: &[&str] =
    &["Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];

fn has_any(p: &Principal, scopes: &[&str]) -> bool {
    p.scopes.iter().any(|s| scopes.iter().any(|w| s.eq_ignore_ascii_case(w)))
}

fn denied() -> GraphError {
    GraphError::new(
        ErrorKind::Forbidden,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn require_any(p: &Principal, delegated: &[&str], app: &[&str]) -> GraphResult<()> {
    let ok = if p.is_app() { has_any(p, app) } else { has_any(p, delegated) };
    if ok {
        Ok(())
    } else {
        Err(denied())
    }
}

/// What the caller may see of the signed-in user (`own`) or of anyone. `User.ReadBasic.All`
/// includes the signed-in user's full profile, as Graph's permission reference says.
fn view_of(p: &Principal, own: bool) -> GraphResult<View> {
    if p.is_app() {
        return if has_any(p, FULL_APP) { Ok(View::Full) } else { Err(denied()) };
    }
    if has_any(p, FULL_DELEGATED) || (own && (has_any(p, OWN) || has_any(p, BASIC_ALL))) {
        Ok(View::Full)
    } else if has_any(p, BASIC_ALL) {
        Ok(View::Basic)
    } else {
        Err(denied())
    }
}

/// In-place archives are mailboxes, not directory objects.
fn listed(u: &User) -> bool {
    // Groups are directory objects too, but not users: `/groups` lists them.
    u.kind != MailboxKind::Archive && u.kind != MailboxKind::Group
}

fn not_found(key: &str) -> GraphError {
    GraphError::new(
        ErrorKind::NotFound,
        "Request_ResourceNotFound",
        format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present."),
    )
}

/// Every property Rolo serves of a user, in Graph's order; the first eleven are Graph's default
/// set, the rest are returned when `$select`ed.
const PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
    "accountEnabled",
    "mailNickname",
    "userType",
    "mailboxSettings",
];
const DEFAULT_COUNT: usize = 11;
const BASIC: &[&str] = &["displayName", "givenName", "mail", "surname", "userPrincipalName", "id"];

/// A user property's value. Rolo's directory knows names, not phones or titles: those are empty.
fn property(u: &User, name: &str) -> Value {
    match name {
        "businessPhones" => json!([]),
        "displayName" => json!(u.display_name),
        "mail" | "userPrincipalName" => json!(u.user_principal_name),
        "id" => json!(u.id),
        // A shared mailbox's account is disabled: nobody signs in as it.
        // A shared mailbox's account is disabled by Exchange, a disabled user's by `rolo users disable`.
        "accountEnabled" => json!(u.kind == MailboxKind::User && !u.disabled),
        "mailNickname" => json!(u.user_principal_name.split('@').next().unwrap_or_default()),
        "userType" => json!("Member"),
        // Only `userPurpose` of Graph's mailbox settings: whether it is a person's or shared.
        "mailboxSettings" => json!({"userPurpose": if u.kind == MailboxKind::Shared { "shared" } else { "user" }}),
        _ => Value::Null,
    }
}

/// The properties `$select` asks for (Graph's default set without it), by their canonical names.
fn selected(opts: &QueryOptions) -> GraphResult<Option<Vec<&'static str>>> {
    let Some(items) = &opts.select else { return Ok(None) };
    let mut out = Vec::new();
    for item in items {
        let names: Vec<&'static str> = match item {
            SelectItem::All => PROPERTIES.to_vec(),
            SelectItem::Path(path) => {
                let first = path.first().map(String::as_str).unwrap_or_default();
                let found = PROPERTIES.iter().find(|p| p.eq_ignore_ascii_case(first)).filter(|_| path.len() == 1);
                vec![*found.ok_or_else(|| unknown_property(first))?]
            }
        };
        for n in names {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    Ok(Some(out))
}

fn unknown_property(name: &str) -> GraphError {
    GraphError::bad_request(
        "Request_BadRequest",
        format!("Could not find a property named '{name}' on type 'microsoft.graph.user'."),
    )
}

fn project(u: &User, props: &[&str], view: View) -> Map<String, Value> {
    props
        .iter()
        .map(|p| {
            let value = if view == View::Basic && !BASIC.contains(p) && *p != "businessPhones" {
                Value::Null
            } else {
                property(u, p)
            };
            ((*p).to_owned(), value)
        })
        .collect()
}

/// `users` or `users(displayName,mail)`: the context names the `$select`ed properties.
fn context_set(select: &Option<Vec<&str>>) -> String {
    match select {
        Some(props) => format!("users({})", props.join(",")),
        None => "users".to_owned(),
    }
}

fn entity(call: &Call<'_>, opts: &QueryOptions, u: &User, view: View) -> GraphResult<Response> {
    let select = selected(opts)?;
    let props = select.clone().unwrap_or_else(|| PROPERTIES[..DEFAULT_COUNT].to_vec());
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(format!("{}/$metadata#{}/$entity", call.base, context_set(&select))));
    body.extend(project(u, &props, view));
    Ok(json_status(StatusCode::OK, serde_json::to_vec(&body).map_err(GraphError::internal)?))
}

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: u64 = 999;

fn list(
    state: &AppState,
    call: &Call<'_>,
    opts: &QueryOptions,
    users: Vec<User>,
    view: View,
    eventual: bool,
) -> GraphResult<Response> {
    if opts.count == Some(true) && !eventual {
        return Err(GraphError::bad_request("Request_BadRequest", "$count is not currently supported."));
    }
    let page = match opts.top {
        None => DEFAULT_PAGE,
        Some(n) if (1..=MAX_PAGE).contains(&n) => n as usize,
        Some(n) => {
            return Err(GraphError::bad_request(
                "Request_BadRequest",
                format!("Invalid page size specified: '{n}'. Must be between 1 and {MAX_PAGE} inclusive."),
            ))
        }
    };
    let select = selected(opts)?;
    let matched = select_users(users, opts, call.raw_query, eventual)?;
    // The token binds the filter, order and search it was made for.
    let scope = format!("users\n{}", search_text(call.raw_query).unwrap_or_default());
    let start = match &opts.skiptoken {
        Some(t) => usize::try_from(state.codec.decode(&scope, opts, t)?.seq).unwrap_or(usize::MAX),
        None => 0,
    };
    let props = select.clone().unwrap_or_else(|| PROPERTIES[..DEFAULT_COUNT].to_vec());
    let value: Vec<Value> =
        matched.iter().skip(start).take(page).map(|u| Value::Object(project(u, &props, view))).collect();
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(format!("{}/$metadata#{}", call.base, context_set(&select))));
    if opts.count == Some(true) {
        body.insert("@odata.count".into(), json!(matched.len()));
    }
    let end = start.saturating_add(page);
    if end < matched.len() {
        let token = state.codec.encode(&scope, opts, Cursor { keys: Vec::new(), seq: end as i64 });
        body.insert("@odata.nextLink".into(), json!(next_link(call.base, "/users", call.raw_query, &token)));
    }
    body.insert("value".into(), Value::Array(value));
    Ok(json_status(StatusCode::OK, serde_json::to_vec(&body).map_err(GraphError::internal)?))
}

/// The raw `$search` value of the query string, decoded.
fn search_text(raw_query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("$search") || k.eq_ignore_ascii_case("search"))
        .map(|(_, v)| v.into_owned())
}

/// Applies `$filter`, `$search` and `$orderby` (by `displayName` or `userPrincipalName`; the
/// store lists by user principal name).
fn select_users(
    users: Vec<User>,
    opts: &QueryOptions,
    raw_query: Option<&str>,
    eventual: bool,
) -> GraphResult<Vec<User>> {
    if opts.skip.is_some() || !opts.expand.is_empty() {
        return Err(GraphError::bad_request(
            "Request_BadRequest",
            "The query specified in the URI is not valid: $skip and $expand are not supported on users.",
        ));
    }
    let search = match search_text(raw_query) {
        Some(_) if !eventual => {
            return Err(GraphError::bad_request(
                "Request_UnsupportedQuery",
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
            ))
        }
        Some(text) => Some(parse_search(&text)?),
        None => None,
    };
    let mut out = Vec::new();
    for u in users {
        let kept = match &opts.filter {
            Some(f) => truthy(&eval(f, &u)?),
            None => true,
        };
        if kept && search.as_ref().is_none_or(|s| s.matches(&u)) {
            out.push(u);
        }
    }
    if let Some(order) = opts.orderby.first() {
        let key: fn(&User) -> String = match order.path.as_slice() {
            [p] if p.eq_ignore_ascii_case("displayName") => |u: &User| u.display_name.to_lowercase(),
            [p] if p.eq_ignore_ascii_case("userPrincipalName") => |u: &User| u.user_principal_name.to_lowercase(),
            _ => {
                return Err(GraphError::bad_request(
                    "Request_UnsupportedQuery",
                    "Sorting is supported on displayName and userPrincipalName only.",
                ))
            }
        };
        out.sort_by_cached_key(|u| (key(u), u.id.clone()));
        if order.descending {
            out.reverse();
        }
    }
    Ok(out)
}

fn unsupported_filter() -> GraphError {
    GraphError::bad_request("Request_UnsupportedQuery", "Unsupported Query.")
}

fn truthy(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

/// Evaluates a `$filter` on one user: `eq`, `ne`, `startswith`, `in`, `and`, `or`, `not` over
/// the user's properties. Text compares case-insensitively, as the directory does.
fn eval(e: &Expr, u: &User) -> GraphResult<Value> {
    let text = |v: &Value| v.as_str().map(str::to_lowercase);
    Ok(match e {
        Expr::Literal(l) => match l {
            Literal::Null => Value::Null,
            Literal::Bool(b) => json!(b),
            Literal::String(s) | Literal::Guid(s) => json!(s),
            _ => return Err(unsupported_filter()),
        },
        Expr::Path(path) => {
            let name = path.first().map(String::as_str).unwrap_or_default();
            let p = PROPERTIES.iter().find(|p| p.eq_ignore_ascii_case(name)).filter(|_| path.len() == 1);
            property(u, p.ok_or_else(|| unknown_property(name))?)
        }
        Expr::Compare(a, op, b) => {
            let (a, b) = (eval(a, u)?, eval(b, u)?);
            let same = match (text(&a), text(&b)) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            };
            match op {
                CompareOp::Eq => json!(same),
                CompareOp::Ne => json!(!same),
                _ => return Err(unsupported_filter()),
            }
        }
        Expr::In(a, list) => {
            let a = eval(a, u)?;
            let mut hit = false;
            for item in list {
                let v = eval(item, u)?;
                hit |= match (text(&a), text(&v)) {
                    (Some(x), Some(y)) => x == y,
                    _ => a == v,
                };
            }
            json!(hit)
        }
        Expr::And(a, b) => json!(truthy(&eval(a, u)?) && truthy(&eval(b, u)?)),
        Expr::Or(a, b) => json!(truthy(&eval(a, u)?) || truthy(&eval(b, u)?)),
        Expr::Not(a) => json!(!truthy(&eval(a, u)?)),
        Expr::Call(Function::StartsWith, args) if args.len() == 2 => {
            match (text(&eval(&args[0], u)?), text(&eval(&args[1], u)?)) {
                (Some(v), Some(prefix)) => json!(v.starts_with(&prefix)),
                _ => json!(false),
            }
        }
        _ => return Err(unsupported_filter()),
    })
}

/// A `$search` expression: `"property:text"` clauses joined by `AND` / `OR` (`AND` binds
/// tighter; adjacent clauses are ANDed). Held as OR-groups of AND-ed clauses.
struct Search(Vec<Vec<(&'static str, Vec<String>)>>);

const SEARCHABLE: &[&str] = &["displayName", "mail", "userPrincipalName", "givenName", "surname", "mailNickname"];

/// Words of a text: runs of letters and digits, lower-cased.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn parse_search(text: &str) -> GraphResult<Search> {
    let bad = || {
        GraphError::bad_request(
            "Request_UnsupportedQuery",
            "Syntax error: $search takes \"property:text\" clauses joined by AND or OR.",
        )
    };
    // Tokens: quoted clauses, or bare words (the connectors, or one unquoted clause).
    let mut tokens = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').ok_or_else(bad)?;
            let (clause, tail) = q.split_at(end);
            tokens.push((true, clause.to_owned()));
            rest = tail.get(1..).unwrap_or_default().trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (word, tail) = rest.split_at(end);
            tokens.push((false, word.to_owned()));
            rest = tail.trim_start();
        }
    }
    let mut groups = vec![Vec::new()];
    for (quoted, tok) in tokens {
        if !quoted && tok == "OR" {
            groups.push(Vec::new());
            continue;
        }
        if !quoted && tok == "AND" {
            continue;
        }
        let (prop, term) = tok.split_once(':').ok_or_else(bad)?;
        let prop = SEARCHABLE.iter().find(|p| p.eq_ignore_ascii_case(prop.trim())).ok_or_else(bad)?;
        let term = words(term);
        if term.is_empty() {
            return Err(bad());
        }
        groups.last_mut().ok_or_else(bad)?.push((*prop, term));
    }
    if groups.iter().any(Vec::is_empty) {
        return Err(bad());
    }
    Ok(Search(groups))
}

impl Search {
    /// A clause matches when each of its words starts a word of the property's value.
    fn matches(&self, u: &User) -> bool {
        self.0.iter().any(|group| {
            group.iter().all(|(prop, term)| {
                let value = words(property(u, prop).as_str().unwrap_or_default());
                term.iter().all(|t| value.iter().any(|w| w.starts_with(t.as_str())))
            })
        })
    }
}

/// The tenant: its id, name, and the domains of its users' names (the most used one is the
/// default, as a tenant's primary domain usually is).
async fn organization(state: &AppState) -> GraphResult<Map<String, Value>> {
    let mut domains: BTreeMap<String, usize> = BTreeMap::new();
    for u in state.store.list_users().await?.iter().filter(|u| listed(u)) {
        if let Some((_, d)) = u.user_principal_name.rsplit_once('@') {
            *domains.entry(d.to_lowercase()).or_default() += 1;
        }
    }
    let primary = domains.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(d, _)| d.clone());
    let verified: Vec<Value> = domains
        .keys()
        .map(|d| {
            let main = primary.as_deref() == Some(d.as_str());
            json!({"capabilities": "Email", "isDefault": main, "isInitial": main, "name": d, "type": "Managed"})
        })
        .collect();
    let org = json!({
        "id": state.authority.tenant_id,
        "deletedDateTime": null,
        "businessPhones": [],
        "city": null,
        "country": null,
        "countryLetterCode": null,
        "createdDateTime": null,
        "displayName": state.organization_name,
        "marketingNotificationEmails": [],
        "postalCode": null,
        "preferredLanguage": null,
        "state": null,
        "street": null,
        "technicalNotificationMails": [],
        "tenantType": "AAD",
        "verifiedDomains": verified,
    });
    Ok(match org {
        Value::Object(m) => m,
        _ => Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_only_the_directory_shapes() {
        assert_eq!(route("me"), Some(Target::Me));
        assert_eq!(route("/me/"), Some(Target::Me));
        assert_eq!(route("users"), Some(Target::List));
        assert_eq!(route("users/%24count"), Some(Target::Count));
        assert_eq!(route("users/ada@contoso.com"), Some(Target::One("ada@contoso.com".into())));
        assert_eq!(route("users('ada@contoso.com')"), Some(Target::One("ada@contoso.com".into())));
        assert_eq!(route("organization"), Some(Target::Organizations));
        assert_eq!(route("organization/t1"), Some(Target::Organization("t1".into())));
        assert_eq!(route("me/contacts"), None);
        assert_eq!(route("users/x/contacts"), None);
        assert_eq!(route("users('x')/contacts"), None);
        assert_eq!(route("subscriptions"), None);
    }

    #[test]
    fn search_clauses() {
        let u = User {
            id: "1".into(),
            user_principal_name: "ann.lee@contoso.com".into(),
            display_name: "Ann Lee".into(),
            mailbox: rolo_store::Mailbox {
                id: "1".into(),
                root_folder_id: rolo_domain::FolderId::from_stored("f".into()),
                default_folder_id: rolo_domain::FolderId::from_stored("f".into()),
            },
            kind: MailboxKind::User,
            disabled: false,
        };
        assert!(parse_search("displayName:ann").unwrap().matches(&u));
        assert!(parse_search("\"displayName:le\" OR \"mail:zed\"").unwrap().matches(&u));
        assert!(!parse_search("\"displayName:ann\" AND \"mail:zed\"").unwrap().matches(&u));
        assert!(parse_search("\"mail:contoso\"").unwrap().matches(&u));
        assert!(!parse_search("\"displayName:nn\"").unwrap().matches(&u));
        assert!(parse_search("ann").is_err());
        assert!(parse_search("\"jobTitle:x\"").is_err());
    }
}
