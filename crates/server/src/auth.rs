//! Bearer tokens: Rolo signs access tokens (JWT, ES256) with a key kept in the database, delegated
//! ones for users and app-only ones for registered applications, and verifies every request's
//! token (key id, signature, expiry, audience, issuer). Verified tokens are cached until they
//! expire, so the signature check is paid once per token, not once per request. Tokens of
//! external OpenID Connect issuers are checked in `oidc.rs` and share this cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rolo_domain::{GraphError, GraphResult, Principal};
use rolo_store::fleet::SIGNING_KEY_SETTING;
use rolo_store::{RegisteredApp, Store, User};
use serde::{Deserialize, Serialize};

/// Graph's audience values: its resource URI and its application id.
pub const GRAPH_AUDIENCES: [&str; 2] = ["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"];
/// The client id that `rolo token` tokens carry.
pub const CLI_APP_ID: &str = "7a0c6f2e-6b1e-4c3a-9f6e-526f6c6f0001";
const TOKEN_CACHE_LIMIT: usize = 10_000;
/// The app id Graph's change-notification publisher signs validation tokens as.
pub const NOTIFICATION_PUBLISHER_APP_ID: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub tid: String,
    pub oid: Option<String>,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// `app` for app-only tokens, `user` for delegated ones (Entra's optional claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idtyp: Option<String>,
    pub ver: String,
}

/// The signing identity of this Rolo installation, shared by every server process on the same
/// database.
pub struct Authority {
    pub tenant_id: String,
    pub issuer: String,
    /// The signing key; replaced when another process (or `rolo keys rotate`) rotates it.
    key: RwLock<Arc<SigningKey>>,
    validation: Validation,
    /// Secret for HMAC-protected opaque tokens such as `$skiptoken`.
    pub token_secret: Vec<u8>,
    cache: RwLock<HashMap<String, (Principal, i64), TokenTailState>>,
}

/// Hashes a token by its last 32 bytes only: a token is several hundred bytes, and SipHash over
/// all of them was most of a cached verification. The tail is the signature, which differs
/// between any two tokens; equality still compares whole tokens, so a lookup can only hit the
/// very token that was verified. Only verified tokens are inserted, so nobody can fill a bucket.
#[derive(Default, Clone)]
struct TokenTailState(std::collections::hash_map::RandomState);

impl std::hash::BuildHasher for TokenTailState {
    type Hasher = TokenTail;
    fn build_hasher(&self) -> TokenTail {
        TokenTail(self.0.build_hasher())
    }
}

struct TokenTail(std::collections::hash_map::DefaultHasher);

impl std::hash::Hasher for TokenTail {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(&bytes[bytes.len().saturating_sub(32)..]);
    }
    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// One signing key, as stored and as used.
