//! Every value a server sends validates against the JSON Schema it published: a property
//! test over generated values, on a service with structs, unit enums, options, vectors,
//! maps, defaults, typed errors of every shape and a stream. Values go over a real socket
//! as raw frames and come back as the raw JSON the server wrote; the published description
//! is the one `list-funcs` answers; the validator is the `jsonschema` crate (2020-12).

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tpp_rpc::describe::{ActionDescription, Description, ServiceDescription};
use tpp_rpc::{ItemStream, Server};
use tpp_tests::{frame, raw_exchange, response_json, split_frame, start, TOKEN};

/// A build's state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
}

/// One step of a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    pub name: String,
    pub exit: Option<i32>,
    pub output: Vec<String>,
    pub secs: f64,
}

/// A build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Build {
    pub id: u64,
    pub repo: String,
    pub number: u32,
    pub priority: u8,
    pub status: Status,
    pub steps: Vec<Step>,
    pub env: BTreeMap<String, String>,
    pub started: Option<i64>,
    pub labels: Option<Vec<String>>,
}

/// Settings with a `Default`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Options {
    pub retries: u8,
    pub verbose: bool,
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, tpp_rpc::ToxicError)]
pub enum BuildError {
    #[error("build {0} not found")]
    #[toxic(code = 4)]
    NotFound(u64),
    #[error("build {id} is locked by {by}")]
    #[toxic(code = 7)]
    Locked {
        id: u64,
        by: String,
        since: Option<i64>,
    },
    #[error("the queue is full")]
    #[toxic(code = 8)]
    Full,
    #[error("bad steps")]
    #[toxic(code = 9)]
    BadSteps(Vec<Step>, Status),
}

#[tpp_rpc::toxic_service]
pub trait Builds {
    /// The build, sent back.
    async fn echo(&self, build: Build) -> Result<Build, BuildError>;
    /// The builds by repository.
    async fn index(&self, builds: Vec<Build>) -> Result<BTreeMap<String, Build>, BuildError>;
    /// The builds in `status` (all without it), at most `limit`.
    async fn find(
        &self,
        builds: Vec<Build>,
        status: Option<Status>,
        #[param(default = 10)] limit: u32,
    ) -> Result<Vec<Build>, BuildError>;
    /// The settings as the server took them.
    async fn configure(
        &self,
        #[param(default)] options: Options,
        #[param(default = 3)] retries: u8,
        status: Option<Status>,
    ) -> Result<(Options, u8, Option<Status>), BuildError>;
    /// Fails with error number `which` (modulo 4), made of the other parameters.
    async fn fail(
        &self,
        which: u8,
        id: u64,
        by: String,
        since: Option<i64>,
        steps: Vec<Step>,
        status: Status,
    ) -> Result<(), BuildError>;
    /// The builds, one answer each.
    #[action(stream)]
    async fn replay(&self, builds: Vec<Build>) -> Result<ItemStream<Build>, BuildError>;
}

struct Ci;

impl Builds for Ci {
    async fn echo(&self, build: Build) -> Result<Build, BuildError> {
        Ok(build)
    }

    async fn index(&self, builds: Vec<Build>) -> Result<BTreeMap<String, Build>, BuildError> {
        Ok(builds.into_iter().map(|b| (b.repo.clone(), b)).collect())
    }

    async fn find(
        &self,
        builds: Vec<Build>,
        status: Option<Status>,
        limit: u32,
    ) -> Result<Vec<Build>, BuildError> {
        Ok(builds
            .into_iter()
            .filter(|b| status.is_none_or(|s| b.status == s))
            .take(limit as usize)
            .collect())
    }

    async fn configure(
        &self,
        options: Options,
        retries: u8,
        status: Option<Status>,
    ) -> Result<(Options, u8, Option<Status>), BuildError> {
        Ok((options, retries, status))
    }

    async fn fail(
        &self,
        which: u8,
        id: u64,
        by: String,
        since: Option<i64>,
        steps: Vec<Step>,
        status: Status,
    ) -> Result<(), BuildError> {
        Err(match which % 4 {
            0 => BuildError::NotFound(id),
            1 => BuildError::Locked { id, by, since },
            2 => BuildError::Full,
            _ => BuildError::BadSteps(steps, status),
        })
    }

    async fn replay(&self, builds: Vec<Build>) -> Result<ItemStream<Build>, BuildError> {
        Ok(ItemStream::iter(builds))
    }
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Queued),
        Just(Status::Running),
        Just(Status::Done),
        Just(Status::Failed)
    ]
}

