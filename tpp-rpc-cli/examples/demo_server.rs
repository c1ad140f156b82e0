//! A small toxicbuild-like service to try `tpp` against (the README's session).
//!
//! ```text
//! cargo run -p tpp-rpc-cli --example demo_server -- [PORT] [CERT.pem KEY.pem]
//! ```
//!
//! Listens on 127.0.0.1:PORT (default 7777), with TLS when given a certificate
//! and key. The token is `$TPP_TOKEN`, or `demo-token`. Actions:
//! `repo-add`, `repo-list`, `build` (a stream) and `list-funcs`.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tpp_rpc::service::{answer_list_funcs, answer_unknown_action, LIST_FUNCS};
use tpp_rpc::{ActionInfo, ActionKind, Connection, Handler, ParamInfo, Server};

static ACTIONS: &[ActionInfo] = &[
    ActionInfo {
        name: "repo-add",
        method: "repo_add",
        doc: "Adds a repository.\n\nIts owner is the request's user_id field.",
        params: &[
            ParamInfo {
                name: "repo_name",
                required: true,
                default: None,
                ty: "String",
            },
            ParamInfo {
                name: "repo_url",
                required: true,
                default: None,
                ty: "String",
            },
            ParamInfo {
                name: "update_seconds",
                required: false,
                default: Some("300"),
                ty: "u64",
            },
            ParamInfo {
                name: "vcs_type",
                required: false,
                default: Some("\"git\""),
                ty: "String",
            },
        ],
        kind: ActionKind::Unary,
    },
    ActionInfo {
        name: "repo-list",
        method: "repo_list",
        doc: "Lists the repositories.",
        params: &[],
        kind: ActionKind::Unary,
    },
    ActionInfo {
        name: "build",
        method: "build",
        doc: "Builds a repository, streaming one message per step.",
        params: &[
            ParamInfo {
                name: "repo_name",
                required: true,
                default: None,
                ty: "String",
            },
            ParamInfo {
                name: "steps",
                required: false,
                default: Some("3"),
                ty: "u32",
            },
        ],
        kind: ActionKind::Stream,
    },
];

#[derive(Clone, Serialize, Deserialize)]
struct Repo {
    repo_name: String,
    repo_url: String,
    #[serde(default = "default_update")]
    update_seconds: u64,
    #[serde(default = "default_vcs")]
    vcs_type: String,
    #[serde(default)]
    owner: Option<serde_json::Value>,
}

fn default_update() -> u64 {
    300
}

fn default_vcs() -> String {
    "git".into()
}

#[derive(Deserialize)]
struct Build {
    repo_name: String,
    #[serde(default = "three")]
    steps: u32,
}

fn three() -> u32 {
    3
}

#[derive(Default)]
struct Hole {
    repos: Mutex<Vec<Repo>>,
}

impl Hole {
    fn has(&self, name: &str) -> bool {
        self.repos
            .lock()
            .is_ok_and(|r| r.iter().any(|x| x.repo_name == name))
    }
}

impl Handler for Hole {
    async fn handle(&self, conn: &mut Connection) -> Result<(), tpp_rpc::Error> {
        match conn.action() {
            "repo-add" => {
                let mut repo: Repo = conn.body()?;
                if self.has(&repo.repo_name) {
                    return conn.send_error(5, "repository already exists").await;
                }
                repo.owner = conn.context().extra("user_id").cloned();
                if let Ok(mut repos) = self.repos.lock() {
                    repos.push(repo.clone());
                }
                conn.send_result(&repo).await
            }
            "repo-list" => {
                let repos = self.repos.lock().map(|r| r.clone()).unwrap_or_default();
                conn.send_result(&repos).await
            }
            "build" => {
                let build: Build = conn.body()?;
                if !self.has(&build.repo_name) {
                    let message = format!("no repository named {:?}", build.repo_name);
                    return conn.send_error(4, &message).await;
                }
                for step in 1..=build.steps {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let status = if step == build.steps {
                        "success"
                    } else {
                        "running"
                    };
                    conn.send_response(0, &json!({"step": step, "status": status}))
                        .await?;
                }
                Ok(())
            }
            LIST_FUNCS => answer_list_funcs(conn, &[ACTIONS]).await,
            _ => answer_unknown_action(conn).await,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().map_or(Ok(7777), |p| p.parse())?;
    let token = std::env::var("TPP_TOKEN").unwrap_or_else(|_| "demo-token".into());
    let mut builder = Server::builder().token(&token);
    if let [_, cert, key] = args.as_slice() {
        builder = builder.tls_pem_files(cert, key);
    }
    let server = builder.bind(("127.0.0.1", port)).await?;
    eprintln!("demo server on {}", server.local_addr());
    server.serve(Hole::default()).await?;
    Ok(())
}
