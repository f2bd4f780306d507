//! The built `rolo` binary: user management, token minting, serving, crash durability (kill -9)
//! and graceful shutdown (SIGTERM), on SQLite and PostgreSQL.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::present_str;

const BIN: &str = env!("CARGO_BIN_EXE_rolo");

/// A `rolo` command with none of the caller's ROLO_* settings leaking in.
pub(crate) fn command(args: &[&str], envs: &[(&str, &str)], cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd);
    for var in ["ROLO_DATABASE", "ROLO_LISTEN", "ROLO_CONFIG", "ROLO_LOG", "ROLO_THROTTLING", "ROLO_THROTTLING_REDIS"] {
        cmd.env_remove(var);
    }
    cmd.env("ROLO_LOG", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

pub(crate) fn run(args: &[&str], cwd: &Path) -> Output {
    command(args, &[], cwd).output().expect("run rolo")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

pub(crate) fn assert_success(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.chars()
            .enumerate()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// Minimal base64url (no padding) decoder for inspecting JWT parts.
fn b64url(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {c}"),
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        acc = (acc << 6) | val(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Adds a user with the CLI and returns its id.
pub(crate) fn add_user(db: &str, upn: &str, name: &str, cwd: &Path) -> String {
    let o = run(&["users", "add", upn, "--display-name", name, "--database", db], cwd);
    assert_success(&o, "users add");
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "users add prints one line: {out:?}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(fields.len(), 3, "{out:?}");
    assert!(is_guid(fields[0]), "id is a GUID: {out:?}");
    assert_eq!(fields[1], upn);
    assert_eq!(fields[2], name);
    fields[0].to_owned()
}

/// Mints a token with the CLI; checks that stdout is exactly one JWT.
pub(crate) fn mint_token(db: &str, upn: &str, scopes: &str, cwd: &Path) -> String {
    let o = run(&["token", upn, "--scopes", scopes, "--database", db], cwd);
    assert_success(&o, "token");
    let out = stdout(&o);
    assert!(out.ends_with('\n'), "{out:?}");
    let token = out.trim_end_matches('\n');
    assert!(!token.contains('\n') && !token.contains(' '), "token output must be only the JWT: {out:?}");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "JWT has three parts: {token}");
    assert!(
        parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')),
        "{token}"
    );
    token.to_owned()
}

/// A running `rolo serve`; killed (SIGKILL) if still running when dropped.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `rolo serve --listen 127.0.0.1:<port>` with extra args/env and waits until it accepts.
pub(crate) fn serve(extra_args: &[&str], envs: &[(&str, &str)], cwd: &Path) -> Served {
    serve_on(free_port(), extra_args, envs, cwd)
}

/// As [`serve`], on a chosen port (a restarted process takes its predecessor's place).
pub(crate) fn serve_on(port: u16, extra_args: &[&str], envs: &[(&str, &str)], cwd: &Path) -> Served {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", listen.as_str()];
    args.extend_from_slice(extra_args);
    // Appended to: a process restarted on the port keeps its predecessor's log.
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(cwd.join(format!("serve-{port}.log"))).unwrap();
    let child = command(&args, envs, cwd).stdout(Stdio::null()).stderr(log).spawn().expect("spawn rolo serve");
    let mut served = Served { child, base: format!("http://{listen}/v1.0") };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(&listen).is_ok() {
            return served;
        }
        if let Ok(Some(status)) = served.child.try_wait() {
            let log = std::fs::read_to_string(cwd.join(format!("serve-{port}.log"))).unwrap_or_default();
            panic!("rolo serve exited early with {status}: {log}");
        }
        assert!(Instant::now() < deadline, "rolo serve did not start listening on {listen}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> crate::common::Resp {
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    crate::common::into_resp(req.send().await.expect("request")).await
}

/// Waits for the child to exit, at most `limit`.
pub(crate) fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn sqlite_db(dir: &Path) -> String {
    dir.join("db.sqlite").to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------

/// `rolo groups add NAME --mail ADDRESS --members UPN,...` and `rolo groups list`; a group is
/// not listed among the users.
#[test]
fn groups_add_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    let a = add_user(&db, "a@x.test", "A", dir.path());
    add_user(&db, "b@x.test", "B", dir.path());
    let add = ["groups", "add", "Sales Team", "--mail", "sales@x.test", "--members", "a@x.test,B@X.TEST"];
    let o = run(&[&add[..], &["--visibility", "Private", "--database", &db]].concat(), dir.path());
    assert_success(&o, "groups add");
    let out = stdout(&o);
    let fields: Vec<&str> = out.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 3, "{out:?}");
    assert!(is_guid(fields[0]), "{out:?}");
    assert_eq!(&fields[1..], ["sales@x.test", "Sales Team"]);
    let o = run(&["groups", "list", "--database", &db], dir.path());
    assert_success(&o, "groups list");
    assert_eq!(stdout(&o), format!("{}\tsales@x.test\tSales Team\t2 members\n", fields[0]));
    let o = run(&["users", "list", "--database", &db], dir.path());
    assert!(!stdout(&o).contains("sales@x.test"), "{}", stdout(&o));
    assert!(stdout(&o).contains(&a));
    // An unknown member, a taken address or a bad visibility is refused, with a message.
    for (args, says) in [
        (vec!["groups", "add", "X", "--mail", "x@x.test", "--members", "nobody@x.test"], "no such user: nobody@x.test"),
        (vec!["groups", "add", "Y", "--mail", "sales@x.test"], "already exists"),
        (vec!["groups", "add", "Z", "--mail", "z@x.test", "--visibility", "Hidden"], "not a visibility"),
    ] {
        let o = run(&[&args[..], &["--database", &db]].concat(), dir.path());
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn users_add_list_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    let a = add_user(&db, "a@x.test", "A", dir.path());
    let b = add_user(&db, "b@x.test", "Bee Two", dir.path());
    assert_ne!(a, b);

    let o = run(&["users", "list", "--database", &db], dir.path());
    assert_success(&o, "users list");
    let mut lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
    lines.sort_by_key(|l| l.split('\t').nth(1).unwrap_or_default().to_owned());
    assert_eq!(lines, vec![format!("{a}\ta@x.test\tA"), format!("{b}\tb@x.test\tBee Two")]);

    // A duplicate UPN (any case) is refused, with a message on stderr and nothing on stdout.
    let o = run(&["users", "add", "A@X.TEST", "--display-name", "Again", "--database", &db], dir.path());
    assert!(!o.status.success(), "duplicate user must fail");
    assert_eq!(stdout(&o), "");
    assert!(!o.stderr.is_empty());
    let o = run(&["users", "list", "--database", &db], dir.path());
    assert_eq!(stdout(&o).lines().count(), 2);

    // The token: one JWT, ES256, carrying the user and scopes.
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir.path());
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&b64url(parts[0])).unwrap();
    let claims: Value = serde_json::from_slice(&b64url(parts[1])).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(claims["oid"], a.as_str());
    assert_eq!(claims["scp"], "Contacts.ReadWrite");
    assert_eq!(claims["upn"], "a@x.test");
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 3600, "default lifetime is 1h");
    // By id too, with several scopes and a custom lifetime.
    let token = mint_token(&db, &b, "Contacts.Read User.Read", dir.path());
    let claims: Value = serde_json::from_slice(&b64url(token.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(claims["scp"], "Contacts.Read User.Read");
    assert_eq!(claims["oid"], b.as_str());
    let o = run(&["token", "a@x.test", "--ttl", "30m", "--database", &db], dir.path());
    assert_success(&o, "token --ttl");
    let claims: Value = serde_json::from_slice(&b64url(stdout(&o).trim().split('.').nth(1).unwrap())).unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 1800);

    // Failures: unknown user, bad lifetime. Nothing on stdout.
    let o = run(&["token", "nobody@x.test", "--database", &db], dir.path());
    assert!(!o.status.success());
    assert_eq!(stdout(&o), "");
    assert!(String::from_utf8_lossy(&o.stderr).contains("nobody@x.test"));
    let o = run(&["token", "a@x.test", "--ttl", "forever", "--database", &db], dir.path());
    assert!(!o.status.success());
    assert_eq!(stdout(&o), "");
    // Nothing was written outside the given database.
    assert!(!dir.path().join("rolo-data").exists());
}

/// Serve, write a contact, kill -9, restart on the same database: the acknowledged write is there.
async fn kill9_durability(db: String, dir: &Path) {
    let uid = add_user(&db, "a@x.test", "A", dir);
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir);
    let client = reqwest::Client::new();

    let mut first = serve(&["--database", &db], &[], dir);
    let created = call(
        &client,
        reqwest::Method::POST,
        &format!("{}/me/contacts", first.base),
        &token,
        Some(json!({"givenName": "Durable", "emailAddresses": [{"address": "d@x.test"}], "categories": ["Kept"]})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let change_key = created.body["changeKey"].as_str().unwrap().to_owned();
    assert_eq!(created.body["@odata.context"], format!("{}/$metadata#users('{uid}')/contacts/$entity", first.base));
    let folder = call(
        &client,
        reqwest::Method::POST,
        &format!("{}/me/contactFolders", first.base),
        &token,
        Some(json!({"displayName": "Kept"})),
    )
    .await;
    assert_eq!(folder.status, 201, "{}", folder.text);
    let patched = call(
        &client,
        reqwest::Method::PATCH,
        &format!("{}/me/contacts/{id}", first.base),
        &token,
        Some(json!({"jobTitle": "Survivor"})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let change_key2 = patched.body["changeKey"].as_str().unwrap().to_owned();
    assert_ne!(change_key2, change_key);

    // SIGKILL: no chance to flush anything.
    first.child.kill().expect("kill -9");
    let status = first.child.wait().unwrap();
    assert!(!status.success());
    drop(first);

    let second = serve(&["--database", &db], &[], dir);
    let client = reqwest::Client::new();
    let got = call(&client, reqwest::Method::GET, &format!("{}/me/contacts/{id}", second.base), &token, None).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["changeKey"], change_key2.as_str());
    assert_eq!(got.body["jobTitle"], "Survivor");
    assert_eq!(got.body["givenName"], "Durable");
    let listed = call(
        &client,
        reqwest::Method::GET,
        &format!("{}/me/contacts?$filter=emailAddresses/any(a:a/address%20eq%20'd@x.test')", second.base),
        &token,
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 1);
    let listed = call(
        &client,
        reqwest::Method::GET,
        &format!("{}/me/contacts?$filter=categories/any(c:c%20eq%20'Kept')", second.base),
        &token,
        None,
    )
    .await;
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 1);
    let folders =
        call(&client, reqwest::Method::GET, &format!("{}/me/contactFolders", second.base), &token, None).await;
    assert_eq!(folders.body["value"][0]["id"], folder.body["id"]);
    // Change keys keep increasing after the restart.
    let again = call(
        &client,
        reqwest::Method::PATCH,
        &format!("{}/me/contacts/{id}", second.base),
        &token,
        Some(json!({"jobTitle": "Again"})),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let change_key3 = present_str(&again.body, "changeKey");
    assert!(change_key3 != change_key2 && change_key3 != change_key, "{change_key3}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_durability_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    kill9_durability(sqlite_db(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_durability_postgres() {
    let dir = tempfile::tempdir().unwrap();
    kill9_durability(rolo_testkit::postgres_server().fresh_database(), dir.path()).await;
}

/// Many clients creating at once (on SQLite their writes share group commits), then kill -9
/// while creates are still in flight: after a restart every create that was answered 201 is
/// there, with the values it was acknowledged with.
async fn kill9_concurrent_creates(db: String, dir: &Path) {
    use std::sync::{Arc, Mutex};
    add_user(&db, "a@x.test", "A", dir);
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir);
    let mut first = serve(&["--database", &db], &[], dir);
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let enough = Arc::new(tokio::sync::Notify::new());
    const CLIENTS: usize = 8;
    const BEFORE_KILL: usize = 150;
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (acked, enough, token) = (acked.clone(), enough.clone(), token.clone());
        let url = format!("{}/me/contacts", first.base);
        clients.spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                let name = format!("Client{c} N{n}");
                // Once the server is gone, requests fail: that ends this client.
                let Ok(resp) = client.post(&url).bearer_auth(&token).json(&json!({"givenName": name})).send().await
                else {
                    return;
                };
                if resp.status() != 201 {
                    return;
                }
                let Ok(body) = resp.json::<Value>().await else { return };
                let id = body["id"].as_str().expect("a created contact has an id").to_owned();
                let count = {
                    let mut acked = acked.lock().unwrap();
                    acked.push((id, name));
                    acked.len()
                };
                if count == BEFORE_KILL {
                    enough.notify_one();
                }
            }
        });
    }
    enough.notified().await;
    // SIGKILL with creates in flight.
    first.child.kill().expect("kill -9");
    first.child.wait().unwrap();
    while clients.join_next().await.is_some() {}
    drop(first);

    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= BEFORE_KILL);
    let second = serve(&["--database", &db], &[], dir);
    let client = reqwest::Client::new();
    let listed = call(
        &client,
        reqwest::Method::GET,
        &format!("{}/me/contacts?$top=1000&$select=givenName", second.base),
        &token,
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let stored: std::collections::HashMap<String, String> = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c["givenName"].as_str().unwrap().to_owned()))
        .collect();
    assert!(listed.body.get("@odata.nextLink").is_none(), "fewer than 1,000 contacts were created");
    for (id, name) in &acked {
        assert_eq!(stored.get(id), Some(name), "acknowledged create {id} ({name}) lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_concurrent_creates_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    kill9_concurrent_creates(sqlite_db(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_concurrent_creates_postgres() {
    let dir = tempfile::tempdir().unwrap();
    kill9_concurrent_creates(rolo_testkit::postgres_server().fresh_database(), dir.path()).await;
}

/// SIGTERM: the server shuts down gracefully (exit status 0) within a few seconds, even with an
/// idle keep-alive connection open, and stops listening.
async fn sigterm_graceful(db: String, dir: &Path) {
    add_user(&db, "a@x.test", "A", dir);
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir);
    let mut served = serve(&["--database", &db], &[], dir);
    let client = reqwest::Client::new();
    let r = call(
        &client,
        reqwest::Method::POST,
        &format!("{}/me/contacts", served.base),
        &token,
        Some(json!({"givenName": "T"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let listen = served.base.trim_start_matches("http://").trim_end_matches("/v1.0").to_owned();

    let pid = served.child.id().to_string();
    let k = Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
    assert!(k.success());
    let status =
        wait_exit(&mut served.child, Duration::from_secs(8)).expect("rolo serve did not exit within 8 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0: {status:?}");
    assert!(TcpStream::connect(&listen).is_err(), "still listening after shutdown");
    drop(client);

    // The data is there on the next start.
    let again = serve(&["--database", &db], &[], dir);
    let client = reqwest::Client::new();
    let r = call(&client, reqwest::Method::GET, &format!("{}/me/contacts", again.base), &token, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_graceful_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    sigterm_graceful(sqlite_db(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_graceful_postgres() {
    let dir = tempfile::tempdir().unwrap();
    sigterm_graceful(rolo_testkit::postgres_server().fresh_database(), dir.path()).await;
}

/// `ROLO_DATABASE` selects the database when --database is not given (and the token minted with
/// --database validates against it, so both name the same installation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_rolo_database_env() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    let uid = add_user(&db, "a@x.test", "A", dir.path());
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir.path());
    let served = serve(&[], &[("ROLO_DATABASE", db.as_str())], dir.path());
    let client = reqwest::Client::new();
    let r = call(
        &client,
        reqwest::Method::POST,
        &format!("{}/me/contacts", served.base),
        &token,
        Some(json!({"givenName": "Env"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#users('{uid}')/contacts/$entity", served.base));
    // Nothing went to the default ./rolo-data database.
    assert!(!dir.path().join("rolo-data").exists());
    drop(served);
    // The CLI sees the same database through the variable too.
    let o = command(&["users", "list"], &[("ROLO_DATABASE", db.as_str())], dir.path()).output().unwrap();
    assert_success(&o, "users list with ROLO_DATABASE");
    assert_eq!(stdout(&o), format!("{uid}\ta@x.test\tA\n"));
}

/// A TOML config file: listen address, database and public URL (used in links).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    add_user(&db, "a@x.test", "A", dir.path());
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir.path());
    let port = free_port();
    let cfg = dir.path().join("rolo.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndatabase = \"{db}\"\npublic_url = \"https://contacts.example.test/\"\n"
        ),
    )
    .unwrap();
    let cfg_s = cfg.to_string_lossy().into_owned();
    // --listen from serve() overrides the file's listen; use the file's by passing the same port.
    let log = std::fs::File::create(dir.path().join("cfg.log")).unwrap();
    let mut child =
        command(&["serve", "--config", &cfg_s], &[], dir.path()).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&listen).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "rolo serve --config exited: {status} {}",
                std::fs::read_to_string(dir.path().join("cfg.log")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "not listening");
        std::thread::sleep(Duration::from_millis(25));
    }
    let served = Served { child, base: format!("http://{listen}/v1.0") };
    let client = reqwest::Client::new();
    for i in 0..3 {
        let r = call(
            &client,
            reqwest::Method::POST,
            &format!("{}/me/contacts", served.base),
            &token,
            Some(json!({"givenName": format!("C{i}")})),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert!(
            r.body["@odata.context"]
                .as_str()
                .unwrap()
                .starts_with("https://contacts.example.test/v1.0/$metadata#users('"),
            "{}",
            r.text
        );
    }
    let r = call(&client, reqwest::Method::GET, &format!("{}/me/contacts?$top=2", served.base), &token, None).await;
    let next = r.body["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with("https://contacts.example.test/v1.0/me/contacts?"), "{next}");

    // A bad config file is a startup error, not a silent default.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:1\"\nshoe_size = 44\n").unwrap();
    let o = command(&["serve", "--config", &bad.to_string_lossy()], &[], dir.path()).output().unwrap();
    assert!(!o.status.success());
    assert!(!dir.path().join("rolo-data").exists());
}

#[path = "cli/admin.rs"]
mod admin;

/// The peak resident memory of a process, from /proc (Linux), in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// Forty contacts of 3.5 MB each (the case: a 267 MB response from a 633 MB server):
/// a list page now stops at the byte budget, the next link continues it, and the server's peak
/// memory stays under 150 MB while serving every page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_contacts_list_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    add_user(&db, "a@x.test", "A", dir.path());
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir.path());
    let served = serve(&["--database", &db], &[], dir.path());
    let client = reqwest::Client::new();
    let url = format!("{}/me/contacts", served.base);
    let body = serde_json::to_vec(&json!({"givenName": "Big", "personalNotes": "n".repeat(3_500_000)})).unwrap();
    for _ in 0..40 {
        let r = client.post(&url).bearer_auth(&token).header("content-type", "application/json").body(body.clone());
        let r = crate::common::into_resp(r.send().await.unwrap()).await;
        assert_eq!(r.status, 201, "{}", r.text.chars().take(300).collect::<String>());
    }
    let mut next = Some(format!("{url}?$top=40"));
    let (mut pages, mut total) = (Vec::new(), 0);
    while let Some(link) = next {
        let resp = client.get(&link).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        assert!(text.len() < 16 * 1024 * 1024 + 4_000_000, "a page of {} bytes", text.len());
        let page: Value = serde_json::from_str(&text).unwrap();
        let n = page["value"].as_array().unwrap().len();
        pages.push(n);
        total += n;
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
        assert!(pages.len() <= 40, "paging does not terminate");
    }
    assert_eq!(total, 40, "{pages:?}");
    assert!(pages.len() > 1 && pages[0] < 40, "{pages:?}");
    let peak = peak_rss(served.child.id()).expect("VmHWM");
    eprintln!("the server peaked at {} MB", peak / (1024 * 1024));
    assert!(peak < 150 * 1024 * 1024, "the server peaked at {} MB", peak / (1024 * 1024));
}

#[path = "files/cli.rs"]
mod files_cli;
use crate::contacts::files::samples;

#[test]
fn import_export_commands_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    files_cli::import_export_commands(&sqlite_db(dir.path()), dir.path());
}

#[test]
fn organisation_commands_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    files_cli::organisation_commands(&sqlite_db(dir.path()), dir.path());
}

#[test]
fn organisation_commands_postgres() {
    let dir = tempfile::tempdir().unwrap();
    files_cli::organisation_commands(&rolo_testkit::postgres_server().fresh_database(), dir.path());
}

#[test]
fn import_export_commands_postgres() {
    let dir = tempfile::tempdir().unwrap();
    files_cli::import_export_commands(&rolo_testkit::postgres_server().fresh_database(), dir.path());
}
