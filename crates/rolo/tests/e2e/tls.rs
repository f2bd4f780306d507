//! The built `rolo` binary over TLS: the emulator's `--tls` (a local certificate authority made
//! once and reused, a certificate for localhost, 127.0.0.1 and ::1), `serve --tls-cert/--tls-key`
//! with an operator's files on SQLite and PostgreSQL, h2 and HTTP/1.1 by ALPN, and the errors
//! for unusable files.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use crate::common::tls::TestPki;
use serde_json::Value;
use x509_cert::der::Decode;

const BIN: &str = env!("CARGO_BIN_EXE_rolo");

/// A `rolo` command with none of the caller's ROLO_* settings leaking in.
fn command(args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd);
    for var in ["ROLO_DATABASE", "ROLO_LISTEN", "ROLO_CONFIG", "ROLO_TLS_CERT", "ROLO_TLS_KEY", "ROLO_TLS_DIR"] {
        cmd.env_remove(var);
    }
    cmd.env("ROLO_LOG", "warn");
    cmd
}

/// Asserts that a request failed because the client does not trust the server's certificate:
/// any error would do for `is_err()`, a server that is not listening included.
fn assert_untrusted(result: reqwest::Result<reqwest::Response>) {
    let chain = error_chain(&result.expect_err("a client that does not trust the CA must fail"));
    assert!(chain.iter().any(|m| m.contains("invalid peer certificate: UnknownIssuer")), "{chain:?}");
}

/// An error and its sources, outermost first.
fn error_chain(e: &reqwest::Error) -> Vec<String> {
    std::iter::successors(Some(e as &dyn std::error::Error), |e| e.source()).map(ToString::to_string).collect()
}

