//! The emulator: `/rolo/admin` reset, seed, snapshot and restore, the fidelity switches, and
//! `rolo serve --emulator` from the command line with its well-known tenant, users and tokens.

use std::time::Duration;

use crate::common::{Backend, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

async fn admin(s: &TestServer, method: Method, action: &str, body: Option<Value>) -> crate::common::Resp {
    let url = s.base.replace("/v1.0", &format!("/rolo/admin/{action}"));
    s.send(method, &url, None, body, &[]).await
}

async fn emulator() -> TestServer {
    TestServer::start_configured(Backend::Sqlite, |st| st.emulator = true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_seed() {
    let s = emulator().await;
    let r = admin(&s, Method::POST, "reset", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["users"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["users"][0]["id"], "b5a3c1e2-6f4d-4c1a-9e2b-000000000001");
    let tokens = admin(&s, Method::GET, "tokens", None).await;
    let t = tokens.body["value"][0]["token"].as_str().unwrap().to_owned();
    let contacts = s.get("/me/contacts", &t).await;
    assert_eq!(contacts.body["value"].as_array().unwrap().len(), 3);
    s.create_contact(&t, json!({"givenName": "Temporary"})).await;
    assert_eq!(s.get("/me/contacts", &t).await.body["value"].as_array().unwrap().len(), 4);

    // Reset brings back exactly the well-known state, and the well-known user ids keep tokens valid.
    assert_eq!(admin(&s, Method::POST, "reset", None).await.status, 200);
    assert_eq!(s.get("/me/contacts", &t).await.body["value"].as_array().unwrap().len(), 3);

    // Seeding adds users, folders, contacts, categories and delegates.
    let seed = json!({"users": [
        {"userPrincipalName": "ops@fabrikam.test", "displayName": "Ops", "shared": true,
         "contacts": [{"givenName": "Vendor"}],
         "contactFolders": [{"displayName": "Suppliers", "contacts": [{"givenName": "S1"}, {"givenName": "S2"}],
                              "childFolders": [{"displayName": "Old", "contacts": [{"givenName": "S3"}]}]}],
         "categories": [{"displayName": "Urgent", "color": "preset0"}],
         "delegates": [{"userPrincipalName": "megan.bowen@contoso.com", "role": "write"}]}
    ]});
    let r = admin(&s, Method::POST, "seed", Some(seed.clone())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["folders"].as_u64(), r.body["contacts"].as_u64()), (Some(2), Some(4)));
    let delegate =
        s.token(&s.store.find_user("megan.bowen@contoso.com").await.unwrap().unwrap(), "Contacts.ReadWrite.Shared");
    let theirs = s.get("/users/ops@fabrikam.test/contacts", &delegate).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert_eq!(theirs.body["value"][0]["givenName"], "Vendor");
    admin(&s, Method::POST, "seed", Some(seed)).await.assert_error(409, "Request_BadRequest");
    admin(&s, Method::POST, "seed", Some(json!({"users": [{"displayName": "no upn"}]})))
        .await
        .assert_error(400, "BadRequest");

    // Importing history into an existing mailbox, in bulk.
    let mail: Vec<Value> = (0..2500)
        .map(|i| json!({"subject": format!("Note {i}"), "from": {"emailAddress": {"address": "pen.pal@example.com", "name": "Pen Pal"}},
                        "receivedDateTime": "2026-01-01T00:00:00Z"}))
        .collect();
    let r = admin(
        &s,
        Method::POST,
        "import",
        Some(json!({"userPrincipalName": "megan.bowen@contoso.com", "messages": mail})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"messages": 2500, "events": 0}));
    let megan = s.token(&s.store.find_user("megan.bowen@contoso.com").await.unwrap().unwrap(), "Mail.Read People.Read");
    let inbox = s.get("/me/mailFolders/inbox/messages?$count=true&$top=1", &megan).await;
    assert_eq!(inbox.body["@odata.count"], 2500, "{}", inbox.text);
    let people = s.get(&format!("/me/people?$search={}", crate::common::enc("\"pen pal\"")), &megan).await;
    assert_eq!(people.body["value"][0]["scoredEmailAddresses"][0]["address"], "pen.pal@example.com");
    admin(&s, Method::POST, "import", Some(json!({"userPrincipalName": "nobody@x.test", "messages": []})))
        .await
        .assert_error(400, "BadRequest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let snapshots = dir.path().to_path_buf();
    let s = TestServer::start_configured(Backend::Sqlite, |st| {
        st.emulator = true;
        st.admin.snapshot_dir = Some(snapshots);
    })
    .await;
    admin(&s, Method::POST, "reset", None).await;
    let t = admin(&s, Method::GET, "tokens", None).await.body["value"][0]["token"].as_str().unwrap().to_owned();
    let keep = s.create_contact(&t, json!({"givenName": "Keep"})).await;
    // A name inside the snapshot directory, or an absolute path inside it.
    let path = dir.path().join("snap.db").to_string_lossy().into_owned();
    assert_eq!(admin(&s, Method::POST, "snapshot", Some(json!({"path": "snap.db"}))).await.status, 204);
    assert!(dir.path().join("snap.db").is_file());
    admin(&s, Method::POST, "snapshot", Some(json!({"path": path}))).await.assert_error(400, "BadRequest");
    s.delete(&format!("/me/contacts/{keep}"), &t).await;
    s.create_contact(&t, json!({"givenName": "After"})).await;
    assert_eq!(admin(&s, Method::POST, "restore", Some(json!({"path": path}))).await.status, 204);
    let names: Vec<String> = s.get("/me/contacts?$select=givenName", &t).await.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["givenName"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"Keep".to_owned()) && !names.contains(&"After".to_owned()), "{names:?}");
    assert_eq!(s.get(&format!("/me/contacts/{keep}"), &t).await.status, 200);
    admin(&s, Method::POST, "restore", Some(json!({"path": "/nonexistent/snap.db"})))
        .await
        .assert_error(400, "BadRequest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fidelity_switches() {
    let s = emulator().await;
    admin(&s, Method::POST, "reset", None).await;
    let t = admin(&s, Method::GET, "tokens", None).await.body["value"][0]["token"].as_str().unwrap().to_owned();

    // Delta tokens expire on demand: the next use gets 410 with a Location for a fresh round.
    let mut link = Some(format!("{}/me/contacts/delta", s.base));
    let mut delta_link = None;
    while let Some(next) = link {
        let r = s.get(&next, &t).await;
        link = r.body["@odata.nextLink"].as_str().map(str::to_owned);
        delta_link = r.body["@odata.deltaLink"].as_str().map(str::to_owned).or(delta_link);
    }
    let delta_link = delta_link.expect("a deltaLink");
    assert_eq!(s.get(&delta_link, &t).await.status, 200);
    assert_eq!(admin(&s, Method::POST, "expire-delta-tokens", None).await.status, 204);
    let gone = s.get(&delta_link, &t).await;
    gone.assert_error(410, "syncStateNotFound");
    assert!(gone.header("location").is_some());

    // Injected faults: every request fails with the chosen status and Retry-After, then none do.
    let r = admin(
        &s,
        Method::PATCH,
        "settings",
        Some(json!({"faults": {"rate": 1.0, "status": 429, "retryAfterSeconds": 7}})),
    )
    .await;
    assert_eq!(r.body["faults"]["rate"], 1.0);
    let f = s.get("/me/contacts", &t).await;
    f.assert_error(429, "TooManyRequests");
    assert_eq!(f.header("retry-after"), Some("7"));
    admin(&s, Method::PATCH, "settings", Some(json!({"faults": {"rate": 1.0, "status": 503, "retryAfterSeconds": 2}})))
        .await;
    s.get("/me/contacts", &t).await.assert_error(503, "serviceNotAvailable");
    admin(&s, Method::PATCH, "settings", Some(json!({"faults": {"rate": 0.0, "status": 0}}))).await;
    assert_eq!(s.get("/me/contacts", &t).await.status, 200);
    admin(&s, Method::PATCH, "settings", Some(json!({"faults": {"rate": 2.0, "status": 429}})))
        .await
        .assert_error(400, "BadRequest");

    // Tighter limits on extensions and photos, to exercise a client's handling of them.
    let r = admin(
        &s,
        Method::PATCH,
        "settings",
        Some(json!({"limits": {"extensions": {"perContact": 1, "bytes": 64}, "photoBytes": 200}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["limits"]["extensions"]["perContact"], 1);
    let c = s.create_contact(&t, json!({"givenName": "Limited"})).await;
    let ext = |name: &str| json!({"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": name});
    assert_eq!(s.post(&format!("/me/contacts/{c}/extensions"), &t, ext("Com.A")).await.status, 201);
    s.post(&format!("/me/contacts/{c}/extensions"), &t, ext("Com.B"))
        .await
        .assert_error(400, "ErrorExtensionLimitExceeded");
    let mut big = ext("Com.C");
    big["data"] = json!("x".repeat(100));
    s.post(&format!("/me/contacts/{c}/extensions"), &t, big).await.assert_error(413, "ErrorExtensionTooLarge");
    let png = rolo_media::sample(64, 64, rolo_media::Format::Png);
    assert!(png.len() > 200);
    let r =
        s.send_raw(Method::PUT, &format!("/me/contacts/{c}/photo/$value"), Some(&t), png, Some("image/png"), &[]).await;
    r.assert_error(413, "RequestEntityTooLarge");
    admin(&s, Method::PATCH, "settings", Some(json!({"limits": {}}))).await;
    assert_eq!(s.post(&format!("/me/contacts/{c}/extensions"), &t, ext("Com.B")).await.status, 201);

    // Throttling on and off.
    let r = admin(&s, Method::PATCH, "settings", Some(json!({"throttling": false}))).await;
    assert_eq!(r.body["throttling"], false);
    assert!(!s.state.throttle.enabled());
    assert_eq!(admin(&s, Method::GET, "settings", None).await.body["throttling"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_is_off_outside_the_emulator() {
    let s = TestServer::start(Backend::Sqlite).await;
    admin(&s, Method::POST, "reset", None).await.assert_error(404, "ResourceNotFound");
    let s = emulator().await;
    admin(&s, Method::POST, "nothing", None).await.assert_error(404, "ResourceNotFound");
}

/// The admin doors a web page could knock on: bodies must be declared JSON, other sites' pages
/// and foreign Host names (DNS rebinding) are refused, unless configured; nothing changes when
/// refused.
async fn admin_doors(backend: Backend) {
    let s = TestServer::start_configured(backend, |st| st.emulator = true).await;
    admin(&s, Method::POST, "reset", None).await;
    let url = |action: &str| s.base.replace("/v1.0", &format!("/rolo/admin/{action}"));
    let seed = br#"{"users": [{"userPrincipalName": "mallory@evil.test", "displayName": "M"}]}"#.to_vec();
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let r = s.send_raw(Method::POST, &url("seed"), None, seed.clone(), Some(ct), &[]).await;
        r.assert_error(415, "UnsupportedMediaType");
    }
    let r = s.send_raw(Method::POST, &url("seed"), None, seed.clone(), None, &[]).await;
    r.assert_error(415, "UnsupportedMediaType");
    assert!(s.store.find_user("mallory@evil.test").await.unwrap().is_none(), "nothing seeded");

    let t = admin(&s, Method::GET, "tokens", None).await.body["value"][0]["token"].as_str().unwrap().to_owned();
    let keep = s.create_contact(&t, json!({"givenName": "Keep"})).await;
    let evil = [("Origin", "https://evil.example")];
    s.send(Method::POST, &url("reset"), None, None, &evil).await.assert_error(403, "ErrorAccessDenied");
    s.send(Method::POST, &url("reset"), None, None, &[("Origin", "null")]).await.assert_error(403, "ErrorAccessDenied");
    s.send(Method::GET, &url("tokens"), None, None, &evil).await.assert_error(403, "ErrorAccessDenied");
    s.send(Method::GET, &url("tokens"), None, None, &[("Sec-Fetch-Site", "cross-site")])
        .await
        .assert_error(403, "ErrorAccessDenied");
    for host in ["evil.example", "evil.example:80", "rebind.attacker.test:8080", "10.0.0.5", "[fd00::1]:80"] {
        let r = s.send(Method::GET, &url("tokens"), None, None, &[("Host", host)]).await;
        r.assert_error(403, "ErrorAccessDenied");
        assert!(r.body.get("value").is_none(), "no tokens for {host}");
    }
    s.send(Method::POST, &url("reset"), None, None, &[("Host", "evil.example")])
        .await
        .assert_error(403, "ErrorAccessDenied");
    assert_eq!(s.get(&format!("/me/contacts/{keep}"), &t).await.status, 200, "nothing was reset");

    // Loopback names answer; so do configured hosts and origins.
    for host in ["localhost:1234", "127.0.0.1", "[::1]:8080", "app.localhost"] {
        let r = s.send(Method::GET, &url("tokens"), None, None, &[("Host", host)]).await;
        assert_eq!(r.status, 200, "{host}: {}", r.text);
    }
    let c = TestServer::start_configured(backend, |st| {
        st.emulator = true;
        st.admin.hosts = vec!["rolo-emulator".into()];
        st.admin.origins = vec!["http://localhost:3000".into()];
    })
    .await;
    let curl = c.base.replace("/v1.0", "/rolo/admin/tokens");
    assert_eq!(c.send(Method::GET, &curl, None, None, &[("Host", "rolo-emulator:8080")]).await.status, 200);
    assert_eq!(c.send(Method::GET, &curl, None, None, &[("Origin", "http://localhost:3000")]).await.status, 200);
    c.send(Method::GET, &curl, None, None, &[("Origin", "http://localhost:3001")])
        .await
        .assert_error(403, "ErrorAccessDenied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_doors_sqlite() {
    admin_doors(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_doors_postgres() {
    admin_doors(Backend::Postgres).await;
}

/// Snapshots stay inside the snapshot directory, take no database URLs, answer 4xx (never 500)
/// on bad paths, and a restore refuses anything but a Rolo snapshot before touching it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_confined() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let snapshots = dir.path().to_path_buf();
    let s = TestServer::start_configured(Backend::Sqlite, |st| {
        st.emulator = true;
        st.admin.snapshot_dir = Some(snapshots);
    })
    .await;
    admin(&s, Method::POST, "reset", None).await;
    let outside = elsewhere.path().join("out.db").to_string_lossy().into_owned();
    #[cfg(unix)]
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("link")).unwrap();
    for path in [
        "../escape.db",
        "sub/../../escape.db",
        outside.as_str(),
        "link/out.db",
        "missing-dir/snap.db",
        "postgres://rolo@127.0.0.1/rolo",
        "sqlite:snap.db",
        "/",
    ] {
        for action in ["snapshot", "restore"] {
            let r = admin(&s, Method::POST, action, Some(json!({"path": path}))).await;
            r.assert_error(400, "BadRequest");
        }
    }
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "nothing written outside");
    assert!(!dir.path().join("missing-dir").exists());

    // Another program's SQLite file, and a text file, inside the directory: refused, untouched,
    // and the state is still there.
    let other = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE users (id TEXT); INSERT INTO users VALUES ('precious');").unwrap();
    drop(conn);
    let before = std::fs::read(&other).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    for path in ["other.db", "notes.txt", "absent.db", "link"] {
        admin(&s, Method::POST, "restore", Some(json!({"path": path}))).await.assert_error(400, "BadRequest");
    }
    assert_eq!(std::fs::read(&other).unwrap(), before, "the foreign file is untouched");
    assert_eq!(s.store.list_users().await.unwrap().len(), 3, "the users are still there");

    // Without a snapshot directory, no snapshots at all.
    let off = emulator().await;
    let path = dir.path().join("x.db").to_string_lossy().into_owned();
    admin(&off, Method::POST, "snapshot", Some(json!({"path": path}))).await.assert_error(400, "BadRequest");
    assert!(!dir.path().join("x.db").exists());
}

/// `rolo serve --emulator`: the well-known tenant, users and tokens, printed at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_from_the_command_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rolo"))
        .args(["serve", "--emulator", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("ROLO_DATABASE")
        .env("ROLO_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start rolo");
    let stdout = child.stdout.take().unwrap();
    let banner = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("  curl");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    let banner = tokio::time::timeout(Duration::from_secs(30), banner).await.expect("banner in time").unwrap();
    let text = banner.join("\n");
    assert!(text.contains("Tenant 18e8d587-a18f-4a28-8bfe-f105148fd0de"), "{text}");
    let i = banner.iter().position(|l| l.starts_with("Token for megan.bowen@contoso.com")).expect("a token line");
    let token = &banner[i + 1];
    let client = reqwest::Client::new();
    let r: Value = client
        .get(format!("http://127.0.0.1:{port}/v1.0/me/contactFolders"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = r["value"].as_array().unwrap().iter().map(|f| f["displayName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Family", "Vendors"]);
    // The token's subject is the well-known user id.
    let claims = token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["oid"], "b5a3c1e2-6f4d-4c1a-9e2b-000000000001");
    assert_eq!(claims["tid"], "18e8d587-a18f-4a28-8bfe-f105148fd0de");
    let _ = child.kill();
    let _ = child.wait();
}
