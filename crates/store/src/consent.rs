//! Consent: which delegated permissions each client app has been granted, for every user (an
//! admin's consent) or for one user, as Graph's `oauth2PermissionGrant` resources hold them.

use async_trait::async_trait;
use rolo_domain::ids::new_guid;
use rolo_domain::GraphResult;

use crate::sql::Row;
use crate::SqlStore;

/// One delegated permission grant: `client_id` may act with `scopes` for `principal`'s sign-ins
/// (`None`: every user's, which only an admin can consent to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionGrant {
    pub id: String,
    pub client_id: String,
    pub principal: Option<String>,
    pub resource_id: String,
    pub scopes: Vec<String>,
    pub granted_at: String,
}

/// The storage role for consent.
#[async_trait]
pub trait Consents: Send + Sync {
    /// Adds `scopes` to the grant for (`client_id`, `principal`), creating it when missing;
    /// returns the grant as it now stands.
    async fn grant_scopes(
        &self,
        client_id: &str,
        principal: Option<&str>,
        resource_id: &str,
        scopes: &[String],
    ) -> GraphResult<PermissionGrant>;
    /// Every grant, in creation order.
    async fn list_grants(&self) -> GraphResult<Vec<PermissionGrant>>;
    /// The grants that apply to `user_id` signing in to `client_id`: the admin's and the user's own.
    async fn grants_for(&self, client_id: &str, user_id: &str) -> GraphResult<Vec<PermissionGrant>>;
    async fn find_grant(&self, id: &str) -> GraphResult<Option<PermissionGrant>>;
    /// Replaces a grant's scopes (an empty list keeps the grant with no scopes, as Graph does).
    async fn set_grant_scopes(&self, id: &str, scopes: &[String]) -> GraphResult<Option<PermissionGrant>>;
    /// Removes a grant; `false` when there was none.
    async fn delete_grant(&self, id: &str) -> GraphResult<bool>;
}

const COLUMNS: &str = "id, client_id, principal, resource_id, scope, granted_at";
const ALL_PRINCIPALS: &str = "*";

fn grant_from(mut row: Row) -> PermissionGrant {
    let (id, client_id, principal) = (row.text("id"), row.text("client_id"), row.text("principal"));
    let (resource_id, scope, granted_at) = (row.text("resource_id"), row.text("scope"), row.text("granted_at"));
    PermissionGrant {
        id,
        client_id,
        principal: (principal != ALL_PRINCIPALS).then_some(principal),
        resource_id,
        scopes: scope.split_whitespace().map(str::to_owned).collect(),
        granted_at,
    }
}

/// `scopes` added to `have`, without duplicates (compared ignoring case, as scope names are).
fn merged(have: &[String], scopes: &[String]) -> Vec<String> {
    let mut out = have.to_vec();
    for s in scopes {
        if !out.iter().any(|h| h.eq_ignore_ascii_case(s)) {
            out.push(s.clone());
        }
    }
    out
}

#[async_trait]
impl Consents for SqlStore {
    async fn grant_scopes(
        &self,
        client_id: &str,
        principal: Option<&str>,
        resource_id: &str,
        scopes: &[String],
    ) -> GraphResult<PermissionGrant> {
        let client_id = client_id.to_ascii_lowercase();
        let principal = principal.map_or_else(|| ALL_PRINCIPALS.to_owned(), str::to_ascii_lowercase);
        let (resource_id, scopes) = (resource_id.to_owned(), scopes.to_vec());
        self.write(move |tx| {
            Box::pin(async move {
                let existing = tx
                    .query_opt(
                        &format!("SELECT {COLUMNS} FROM app_grants WHERE client_id = ? AND principal = ?"),
                        &[client_id.as_str().into(), principal.as_str().into()],
                    )
                    .await?
                    .map(grant_from);
                let now = rolo_domain::time::now_utc();
                match existing {
                    Some(mut grant) => {
                        grant.scopes = merged(&grant.scopes, &scopes);
                        tx.execute(
                            "UPDATE app_grants SET scope = ? WHERE id = ?",
                            &[grant.scopes.join(" ").into(), grant.id.as_str().into()],
                        )
                        .await?;
                        Ok(grant)
                    }
                    None => {
                        let grant = PermissionGrant {
                            id: new_guid(),
                            client_id: client_id.clone(),
                            principal: (principal != ALL_PRINCIPALS).then(|| principal.clone()),
                            resource_id,
                            scopes: merged(&[], &scopes),
                            granted_at: now,
                        };
                        tx.execute(
                            &format!("INSERT INTO app_grants ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"),
                            &[
                                grant.id.as_str().into(),
                                client_id.into(),
                                principal.into(),
                                grant.resource_id.as_str().into(),
                                grant.scopes.join(" ").into(),
                                grant.granted_at.as_str().into(),
                            ],
                        )
                        .await?;
                        Ok(grant)
                    }
                }
            })
        })
        .await
    }

    async fn list_grants(&self) -> GraphResult<Vec<PermissionGrant>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {COLUMNS} FROM app_grants ORDER BY granted_at, id");
        Ok(conn.query(&sql, &[]).await?.into_iter().map(grant_from).collect())
    }

    async fn grants_for(&self, client_id: &str, user_id: &str) -> GraphResult<Vec<PermissionGrant>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {COLUMNS} FROM app_grants WHERE client_id = ? AND principal IN (?, ?)");
        let params =
            [client_id.to_ascii_lowercase().into(), ALL_PRINCIPALS.into(), user_id.to_ascii_lowercase().into()];
        Ok(conn.query(&sql, &params).await?.into_iter().map(grant_from).collect())
    }

    async fn find_grant(&self, id: &str) -> GraphResult<Option<PermissionGrant>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {COLUMNS} FROM app_grants WHERE id = ?");
        Ok(conn.query_opt(&sql, &[id.into()]).await?.map(grant_from))
    }

    async fn set_grant_scopes(&self, id: &str, scopes: &[String]) -> GraphResult<Option<PermissionGrant>> {
        let (key, scopes) = (id.to_owned(), merged(&[], scopes));
        let changed = self
            .write(move |tx| {
                Box::pin(async move {
                    tx.execute("UPDATE app_grants SET scope = ? WHERE id = ?", &[scopes.join(" ").into(), key.into()])
                        .await
                })
            })
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        self.find_grant(id).await
    }

    async fn delete_grant(&self, id: &str) -> GraphResult<bool> {
        let id = id.to_owned();
        let removed = self
            .write(move |tx| {
                Box::pin(async move { tx.execute("DELETE FROM app_grants WHERE id = ?", &[id.into()]).await })
            })
            .await?;
        Ok(removed > 0)
    }
}
