//! Flow B end to end: ECS's `ECS Hook State Change` and `ECS Deployment State Change` events, in
//! their documented EventBridge shapes, reach `/sns` signed as SNS signs them; clicks arrive
//! signed as Slack signs them; the ECS double records every `ContinueServiceDeployment` and
//! `StopServiceDeployment` the real SDK client sends.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use greenlight::domain::gate::GateId;
use greenlight::domain::record::GateRecord;
use greenlight::store::GateReader;
use serde_json::{Value, json};

use crate::support::bot::{ALICE, BOB, CHANNEL, MALLORY, Options, TestBot};
use crate::support::moto::{self, ACCOUNT, REGION};
use crate::support::slack_double::StoredMessage;

const REROUTE: &str = "greenlight.reroute";
const ROLLBACK: &str = "greenlight.rollback";
const ROLLBACK_NOW: &str = "greenlight.rollback_now";
const HOOK: &str = "ecs-pause-e7tK9G_WRJqNF_EOMjztDXfKenlJuEUVjsNStf4WLKw";

fn deployment_arn(cluster: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/Dp1aUs3dR")
}

fn epoch(time: DateTime<Utc>) -> f64 {
    time.timestamp() as f64
}

/// An `ECS Hook State Change` event as EventBridge delivers it.
fn hook_event(arn: &str, hook_id: &str, name: &str, stage: &str) -> String {
    let cluster = arn.split('/').nth(1).unwrap_or_default();
    let now = Utc::now();
    json!({
        "version": "0",
        "id": moto::unique("event"),
        "detail-type": "ECS Hook State Change",
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": now.to_rfc3339(),
        "region": REGION,
        "resources": [arn],
        "detail": {
            "eventType": "INFO",
            "eventName": name,
            "hookId": hook_id,
            "hookType": "PAUSE",
            "expiresAt": (now + Duration::hours(24)).to_rfc3339(),
            "lifecycleStage": stage,
            "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}"),
            "serviceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/web"),
            "serviceDeploymentArn": arn,
            "updatedAt": now.to_rfc3339()
        }
    })
    .to_string()
}

