//! The lifecycle hook through the real AWS SDK: SSM and SNS at moto, ECS at the double.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use greenlight::aws::ecs::EcsDeployments;
use greenlight::aws::sns::SnsTopic;
use greenlight::aws::ssm::SsmParameterStore;
use greenlight::config::HookSettings;
use greenlight::domain::lifecycle::HookResponse;
use greenlight::hook::Hook;
use greenlight::store::GateTable;
use serde_json::{Value, json};

use crate::support::ecs_double::EcsDouble;
use crate::support::http_recorder::HttpRecorder;
use crate::support::moto::{self, ACCOUNT, REGION};

struct Fixture {
    hook: Hook,
    published: HttpRecorder,
    ecs: EcsDouble,
    ssm: aws_sdk_ssm::Client,
    prefix: String,
    cluster: String,
    deployment_arn: String,
}

impl Fixture {
    async fn new(extra: &[(&str, &str)]) -> Fixture {
        Fixture::with_ssm_endpoint(extra, None).await
    }

    async fn with_ssm_endpoint(extra: &[(&str, &str)], ssm_endpoint: Option<&str>) -> Fixture {
        Fixture::with_options(extra, ssm_endpoint, None).await
    }

    async fn with_options(
        extra: &[(&str, &str)],
        ssm_endpoint: Option<&str>,
        gates: Option<Arc<dyn GateTable>>,
    ) -> Fixture {
        let config = moto::sdk_config().await;
        let topic = moto::create_topic(&config, &moto::unique("gates")).await;
        let published = HttpRecorder::start().await;
        moto::subscribe_http(&config, &topic, &published.url).await;
        let ecs = EcsDouble::start().await;
        let cluster = moto::unique("prod");
        let deployment_arn =
            format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/dep1");
        ecs.add_replacing_deployment(&deployment_arn);
        let prefix = format!("/{}/decisions", moto::unique("gl"));
        let mut env: HashMap<String, String> = HashMap::from([
            ("GREENLIGHT_SNS_TOPIC_ARN".into(), topic.clone()),
            ("GREENLIGHT_DECISION_PREFIX".into(), prefix.clone()),
            ("GREENLIGHT_POLL_WINDOW".into(), "0".into()),
            (
                "GREENLIGHT_TEST_URL".into(),
                crate::support::green_listener().await,
            ),
        ]);
        for (key, value) in extra {
            env.insert((*key).into(), (*value).into());
        }
        let settings = HookSettings::from_env(&env).expect("settings");
        let ssm_config = match ssm_endpoint {
            Some(endpoint) => moto::sdk_config_at(endpoint).await,
            None => config.clone(),
        };
        let ecs_config = moto::sdk_config_at(&ecs.url).await;
        let hook = Hook::new(
            settings,
            Arc::new(SsmParameterStore::new(aws_sdk_ssm::Client::new(
                &ssm_config,
            ))),
            Arc::new(SnsTopic::new(aws_sdk_sns::Client::new(&config), topic)),
            Arc::new(EcsDeployments::new(aws_sdk_ecs::Client::new(&ecs_config))),
        );
        let hook = match gates {
            Some(gates) => hook.with_gate_table(gates),
            None => hook,
        };
        Fixture {
            hook,
            published,
            ecs,
            ssm: aws_sdk_ssm::Client::new(&config),
            prefix,
            cluster,
            deployment_arn,
        }
    }

    fn payload(&self, hook_details: Option<Value>) -> Value {
        let mut payload = json!({
            "executionId": "exec-1",
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "resourceArn": self.deployment_arn,
            "executionDetails": {
                "serviceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/web", self.cluster),
                "targetServiceRevisionArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{}/web/222", self.cluster),
                "testTrafficWeights": {},
                "productionTrafficWeights": {}
            }
        });
        if let Some(details) = hook_details {
            payload["hookDetails"] = details;
        }
        payload
    }

    fn parameter(&self) -> String {
        format!(
            "{}/{}/web/dep1/POST_TEST_TRAFFIC_SHIFT",
            self.prefix, self.cluster
        )
    }

    async fn decide(&self, value: &str) {
        self.ssm
            .put_parameter()
            .name(self.parameter())
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .expect("put decision");
    }

    async fn parameter_exists(&self) -> bool {
        self.ssm
            .get_parameter()
            .name(self.parameter())
            .send()
            .await
            .is_ok()
    }

    /// Opens the gate and returns the hookDetails ECS would hand back.
    async fn open(&self) -> Value {
        let response = self.hook.handle(&self.payload(None), None).await;
        let json = serde_json::to_value(&response).expect("json");
        assert_eq!(json["hookStatus"], "IN_PROGRESS", "{json}");
        json["hookDetails"].clone()
    }
}

