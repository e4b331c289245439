//! `/deploy`, through signed requests to the router: every answer is ephemeral, `approve` and
//! `rollback` take the button's path, and `status` shows the live ECS state of each open gate.

use axum::http::StatusCode;
use serde_json::Value;

use crate::support::bot::{ALICE, BOB, MALLORY, TestBot};
use crate::support::moto::{ACCOUNT, REGION};
use greenlight::bot::commands::USAGE;

/// Runs `/deploy <text>` as `user`, checks that the answer is an ephemeral 200 that cost no
/// extra Slack call, and returns its text.
async fn deploy(bot: &TestBot, user: &str, text: &str) -> String {
    let ephemerals_before = bot.slack.calls("chat.postEphemeral").len();
    let (status, answer) = bot.command(user, text).await;
    assert_eq!(status, StatusCode::OK, "/deploy {text}: {answer}");
    assert_eq!(
        answer["response_type"], "ephemeral",
        "/deploy {text}: {answer}"
    );
    assert_eq!(
        bot.slack.calls("chat.postEphemeral").len(),
        ephemerals_before,
        "the answer is the HTTP response, not an API call"
    );
    answer["text"].as_str().expect("text").to_owned()
}

fn deployment_arn(cluster: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/dep1")
}

/// The posted card's location, from the gate record.
async fn card_of(bot: &TestBot, gate: &str) -> (String, String) {
    let record = bot.gate_record(gate).await.expect("record");
    (
        record["card"]["channel"]
            .as_str()
            .expect("channel")
            .to_owned(),
        record["card"]["ts"].as_str().expect("ts").to_owned(),
    )
}

#[tokio::test]
async fn status_lists_the_open_gate_with_its_live_ecs_state() {
    let bot = TestBot::start().await;
    let cluster = "status-prod";
    bot.ecs.add_replacing_deployment(&deployment_arn(cluster));
    let (gate, _) = bot.open_gate(cluster).await;
    let (channel, ts) = card_of(&bot, &gate).await;
    // Posting the card read the deployment once, for its evidence.
    let before = bot.ecs.calls_to("DescribeServiceDeployments").len();

    let text = deploy(&bot, ALICE, "status").await;
    assert!(text.starts_with("*1 open gate*"), "{text}");
    assert!(text.contains(&format!("`{gate}`")), "gate id: {text}");
    assert!(text.contains("*web*"), "service: {text}");
    assert!(text.contains(&format!("in {cluster}")), "cluster: {text}");
    assert!(text.contains("at POST_TEST_TRAFFIC_SHIFT"), "stage: {text}");
    assert!(text.contains("deadline <!date^"), "deadline: {text}");
    let link = format!(
        "<https://slack.com/archives/{channel}/p{}|card>",
        ts.replace('.', "")
    );
    assert!(text.contains(&link), "card link {link}: {text}");
    assert!(
        text.contains("ECS: IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT"),
        "live ECS state: {text}"
    );
    let described = bot.ecs.calls_to("DescribeServiceDeployments");
    assert_eq!(described.len(), before + 1);
    assert_eq!(
        described[before]["serviceDeploymentArns"][0],
        deployment_arn(cluster).as_str()
    );
}

#[tokio::test]
async fn status_says_when_ecs_cannot_tell() {
    let bot = TestBot::start().await;
    let (_gate, _) = bot.open_gate("status-unknown").await;
    // No such deployment in the ECS double.
    let text = deploy(&bot, ALICE, "status").await;
    assert!(text.contains("ECS: deployment not found"), "{text}");
    bot.ecs.set_failing(true);
    let text = deploy(&bot, ALICE, "status").await;
    assert!(text.contains("ECS: state unavailable"), "{text}");
}

#[tokio::test]
async fn status_filters_by_service() {
    let bot = TestBot::start().await;
    let (gate, _) = bot.open_gate("status-filter").await;
    let text = deploy(&bot, ALICE, "status web").await;
    assert!(text.contains(&format!("`{gate}`")), "{text}");
    let text = deploy(&bot, ALICE, "status other").await;
    assert_eq!(text, "No open gate for `other` in this channel.");
}

#[tokio::test]
async fn status_without_gates_and_after_a_decision() {
    let bot = TestBot::start().await;
    assert!(
        deploy(&bot, ALICE, "status")
            .await
            .starts_with("No open gates in this channel.")
    );
    let (gate, _) = bot.open_gate("status-decided").await;
    assert!(deploy(&bot, BOB, "status").await.contains(&gate));
    deploy(&bot, ALICE, &format!("approve {gate}")).await;
    assert!(
        deploy(&bot, BOB, "status")
            .await
            .starts_with("No open gates in this channel.")
    );
}

#[tokio::test]
async fn approve_writes_approved_and_closes_the_card() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("cmd-approve").await;
    let text = deploy(&bot, ALICE, &format!("approve {gate}")).await;
    assert!(text.contains(&format!("You approved `{gate}`")), "{text}");
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    let (channel, ts) = card_of(&bot, &gate).await;
    let card = bot.slack.message(&channel, &ts).expect("card");
    let blocks = card.blocks.to_string();
    assert!(
        blocks.contains(&format!("Rerouted by <@{ALICE}>")),
        "{blocks}"
    );
    assert!(
        !blocks.contains("greenlight.reroute") && !blocks.contains("\"greenlight.rollback\""),
        "the decision buttons are gone (Roll back now stays until the deployment ends): {blocks}"
    );
    assert_eq!(bot.slack.replies(&channel, &ts).len(), 1, "audit reply");
    // A second decision is refused with who decided.
    let text = deploy(&bot, BOB, &format!("rollback {gate}")).await;
    assert!(
        text.contains("already approved") && text.contains(&format!("<@{ALICE}>")),
        "{text}"
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn rollback_writes_rejected() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("cmd-rollback").await;
    let text = deploy(&bot, BOB, &format!("rollback {gate}")).await;
    assert!(text.contains(&format!("You rejected `{gate}`")), "{text}");
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("rejected"));
}

