//! TLS configuration helpers on top of rustls (the application's crypto
//! provider, else *ring*'s).
//!
//! The server takes a certificate chain and key from PEM files (or any
//! `rustls::ServerConfig`); the client validates certificates by default
//! against the system's roots, or custom CA roots, can pin the server's own
//! certificate instead (self-signed servers, authenticated), and skips
//! validation only when asked (toxiccore's `validate_cert=False`).
//! Configs are built once and shared by every connection.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    client::ResolvesClientCert,
    crypto::CryptoProvider,
    server::WebPkiClientVerifier,
    sign::CertifiedKey,
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
};

use super::Socket;
pub use super::{PeerCertificate, TlsError};

/// The crypto provider of every config built here: the one the application
/// installed for the process ([`CryptoProvider::install_default`], e.g.
/// aws-lc-rs's for post-quantum key exchange), else *ring*'s.
///
/// *ring* is the fallback because it builds with a C compiler alone (no
/// cmake, no Go), quickly, on every target rustls supports, and the `bcrypt`
/// feature already uses it; rustls 0.23.48 deprecates its constructor only to
/// point at post-quantum key exchange, which the provider above can supply.
fn provider() -> Arc<CryptoProvider> {
    if let Some(installed) = CryptoProvider::get_default() {
        return installed.clone();
    }
    #[allow(deprecated)]
    let ring = rustls::crypto::ring::default_provider();
    Arc::new(ring)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| {
            TlsError(format!(
                "cannot read certificates from {}: {e}",
                path.display()
            ))
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("bad certificate PEM in {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError(format!(
            "no certificate found in {}",
            path.display()
        )));
    }
    Ok(certs)
}

/// A server config from a PEM certificate chain and a PEM private key (PKCS#8,
/// PKCS#1 or SEC1), as toxiccore's `certfile`/`keyfile`.
pub fn server_config_from_pem_files(
    cert_file: impl AsRef<Path>,
    key_file: impl AsRef<Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certs(cert_file.as_ref())?;
    let key = read_key(key_file.as_ref())?;
    server_config(certs, key)
}

/// A server config from DER certificates and key.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_with_client_auth(certs, key, None)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        TlsError(format!(
            "cannot read a private key from {}: {e}",
            path.display()
        ))
    })
}

/// Whether a server asks its clients for a certificate (mutual TLS), and
/// the CA certificates it verifies them against.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    roots: Vec<CertificateDer<'static>>,
    required: bool,
}

impl ClientAuth {
    /// Every client must present a certificate issued by one of `ca`: the
    /// handshake fails otherwise (no certificate, another CA, expired).
    pub fn required(ca: Vec<CertificateDer<'static>>) -> Self {
        ClientAuth {
            roots: ca,
            required: true,
        }
    }

    /// A client may present a certificate (verified against `ca` when it
    /// does, the handshake failing if it is not valid) or none.
    pub fn optional(ca: Vec<CertificateDer<'static>>) -> Self {
        ClientAuth {
            roots: ca,
            required: false,
        }
    }

    /// [`required`](Self::required) with the CA certificates of a PEM file.
    pub fn required_pem_file(ca_file: impl AsRef<Path>) -> Result<Self, TlsError> {
        Ok(Self::required(read_certs(ca_file.as_ref())?))
    }

    /// [`optional`](Self::optional) with the CA certificates of a PEM file.
    pub fn optional_pem_file(ca_file: impl AsRef<Path>) -> Result<Self, TlsError> {
        Ok(Self::optional(read_certs(ca_file.as_ref())?))
    }

    /// Whether a client without a certificate is refused.
    pub fn is_required(&self) -> bool {
        self.required
    }
}

/// A server config from DER certificates and key that asks clients for a
/// certificate as `client_auth` says (`None`: it does not ask).
pub fn server_config_with_client_auth(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_auth: Option<&ClientAuth>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?;
    let builder = match client_auth {
        None => builder.with_no_client_auth(),
        Some(auth) => {
            let mut roots = RootCertStore::empty();
            for cert in &auth.roots {
                roots
                    .add(cert.clone())
                    .map_err(|e| TlsError(format!("unusable client CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth.required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError(format!("cannot verify client certificates: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError(format!("certificate and key do not fit: {e}")))?;
    Ok(Arc::new(config))
}

/// [`server_config_with_client_auth`] from PEM files.
pub fn server_config_from_pem_files_with_client_auth(
    cert_file: impl AsRef<Path>,
    key_file: impl AsRef<Path>,
    client_auth: Option<&ClientAuth>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certs(cert_file.as_ref())?;
    let key = read_key(key_file.as_ref())?;
    server_config_with_client_auth(certs, key, client_auth)
}

/// `config` presenting `certs` (the client's own certificate first) and
/// proving it holds `key` to servers that ask for a client certificate.
pub fn with_client_cert(
    config: &ClientConfig,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ClientConfig>, TlsError> {
    if certs.is_empty() {
        return Err(TlsError("no client certificate".into()));
    }
    let signing = config
        .crypto_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError(format!("unusable client key: {e}")))?;
    let certified = CertifiedKey::new(certs, signing);
    certified
        .keys_match()
        .map_err(|e| TlsError(format!("client certificate and key do not fit: {e}")))?;
    let mut config = config.clone();
    config.client_auth_cert_resolver = Arc::new(ClientCert(Arc::new(certified)));
    Ok(Arc::new(config))
}

/// [`with_client_cert`] from a PEM certificate chain and a PEM private key.
pub fn with_client_cert_pem_files(
    config: &ClientConfig,
    cert_file: impl AsRef<Path>,
    key_file: impl AsRef<Path>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let certs = read_certs(cert_file.as_ref())?;
    let key = read_key(key_file.as_ref())?;
    with_client_cert(config, certs, key)
}

/// Presents one certificate to every server that asks.
#[derive(Debug)]
struct ClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn client_config_with(roots: RootCertStore) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client config that validates server certificates against the
/// operating system's trusted roots.
pub fn client_config_system_roots() -> Result<Arc<ClientConfig>, TlsError> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        return Err(TlsError(
            "no trusted root certificates found on this system; use a CA file".into(),
        ));
    }
    client_config_with(roots)
}

/// A client config that trusts only the CA certificates in `pem_file`.
pub fn client_config_with_ca_file(
    pem_file: impl AsRef<Path>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let certs = read_certs(pem_file.as_ref())?;
    client_config_with_ca_certs(certs)
}

/// A client config that trusts only `certs`.
pub fn client_config_with_ca_certs(
    certs: Vec<CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| TlsError(format!("unusable CA certificate: {e}")))?;
    }
    client_config_with(roots)
}

/// A client config that accepts any server certificate: encryption without
/// authentication, for self-signed servers (toxiccore's `validate_cert=False`).
/// Handshake signatures are still checked.
pub fn client_config_insecure() -> Arc<ClientConfig> {
    let provider = provider();
    match relaxed_config(provider.clone(), None) {
        Ok(config) => config,
        // The ring provider supports the default versions; this cannot fail.
        Err(_) => Arc::new(
            ClientConfig::builder()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(RelaxedVerifier {
                    provider,
                    pinned: None,
                }))
                .with_no_client_auth(),
        ),
    }
}

