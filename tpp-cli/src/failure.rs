//! Everything that can make `tpp` fail, as one message for a person and one
//! exit status for a script. Client errors are translated here, with a hint
//! where a flag would fix them (`--tls`, `--ca`, `--insecure`, `--timeout`).

use std::fmt;
use std::io;
use std::process::ExitCode;

use tpp::rustls::{self, CertificateError};
use tpp::{ClientError, FrameError};

use crate::args::Target;
use crate::body::BodyError;

/// Exit status: bad arguments.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: no usable connection.
pub const EXIT_CONNECTION: u8 = 3;
/// Exit status: an answer that is not what was expected.
pub const EXIT_PROTOCOL: u8 = 4;
/// Exit status base for server error codes 1..=99.
pub const EXIT_SERVER_BASE: u8 = 10;

/// A failure, classified by its exit status.
#[derive(Debug)]
pub enum Failure {
    /// The server answered `{"code": N, "body": {"error": M}}`.
    Server {
        /// N.
        code: i64,
        /// M.
        message: String,
        /// What could fix it, if known.
        hint: Option<String>,
    },
    /// Bad arguments (exit 2).
    Usage(String),
    /// No usable connection (exit 3).
    Connection(String),
    /// An unexpected answer (exit 4).
    Protocol(String),
    /// Anything else (exit 1).
    Other(String),
    /// Standard output was closed (`| head`): stop quietly.
    BrokenPipe,
}

impl Failure {
    /// The process's exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Server { code, .. } if (1..=99).contains(code) => {
                EXIT_SERVER_BASE + *code as u8
            }
            Failure::Server { .. } | Failure::Other(_) => 1,
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Connection(_) => EXIT_CONNECTION,
            Failure::Protocol(_) => EXIT_PROTOCOL,
            Failure::BrokenPipe => 0,
        }
    }

    /// Prints the failure on stderr (`error N: message` for a server error,
    /// `error: message` otherwise) and gives the exit status.
    pub fn report(&self) -> ExitCode {
        let color = crate::output::color_for(crate::args::ColorChoice::Auto, &io::stderr());
        let mut err = io::stderr().lock();
        let label = match self {
            Failure::BrokenPipe => return ExitCode::from(self.exit_code()),
            Failure::Server { code, .. } => format!("error {code}:"),
            _ => "error:".to_owned(),
        };
        let _ = crate::output::paint(&mut err, color, crate::output::style::ERROR, &label);
        let _ = io::Write::write_fmt(&mut err, format_args!(" {self}\n"));
        ExitCode::from(self.exit_code())
    }

    /// A write to stdout failed.
    pub fn output(e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Other(format!("cannot write the output: {e}"))
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Server {
                message,
                hint: None,
                ..
            } => f.write_str(message),
            Failure::Server {
                message,
                hint: Some(hint),
                ..
            } => write!(f, "{message}\n  {hint}"),
            Failure::Usage(m)
            | Failure::Connection(m)
            | Failure::Protocol(m)
            | Failure::Other(m) => f.write_str(m),
            Failure::BrokenPipe => f.write_str("output closed"),
        }
    }
}

impl From<BodyError> for Failure {
    fn from(e: BodyError) -> Failure {
        Failure::Usage(e.to_string())
    }
}

/// What the client was doing when it failed, for the hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// TCP connect and TLS handshake.
    Connecting,
    /// Sending the request and waiting for the (first) answer.
    Exchanging,
    /// Waiting for the next response of a stream.
    Streaming,
}

/// What a hint needs to know about the call.
pub struct CallContext<'a> {
    /// The server.
    pub target: &'a Target,
    /// Whether TLS was asked for.
    pub tls: bool,
    /// The name the certificate is checked against.
    pub name: &'a str,
    /// Whether a token was sent.
    pub has_token: bool,
    /// The action called.
    pub action: &'a str,
}

