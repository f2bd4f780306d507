//! `rolo`: serve the Graph contacts API, manage users and registered apps, mint tokens, run a
//! seeded demo.

mod apps;
mod cli;
mod config;
mod demo;
mod files;
mod groups;
mod lifecycle;
mod ops;
mod organisation;
mod sharing;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rolo_domain::GraphError;
use rolo_server::AppState;
use rolo_store::prelude::*;
use rolo_store::SqlStore;

use crate::cli::*;
use crate::config::Config;

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("rolo: {e}");
    std::process::exit(1)
}

/// The user a command names, or a failure saying there is none.
async fn find_user(store: &rolo_store::SqlStore, upn: &str) -> rolo_store::User {
    store
        .find_user(upn)
        .await
        .unwrap_or_else(|e| fail(describe(e)))
        .unwrap_or_else(|| fail(format!("no such user: {upn}")))
}

fn describe(e: GraphError) -> String {
    match e.cause {
        Some(cause) => cause,
        None => e.message,
    }
}

/// Parses `3600`, `90s`, `30m`, `1h`, `7d` into seconds.
fn parse_ttl(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// What a served process may be told beyond its store.
#[derive(Default)]
pub struct ServeOptions {
    pub public_url: Option<String>,
    /// The tenant's name for `/organization` (Rolo when unset).
    pub organization_name: Option<String>,
    /// Hosts that may receive notifications over plain http (none when unset; the emulator's
    /// loopback).
    pub webhook_http_hosts: Option<Vec<String>>,
    /// Non-public networks receivers may be on (none when unset; the emulator's loopback).
    pub webhook_private_networks: Option<Vec<String>>,
    /// The emulator's admin doors and snapshot directory.
    pub emulator_doors: config::EmulatorConfig,
    /// Outlook's throttling limits (the defaults when unset).
    pub throttling: Option<rolo_server::throttle::ThrottleSettings>,
    /// Count requests in this Redis (`redis://...`), shared by the fleet, instead of here.
    pub throttling_redis: Option<String>,
    /// Serve the emulator's `/rolo/admin` controls.
    pub emulator: bool,
    /// External OpenID Connect issuers whose tokens are accepted.
    pub oidc: Vec<rolo_server::oidc::OidcIssuer>,
    pub banner: Option<String>,
    /// Serve https with this certificate and key instead of plain http.
    pub tls: Option<tls::TlsPem>,
    /// Serve Prometheus metrics at http://ADDR/metrics (off when unset).
    pub metrics_listen: Option<String>,
    /// How the process drains when told to stop.
    pub shutdown: rolo_server::shutdown::ShutdownSettings,
}

pub async fn run_server(listen: &str, store: Arc<SqlStore>, opts: ServeOptions) {
    let mut state = AppState::new(store.clone(), opts.public_url).await.unwrap_or_else(|e| fail(describe(e)));
    if !opts.emulator && demo::holds_published_key(&state.authority) {
        fail(
            "this database holds the emulator's published signing key, so anyone can mint tokens for it; \
             run `rolo keys rotate` on it (with the same --database) to generate a new key, or serve it with --emulator",
        );
    }
    // Receivers on public addresses over https only, unless configured; the emulator also
    // reaches loopback, where a developer's receiver runs.
    let mut policy = if opts.emulator {
        rolo_server::outbound::OutboundPolicy::loopback()
    } else {
        rolo_server::outbound::OutboundPolicy::default()
    };
    if let Some(hosts) = opts.webhook_http_hosts {
        policy.http_hosts = hosts;
    }
    if let Some(nets) = opts.webhook_private_networks {
        policy.private_networks = rolo_server::outbound::parse_networks(&nets)
            .unwrap_or_else(|e| fail(format!("webhook_private_networks: {e}")));
    }
    state.webhooks.policy = policy;
    let doors = opts.emulator_doors;
    state.admin = rolo_server::admin::AdminSettings {
        hosts: doors.admin_hosts,
        origins: doors.admin_origins,
        snapshot_dir: doors.snapshot_dir,
    };
    // One Redis connection for the fleet's shared counts: throttling's and the sign-in lockout's.
    let redis = match &opts.throttling_redis {
        Some(url) => Some(rolo_server::throttle::RedisCounts::connect(url).await.unwrap_or_else(|e| fail(e))),
        None => None,
    };
    // Without Redis, a PostgreSQL fleet counts failed sign-ins in its database, so N processes
    // allow the guesses of one, not N times them.
    let lockout = rolo_server::lockout::Lockout::new(rolo_server::lockout::LockoutSettings::default());
    state.lockout = match &redis {
        Some(counts) => lockout.with_redis(counts.connection()),
        None if store.shared_by_processes() => lockout.with_database(store.clone()),
        None => lockout,
    };
    tracing::debug!(counted_in = state.lockout.counted_in(), "failed sign-ins");
    if let Some(t) = opts.throttling {
        let mut throttle = rolo_server::throttle::Throttle::new(t);
        if let Some(counts) = redis {
            throttle = throttle.with_redis(counts);
        } else if store.shared_by_processes() {
            // Without Redis, a PostgreSQL fleet counts in its database, so N processes hold one
            // limit, not N.
            throttle = throttle.with_database(store.clone());
        }
        tracing::debug!(counted_in = throttle.counted_in(), "throttling request counts");
        state.throttle = Arc::new(throttle);
    }
    state.emulator = opts.emulator;
    if let Some(name) = opts.organization_name {
        state.organization_name = name;
    }
    state.oidc = rolo_server::oidc::ExternalIssuers::new(opts.oidc);
    state.shutdown = rolo_server::shutdown::Shutdown::new(opts.shutdown);
    if opts.metrics_listen.is_some() {
        state.metrics = Some(Arc::default());
    }
    let state = Arc::new(state);
    if let Some(listen) = &opts.metrics_listen {
        ops::serve_metrics(listen, state.clone()).await;
    }
    let banner = opts.banner;
    // A bad certificate or key stops the start, before the port is taken.
    let tls = opts.tls.map(|pem| rolo_server::tls::server_config(&pem.cert, &pem.key).unwrap_or_else(|e| fail(e)));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener =
        tokio::net::TcpListener::bind(listen).await.unwrap_or_else(|e| fail(format!("cannot listen on {listen}: {e}")));
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.to_owned());
    tracing::info!(%addr, "Rolo is serving Microsoft Graph at {scheme}://{addr}/v1.0");
    if let Some(b) = banner {
        // With port 0 the banner names the port actually bound.
        // A closed stdout (a reader that went away) must not take the server down.
        use std::io::Write;
        let text = b.replace(&format!("{scheme}://{listen}/"), &format!("{scheme}://{addr}/"));
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
    let served = match tls {
        Some(config) => rolo_server::tls::serve(listener, state, config, shutdown_signal()).await,
        None => rolo_server::serve(listener, state, shutdown_signal()).await,
    };
    if let Err(e) = served {
        fail(e);
    }
}

/// glibc gives every thread that allocates its own malloc arena and keeps freed memory in it, so
/// a server whose requests hop between worker and blocking threads holds several copies of its
/// largest transient buffers (a 16 MB page, a 4 MB body parsed twice). Two arenas keep the
/// resident size close to what is live, for a small cost in allocator contention.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() {
    limit_malloc_arenas();
    ops::init_logging();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap_or_else(|e| fail(e));
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { listen, db, database_replicas, config, emulator, seed, tls } => {
                let explicit_db = db.database.clone();
                let cfg = Config::load(config.as_deref(), listen, db, database_replicas).unwrap_or_else(|e| fail(e));
                let opts = ServeOptions {
                    public_url: cfg.public_url.clone(),
                    organization_name: cfg.organization_name.clone(),
                    webhook_http_hosts: cfg.webhook_http_hosts.clone(),
                    webhook_private_networks: cfg.webhook_private_networks.clone(),
                    emulator_doors: cfg.emulator.clone(),
                    throttling: Some(cfg.throttling.clone()),
                    throttling_redis: cfg.throttling_redis.clone(),
                    emulator,
                    oidc: cfg.oidc.clone(),
                    banner: None,
                    metrics_listen: cfg.metrics_listen.clone(),
                    shutdown: cfg.shutdown,
                    tls: match (&tls.tls_cert, &tls.tls_key, &cfg.tls_files) {
                        (Some(cert), Some(key), _) | (_, _, Some((cert, key))) if !tls.tls => {
                            Some(tls::read_files(cert, key).unwrap_or_else(|e| fail(e)))
                        }
                        _ => None,
                    },
                };
                if emulator {
                    let local_ca = tls.tls.then_some(tls.tls_dir);
                    let emu = demo::Emulator {
                        listen: cfg.listen.clone(),
                        database: explicit_db,
                        seed,
                        serve: opts,
                        local_ca,
                    };
                    demo::run(emu).await;
                } else {
                    let store = Arc::new(cfg.open_store().await.unwrap_or_else(|e| fail(describe(e))));
                    rolo_server::spawn_compaction(store.clone(), cfg.delta_retention_days);
                    run_server(&cfg.listen, store, opts).await;
                }
            }
            Command::Users { command: UsersCommand::Grant { owner, to, role, db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                sharing::grant(&store, &owner, &to, &role).await.unwrap_or_else(|e| fail(e));
            }
            Command::Import { upn, file, manifest, folder, format, bulk, db } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                let done = match (manifest, upn, file) {
                    (Some(manifest), _, _) => {
                        organisation::import_manifest(&store, &manifest, folder.as_deref(), format.as_deref()).await
                    }
                    (None, Some(upn), Some(file)) => {
                        files::import(&store, &upn, &file, folder.as_deref(), format.as_deref(), bulk).await
                    }
                    _ => Err("give a user and a file, or --manifest".into()),
                };
                done.unwrap_or_else(|e| fail(e));
            }
            Command::Export { upn, folder, format, output, db } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                files::export(&store, &upn, folder.as_deref(), &format, output.as_deref())
                    .await
                    .unwrap_or_else(|e| fail(e));
            }
            Command::Groups { command: GroupsCommand::Add { name, mail, members, description, visibility, db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                groups::add(&store, &name, &mail, &members, description, visibility).await.unwrap_or_else(|e| fail(e));
            }
            Command::Groups { command: GroupsCommand::List { db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                groups::list(&store).await.unwrap_or_else(|e| fail(e));
            }
            Command::Share { owner, folder, with, role, db } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                sharing::share(&store, &owner, &folder, &with, &role).await.unwrap_or_else(|e| fail(e));
            }
            Command::Apps { command: AppsCommand::Restrict { app, to, remove, db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                sharing::restrict(&store, &app, &to, remove).await.unwrap_or_else(|e| fail(e));
            }
            Command::Users { command: UsersCommand::Add { from: Some(from), db, .. } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                organisation::add_users(&store, &from).await.unwrap_or_else(|e| fail(e));
            }
            Command::Users { command: UsersCommand::Add { upn, display_name, password, shared, archive, db, .. } } => {
                if password.as_deref() == Some("") {
                    fail("the password must not be empty");
                }
                let (Some(upn), Some(display_name)) = (upn, display_name) else {
                    fail("give a user principal name and --display-name, or --from")
                };
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                let user = store.create_user(&upn, &display_name).await.unwrap_or_else(|e| fail(describe(e)));
                if shared {
                    store.mark_shared_mailbox(&user.id).await.unwrap_or_else(|e| fail(describe(e)));
                }
                if archive {
                    store
                        .set_mailbox_kind(&user.id, rolo_store::MailboxKind::Archive)
                        .await
                        .unwrap_or_else(|e| fail(describe(e)));
                }
                if let Some(password) = password {
                    rolo_server::identity::set_password(&store, &user, &password)
                        .await
                        .unwrap_or_else(|e| fail(describe(e)));
                }
                println!("{}\t{}\t{}", user.id, user.user_principal_name, user.display_name);
            }
            Command::Users { command: UsersCommand::Disable { upn, db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                lifecycle::set_disabled(&store, &upn, true).await.unwrap_or_else(|e| fail(e));
            }
            Command::Users { command: UsersCommand::Enable { upn, db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                lifecycle::set_disabled(&store, &upn, false).await.unwrap_or_else(|e| fail(e));
            }
            Command::Users { command: UsersCommand::Remove { upn, yes, db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                lifecycle::remove(&store, &upn, yes).await.unwrap_or_else(|e| fail(e));
            }
            Command::Users { command: UsersCommand::AppPassword { command } } => match command {
                AppPasswordCommand::Add { upn, name, db } => {
                    let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                    let user = find_user(&store, &upn).await;
                    let password = rolo_server::dav::auth::add_app_password(&store, &user, &name)
                        .await
                        .unwrap_or_else(|e| fail(describe(e)));
                    eprintln!(
                        "The app password is shown only now; use it with {} in the CardDAV client.",
                        user.user_principal_name
                    );
                    println!("{password}");
                }
                AppPasswordCommand::List { upn, db } => {
                    let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                    let user = find_user(&store, &upn).await;
                    for p in store.app_passwords(&user.id).await.unwrap_or_else(|e| fail(describe(e))) {
                        println!("{}\t{}", p.name, p.created_at);
                    }
                }
                AppPasswordCommand::Remove { upn, name, db } => {
                    let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                    let user = find_user(&store, &upn).await;
                    if !store.remove_app_password(&user.id, &name).await.unwrap_or_else(|e| fail(describe(e))) {
                        fail(format!("{upn} has no app password named '{name}'"));
                    }
                    println!("{name}\trevoked");
                }
            },
            Command::Users { command: UsersCommand::Passwd { upn, password, db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                let user = store
                    .find_user(&upn)
                    .await
                    .unwrap_or_else(|e| fail(describe(e)))
                    .unwrap_or_else(|| fail(format!("no such user: {upn}")));
                if store.is_shared_mailbox(&user.id).await.unwrap_or_else(|e| fail(describe(e))) {
                    fail(format!("{upn} is a shared mailbox: nobody signs in as it"));
                }
                rolo_server::identity::set_password(&store, &user, &password)
                    .await
                    .unwrap_or_else(|e| fail(describe(e)));
                println!("{}\t{}\tpassword set", user.id, user.user_principal_name);
            }
            Command::Apps { command: AppsCommand::Add { name, roles, public, redirect_uris, certificate, db } } => {
                let certificate = certificate.map(|path| {
                    std::fs::read_to_string(&path)
                        .unwrap_or_else(|e| fail(format!("cannot read the certificate {}: {e}", path.display())))
                });
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                let reg = rolo_server::identity::AppRegistration {
                    name,
                    roles: roles.split_whitespace().map(str::to_owned).collect(),
                    public,
                    redirect_uris,
                    certificate,
                };
                let (app, secret) =
                    rolo_server::identity::register(&store, &reg).await.unwrap_or_else(|e| fail(describe(e)));
                match secret {
                    None => println!("{}\tpublic client", app.client_id),
                    Some(secret) => {
                        eprintln!("The client secret is shown only now; keep it.");
                        println!("{}\t{secret}", app.client_id);
                    }
                }
            }
            Command::Apps { command: AppsCommand::Grant { app, scopes, user, db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                let grant = apps::grant(&store, &app, &scopes, user.as_deref()).await.unwrap_or_else(|e| fail(e));
                println!(
                    "{}	{}	{}",
                    grant.id,
                    grant.principal.as_deref().unwrap_or("AllPrincipals"),
                    grant.scopes.join(" ")
                );
            }
            Command::Apps { command: AppsCommand::Revoke { app, user, db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                apps::revoke(&store, &app, user.as_deref()).await.unwrap_or_else(|e| fail(e));
                println!("{app}	consent withdrawn");
            }
            Command::Apps { command: AppsCommand::List { db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                let grants = store.list_grants().await.unwrap_or_else(|e| fail(describe(e)));
                for app in store.list_apps().await.unwrap_or_else(|e| fail(describe(e))) {
                    let kind = if app.public_client { "public" } else { "confidential" };
                    let consented: Vec<String> = grants
                        .iter()
                        .filter(|g| g.client_id.eq_ignore_ascii_case(&app.client_id))
                        .map(|g| format!("{}={}", g.principal.as_deref().unwrap_or("all"), g.scopes.join(",")))
                        .collect();
                    println!(
                        "{}\t{}\t{kind}\troles: {}\tconsent: {}",
                        app.client_id,
                        app.display_name,
                        app.roles.join(" "),
                        consented.join(" ")
                    );
                }
            }
            Command::Users { command: UsersCommand::List { db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                let users = store.list_users().await.unwrap_or_else(|e| fail(describe(e)));
                for user in users.into_iter().filter(|u| u.kind != rolo_store::MailboxKind::Group) {
                    let state = if user.disabled { "\tdisabled" } else { "" };
                    println!("{}\t{}\t{}{state}", user.id, user.user_principal_name, user.display_name);
                }
            }
            Command::Token { upn, scopes, ttl, db } => {
                let ttl =
                    parse_ttl(&ttl).unwrap_or_else(|| fail(format!("bad --ttl '{ttl}': use e.g. 3600, 30m, 1h, 7d")));
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                let user = store
                    .find_user(&upn)
                    .await
                    .unwrap_or_else(|e| fail(describe(e)))
                    .unwrap_or_else(|| fail(format!("no such user: {upn} (add it with `rolo users add`)")));
                if store.is_shared_mailbox(&user.id).await.unwrap_or_else(|e| fail(describe(e))) {
                    fail(format!("{upn} is a shared mailbox: nobody signs in as it (grant members access instead)"));
                }
                if user.disabled {
                    fail(format!("{upn} is disabled: enable it first (`rolo users enable`)"));
                }
                let authority = rolo_server::auth::Authority::load(&store).await.unwrap_or_else(|e| fail(describe(e)));
                let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
                let token = authority.issue_delegated(&user, &scopes, ttl).unwrap_or_else(|e| fail(describe(e)));
                println!("{token}");
            }
            Command::Keys { command: KeysCommand::Rotate { db } } => {
                let store = db.open().await.unwrap_or_else(|e| fail(describe(e)));
                let kid = rolo_server::auth::rotate_signing_key(&store).await.unwrap_or_else(|e| fail(describe(e)));
                eprintln!("New signing key; running servers take it within a second, and tokens signed with the old one stop working.");
                println!("{kid}");
            }
            Command::Backup { to, db } => {
                ops::backup(db.database.as_deref().unwrap_or(config::DEFAULT_DATABASE), &to).unwrap_or_else(|e| fail(e))
            }
            Command::Restore { from, db } => {
                ops::restore(db.database.as_deref().unwrap_or(config::DEFAULT_DATABASE), &from)
                    .unwrap_or_else(|e| fail(e))
            }
            Command::Demo { listen, tls, tls_dir } => {
                let local_ca = tls.then_some(tls_dir);
                let emu =
                    demo::Emulator { listen, database: None, seed: None, serve: ServeOptions::default(), local_ca };
                demo::run(emu).await
            }
        }
    });
    // Background tasks (pool connections) must not hold the process open after shutdown.
    runtime.shutdown_timeout(Duration::from_secs(2));
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("3600"), Some(3600));
        assert_eq!(parse_ttl("30m"), Some(1800));
        assert_eq!(parse_ttl("1h"), Some(3600));
        assert_eq!(parse_ttl("2d"), Some(172800));
        assert_eq!(parse_ttl("1y"), None);
        assert_eq!(parse_ttl("0"), None);
    }
}
