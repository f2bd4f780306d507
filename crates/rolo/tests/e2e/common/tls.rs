//! A test certificate authority and a certificate it signed for `localhost`, `127.0.0.1` and
//! `::1`, for servers the tests start over TLS.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

pub struct TestPki {
    pub ca_pem: String,
    pub leaf_pem: String,
    pub leaf_key_pem: String,
}

impl TestPki {
    pub fn new() -> TestPki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::default();
        ca.distinguished_name.push(DnType::CommonName, "Rolo test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca = ca.self_signed(&ca_key).expect("CA certificate");
        let key = KeyPair::generate().expect("leaf key");
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name.push(DnType::CommonName, "localhost");
        leaf.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into().expect("DNS name")),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ];
        leaf.is_ca = IsCa::ExplicitNoCa;
        leaf.use_authority_key_identifier_extension = true;
        let leaf = leaf.signed_by(&key, &ca, &ca_key).expect("leaf certificate");
        TestPki { ca_pem: ca.pem(), leaf_pem: leaf.pem(), leaf_key_pem: key.serialize_pem() }
    }
}
