//! The release binary started as Lambda starts a `provided.al2023` function: `AWS_LAMBDA_RUNTIME_API`
//! pointing at a runtime-API stand-in on loopback, `_HANDLER` naming the function, the
//! `AWS_LAMBDA_FUNCTION_*` variables, a region and (dummy) credentials in the environment.
//!
//! For each start it measures, from just before `spawn` on this side:
//! - until the binary's first `GET /runtime/invocation/next` (its init phase),
//! - until the answer to the first event is POSTed back (start to first answer).
//!
//! Once the process is killed it reads its peak resident memory: `ru_maxrss` from `wait4`, the
//! kernel's own figure for that one child (`getrusage(RUSAGE_CHILDREN)` over every child is
//! printed as a cross-check).
//!
//! - `hook`: an ECS lifecycle payload at a stage that is not gated, so the answer (`SUCCEEDED`)
//!   needs no AWS call; the real start-up still builds the SDK clients.
//! - `bot`: a function URL event (API Gateway v2 format) for `GET /healthz`; the Slack token and
//!   signing secret are given as values, so start-up reads nothing from SSM.
//!
//! Every AWS and Slack endpoint points at a closed loopback port, so a call that should not happen
//! fails here instead of leaving the machine. A second run per function hands one process many
//! events, to see whether memory grows.
//!
//! The binaries are `GREENLIGHT_BENCH_BINARY` (`greenlight`: the bot, and the hook as
//! `greenlight` runs it) and, when set, `GREENLIGHT_BENCH_HOOK_BINARY` (`greenlight-hook`, the
//! hook-only binary the template deploys to the hook function): `scripts/bench` builds them with
//! `cargo build --release` and copies them aside before `cargo bench` replaces
//! `target/release/` with its own build. `GREENLIGHT_BENCH_STARTS` (default 30, at
//! least 20) and `GREENLIGHT_BENCH_SOAK_EVENTS` (default 1000) set the counts.

mod common;

use std::collections::VecDeque;
use std::io::{Read, Seek};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use common::{Summary, count_from_env, header, human, report};

/// Where nothing listens (the discard port): a stray AWS or Slack call fails at once, on loopback.
const NOWHERE: &str = "http://127.0.0.1:9";
const WARM_UP_STARTS: usize = 2;
/// How long one start may take before the bench gives up on it.
const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug)]
enum Arrival {
    /// The first `GET /next` of the process.
    Ready(Instant),
    /// An answer was POSTed for a request id.
    Answer(String, Instant, Value),
    /// The function reported an init or invocation error.
    Error(String),
}

struct StandIn {
    pending: Mutex<VecDeque<(String, Value)>>,
    seen_next: Mutex<bool>,
    arrivals: mpsc::UnboundedSender<Arrival>,
}

