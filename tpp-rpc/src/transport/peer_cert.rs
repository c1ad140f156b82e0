//! [`PeerCertificate`]: the client certificate a server verified (mutual
//! TLS), and the name it gives the caller.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;

/// The certificate chain a client presented and the server verified against
/// its client CA ([`ServerBuilder::client_auth`](crate::ServerBuilder::client_auth)),
/// shared by every request of the connection.
#[derive(Debug, Clone)]
pub struct PeerCertificate(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    chain: Vec<CertificateDer<'static>>,
    name: Option<String>,
}

impl PeerCertificate {
    /// `None` when the client presented none.
    pub(crate) fn from_chain(chain: Option<&[CertificateDer<'_>]>) -> Option<Self> {
        let chain: Vec<_> = chain?.iter().map(|c| c.clone().into_owned()).collect();
        let name = chain.first().and_then(|leaf| name_of(leaf));
        Some(PeerCertificate(Arc::new(Inner { chain, name })))
    }

    /// The client's own (end-entity) certificate, DER.
    pub fn der(&self) -> &CertificateDer<'static> {
        // A verified client always presents at least its own certificate.
        &self.0.chain[0]
    }

    /// The whole chain the client sent, its own certificate first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.0.chain
    }

    /// The caller's name: the subject's common name (CN), else the first DNS
    /// subject alternative name, else the first URI one; `None` when the
    /// certificate has none of those. It becomes the caller's
    /// [`Identity`](crate::Identity) name.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
}

fn name_of(leaf: &CertificateDer<'_>) -> Option<String> {
    let cert = webpki::EndEntityCert::try_from(leaf).ok()?;
    if let Some(cn) = common_name(cert.subject()) {
        return Some(cn);
    }
    let name = cert
        .valid_dns_names()
        .next()
        .or_else(|| cert.valid_uri_names().next());
    name.map(str::to_owned)
}

/// The first common name (OID 2.5.4.3) in a DER `Name`'s contents (the
/// `RDNSequence` without its outer tag, as webpki gives it).
fn common_name(mut rdns: &[u8]) -> Option<String> {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    while !rdns.is_empty() {
        let (set, rest) = der_item(rdns, 0x31)?;
        rdns = rest;
        let mut attrs = set;
        while !attrs.is_empty() {
            let (attr, rest) = der_item(attrs, 0x30)?;
            attrs = rest;
            let (oid, value) = der_item(attr, 0x06)?;
            if oid != CN {
                continue;
            }
            // UTF8String, PrintableString, IA5String, T61String (read as Latin-1 subset).
            let tag = *value.first()?;
            let (text, _) = der_item(value, tag)?;
            return match tag {
                0x0c | 0x13 | 0x16 | 0x14 => std::str::from_utf8(text).ok().map(str::to_owned),
                _ => None,
            };
        }
    }
    None
}

/// One DER item with tag `tag` at the start of `input`: its contents and
/// what follows. `None` on any malformed length.
fn der_item(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, mut rest) = rest.split_first()?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |l, &b| (l << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: Option<&str>, sans: Vec<String>) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(sans).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "tpp");
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn the_name_is_the_common_name_first() {
        let der = cert(Some("build-slave-1"), vec!["slave.example".into()]);
        assert_eq!(name_of(&der).as_deref(), Some("build-slave-1"));
    }

    #[test]
    fn without_a_common_name_the_first_dns_name() {
        let der = cert(None, vec!["a.example".into(), "b.example".into()]);
        assert_eq!(name_of(&der).as_deref(), Some("a.example"));
    }

    #[test]
    fn without_a_name_none() {
        let der = cert(None, vec![]);
        assert_eq!(name_of(&der), None);
    }

    #[test]
    fn malformed_der_gives_no_name() {
        assert_eq!(common_name(&[0x31, 0x85, 1, 2]), None);
        assert_eq!(common_name(&[0x31, 0x05, 0x30]), None);
        assert_eq!(name_of(&CertificateDer::from(vec![0x30, 0x01])), None);
    }
}
