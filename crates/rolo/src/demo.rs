//! The emulator (`rolo serve --emulator`, and `rolo demo`): a well-known tenant and signing key,
//! a well-known seeded data set, ready-made tokens, and the `/rolo/admin` controls (reset, seed,
//! snapshot, restore, fidelity switches). Meant for development and tests, never for real data:
//! anyone can read the well-known key from this file and mint tokens.

use std::path::PathBuf;
use std::sync::Arc;

use rolo_store::prelude::*;
use rolo_store::OpenOptions;

/// The emulator's tenant id, the same on every machine.
pub const WELL_KNOWN_TENANT: &str = "18e8d587-a18f-4a28-8bfe-f105148fd0de";
/// Its ES256 signing key (PKCS#8, base64): public on purpose, so tokens are reproducible.
const WELL_KNOWN_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcj/22IuVBvZedy/45fvwMcxVLNbeRtCgH4jejr8ESIKhRANCAAR5n4wp6X6Vm8YCobkZag6BFIuMb2xjku7nYFGYbHVKimHgVMMlROHWZ1uJT+r+5J+GEZOuatjQa6sz4mWgfdaV";
/// Enough for every emulated path: contacts, master categories and the user's own photo.
const TOKEN_SCOPES: [&str; 3] = ["Contacts.ReadWrite", "MailboxSettings.ReadWrite", "User.ReadWrite"];

/// Whether an installation signs with the published key above (a database the emulator made):
/// then anyone can mint its tokens, and only the emulator may serve it.
pub fn holds_published_key(authority: &rolo_server::auth::Authority) -> bool {
    rolo_server::auth::key_id_of(WELL_KNOWN_KEY).is_ok_and(|kid| kid == authority.key_id())
}

/// The directory snapshots go to by default: the SQLite database's own.
fn data_directory(database: &str) -> Option<PathBuf> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return None;
    }
    let path = database.strip_prefix("sqlite://").or_else(|| database.strip_prefix("sqlite:")).unwrap_or(database);
    let parent = std::path::Path::new(path).parent()?;
    Some(if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent.to_path_buf() })
}

fn fail(e: rolo_domain::GraphError) -> ! {
    eprintln!("rolo emulator: {}", e.cause.unwrap_or(e.message));
    std::process::exit(1)
}

/// How the emulator starts.
pub struct Emulator {
    pub listen: String,
    /// A database to keep; without one, a throwaway file removed on exit.
    pub database: Option<String>,
    /// Seed from this JSON file instead of the well-known data set.
    pub seed: Option<PathBuf>,
    pub serve: crate::ServeOptions,
    /// Serve https from the local certificate authority, kept in this directory (default: the
    /// data directory).
    pub local_ca: Option<Option<PathBuf>>,
}

