//! `TestBot`: the real bot router wired to moto (SSM, SNS), the Slack double and the ECS double,
//! with helpers that sign requests exactly as SNS and Slack sign them.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use chrono::Utc;
use greenlight::aws::cloudwatch::CloudWatchAlarms;
use greenlight::aws::dynamodb::DynamoGateTable;
use greenlight::aws::ecs::EcsDeployments;
use greenlight::aws::sns::SnsSubscriptions;
use greenlight::aws::ssm::SsmParameterStore;
use greenlight::bot::{Bot, BotServices, BotSettings};
use greenlight::domain::gate::GateId;
use greenlight::domain::record::GateRecord;
use greenlight::ports::Created;
use greenlight::ports::{AdapterError, ParameterStore};
use greenlight::slack::signature::signed_headers;
use greenlight::sns::certificates::{CertificateFetcher, CertificateStore, SigningCertUrl};
use greenlight::sns::signer::SnsSigner;
use greenlight::sns::verify::SignatureVersion;
use greenlight::store::{
    DecisionLock, GateReader, GateTable, OpenGates, Saved, StoreError, Stored, Taken,
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::ecs_double::EcsDouble;
use super::moto::{self, ACCOUNT, REGION};
use super::slack_double::{SlackDouble, TOKEN};

pub const SIGNING_SECRET: &str = "test-signing-secret-0123456789";
pub const CHANNEL: &str = "C0DEPLOYS1";
pub const ALICE: &str = "U0ALICE001";
pub const BOB: &str = "U0BOB00001";
pub const MALLORY: &str = "U0MALLORY1";
pub const SRE_GROUP: &str = "S0SRETEAM1";

/// Fetches moto's SNS signing certificate the way moto serves it: from its own endpoint, to a
/// request carrying a SigV4-looking Authorization header that names `sns`.
pub struct MotoCertificates;

#[async_trait]
impl CertificateFetcher for MotoCertificates {
    async fn fetch(&self, url: &SigningCertUrl) -> Result<Bytes, AdapterError> {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<Bytes>>();
        let request = Request::get(format!("{}/{}", moto::moto_url(), url.file_name()))
            .header("authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0")
            .body(http_body_util::Empty::new())
            .map_err(|e| AdapterError::permanent("test", e.to_string()))?;
        let response = client
            .request(request)
            .await
            .map_err(|e| AdapterError::retryable("test", e.to_string()))?;
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| AdapterError::retryable("test", e.to_string()))?;
        Ok(body.to_bytes())
    }
}

pub struct Options {
    /// `GREENLIGHT_APPROVERS`, unless `policy` is set.
    pub approvers: &'static str,
    /// A policy file's text.
    pub policy: Option<String>,
    /// Point SSM at this endpoint instead of moto (a closed port simulates an outage).
    pub ssm_endpoint: Option<String>,
    /// Point the SNS client that confirms subscriptions at this endpoint instead of moto (an
    /// [`HttpRecorder`](super::http_recorder::HttpRecorder) shows what the bot asked for).
    pub sns_endpoint: Option<String>,
    /// Reach moto's DynamoDB directly rather than through the one-request-at-a-time proxy
    /// ([`moto::dynamodb_url`]): for benches, which send one request at a time anyway and
    /// should not time the proxy's hop.
    pub direct_dynamodb: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            approvers: "U0ALICE001,U0BOB00001,S0SRETEAM1",
            policy: None,
            ssm_endpoint: None,
            sns_endpoint: None,
            direct_dynamodb: false,
        }
    }
}

pub struct TestBot {
    pub bot: Arc<Bot>,
    pub app: Router,
    pub slack: SlackDouble,
    pub ecs: EcsDouble,
    pub ssm: aws_sdk_ssm::Client,
    pub topic_arn: String,
    pub signer: SnsSigner,
    pub decision_prefix: String,
    /// The bot's own DynamoDB table on moto.
    pub table: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The adapter the bot uses, for its count of items read.
    pub gate_table: Arc<DynamoGateTable>,
    /// The bot's certificate store: tests pin more certificates (an expired one, say) into it.
    pub certificates: Arc<CertificateStore>,
    _policy_dir: Option<tempfile::TempDir>,
}

impl TestBot {
    pub async fn start() -> TestBot {
        TestBot::with(Options::default()).await
    }

