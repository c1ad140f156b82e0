//! A test certificate authority: a CA and the certificates it issues (for
//! servers and for clients, valid or expired), as PEM files in a temporary
//! directory removed on drop.

use std::path::PathBuf;

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};

use crate::temp_dir;

/// A CA and certificates it issued, as PEM files in a temporary directory.
pub struct Pki {
    /// The directory holding every file.
    pub dir: PathBuf,
    /// The CA's certificate (PEM), what a peer trusts.
    pub ca: PathBuf,
    ca_cert: Certificate,
    ca_key: KeyPair,
}

impl Pki {
    /// A new CA named `"{tag} CA"`.
    pub fn new(tag: &str) -> Pki {
        let dir = temp_dir(tag);
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{tag} CA"));
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, cert.pem()).expect("write CA");
        Pki {
            dir,
            ca,
            ca_cert: cert,
            ca_key: key,
        }
    }

    /// A certificate for `cn` (with the SANs), valid now unless `expired`:
    /// its (cert, key) files.
    pub fn issue(&self, cn: &str, sans: &[&str], expired: bool) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("certificate params");
        params.distinguished_name.push(DnType::CommonName, cn);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .expect("sign");
        let (c, k) = (
            self.dir.join(format!("{cn}.pem")),
            self.dir.join(format!("{cn}.key")),
        );
        std::fs::write(&c, cert.pem()).expect("write certificate");
        std::fs::write(&k, key.serialize_pem()).expect("write key");
        (c, k)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
