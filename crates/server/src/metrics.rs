//! Prometheus metrics: requests by route template, method and status, their latency, and, read
//! at each scrape, the outbox backlog, the delivery worker's outcomes, throttling refusals, the
//! database pool, mailbox reads by pool (with read replicas) and cache invalidations. Routes are labelled by the router's own
//! classification (`paths::parse`, the identity and directory routes), never by raw paths, so
//! ids in URLs cannot grow the label space; anything unrecognised is `other`.
//!
//! Off unless configured (`[metrics] listen`): then [`track`] wraps the served router and
//! [`serve`] answers `GET /metrics` on its own address, away from the API's port.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rolo_domain::ApiVersion;
use tokio::net::TcpListener;

use crate::paths::{FolderPath, GraphPath, Owner, PhotoPath, Resource};
use crate::AppState;

/// Latency buckets, in seconds: from a cached read (a millisecond) to a large import.
const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    route: String,
    method: &'static str,
}

/// The request metrics this process accumulates; the rest is read at each scrape.
#[derive(Debug)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        fn histogram() -> Histogram {
            Histogram::new(LATENCY_BUCKETS)
        }
        Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(histogram as fn() -> Histogram),
            in_flight: Gauge::default(),
        }
    }
}

/// Counts a request as in flight until dropped (also when the client goes away mid-request).
struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The middleware that counts and times every request on the wire.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = route_template(req.uri().path());
    let method = method_label(req.method());
    let started = Instant::now();
    metrics.in_flight.inc();
    let guard = InFlight(&metrics.in_flight);
    let resp = next.run(req).await;
    drop(guard);
    let status = resp.status().as_u16();
    metrics
        .latency
        .get_or_create(&LatencyLabels { route: route.clone(), method })
        .observe(started.elapsed().as_secs_f64());
    metrics.requests.get_or_create(&RequestLabels { route, method, status }).inc();
    resp
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The route template of a request path, as the router classifies it: `/v1.0/me/contacts/{id}`,
/// `/{tenant}/oauth2/v2.0/token`, `other` for paths no route serves.
pub fn route_template(path: &str) -> String {
    match path {
        "/healthz" | "/readyz" | "/metrics" => return path.to_owned(),
        _ => {}
    }
    if crate::admin::is_admin_path(path) {
        return "/rolo/admin".to_owned();
    }
    if crate::identity::route(path).is_some() {
        // A known endpoint: after the tenant, the path is one of a few fixed shapes.
        let mut segs = path.trim_matches('/').split('/');
        let first = segs.next().unwrap_or_default();
        if first.eq_ignore_ascii_case("devicelogin") {
            return "/devicelogin".to_owned();
        }
        let rest: Vec<String> = segs.map(str::to_ascii_lowercase).collect();
        return format!("/{{tenant}}/{}", rest.join("/"));
    }
    let Some((version, rest)) = path.strip_prefix('/').and_then(|p| {
        let (v, rest) = p.split_once('/').unwrap_or((p, ""));
        ApiVersion::from_segment(v).map(|v| (v, rest))
    }) else {
        return "other".to_owned();
    };
    let v = version.segment();
    let root = rest.trim_end_matches('/');
    let under = |tail: &str| format!("/{v}{tail}");
    if root.is_empty() {
        return under("/");
    }
    for fixed in ["$metadata", "openapi.json", "$batch"] {
        if root.eq_ignore_ascii_case(fixed) {
            return under(&format!("/{fixed}"));
        }
    }
    // Root collections with an optional key and, for subscriptions, an action.
    let keyed = |name: &str| {
        let segs: Vec<&str> = root.split('/').collect();
        let has_key = segs.first().is_some_and(|s| s.contains('(')) || segs.len() > 1;
        let action = segs.len() > 2 || (segs.len() > 1 && segs.first().is_some_and(|s| s.contains('(')));
        match (has_key, action) {
            (false, _) => under(&format!("/{name}")),
            (true, false) => under(&format!("/{name}/{{id}}")),
            (true, true) => under(&format!("/{name}/{{id}}/{{action}}")),
        }
    };
    if crate::subscriptions::is_subscriptions_path(rest) {
        return keyed("subscriptions");
    }
    if crate::grants::is_grants_path(rest) {
        return keyed("oauth2PermissionGrants");
    }
    if crate::schemas::is_schema_path(rest) {
        return keyed("schemaExtensions");
    }
    if let Some(route) = crate::applications::route(rest) {
        return under(route.template());
    }
    for name in ["mailboxPermissions", "sharedWithMe", "appPasswords"] {
        if let Some((owner, id)) = crate::delegation::user_collection(rest, name) {
            let who = if owner == crate::paths::Owner::Me { "/me" } else { "/users/{id}" };
            return under(&format!("{who}/{name}{}", if id.is_some() { "/{id}" } else { "" }));
        }
    }
    if let Some(route) = crate::groups::route(rest) {
        return under(&group_template(&route));
    }
    if let Some(target) = crate::users::route(rest) {
        use crate::users::Target;
        return under(match target {
            Target::Me => "/me",
            Target::List => "/users",
            Target::Count => "/users/$count",
            Target::One(_) => "/users/{id}",
            Target::Organizations => "/organization",
            Target::Organization(_) => "/organization/{id}",
        });
    }
    match crate::paths::parse(rest) {
        Ok(parsed) => under(&mailbox_template(&parsed)),
        Err(_) => "other".to_owned(),
    }
}