/// An `ECS Deployment State Change` event: it names the service and an `ecs-svc/…` deployment
/// id, not the service-deployment ARN.
fn state_event(cluster: &str, name: &str, reason: Option<&str>) -> String {
    let mut detail = json!({
        "eventType": if name.ends_with("FAILED") { "ERROR" } else { "INFO" },
        "eventName": name,
        "deploymentId": "ecs-svc/9876543210",
        "updatedAt": Utc::now().to_rfc3339(),
    });
    if let Some(reason) = reason {
        detail["reason"] = json!(reason);
    }
    json!({
        "version": "0",
        "id": moto::unique("event"),
        "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": Utc::now().to_rfc3339(),
        "region": REGION,
        "resources": [format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/web")],
        "detail": detail
    })
    .to_string()
}

fn revision(arn: &str, which: &str, weight: f64) -> Value {
    json!({"arn": format!("{}/{which}", arn.replace("service-deployment", "service-revision")),
        "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0,
        "requestedProductionTrafficWeight": weight, "requestedTestTrafficWeight": 100.0})
}

/// A pause hook as `DescribeServiceDeployments` lists it.
fn hook_detail(hook_id: &str, status: &str, timeout_action: &str) -> Value {
    json!({"hookId": hook_id, "targetType": "PAUSE", "status": status,
        "expiresAt": epoch(Utc::now() + Duration::hours(24)), "timeoutAction": timeout_action})
}

/// A blue/green deployment replacing revision 41 by 42, as `DescribeServiceDeployments` says.
fn deployment(arn: &str, status: &str, stage: &str, hooks: Value) -> Value {
    json!({
        "status": status,
        "lifecycleStage": stage,
        "updatedAt": epoch(Utc::now()),
        "sourceServiceRevisions": [revision(arn, "41", 100.0)],
        "targetServiceRevision": revision(arn, "42", 0.0),
        "lifecycleHookDetails": hooks,
        "deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 15}
    })
}

async fn deliver(bot: &TestBot, message: &str) -> String {
    let (status, body) = bot.post("/sns", bot.sns_notification(message)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A paused deployment of `web` in `cluster`, carded; returns (deployment ARN, gate id).
async fn open_pause(bot: &TestBot, cluster: &str) -> (String, String) {
    let arn = deployment_arn(cluster);
    bot.ecs.add_deployment(
        &arn,
        deployment(
            &arn,
            "IN_PROGRESS",
            "POST_TEST_TRAFFIC_SHIFT",
            json!([hook_detail(HOOK, "AWAITING_ACTION", "ROLLBACK")]),
        ),
    );
    let body = deliver(
        bot,
        &hook_event(
            &arn,
            HOOK,
            "HOOK_AWAITING_ACTION",
            "POST_TEST_TRAFFIC_SHIFT",
        ),
    )
    .await;
    assert_eq!(body, "card posted\n");
    (arn.clone(), GateId::for_pause(&arn, HOOK).to_string())
}

async fn record(bot: &TestBot, gate: &str) -> GateRecord {
    bot.gate_table
        .load(&gate.parse().expect("gate id"))
        .await
        .expect("gate store")
        .expect("a record")
        .record
}

/// The card as it stands now in the Slack double.
async fn card(bot: &TestBot, gate: &str) -> StoredMessage {
    let location = record(bot, gate).await.card.expect("a posted card");
    bot.slack
        .message(&location.channel, &location.ts)
        .expect("the card in Slack")
}

/// The replies in the thread the gate's audit trail goes to.
async fn thread(bot: &TestBot, gate: &str) -> Vec<String> {
    let location = record(bot, gate).await.card.expect("a posted card");
    bot.slack
        .replies(&location.channel, location.thread_root())
        .into_iter()
        .filter_map(|reply| reply.text)
        .collect()
}

fn action_ids(message: &StoredMessage) -> Vec<String> {
    message
        .blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|block| block["type"] == "actions")
        .flat_map(|block| block["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|element| element["action_id"].as_str().map(str::to_owned))
        .collect()
}

fn context_line(message: &StoredMessage) -> String {
    message
        .blocks
        .as_array()
        .and_then(|blocks| blocks.last())
        .map(|block| {
            block["elements"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default()
}

fn ephemerals_for(bot: &TestBot, user: &str) -> Vec<String> {
    bot.slack
        .ephemerals()
        .into_iter()
        .filter(|(_, to, _)| to == user)
        .map(|(_, _, text)| text)
        .collect()
}

#[tokio::test]
async fn a_waiting_pause_becomes_one_card_with_what_ecs_says() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    // SNS redelivers; ECS may emit the same pause again in another envelope.
    let event = hook_event(
        &arn,
        HOOK,
        "HOOK_AWAITING_ACTION",
        "POST_TEST_TRAFFIC_SHIFT",
    );
    let envelope = bot.sns_notification(&event);
    for _ in 0..2 {
        assert_eq!(bot.post("/sns", envelope.clone()).await.0, StatusCode::OK);
    }
    assert_eq!(deliver(&bot, &event).await, "gate already carded\n");

    let posts = bot.slack.calls("chat.postMessage");
    assert_eq!(posts.len(), 1, "one card");
    assert_eq!(posts[0].body["channel"], CHANNEL);
    let card = card(&bot, &gate).await;
    let all = serde_json::to_string(&card.blocks).unwrap();
    assert!(all.contains("web: Reroute production traffic"), "{all}");
    assert!(all.contains("prod"), "cluster from the event");
    assert!(
        all.contains("POST_TEST_TRAFFIC_SHIFT"),
        "stage from the event"
    );
    assert!(
        all.contains("`42`") && all.contains("replacing `41`"),
        "revisions from DescribeServiceDeployments: {all}"
    );
    assert!(
        all.contains("*Deadline*\\n<!date^"),
        "deadline from expiresAt: {all}"
    );
    assert!(
        all.contains("then it rolls back"),
        "the hook's timeout action: {all}"
    );
    assert!(all.contains("pause hook"), "{all}");
    assert_eq!(action_ids(&card)[..2], [REROUTE, ROLLBACK]);
    for element in card
        .blocks
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap())
    {
        if element["action_id"] != "greenlight.console" {
            assert_eq!(
                element["value"],
                gate.as_str(),
                "button values carry the gate id only"
            );
        }
    }
    let stored = record(&bot, &gate).await;
    assert_eq!(
        stored.resolution,
        greenlight::domain::record::Resolution::PauseHook {
            hook_id: HOOK.to_owned()
        }
    );
    assert!(bot.ecs.calls_to("ContinueServiceDeployment").is_empty());
}

#[tokio::test]
async fn an_approval_continues_the_pause_exactly_once() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    assert_eq!(bot.click(ALICE, REROUTE, &gate).await, StatusCode::OK);
    let calls = bot.ecs.calls_to("ContinueServiceDeployment");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["serviceDeploymentArn"], arn.as_str());
    assert_eq!(calls[0]["hookId"], HOOK);
    assert_eq!(calls[0]["action"], "CONTINUE");

    let card = card(&bot, &gate).await;
    let all = serde_json::to_string(&card.blocks).unwrap();
    assert!(all.contains(&format!("Rerouted by <@{ALICE}>")), "{all}");
    assert_eq!(
        action_ids(&card),
        [ROLLBACK_NOW],
        "after the reroute only Roll back now is offered"
    );
    assert!(
        thread(&bot, &gate)
            .await
            .iter()
            .any(|note| note.contains(&format!("<@{ALICE}> approved")))
    );

    // A late click changes nothing and says so.
    assert_eq!(bot.click(BOB, ROLLBACK, &gate).await, StatusCode::OK);
    assert_eq!(bot.ecs.calls_to("ContinueServiceDeployment").len(), 1);
    assert!(ephemerals_for(&bot, BOB)[0].contains("already approved"));
}

#[tokio::test]
async fn a_rollback_rolls_the_pause_back() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    assert_eq!(bot.click(BOB, ROLLBACK, &gate).await, StatusCode::OK);
    let calls = bot.ecs.calls_to("ContinueServiceDeployment");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["serviceDeploymentArn"], arn.as_str());
    assert_eq!(calls[0]["hookId"], HOOK);
    assert_eq!(calls[0]["action"], "ROLLBACK");
    let card = card(&bot, &gate).await;
    assert!(
        action_ids(&card).is_empty(),
        "no Roll back now after a rollback"
    );
    assert!(
        serde_json::to_string(&card.blocks)
            .unwrap()
            .contains("Rollback requested by")
    );
}

#[tokio::test]
async fn concurrent_clicks_make_one_call() {
    let bot = TestBot::start().await;
    let (_, gate) = open_pause(&bot, "prod").await;
    let clicks = [
        (ALICE, REROUTE),
        (BOB, REROUTE),
        (ALICE, ROLLBACK),
        (BOB, ROLLBACK),
        (ALICE, REROUTE),
    ];
    let statuses = futures_util::future::join_all(
        clicks
            .iter()
            .map(|(user, action)| bot.click(user, action, &gate)),
    )
    .await;
    assert!(statuses.iter().all(|status| *status == StatusCode::OK));
    assert_eq!(bot.ecs.calls_to("ContinueServiceDeployment").len(), 1);
    assert!(!record(&bot, &gate).await.status.is_open());
}

#[tokio::test]
async fn an_unauthorised_click_makes_no_call() {
    let bot = TestBot::start().await;
    let (_, gate) = open_pause(&bot, "prod").await;
    let before = bot.ecs.calls().len();
    assert_eq!(bot.click(MALLORY, REROUTE, &gate).await, StatusCode::OK);
    assert_eq!(bot.click(MALLORY, ROLLBACK, &gate).await, StatusCode::OK);
    assert_eq!(bot.ecs.calls().len(), before, "not even a Describe");
    assert!(ephemerals_for(&bot, MALLORY)[0].contains("not an approver"));
    assert!(record(&bot, &gate).await.status.is_open());
}

#[tokio::test]
async fn a_quorum_holds_for_pauses_too() {
    let policy = format!(
        "[[rule]]\nname = \"prod needs two\"\napprovers = [\"{ALICE}\", \"{BOB}\"]\nquorum = 2\n"
    );
    let bot = TestBot::with(Options {
        policy: Some(policy),
        ..Options::default()
    })
    .await;
    let (_, gate) = open_pause(&bot, "prod").await;
    bot.click(ALICE, REROUTE, &gate).await;
    bot.click(ALICE, REROUTE, &gate).await;
    assert!(bot.ecs.calls_to("ContinueServiceDeployment").is_empty());
    assert!(context_line(&card(&bot, &gate).await).contains("1 of 2 approvals"));
    bot.click(BOB, REROUTE, &gate).await;
    let calls = bot.ecs.calls_to("ContinueServiceDeployment");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["action"], "CONTINUE");
}