/// Finite: a NaN or an infinity is written as Python writes it (`NaN`), which is not JSON
/// and so matches no schema; that is the protocol's choice, not the schema's.
fn finite() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn step() -> impl Strategy<Value = Step> {
    (
        any::<String>(),
        any::<Option<i32>>(),
        prop::collection::vec(any::<String>(), 0..3),
        finite(),
    )
        .prop_map(|(name, exit, output, secs)| Step {
            name,
            exit,
            output,
            secs,
        })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(), 0..3)
}

fn build() -> impl Strategy<Value = Build> {
    (
        (any::<u64>(), any::<String>(), any::<u32>(), any::<u8>()),
        status(),
        steps(),
        prop::collection::btree_map(any::<String>(), any::<String>(), 0..3),
        any::<Option<i64>>(),
        prop::option::of(prop::collection::vec(any::<String>(), 0..3)),
    )
        .prop_map(
            |((id, repo, number, priority), status, steps, env, started, labels)| Build {
                id,
                repo,
                number,
                priority,
                status,
                steps,
                env,
                started,
                labels,
            },
        )
}

fn options() -> impl Strategy<Value = Option<Options>> {
    prop::option::of(
        (any::<u8>(), any::<bool>(), any::<Option<String>>()).prop_map(
            |(retries, verbose, tag)| Options {
                retries,
                verbose,
                tag,
            },
        ),
    )
}

/// One generated input for every action.
#[derive(Debug, Clone)]
struct Case {
    build: Build,
    builds: Vec<Build>,
    status: Option<Status>,
    limit: Option<u32>,
    options: Option<Options>,
    retries: Option<u8>,
    which: u8,
    by: String,
    since: Option<i64>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        build(),
        prop::collection::vec(build(), 0..4),
        prop::option::of(status()),
        prop::option::of(0u32..5),
        options(),
        any::<Option<u8>>(),
        any::<u8>(),
        any::<String>(),
        any::<Option<i64>>(),
    )
        .prop_map(
            |(build, builds, status, limit, options, retries, which, by, since)| Case {
                build,
                builds,
                status,
                limit,
                options,
                retries,
                which,
                by,
                since,
            },
        )
}

/// The request bodies a case makes, by action; optional parameters left out when `None`.
fn requests(case: &Case) -> Vec<(&'static str, Value)> {
    let mut find = json!({"builds": case.builds});
    if let Some(status) = case.status {
        find["status"] = json!(status);
    }
    if let Some(limit) = case.limit {
        find["limit"] = json!(limit);
    }
    let mut configure = json!({});
    if let Some(options) = &case.options {
        configure["options"] = json!(options);
    }
    if let Some(retries) = case.retries {
        configure["retries"] = json!(retries);
    }
    if let Some(status) = case.status {
        configure["status"] = json!(status);
    }
    let fail = json!({
        "which": case.which,
        "id": case.build.id,
        "by": case.by,
        "since": case.since,
        "steps": case.build.steps,
        "status": case.build.status,
    });
    vec![
        ("echo", json!({"build": case.build})),
        ("index", json!({"builds": case.builds})),
        ("find", find),
        ("configure", configure),
        ("fail", fail),
        ("replay", json!({"builds": case.builds})),
    ]
}

/// `schema` with the service's `$defs` beside it, as a standalone 2020-12 schema.
fn standalone(schema: &Value, service: &ServiceDescription) -> Value {
    let mut whole = match schema {
        Value::Object(map) => map.clone(),
        other => {
            let mut map = Map::new();
            map.insert("allOf".into(), json!([other]));
            map
        }
    };
    whole.insert("$defs".into(), Value::Object(service.defs.clone()));
    Value::Object(whole)
}

fn validator(schema: &Value, service: &ServiceDescription) -> jsonschema::Validator {
    jsonschema::draft202012::new(&standalone(schema, service))
        .unwrap_or_else(|e| panic!("not a valid 2020-12 schema: {e}\n{schema}"))
}

/// The published schemas of one action, compiled.
struct Checks {
    result: jsonschema::Validator,
    /// By (code, variant): the fields' validator (None for a unit variant).
    errors: BTreeMap<(i64, String), Option<jsonschema::Validator>>,
}

impl Checks {
    fn new(action: &ActionDescription, service: &ServiceDescription) -> Checks {
        Checks {
            result: validator(&action.result, service),
            errors: action
                .errors
                .iter()
                .map(|e| {
                    let fields = e.fields.as_ref().map(|f| validator(f, service));
                    ((e.code, e.variant.clone()), fields)
                })
                .collect(),
        }
    }
}

fn invalid(what: &str, v: &jsonschema::Validator, value: &Value) -> Option<String> {
    let errors: Vec<String> = v.iter_errors(value).map(|e| e.to_string()).collect();
    (!errors.is_empty()).then(|| format!("{what}: {value} does not match: {errors:?}"))
}