fn status(response: &HookResponse) -> String {
    serde_json::to_value(response).expect("json")["hookStatus"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_first_invocation_publishes_one_complete_gate_request() {
    let fixture = Fixture::new(&[]).await;
    let response = fixture
        .hook
        .handle(&fixture.payload(Some(json!({"team": "payments"}))), None)
        .await;
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["hookStatus"], "IN_PROGRESS");
    assert_eq!(json["callBackDelay"], 2);
    assert_eq!(
        json["hookDetails"]["team"], "payments",
        "configured hookDetails go back to ECS"
    );
    let marker = &json["hookDetails"]["greenlight"];
    assert_eq!(marker["parameterName"], fixture.parameter());

    let messages = fixture.published.wait_for_messages(1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message["version"], "1.0");
    assert_eq!(message["source"], "custom");
    assert_eq!(message["content"]["textType"], "client-markdown");
    let title = message["content"]["title"].as_str().unwrap();
    assert!(
        title.starts_with("web in ") && title.contains("reroute production traffic"),
        "{title}"
    );
    let description = message["content"]["description"].as_str().unwrap();
    assert!(
        description.contains("POST_TEST_TRAFFIC_SHIFT") && description.contains("rolled back"),
        "{description}"
    );
    assert_eq!(message["metadata"]["enableCustomActions"], true);
    let context = &message["metadata"]["additionalContext"];
    assert_eq!(context["ActionGroup"], "greenlight");
    assert_eq!(context["parameterName"], fixture.parameter());
    assert_eq!(context["region"], REGION);
    assert_eq!(context["gateId"], marker["gateId"]);
    assert!(context["gateId"].as_str().unwrap().starts_with("gl-"));
    assert_eq!(context["cluster"], fixture.cluster);
    assert_eq!(context["service"], "web");
    assert_eq!(context["serviceDeploymentArn"], fixture.deployment_arn);
    assert_eq!(context["lifecycleStage"], "POST_TEST_TRAFFIC_SHIFT");
    assert!(
        context["targetRevision"]
            .as_str()
            .unwrap()
            .ends_with("/web/222")
    );
    assert_eq!(
        context["sourceRevisions"],
        format!("{}-source-revision", fixture.deployment_arn)
    );
    let requested =
        chrono::DateTime::parse_from_rfc3339(context["requestedAt"].as_str().unwrap()).unwrap();
    let deadline =
        chrono::DateTime::parse_from_rfc3339(context["deadline"].as_str().unwrap()).unwrap();
    assert_eq!((deadline - requested).num_hours(), 23);
    assert_eq!(context["timeoutAction"], "ROLLBACK");
    assert!(
        context["consoleUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://us-east-1.console.aws.amazon.com/ecs/")
    );
    assert!(
        context["testUrl"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    // The hook asked the test listener five times, as evidence for the card.
    let probe: serde_json::Value =
        serde_json::from_str(context["testProbe"].as_str().expect("testProbe")).unwrap();
    assert_eq!(
        probe["statuses"],
        serde_json::json!([200, 200, 200, 200, 200])
    );
    assert_eq!(fixture.ecs.calls_to("DescribeServiceDeployments").len(), 1);
}

#[tokio::test]
async fn later_invocations_publish_nothing_and_wait() {
    let fixture = Fixture::new(&[]).await;
    let details = fixture.open().await;
    let response = fixture
        .hook
        .handle(&fixture.payload(Some(details.clone())), None)
        .await;
    assert_eq!(status(&response), "IN_PROGRESS");
    assert_eq!(response.call_back_delay, Some(2));
    assert_eq!(
        serde_json::to_value(&response).unwrap()["hookDetails"],
        details
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fixture.published.sns_messages().len(), 1);
}

#[tokio::test]
async fn approved_succeeds_and_removes_the_decision() {
    let fixture = Fixture::new(&[]).await;
    let details = fixture.open().await;
    fixture.decide("approved").await;
    let response = fixture
        .hook
        .handle(&fixture.payload(Some(details)), None)
        .await;
    assert_eq!(status(&response), "SUCCEEDED");
    assert_eq!(response.call_back_delay, None);
    assert!(
        !fixture.parameter_exists().await,
        "the decision parameter is deleted"
    );
}

#[tokio::test]
async fn rejected_fails_so_ecs_rolls_back() {
    let fixture = Fixture::new(&[]).await;
    let details = fixture.open().await;
    fixture.decide("rejected").await;
    let response = fixture
        .hook
        .handle(&fixture.payload(Some(details)), None)
        .await;
    assert_eq!(status(&response), "FAILED");
    assert!(!fixture.parameter_exists().await);
}

#[tokio::test]
async fn a_garbage_decision_fails() {
    let fixture = Fixture::new(&[]).await;
    let details = fixture.open().await;
    fixture.decide("yes please").await;
    let response = fixture
        .hook
        .handle(&fixture.payload(Some(details)), None)
        .await;
    assert_eq!(status(&response), "FAILED");
}

#[tokio::test]
async fn a_decision_within_the_poll_window_is_seen_in_the_same_invocation() {
    let fixture = Fixture::new(&[
        ("GREENLIGHT_POLL_WINDOW", "20"),
        ("GREENLIGHT_POLL_INTERVAL", "0.2"),
    ])
    .await;
    let payload = fixture.payload(None);
    let decide = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        fixture.decide("approved").await;
    };
    let (response, ()) = tokio::join!(fixture.hook.handle(&payload, None), decide);
    assert_eq!(
        status(&response),
        "SUCCEEDED",
        "one invocation opened the gate and saw the click"
    );
    assert_eq!(fixture.published.wait_for_messages(1).await.len(), 1);
}

#[tokio::test]
async fn a_passed_deadline_takes_the_timeout_action_and_announces_it() {
    for (action, expected) in [("ROLLBACK", "FAILED"), ("CONTINUE", "SUCCEEDED")] {
        let fixture = Fixture::new(&[("GREENLIGHT_TIMEOUT_ACTION", action)]).await;
        let mut details = fixture.open().await;
        details["greenlight"]["deadline"] = json!("2020-01-01T00:00:00Z");
        let response = fixture
            .hook
            .handle(&fixture.payload(Some(details.clone())), None)
            .await;
        assert_eq!(status(&response), expected, "{action}");
        let messages = fixture.published.wait_for_messages(2).await;
        assert_eq!(messages.len(), 2);
        let context = &messages[1]["metadata"]["additionalContext"];
        assert_eq!(context["greenlightEvent"], "gate.timed_out");
        assert_eq!(context["gateId"], details["greenlight"]["gateId"]);
        assert_eq!(context["timeoutAction"], action);
        assert!(context.get("parameterName").is_none());
    }
}

#[tokio::test]
async fn ssm_unreachable_keeps_waiting() {
    let fixture = Fixture::with_ssm_endpoint(&[], Some("http://127.0.0.1:9")).await;
    let details = fixture.open().await;
    let response = fixture
        .hook
        .handle(&fixture.payload(Some(details)), None)
        .await;
    assert_eq!(status(&response), "IN_PROGRESS");
    assert_eq!(response.call_back_delay, Some(2));
}

#[tokio::test]
async fn a_first_deployment_passes_without_a_gate_unless_asked() {
    let fixture = Fixture::new(&[]).await;
    fixture.ecs.add_deployment(
        &fixture.deployment_arn,
        json!({"status": "IN_PROGRESS", "sourceServiceRevisions": []}),
    );
    let response = fixture.hook.handle(&fixture.payload(None), None).await;
    assert_eq!(status(&response), "SUCCEEDED");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fixture.published.bodies().is_empty(), "nothing published");

    let gated = Fixture::new(&[("GREENLIGHT_GATE_FIRST_DEPLOYMENT", "true")]).await;
    gated
        .ecs
        .add_deployment(&gated.deployment_arn, json!({"status": "IN_PROGRESS"}));
    let response = gated.hook.handle(&gated.payload(None), None).await;
    assert_eq!(status(&response), "IN_PROGRESS");
    assert_eq!(gated.published.wait_for_messages(1).await.len(), 1);
}

#[tokio::test]
async fn a_failed_first_deployment_lookup_still_gates() {
    let fixture = Fixture::new(&[]).await;
    fixture.ecs.set_failing(true);
    let response = fixture.hook.handle(&fixture.payload(None), None).await;
    assert_eq!(status(&response), "IN_PROGRESS");
    assert_eq!(fixture.published.wait_for_messages(1).await.len(), 1);
}

#[tokio::test]
async fn a_stage_that_is_not_gated_passes_at_once() {
    let fixture = Fixture::new(&[]).await;
    let mut payload = fixture.payload(None);
    payload["lifecycleStage"] = json!("PRE_SCALE_UP");
    let response = fixture.hook.handle(&payload, None).await;
    assert_eq!(status(&response), "SUCCEEDED");
    assert!(fixture.ecs.calls().is_empty());
}

#[tokio::test]
async fn a_failed_publish_waits_without_the_marker_and_retries() {
    let fixture = Fixture::new(&[]).await;
    let config = moto::sdk_config_at("http://127.0.0.1:9").await;
    let broken = Hook::new(
        fixture.hook.settings().clone(),
        Arc::new(SsmParameterStore::new(aws_sdk_ssm::Client::new(&config))),
        Arc::new(SnsTopic::new(
            aws_sdk_sns::Client::new(&config),
            fixture.hook.settings().sns_topic_arn.clone(),
        )),
        Arc::new(EcsDeployments::new(aws_sdk_ecs::Client::new(
            &moto::sdk_config_at(&fixture.ecs.url).await,
        ))),
    );
    let response = broken.hook_response(&fixture.payload(None)).await;
    assert_eq!(response["hookStatus"], "IN_PROGRESS");
    assert!(
        response["hookDetails"].get("greenlight").is_none(),
        "{response}"
    );
    let retried = fixture.hook.handle(&fixture.payload(None), None).await;
    assert_eq!(status(&retried), "IN_PROGRESS");
    assert_eq!(fixture.published.wait_for_messages(1).await.len(), 1);
}

#[tokio::test]
async fn malformed_payloads_fail_and_publish_nothing() {
    let fixture = Fixture::new(&[]).await;
    let good = fixture.payload(None);
    let mut cases = vec![json!(null), json!("text"), json!([good.clone()]), json!({})];
    for key in [
        "executionId",
        "lifecycleStage",
        "resourceArn",
        "executionDetails",
    ] {
        let mut payload = good.clone();
        payload.as_object_mut().unwrap().remove(key);
        cases.push(payload);
    }
    let edits: Vec<(&str, Value)> = vec![
        ("/lifecycleStage", json!("SOON")),
        (
            "/resourceArn",
            json!("arn:aws:ecs:us-east-1:123456789012:service/prod/web"),
        ),
        (
            "/resourceArn",
            json!("arn:aws:ecs:us-east-1:123456789012:service-deployment/a b/web/x"),
        ),
        (
            "/executionDetails/serviceArn",
            json!("arn:aws:ecs:us-east-1:123456789012:service/other/other"),
        ),
        ("/executionDetails/targetServiceRevisionArn", json!(null)),
        ("/executionDetails/productionTrafficWeights", json!("all")),
        ("/hookDetails", json!([1])),
        ("/hookDetails", json!({"greenlight": {"gateId": "gl-zz"}})),
    ];
    for (pointer, value) in edits {
        let mut payload = good.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut payload
        } else {
            payload.pointer_mut(parent).unwrap()
        };
        target[key] = value;
        cases.push(payload);
    }
    assert!(cases.len() >= 16);
    for payload in &cases {
        let response = fixture.hook.handle(payload, None).await;
        assert_eq!(status(&response), "FAILED", "{payload}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fixture.published.bodies().is_empty());
    assert!(fixture.ecs.calls().is_empty());
}

trait HookJson {
    async fn hook_response(&self, payload: &Value) -> Value;
}

impl HookJson for Hook {
    async fn hook_response(&self, payload: &Value) -> Value {
        serde_json::to_value(self.handle(payload, None).await).expect("json")
    }
}

#[tokio::test]
async fn a_policy_rule_sets_the_gate_timeout_and_action() {
    let fixture = Fixture::new(&[]).await;
    let policy = greenlight::policy::Policy::parse(
        "policy.toml",
        &format!(
            "[[rule]]\nname = \"this cluster\"\nclusters = [\"{}\"]\napprovers = [\"U0ALICE001\"]\ngate_timeout = \"2h\"\ntimeout_action = \"CONTINUE\"\n",
            fixture.cluster
        ),
    )
    .expect("policy");
    let hook = Hook::new(
        fixture.hook.settings().clone(),
        Arc::new(SsmParameterStore::new(fixture.ssm.clone())),
        Arc::new(SnsTopic::new(
            aws_sdk_sns::Client::new(&moto::sdk_config().await),
            fixture.hook.settings().sns_topic_arn.clone(),
        )),
        Arc::new(EcsDeployments::new(aws_sdk_ecs::Client::new(
            &moto::sdk_config_at(&fixture.ecs.url).await,
        ))),
    )
    .with_timeout_rules(Arc::new(policy));
    let response = hook.hook_response(&fixture.payload(None)).await;
    let marker = &response["hookDetails"]["greenlight"];
    assert_eq!(marker["timeoutAction"], "CONTINUE");
    let messages = fixture.published.wait_for_messages(1).await;
    let context = &messages[0]["metadata"]["additionalContext"];
    let requested =
        chrono::DateTime::parse_from_rfc3339(context["requestedAt"].as_str().unwrap()).unwrap();
    let deadline =
        chrono::DateTime::parse_from_rfc3339(context["deadline"].as_str().unwrap()).unwrap();
    assert_eq!((deadline - requested).num_minutes(), 120);
    assert_eq!(context["timeoutAction"], "CONTINUE");
}

#[tokio::test]
async fn a_marker_from_another_stage_opens_a_new_gate() {
    let fixture = Fixture::new(&[(
        "GREENLIGHT_GATED_STAGES",
        "POST_TEST_TRAFFIC_SHIFT,PRE_PRODUCTION_TRAFFIC_SHIFT",
    )])
    .await;
    let details = fixture.open().await;
    let mut later = fixture.payload(Some(details.clone()));
    later["lifecycleStage"] = json!("PRE_PRODUCTION_TRAFFIC_SHIFT");
    let response = fixture.hook.hook_response(&later).await;
    assert_eq!(response["hookStatus"], "IN_PROGRESS");
    assert_ne!(
        response["hookDetails"]["greenlight"]["gateId"],
        details["greenlight"]["gateId"]
    );
    assert!(
        response["hookDetails"]["greenlight"]["parameterName"]
            .as_str()
            .unwrap()
            .ends_with("/PRE_PRODUCTION_TRAFFIC_SHIFT")
    );
    assert_eq!(
        fixture.published.wait_for_messages(2).await.len(),
        2,
        "a second gate request"
    );
}

/// SNS gave up on the gate request (the bot or Slack was down for longer than its retries): the
/// hook publishes it again, at most once a minute, until the bot's table shows the gate carded,
/// and then stops reading the table.
#[tokio::test]
async fn the_hook_publishes_again_until_its_gate_is_carded() {
    let table_name = moto::unique("hookgates");
    let gates: Arc<dyn GateTable> =
        Arc::new(moto::gate_table(&moto::dynamodb_config().await, &table_name).await);
    let fixture = Fixture::with_options(&[], None, Some(Arc::clone(&gates))).await;
    let mut details = fixture.open().await;
    assert_eq!(fixture.published.wait_for_messages(1).await.len(), 1);
    let a_while_ago = |details: &mut Value| {
        details["greenlight"]["publishedAt"] =
            json!((chrono::Utc::now() - chrono::Duration::minutes(2)).to_rfc3339());
    };

    // Over a minute and no gate in the table: published again, with the same gate id.
    a_while_ago(&mut details);
    let response = fixture
        .hook
        .handle(&fixture.payload(Some(details)), None)
        .await;
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["hookStatus"], "IN_PROGRESS");
    let messages = fixture.published.wait_for_messages(2).await;
    assert_eq!(messages.len(), 2, "published again");
    let gate_of = |message: &Value| -> String {
        message["metadata"]["additionalContext"]["gateId"]
            .as_str()
            .expect("gate id")
            .to_owned()
    };
    assert_eq!(gate_of(&messages[0]), gate_of(&messages[1]));
    // Within the minute: not again.
    let details = json["hookDetails"].clone();
    fixture
        .hook
        .handle(&fixture.payload(Some(details.clone())), None)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fixture.published.sns_messages().len(),
        2,
        "at most once a minute"
    );

    // The bot records and cards the gate: the hook notices and stops.
    let gate: greenlight::domain::gate::GateId = gate_of(&messages[0]).parse().unwrap();
    let request =
        match greenlight::domain::notification::classify(&messages[0].to_string()).unwrap() {
            greenlight::domain::notification::TopicMessage::GateRequest(request) => request,
            other => panic!("{other:?}"),
        };
    let mut record = greenlight::domain::record::GateRecord::from_request(&request);
    assert_eq!(record.gate_id, gate);
    gates.create(&record).await.unwrap();
    record.card = Some(greenlight::domain::record::CardLocation {
        channel: "C0DEPLOYS1".into(),
        ts: "1.2".into(),
        thread_ts: None,
    });
    gates.save(&record, 1).await.unwrap();
    let mut details = details;
    a_while_ago(&mut details);
    let response = fixture
        .hook
        .handle(&fixture.payload(Some(details)), None)
        .await;
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["hookDetails"]["greenlight"]["carded"], true, "{json}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fixture.published.sns_messages().len(),
        2,
        "not published once carded"
    );
}

