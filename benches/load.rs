//! The load run: the release binary as `greenlight serve` on loopback, driven by `wrk`, in four
//! scenarios, each on a freshly started server so that its peak memory is its own:
//!
//! - **a. `/deploy help`**: signed slash commands that need no store call (Slack signature over
//!   the raw body, form parsing, the command's log line, the ephemeral JSON answer);
//! - **b. SNS, verified and only logged**: signed notifications of an ECS event the bot has no
//!   card for and that names no service (`ECS Task State Change` of a task), so after the full
//!   verification (envelope, topic, age, certificate, RSA signature) and the parsing of the
//!   message the bot writes one log line and answers 200, with no store or Slack call and no
//!   state kept: the cheapest path a verified delivery can take, chosen so that the figure is the
//!   verification and nothing else. The certificate is a local signing certificate pinned
//!   through `GREENLIGHT_SNS_CERT_DIR`, as an operator pins SNS's own;
//! - **c. forged**: the same slash commands with a signature made with the wrong secret (fresh
//!   timestamp, well-formed header), so each one costs the full HMAC before its 401;
//! - **d. clicks on fresh gates**: `GREENLIGHT_BENCH_LOAD_CLICKS` gates are opened first through
//!   signed SNS gate requests (not timed), then wrk clicks Reroute on each one exactly once, one
//!   click at a time (one connection), with the gate table and SSM at moto and Slack at the
//!   recording double; afterwards every decision parameter must read `approved` and the double
//!   must have seen one `chat.update` per click.
//!
//! The requests are made and signed here, just before each run, and handed to wrk as a Lua data
//! file (`benches/load.lua` formats them once per wrk thread and cycles through them): wrk's Lua
//! has no HMAC or RSA. A Slack signature is good for five minutes and a run takes seconds; the
//! server checks every request in full whatever its timestamp.
//!
//! Peak memory is the server's `VmHWM` from `/proc/PID/status`, read after the run and before the
//! server is stopped (not `ru_maxrss` from `wait4`: a child's `ru_maxrss` starts at its parent's
//! peak when it was spawned). Server CPU time is read from `/proc/PID/stat` around the timed run.
//!
//! Needs `GREENLIGHT_BENCH_BINARY` (the release binary), `GREENLIGHT_TEST_MOTO_URL` (moto) and
//! `wrk` on the `PATH`; `scripts/bench` provides all three. Knobs: `GREENLIGHT_BENCH_LOAD_SECONDS`
//! (default 20, at least 10), `GREENLIGHT_BENCH_LOAD_CONNECTIONS` (64), `GREENLIGHT_BENCH_LOAD_THREADS`
//! (wrk threads, 2), `GREENLIGHT_BENCH_LOAD_CLICKS` (200, at least 100).

#[path = "../tests/it/support/mod.rs"]
mod support;

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use greenlight::card::REROUTE_ACTION_ID;
use greenlight::slack::signature::signed_headers;
use greenlight::sns::signer::{REHEARSAL_CERT_FILE, SnsSigner};
use greenlight::sns::verify::SignatureVersion;
use http_body_util::{BodyExt, Full};
use serde_json::json;

use common::count_from_env;
use support::bot::{ALICE, CHANNEL, SIGNING_SECRET, TestBot, gate_request_message};
use support::moto::{self, ACCOUNT, REGION};
use support::slack_double::{SlackDouble, TOKEN};

const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:greenlight-load";
/// Where nothing listens: ECS is not on any path measured here, and must not be reached.
const NOWHERE: &str = "http://127.0.0.1:9";
const WARM_UP: Duration = Duration::from_secs(2);
/// Distinct requests per cycling scenario.
const DISTINCT: usize = 64;

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// One request as the Lua data file carries it.
struct WireRequest {
    method: &'static str,
    path: &'static str,
    headers: Vec<(String, String)>,
    body: String,
}

/// A Lua string literal holding `text` exactly (every byte outside printable ASCII escaped).
fn lua_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for byte in text.bytes() {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(byte as char),
            _ => {
                let _ = write!(out, "\\{byte:03}");
            }
        }
    }
    out.push('"');
    out
}

