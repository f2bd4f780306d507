//! Tokens from external OpenID Connect issuers (Entra ID, Keycloak, Auth0...). Each configured
//! issuer's signing keys come from its JWKS, named in the configuration or found through the
//! issuer's discovery document. Keys are cached, and fetched again when a token names a key id
//! not seen yet, at most once per `refetch_after` per issuer, so a stream of tokens with made-up
//! key ids cannot turn Rolo into a request amplifier. RS256 and ES256 are accepted; the algorithm
//! comes from the key, so a token cannot pick HS256 and use the public key as its secret.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rolo_domain::{GraphError, GraphResult};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::rejected;

/// One trusted issuer, as configured (`[[oidc]]` in the TOML file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcIssuer {
    /// The tokens' `iss`, exactly.
    pub issuer: String,
    /// The `aud` Rolo's tokens must carry for this issuer.
    pub audience: String,
    /// Where the keys are; by default the `jwks_uri` of `{issuer}/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_url: Option<String>,
}

/// The claims Rolo reads from an external token, after the signature, lifetime, audience and
/// issuer have been checked.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExternalClaims {
    pub exp: i64,
    #[serde(default)]
    pub oid: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub upn: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// Entra's delegated scopes.
    #[serde(default)]
    pub scp: Option<String>,
    /// RFC 9068's delegated scopes (Keycloak, Auth0), read when there is no `scp`.
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub idtyp: Option<String>,
    #[serde(default)]
    pub appid: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
}

impl ExternalClaims {
    /// Delegated scopes, from `scp` or else `scope`.
    pub fn delegated_scopes(&self) -> Option<&str> {
        self.scp.as_deref().or(self.scope.as_deref())
    }

    /// An app-only token: Entra's `idtyp: app`, or roles without delegated scopes.
    pub fn is_app_only(&self) -> bool {
        self.idtyp.as_deref() == Some("app") || (self.delegated_scopes().is_none() && self.roles.is_some())
    }

    pub fn app_id(&self) -> Option<String> {
        self.appid.clone().or_else(|| self.azp.clone()).or_else(|| self.client_id.clone())
    }
}

type KeySet = HashMap<String, (Algorithm, DecodingKey)>;

struct Issuer {
    config: OidcIssuer,
    keys: RwLock<KeySet>,
    /// When the keys were last fetched; held while fetching, so one task fetches at a time.
    fetched: tokio::sync::Mutex<Option<Instant>>,
}

/// The external issuers Rolo trusts (none by default).
pub struct ExternalIssuers {
    issuers: Vec<Issuer>,
    http: reqwest::Client,
    /// The least time between two fetches of one issuer's keys.
    pub refetch_after: Duration,
    /// What `refetch_after` is measured on (tests move it forward).
    pub clock: rolo_domain::time::Clock,
}

