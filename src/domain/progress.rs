//! What ECS says about a deployment while greenlight gates it: the two EventBridge events it
//! forwards to the topic, and the live state the card shows.
//!
//! `ECS Hook State Change` drives Flow B (a `PAUSE` hook waits for `ContinueServiceDeployment`);
//! `ECS Deployment State Change` keeps every card of a deployment current after its gate, for
//! both flows. Everything here is pure: the bot reads the events and `DescribeServiceDeployments`,
//! and these types say what that means for a person in the channel.

use super::text::clip;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deployment::ServiceDeploymentArn;
use super::notification::EcsEvent;
use super::stage::LifecycleStage;

/// `detail-type` of the event ECS emits when a lifecycle hook changes state.
pub const HOOK_STATE_CHANGE: &str = "ECS Hook State Change";
/// `detail-type` of the event ECS emits when a service deployment changes state.
pub const DEPLOYMENT_STATE_CHANGE: &str = "ECS Deployment State Change";

/// Longest ECS reason kept in a gate record: it is drawn on the card and repeated in the thread,
/// and ECS reasons (a circuit breaker's, an alarm's) can run long.
const REASON_MAX: usize = 300;

/// `eventName` of an `ECS Hook State Change` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookEventName {
    InProgress,
    /// A `PAUSE` hook is waiting for `ContinueServiceDeployment`: the moment a gate opens.
    AwaitingAction,
    Succeeded,
    Failed,
    TimedOut,
    /// A name this version does not know; acknowledged and otherwise ignored.
    Other(String),
}

impl HookEventName {
    fn parse(name: &str) -> HookEventName {
        match name {
            "HOOK_IN_PROGRESS" => HookEventName::InProgress,
            "HOOK_AWAITING_ACTION" => HookEventName::AwaitingAction,
            "HOOK_SUCCEEDED" => HookEventName::Succeeded,
            "HOOK_FAILED" => HookEventName::Failed,
            "HOOK_TIMED_OUT" => HookEventName::TimedOut,
            other => HookEventName::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            HookEventName::InProgress => "HOOK_IN_PROGRESS",
            HookEventName::AwaitingAction => "HOOK_AWAITING_ACTION",
            HookEventName::Succeeded => "HOOK_SUCCEEDED",
            HookEventName::Failed => "HOOK_FAILED",
            HookEventName::TimedOut => "HOOK_TIMED_OUT",
            HookEventName::Other(name) => name,
        }
    }
}

/// Why an ECS event cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the event is not an `{0}` event")]
    WrongType(&'static str),
    #[error("the event has no {0}")]
    Missing(&'static str),
    #[error("{0}")]
    BadDeployment(String),
}

/// An `ECS Hook State Change` event, read.
#[derive(Debug, Clone, PartialEq)]
pub struct HookEvent {
    pub name: HookEventName,
    /// Unique per hook execution: each pause of a linear or canary deployment has its own.
    pub hook_id: String,
    /// `PAUSE` or `AWS_LAMBDA`, when the event says.
    pub hook_type: Option<String>,
    pub deployment: ServiceDeploymentArn,
    pub stage: Option<LifecycleStage>,
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub region: Option<String>,
}

/// The `detail` of an `ECS Hook State Change` event, as far as greenlight reads it. Every field is
/// optional here and checked below, so that a missing one is named in the refusal.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookStateChangeDetail {
    event_name: Option<String>,
    hook_id: Option<String>,
    service_deployment_arn: Option<String>,
    hook_type: Option<String>,
    lifecycle_stage: Option<String>,
    expires_at: Option<String>,
    updated_at: Option<String>,
}

/// The `detail` of an `ECS Deployment State Change` event, as far as greenlight reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentStateChangeDetail {
    event_name: Option<String>,
    reason: Option<String>,
    deployment_id: Option<String>,
    updated_at: Option<String>,
}

