//! Rolo People, the web app at `/`, in a real browser on SQLite and PostgreSQL: Playwright
//! (`playwright-core` from npm, pinned in `clients/web`) drives Debian's Chromium headless through
//! `clients/web/people.test.mjs`, which signs in through the authorization endpoint and runs every
//! scenario (create, edit, a stale edit's conflict, search, drag to a folder, category, flag,
//! favourite, photo, vCard import, delete and undo, delta, a delegated mailbox read-only, sign
//! out, an administrator creating a user who then signs in, shared mailboxes and their members,
//! delegates, apps and consent, app passwords, a mailbox shared folder by folder, "Frequently
//! contacted") with an axe-core scan of each screen. Needs Node.js, `npm ci` in clients/web (run here
//! when node_modules is missing) and Chromium (`apt-get install -y chromium`).
//!
//! `ROLO_UPDATE_SCREENSHOTS=1` writes the screenshots to docs/screenshots/ (else a temp directory).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

use crate::common::TestServer;
use crate::js_client::{check_tools, run, show};

const BROWSER_TIMEOUT: Duration = Duration::from_secs(240);
const NPM_TIMEOUT: Duration = Duration::from_secs(300);
static NPM_INSTALL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/web")
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "Chromium is not installed at {}: the web app's browser tests need it. Install it with \
         `apt-get install -y --no-install-recommends chromium` (or set CHROMIUM to a Chromium binary)",
        path.display()
    );
    path
}

async fn ensure_packages(dir: &Path) {
    let _guard = NPM_INSTALL.lock().await;
    let ready =
        ["playwright-core", "axe-core"].iter().all(|p| dir.join("node_modules").join(p).join("package.json").exists());
    if ready {
        return;
    }
    let mut npm = Command::new("npm");
    // Playwright must never download a browser: the tests use the system's Chromium.
    npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir).env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    let out = run(npm, "npm ci (in clients/web)", NPM_TIMEOUT).await;
    assert!(out.status.success(), "npm ci failed in {}\n{}", dir.display(), show(&out));
}

/// A message the user sent to `to` on the `day`th of November.
fn sent(to: &str, day: u32) -> serde_json::Value {
    json!({"parentFolderId": "sentitems", "subject": format!("Note {day}"), "sentDateTime": format!("2026-11-{day:02}T10:00:00Z"),
           "toRecipients": [{"emailAddress": {"address": to}}]})
}

async fn people_in_the_browser(s: TestServer) {
    let browser = chromium();
    let dir = web_dir();
    check_tools().await;
    ensure_packages(&dir).await;

    // Ada before Grace: a delegate must exist when the grant is seeded.
    let doc = json!({"users": [
        {"userPrincipalName": "ada@contoso.test", "displayName": "Ada User", "password": "correct horse battery",
         "categories": [{"displayName": "Blue team", "color": "preset7"}],
         "contacts": [
            {"givenName": "Ada", "surname": "Lovelace", "emailAddresses": [{"address": "ada@engine.test"}], "companyName": "Analytical"},
            {"givenName": "Charles", "surname": "Babbage", "businessPhones": ["+44 20 7946 0000"]},
            {"givenName": "Charlie", "surname": "Babbage", "mobilePhone": "+44 (20) 7946-0000", "jobTitle": "Inventor"},
            {"givenName": "Mary", "surname": "Somerville", "jobTitle": "Scientist", "emailAddresses": [{"address": "mary@science.test"}]}],
         "contactFolders": [{"displayName": "Work", "contacts": []}, {"displayName": "Clients", "contacts": []}],
         // Mail for the People API's ranking ("Frequently contacted"): Mary most, then Ada.
         "messages": [sent("mary@science.test", 1), sent("mary@science.test", 2), sent("mary@science.test", 3),
                      sent("ada@engine.test", 4), sent("grace@navy.test", 1)]},
        {"userPrincipalName": "grace@contoso.test", "displayName": "Grace Owner", "password": "owner pw",
         "contacts": [{"givenName": "Grace", "surname": "Hopper", "emailAddresses": [{"address": "grace@navy.test"}]}],
         "delegates": [{"userPrincipalName": "ada@contoso.test", "role": "read"}]},
        {"userPrincipalName": "lin@contoso.test", "displayName": "Lin Folder", "password": "lin pw",
         "contactFolders": [{"displayName": "Team", "contacts": [{"givenName": "Tess", "surname": "Team"}]},
                            {"displayName": "Private", "contacts": [{"givenName": "Pat", "surname": "Private"}]}]}
    ]});
    rolo_server::seed::seed(s.store.as_ref(), &doc).await.expect("seed");
    // Ada administers the directory and the apps: an admin's consent for the web app, for her.
    let ada = s.store.find_user("ada@contoso.test").await.expect("find").expect("ada");
    let admin_scopes = ["User.ReadWrite.All", "Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"];
    s.store
        .grant_scopes(
            rolo_server::webapp::WEBAPP_CLIENT_ID,
            Some(&ada.id),
            "00000003-0000-0000-c000-000000000000",
            &admin_scopes.map(str::to_owned),
        )
        .await
        .expect("grant");
    // Lin shares one folder (Team, read-only) with Ada, and nothing else of her mailbox.
    let lin = s.store.find_user("lin@contoso.test").await.expect("find").expect("lin");
    let team = s
        .store
        .list_folders(
            &lin.mailbox,
            &lin.mailbox.default_folder_id,
            &rolo_store::ListQuery { page_size: 100, ..Default::default() },
        )
        .await
        .expect("folders")
        .items
        .into_iter()
        .find(|f| f.display_name == "Team")
        .expect("Team");
    s.store.add_folder_permission(&lin.mailbox, &team.id, &ada, rolo_domain::Grant::Read).await.expect("share");
    rolo_server::identity::register_public_app(s.store.as_ref(), "Phone Book").await.expect("app");

    let origin = s.base.strip_suffix("/v1.0").expect("base ends in /v1.0").to_owned();
    let shots = match std::env::var_os("ROLO_UPDATE_SCREENSHOTS") {
        Some(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots"),
        None => std::env::temp_dir().join(format!("rolo-people-shots-{}", std::process::id())),
    };
    let mut node = Command::new("node");
    node.arg("people.test.mjs")
        .current_dir(&dir)
        .env("ROLO_ORIGIN", &origin)
        .env("ROLO_USER", "ada@contoso.test")
        .env("ROLO_PASSWORD", "correct horse battery")
        .env("ROLO_OWNER", "grace@contoso.test")
        .env("ROLO_SCREENSHOTS", &shots)
        .env("CHROMIUM", &browser)
        .env_remove("NODE_OPTIONS");
    let out = run(node, "node people.test.mjs (in clients/web)", BROWSER_TIMEOUT).await;
    assert!(out.status.success(), "the web app's browser tests failed against {origin}\n{}", show(&out));
}

/// 50,000 contacts whose names start with every letter (and some with a digit), in vCard.
fn many_cards(n: usize) -> String {
    const GIVEN: [&str; 13] =
        ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Mo"];
    const SURNAMES: [&str; 14] =
        ["Nash", "Ode", "Pike", "Quinn", "Roe", "Sato", "Tran", "Ueda", "Vos", "Wu", "Xu", "Yates", "Zorn", "Abbot"];
    let mut out = String::with_capacity(n * 110);
    for i in 0..n {
        // Given names carry the first half of the alphabet, surnames the second; a number
        // prefix on a few lands in "#".
        let given = GIVEN[i % GIVEN.len()];
        let first = if i % 2 == 0 {
            format!("{given}{i}")
        } else {
            format!("{}{i} {given}", SURNAMES[(i / 2) % SURNAMES.len()])
        };
        let last = SURNAMES[(i / 7) % SURNAMES.len()];
        let first = if i % 997 == 0 { format!("{} {first}", i % 10) } else { first };
        out.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:scale-{i}\r\nN:{last};{first};;;\r\nFN:{first} {last}\r\nEND:VCARD\r\n"
        ));
    }
    out
}

