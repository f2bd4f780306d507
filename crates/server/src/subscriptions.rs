//! `/subscriptions`: change-notification subscriptions on contacts. A subscription belongs to
//! the app that made it and, for delegated callers, to the signed-in user; anyone else gets 404,
//! so ids reveal nothing.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::subscription::{not_found, NewSubscription, Subscription, SubscriptionPatch};
use rolo_domain::{FolderId, GraphError, GraphResult, Principal};
use serde_json::{json, Value};

use crate::methods::{method_not_allowed, GET_PATCH_DELETE, GET_POST, POST};
use crate::paths::{decode, split_key, FolderPath, Resource};
use crate::response::{json_status, no_content};
use crate::webhooks::{check_url, validate};
use crate::AppState;

pub fn is_subscriptions_path(rest: &str) -> bool {
    let first = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    split_key(first).is_ok_and(|(name, _)| name.eq_ignore_ascii_case("subscriptions"))
}

/// `subscriptions`, `subscriptions/{id}`, `subscriptions/{id}/reauthorize` (and `('{id}')`).
fn parse(rest: &str) -> GraphResult<(Option<String>, bool)> {
    let segs: Vec<&str> = rest.trim_start_matches('/').trim_end_matches('/').split('/').collect();
    let (_, key) = split_key(segs[0])?;
    let mut tail = segs[1..].iter();
    let id = match key {
        Some(k) => Some(k),
        None => tail.next().map(|s| decode(s)).transpose()?,
    };
    let reauthorize = match tail.next() {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("reauthorize") || s.eq_ignore_ascii_case("microsoft.graph.reauthorize") => {
            true
        }
        Some(s) => {
            return Err(GraphError::bad_request("BadRequest", format!("Resource not found for the segment '{s}'.")))
        }
    };
    if tail.next().is_some() || (reauthorize && id.is_none()) {
        return Err(GraphError::bad_request("BadRequest", "Resource not found for the segment 'subscriptions'."));
    }
    Ok((id, reauthorize))
}

fn app_of(principal: &Principal) -> String {
    principal.app_id.clone().unwrap_or_else(|| crate::auth::CLI_APP_ID.to_owned())
}

/// Subscriptions need a read scope on contacts (Graph takes no `.Shared` scope here).
fn require(principal: &Principal) -> GraphResult<()> {
    let ok = principal
        .scopes
        .iter()
        .any(|s| s.eq_ignore_ascii_case("Contacts.Read") || s.eq_ignore_ascii_case("Contacts.ReadWrite"));
    if ok {
        Ok(())
    } else {
        Err(GraphError::access_denied())
    }
}

/// The caller sees its app's subscriptions, and a delegated caller only those on its mailbox.
fn owns(principal: &Principal, sub: &Subscription) -> bool {
    sub.application_id == app_of(principal) && principal.user_id.as_ref().is_none_or(|u| *u == sub.mailbox_id)
}

/// What a subscription's `resource` names.
struct Target {
    mailbox_id: String,
    /// `*` for `me/contacts`, else the folder id.
    scope: String,
    /// Its `$select`, which rich notifications need.
    select: Option<String>,
}