#[tokio::test]
async fn a_click_after_the_console_resolved_the_pause_is_answered_honestly() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    // Someone continued the pause in the console; the event has not arrived yet.
    bot.ecs.add_deployment(
        &arn,
        deployment(
            &arn,
            "IN_PROGRESS",
            "PRODUCTION_TRAFFIC_SHIFT",
            json!([hook_detail(HOOK, "SUCCEEDED", "ROLLBACK")]),
        ),
    );
    assert_eq!(bot.click(ALICE, REROUTE, &gate).await, StatusCode::OK);
    assert!(bot.ecs.calls_to("ContinueServiceDeployment").is_empty());
    let told = ephemerals_for(&bot, ALICE);
    assert!(told[0].contains("resolved outside greenlight"), "{told:?}");
    let card = card(&bot, &gate).await;
    assert!(action_ids(&card).is_empty());
    assert!(
        serde_json::to_string(&card.blocks)
            .unwrap()
            .contains("Resolved outside greenlight: continued")
    );
    // Every later click is answered from the record, without asking ECS again.
    let before = bot.ecs.calls().len();
    bot.click(BOB, ROLLBACK, &gate).await;
    assert_eq!(bot.ecs.calls().len(), before);
    assert!(ephemerals_for(&bot, BOB)[0].contains("resolved outside greenlight"));
}

#[tokio::test]
async fn ecs_refusing_the_continue_because_someone_was_faster_is_answered_honestly() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    // The console's continue lands between greenlight's Describe and its Continue.
    bot.ecs.reject(
        "ContinueServiceDeployment",
        "InvalidParameterException",
        Some((
            &arn,
            deployment(
                &arn,
                "ROLLBACK_IN_PROGRESS",
                "POST_TEST_TRAFFIC_SHIFT",
                json!([hook_detail(HOOK, "FAILED", "ROLLBACK")]),
            ),
        )),
    );
    bot.click(ALICE, REROUTE, &gate).await;
    assert_eq!(bot.ecs.calls_to("ContinueServiceDeployment").len(), 1);
    assert!(ephemerals_for(&bot, ALICE)[0].contains("resolved outside greenlight (rolled back"));
    assert!(matches!(
        record(&bot, &gate).await.status,
        greenlight::domain::record::GateStatus::ResolvedElsewhere { .. }
    ));
    bot.click(BOB, REROUTE, &gate).await;
    assert_eq!(
        bot.ecs.calls_to("ContinueServiceDeployment").len(),
        1,
        "no further call"
    );
}

