//! The gate table through the real protocol: the DynamoDB adapter against moto server, driven
//! through the bot's router where a person would drive it.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::Utc;
use greenlight::card::REROUTE_ACTION_ID;
use greenlight::domain::gate::GateId;
use greenlight::store::{GateTable, schema};
use serde_json::json;

use crate::support::bot::{ALICE, CHANNEL, Hold, Options, ScriptedTable, TestBot, send};
use crate::support::history::{gate_item, put_items, record_json, write_history};
use crate::support::moto::{self, ACCOUNT, REGION};

const QUORUM_TWO: &str = r#"
[[rule]]
name = "two to reroute"
approvers = ["U0ALICE001", "U0BOB00001", "S0SRETEAM1"]
quorum = 2
"#;

#[tokio::test]
async fn twenty_concurrent_approvals_by_one_person_count_once() {
    let bot = TestBot::with(Options {
        policy: Some(QUORUM_TWO.to_owned()),
        ..Options::default()
    })
    .await;
    let (gate, parameter) = bot.open_gate("samevoter").await;
    let statuses =
        futures_util::future::join_all((0..20).map(|_| bot.click(ALICE, REROUTE_ACTION_ID, &gate)))
            .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let id: GateId = gate.parse().expect("gate id");
    assert_eq!(bot.gate_table.votes(&id).await.expect("votes"), vec![ALICE]);
    assert_eq!(
        bot.parameter(&parameter).await,
        None,
        "one vote decides nothing"
    );
    assert!(bot.decision_lock(&gate).await.is_none());
    let record = bot.gate_record(&gate).await.expect("record");
    assert_eq!(record["status"]["state"], "open");
    let told = bot.slack.ephemeral_texts();
    assert_eq!(told.len(), 20, "every click was answered: {told:?}");
    assert_eq!(
        told.iter()
            .filter(|text| text.contains("is counted: 1 of 2"))
            .count(),
        1,
        "{told:?}"
    );
    assert_eq!(
        told.iter()
            .filter(|text| text.contains("already approved"))
            .count(),
        19,
        "{told:?}"
    );
    let notes: Vec<_> = bot
        .slack
        .calls("chat.postMessage")
        .into_iter()
        .filter(|call| call.body["thread_ts"].is_string())
        .collect();
    assert_eq!(notes.len(), 1, "one approval note in the thread");
}

/// A deployment event read the gate while it was open, and writes after a click decided it:
/// its write is refused by the version condition, re-applied to the fresh read, and the gate
/// stays decided with the event's news on it.
#[tokio::test]
async fn an_event_based_on_the_state_before_a_click_keeps_the_card_decided_and_its_news() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("interleave").await;
    let hold = Arc::new(Hold::default());
    let holding: Arc<dyn GateTable> = Arc::new(ScriptedTable::holding_first_save(
        bot.gate_table.clone(),
        Arc::clone(&hold),
    ));
    let events = bot
        .sibling_with_stores(bot.moto_store().await, holding)
        .await;
    let event = json!({"version": "0", "id": "9", "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
        "account": ACCOUNT, "time": Utc::now().to_rfc3339(), "region": REGION,
        "resources": [format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/interleave/web")],
        "detail": {"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS", "deploymentId": "ecs-svc/7"}});
    let request = axum::http::Request::post("/sns")
        .body(axum::body::Body::from(
            bot.sns_notification(&event.to_string()),
        ))
        .expect("request");
    let delivery = tokio::spawn(async move { send(&events, request).await });
    hold.reached.notified().await;

    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    hold.release.notify_one();
    let (status, body) = delivery.await.expect("the event's delivery");
    assert_eq!(status, StatusCode::OK, "{body}");

    let record = bot.gate_record(&gate).await.expect("record");
    assert_eq!(record["status"]["state"], "decided", "{record}");
    assert_eq!(record["status"]["by"], ALICE);
    assert!(
        record["deployment"].is_object(),
        "the event's news was re-applied on the fresh read: {record}"
    );
    let card = &record["card"];
    let message = bot
        .slack
        .message(
            card["channel"].as_str().unwrap(),
            card["ts"].as_str().unwrap(),
        )
        .expect("the card");
    let drawn = serde_json::to_string(&message.blocks).unwrap();
    assert!(
        !drawn.contains("greenlight.reroute") && !drawn.contains("greenlight.rollback\""),
        "the card stays closed: {drawn}"
    );
    assert!(
        drawn.contains(&format!("Rerouted by <@{ALICE}>")),
        "{drawn}"
    );
}

