//! The gate record: what the bot keeps about one gate, from the request to its end.
//!
//! It is stored as JSON in the gate table (`crate::store`), one item per gate, beside the version
//! every update is conditional on. Creating it is create-only, which doubles as the duplicate
//! check for SNS redeliveries; it also remembers where the card was posted so later events update
//! the same card and thread.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::evidence::{Deployer, Evidence, ProbeResult};
use super::gate::{Decision, GateId, ParameterName, TimeoutAction};
use super::notification::GateRequest;
use super::progress::{DeploymentPhase, DeploymentProgress, TrafficStep};
use super::stage::LifecycleStage;

/// How a decision on this gate takes effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Resolution {
    /// Flow A: write `approved` / `rejected` to this parameter; the hook polls it.
    Parameter { name: ParameterName },
    /// Flow B: call `ContinueServiceDeployment` for this paused hook.
    PauseHook { hook_id: String },
}

/// Where a card was posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardLocation {
    pub channel: String,
    pub ts: String,
    /// Set when the card is itself a reply in another card's thread (a later pause of the same
    /// deployment): the audit trail goes there too, since Slack threads do not nest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
}

impl CardLocation {
    /// The `ts` that thread replies about this card go under.
    pub fn thread_root(&self) -> &str {
        self.thread_ts.as_deref().unwrap_or(&self.ts)
    }
}

/// Where the gate stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum GateStatus {
    /// Waiting for people.
    Open,
    /// Someone (or a quorum) decided.
    #[serde(rename_all = "camelCase")]
    Decided {
        decision: Decision,
        /// Slack user ID of the person whose click settled it.
        by: String,
        at: DateTime<Utc>,
        /// Why, in their words, when they gave a reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The deadline passed; this action was taken.
    #[serde(rename_all = "camelCase")]
    TimedOut {
        action: TimeoutAction,
        at: DateTime<Utc>,
    },
    /// Resolved outside greenlight (the console, the CLI), as ECS reported.
    #[serde(rename_all = "camelCase")]
    ResolvedElsewhere { outcome: String, at: DateTime<Utc> },
}

impl GateStatus {
    pub fn is_open(&self) -> bool {
        matches!(self, GateStatus::Open)
    }
}

/// Everything the bot knows about one gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateRecord {
    pub gate_id: GateId,
    pub resolution: Resolution,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_deployment_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<LifecycleStage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_revisions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_action: Option<TimeoutAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_url: Option<String>,
    /// Where the card is; `None` until it has been posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardLocation>,
    /// When a delivery of the request took on posting the card, while it has none: of deliveries
    /// that race (an SNS retry next to a slow first attempt), only the one holding a fresh claim
    /// posts, and a claim left by a delivery that died goes stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_claimed_at: Option<DateTime<Utc>>,
    pub status: GateStatus,
    /// For a pause before one traffic step of a linear or canary deployment: which step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<TrafficStep>,
    /// What ECS last said about the deployment, from its state-change events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentProgress>,
    /// Who deployed: the task definition's `greenlight:deployer` tag, or the request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployer: Option<Deployer>,
    /// What the bot last read from ECS and CloudWatch for the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// What the hook's requests to the test URL got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeResult>,
    /// When the sweep last reminded the approvers (each reminder is taken by a conditional write,
    /// so two sweeps at once send it once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminded_at: Option<DateTime<Utc>>,
    /// When the sweep escalated the gate; it does so once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<DateTime<Utc>>,
    /// Since when the card may not show this record: a redraw failed, or was still on its way
    /// when the person had to be answered (Slack's 3 s). The sweep redraws it and clears this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_stale_since: Option<DateTime<Utc>>,
}

impl GateRecord {
    /// Whether the sweep has something to do for this gate: it is open, or its card is stale.
    pub fn needs_sweep(&self) -> bool {
        self.status.is_open() || self.card_stale_since.is_some()
    }
}

impl GateRecord {
    /// An open gate that knows only how it is resolved and what it is called; whoever knows more
    /// (the request, ECS) fills in the rest, e.g. with struct-update syntax.
    pub fn new(gate_id: GateId, resolution: Resolution, title: impl Into<String>) -> GateRecord {
        GateRecord {
            gate_id,
            resolution,
            title: title.into(),
            description: String::new(),
            region: None,
            cluster: None,
            service: None,
            service_deployment_arn: None,
            stage: None,
            target_revision: None,
            source_revisions: Vec::new(),
            requested_at: None,
            deadline: None,
            timeout_action: None,
            console_url: None,
            test_url: None,
            card: None,
            card_claimed_at: None,
            status: GateStatus::Open,
            step: None,
            deployment: None,
            deployer: None,
            evidence: None,
            probe: None,
            reminded_at: None,
            escalated_at: None,
            card_stale_since: None,
        }
    }