/// SSM throttling while the hook polls: it backs off (jittered, bounded) and keeps polling
/// instead of answering, never answers FAILED, and still sees the decision in the same
/// invocation once SSM answers again.
#[tokio::test]
async fn throttled_reads_back_off_and_the_decision_is_still_seen() {
    let proxy = crate::support::fault_proxy::FaultProxy::start().await;
    let fixture = Fixture::with_ssm_endpoint(
        &[
            ("GREENLIGHT_POLL_WINDOW", "30"),
            ("GREENLIGHT_POLL_INTERVAL", "0.2"),
        ],
        Some(&proxy.url),
    )
    .await;
    // Nine refusals: the SDK retries each call (three attempts), so the hook sees three
    // throttled reads in a row and backs off after each.
    proxy.throttle("GetParameter", 9);
    fixture.decide("approved").await;
    let response = fixture.hook.handle(&fixture.payload(None), None).await;
    assert_eq!(status(&response), "SUCCEEDED");
    assert_eq!(proxy.throttled("GetParameter"), 9);
    assert!(
        !fixture.parameter_exists().await,
        "the read decision is deleted"
    );
}

/// Throttling that outlasts the invocation's window ends it with IN_PROGRESS, not FAILED.
#[tokio::test]
async fn throttling_through_a_whole_window_answers_in_progress() {
    let proxy = crate::support::fault_proxy::FaultProxy::start().await;
    let fixture = Fixture::with_ssm_endpoint(
        &[
            ("GREENLIGHT_POLL_WINDOW", "2"),
            ("GREENLIGHT_POLL_INTERVAL", "0.2"),
        ],
        Some(&proxy.url),
    )
    .await;
    proxy.throttle("GetParameter", 10_000);
    fixture.decide("approved").await;
    let response = fixture.hook.handle(&fixture.payload(None), None).await;
    assert_eq!(status(&response), "IN_PROGRESS");
    assert!(proxy.throttled("GetParameter") > 0);
    assert!(
        fixture.parameter_exists().await,
        "nothing was read, nothing deleted"
    );
}