/// A Continue that ECS answered with an error (a time-out, say) but carried out: ECS shows the
/// hook in the state this click asked for, so the click decided the gate, and nobody is told
/// it failed or that someone else was faster.
#[tokio::test]
async fn a_continue_answered_late_but_applied_is_the_clicks_decision() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    bot.ecs.reject(
        "ContinueServiceDeployment",
        "ServerException",
        Some((
            &arn,
            deployment(
                &arn,
                "IN_PROGRESS",
                "PRODUCTION_TRAFFIC_SHIFT",
                json!([hook_detail(HOOK, "SUCCEEDED", "ROLLBACK")]),
            ),
        )),
    );
    bot.click(ALICE, REROUTE, &gate).await;
    assert_eq!(bot.ecs.calls_to("ContinueServiceDeployment").len(), 1);
    assert!(
        ephemerals_for(&bot, ALICE).is_empty(),
        "nobody was told it failed"
    );
    match record(&bot, &gate).await.status {
        greenlight::domain::record::GateStatus::Decided { by, .. } => assert_eq!(by, ALICE),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ecs_refusing_for_another_reason_keeps_the_buttons() {
    let bot = TestBot::start().await;
    let (_, gate) = open_pause(&bot, "prod").await;
    bot.ecs
        .reject("ContinueServiceDeployment", "AccessDeniedException", None);
    bot.click(ALICE, REROUTE, &gate).await;
    assert!(ephemerals_for(&bot, ALICE)[0].contains("Nothing was decided"));
    assert!(record(&bot, &gate).await.status.is_open());
    assert_eq!(
        action_ids(&card(&bot, &gate).await)[..2],
        [REROUTE, ROLLBACK]
    );
}

/// ECS failing (500) during the Continue: the person is told nothing was decided, the gate
/// stays decidable, and a retry makes exactly one more `ContinueServiceDeployment`, which
/// decides. (The SDK retries a 500 itself: every attempt of the first click fails here.)
#[tokio::test]
async fn ecs_failing_during_a_continue_keeps_the_gate_decidable_and_a_retry_continues_once() {
    let bot = TestBot::start().await;
    let (_, gate) = open_pause(&bot, "prod").await;
    bot.ecs.fail_next("ContinueServiceDeployment", 3);
    bot.click(ALICE, REROUTE, &gate).await;
    let failed_attempts = bot.ecs.calls_to("ContinueServiceDeployment").len();
    assert!(failed_attempts >= 1);
    assert!(ephemerals_for(&bot, ALICE)[0].contains("Nothing was decided"));
    assert!(record(&bot, &gate).await.status.is_open());
    assert_eq!(
        action_ids(&card(&bot, &gate).await)[..2],
        [REROUTE, ROLLBACK]
    );
    bot.ecs.fail_next("ContinueServiceDeployment", 0);
    bot.click(ALICE, REROUTE, &gate).await;
    assert_eq!(
        bot.ecs.calls_to("ContinueServiceDeployment").len(),
        failed_attempts + 1,
        "exactly one more Continue"
    );
    assert!(!record(&bot, &gate).await.status.is_open());
}

#[tokio::test]
async fn a_pause_continued_outside_greenlight_closes_the_card() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    // Someone continued it in the console: ECS says so.
    bot.ecs.add_deployment(
        &arn,
        deployment(
            &arn,
            "IN_PROGRESS",
            "PRODUCTION_TRAFFIC_SHIFT",
            json!([hook_detail(HOOK, "SUCCEEDED", "ROLLBACK")]),
        ),
    );
    deliver(
        &bot,
        &hook_event(&arn, HOOK, "HOOK_SUCCEEDED", "POST_TEST_TRAFFIC_SHIFT"),
    )
    .await;
    let card = card(&bot, &gate).await;
    assert!(action_ids(&card).is_empty(), "no buttons");
    assert!(
        serde_json::to_string(&card.blocks)
            .unwrap()
            .contains("Resolved outside greenlight: continued in ECS, pause hook SUCCEEDED")
    );
    assert!(
        thread(&bot, &gate)
            .await
            .iter()
            .any(|note| note.contains("Resolved outside greenlight"))
    );
    bot.click(ALICE, REROUTE, &gate).await;
    assert!(bot.ecs.calls_to("ContinueServiceDeployment").is_empty());
    assert!(ephemerals_for(&bot, ALICE)[0].contains("resolved outside greenlight"));
}

#[tokio::test]
async fn greenlights_own_decision_confirmed_by_ecs_stays_its_own() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    bot.click(ALICE, REROUTE, &gate).await;
    deliver(
        &bot,
        &hook_event(&arn, HOOK, "HOOK_SUCCEEDED", "POST_TEST_TRAFFIC_SHIFT"),
    )
    .await;
    let card = card(&bot, &gate).await;
    assert!(
        serde_json::to_string(&card.blocks)
            .unwrap()
            .contains(&format!("Rerouted by <@{ALICE}>"))
    );
    assert_eq!(action_ids(&card), [ROLLBACK_NOW]);
}

