//! Helping people judge (issue 11): the evidence on the card read from ECS (the double) and
//! CloudWatch (moto), `block_on_alarm`, the deployer and `self_approval`, reasons by modal, and
//! the sweep's reminders, escalation and overdue gates. Everything through the real protocols.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::support::bot::{ALICE, BOB, Options, TestBot};
use crate::support::moto::{self, ACCOUNT, REGION};
use greenlight::card::{REROUTE_ACTION_ID, ROLLBACK_ACTION_ID};

const CAROL: &str = "U0CAROL003";

fn deployment(cluster: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/dep1")
}

fn revision(cluster: &str, number: u32) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{cluster}/web/{number}")
}

fn task_definition(family: &str, number: u32) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{number}")
}

/// The deployment behind `open_gate(cluster)` at ECS, watched by `alarms`, with its revisions'
/// task definitions (`web:42` → `web:43`) and the deployer tag CI set on the new one.
fn deploy_at_ecs(bot: &TestBot, cluster: &str, alarms: &[&str], deployer: Option<&str>) {
    bot.ecs.add_deployment(
        &deployment(cluster),
        json!({
            "status": "IN_PROGRESS",
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "sourceServiceRevisions": [{"arn": revision(cluster, 1), "requestedTaskCount": 4, "runningTaskCount": 4, "pendingTaskCount": 0}],
            "targetServiceRevision": {"arn": revision(cluster, 2), "requestedTaskCount": 4, "runningTaskCount": 3, "pendingTaskCount": 1},
            "alarms": {"status": "MONITORING", "alarmNames": alarms, "triggeredAlarmNames": []}
        }),
    );
    let image = |tag: &str| format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:{tag}");
    bot.ecs.add_revision(
        &revision(cluster, 1),
        &task_definition("web", 42),
        &[("app", &image("1.8.3"))],
    );
    bot.ecs.add_revision(
        &revision(cluster, 2),
        &task_definition("web", 43),
        &[("app", &image("1.9.0"))],
    );
    if let Some(deployer) = deployer {
        bot.ecs
            .tag_task_definition(&task_definition("web", 43), "greenlight:deployer", deployer);
    }
}

async fn cloudwatch() -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&moto::sdk_config().await)
}

/// A CloudWatch alarm at moto, in `state`.
async fn alarm(name: &str, state: &str) {
    let client = cloudwatch().await;
    client
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("greenlight/test")
        .metric_name("5xx")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("PutMetricAlarm");
    set_alarm(name, state).await;
}

async fn set_alarm(name: &str, state: &str) {
    cloudwatch()
        .await
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state.into())
        .state_reason("set by the test")
        .send()
        .await
        .expect("SetAlarmState");
}

fn policy(extra: &str) -> Options {
    Options {
        policy: Some(format!(
            "[[rule]]\nname = \"web\"\napprovers = [\"{ALICE}\", \"{BOB}\", \"{CAROL}\"]\n{extra}\n"
        )),
        ..Options::default()
    }
}

/// The card of `gate` as it stands at the Slack double, as JSON text.
async fn card_text(bot: &TestBot, gate: &str) -> String {
    let record = bot.gate_record(gate).await.expect("gate");
    let channel = record["card"]["channel"].as_str().expect("carded");
    let ts = record["card"]["ts"].as_str().expect("ts");
    let message = bot.slack.message(channel, ts).expect("card at Slack");
    message.blocks.to_string()
}

fn thread_texts(bot: &TestBot) -> Vec<String> {
    bot.slack
        .messages()
        .into_iter()
        .filter(|message| message.thread_ts.is_some())
        .filter_map(|message| message.text)
        .collect()
}

#[tokio::test]
async fn the_card_shows_what_is_deployed_the_alarms_the_tasks_and_who_deployed() {
    let bot = TestBot::with(policy("")).await;
    let cluster = moto::unique("evidence");
    let (ok, firing) = (moto::unique("web-latency"), moto::unique("web-5xx"));
    alarm(&ok, "OK").await;
    alarm(&firing, "ALARM").await;
    deploy_at_ecs(&bot, &cluster, &[&ok, &firing], Some("carol@example.com"));
    bot.slack.set_email("carol@example.com", CAROL);

    let (gate, _) = bot.open_gate(&cluster).await;
    let card = card_text(&bot, &gate).await;
    assert!(card.contains("`web:42` → `web:43`"), "{card}");
    assert!(card.contains("app `1.8.3` → `1.9.0`"), "{card}");
    assert!(
        card.contains(&format!("`{firing}` in ALARM since <!date^")),
        "{card}"
    );
    assert!(!card.contains(&format!("`{ok}` in ALARM")), "{card}");
    assert!(card.contains("3/4 tasks running"), "{card}");
    assert!(
        card.contains(&format!("*Deployed by*\\n<@{CAROL}>")),
        "{card}"
    );
    let asked: Vec<Value> = bot.ecs.calls_to("DescribeTaskDefinition");
    assert_eq!(asked[0]["include"], json!(["TAGS"]));

    // The stored gate keeps what was read, with when.
    let record = bot.gate_record(&gate).await.unwrap();
    assert_eq!(
        record["deployer"],
        json!({"kind": "slackUser", "id": CAROL})
    );
    assert!(record["evidence"]["readAt"].is_string());
}