/// What is wrong with one answer of `action`, if anything.
fn check_answer(action: &ActionDescription, checks: &Checks, answer: &Value) -> Option<String> {
    let code = answer["code"].as_i64().unwrap_or(-1);
    let body = &answer["body"];
    if code == 0 {
        let value = match action.kind {
            tpp_rpc::describe::Kind::Unary => &body[&action.name],
            _ => body,
        };
        return invalid(&format!("{} result", action.name), &checks.result, value);
    }
    if !body["error"].is_string() {
        return Some(format!(
            "{}: error without a message: {answer}",
            action.name
        ));
    }
    let data = &body["tpp_error"];
    let variant = data["variant"].as_str().unwrap_or_default().to_owned();
    match checks.errors.get(&(code, variant)) {
        None => Some(format!("{}: undescribed error {answer}", action.name)),
        Some(None) if data.get("fields").is_none() => None,
        Some(None) => Some(format!(
            "{}: a unit variant with fields: {answer}",
            action.name
        )),
        Some(Some(fields)) => invalid(&format!("{} error", action.name), fields, &data["fields"]),
    }
}

/// Every answer in the bytes a server sent.
fn answers(mut bytes: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    while let Some((payload, rest)) = split_frame(bytes) {
        out.push(serde_json::from_slice(payload).expect("JSON"));
        bytes = rest;
    }
    out
}

#[test]
fn every_answer_validates_against_the_published_schema() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(start(Server::builder().token(TOKEN), BuildsServer::new(Ci)));
    let addr = server.addr;

    // The description as published by the running server.
    let ask = json!({"token": TOKEN, "action": "list-funcs", "body": {"tpp_describe": true}});
    let published = runtime.block_on(raw_exchange(addr, &frame(&ask.to_string())));
    let published: Description =
        serde_json::from_value(response_json(&published)["body"]["list-funcs"].clone())
            .expect("a description");
    let service = &published.services[0];
    let checks: BTreeMap<&str, (&ActionDescription, Checks)> = service
        .actions
        .iter()
        .map(|a| (a.name.as_str(), (a, Checks::new(a, service))))
        .collect();

    // The checks can fail: values that break the schema are refused.
    let (echo, echo_checks) = &checks["echo"];
    let mut wrong = serde_json::to_value(Build {
        id: 1,
        repo: "r".into(),
        number: 2,
        priority: 3,
        status: Status::Done,
        steps: vec![],
        env: BTreeMap::new(),
        started: None,
        labels: None,
    })
    .unwrap();
    for (key, value) in [
        ("status", json!("paused")),
        ("priority", json!(256)),
        ("id", json!(-1)),
        ("env", json!({"k": 1})),
        ("labels", json!("not a list")),
    ] {
        let mut bad = wrong.clone();
        bad[key] = value;
        let answer = json!({"code": 0, "body": {"echo": bad}});
        assert!(
            check_answer(echo, echo_checks, &answer).is_some(),
            "{key} accepted"
        );
    }
    wrong.as_object_mut().unwrap().remove("repo");
    let answer = json!({"code": 0, "body": {"echo": wrong}});
    assert!(check_answer(echo, echo_checks, &answer).is_some());
    let (fail, fail_checks) = &checks["fail"];
    let bad_error = json!({"code": 7, "body": {"error": "x",
        "tpp_error": {"variant": "Locked", "fields": {"id": 1, "by": 2, "since": null}}}});
    assert!(check_answer(fail, fail_checks, &bad_error).is_some());

    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let seen_codes = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let result = runner.run(&case(), |case| {
        for (action, body) in requests(&case) {
            let request = json!({"token": TOKEN, "action": action, "body": body});
            let bytes = runtime.block_on(raw_exchange(addr, &frame(&request.to_string())));
            let answers = answers(&bytes);
            let (description, checks) = &checks[action];
            if action != "replay" {
                prop_assert_eq!(answers.len(), 1, "{}: {:?}", action, answers);
            }
            for answer in &answers {
                if let Some(problem) = check_answer(description, checks, answer) {
                    return Err(TestCaseError::fail(problem));
                }
                if action == "fail" {
                    seen_codes
                        .borrow_mut()
                        .insert(answer["code"].as_i64().unwrap_or(0));
                }
                if action != "fail" {
                    prop_assert_eq!(&answer["code"], &json!(0), "{}: {}", action, answer);
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Every error variant came up.
    assert_eq!(
        seen_codes.into_inner().into_iter().collect::<Vec<_>>(),
        [4, 7, 8, 9]
    );
    runtime.block_on(server.stop());
}