#[tokio::test]
async fn a_timed_out_pause_says_what_ecs_did() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    bot.ecs.add_deployment(
        &arn,
        deployment(
            &arn,
            "ROLLBACK_IN_PROGRESS",
            "POST_TEST_TRAFFIC_SHIFT",
            json!([hook_detail(HOOK, "TIMED_OUT", "ROLLBACK")]),
        ),
    );
    deliver(
        &bot,
        &hook_event(&arn, HOOK, "HOOK_TIMED_OUT", "POST_TEST_TRAFFIC_SHIFT"),
    )
    .await;
    let card = card(&bot, &gate).await;
    assert!(action_ids(&card).is_empty(), "no buttons");
    let all = serde_json::to_string(&card.blocks).unwrap();
    assert!(all.contains("⏰ Timed out in ECS: rolled back at"), "{all}");
    assert!(
        thread(&bot, &gate)
            .await
            .iter()
            .any(|note| note.contains("ECS rolled the deployment back"))
    );
}

#[tokio::test]
async fn roll_back_now_during_bake_stops_the_deployment_once() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    bot.click(ALICE, REROUTE, &gate).await;
    // Production traffic moved; the deployment bakes, and says so when an event comes.
    let mut baking = deployment(&arn, "IN_PROGRESS", "BAKE_TIME", json!([]));
    baking["updatedAt"] = json!(epoch(Utc::now() - Duration::minutes(3)));
    bot.ecs.add_deployment(&arn, baking);
    deliver(
        &bot,
        &state_event("prod", "SERVICE_DEPLOYMENT_IN_PROGRESS", None),
    )
    .await;
    let baking_card = card(&bot, &gate).await;
    assert!(
        context_line(&baking_card).contains("bake time, about 12 min left"),
        "{}",
        context_line(&baking_card)
    );
    assert_eq!(action_ids(&baking_card), [ROLLBACK_NOW]);

    // Someone who may not decide is refused without a call.
    bot.click(MALLORY, ROLLBACK_NOW, &gate).await;
    assert!(bot.ecs.calls_to("StopServiceDeployment").is_empty());
    assert!(ephemerals_for(&bot, MALLORY)[0].contains("not an approver"));

    let statuses = futures_util::future::join_all(
        [ALICE, BOB, ALICE].map(|user| bot.click(user, ROLLBACK_NOW, &gate)),
    )
    .await;
    assert!(statuses.iter().all(|status| *status == StatusCode::OK));
    let stops = bot.ecs.calls_to("StopServiceDeployment");
    assert_eq!(stops.len(), 1, "one stop however many click");
    assert_eq!(stops[0]["serviceDeploymentArn"], arn.as_str());
    assert_eq!(stops[0]["stopType"], "ROLLBACK");

    let card = card(&bot, &gate).await;
    assert!(action_ids(&card).is_empty(), "Roll back now is gone");
    assert!(
        context_line(&card).contains("⏪ rolling back"),
        "{}",
        context_line(&card)
    );
    assert!(
        thread(&bot, &gate)
            .await
            .iter()
            .any(|note| note.contains("rolled the deployment back after approval"))
    );
    let others: Vec<String> = [ALICE, BOB]
        .iter()
        .flat_map(|user| ephemerals_for(&bot, user))
        .collect();
    assert!(
        others
            .iter()
            .any(|text| text.contains("already asked ECS to roll back")),
        "{others:?}"
    );
}

#[tokio::test]
async fn roll_back_now_after_the_deployment_ended_stops_nothing() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    bot.click(ALICE, REROUTE, &gate).await;
    // It completed, but no event told greenlight.
    bot.ecs
        .add_deployment(&arn, deployment(&arn, "SUCCESSFUL", "CLEAN_UP", json!([])));
    bot.click(ALICE, ROLLBACK_NOW, &gate).await;
    assert!(bot.ecs.calls_to("StopServiceDeployment").is_empty());
    assert!(ephemerals_for(&bot, ALICE)[0].contains("already ended (SUCCESSFUL)"));
    let card = card(&bot, &gate).await;
    assert!(action_ids(&card).is_empty());
    assert!(context_line(&card).contains("✅ completed"));
}

#[tokio::test]
async fn roll_back_now_works_for_lambda_hook_gates_too() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("flowa").await;
    let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/flowa/web/dep1");
    bot.ecs.add_replacing_deployment(&arn);
    bot.click(ALICE, REROUTE, &gate).await;
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    assert_eq!(action_ids(&card(&bot, &gate).await), [ROLLBACK_NOW]);
    bot.click(BOB, ROLLBACK_NOW, &gate).await;
    let stops = bot.ecs.calls_to("StopServiceDeployment");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0]["serviceDeploymentArn"], arn.as_str());
    assert_eq!(stops[0]["stopType"], "ROLLBACK");
}