/// A group route's template under `/{version}`.
fn group_template(route: &crate::groups::Route) -> String {
    use crate::groups::{Route, ThreadRef};
    let thread = |t: &ThreadRef, tail: &str| {
        let base = if t.conversation.is_some() {
            "/groups/{id}/conversations/{id}/threads/{id}"
        } else {
            "/groups/{id}/threads/{id}"
        };
        format!("{base}{tail}")
    };
    match route {
        Route::Groups => "/groups".to_owned(),
        Route::Group(_) => "/groups/{id}".to_owned(),
        Route::Members(_) => "/groups/{id}/members".to_owned(),
        Route::MemberOf(None) => "/me/memberOf".to_owned(),
        Route::MemberOf(Some(_)) => "/users/{id}/memberOf".to_owned(),
        Route::Conversations(_) => "/groups/{id}/conversations".to_owned(),
        Route::Conversation { .. } => "/groups/{id}/conversations/{id}".to_owned(),
        Route::Threads { conversation: None, .. } => "/groups/{id}/threads".to_owned(),
        Route::Threads { conversation: Some(_), .. } => "/groups/{id}/conversations/{id}/threads".to_owned(),
        Route::Thread(t) => thread(t, ""),
        Route::ThreadReply(t) => thread(t, "/reply"),
        Route::Posts(t) => thread(t, "/posts"),
        Route::Post(t, _) => thread(t, "/posts/{id}"),
        Route::PostReply(t, _) => thread(t, "/posts/{id}/reply"),
    }
}

/// `.../contactFolders/{id}`, and any depth of `childFolders` as one template.
fn chain_template(chain: &[String]) -> &'static str {
    if chain.len() > 1 {
        "/contactFolders/{id}/childFolders/{id}"
    } else {
        "/contactFolders/{id}"
    }
}

fn folder_template(folder: &FolderPath) -> &'static str {
    match folder {
        FolderPath::Default => "",
        FolderPath::Chain(chain) => chain_template(chain),
    }
}

fn photo_template(photo: &PhotoPath) -> String {
    match photo {
        PhotoPath::Sizes => "/photos".to_owned(),
        PhotoPath::One { size, value } => {
            let base = if size.is_some() { "/photos/{size}" } else { "/photo" };
            format!("{base}{}", if *value { "/$value" } else { "" })
        }
    }
}