#[tokio::test]
async fn a_corrupt_gate_is_refused_clearly_and_the_others_still_work() {
    let bot = TestBot::start().await;
    let (good, parameter) = bot.open_gate("corrupt").await;
    let bad_json = GateId::derive("bad json");
    let bad_status = GateId::derive("bad status");
    put_items(
        &bot,
        vec![
            gate_item(bad_json.as_str(), "{not json", "open", Some(CHANNEL)),
            gate_item(
                bad_status.as_str(),
                &record_json(bad_status.as_str(), true),
                "paused-forever",
                Some(CHANNEL),
            ),
        ],
    )
    .await;
    for bad in [&bad_json, &bad_status] {
        assert_eq!(
            bot.click(ALICE, REROUTE_ACTION_ID, bad.as_str()).await,
            StatusCode::OK
        );
    }
    let told = bot.slack.ephemeral_texts();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told.iter()
            .all(|text| text.contains("Nothing was decided") && text.contains("unreadable")),
        "{told:?}"
    );
    // The readable gate is listed and decides as usual; the corrupt ones are left out.
    let (status, answer) = bot.command(ALICE, "status").await;
    assert_eq!(status, StatusCode::OK);
    let text = answer["text"].as_str().expect("text");
    assert!(
        text.starts_with("*1 open gate*") && text.contains(&good),
        "{text}"
    );
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &good).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn status_reads_the_open_gates_only_however_many_have_closed() {
    let bot = TestBot::start().await;
    let open = write_history(&bot, 5000, 3).await;

    let before = bot.gate_table.items_read();
    let (status, answer) = bot.command(ALICE, "status").await;
    let read = bot.gate_table.items_read() - before;
    assert_eq!(status, StatusCode::OK);
    let text = answer["text"].as_str().expect("text");
    assert!(text.starts_with("*3 open gates*"), "{text}");
    for id in &open {
        assert!(text.contains(id.as_str()), "{id}: {text}");
    }
    assert!(
        read <= 3,
        "/deploy status read {read} items: it must read the 3 open gates, not the 5,000 closed"
    );
    // And the service's latest gate is one item, not its history.
    let before = bot.gate_table.items_read();
    let latest = bot
        .gate_table
        .latest_for_service("history", "web")
        .await
        .expect("query");
    assert!(latest.is_some());
    assert_eq!(bot.gate_table.items_read() - before, 1);
}

/// (attribute, key type) pairs, in key-schema order.
type Keys = Vec<(String, String)>;

/// A table's schema, in a form both the template and `DescribeTable` can be read into.
#[derive(Debug, PartialEq)]
struct Schema {
    keys: Keys,
    attributes: Vec<(String, String)>,
    /// (name, keys, projection), by name.
    indexes: Vec<(String, Keys, String)>,
    ttl: (String, bool),
}

impl Schema {
    fn sorted(mut self) -> Schema {
        self.attributes.sort();
        self.indexes.sort();
        self
    }

    fn from_template(properties: &serde_yaml_ng::Value) -> Schema {
        let text = |value: &serde_yaml_ng::Value| value.as_str().expect("a string").to_owned();
        let keys = |keys: &serde_yaml_ng::Value| -> Vec<(String, String)> {
            keys.as_sequence()
                .expect("key schema")
                .iter()
                .map(|k| (text(&k["AttributeName"]), text(&k["KeyType"])))
                .collect()
        };
        Schema {
            keys: keys(&properties["KeySchema"]),
            attributes: properties["AttributeDefinitions"]
                .as_sequence()
                .expect("attributes")
                .iter()
                .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
                .collect(),
            indexes: properties["GlobalSecondaryIndexes"]
                .as_sequence()
                .expect("indexes")
                .iter()
                .map(|i| {
                    (
                        text(&i["IndexName"]),
                        keys(&i["KeySchema"]),
                        text(&i["Projection"]["ProjectionType"]),
                    )
                })
                .collect(),
            ttl: (
                text(&properties["TimeToLiveSpecification"]["AttributeName"]),
                properties["TimeToLiveSpecification"]["Enabled"].as_bool() == Some(true),
            ),
        }
        .sorted()
    }

