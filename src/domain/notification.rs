//! What travels on the SNS topic, in both directions.
//!
//! greenlight speaks the Amazon Q Developer custom-notification schema so that hooks written for
//! the do-it-yourself recipe work unchanged, and adds its own keys to `additionalContext`. The same
//! topic also carries raw EventBridge ECS events and whatever else someone publishes; [`classify`]
//! sorts them so that nothing is silently dropped.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::deployment::ServiceDeploymentArn;
use super::evidence::{DEPLOYER_CONTEXT_KEY, Deployer, ProbeResult};
use super::gate::{GateId, ParameterName, TimeoutAction, decision_parameter};
use super::stage::LifecycleStage;

/// The Amazon Q Developer custom notification envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomNotification {
    pub version: String,
    pub source: String,
    pub content: NotificationContent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<NotificationMetadata>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_type: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_custom_actions: Option<bool>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub additional_context: Map<String, Value>,
}

/// A request to put a gate in front of people, as the hook publishes it.
///
/// Only `parameter_name` is required: that is all a do-it-yourself recipe hook sends (with a title,
/// a description, `ActionGroup` and `region`). greenlight's own hook fills in the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct GateRequest {
    pub title: String,
    pub description: String,
    pub action_group: Option<String>,
    pub parameter_name: ParameterName,
    pub region: Option<String>,
    pub gate_id: Option<GateId>,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub service_deployment_arn: Option<String>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub target_revision: Option<String>,
    pub source_revisions: Vec<String>,
    pub requested_at: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    pub timeout_action: Option<TimeoutAction>,
    pub console_url: Option<String>,
    pub test_url: Option<String>,
    /// Who deployed, when the hook knows (`deployer` in `additionalContext`).
    pub deployer: Option<Deployer>,
    /// What the hook's requests to the test URL got.
    pub probe: Option<ProbeResult>,
}

/// The key of `additionalContext` that carries the hook's probe of the test URL, as JSON text
/// (Amazon Q Developer wants every value a string).
const PROBE_CONTEXT_KEY: &str = "testProbe";

/// The `ActionGroup` greenlight's hook announces; the recipe used it to pick Q Developer buttons.
pub const ACTION_GROUP: &str = "greenlight";

/// Something that happened to a gate after it was opened, published by the hook so the bot can
/// update the card (for example the deadline passing with nobody deciding).
#[derive(Debug, Clone, PartialEq)]
pub struct GateFollowUp {
    pub gate_id: GateId,
    pub event: GateEvent,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateEvent {
    /// Nobody decided before the deadline; the hook applied this action.
    TimedOut { action: TimeoutAction },
}

impl GateEvent {
    fn wire_name(self) -> &'static str {
        match self {
            GateEvent::TimedOut { .. } => "gate.timed_out",
        }
    }
}

/// An Amazon EventBridge event about ECS, forwarded to the topic by a rule: the envelope as
/// `aws_lambda_events` reads it, with the detail left as JSON until `domain::progress` reads the
/// detail types greenlight knows into typed structs.
pub type EcsEvent = aws_lambda_events::eventbridge::EventBridgeEvent<Value>;

/// What a notification on the topic turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicMessage {
    GateRequest(Box<GateRequest>),
    FollowUp(GateFollowUp),
    EcsEvent(Box<EcsEvent>),
    /// Anything else: shown to people as it is.
    Plain(String),
}

/// A message that claims to be a gate request or follow-up but cannot be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("gate request has an invalid parameterName: {0}")]
    BadParameterName(String),
    #[error("gate follow-up is missing or has an invalid {0}")]
    BadFollowUp(&'static str),
}

fn context_str<'a>(context: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    context
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

