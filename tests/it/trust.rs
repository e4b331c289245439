//! The trust model of a gate: a request is bound to its deployment, and a gate recorded without
//! its card still gets one. Each through the real protocols: signed SNS to the router, the gate
//! table and SSM at moto, Slack at the double.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::bot::{ALICE, BOB, Options, TestBot, reroute_value};
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
    let gate = reroute_value(post).expect("a Reroute button");
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
    let posted = answers
        .iter()
        .filter(|(_, text)| text == "card posted\n")
        .count();
    assert_eq!(posted, 1, "{answers:?}");
    // The others were asked to deliver again while the card was being posted, or found it.
    assert!(
        answers
            .iter()
            .all(|(status, text)| *status == StatusCode::OK
                || (*status == StatusCode::SERVICE_UNAVAILABLE && text.contains("deliver again"))),
        "{answers:?}"
    );
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

fn timed_out(gate: &str, action: &str) -> String {
    json!({"version": "1.0", "source": "custom",
        "content": {"textType": "client-markdown", "title": format!("Gate {gate} timed out"),
            "description": "Nobody decided before the deadline."},
        "metadata": {"enableCustomActions": false, "additionalContext": {
            "greenlightEvent": "gate.timed_out", "gateId": gate,
            "at": chrono::Utc::now().to_rfc3339(), "timeoutAction": action}}})
    .to_string()
}