#[tokio::test]
async fn deployment_events_keep_the_card_and_thread_current() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    bot.click(ALICE, REROUTE, &gate).await;
    let updates_before = bot.slack.calls("chat.update").len();
    bot.ecs
        .add_deployment(&arn, deployment(&arn, "SUCCESSFUL", "CLEAN_UP", json!([])));
    let completed = state_event("prod", "SERVICE_DEPLOYMENT_COMPLETED", None);
    deliver(&bot, &completed).await;
    assert!(
        bot.slack.calls("chat.update").len() > updates_before,
        "the card was rewritten"
    );
    let card = card(&bot, &gate).await;
    assert!(
        context_line(&card).ends_with("✅ completed"),
        "{}",
        context_line(&card)
    );
    assert!(
        action_ids(&card).is_empty(),
        "Roll back now disappears when the deployment ends"
    );
    let notes = thread(&bot, &gate).await;
    assert_eq!(
        notes
            .iter()
            .filter(|note| note.contains("✅ completed"))
            .count(),
        1,
        "{notes:?}"
    );
    // A redelivery says nothing twice.
    deliver(&bot, &completed).await;
    let notes = thread(&bot, &gate).await;
    assert_eq!(
        notes
            .iter()
            .filter(|note| note.contains("✅ completed"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_rollback_by_ecs_is_shown_with_its_reason() {
    let bot = TestBot::start().await;
    // A Flow A gate whose deployment ECS does not describe: the events alone tell the story.
    let (gate, _) = bot.open_gate("alarmed").await;
    bot.click(ALICE, REROUTE, &gate).await;
    let reason = "ECS deployment alarm web-5xx: rolling back to deploymentId ecs-svc/1234.";
    deliver(
        &bot,
        &state_event("alarmed", "SERVICE_DEPLOYMENT_IN_PROGRESS", Some(reason)),
    )
    .await;
    let card_now = card(&bot, &gate).await;
    assert!(context_line(&card_now).contains("⏪ rolling back: ECS deployment alarm web-5xx"));
    assert!(action_ids(&card_now).is_empty());
    deliver(
        &bot,
        &state_event("alarmed", "SERVICE_DEPLOYMENT_COMPLETED", None),
    )
    .await;
    let card_now = card(&bot, &gate).await;
    assert!(
        context_line(&card_now).contains("⏪ rolled back"),
        "{}",
        context_line(&card_now)
    );
    let notes = thread(&bot, &gate).await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("rolling back: ECS deployment alarm web-5xx")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("deployment ⏪ rolled back")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn an_open_gate_whose_deployment_ecs_rolled_back_is_closed() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    let mut rolled_back = deployment(&arn, "ROLLBACK_SUCCESSFUL", "CLEAN_UP", json!([]));
    rolled_back["statusReason"] = json!("circuit breaker: tasks failed to start");
    bot.ecs.add_deployment(&arn, rolled_back);
    deliver(
        &bot,
        &state_event(
            "prod",
            "SERVICE_DEPLOYMENT_FAILED",
            Some("circuit breaker: tasks failed to start"),
        ),
    )
    .await;
    let card = card(&bot, &gate).await;
    assert!(action_ids(&card).is_empty());
    assert!(
        serde_json::to_string(&card.blocks).unwrap().contains(
            "Resolved outside greenlight: the deployment ⏪ rolled back: circuit breaker"
        ),
    );
    bot.click(ALICE, REROUTE, &gate).await;
    assert!(bot.ecs.calls_to("ContinueServiceDeployment").is_empty());
}

fn first_deployment(arn: &str) -> Value {
    let mut first = deployment(
        arn,
        "IN_PROGRESS",
        "POST_TEST_TRAFFIC_SHIFT",
        json!([hook_detail(HOOK, "AWAITING_ACTION", "ROLLBACK")]),
    );
    first["sourceServiceRevisions"] = json!([]);
    first
}

#[tokio::test]
async fn a_first_deployment_is_continued_at_once_when_the_policy_says_so() {
    let policy = format!(
        "[defaults]\ncontinue_first_deployments = true\n\n[[rule]]\nname = \"everything\"\napprovers = [\"{ALICE}\"]\n"
    );
    let bot = TestBot::with(Options {
        policy: Some(policy),
        ..Options::default()
    })
    .await;
    let arn = deployment_arn("fresh");
    bot.ecs.add_deployment(&arn, first_deployment(&arn));
    let event = hook_event(
        &arn,
        HOOK,
        "HOOK_AWAITING_ACTION",
        "POST_TEST_TRAFFIC_SHIFT",
    );
    assert_eq!(deliver(&bot, &event).await, "first deployment continued\n");
    assert_eq!(deliver(&bot, &event).await, "gate already carded\n");
    let calls = bot.ecs.calls_to("ContinueServiceDeployment");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["action"], "CONTINUE");
    assert_eq!(calls[0]["hookId"], HOOK);
    let posts = bot.slack.calls("chat.postMessage");
    assert_eq!(posts.len(), 1, "a note, no card");
    assert!(posts[0].body["blocks"].is_null(), "a note has no buttons");
    let note = posts[0].body["text"].as_str().unwrap();
    assert!(
        note.contains("first deployment") && note.contains("continued"),
        "{note}"
    );
}

#[tokio::test]
async fn a_first_deployment_is_gated_when_the_policy_does_not_say_so() {
    let bot = TestBot::start().await;
    let arn = deployment_arn("fresh");
    bot.ecs.add_deployment(&arn, first_deployment(&arn));
    let event = hook_event(
        &arn,
        HOOK,
        "HOOK_AWAITING_ACTION",
        "POST_TEST_TRAFFIC_SHIFT",
    );
    assert_eq!(deliver(&bot, &event).await, "card posted\n");
    assert!(bot.ecs.calls_to("ContinueServiceDeployment").is_empty());
}

/// A canary deployment: 10 % first, then the rest, each after a pause at
/// PRE_PRODUCTION_TRAFFIC_SHIFT with a new hook id.
fn canary(arn: &str, green: f64, hook_id: &str) -> Value {
    json!({
        "status": "IN_PROGRESS",
        "lifecycleStage": "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "updatedAt": epoch(Utc::now()),
        "sourceServiceRevisions": [revision(arn, "41", 100.0 - green)],
        "targetServiceRevision": revision(arn, "42", green),
        "lifecycleHookDetails": [hook_detail(hook_id, "AWAITING_ACTION", "ROLLBACK")],
        "deploymentConfiguration": {"strategy": "CANARY", "bakeTimeInMinutes": 10,
            "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}}
    })
}

#[tokio::test]
async fn each_canary_step_is_its_own_gate_in_the_first_cards_thread() {
    let bot = TestBot::start().await;
    let arn = deployment_arn("canary");
    let (first_hook, second_hook) = ("ecs-pause-step-1", "ecs-pause-step-2");
    bot.ecs.add_deployment(&arn, canary(&arn, 0.0, first_hook));
    deliver(
        &bot,
        &hook_event(
            &arn,
            first_hook,
            "HOOK_AWAITING_ACTION",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
        ),
    )
    .await;
    let first = GateId::for_pause(&arn, first_hook).to_string();
    let first_card = card(&bot, &first).await;
    assert_eq!(
        first_card.thread_ts, None,
        "the first pause starts the thread"
    );
    assert!(
        serde_json::to_string(&first_card.blocks)
            .unwrap()
            .contains("step 1 of 2: 0 % on green, next 10 %")
    );
    bot.click(ALICE, REROUTE, &first).await;

    bot.ecs
        .add_deployment(&arn, canary(&arn, 10.0, second_hook));
    deliver(
        &bot,
        &hook_event(
            &arn,
            second_hook,
            "HOOK_AWAITING_ACTION",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
        ),
    )
    .await;
    let second = GateId::for_pause(&arn, second_hook).to_string();
    assert_ne!(first, second);
    let second_card = card(&bot, &second).await;
    assert_eq!(
        second_card.thread_ts.as_deref(),
        Some(first_card.ts.as_str()),
        "the second pause's card is a reply in the first card's thread"
    );
    let all = serde_json::to_string(&second_card.blocks).unwrap();
    assert!(
        all.contains("step 2 of 2: 10 % on green, next 100 %"),
        "{all}"
    );
    assert_eq!(action_ids(&second_card)[..2], [REROUTE, ROLLBACK]);

    bot.click(BOB, REROUTE, &second).await;
    let calls = bot.ecs.calls_to("ContinueServiceDeployment");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["hookId"], first_hook);
    assert_eq!(calls[1]["hookId"], second_hook);
    // Both steps' audit trails are in the one thread.
    let notes = thread(&bot, &second).await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&format!("<@{ALICE}> approved")) && n.contains(&first))
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&format!("<@{BOB}> approved")) && n.contains(&second))
    );

    // The deployment's end updates every card of it, and is told once.
    let mut done = canary(&arn, 100.0, second_hook);
    done["status"] = json!("SUCCESSFUL");
    done["lifecycleStage"] = json!("CLEAN_UP");
    bot.ecs.add_deployment(&arn, done);
    deliver(
        &bot,
        &state_event("canary", "SERVICE_DEPLOYMENT_COMPLETED", None),
    )
    .await;
    for gate in [&first, &second] {
        let card = card(&bot, gate).await;
        assert!(action_ids(&card).is_empty(), "{gate}");
        assert!(context_line(&card).ends_with("✅ completed"));
    }
    assert_eq!(
        thread(&bot, &first)
            .await
            .iter()
            .filter(|n| n.contains("✅ completed"))
            .count(),
        1
    );
}

