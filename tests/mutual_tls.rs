//! Mutual TLS: a server verifying client certificates against a CA. The
//! certificate's name becomes the caller's identity (layers authorize by
//! it), the token is still checked, and a missing, expired or foreign
//! certificate is refused with an error naming why, on both sides. Also
//! from Python's `ssl` with a client certificate.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tpp_rpc::server::{Layer, Next};
use tpp_rpc::tls::ClientAuth;
use tpp_rpc::{BoxFuture, Client, ClientBuilder, Connection, Error, Handler, Server};
use tpp_tests::pki::Pki;
use tpp_tests::{reference_python, within, LogSink, Running, TOKEN};

/// `whoami`: the caller's identity and whether the certificate reached the context.
struct WhoAmI;

impl Handler for WhoAmI {
    async fn handle(&self, conn: &mut Connection) -> Result<(), Error> {
        let ctx = conn.context();
        let name = ctx.identity().map(|i| i.name().to_owned());
        let cert = ctx.peer_certificate().map(|c| !c.der().is_empty());
        let via_identity = ctx
            .identity()
            .and_then(|i| i.data::<tpp_rpc::tls::PeerCertificate>())
            .is_some();
        conn.send_result(&json!({"name": name, "cert": cert, "in_identity": via_identity}))
            .await
    }
}

/// Only `deployer` may call `deploy`.
struct Policy;

impl Layer for Policy {
    fn call<'a>(
        &'a self,
        conn: &'a mut Connection,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let caller = conn.context().identity().map(|i| i.name().to_owned());
            if conn.action() == "deploy" && caller.as_deref() != Some("deployer") {
                return conn.refuse(4, "not allowed").await;
            }
            next.run(conn).await
        })
    }
}

struct Setup {
    pki: Pki,
    server: Running,
}

async fn serve(auth: fn(&Path) -> ClientAuth) -> Setup {
    let pki = Pki::new("mtls");
    let (cert, key) = pki.issue("localhost", &["localhost"], false);
    let builder = Server::builder()
        .token(TOKEN)
        .tls_pem_files(cert, key)
        .client_auth(auth(&pki.ca))
        .layer(Policy);
    let server = tpp_tests::start(builder, WhoAmI).await;
    Setup { pki, server }
}

fn required(ca: &Path) -> ClientAuth {
    ClientAuth::required_pem_file(ca).unwrap()
}

fn optional(ca: &Path) -> ClientAuth {
    ClientAuth::optional_pem_file(ca).unwrap()
}