    pub async fn with(options: Options) -> TestBot {
        let config = moto::sdk_config().await;
        let topic_arn = moto::create_topic(&config, &moto::unique("bot")).await;
        let slack = SlackDouble::start().await;
        slack.set_group(SRE_GROUP, &["U0CAROL001"]);
        let ecs = EcsDouble::start().await;
        let root = moto::unique("glbot");
        let decision_prefix = format!("/{root}/decisions");
        let table = root.clone();
        let policy_dir = options.policy.as_ref().map(|text| {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("policy.toml"), text).expect("write policy");
            dir
        });
        let mut env: HashMap<String, String> = HashMap::from([
            ("GREENLIGHT_ALLOWED_TOPIC_ARNS".into(), topic_arn.clone()),
            ("GREENLIGHT_SLACK_BOT_TOKEN".into(), TOKEN.into()),
            (
                "GREENLIGHT_SLACK_SIGNING_SECRET".into(),
                SIGNING_SECRET.into(),
            ),
            ("GREENLIGHT_SLACK_CHANNEL".into(), CHANNEL.into()),
            ("GREENLIGHT_SLACK_API_URL".into(), slack.base_url.clone()),
            ("GREENLIGHT_DECISION_PREFIX".into(), decision_prefix.clone()),
            ("GREENLIGHT_TABLE".into(), table.clone()),
        ]);
        match &policy_dir {
            Some(dir) => {
                env.insert(
                    "GREENLIGHT_POLICY_FILE".into(),
                    dir.path().join("policy.toml").display().to_string(),
                );
            }
            None => {
                env.insert("GREENLIGHT_APPROVERS".into(), options.approvers.into());
            }
        }
        let settings = BotSettings::from_env(&env).expect("bot settings");
        let ssm_config = match &options.ssm_endpoint {
            Some(endpoint) => moto::sdk_config_at(endpoint).await,
            None => config.clone(),
        };
        let sns_config = match &options.sns_endpoint {
            Some(endpoint) => moto::sdk_config_at(endpoint).await,
            None => config.clone(),
        };
        let signer = SnsSigner::new(REGION).expect("signer");
        let certificates = Arc::new(CertificateStore::new(Arc::new(MotoCertificates)));
        signer.pin_into(&certificates).expect("pin");
        let dynamodb_config = if options.direct_dynamodb {
            config.clone()
        } else {
            moto::dynamodb_config().await
        };
        let gate_table = Arc::new(moto::gate_table(&dynamodb_config, &table).await);
        let bot = Arc::new(
            build_bot(
                settings,
                ssm_store(&ssm_config),
                gate_table.clone(),
                &sns_config,
                &slack,
                &ecs,
                Arc::clone(&certificates),
            )
            .await,
        );
        let app = greenlight::bot::app(Arc::clone(&bot));
        TestBot {
            bot,
            app,
            slack,
            ecs,
            ssm: aws_sdk_ssm::Client::new(&config),
            topic_arn,
            signer,
            decision_prefix,
            table,
            dynamodb: aws_sdk_dynamodb::Client::new(&dynamodb_config),
            gate_table,
            certificates,
            _policy_dir: policy_dir,
        }
    }

    /// A second router over the same settings, policy, Slack double, ECS double and certificates,
    /// but with SSM at `ssm_endpoint`: a bot that opened its gates while SSM was up and is asked
    /// to decide one while SSM is down.
    pub async fn sibling_with_ssm_at(&self, ssm_endpoint: &str) -> Router {
        let ssm_config = moto::sdk_config_at(ssm_endpoint).await;
        self.sibling_with_stores(ssm_store(&ssm_config), self.gate_table.clone())
            .await
    }

    /// A second router like [`sibling_with_ssm_at`](TestBot::sibling_with_ssm_at), over any
    /// parameter store and gate table (moto's wrapped in failing ones, say).
    pub async fn sibling_with_stores(
        &self,
        store: Arc<dyn ParameterStore>,
        gates: Arc<dyn GateTable>,
    ) -> Router {
        let config = moto::sdk_config().await;
        let bot = build_bot(
            self.bot.settings().clone(),
            store,
            gates,
            &config,
            &self.slack,
            &self.ecs,
            Arc::clone(&self.certificates),
        )
        .await;
        greenlight::bot::app(Arc::new(bot))
    }

    /// The parameter store on moto that this bot uses.
    pub async fn moto_store(&self) -> Arc<dyn ParameterStore> {
        ssm_store(&moto::sdk_config().await)
    }

    /// Serves the router on a loopback port and returns its base URL.
    pub async fn serve(&self) -> String {
        format!(
            "http://{}",
            super::serve_on_loopback(self.app.clone()).await
        )
    }

    /// Sends one request through the router.
    pub async fn request(&self, request: Request<Body>) -> (StatusCode, String) {
        send(&self.app, request).await
    }

    pub async fn post(&self, path: &str, body: impl Into<Body>) -> (StatusCode, String) {
        self.request(Request::post(path).body(body.into()).expect("request"))
            .await
    }

    /// An SNS notification of `message`, signed as SNS signs it (SignatureVersion 2).
    pub fn sns_notification(&self, message: &str) -> String {
        self.signer
            .notification(
                &self.topic_arn,
                message,
                None,
                Utc::now(),
                SignatureVersion::V2Sha256,
            )
            .expect("sign")
    }

    /// A gate request as greenlight's hook publishes it, for a deployment of `web` in `cluster`.
    pub fn gate_request(&self, cluster: &str) -> (String, String) {
        self.gate_request_due(cluster, Utc::now() + chrono::Duration::hours(23))
    }

    /// [`gate_request`](TestBot::gate_request) with this deadline.
    pub fn gate_request_due(
        &self,
        cluster: &str,
        deadline: chrono::DateTime<Utc>,
    ) -> (String, String) {
        gate_request_message(&self.decision_prefix, cluster, deadline)
    }

    /// Opens a gate through `/sns` and returns (gate id, decision parameter).
    pub async fn open_gate(&self, cluster: &str) -> (String, String) {
        self.open_gate_due(cluster, Utc::now() + chrono::Duration::hours(23))
            .await
    }

    /// [`open_gate`](TestBot::open_gate) with this deadline.
    pub async fn open_gate_due(
        &self,
        cluster: &str,
        deadline: chrono::DateTime<Utc>,
    ) -> (String, String) {
        let (gate, message) = self.gate_request_due(cluster, deadline);
        let (status, body) = self.post("/sns", self.sns_notification(&message)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let parameter = format!(
            "{}/{cluster}/web/dep1/POST_TEST_TRAFFIC_SHIFT",
            self.decision_prefix
        );
        (gate, parameter)
    }

    /// A Slack request to `path`, signed with the bot's signing secret now.
    pub fn slack_request(&self, path: &str, body: String) -> Request<Body> {
        let headers = signed_headers(SIGNING_SECRET, Utc::now(), body.as_bytes());
        let mut request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        request.headers_mut().extend(headers);
        request
    }

    /// The form body of a click on a card button.
    pub fn click_body(user: &str, channel: &str, action_id: &str, value: &str) -> String {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": "someone"},
            "channel": {"id": channel, "name": "deploys"},
            "actions": [{"action_id": action_id, "block_id": "gate", "value": value, "type": "button"}],
            "response_url": "https://hooks.slack.invalid/actions/1",
            "trigger_id": "1.2.3"
        });
        serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form")
    }

    /// Clicks a card button, signed; returns the status.
    pub async fn click(&self, user: &str, action_id: &str, gate: &str) -> StatusCode {
        self.click_in(CHANNEL, user, action_id, gate).await
    }

    /// Clicks a card button as seen from `channel`, signed; returns the status.
    pub async fn click_in(
        &self,
        channel: &str,
        user: &str,
        action_id: &str,
        gate: &str,
    ) -> StatusCode {
        let body = Self::click_body(user, channel, action_id, gate);
        self.request(self.slack_request("/slack/interactions", body))
            .await
            .0
    }

    /// The form body of `/deploy <text>` typed by `user` in the deploy channel.
    pub fn command_body(user: &str, text: &str) -> String {
        Self::command_body_in(CHANNEL, user, text)
    }

    /// The form body of `/deploy <text>` typed by `user` in `channel` (a `D…` ID is a direct
    /// message with the bot).
    pub fn command_body_in(channel: &str, user: &str, text: &str) -> String {
        serde_urlencoded::to_string([
            ("command", "/deploy"),
            ("text", text),
            ("user_id", user),
            ("channel_id", channel),
            ("team_id", "T0TEAM0001"),
            ("response_url", "https://hooks.slack.invalid/commands/1"),
            ("trigger_id", "1.2.3"),
        ])
        .expect("form")
    }

    /// Runs `/deploy <text>`, signed; returns the ephemeral answer's text.
    pub async fn command(&self, user: &str, text: &str) -> (StatusCode, Value) {
        let body = Self::command_body(user, text);
        let (status, body) = self
            .request(self.slack_request("/slack/commands", body))
            .await;
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    /// The decision parameter's value, if any.
    pub async fn parameter(&self, name: &str) -> Option<String> {
        self.ssm
            .get_parameter()
            .name(name)
            .send()
            .await
            .ok()
            .and_then(|o| o.parameter)
            .and_then(|p| p.value)
    }

    /// How many times the parameter was written (its versions in SSM's history).
    pub async fn parameter_writes(&self, name: &str) -> usize {
        self.ssm
            .get_parameter_history()
            .name(name)
            .send()
            .await
            .map(|out| out.parameters.unwrap_or_default().len())
            .unwrap_or(0)
    }

    /// What the bot has written: every parameter under the decision prefix, and every item in
    /// its table (as `pk sk`).
    pub async fn written(&self) -> Vec<String> {
        let out = self
            .ssm
            .get_parameters_by_path()
            .path(self.decision_prefix.as_str())
            .recursive(true)
            .send()
            .await
            .expect("list");
        let mut names: Vec<String> = out
            .parameters
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.name)
            .collect();
        names.extend(moto::table_items(&self.dynamodb, &self.table).await);
        names
    }

    /// The gate's record as the bot stored it, as JSON.
    pub async fn gate_record(&self, gate: &str) -> Option<Value> {
        let stored = self
            .gate_table
            .load(&gate.parse::<GateId>().expect("gate id"))
            .await
            .expect("load");
        stored.map(|stored| serde_json::to_value(&stored.record).expect("record JSON"))
    }

    /// Who holds the gate's decision lock, if anyone.
    pub async fn decision_lock(&self, gate: &str) -> Option<DecisionLock> {
        self.gate_table
            .decision_lock(&gate.parse::<GateId>().expect("gate id"))
            .await
            .expect("lock")
    }
}

