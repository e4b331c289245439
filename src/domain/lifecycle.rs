//! The ECS lifecycle-hook contract: what ECS sends the hook Lambda and what it must answer.
//!
//! Parsing is strict and by hand rather than a lenient `Deserialize`: every way a payload can be
//! wrong has its own reason, because the hook answers `FAILED` to anything it cannot understand
//! (a broken gate must never wave a deployment through) and the reason is what an operator reads.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::deployment::ServiceDeploymentArn;
use super::gate::{GateId, ParameterName, TimeoutAction};
use super::stage::LifecycleStage;

/// One invocation of the hook by ECS, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct HookInvocation {
    pub execution_id: String,
    pub stage: LifecycleStage,
    pub deployment: ServiceDeploymentArn,
    pub service_arn: String,
    pub target_revision: String,
    pub test_traffic_weights: Map<String, Value>,
    pub production_traffic_weights: Map<String, Value>,
    /// Whatever ECS passed in `hookDetails` (configured on the service, or returned by an earlier
    /// invocation), kept whole so every key goes back to ECS.
    pub hook_details: Map<String, Value>,
    /// greenlight's own record inside `hookDetails`, when an earlier invocation opened the gate.
    pub marker: Option<GateMarker>,
}

/// What the hook remembers between invocations, in `hookDetails.greenlight`. Everything the next
/// invocation needs is here, so the hook keeps no state of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateMarker {
    pub gate_id: GateId,
    pub parameter_name: ParameterName,
    pub requested_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    /// Decided when the gate opened, so a policy change mid-gate cannot change what happens.
    pub timeout_action: TimeoutAction,
    /// When the gate request was last published (the first time: `requested_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    /// Whether the bot's table showed the gate carded: from then on the request is not
    /// published again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub carded: bool,
}

/// The key under which the marker lives in `hookDetails`.
pub const MARKER_KEY: &str = "greenlight";

/// Why a payload is not a lifecycle-hook invocation greenlight can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the payload is not a JSON object")]
    NotAnObject,
    #[error("`{0}` is missing")]
    Missing(&'static str),
    #[error("`{0}` must be a non-empty string")]
    NotAString(&'static str),
    #[error("`{0}` must be an object")]
    NotAnObjectField(&'static str),
    #[error(transparent)]
    Stage(#[from] super::stage::UnknownStage),
    #[error(transparent)]
    DeploymentArn(#[from] super::deployment::InvalidDeploymentArn),
    #[error(
        "`executionDetails.serviceArn` ({service_arn}) is not the service of `resourceArn` ({cluster}/{service})"
    )]
    ServiceMismatch {
        service_arn: String,
        cluster: String,
        service: String,
    },
    #[error("`hookDetails.greenlight` is not a greenlight marker: {0}")]
    BadMarker(String),
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    key: &'static str,
) -> Result<&'a str, PayloadError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(PayloadError::Missing(key)),
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text),
        Some(_) => Err(PayloadError::NotAString(key)),
    }
}

fn optional_object(
    object: &Map<String, Value>,
    key: &'static str,
) -> Result<Map<String, Value>, PayloadError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(inner)) => Ok(inner.clone()),
        Some(_) => Err(PayloadError::NotAnObjectField(key)),
    }
}