/// Writes the requests as a Lua file returning a list, for `benches/load.lua`.
fn write_lua_data(path: &Path, requests: &[WireRequest]) {
    let mut lua = String::from("return {\n");
    for request in requests {
        let _ = write!(
            lua,
            "{{method={}, path={}, headers={{",
            lua_string(request.method),
            lua_string(request.path)
        );
        for (name, value) in &request.headers {
            let _ = write!(lua, "[{}]={}, ", lua_string(name), lua_string(value));
        }
        let _ = writeln!(lua, "}}, body={}}},", lua_string(&request.body));
    }
    lua.push_str("}\n");
    std::fs::write(path, lua).expect("write the wrk data file");
}

/// A signed Slack request, with the headers Slack sends; `secret` is the bot's for a genuine one.
fn slack_request(path: &'static str, body: String, secret: &str) -> WireRequest {
    let mut headers = vec![(
        "Content-Type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    for (name, value) in signed_headers(secret, Utc::now(), body.as_bytes()).iter() {
        headers.push((
            name.as_str().to_owned(),
            value.to_str().expect("ASCII header").to_owned(),
        ));
    }
    WireRequest {
        method: "POST",
        path,
        headers,
        body,
    }
}

/// An SNS delivery as SNS POSTs it.
fn sns_request(body: String) -> WireRequest {
    WireRequest {
        method: "POST",
        path: "/sns",
        headers: vec![
            (
                "Content-Type".to_owned(),
                "text/plain; charset=UTF-8".to_owned(),
            ),
            (
                "x-amz-sns-message-type".to_owned(),
                "Notification".to_owned(),
            ),
            ("x-amz-sns-topic-arn".to_owned(), TOPIC_ARN.to_owned()),
        ],
        body,
    }
}

/// `/deploy help`, typed by `DISTINCT` different people.
fn help_commands(secret: &str) -> Vec<WireRequest> {
    (0..DISTINCT)
        .map(|i| {
            let user_id = format!("U0LOAD{i:04}");
            let user_name = format!("person{i}");
            let response_url = format!("https://hooks.slack.invalid/commands/T0TEAM0001/{i}/x");
            let trigger_id = format!("{i}.1.abcdef");
            let body = serde_urlencoded::to_string([
                ("token", "unused-verification-token"),
                ("team_id", "T0TEAM0001"),
                ("team_domain", "example"),
                ("channel_id", CHANNEL),
                ("channel_name", "deploys"),
                ("user_id", user_id.as_str()),
                ("user_name", user_name.as_str()),
                ("command", "/deploy"),
                ("text", "help"),
                ("api_app_id", "A0GREENLIT"),
                ("response_url", response_url.as_str()),
                ("trigger_id", trigger_id.as_str()),
            ])
            .expect("form");
            slack_request("/slack/commands", body, secret)
        })
        .collect()
}

/// ECS task state changes: verified, classified, logged, answered 200; nothing else.
fn ignored_notifications(signer: &SnsSigner) -> Vec<WireRequest> {
    (0..DISTINCT * 4)
        .map(|i| {
            let event = json!({
                "version": "0",
                "id": format!("6f0d6a2e-0000-4000-8000-{i:012}"),
                "detail-type": "ECS Task State Change",
                "source": "aws.ecs",
                "account": ACCOUNT,
                "time": Utc::now().to_rfc3339(),
                "region": REGION,
                "resources": [format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/batch/{i:032x}")],
                "detail": {"lastStatus": "RUNNING", "desiredStatus": "RUNNING", "group": "family:nightly"}
            });
            let body = signer
                .notification(
                    TOPIC_ARN,
                    &event.to_string(),
                    None,
                    Utc::now(),
                    SignatureVersion::V2Sha256,
                )
                .expect("sign");
            sns_request(body)
        })
        .collect()
}

/// The bot's side of the run: its environment, and the things it talks to.
struct Rig {
    binary: PathBuf,
    env: Vec<(String, String)>,
    slack: SlackDouble,
    signer: SnsSigner,
    decision_prefix: String,
    ssm: aws_sdk_ssm::Client,
    client: Client,
    dir: tempfile::TempDir,
}

/// A running `greenlight serve`, killed when dropped.
struct Server {
    child: tokio::process::Child,
    pid: u32,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Server {
    /// Peak and current resident memory, in KiB (`VmHWM`, `VmRSS`).
    fn memory_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).expect("proc status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
                .expect("a memory field")
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// User + system CPU time so far.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).expect("proc stat");
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 of `rest` (from 1).
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_nanos(ticks * 1_000_000_000 / per_second)
    }
}

impl Rig {
    async fn start(&self) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        // Logs go to /dev/null: the server still formats and writes each line, as it would to
        // Lambda's pipe, without this run filling a disk.
        let child = tokio::process::Command::new(&self.binary)
            .args(["serve", "--addr", &addr])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start greenlight serve");
        let pid = child.id().expect("a pid");
        let server = Server {
            child,
            pid,
            url: format!("http://{addr}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let request = http::Request::get(format!("{}/healthz", server.url))
                .body(Full::new(Bytes::new()))
                .expect("request");
            if let Ok(response) = self.client.request(request).await
                && response.status() == http::StatusCode::OK
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "greenlight serve did not answer /healthz on {addr}; run it by hand with the same environment to see why"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn post(&self, url: &str, request: &WireRequest) -> (http::StatusCode, String) {
        let mut builder = http::Request::post(format!("{url}{}", request.path));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .expect("request");
        let response = self.client.request(request).await.expect("the server");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// A gate request as greenlight's hook publishes it, signed; returns it and the gate id.
    fn gate_request(&self, cluster: &str) -> (WireRequest, String) {
        let now = Utc::now();
        let (gate, message) = gate_request_message(
            &self.decision_prefix,
            cluster,
            now + chrono::Duration::hours(23),
        );
        let body = self
            .signer
            .notification(TOPIC_ARN, &message, None, now, SignatureVersion::V2Sha256)
            .expect("sign");
        (sns_request(body), gate)
    }

    /// How many decision parameters under the prefix read `approved`.
    async fn approved_decisions(&self) -> usize {
        let mut approved = 0;
        let mut token = None;
        loop {
            let page = self
                .ssm
                .get_parameters_by_path()
                .path(self.decision_prefix.as_str())
                .recursive(true)
                .set_next_token(token)
                .send()
                .await
                .expect("list the decisions");
            approved += page
                .parameters()
                .iter()
                .filter(|p| p.value() == Some("approved"))
                .count();
            token = page.next_token;
            if token.is_none() {
                return approved;
            }
        }
    }
}

/// What wrk's `done` printed, and what the server did meanwhile.
struct Figures {
    requests: u64,
    duration: Duration,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    mean_us: f64,
    status_errors: u64,
    socket_errors: u64,
    server_cpu: Duration,
    peak_kib: u64,
    rss_kib: u64,
}

#[derive(Clone, Copy)]
struct Shape {
    threads: usize,
    connections: usize,
    duration: Duration,
    once: bool,
}

async fn wrk(url: &str, data: &Path, shape: &Shape) -> HashMap<String, f64> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/load.lua");
    let output = tokio::process::Command::new("wrk")
        .arg(format!("-t{}", shape.threads))
        .arg(format!("-c{}", shape.connections))
        .arg(format!("-d{}s", shape.duration.as_secs()))
        .arg("--timeout=10s")
        .arg("-s")
        .arg(&script)
        .arg(url)
        .arg("--")
        .arg(data)
        .arg(shape.threads.to_string())
        .env("GREENLIGHT_LOAD_ONCE", if shape.once { "1" } else { "0" })
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run wrk (is it installed? scripts/bench installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "wrk failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("greenlight-load "))
        .unwrap_or_else(|| panic!("wrk printed no figures:\n{stdout}"));
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.parse::<f64>().expect("a number")))
        .collect()
}

async fn measure(server: &Server, data: &Path, shape: &Shape, warm_up: bool) -> Figures {
    if warm_up {
        let warm = Shape {
            duration: WARM_UP,
            ..*shape
        };
        wrk(&server.url, data, &warm).await;
    }
    let cpu_before = server.cpu();
    let figures = wrk(&server.url, data, shape).await;
    let server_cpu = server.cpu().saturating_sub(cpu_before);
    let (peak_kib, rss_kib) = server.memory_kib();
    let us = |key: &str| Duration::from_micros(figures[key] as u64);
    Figures {
        requests: figures["requests"] as u64,
        duration: us("duration_us"),
        p50: us("p50_us"),
        p90: us("p90_us"),
        p99: us("p99_us"),
        max: us("max_us"),
        mean_us: figures["mean_us"],
        status_errors: figures["status_errors"] as u64,
        socket_errors: (figures["connect_errors"]
            + figures["read_errors"]
            + figures["write_errors"]
            + figures["timeouts"]) as u64,
        server_cpu,
        peak_kib,
        rss_kib,
    }
}

fn load() -> String {
    format!(
        "load average {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn row(what: &str, shape: &Shape, figures: &Figures, rate: f64, expected: &str) {
    let human = common::human;
    println!(
        "| {what} | {}×{}, {} s | {} | **{:.0}** | {} | {} | **{}** | {} | {} | {:.1} µs | **{:.1} MiB** ({} KiB; {} KiB at the end) |",
        shape.threads,
        shape.connections,
        shape.duration.as_secs(),
        figures.requests,
        rate,
        human(figures.p50),
        human(figures.p90),
        human(figures.p99),
        human(figures.max),
        expected,
        figures.server_cpu.as_secs_f64() * 1e6 / figures.requests.max(1) as f64,
        figures.peak_kib as f64 / 1024.0,
        figures.peak_kib,
        figures.rss_kib,
    );
}

async fn run() {
    let binary = PathBuf::from(
        std::env::var("GREENLIGHT_BENCH_BINARY")
            .expect("GREENLIGHT_BENCH_BINARY must name the release binary (scripts/bench sets it)"),
    );
    assert!(binary.is_file(), "{} does not exist", binary.display());
    let moto_url = moto::moto_url();
    let seconds = count_from_env("GREENLIGHT_BENCH_LOAD_SECONDS", 20, 10);
    let connections = count_from_env("GREENLIGHT_BENCH_LOAD_CONNECTIONS", 64, 1);
    let threads = count_from_env("GREENLIGHT_BENCH_LOAD_THREADS", 2, 1);
    let clicks = count_from_env("GREENLIGHT_BENCH_LOAD_CLICKS", 200, 100);

    let dir = tempfile::tempdir().expect("tempdir");
    let signer = SnsSigner::new(REGION).expect("signer");
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).expect("mkdir");
    std::fs::write(certs.join(REHEARSAL_CERT_FILE), signer.certificate_pem()).expect("pin");

    let config = moto::sdk_config().await;
    let root = moto::unique("glload");
    let table = root.clone();
    let decision_prefix = format!("/{root}/decisions");
    moto::gate_table(&config, &table).await;
    let slack = SlackDouble::start().await;

    let mut env: Vec<(String, String)> = moto::moto_env();
    env.extend(
        [
            ("AWS_ENDPOINT_URL_ECS", NOWHERE),
            ("GREENLIGHT_ALLOWED_TOPIC_ARNS", TOPIC_ARN),
            ("GREENLIGHT_SLACK_BOT_TOKEN", TOKEN),
            ("GREENLIGHT_SLACK_SIGNING_SECRET", SIGNING_SECRET),
            ("GREENLIGHT_SLACK_CHANNEL", CHANNEL),
            ("GREENLIGHT_SLACK_API_URL", &slack.base_url),
            ("GREENLIGHT_DECISION_PREFIX", &decision_prefix),
            ("GREENLIGHT_TABLE", &table),
            ("GREENLIGHT_APPROVERS", ALICE),
            ("GREENLIGHT_SNS_CERT_DIR", &certs.display().to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let rig = Rig {
        binary,
        env,
        slack,
        signer,
        decision_prefix,
        ssm: aws_sdk_ssm::Client::new(&config),
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        dir,
    };

    println!();
    println!(
        "### Load run: `greenlight serve` on loopback under wrk ({}; moto at {moto_url})",
        load()
    );
    println!();
    println!(
        "| scenario | wrk threads×connections, duration | requests | req/s | p50 | p90 | p99 | max | answers | server CPU per request | server peak RSS (VmHWM) |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |");

    let shape = Shape {
        threads,
        connections,
        duration: Duration::from_secs(seconds as u64),
        once: false,
    };
    let mut lines = Vec::new();

    // a, b, c: the cycling scenarios, each on a fresh server after a 2 s warm-up.
    let cycling: [(&str, &str, u16, Vec<WireRequest>); 3] = [
        (
            "a. signed `/deploy help` (no store call)",
            "a.lua",
            200,
            help_commands(SIGNING_SECRET),
        ),
        (
            "b. signed SNS notification, verified then only logged (pinned certificate)",
            "b.lua",
            200,
            ignored_notifications(&rig.signer),
        ),
        (
            "c. forged Slack signature → 401",
            "c.lua",
            401,
            help_commands("not-the-signing-secret-0000000000"),
        ),
    ];
    for (what, file, status, requests) in cycling {
        let data = rig.dir.path().join(file);
        write_lua_data(&data, &requests);
        let server = rig.start().await;
        // One request by hand first: the status must be the expected one.
        let (first, body) = rig.post(&server.url, &requests[0]).await;
        assert_eq!(first.as_u16(), status, "{what}: {body}");
        eprintln!("load: {what}: {}", load());
        let figures = measure(&server, &data, &shape, true).await;
        let expected = if status == 200 {
            assert_eq!(figures.status_errors, 0, "{what}: every answer is 200");
            "all 200".to_owned()
        } else {
            assert_eq!(
                figures.status_errors, figures.requests,
                "{what}: every answer is {status}"
            );
            format!("all {status}")
        };
        assert_eq!(
            figures.socket_errors, 0,
            "{what}: no socket error or timeout"
        );
        let rate = figures.requests as f64 / figures.duration.as_secs_f64();
        row(what, &shape, &figures, rate, &expected);
        lines.push((what, rate, figures));
    }

    // d: clicks, each on a gate of its own, one at a time.
    let server = rig.start().await;
    let mut gates = Vec::with_capacity(clicks);
    let opening = Instant::now();
    for i in 0..clicks {
        let (request, gate) = rig.gate_request(&format!("{root}-c{i}"));
        let (status, body) = rig.post(&server.url, &request).await;
        assert_eq!(status, http::StatusCode::OK, "gate {i} opens: {body}");
        gates.push(gate);
    }
    let opened_in = opening.elapsed();
    assert_eq!(
        rig.slack.calls("chat.postMessage").len(),
        clicks,
        "one card per gate"
    );
    let data = rig.dir.path().join("d.lua");
    let click_requests: Vec<WireRequest> = gates
        .iter()
        .map(|gate| {
            slack_request(
                "/slack/interactions",
                TestBot::click_body(ALICE, CHANNEL, REROUTE_ACTION_ID, gate),
                SIGNING_SECRET,
            )
        })
        .collect();
    write_lua_data(&data, &click_requests);
    let click_shape = Shape {
        threads: 1,
        connections: 1,
        // wrk's main thread sleeps for the whole duration even when its threads stop early, so
        // the click rate is computed from the latencies below, not from this duration.
        duration: Duration::from_secs((clicks as u64 / 5).max(20)),
        once: true,
    };
    eprintln!("load: d. clicks: {}", load());
    let figures = measure(&server, &data, &click_shape, false).await;
    assert_eq!(
        figures.requests, clicks as u64,
        "every gate was clicked once"
    );
    assert_eq!(figures.status_errors, 0, "every click answered 200");
    assert_eq!(figures.socket_errors, 0, "no socket error or timeout");
    assert_eq!(
        rig.approved_decisions().await,
        clicks,
        "every click decided its gate"
    );
    assert_eq!(
        rig.slack.calls("chat.update").len(),
        clicks,
        "one card update per click"
    );
    // One connection, one click at a time: the rate is one over the mean latency.
    let rate = 1e6 / figures.mean_us;
    row(
        "d. signed Reroute click on a fresh gate (table and SSM at moto, Slack at the double)",
        &click_shape,
        &figures,
        rate,
        "all 200; every gate `approved`, one `chat.update` each",
    );
    drop(server);

    println!();
    println!(
        "Opening the {clicks} gates of d (signed SNS gate requests, one at a time, not timed above) took {:.1} s. \
         In d, wrk runs one connection and the rate is 1 / mean latency (wrk's own duration includes its idle wait).",
        opened_in.as_secs_f64()
    );
    println!();
    println!("Against the targets of issue 12:");
    let targets = [
        (
            "a",
            40_000.0,
            "≥ 40,000 signed Slack requests/s that need no store call",
        ),
        ("b", 10_000.0, "≥ 10,000 SNS signature verifications/s"),
    ];
    for ((what, rate, _), (_, target, text)) in lines.iter().take(2).zip(targets) {
        println!(
            "- {text}: {rate:.0}/s ({}), {}",
            what.split('.').next().unwrap_or(""),
            if *rate >= target { "met" } else { "**missed**" }
        );
    }
    let peak = lines
        .iter()
        .map(|(_, _, f)| f.peak_kib)
        .chain([figures.peak_kib])
        .max()
        .unwrap_or(0);
    println!(
        "- peak RSS ≤ 24 MiB under load: largest {:.1} MiB, {}",
        peak as f64 / 1024.0,
        if peak <= 24 * 1024 {
            "met"
        } else {
            "**missed**"
        }
    );
    println!(
        "- signed click → 200 p99 ≤ 25 ms with the stores at moto: {}, {}",
        common::human(figures.p99),
        if figures.p99 <= Duration::from_millis(25) {
            "met"
        } else {
            "**missed**"
        }
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}
