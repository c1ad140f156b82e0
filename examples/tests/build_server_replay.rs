//! Replays the frames recorded from toxicbuild 0.7.0's build server
//! (`tests/data/toxicbuild-0.7.0/`, see its README) against the `build_server` example,
//! and compares what it answers with what the real server answered: the same number of
//! frames, the same codes, the same bodies (same keys, same values, same JSON types),
//! timestamps, uuids, timings and error texts aside; the connection closed after them.
//! The recorded build frames are also read with the example's typed client model.

#[path = "../build_server.rs"]
#[allow(dead_code)]
mod build_server;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tpp_rpc::Client;

use build_server::{BuildEvent, BuildRequest, BuildServerServer, Slave, TOKEN};

/// Bounds every wait of these tests.
const WAIT: Duration = Duration::from_secs(20);

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/toxicbuild-0.7.0")
}

/// One recorded connection.
struct Recording {
    name: String,
    request: String,
    responses: Vec<Value>,
    closed: bool,
}

fn recordings() -> Vec<Recording> {
    let mut all = Vec::new();
    let entries = std::fs::read_dir(data_dir()).expect("the recorded frames");
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a recording");
        let file: Value = serde_json::from_str(&text).expect("a recording is JSON");
        let responses = file["responses"]
            .as_array()
            .expect("responses")
            .iter()
            .map(|r| serde_json::from_str(r.as_str().expect("a payload")).expect("JSON"))
            .collect();
        assert_eq!(file["trailing"], "", "{path:?}");
        all.push(Recording {
            name: path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            request: file["request"].as_str().expect("request").to_owned(),
            responses,
            closed: file["closed"] == Value::Bool(true),
        });
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(all.len() >= 13, "the recordings are missing: {}", all.len());
    all
}

/// The example's server on 127.0.0.1 and a free port.
struct Running {
    port: u16,
    shutdown: tpp_rpc::ShutdownHandle,
    task: tokio::task::JoinHandle<Result<(), tpp_rpc::ServerError>>,
}

impl Running {
    async fn start() -> Running {
        let server = build_server::bind("127.0.0.1:0").await.expect("bind");
        Running {
            port: server.local_addr().port(),
            shutdown: server.shutdown_handle(),
            task: tokio::spawn(server.serve(BuildServerServer::new(Slave))),
        }
    }

    async fn stop(self) {
        self.shutdown.shutdown();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the server stops")
            .expect("join")
            .expect("serve");
    }
}

/// Sends `payload` as one frame on a new connection; every response until the server
/// closes, and whether it did (within [`WAIT`]).
async fn replay(port: u16, payload: &str) -> (Vec<Value>, bool) {
    let client = Client::builder("127.0.0.1", port)
        .timeout(WAIT)
        .build()
        .expect("client");
    let mut conn = client.connect().await.expect("connect");
    conn.write_raw(payload.as_bytes()).await.expect("write");
    let mut responses = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, conn.read()).await {
            Ok(Ok(Some(response))) => {
                responses.push(serde_json::from_slice(response.payload()).expect("JSON"))
            }
            Ok(Ok(None)) => return (responses, true),
            Ok(Err(error)) => panic!("reading a response: {error}"),
            Err(_) => return (responses, false),
        }
    }
}