/// The (cluster, service) of the first service ARN among an event's `resources`.
pub fn service_in_resources(event: &EcsEvent) -> Option<(String, String)> {
    event.resources.iter().flatten().find_map(|resource| {
        let path = resource.split_once(":service/")?.1;
        let (cluster, service) = path.split_once('/')?;
        Some((cluster.to_owned(), service.to_owned()))
    })
}

/// A detail read into its struct; a detail that is not an object of the right shape is refused.
fn read_detail<T: serde::de::DeserializeOwned>(event: &EcsEvent) -> Result<T, EventError> {
    serde_json::from_value(event.detail.clone())
        .map_err(|_| EventError::Missing("a readable detail"))
}

/// A present, non-blank string.
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// An RFC 3339 time, if the field holds one.
fn time_of(text: &Option<String>) -> Option<DateTime<Utc>> {
    given(text)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
}

impl HookEvent {
    /// Reads the event. The service-deployment ARN (from `detail`, else `resources[0]`) is parsed
    /// strictly: it is what a click later hands to `ContinueServiceDeployment`.
    pub fn from_event(event: &EcsEvent) -> Result<HookEvent, EventError> {
        if event.detail_type != HOOK_STATE_CHANGE {
            return Err(EventError::WrongType(HOOK_STATE_CHANGE));
        }
        let detail: HookStateChangeDetail = read_detail(event)?;
        let name = given(&detail.event_name).ok_or(EventError::Missing("eventName"))?;
        let hook_id = given(&detail.hook_id).ok_or(EventError::Missing("hookId"))?;
        // A hook id ends up in a gate id, a table key and log lines; ECS's are short and plain.
        if hook_id.len() > 256
            || !hook_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        {
            return Err(EventError::Missing("usable hookId"));
        }
        let arn = given(&detail.service_deployment_arn)
            .or_else(|| event.resources.iter().flatten().next().map(String::as_str))
            .ok_or(EventError::Missing("serviceDeploymentArn"))?;
        let deployment = arn
            .parse::<ServiceDeploymentArn>()
            .map_err(|error| EventError::BadDeployment(error.to_string()))?;
        Ok(HookEvent {
            name: HookEventName::parse(name),
            hook_id: hook_id.to_owned(),
            hook_type: given(&detail.hook_type).map(str::to_owned),
            stage: given(&detail.lifecycle_stage).and_then(|s| s.parse().ok()),
            expires_at: time_of(&detail.expires_at),
            updated_at: time_of(&detail.updated_at),
            region: event
                .region
                .clone()
                .or_else(|| Some(deployment.region().to_owned())),
            deployment,
        })
    }

    /// Whether this is a `PAUSE` hook. An event that does not say is taken as one: only pause
    /// hooks wait for an action, and a Lambda hook's id never matches a pause gate anyway.
    pub fn is_pause(&self) -> bool {
        self.hook_type
            .as_deref()
            .is_none_or(|kind| kind.eq_ignore_ascii_case("PAUSE"))
    }
}

/// An `ECS Deployment State Change` event, read.
///
/// It names the service (in `resources`) and a `deploymentId` such as `ecs-svc/123`, which is not
/// the service-deployment ARN greenlight's gates carry; so the bot finds the gate through the
/// service and asks `DescribeServiceDeployments` about the gate's own deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentEvent {
    pub name: String,
    pub reason: Option<String>,
    pub deployment_id: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub cluster: Option<String>,
    pub service: Option<String>,
}

impl DeploymentEvent {
    pub fn from_event(event: &EcsEvent) -> Result<DeploymentEvent, EventError> {
        if event.detail_type != DEPLOYMENT_STATE_CHANGE {
            return Err(EventError::WrongType(DEPLOYMENT_STATE_CHANGE));
        }
        let detail: DeploymentStateChangeDetail = read_detail(event)?;
        let name = given(&detail.event_name).ok_or(EventError::Missing("eventName"))?;
        let service = service_in_resources(event);
        Ok(DeploymentEvent {
            name: name.to_owned(),
            reason: given(&detail.reason).map(|r| clip(r, REASON_MAX)),
            deployment_id: given(&detail.deployment_id).map(str::to_owned),
            updated_at: time_of(&detail.updated_at),
            cluster: service.as_ref().map(|(cluster, _)| cluster.clone()),
            service: service.map(|(_, service)| service),
        })
    }
}

