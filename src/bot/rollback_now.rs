//! "Roll back now": stopping a deployment with a rollback after its gate let it go on.
//!
//! Once a gate is approved, ECS shifts production traffic and then bakes; until the deployment
//! completes, the card offers one more way back, `StopServiceDeployment(stopType ROLLBACK)`, for
//! both flows (Flow A's records carry the service-deployment ARN too). It takes the same checks as
//! Rollback: the clicker must be an approver of the gate's rule, in the card's channel. A
//! create-only lock per deployment makes exactly one stop reach ECS however many people click,
//! on however many of the deployment's cards.

use chrono::Utc;

use crate::card::AuditEvent;
use crate::domain::gate::{Decision, GateId};
use crate::domain::progress::{DeploymentPhase, DeploymentProgress};
use crate::domain::record::{GateRecord, GateStatus};
use crate::policy::Refusal;
use crate::ports::Created;
use crate::store::DecisionLock;
use slack_morphism::prelude::{SlackChannelId, SlackUserId};

use super::Bot;

/// What came of one "Roll back now" click.
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackNow {
    /// This click made ECS stop the deployment and roll back.
    Requested,
    /// Someone asked first; nothing more was sent.
    AlreadyRequested {
        by: String,
    },
    /// The deployment has already ended (or is already rolling back): nothing to stop.
    AlreadyOver {
        status: String,
    },
    /// The gate is not in a state where "Roll back now" applies.
    NotOffered {
        why: &'static str,
    },
    UnknownGate,
    Refused(Refusal),
    /// ECS or the gate store failed; nothing was stopped.
    Failed {
        reason: &'static str,
    },
}

impl RollbackNow {
    /// The sentence the person sees (ephemeral).
    pub fn message(&self, gate: &GateId) -> String {
        match self {
            RollbackNow::Requested => {
                format!("⏪ You rolled back `{gate}`: ECS stops the deployment and rolls it back.")
            }
            RollbackNow::AlreadyRequested { by } => format!(
                "<@{by}> already asked ECS to roll back the deployment of `{gate}`; your click changed nothing."
            ),
            RollbackNow::AlreadyOver { status } => format!(
                "The deployment of `{gate}` has already ended ({status}); there is nothing to roll back now."
            ),
            RollbackNow::NotOffered { why } => format!("`{gate}`: {why}; nothing was changed."),
            RollbackNow::UnknownGate => {
                format!("greenlight knows no gate `{gate}`; nothing was changed.")
            }
            RollbackNow::Refused(refusal) => format!("🚫 {refusal}"),
            RollbackNow::Failed { reason } => {
                format!("⚠️ Nothing was rolled back: {reason}. Try again in a moment.")
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            RollbackNow::Requested => "rollback_requested",
            RollbackNow::AlreadyRequested { .. } => "already_requested",
            RollbackNow::AlreadyOver { .. } => "already_over",
            RollbackNow::NotOffered { .. } => "not_offered",
            RollbackNow::UnknownGate => "unknown_gate",
            RollbackNow::Refused(refusal) => refusal.code(),
            RollbackNow::Failed { .. } => "failed",
        }
    }
}

impl Bot {
    /// One person's "Roll back now" click, with its one structured log line.
    pub async fn roll_back_now(
        &self,
        gate: &GateId,
        user: &SlackUserId,
        channel: &SlackChannelId,
    ) -> RollbackNow {
        let outcome = self.try_roll_back_now(gate, user, channel).await;
        let (user, channel) = (user.0.as_str(), channel.0.as_str());
        match &outcome {
            RollbackNow::Refused(refusal) => {
                tracing::warn!(event = "gate.refusal", gate_id = %gate, user, channel, action = "rollback_now", outcome = outcome.code(), reason = %refusal)
            }
            RollbackNow::Failed { reason } => {
                tracing::error!(event = "gate.rollback_now", gate_id = %gate, user, channel, outcome = outcome.code(), reason)
            }
            _ => {
                tracing::info!(event = "gate.rollback_now", gate_id = %gate, user, channel, outcome = outcome.code())
            }
        }
        outcome
    }

