//! TLS material: an operator's certificate and key files (`--tls-cert`/`--tls-key`), or the
//! emulator's local certificate authority (`--tls`), made once in its directory and trusted by
//! the developer, which issues a certificate for `localhost`, `127.0.0.1` and `::1` at each start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The CA's certificate (what clients trust) and key (kept private, mode 0600) in the TLS directory.
pub const CA_CERT_FILE: &str = "rolo-ca.pem";
pub const CA_KEY_FILE: &str = "rolo-ca-key.pem";

/// A certificate chain and its private key, both PEM.
pub struct TlsPem {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

/// Reads `--tls-cert` and `--tls-key`; the error names the file that cannot be read.
pub fn read_files(cert: &Path, key: &Path) -> Result<TlsPem, String> {
    let read =
        |p: &Path, what: &str| std::fs::read(p).map_err(|e| format!("cannot read the TLS {what} {}: {e}", p.display()));
    Ok(TlsPem { cert: read(cert, "certificate")?, key: read(key, "key")? })
}

/// The local CA in `dir` and a fresh `localhost` certificate it signed. The CA is created on
/// the first call and reused afterwards, so a client trusts it once.
pub struct LocalCa {
    /// Where the CA certificate is, for the banner.
    pub ca_cert_path: PathBuf,
    /// Whether this call created it.
    pub created: bool,
    pub leaf: TlsPem,
}

/// The CA's identity. Signing a certificate needs the issuer's name and key identifier, which
/// rcgen derives from these parameters and the key, so rebuilding them from the stored key
/// issues certificates that chain to the stored CA certificate.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Rolo");
    name.push(DnType::CommonName, "Rolo local development CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(10 * 365);
    params
}

fn leaf_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "localhost");
    params.distinguished_name = name;
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    // Explicitly not a CA, with both key identifiers: Python 3.13's strict verification wants them.
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // Under Apple's 398-day limit for server certificates; a new one is issued at every start.
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(397);
    Ok(params)
}

/// Loads the CA from `dir`, or creates it there, and issues the `localhost` certificate.
pub fn local_ca(dir: &Path) -> Result<LocalCa, String> {
    // The banner's path goes into environment variables, which must not depend on a directory.
    let dir = &std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    let failed = |e: rcgen::Error| format!("cannot make the local certificate authority: {e}");
    let (ca_key, created) = match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            let pem = std::fs::read_to_string(&key_path)
                .map_err(|e| format!("cannot read the CA key {}: {e}", key_path.display()))?;
            let key = KeyPair::from_pem(&pem)
                .map_err(|e| format!("{} is not a usable private key: {e}", key_path.display()))?;
            (key, false)
        }
        (false, false) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let key = KeyPair::generate().map_err(failed)?;
            let cert = ca_params().self_signed(&key).map_err(failed)?;
            write_private(&key_path, key.serialize_pem().as_bytes())?;
            std::fs::write(&cert_path, cert.pem()).map_err(|e| format!("cannot write {}: {e}", cert_path.display()))?;
            (key, true)
        }
        _ => {
            return Err(format!(
                "{} and {} must both exist or both be absent; remove the one left to make a new CA",
                cert_path.display(),
                key_path.display()
            ))
        }
    };
    let ca = ca_params().self_signed(&ca_key).map_err(failed)?;
    let leaf_key = KeyPair::generate().map_err(failed)?;
    let leaf = leaf_params().map_err(failed)?.signed_by(&leaf_key, &ca, &ca_key).map_err(failed)?;
    Ok(LocalCa {
        ca_cert_path: cert_path,
        created,
        leaf: TlsPem { cert: leaf.pem().into_bytes(), key: leaf_key.serialize_pem().into_bytes() },
    })
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// How to trust the CA, for the banner.
pub fn trust_hint(ca: &Path) -> String {
    let ca = ca.display();
    format!(
        "TLS: certificates for localhost, 127.0.0.1 and ::1 from the local CA {ca}\n\
         Trust it: Python  SSL_CERT_FILE={ca} (httpx: the Graph SDK) and REQUESTS_CA_BUNDLE={ca} (requests: azure-identity, MSAL);\n\
         \x20          Node    NODE_EXTRA_CA_CERTS={ca};\n\
         \x20          system  Debian/Ubuntu: sudo cp {ca} /usr/local/share/ca-certificates/rolo-ca.crt && sudo update-ca-certificates;\n\
         \x20                  macOS: sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {ca}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_and_signs_a_usable_pair() {
        let dir = tempfile::tempdir().unwrap();
        let first = local_ca(dir.path()).unwrap();
        assert!(first.created);
        let ca_pem = std::fs::read(&first.ca_cert_path).unwrap();
        let second = local_ca(dir.path()).unwrap();
        assert!(!second.created);
        assert_eq!(std::fs::read(&second.ca_cert_path).unwrap(), ca_pem, "the CA is reused, not replaced");
        assert_ne!(first.leaf.cert, second.leaf.cert, "each start issues its own certificate");
        rolo_server::tls::server_config(&second.leaf.cert, &second.leaf.key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the CA key is private");
        }
    }

    #[test]
    fn half_a_ca_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CA_CERT_FILE), "x").unwrap();
        let e = local_ca(dir.path()).err().unwrap();
        assert!(e.contains("must both exist"), "{e}");
    }
}