fn run(args: &[&str], cwd: &Path) -> Output {
    command(args, cwd).output().expect("run rolo")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `rolo serve`; killed if still running when dropped. Its stdout goes to `out`.
struct Served {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Served {
    /// The banner, once it has been written (the port is bound just before it).
    fn banner(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.out).unwrap_or_default();
            if text.contains("Try:") {
                return text;
            }
            assert!(Instant::now() < deadline, "no banner in {}: {text}", self.out.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts `rolo serve --listen 127.0.0.1:<port> ARGS` and waits until it accepts connections.
fn serve(args: &[&str], cwd: &Path) -> Served {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec!["serve", "--listen", listen.as_str()];
    all.extend_from_slice(args);
    let out = cwd.join(format!("serve-{port}.out"));
    let log = cwd.join(format!("serve-{port}.log"));
    let child = command(&all, cwd)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn rolo serve");
    let mut served = Served { child, port, out };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(&listen).is_ok() {
            return served;
        }
        if let Ok(Some(status)) = served.child.try_wait() {
            panic!("rolo serve exited early with {status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "rolo serve did not start listening on {listen}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn trusting(ca_pem: &[u8]) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem).expect("CA PEM");
    reqwest::Client::builder().add_root_certificate(ca).tls_info(true).build().expect("client")
}

/// The DNS names and IP addresses in the certificate's subjectAltName.
fn subject_alt_names(der: &[u8]) -> Vec<String> {
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::SubjectAltName;
    let cert = x509_cert::Certificate::from_der(der).expect("DER certificate");
    let ext = cert
        .tbs_certificate
        .extensions
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.extn_id == x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17"))
        .expect("a subjectAltName extension");
    let names = SubjectAltName::from_der(ext.extn_value.as_bytes()).expect("subjectAltName");
    names
        .0
        .into_iter()
        .map(|n| match n {
            GeneralName::DnsName(d) => d.to_string(),
            GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
                4 => std::net::IpAddr::from(<[u8; 4]>::try_from(ip.as_bytes()).unwrap()).to_string(),
                _ => std::net::IpAddr::from(<[u8; 16]>::try_from(ip.as_bytes()).unwrap()).to_string(),
            },
            other => format!("{other:?}"),
        })
        .collect()
}

/// The first token the emulator's admin controls hand out.
async fn emulator_token(client: &reqwest::Client, root: &str) -> String {
    let resp = client.get(format!("{root}/rolo/admin/tokens")).send().await.expect("tokens");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    body["value"][0]["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn emulator_tls_makes_a_local_ca_once_and_serves_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca_dir_arg = ca_dir.to_string_lossy().into_owned();
    let ca_path = ca_dir.join("rolo-ca.pem");

    let served = serve(&["--emulator", "--tls", "--tls-dir", &ca_dir_arg], dir.path());
    let banner = served.banner();
    let port = served.port;
    let ca_pem = std::fs::read(&ca_path).expect("the CA certificate is written");
    assert!(banner.contains(&format!("https://127.0.0.1:{port}/v1.0")), "{banner}");
    assert!(banner.contains(&format!("NODE_EXTRA_CA_CERTS={}", ca_path.display())), "{banner}");
    assert!(banner.contains(&format!("SSL_CERT_FILE={}", ca_path.display())), "{banner}");
    assert!(banner.contains(&format!("REQUESTS_CA_BUNDLE={}", ca_path.display())), "{banner}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ca_dir.join("rolo-ca-key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the CA key is readable by its owner only");
    }

    // Trusted: by name and by address; the certificate names all three loopback forms, and the
    // links Rolo writes say https.
    let client = trusting(&ca_pem);
    let root = format!("https://localhost:{port}");
    let token = emulator_token(&client, &root).await;
    let resp = client.get(format!("{root}/v1.0/me/contacts?$top=1")).bearer_auth(&token).send().await.expect("https");
    assert_eq!(resp.status(), 200);
    let der = resp.extensions().get::<reqwest::tls::TlsInfo>().and_then(|i| i.peer_certificate()).unwrap().to_vec();
    let mut sans = subject_alt_names(&der);
    sans.sort();
    assert_eq!(sans, ["127.0.0.1", "::1", "localhost"]);
    let page: Value = resp.json().await.unwrap();
    let next = page["@odata.nextLink"].as_str().expect("a next link");
    assert!(next.starts_with(&format!("https://localhost:{port}/v1.0/me/contacts?")), "{next}");
    let by_ip = client
        .get(format!("https://127.0.0.1:{port}/v1.0/me/contacts?$top=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_ip.status(), 200);

    // Untrusted: the handshake fails, nothing is answered.
    let untrusting = reqwest::Client::new();
    assert_untrusted(untrusting.get(format!("{root}/healthz")).send().await);
    // Plain http to the TLS port gets no Graph answer either.
    let plain = reqwest::Client::new().get(format!("http://127.0.0.1:{port}/healthz")).send().await;
    // The answer is a TLS alert, which is not HTTP (a closed port would be an error too).
    let chain = error_chain(&plain.expect_err("plain http to the TLS port is not answered"));
    assert!(chain.iter().any(|m| m.contains("invalid HTTP version parsed")), "{chain:?}");

    // A restart reuses the CA: what clients already trust still works with the new certificate.
    drop(served);
    let again = serve(&["--emulator", "--tls", "--tls-dir", &ca_dir_arg], dir.path());
    let banner = again.banner();
    assert!(banner.contains(&ca_path.display().to_string()), "{banner}");
    assert_eq!(std::fs::read(&ca_path).unwrap(), ca_pem, "the CA is not replaced");
    let root = format!("https://localhost:{}", again.port);
    let resp = client.get(format!("{root}/healthz")).send().await.expect("the same CA is trusted");
    assert_eq!(resp.status(), 200);
}

/// h2 is offered by ALPN next to HTTP/1.1 (curl is built with nghttp2 on Debian).
#[tokio::test]
async fn emulator_tls_speaks_h2_and_http1() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca").to_string_lossy().into_owned();
    let served = serve(&["--emulator", "--tls", "--tls-dir", &ca_dir], dir.path());
    let ca = format!("{ca_dir}/rolo-ca.pem");
    let url = format!("https://localhost:{}/v1.0/me/contacts?$top=1", served.port);
    let token =
        emulator_token(&trusting(&std::fs::read(&ca).unwrap()), &format!("https://localhost:{}", served.port)).await;
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", flag, "--cacert", &ca])
            .args(["-H", &format!("Authorization: Bearer {token}"), &url])
            .output()
            .expect("curl (apt-get install curl)");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{version} 200"), "{flag}");
        // h2 has no Host header: the links take the host from the request's authority.
        let out = Command::new("curl")
            .args(["-s", flag, "--cacert", &ca, "-H", &format!("Authorization: Bearer {token}"), &url])
            .output()
            .expect("curl");
        let page: Value = serde_json::from_slice(&out.stdout).expect("a JSON page");
        let next = page["@odata.nextLink"].as_str().expect("a next link");
        assert!(next.starts_with(&format!("https://localhost:{}/v1.0/me/contacts?", served.port)), "{flag}: {next}");
    }
}

async fn tls_files(db: String, dir: &Path) {
    let pki = TestPki::new();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pki.leaf_pem).unwrap();
    std::fs::write(&key, &pki.leaf_key_pem).unwrap();
    let out = run(&["users", "add", "adele@contoso.test", "--display-name", "Adele", "--database", &db], dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["token", "adele@contoso.test", "--database", &db], dir);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (cert_arg, key_arg) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
    let served = serve(&["--database", &db, "--tls-cert", &cert_arg, "--tls-key", &key_arg], dir);
    let client = trusting(pki.ca_pem.as_bytes());
    let base = format!("https://localhost:{}/v1.0", served.port);
    let created = client
        .post(format!("{base}/me/contacts"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"givenName": "Pavel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let list: Value = client
        .get(format!("{base}/me/contacts?$select=givenName"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    assert_eq!(list["value"][0]["givenName"], "Pavel");
    assert_untrusted(reqwest::Client::new().get(format!("{base}/me")).send().await);
}

#[tokio::test]
async fn serve_with_tls_files_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    tls_files(dir.path().join("rolo.db").to_string_lossy().into_owned(), dir.path()).await;
}

#[tokio::test]
async fn serve_with_tls_files_postgres() {
    let (db, dir) = crate::common::database_url(crate::common::Backend::Postgres);
    tls_files(db, dir.path()).await;
}

/// The configuration file's `tls_cert` and `tls_key`, as the flags; one without the other is refused.
#[tokio::test]
async fn serve_with_tls_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &pki.leaf_pem).unwrap();
    std::fs::write(&key, &pki.leaf_key_pem).unwrap();
    let config = dir.path().join("rolo.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"rolo.db\"\ntls_cert = {:?}\ntls_key = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .unwrap();
    let config_arg = config.to_string_lossy().into_owned();
    let served = serve(&["--config", &config_arg], dir.path());
    let resp = trusting(pki.ca_pem.as_bytes())
        .get(format!("https://localhost:{}/healthz", served.port))
        .send()
        .await
        .expect("https from the configured files");
    assert_eq!(resp.status(), 200);
    drop(served);

    std::fs::write(&config, format!("tls_cert = {:?}\n", cert.display().to_string())).unwrap();
    let out = run(&["serve", "--config", &config_arg], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tls_cert and tls_key go together"), "{stderr}");
}

/// Unusable files stop the start with a message naming the problem.
#[test]
fn bad_tls_files_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let other = TestPki::new();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let cert = write("cert.pem", &pki.leaf_pem);
    let key = write("key.pem", &pki.leaf_key_pem);
    let other_key = write("other-key.pem", &other.leaf_key_pem);
    let garbage = write("garbage.pem", "not a certificate\n");
    let missing = dir.path().join("missing.pem").to_string_lossy().into_owned();
    let db = dir.path().join("rolo.db").to_string_lossy().into_owned();
    let listen = format!("127.0.0.1:{}", free_port());
    for (c, k, expected) in [
        (&missing, &key, "cannot read the TLS certificate"),
        (&cert, &missing, "cannot read the TLS key"),
        (&garbage, &key, "the certificate file holds no certificate"),
        (&cert, &garbage, "the key file holds no private key"),
        (&key, &key, "the certificate file holds no certificate"),
        (&cert, &other_key, "the certificate and key do not make a usable pair"),
    ] {
        let out = run(&["serve", "--listen", &listen, "--database", &db, "--tls-cert", c, "--tls-key", k], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{c} {k}: {stderr}");
        assert!(stderr.contains(expected), "{c} {k}: expected {expected:?} in {stderr}");
    }
    // One without the other, and --tls outside the emulator, are usage errors.
    let out = run(&["serve", "--database", &db, "--tls-cert", &cert], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["serve", "--database", &db, "--tls"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Without --tls-dir the CA is kept beside the emulator's SQLite database, and the banner names
/// it by an absolute path (it goes into environment variables).
#[tokio::test]
async fn emulator_tls_keeps_the_ca_beside_its_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let served = serve(&["--emulator", "--tls", "--database", "data/emu.db"], dir.path());
    let banner = served.banner();
    let ca = dir.path().join("data").join("rolo-ca.pem");
    let absolute = std::fs::canonicalize(&ca).expect("the CA is beside the database");
    assert!(
        banner.contains(&format!("NODE_EXTRA_CA_CERTS={}\n", absolute.display()))
            || banner.contains(&format!("NODE_EXTRA_CA_CERTS={};", absolute.display())),
        "{banner}"
    );
    let client = trusting(&std::fs::read(&ca).unwrap());
    let resp = client.get(format!("https://localhost:{}/healthz", served.port)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}