impl Default for ExternalIssuers {
    fn default() -> Self {
        ExternalIssuers::new(Vec::new())
    }
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl ExternalIssuers {
    pub fn new(configs: Vec<OidcIssuer>) -> ExternalIssuers {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .unwrap_or_default();
        let issuers = configs
            .into_iter()
            .map(|config| Issuer { config, keys: RwLock::new(KeySet::new()), fetched: tokio::sync::Mutex::new(None) })
            .collect();
        ExternalIssuers { issuers, http, refetch_after: Duration::from_secs(30), clock: Default::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Whether `iss` is one of the configured issuers.
    pub fn knows(&self, iss: &str) -> bool {
        self.issuers.iter().any(|i| same_issuer(&i.config.issuer, iss))
    }

    /// Verifies a token of the issuer `iss`: key id, algorithm, signature, lifetime (60 s of
    /// leeway), audience and issuer.
    pub async fn verify(&self, token: &str, iss: &str) -> GraphResult<ExternalClaims> {
        let issuer = self
            .issuers
            .iter()
            .find(|i| same_issuer(&i.config.issuer, iss))
            .ok_or_else(|| GraphError::unauthenticated("Access token validation failure. Invalid issuer."))?;
        let header = jsonwebtoken::decode_header(token).map_err(|e| rejected(&e))?;
        let (alg, key) = self.key(issuer, header.kid.as_deref()).await?.ok_or_else(|| {
            GraphError::unauthenticated(
                "Access token validation failure. IDX10503: Signature validation failed. The token's kid is not one of the issuer's keys.",
            )
        })?;
        if header.alg != alg {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. The token's signing algorithm is not accepted.",
            ));
        }
        let mut validation = Validation::new(alg);
        validation.set_audience(&[issuer.config.audience.as_str()]);
        validation.set_issuer(&[iss]);
        validation.validate_nbf = true;
        validation.leeway = 60;
        Ok(jsonwebtoken::decode::<ExternalClaims>(token, &key, &validation).map_err(|e| rejected(&e))?.claims)
    }

    /// The key a token names, fetching the issuer's keys when it is not known yet. A token
    /// without a `kid` may use the issuer's only key.
    async fn key(&self, issuer: &Issuer, kid: Option<&str>) -> GraphResult<Option<(Algorithm, DecodingKey)>> {
        let lookup = || -> Option<(Algorithm, DecodingKey)> {
            let keys = issuer.keys.read().ok()?;
            match kid {
                Some(kid) => keys.get(kid).cloned(),
                None if keys.len() == 1 => keys.values().next().cloned(),
                None => None,
            }
        };
        if let Some(found) = lookup() {
            return Ok(Some(found));
        }
        let mut fetched = issuer.fetched.lock().await;
        // Another request may have fetched them while this one waited.
        if let Some(found) = lookup() {
            return Ok(Some(found));
        }
        let now = self.clock.now();
        if fetched.is_some_and(|at| now.saturating_duration_since(at) < self.refetch_after) {
            return Ok(None);
        }
        *fetched = Some(now);
        match self.fetch_keys(&issuer.config).await {
            Ok(keys) => {
                tracing::info!(issuer = %issuer.config.issuer, keys = keys.len(), "fetched the issuer's signing keys");
                if let Ok(mut k) = issuer.keys.write() {
                    *k = keys;
                }
            }
            Err(e) => {
                tracing::warn!(issuer = %issuer.config.issuer, cause = %e, "cannot fetch the issuer's signing keys")
            }
        }
        Ok(lookup())
    }

    async fn fetch_keys(&self, config: &OidcIssuer) -> Result<KeySet, String> {
        let url = match &config.jwks_url {
            Some(u) => u.clone(),
            None => {
                let discovery = format!("{}/.well-known/openid-configuration", config.issuer.trim_end_matches('/'));
                let doc: Value = self.get_json(&discovery).await?;
                doc["jwks_uri"].as_str().ok_or_else(|| format!("{discovery} names no jwks_uri"))?.to_owned()
            }
        };
        let jwks = self.get_json(&url).await?;
        Ok(key_set(&jwks))
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let resp = self.http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: {}", resp.status()));
        }
        resp.json().await.map_err(|e| format!("GET {url}: {e}"))
    }
}

/// The signing keys of a JWKS that Rolo accepts (RSA for RS256, P-256 for ES256), by `kid`.
/// Keys of other types, for encryption, or for other algorithms are skipped, not fatal.
fn key_set(jwks: &Value) -> KeySet {
    let mut set = KeySet::new();
    for raw in jwks["keys"].as_array().into_iter().flatten() {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else { continue };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let alg = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
            _ => continue,
        };
        let declared_ok = match jwk.common.key_algorithm {
            None => true,
            Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
            Some(_) => false,
        };
        if !declared_ok {
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            set.insert(jwk.common.key_id.clone().unwrap_or_default(), (alg, key));
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sets_keep_rsa_and_p256_signing_keys() {
        let jwks = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r", "use": "sig", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "rs512", "alg": "RS512", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "weird"}
        ]});
        let set = key_set(&jwks);
        let mut kids: Vec<&str> = set.keys().map(String::as_str).collect();
        kids.sort();
        assert_eq!(kids, vec!["e", "r"]);
        assert_eq!(set["r"].0, Algorithm::RS256);
        assert_eq!(set["e"].0, Algorithm::ES256);
    }

    #[test]
    fn claims_tell_app_only_from_delegated() {
        let app = ExternalClaims { roles: Some(vec!["Contacts.Read".into()]), ..Default::default() };
        assert!(app.is_app_only());
        let user = ExternalClaims { scope: Some("Contacts.Read".into()), roles: Some(vec![]), ..Default::default() };
        assert!(!user.is_app_only());
        assert_eq!(user.delegated_scopes(), Some("Contacts.Read"));
        let tagged = ExternalClaims { idtyp: Some("app".into()), scp: Some("x".into()), ..Default::default() };
        assert!(tagged.is_app_only());
        assert!(same_issuer("https://idp.example/", "https://idp.example"));
    }
}