#[tokio::test]
async fn roll_back_now_on_an_earlier_step_closes_the_pause_still_open() {
    let bot = TestBot::start().await;
    let arn = deployment_arn("canary");
    let (first_hook, second_hook) = ("ecs-pause-step-1", "ecs-pause-step-2");
    bot.ecs.add_deployment(&arn, canary(&arn, 0.0, first_hook));
    deliver(
        &bot,
        &hook_event(
            &arn,
            first_hook,
            "HOOK_AWAITING_ACTION",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
        ),
    )
    .await;
    let first = GateId::for_pause(&arn, first_hook).to_string();
    bot.click(ALICE, REROUTE, &first).await;
    bot.ecs
        .add_deployment(&arn, canary(&arn, 10.0, second_hook));
    deliver(
        &bot,
        &hook_event(
            &arn,
            second_hook,
            "HOOK_AWAITING_ACTION",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
        ),
    )
    .await;
    let second = GateId::for_pause(&arn, second_hook).to_string();

    // The canary looks bad: roll back from the first card while the second step waits.
    bot.click(BOB, ROLLBACK_NOW, &first).await;
    assert_eq!(bot.ecs.calls_to("StopServiceDeployment").len(), 1);
    let second_card = card(&bot, &second).await;
    assert!(
        action_ids(&second_card).is_empty(),
        "the waiting step's buttons go"
    );
    assert!(
        serde_json::to_string(&second_card.blocks)
            .unwrap()
            .contains(&format!("Rollback requested by <@{BOB}>"))
    );
    bot.click(ALICE, REROUTE, &second).await;
    assert_eq!(
        bot.ecs.calls_to("ContinueServiceDeployment").len(),
        1,
        "only the first step's continue"
    );
    let notes = thread(&bot, &first).await;
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.contains(&format!("<@{BOB}>")) && n.contains("· `gl-"))
            .count(),
        1,
        "one audit note for the rollback (the second card itself is also in the thread): {notes:?}"
    );
}

