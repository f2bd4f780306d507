//! Mailbox delegation over HTTP, a Rolo extension (Exchange manages it with PowerShell's
//! `Add-MailboxPermission`, Graph not at all): `/users/{id}/mailboxPermissions` lists, adds,
//! changes and removes whole-mailbox grants (a person's delegates, a shared mailbox's members),
//! the HTTP form of `rolo users grant`; and `/me/sharedWithMe` tells the signed-in user which
//! mailboxes and contact folders others opened to them, so a client can offer them without
//! asking for an address (and open a mailbox shared folder by folder, whose folder list it may
//! not read).
//!
//! Who may: an administrator (delegated `User.ReadWrite.All` or `Directory.ReadWrite.All`, or an
//! app holding either role) reads and changes any mailbox's grants; a mailbox's owner reads its
//! own list with `MailboxSettings.Read`. Nobody else, and nothing for a delegate.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::{ErrorKind, Grant, GraphError, GraphResult, Principal};
use rolo_store::{MailboxKind, User};
use serde_json::{json, Value};

use crate::paths::{decode, split_key, Owner};
use crate::response::{json_value, no_content};
use crate::AppState;

/// The administrator's scopes (delegated) and roles (app-only), as `POST /users` takes them.
pub(crate) const ADMIN: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
const OWNER_READ: &[&str] = &["MailboxSettings.Read", "MailboxSettings.ReadWrite"];
const SHARED_READ: &[&str] = &["Contacts.Read.Shared", "Contacts.ReadWrite.Shared"];

pub(crate) fn has_any(p: &Principal, scopes: &[&str]) -> bool {
    p.scopes.iter().any(|s| scopes.iter().any(|w| s.eq_ignore_ascii_case(w)))
}