fn context_time(context: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    context_str(context, key)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Sorts one SNS `Message` into what greenlight does with it.
pub fn classify(message: &str) -> Result<TopicMessage, MessageError> {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(message) else {
        return Ok(TopicMessage::Plain(message.to_owned()));
    };
    if object.get("source").and_then(Value::as_str) == Some("aws.ecs")
        && object.contains_key("detail-type")
        && let Ok(event) = serde_json::from_value::<EcsEvent>(Value::Object(object.clone()))
    {
        return Ok(TopicMessage::EcsEvent(Box::new(event)));
    }
    let Ok(notification) = serde_json::from_value::<CustomNotification>(Value::Object(object))
    else {
        return Ok(TopicMessage::Plain(message.to_owned()));
    };
    let context = notification
        .metadata
        .as_ref()
        .map(|metadata| &metadata.additional_context);
    let Some(context) = context else {
        return Ok(TopicMessage::Plain(notification_text(&notification)));
    };
    if let Some(event_name) = context_str(context, "greenlightEvent") {
        return parse_follow_up(event_name, context).map(TopicMessage::FollowUp);
    }
    let Some(parameter) = context_str(context, "parameterName") else {
        return Ok(TopicMessage::Plain(notification_text(&notification)));
    };
    let parameter_name = ParameterName::new(parameter)
        .map_err(|err| MessageError::BadParameterName(err.to_string()))?;
    let request = GateRequest {
        title: notification.content.title.clone(),
        description: notification.content.description.clone().unwrap_or_default(),
        action_group: context_str(context, "ActionGroup").map(str::to_owned),
        parameter_name,
        region: context_str(context, "region").map(str::to_owned),
        gate_id: context_str(context, "gateId").and_then(|id| id.parse().ok()),
        cluster: context_str(context, "cluster").map(str::to_owned),
        service: context_str(context, "service").map(str::to_owned),
        service_deployment_arn: context_str(context, "serviceDeploymentArn").map(str::to_owned),
        lifecycle_stage: context_str(context, "lifecycleStage").and_then(|s| s.parse().ok()),
        target_revision: context_str(context, "targetRevision").map(str::to_owned),
        source_revisions: context_str(context, "sourceRevisions")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        requested_at: context_time(context, "requestedAt"),
        deadline: context_time(context, "deadline"),
        timeout_action: context_str(context, "timeoutAction").and_then(|s| s.parse().ok()),
        console_url: context_str(context, "consoleUrl").map(str::to_owned),
        test_url: context_str(context, "testUrl").map(str::to_owned),
        deployer: context_str(context, DEPLOYER_CONTEXT_KEY).and_then(Deployer::parse),
        probe: context_str(context, PROBE_CONTEXT_KEY)
            .and_then(|json| serde_json::from_str(json).ok()),
    };
    Ok(TopicMessage::GateRequest(Box::new(request)))
}

/// Why a gate request cannot be trusted: what it says about its deployment disagrees with its
/// deployment ARN. Refused with `inconsistent_gate`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InconsistentGate {
    #[error("its serviceDeploymentArn is not a service-deployment ARN")]
    BadArn,
    #[error("it names a service deployment but no lifecycleStage")]
    NoStage,
    #[error("its {field} `{claimed}` is not the deployment's `{derived}`")]
    Disagrees {
        field: &'static str,
        claimed: String,
        derived: String,
    },
}