/// Where a deployment stands, in the few states people act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeploymentPhase {
    InProgress,
    RollingBack,
    Completed,
    RolledBack,
    Failed,
    Stopped,
}

impl DeploymentPhase {
    /// The deployment has ended: nothing is left to roll back.
    pub fn is_over(self) -> bool {
        matches!(
            self,
            DeploymentPhase::Completed
                | DeploymentPhase::RolledBack
                | DeploymentPhase::Failed
                | DeploymentPhase::Stopped
        )
    }

    /// The phase of a `DescribeServiceDeployments` status.
    pub fn from_ecs_status(status: &str) -> Option<DeploymentPhase> {
        Some(match status {
            "PENDING" | "IN_PROGRESS" => DeploymentPhase::InProgress,
            "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => DeploymentPhase::RollingBack,
            "SUCCESSFUL" => DeploymentPhase::Completed,
            "ROLLBACK_SUCCESSFUL" => DeploymentPhase::RolledBack,
            "ROLLBACK_FAILED" => DeploymentPhase::Failed,
            "STOP_REQUESTED" | "STOPPED" => DeploymentPhase::Stopped,
            _ => return None,
        })
    }

    /// The phase an `ECS Deployment State Change` event announces. ECS reports the start of a
    /// rollback as `SERVICE_DEPLOYMENT_IN_PROGRESS` with a reason that says so, and its end as
    /// `SERVICE_DEPLOYMENT_COMPLETED`; `previous` tells a finished rollback from a finished
    /// deployment when the reason does not.
    pub fn from_event(
        name: &str,
        reason: Option<&str>,
        previous: Option<DeploymentPhase>,
    ) -> Option<DeploymentPhase> {
        let rollback = reason.is_some_and(mentions_rollback);
        match name {
            "SERVICE_DEPLOYMENT_IN_PROGRESS" if rollback => Some(DeploymentPhase::RollingBack),
            "SERVICE_DEPLOYMENT_IN_PROGRESS" => Some(DeploymentPhase::InProgress),
            "SERVICE_DEPLOYMENT_COMPLETED"
                if rollback || previous == Some(DeploymentPhase::RollingBack) =>
            {
                Some(DeploymentPhase::RolledBack)
            }
            "SERVICE_DEPLOYMENT_COMPLETED" => Some(DeploymentPhase::Completed),
            "SERVICE_DEPLOYMENT_FAILED" => Some(DeploymentPhase::Failed),
            other if other.contains("ROLLBACK") => {
                if other.contains("COMPLETED") || other.contains("SUCCE") {
                    Some(DeploymentPhase::RolledBack)
                } else if other.contains("FAIL") {
                    Some(DeploymentPhase::Failed)
                } else {
                    Some(DeploymentPhase::RollingBack)
                }
            }
            _ => None,
        }
    }
}

fn mentions_rollback(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    ["rolling back", "rollback", "rolled back", "roll back"]
        .iter()
        .any(|words| reason.contains(words))
}

/// What greenlight last learned about a gate's deployment after the gate opened: the live line on
/// the card, and whether "Roll back now" still makes sense.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentProgress {
    pub phase: DeploymentPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// ECS's lifecycle stage as it spells it (it includes `BAKE_TIME` and `CLEAN_UP`, which take
    /// no hooks and so are not [`LifecycleStage`]s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// When the bake time ends, if the deployment was seen baking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_ends_at: Option<DateTime<Utc>>,
    /// Who clicked "Roll back now", and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_requested_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_requested_at: Option<DateTime<Utc>>,
    /// What an event said that `DescribeServiceDeployments` could not confirm (ECS could not be
    /// asked): shown on the card as unconfirmed until a later event or look settles it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<String>,
}