pub async fn run(emu: Emulator) {
    let throwaway =
        emu.database.is_none().then(|| std::env::temp_dir().join(format!("rolo-emulator-{}", std::process::id())));
    let db = match (&emu.database, &throwaway) {
        (Some(db), _) => db.clone(),
        (None, Some(dir)) => dir.join("emulator.db").to_string_lossy().into_owned(),
        (None, None) => unreachable!("a throwaway path exists when no database is given"),
    };
    let store = rolo_store::open(&db, &OpenOptions::default()).await.unwrap_or_else(|e| fail(e));
    // The well-known identity goes in before anything reads it; an existing database keeps its own.
    store.setting_or_insert("tenant_id", WELL_KNOWN_TENANT).await.unwrap_or_else(|e| fail(e));
    store.setting_or_insert("signing_key_es256_pkcs8", WELL_KNOWN_KEY).await.unwrap_or_else(|e| fail(e));
    let mut passwords: Vec<(String, String)> = Vec::new();
    if store.list_users().await.unwrap_or_else(|e| fail(e)).is_empty() {
        let doc: serde_json::Value = match &emu.seed {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .unwrap_or_else(|e| crate::fail(format!("cannot read {}: {e}", path.display())));
                serde_json::from_str(&text)
                    .unwrap_or_else(|e| crate::fail(format!("{} is not JSON: {e}", path.display())))
            }
            None => serde_json::from_str(rolo_server::seed::CONTOSO).unwrap_or_else(|e| crate::fail(e)),
        };
        rolo_server::seed::seed(&store, &doc).await.unwrap_or_else(|e| fail(e));
        if emu.seed.is_none() {
            // The well-known users get a fresh password each new database, printed below, so the
            // web app can be signed in to at once (the emulator's key is public; its passwords are not).
            for user in store.list_users().await.unwrap_or_else(|e| fail(e)) {
                if user.kind != rolo_store::MailboxKind::User {
                    continue;
                }
                let password = demo_password();
                rolo_server::identity::set_password(&store, &user, &password).await.unwrap_or_else(|e| fail(e));
                passwords.push((user.user_principal_name.clone(), password));
            }
        }
    }

    let authority = rolo_server::auth::Authority::load(&store).await.unwrap_or_else(|e| fail(e));
    let where_db = match &throwaway {
        Some(_) => format!("throwaway database {db}, removed on exit"),
        None => format!("database {db}"),
    };
    let listen = &emu.listen;
    let mut serve = emu.serve;
    let mut tls_hint = String::new();
    let mut curl_ca = String::new();
    if let Some(dir) = emu.local_ca {
        // The CA outlives a throwaway database: it is trusted once and kept with the data.
        let dir = dir
            .or_else(|| emu.database.as_deref().and_then(data_directory))
            .unwrap_or_else(|| PathBuf::from("./rolo-data"));
        let ca = crate::tls::local_ca(&dir).unwrap_or_else(|e| crate::fail(e));
        if ca.created {
            tracing::info!(path = %ca.ca_cert_path.display(), "created the local certificate authority");
        }
        tls_hint = crate::tls::trust_hint(&ca.ca_cert_path);
        curl_ca = format!(" --cacert {}", ca.ca_cert_path.display());
        serve.tls = Some(ca.leaf);
    }
    let scheme = if serve.tls.is_some() { "https" } else { "http" };
    let mut banner = format!(
        "\nRolo emulator: Microsoft Graph contacts at {scheme}://{listen}/v1.0 ({where_db})\nTenant {WELL_KNOWN_TENANT}; admin controls at {scheme}://{listen}/rolo/admin/ (reset, seed, snapshot, restore, settings, tokens)\n{tls_hint}"
    );
    banner.push_str(&format!("\nRolo People, the contacts web app: {scheme}://{listen}/\n"));
    for (upn, password) in &passwords {
        banner.push_str(&format!("  sign in as {upn} with password {password}\n"));
    }
    if passwords.is_empty() {
        banner.push_str("  (this database's users keep the passwords set before; `rolo users passwd` changes one)\n");
    }
    let mut first_token = String::new();
    let users = store.list_users().await.unwrap_or_else(|e| fail(e));
    // Groups have mailboxes but nobody signs in as one.
    for user in users.into_iter().filter(|u| u.kind != rolo_store::MailboxKind::Group) {
        let token =
            authority.issue_delegated(&user, &TOKEN_SCOPES.map(str::to_owned), 12 * 3600).unwrap_or_else(|e| fail(e));
        banner.push_str(&format!(
            "\nToken for {} ({}, 12 h):\n{token}\n",
            user.user_principal_name,
            TOKEN_SCOPES.join(" ")
        ));
        if first_token.is_empty() {
            first_token = token;
        }
    }
    banner.push_str(&format!(
        "\nTry:\n  curl -s{curl_ca} -H 'Authorization: Bearer {first_token}' '{scheme}://{listen}/v1.0/me/contacts?$select=displayName,emailAddresses'\n"
    ));
    let store = Arc::new(store);
    let mut serve = crate::ServeOptions { banner: Some(banner), emulator: true, ..serve };
    if serve.emulator_doors.snapshot_dir.is_none() {
        serve.emulator_doors.snapshot_dir = data_directory(&db);
    }
    crate::run_server(listen, store, serve).await;
    if let Some(dir) = throwaway {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A readable random password: three groups of four base64url characters.
fn demo_password() -> String {
    let secret = rolo_server::identity::new_client_secret().unwrap_or_else(|e| fail(e));
    let chars: Vec<char> = secret.chars().filter(char::is_ascii_alphanumeric).take(12).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

#[cfg(test)]
mod tests {
    use super::data_directory;
    use std::path::PathBuf;

    #[test]
    fn snapshots_default_to_the_database_directory() {
        assert_eq!(data_directory("/var/lib/rolo/rolo.db"), Some(PathBuf::from("/var/lib/rolo")));
        assert_eq!(data_directory("sqlite:./data/e.db"), Some(PathBuf::from("./data")));
        assert_eq!(data_directory("e.db"), Some(PathBuf::from(".")));
        assert_eq!(data_directory("postgres://rolo@localhost/rolo"), None);
    }
}