#[tokio::test]
async fn approve_follows_the_policy() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("cmd-policy").await;
    let written = bot.written().await;
    let text = deploy(&bot, MALLORY, &format!("approve {gate}")).await;
    assert!(text.contains("not an approver"), "{text}");
    assert_eq!(bot.parameter(&parameter).await, None);
    assert_eq!(bot.written().await, written);
    assert!(bot.slack.calls("chat.update").is_empty());
}

#[tokio::test]
async fn approve_of_an_unknown_or_garbage_gate_writes_nothing() {
    let bot = TestBot::start().await;
    let text = deploy(&bot, ALICE, "approve gl-0123456789ab").await;
    assert!(
        text.contains("knows no open gate `gl-0123456789ab`"),
        "{text}"
    );
    for garbage in [
        "web",
        "gl-XYZ",
        "/greenlight/decisions/x",
        "gl-0123456789abcdef",
    ] {
        let text = deploy(&bot, ALICE, &format!("approve {garbage}")).await;
        assert!(text.contains("is not a gate id"), "{garbage}: {text}");
        assert!(text.contains(USAGE), "{garbage}: {text}");
    }
    let text = deploy(&bot, ALICE, "rollback nonsense").await;
    assert!(text.contains("is not a gate id"), "{text}");
    assert!(bot.written().await.is_empty());
    assert!(bot.slack.all_calls().is_empty());
}

#[tokio::test]
async fn help_and_empty_text_explain_the_command() {
    let bot = TestBot::start().await;
    for text in ["help", "", "   "] {
        let answer = deploy(&bot, ALICE, text).await;
        assert!(answer.contains("/deploy status [service]"), "{answer}");
        assert!(answer.contains("/deploy approve <gate>"), "{answer}");
        assert!(answer.contains("/deploy rollback <gate>"), "{answer}");
        assert!(answer.contains("gl-"), "{answer}");
    }
}

#[tokio::test]
async fn anything_else_gets_the_usage() {
    let bot = TestBot::start().await;
    let (_gate, parameter) = bot.open_gate("cmd-usage").await;
    for text in [
        "frobnicate",
        "approve",
        "rollback",
        "status web extra",
        "APPROVE",
    ] {
        assert_eq!(deploy(&bot, ALICE, text).await, USAGE, "/deploy {text}");
    }
    assert_eq!(bot.parameter(&parameter).await, None);
}

#[tokio::test]
async fn approve_from_another_channel_is_refused() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("cmd-channel").await;
    let body = TestBot::command_body_in("D0DIRECTMSG", ALICE, &format!("approve {gate}"));
    let (status, answer) = bot
        .request(bot.slack_request("/slack/commands", body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("json");
    assert_eq!(answer["response_type"], "ephemeral");
    let text = answer["text"].as_str().expect("text");
    assert!(text.contains("can only be decided in <#"), "{text}");
    assert_eq!(bot.parameter(&parameter).await, None);
}

#[tokio::test]
async fn approve_counts_towards_a_quorum_and_status_shows_it() {
    let bot = TestBot::with(crate::support::bot::Options {
        policy: Some(
            "[[rule]]\nname = \"two\"\napprovers = [\"U0ALICE001\", \"U0BOB00001\"]\nquorum = 2\n"
                .to_owned(),
        ),
        ..Default::default()
    })
    .await;
    let (gate, parameter) = bot.open_gate("cmd-quorum").await;
    let text = deploy(&bot, ALICE, &format!("approve {gate}")).await;
    assert!(text.contains("counted: 1 of 2"), "{text}");
    assert_eq!(bot.parameter(&parameter).await, None);
    let text = deploy(&bot, BOB, "status").await;
    assert!(text.contains("1 of 2 approvals"), "{text}");
    let text = deploy(&bot, ALICE, &format!("approve {gate}")).await;
    assert!(text.contains("already approved"), "{text}");
    assert_eq!(bot.parameter(&parameter).await, None);
    let text = deploy(&bot, BOB, &format!("approve {gate}")).await;
    assert!(text.contains("You approved"), "{text}");
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn status_warns_about_a_gate_nobody_can_approve() {
    let bot = TestBot::with(crate::support::bot::Options {
        approvers: "",
        ..Default::default()
    })
    .await;
    let (gate, parameter) = bot.open_gate("cmd-nobody").await;
    let text = deploy(&bot, ALICE, "status").await;
    assert!(
        text.contains(&gate) && text.contains("no approver configured"),
        "{text}"
    );
    let text = deploy(&bot, ALICE, &format!("approve {gate}")).await;
    assert!(text.contains("no approver is configured"), "{text}");
    assert_eq!(bot.parameter(&parameter).await, None);
}

#[tokio::test]
async fn slacks_signed_ssl_check_gets_a_200_and_does_nothing() {
    let bot = TestBot::start().await;
    let body = "ssl_check=1&token=legacy-verification-token".to_owned();
    let (status, _) = bot
        .request(bot.slack_request("/slack/commands", body))
        .await;
    assert_eq!(status, axum::http::StatusCode::OK);
    assert!(bot.slack.all_calls().is_empty());
    let (status, text) = bot
        .request(bot.slack_request("/slack/commands", "command=%2Fdeploy&text=help".to_owned()))
        .await;
    assert_eq!(
        status,
        axum::http::StatusCode::BAD_REQUEST,
        "a command without user and channel: {text}"
    );
}
