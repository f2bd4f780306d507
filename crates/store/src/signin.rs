//! State behind interactive sign-in: refresh-token families (rotation, and revocation of a
//! family when a rotated token comes back), one-time keys (authorization codes and client
//! assertions redeemed), and device codes waiting for their user.

use async_trait::async_trait;
use rolo_domain::GraphResult;

use crate::sql::Row;
use crate::SqlStore;

/// What became of a refresh token presented for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// It was the family's latest token; the family now names the new one.
    Rotated,
    /// It had been rotated already: someone replayed it, so the whole family is now revoked.
    Reused,
    /// The family was revoked before (or never existed).
    Revoked,
}

/// Where a device code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Declined,
}

impl DeviceStatus {
    fn code(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Declined => "declined",
        }
    }

    fn from_code(code: &str) -> DeviceStatus {
        match code {
            "approved" => DeviceStatus::Approved,
            "declined" => DeviceStatus::Declined,
            _ => DeviceStatus::Pending,
        }
    }
}

/// A device-code sign-in: the device polls with `device_code`; its user enters `user_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub client_id: String,
    /// Space-separated: what was asked, then (once approved) what was granted.
    pub scope: String,
    pub status: DeviceStatus,
    pub user_id: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds of the last poll (0 before any).
    pub last_poll: i64,
}

/// The storage role for interactive sign-in.
#[async_trait]
pub trait SignIns: Send + Sync {
    /// Records `key` as used until `expires_at` (unix seconds); `false` when it was used before.
    async fn redeem_once(&self, key: &str, expires_at: i64) -> GraphResult<bool>;
    /// Starts a refresh-token family whose latest token is `jti`. Families unused for longer
    /// than `idle_limit` seconds (all their tokens have expired) are dropped on the way.
    async fn start_family(&self, family_id: &str, jti: &str, idle_limit: i64) -> GraphResult<()>;
    /// Moves a family from `presented` to `next`, atomically; see [`Rotation`].
    async fn rotate_family(&self, family_id: &str, presented: &str, next: &str) -> GraphResult<Rotation>;
    /// Revokes a family (an authorization code replayed revokes what it gave).
    async fn revoke_family(&self, family_id: &str) -> GraphResult<()>;
    async fn create_device_code(&self, code: &DeviceCode) -> GraphResult<()>;
    async fn device_code_by_user_code(&self, user_code: &str) -> GraphResult<Option<DeviceCode>>;
    /// Approves (with the user and the granted scope) or declines a pending code; `false` when
    /// it is no longer pending.
    async fn decide_device_code(
        &self,
        user_code: &str,
        status: DeviceStatus,
        user_id: Option<&str>,
        scope: Option<&str>,
    ) -> GraphResult<bool>;
    /// A device's poll at `now`: the code as it stood before this poll. A decided code is
    /// consumed (removed) by the poll that reads it, so it gives tokens once.
    async fn poll_device_code(&self, device_code: &str, now: i64) -> GraphResult<Option<DeviceCode>>;
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

const DEVICE_COLUMNS: &str = "device_code, user_code, client_id, scope, status, user_id, expires_at, last_poll";

fn device_from(mut row: Row) -> DeviceCode {
    let user_id = row.text("user_id");
    DeviceCode {
        device_code: row.text("device_code"),
        user_code: row.text("user_code"),
        client_id: row.text("client_id"),
        scope: row.text("scope"),
        status: DeviceStatus::from_code(&row.text("status")),
        user_id: (!user_id.is_empty()).then_some(user_id),
        expires_at: row.int("expires_at").unwrap_or(0),
        last_poll: row.int("last_poll").unwrap_or(0),
    }
}

#[async_trait]
impl SignIns for SqlStore {
    async fn redeem_once(&self, key: &str, expires_at: i64) -> GraphResult<bool> {
        let key = key.to_owned();
        let now = unix_now();
        self.write(move |tx| {
            Box::pin(async move {
                // Keys past their lifetime can no longer be presented, so they need not be kept.
                tx.execute("DELETE FROM redeemed WHERE expires_at < ?", &[now.into()]).await?;
                let inserted = tx
                    .execute(
                        "INSERT INTO redeemed (redeemed_key, expires_at) VALUES (?, ?) ON CONFLICT (redeemed_key) DO NOTHING",
                        &[key.into(), expires_at.into()],
                    )
                    .await?;
                Ok(inserted == 1)
            })
        })
        .await
    }