/// toxicbuild's date format: `%w %m %d %H:%M:%S %Y %z`.
fn is_timestamp(s: &str) -> bool {
    let parts: Vec<&str> = s.split(' ').collect();
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    parts.len() == 6
        && digits(parts[0], 1)
        && digits(parts[1], 2)
        && digits(parts[2], 2)
        && parts[3].len() == 8
        && parts[3].split(':').all(|p| digits(p, 2))
        && digits(parts[4], 4)
        && parts[5].starts_with(['+', '-'])
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What a comparison leaves aside.
struct Aside {
    /// The uuids of steps whose output depends on the repository's files.
    uuids: Vec<Value>,
}

impl Aside {
    fn of(recording: &Recording) -> Aside {
        // `ls | wc -l` counts the files of a repository we do not clone.
        let uuids = recording
            .responses
            .iter()
            .filter(|r| r["body"]["cmd"] == "ls | wc -l")
            .map(|r| r["body"]["uuid"].clone())
            .collect();
        Aside { uuids }
    }
}

/// Compares one of our bodies with the recorded one, at `path`.
fn compare(ours: &Value, real: &Value, path: &str, aside: &Aside, failures: &mut Vec<String>) {
    let key = path.rsplit('.').next().unwrap_or("");
    match (ours, real) {
        (Value::Object(o), Value::Object(r)) => {
            let mut ok: Vec<&String> = o.keys().collect();
            let mut rk: Vec<&String> = r.keys().collect();
            ok.sort();
            rk.sort();
            if ok != rk {
                failures.push(format!("{path}: keys {ok:?}, recorded {rk:?}"));
                return;
            }
            let counts_files = r.get("uuid").is_some_and(|u| aside.uuids.contains(u));
            for (k, rv) in r {
                if counts_files && k == "output" {
                    continue;
                }
                compare(&o[k], rv, &format!("{path}.{k}"), aside, failures);
            }
        }
        (Value::Array(o), Value::Array(r)) if o.len() == r.len() => {
            for (i, (ov, rv)) in o.iter().zip(r).enumerate() {
                compare(ov, rv, &format!("{path}[{i}]"), aside, failures);
            }
        }
        (Value::String(o), Value::String(r)) => {
            let same = match key {
                "started" | "finished" | "last_step_finished" => is_timestamp(o) && is_timestamp(r),
                "uuid" => is_uuid(o) && is_uuid(r),
                // Our messages say more than "Something wrong with your data None".
                "error" => !o.is_empty(),
                _ => o == r,
            };
            if !same {
                failures.push(format!("{path}: {o:?}, recorded {r:?}"));
            }
        }
        (Value::Number(_), Value::Number(_)) if key == "total_time" => {}
        _ if ours == real => {}
        _ => failures.push(format!("{path}: {ours}, recorded {real}")),
    }
}

#[tokio::test]
async fn the_example_answers_every_recorded_request_as_toxicbuild_did() {
    let running = Running::start().await;
    let port = running.port;

    let mut failures = Vec::new();
    for recording in recordings() {
        // The bad-token recording was sent with a wrong token, masked like the others.
        let token = match recording.name.contains("bad-token") {
            true => "not-the-token",
            false => TOKEN,
        };
        let request = recording.request.replace("<TOKEN>", token);
        let (ours, closed) = replay(port, &request).await;
        let name = &recording.name;
        if ours.len() != recording.responses.len() {
            failures.push(format!(
                "{name}: {} responses, recorded {}: {ours:?}",
                ours.len(),
                recording.responses.len()
            ));
            continue;
        }
        if closed != recording.closed {
            failures.push(format!(
                "{name}: closed {closed}, recorded {}",
                recording.closed
            ));
        }
        let aside = Aside::of(&recording);
        for (i, (o, r)) in ours.iter().zip(&recording.responses).enumerate() {
            // tpp's server answers a missing action `{"error": …}`, which toxiccore's own
            // client can read, where toxiccore sends a bare string (see the guide's
            // interop chapter); the message is the same.
            if name == "no-action" {
                assert_eq!(o["body"]["error"], r["body"], "{name}");
                assert_eq!(o["code"], r["code"], "{name}");
                continue;
            }
            compare(o, r, &format!("{name}[{i}]"), &aside, &mut failures);
        }
    }
    running.stop().await;
    assert!(failures.is_empty(), "differences:\n{}", failures.join("\n"));
}

#[test]
fn the_typed_model_reads_every_recorded_build_frame() {
    let mut read = 0;
    for recording in recordings().iter().filter(|r| r.name.starts_with("build-")) {
        for response in recording.responses.iter().filter(|r| r["code"] == 0) {
            let event: BuildEvent =
                serde_json::from_value(response["body"].clone()).expect("a build frame");
            // Written back, it is the same JSON.
            assert_eq!(
                serde_json::to_value(&event).expect("serialize"),
                response["body"],
                "{}",
                recording.name
            );
            read += 1;
        }
    }
    // ok-builder: 8 frames; failing-builder: 11.
    assert_eq!(read, 19);
}

#[tokio::test]
async fn the_generated_client_follows_a_failing_build_to_its_end() {
    use futures_util::StreamExt;

    let running = Running::start().await;
    let client = build_server::BuildServerClient::new(
        Client::builder("127.0.0.1", running.port)
            .token(TOKEN)
            .timeout(WAIT)
            .build()
            .expect("client"),
    );
    assert_eq!(
        client.healthcheck().await.expect("healthcheck"),
        "I'm alive!"
    );
    let request = |builder: &str| BuildRequest {
        repo_id: "r".into(),
        repo_url: "u".into(),
        vcs_type: "git".into(),
        branch: "master".into(),
        named_tree: "abc".into(),
        builder_name: builder.into(),
        envvars: [("GREETING".to_owned(), "olá".to_owned())].into(),
    };
    let events = client
        .build(request("failing-builder"))
        .await
        .expect("build");
    let events: Vec<BuildEvent> = tokio::time::timeout(WAIT, events.collect::<Vec<_>>())
        .await
        .expect("the build ends")
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every frame is code 0");
    let Some(BuildEvent::Build(last)) = events.last() else {
        panic!("the last frame is the finished build: {events:?}");
    };
    assert_eq!(last.status, "fail");
    assert_eq!(last.total_steps, Some(3));
    let statuses: Vec<&str> = last.steps.iter().map(|s| s.step.status.as_str()).collect();
    assert_eq!(statuses, ["success", "fail", "success"]);
    assert_eq!(last.steps[1].step.output, "about to fail\noops");
    // An unknown builder is code 1, the only frame.
    let refused = client.build(request("nope")).await;
    let error = match refused {
        Err(error) => error,
        Ok(mut events) => match tokio::time::timeout(WAIT, events.next()).await {
            Ok(Some(Err(error))) => error,
            other => panic!("expected code 1, got {other:?}"),
        },
    };
    assert_eq!(error.code(), Some(1));
    running.stop().await;
}