impl GateRequest {
    /// Binds the request to what it may decide. With a service-deployment ARN, everything is
    /// derived from it and must agree: cluster and service, the decision parameter (exactly the
    /// one greenlight derives for that ARN and stage under `decision_prefix`), the gate id, and
    /// the console link. Without one it is a recipe gate: it has no cluster or service (so only a
    /// rule for every cluster and service judges it), a gate id of greenlight's own choosing, and
    /// no console link. Nothing a publisher writes can pick the rule that judges a gate, point it
    /// at another deployment's parameter, or take another gate's id.
    pub fn bind(
        mut self,
        decision_prefix: &ParameterName,
    ) -> Result<GateRequest, InconsistentGate> {
        let Some(arn) = self.service_deployment_arn.clone() else {
            self.cluster = None;
            self.service = None;
            self.gate_id = None;
            self.console_url = None;
            self.lifecycle_stage = None;
            return Ok(self);
        };
        let deployment: ServiceDeploymentArn = arn.parse().map_err(|_| InconsistentGate::BadArn)?;
        let stage = self.lifecycle_stage.ok_or(InconsistentGate::NoStage)?;
        let agree = |field: &'static str, claimed: Option<&str>, derived: &str| match claimed {
            Some(claimed) if claimed != derived => Err(InconsistentGate::Disagrees {
                field,
                claimed: claimed.to_owned(),
                derived: derived.to_owned(),
            }),
            _ => Ok(()),
        };
        agree("cluster", self.cluster.as_deref(), deployment.cluster())?;
        agree("service", self.service.as_deref(), deployment.service())?;
        let parameter = decision_parameter(decision_prefix, &deployment, stage).map_err(|_| {
            InconsistentGate::Disagrees {
                field: "parameterName",
                claimed: self.parameter_name.to_string(),
                derived: "no valid parameter name".to_owned(),
            }
        })?;
        agree(
            "parameterName",
            Some(self.parameter_name.as_str()),
            parameter.as_str(),
        )?;
        let gate_id = GateId::for_hook(&deployment, stage);
        agree(
            "gateId",
            self.gate_id.as_ref().map(GateId::as_str),
            gate_id.as_str(),
        )?;
        self.cluster = Some(deployment.cluster().to_owned());
        self.service = Some(deployment.service().to_owned());
        self.gate_id = Some(gate_id);
        self.console_url = Some(deployment.console_url());
        Ok(self)
    }
}

fn parse_follow_up(
    event_name: &str,
    context: &Map<String, Value>,
) -> Result<GateFollowUp, MessageError> {
    let gate_id = context_str(context, "gateId")
        .and_then(|id| id.parse().ok())
        .ok_or(MessageError::BadFollowUp("gateId"))?;
    let at = context_time(context, "at").ok_or(MessageError::BadFollowUp("at"))?;
    let event = match event_name {
        "gate.timed_out" => GateEvent::TimedOut {
            action: context_str(context, "timeoutAction")
                .and_then(|s| s.parse().ok())
                .ok_or(MessageError::BadFollowUp("timeoutAction"))?,
        },
        _ => return Err(MessageError::BadFollowUp("greenlightEvent")),
    };
    Ok(GateFollowUp { gate_id, event, at })
}

/// Title and description of a notification that is not a gate, for posting as plain text.
fn notification_text(notification: &CustomNotification) -> String {
    match notification.content.description.as_deref() {
        Some(description) if !description.is_empty() => {
            format!("{}\n{}", notification.content.title, description)
        }
        _ => notification.content.title.clone(),
    }
}

fn put(context: &mut Map<String, Value>, key: &str, value: Option<impl Into<String>>) {
    if let Some(value) = value {
        context.insert(key.to_owned(), Value::String(value.into()));
    }
}