fn certificate_problem(e: &CertificateError, host: &str) -> (String, &'static str) {
    use CertificateError as C;
    let what = match e {
        C::UnknownIssuer => {
            "is not signed by a trusted authority (unknown issuer; self-signed?)".to_owned()
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            format!("is not valid for the name {host:?}")
        }
        C::Expired | C::ExpiredContext { .. } => "has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => "is not valid yet".to_owned(),
        C::Revoked => "is revoked".to_owned(),
        C::BadEncoding => "is badly encoded".to_owned(),
        C::BadSignature => "is not signed by a trusted authority (bad signature)".to_owned(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "is not meant for a TLS server".to_owned()
        }
        C::Other(other) if other.to_string() == "CaUsedAsEndEntity" => {
            return (
                "is a CA certificate (CA:TRUE, as `openssl req -x509` makes by default), \
                 which a TLS server may not use as its own"
                    .to_owned(),
                "pin that certificate with --pin FILE, skip verification with --insecure, \
                 or give the server a certificate signed by that CA and pass the CA with --ca FILE",
            );
        }
        C::ApplicationVerificationFailure => {
            return (
                "is not the pinned certificate".to_owned(),
                "check that --pin FILE holds the server's current certificate",
            );
        }
        C::Other(other) => format!("was refused: {}", words(&other.to_string())),
        other => format!("was refused: {}", words(&format!("{other:?}"))),
    };
    let hint = match e {
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "check HOST, or give the certificate's name with --server-name NAME"
        }
        _ => {
            "trust its CA with --ca FILE, pin a self-signed server's certificate with --pin FILE, \
             or skip verification with --insecure"
        }
    };
    (what, hint)
}

/// `UnknownRevocationStatus { … }` → `unknown revocation status`: a
/// readable name for a rustls/webpki error variant, without its fields.
fn words(debug_name: &str) -> String {
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

fn tls_failure(ctx: &CallContext<'_>, source: &io::Error) -> Failure {
    let addr = ctx.target;
    if source.kind() == io::ErrorKind::UnexpectedEof {
        return Failure::Connection(format!(
            "{addr} closed the connection during the TLS handshake\n  \
             is it a TLS server? without TLS, drop --tls/--insecure/--ca/--pin"
        ));
    }
    let rustls_error = source
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    let message = match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            let (what, hint) = certificate_problem(cert, ctx.name);
            format!("the certificate of {addr} {what}\n  {hint}")
        }
        Some(
            rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. },
        ) => format!(
            "{addr} does not answer in TLS: is it a plain TCP server? then drop --tls/--insecure/--ca/--pin"
        ),
        Some(rustls::Error::AlertReceived(alert)) => {
            format!(
                "{addr} refused the TLS handshake ({})",
                words(&format!("{alert:?}"))
            )
        }
        Some(other) => format!("TLS handshake with {addr} failed: {other}"),
        None => format!("TLS handshake with {addr} failed: {source}"),
    };
    Failure::Connection(message)
}