/// The value of a card's Reroute button (the gate id a person clicks), from a recorded
/// `chat.postMessage` body, whether its blocks came as JSON or as a JSON string.
pub fn reroute_value(body: &Value) -> Option<String> {
    let blocks = match &body["blocks"] {
        Value::String(text) => serde_json::from_str(text).ok()?,
        blocks => blocks.clone(),
    };
    blocks
        .as_array()?
        .iter()
        .filter(|block| block["type"] == "actions")
        .flat_map(|block| block["elements"].as_array().cloned().unwrap_or_default())
        .find(|element| element["action_id"] == "greenlight.reroute")
        .and_then(|element| element["value"].as_str().map(str::to_owned))
}

/// Sends one request through `app`; returns the status and the body as text.
pub async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.expect("router");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A gate request for `cluster`'s service `web`, as greenlight's hook publishes it (the Amazon Q
/// custom-notification JSON), its decision under `decision_prefix`: (gate id, message).
pub fn gate_request_message(
    decision_prefix: &str,
    cluster: &str,
    deadline: chrono::DateTime<Utc>,
) -> (String, String) {
    let deployment =
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/web/dep1");
    let parameter = format!(
        "{}/{cluster}/web/dep1/POST_TEST_TRAFFIC_SHIFT",
        decision_prefix
    );
    let gate = greenlight::domain::gate::GateId::for_hook(
        &deployment.parse().expect("arn"),
        greenlight::domain::stage::LifecycleStage::PostTestTrafficShift,
    );
    let now = Utc::now();
    let message = json!({
        "version": "1.0",
        "source": "custom",
        "content": {"textType": "client-markdown", "title": "web: reroute production traffic?", "description": "Test traffic is on the new revision."},
        "metadata": {"enableCustomActions": true, "additionalContext": {
            "ActionGroup": "greenlight", "parameterName": parameter, "region": REGION,
            "gateId": gate.as_str(), "cluster": cluster, "service": "web",
            "serviceDeploymentArn": deployment, "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "targetRevision": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{cluster}/web/2"),
            "sourceRevisions": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{cluster}/web/1"),
            "requestedAt": now.to_rfc3339(), "deadline": deadline.to_rfc3339(),
            "timeoutAction": "ROLLBACK", "consoleUrl": "https://console.example/ecs"
        }}
    });
    (gate.to_string(), message.to_string())
}

