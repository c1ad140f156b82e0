//! The connection `call`, `funcs`, `describe` and `diff` share: token, TLS, timeout, one
//! request per connection (as toxiccore's client does).

use std::cell::Cell;
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tpp_rpc::{Client, ClientConnection, ClientError, Response};

use crate::args::{ConnArgs, Target};
use crate::failure::{from_client, CallContext, Failure, Phase};

/// A configured client for one target.
pub struct Session {
    client: Client,
    target: Target,
    tls: bool,
    server_name: Option<String>,
    token: Option<String>,
    fields: Map<String, Value>,
    timeout: Option<Duration>,
}

/// The token: `--token`, else `--token-file`'s first line, else `TPP_TOKEN`.
pub fn resolve_token(conn: &ConnArgs) -> Result<Option<String>, Failure> {
    if let Some(token) = &conn.token {
        if token.is_empty() {
            return Err(Failure::Usage("--token is empty".into()));
        }
        return Ok(Some(token.clone()));
    }
    if let Some(path) = &conn.token_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::Usage(format!(
                "cannot read the token file {}: {e}",
                path.display()
            ))
        })?;
        let line = text.lines().next().unwrap_or_default();
        if line.is_empty() {
            return Err(Failure::Usage(format!(
                "the token file {} has no token on its first line",
                path.display()
            )));
        }
        return Ok(Some(line.to_owned()));
    }
    match std::env::var("TPP_TOKEN") {
        Ok(token) if !token.is_empty() => Ok(Some(token)),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::Usage("TPP_TOKEN is not valid UTF-8".into()))
        }
    }
}

impl Session {
    /// Builds the client (reads the token and any CA file now).
    pub fn new(
        conn: &ConnArgs,
        target: &Target,
        fields: Map<String, Value>,
    ) -> Result<Session, Failure> {
        let token = resolve_token(conn)?;
        let mut builder = match &target.unix {
            Some(path) => Client::builder_unix(path),
            None => Client::builder(target.host.clone(), target.port),
        };
        if let Some(ca) = &conn.ca {
            builder = builder.tls_ca_file(ca);
        } else if let Some(pin) = &conn.pin {
            builder = builder.tls_pinned_cert_file(pin);
        } else if conn.insecure {
            builder = builder.tls_insecure();
        } else if conn.tls {
            builder = builder.tls();
        }
        if let Some(name) = &conn.server_name {
            builder = builder.server_name(name.clone());
        }
        if let (Some(cert), Some(key)) = (&conn.cert, &conn.key) {
            if !conn.uses_tls() {
                return Err(Failure::Usage(
                    "--cert needs TLS: add --tls, --ca, --pin or -k".into(),
                ));
            }
            builder = builder.client_cert_pem_files(cert, key);
        }
        let client = builder.build().map_err(|e| match e {
            ClientError::TlsConfig(e) => Failure::Usage(format!("TLS: {e}")),
            other => Failure::Usage(other.to_string()),
        })?;
        Ok(Session {
            client,
            target: target.clone(),
            tls: conn.uses_tls(),
            server_name: conn.server_name.clone(),
            token,
            fields,
            timeout: conn.timeout.0,
        })
    }

    fn context<'a>(&'a self, action: &'a str) -> CallContext<'a> {
        CallContext {
            target: &self.target,
            tls: self.tls,
            name: self.server_name.as_deref().unwrap_or(&self.target.host),
            has_token: self.token.is_some(),
            action,
        }
    }

    async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        tpp_rpc::client::within_timeout(self.timeout, work).await
    }

    /// Connects, sends the request and reads one response, all within the timeout.
    pub async fn unary(&self, action: &str, body: &RawValue) -> Result<Response, Failure> {
        self.unary_open(action, body)
            .await
            .map(|(response, _)| response)
    }

    /// [`Session::unary`], also giving back the connection (to see whether more follows).
    pub async fn unary_open(
        &self,
        action: &str,
        body: &RawValue,
    ) -> Result<(Response, ClientConnection), Failure> {
        let phase = Cell::new(Phase::Connecting);
        let work = async {
            let mut conn = self.client.connect().await?;
            phase.set(Phase::Exchanging);
            conn.write_request(action, body, self.token.as_deref(), &self.fields)
                .await?;
            conn.get_response().await.map(|response| (response, conn))
        };
        self.bounded(work)
            .await
            .map_err(|e| from_client(e, &self.context(action), phase.get()))
    }

    /// Connects and sends the request within the timeout, then hands each
    /// response to `each` until the server closes (or sends a `null` body).
    pub async fn stream(
        &self,
        action: &str,
        body: &RawValue,
        idle: Option<Duration>,
        mut each: impl FnMut(&Response) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        let phase = Cell::new(Phase::Connecting);
        let work = async {
            let mut conn = self.client.connect().await?;
            phase.set(Phase::Exchanging);
            conn.write_request(action, body, self.token.as_deref(), &self.fields)
                .await?;
            Ok(conn)
        };
        let conn = self
            .bounded(work)
            .await
            .map_err(|e| from_client(e, &self.context(action), phase.get()))?;
        let mut stream = conn.into_stream(idle);
        while let Some(item) = stream.next_response().await {
            let response =
                item.map_err(|e| from_client(e, &self.context(action), Phase::Streaming))?;
            each(&response)?;
        }
        Ok(())
    }
}

/// The result to print: `body[action]`, or the whole body with `--raw`.
pub fn result_json(response: &Response, action: &str, raw: bool) -> Result<String, Failure> {
    if raw {
        return Ok(response.body_json().to_owned());
    }
    match response.action_result::<Box<RawValue>>(action) {
        Ok(Some(value)) => Ok(value.get().to_owned()),
        Ok(None) | Err(_) => {
            let body = response.body_json();
            let shown: String = body.chars().take(200).collect();
            let more = if shown.len() < body.len() { "…" } else { "" };
            Err(Failure::Protocol(format!(
                "the response body has no {action:?} key: {shown}{more}\n  \
                 print the whole body with --raw"
            )))
        }
    }
}