fn client(setup: &Setup) -> ClientBuilder {
    Client::builder("localhost", setup.server.port())
        .token(TOKEN)
        .tls_ca_file(&setup.pki.ca)
        .timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn the_client_certificate_names_the_caller_and_layers_authorize_by_it() {
    let setup = serve(required).await;
    let (cert, key) = setup.pki.issue("deployer", &["deployer.example"], false);
    let deployer = client(&setup)
        .client_cert_pem_files(&cert, &key)
        .build()
        .unwrap();
    let who: Value = within(deployer.request2server("whoami", &json!({})))
        .await
        .unwrap();
    assert_eq!(
        who,
        json!({"name": "deployer", "cert": true, "in_identity": true})
    );
    let _: Value = within(deployer.request2server("deploy", &json!({})))
        .await
        .unwrap();

    let (cert, key) = setup.pki.issue("reader", &[], false);
    let reader = client(&setup)
        .client_cert_pem_files(&cert, &key)
        .build()
        .unwrap();
    let err = within(reader.request2server::<_, Value>("deploy", &json!({})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err}");
}

#[tokio::test]
async fn a_certificate_does_not_replace_the_token() {
    let setup = serve(required).await;
    let (cert, key) = setup.pki.issue("deployer", &[], false);
    let wrong = client(&setup)
        .token("not-the-token")
        .client_cert_pem_files(&cert, &key)
        .build()
        .unwrap();
    let err = within(wrong.request2server::<_, Value>("whoami", &json!({})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Bad auth token"), "{err}");
}

/// The client's error for a refused certificate, and what the server logged.
async fn refused(setup: &Setup, builder: ClientBuilder) -> (String, String) {
    let (logs, _guard) = LogSink::capture(tracing::Level::DEBUG);
    let c = builder.build().unwrap();
    let err = within(c.request2server::<_, Value>("whoami", &json!({})))
        .await
        .unwrap_err();
    // The server's side of the handshake may end just after the client's.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !logs.text().contains("TLS handshake failed") && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = setup;
    (format!("{err:#}"), logs.text())
}

#[tokio::test(flavor = "current_thread")]
async fn no_certificate_is_refused_when_required() {
    let setup = serve(required).await;
    let (client_err, server_log) = refused(&setup, client(&setup)).await;
    assert!(
        client_err.contains("CertificateRequired"),
        "client: {client_err}"
    );
    assert!(
        server_log.contains("peer sent no certificates"),
        "server: {server_log}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_expired_certificate_is_refused() {
    let setup = serve(required).await;
    let (cert, key) = setup.pki.issue("old", &[], true);
    let (client_err, server_log) =
        refused(&setup, client(&setup).client_cert_pem_files(&cert, &key)).await;
    assert!(
        client_err.contains("CertificateExpired"),
        "client: {client_err}"
    );
    assert!(
        server_log.contains("certificate expired"),
        "server: {server_log}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_certificate_from_another_ca_is_refused() {
    let setup = serve(required).await;
    let other = Pki::new("other");
    let (cert, key) = other.issue("intruder", &[], false);
    let (client_err, server_log) =
        refused(&setup, client(&setup).client_cert_pem_files(&cert, &key)).await;
    assert!(client_err.contains("UnknownCA"), "client: {client_err}");
    assert!(server_log.contains("UnknownIssuer"), "server: {server_log}");
}

#[tokio::test]
async fn an_optional_certificate_may_be_absent_but_is_verified_when_present() {
    let setup = serve(optional).await;
    let anonymous = client(&setup).build().unwrap();
    let who: Value = within(anonymous.request2server("whoami", &json!({})))
        .await
        .unwrap();
    assert_eq!(
        who,
        json!({"name": null, "cert": null, "in_identity": false})
    );

    let (cert, key) = setup.pki.issue("svc-a", &[], false);
    let named = client(&setup)
        .client_cert_pem_files(&cert, &key)
        .build()
        .unwrap();
    let who: Value = within(named.request2server("whoami", &json!({})))
        .await
        .unwrap();
    assert_eq!(who["name"], "svc-a");

    let other = Pki::new("other-opt");
    let (cert, key) = other.issue("intruder", &[], false);
    let foreign = client(&setup)
        .client_cert_pem_files(&cert, &key)
        .build()
        .unwrap();
    let err = within(foreign.request2server::<_, Value>("whoami", &json!({})))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("UnknownCA"), "{err:#}");
}

#[tokio::test]
async fn client_auth_without_pem_files_is_a_configuration_error() {
    let pki = Pki::new("mtls-config");
    let err = Server::builder()
        .token(TOKEN)
        .client_auth(required(&pki.ca))
        .bind("127.0.0.1:0")
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("client_auth needs tls_pem_files"),
        "{err}"
    );
}

const PYTHON_MTLS: &str = r#"
import json, socket, ssl, sys
port, ca, cert, key, token = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
if cert:
    ctx.load_cert_chain(cert, key)
out = {}
try:
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            body = json.dumps({"token": token, "action": "whoami", "body": {}}).encode()
            s.sendall(str(len(body)).encode() + b"\n" + body)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    length, _, payload = data.partition(b"\n")
    out = {"ok": True, "response": json.loads(payload)}
except Exception as e:
    out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
print(json.dumps(out))
"#;

async fn python_client(python: &Path, port: u16, ca: &Path, cert: Option<(&Path, &Path)>) -> Value {
    let (cert, key) = cert
        .map(|(c, k)| (c.display().to_string(), k.display().to_string()))
        .unwrap_or_default();
    let child = tokio::process::Command::new(python)
        .args([
            "-c",
            PYTHON_MTLS,
            &port.to_string(),
            &ca.display().to_string(),
            &cert,
            &key,
            TOKEN,
        ])
        .kill_on_drop(true)
        .output();
    let out = within(child).await.expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "python said {stdout:?} ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test]
#[cfg_attr(not(tpp_python), ignore = "needs Python (TPP_PYTHON or .venv)")]
async fn python_ssl_with_a_client_certificate() {
    let python = reference_python("python_ssl_with_a_client_certificate");
    let setup = serve(required).await;
    let (cert, key) = setup.pki.issue("py-worker", &[], false);
    let port = setup.server.port();
    let answer = python_client(&python, port, &setup.pki.ca, Some((&cert, &key))).await;
    assert_eq!(
        answer,
        json!({"ok": true, "response": {"code": 0, "body": {"whoami": {"name": "py-worker", "cert": true, "in_identity": true}}}}),
    );
    // Without a certificate, Python's ssl reports the server's alert.
    let answer = python_client(&python, port, &setup.pki.ca, None).await;
    assert_eq!(answer["ok"], false, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains("CERTIFICATE_REQUIRED"), "{error}");
}
