//! greenlight's Slack adapter against the Web API double, over real HTTP.

use slack_morphism::prelude::{SlackChannelId, SlackUserId};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use greenlight::card::{CardView, REROUTE_ACTION_ID, ROLLBACK_ACTION_ID, gate_card};
use greenlight::domain::gate::{Decision, GateId, ParameterName, TimeoutAction};
use greenlight::domain::record::{GateRecord, GateStatus, Resolution};
use greenlight::domain::stage::LifecycleStage;
use greenlight::slack::{OutgoingMessage, SlackApi, SlackWebApi};

use crate::support::slack_double::{Failure, SlackDouble, TOKEN};

fn card_record() -> GateRecord {
    GateRecord {
        region: Some("eu-west-1".into()),
        cluster: Some("prod".into()),
        service: Some("web".into()),
        stage: Some(LifecycleStage::PostTestTrafficShift),
        target_revision: Some("web:43".into()),
        source_revisions: vec!["web:42".into()],
        requested_at: Some(Utc.timestamp_opt(1_777_000_000, 0).unwrap()),
        deadline: Some(Utc.timestamp_opt(1_777_003_600, 0).unwrap()),
        timeout_action: Some(TimeoutAction::Rollback),
        console_url: Some("https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod".into()),
        ..GateRecord::new(
            "gl-00aa11bb22cc".parse::<GateId>().unwrap(),
            Resolution::Parameter {
                name: ParameterName::new(
                    "/greenlight/decisions/prod/web/d1/POST_TEST_TRAFFIC_SHIFT",
                )
                .unwrap(),
            },
            "web",
        )
    }
}

fn view() -> CardView {
    CardView {
        votes: vec![],
        quorum: 1,
        approvers_configured: true,
        ask_reason: greenlight::policy::AskReason::Never,
        status_line: None,
        offer_rollback_now: false,
    }
}

#[tokio::test]
async fn post_message_carries_token_channel_text_and_blocks() {
    let slack = SlackDouble::start().await;
    let card = gate_card(&card_record(), &view());
    let posted = slack
        .client()
        .post_message(&card.clone().into_message("C0DEPLOYS"))
        .await
        .unwrap();

    assert_eq!(posted.channel, "C0DEPLOYS");
    assert!(!posted.ts.is_empty());
    let calls = slack.calls("chat.postMessage");
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.http_method, "POST");
    assert_eq!(call.token(), Some(TOKEN));
    assert_eq!(call.body["channel"], "C0DEPLOYS");
    assert_eq!(call.body["text"], json!(card.text));
    assert_eq!(
        call.body["blocks"],
        serde_json::to_value(&card.blocks).unwrap()
    );
    assert_eq!(call.body["unfurl_links"], false);
    assert!(call.body.get("thread_ts").is_none());

    // What Slack received has the buttons the router will be called back with.
    let buttons: Vec<&Value> = call.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap())
        .collect();
    let ids: Vec<&str> = buttons
        .iter()
        .map(|b| b["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [REROUTE_ACTION_ID, ROLLBACK_ACTION_ID, "greenlight.console"]
    );
    assert_eq!(buttons[0]["value"], "gl-00aa11bb22cc");
}

#[tokio::test]
async fn each_message_gets_its_own_ts_and_replies_go_to_the_thread() {
    let slack = SlackDouble::start().await;
    let api = slack.client();
    let card = api
        .post_message(&OutgoingMessage::text("C1", "card"))
        .await
        .unwrap();
    let reply = api
        .post_message(&OutgoingMessage::text("C1", "✅ approved").in_thread(card.ts.clone()))
        .await
        .unwrap();
    assert_ne!(card.ts, reply.ts);

    let call = &slack.calls("chat.postMessage")[1];
    assert_eq!(call.body["thread_ts"], json!(card.ts));
    assert!(
        call.body.get("blocks").is_none(),
        "a text-only message sends no blocks"
    );
    assert_eq!(slack.replies("C1", &card.ts).len(), 1);
}

