//! [`ClientError`]: every client-side failure, named, with a hint where a
//! setting of the client would fix it (TLS above all: the rustls error alone
//! rarely says what to do).

use std::fmt;
use std::io;
use std::time::Duration;

#[cfg(feature = "tls")]
use tokio_rustls::rustls::{self, CertificateError};

use crate::transport::TlsError;
use crate::wire::frame::FrameError;
use crate::wire::message::BadResponse;
use crate::wire::{ErrorData, ToxicError};

/// Everything that can go wrong on the client side, each failure named.
///
/// The messages say what to change where a client setting would fix the
/// failure, e.g. for a self-signed server certificate:
///
/// ```text
/// TLS handshake with 127.0.0.1:7777 failed: the server's certificate is a CA certificate
/// (CA:TRUE, as `openssl req -x509` makes by default), which a TLS server may not use as its
/// own; pin it with ClientBuilder::tls_pinned_cert_file, or skip verification with
/// ClientBuilder::tls_insecure, or give the server a certificate signed by that CA
/// ```
///
/// [`ClientError::tls_problem`] gives the same diagnosis as a value, for
/// programs with settings of their own (the `tpp` command names its flags).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The cause.
        source: io::Error,
    },
    /// The TLS handshake failed (certificate not trusted, name mismatch, not
    /// a TLS server…).
    #[error("TLS handshake with {addr} failed: {}", TlsDisplay(source))]
    Tls {
        /// `host:port`.
        addr: String,
        /// The cause; for certificate problems it wraps a `rustls::Error`.
        source: io::Error,
    },
    /// A setting of the [`ClientBuilder`](super::ClientBuilder) is unusable
    /// (named in the message).
    #[error("client configuration: {0}")]
    Config(String),
    /// The TLS configuration is unusable.
    #[error("TLS configuration: {0}")]
    TlsConfig(#[from] TlsError),
    /// The call took longer than its timeout, or a stream waited longer than
    /// its item timeout for the next item.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The server closed the connection before answering. The request had
    /// been sent, so it may have run.
    #[error(
        "connection closed by the server before a response (the request was sent and may have \
         run; a TLS server closes a client without TLS this way: if it is one, enable TLS with \
         ClientBuilder::tls or its variants)"
    )]
    Closed,
    /// The request was never sent: the pipelined connection it was queued
    /// on ended before its turn. It did not run; sending it again is safe.
    #[error("the request was not sent ({0}); it did not run")]
    NotSent(&'static str),
    /// The server closed the connection in the middle of a message.
    #[error("{}", ClosedMidMessageDisplay(.0))]
    ClosedMidMessage(FrameError),
    /// The server broke the framing.
    #[error("bad frame from the server: {0}")]
    Frame(FrameError),
    /// The response is not a JSON object with a usable code.
    #[error("bad response from the server: {0}")]
    BadResponse(#[from] BadResponse),
    /// The request could not be serialized.
    #[error("cannot serialize the request: {0}")]
    Serialize(serde_json::Error),
    /// A successful response's body has no key named after the action.
    #[error("the response body has no {action:?} key: {body}")]
    MissingActionKey {
        /// The action.
        action: String,
        /// The body received (cut to 200 bytes).
        body: String,
    },
    /// The result does not deserialize into the expected type.
    #[error("cannot decode the result of {action:?}: {source}")]
    Decode {
        /// The action.
        action: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// The server answered with an error code.
    #[error("server error {code}: {message}")]
    Server {
        /// The response code (> 0, or < 0 from odd servers).
        code: i64,
        /// `body["error"]`, or the bare string body.
        message: String,
        /// The error's variant and fields (`body["tpp_error"]`), when the server sent them.
        data: Option<Box<ErrorData>>,
    },
    /// An I/O error on an established connection.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl ClientError {
    /// Whether the connection was lost once the request was on its way
    /// (closed or reset before the whole answer came, or never sent from a
    /// pipelined connection that ended): the action may or may not have
    /// run. [`Client::request_idempotent`](super::Client::request_idempotent)
    /// sends those again; nothing else does.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            ClientError::Closed
                | ClientError::ClosedMidMessage(_)
                | ClientError::Io(_)
                | ClientError::NotSent(_)
        )
    }

    /// The server's response code, for [`ClientError::Server`].
    pub fn server_code(&self) -> Option<i64> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The server's message, for [`ClientError::Server`].
    pub fn server_message(&self) -> Option<&str> {
        match self {
            ClientError::Server { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The TLS failure behind [`ClientError::Tls`], when rustls reported one
    /// (an untrusted certificate, a name mismatch…).
    #[cfg(feature = "tls")]
    pub fn tls_error(&self) -> Option<&rustls::Error> {
        match self {
            ClientError::Tls { source, .. } => rustls_error(source),
            _ => None,
        }
    }

    /// What went wrong in a failed TLS handshake ([`ClientError::Tls`]), in
    /// terms of what would fix it.
    pub fn tls_problem(&self) -> Option<TlsProblem> {
        match self {
            ClientError::Tls { source, .. } => Some(TlsProblem::of(source)),
            _ => None,
        }
    }

    /// Turns a server error into the service's own error type, when that
    /// type knows the variant or the code ([`ToxicError::from_answer`]); anything else is
    /// given back unchanged. The generated clients do this for you: their
    /// methods return [`CallError`](crate::CallError).
    pub fn into_service_error<E: ToxicError>(self) -> Result<E, ClientError> {
        match &self {
            ClientError::Server {
                code,
                message,
                data,
            } => E::from_answer(*code, message, data.as_deref()).ok_or(self),
            _ => Err(self),
        }
    }

    /// The error's variant and fields, for a [`ClientError::Server`] whose answer carried
    /// them.
    pub fn server_data(&self) -> Option<&ErrorData> {
        match self {
            ClientError::Server { data, .. } => data.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn from_frame(e: FrameError) -> Self {
        match e {
            FrameError::Io(e) => ClientError::Io(e),
            e @ FrameError::Truncated { .. } => ClientError::ClosedMidMessage(e),
            e => ClientError::Frame(e),
        }
    }
}

#[cfg(feature = "tls")]
fn rustls_error(source: &io::Error) -> Option<&rustls::Error> {
    source
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
}

/// Why a TLS handshake failed, classified by what fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server closed the connection or answered something that is not
    /// TLS: it is probably a plain TCP server.
    NotTls,
    /// The server's certificate is a CA certificate (`CA:TRUE`, as
    /// `openssl req -x509` makes by default), which rustls refuses as a
    /// server's own certificate, even when it is the trusted CA itself.
    CaUsedAsServerCertificate,
    /// The certificate is not signed by a trusted authority (self-signed, or
    /// another CA).
    UntrustedIssuer,
    /// The certificate is not valid for the name the client checks.
    NameMismatch,
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet.
    NotValidYet,
    /// The certificate is not the pinned one.
    NotPinned,
    /// The server refused the handshake with this alert.
    Refused(String),
    /// Another certificate problem, in words.
    BadCertificate(String),
    /// Anything else, in words.
    Other(String),
}

impl TlsProblem {
    fn of(source: &io::Error) -> TlsProblem {
        if source.kind() == io::ErrorKind::UnexpectedEof {
            return TlsProblem::NotTls;
        }
        #[cfg(not(feature = "tls"))]
        return TlsProblem::Other(source.to_string());
        #[cfg(feature = "tls")]
        match rustls_error(source) {
            Some(rustls::Error::InvalidCertificate(cert)) => Self::of_certificate(cert),
            Some(
                rustls::Error::InvalidMessage(_)
                | rustls::Error::InappropriateMessage { .. }
                | rustls::Error::InappropriateHandshakeMessage { .. },
            ) => TlsProblem::NotTls,
            Some(rustls::Error::AlertReceived(alert)) => {
                TlsProblem::Refused(words(&format!("{alert:?}")))
            }
            Some(other) => TlsProblem::Other(other.to_string()),
            None => TlsProblem::Other(source.to_string()),
        }
    }

    #[cfg(feature = "tls")]
    fn of_certificate(e: &CertificateError) -> TlsProblem {
        use CertificateError as C;
        match e {
            C::UnknownIssuer | C::BadSignature => TlsProblem::UntrustedIssuer,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::NameMismatch,
            C::Expired | C::ExpiredContext { .. } => TlsProblem::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => TlsProblem::NotValidYet,
            C::ApplicationVerificationFailure => TlsProblem::NotPinned,
            C::Other(other) if other.to_string() == "CaUsedAsEndEntity" => {
                TlsProblem::CaUsedAsServerCertificate
            }
            C::Revoked => TlsProblem::BadCertificate("is revoked".to_owned()),
            C::BadEncoding => TlsProblem::BadCertificate("is badly encoded".to_owned()),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                TlsProblem::BadCertificate("is not meant for a TLS server".to_owned())
            }
            C::Other(other) => {
                TlsProblem::BadCertificate(format!("was refused: {}", words(&other.to_string())))
            }
            other => {
                TlsProblem::BadCertificate(format!("was refused: {}", words(&format!("{other:?}"))))
            }
        }
    }

    /// What happened, as the end of a sentence about the server
    /// ("the server's certificate is not valid for the name checked").
    pub fn describe(&self) -> String {
        match self {
            TlsProblem::NotTls => {
                "the server does not speak TLS (it closed the connection or answered in \
                 plain text during the handshake)"
                    .to_owned()
            }
            TlsProblem::CaUsedAsServerCertificate => {
                "the server's certificate is a CA certificate (CA:TRUE, as `openssl req -x509` \
                 makes by default), which a TLS server may not use as its own"
                    .to_owned()
            }
            TlsProblem::UntrustedIssuer => {
                "the server's certificate is not signed by a trusted authority (unknown \
                 issuer; self-signed?)"
                    .to_owned()
            }
            TlsProblem::NameMismatch => {
                "the server's certificate is not valid for the name checked".to_owned()
            }
            TlsProblem::Expired => "the server's certificate has expired".to_owned(),
            TlsProblem::NotValidYet => "the server's certificate is not valid yet".to_owned(),
            TlsProblem::NotPinned => {
                "the server's certificate is not the pinned certificate".to_owned()
            }
            TlsProblem::Refused(alert) => format!("the server refused the handshake ({alert})"),
            TlsProblem::BadCertificate(what) => format!("the server's certificate {what}"),
            TlsProblem::Other(what) => what.clone(),
        }
    }

    /// What to change on the [`ClientBuilder`](crate::ClientBuilder), if
    /// anything.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            TlsProblem::NotTls => "if it is a plain TCP server, build the client without TLS",
            TlsProblem::CaUsedAsServerCertificate => {
                "pin it with ClientBuilder::tls_pinned_cert_file, skip verification with \
                 ClientBuilder::tls_insecure, or give the server a certificate signed by that CA"
            }
            TlsProblem::UntrustedIssuer | TlsProblem::Expired | TlsProblem::NotValidYet => {
                "trust its CA with ClientBuilder::tls_ca_file, pin a self-signed server's \
                 certificate with ClientBuilder::tls_pinned_cert_file, or skip verification \
                 with ClientBuilder::tls_insecure"
            }
            TlsProblem::NameMismatch => {
                "check the host, or give the certificate's name with ClientBuilder::server_name"
            }
            TlsProblem::NotPinned => {
                "check that the pinned file holds the server's current certificate"
            }
            TlsProblem::Refused(_) | TlsProblem::BadCertificate(_) | TlsProblem::Other(_) => {
                return None
            }
        })
    }
}