/// A mailbox route's template under `/{version}`.
#[allow(unreachable_patterns)] // the fallback names resources added later until they get a line here
fn mailbox_template(path: &GraphPath) -> String {
    let owner = match path.owner {
        Owner::Me => "/me",
        Owner::User(_) => "/users/{id}",
    };
    let opt = |flag: bool, tail: &'static str| if flag { tail } else { "" };
    let resource = match &path.resource {
        Resource::Contacts(f) => format!("{}/contacts", folder_template(f)),
        Resource::Contact { folder, permanent_delete, .. } => {
            format!("{}/contacts/{{id}}{}", folder_template(folder), opt(*permanent_delete, "/permanentDelete"))
        }
        Resource::Folders(FolderPath::Default) => "/contactFolders".to_owned(),
        Resource::Folders(FolderPath::Chain(chain)) => format!("{}/childFolders", chain_template(chain)),
        Resource::Folder { chain, permanent_delete } => {
            format!("{}{}", chain_template(chain), opt(*permanent_delete, "/permanentDelete"))
        }
        Resource::ContactPhoto { folder, photo, .. } => {
            format!("{}/contacts/{{id}}{}", folder_template(folder), photo_template(photo))
        }
        Resource::UserPhoto(photo) => photo_template(photo),
        Resource::ContactFile { folder, .. } => format!("{}/contacts/{{id}}/$value", folder_template(folder)),
        Resource::ContactFiles(f) => format!("{}/contacts/$value", folder_template(f)),
        Resource::FolderImport { chain } => format!("{}/import", chain_template(chain)),
        Resource::ContactsDelta(f) => format!("{}/contacts/delta", folder_template(f)),
        Resource::FoldersDelta => "/contactFolders/delta".to_owned(),
        Resource::ContactExtensions { folder, extension, .. } => format!(
            "{}/contacts/{{id}}/extensions{}",
            folder_template(folder),
            opt(extension.is_some(), "/{extensionId}")
        ),
        Resource::FolderPermissions { chain, id } => {
            format!("{}/permissions{}", chain_template(chain), opt(id.is_some(), "/{id}"))
        }
        Resource::Categories => "/outlook/masterCategories".to_owned(),
        Resource::Category(_) => "/outlook/masterCategories/{id}".to_owned(),
        Resource::Messages(None) => "/messages".to_owned(),
        Resource::Messages(Some(_)) => "/mailFolders/{id}/messages".to_owned(),
        Resource::Message(_) => "/messages/{id}".to_owned(),
        Resource::SendMail => "/sendMail".to_owned(),
        Resource::SendDraft(_) => "/messages/{id}/send".to_owned(),
        Resource::Events => "/events".to_owned(),
        Resource::Event(_) => "/events/{id}".to_owned(),
        Resource::People => "/people".to_owned(),
        Resource::TodoLists => "/todo/lists".to_owned(),
        Resource::TodoList(_) => "/todo/lists/{id}".to_owned(),
        Resource::Tasks(_) => "/todo/lists/{id}/tasks".to_owned(),
        Resource::TasksDelta(_) => "/todo/lists/{id}/tasks/delta".to_owned(),
        Resource::Task { .. } => "/todo/lists/{id}/tasks/{id}".to_owned(),
        Resource::ChecklistItems { id, .. } => {
            format!("/todo/lists/{{id}}/tasks/{{id}}/checklistItems{}", opt(id.is_some(), "/{id}"))
        }
        other => {
            let name = format!("{other:?}");
            let name = name.split(['(', ' ', '{']).next().unwrap_or_default().to_owned();
            format!("/{{{name}}}")
        }
    };
    format!("{owner}{resource}{}", opt(path.count, "/$count"))
}

/// Renders every metric in Prometheus's text format (0.0.4).
pub async fn render(state: &AppState, metrics: &Metrics) -> String {
    let mut registry = Registry::with_prefix("rolo");
    registry.register(
        "http_requests",
        "HTTP requests served, by route template, method and status",
        metrics.requests.clone(),
    );
    registry.register(
        "http_request_duration_seconds",
        "Time to answer a request (to the response head), by route template and method",
        metrics.latency.clone(),
    );
    registry.register("http_requests_in_flight", "Requests being served now", metrics.in_flight.clone());

    // Read now: the outbox (from the database, so every process reports the fleet's backlog).
    let outbox = state.store.outbox_depth().await;
    let up = Gauge::<i64>::default();
    up.set(i64::from(outbox.is_ok()));
    registry.register("database_up", "1 when the database answered this scrape's query", up);
    if let Ok(depth) = outbox {
        let pending = Gauge::<i64>::default();
        pending.set(i64::try_from(depth.pending).unwrap_or(i64::MAX));
        registry.register("outbox_pending", "Notifications waiting for delivery (all processes')", pending);
        let age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        age.set(depth.oldest_created_at.as_deref().map_or(0.0, age_seconds));
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest notification waiting for delivery; 0 when none waits",
            age,
        );
    }

    let counted = |pairs: &[(&'static str, u64)], key: &'static str| {
        let family = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        for (value, n) in pairs {
            family.get_or_create(&vec![(key, *value)]).inc_by(*n);
        }
        family
    };
    let w = &state.worker;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    registry.register(
        "webhook_deliveries",
        "Notifications this process's worker delivered, will retry, or gave up on",
        counted(
            &[("delivered", load(&w.delivered)), ("retried", load(&w.retried)), ("given_up", load(&w.given_up))],
            "outcome",
        ),
    );
    let sweeps = Counter::<u64>::default();
    sweeps.inc_by(load(&w.sweeps));
    registry.register("subscription_sweeps", "Subscription sweeps this process finished", sweeps);

    let t = &state.throttle.refused;
    registry.register(
        "throttled_requests",
        "Requests answered 429 by this process's throttling, by the limit they hit",
        counted(
            &[("concurrency", load(&t.concurrency)), ("requests", load(&t.requests)), ("upload", load(&t.upload))],
            "limit",
        ),
    );
    registry.register(
        "cache_invalidations",
        "Times a cache was emptied because the database changed under it",
        counted(
            &[
                ("directory", state.users.generation()),
                ("signing_key", load(&state.coherence.signing_key_reloads)),
                ("emulator_settings", load(&state.coherence.emulator_settings_reloads)),
            ],
            "cache",
        ),
    );

    if let Some(pool) = state.store.pool_status() {
        let gauge = |v: usize| {
            let g = Gauge::<i64>::default();
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
            g
        };
        registry.register("db_pool_max_connections", "The most connections the pool opens", gauge(pool.max));
        registry.register("db_pool_open_connections", "Database connections open", gauge(pool.open));
        registry.register("db_pool_idle_connections", "Open database connections not in use", gauge(pool.idle));
        registry.register("db_pool_waiting", "Requests waiting for a database connection", gauge(pool.waiting));
    }

    if let Some(r) = state.store.replica_reads() {
        registry.register(
            "db_mailbox_reads",
            "Mailbox reads by the pool that served them: a read replica, or the primary because every \
             replica trailed the mailbox's last change or none could be reached",
            counted(
                &[
                    ("replica", r.replica),
                    ("primary_replicas_behind", r.primary_behind),
                    ("primary_replicas_unavailable", r.primary_unavailable),
                ],
                "pool",
            ),
        );
    }

    let mut text = String::new();
    if prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).is_err() {
        tracing::warn!("encoding the metrics failed");
    }
    text
}

