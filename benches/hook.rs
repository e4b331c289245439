//! The hook's own handling time, network excluded: `Hook::handle` over the in-memory parameter
//! store and topic and a fixed `Deployments`, so what is timed is greenlight's code (payload
//! parsing, the gate request, the marker, the response) and nothing that waits on a socket.
//!
//! Three invocations, each timed many times:
//! - `open`: the first invocation at a gated stage: describe the deployment, publish the gate
//!   request, read the decision once (absent), answer `IN_PROGRESS` with the marker;
//! - `approved`: a later invocation whose one read finds `approved`: delete it, answer `SUCCEEDED`;
//! - `nothing`: a later invocation whose one read finds nothing (`GREENLIGHT_POLL_WINDOW=0`),
//!   answer `IN_PROGRESS`.
//!
//! Each runs twice: with no log subscriber (the logic alone) and with the production JSON log
//! format writing its line to /dev/null (what a Lambda invocation really does, minus the pipe to
//! CloudWatch).
//!
//! `GREENLIGHT_BENCH_HOOK_ITERATIONS` sets the iterations per figure (default 20 000, at least
//! 10 000). Run it with `scripts/bench`, or `cargo bench --bench hook`.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use greenlight::config::HookSettings;
use greenlight::domain::lifecycle::{HookResponse, HookStatus};
use greenlight::hook::Hook;
use greenlight::memory::{MemoryParameterStore, MemoryTopic};
use greenlight::ports::{AdapterError, DeploymentLookup, DeploymentState, ParameterStore};
use serde_json::{Value, json};

use common::{Summary, count_from_env, header, report};

const DEPLOYMENT: &str = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/dep1";
const PARAMETER: &str = "/greenlight/decisions/prod/web/dep1/POST_TEST_TRAFFIC_SHIFT";
const WARM_UP: usize = 2_000;

/// ECS as the hook sees it at a gated stage of a replacing deployment: one source revision.
struct FixedDeployments;

#[async_trait]
impl DeploymentLookup for FixedDeployments {
    async fn describe(&self, arn: &str) -> Result<Option<DeploymentState>, AdapterError> {
        Ok(Some(DeploymentState {
            arn: arn.to_owned(),
            status: greenlight::ports::DeploymentStatus::InProgress,
            status_reason: None,
            lifecycle_stage: Some(greenlight::ports::DeploymentStage::Hooked(
                greenlight::domain::stage::LifecycleStage::PostTestTrafficShift,
            )),
            source_revisions: vec![
                "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/111".to_owned(),
            ],
            target_revision: Some(
                "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/222".to_owned(),
            ),
            hooks: Vec::new(),
            ..DeploymentState::default()
        }))
    }
}

/// The payload ECS sends, as documented, with `hookDetails` when an earlier invocation set them.
fn payload(hook_details: Option<&Value>) -> Value {
    let mut payload = json!({
        "executionId": "a1b2c3d4-0000-4000-8000-000000000001",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "resourceArn": DEPLOYMENT,
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
            "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/222",
            "testTrafficWeights": {"arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/222": 100},
            "productionTrafficWeights": {"arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/111": 100}
        }
    });
    if let Some(details) = hook_details {
        payload["hookDetails"] = details.clone();
    }
    payload
}

struct Fixture {
    hook: Hook,
    store: Arc<MemoryParameterStore>,
    topic: Arc<MemoryTopic>,
}

fn fixture() -> Fixture {
    let env: HashMap<&str, &str> = HashMap::from([
        (
            "GREENLIGHT_SNS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:greenlight-gates",
        ),
        ("GREENLIGHT_POLL_WINDOW", "0"),
    ]);
    let settings = HookSettings::from_env(&env).expect("hook settings");
    let store = Arc::new(MemoryParameterStore::new());
    let topic = Arc::new(MemoryTopic::new());
    let hook = Hook::new(
        settings,
        Arc::clone(&store) as Arc<dyn ParameterStore>,
        Arc::clone(&topic) as Arc<dyn greenlight::ports::TopicPublisher>,
        Arc::new(FixedDeployments),
    );
    Fixture { hook, store, topic }
}

/// Times `iterations` calls of `handle` (after a warm-up), with `before` run untimed before each
/// and `check` run untimed on each answer.
async fn time_handle(
    fixture: &Fixture,
    payload: &Value,
    iterations: usize,
    before: impl Fn(&Fixture),
    check: impl Fn(&HookResponse),
) -> Vec<Duration> {
    let mut sample = Vec::with_capacity(iterations);
    for round in 0..WARM_UP + iterations {
        before(fixture);
        let started = Instant::now();
        let response = fixture.hook.handle(payload, None).await;
        let elapsed = started.elapsed();
        check(&response);
        if round >= WARM_UP {
            sample.push(elapsed);
        }
    }
    sample
}

fn expect(status: HookStatus) -> impl Fn(&HookResponse) {
    move |response| assert_eq!(response.hook_status, status, "{response:?}")
}

async fn run_all(label: &str, iterations: usize) {
    let fixture = fixture();

    let first = payload(None);
    let published_before = fixture.topic.messages().len();
    let open = time_handle(
        &fixture,
        &first,
        iterations,
        |_| {},
        expect(HookStatus::InProgress),
    )
    .await;
    assert_eq!(
        fixture.topic.messages().len() - published_before,
        WARM_UP + iterations,
        "every first invocation publishes one gate request"
    );
    report(
        &format!("open the gate (describe + publish + one read){label}"),
        &Summary::of(&open),
    );

    // The hookDetails ECS hands back after the first invocation.
    let opened = fixture.hook.handle(&first, None).await;
    let details = serde_json::to_value(opened.hook_details.expect("hookDetails")).expect("json");
    assert_eq!(details["greenlight"]["parameterName"], PARAMETER);
    let later = payload(Some(&details));

    let approved = time_handle(
        &fixture,
        &later,
        iterations,
        |fixture| {
            futures_util::FutureExt::now_or_never(fixture.store.overwrite(PARAMETER, "approved"))
                .expect("the memory store never waits")
                .expect("write");
        },
        expect(HookStatus::Succeeded),
    )
    .await;
    assert!(
        fixture.store.snapshot().is_empty(),
        "each approved poll deletes the decision"
    );
    report(
        &format!("poll finds `approved` (read + delete){label}"),
        &Summary::of(&approved),
    );

    let nothing = time_handle(
        &fixture,
        &later,
        iterations,
        |_| {},
        expect(HookStatus::InProgress),
    )
    .await;
    report(
        &format!("poll finds nothing, window 0 (one read){label}"),
        &Summary::of(&nothing),
    );
}

/// The production log format (`greenlight::telemetry::init`), writing to /dev/null.
fn json_logs_to_dev_null() -> impl tracing::Subscriber + Send + Sync {
    let dev_null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("open /dev/null");
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(Mutex::new(dev_null))
        .finish()
}

fn main() {
    common::self_check();
    let iterations = count_from_env("GREENLIGHT_BENCH_HOOK_ITERATIONS", 20_000, 10_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    header(&format!(
        "Hook::handle, in memory ({iterations} timed iterations each, after {WARM_UP} warm-up)"
    ));
    runtime.block_on(run_all(" — no log subscriber", iterations));
    let _logs = tracing::subscriber::set_default(json_logs_to_dev_null());
    runtime.block_on(run_all(" — JSON log line to /dev/null", iterations));
}