pub(crate) fn denied() -> GraphError {
    GraphError::new(ErrorKind::Forbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
}

/// `/me/{name}[/{id}]` or `/users/{key}/{name}[/{id}]` (also `users('{key}')`): the owner and
/// the item id, or `None` when `rest` is not that collection.
pub(crate) fn user_collection(rest: &str, name: &str) -> Option<(Owner, Option<String>)> {
    // Every Graph request passes here three times: a path without the collection's segment is
    // refused before it is split into a vector and decoded.
    if !rest.split('/').any(|s| s.eq_ignore_ascii_case(name)) {
        return None;
    }
    let segs: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let (owner, tail) = match segs.as_slice() {
        [me, tail @ ..] if me.eq_ignore_ascii_case("me") => (Owner::Me, tail),
        [users, key, tail @ ..] if users.eq_ignore_ascii_case("users") => (Owner::User(decode(key).ok()?), tail),
        [first, tail @ ..] => match split_key(first).ok()? {
            (users, Some(key)) if users.eq_ignore_ascii_case("users") => (Owner::User(key), tail),
            _ => return None,
        },
        [] => return None,
    };
    match tail {
        [coll] if coll.eq_ignore_ascii_case(name) => Some((owner, None)),
        [coll, id] if coll.eq_ignore_ascii_case(name) && !id.is_empty() => Some((owner, Some(decode(id).ok()?))),
        _ => None,
    }
}

/// The user a path names (`/me` is the caller; an app has no `/me`).
pub(crate) async fn owner(state: &AppState, principal: &Principal, owner: &Owner) -> GraphResult<User> {
    let user = crate::mailbox::resolve_owner(state, principal, owner).await?;
    if matches!(user.kind, MailboxKind::Group | MailboxKind::Archive) {
        return Err(GraphError::invalid_user(&user.id));
    }
    Ok(std::sync::Arc::unwrap_or_clone(user))
}

fn to_json(u: &User, g: Grant) -> Value {
    json!({
        "id": u.id,
        "emailAddress": {"name": u.display_name, "address": u.user_principal_name},
        "role": g.name(),
        "allowedRoles": ["read", "write"],
    })
}

fn role(body: &Value) -> GraphResult<Grant> {
    let raw = body.get("role").and_then(Value::as_str).unwrap_or_default();
    Grant::parse(raw).ok_or_else(|| {
        GraphError::bad_request(
            "ErrorInvalidProperty",
            format!("'{raw}' is not a valid role for a mailbox: use read or write."),
        )
    })
}

/// `GET|POST /users/{id}/mailboxPermissions`, `GET|PATCH|DELETE .../mailboxPermissions/{userId}`.
pub async fn mailbox_permissions(
    state: &AppState,
    principal: &Principal,
    method: &Method,
    (path_owner, id): (Owner, Option<String>),
    base: &str,
    body: &Value,
) -> GraphResult<Response> {
    let admin = has_any(principal, ADMIN);
    // Unknown owners are 404 only to those who may look; anyone else learns nothing.
    if !admin && (principal.is_app() || !has_any(principal, OWNER_READ)) {
        return Err(denied());
    }
    let user = owner(state, principal, &path_owner).await?;
    let own = principal.user_id.as_deref() == Some(user.id.as_str());
    // The owner may read its own list; only an admin changes it.
    let allowed = admin || (own && *method == Method::GET);
    if !allowed {
        return Err(denied());
    }
    let context = format!("{base}/$metadata#users('{}')/mailboxPermissions", user.id);
    let list = state.store.mailbox_grantees(&user.mailbox).await?;
    let find = |key: &str| {
        list.iter().find(|(u, _)| u.id.eq_ignore_ascii_case(key) || u.user_principal_name.eq_ignore_ascii_case(key))
    };
    let entity = |status: StatusCode, u: &User, g: Grant| {
        let mut v = to_json(u, g);
        v["@odata.context"] = json!(format!("{context}/$entity"));
        json_value(status, &v)
    };
    match (method.clone(), id) {
        (Method::GET, None) => {
            let value: Vec<Value> = list.iter().map(|(u, g)| to_json(u, *g)).collect();
            json_value(StatusCode::OK, &json!({"@odata.context": context, "value": value}))
        }
        (Method::GET, Some(key)) => {
            let (u, g) = find(&key).ok_or_else(GraphError::item_not_found)?;
            entity(StatusCode::OK, u, *g)
        }
        (Method::POST, None) => {
            let grant = role(body)?;
            let address = body.pointer("/emailAddress/address").and_then(Value::as_str).ok_or_else(|| {
                GraphError::bad_request("ErrorInvalidProperty", "emailAddress.address names the user to give access.")
            })?;
            let grantee = state.user(address).await?.ok_or_else(|| GraphError::invalid_user(address))?;
            if grantee.id == user.id {
                return Err(GraphError::bad_request("ErrorInvalidUser", "A mailbox's owner needs no grant on it."));
            }
            if grantee.kind != MailboxKind::User {
                return Err(GraphError::bad_request(
                    "ErrorInvalidUser",
                    "Only a person can be given access to a mailbox.",
                ));
            }
            if find(&grantee.id).is_some() {
                return Err(GraphError::new(
                    ErrorKind::Conflict,
                    "ErrorItemExists",
                    "That user already has access: change the role instead.",
                ));
            }
            state.store.set_mailbox_grant(&user.mailbox, &grantee.id, Some(grant)).await?;
            entity(StatusCode::CREATED, &grantee, grant)
        }
        (Method::PATCH, Some(key)) => {
            let grant = role(body)?;
            let (u, _) = find(&key).ok_or_else(GraphError::item_not_found)?;
            state.store.set_mailbox_grant(&user.mailbox, &u.id, Some(grant)).await?;
            entity(StatusCode::OK, u, grant)
        }
        (Method::DELETE, Some(key)) => {
            let (u, _) = find(&key).ok_or_else(GraphError::item_not_found)?;
            state.store.set_mailbox_grant(&user.mailbox, &u.id, None).await?;
            Ok(no_content())
        }
        (m, None) => Err(crate::methods::method_not_allowed(&m, crate::methods::GET_POST)),
        (m, Some(_)) => Err(crate::methods::method_not_allowed(&m, crate::methods::GET_PATCH_DELETE)),
    }
}

/// `GET /me/sharedWithMe`: each mailbox others opened to the caller, with the whole-mailbox role
/// (`null` when only folders are shared) and the shared folders with theirs.
pub async fn shared_with_me(
    state: &AppState,
    principal: &Principal,
    method: &Method,
    (path_owner, id): (Owner, Option<String>),
    base: &str,
) -> GraphResult<Response> {
    crate::methods::check(method, crate::methods::GET)?;
    if path_owner != Owner::Me || id.is_some() {
        return Err(GraphError::bad_request("BadRequest", "sharedWithMe is read through /me only."));
    }
    if !principal.is_app() && !has_any(principal, SHARED_READ) {
        return Err(denied());
    }
    let me = owner(state, principal, &Owner::Me).await?;
    let mut value = Vec::new();
    for mailbox_id in state.store.mailboxes_shared_with(&me.id).await? {
        let Some(other) = state.user(&mailbox_id).await? else { continue };
        let grants = state.store.grants_of(&other.mailbox, &me.id).await?;
        let mut folders = Vec::new();
        for (folder_id, g) in &grants.folders {
            if let Some(f) = state.store.get_folder(&other.mailbox, folder_id).await? {
                folders.push(json!({"id": f.id.as_str(), "displayName": f.display_name, "role": g.name()}));
            }
        }
        value.push(json!({
            "id": other.id,
            "displayName": other.display_name,
            "userPrincipalName": other.user_principal_name,
            "userPurpose": if other.kind == MailboxKind::Shared { "shared" } else { "user" },
            "role": grants.mailbox.map(Grant::name),
            "folders": folders,
        }));
    }
    json_value(StatusCode::OK, &json!({"@odata.context": format!("{base}/$metadata#sharedWithMe"), "value": value}))
}