/// The bot as `greenlight bot` wires it, with this parameter store and gate table, SNS at the
/// given endpoint, Slack at the double and ECS at the ECS double.
async fn build_bot(
    settings: BotSettings,
    store: Arc<dyn ParameterStore>,
    gates: Arc<dyn GateTable>,
    sns_config: &aws_config::SdkConfig,
    slack: &SlackDouble,
    ecs: &EcsDouble,
    certificates: Arc<CertificateStore>,
) -> Bot {
    let policy = greenlight::wiring::bot_policy(&settings).expect("policy");
    let slack_api: Arc<dyn greenlight::slack::api::SlackApi> = Arc::new(slack.client());
    let ecs_config = moto::sdk_config_at(&ecs.url).await;
    let services = BotServices {
        slack: slack_api,
        decisions: store,
        gates,
        subscriptions: Arc::new(SnsSubscriptions::new(aws_sdk_sns::Client::new(sns_config))),
        deployments: Arc::new(EcsDeployments::new(aws_sdk_ecs::Client::new(&ecs_config))),
        // CloudWatch is moto's: alarms are made with `PutMetricAlarm` and set with
        // `SetAlarmState`, and the bot reads them with `DescribeAlarms`.
        alarms: Arc::new(CloudWatchAlarms::new(aws_sdk_cloudwatch::Client::new(
            sns_config,
        ))),
        certificates,
        groups: None,
    };
    Bot::new(settings, SIGNING_SECRET, policy, services)
}

