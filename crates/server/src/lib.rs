//! The HTTP front-end: Graph's v1.0 URL space for personal contacts over axum. Handlers are
//! thin; Graph semantics live in `rolo-domain`, storage behind `rolo-store`'s trait.

pub mod admin;
mod app_passwords;
mod applications;
mod assertion;
pub mod auth;
mod authorize;
mod batch;
mod body;
mod categories;
mod contacts;
mod count;
mod credentials;
pub mod ctx;
pub mod dav;
mod delegation;
mod delta;
mod device;
pub mod directory;
pub mod error;
mod extensions;
pub mod fleet;
mod folders;
mod grants;
pub mod graph;
mod groups;
pub mod identity;
pub mod lockout;
mod mailbox;
mod merge;
mod messages;
mod metadata;
pub mod methods;
pub mod metrics;
pub mod oidc;
mod openapi;
pub mod outbound;
pub mod paths;
pub(crate) mod people;
mod permissions;
mod photos;
pub mod query;
pub mod request_id;
pub mod response;
mod rich;
mod schemas;
pub mod seed;
pub mod shutdown;
mod signin_page;
mod subscriptions;
pub mod throttle;
pub mod tls;
mod todo;
mod tokens;
mod users;
pub mod vcard;
pub mod webapp;
pub mod webhooks;

use std::future::Future;
use std::sync::{Arc, RwLock};

use axum::Router;
use rolo_domain::{GraphError, GraphResult, Principal};
use rolo_store::{Emulator, Store, User};
use tokio::net::TcpListener;

use crate::auth::Authority;
use crate::query::TokenCodec;

/// What every request shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The same store's emulator-only state controls (wipe, snapshots), which [`Store`] leaves
    /// out: only the admin doors, served when `emulator` is set, use them.
    pub emulator_store: Arc<dyn Emulator>,
    pub authority: Arc<Authority>,
    pub codec: TokenCodec,
    /// The externally visible base URL (`https://contacts.example.com`), when not the Host.
    pub public_url: Option<String>,
    /// Photo decoding is CPU- and memory-heavy: at most this many run at once.
    pub photo_slots: tokio::sync::Semaphore,
    /// Where and how change notifications go; set before serving.
    pub webhooks: webhooks::WebhookSettings,
    /// What this process's delivery worker has done.
    pub worker: webhooks::WorkerStats,
    /// Request metrics, when they are served (`[metrics] listen`); set before serving.
    pub metrics: Option<Arc<metrics::Metrics>>,
    /// Graceful shutdown: its settings, and whether it has begun (`/readyz` is then 503).
    pub shutdown: shutdown::Shutdown,
    /// The client that validates notification URLs and delivers notifications, built from
    /// `webhooks.policy` on first use (so the policy set before serving is the one enforced).
    outbound: std::sync::OnceLock<Result<reqwest::Client, String>>,
    /// The emulator's admin doors: which Host and Origin headers it answers, where snapshots go.
    pub admin: admin::AdminSettings,
    /// Per (app, mailbox) request limits; replace before serving to change the settings.
    pub throttle: Arc<throttle::Throttle>,
    /// The emulator's `/rolo/admin` controls are served.
    pub emulator: bool,
    faults: RwLock<admin::Faults>,
    limits: RwLock<admin::Limits>,
    /// External OpenID Connect issuers whose tokens are accepted too; set before serving.
    pub oidc: oidc::ExternalIssuers,
    /// The People API's per-mailbox and directory caches.
    pub(crate) people: people::PeopleCache,
    /// Failed sign-ins per user name and client address (password guessing is slowed down).
    pub lockout: lockout::Lockout,
    /// Password hashes are checked one at a time, off the async workers.
    pub(crate) password_slots: tokio::sync::Semaphore,
    /// The tenant's name, as `/organization` reports it.
    pub organization_name: String,
    /// Users by id or UPN, checked against the directory's version on every request.
    users: directory::UserCache,
    /// The shared versions of cached state this process last saw (`fleet.rs`).
    pub coherence: fleet::Coherence,
    /// Lifetimes of codes and sessions in interactive sign-in.
    signin: RwLock<SignInSettings>,
}