struct SigningKey {
    /// As stored (PKCS#8, base64): what a rotation is recognised by.
    stored: String,
    key_id: String,
    /// The public point, uncompressed (`04 || x || y`), for the JWKS.
    public_key: Vec<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    fn from_stored(pkcs8_b64: &str) -> GraphResult<SigningKey> {
        let (pkcs8, public, key_id) = parse_signing_key(pkcs8_b64)?;
        Ok(SigningKey {
            stored: pkcs8_b64.to_owned(),
            key_id,
            encoding: EncodingKey::from_ec_der(&pkcs8),
            decoding: DecodingKey::from_ec_der(&public),
            public_key: public,
        })
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A stored signing key (PKCS#8, base64): its DER, its public point, and the key id it is
/// published under.
fn parse_signing_key(pkcs8_b64: &str) -> GraphResult<(Vec<u8>, Vec<u8>, String)> {
    let pkcs8 = STANDARD.decode(pkcs8_b64).map_err(GraphError::internal)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &SystemRandom::new())
        .map_err(|_| GraphError::internal("stored signing key is invalid"))?;
    let public = pair.public_key().as_ref().to_vec();
    let key_id = URL_SAFE_NO_PAD.encode(&ring::digest::digest(&ring::digest::SHA256, &public).as_ref()[..12]);
    Ok((pkcs8, public, key_id))
}

/// The key id of a signing key (PKCS#8, base64), as tokens' `kid` carries it.
pub fn key_id_of(pkcs8_b64: &str) -> GraphResult<String> {
    parse_signing_key(pkcs8_b64).map(|(_, _, kid)| kid)
}

/// Replaces the installation's signing key with a fresh one and returns its key id: every token
/// signed before stops verifying, on every running server within a second (they poll the key,
/// `fleet.rs`).
pub async fn rotate_signing_key(store: &dyn Store) -> GraphResult<String> {
    let fresh = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|_| GraphError::internal("cannot generate a signing key"))?;
    let b64 = STANDARD.encode(fresh.as_ref());
    store.replace_setting(SIGNING_KEY_SETTING, &b64).await?;
    key_id_of(&b64)
}

impl Authority {
    /// Loads the tenant, signing key and token secret, creating them on first use.
    pub async fn load(store: &dyn Store) -> GraphResult<Authority> {
        let tenant_id = store.setting_or_insert("tenant_id", &rolo_domain::ids::new_guid()).await?;
        let fresh_key = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| GraphError::internal("cannot generate a signing key"))?;
        let pkcs8_b64 = store.setting_or_insert(SIGNING_KEY_SETTING, &STANDARD.encode(fresh_key.as_ref())).await?;
        let mut secret = [0u8; 32];
        ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut secret).map_err(|_| GraphError::internal("rng"))?;
        let secret_b64 = store.setting_or_insert("token_secret", &STANDARD.encode(secret)).await?;