fn ssm_store(config: &aws_config::SdkConfig) -> Arc<dyn ParameterStore> {
    Arc::new(SsmParameterStore::new(aws_sdk_ssm::Client::new(config)))
}

/// A parameter store whose create-only writes under `failing_prefix` fail, everything else going
/// to `inner`: refused outright (as SSM throttling or a missing IAM permission would), or, with
/// `applied`, carried out and then reported as timed out (an AWS call that answers too late for
/// the caller but was applied).
pub struct FailingCreates {
    pub inner: Arc<dyn ParameterStore>,
    pub failing_prefix: String,
    pub applied: bool,
}

#[async_trait]
impl ParameterStore for FailingCreates {
    async fn get(&self, name: &str) -> Result<Option<String>, AdapterError> {
        self.inner.get(name).await
    }
    async fn create(&self, name: &str, value: &str) -> Result<Created, AdapterError> {
        if !name.starts_with(&self.failing_prefix) {
            return self.inner.create(name, value).await;
        }
        if self.applied {
            self.inner.create(name, value).await?;
            return Err(AdapterError::retryable(
                "ssm:PutParameter",
                "operation timeout after 2s (test: the write was applied)",
            ));
        }
        Err(AdapterError::retryable(
            "ssm:PutParameter",
            "ThrottlingException: rate exceeded (test)",
        ))
    }
    async fn overwrite(&self, name: &str, value: &str) -> Result<(), AdapterError> {
        self.inner.overwrite(name, value).await
    }
    async fn delete(&self, name: &str) -> Result<(), AdapterError> {
        self.inner.delete(name).await
    }
    async fn list(&self, path: &str) -> Result<Vec<(String, String)>, AdapterError> {
        self.inner.list(path).await
    }
}

/// A gate table that delegates to `inner` but can be told to misbehave: refuse decision locks
/// (as DynamoDB throttling or a missing IAM permission would), or hold its first update of a gate
/// until released, to interleave it with another request.
pub struct ScriptedTable {
    pub inner: Arc<dyn GateTable>,
    pub fail_locks: bool,
    pub hold_first_save: Option<Arc<Hold>>,
    /// Every `n`th create is applied and then reported as timed out, as an AWS call that
    /// answers too late for the caller but was carried out.
    pub late_creates_every: Option<usize>,
    creates: std::sync::atomic::AtomicUsize,
}

/// Where a [`ScriptedTable`] holds a save: `reached` is notified when the save is waiting,
/// `release` lets it go on.
#[derive(Default)]
pub struct Hold {
    pub reached: tokio::sync::Notify,
    pub release: tokio::sync::Notify,
    used: std::sync::atomic::AtomicBool,
}

impl ScriptedTable {
    pub fn failing_locks(inner: Arc<dyn GateTable>) -> ScriptedTable {
        ScriptedTable {
            inner,
            fail_locks: true,
            hold_first_save: None,
            late_creates_every: None,
            creates: Default::default(),
        }
    }

    pub fn late_creates(inner: Arc<dyn GateTable>, every: usize) -> ScriptedTable {
        ScriptedTable {
            inner,
            fail_locks: false,
            hold_first_save: None,
            late_creates_every: Some(every),
            creates: Default::default(),
        }
    }

