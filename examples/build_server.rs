//! toxicbuild's build server ("slave", toxicbuild 0.7.0), modelled with `#[toxic_service]`,
//! and a client of it.
//!
//! ```text
//! cargo run --example build_server                          # server + client: builds both builders
//! cargo run --example build_server -- --serve 127.0.0.1:7111 # only the server (token: slave-token)
//! ```
//!
//! What the real server answers, and so this one (recorded from toxicbuild 0.7.0, replayed
//! against this example by `examples/tests/build_server_replay.rs`):
//!
//! ```text
//! -> {"action": "healthcheck", "token": "…"}
//! <- {"code": 0, "body": "I'm alive!"}                               (a bare string)
//! -> {"action": "list_builders", "body": {"repo_id", "repo_url", "vcs_type", "branch", "named_tree"}, …}
//! <- {"code": 0, "body": {"builders": ["ok-builder", "failing-builder"]}} (not wrapped in the action)
//! -> {"action": "build", "body": {…the same…, "builder_name": "failing-builder"}, …}
//! <- {"code": 0, "body": {"info_type": "build_info", "status": "running", "steps": [], …}}
//! <- {"code": 0, "body": {"info_type": "step_info", "status": "running", "index": 0, …}}
//! <- {"code": 0, "body": {"info_type": "step_output_info", "output": "preparing", …}}
//! <- {"code": 0, "body": {"info_type": "step_info", "status": "success", …}}
//! <- … the same for each step: a failing step is "status": "fail", the build goes on …
//! <- {"code": 0, "body": {"info_type": "build_info", "status": "fail", "steps": [all], "total_steps": 3}}
//! <- (connection closed)
//! ```
//!
//! Every frame of a build is code 0: a failing step is data, not an error code (unlike the
//! `build` example, whose failing step ends its stream with code 5). Errors are code 1
//! `{"error": …}` (an unknown builder, missing keys), 2 and 3 for the token; the server has
//! no `list-funcs` (`list_funcs = false`) and closes the connection after every request
//! (`keep_alive(false)`).
//!
//! Differences from the real server: it does not clone `repo_url` nor read the repository's
//! `toxicbuild.yml`; its builders are [`BUILDERS`] (the ones the recordings were made with),
//! whose steps run with `sh -c` in a fresh empty directory. Timestamps have toxicbuild's
//! format (`%w %m %d %H:%M:%S %Y %z`, in UTC).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tpp_rpc::{Client, ItemSender, ItemStream, Server};

/// The token of `--serve` and of the demo.
pub const TOKEN: &str = "slave-token";

/// How long one step may run before it is stopped (status "exception").
const STEP_TIMEOUT: Duration = Duration::from_secs(600);

/// A builder: a name and its steps, `(name, shell command)`.
pub struct BuilderConfig {
    /// The builder's name, as `list_builders` gives it and `build` takes it.
    pub name: &'static str,
    /// Its steps, in order.
    pub steps: &'static [(&'static str, &'static str)],
}

/// The builders of every repository (the real server reads them from the repository).
pub const BUILDERS: &[BuilderConfig] = &[
    BuilderConfig {
        name: "ok-builder",
        steps: &[
            ("say hello", "echo hello from toxicbuild"),
            ("count files", "ls | wc -l"),
        ],
    },
    BuilderConfig {
        name: "failing-builder",
        steps: &[
            ("prepare", "echo preparing"),
            ("failing step", "echo about to fail; echo oops >&2; exit 3"),
            ("after failure", "echo still runs"),
        ],
    },
];

/// The body of `build`: the repository at a commit, and the builder to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildRequest {
    /// The repository's id.
    pub repo_id: String,
    /// Where to clone it from.
    pub repo_url: String,
    /// `git`.
    pub vcs_type: String,
    /// The branch.
    pub branch: String,
    /// The commit.
    pub named_tree: String,
    /// Which builder to run.
    pub builder_name: String,
    /// Environment variables for every step.
    #[serde(default)]
    pub envvars: HashMap<String, String>,
}

/// The body of `list_builders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Builders {
    /// The builders' names.
    pub builders: Vec<String>,
}

/// One frame of a build, tagged by `info_type` as toxicbuild tags them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "info_type")]
pub enum BuildEvent {
    /// `build_info`: the build, first running (no steps), last finished (every step,
    /// `total_steps`).
    #[serde(rename = "build_info")]
    Build(BuildInfo),
    /// `step_info`: a step starting (`status: "running"`) or finished (`success`, `fail`,
    /// `exception`).
    #[serde(rename = "step_info")]
    Step(StepInfo),
    /// `step_output_info`: output of the running step.
    #[serde(rename = "step_output_info")]
    StepOutput(StepOutput),
}

/// A build's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The finished steps (empty while running).
    pub steps: Vec<ListedStep>,
    /// `running`, then `success` or `fail`.
    pub status: String,
    /// When it started.
    pub started: String,
    /// When it finished (`null` while running).
    pub finished: Option<String>,
    /// How many steps ran (only in the last frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_steps: Option<u32>,
}