/// A stand-in of the Lambda runtime API with every event queued before the process starts, so
/// each `GET /next` is answered at once (the real service also holds the first event ready when
/// it starts a process for it), and every arrival is stamped the moment it is handled.
struct RuntimeApi {
    address: String,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    async fn start(events: Vec<(String, Value)>) -> RuntimeApi {
        let (sender, arrivals) = mpsc::unbounded_channel();
        let state = Arc::new(StandIn {
            pending: Mutex::new(events.into()),
            seen_next: Mutex::new(false),
            arrivals: sender,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(answer))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the runtime API stand-in");
        let address = listener.local_addr().expect("address").to_string();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        RuntimeApi {
            address,
            arrivals,
            server,
        }
    }
}

async fn next(State(state): State<Arc<StandIn>>) -> Response {
    let now = Instant::now();
    {
        let mut seen = state.seen_next.lock().expect("lock");
        if !*seen {
            *seen = true;
            let _ = state.arrivals.send(Arrival::Ready(now));
        }
    }
    let event = state.pending.lock().expect("lock").pop_front();
    let Some((id, event)) = event else {
        // No more events for this process: hold the request, as Lambda does between invocations.
        return std::future::pending().await;
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    (
        StatusCode::OK,
        [
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:greenlight".to_owned(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ],
        event.to_string(),
    )
        .into_response()
}

async fn answer(
    State(state): State<Arc<StandIn>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let now = Instant::now();
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let _ = state.arrivals.send(Arrival::Answer(id, now, body));
    StatusCode::ACCEPTED
}

async fn error(
    State(state): State<Arc<StandIn>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = state.arrivals.send(Arrival::Error(format!(
        "invocation {id}: {}",
        String::from_utf8_lossy(&body)
    )));
    StatusCode::ACCEPTED
}

async fn init_error(State(state): State<Arc<StandIn>>, body: Bytes) -> StatusCode {
    let _ = state.arrivals.send(Arrival::Error(format!(
        "init: {}",
        String::from_utf8_lossy(&body)
    )));
    StatusCode::ACCEPTED
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Hook,
    Bot,
}

impl Function {
    fn name(self) -> &'static str {
        match self {
            Function::Hook => "hook",
            Function::Bot => "bot",
        }
    }

    /// The environment Lambda would give this function, with greenlight's settings.
    fn environment(self, runtime_api: &str) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
            ("_HANDLER", self.name().to_owned()),
            (
                "AWS_LAMBDA_FUNCTION_NAME",
                format!("greenlight-{}", self.name()),
            ),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/greenlight-{}", self.name()),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/01/[$LATEST]0123456789abcdef".to_owned(),
            ),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "ASIABENCHBENCHBENCH0".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "bench-secret-key".to_owned()),
            ("AWS_SESSION_TOKEN", "bench-session-token".to_owned()),
            ("AWS_ENDPOINT_URL", NOWHERE.to_owned()),
        ];
        match self {
            Function::Hook => env.push((
                "GREENLIGHT_SNS_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:greenlight-gates".to_owned(),
            )),
            Function::Bot => env.extend([
                ("GREENLIGHT_SLACK_BOT_TOKEN", "xoxb-bench-token".to_owned()),
                (
                    "GREENLIGHT_SLACK_SIGNING_SECRET",
                    "bench-signing-secret-0123456789".to_owned(),
                ),
                (
                    "GREENLIGHT_ALLOWED_TOPIC_ARNS",
                    "arn:aws:sns:us-east-1:123456789012:greenlight-gates".to_owned(),
                ),
                ("GREENLIGHT_SLACK_CHANNEL", "C0DEPLOYS1".to_owned()),
                ("GREENLIGHT_APPROVERS", "U0ALICE001".to_owned()),
                // As the template sets it; the bot makes no AWS call at start-up.
                ("GREENLIGHT_TABLE", "greenlight-gates".to_owned()),
                ("GREENLIGHT_SLACK_API_URL", format!("{NOWHERE}/api")),
            ]),
        }
        env
    }

    /// One event for this function.
    fn event(self) -> Value {
        match self {
            Function::Hook => json!({
                "executionId": "a1b2c3d4-0000-4000-8000-000000000001",
                "lifecycleStage": "PRE_SCALE_UP",
                "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/dep1",
                "executionDetails": {
                    "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
                    "targetServiceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/222",
                    "testTrafficWeights": {},
                    "productionTrafficWeights": {}
                }
            }),
            Function::Bot => json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": "/healthz",
                "rawQueryString": "",
                "headers": {
                    "host": "abcdefghij.lambda-url.us-east-1.on.aws",
                    "user-agent": "greenlight-bench",
                    "x-amzn-trace-id": "Root=1-00000000-000000000000000000000000",
                    "x-forwarded-for": "127.0.0.1",
                    "x-forwarded-port": "443",
                    "x-forwarded-proto": "https"
                },
                "requestContext": {
                    "accountId": "anonymous",
                    "apiId": "abcdefghij",
                    "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
                    "domainPrefix": "abcdefghij",
                    "http": {
                        "method": "GET",
                        "path": "/healthz",
                        "protocol": "HTTP/1.1",
                        "sourceIp": "127.0.0.1",
                        "userAgent": "greenlight-bench"
                    },
                    "requestId": "00000000-0000-4000-8000-000000000000",
                    "routeKey": "$default",
                    "stage": "$default",
                    "time": "01/Jan/2026:00:00:00 +0000",
                    "timeEpoch": 1767225600000_u64
                },
                "isBase64Encoded": false
            }),
        }
    }

    /// Panics unless `answer` is the right answer to [`Function::event`].
    fn check(self, answer: &Value) {
        match self {
            Function::Hook => assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}"),
            Function::Bot => {
                assert_eq!(answer["statusCode"], 200, "{answer}");
                assert_eq!(answer["body"], "ok\n", "{answer}");
            }
        }
    }
}