impl DeploymentProgress {
    /// A fresh observation, keeping who asked for a rollback from the previous one.
    pub fn observed(
        previous: Option<&DeploymentProgress>,
        phase: DeploymentPhase,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> DeploymentProgress {
        DeploymentProgress {
            phase,
            reason: reason
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(|r| clip(r, REASON_MAX)),
            stage: None,
            updated_at: at,
            bake_ends_at: None,
            rollback_requested_by: previous.and_then(|p| p.rollback_requested_by.clone()),
            rollback_requested_at: previous.and_then(|p| p.rollback_requested_at),
            unconfirmed: None,
        }
    }

    /// The same observation, marked as an event's word that ECS has not confirmed.
    pub fn unconfirmed(mut self, what: impl Into<String>) -> DeploymentProgress {
        self.unconfirmed = Some(clip(&what.into(), REASON_MAX));
        self
    }

    /// Adds what `DescribeServiceDeployments` said: the live stage and, during the bake time, when
    /// it ends. ECS does not report when the bake started; the deployment's `updatedAt` while it
    /// is in `BAKE_TIME` is when it last changed, which is entering that stage.
    pub fn with_live_state(
        mut self,
        stage: Option<&str>,
        updated_at: Option<DateTime<Utc>>,
        plan: &TrafficPlan,
    ) -> DeploymentProgress {
        self.stage = stage.map(str::to_owned);
        if stage == Some("BAKE_TIME")
            && self.phase == DeploymentPhase::InProgress
            && let (Some(since), Some(minutes)) = (updated_at, plan.bake_time_minutes)
        {
            self.bake_ends_at = Some(since + chrono::Duration::minutes(i64::from(minutes)));
        }
        self
    }

    /// Whether this says something new compared with `earlier` (so a redelivered event does not
    /// repeat itself in the thread).
    pub fn is_news_after(&self, earlier: Option<&DeploymentProgress>) -> bool {
        earlier.is_none_or(|earlier| {
            earlier.phase != self.phase
                || earlier.reason != self.reason
                || earlier.stage != self.stage
                || earlier.unconfirmed != self.unconfirmed
        })
    }

    /// The card's live line.
    pub fn status_line(&self, now: DateTime<Utc>) -> String {
        let line = self.confirmed_line(now);
        match &self.unconfirmed {
            Some(what) => format!("{line} · ⚠ unconfirmed: {what}"),
            None => line,
        }
    }

    fn confirmed_line(&self, now: DateTime<Utc>) -> String {
        let with_reason = |lead: &str| match &self.reason {
            Some(reason) => format!("{lead}: {reason}"),
            None => lead.to_owned(),
        };
        match self.phase {
            DeploymentPhase::InProgress => match self.bake_ends_at {
                Some(ends) if ends > now => {
                    let minutes = ((ends - now).num_seconds() + 59) / 60;
                    format!(
                        "bake time, about {minutes} min left (until {})",
                        ends.format("%H:%M UTC")
                    )
                }
                _ if self.rollback_requested_by.is_some() => "⏪ rollback requested".to_owned(),
                _ => match &self.stage {
                    Some(stage) => format!("deployment in progress: {stage}"),
                    None => "deployment in progress".to_owned(),
                },
            },
            DeploymentPhase::RollingBack => with_reason("⏪ rolling back"),
            DeploymentPhase::Completed => "✅ completed".to_owned(),
            DeploymentPhase::RolledBack => with_reason("⏪ rolled back"),
            DeploymentPhase::Failed => with_reason("❌ failed"),
            DeploymentPhase::Stopped => with_reason("⏹ stopped"),
        }
    }

    /// The thread reply announcing this state (plain text: the caller escapes it).
    pub fn note(&self, now: DateTime<Utc>) -> String {
        match self.phase {
            DeploymentPhase::InProgress => format!("ECS: {}", self.status_line(now)),
            _ => format!("ECS: deployment {}", self.status_line(now)),
        }
    }
}

/// How a deployment moves production traffic, from its `deploymentConfiguration`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrafficPlan {
    /// `BLUE_GREEN`, `LINEAR`, `CANARY` or `ROLLING`.
    pub strategy: Option<String>,
    pub bake_time_minutes: Option<u32>,
    pub linear_step_percent: Option<f64>,
    pub canary_percent: Option<f64>,
}