impl HookInvocation {
    /// Validates a payload as ECS sends it.
    pub fn parse(payload: &Value) -> Result<HookInvocation, PayloadError> {
        let object = payload.as_object().ok_or(PayloadError::NotAnObject)?;
        let execution_id = required_str(object, "executionId")?.to_owned();
        let stage = required_str(object, "lifecycleStage")?.parse::<LifecycleStage>()?;
        let deployment = required_str(object, "resourceArn")?.parse::<ServiceDeploymentArn>()?;
        let details = match object.get("executionDetails") {
            None | Some(Value::Null) => return Err(PayloadError::Missing("executionDetails")),
            Some(Value::Object(details)) => details,
            Some(_) => return Err(PayloadError::NotAnObjectField("executionDetails")),
        };
        let service_arn = required_str(details, "serviceArn")
            .map_err(|err| rename(err, "executionDetails.serviceArn"))?
            .to_owned();
        let expected_suffix = format!(":service/{}/{}", deployment.cluster(), deployment.service());
        if !service_arn.ends_with(&expected_suffix) {
            return Err(PayloadError::ServiceMismatch {
                service_arn,
                cluster: deployment.cluster().to_owned(),
                service: deployment.service().to_owned(),
            });
        }
        let target_revision = required_str(details, "targetServiceRevisionArn")
            .map_err(|err| rename(err, "executionDetails.targetServiceRevisionArn"))?
            .to_owned();
        let test_traffic_weights = optional_object(details, "testTrafficWeights")
            .map_err(|err| rename(err, "executionDetails.testTrafficWeights"))?;
        let production_traffic_weights = optional_object(details, "productionTrafficWeights")
            .map_err(|err| rename(err, "executionDetails.productionTrafficWeights"))?;
        let hook_details = parse_hook_details(object.get("hookDetails"))?;
        let marker = match hook_details.get(MARKER_KEY) {
            None => None,
            Some(value) => Some(
                serde_json::from_value::<GateMarker>(value.clone())
                    .map_err(|err| PayloadError::BadMarker(err.to_string()))?,
            ),
        };
        Ok(HookInvocation {
            execution_id,
            stage,
            deployment,
            service_arn,
            target_revision,
            test_traffic_weights,
            production_traffic_weights,
            hook_details,
            marker,
        })
    }

    /// `hookDetails` to hand back to ECS: everything that came in, with the marker set or removed.
    pub fn details_with(&self, marker: Option<&GateMarker>) -> Map<String, Value> {
        let mut details = self.hook_details.clone();
        match marker.and_then(|marker| serde_json::to_value(marker).ok()) {
            Some(value) => {
                details.insert(MARKER_KEY.to_owned(), value);
            }
            None => {
                details.remove(MARKER_KEY);
            }
        }
        details
    }
}

/// Re-labels a field error with the field's full path.
fn rename(err: PayloadError, path: &'static str) -> PayloadError {
    match err {
        PayloadError::Missing(_) => PayloadError::Missing(path),
        PayloadError::NotAString(_) => PayloadError::NotAString(path),
        PayloadError::NotAnObjectField(_) => PayloadError::NotAnObjectField(path),
        other => other,
    }
}

/// `hookDetails` arrives as a JSON object; a JSON object encoded in a string is accepted as well,
/// since that is how the field is set through some tools.
fn parse_hook_details(value: Option<&Value>) -> Result<Map<String, Value>, PayloadError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(details)) => Ok(details.clone()),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(Map::new()),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(details)) => Ok(details),
            _ => Err(PayloadError::NotAnObjectField("hookDetails")),
        },
        Some(_) => Err(PayloadError::NotAnObjectField("hookDetails")),
    }
}

/// What the hook tells ECS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    /// Go on with the deployment.
    Succeeded,
    /// Stop: ECS rolls the deployment back.
    Failed,
    /// Ask again after `callBackDelay` seconds.
    InProgress,
}

impl HookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Succeeded => "SUCCEEDED",
            HookStatus::Failed => "FAILED",
            HookStatus::InProgress => "IN_PROGRESS",
        }
    }
}

/// The hook's answer. The key is `callBackDelay` (one AWS page misspells it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookResponse {
    pub hook_status: HookStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_back_delay: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_details: Option<Map<String, Value>>,
}

impl HookResponse {
    pub fn finished(status: HookStatus, details: Option<Map<String, Value>>) -> HookResponse {
        HookResponse {
            hook_status: status,
            call_back_delay: None,
            hook_details: details.filter(|details| !details.is_empty()),
        }
    }

    pub fn in_progress(call_back_delay: u32, details: Map<String, Value>) -> HookResponse {
        HookResponse {
            hook_status: HookStatus::InProgress,
            call_back_delay: Some(call_back_delay),
            hook_details: Some(details).filter(|details| !details.is_empty()),
        }
    }
}

