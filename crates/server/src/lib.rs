//! The HTTP front-end: Graph's v1.0 URL space for personal contacts over axum. Handlers are
//! thin; Graph semantics live in `rolo-domain`, storage behind `rolo-store`'s trait.

pub mod admin;
pub mod auth;
mod batch;
mod categories;
mod contacts;
mod delta;
pub mod error;
mod extensions;
mod folders;
pub mod graph;
mod messages;
mod metadata;
pub mod paths;
mod permissions;
mod photos;
pub mod query;
pub mod request_id;
pub mod response;
mod rich;
mod schemas;
pub mod seed;
mod subscriptions;
pub mod throttle;
pub mod webhooks;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use axum::Router;
use rolo_domain::GraphResult;
use rolo_store::{Store, User};
use tokio::net::TcpListener;

use crate::auth::Authority;
use crate::query::TokenCodec;

/// What every request shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub authority: Arc<Authority>,
    pub codec: TokenCodec,
    /// The externally visible base URL (`https://contacts.example.com`), when not the Host.
    pub public_url: Option<String>,
    /// Photo decoding is CPU- and memory-heavy: at most this many run at once.
    pub photo_slots: tokio::sync::Semaphore,
    /// Where and how change notifications go; set before serving.
    pub webhooks: webhooks::WebhookSettings,
    /// The client that validates notification URLs and delivers notifications.
    pub http: reqwest::Client,
    /// Per (app, mailbox) request limits; replace before serving to change the settings.
    pub throttle: Arc<throttle::Throttle>,
    /// The emulator's `/rolo/admin` controls are served.
    pub emulator: bool,
    faults: RwLock<admin::Faults>,
    /// Users by lower-cased id or UPN: a user's mailbox handles never change.
    users: RwLock<HashMap<String, User>>,
}

impl AppState {
    pub async fn new(store: Arc<dyn Store>, public_url: Option<String>) -> GraphResult<AppState> {
        let authority = Arc::new(Authority::load(store.as_ref()).await?);
        Ok(AppState {
            codec: TokenCodec::new(&authority.token_secret),
            store,
            authority,
            public_url,
            photo_slots: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            webhooks: webhooks::WebhookSettings::default(),
            http: webhooks::client(),
            throttle: Arc::new(throttle::Throttle::new(throttle::ThrottleSettings::default())),
            emulator: false,
            faults: RwLock::new(admin::Faults::default()),
            users: RwLock::new(HashMap::new()),
        })
    }

    pub fn faults(&self) -> admin::Faults {
        self.faults.read().map(|f| f.clone()).unwrap_or_default()
    }

    pub fn set_faults(&self, faults: admin::Faults) {
        if let Ok(mut f) = self.faults.write() {
            *f = faults;
        }
    }

    /// Drops the user cache, after the emulator replaced the whole state.
    pub fn forget_users(&self) {
        if let Ok(mut m) = self.users.write() {
            m.clear();
        }
    }

    /// Finds a user by object id or UPN, through a small cache.
    pub async fn user(&self, key: &str) -> GraphResult<Option<User>> {
        let k = key.to_lowercase();
        if let Some(u) = self.users.read().ok().and_then(|m| m.get(&k).cloned()) {
            return Ok(Some(u));
        }
        let found = self.store.find_user(key).await?;
        if let (Some(u), Ok(mut m)) = (&found, self.users.write()) {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(k, u.clone());
        }
        Ok(found)
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(graph::handle).with_state(state).layer(axum::middleware::from_fn(request_id::middleware))
}

/// Compacts the change log every hour: tombstones older than `retention_days` go, and delta
/// tokens older than them then get `syncStateNotFound`. Every server process may run this; the
/// work is idempotent.
pub fn spawn_compaction(store: Arc<dyn Store>, retention_days: u32) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match store.compact_tombstones(&rolo_domain::time::days_ago(retention_days)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "compacted the change log"),
                Err(e) => {
                    tracing::warn!(cause = e.cause.as_deref().unwrap_or(&e.message), "change-log compaction failed")
                }
            }
        }
    });
}

/// Serves until `shutdown` completes, then finishes in-flight requests. The process's webhook
/// delivery worker runs alongside and stops with it; what it had not delivered stays queued.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let worker = webhooks::spawn_delivery(state.clone());
    let served = axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await;
    worker.abort();
    served
}