/// ECS's defaults when a linear or canary configuration leaves the percentage out.
const LINEAR_DEFAULT_STEP: f64 = 10.0;
const CANARY_DEFAULT_PERCENT: f64 = 5.0;
/// Below this a weight counts as zero; above `100 - EPSILON` as all of it.
const EPSILON: f64 = 0.05;

/// Which traffic step of a linear or canary deployment a pause comes before.
///
/// ECS pauses a linear or canary deployment at `PRE_PRODUCTION_TRAFFIC_SHIFT` before every step
/// (pause hooks cannot sit at `PRODUCTION_TRAFFIC_SHIFT` itself), so each step is its own gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficStep {
    /// The step about to happen, from 1.
    pub number: u32,
    /// How many steps there are, when the configuration says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<u32>,
    /// Production traffic on the new revision now, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub green_percent: Option<f64>,
    /// Production traffic on the new revision after this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_percent: Option<f64>,
}

impl TrafficStep {
    /// The step of a pause, from the plan and the target revision's production weight when ECS
    /// reports them; otherwise counted from the gates already opened at this stage
    /// (`earlier_steps`). `None` when the deployment moves traffic in one go.
    pub fn derive(
        plan: &TrafficPlan,
        green_weight: Option<f64>,
        earlier_steps: usize,
    ) -> Option<TrafficStep> {
        let counted = u32::try_from(earlier_steps).unwrap_or(u32::MAX - 1) + 1;
        let green_weight = green_weight.filter(|w| w.is_finite() && (0.0..=100.0).contains(w));
        match plan.strategy.as_deref() {
            Some("LINEAR") => {
                let step = plan
                    .linear_step_percent
                    .filter(|p| p.is_finite() && *p > 0.0)
                    .unwrap_or(LINEAR_DEFAULT_STEP);
                let of = (100.0 / step - 1e-9).ceil().max(1.0) as u32;
                let number = green_weight
                    .map(|w| ((w + EPSILON) / step).floor() as u32 + 1)
                    .unwrap_or(counted)
                    .clamp(1, of);
                Some(TrafficStep {
                    number,
                    of: Some(of),
                    green_percent: green_weight,
                    next_percent: green_weight.map(|w| (w + step).min(100.0)),
                })
            }
            Some("CANARY") => {
                let canary = plan
                    .canary_percent
                    .filter(|p| p.is_finite() && *p > 0.0)
                    .unwrap_or(CANARY_DEFAULT_PERCENT);
                let number = green_weight
                    .map(|w| if w < EPSILON { 1 } else { 2 })
                    .unwrap_or(counted)
                    .clamp(1, 2);
                Some(TrafficStep {
                    number,
                    of: Some(2),
                    green_percent: green_weight,
                    next_percent: Some(if number == 1 { canary } else { 100.0 }),
                })
            }
            _ if earlier_steps > 0 => Some(TrafficStep {
                number: counted,
                of: None,
                green_percent: green_weight,
                next_percent: None,
            }),
            _ => None,
        }
    }

    /// "step 2 of 4: 25 % on green, next 50 %", or as much of it as is known.
    pub fn describe(&self) -> String {
        let mut text = format!("step {}", self.number);
        if let Some(of) = self.of {
            text.push_str(&format!(" of {of}"));
        }
        if let Some(green) = self.green_percent {
            text.push_str(&format!(": {} on green", percent(green)));
            if let Some(next) = self.next_percent {
                text.push_str(&format!(", next {}", percent(next)));
            }
        } else if let Some(next) = self.next_percent {
            text.push_str(&format!(": moves green to {}", percent(next)));
        }
        text
    }
}