impl GateRequest {
    /// The notification the hook publishes. Every `additionalContext` value is a string, as Amazon
    /// Q Developer expects, so the same message also reads well there and in an e-mail.
    pub fn to_notification(&self) -> CustomNotification {
        let mut context = Map::new();
        put(&mut context, "ActionGroup", self.action_group.clone());
        put(
            &mut context,
            "parameterName",
            Some(self.parameter_name.as_str()),
        );
        put(&mut context, "region", self.region.clone());
        put(
            &mut context,
            "gateId",
            self.gate_id.as_ref().map(GateId::as_str),
        );
        put(&mut context, "cluster", self.cluster.clone());
        put(&mut context, "service", self.service.clone());
        put(
            &mut context,
            "serviceDeploymentArn",
            self.service_deployment_arn.clone(),
        );
        put(
            &mut context,
            "lifecycleStage",
            self.lifecycle_stage.map(LifecycleStage::as_str),
        );
        put(&mut context, "targetRevision", self.target_revision.clone());
        put(
            &mut context,
            "sourceRevisions",
            Some(self.source_revisions.join(",")),
        );
        put(&mut context, "requestedAt", self.requested_at.map(rfc3339));
        put(&mut context, "deadline", self.deadline.map(rfc3339));
        put(
            &mut context,
            "timeoutAction",
            self.timeout_action.map(TimeoutAction::as_str),
        );
        put(&mut context, "consoleUrl", self.console_url.clone());
        put(&mut context, "testUrl", self.test_url.clone());
        put(
            &mut context,
            DEPLOYER_CONTEXT_KEY,
            self.deployer.as_ref().map(|deployer| match deployer {
                Deployer::SlackUser(id) | Deployer::Email(id) => id.clone(),
            }),
        );
        put(
            &mut context,
            PROBE_CONTEXT_KEY,
            self.probe
                .as_ref()
                .and_then(|probe| serde_json::to_string(probe).ok()),
        );
        CustomNotification {
            version: "1.0".to_owned(),
            source: "custom".to_owned(),
            content: NotificationContent {
                text_type: Some("client-markdown".to_owned()),
                title: self.title.clone(),
                description: Some(self.description.clone()),
                next_steps: Vec::new(),
            },
            metadata: Some(NotificationMetadata {
                thread_id: self.gate_id.as_ref().map(|id| id.to_string()),
                summary: Some(self.title.clone()),
                enable_custom_actions: Some(true),
                additional_context: context,
            }),
        }
    }
}

