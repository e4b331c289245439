//! The trust model of a gate: a request is bound to its deployment, and a gate recorded without
//! its card still gets one. Each through the real protocols: signed SNS to the router, the gate
//! table and SSM at moto, Slack at the double.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::bot::{ALICE, BOB, Options, TestBot};
use crate::support::moto::{ACCOUNT, REGION};
use crate::support::slack_double::Failure;

/// The hook's gate request for `prod`, with `change` applied to its `additionalContext`.
fn forged(bot: &TestBot, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let (_, message) = bot.gate_request("prod");
    let mut message: Value = serde_json::from_str(&message).expect("JSON");
    let context = message["metadata"]["additionalContext"]
        .as_object_mut()
        .expect("context");
    change(context);
    message.to_string()
}

#[tokio::test]
async fn a_request_whose_claims_disagree_with_its_deployment_is_refused_and_leaves_nothing() {
    let bot = TestBot::start().await;
    let other_parameter = format!(
        "{}/prod/payments/dep9/POST_TEST_TRAFFIC_SHIFT",
        bot.decision_prefix
    );
    let other_gate = greenlight::domain::gate::GateId::derive("another gate").to_string();
    let cases: Vec<(&str, String)> = vec![
        (
            "a laxer cluster",
            forged(&bot, |c| {
                c.insert("cluster".into(), json!("staging"));
            }),
        ),
        (
            "another service",
            forged(&bot, |c| {
                c.insert("service".into(), json!("payments"));
            }),
        ),
        (
            "another deployment's decision parameter",
            forged(&bot, |c| {
                c.insert("parameterName".into(), json!(other_parameter));
            }),
        ),
        (
            "another gate's id",
            forged(&bot, |c| {
                c.insert("gateId".into(), json!(other_gate));
            }),
        ),
        (
            "an ARN that is not one",
            forged(&bot, |c| {
                c.insert(
                    "serviceDeploymentArn".into(),
                    json!("arn:aws:ecs:eu-west-1:1:service/prod/web"),
                );
            }),
        ),
        (
            "no stage",
            forged(&bot, |c| {
                c.remove("lifecycleStage");
            }),
        ),
        (
            "another stage than its parameter's",
            forged(&bot, |c| {
                c.insert(
                    "lifecycleStage".into(),
                    json!("PRE_PRODUCTION_TRAFFIC_SHIFT"),
                );
            }),
        ),
    ];
    for (what, message) in cases {
        let (status, text) = bot.post("/sns", bot.sns_notification(&message)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {text}");
        assert!(text.contains("inconsistent_gate"), "{what}: {text}");
    }
    assert!(bot.slack.all_calls().is_empty(), "no card");
    assert!(bot.written().await.is_empty(), "no record, no parameter");
    // The hook's own request, unchanged, still opens its gate.
    let (gate, _) = bot.open_gate("prod").await;
    let record = bot.gate_record(&gate).await.expect("record");
    assert_eq!(record["cluster"], "prod");
    let console = record["consoleUrl"].as_str().expect("a console link");
    assert!(
        console.starts_with(&format!(
            "https://{REGION}.console.aws.amazon.com/ecs/v2/clusters/prod/services/web/"
        )),
        "the console link is built from the ARN, not taken from the request: {console}"
    );
}

/// A do-it-yourself hook's request names no deployment: whatever cluster or service it claims,
/// only a rule for every cluster and service judges it, and its card says where it came from.
#[tokio::test]
async fn a_recipe_gate_cannot_choose_the_rule_that_judges_it() {
    let policy = format!(
        r#"
[defaults]
channel = "{channel}"

[[rule]]
name = "staging is lax"
clusters = ["staging"]
approvers = ["{ALICE}"]

[[rule]]
name = "everything else"
approvers = ["{BOB}"]
"#,
        channel = crate::support::bot::CHANNEL
    );
    let bot = TestBot::with(Options {
        policy: Some(policy),
        ..Options::default()
    })
    .await;
    let parameter = format!("{}/blue-green/approval", bot.decision_prefix);
    let message = json!({"version": "1.0", "source": "custom",
        "content": {"textType": "client-markdown", "title": "Approve the production shift?", "description": "The recipe's hook is waiting."},
        "metadata": {"enableCustomActions": true, "additionalContext": {"ActionGroup": "ecs-approval",
            "parameterName": parameter, "region": REGION, "cluster": "staging", "service": "web",
            "consoleUrl": "https://evil.example/phish"}}});
    let (status, text) = bot
        .post("/sns", bot.sns_notification(&message.to_string()))
        .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "card posted\n"));
    let post = &bot.slack.calls("chat.postMessage")[0].body;
    let drawn = post["blocks"].to_string();
    assert!(drawn.contains("a hook greenlight does not know"), "{drawn}");
    assert!(
        !drawn.contains("evil.example"),
        "no link from a recipe request: {drawn}"
    );
    let gate = post["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().iter())
        .find(|e| e["action_id"] == "greenlight.reroute")
        .and_then(|e| e["value"].as_str())
        .expect("a Reroute button")
        .to_owned();
    let record = bot.gate_record(&gate).await.expect("record");
    assert!(record.get("cluster").is_none(), "{record}");
    // The staging approver is refused: the gate is not staging's to judge.
    assert_eq!(
        bot.click(ALICE, "greenlight.reroute", &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None);
    assert_eq!(
        bot.click(BOB, "greenlight.reroute", &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

/// A gate recorded without its card (the post failed) is carded by the next delivery, exactly
/// once however many deliveries race: "duplicate" means carded, not recorded.
#[tokio::test]
async fn a_recorded_gate_without_a_card_is_carded_by_the_next_deliveries_once() {
    let bot = TestBot::start().await;
    let (gate, message) = bot.gate_request("uncarded");
    let body = bot.sns_notification(&message);
    bot.slack
        .fail_next("chat.postMessage", Failure::Status(503), 1);
    let (status, text) = bot.post("/sns", body.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    let record = bot
        .gate_record(&gate)
        .await
        .expect("recorded without a card");
    assert!(
        record.get("card").is_none() && record.get("cardClaimedAt").is_none(),
        "{record}"
    );

    let answers =
        futures_util::future::join_all((0..10).map(|_| bot.post("/sns", body.clone()))).await;
    assert!(
        answers.iter().all(|(status, _)| *status == StatusCode::OK),
        "{answers:?}"
    );
    let posted = answers
        .iter()
        .filter(|(_, text)| text == "card posted\n")
        .count();
    assert_eq!(posted, 1, "{answers:?}");
    assert_eq!(
        bot.slack.calls("chat.postMessage").len(),
        2,
        "one failed, one card"
    );
    let record = bot.gate_record(&gate).await.expect("record");
    assert!(record["card"].is_object(), "{record}");
    // And later deliveries find it carded.
    let (status, text) = bot.post("/sns", body).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "gate already carded\n")
    );
}

#[tokio::test]
async fn a_pause_recorded_without_its_card_is_carded_on_redelivery() {
    let bot = TestBot::start().await;
    let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/pauseuncarded/web/d1");
    bot.ecs.add_replacing_deployment(&arn);
    let event = json!({"version": "0", "id": "p1", "detail-type": "ECS Hook State Change", "source": "aws.ecs",
        "account": ACCOUNT, "time": chrono::Utc::now().to_rfc3339(), "region": REGION, "resources": [arn],
        "detail": {"eventName": "HOOK_AWAITING_ACTION", "hookId": "hook-1", "serviceDeploymentArn": arn,
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT", "targetType": "PAUSE",
            "expiresAt": (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339()}});
    let body = bot.sns_notification(&event.to_string());
    bot.slack
        .fail_next("chat.postMessage", Failure::Status(503), 1);
    assert_eq!(
        bot.post("/sns", body.clone()).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let (status, text) = bot.post("/sns", body.clone()).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "card posted\n"));
    let (status, text) = bot.post("/sns", body).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "gate already carded\n")
    );
    assert_eq!(bot.slack.calls("chat.postMessage").len(), 2);
}