/// Without the `users:read.email` scope Slack answers `missing_scope`: the deployer is shown as
/// the address, and nobody's approval is refused because of it.
#[tokio::test]
async fn a_deployer_slack_cannot_look_up_is_shown_as_their_address() {
    let bot = TestBot::with(policy("self_approval = false")).await;
    let cluster = moto::unique("no-scope");
    deploy_at_ecs(&bot, &cluster, &[], Some("carol@example.com"));
    bot.slack.set_email("carol@example.com", CAROL);
    bot.slack.fail_next(
        "users.lookupByEmail",
        crate::support::slack_double::Failure::Error("missing_scope".to_owned()),
        1,
    );
    let (gate, parameter) = bot.open_gate(&cluster).await;
    let card = card_text(&bot, &gate).await;
    assert!(card.contains("*Deployed by*\\ncarol@example.com"), "{card}");
    bot.click(CAROL, REROUTE_ACTION_ID, &gate).await;
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn evidence_that_cannot_be_read_says_so_and_blocks_nothing() {
    let bot = TestBot::with(policy("")).await;
    let cluster = moto::unique("unreadable");
    // ECS knows the deployment but not its revisions; its alarm is unknown to CloudWatch; the
    // deployer's address is unknown to Slack.
    bot.ecs.add_deployment(
        &deployment(&cluster),
        json!({"status": "IN_PROGRESS", "targetServiceRevision": {"arn": revision(&cluster, 2), "requestedTaskCount": 1, "runningTaskCount": 1, "pendingTaskCount": 0},
               "alarms": {"alarmNames": ["nobody-made-this"]}}),
    );
    let (gate, parameter) = bot.open_gate(&cluster).await;
    let card = card_text(&bot, &gate).await;
    assert!(
        card.contains("Task definitions could not be read"),
        "{card}"
    );
    assert!(card.contains("`nobody-made-this` NOT_FOUND"), "{card}");
    assert!(
        card.contains("New revision"),
        "falls back to the revision: {card}"
    );
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn block_on_alarm_refuses_reroute_while_an_alarm_fires_and_allows_it_after_ok() {
    let bot = TestBot::with(policy("block_on_alarm = true")).await;
    let cluster = moto::unique("blocked");
    let firing = moto::unique("web-5xx");
    alarm(&firing, "OK").await;
    deploy_at_ecs(&bot, &cluster, &[&firing], None);
    let (gate, parameter) = bot.open_gate(&cluster).await;

    // The card showed OK; the alarm fires after: the click reads it again.
    set_alarm(&firing, "ALARM").await;
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None, "nothing decided");
    let told = bot.slack.ephemeral_texts();
    assert!(
        told.last()
            .unwrap()
            .contains(&format!("`{firing}` is in ALARM")),
        "{told:?}"
    );
    assert!(bot.decision_lock(&gate).await.is_none());

    set_alarm(&firing, "OK").await;
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn rollback_still_works_while_an_alarm_fires() {
    let bot = TestBot::with(policy("block_on_alarm = true")).await;
    let cluster = moto::unique("blocked-rb");
    let firing = moto::unique("web-5xx");
    alarm(&firing, "ALARM").await;
    deploy_at_ecs(&bot, &cluster, &[&firing], None);
    let (gate, parameter) = bot.open_gate(&cluster).await;
    bot.click(BOB, ROLLBACK_ACTION_ID, &gate).await;
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("rejected"));
}

#[tokio::test]
async fn the_deployers_approval_is_refused_under_self_approval_false_and_counted_otherwise() {
    let refusing = TestBot::with(policy("self_approval = false")).await;
    let cluster = moto::unique("self");
    deploy_at_ecs(&refusing, &cluster, &[], Some(CAROL));
    let (gate, parameter) = refusing.open_gate(&cluster).await;
    refusing.click(CAROL, REROUTE_ACTION_ID, &gate).await;
    assert_eq!(refusing.parameter(&parameter).await, None);
    assert!(refusing.decision_lock(&gate).await.is_none());
    let told = refusing.slack.ephemeral_texts();
    assert!(
        told.last().unwrap().contains("You deployed this change"),
        "{told:?}"
    );
    // Someone else may approve; the deployer may always roll back (here: after, it is closed).
    refusing.click(ALICE, REROUTE_ACTION_ID, &gate).await;
    assert_eq!(
        refusing.parameter(&parameter).await.as_deref(),
        Some("approved")
    );

    let counting = TestBot::with(policy("")).await;
    let cluster = moto::unique("self-ok");
    deploy_at_ecs(&counting, &cluster, &[], Some(CAROL));
    let (gate, parameter) = counting.open_gate(&cluster).await;
    counting.click(CAROL, REROUTE_ACTION_ID, &gate).await;
    assert_eq!(
        counting.parameter(&parameter).await.as_deref(),
        Some("approved")
    );
}

#[tokio::test]
async fn the_deployer_may_roll_back_their_own_deployment() {
    let bot = TestBot::with(policy("self_approval = false")).await;
    let cluster = moto::unique("self-rb");
    deploy_at_ecs(&bot, &cluster, &[], Some(CAROL));
    let (gate, parameter) = bot.open_gate(&cluster).await;
    bot.click(CAROL, ROLLBACK_ACTION_ID, &gate).await;
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("rejected"));
}