/// Resolves a subscription's `resource`: only `$select` may follow the path (Rolo does not
/// filter notifications).
async fn resolve(state: &AppState, principal: &Principal, resource: &str) -> GraphResult<Target> {
    let unsupported = || {
        GraphError::bad_request(
            "InvalidRequest",
            format!("The resource '{resource}' cannot be subscribed to: use me/contacts, users/{{id}}/contacts or users/{{id}}/contactFolders/{{id}}/contacts."),
        )
    };
    let trimmed = resource.trim_start_matches('/');
    let (path, query) = trimmed.split_once('?').unwrap_or((trimmed, ""));
    let options = crate::query::parse_options(Some(query).filter(|q| !q.is_empty()))?;
    let o = &options;
    if o.filter.is_some() || o.top.is_some() || o.skip.is_some() || !o.orderby.is_empty() || !o.expand.is_empty() {
        return Err(GraphError::not_supported("Only $select may follow a subscription's resource on this server."));
    }
    let select = match &options.select {
        Some(items) => {
            use rolo_domain::projection::{FieldSet, CONTACT_V1_PROPERTIES};
            FieldSet::from_select(items, CONTACT_V1_PROPERTIES, rolo_domain::contact::CONTACT_TYPE)?;
            Some(items.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
        }
        None => None,
    };
    let parsed = crate::paths::parse(path).map_err(|_| unsupported())?;
    let Resource::Contacts(folder) = parsed.resource else { return Err(unsupported()) };
    if parsed.count {
        return Err(unsupported());
    }
    let user = crate::mailbox::resolve_owner(state, principal, &parsed.owner).await?;
    principal.may_open_mailbox(&user.id)?;
    let scope = match folder {
        FolderPath::Default => "*".to_owned(),
        FolderPath::Chain(chain) => {
            let mut parent: Option<FolderId> = None;
            for raw in &chain {
                let id = if raw.eq_ignore_ascii_case(rolo_domain::folder::DEFAULT_FOLDER_WELL_KNOWN) {
                    user.mailbox.default_folder_id.clone()
                } else {
                    FolderId::parse(raw)?
                };
                let f = state.store.get_folder(&user.mailbox, &id).await?.ok_or_else(GraphError::item_not_found)?;
                if parent.as_ref().is_some_and(|p| *p != f.parent_id) {
                    return Err(GraphError::item_not_found());
                }
                parent = Some(f.id);
            }
            parent.map(|p| p.as_str().to_owned()).ok_or_else(unsupported)?
        }
    };
    Ok(Target { mailbox_id: user.id.clone(), scope, select })
}

fn entity(base: &str, sub: &Subscription, with_client_state: bool, status: StatusCode) -> GraphResult<Response> {
    let mut v = sub.to_json(with_client_state);
    v["@odata.context"] = json!(format!("{base}/$metadata#subscriptions/$entity"));
    Ok(json_status(status, serde_json::to_vec(&v).map_err(GraphError::internal)?))
}

pub async fn serve(
    state: &AppState,
    principal: &Principal,
    method: &Method,
    rest: &str,
    query: Option<&str>,
    base: &str,
    body: &Value,
) -> GraphResult<Response> {
    let (id, reauthorize) = parse(rest)?;
    let allowed = match (&id, reauthorize) {
        (None, _) => GET_POST,
        (Some(_), true) => POST,
        (Some(_), false) => GET_PATCH_DELETE,
    };
    // A method the route does not serve is refused before anything else is looked at.
    crate::methods::check(method, allowed)?;
    require(principal)?;
    let now = time::OffsetDateTime::now_utc();
    let store = &state.store;
    match (method.clone(), id, reauthorize) {
        (Method::POST, None, false) => {
            let new = NewSubscription::parse(body, now)?;
            check_url(&state.webhooks, "notificationUrl", &new.notification_url)?;
            if let Some(l) = &new.lifecycle_notification_url {
                check_url(&state.webhooks, "lifecycleNotificationUrl", l)?;
            }
            let target = resolve(state, principal, &new.resource).await?;
            if new.include_resource_data {
                if target.select.is_none() {
                    return Err(GraphError::bad_request(
                        "InvalidRequest",
                        "A subscription with includeResourceData needs a resource with $select.",
                    ));
                }
                crate::rich::recipient(new.encryption_certificate.as_deref().unwrap_or_default())?;
            }
            let mut urls = vec![new.notification_url.as_str()];
            urls.extend(new.lifecycle_notification_url.as_deref());
            validate(state, &urls).await?;
            let app = app_of(principal);
            let sub = Subscription {
                id: rolo_domain::ids::new_guid(),
                resource: new.resource,
                change_types: new.change_types,
                notification_url: new.notification_url,
                lifecycle_notification_url: new.lifecycle_notification_url,
                client_state: new.client_state,
                expiration: new.expiration,
                creator_id: principal.user_id.clone().unwrap_or_else(|| app.clone()),
                application_id: app,
                mailbox_id: target.mailbox_id,
                scope: target.scope,
                include_resource_data: new.include_resource_data,
                encryption_certificate: new.encryption_certificate,
                encryption_certificate_id: new.encryption_certificate_id,
                select: target.select,
            };
            let sub = store.create_subscription(sub).await?;
            entity(base, &sub, true, StatusCode::CREATED)
        }
        (Method::GET, None, false) => {
            // Query options are checked as everywhere (a negative `$top` is a 400); `$top` is
            // honoured, the others change nothing on this short list.
            let options = crate::query::parse_options(query)?;
            let mut subs = store.list_subscriptions(&app_of(principal), principal.user_id.as_deref()).await?;
            if let Some(top) = options.top {
                subs.truncate(usize::try_from(top).unwrap_or(usize::MAX));
            }
            let value: Vec<Value> = subs.iter().map(|s| s.to_json(false)).collect();
            let body = json!({"@odata.context": format!("{base}/$metadata#subscriptions"), "value": value});
            Ok(json_status(StatusCode::OK, serde_json::to_vec(&body).map_err(GraphError::internal)?))
        }
        (m, Some(id), reauth) => {
            let sub = store.get_subscription(&id).await?.filter(|s| owns(principal, s)).ok_or_else(not_found)?;
            match (m, reauth) {
                (Method::GET, false) => entity(base, &sub, false, StatusCode::OK),
                (Method::PATCH, false) => {
                    let patch = SubscriptionPatch::parse(body, now, sub.include_resource_data)?;
                    if let Some(cert) = &patch.encryption_certificate {
                        crate::rich::recipient(cert)?;
                    }
                    if let Some(url) = patch.notification_url.as_ref().filter(|u| **u != sub.notification_url) {
                        check_url(&state.webhooks, "notificationUrl", url)?;
                        validate(state, &[url.as_str()]).await?;
                    }
                    let updated = store
                        .update_subscription(
                            &id,
                            Box::new(move |s| {
                                if let Some(e) = patch.expiration {
                                    s.expiration = e;
                                }
                                if let Some(u) = patch.notification_url {
                                    s.notification_url = u;
                                }
                                if let Some(c) = patch.encryption_certificate {
                                    s.encryption_certificate = Some(c);
                                }
                                if let Some(c) = patch.encryption_certificate_id {
                                    s.encryption_certificate_id = Some(c);
                                }
                                Ok(())
                            }),
                        )
                        .await?;
                    entity(base, &updated, false, StatusCode::OK)
                }
                (Method::DELETE, false) => {
                    store.delete_subscription(&id).await?;
                    Ok(no_content())
                }
                (Method::POST, true) => {
                    store.reauthorize_subscription(&id).await?;
                    Ok(no_content())
                }
                (m, _) => Err(method_not_allowed(&m, allowed)),
            }
        }
        (m, None, _) => Err(method_not_allowed(&m, allowed)),
    }
}