#[tokio::test]
async fn a_linear_step_reads_its_position_from_the_weights() {
    let bot = TestBot::start().await;
    let arn = deployment_arn("linear");
    let mut linear = canary(&arn, 25.0, HOOK);
    linear["deploymentConfiguration"] = json!({"strategy": "LINEAR",
        "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 5}});
    bot.ecs.add_deployment(&arn, linear);
    deliver(
        &bot,
        &hook_event(
            &arn,
            HOOK,
            "HOOK_AWAITING_ACTION",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
        ),
    )
    .await;
    let gate = GateId::for_pause(&arn, HOOK).to_string();
    let all = serde_json::to_string(&card(&bot, &gate).await.blocks).unwrap();
    assert!(
        all.contains("step 2 of 4: 25 % on green, next 50 %"),
        "{all}"
    );
}

#[tokio::test]
async fn deploy_status_shows_the_pause_and_its_expiry() {
    let bot = TestBot::start().await;
    let (_, gate) = open_pause(&bot, "prod").await;
    let (status, answer) = bot.command(ALICE, "status").await;
    assert_eq!(status, StatusCode::OK);
    let text = answer["text"].as_str().unwrap();
    assert!(text.contains(&gate), "{text}");
    assert!(
        text.contains("ECS: IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT"),
        "{text}"
    );
    assert!(
        text.contains("hook PAUSE AWAITING_ACTION (expires <!date^"),
        "{text}"
    );
    assert!(text.contains(", then ROLLBACK) ← this gate"), "{text}");
}

#[tokio::test]
async fn a_malformed_pause_event_is_refused_and_makes_nothing() {
    let bot = TestBot::start().await;
    let mut event: Value = serde_json::from_str(&hook_event(
        &deployment_arn("prod"),
        HOOK,
        "HOOK_AWAITING_ACTION",
        "POST_TEST_TRAFFIC_SHIFT",
    ))
    .unwrap();
    event["detail"]["serviceDeploymentArn"] = json!("arn:aws:ecs:eu-west-1:1:service/prod/web");
    event["resources"] = json!([]);
    let (status, _) = bot
        .post("/sns", bot.sns_notification(&event.to_string()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(bot.slack.calls("chat.postMessage").is_empty());
    assert!(bot.ecs.calls().is_empty());
}

/// A hook event alone closes nothing: ECS saying the pause still waits refuses it (a forged or
/// stale event), and ECS that cannot be asked leaves the card open with the event marked as
/// unconfirmed, answered 503 so that SNS delivers it again.
#[tokio::test]
async fn a_hook_event_ecs_does_not_confirm_leaves_the_card_open() {
    let bot = TestBot::start().await;
    let (arn, gate) = open_pause(&bot, "prod").await;
    let event = hook_event(&arn, HOOK, "HOOK_SUCCEEDED", "POST_TEST_TRAFFIC_SHIFT");
    let (status, text) = bot.post("/sns", bot.sns_notification(&event)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("still waits"), "{text}");
    assert!(record(&bot, &gate).await.status.is_open());
    assert!(
        !action_ids(&card(&bot, &gate).await).is_empty(),
        "the buttons stay"
    );

    bot.ecs.set_failing(true);
    let (status, text) = bot.post("/sns", bot.sns_notification(&event)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    let card = card(&bot, &gate).await;
    assert!(!action_ids(&card).is_empty(), "the buttons stay");
    let drawn = serde_json::to_string(&card.blocks).unwrap();
    assert!(
        drawn.contains("unconfirmed") && drawn.contains("HOOK_SUCCEEDED"),
        "{drawn}"
    );
    assert!(record(&bot, &gate).await.status.is_open());
}
