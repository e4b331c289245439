//! `POST /sns`: gate requests become cards; everything else is refused or posted as it is.

use axum::http::StatusCode;
use greenlight::store::GateReader;
use serde_json::json;

use crate::support::bot::{CHANNEL, TestBot};
use crate::support::moto::{self, ACCOUNT, REGION};

/// The whole Flow A intake over real protocols: greenlight's hook publishes to a moto topic, moto
/// POSTs the signed notification (SignatureVersion 2, moto's own certificate) to the bot served on
/// a loopback port, and the Slack double receives the card.
#[tokio::test]
async fn a_hook_publish_reaches_slack_as_a_card_through_moto() {
    let bot = TestBot::start().await;
    let url = bot.serve().await;
    let config = moto::sdk_config().await;
    moto::subscribe_http(&config, &bot.topic_arn, &format!("{url}/sns")).await;

    let ecs = &bot.ecs;
    let cluster = moto::unique("e2e");
    let deployment =
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/dep1");
    ecs.add_replacing_deployment(&deployment);
    let env = std::collections::HashMap::from([
        ("GREENLIGHT_SNS_TOPIC_ARN".to_owned(), bot.topic_arn.clone()),
        (
            "GREENLIGHT_DECISION_PREFIX".to_owned(),
            bot.decision_prefix.clone(),
        ),
        ("GREENLIGHT_POLL_WINDOW".to_owned(), "0".to_owned()),
        (
            "GREENLIGHT_TEST_URL".to_owned(),
            crate::support::green_listener().await,
        ),
    ]);
    let hook = greenlight::hook::Hook::new(
        greenlight::config::HookSettings::from_env(&env).unwrap(),
        std::sync::Arc::new(greenlight::aws::ssm::SsmParameterStore::new(
            aws_sdk_ssm::Client::new(&config),
        )),
        std::sync::Arc::new(greenlight::aws::sns::SnsTopic::new(
            aws_sdk_sns::Client::new(&config),
            bot.topic_arn.clone(),
        )),
        std::sync::Arc::new(greenlight::aws::ecs::EcsDeployments::new(
            aws_sdk_ecs::Client::new(&moto::sdk_config_at(&ecs.url).await),
        )),
    );
    let payload = json!({
        "executionId": "e1",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "resourceArn": deployment,
        "executionDetails": {
            "serviceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/web"),
            "targetServiceRevisionArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{cluster}/web/222")
        }
    });
    let response = serde_json::to_value(hook.handle(&payload, None).await).unwrap();
    assert_eq!(response["hookStatus"], "IN_PROGRESS");
    let gate_id = response["hookDetails"]["greenlight"]["gateId"]
        .as_str()
        .unwrap()
        .to_owned();

    let posts = wait_for(|| bot.slack.calls("chat.postMessage")).await;
    assert_eq!(posts.len(), 1, "one card");
    let body = &posts[0].body;
    assert_eq!(posts[0].token(), Some(crate::support::slack_double::TOKEN));
    assert_eq!(body["channel"], CHANNEL);
    assert!(body["text"].as_str().unwrap().contains("web"), "{body}");
    let blocks = body["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks[0]["text"]["text"].as_str().unwrap().contains("web"));
    let all = serde_json::to_string(blocks).unwrap();
    assert!(all.contains(&cluster), "cluster shown");
    assert!(all.contains("POST_TEST_TRAFFIC_SHIFT"), "stage shown");
    assert!(all.contains("222"), "target revision shown");
    // The hook probed the test listener; its answers are on the card.
    assert!(all.contains("Test URL: 5/5 × 200"), "probe shown: {all}");
    assert!(all.contains("<!date^"), "times in Slack's date format");
    let buttons: Vec<&serde_json::Value> = blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().iter())
        .collect();
    let reroute = buttons
        .iter()
        .find(|b| b["action_id"] == "greenlight.reroute")
        .expect("reroute button");
    let rollback = buttons
        .iter()
        .find(|b| b["action_id"] == "greenlight.rollback")
        .expect("rollback button");
    assert_eq!(reroute["style"], "primary");
    assert_eq!(rollback["style"], "danger");
    assert_eq!(
        reroute["value"],
        gate_id.as_str(),
        "button values carry the gate id only"
    );
    assert_eq!(rollback["value"], gate_id.as_str());
    assert!(reroute["confirm"].is_object() && rollback["confirm"].is_object());
    assert!(
        !all.contains(&bot.decision_prefix),
        "no parameter name on the card"
    );

    // The click writes the decision; the hook's next invocation reads it, answers ECS and
    // deletes it: SSM holds nothing of this gate afterwards, and the gate lives in the table.
    assert_eq!(
        bot.click(crate::support::bot::ALICE, "greenlight.reroute", &gate_id)
            .await,
        axum::http::StatusCode::OK
    );
    let mut again = payload.clone();
    again["hookDetails"] = response["hookDetails"].clone();
    let response = serde_json::to_value(hook.handle(&again, None).await).unwrap();
    assert_eq!(response["hookStatus"], "SUCCEEDED");
    let written = bot.written().await;
    assert!(
        written.iter().all(|name| !name.starts_with('/')),
        "no parameter is left in SSM: {written:?}"
    );
    assert!(
        written.contains(&format!("GATE#{gate_id} GATE")),
        "the gate is in the table: {written:?}"
    );
}