/// RFC 3339 at whole seconds, the one time format greenlight writes.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> Value {
        json!({
            "executionId": "exec-1",
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "resourceArn": "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/d1",
            "executionDetails": {
                "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
                "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/2",
                "testTrafficWeights": {"arn:…/2": 100},
                "productionTrafficWeights": {"arn:…/1": 100}
            },
            "hookDetails": {"team": "payments"}
        })
    }

    #[test]
    fn parses_a_documented_payload() {
        let invocation = HookInvocation::parse(&payload()).unwrap();
        assert_eq!(invocation.stage, LifecycleStage::PostTestTrafficShift);
        assert_eq!(invocation.deployment.service(), "web");
        assert_eq!(invocation.hook_details["team"], "payments");
        assert_eq!(invocation.marker, None);
    }

    #[test]
    fn the_response_uses_ecs_spelling_and_keeps_hook_details() {
        let invocation = HookInvocation::parse(&payload()).unwrap();
        let marker = GateMarker {
            gate_id: GateId::derive("k"),
            parameter_name: ParameterName::new("/p/x").unwrap(),
            requested_at: Utc::now(),
            deadline: Utc::now(),
            timeout_action: TimeoutAction::Rollback,
            published_at: None,
            carded: false,
        };
        let response = HookResponse::in_progress(5, invocation.details_with(Some(&marker)));
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["hookStatus"], "IN_PROGRESS");
        assert_eq!(json["callBackDelay"], 5);
        assert_eq!(json["hookDetails"]["team"], "payments");
        assert_eq!(
            json["hookDetails"]["greenlight"]["gateId"],
            marker.gate_id.as_str()
        );
        let again = HookInvocation::parse(&json!({
            "executionId": "exec-1",
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "resourceArn": "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/d1",
            "executionDetails": payload()["executionDetails"].clone(),
            "hookDetails": json["hookDetails"].to_string(),
        }))
        .unwrap();
        assert_eq!(again.marker, Some(marker));
    }

    #[test]
    fn each_malformation_has_its_own_reason() {
        let mut cases: Vec<(Value, &str)> = vec![
            (json!([1, 2]), "not a JSON object"),
            (json!("text"), "not a JSON object"),
        ];
        let mut without = |key: &str, expect: &'static str| {
            let mut p = payload();
            p.as_object_mut().unwrap().remove(key);
            cases.push((p, expect));
        };
        without("executionId", "`executionId` is missing");
        without("lifecycleStage", "`lifecycleStage` is missing");
        without("resourceArn", "`resourceArn` is missing");
        without("executionDetails", "`executionDetails` is missing");
        let mut set = |path: &[&str], value: Value, expect: &'static str| {
            let mut p = payload();
            let mut target = &mut p;
            for key in &path[..path.len() - 1] {
                target = target.get_mut(*key).unwrap();
            }
            target[path[path.len() - 1]] = value;
            cases.push((p, expect));
        };
        set(
            &["lifecycleStage"],
            json!("SOMETIME"),
            "not an ECS lifecycle stage",
        );
        set(
            &["resourceArn"],
            json!("arn:aws:ecs:eu-west-1:123456789012:service/prod/web"),
            "not an ECS service-deployment ARN",
        );
        set(
            &["executionId"],
            json!(42),
            "`executionId` must be a non-empty string",
        );
        set(
            &["executionDetails", "serviceArn"],
            json!("arn:aws:ecs:eu-west-1:123456789012:service/prod/other"),
            "is not the service of",
        );
        set(
            &["executionDetails", "targetServiceRevisionArn"],
            json!(""),
            "`executionDetails.targetServiceRevisionArn` must be",
        );
        set(
            &["executionDetails", "testTrafficWeights"],
            json!([1]),
            "`executionDetails.testTrafficWeights` must be an object",
        );
        set(
            &["hookDetails"],
            json!(7),
            "`hookDetails` must be an object",
        );
        set(
            &["hookDetails"],
            json!({"greenlight": {"gateId": "nope"}}),
            "not a greenlight marker",
        );
        set(
            &["executionDetails"],
            json!("x"),
            "`executionDetails` must be an object",
        );
        for (payload, expect) in cases {
            let err = HookInvocation::parse(&payload).unwrap_err().to_string();
            assert!(err.contains(expect), "{err} should contain {expect}");
        }
    }
}