/// What one process did.
struct Run {
    ready: Duration,
    first_answer: Duration,
    last_answer: Duration,
    max_rss_kib: i64,
    /// User plus system CPU time of the whole process life (start, the events, the idle wait).
    cpu: Duration,
}

fn cpu_time(usage: &libc::rusage) -> Duration {
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Reaps `pid` and returns the kernel's resource usage for it.
fn reap(pid: u32) -> (i32, libc::rusage) {
    let pid = libc::pid_t::try_from(pid).expect("pid");
    let mut status = 0;
    // SAFETY: `rusage` is plain data that `wait4` fills in; all-zero is a valid value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointers are to live locals; `pid` is our own child, not yet reaped (std's
    // `Child` is never waited on here, so nothing else reaps it).
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    (status, usage)
}

/// Starts the binary with `events` queued, waits for every answer, kills it, reaps it.
// The child is reaped by `reap` (`wait4`, for its resource usage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
async fn run_once(binary: &PathBuf, function: Function, events: usize) -> Run {
    let queued: Vec<(String, Value)> = (0..events)
        .map(|n| (format!("req-{n}"), function.event()))
        .collect();
    let mut api = RuntimeApi::start(queued).await;
    let mut log = tempfile::tempfile().expect("a file for the function's logs");
    let mut command = std::process::Command::new(binary);
    command
        .env_clear()
        .envs(function.environment(&api.address))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.try_clone().expect("log file"));

    let started = Instant::now();
    let mut child = command.spawn().expect("start the binary");
    let mut ready = None;
    let mut answers = Vec::with_capacity(events);
    let mut failure = None;
    while answers.len() < events {
        match tokio::time::timeout(PATIENCE, api.arrivals.recv()).await {
            Ok(Some(Arrival::Ready(at))) => ready = Some(at),
            Ok(Some(Arrival::Answer(id, at, body))) => answers.push((id, at, body)),
            Ok(Some(Arrival::Error(text))) => {
                failure = Some(text);
                break;
            }
            Ok(None) => unreachable!("the stand-in keeps its sender"),
            Err(_) => {
                failure = Some(format!("no answer within {PATIENCE:?}"));
                break;
            }
        }
    }
    child.kill().expect("kill the binary");
    let (status, usage) = reap(child.id());
    if failure.is_none() && !(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL)
    {
        failure = Some(format!(
            "the process ended by itself (wait status {status:#x})"
        ));
    }
    if let Some(failure) = failure {
        let mut logs = String::new();
        log.rewind().ok();
        log.read_to_string(&mut logs).ok();
        panic!("{} start failed: {failure}\n{logs}", function.name());
    }
    for (n, (id, _, body)) in answers.iter().enumerate() {
        assert_eq!(
            id,
            &format!("req-{n}"),
            "answers come in order, one per event"
        );
        function.check(body);
    }
    let ready = ready.expect("an answer came, so /next was called");
    Run {
        ready: ready - started,
        first_answer: answers[0].1 - started,
        last_answer: answers[answers.len() - 1].1 - started,
        max_rss_kib: usage.ru_maxrss,
        cpu: cpu_time(&usage),
    }
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB ({kib} KiB)", kib as f64 / 1024.0)
}

fn median_rss(runs: &[Run]) -> (i64, i64, i64) {
    let mut rss: Vec<i64> = runs.iter().map(|run| run.max_rss_kib).collect();
    rss.sort_unstable();
    (rss[0], rss[rss.len().div_ceil(2) - 1], rss[rss.len() - 1])
}

/// The binary to start: `GREENLIGHT_BENCH_BINARY`, a copy of what `cargo build --release` made.
/// Not `target/release/greenlight` itself: `cargo bench` puts its own build of the binary there
/// (its dependencies built with `panic = "unwind"` for the bench targets), which is not the one
/// that ships.
fn binary() -> PathBuf {
    let path = std::env::var_os("GREENLIGHT_BENCH_BINARY")
        .map(PathBuf::from)
        .expect(
            "set GREENLIGHT_BENCH_BINARY to a copy of the binary `cargo build --release` made (scripts/bench does)",
        );
    assert!(path.is_file(), "{} does not exist", path.display());
    path
}

/// The hook-only binary, `GREENLIGHT_BENCH_HOOK_BINARY`, when given.
fn hook_binary() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("GREENLIGHT_BENCH_HOOK_BINARY")?);
    assert!(path.is_file(), "{} does not exist", path.display());
    Some(path)
}

