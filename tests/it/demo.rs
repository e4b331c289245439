//! `greenlight demo`, run as people run it: the built binary, with nothing from this environment
//! (no AWS or Slack variables), so it rehearses on its own in-memory store and terminal Slack.

use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::support::moto;

fn demo(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("demo")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn finish(command: &mut Command) -> Run {
    let output: Output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the rehearsal ends within a minute")
        .expect("greenlight runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn run(args: &[&str]) -> Run {
    finish(&mut demo(args)).await
}

impl Run {
    fn shows(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "the output should show {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    fn hides(&self, text: &str) -> &Self {
        assert!(
            !self.stdout.contains(text),
            "the output should not show {text:?}\n{}",
            self.stdout
        );
        self
    }

    fn succeeded(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The card as first posted (with its buttons) and the timeline's fixed lines.
    fn shows_the_card_and_the_timeline(&self) -> &Self {
        self.shows("chat.postMessage → #C0REHEARSAL: the gate card")
            .shows("│ web: Reroute production traffic to the new revision?")
            .shows("[ Reroute ]  [ Rollback ]  [ Open in ECS console ↗ ]")
            .shows("sns     delivers the gate request → POST /sns (signed, SignatureVersion 2)")
            .shows("sns     ← 200 card posted")
            .shows("\ntimeline\n  request → card ")
            .shows("  whole rehearsal ")
    }

    /// Flow B: ECS paused by itself, its event reached /sns signed, and the bot posted the
    /// pause card; no hook was invoked.
    fn shows_the_pause_card_and_the_timeline(&self) -> &Self {
        self.shows("flow       B, pause hook: ECS pauses by itself")
            .shows("hook       none: ECS pauses by itself and waits for ContinueServiceDeployment")
            .shows("POST_TEST_TRAFFIC_SHIFT        prod blue   test green  PAUSE hook: AWAITING_ACTION")
            .shows("ecs     emits HOOK_AWAITING_ACTION → EventBridge rule → topic")
            .shows("sns     delivers the ECS Hook State Change (HOOK_AWAITING_ACTION) → POST /sns (signed, SignatureVersion 2)")
            .shows("sns     ← 200 card posted")
            .shows("chat.postMessage → #C0REHEARSAL: the gate card")
            .shows("│ web: Reroute production traffic to the new revision?")
            .shows("│ ECS paused this deployment (pause hook)")
            .shows("[ Reroute ]  [ Rollback ]  [ Open in ECS console ↗ ]")
            .shows("\ntimeline\n  request → card ")
            .shows("  whole rehearsal ")
            .hides("hook: SUCCEEDED")
            .hides("hook: invoked")
            .hides("hook    SUCCEEDED")
            .hides("callBackDelay")
    }

    /// Logs are JSON on stderr, and nothing below a warning by default.
    fn logs_quietly(&self) -> &Self {
        for line in self.stderr.lines() {
            let entry: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("a log line that is not JSON: {line}"));
            assert!(
                matches!(entry["level"].as_str(), Some("WARN" | "ERROR")),
                "{line}"
            );
        }
        self
    }
}

#[tokio::test]
async fn approve_reroutes_and_completes() {
    let run = run(&[]).await;
    run.succeeded()
        .shows_the_card_and_the_timeline()
        .logs_quietly()
        .shows("story      approve:")
        .shows("stores     in memory (MemoryParameterStore, MemoryGateTable)")
        .shows("RECONCILE_SERVICE              prod blue   test blue   hook: SUCCEEDED")
        .shows("POST_TEST_TRAFFIC_SHIFT        prod blue   test green  hook: invoked, gated stage")
        .shows("alice   clicks Reroute → POST /slack/interactions, signed")
        .shows("│ ✅ Rerouted by @U0DEMOALICE at ")
        .shows("↳ in the card's thread: ✅ @U0DEMOALICE approved at ")
        .shows("hook    SUCCEEDED")
        .shows("PRODUCTION_TRAFFIC_SHIFT       prod green  test green  hook: SUCCEEDED")
        .shows("✔ deployment SUCCESSFUL")
        .shows("  click → acknowledgement (HTTP 200) ")
        .shows("  click → ECS sees the decision (SUCCEEDED) ")
        .shows("✔ the deployment was rerouted (expected: rerouted)")
        .shows("outcome  rerouted: the deployment is SUCCESSFUL")
        .shows("✔ as the story expects (rerouted)")
        .hides("✘");
}

#[tokio::test]
async fn reject_rolls_back() {
    run(&["--decision", "reject"])
        .await
        .succeeded()
        .shows_the_card_and_the_timeline()
        .logs_quietly()
        .shows("alice   clicks Rollback → POST /slack/interactions, signed")
        .shows("│ ⏪ Rollback requested by @U0DEMOALICE at ")
        .shows("hook    FAILED")
        .shows("⏪ rolls back: the hook answered FAILED at POST_TEST_TRAFFIC_SHIFT")
        .shows("⏪ deployment ROLLBACK_SUCCESSFUL")
        .shows("  click → ECS sees the decision (FAILED) ")
        .shows("✔ as the story expects (rolled back)")
        .hides("PRODUCTION_TRAFFIC_SHIFT       prod green")
        .hides("✘");
}

#[tokio::test]
async fn timeout_rolls_back_and_the_card_says_so() {
    run(&["--decision", "timeout"])
        .await
        .succeeded()
        .shows_the_card_and_the_timeline()
        .logs_quietly()
        .shows("gate timeout 4.00 s, then ROLLBACK")
        .shows("nobody clicks")
        // The hook waits out its poll window, asks to be called back, and ECS does so.
        .shows("hook    IN_PROGRESS, callBackDelay 1 s")
        .shows("ecs     waits 1.00 s as asked (callBackDelay 1 s)")
        .shows("invokes the hook again (attempt 2), handing back the hookDetails it returned {greenlight}")
        // The hook's timed-out follow-up goes through /sns too, and the card shows it.
        .shows("sns     delivers the gate follow-up (timed out) → POST /sns")
        .shows("sns     ← 200 card updated")
        .shows("│ ⏰ Timed out: rolled back at ")
        .shows("  request → ECS sees the timeout (FAILED) ")
        .shows("✔ nobody clicked")
        .shows("✔ as the story expects (rolled back)")
        .hides("clicks Reroute")
        .hides("clicks Rollback")
        .hides("✘");
}

#[tokio::test]
async fn an_unauthorized_click_is_refused_then_an_approver_approves() {
    let run = run(&["--decision", "unauthorized"]).await;
    run.succeeded()
        .shows_the_card_and_the_timeline()
        .shows("mallory clicks Reroute → POST /slack/interactions, signed")
        .shows("chat.postEphemeral → only @U0DEMOMALLORY sees: 🚫 you are not an approver")
        .shows("check   nothing was decided: no decision parameter under /greenlight-rehearsal/")
        .shows("alice   clicks Reroute")
        .shows("│ ✅ Rerouted by @U0DEMOALICE at ")
        .shows("  refused click → acknowledgement (HTTP 200) ")
        .shows("✔ her click decided nothing")
        .shows("✔ as the story expects (rerouted)")
        .hides("✘");
    // The refusal is also the one structured warning.
    assert!(
        run.stderr.contains(r#""event":"gate.refusal""#),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_wrong_expectation_fails_the_run() {
    run(&["--expect", "rolled-back", "--speed", "4"])
        .await
        .shows("✘ the deployment was rerouted (expected: rolled back)")
        .shows("✘ the story expects rolled back")
        .shows("a callBackDelay of 1 s\n             is waited as 0.25 s")
        .code
        .map(|code| assert_eq!(code, 1))
        .unwrap_or_else(|| panic!("greenlight demo was killed"));
}

#[tokio::test]
async fn interactively_the_person_at_the_terminal_decides() {
    let mut command = demo(&["--interactive", "--speed", "4"]);
    command.stdin(Stdio::piped());
    let mut child = command.spawn().expect("greenlight runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"maybe\nb\n").await.expect("type");
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the rehearsal ends")
        .expect("greenlight runs");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    run.succeeded()
        .shows("story      interactive: you decide, at this terminal")
        .shows("you     `maybe`? type r (reroute) or b (rollback)")
        .shows("you     clicks Rollback → POST /slack/interactions, signed")
        .shows("⏪ deployment ROLLBACK_SUCCESSFUL")
        .shows("✔ as the story expects (rolled back)");
}

#[tokio::test]
async fn with_an_aws_endpoint_the_decisions_go_to_ssm_and_are_cleaned_up() {
    let run = finish(demo(&["--speed", "4"]).envs(moto::moto_env())).await;
    run.succeeded()
        .shows("stores     SSM Parameter Store, under /greenlight-rehearsal/")
        .shows("(because AWS_ENDPOINT_URL is set; removed at the end)")
        .shows("✔ as the story expects (rerouted)")
        .shows(
            "removed this run's gate table, and the 0 parameters left under /greenlight-rehearsal/",
        );
    nothing_is_left_in_ssm(&run).await;
}

/// The run named its SSM path and its table: the hook deleted the decision it read, so nothing
/// was left under the path (SSM holds only decisions not yet read), and the table is gone.
async fn nothing_is_left_in_ssm(run: &Run) {
    let run_path = run
        .stdout
        .split_whitespace()
        .find(|word| word.starts_with("/greenlight-rehearsal/"))
        .expect("the run names its SSM path")
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    let config = moto::sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let left = ssm
        .get_parameters_by_path()
        .path(&run_path)
        .recursive(true)
        .send()
        .await
        .expect("list the run's parameters");
    assert!(
        left.parameters.unwrap_or_default().is_empty(),
        "nothing is left under {run_path}"
    );
    let table = run
        .stdout
        .split_whitespace()
        .find(|word| word.starts_with("greenlight-rehearsal-"))
        .expect("the run names its table")
        .to_owned();
    let described = aws_sdk_dynamodb::Client::new(&config)
        .describe_table()
        .table_name(&table)
        .send()
        .await;
    assert!(described.is_err(), "table {table} was deleted");
}

#[tokio::test]
async fn pause_approve_continues_the_deployment_and_ecs_reports_it_completed() {
    run(&["--flow", "pause", "--speed", "4"])
        .await
        .succeeded()
        .shows_the_pause_card_and_the_timeline()
        .logs_quietly()
        .shows("story      approve:")
        .shows("a PAUSE hook at POST_TEST_TRAFFIC_SHIFT: timeout 2 min, then ROLLBACK")
        .shows("stores     in memory (MemoryParameterStore, MemoryGateTable)")
        .shows("alice   clicks Reroute → POST /slack/interactions, signed")
        .shows("ecs     ← ContinueServiceDeployment(action CONTINUE); the pause hook SUCCEEDED")
        .shows("│ ✅ Rerouted by @U0DEMOALICE at ")
        .shows("sns     delivers the ECS Hook State Change (HOOK_SUCCEEDED) → POST /sns")
        .shows("PRODUCTION_TRAFFIC_SHIFT       prod green  test green")
        .shows("sns     delivers the ECS Deployment State Change (SERVICE_DEPLOYMENT_COMPLETED)")
        .shows("↳ in the card's thread: ECS: deployment ✅ completed")
        .shows("✔ deployment SUCCESSFUL")
        .shows("  click → acknowledgement (HTTP 200) ")
        .shows("  click → ECS sees the decision (CONTINUE) ")
        .shows("✔ ECS received ContinueServiceDeployment(CONTINUE), once")
        .shows("✔ the card's last line says so: Gate gl-")
        .shows("✔ as the story expects (rerouted)")
        .hides("✘");
}

#[tokio::test]
async fn pause_reject_continues_with_rollback() {
    run(&["--flow", "pause", "--decision", "reject", "--speed", "4"])
        .await
        .succeeded()
        .shows_the_pause_card_and_the_timeline()
        .logs_quietly()
        .shows("alice   clicks Rollback → POST /slack/interactions, signed")
        .shows("ecs     ← ContinueServiceDeployment(action ROLLBACK); the pause hook FAILED")
        .shows("│ ⏪ Rollback requested by @U0DEMOALICE at ")
        .shows("⏪ rolls back: ContinueServiceDeployment(ROLLBACK) at POST_TEST_TRAFFIC_SHIFT")
        .shows("↳ in the card's thread: ECS: deployment ⏪ rolling back: ")
        .shows("⏪ deployment ROLLBACK_SUCCESSFUL")
        .shows("  click → ECS sees the decision (ROLLBACK) ")
        .shows("✔ ECS received ContinueServiceDeployment(ROLLBACK), once")
        .shows("· ⏪ rolled back: ContinueServiceDeployment(ROLLBACK)")
        .shows("✔ as the story expects (rolled back)")
        .hides("PRODUCTION_TRAFFIC_SHIFT       prod green")
        .hides("✘");
}

#[tokio::test]
async fn pause_timeout_is_ecss_own_and_the_card_says_so() {
    run(&["--flow", "pause", "--decision", "timeout", "--speed", "4"])
        .await
        .succeeded()
        .shows_the_pause_card_and_the_timeline()
        .logs_quietly()
        .shows("a PAUSE hook at POST_TEST_TRAFFIC_SHIFT: timeout 4.00 s, then ROLLBACK")
        .shows("nobody clicks")
        .shows(
            "ecs     nobody acted: the pause hook TIMED_OUT; its timeout action ROLLBACK applies",
        )
        .shows("sns     delivers the ECS Hook State Change (HOOK_TIMED_OUT) → POST /sns")
        .shows("sns     ← 200 card updated")
        .shows("│ ⏰ Timed out in ECS: rolled back at ")
        .shows("↳ in the card's thread: ⏰ Nobody decided before the deadline")
        .shows("⏪ deployment ROLLBACK_SUCCESSFUL")
        .shows("  request → ECS sees the timeout (TIMED_OUT) ")
        .shows("✔ nobody clicked")
        .shows("✔ ECS received no ContinueServiceDeployment and no StopServiceDeployment")
        .shows("✔ as the story expects (rolled back)")
        .hides("clicks Reroute")
        .hides("clicks Rollback")
        .hides("✘");
}

#[tokio::test]
async fn pause_an_unauthorized_click_reaches_nothing_then_an_approver_approves() {
    let run = run(&[
        "--flow",
        "pause",
        "--decision",
        "unauthorized",
        "--speed",
        "4",
    ])
    .await;
    run.succeeded()
        .shows_the_pause_card_and_the_timeline()
        .shows("mallory clicks Reroute → POST /slack/interactions, signed")
        .shows("chat.postEphemeral → only @U0DEMOMALLORY sees: 🚫 you are not an approver")
        .shows("check   nothing was decided: ECS received no ContinueServiceDeployment")
        .shows("alice   clicks Reroute")
        .shows("│ ✅ Rerouted by @U0DEMOALICE at ")
        .shows("  refused click → acknowledgement (HTTP 200) ")
        .shows("✔ her click decided nothing: ECS received no ContinueServiceDeployment")
        .shows("✔ ECS received ContinueServiceDeployment(CONTINUE), once")
        .shows("✔ as the story expects (rerouted)")
        .hides("✘");
    assert!(
        run.stderr.contains(r#""event":"gate.refusal""#),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn pause_roll_back_now_during_bake_stops_the_deployment_once() {
    run(&["--flow", "pause", "--decision", "rollback-now", "--speed", "4"])
        .await
        .succeeded()
        .shows_the_pause_card_and_the_timeline()
        .logs_quietly()
        .shows("story      rollback-now:")
        .shows("alice   clicks Reroute")
        .shows("[ Roll back now ]")
        .shows("production is on green; bake time")
        .shows("alice   clicks Roll back now → POST /slack/interactions, signed")
        .shows("(block_actions: action_id greenlight.rollback_now, value gl-")
        .shows("ecs     ← StopServiceDeployment(stopType ROLLBACK)")
        .shows("⏪ rolls back: stopped with rollback during bake time")
        .shows("↳ in the card's thread: ⏪ @U0DEMOALICE rolled the deployment back after approval")
        .shows("⏪ deployment ROLLBACK_SUCCESSFUL")
        .shows("  Roll back now → acknowledgement (HTTP 200) ")
        .shows("  Roll back now → ECS stops the deployment ")
        .shows(
            "✔ ECS received ContinueServiceDeployment(CONTINUE), then StopServiceDeployment(ROLLBACK), once",
        )
        .shows("· ⏪ rolled back: stopped with rollback during bake time")
        .shows("✔ as the story expects (rolled back)")
        .hides("✘");
}

#[tokio::test]
async fn lambda_roll_back_now_during_bake_stops_the_deployment_once() {
    run(&["--decision", "rollback-now", "--speed", "4"])
        .await
        .succeeded()
        .shows_the_card_and_the_timeline()
        .logs_quietly()
        .shows("flow       A, Lambda hook:")
        .shows("hook    SUCCEEDED")
        .shows("alice   clicks Roll back now → POST /slack/interactions, signed")
        .shows("ecs     ← StopServiceDeployment(stopType ROLLBACK)")
        .shows("⏪ deployment ROLLBACK_SUCCESSFUL")
        .shows("  Roll back now → ECS stops the deployment ")
        .shows("✔ ECS received StopServiceDeployment(ROLLBACK), once")
        .shows("· ⏪ rolling back")
        .shows("✔ as the story expects (rolled back)")
        .hides("ContinueServiceDeployment")
        .hides("✘");
}

#[tokio::test]
async fn pause_with_an_aws_endpoint_keeps_the_gates_in_dynamodb_and_cleans_up() {
    let run = finish(demo(&["--flow", "pause", "--speed", "4"]).envs(moto::moto_env())).await;
    run.succeeded()
        .shows("stores     SSM Parameter Store, under /greenlight-rehearsal/")
        .shows("decisions go to ECS as ContinueServiceDeployment, not to parameters")
        .shows("✔ ECS received ContinueServiceDeployment(CONTINUE), once")
        .shows("✔ as the story expects (rerouted)")
        .shows(
            "removed this run's gate table, and the 0 parameters left under /greenlight-rehearsal/",
        );
    nothing_is_left_in_ssm(&run).await;
}