    /// The record of a freshly requested Flow A gate (greenlight's hook or the recipe's).
    pub fn from_request(request: &GateRequest) -> GateRecord {
        let gate_id = request
            .gate_id
            .clone()
            .unwrap_or_else(|| GateId::for_parameter(&request.parameter_name));
        let resolution = Resolution::Parameter {
            name: request.parameter_name.clone(),
        };
        GateRecord {
            description: request.description.clone(),
            region: request.region.clone(),
            cluster: request.cluster.clone(),
            service: request.service.clone(),
            service_deployment_arn: request.service_deployment_arn.clone(),
            stage: request.lifecycle_stage,
            target_revision: request.target_revision.clone(),
            source_revisions: request.source_revisions.clone(),
            requested_at: request.requested_at,
            deadline: request.deadline,
            timeout_action: request.timeout_action,
            console_url: request.console_url.clone(),
            test_url: request.test_url.clone(),
            deployer: request.deployer.clone(),
            probe: request.probe.clone(),
            ..GateRecord::new(gate_id, resolution, request.title.clone())
        }
    }

    /// The name people know the service by: the service, or the title for a recipe card.
    pub fn display_name(&self) -> &str {
        self.service.as_deref().unwrap_or(&self.title)
    }

    /// Whether the gate let the deployment go on: approved in greenlight, or timed out with
    /// the continue action.
    pub fn continued(&self) -> bool {
        matches!(
            self.status,
            GateStatus::Decided {
                decision: Decision::Approved,
                ..
            } | GateStatus::TimedOut {
                action: TimeoutAction::Continue,
                ..
            }
        )
    }

    /// Whether the card offers "Roll back now": after the gate let the deployment go on, until
    /// the deployment ends or a rollback is under way. It needs the service-deployment ARN for
    /// `StopServiceDeployment`, so a recipe card (which has none) never offers it.
    pub fn offers_rollback_now(&self) -> bool {
        self.continued()
            && self.service_deployment_arn.is_some()
            && self.deployment.as_ref().is_none_or(|progress| {
                !progress.phase.is_over()
                    && progress.phase != DeploymentPhase::RollingBack
                    && progress.rollback_requested_by.is_none()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_as_json() {
        let record = GateRecord {
            cluster: Some("prod".into()),
            service: Some("web".into()),
            stage: Some(LifecycleStage::ProductionTrafficShift),
            card: Some(CardLocation {
                channel: "C1".into(),
                ts: "1.2".into(),
                thread_ts: None,
            }),
            status: GateStatus::Decided {
                decision: Decision::Approved,
                by: "U1".into(),
                at: Utc::now(),
                reason: None,
            },
            ..GateRecord::new(
                GateId::derive("r"),
                Resolution::PauseHook {
                    hook_id: "h1".into(),
                },
                "t",
            )
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(r#""kind":"pauseHook""#), "{json}");
        assert!(json.contains(r#""state":"decided""#), "{json}");
        assert_eq!(serde_json::from_str::<GateRecord>(&json).unwrap(), record);
        assert_eq!(record.display_name(), "web");
        assert!(
            !json.contains("threadTs") && !json.contains("step"),
            "{json}"
        );
    }

    fn approved() -> GateRecord {
        let mut record = GateRecord {
            cluster: Some("prod".into()),
            service: Some("web".into()),
            service_deployment_arn: Some(
                "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/d1".into(),
            ),
            ..GateRecord::new(
                GateId::derive("approved"),
                Resolution::Parameter {
                    name: ParameterName::new("/g/prod/web/d1/POST_TEST_TRAFFIC_SHIFT").unwrap(),
                },
                "t",
            )
        };
        record.status = GateStatus::Decided {
            decision: Decision::Approved,
            by: "U1".into(),
            at: Utc::now(),
            reason: None,
        };
        record
    }

    #[test]
    fn rollback_now_is_offered_after_a_reroute_until_the_deployment_ends() {
        let mut record = approved();
        assert!(record.offers_rollback_now());
        record.deployment = Some(DeploymentProgress::observed(
            None,
            DeploymentPhase::InProgress,
            None,
            Utc::now(),
        ));
        assert!(record.offers_rollback_now());
        for phase in [
            DeploymentPhase::Completed,
            DeploymentPhase::RolledBack,
            DeploymentPhase::RollingBack,
            DeploymentPhase::Failed,
        ] {
            record.deployment = Some(DeploymentProgress::observed(None, phase, None, Utc::now()));
            assert!(!record.offers_rollback_now(), "{phase:?}");
        }
        let mut asked = approved();
        let mut progress =
            DeploymentProgress::observed(None, DeploymentPhase::InProgress, None, Utc::now());
        progress.rollback_requested_by = Some("U2".into());
        asked.deployment = Some(progress);
        assert!(!asked.offers_rollback_now());

        let mut open = approved();
        open.status = GateStatus::Open;
        assert!(!open.offers_rollback_now());
        let mut rejected = approved();
        rejected.status = GateStatus::Decided {
            decision: Decision::Rejected,
            by: "U1".into(),
            at: Utc::now(),
            reason: None,
        };
        assert!(!rejected.offers_rollback_now());
        let mut recipe = approved();
        recipe.service_deployment_arn = None;
        assert!(!recipe.offers_rollback_now());
    }

    #[test]
    fn old_records_without_the_new_fields_still_read() {
        let json = r#"{"gateId":"gl-0123456789ab","resolution":{"kind":"pauseHook","hook_id":"h"},"title":"t","card":{"channel":"C1","ts":"1.2"},"status":{"state":"open"}}"#;
        let record: GateRecord = serde_json::from_str(json).unwrap();
        assert_eq!(record.step, None);
        assert_eq!(record.deployment, None);
        assert_eq!(record.card.unwrap().thread_root(), "1.2");
    }
}