/// A step's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepInfo {
    /// `running`, `success`, `fail` (the command exited non-zero) or `exception`.
    pub status: String,
    /// The shell command.
    pub cmd: String,
    /// The step's name.
    pub name: String,
    /// When it started.
    pub started: String,
    /// When it finished (`null` while running).
    pub finished: Option<String>,
    /// Its position in the builder, from 0.
    pub index: u32,
    /// Its whole output (stdout and stderr), empty while running.
    pub output: String,
    /// The step's id, the same in its output frames.
    pub uuid: String,
    /// Seconds it took (`null` while running).
    pub total_time: Option<u64>,
    /// When the previous step finished.
    pub last_step_finished: Option<String>,
    /// How the previous step ended.
    pub last_step_status: Option<String>,
}

/// A step in the finished build's list: a `step_info` with its tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListedStep {
    /// Always `step_info`.
    pub info_type: StepInfoTag,
    /// The step.
    #[serde(flatten)]
    pub step: StepInfo,
}

/// The `info_type` of a listed step.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub enum StepInfoTag {
    /// `"step_info"`.
    #[default]
    #[serde(rename = "step_info")]
    StepInfo,
}

/// Output of a running step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepOutput {
    /// The step's id.
    pub uuid: String,
    /// The position of this output in the step, from 0.
    pub output_index: u32,
    /// The text.
    pub output: String,
}

/// The build server's errors: code 1 `{"error": …}`, as toxicbuild's.
#[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
pub enum SlaveError {
    /// `build` named a builder the repository does not have.
    #[error("{0}")]
    #[toxic(code = 1)]
    BuilderNotFound(String),
}

/// toxicbuild's build server.
#[tpp_rpc::toxic_service(list_funcs = false)]
pub trait BuildServer {
    /// Whether the server is up: the bare string "I'm alive!".
    #[action(bare)]
    async fn healthcheck(&self) -> Result<String, SlaveError>;

    /// The builders of a repository at `named_tree` (a commit), as the whole body.
    #[action(bare)]
    async fn list_builders(
        &self,
        repo_id: String,
        repo_url: String,
        vcs_type: String,
        branch: String,
        named_tree: String,
    ) -> Result<Builders, SlaveError>;

    /// Runs a builder, streaming `build_info`, `step_info` and `step_output_info` frames.
    #[action(stream)]
    async fn build(
        &self,
        #[body] request: BuildRequest,
    ) -> Result<ItemStream<BuildEvent>, SlaveError>;
}

/// The server side: runs [`BUILDERS`].
pub struct Slave;

impl BuildServer for Slave {
    async fn healthcheck(&self) -> Result<String, SlaveError> {
        Ok("I'm alive!".to_owned())
    }

    async fn list_builders(
        &self,
        _repo_id: String,
        _repo_url: String,
        _vcs_type: String,
        _branch: String,
        _named_tree: String,
    ) -> Result<Builders, SlaveError> {
        Ok(Builders {
            builders: BUILDERS.iter().map(|b| b.name.to_owned()).collect(),
        })
    }

    async fn build(&self, request: BuildRequest) -> Result<ItemStream<BuildEvent>, SlaveError> {
        let Some(builder) = BUILDERS.iter().find(|b| b.name == request.builder_name) else {
            return Err(SlaveError::BuilderNotFound(format!(
                "builder {} does not exist for {} branch {}",
                request.builder_name, request.repo_url, request.branch
            )));
        };
        // Frames go out as the task sends them; it waits while 8 are unread.
        let (tx, events) = ItemStream::channel(8);
        tokio::spawn(run_build(builder, request.envvars, tx));
        Ok(events)
    }
}