fn percent(value: f64) -> String {
    if (value - value.round()).abs() < EPSILON {
        format!("{:.0} %", value.round())
    } else {
        format!("{value:.1} %")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    const ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/d1";

    fn event(value: serde_json::Value) -> EcsEvent {
        serde_json::from_value(value).unwrap()
    }

    fn hook_event(name: &str) -> EcsEvent {
        event(json!({
            "version": "0", "id": "e1", "detail-type": HOOK_STATE_CHANGE, "source": "aws.ecs",
            "account": "123456789012", "time": "2026-06-01T10:00:00Z", "region": "eu-west-1",
            "resources": [ARN],
            "detail": {
                "eventType": "INFO", "eventName": name, "hookId": "ecs-pause-abc_DEF-1",
                "hookType": "PAUSE", "expiresAt": "2026-06-02T10:00:00Z",
                "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
                "clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
                "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
                "serviceDeploymentArn": ARN, "updatedAt": "2026-06-01T10:00:00.123Z"
            }
        }))
    }

    #[test]
    fn a_hook_event_is_read_in_its_documented_shape() {
        let read = HookEvent::from_event(&hook_event("HOOK_AWAITING_ACTION")).unwrap();
        assert_eq!(read.name, HookEventName::AwaitingAction);
        assert_eq!(read.hook_id, "ecs-pause-abc_DEF-1");
        assert!(read.is_pause());
        assert_eq!(read.deployment.to_string(), ARN);
        assert_eq!(read.deployment.service(), "web");
        assert_eq!(read.stage, Some(LifecycleStage::PostTestTrafficShift));
        assert_eq!(
            read.expires_at,
            Some(Utc.with_ymd_and_hms(2026, 6, 2, 10, 0, 0).unwrap())
        );
        assert!(read.updated_at.is_some());
        assert_eq!(read.region.as_deref(), Some("eu-west-1"));
        for (name, expected) in [
            ("HOOK_SUCCEEDED", HookEventName::Succeeded),
            ("HOOK_FAILED", HookEventName::Failed),
            ("HOOK_TIMED_OUT", HookEventName::TimedOut),
            ("HOOK_IN_PROGRESS", HookEventName::InProgress),
            (
                "HOOK_SOMETHING",
                HookEventName::Other("HOOK_SOMETHING".into()),
            ),
        ] {
            let read = HookEvent::from_event(&hook_event(name)).unwrap();
            assert_eq!(read.name, expected);
            assert_eq!(read.name.as_str(), name);
        }
    }

    #[test]
    fn a_hook_event_without_a_usable_deployment_or_hook_is_refused() {
        let mut bad = hook_event("HOOK_AWAITING_ACTION");
        bad.detail["serviceDeploymentArn"] = json!("arn:aws:ecs:eu-west-1:1:service/prod/web");
        bad.resources = None;
        assert!(matches!(
            HookEvent::from_event(&bad),
            Err(EventError::BadDeployment(_))
        ));
        let mut bad = hook_event("HOOK_AWAITING_ACTION");
        bad.detail["hookId"] = json!("a/../b");
        assert!(HookEvent::from_event(&bad).is_err());
        let mut only_resources = hook_event("HOOK_AWAITING_ACTION");
        only_resources
            .detail
            .as_object_mut()
            .unwrap()
            .remove("serviceDeploymentArn");
        assert_eq!(
            HookEvent::from_event(&only_resources)
                .unwrap()
                .deployment
                .to_string(),
            ARN
        );
        let mut lambda = hook_event("HOOK_SUCCEEDED");
        lambda.detail["hookType"] = json!("AWS_LAMBDA");
        assert!(!HookEvent::from_event(&lambda).unwrap().is_pause());
    }

    #[test]
    fn a_deployment_event_names_its_service() {
        let read = DeploymentEvent::from_event(&event(json!({
            "detail-type": DEPLOYMENT_STATE_CHANGE, "source": "aws.ecs",
            "resources": ["arn:aws:ecs:eu-west-1:123456789012:service/prod/web"],
            "detail": {"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
                "deploymentId": "ecs-svc/123", "updatedAt": "2026-06-01T10:00:00Z",
                "reason": "ECS deployment circuit breaker: tasks failed to start."}
        })))
        .unwrap();
        assert_eq!(read.name, "SERVICE_DEPLOYMENT_FAILED");
        assert_eq!(read.cluster.as_deref(), Some("prod"));
        assert_eq!(read.service.as_deref(), Some("web"));
        assert_eq!(read.deployment_id.as_deref(), Some("ecs-svc/123"));
        assert!(read.reason.unwrap().contains("circuit breaker"));
        assert!(matches!(
            DeploymentEvent::from_event(&hook_event("HOOK_FAILED")),
            Err(EventError::WrongType(_))
        ));
    }

    #[test]
    fn phases_follow_events_and_statuses() {
        use DeploymentPhase::*;
        assert_eq!(
            DeploymentPhase::from_event("SERVICE_DEPLOYMENT_IN_PROGRESS", None, None),
            Some(InProgress)
        );
        let rolling = "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.";
        assert_eq!(
            DeploymentPhase::from_event("SERVICE_DEPLOYMENT_IN_PROGRESS", Some(rolling), None),
            Some(RollingBack)
        );
        assert_eq!(
            DeploymentPhase::from_event("SERVICE_DEPLOYMENT_COMPLETED", None, Some(RollingBack)),
            Some(RolledBack)
        );
        assert_eq!(
            DeploymentPhase::from_event("SERVICE_DEPLOYMENT_COMPLETED", None, Some(InProgress)),
            Some(Completed)
        );
        assert_eq!(
            DeploymentPhase::from_event("SERVICE_DEPLOYMENT_FAILED", Some("x"), None),
            Some(Failed)
        );
        assert_eq!(
            DeploymentPhase::from_event("SERVICE_DEPLOYMENT_ROLLBACK_COMPLETED", None, None),
            Some(RolledBack)
        );
        assert_eq!(
            DeploymentPhase::from_event("SOMETHING_ELSE", None, None),
            None
        );
        assert_eq!(
            DeploymentPhase::from_ecs_status("SUCCESSFUL"),
            Some(Completed)
        );
        assert_eq!(
            DeploymentPhase::from_ecs_status("ROLLBACK_IN_PROGRESS"),
            Some(RollingBack)
        );
        assert_eq!(
            DeploymentPhase::from_ecs_status("ROLLBACK_SUCCESSFUL"),
            Some(RolledBack)
        );
        assert_eq!(DeploymentPhase::from_ecs_status(""), None);
        assert!(Completed.is_over() && RolledBack.is_over() && Failed.is_over());
        assert!(!InProgress.is_over() && !RollingBack.is_over());
    }

    #[test]
    fn the_status_line_says_what_people_need() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap();
        let plan = TrafficPlan {
            strategy: Some("BLUE_GREEN".into()),
            bake_time_minutes: Some(15),
            ..TrafficPlan::default()
        };
        let baking = DeploymentProgress::observed(None, DeploymentPhase::InProgress, None, now)
            .with_live_state(
                Some("BAKE_TIME"),
                Some(now - chrono::Duration::minutes(3)),
                &plan,
            );
        assert_eq!(
            baking.status_line(now),
            "bake time, about 12 min left (until 10:12 UTC)"
        );
        let shifting = DeploymentProgress::observed(None, DeploymentPhase::InProgress, None, now)
            .with_live_state(Some("PRODUCTION_TRAFFIC_SHIFT"), Some(now), &plan);
        assert_eq!(shifting.bake_ends_at, None);
        assert_eq!(
            shifting.status_line(now),
            "deployment in progress: PRODUCTION_TRAFFIC_SHIFT"
        );
        let done =
            DeploymentProgress::observed(Some(&baking), DeploymentPhase::Completed, None, now);
        assert_eq!(done.status_line(now), "✅ completed");
        assert_eq!(done.note(now), "ECS: deployment ✅ completed");
        let back = DeploymentProgress::observed(
            None,
            DeploymentPhase::RolledBack,
            Some("alarm web-5xx"),
            now,
        );
        assert_eq!(back.status_line(now), "⏪ rolled back: alarm web-5xx");
        assert!(back.is_news_after(Some(&done)));
        assert!(!back.is_news_after(Some(&back.clone())));
        assert!(back.is_news_after(None));
    }

    #[test]
    fn rollback_requests_survive_new_observations() {
        let now = Utc::now();
        let mut asked = DeploymentProgress::observed(None, DeploymentPhase::InProgress, None, now);
        asked.rollback_requested_by = Some("U1".into());
        asked.rollback_requested_at = Some(now);
        let later =
            DeploymentProgress::observed(Some(&asked), DeploymentPhase::RollingBack, None, now);
        assert_eq!(later.rollback_requested_by.as_deref(), Some("U1"));
        assert_eq!(asked.status_line(now), "⏪ rollback requested");
    }

    #[test]
    fn linear_steps_come_from_the_weights() {
        let plan = TrafficPlan {
            strategy: Some("LINEAR".into()),
            linear_step_percent: Some(25.0),
            ..TrafficPlan::default()
        };
        let first = TrafficStep::derive(&plan, Some(0.0), 0).unwrap();
        assert_eq!(first.describe(), "step 1 of 4: 0 % on green, next 25 %");
        let second = TrafficStep::derive(&plan, Some(25.0), 0).unwrap();
        assert_eq!(second.describe(), "step 2 of 4: 25 % on green, next 50 %");
        let counted = TrafficStep::derive(&plan, None, 2).unwrap();
        assert_eq!(counted.describe(), "step 3 of 4");
        let thirds = TrafficPlan {
            linear_step_percent: Some(33.3),
            ..plan.clone()
        };
        assert_eq!(
            TrafficStep::derive(&thirds, Some(33.3), 0)
                .unwrap()
                .describe(),
            "step 2 of 4: 33.3 % on green, next 66.6 %"
        );
        let default_step = TrafficPlan {
            linear_step_percent: None,
            ..plan
        };
        assert_eq!(
            TrafficStep::derive(&default_step, Some(10.0), 0)
                .unwrap()
                .of,
            Some(10)
        );
    }

    #[test]
    fn canary_steps_and_unknown_plans() {
        let canary = TrafficPlan {
            strategy: Some("CANARY".into()),
            canary_percent: Some(10.0),
            ..TrafficPlan::default()
        };
        assert_eq!(
            TrafficStep::derive(&canary, Some(0.0), 0)
                .unwrap()
                .describe(),
            "step 1 of 2: 0 % on green, next 10 %"
        );
        assert_eq!(
            TrafficStep::derive(&canary, Some(10.0), 0)
                .unwrap()
                .describe(),
            "step 2 of 2: 10 % on green, next 100 %"
        );
        assert_eq!(
            TrafficStep::derive(&canary, None, 0).unwrap().describe(),
            "step 1 of 2: moves green to 10 %"
        );
        let blue_green = TrafficPlan {
            strategy: Some("BLUE_GREEN".into()),
            ..TrafficPlan::default()
        };
        assert_eq!(TrafficStep::derive(&blue_green, Some(0.0), 0), None);
        assert_eq!(
            TrafficStep::derive(&TrafficPlan::default(), None, 1)
                .unwrap()
                .describe(),
            "step 2"
        );
    }
}