fn not_tls_hint(ctx: &CallContext<'_>) -> &'static str {
    if ctx.tls {
        ""
    } else {
        "\n  if it is a TLS server, add --tls (or --insecure, --ca FILE or --pin FILE)"
    }
}

/// Translates a client error.
pub fn from_client(e: ClientError, ctx: &CallContext<'_>, phase: Phase) -> Failure {
    let addr = ctx.target;
    match e {
        ClientError::Server { code, message } => {
            let hint = match code {
                2 if !ctx.has_token => {
                    Some("give a token with --token, --token-file or TPP_TOKEN".to_owned())
                }
                _ => None,
            };
            Failure::Server {
                code,
                message,
                hint,
            }
        }
        ClientError::Connect { source, .. } => {
            Failure::Connection(format!("cannot connect to {addr}: {}", io_reason(&source)))
        }
        ClientError::Tls { source, .. } => tls_failure(ctx, &source),
        ClientError::TlsConfig(e) => Failure::Usage(format!("TLS: {e}")),
        ClientError::Timeout(d) => {
            let during = match (phase, ctx.tls) {
                (Phase::Connecting, true) => format!(
                    " connecting to {addr} (TCP, then the TLS handshake)\n  \
                     if it is not a TLS server, drop --tls/--insecure/--ca/--pin"
                ),
                (Phase::Connecting, false) => format!(" connecting to {addr}"),
                (Phase::Exchanging, _) => format!(
                    " waiting for {addr} to answer {:?}\n  wait longer with --timeout (0 waits forever)",
                    ctx.action
                ),
                (Phase::Streaming, _) => format!(
                    " waiting for a message of the {:?} stream from {addr} (see --idle-timeout)",
                    ctx.action
                ),
            };
            Failure::Connection(format!("timed out after {}{during}", seconds(d)))
        }
        ClientError::Closed => Failure::Connection(format!(
            "{addr} closed the connection without answering{}",
            not_tls_hint(ctx)
        )),
        ClientError::NotSent(why) => {
            Failure::Connection(format!("the request to {addr} was not sent: {why}"))
        }
        ClientError::ClosedMidMessage(e) => {
            let what = match e {
                FrameError::Truncated { expected: 0, .. } => {
                    "in the middle of a message header".to_owned()
                }
                FrameError::Truncated { expected, received } => {
                    format!("after {received} of the {expected} bytes of a message")
                }
                other => format!("in the middle of a message ({other})"),
            };
            Failure::Connection(format!(
                "{addr} closed the connection {what}{}",
                not_tls_hint(ctx)
            ))
        }
        ClientError::Io(source) => Failure::Connection(format!(
            "connection to {addr} failed: {}{}",
            io_reason(&source),
            not_tls_hint(ctx)
        )),
        ClientError::Frame(e) => Failure::Protocol(format!(
            "{addr} did not answer in TPP: {e}{}",
            not_tls_hint(ctx)
        )),
        ClientError::BadResponse(e) => Failure::Protocol(format!("{addr} sent a {e}")),
        ClientError::MissingActionKey { action, body } => Failure::Protocol(format!(
            "the response has no {action:?} key: {body}\n  print the whole body with --raw"
        )),
        ClientError::Decode { action, source } => {
            Failure::Protocol(format!("cannot read the result of {action:?}: {source}"))
        }
        ClientError::Serialize(e) => Failure::Other(format!("cannot encode the request: {e}")),
    }
}

/// An I/O error's reason without Rust's "(os error N)" suffix.
fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A duration as a person writes it: `30s`, `2.5s`, `0.3s`.
pub fn seconds(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(target: &Target, tls: bool) -> CallContext<'_> {
        CallContext {
            target,
            tls,
            name: &target.host,
            has_token: false,
            action: "echo",
        }
    }

    #[test]
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
        let (what, hint) = certificate_problem(
            &CertificateError::Other(rustls::OtherError(std::sync::Arc::new(io::Error::other(
                "CaUsedAsEndEntity",
            )))),
            "h",
        );
        assert!(what.contains("CA certificate"), "{what}");
        assert!(hint.contains("--insecure"), "{hint}");
    }

    #[test]
    fn exit_codes() {
        let server = |code| Failure::Server {
            code,
            message: "m".into(),
            hint: None,
        };
        assert_eq!(server(1).exit_code(), 11);
        assert_eq!(server(3).exit_code(), 13);
        assert_eq!(server(99).exit_code(), 109);
        assert_eq!(server(100).exit_code(), 1);
        assert_eq!(server(-1).exit_code(), 1);
        assert_eq!(Failure::Usage("u".into()).exit_code(), 2);
        assert_eq!(Failure::Connection("c".into()).exit_code(), 3);
        assert_eq!(Failure::Protocol("p".into()).exit_code(), 4);
        assert_eq!(Failure::BrokenPipe.exit_code(), 0);
    }

    #[test]
    fn messages_name_the_fix() {
        let t: Target = "localhost:1".parse().unwrap();
        let f = from_client(ClientError::Closed, &ctx(&t, false), Phase::Exchanging);
        assert!(f.to_string().contains("--tls"), "{f}");
        let f = from_client(ClientError::Closed, &ctx(&t, true), Phase::Exchanging);
        assert!(!f.to_string().contains("--tls"), "{f}");
        let f = from_client(
            ClientError::Timeout(std::time::Duration::from_millis(300)),
            &ctx(&t, false),
            Phase::Exchanging,
        );
        assert_eq!(f.exit_code(), 3);
        assert!(f.to_string().starts_with("timed out after 0.3s"), "{f}");
        let f = from_client(
            ClientError::Server {
                code: 2,
                message: "No auth token".into(),
            },
            &ctx(&t, false),
            Phase::Exchanging,
        );
        assert_eq!(f.exit_code(), 12);
        assert!(f.to_string().contains("TPP_TOKEN"), "{f}");
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused (os error 111)");
        let f = from_client(
            ClientError::Connect {
                addr: "x".into(),
                source: refused,
            },
            &ctx(&t, false),
            Phase::Connecting,
        );
        assert_eq!(f.to_string(), "cannot connect to localhost:1: refused");
        let cert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let f = from_client(
            ClientError::Tls {
                addr: "x".into(),
                source: cert,
            },
            &ctx(&t, true),
            Phase::Connecting,
        );
        assert!(f.to_string().contains("--insecure"), "{f}");
        assert!(f.to_string().contains("--ca"), "{f}");
    }
}
