//! The `greenlight` binary itself, and the hook-only `greenlight-hook` the template deploys to
//! the hook function, started the way Lambda and operators start them.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

use crate::support::ecs_double::EcsDouble;
use crate::support::lambda_runtime::LambdaRuntimeApi;
use crate::support::moto::{self, ACCOUNT, REGION};

fn greenlight() -> Command {
    started(env!("CARGO_BIN_EXE_greenlight"))
}

/// The hook function's binary.
fn greenlight_hook() -> Command {
    started(env!("CARGO_BIN_EXE_greenlight-hook"))
}

/// Each binary with the arguments that run the hook once (`--event`).
fn hook_once_commands() -> [(Command, &'static str); 2] {
    let mut whole = greenlight();
    whole.arg("hook");
    [
        (whole, "greenlight hook"),
        (greenlight_hook(), "greenlight-hook"),
    ]
}

fn started(binary: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .kill_on_drop(true);
    command
}

fn event(cluster: &str, stage: &str) -> serde_json::Value {
    json!({
        "executionId": "exec-1",
        "lifecycleStage": stage,
        "resourceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/dep1"),
        "executionDetails": {
            "serviceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/web"),
            "targetServiceRevisionArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{cluster}/web/2")
        }
    })
}

#[tokio::test]
async fn inside_lambda_the_binary_serves_the_hook_named_by_handler() {
    serves_the_hook_inside_lambda(greenlight()).await;
}

#[tokio::test]
async fn inside_lambda_the_hook_only_binary_serves_the_hook() {
    serves_the_hook_inside_lambda(greenlight_hook()).await;
}

async fn serves_the_hook_inside_lambda(mut binary: Command) {
    let runtime = LambdaRuntimeApi::start().await;
    let ecs = EcsDouble::start().await;
    let cluster = moto::unique("lambda");
    let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/dep1");
    // A first deployment: the hook asks ECS (the double, through AWS_ENDPOINT_URL_ECS) and lets it pass.
    ecs.add_deployment(&arn, json!({"status": "IN_PROGRESS"}));
    let mut child = binary
        .envs(moto::moto_env())
        .env("AWS_ENDPOINT_URL_ECS", &ecs.url)
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .env("_HANDLER", "hook")
        .env("AWS_LAMBDA_FUNCTION_NAME", "greenlight-hook")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "GREENLIGHT_SNS_TOPIC_ARN",
            format!("arn:aws:sns:{REGION}:{ACCOUNT}:unused"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start greenlight");

    runtime.invoke("req-1", event(&cluster, "POST_TEST_TRAFFIC_SHIFT"));
    let answer = runtime
        .response("req-1", Duration::from_secs(20))
        .await
        .expect("an answer from the function");
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    assert_eq!(ecs.calls_to("DescribeServiceDeployments").len(), 1);

    runtime.invoke("req-2", json!({"not": "a lifecycle payload"}));
    let answer = runtime
        .response("req-2", Duration::from_secs(20))
        .await
        .expect("a second answer");
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    child.start_kill().expect("stop greenlight");
}

#[tokio::test]
async fn hook_event_runs_one_invocation_and_prints_one_json_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("event.json");
    std::fs::write(&path, event("any", "PRE_SCALE_UP").to_string()).expect("write event");
    for (mut command, name) in hook_once_commands() {
        let output = command
            .envs(moto::moto_env())
            .env(
                "GREENLIGHT_SNS_TOPIC_ARN",
                format!("arn:aws:sns:{REGION}:{ACCOUNT}:unused"),
            )
            .arg("--event")
            .arg(&path)
            .output()
            .await
            .expect("run the binary");
        assert!(output.status.success(), "{name}");
        let stdout = String::from_utf8(output.stdout).expect("utf-8");
        assert_eq!(stdout.lines().count(), 1, "{name}: {stdout}");
        let answer: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
        assert_eq!(answer["hookStatus"], "SUCCEEDED", "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(r#""event":"gate.not_gated""#),
            "{name}: logs are JSON lines on stderr: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_naming_the_variable() {
    for (mut command, name) in hook_once_commands() {
        let output = command
            .env(
                "GREENLIGHT_SNS_TOPIC_ARN",
                format!("arn:aws:sns:{REGION}:{ACCOUNT}:t"),
            )
            .env("GREENLIGHT_GATE_TIMEOUT", "forever")
            .args(["--event", "-"])
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run the binary");
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("GREENLIGHT_GATE_TIMEOUT: `forever` is not a duration"),
            "{name}: {stderr}"
        );
    }
}

#[tokio::test]
async fn the_hook_only_binary_refuses_what_it_cannot_serve() {
    // Another face named by the function's handler: a template mistake, said at once.
    let output = greenlight_hook()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("_HANDLER", "bot")
        .output()
        .await
        .expect("run greenlight-hook");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("_HANDLER is `bot`"), "{stderr}");

    // Outside Lambda with no event, and with arguments it does not know: usage, exit 2.
    for arguments in [
        &[][..],
        &["--events", "x"][..],
        &["hook", "--event", "x"][..],
    ] {
        let output = greenlight_hook()
            .args(arguments)
            .output()
            .await
            .expect("run greenlight-hook");
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("usage: greenlight-hook"),
            "{arguments:?}: {stderr}"
        );
    }
}
