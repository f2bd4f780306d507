//! `rolo apps grant|revoke`: an administrator's consent to an app's delegated permissions, the
//! CLI form of Graph's `oauth2PermissionGrants`.

use rolo_domain::consent;
use rolo_store::{PermissionGrant, Store};

/// The id Rolo's grants name as their resource: Microsoft Graph's application id.
pub const GRAPH_RESOURCE: &str = "00000003-0000-0000-c000-000000000000";

async fn app_and_user(store: &dyn Store, app: &str, user: Option<&str>) -> Result<(String, Option<String>), String> {
    // Rolo People's built-in client is no stored registration, but takes grants like one.
    let app = if app.eq_ignore_ascii_case(rolo_server::webapp::WEBAPP_CLIENT_ID) {
        rolo_server::webapp::client(None)
    } else {
        store.find_app(app).await.map_err(|e| e.message)?.ok_or_else(|| format!("no such app: {app}"))?
    };
    let user = match user {
        None => None,
        Some(u) => {
            Some(store.find_user(u).await.map_err(|e| e.message)?.ok_or_else(|| format!("no such user: {u}"))?.id)
        }
    };
    Ok((app.client_id, user))
}

/// Adds `scopes` (space-separated delegated permission names) to the app's admin consent.
pub async fn grant(store: &dyn Store, app: &str, scopes: &str, user: Option<&str>) -> Result<PermissionGrant, String> {
    let (client_id, user) = app_and_user(store, app, user).await?;
    let mut names = Vec::new();
    for s in scopes.split_whitespace() {
        let (name, _) =
            consent::delegated(s).ok_or_else(|| format!("'{s}' is not a delegated permission Rolo knows"))?;
        names.push(name.to_owned());
    }
    if names.is_empty() {
        return Err("--scopes names no permission".into());
    }
    store.grant_scopes(&client_id, user.as_deref(), GRAPH_RESOURCE, &names).await.map_err(|e| e.message)
}

/// Removes the app's consent (for every user, or for one).
pub async fn revoke(store: &dyn Store, app: &str, user: Option<&str>) -> Result<(), String> {
    let (client_id, user) = app_and_user(store, app, user).await?;
    let grants = store.list_grants().await.map_err(|e| e.message)?;
    let target = grants.iter().find(|g| g.client_id.eq_ignore_ascii_case(&client_id) && g.principal == user);
    match target {
        Some(g) => store.delete_grant(&g.id).await.map(|_| ()).map_err(|e| e.message),
        None => Err(format!("{client_id} has no such consent")),
    }
}