    pub fn holding_first_save(inner: Arc<dyn GateTable>, hold: Arc<Hold>) -> ScriptedTable {
        ScriptedTable {
            inner,
            fail_locks: false,
            hold_first_save: Some(hold),
            late_creates_every: None,
            creates: Default::default(),
        }
    }
}

#[async_trait]
impl GateReader for ScriptedTable {
    async fn load(&self, id: &GateId) -> Result<Option<Stored>, StoreError> {
        self.inner.load(id).await
    }
}

#[async_trait]
impl GateTable for ScriptedTable {
    async fn create(&self, record: &GateRecord) -> Result<Created, StoreError> {
        let created = self.inner.create(record).await;
        let count = self
            .creates
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if self
            .late_creates_every
            .is_some_and(|every| count.is_multiple_of(every))
        {
            return Err(StoreError::Unavailable(AdapterError::retryable(
                "dynamodb:PutItem",
                "operation timeout after 2s (test: the write was applied)",
            )));
        }
        created
    }
    async fn save(&self, record: &GateRecord, read_version: u64) -> Result<Saved, StoreError> {
        if let Some(hold) = &self.hold_first_save
            && !hold.used.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            hold.reached.notify_one();
            hold.release.notified().await;
        }
        self.inner.save(record, read_version).await
    }
    async fn add_vote(
        &self,
        id: &GateId,
        user: &str,
        at: chrono::DateTime<Utc>,
    ) -> Result<Taken, StoreError> {
        self.inner.add_vote(id, user, at).await
    }
    async fn votes(&self, id: &GateId) -> Result<Vec<String>, StoreError> {
        self.inner.votes(id).await
    }
    async fn lock_decision(&self, id: &GateId, lock: &DecisionLock) -> Result<Taken, StoreError> {
        if self.fail_locks {
            return Err(StoreError::Unavailable(AdapterError::retryable(
                "dynamodb:TransactWriteItems",
                "ThrottlingException: rate exceeded (test)",
            )));
        }
        self.inner.lock_decision(id, lock).await
    }
    async fn decision_lock(&self, id: &GateId) -> Result<Option<DecisionLock>, StoreError> {
        self.inner.decision_lock(id).await
    }
    async fn unlock_decision(&self, id: &GateId) -> Result<(), StoreError> {
        self.inner.unlock_decision(id).await
    }
    async fn lock_rollback(&self, arn: &str, lock: &DecisionLock) -> Result<Created, StoreError> {
        self.inner.lock_rollback(arn, lock).await
    }
    async fn rollback_lock(&self, arn: &str) -> Result<Option<DecisionLock>, StoreError> {
        self.inner.rollback_lock(arn).await
    }
    async fn unlock_rollback(&self, arn: &str) -> Result<(), StoreError> {
        self.inner.unlock_rollback(arn).await
    }
    async fn latest_for_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<Stored>, StoreError> {
        self.inner.latest_for_service(cluster, service).await
    }
    async fn supersede(
        &self,
        parameter: &str,
        gate: &GateId,
    ) -> Result<Option<GateId>, StoreError> {
        self.inner.supersede(parameter, gate).await
    }
    async fn deployment_gates(&self, arn: &str) -> Result<Vec<Stored>, StoreError> {
        self.inner.deployment_gates(arn).await
    }
    async fn open_gates(&self, which: &OpenGates) -> Result<Vec<Stored>, StoreError> {
        self.inner.open_gates(which).await
    }
}

/// The string SNS signs for a delivery body (notification or confirmation), from its JSON.
pub fn sns_string_to_sign(body: &Value) -> String {
    let field = |name: &str| body[name].as_str().map(str::to_owned);
    let kind = field("Type").unwrap_or_default();
    let names: &[&str] = if kind == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut text = String::new();
    for name in names {
        if let Some(value) = field(name) {
            text.push_str(&format!("{name}\n{value}\n"));
        }
    }
    text
}

/// Signs `body` again (SignatureVersion 2) after a test changed its fields, so that only the
/// changed field, not the signature, can be the reason for a refusal.
pub fn resign(signer: &SnsSigner, body: &mut Value) {
    let signature = signer
        .sign(SignatureVersion::V2Sha256, &sns_string_to_sign(body))
        .expect("sign");
    body["SignatureVersion"] = json!("2");
    body["Signature"] = json!(signature);
}