        let key = SigningKey::from_stored(&pkcs8_b64)?;
        let issuer = format!("https://login.rolo.local/{tenant_id}/v2.0");
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&GRAPH_AUDIENCES);
        validation.set_issuer(&[issuer.as_str()]);
        validation.validate_nbf = true;
        validation.leeway = 60;
        Ok(Authority {
            key: RwLock::new(Arc::new(key)),
            validation,
            token_secret: STANDARD.decode(secret_b64).map_err(GraphError::internal)?,
            tenant_id,
            issuer,
            cache: RwLock::new(HashMap::default()),
        })
    }

    fn key(&self) -> Arc<SigningKey> {
        // A poisoned lock still holds a whole key (writers only swap the Arc).
        self.key.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The id tokens are signed under now (their header's `kid`).
    pub fn key_id(&self) -> String {
        self.key().key_id.clone()
    }

    /// Signs and verifies with `pkcs8_b64` (as stored) from now on, if it is not the key in use;
    /// tokens verified with the old key are forgotten, so they are checked again (and refused).
    /// True when the key changed.
    pub fn adopt_key(&self, pkcs8_b64: &str) -> GraphResult<bool> {
        if pkcs8_b64.is_empty() || self.key().stored == pkcs8_b64 {
            return Ok(false);
        }
        let key = Arc::new(SigningKey::from_stored(pkcs8_b64)?);
        *self.key.write().unwrap_or_else(|p| p.into_inner()) = key;
        self.forget_verified();
        Ok(true)
    }

    /// Forgets every verified token.
    pub fn forget_verified(&self) {
        self.cache.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Issues a delegated access token for `user` with the given scopes, as `rolo token`'s client.
    pub fn issue_delegated(&self, user: &User, scopes: &[String], ttl_secs: i64) -> GraphResult<String> {
        self.issue_delegated_for(user, scopes, CLI_APP_ID, ttl_secs)
    }

    /// Issues a delegated access token for `user`, requested by the application `client_id`.
    pub fn issue_delegated_for(
        &self,
        user: &User,
        scopes: &[String],
        client_id: &str,
        ttl_secs: i64,
    ) -> GraphResult<String> {
        let iat = now();
        let claims = Claims {
            aud: GRAPH_AUDIENCES[0].into(),
            iss: self.issuer.clone(),
            iat,
            nbf: iat,
            exp: iat + ttl_secs,
            tid: self.tenant_id.clone(),
            oid: Some(user.id.clone()),
            sub: user.id.clone(),
            upn: Some(user.user_principal_name.clone()),
            preferred_username: Some(user.user_principal_name.clone()),
            name: Some(user.display_name.clone()),
            scp: Some(scopes.join(" ")),
            roles: None,
            appid: Some(client_id.to_owned()),
            azp: Some(client_id.to_owned()),
            idtyp: Some("user".into()),
            ver: "2.0".into(),
        };
        self.sign(&claims)
    }

    /// Issues an app-only access token (client credentials) for a registered application: its
    /// roles, its service principal as `oid`/`sub`, no user and no `scp`.
    pub fn issue_app(&self, app: &RegisteredApp, ttl_secs: i64) -> GraphResult<String> {
        let principal = Some(app.service_principal_id.as_str());
        let claims = self.app_claims(GRAPH_AUDIENCES[0], &app.client_id, principal, Some(app.roles.clone()), ttl_secs);
        self.sign(&claims)
    }

    /// The claims of an app-only token for `audience`: no user, no `scp`; `oid`/`sub` name the
    /// service principal when there is one (else `sub` is the app). Graph-audience tokens are
    /// v2.0; others (notification validation tokens) are v1.0, as Microsoft issues them.
    fn app_claims(
        &self,
        audience: &str,
        app_id: &str,
        principal: Option<&str>,
        roles: Option<Vec<String>>,
        ttl_secs: i64,
    ) -> Claims {
        let iat = now();
        Claims {
            aud: audience.to_owned(),
            iss: self.issuer.clone(),
            iat,
            nbf: iat,
            exp: iat + ttl_secs,
            tid: self.tenant_id.clone(),
            oid: principal.map(str::to_owned),
            sub: principal.unwrap_or(app_id).to_owned(),
            upn: None,
            preferred_username: None,
            name: None,
            scp: None,
            roles,
            appid: Some(app_id.to_owned()),
            azp: Some(app_id.to_owned()),
            idtyp: Some("app".into()),
            ver: if audience == GRAPH_AUDIENCES[0] { "2.0" } else { "1.0" }.into(),
        }
    }

    /// Signs any claims with the installation's key, naming it in the header's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> GraphResult<String> {
        let key = self.key();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.key_id.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(GraphError::internal)
    }

    /// The signing key as a JSON Web Key Set, for `/{tenant}/discovery/v2.0/keys`.
    pub fn jwks(&self) -> serde_json::Value {
        let key = self.key();
        // ring gives the P-256 public key as an uncompressed point: 0x04, then x and y.
        let point = key.public_key.get(1..).unwrap_or_default();
        let (x, y) = point.split_at(point.len() / 2);
        serde_json::json!({
            "keys": [{
                "kty": "EC",
                "use": "sig",
                "crv": "P-256",
                "kid": key.key_id,
                "x": URL_SAFE_NO_PAD.encode(x),
                "y": URL_SAFE_NO_PAD.encode(y),
                "alg": "ES256",
                "issuer": self.issuer,
            }]
        })
    }

    /// Issues an app-only access token with application `roles` for an app that is not
    /// registered (tests and tools): no service principal, so `sub` is the app id.
    pub fn issue_app_token(&self, app_id: &str, roles: &[String], ttl_secs: i64) -> GraphResult<String> {
        self.sign(&self.app_claims(GRAPH_AUDIENCES[0], app_id, None, Some(roles.to_vec()), ttl_secs))
    }

    /// A `validationTokens` entry of rich notifications: issued to the subscribing app (`aud`) by
    /// this installation's issuer, naming Graph's change-notification publisher as `appid`.
    /// Receivers check it against Rolo's signing key instead of Microsoft's.
    pub fn issue_notification_token(&self, app_id: &str) -> GraphResult<String> {
        self.sign(&self.app_claims(app_id, NOTIFICATION_PUBLISHER_APP_ID, None, None, 3600))
    }

    /// A token verified before and not yet expired.
    pub fn cached(&self, token: &str) -> Option<Principal> {
        let cache = self.cache.read().ok()?;
        let (p, exp) = cache.get(token)?;
        (*exp + self.validation.leeway as i64 > now()).then(|| p.clone())
    }

    /// Remembers a verified token until it expires.
    pub fn remember(&self, token: &str, principal: &Principal, exp: i64) {
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= TOKEN_CACHE_LIMIT {
                let t = now();
                cache.retain(|_, (_, exp)| *exp > t);
                if cache.len() >= TOKEN_CACHE_LIMIT {
                    cache.clear();
                }
            }
            cache.insert(token.to_owned(), (principal.clone(), exp));
        }
    }

    /// Verifies a token this installation issued and returns who is calling.
    pub fn verify(&self, token: &str) -> GraphResult<Principal> {
        if let Some(p) = self.cached(token) {
            return Ok(p);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| rejected(&e))?;
        let key = self.key();
        if header.kid.as_deref() != Some(key.key_id.as_str()) {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. IDX10503: Signature validation failed. The token's kid is not one of the issuer's keys.",
            ));
        }
        let c =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation).map_err(|e| rejected(&e))?.claims;
        let app_only = c.idtyp.as_deref() == Some("app") || (c.scp.is_none() && c.roles.is_some());
        let principal = principal_from(
            if app_only { None } else { c.oid.clone() },
            c.scp.as_deref(),
            c.roles.as_deref(),
            c.appid.clone().or(c.azp.clone()),
            app_only,
        );
        // Not remembered if the key was rotated meanwhile: the rotation forgot every token
        // verified with the old key, and this one must not slip in after it.
        if Arc::ptr_eq(&key, &self.key()) {
            self.remember(token, &principal, c.exp);
        }
        Ok(principal)
    }
}