/// Lifetimes in interactive sign-in, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInSettings {
    /// Authorization codes: Microsoft's live about ten minutes.
    pub code_ttl: i64,
    /// Device codes: 15 minutes, as Microsoft's.
    pub device_code_ttl: i64,
    /// The least time between two polls of a pending device code before `slow_down`.
    pub device_poll_interval: i64,
    /// The sign-in session cookie.
    pub session_ttl: i64,
}

impl Default for SignInSettings {
    fn default() -> Self {
        SignInSettings { code_ttl: 600, device_code_ttl: 900, device_poll_interval: 5, session_ttl: 8 * 3600 }
    }
}

impl AppState {
    pub async fn new<S: Store + Emulator>(store: Arc<S>, public_url: Option<String>) -> GraphResult<AppState> {
        let authority = Arc::new(Authority::load(store.as_ref()).await?);
        Ok(AppState {
            codec: TokenCodec::new(&authority.token_secret),
            emulator_store: store.clone(),
            store,
            authority,
            public_url,
            photo_slots: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            webhooks: webhooks::WebhookSettings::default(),
            worker: webhooks::WorkerStats::default(),
            metrics: None,
            shutdown: shutdown::Shutdown::default(),
            outbound: std::sync::OnceLock::new(),
            admin: admin::AdminSettings::default(),
            throttle: Arc::new(throttle::Throttle::new(throttle::ThrottleSettings::default())),
            emulator: false,
            faults: RwLock::new(admin::Faults::default()),
            limits: RwLock::new(admin::Limits::default()),
            lockout: lockout::Lockout::new(lockout::LockoutSettings::default()),
            password_slots: tokio::sync::Semaphore::new(1),
            oidc: oidc::ExternalIssuers::default(),
            people: people::PeopleCache::default(),
            organization_name: "Rolo".to_owned(),
            users: directory::UserCache::default(),
            coherence: fleet::Coherence::default(),
            signin: RwLock::new(SignInSettings::default()),
        })
    }

    /// The client for every outbound request, filtered by the webhook policy.
    pub fn outbound(&self) -> Result<&reqwest::Client, &str> {
        self.outbound.get_or_init(|| outbound::client(&self.webhooks.policy)).as_ref().map_err(String::as_str)
    }

    /// The limits on extensions and photo uploads in force (the emulator may change them).
    pub fn limits(&self) -> admin::Limits {
        self.limits.read().map(|l| *l).unwrap_or_default()
    }

    pub fn set_limits(&self, limits: admin::Limits) {
        if let Ok(mut l) = self.limits.write() {
            *l = limits;
        }
    }

    pub fn signin(&self) -> SignInSettings {
        self.signin.read().map(|s| *s).unwrap_or_default()
    }

    pub fn set_signin(&self, settings: SignInSettings) {
        if let Ok(mut s) = self.signin.write() {
            *s = settings;
        }
    }

    pub fn faults(&self) -> admin::Faults {
        self.faults.read().map(|f| f.clone()).unwrap_or_default()
    }

    pub fn set_faults(&self, faults: admin::Faults) {
        if let Ok(mut f) = self.faults.write() {
            *f = faults;
        }
    }

    /// Drops the user and people caches, after the emulator replaced the whole state.
    pub fn forget_users(&self) {
        self.users.forget();
        self.people.clear();
    }

    /// Refuses the tokens of a user disabled or removed since they were issued.
    pub async fn require_active(&self, principal: &Principal) -> GraphResult<()> {
        directory::require_active(&self.users, self.store.as_ref(), principal).await
    }

    /// Verifies a bearer token, Rolo's own or an external issuer's, and returns who is calling.
    /// A token verified before costs one cache lookup.
    pub async fn authenticate(&self, token: &str) -> GraphResult<Principal> {
        if let Some(p) = self.authority.cached(token) {
            return Ok(p);
        }
        let iss = auth::peek_issuer(token);
        if let Some(iss) = iss.as_deref().filter(|iss| self.oidc.knows(iss)) {
            let claims = self.oidc.verify(token, iss).await?;
            let principal = self.external_principal(&claims).await?;
            self.authority.remember(token, &principal, claims.exp);
            return Ok(principal);
        }
        if iss.is_some_and(|iss| iss != self.authority.issuer) {
            return Err(GraphError::unauthenticated("Access token validation failure. Invalid issuer."));
        }
        self.authority.verify(token)
    }