async fn wait_for<T>(read: impl Fn() -> Vec<T>) -> Vec<T> {
    for _ in 0..60 {
        let items = read();
        if !items.is_empty() {
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    read()
}

#[tokio::test]
async fn a_redelivered_message_makes_one_card() {
    let bot = TestBot::start().await;
    let (_, message) = bot.gate_request("redeliver");
    let body = bot.sns_notification(&message);
    for _ in 0..3 {
        let (status, text) = bot.post("/sns", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let again = bot.sns_notification(&message);
    assert_eq!(bot.post("/sns", again).await.0, StatusCode::OK);
    assert_eq!(bot.slack.calls("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn the_recipe_notification_gets_a_card_that_writes_what_the_recipe_polls() {
    let bot = TestBot::start().await;
    let parameter = format!("{}/blue-green/approval", bot.decision_prefix);
    let message = json!({"version": "1.0", "source": "custom",
        "content": {"textType": "client-markdown", "title": "Approve the production shift?", "description": "The recipe's hook is waiting."},
        "metadata": {"enableCustomActions": true, "additionalContext": {"ActionGroup": "ecs-approval", "parameterName": parameter, "region": REGION}}});
    let (status, text) = bot
        .post("/sns", bot.sns_notification(&message.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let posts = bot.slack.calls("chat.postMessage");
    assert_eq!(posts.len(), 1);
    let blocks = serde_json::to_string(&posts[0].body["blocks"]).unwrap();
    assert!(blocks.contains("Approve the production shift?"));
    // The gate id as a person clicks it: the value of the card's Reroute button.
    let gate = crate::support::bot::reroute_value(&posts[0].body).expect("a Reroute button");
    assert_eq!(
        bot.click(crate::support::bot::ALICE, "greenlight.reroute", &gate)
            .await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn other_messages_are_posted_as_they_are() {
    let bot = TestBot::start().await;
    assert_eq!(
        bot.post(
            "/sns",
            bot.sns_notification("Deploys are frozen until 17:00")
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        bot.post("/sns", bot.sns_notification(r#"{"hello":"world"}"#))
            .await
            .0,
        StatusCode::OK
    );
    let event = json!({"version": "0", "id": "1", "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
        "account": ACCOUNT, "time": "2026-11-26T10:00:00Z", "region": REGION,
        "resources": [format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/nocard/api")],
        "detail": {"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_COMPLETED", "deploymentId": "ecs-svc/1"}});
    assert_eq!(
        bot.post("/sns", bot.sns_notification(&event.to_string()))
            .await
            .0,
        StatusCode::OK
    );
    let texts: Vec<String> = bot
        .slack
        .calls("chat.postMessage")
        .iter()
        .map(|c| c.body["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    // An ECS event about a service greenlight has no card for is a log line, not channel noise.
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("Deploys are frozen"));
    assert!(texts[1].contains("hello"));
}

#[tokio::test]
async fn ecs_events_about_a_carded_service_go_to_its_thread() {
    let bot = TestBot::start().await;
    let (gate, _) = bot.open_gate("threaded").await;
    let card = bot
        .gate_table
        .load(&gate.parse().unwrap())
        .await
        .unwrap()
        .and_then(|stored| stored.record.card)
        .expect("the card was posted and remembered");
    let event = json!({"version": "0", "id": "2", "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
        "account": ACCOUNT, "time": "2026-11-26T10:00:00Z", "region": REGION,
        "resources": [format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/threaded/web")],
        "detail": {"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS", "deploymentId": "ecs-svc/2"}});
    assert_eq!(
        bot.post("/sns", bot.sns_notification(&event.to_string()))
            .await
            .0,
        StatusCode::OK
    );
    let posts = bot.slack.calls("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[1].body["thread_ts"], card.ts,
        "a reply in the card's thread: {}",
        posts[1].body
    );
    assert_eq!(posts[1].body["channel"], card.channel);
    let note = posts[1].body["text"].as_str().unwrap_or_default();
    assert!(note.contains("deployment in progress"), "{note}");
    assert!(note.contains(&gate), "the note names the gate: {note}");
}