impl GateFollowUp {
    /// The notification the hook publishes when something happens to an open gate. It carries no
    /// `parameterName`, so no consumer can mistake it for a new gate.
    pub fn to_notification(&self) -> CustomNotification {
        let mut context = Map::new();
        put(
            &mut context,
            "greenlightEvent",
            Some(self.event.wire_name()),
        );
        put(&mut context, "gateId", Some(self.gate_id.as_str()));
        put(&mut context, "at", Some(rfc3339(self.at)));
        let (title, description) = match self.event {
            GateEvent::TimedOut { action } => {
                put(&mut context, "timeoutAction", Some(action.as_str()));
                (
                    format!("Gate {} timed out", self.gate_id),
                    match action {
                        TimeoutAction::Rollback => {
                            "Nobody decided before the deadline: the deployment is rolled back."
                        }
                        TimeoutAction::Continue => {
                            "Nobody decided before the deadline: the deployment continues."
                        }
                    },
                )
            }
        };
        CustomNotification {
            version: "1.0".to_owned(),
            source: "custom".to_owned(),
            content: NotificationContent {
                text_type: Some("client-markdown".to_owned()),
                title,
                description: Some(description.to_owned()),
                next_steps: Vec::new(),
            },
            metadata: Some(NotificationMetadata {
                thread_id: Some(self.gate_id.to_string()),
                summary: None,
                enable_custom_actions: Some(false),
                additional_context: context,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn full_request() -> GateRequest {
        GateRequest {
            title: "web: reroute production?".into(),
            description: "test traffic is on green".into(),
            action_group: Some(ACTION_GROUP.into()),
            parameter_name: ParameterName::new(
                "/greenlight/decisions/prod/web/d1/POST_TEST_TRAFFIC_SHIFT",
            )
            .unwrap(),
            region: Some("eu-west-1".into()),
            gate_id: Some(GateId::derive("x")),
            cluster: Some("prod".into()),
            service: Some("web".into()),
            service_deployment_arn: Some(
                "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/d1".into(),
            ),
            lifecycle_stage: Some(LifecycleStage::PostTestTrafficShift),
            target_revision: Some(
                "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/2".into(),
            ),
            source_revisions: vec![
                "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/1".into(),
            ],
            requested_at: Some(Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()),
            deadline: Some(Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()),
            timeout_action: Some(TimeoutAction::Rollback),
            console_url: Some("https://console.example/x".into()),
            test_url: Some("https://test.example".into()),
            deployer: Some(Deployer::Email("carol@example.com".into())),
            probe: Some(ProbeResult {
                at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
                statuses: vec![Some(200), None],
                median_ms: Some(41),
            }),
        }
    }

    #[test]
    fn a_gate_request_round_trips_through_the_schema() {
        let request = full_request();
        let json = serde_json::to_string(&request.to_notification()).unwrap();
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["version"], "1.0");
        assert_eq!(value["source"], "custom");
        assert_eq!(value["content"]["textType"], "client-markdown");
        assert_eq!(value["metadata"]["enableCustomActions"], true);
        assert_eq!(
            value["metadata"]["additionalContext"]["ActionGroup"],
            "greenlight"
        );
        assert_eq!(
            value["metadata"]["additionalContext"]["region"],
            "eu-west-1"
        );
        match classify(&json).unwrap() {
            TopicMessage::GateRequest(parsed) => assert_eq!(*parsed, request),
            other => panic!("classified as {other:?}"),
        }
    }

    #[test]
    fn a_recipe_notification_is_a_gate_request() {
        let message = r#"{"version":"1.0","source":"custom","content":{"textType":"client-markdown","title":"Approve?","description":"Deployment waiting"},"metadata":{"enableCustomActions":true,"additionalContext":{"ActionGroup":"ecs-approval","parameterName":"/ecs/blue-green/approval","region":"us-east-1"}}}"#;
        let TopicMessage::GateRequest(request) = classify(message).unwrap() else {
            panic!("not a gate request");
        };
        assert_eq!(request.parameter_name.as_str(), "/ecs/blue-green/approval");
        assert_eq!(request.title, "Approve?");
        assert_eq!(request.gate_id, None);
        assert_eq!(request.cluster, None);
    }

    #[test]
    fn a_bad_parameter_name_is_an_error_not_a_card() {
        let message = r#"{"version":"1.0","source":"custom","content":{"title":"x"},"metadata":{"additionalContext":{"parameterName":"/aws/evil"}}}"#;
        assert!(matches!(
            classify(message),
            Err(MessageError::BadParameterName(_))
        ));
    }

    #[test]
    fn follow_ups_round_trip() {
        let follow_up = GateFollowUp {
            gate_id: GateId::derive("y"),
            event: GateEvent::TimedOut {
                action: TimeoutAction::Continue,
            },
            at: Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap(),
        };
        let json = serde_json::to_string(&follow_up.to_notification()).unwrap();
        assert_eq!(classify(&json).unwrap(), TopicMessage::FollowUp(follow_up));
    }

    #[test]
    fn ecs_events_plain_text_and_other_json_are_told_apart() {
        let event = r#"{"version":"0","id":"1","detail-type":"ECS Deployment State Change","source":"aws.ecs","account":"123456789012","time":"2026-11-26T10:00:00Z","region":"eu-west-1","resources":["arn:aws:ecs:eu-west-1:123456789012:service/prod/web"],"detail":{"eventName":"SERVICE_DEPLOYMENT_COMPLETED"}}"#;
        let TopicMessage::EcsEvent(parsed) = classify(event).unwrap() else {
            panic!("not an ECS event");
        };
        assert_eq!(parsed.detail_type, "ECS Deployment State Change");
        assert_eq!(parsed.detail["eventName"], "SERVICE_DEPLOYMENT_COMPLETED");
        assert_eq!(
            classify("hello").unwrap(),
            TopicMessage::Plain("hello".into())
        );
        assert_eq!(
            classify(r#"{"a":1}"#).unwrap(),
            TopicMessage::Plain(r#"{"a":1}"#.into())
        );
        let note = r#"{"version":"1.0","source":"custom","content":{"title":"Heads up","description":"deploy at 5"}}"#;
        assert_eq!(
            classify(note).unwrap(),
            TopicMessage::Plain("Heads up\ndeploy at 5".into())
        );
    }
}
