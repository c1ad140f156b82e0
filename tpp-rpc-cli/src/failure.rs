//! Everything that can make `tpp` fail, as one message for a person and one
//! exit status for a script. Client errors are translated here, with a hint
//! where a flag would fix them (`--tls`, `--ca`, `--insecure`, `--timeout`).

use std::fmt;
use std::io;
use std::process::ExitCode;

use tpp_rpc::{ClientError, FrameError, TlsProblem};

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
    /// `tpp diff` found this many breaking changes (exit 1, already listed on stdout).
    Breaking(usize),
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
            Failure::Breaking(_) => 1,
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
            Failure::Breaking(1) => f.write_str("1 breaking change"),
            Failure::Breaking(n) => write!(f, "{n} breaking changes"),
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

/// The library's diagnosis of a failed handshake, with the flag that fixes it.
fn tls_failure(ctx: &CallContext<'_>, problem: TlsProblem) -> Failure {
    let addr = ctx.target;
    let hint = match &problem {
        TlsProblem::NotTls => {
            return Failure::Connection(format!(
                "{addr} does not answer in TLS (it closed the connection or answered in plain \
                 text during the handshake)\n  is it a TLS server? without TLS, drop \
                 --tls/--insecure/--ca/--pin"
            ))
        }
        TlsProblem::CaUsedAsServerCertificate => {
            "pin that certificate with --pin FILE, skip verification with --insecure, \
             or give the server a certificate signed by that CA and pass the CA with --ca FILE"
        }
        TlsProblem::NameMismatch => {
            "check HOST, or give the certificate's name with --server-name NAME"
        }
        TlsProblem::NotPinned => "check that --pin FILE holds the server's current certificate",
        TlsProblem::UntrustedIssuer
        | TlsProblem::Expired
        | TlsProblem::NotValidYet
        | TlsProblem::BadCertificate(_) => {
            "trust its CA with --ca FILE, pin a self-signed server's certificate with --pin FILE, \
             or skip verification with --insecure"
        }
        TlsProblem::Refused(_) | TlsProblem::Other(_) => "",
        _ => "",
    };
    let what = match &problem {
        TlsProblem::NameMismatch => format!(
            "the certificate of {addr} is not valid for the name {:?}",
            ctx.name
        ),
        TlsProblem::Other(what) => format!("TLS handshake with {addr} failed: {what}"),
        other => other
            .describe()
            .replace(
                "the server's certificate",
                &format!("the certificate of {addr}"),
            )
            .replace("the server refused", &format!("{addr} refused")),
    };
    if hint.is_empty() {
        Failure::Connection(what)
    } else {
        Failure::Connection(format!("{what}\n  {hint}"))
    }
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
        ClientError::Server { code, message, .. } => {
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
        ClientError::Tls { .. } => match e.tls_problem() {
            Some(problem) => tls_failure(ctx, problem),
            None => Failure::Connection(format!("{e}")),
        },
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
        ClientError::Config(e) => Failure::Other(format!("client settings: {e}")),
        // A kind of failure added to the library after this was written.
        other => Failure::Other(other.to_string()),
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
    use tpp_rpc::rustls::{self, CertificateError};

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
                data: None,
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
