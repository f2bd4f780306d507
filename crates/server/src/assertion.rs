//! Client assertions (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`):
//! a confidential client proves itself with a JWT signed by the key of a certificate it
//! registered (`rolo apps add --certificate FILE`), as with Microsoft's certificate credentials.
//! The JWT names the certificate by its SHA-1 (`x5t`) or SHA-256 (`x5t#S256`) thumbprint, is
//! issued by and about the client (`iss` = `sub` = client id), is addressed to the token endpoint
//! (`aud`), is short-lived, and is accepted once (`jti`).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rolo_domain::{GraphError, GraphResult};
use rolo_store::RegisteredApp;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use serde::Deserialize;
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

/// Clock skew allowed on `exp` and `nbf`, in seconds.
const LEEWAY: f64 = 60.0;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A registered certificate: its thumbprints (the digests' bytes) and RSA key.
pub struct ClientCertificate {
    x5t: Vec<u8>,
    x5t_s256: Vec<u8>,
    key: DecodingKey,
}

impl ClientCertificate {
    /// Reads a PEM (or bare base64 DER) X.509 certificate with an RSA key.
    pub fn parse(pem: &str) -> GraphResult<ClientCertificate> {
        let bad = |why: &str| GraphError::bad_request("BadRequest", format!("The certificate is not valid: {why}."));
        let b64: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD.decode(b64).map_err(|_| bad("it is not PEM or base64"))?;
        let cert = Certificate::from_der(&der).map_err(|_| bad("it is not an X.509 certificate"))?;
        let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|_| bad("no public key"))?;
        let rsa = RsaPublicKey::from_public_key_der(&spki).map_err(|_| bad("its key is not an RSA key"))?;
        let key = DecodingKey::from_rsa_components(
            &URL_SAFE_NO_PAD.encode(rsa.n().to_bytes_be()),
            &URL_SAFE_NO_PAD.encode(rsa.e().to_bytes_be()),
        )
        .map_err(|_| bad("its RSA key cannot be read"))?;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        let sha256 = ring::digest::digest(&ring::digest::SHA256, &der);
        Ok(ClientCertificate { x5t: sha1.as_ref().to_vec(), x5t_s256: sha256.as_ref().to_vec(), key })
    }
}

/// A thumbprint header's bytes. RFC 7515 says base64url without padding, but MSAL for Python
/// pads its `x5t#S256` (`urlsafe_b64encode`), and Microsoft accepts it: so padding and the
/// standard alphabet are accepted too.
fn thumbprint(header: &str) -> Option<Vec<u8>> {
    let normal: String = header
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(normal).ok()
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    /// NumericDate may have a fraction (RFC 7519 §2): MSAL for Python sends `time.time()` plus
    /// the lifetime, so `exp` and `nbf` are read as numbers and checked here, not by
    /// jsonwebtoken (which reads them as integers and refuses the assertion otherwise).
    exp: f64,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    jti: Option<String>,
}

/// Why an assertion was refused: the AADSTS code and text.
#[derive(Debug)]
pub struct Refused {
    pub code: u32,
    pub description: String,
}

fn refused(code: u32, description: impl Into<String>) -> Refused {
    Refused { code, description: description.into() }
}

/// Verifies `assertion` for `app`; `audiences` are the token endpoint URLs it may be addressed
/// to. Returns the assertion's `jti` and expiry, for the caller to accept it only once.
pub fn verify(app: &RegisteredApp, assertion: &str, audiences: &[String]) -> Result<(String, i64), Refused> {
    let Some(pem) = &app.certificate else {
        return Err(refused(
            700027,
            format!(
                "Client assertion failed signature validation. The application '{}' has no certificate registered.",
                app.client_id
            ),
        ));
    };
    let cert = ClientCertificate::parse(pem).map_err(|_| {
        refused(700027, "Client assertion failed signature validation. The registered certificate cannot be read.")
    })?;
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| refused(700027, "Client assertion failed signature validation. The assertion is not a JWT."))?;
    let names_ours = header.x5t.as_deref().and_then(thumbprint) == Some(cert.x5t.clone())
        || header.x5t_s256.as_deref().and_then(thumbprint) == Some(cert.x5t_s256.clone());
    if !names_ours {
        return Err(refused(
            700027,
            format!(
                "Client assertion failed signature validation. The key was not found: no certificate with thumbprint '{}' is registered for the application '{}'.",
                header.x5t.or(header.x5t_s256).unwrap_or_default(),
                app.client_id
            ),
        ));
    }
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(refused(
            700027,
            "Client assertion failed signature validation. Only RS256 and PS256 are accepted.",
        ));
    }
    let mut validation = Validation::new(header.alg);
    validation.set_audience(audiences);
    validation.set_required_spec_claims(&["aud", "iss", "sub"]);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &cert.key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidAudience => refused(
                700212,
                format!("No matching federated identity record found for presented assertion audience. The audience must be one of: {}.", audiences.join(", ")),
            ),
            _ => refused(700027, "Client assertion failed signature validation."),
        }
    })?;
    let c = data.claims;
    let now = crate::tokens::now() as f64;
    if c.exp + LEEWAY < now || c.nbf.is_some_and(|nbf| nbf - LEEWAY > now) {
        return Err(refused(700024, "Client assertion is not within its valid time range."));
    }
    if !c.iss.eq_ignore_ascii_case(&app.client_id) || !c.sub.eq_ignore_ascii_case(&app.client_id) {
        return Err(refused(
            700021,
            format!("Client assertion application identifier doesn't match 'client_id' parameter: 'iss' and 'sub' must be '{}'.", app.client_id),
        ));
    }
    let jti = c
        .jti
        .unwrap_or_else(|| URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, assertion.as_bytes())));
    Ok((format!("assertion:{}:{jti}", app.client_id.to_ascii_lowercase()), c.exp.ceil() as i64))
}
