//! Certificates made at test time (rcgen), for tests and benches only
//! (feature `test-pki`): a CA, and signed by it a server certificate for
//! `localhost` and 127.0.0.1, one for another name, and a client certificate.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::Path;

/// Writes `ca.pem`; `server.pem`/`.key` (localhost, 127.0.0.1);
/// `elsewhere.pem`/`.key` (api.example.test only); `client.pem`/`.key`.
pub fn write_test_pki(dir: &Path) -> std::io::Result<()> {
    let fail = |e: rcgen::Error| std::io::Error::other(e.to_string());
    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "tracesplit test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca.self_signed(&ca_key).map_err(fail)?;
    std::fs::write(dir.join("ca.pem"), ca.pem())?;
    for (stem, name, usage, ip) in [
        (
            "server",
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
            true,
        ),
        (
            "elsewhere",
            "api.example.test",
            ExtendedKeyUsagePurpose::ServerAuth,
            false,
        ),
        (
            "client",
            "runner",
            ExtendedKeyUsagePurpose::ClientAuth,
            false,
        ),
    ] {
        let key = KeyPair::generate().map_err(fail)?;
        let mut p = CertificateParams::new(vec![name.to_owned()]).map_err(fail)?;
        if ip {
            p.subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
        }
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca, &ca_key).map_err(fail)?;
        std::fs::write(dir.join(format!("{stem}.pem")), cert.pem())?;
        std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem())?;
    }
    Ok(())
}
