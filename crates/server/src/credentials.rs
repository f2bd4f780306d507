//! Credentials: registered applications' client secrets and users' passwords, stored only as
//! salted hashes, and registering applications (confidential, with a secret, or public).

use std::num::NonZeroU32;

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hmac, pbkdf2};
use rolo_domain::ids::new_guid;
use rolo_domain::{GraphError, GraphResult};
use rolo_store::{RegisteredApp, Store, User};

/// PBKDF2-HMAC-SHA256 rounds for new password hashes (the count is stored with each hash).
const PASSWORD_ITERATIONS: u32 = 100_000;

fn random_bytes<const N: usize>() -> GraphResult<[u8; N]> {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).map_err(|_| GraphError::internal("rng"))?;
    Ok(b)
}

/// A salted PBKDF2 hash of a password: `pbkdf2-sha256$rounds$salt$hash`.
pub fn hash_password(password: &str) -> GraphResult<String> {
    let salt = random_bytes::<16>()?;
    Ok(pbkdf2_hash(password, &salt, PASSWORD_ITERATIONS))
}

pub(crate) fn pbkdf2_hash(password: &str, salt: &[u8], rounds: u32) -> String {
    let mut out = [0u8; 32];
    let n = NonZeroU32::new(rounds).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, n, salt, password.as_bytes(), &mut out);
    format!("pbkdf2-sha256${rounds}${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(out))
}

/// Checks a password against a [`hash_password`] hash, in constant time.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(rounds), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(rounds), Ok(salt), Ok(hash)) =
        (rounds.parse::<u32>(), STANDARD_NO_PAD.decode(salt), STANDARD_NO_PAD.decode(hash))
    else {
        return false;
    };
    let Some(rounds) = NonZeroU32::new(rounds) else { return false };
    pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, rounds, &salt, password.as_bytes(), &hash).is_ok()
}

/// A new client secret: 32 random bytes, base64url (43 characters).
pub fn new_client_secret() -> GraphResult<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// A client secret's hash: `hmac-sha256$salt$tag`. Secrets are random with 256 bits of entropy,
/// so a keyed hash with a per-app salt suffices; key stretching is for guessable passwords.
pub fn hash_client_secret(secret: &str) -> GraphResult<String> {
    let salt = random_bytes::<16>()?;
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &salt), secret.as_bytes());
    Ok(format!("hmac-sha256${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(tag.as_ref())))
}

/// Checks a client secret against a [`hash_client_secret`] hash, in constant time.
pub fn verify_client_secret(secret: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("hmac-sha256"), Some(salt), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(tag)) = (STANDARD_NO_PAD.decode(salt), STANDARD_NO_PAD.decode(tag)) else { return false };
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, &salt), secret.as_bytes(), &tag).is_ok()
}

/// Registers an application with the given application roles; returns it with its client
/// secret, which is not stored and cannot be shown again.
pub async fn register_app(store: &dyn Store, name: &str, roles: &[String]) -> GraphResult<(RegisteredApp, String)> {
    if let Some(bad) = roles.iter().find(|r| !is_permission_name(r)) {
        return Err(GraphError::bad_request("BadRequest", format!("'{bad}' is not a permission name.")));
    }
    let secret = new_client_secret()?;
    let app = RegisteredApp {
        client_id: new_guid(),
        display_name: name.to_owned(),
        service_principal_id: new_guid(),
        roles: roles.to_vec(),
        secret_hash: hash_client_secret(&secret)?,
        created_at: rolo_domain::time::now_utc(),
        public_client: false,
        redirect_uris: Vec::new(),
        certificate: None,
    };
    store.create_app(&app).await?;
    Ok((app, secret))
}

/// Sets a user's password for the password grant. Refresh tokens issued before stop working.
pub async fn set_password(store: &dyn Store, user: &User, password: &str) -> GraphResult<()> {
    if password.is_empty() {
        return Err(GraphError::bad_request("BadRequest", "The password must not be empty."));
    }
    store.set_password_hash(&user.id, &hash_password(password)?).await
}