/// A timeout closes a card only past the gate's own deadline, with the action it recorded.
#[tokio::test]
async fn a_premature_or_mismatched_timeout_is_refused() {
    let bot = TestBot::start().await;
    let (gate, _) = bot.open_gate("early").await;
    let (status, text) = bot
        .post("/sns", bot.sns_notification(&timed_out(&gate, "ROLLBACK")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("premature_timeout"), "{text}");
    let (due, _) = bot
        .open_gate_due("due", chrono::Utc::now() - chrono::Duration::minutes(1))
        .await;
    let (status, text) = bot
        .post("/sns", bot.sns_notification(&timed_out(&due, "CONTINUE")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("mismatched_timeout"), "{text}");
    for gate in [&gate, &due] {
        let record = bot.gate_record(gate).await.expect("record");
        assert_eq!(record["status"]["state"], "open", "{record}");
    }
    assert!(bot.slack.calls("chat.update").is_empty(), "no card changed");
    let (status, _) = bot
        .post("/sns", bot.sns_notification(&timed_out(&due, "ROLLBACK")))
        .await;
    assert_eq!(status, StatusCode::OK, "the real timeout closes it");
}

/// A click past the gate's deadline decides nothing: the hook has applied its timeout action.
#[tokio::test]
async fn a_click_past_the_deadline_writes_nothing() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot
        .open_gate_due("late", chrono::Utc::now() - chrono::Duration::seconds(5))
        .await;
    assert_eq!(
        bot.click(ALICE, "greenlight.reroute", &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None);
    let told = bot.slack.ephemerals();
    assert!(told[0].2.contains("can no longer be decided"), "{told:?}");
}

/// Recipe hooks share one parameter across deployments: a newer request supersedes the older
/// card, which loses its buttons, and a late click on it writes nothing.
#[tokio::test]
async fn a_superseded_recipe_card_loses_its_buttons_and_a_late_click_writes_nothing() {
    let bot = TestBot::start().await;
    let parameter = format!("{}/blue-green/approval", bot.decision_prefix);
    let request = |title: &str| {
        json!({"version": "1.0", "source": "custom",
            "content": {"textType": "client-markdown", "title": title, "description": "waiting"},
            "metadata": {"enableCustomActions": true, "additionalContext": {"ActionGroup": "ecs-approval",
                "parameterName": parameter, "region": REGION}}})
        .to_string()
    };
    let gate_of = |body: &Value| reroute_value(body).expect("a Reroute button");
    assert_eq!(
        bot.post("/sns", bot.sns_notification(&request("last week")))
            .await
            .0,
        StatusCode::OK
    );
    let old_gate = gate_of(&bot.slack.calls("chat.postMessage")[0].body);
    assert_eq!(
        bot.post("/sns", bot.sns_notification(&request("this week")))
            .await
            .0,
        StatusCode::OK
    );
    let new_gate = gate_of(
        &bot.slack
            .calls("chat.postMessage")
            .into_iter()
            .rfind(|call| call.body["blocks"].is_array())
            .expect("the new card")
            .body,
    );
    assert_ne!(old_gate, new_gate);

    let old = bot.gate_record(&old_gate).await.expect("old record");
    assert_eq!(old["status"]["state"], "resolvedElsewhere", "{old}");
    assert!(
        old["status"]["outcome"]
            .as_str()
            .unwrap()
            .contains(&new_gate)
    );
    let card = &old["card"];
    let drawn = bot
        .slack
        .message(
            card["channel"].as_str().unwrap(),
            card["ts"].as_str().unwrap(),
        )
        .expect("the old card");
    let blocks = serde_json::to_string(&drawn.blocks).unwrap();
    assert!(!blocks.contains("greenlight.reroute"), "{blocks}");
    assert!(blocks.contains("superseded"), "{blocks}");

    assert_eq!(
        bot.click(ALICE, "greenlight.reroute", &old_gate).await,
        StatusCode::OK
    );
    assert_eq!(
        bot.parameter(&parameter).await,
        None,
        "the late click wrote nothing"
    );
    assert_eq!(
        bot.click(ALICE, "greenlight.reroute", &new_gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

/// A decision write that timed out but was applied is the decision, not a failure.
#[tokio::test]
async fn a_timed_out_but_applied_decision_write_is_not_reported_as_failed() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("lateparam").await;
    let late: std::sync::Arc<dyn greenlight::ports::ParameterStore> =
        std::sync::Arc::new(crate::support::bot::FailingCreates {
            inner: bot.moto_store().await,
            failing_prefix: bot.decision_prefix.clone(),
            applied: true,
        });
    let router = bot.sibling_with_stores(late, bot.gate_table.clone()).await;
    let body = TestBot::click_body(
        ALICE,
        crate::support::bot::CHANNEL,
        "greenlight.reroute",
        &gate,
    );
    let (status, _) =
        crate::support::bot::send(&router, bot.slack_request("/slack/interactions", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    assert!(
        bot.slack.ephemerals().is_empty(),
        "nobody was told it failed"
    );
    let record = bot.gate_record(&gate).await.expect("record");
    assert_eq!(record["status"]["state"], "decided", "{record}");
}

/// A burst as it arrives: distinct gate requests, each delivered twice at once, one gate write
/// in five applied but answered too late, Slack rate-limiting some posts; every 5xx delivered
/// again, as SNS does. Every gate ends with exactly one card, and nothing is lost.
#[tokio::test]
async fn a_burst_with_late_writes_and_rate_limits_loses_no_gate() {
    let bot = TestBot::start().await;
    let late: std::sync::Arc<dyn greenlight::store::GateTable> = std::sync::Arc::new(
        crate::support::bot::ScriptedTable::late_creates(bot.gate_table.clone(), 5),
    );
    let router = bot.sibling_with_stores(bot.moto_store().await, late).await;
    bot.slack.fail_next(
        "chat.postMessage",
        Failure::RateLimited {
            retry_after_secs: 1,
        },
        3,
    );
    let gates: Vec<(String, String)> = (0..30)
        .map(|i| bot.gate_request(&format!("burst{i}")))
        .collect();
    let deliver = |message: String| {
        let router = router.clone();
        let bot = &bot;
        async move {
            let body = bot.sns_notification(&message);
            for _attempt in 0..10 {
                let request = axum::http::Request::post("/sns")
                    .body(axum::body::Body::from(body.clone()))
                    .expect("request");
                let (status, _) = crate::support::bot::send(&router, request).await;
                if status.is_success() {
                    return status;
                }
                assert!(status.is_server_error(), "{status}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("a delivery never succeeded");
        }
    };
    let deliveries = gates
        .iter()
        .flat_map(|(_, message)| [message.clone(), message.clone()])
        .map(deliver);
    let statuses = futures_util::future::join_all(deliveries).await;
    assert!(statuses.iter().all(|s| s.is_success()));
    for (gate, _) in &gates {
        let record = bot.gate_record(gate).await.expect("recorded");
        assert!(
            record["card"].is_object(),
            "gate {gate} got its card: {record}"
        );
    }
    // Exactly one card per gate: no gate lost, none carded twice.
    let messages = bot.slack.messages();
    for (gate, _) in &gates {
        let cards = messages
            .iter()
            .filter(|m| m.thread_ts.is_none() && m.blocks.to_string().contains(gate.as_str()))
            .count();
        assert_eq!(cards, 1, "gate {gate}");
    }
}

/// `/deploy status` shows a channel its own gates, and a direct message the gates the person
/// may decide: never every gate of every channel to anyone.
#[tokio::test]
async fn status_shows_the_channels_gates_or_in_a_dm_the_ones_you_may_decide() {
    let policy = format!(
        r#"
[[rule]]
name = "payments"
services = ["payments"]
channel = "C0PAYMENTS1"
approvers = ["{BOB}"]

[[rule]]
name = "everything else"
channel = "{channel}"
approvers = ["{ALICE}"]
"#,
        channel = crate::support::bot::CHANNEL
    );
    let bot = TestBot::with(Options {
        policy: Some(policy),
        ..Options::default()
    })
    .await;
    let (web_gate, _) = bot.open_gate("dmstatus").await;
    let status = |channel: &'static str, user: &'static str| {
        let bot = &bot;
        async move {
            let body = TestBot::command_body_in(channel, user, "status");
            let (status, text) = bot
                .request(bot.slack_request("/slack/commands", body))
                .await;
            assert_eq!(status, StatusCode::OK);
            let answer: Value = serde_json::from_str(&text).expect("JSON");
            answer["text"].as_str().unwrap_or_default().to_owned()
        }
    };
    // In the deploy channel: its gate. In the payments channel: not web's gate.
    assert!(
        status(crate::support::bot::CHANNEL, BOB)
            .await
            .contains(&web_gate)
    );
    let elsewhere = status("C0PAYMENTS1", BOB).await;
    assert!(!elsewhere.contains(&web_gate), "{elsewhere}");
    // In a DM: alice may decide web's gate and sees it; bob may not and does not.
    let alice = status("D0ALICEDM01", ALICE).await;
    assert!(alice.contains(&web_gate), "{alice}");
    let bob = status("D0BOBDM0001", BOB).await;
    assert!(!bob.contains(&web_gate), "{bob}");
    assert!(bob.contains("that you may decide"), "{bob}");
}