    async fn try_roll_back_now(
        &self,
        gate: &GateId,
        user: &SlackUserId,
        channel: &SlackChannelId,
    ) -> RollbackNow {
        let record = match self.gates.load(gate).await {
            Ok(Some(record)) => record,
            Ok(None) => return RollbackNow::UnknownGate,
            Err(_) => {
                return RollbackNow::Failed {
                    reason: "the gate store is unavailable",
                };
            }
        };
        let Some(arn) = record.service_deployment_arn.clone() else {
            return RollbackNow::NotOffered {
                why: "this gate names no ECS service deployment",
            };
        };
        if !record.continued() {
            return RollbackNow::NotOffered {
                why: match record.status {
                    GateStatus::Open => "the gate is still open: use its Rollback button",
                    _ => "the gate did not let the deployment go on",
                },
            };
        }
        if let Some(progress) = &record.deployment {
            if let Some(by) = &progress.rollback_requested_by {
                return RollbackNow::AlreadyRequested { by: by.clone() };
            }
            if progress.phase.is_over() || progress.phase == DeploymentPhase::RollingBack {
                return RollbackNow::AlreadyOver {
                    status: progress.status_line(Utc::now()),
                };
            }
        }
        if let Err(refusal) = self
            .authorize_on_gate(&record, user, channel, Decision::Rejected)
            .await
        {
            return RollbackNow::Refused(refusal);
        }
        // An ended deployment is reported, not stopped: ECS would refuse, and the card is stale.
        match self.deployments.describe(&arn).await {
            Ok(Some(state)) => {
                let phase = state.status.phase();
                if let Some(phase) =
                    phase.filter(|p| p.is_over() || *p == DeploymentPhase::RollingBack)
                {
                    let reason = state.status_reason.as_deref();
                    let progress = DeploymentProgress::observed(
                        record.deployment.as_ref(),
                        phase,
                        reason,
                        Utc::now(),
                    );
                    self.update_deployment_cards(&record, &progress).await;
                    return RollbackNow::AlreadyOver {
                        status: state.status.to_string(),
                    };
                }
            }
            Ok(None) => {
                return RollbackNow::Failed {
                    reason: "ECS does not know this deployment",
                };
            }
            Err(error) => {
                tracing::warn!(event = "ecs.describe_failed", gate_id = %gate, error = %error);
            }
        }
        let lock = DecisionLock {
            decision: Decision::Rejected,
            by: user.0.clone(),
            at: Utc::now(),
        };
        match self.gates.lock_rollback(&arn, &lock).await {
            Ok(Created::New) => {}
            Ok(Created::AlreadyExisted) => {
                let by = match self.gates.rollback_lock(&arn).await {
                    Ok(Some(winner)) => winner.by,
                    _ => "someone".to_owned(),
                };
                return RollbackNow::AlreadyRequested { by };
            }
            Err(_) => {
                return RollbackNow::Failed {
                    reason: "the rollback could not be recorded",
                };
            }
        }
        if let Err(error) = self.deployments.stop_with_rollback(&arn).await
            && !self.stop_was_applied(&arn).await
        {
            tracing::warn!(event = "gate.dependency_failed", gate_id = %gate, error = %error, reason = "ECS did not stop the deployment");
            // A failure to release is logged by the store.
            let _ = self.gates.unlock_rollback(&arn).await;
            return RollbackNow::Failed {
                reason: "ECS did not stop the deployment",
            };
        }
        let mut progress = DeploymentProgress::observed(
            record.deployment.as_ref(),
            DeploymentPhase::RollingBack,
            None,
            lock.at,
        );
        progress.rollback_requested_by = Some(user.0.clone());
        progress.rollback_requested_at = Some(lock.at);
        let root = self.update_deployment_cards(&record, &progress).await;
        self.note_in_thread(
            &root,
            &AuditEvent::RolledBackAfterApproval {
                by: &user.0,
                at: lock.at,
            },
        )
        .await;
        RollbackNow::Requested
    }

    /// Whether a `StopServiceDeployment` that reported a failure (a time-out, say) was applied
    /// all the same: ECS shows the deployment stopping or rolling back.
    async fn stop_was_applied(&self, arn: &str) -> bool {
        match self.deployments.describe(arn).await {
            Ok(Some(state)) => {
                let applied = state.status.is_stopping_or_rolling_back();
                if applied {
                    tracing::warn!(event = "gate.write_applied_late", deployment = arn, status = %state.status, "StopServiceDeployment reported a failure but was applied");
                }
                applied
            }
            _ => false,
        }
    }

    /// Puts `progress` on every card of the record's deployment (the record alone if greenlight
    /// knows no others) and returns the deployment's first card, where the thread is.
    async fn update_deployment_cards(
        &self,
        record: &GateRecord,
        progress: &DeploymentProgress,
    ) -> GateRecord {
        let gates = match record.service_deployment_arn.as_deref() {
            Some(arn) => match self.gates.deployment_gates(arn).await {
                Ok(gates) if gates.iter().any(|g| g.gate_id == record.gate_id) => gates,
                _ => vec![record.clone()],
            },
            None => vec![record.clone()],
        };
        // A later pause of the same deployment may still be open; once the deployment rolls back
        // or ends there is nothing left to decide on it. Closed by someone's "Roll back now", it
        // reads as their rollback (whose one note the caller posts); closed because ECS says the
        // deployment already ended, as resolved outside greenlight.
        let closing = (progress.phase != DeploymentPhase::InProgress).then(|| {
            match &progress.rollback_requested_by {
                Some(by) => GateStatus::Decided {
                    decision: Decision::Rejected,
                    by: by.clone(),
                    at: progress.updated_at,
                    reason: None,
                },
                None => GateStatus::ResolvedElsewhere {
                    outcome: format!("the deployment {}", progress.status_line(Utc::now())),
                    at: progress.updated_at,
                },
            }
        });
        let quiet = progress.rollback_requested_by.is_some();
        self.spread_progress(&gates, progress, closing, quiet)
            .await
            .unwrap_or_else(|| record.clone())
    }
}
