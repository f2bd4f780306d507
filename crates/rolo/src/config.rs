//! Configuration: command-line flags, then environment variables, then an optional TOML file,
//! then defaults (127.0.0.1:8080 and an embedded SQLite file under ./rolo-data/).

use std::path::Path;

use clap::Args;
use rolo_domain::GraphResult;
use rolo_server::oidc::OidcIssuer;
use rolo_server::shutdown::ShutdownSettings;
use rolo_server::throttle::ThrottleSettings;
use rolo_store::{OpenOptions, SqlStore};
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "./rolo-data/rolo.db";

#[derive(Args, Debug, Clone, Default)]
pub struct DatabaseArgs {
    /// A SQLite file path or `sqlite:` URL, or a `postgres://` URL
    #[arg(long, env = "ROLO_DATABASE")]
    pub database: Option<String>,
}

impl DatabaseArgs {
    pub async fn open(&self) -> GraphResult<SqlStore> {
        rolo_store::open(self.database.as_deref().unwrap_or(DEFAULT_DATABASE), &OpenOptions::default()).await
    }
}

/// The TOML file's shape; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database: Option<String>,
    /// PostgreSQL hot standbys of `database` that serve mailbox reads
    database_replicas: Option<Vec<String>>,
    public_url: Option<String>,
    /// The tenant's name, as `GET /organization` reports it (default: Rolo)
    organization_name: Option<String>,
    /// `normal` (survives a crash or kill -9) or `full` (also survives power loss)
    durability: Option<String>,
    max_connections: Option<usize>,
    /// How long removals stay in the change log for delta rounds
    delta_retention_days: Option<u32>,
    /// Hosts notifications may be sent to over plain http (default: none; the emulator: loopback)
    webhook_http_hosts: Option<Vec<String>>,
    /// Non-public networks (CIDR or single addresses) receivers may be on anyway (default: none;
    /// the emulator: loopback)
    webhook_private_networks: Option<Vec<String>>,
    /// `[emulator]`: who may reach `/rolo/admin` and where snapshots go
    emulator: Option<EmulatorConfig>,
    throttling: Option<ThrottlingConfig>,
    /// `[metrics]`: where Prometheus metrics are served (off when absent)
    metrics: Option<MetricsConfig>,
    /// `[shutdown]`: how a stopping process drains
    shutdown: Option<ShutdownConfig>,
    /// External OpenID Connect issuers whose access tokens are accepted (`[[oidc]]` tables)
    #[serde(default)]
    oidc: Vec<OidcIssuer>,
    /// Serve https with this PEM certificate chain and key (both or neither)
    tls_cert: Option<std::path::PathBuf>,
    tls_key: Option<std::path::PathBuf>,
}

/// `[emulator]`: the admin controls' doors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Host names answered besides loopback ones
    #[serde(default)]
    pub admin_hosts: Vec<String>,
    /// Origins whose pages may call the controls
    #[serde(default)]
    pub admin_origins: Vec<String>,
    /// Where snapshots are written and restored from (default: the SQLite database's directory)
    pub snapshot_dir: Option<std::path::PathBuf>,
}

/// `[throttling]`: Outlook's per (app, mailbox) limits, or `enabled = false`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottlingConfig {
    enabled: Option<bool>,
    concurrent_requests: Option<usize>,
    requests_per_10_minutes: Option<u64>,
    upload_mb_per_5_minutes: Option<u64>,
    /// `redis://host:port`: request counts shared by every process using this Redis
    redis: Option<String>,
}

/// `[metrics]`: `listen = "127.0.0.1:9187"` serves `GET /metrics` there.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsConfig {
    listen: Option<String>,
}

/// `[shutdown]`: how long a stopping process stays up unready, and how long work may finish.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShutdownConfig {
    drain_delay_seconds: Option<f64>,
    grace_seconds: Option<f64>,
}