    async fn created(client: &aws_sdk_dynamodb::Client, name: &str) -> Schema {
        let described = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .expect("describe")
            .table
            .expect("table");
        let keys = |keys: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
            keys.iter()
                .map(|k| {
                    (
                        k.attribute_name().to_owned(),
                        k.key_type().as_str().to_owned(),
                    )
                })
                .collect()
        };
        let ttl = client
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .expect("describe TTL")
            .time_to_live_description
            .expect("TTL");
        Schema {
            keys: keys(described.key_schema()),
            attributes: described
                .attribute_definitions()
                .iter()
                .map(|a| {
                    (
                        a.attribute_name().to_owned(),
                        a.attribute_type().as_str().to_owned(),
                    )
                })
                .collect(),
            indexes: described
                .global_secondary_indexes()
                .iter()
                .map(|i| {
                    (
                        i.index_name().unwrap_or_default().to_owned(),
                        keys(i.key_schema()),
                        i.projection()
                            .and_then(|p| p.projection_type())
                            .map(|p| p.as_str().to_owned())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
            ttl: (
                ttl.attribute_name().unwrap_or_default().to_owned(),
                ttl.time_to_live_status().map(|s| s.as_str()) == Some("ENABLED"),
            ),
        }
        .sorted()
    }
}

/// `infra/template.yaml` declares the table `greenlight table create` makes: the same keys,
/// attributes, indexes, projections and TTL attribute.
#[tokio::test]
async fn the_template_declares_the_schema_the_code_creates() {
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/infra/template.yaml"))
            .expect("template"),
    )
    .expect("YAML");
    let table = &template["Resources"]["GateTable"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    assert_eq!(table["DeletionPolicy"].as_str(), Some("Retain"));
    let properties = &table["Properties"];
    assert_eq!(properties["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        properties["SSESpecification"]["SSEEnabled"].as_bool(),
        Some(true)
    );

    let config = moto::dynamodb_config().await;
    let name = moto::unique("schema");
    moto::gate_table(&config, &name).await;
    let created = Schema::created(&aws_sdk_dynamodb::Client::new(&config), &name).await;
    assert_eq!(Schema::from_template(properties), created);
    assert_eq!(created.indexes.len(), schema::INDEXES.len());
    assert_eq!(created.ttl, (schema::TTL_ATTRIBUTE.to_owned(), true));
}

/// `greenlight table create` makes the table once and says so; a second run leaves it be.
#[tokio::test]
async fn table_create_is_idempotent() {
    let name = moto::unique("cli-table");
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_greenlight"))
            .args(["table", "create", "--table", &name])
            .envs(moto::moto_env())
            .output()
            .await
            .expect("run greenlight table create");
        assert!(output.status.success(), "{output:?}");
        outputs.push(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    assert!(
        outputs[0].starts_with(&format!("created table {name}")),
        "{}",
        outputs[0]
    );
    assert!(outputs[1].contains("exists already"), "{}", outputs[1]);
}

/// A click that won against the hook's timeout wrote a decision no hook will read: when the
/// timeout's follow-up arrives, the bot deletes it, so SSM keeps nothing of a closed gate.
#[tokio::test]
async fn a_decision_no_hook_will_read_is_deleted_when_the_timeout_arrives() {
    let bot = TestBot::start().await;
    // The click lands just before the deadline; the hook's timeout just after it.
    let (gate, parameter) = bot
        .open_gate_due("raced", chrono::Utc::now() + chrono::Duration::seconds(30))
        .await;
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    let follow_up = json!({"version": "1.0", "source": "custom",
        "content": {"textType": "client-markdown", "title": format!("Gate {gate} timed out"),
            "description": "Nobody decided before the deadline: the deployment is rolled back."},
        "metadata": {"enableCustomActions": false, "additionalContext": {
            "greenlightEvent": "gate.timed_out", "gateId": gate,
            "at": Utc::now().to_rfc3339(), "timeoutAction": "ROLLBACK"}}});
    let (status, text) = bot
        .post("/sns", bot.sns_notification(&follow_up.to_string()))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "gate already closed\n")
    );
    assert_eq!(
        bot.parameter(&parameter).await,
        None,
        "the unread decision is gone"
    );
    let written = bot.written().await;
    assert!(
        written.iter().all(|name| !name.starts_with('/')),
        "nothing of the gate is left in SSM: {written:?}"
    );
}