/// A client config that accepts exactly the server certificates in
/// `pem_file` (certificate pinning): the server's own certificate must be one
/// of them, byte for byte. For self-signed servers, including certificates
/// marked as a CA (`openssl req -x509` makes those by default), which
/// [`client_config_with_ca_file`] refuses as a server's certificate.
///
/// The pin is the server's identity: the name, the validity period and the
/// issuer are not checked (replace the pin when the certificate changes).
/// Handshake signatures are checked, so the server must hold the key.
pub fn client_config_pinned_file(
    pem_file: impl AsRef<Path>,
) -> Result<Arc<ClientConfig>, TlsError> {
    client_config_pinned(read_certs(pem_file.as_ref())?)
}

/// A client config that accepts exactly the server certificates `certs`; see
/// [`client_config_pinned_file`].
pub fn client_config_pinned(
    certs: Vec<CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, TlsError> {
    if certs.is_empty() {
        return Err(TlsError("no certificate to pin".into()));
    }
    relaxed_config(provider(), Some(certs))
}

fn relaxed_config(
    provider: Arc<CryptoProvider>,
    pinned: Option<Vec<CertificateDer<'static>>>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RelaxedVerifier { provider, pinned }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts the pinned certificates, or any certificate when none are pinned;
/// handshake signatures are always verified.
#[derive(Debug)]
struct RelaxedVerifier {
    provider: Arc<CryptoProvider>,
    pinned: Option<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for RelaxedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pinned {
            Some(pinned) if !pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) => {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The name a client checks the server's certificate against.
pub(crate) type TlsName = ServerName<'static>;

/// `name` as a server name, or why it cannot be one.
pub(crate) fn tls_name(name: &str) -> Result<TlsName, TlsError> {
    ServerName::try_from(name.to_owned())
        .map_err(|e| TlsError(format!("invalid server name {name:?}: {e}")))
}

/// A server's side of the TLS handshake.
#[derive(Clone)]
pub(crate) struct Acceptor(tokio_rustls::TlsAcceptor);

impl Acceptor {
    pub(crate) fn new(config: Arc<ServerConfig>) -> Self {
        Self(tokio_rustls::TlsAcceptor::from(config))
    }

    pub(crate) async fn accept(&self, socket: Socket) -> io::Result<super::Stream> {
        let tls = self.0.accept(socket).await?;
        Ok(super::Stream::Tls(Box::new(tls.into())))
    }
}

/// A client's side of the TLS handshake, with the name to check by default.
#[derive(Clone)]
pub(crate) struct Connector {
    connector: tokio_rustls::TlsConnector,
    name: TlsName,
}

impl Connector {
    pub(crate) fn new(config: Arc<ClientConfig>, name: TlsName) -> Self {
        Self {
            connector: tokio_rustls::TlsConnector::from(config),
            name,
        }
    }

    /// The handshake, checking `name` (or the default one) in the certificate.
    pub(crate) async fn connect(
        &self,
        name: Option<&TlsName>,
        socket: Socket,
    ) -> io::Result<super::Stream> {
        let name = name.unwrap_or(&self.name).clone();
        let tls = self.connector.connect(name, socket).await?;
        Ok(super::Stream::Tls(Box::new(tls.into())))
    }
}

impl super::Stream {
    /// The certificate the client presented, verified (server side of a
    /// mutual TLS connection); `None` without TLS or without one.
    pub(crate) fn peer_certificate(&self) -> Option<PeerCertificate> {
        match self {
            super::Stream::Tls(tls) => match tls.as_ref() {
                tokio_rustls::TlsStream::Server(s) => {
                    PeerCertificate::from_chain(s.get_ref().1.peer_certificates())
                }
                tokio_rustls::TlsStream::Client(_) => None,
            },
            super::Stream::Plain(_) => None,
        }
    }
}