/// Runs every step of `builder` (a failing one does not stop the build), sending its frames.
async fn run_build(
    builder: &'static BuilderConfig,
    envvars: HashMap<String, String>,
    tx: ItemSender<BuildEvent>,
) {
    let dir = work_dir();
    let started = timestamp();
    let running = BuildInfo {
        steps: Vec::new(),
        status: "running".to_owned(),
        started: started.clone(),
        finished: None,
        total_steps: None,
    };
    if tx.send(BuildEvent::Build(running)).await.is_err() {
        return;
    }
    let mut steps: Vec<ListedStep> = Vec::new();
    for (index, (name, cmd)) in builder.steps.iter().enumerate() {
        let last = steps.last().map(|s| &s.step);
        let mut step = StepInfo {
            status: "running".to_owned(),
            cmd: (*cmd).to_owned(),
            name: (*name).to_owned(),
            started: timestamp(),
            finished: None,
            index: index as u32,
            output: String::new(),
            uuid: uuid4(),
            total_time: None,
            last_step_finished: last.and_then(|s| s.finished.clone()),
            last_step_status: last.map(|s| s.status.clone()),
        };
        if tx.send(BuildEvent::Step(step.clone())).await.is_err() {
            return;
        }
        let clock = Instant::now();
        let (status, output) = run_step(cmd, &dir, &envvars).await;
        if !output.is_empty() {
            let frame = StepOutput {
                uuid: step.uuid.clone(),
                output_index: 0,
                output: output.clone(),
            };
            if tx.send(BuildEvent::StepOutput(frame)).await.is_err() {
                return;
            }
        }
        step.status = status.to_owned();
        step.output = output;
        step.finished = Some(timestamp());
        step.total_time = Some(clock.elapsed().as_secs());
        if tx.send(BuildEvent::Step(step.clone())).await.is_err() {
            return;
        }
        steps.push(ListedStep {
            info_type: StepInfoTag::StepInfo,
            step,
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    let failed = steps.iter().any(|s| s.step.status != "success");
    let finished = BuildInfo {
        total_steps: Some(steps.len() as u32),
        steps,
        status: if failed { "fail" } else { "success" }.to_owned(),
        started,
        finished: Some(timestamp()),
    };
    let _ = tx.send(BuildEvent::Build(finished)).await;
}

/// Runs one shell command: its status (`success`, `fail`, `exception`) and its output,
/// stdout and stderr in the order written, without the last newline.
async fn run_step(
    cmd: &str,
    dir: &Path,
    envvars: &HashMap<String, String>,
) -> (&'static str, String) {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("( {cmd} ) 2>&1"))
        .current_dir(dir)
        .envs(envvars)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(STEP_TIMEOUT, child).await {
        Ok(Ok(out)) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let status = if out.status.success() {
                "success"
            } else {
                "fail"
            };
            (status, text.trim_end_matches('\n').to_owned())
        }
        Ok(Err(error)) => ("exception", format!("cannot run the step: {error}")),
        Err(_) => (
            "exception",
            format!("step timed out after {STEP_TIMEOUT:?}"),
        ),
    }
}

/// A fresh, empty directory for one build.
fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tpp-build-server-{}", uuid4()));
    // If it cannot be made, the steps fail to start and say so.
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A random (version 4) UUID, as toxicbuild gives each step.
fn uuid4() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 16];
    // On failure the id is all zeros: still unique enough to read a demo, never a panic.
    let _ = SystemRandom::new().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Now, as toxicbuild writes dates: `%w %m %d %H:%M:%S %Y %z` (weekday 0 = Sunday), UTC.
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_timestamp(secs)
}

/// [`timestamp`] for `secs` since the Unix epoch.
pub fn format_timestamp(secs: u64) -> String {
    let days = secs / 86_400;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // 1970-01-01 was a Thursday (4).
    let weekday = (days + 4) % 7;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{weekday} {month:02} {day:02} {h:02}:{m:02}:{s:02} {year} +0000")
}

/// Starts the server on `addr`, as the real one: one request per connection.
pub async fn bind(addr: &str) -> Result<Server, tpp_rpc::ServerError> {
    Server::builder()
        .token(TOKEN)
        .keep_alive(false)
        .bind(addr)
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let addr = args.get(i + 1).map_or("127.0.0.1:7111", String::as_str);
        let server = bind(addr).await?;
        println!("build server on {} (token {TOKEN})", server.local_addr());
        server.serve(BuildServerServer::new(Slave)).await?;
        return Ok(());
    }

    let server = bind("127.0.0.1:0").await?;
    let port = server.local_addr().port();
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(BuildServerServer::new(Slave)));

    let client = BuildServerClient::new(
        Client::builder("127.0.0.1", port)
            .token(TOKEN)
            .timeout(Duration::from_secs(30))
            .build()?,
    );
    println!("healthcheck: {}", client.healthcheck().await?);
    let repo = (
        "sample",
        "file:///srv/git/sample",
        "git",
        "master",
        "cfa66fac",
    );
    let builders = client
        .list_builders(repo.0, repo.1, repo.2, repo.3, repo.4)
        .await?;
    println!("builders: {}", builders.builders.join(", "));
    for name in builders.builders {
        let request = BuildRequest {
            repo_id: repo.0.into(),
            repo_url: repo.1.into(),
            vcs_type: repo.2.into(),
            branch: repo.3.into(),
            named_tree: repo.4.into(),
            builder_name: name.clone(),
            envvars: HashMap::new(),
        };
        let mut events = client.build(request).await?;
        while let Some(event) = events.next().await {
            match event? {
                BuildEvent::Build(b) if b.finished.is_none() => println!("{name}: running"),
                BuildEvent::Build(b) => {
                    println!(
                        "{name}: {} ({} steps)",
                        b.status,
                        b.total_steps.unwrap_or(0)
                    )
                }
                BuildEvent::Step(s) if s.finished.is_none() => {
                    println!("  step {} {:?}: {}", s.index, s.name, s.cmd)
                }
                BuildEvent::Step(s) => println!("  step {} {}", s.index, s.status),
                BuildEvent::StepOutput(o) => {
                    for line in o.output.lines() {
                        println!("    | {line}");
                    }
                }
            }
        }
    }

    shutdown.shutdown();
    serving.await??;
    Ok(())
}
