//! TLS over real sockets: certificates made at test time, validation on by
//! default, plaintext/TLS mismatches, and the server serving others meanwhile.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tpp_rpc::{Client, ClientError, Connection, Handler, Server};
use tpp_tests::*;

struct Echo;

impl Handler for Echo {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        let secure = conn.context().is_tls();
        let request = conn.request().clone();
        conn.send_result(&json!({"tls": secure, "body": request.body_raw()?}))
            .await
    }
}

async fn tls_server(cert: &TestCert) -> Running {
    start(
        Server::builder()
            .token("tok")
            .tls_pem_files(&cert.cert, &cert.key)
            .read_timeout(Duration::from_secs(2)),
        Echo,
    )
    .await
}

/// The error of an `echo` call through `c`, which must fail in the TLS
/// handshake.
async fn handshake_error(c: &Client) -> ClientError {
    let err = within(c.request2server::<_, Value>("echo", &1))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err:?}");
    err
}

#[tokio::test]
async fn tls_with_the_ca_file_and_with_validation_off() {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    for host in ["127.0.0.1", "localhost"] {
        let c = Client::builder(host, server.port())
            .token("tok")
            .tls_ca_file(&cert.cert)
            .timeout(WAIT)
            .build()
            .unwrap();
        let v: Value = within(c.request2server("echo", &json!({"x": "é"})))
            .await
            .unwrap();
        assert_eq!(v, json!({"tls": true, "body": {"x": "é"}}));
    }
    let insecure = client_builder(server.port())
        .tls_insecure()
        .build()
        .unwrap();
    let big = "x".repeat(1 << 20);
    let v: Value = within(insecure.request2server("echo", &big)).await.unwrap();
    assert_eq!(v["body"].as_str().map(str::len), Some(1 << 20));
    server.stop().await;
}

#[tokio::test]
async fn a_pinned_certificate_authenticates_a_self_signed_server() {
    let cert = TestCert::self_signed_ca();
    let other = TestCert::new();
    let server = tls_server(&cert).await;
    // Trusted as a CA, a CA-marked certificate is still refused as the server's own.
    let c = client_builder(server.port())
        .tls_ca_file(&cert.cert)
        .build()
        .unwrap();
    let err = handshake_error(&c).await;
    assert!(format!("{err:?}").contains("CaUsedAsEndEntity"), "{err:?}");
    // The message says what it is and what fixes it, without rustls' internals.
    assert_eq!(
        err.tls_problem(),
        Some(tpp_rpc::TlsProblem::CaUsedAsServerCertificate)
    );
    let text = err.to_string();
    assert!(text.contains("is a CA certificate"), "{text}");
    assert!(text.contains("tls_pinned_cert_file"), "{text}");
    assert!(!text.contains("OtherError"), "no rustls internals: {text}");
    // Pinned, it is accepted, under any name (the pin is the identity).
    for name in ["localhost", "example.org"] {
        let c = client_builder(server.port())
            .tls_pinned_cert_file(&cert.cert)
            .server_name(name)
            .build()
            .unwrap();
        let v: Value = within(c.request2server("echo", &json!([1, "é"])))
            .await
            .unwrap();
        assert_eq!(v, json!({"tls": true, "body": [1, "é"]}));
    }
    // Pinned to another certificate: refused.
    let c = client_builder(server.port())
        .tls_pinned_cert_file(&other.cert)
        .build()
        .unwrap();
    let err = handshake_error(&c).await;
    assert!(
        matches!(
            err.tls_error(),
            Some(tpp_rpc::rustls::Error::InvalidCertificate(
                tpp_rpc::rustls::CertificateError::ApplicationVerificationFailure
            ))
        ),
        "{err:?}"
    );
    // A missing pin file fails when the client is built, not later.
    let missing = other.dir.join("missing.pem");
    assert!(client_builder(server.port())
        .tls_pinned_cert_file(&missing)
        .build()
        .is_err());
    server.stop().await;
}