    async fn start_family(&self, family_id: &str, jti: &str, idle_limit: i64) -> GraphResult<()> {
        let (family, jti) = (family_id.to_owned(), jti.to_owned());
        let now = unix_now();
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute("DELETE FROM refresh_families WHERE used_at < ?", &[(now - idle_limit).into()]).await?;
                tx.execute(
                    "INSERT INTO refresh_families (family_id, latest_jti, revoked, used_at) VALUES (?, ?, 0, ?)",
                    &[family.into(), jti.into(), now.into()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn rotate_family(&self, family_id: &str, presented: &str, next: &str) -> GraphResult<Rotation> {
        let (family, presented, next) = (family_id.to_owned(), presented.to_owned(), next.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let moved = tx
                    .execute(
                        "UPDATE refresh_families SET latest_jti = ?, used_at = ? WHERE family_id = ? AND latest_jti = ? AND revoked = 0",
                        &[next.into(), unix_now().into(), family.as_str().into(), presented.into()],
                    )
                    .await?;
                if moved == 1 {
                    return Ok(Rotation::Rotated);
                }
                let revoked = tx
                    .execute(
                        "UPDATE refresh_families SET revoked = 1 WHERE family_id = ? AND revoked = 0",
                        &[family.into()],
                    )
                    .await?;
                Ok(if revoked == 1 { Rotation::Reused } else { Rotation::Revoked })
            })
        })
        .await
    }

    async fn revoke_family(&self, family_id: &str) -> GraphResult<()> {
        let family = family_id.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute("UPDATE refresh_families SET revoked = 1 WHERE family_id = ?", &[family.into()]).await?;
                Ok(())
            })
        })
        .await
    }

    async fn create_device_code(&self, code: &DeviceCode) -> GraphResult<()> {
        let c = code.clone();
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute(
                    &format!("INSERT INTO device_codes ({DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                    &[
                        c.device_code.into(),
                        c.user_code.to_ascii_uppercase().into(),
                        c.client_id.into(),
                        c.scope.into(),
                        c.status.code().into(),
                        c.user_id.into(),
                        c.expires_at.into(),
                        c.last_poll.into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn device_code_by_user_code(&self, user_code: &str) -> GraphResult<Option<DeviceCode>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE user_code = ?");
        Ok(conn.query_opt(&sql, &[user_code.trim().to_ascii_uppercase().into()]).await?.map(device_from))
    }

    async fn decide_device_code(
        &self,
        user_code: &str,
        status: DeviceStatus,
        user_id: Option<&str>,
        scope: Option<&str>,
    ) -> GraphResult<bool> {
        let user_code = user_code.trim().to_ascii_uppercase();
        let (user_id, scope) = (user_id.map(str::to_owned), scope.map(str::to_owned));
        let changed = self
            .write(move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "UPDATE device_codes SET status = ?, user_id = ?, scope = COALESCE(?, scope) WHERE user_code = ? AND status = 'pending'",
                        &[status.code().into(), user_id.into(), scope.into(), user_code.into()],
                    )
                    .await
                })
            })
            .await?;
        Ok(changed == 1)
    }

    async fn poll_device_code(&self, device_code: &str, now: i64) -> GraphResult<Option<DeviceCode>> {
        let device_code = device_code.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                let sql = format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE device_code = ?");
                let Some(code) = tx.query_opt(&sql, &[device_code.as_str().into()]).await?.map(device_from) else {
                    return Ok(None);
                };
                if code.status == DeviceStatus::Pending {
                    tx.execute(
                        "UPDATE device_codes SET last_poll = ? WHERE device_code = ?",
                        &[now.into(), device_code.into()],
                    )
                    .await?;
                } else {
                    tx.execute("DELETE FROM device_codes WHERE device_code = ?", &[device_code.into()]).await?;
                }
                Ok(Some(code))
            })
        })
        .await
    }
}
