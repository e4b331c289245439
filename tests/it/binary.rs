//! The `greenlight` binary itself, and the hook-only `greenlight-hook` the template deploys to
//! the hook function, started the way Lambda and operators start them.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

use crate::support::ecs_double::EcsDouble;
use crate::support::lambda_runtime::LambdaRuntimeApi;
use crate::support::moto::{self, ACCOUNT, REGION};
use crate::support::tls_front::TlsFront;

fn greenlight() -> Command {
    started(env!("CARGO_BIN_EXE_greenlight"))
}

/// The hook function's binary.
fn greenlight_hook() -> Command {
    started(env!("CARGO_BIN_EXE_greenlight-hook"))
}

/// Each binary with the arguments that run the hook once (`--event`).
fn hook_once_commands() -> [(Command, &'static str); 2] {
    HOOK_BINARIES.map(|name| (command_like(name), name))
}

/// The two ways to run the hook: the hook-only binary, and the hook in the whole binary.
const HOOK_BINARIES: [&str; 2] = ["greenlight-hook", "greenlight hook"];

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
        refused_saying(
            &output,
            "GREENLIGHT_GATE_TIMEOUT: `forever` is not a duration",
            name,
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
    refused_saying(&output, "_HANDLER is `bot`", "_HANDLER=bot");

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
        refused_saying(&output, "usage: greenlight-hook", &format!("{arguments:?}"));
    }
}

/// A start-up refused: exit status 2, and standard error says `what`.
fn refused_saying(output: &std::process::Output, what: &str, case: &str) {
    assert_eq!(output.status.code(), Some(2), "{case}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(what), "{case}: {stderr}");
}

/// Over TLS, both binaries trust exactly the root bundle they are given: the AWS SDK's client as
/// greenlight builds it (`src/tls.rs`) reads the decision through a TLS front for moto when
/// `SSL_CERT_FILE` holds the front's CA, and refuses the front's certificate with the system's
/// bundle, which does not.
#[tokio::test]
async fn over_tls_the_hook_trusts_exactly_the_bundle_it_is_given() {
    let upstream = moto::moto_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let front = TlsFront::start(upstream).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, &front.ca_pem).expect("write the bundle");

    // A gate opened over plain HTTP (moto itself, ECS at the double), as a first invocation.
    let config = moto::sdk_config().await;
    let topic = moto::create_topic(&config, &moto::unique("tls")).await;
    let ecs = EcsDouble::start().await;
    let cluster = moto::unique("tls");
    let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/dep1");
    ecs.add_replacing_deployment(&arn);
    let prefix = format!("/{}/decisions", moto::unique("tls"));
    let settings = [
        ("GREENLIGHT_SNS_TOPIC_ARN", topic.as_str()),
        ("GREENLIGHT_DECISION_PREFIX", prefix.as_str()),
        ("GREENLIGHT_POLL_WINDOW", "0"),
    ];
    let first = dir.path().join("first.json");
    std::fs::write(
        &first,
        event(&cluster, "POST_TEST_TRAFFIC_SHIFT").to_string(),
    )
    .expect("write");
    let (opened, _) = answer_of(
        greenlight_hook(),
        &settings,
        &[("AWS_ENDPOINT_URL_ECS", ecs.url.clone())],
        &first,
    )
    .await;
    assert_eq!(opened["hookStatus"], "IN_PROGRESS", "{opened}");
    let parameter = opened["hookDetails"]["greenlight"]["parameterName"]
        .as_str()
        .expect("the decision parameter")
        .to_owned();
    let mut poll = event(&cluster, "POST_TEST_TRAFFIC_SHIFT");
    poll["hookDetails"] = opened["hookDetails"].clone();
    let poll_path = dir.path().join("poll.json");
    std::fs::write(&poll_path, poll.to_string()).expect("write");
    let ssm = aws_sdk_ssm::Client::new(&config);

    for name in HOOK_BINARIES {
        ssm.put_parameter()
            .name(&parameter)
            .value("approved")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .expect("approve");
        // The system's bundle: the front's certificate is refused, nothing is read or deleted.
        let through_front = ("AWS_ENDPOINT_URL", front.url.clone());
        let (answer, stderr) = answer_of(
            command_like(name),
            &settings,
            std::slice::from_ref(&through_front),
            &poll_path,
        )
        .await;
        assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{name}: {answer}");
        assert!(stderr.contains("UnknownIssuer"), "{name}: {stderr}");
        let still = ssm.get_parameter().name(&parameter).send().await;
        assert!(still.is_ok(), "{name}: the decision is still there");

        // The front's CA as the bundle: the decision is read over TLS, and deleted.
        let trusting = ("SSL_CERT_FILE", bundle.display().to_string());
        let (answer, stderr) = answer_of(
            command_like(name),
            &settings,
            &[through_front, trusting],
            &poll_path,
        )
        .await;
        assert_eq!(
            answer["hookStatus"], "SUCCEEDED",
            "{name}: {answer} {stderr}"
        );
        let gone = ssm.get_parameter().name(&parameter).send().await;
        assert!(
            gone.is_err(),
            "{name}: the hook deleted the decision it read"
        );
    }
}

/// Runs the hook once with the payload at `payload`, moto's environment, `settings`, then `extra`
/// (which may override either): its answer, and its standard error.
async fn answer_of(
    mut command: Command,
    settings: &[(&str, &str)],
    extra: &[(&str, String)],
    payload: &std::path::Path,
) -> (serde_json::Value, String) {
    let output = command
        .envs(moto::moto_env())
        .envs(settings.iter().copied())
        .envs(extra.iter().map(|(name, value)| (*name, value.as_str())))
        .arg("--event")
        .arg(payload)
        .output()
        .await
        .expect("run the binary");
    let answer = serde_json::from_slice(&output.stdout).expect("one JSON answer");
    (answer, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// A command that runs the hook once: `greenlight-hook`, or `greenlight hook`.
fn command_like(name: &str) -> Command {
    if name == "greenlight-hook" {
        return greenlight_hook();
    }
    let mut command = greenlight();
    command.arg("hook");
    command
}
