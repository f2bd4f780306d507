//! Whose mailbox a request addresses, and what the caller holds on it: the owner of a path
//! (`/me` or `/users/{id}`) resolved once for the router and for subscriptions, and the
//! caller's [`MailboxAccess`] under the route's [`MailboxRule`].

use std::sync::Arc;

use rolo_domain::access::MailboxRule;
use rolo_domain::{ErrorKind, GraphError, GraphResult, MailboxAccess, Principal};
use rolo_store::User;

use crate::paths::Owner;
use crate::AppState;

/// The user a path's owner names: the signed-in user for `/me` (refused for app-only callers),
/// else the user by id or principal name; an unknown user is Graph's `ErrorInvalidUser`.
pub async fn resolve_owner(state: &AppState, principal: &Principal, owner: &Owner) -> GraphResult<Arc<User>> {
    match owner {
        Owner::Me => {
            let oid = principal.user_id.clone().ok_or_else(|| {
                GraphError::bad_request("BadRequest", "/me request is only valid with delegated authentication flow.")
            })?;
            state.shared_user(&oid).await?.ok_or_else(|| GraphError::invalid_user(&oid))
        }
        Owner::User(key) => state.shared_user(key).await?.ok_or_else(|| GraphError::invalid_user(key)),
    }
}

/// What the caller holds on `user`'s mailbox for a route under `rule` (its scopes already
/// checked).
pub async fn open(
    state: &AppState,
    principal: &Principal,
    user: &User,
    rule: MailboxRule,
) -> GraphResult<MailboxAccess> {
    Ok(match rule {
        MailboxRule::AnyGrant => mailbox_access(state, principal, user).await?,
        // Profile photos are directory data, governed by the User/ProfilePhoto scopes.
        MailboxRule::Directory => MailboxAccess::Owner,
        // Relevance is directory data: People.Read.All reads anyone's list, with no mailbox grant.
        MailboxRule::DirectoryOrApp if principal.is_app() => mailbox_access(state, principal, user).await?,
        MailboxRule::DirectoryOrApp => MailboxAccess::Owner,
        // A mailbox's settings are its owner's (or an app's), not a delegate's; To Do has no
        // delegates either.
        MailboxRule::OwnerOrApp => match mailbox_access(state, principal, user).await? {
            a @ (MailboxAccess::Owner | MailboxAccess::App) => a,
            _ => return Err(GraphError::access_denied()),
        },
        // Mail and calendars are reached by their owner, an app, or a whole-mailbox delegate;
        // contact folders shared with the caller open nothing here.
        MailboxRule::WholeMailbox => match mailbox_access(state, principal, user).await? {
            MailboxAccess::Folders(_) => return Err(GraphError::access_denied()),
            a => a,
        },
    })
}

/// What the caller holds on `user`'s mailbox: its own; an app's (if the app's access policy
/// allows); a delegate's; the folders shared with it. Anyone else gets 403.
pub(crate) async fn mailbox_access(state: &AppState, principal: &Principal, user: &User) -> GraphResult<MailboxAccess> {
    if principal.user_id.as_deref() == Some(user.id.as_str()) {
        return Ok(MailboxAccess::Owner);
    }
    match &principal.user_id {
        None => {
            let app = principal.app_id.as_deref().unwrap_or_default();
            if state.store.app_may_access(app, &user.id).await? {
                Ok(MailboxAccess::App)
            } else {
                Err(GraphError::new(
                    ErrorKind::Forbidden,
                    "ErrorAccessDenied",
                    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
                ))
            }
        }
        Some(caller) => {
            let grants = state.store.grants_of(&user.mailbox, caller).await?;
            match (grants.mailbox, grants.folders.is_empty()) {
                (Some(g), _) => Ok(MailboxAccess::Delegate(g)),
                (None, false) => Ok(MailboxAccess::Folders(grants.folders)),
                (None, true) => Err(GraphError::access_denied()),
            }
        }
    }
}