#[tokio::test]
async fn update_replaces_text_and_blocks() {
    let slack = SlackDouble::start().await;
    let api = slack.client();
    let open = gate_card(&card_record(), &view());
    let posted = api.post_message(&open.into_message("C1")).await.unwrap();

    let mut decided = card_record();
    decided.status = GateStatus::Decided {
        decision: Decision::Approved,
        by: "U42".into(),
        at: Utc.timestamp_opt(1_777_001_000, 0).unwrap(),
        reason: Some("green is healthy: 5xx flat, p99 unchanged".into()),
    };
    let decided = gate_card(&decided, &view());
    api.update_message(&posted.channel, &posted.ts, &decided.text, &decided.blocks)
        .await
        .unwrap();

    let call = &slack.calls("chat.update")[0];
    assert_eq!(call.token(), Some(TOKEN));
    assert_eq!(call.body["channel"], "C1");
    assert_eq!(call.body["ts"], json!(posted.ts));
    let stored = slack.message("C1", &posted.ts).unwrap();
    assert_eq!(stored.text.as_deref(), Some(decided.text.as_str()));
    assert!(
        stored
            .blocks
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions"),
        "the buttons are gone"
    );
}

#[tokio::test]
async fn update_with_no_blocks_clears_them() {
    let slack = SlackDouble::start().await;
    let api = slack.client();
    let posted = api
        .post_message(&gate_card(&card_record(), &view()).into_message("C1"))
        .await
        .unwrap();
    api.update_message("C1", &posted.ts, "gone", &[])
        .await
        .unwrap();
    assert_eq!(slack.calls("chat.update")[0].body["blocks"], json!([]));
    assert_eq!(slack.message("C1", &posted.ts).unwrap().blocks, json!([]));
}

#[tokio::test]
async fn ephemeral_goes_to_one_user() {
    let slack = SlackDouble::start().await;
    slack
        .client()
        .post_ephemeral(
            &SlackChannelId::new("C1".into()),
            &SlackUserId::new("U7".into()),
            "You are not an approver for this gate.",
        )
        .await
        .unwrap();
    let call = &slack.calls("chat.postEphemeral")[0];
    assert_eq!(call.token(), Some(TOKEN));
    assert_eq!(call.body["channel"], "C1");
    assert_eq!(call.body["user"], "U7");
    assert_eq!(call.body["text"], "You are not an approver for this gate.");
    assert_eq!(slack.ephemerals().len(), 1);
}

#[tokio::test]
async fn usergroup_members_are_read() {
    let slack = SlackDouble::start().await;
    slack.set_group("S0DEPLOYERS", &["U1", "U2"]);
    let members = slack
        .client()
        .usergroup_members("S0DEPLOYERS")
        .await
        .unwrap();
    assert_eq!(members, ["U1", "U2"]);
    let call = &slack.calls("usergroups.users.list")[0];
    assert_eq!(call.http_method, "GET");
    assert_eq!(call.token(), Some(TOKEN));
    assert_eq!(call.body["usergroup"], "S0DEPLOYERS");

    let unknown = slack
        .client()
        .usergroup_members("S0NOBODY")
        .await
        .unwrap_err();
    assert_eq!(unknown.code, "no_such_subteam");
}