/// A caller from a token's claims: delegated scopes come from `scp`, an app-only token's from
/// `roles`.
pub fn principal_from(
    user_id: Option<String>,
    scp: Option<&str>,
    roles: Option<&[String]>,
    app_id: Option<String>,
    app_only: bool,
) -> Principal {
    let scopes: Vec<String> = if app_only {
        roles.unwrap_or_default().to_vec()
    } else {
        scp.unwrap_or_default().split_whitespace().map(str::to_owned).collect()
    };
    Principal { user_id, scopes, app_id, app_only }
}

/// The 401 for a token that failed validation, saying why as Graph does.
pub fn rejected(e: &jsonwebtoken::errors::Error) -> GraphError {
    use jsonwebtoken::errors::ErrorKind as K;
    let msg = match e.kind() {
        K::ExpiredSignature => "Lifetime validation failed, the token is expired.",
        K::ImmatureSignature => "Lifetime validation failed, the token is not yet valid.",
        K::InvalidAudience => "Invalid audience.",
        K::InvalidIssuer => "Invalid issuer.",
        K::InvalidSignature => "Signature validation failed.",
        K::InvalidAlgorithm | K::InvalidAlgorithmName => "The token's signing algorithm is not accepted.",
        _ => "IDX14100: JWT is not well formed.",
    };
    GraphError::unauthenticated(format!("Access token validation failure. {msg}"))
}

/// The unverified `iss` of a JWT, to pick the key that verifies it.
pub fn peek_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

/// Extracts the bearer token from an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> GraphResult<&str> {
    let h = header.ok_or_else(|| GraphError::unauthenticated("Access token is empty."))?;
    let (scheme, token) =
        h.trim().split_once(' ').ok_or_else(|| GraphError::unauthenticated("Access token is empty."))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(GraphError::unauthenticated("Access token is empty."));
    }
    Ok(token.trim())
}
