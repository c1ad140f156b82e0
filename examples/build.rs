//! A streaming build service: each step's result is pushed to the client as it finishes.
//!
//! Not toxicbuild's build server (that one is `build_server.rs`): there every frame is
//! code 0, tagged by `info_type`, and a failing step is `"status": "fail"` data; here a
//! failing step is an error item that ends the stream with code 5, to show error items.
//!
//! ```text
//! cargo run --example build             # 6 steps, all succeed
//! cargo run --example build -- --fail   # step 4 fails, which ends the stream with code 5
//! cargo run --example build | cat       # not a terminal: one plain line per step
//! ```
//!
//! `#[action(stream)]` makes `build` a streaming action, as toxicbuild's build server's: the
//! method returns a `tpp_rpc::ItemStream`, here the receiving half of a bounded channel that a
//! spawned task fills, and every item goes out as its own `{"code": 0, "body": item}` frame.
//! A step that fails is an error item: it goes out as `{"code": 5, "body": {"error": ...}}`
//! and ends the stream. The generated client returns a `Stream` of typed items, shown here
//! as a progress bar redrawn in place on a terminal.
//!
//! ```text
//! -> {"action": "build", "body": {"repo": "tpp"}, "token": "…"}
//! <- {"code": 0, "body": {"index": 1, "total": 6, "name": "checkout", "status": "success", …}}
//! <- … one frame per step …
//! <- (connection closed)
//! ```

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tpp_rpc::StreamExt;
use tpp_rpc::{Client, ItemStream, Server};

/// The result of one build step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    /// 1-based position of the step.
    pub index: u32,
    /// How many steps the build has.
    pub total: u32,
    /// What the step does.
    pub name: String,
    /// Always "success": a failed step is an error item instead.
    pub status: String,
    /// The step's last line of output.
    pub output: String,
    /// How long the step took on the server.
    pub elapsed_ms: u64,
}

/// The build service's errors, each with its TPP code.
#[derive(Debug, thiserror::Error, tpp_rpc::ToxicError)]
pub enum BuildError {
    /// Code 4: refused before anything runs (the only response).
    #[error("{0}")]
    #[toxic(code = 4)]
    UnknownRepo(String),
    /// Code 5: a step failed (ends the stream after the steps before it).
    #[error("{0}")]
    #[toxic(code = 5)]
    StepFailed(String),
}

/// A build server.
#[tpp_rpc::toxic_service]
pub trait Builder {
    /// Builds `repo`, streaming each step's result as it finishes. With `fail_at`, that step
    /// fails and ends the stream with code 5.
    #[action(stream)]
    async fn build(
        &self,
        repo: String,
        fail_at: Option<u32>,
    ) -> Result<ItemStream<StepResult>, BuildError>;
}

/// The steps and how long each takes.
const STEPS: &[(&str, u64, &str)] = &[
    ("checkout", 180, "HEAD is now at 3f2a9c1"),
    ("install dependencies", 260, "added 42 packages"),
    ("lint", 150, "0 warnings"),
    ("compile", 300, "Finished release [optimized] target(s)"),
    ("test", 240, "128 passed; 0 failed"),
    ("package", 170, "wrote tpp-0.1.0.tar.gz"),
];

/// Pretends to build: sleeps through each step.
struct FakeBuilder;

impl Builder for FakeBuilder {
    async fn build(
        &self,
        repo: String,
        fail_at: Option<u32>,
    ) -> Result<ItemStream<StepResult>, BuildError> {
        if repo != "tpp" {
            return Err(BuildError::UnknownRepo(format!(
                "unknown repository {repo}"
            )));
        }
        // The server writes what the task sends; the task waits when 2 results are unread
        // (backpressure), and stops when the client goes away (send fails).
        let (tx, results) = ItemStream::channel(2);
        tokio::spawn(async move {
            let total = STEPS.len() as u32;
            for (i, (name, millis, output)) in STEPS.iter().enumerate() {
                let index = i as u32 + 1;
                let started = Instant::now();
                tokio::time::sleep(Duration::from_millis(*millis)).await;
                if Some(index) == fail_at {
                    let message = format!("step {index} ({name}) failed: exit status 101");
                    let _ = tx.fail(BuildError::StepFailed(message)).await;
                    return;
                }
                let result = StepResult {
                    index,
                    total,
                    name: (*name).to_owned(),
                    status: "success".to_owned(),
                    output: (*output).to_owned(),
                    elapsed_ms: started.elapsed().as_millis() as u64,
                };
                if tx.send(result).await.is_err() {
                    return;
                }
            }
        });
        Ok(results)
    }
}