    /// An external token's caller. A delegated token's user must be in Rolo's directory: found by
    /// `oid` or `sub` (as an object id), then by `upn` or `preferred_username`.
    async fn external_principal(&self, c: &oidc::ExternalClaims) -> GraphResult<Principal> {
        let app_only = c.is_app_only();
        let user_id = if app_only {
            None
        } else {
            let ids = [&c.oid, &c.sub].into_iter().flatten().filter(|v| rolo_domain::ids::is_guid(v));
            let names = [&c.upn, &c.preferred_username].into_iter().flatten().filter(|v| !rolo_domain::ids::is_guid(v));
            let mut found = None;
            for key in ids.chain(names) {
                if let Some(u) = self.user(key).await? {
                    found = Some(u.id);
                    break;
                }
            }
            Some(found.ok_or_else(|| {
                GraphError::unauthenticated(
                    "Access token validation failure. The token's user is not in this directory.",
                )
            })?)
        };
        Ok(auth::principal_from(user_id, c.delegated_scopes(), c.roles.as_deref(), c.app_id(), app_only))
    }

    /// Finds a user by object id or UPN, through a small cache.
    pub async fn user(&self, key: &str) -> GraphResult<Option<User>> {
        Ok(self.shared_user(key).await?.map(Arc::unwrap_or_clone))
    }

    /// [`AppState::user`] without copying the cached user.
    pub async fn shared_user(&self, key: &str) -> GraphResult<Option<Arc<User>>> {
        self.users.user(self.store.as_ref(), key).await
    }
}

/// Responses smaller than this go uncompressed: below about a kilobyte the gzip/brotli framing
/// and the CPU cost outweigh the bytes saved.
pub const COMPRESS_MIN_BYTES: u16 = 1024;

/// The Graph URL space with its request ids, as `$batch` replays its requests through it.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .fallback(graph::handle)
        .with_state(state)
        .layer(axum::middleware::from_fn(webapp::middleware))
        .layer(axum::middleware::from_fn(request_id::middleware))
}

/// What is served on the wire: [`router`] with content codings. Batch requests are replayed
/// through the plain router, so their responses are never compressed inside the batch body.
pub fn app(state: Arc<AppState>) -> Router {
    use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
    // Every Graph SDK sends `Accept-Encoding: gzip` and Graph compresses. Images (photo `$value`)
    // are compressed formats already; event streams must not be buffered by an encoder.
    let worth_compressing = SizeAbove::new(COMPRESS_MIN_BYTES)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::SSE);
    let counting = state.metrics.clone();
    let app = router(state)
        .layer(tower_http::compression::CompressionLayer::new().compress_when(worth_compressing))
        // `Content-Encoding: gzip` request bodies are inflated as they are read, so `read_body`'s
        // limit counts decompressed bytes (a gzip bomb stops at the limit). Other encodings pass
        // through untouched and `read_body` refuses them with Graph's envelope.
        .layer(tower_http::decompression::RequestDecompressionLayer::new().pass_through_unaccepted(true));
    match counting {
        Some(m) => app.layer(axum::middleware::from_fn_with_state(m, metrics::track)),
        None => app,
    }
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

/// Serves until `shutdown` completes, then drains as [`shutdown`] describes. The process's
/// webhook delivery worker runs alongside and stops after the requests; what it had not
/// delivered stays queued, its leases handed back.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let worker = webhooks::spawn_delivery(state.clone());
    let coherence = fleet::spawn(state.clone());
    // The peer's address is kept for the sign-in lockout (failed attempts per client address).
    let app = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let signal = shutdown::drain_signal(state.clone(), shutdown);
    let served = shutdown::bounded(&state, axum::serve(listener, app).with_graceful_shutdown(signal)).await;
    coherence.abort();
    state.throttle.flush().await;
    worker.stop().await;
    served
}