/// `Contacts.ReadWrite`, `User.Read.All`: dotted words.
pub(crate) fn is_permission_name(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Registers a public client (a SPA, a desktop or mobile app): it holds no secret, so it may
/// sign users in but not use the client-credentials grant.
pub async fn register_public_app(store: &dyn Store, name: &str) -> GraphResult<RegisteredApp> {
    let app = register_public_app_unsaved(name);
    store.create_app(&app).await?;
    Ok(app)
}

/// How an application is registered (`rolo apps add`, the emulator's `POST /rolo/admin/apps`).
#[derive(Debug, Clone, Default)]
pub struct AppRegistration {
    pub name: String,
    /// Application permissions (confidential clients only).
    pub roles: Vec<String>,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    /// A PEM certificate whose key signs the app's client assertions.
    pub certificate: Option<String>,
}

/// Registers an application; returns it with its client secret (confidential clients only),
/// which is not stored and cannot be shown again.
pub async fn register(store: &dyn Store, reg: &AppRegistration) -> GraphResult<(RegisteredApp, Option<String>)> {
    if reg.public && !reg.roles.is_empty() {
        return Err(GraphError::bad_request("BadRequest", "A public client cannot hold application permissions."));
    }
    for uri in &reg.redirect_uris {
        check_redirect_uri(uri)?;
    }
    if let Some(pem) = &reg.certificate {
        crate::assertion::ClientCertificate::parse(pem)?;
    }
    let (mut app, secret) = if reg.public {
        (register_public_app_unsaved(&reg.name), None)
    } else {
        if let Some(bad) = reg.roles.iter().find(|r| !is_permission_name(r)) {
            return Err(GraphError::bad_request("BadRequest", format!("'{bad}' is not a permission name.")));
        }
        let secret = new_client_secret()?;
        let mut app = register_public_app_unsaved(&reg.name);
        app.public_client = false;
        app.roles = reg.roles.clone();
        app.secret_hash = hash_client_secret(&secret)?;
        (app, Some(secret))
    };
    app.redirect_uris = reg.redirect_uris.clone();
    app.certificate = reg.certificate.clone();
    store.create_app(&app).await?;
    Ok((app, secret))
}

pub(crate) fn register_public_app_unsaved(name: &str) -> RegisteredApp {
    RegisteredApp {
        client_id: new_guid(),
        display_name: name.to_owned(),
        service_principal_id: new_guid(),
        roles: Vec::new(),
        secret_hash: String::new(),
        created_at: rolo_domain::time::now_utc(),
        public_client: true,
        redirect_uris: Vec::new(),
        certificate: None,
    }
}

/// A redirect URI an app may register, as Microsoft allows them: absolute, no fragment, https
/// or, for loopback hosts only, http; custom schemes (`myapp://auth`) for native apps.
pub(crate) fn check_redirect_uri(uri: &str) -> GraphResult<()> {
    let bad =
        |why: &str| GraphError::bad_request("BadRequest", format!("The redirect URI '{uri}' is not valid: {why}."));
    let parsed = url::Url::parse(uri).map_err(|_| bad("it is not an absolute URI"))?;
    if parsed.fragment().is_some() {
        return Err(bad("it must not have a fragment"));
    }
    if parsed.scheme() == "http" && !is_loopback(&parsed) {
        return Err(bad("http is allowed only for localhost, 127.0.0.1 and [::1]"));
    }
    Ok(())
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The emulator's well-known public client: it needs no registration and accepts any loopback
/// redirect URI (`http://localhost:{any port}/{any path}`), for trying sign-in from a local app.
pub const EMULATOR_PUBLIC_CLIENT_ID: &str = "7a0c6f2e-6b1e-4c3a-9f6e-526f6c6f0002";

/// The application with this client id: a registered one, or (in the emulator) the well-known
/// public client.
pub async fn find_client(state: &crate::AppState, client_id: &str) -> GraphResult<Option<RegisteredApp>> {
    if state.emulator && client_id.eq_ignore_ascii_case(EMULATOR_PUBLIC_CLIENT_ID) {
        let mut app = register_public_app_unsaved("Rolo emulator public client");
        app.client_id = EMULATOR_PUBLIC_CLIENT_ID.to_owned();
        app.service_principal_id = EMULATOR_PUBLIC_CLIENT_ID.to_owned();
        app.created_at = String::new();
        return Ok(Some(app));
    }
    if client_id.eq_ignore_ascii_case(crate::webapp::WEBAPP_CLIENT_ID) {
        return Ok(Some(crate::webapp::client(None)));
    }
    state.store.find_app(client_id).await
}

/// Whether the app may be sent to `uri`: one of its redirect URIs exactly, or, for a registered
/// loopback URI, the same scheme, host and path on any port (as Microsoft allows for native
/// apps). The emulator's well-known client accepts any http loopback URI.
pub fn redirect_uri_allowed(app: &RegisteredApp, uri: &str) -> bool {
    if app.redirect_uris.iter().any(|r| r == uri) {
        return true;
    }
    let Ok(asked) = url::Url::parse(uri) else { return false };
    if asked.scheme() != "http" || !is_loopback(&asked) || asked.fragment().is_some() {
        return false;
    }
    if app.client_id.eq_ignore_ascii_case(EMULATOR_PUBLIC_CLIENT_ID) {
        return true;
    }
    app.redirect_uris.iter().filter_map(|r| url::Url::parse(r).ok()).any(|r| {
        r.scheme() == "http"
            && is_loopback(&r)
            && r.host() == asked.host()
            && r.path() == asked.path()
            && r.query() == asked.query()
    })
}

/// The same work as checking a real password, so an unknown user's answer takes as long.
pub(crate) fn verify_timing_pad(password: &str) {
    let _ = verify_password(password, &pbkdf2_hash("", b"rolo-timing-pad", PASSWORD_ITERATIONS));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_salt_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("pbkdf2-sha256$100000$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("", &h));
        assert_ne!(h, hash_password("correct horse").unwrap(), "a fresh salt each time");
        assert!(!verify_password("x", "garbage"));
        assert!(!verify_password("x", "pbkdf2-sha256$0$AAAA$AAAA"));
    }

    #[test]
    fn client_secrets_hash_with_salt_and_verify() {
        let s = new_client_secret().unwrap();
        assert_eq!(s.len(), 43);
        let h = hash_client_secret(&s).unwrap();
        assert!(!h.contains(&s));
        assert!(verify_client_secret(&s, &h));
        assert!(!verify_client_secret(&format!("{s}x"), &h));
        assert!(!verify_client_secret(&s, "hmac-sha256$AAAA"));
    }

    #[test]
    fn redirect_uris_match_exactly_but_loopback_on_any_port() {
        let mut app = register_public_app_unsaved("x");
        app.redirect_uris = vec!["https://app.example/cb".into(), "http://localhost/cb".into()];
        assert!(redirect_uri_allowed(&app, "https://app.example/cb"));
        assert!(!redirect_uri_allowed(&app, "https://app.example/cb/"));
        assert!(!redirect_uri_allowed(&app, "https://app.example:444/cb"));
        assert!(redirect_uri_allowed(&app, "http://localhost:53117/cb"));
        assert!(!redirect_uri_allowed(&app, "http://localhost:53117/other"));
        assert!(!redirect_uri_allowed(&app, "http://127.0.0.1:53117/cb"));
        assert!(check_redirect_uri("http://evil.example/cb").is_err());
        assert!(check_redirect_uri("https://app.example/cb#x").is_err());
        assert!(check_redirect_uri("myapp://auth").is_ok());
        assert!(check_redirect_uri("http://[::1]:8400/").is_ok());
    }

    #[test]
    fn permission_names() {
        assert!(is_permission_name("Contacts.ReadWrite"));
        assert!(is_permission_name("User.Read.All"));
        assert!(!is_permission_name("Contacts."));
        assert!(!is_permission_name("a b"));
        assert!(!is_permission_name(""));
    }
}
