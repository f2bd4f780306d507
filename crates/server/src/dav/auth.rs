//! Who is calling over CardDAV: Basic with an app password (what address-book clients speak),
//! or a bearer token from Rolo's token endpoint. App passwords are 256 random bits, so they are
//! stored as salted HMACs (as client secrets are, `credentials.rs`): checking one costs
//! microseconds, on every request, and a revoked one fails at once.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rolo_domain::{GraphError, GraphResult, Principal};
use rolo_store::{AppPassword, User};

use super::error::{DavError, DavResult};
use crate::credentials::{hash_client_secret, new_client_secret, verify_client_secret};
use crate::AppState;

/// The `appid` CardDAV requests with an app password count against in throttling.
pub const CARDDAV_APP: &str = "rolo-carddav";

/// What an app password lets a client do: read and write the user's contacts and those shared
/// with the user, as a delegated token with these scopes would.
const APP_PASSWORD_SCOPES: [&str; 2] = ["Contacts.ReadWrite", "Contacts.ReadWrite.Shared"];

/// Creates an app password for `user`; returns the password, which is not stored and cannot be
/// shown again.
pub async fn add_app_password(store: &dyn rolo_store::Store, user: &User, name: &str) -> GraphResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(GraphError::bad_request("ErrorInvalidRequest", "An app password needs a name (1-100 characters)."));
    }
    let password = new_client_secret()?;
    let entry = AppPassword {
        id: rolo_domain::ids::new_guid(),
        name: name.to_owned(),
        hash: hash_client_secret(&password)?,
        created_at: rolo_domain::time::now_utc(),
    };
    store.add_app_password(&user.id, &entry).await?;
    Ok(password)
}

/// The caller, from `Authorization`; no credentials is a 401 with a Basic challenge (clients
/// send credentials only once asked).
pub async fn authenticate(state: &AppState, headers: &HeaderMap, peer: Option<String>) -> DavResult<Principal> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default().trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let principal = if scheme.eq_ignore_ascii_case("bearer") {
        state.authenticate(rest.trim()).await?
    } else if scheme.eq_ignore_ascii_case("basic") {
        basic(state, rest.trim(), peer).await?
    } else {
        return Err(DavError::unauthenticated());
    };
    state.require_active(&principal).await?;
    Ok(principal)
}

async fn basic(state: &AppState, encoded: &str, peer: Option<String>) -> DavResult<Principal> {
    let decoded = STANDARD.decode(encoded).ok().and_then(|b| String::from_utf8(b).ok());
    let Some((username, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Err(DavError::unauthenticated());
    };
    if let Some(wait) = state.lockout.locked(username, peer.as_deref()).await {
        tracing::warn!(user = username, address = ?peer, "carddav sign-in refused: locked out");
        let mut e = DavError::new(429, "Too many failed sign-ins; try again later.");
        e.retry_after = Some(wait.as_secs().max(1));
        return Err(e);
    }
    let user = state.user(username).await?;
    let matched = match &user {
        Some(u) => state.store.app_passwords(&u.id).await?.iter().any(|p| verify_client_secret(password, &p.hash)),
        None => false,
    };
    let (Some(user), true) = (user, matched) else {
        state.lockout.failed(username, peer.as_deref()).await;
        tracing::info!(user = username, address = ?peer, "carddav sign-in failed");
        return Err(DavError::unauthenticated());
    };
    state.lockout.succeeded(username).await;
    Ok(Principal {
        user_id: Some(user.id),
        scopes: APP_PASSWORD_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        app_id: Some(CARDDAV_APP.to_owned()),
        app_only: false,
    })
}