fn shutdown(c: ShutdownConfig) -> Result<ShutdownSettings, String> {
    let d = ShutdownSettings::default();
    let secs = |v: Option<f64>, default: std::time::Duration, name: &str| match v {
        None => Ok(default),
        Some(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => Ok(std::time::Duration::from_secs_f64(s)),
        Some(s) => Err(format!("[shutdown] {name} must be between 0 and 3600 seconds, not {s}")),
    };
    Ok(ShutdownSettings {
        drain_delay: secs(c.drain_delay_seconds, d.drain_delay, "drain_delay_seconds")?,
        grace: secs(c.grace_seconds, d.grace, "grace_seconds")?,
    })
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub database: String,
    pub public_url: Option<String>,
    pub organization_name: Option<String>,
    pub options: OpenOptions,
    pub delta_retention_days: u32,
    pub webhook_http_hosts: Option<Vec<String>>,
    pub webhook_private_networks: Option<Vec<String>>,
    pub emulator: EmulatorConfig,
    pub throttling: ThrottleSettings,
    /// Request counts in Redis (`ROLO_THROTTLING_REDIS`, then `[throttling] redis`); none: here.
    pub throttling_redis: Option<String>,
    /// Where `GET /metrics` is served (`ROLO_METRICS_LISTEN`, then `[metrics] listen`); none: off.
    pub metrics_listen: Option<String>,
    pub shutdown: ShutdownSettings,
    pub oidc: Vec<OidcIssuer>,
    /// The https certificate chain and key files (`--tls-cert`/`--tls-key` override them).
    pub tls_files: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// The throttling settings: the TOML table over the defaults, then `ROLO_THROTTLING=off|on`.
fn throttling(t: ThrottlingConfig, env: Option<String>) -> Result<ThrottleSettings, String> {
    let d = ThrottleSettings::default();
    let mut s = ThrottleSettings {
        enabled: t.enabled.unwrap_or(d.enabled),
        concurrent: t.concurrent_requests.unwrap_or(d.concurrent),
        requests: t.requests_per_10_minutes.unwrap_or(d.requests),
        upload_bytes: t.upload_mb_per_5_minutes.map_or(d.upload_bytes, |mb| mb * 1024 * 1024),
        ..d
    };
    match env.as_deref() {
        None | Some("") => {}
        Some("off") | Some("false") | Some("0") => s.enabled = false,
        Some("on") | Some("true") | Some("1") => s.enabled = true,
        Some(other) => return Err(format!("ROLO_THROTTLING must be 'on' or 'off', not '{other}'")),
    }
    if s.concurrent == 0 || s.requests == 0 {
        return Err("throttling limits must be positive".into());
    }
    Ok(s)
}

impl Config {
    /// `replicas` come from `--database-replica` or `ROLO_DATABASE_REPLICA`; when none are given
    /// there, the file's `database_replicas` apply.
    pub fn load(
        file: Option<&Path>,
        listen: Option<String>,
        db: DatabaseArgs,
        replicas: Vec<String>,
    ) -> Result<Config, String> {
        let fc: FileConfig = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("bad config {}: {e}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let full_sync = match fc.durability.as_deref() {
            None | Some("normal") => false,
            Some("full") => true,
            Some(other) => return Err(format!("durability must be 'normal' or 'full', not '{other}'")),
        };
        let tls_files = match (fc.tls_cert, fc.tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("tls_cert and tls_key go together: give both or neither".into()),
        };
        Ok(Config {
            listen: listen.or(fc.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            database: db.database.or(fc.database).unwrap_or_else(|| DEFAULT_DATABASE.to_owned()),
            public_url: fc.public_url,
            organization_name: fc.organization_name,
            options: OpenOptions {
                max_connections: fc.max_connections.unwrap_or(16),
                full_sync,
                replicas: if replicas.is_empty() { fc.database_replicas.unwrap_or_default() } else { replicas },
            },
            delta_retention_days: fc.delta_retention_days.unwrap_or(30),
            webhook_http_hosts: fc.webhook_http_hosts,
            webhook_private_networks: fc.webhook_private_networks,
            emulator: fc.emulator.unwrap_or_default(),
            throttling_redis: std::env::var("ROLO_THROTTLING_REDIS")
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| fc.throttling.as_ref().and_then(|t| t.redis.clone())),
            throttling: throttling(fc.throttling.unwrap_or_default(), std::env::var("ROLO_THROTTLING").ok())?,
            metrics_listen: std::env::var("ROLO_METRICS_LISTEN")
                .ok()
                .filter(|v| !v.is_empty())
                .or(fc.metrics.and_then(|m| m.listen)),
            shutdown: shutdown(fc.shutdown.unwrap_or_default())?,
            oidc: fc.oidc,
            tls_files,
        })
    }

    pub async fn open_store(&self) -> GraphResult<SqlStore> {
        rolo_store::open(&self.database, &self.options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--database-replica` (or its environment variable) wins over the file's list, as
    /// `--database` wins over `database`.
    #[test]
    fn replicas_from_flags_then_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rolo.toml");
        std::fs::write(
            &file,
            "database = \"postgres://p/rolo\"\ndatabase_replicas = [\"postgres://s1/rolo\", \"postgres://s2/rolo\"]\n",
        )
        .unwrap();
        let from_file = Config::load(Some(&file), None, DatabaseArgs::default(), Vec::new()).unwrap();
        assert_eq!(from_file.options.replicas, ["postgres://s1/rolo", "postgres://s2/rolo"]);
        let flags = vec!["postgres://s3/rolo".to_owned()];
        let from_flags = Config::load(Some(&file), None, DatabaseArgs::default(), flags).unwrap();
        assert_eq!(from_flags.options.replicas, ["postgres://s3/rolo"]);
        assert!(Config::load(None, None, DatabaseArgs::default(), Vec::new()).unwrap().options.replicas.is_empty());
    }
}