/// The list at 50,000 contacts (`clients/web/scale.test.mjs`): seeded through the bulk import
/// (`rolo import --bulk`), loaded by the app's mailbox-wide delta, then scrolled from
/// top to bottom and alphabet-jumped while the page holds a bounded number of row elements.
async fn people_at_fifty_thousand(s: TestServer) {
    const CONTACTS: usize = 50_000;
    let browser = chromium();
    let dir = web_dir();
    check_tools().await;
    ensure_packages(&dir).await;
    let doc = json!({"users": [{"userPrincipalName": "many@contoso.test", "displayName": "Many Contacts", "password": "fifty thousand"}]});
    rolo_server::seed::seed(s.store.as_ref(), &doc).await.expect("seed");
    let many = s.store.find_user("many@contoso.test").await.expect("find").expect("many");
    let started = std::time::Instant::now();
    let summary = rolo_server::vcard::import_text(
        s.store.as_ref(),
        &many.mailbox,
        &many.mailbox.default_folder_id,
        &many_cards(CONTACTS),
        rolo_domain::vcard::Format::VCard,
        rolo_server::vcard::BULK_BATCH,
        // The bulk path (`rolo import --bulk`): nothing else writes to this mailbox yet.
        true,
        &mut |_, _| {},
    )
    .await
    .expect("import");
    assert_eq!((summary.imported, summary.skipped.len()), (CONTACTS, 0));
    eprintln!("seeded {CONTACTS} contacts in {:?}", started.elapsed());
    let origin = s.base.strip_suffix("/v1.0").expect("base ends in /v1.0").to_owned();
    let mut node = Command::new("node");
    node.arg("scale.test.mjs")
        .current_dir(&dir)
        .env("ROLO_ORIGIN", &origin)
        .env("ROLO_USER", "many@contoso.test")
        .env("ROLO_PASSWORD", "fifty thousand")
        .env("ROLO_CONTACTS", CONTACTS.to_string())
        .env("CHROMIUM", &browser)
        .env_remove("NODE_OPTIONS");
    let out = run(node, "node scale.test.mjs (in clients/web)", BROWSER_TIMEOUT).await;
    assert!(out.status.success(), "the list at {CONTACTS} contacts failed against {origin}\n{}", show(&out));
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
}

both_backends!(people_in_the_browser);

/// On SQLite only: the list's smoothness is the browser's and the app's work, the same on either
/// database (both load it through the same delta pages), and seeding 50,000 contacts into
/// PostgreSQL takes two minutes of a CI run on two cores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_at_fifty_thousand_on_sqlite() {
    people_at_fifty_thousand(TestServer::start(crate::common::Backend::Sqlite).await).await;
}
