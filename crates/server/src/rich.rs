//! Rich notifications (`includeResourceData`): the resource's JSON is encrypted for the
//! subscriber as Graph does it. A fresh 32-byte key per notification encrypts the data with
//! AES-256-CBC (PKCS7 padding, the IV being the key's first 16 bytes); the key travels wrapped
//! with the certificate's RSA key (OAEP with SHA-1), and an HMAC-SHA256 of the ciphertext, keyed
//! with the same key, lets the receiver check it.

use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use rolo_domain::{GraphError, GraphResult};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPublicKey};
use serde_json::{json, Value};
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

/// A subscriber's certificate, ready to encrypt for.
pub struct Recipient {
    key: RsaPublicKey,
    /// Hex SHA-1 of the certificate's DER, as Graph reports it.
    pub thumbprint: String,
}

fn bad_certificate(why: &str) -> GraphError {
    GraphError::bad_request("InvalidRequest", format!("The encryptionCertificate is not valid: {why}."))
}

/// Reads a base64 DER X.509 certificate (PEM armour tolerated) holding an RSA key of 2048 to
/// 4096 bits.
pub fn recipient(certificate: &str) -> GraphResult<Recipient> {
    let b64: String = certificate
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD.decode(b64).map_err(|_| bad_certificate("it is not base64"))?;
    let cert = Certificate::from_der(&der).map_err(|_| bad_certificate("it is not an X.509 certificate"))?;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|_| bad_certificate("no public key"))?;
    let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| bad_certificate("its key is not an RSA key"))?;
    let bits = key.size() * 8;
    if !(2048..=4096).contains(&bits) {
        return Err(bad_certificate("its RSA key must have 2048 to 4096 bits"));
    }
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    let thumbprint = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    Ok(Recipient { key, thumbprint })
}

/// The `encryptedContent` of one notification.
pub fn encrypt(recipient: &Recipient, certificate_id: &str, data: &[u8]) -> GraphResult<Value> {
    let mut rng = rand::thread_rng();
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    let iv: [u8; 16] = key[..16].try_into().map_err(GraphError::internal)?;
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(data);
    let wrapped = recipient.key.encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), &key).map_err(GraphError::internal)?;
    let signature = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), &ciphertext);
    Ok(json!({
        "data": STANDARD.encode(&ciphertext),
        "dataKey": STANDARD.encode(&wrapped),
        "dataSignature": STANDARD.encode(signature.as_ref()),
        "encryptionCertificateId": certificate_id,
        "encryptionCertificateThumbprint": recipient.thumbprint,
    }))
}