struct TlsDisplay<'a>(&'a io::Error);

impl fmt::Display for TlsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = TlsProblem::of(self.0);
        f.write_str(&problem.describe())?;
        match problem.hint() {
            Some(hint) => write!(f, "; {hint}"),
            None => Ok(()),
        }
    }
}

struct ClosedMidMessageDisplay<'a>(&'a FrameError);

impl fmt::Display for ClosedMidMessageDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            FrameError::Truncated { expected: 0, .. } => f.write_str(
                "connection closed mid-message (in a message header): the server is not a \
                 TPP server, or it expects TLS (a TLS server answers a client without TLS \
                 with an alert, then closes; enable TLS with ClientBuilder::tls or its variants)",
            ),
            FrameError::Truncated { expected, received } => write!(
                f,
                "connection closed mid-message: the server sent {received} of the {expected} \
                 bytes of a message"
            ),
            other => write!(f, "connection closed mid-message: {other}"),
        }
    }
}

/// `UnknownRevocationStatus { … }` → `unknown revocation status`: a
/// readable name for a rustls/webpki error variant, without its fields.
#[cfg(feature = "tls")]
pub(crate) fn words(debug_name: &str) -> String {
    let name = debug_name
        .split([' ', '(', '{'])
        .next()
        .unwrap_or(debug_name)
        .trim_end_matches("Context");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    if out.is_empty() {
        debug_name.to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "tls")]
    fn tls(error: rustls::Error) -> ClientError {
        ClientError::Tls {
            addr: "h:1".into(),
            source: io::Error::new(io::ErrorKind::InvalidData, error),
        }
    }

    #[test]
    #[cfg(feature = "tls")]
    fn error_names_read_as_words() {
        assert_eq!(
            words("UnknownRevocationStatus"),
            "unknown revocation status"
        );
        assert_eq!(
            words("UnsupportedSignatureAlgorithmContext { signature_algorithm_id: [1] }"),
            "unsupported signature algorithm"
        );
        assert_eq!(words(""), "");
    }

    #[test]
    #[cfg(feature = "tls")]
    fn certificate_problems_name_the_fix() {
        let ca = tls(rustls::Error::InvalidCertificate(CertificateError::Other(
            rustls::OtherError(std::sync::Arc::new(io::Error::other("CaUsedAsEndEntity"))),
        )));
        assert_eq!(
            ca.tls_problem(),
            Some(TlsProblem::CaUsedAsServerCertificate)
        );
        let text = ca.to_string();
        assert!(text.contains("CA certificate"), "{text}");
        assert!(text.contains("tls_pinned_cert_file"), "{text}");
        assert!(!text.contains("OtherError"), "{text}");

        let unknown = tls(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(unknown.tls_problem(), Some(TlsProblem::UntrustedIssuer));
        assert!(unknown.to_string().contains("tls_ca_file"), "{unknown}");

        let eof = ClientError::Tls {
            addr: "h:1".into(),
            source: io::Error::from(io::ErrorKind::UnexpectedEof),
        };
        assert_eq!(eof.tls_problem(), Some(TlsProblem::NotTls));
    }

    #[test]
    fn closed_mid_header_is_said_once_with_a_hint() {
        let e = ClientError::ClosedMidMessage(FrameError::Truncated {
            expected: 0,
            received: 0,
        });
        let text = e.to_string();
        assert_eq!(text.matches("closed").count(), 1, "{text}");
        assert!(text.contains("TLS"), "{text}");
        let e = ClientError::ClosedMidMessage(FrameError::Truncated {
            expected: 10,
            received: 3,
        });
        assert_eq!(
            e.to_string(),
            "connection closed mid-message: the server sent 3 of the 10 bytes of a message"
        );
    }
}