/// Seconds since a stored timestamp (RFC 3339); 0 when it cannot be read.
fn age_seconds(at: &str) -> f64 {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(at, &Rfc3339)
        .map(|t| (time::OffsetDateTime::now_utc() - t).as_seconds_f64().max(0.0))
        .unwrap_or(0.0)
}

async fn scrape(State(state): State<Arc<AppState>>) -> Response {
    let Some(metrics) = state.metrics.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut resp = render(&state, &metrics).await.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(prometheus_client::encoding::prometheus_text::CONTENT_TYPE),
    );
    resp
}

/// Serves `GET /metrics` on its own listener until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route("/metrics", axum::routing::get(scrape)).with_state(state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::route_template;

    #[test]
    fn routes_are_templates_never_raw_paths() {
        let cases = [
            ("/v1.0/me/contacts", "/v1.0/me/contacts"),
            ("/v1.0/me/contacts/AAMkAGI2", "/v1.0/me/contacts/{id}"),
            ("/v1.0/me/contacts('AAMkAGI2')", "/v1.0/me/contacts/{id}"),
            (
                "/beta/users/ada@contoso.com/contactFolders/F1/childFolders/F2/contacts/C",
                "/beta/users/{id}/contactFolders/{id}/childFolders/{id}/contacts/{id}",
            ),
            ("/v1.0/me/contactFolders/F1/contacts/$count", "/v1.0/me/contactFolders/{id}/contacts/$count"),
            ("/v1.0/me/contacts/C/photo/$value", "/v1.0/me/contacts/{id}/photo/$value"),
            ("/v1.0/me/contacts/delta()", "/v1.0/me/contacts/delta"),
            (
                "/v1.0/me/todo/lists/L/tasks/T/checklistItems/I",
                "/v1.0/me/todo/lists/{id}/tasks/{id}/checklistItems/{id}",
            ),
            ("/v1.0/me", "/v1.0/me"),
            ("/v1.0/groups/G1/threads/T1/posts/P1/reply", "/v1.0/groups/{id}/threads/{id}/posts/{id}/reply"),
            ("/v1.0/me/memberOf", "/v1.0/me/memberOf"),
            ("/v1.0/users/0f1e", "/v1.0/users/{id}"),
            ("/v1.0/users", "/v1.0/users"),
            ("/v1.0/subscriptions/S1/reauthorize", "/v1.0/subscriptions/{id}/{action}"),
            ("/v1.0/subscriptions('S1')", "/v1.0/subscriptions/{id}"),
            ("/v1.0/$batch", "/v1.0/$batch"),
            ("/v1.0/", "/v1.0/"),
            ("/common/oauth2/v2.0/token", "/{tenant}/oauth2/v2.0/token"),
            ("/18e8d587-a18f-4a28-8bfe-f105148fd0de/OAuth2/v2.0/Authorize", "/{tenant}/oauth2/v2.0/authorize"),
            ("/healthz", "/healthz"),
            ("/rolo/admin/reset", "/rolo/admin"),
            ("/v1.0/me/nonsense/x", "other"),
            ("/wp-login.php", "other"),
            ("/v9/me", "other"),
        ];
        for (path, want) in cases {
            assert_eq!(route_template(path), want, "{path}");
        }
    }
}