fn main() {
    common::self_check();
    let starts = count_from_env("GREENLIGHT_BENCH_STARTS", 30, 20);
    let soak_events = count_from_env("GREENLIGHT_BENCH_SOAK_EVENTS", 1000, 1);
    let binary = binary();
    let size = |path: &PathBuf| std::fs::metadata(path).expect("binary").len();
    // What each row starts: the hook-only binary first when there is one (it is what the hook
    // function runs), then the hook as `greenlight` runs it, then the bot.
    let mut cases: Vec<(String, PathBuf, Function)> = Vec::new();
    if let Some(hook) = hook_binary() {
        cases.push(("hook (`greenlight-hook`)".to_owned(), hook, Function::Hook));
    }
    cases.push((
        "hook (`greenlight`)".to_owned(),
        binary.clone(),
        Function::Hook,
    ));
    cases.push(("bot".to_owned(), binary.clone(), Function::Bot));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let mut memory_rows = Vec::new();
    let mut soak_rows = Vec::new();
    let described: Vec<String> = cases
        .iter()
        .map(|(name, path, _)| format!("{name}: {}, {} bytes", path.display(), size(path)))
        .collect();
    header(&format!(
        "Release binaries under a Lambda runtime API stand-in ({}; {starts} starts each, after {WARM_UP_STARTS} untimed)",
        described.join("; ")
    ));
    for (name, binary, function) in &cases {
        let (binary, function) = (binary, *function);
        let runs: Vec<Run> = runtime.block_on(async {
            for _ in 0..WARM_UP_STARTS {
                run_once(binary, function, 1).await;
            }
            let mut runs = Vec::with_capacity(starts);
            for _ in 0..starts {
                runs.push(run_once(binary, function, 1).await);
            }
            runs
        });
        let ready: Vec<Duration> = runs.iter().map(|run| run.ready).collect();
        let answered: Vec<Duration> = runs.iter().map(|run| run.first_answer).collect();
        let invocation: Vec<Duration> = runs
            .iter()
            .map(|run| run.first_answer - run.ready)
            .collect();
        report(
            &format!("{name}: spawn → first GET /next (init)"),
            &Summary::of(&ready),
        );
        report(
            &format!("{name}: spawn → first answer POSTed (start to first event)"),
            &Summary::of(&answered),
        );
        report(
            &format!("{name}: first GET /next → answer (first invocation)"),
            &Summary::of(&invocation),
        );
        let cpu: Vec<Duration> = runs.iter().map(|run| run.cpu).collect();
        report(
            &format!("{name}: CPU time of the process, user + system (start + 1 event)"),
            &Summary::of(&cpu),
        );
        let (low, median, high) = median_rss(&runs);
        memory_rows.push(format!(
            "| {name}: start + 1 event | {starts} | {} | {} | {} |",
            mib(median),
            mib(low),
            mib(high)
        ));

        let soak = runtime.block_on(run_once(binary, function, soak_events));
        let events = u32::try_from(soak_events).expect("count");
        soak_rows.push(format!(
            "| {name} | {soak_events} | {} | {} |",
            human((soak.last_answer - soak.ready) / events),
            human(soak.cpu / events),
        ));
        memory_rows.push(format!(
            "| {name}: start + {soak_events} events, one process | 1 | {} | | |",
            mib(soak.max_rss_kib)
        ));
    }

    println!();
    println!("### Many events in one process (warm invocations)");
    println!();
    println!(
        "| function | events | wall time per event, mean (runtime API round trip included) | CPU time per event, mean (start-up included) |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for row in soak_rows {
        println!("{row}");
    }
    println!();
    println!("### Peak resident memory of the release binary (ru_maxrss from wait4, per process)");
    println!();
    println!("| run | processes | median | min | max |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for row in memory_rows {
        println!("{row}");
    }
    // SAFETY: as in `reap`; RUSAGE_CHILDREN covers every child reaped so far.
    let mut children: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a live local.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut children) };
    assert_eq!(ok, 0, "getrusage");
    println!();
    println!(
        "Cross-check: getrusage(RUSAGE_CHILDREN).ru_maxrss over all {} processes = {}",
        cases.len() * (starts + WARM_UP_STARTS + 1),
        mib(children.ru_maxrss)
    );
}