/// Where the progress goes: a bar redrawn in place on a terminal, plain lines otherwise.
struct Progress {
    live: bool,
    total: u32,
    done: u32,
    current: &'static str,
    started: Instant,
    frame: usize,
}

impl Progress {
    const WIDTH: usize = 24;
    const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

    fn new(total: u32) -> Progress {
        Progress {
            live: std::io::stdout().is_terminal(),
            total,
            done: 0,
            current: STEPS[0].0,
            started: Instant::now(),
            frame: 0,
        }
    }

    /// Replaces the bar line with `text` (on a terminal) or prints it.
    fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.live {
            let _ = write!(out, "\r{text:<72}\n");
        } else {
            let _ = writeln!(out, "{text}");
        }
        let _ = out.flush();
    }

    /// Redraws the bar (terminal only).
    fn draw(&mut self) {
        if !self.live {
            return;
        }
        self.frame += 1;
        let filled = Self::WIDTH * self.done as usize / self.total as usize;
        let bar = format!(
            "[{}{}] {}/{} {} {} {:.1}s",
            "#".repeat(filled),
            "-".repeat(Self::WIDTH - filled),
            self.done,
            self.total,
            Self::SPINNER[self.frame % Self::SPINNER.len()],
            self.current,
            self.started.elapsed().as_secs_f64(),
        );
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r{bar:<72}");
        let _ = out.flush();
    }

    fn step_done(&mut self, step: &StepResult) {
        self.done = step.index;
        self.current = STEPS.get(step.index as usize).map_or("", |s| s.0);
        self.line(&format!(
            "  ok   {}/{} {:<22} {:>4} ms  {}",
            step.index, step.total, step.name, step.elapsed_ms, step.output
        ));
        self.draw();
    }

    fn clear(&self) {
        if self.live {
            print!("\r{:<72}\r", "");
            let _ = std::io::stdout().flush();
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fail_at = std::env::args().any(|a| a == "--fail").then_some(4);

    let server = Server::builder()
        .token("s3cret")
        .bind("127.0.0.1:0")
        .await?;
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(BuilderServer::new(FakeBuilder)));

    // The call timeout bounds connecting and sending; the item timeout the wait for each
    // step (a build may take as long as it needs).
    let client = BuilderClient::new(
        Client::builder("127.0.0.1", addr.port())
            .token("s3cret")
            .timeout(Duration::from_secs(5))
            .item_timeout(Duration::from_secs(5))
            .build()?,
    );
    match fail_at {
        Some(n) => println!("-> build {{repo: \"tpp\", fail_at: {n}}}  ({addr})"),
        None => println!("-> build {{repo: \"tpp\"}}  ({addr})"),
    }

    let mut progress = Progress::new(STEPS.len() as u32);
    let mut call = client.build("tpp");
    if let Some(n) = fail_at {
        call = call.fail_at(n);
    }
    let mut steps = call.await?;
    let mut tick = tokio::time::interval(Duration::from_millis(80));
    let mut failure = None;
    progress.draw();
    loop {
        tokio::select! {
            next = steps.next() => match next {
                Some(Ok(step)) => progress.step_done(&step),
                Some(Err(error)) => {
                    failure = Some(error);
                    break;
                }
                None => break,
            },
            _ = tick.tick() => progress.draw(),
        }
    }
    progress.clear();

    let elapsed = progress.started.elapsed().as_secs_f64();
    match failure {
        None => println!(
            "build of tpp succeeded: {}/{} steps in {elapsed:.2} s",
            progress.done, progress.total
        ),
        Some(error) => {
            // The service's BuildError when the code is one of its own.
            let code = error.code();
            let what = error.to_string();
            println!("  FAIL {what}");
            println!(
                "build of tpp failed after {elapsed:.2} s: {}/{} steps succeeded (code {})",
                progress.done,
                progress.total,
                code.map_or_else(|| "-".to_owned(), |c| c.to_string())
            );
        }
    }

    shutdown.shutdown();
    serving.await??;
    Ok(())
}