#[tokio::test]
async fn a_slack_error_code_surfaces_and_is_not_retried() {
    let slack = SlackDouble::start().await;
    slack.fail_next(
        "chat.postMessage",
        Failure::Error("channel_not_found".into()),
        1,
    );
    let error = slack
        .client()
        .post_message(&OutgoingMessage::text("C404", "hello"))
        .await
        .unwrap_err();
    assert_eq!(error.method, "chat.postMessage");
    assert_eq!(error.code, "channel_not_found");
    assert!(!error.retryable);
    assert_eq!(slack.calls("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn a_short_rate_limit_is_waited_out_once_and_the_call_succeeds() {
    let slack = SlackDouble::start().await;
    slack.fail_next(
        "chat.update",
        Failure::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let api = slack.client();
    let posted = api
        .post_message(&OutgoingMessage::text("C1", "card"))
        .await
        .unwrap();
    let started = Instant::now();
    api.update_message("C1", &posted.ts, "updated", &[])
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(slack.calls("chat.update").len(), 2);
    assert_eq!(
        slack.message("C1", &posted.ts).unwrap().text.as_deref(),
        Some("updated")
    );
}

#[tokio::test]
async fn a_second_rate_limit_gives_up_as_retryable() {
    let slack = SlackDouble::start().await;
    slack.fail_next(
        "chat.postMessage",
        Failure::RateLimited {
            retry_after_secs: 0,
        },
        2,
    );
    let error = slack
        .client()
        .post_message(&OutgoingMessage::text("C1", "hello"))
        .await
        .unwrap_err();
    assert_eq!(error.code, "ratelimited");
    assert!(error.retryable);
    assert_eq!(slack.calls("chat.postMessage").len(), 2);
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_cap_is_not_waited_for() {
    let slack = SlackDouble::start().await;
    slack.fail_next(
        "chat.postMessage",
        Failure::RateLimited {
            retry_after_secs: 30,
        },
        1,
    );
    let started = Instant::now();
    let error = slack
        .client()
        .post_message(&OutgoingMessage::text("C1", "hello"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(error.code, "ratelimited");
    assert!(error.retryable);
    assert_eq!(slack.calls("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn a_server_error_is_retryable() {
    let slack = SlackDouble::start().await;
    slack.fail_next("chat.postEphemeral", Failure::Status(500), 1);
    let error = slack
        .client()
        .post_ephemeral(
            &SlackChannelId::new("C1".into()),
            &SlackUserId::new("U1".into()),
            "hi",
        )
        .await
        .unwrap_err();
    assert_eq!(error.method, "chat.postEphemeral");
    assert_eq!(error.code, "http");
    assert!(error.retryable);
    assert_eq!(
        slack.calls("chat.postEphemeral").len(),
        1,
        "a 5xx is not retried inside the call"
    );
}

#[tokio::test]
async fn a_client_error_status_is_not_retryable() {
    let slack = SlackDouble::start().await;
    slack.fail_next("chat.postMessage", Failure::Status(404), 1);
    let error = slack
        .client()
        .post_message(&OutgoingMessage::text("C1", "hi"))
        .await
        .unwrap_err();
    assert_eq!(error.code, "http");
    assert!(!error.retryable);
}

#[tokio::test]
async fn a_slow_answer_times_out_as_retryable() {
    let slack = SlackDouble::start().await;
    slack.fail_next(
        "usergroups.users.list",
        Failure::Delay(Duration::from_millis(800)),
        1,
    );
    slack.set_group("S1", &["U1"]);
    let api = slack
        .client()
        .with_attempt_timeout(Duration::from_millis(100));
    let error = api.usergroup_members("S1").await.unwrap_err();
    assert_eq!(error.code, "timeout");
    assert!(error.retryable);
}

#[tokio::test]
async fn an_unreachable_slack_is_retryable() {
    // A port that was just free: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let api = SlackWebApi::new(&format!("http://{address}/api"), TOKEN).unwrap();
    let error = api
        .post_message(&OutgoingMessage::text("C1", "hi"))
        .await
        .unwrap_err();
    assert_eq!(error.code, "http");
    assert!(error.retryable);
}

#[tokio::test]
async fn a_call_without_a_token_is_refused_by_the_double() {
    // Guards the double itself: it must not accept what Slack would refuse.
    let slack = SlackDouble::start().await;
    let answer = post_without_token(&slack.base_url, "chat.postMessage").await;
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["error"], "not_authed");
}

/// A bare HTTP/1.1 POST without credentials, written by hand (no HTTP client crate needed).
async fn post_without_token(base_url: &str, method: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = base_url
        .trim_start_matches("http://")
        .trim_end_matches("/api");
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let body = r#"{"channel":"C1","text":"hi"}"#;
    let request = format!(
        "POST /api/{method} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let json_start = response.find("\r\n\r\n").unwrap() + 4;
    serde_json::from_str(&response[json_start..]).unwrap()
}