#[tokio::test]
async fn validation_is_on_by_default_and_fails_clearly() {
    let cert = TestCert::new();
    let other = TestCert::new();
    let server = tls_server(&cert).await;
    // Trusting another CA: the self-signed certificate is refused.
    let c = client_builder(server.port())
        .tls_ca_file(&other.cert)
        .build()
        .unwrap();
    let err = handshake_error(&c).await;
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(
        matches!(
            err.tls_error(),
            Some(tpp_rpc::rustls::Error::InvalidCertificate(_))
        ),
        "{err:?}"
    );
    // A name the certificate does not carry.
    let c = client_builder(server.port())
        .tls_ca_file(&cert.cert)
        .server_name("example.org")
        .build()
        .unwrap();
    handshake_error(&c).await;
    // The default (system roots, where the machine has any) refuses it too.
    if let Ok(c) = client_builder(server.port()).tls().build() {
        handshake_error(&c).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn plaintext_on_a_tls_port_and_tls_on_a_plain_port_fail_and_others_are_served() {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    // A plaintext request on the TLS port gets nothing back and is closed.
    let mut s = within(TcpStream::connect(server.addr)).await.unwrap();
    within(s.write_all(&frame(r#"{"token":"tok","action":"echo","body":1}"#)))
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = within(s.read_to_end(&mut out)).await;
    assert!(
        !out.starts_with(b"{") && split_frame(&out).is_none(),
        "no TPP answer in plaintext: {out:?}"
    );
    // A TLS client against a plain server fails the handshake.
    let plain = start(Server::builder().token("tok"), Echo).await;
    let c = client_builder(plain.port()).tls_insecure().build().unwrap();
    handshake_error(&c).await;
    // Both servers still serve well-behaved clients.
    let good = client_builder(server.port())
        .tls_insecure()
        .build()
        .unwrap();
    let v: Value = within(good.request2server("echo", &2)).await.unwrap();
    assert_eq!(v["body"], 2);
    let v: Value = within(
        Client::builder("127.0.0.1", plain.port())
            .token("tok")
            .build()
            .unwrap()
            .request2server("echo", &3),
    )
    .await
    .unwrap();
    assert_eq!(v, json!({"tls": false, "body": 3}));
    server.stop().await;
    plain.stop().await;
}

#[tokio::test]
async fn a_silent_tls_peer_is_closed_by_the_read_timeout() {
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    let mut s = within(TcpStream::connect(server.addr)).await.unwrap();
    let mut buf = [0u8; 16];
    let started = std::time::Instant::now();
    let n = within(s.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(1500));
    server.stop().await;
}

#[tokio::test]
async fn tls_config_errors_are_clear() {
    let err = Client::builder("127.0.0.1", 1)
        .tls_ca_file("/nonexistent/ca.pem")
        .build()
        .err()
        .unwrap();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    let dir = temp_dir("badpem");
    let bad = dir.join("bad.pem");
    std::fs::write(&bad, "not a pem").unwrap();
    let err = Client::builder("127.0.0.1", 1)
        .tls_ca_file(&bad)
        .build()
        .err()
        .unwrap();
    assert!(err.to_string().contains("no certificate"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The library's messages explain TLS failures and name the client setting that fixes them,
/// as the `tpp` command does with its flags.
#[tokio::test]
async fn tls_failures_explain_themselves() {
    // (A CA:TRUE certificate given as the CA: see the pinning test.)
    let cert = TestCert::new();
    let server = tls_server(&cert).await;
    // A self-signed certificate without any CA trusted: the system roots.
    let c = client_builder(server.port())
        .tls()
        .server_name("localhost")
        .build()
        .unwrap();
    let err = handshake_error(&c).await;
    assert_eq!(
        err.tls_problem(),
        Some(tpp_rpc::TlsProblem::UntrustedIssuer)
    );
    assert!(err.to_string().contains("tls_ca_file"), "{err}");

    // A client without TLS on the TLS port: said once, with the fix.
    let c = client(server.port());
    let err = within(c.request("echo", &1)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ClientError::ClosedMidMessage(_) | ClientError::Closed),
        "{err:?}"
    );
    assert!(text.contains("enable TLS"), "{text}");
    assert!(text.matches("mid-message").count() <= 1, "{text}");
    assert_eq!(
        text.matches("closed").count(),
        1,
        "said once, not twice: {text}"
    );
    server.stop().await;
}