/// The signed form body of a reason modal's submission.
fn submission(user: &str, metadata: &str, reason: Option<&str>) -> String {
    let values = match reason {
        Some(reason) => {
            json!({"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}})
        }
        None => json!({"reason": {"reason_input": {"type": "plain_text_input", "value": null}}}),
    };
    let payload = json!({
        "type": "view_submission",
        "user": {"id": user},
        "view": {"callback_id": "greenlight.reason", "private_metadata": metadata,
                 "state": {"values": values}},
    });
    serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form")
}

#[tokio::test]
async fn a_reason_is_asked_in_a_modal_and_the_submission_decides_with_it() {
    let bot = TestBot::with(policy("ask_reason = \"always\"")).await;
    let cluster = moto::unique("reason");
    let (gate, parameter) = bot.open_gate(&cluster).await;
    let card = card_text(&bot, &gate).await;
    assert!(
        !card.contains("\"confirm\""),
        "the modal replaces the confirm dialog: {card}"
    );

    assert_eq!(
        bot.click(ALICE, ROLLBACK_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None, "a click only asks");
    let views = bot.slack.opened_views();
    assert_eq!(views.len(), 1);
    let (trigger_id, view) = &views[0];
    assert_eq!(trigger_id, "1.2.3", "the click's trigger_id");
    let metadata = view["private_metadata"].as_str().unwrap().to_owned();

    // An empty (blank) reason keeps the modal open with the problem under the field.
    let (status, body) = bot
        .request(bot.slack_request(
            "/slack/interactions",
            submission(ALICE, &metadata, Some("  ")),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["response_action"], "errors");
    assert!(answer["errors"]["reason"].is_string(), "{answer}");
    assert_eq!(bot.parameter(&parameter).await, None);

    // A forged submission (wrong signing secret) changes nothing.
    let forged_body = submission(ALICE, &metadata, Some("forged"));
    let headers = greenlight::slack::signature::signed_headers(
        "not-the-secret",
        Utc::now(),
        forged_body.as_bytes(),
    );
    let mut forged = axum::http::Request::post("/slack/interactions")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(forged_body))
        .unwrap();
    forged.headers_mut().extend(headers);
    assert_eq!(bot.request(forged).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(bot.parameter(&parameter).await, None);

    let reason = "p99 doubled on green <!channel>";
    let (status, body) = bot
        .request(bot.slack_request(
            "/slack/interactions",
            submission(ALICE, &metadata, Some(reason)),
        ))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, ""),
        "closes the modal"
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("rejected"));
    let record = bot.gate_record(&gate).await.unwrap();
    assert_eq!(record["status"]["reason"], reason);
    let card = card_text(&bot, &gate).await;
    assert!(
        card.contains("p99 doubled on green &lt;!channel&gt;"),
        "escaped on the card: {card}"
    );
    assert!(
        thread_texts(&bot)
            .iter()
            .any(|note| note.contains("p99 doubled on green")),
        "in the thread"
    );

    // First decision wins: a second submission is told so.
    let (_, body) = bot
        .request(bot.slack_request(
            "/slack/interactions",
            submission(BOB, &metadata, Some("late")),
        ))
        .await;
    assert!(body.contains("already"), "{body}");
}

#[tokio::test]
async fn the_command_takes_a_reason_inline_and_requires_one_where_asked() {
    let bot = TestBot::with(policy("ask_reason = \"rollback\"")).await;
    let cluster = moto::unique("reason-cmd");
    let (gate, parameter) = bot.open_gate(&cluster).await;
    let (_, answer) = bot.command(ALICE, &format!("rollback {gate}")).await;
    assert!(
        answer["text"].as_str().unwrap().contains("asks a reason"),
        "{answer}"
    );
    assert_eq!(bot.parameter(&parameter).await, None);
    let (_, answer) = bot
        .command(ALICE, &format!("rollback {gate} green  errors on checkout"))
        .await;
    assert!(
        answer["text"].as_str().unwrap().contains("You rejected"),
        "{answer}"
    );
    let record = bot.gate_record(&gate).await.unwrap();
    assert_eq!(record["status"]["reason"], "green  errors on checkout");
}

#[tokio::test]
async fn two_sweeps_at_once_send_one_reminder_naming_who_has_not_voted() {
    let bot = TestBot::with(Options {
        policy: Some(format!(
            "[[rule]]\nname = \"web\"\napprovers = [\"{ALICE}\", \"{BOB}\"]\nquorum = 2\nremind_every = \"10m\"\n"
        )),
        ..Options::default()
    })
    .await;
    let cluster = moto::unique("remind");
    let (gate, _) = bot.open_gate(&cluster).await;
    bot.click(ALICE, REROUTE_ACTION_ID, &gate).await;

    let early = bot
        .bot
        .sweep(Utc::now() + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(early.reminded, 0);
    let due = Utc::now() + Duration::minutes(11);
    let (first, second) = tokio::join!(bot.bot.sweep(due), bot.bot.sweep(due));
    assert_eq!(first.unwrap().reminded + second.unwrap().reminded, 1);
    let reminders: Vec<String> = thread_texts(&bot)
        .into_iter()
        .filter(|text| text.contains("Reminder"))
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(
        reminders[0].contains(&format!("<@{BOB}>")),
        "{}",
        reminders[0]
    );
    assert!(
        !reminders[0].contains(&format!("<@{ALICE}>")),
        "Alice voted"
    );

    // Again only after another ten minutes.
    let again = bot.bot.sweep(due + Duration::minutes(5)).await.unwrap();
    assert_eq!(again.reminded, 0);
    let later = bot.bot.sweep(due + Duration::minutes(11)).await.unwrap();
    assert_eq!(later.reminded, 1);
}

#[tokio::test]
async fn the_escalation_is_sent_once() {
    let bot = TestBot::with(Options {
        policy: Some(format!(
            "[[rule]]\nname = \"web\"\napprovers = [\"{ALICE}\"]\nremind_every = \"0\"\nescalate_after = \"1h\"\nescalate_to = [\"S0LEADS001\", \"{BOB}\"]\n"
        )),
        ..Options::default()
    })
    .await;
    let cluster = moto::unique("escalate");
    bot.open_gate(&cluster).await;
    let report = bot
        .bot
        .sweep(Utc::now() + Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!((report.escalated, report.reminded), (0, 0));
    let due = Utc::now() + Duration::minutes(61);
    let (first, second) = tokio::join!(bot.bot.sweep(due), bot.bot.sweep(due));
    assert_eq!(first.unwrap().escalated + second.unwrap().escalated, 1);
    bot.bot.sweep(due + Duration::hours(2)).await.unwrap();
    let escalations: Vec<String> = thread_texts(&bot)
        .into_iter()
        .filter(|text| text.contains("Escalation"))
        .collect();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    assert!(
        escalations[0].contains("<!subteam^S0LEADS001>"),
        "{}",
        escalations[0]
    );
    assert!(escalations[0].contains(&format!("<@{BOB}>")));
}

#[tokio::test]
async fn the_sweep_closes_an_overdue_gate_whose_timeout_never_arrived() {
    let bot = TestBot::start().await;
    let cluster = moto::unique("overdue");
    let (gate, _) = bot
        .open_gate_due(&cluster, Utc::now() + Duration::minutes(1))
        .await;
    let report = bot
        .bot
        .sweep(Utc::now() + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(report.closed_overdue, 1);
    let record = bot.gate_record(&gate).await.unwrap();
    assert_eq!(record["status"]["state"], "timedOut");
    let card = card_text(&bot, &gate).await;
    assert!(!card.contains(REROUTE_ACTION_ID), "no buttons: {card}");
    assert!(
        thread_texts(&bot)
            .iter()
            .any(|note| note.contains("Nobody decided before the deadline")),
        "a note"
    );
    // The gate left the open index: the next pass has nothing to do.
    let next = bot
        .bot
        .sweep(Utc::now() + Duration::minutes(6))
        .await
        .unwrap();
    assert_eq!(next.open, 0);
}
