//! `ECS Deployment State Change` events: keeping every card of a deployment, and its thread,
//! current after the gate (both flows).
//!
//! The event names the service and a `deploymentId` like `ecs-svc/123`, not the service-deployment
//! ARN a gate carries, so the gate is found through the service's latest gate, and
//! `DescribeServiceDeployments` on the gate's own deployment has the last word on where that
//! deployment stands: an event about some other deployment of the service cannot then mark this
//! one completed or rolled back.

use chrono::Utc;

use crate::card::escape;
use crate::domain::notification::EcsEvent;
use crate::domain::progress::{DeploymentEvent, DeploymentPhase, DeploymentProgress};
use crate::domain::record::{GateRecord, GateStatus};
use crate::slack::api::OutgoingMessage;
use crate::sns::verify::SnsEnvelope;

use super::Bot;
use super::closing::Closing;
use super::edge::error::BotError;

/// Handles a deployment event about a service greenlight has carded. `None` leaves the event to
/// the generic handling in `sns_intake` (a thread note, or a plain post for a service without a
/// card): the service has no card, the event cannot be read, or it concerns a newer deployment
/// than the gate's.
pub async fn deployment_event(
    bot: &Bot,
    envelope: &SnsEnvelope,
    event: &EcsEvent,
) -> Option<Result<String, BotError>> {
    let news = DeploymentEvent::from_event(event).ok()?;
    let (cluster, service) = (news.cluster.as_deref()?, news.service.as_deref()?);
    let latest = match bot.gates.latest_for_service(cluster, service).await {
        Ok(Some(record)) if record.card.is_some() => record,
        Ok(_) => return None,
        Err(_) => {
            tracing::warn!(event = "deployment.gate_unknown", message_id = %envelope.message_id, "the gate store did not answer; the event is posted as it is");
            return None;
        }
    };
    let arn = latest.service_deployment_arn.clone();
    let gates = match &arn {
        Some(arn) => match bot.gates.deployment_gates(arn).await {
            Ok(gates) if !gates.is_empty() => gates,
            _ => vec![latest.clone()],
        },
        None => vec![latest.clone()],
    };
    let state = match &arn {
        Some(arn) => match bot.deployments.describe(arn).await {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(event = "ecs.describe_failed", gate_id = %latest.gate_id, error = %error);
                None
            }
        },
        None => None,
    };
    let previous = latest.deployment.clone();
    let confirmed = state.as_ref().and_then(|state| state.status.phase());
    if confirmed.is_none() && previous.as_ref().is_some_and(|p| p.phase.is_over()) {
        // The gate's deployment ended earlier; this is about a later one greenlight did not gate.
        return None;
    }
    let phase = confirmed.or_else(|| {
        DeploymentPhase::from_event(
            &news.name,
            news.reason.as_deref(),
            previous.as_ref().map(|p| p.phase),
        )
    })?;
    let at = news.updated_at.unwrap_or_else(Utc::now);
    // "ECS deployment ecs-svc/1 in progress." says nothing the phase does not; the reasons of a
    // rollback or a failure are what people need.
    let reason = (phase != DeploymentPhase::InProgress)
        .then(|| {
            news.reason
                .clone()
                .or_else(|| state.as_ref().and_then(|s| s.status_reason.clone()))
        })
        .flatten();
    let mut progress =
        DeploymentProgress::observed(previous.as_ref(), phase, reason.as_deref(), at);
    if let Some(state) = &state {
        progress = progress.with_live_state(state.stage_word(), state.updated_at, &state.plan);
    }
    if confirmed.is_none() && arn.is_some() {
        // ECS could not be asked: the event's word goes on the card as unconfirmed, and closes
        // nothing (see below); a later event or look settles it.
        progress = progress.unconfirmed(format!(
            "ECS reported {}; ECS could not be asked to confirm it",
            news.name
        ));
    }
    let is_news = progress.is_news_after(previous.as_ref());
    // A gate still open when ECS itself says its deployment is rolling back or over cannot be
    // decided any more. Only ECS's own answer closes it, never the event alone.
    let closing = confirmed
        .filter(|phase| *phase != DeploymentPhase::InProgress)
        .map(|_| GateStatus::ResolvedElsewhere {
            outcome: format!("the deployment {}", progress.status_line(Utc::now())),
            at,
        });
    let root = bot.spread_progress(&gates, &progress, closing, false).await;
    tracing::info!(event = "deployment.state", gate_id = %latest.gate_id, ecs_event = %news.name, deployment_id = news.deployment_id.as_deref().unwrap_or(""), phase = ?phase, confirmed_by_ecs = confirmed.is_some(), news = is_news);
    if is_news && let Some(root) = &root {
        bot.note_text_in_thread(root, &progress.note(Utc::now()))
            .await;
    }
    Some(Ok("card and thread updated\n".to_owned()))
}

impl Bot {
    /// Puts `progress` on each of a deployment's gates, and closes those still open as `closing`
    /// (their thread note left to the caller when `quiet`). Each gate is its own conditional
    /// update: the progress is re-applied to a fresh read, and an open gate closes only if it
    /// is still open then. Returns the deployment's first carded gate, whose thread is the
    /// deployment's.
    pub(super) async fn spread_progress(
        &self,
        gates: &[GateRecord],
        progress: &DeploymentProgress,
        closing: Option<GateStatus>,
        quiet: bool,
    ) -> Option<GateRecord> {
        let mut root: Option<GateRecord> = None;
        for gate in gates {
            let updated = match &closing {
                Some(status) => {
                    let mut closing = Closing::new(status.clone(), "gate.closed_by_ecs")
                        .with_progress(Some(progress.clone()));
                    if quiet {
                        closing = closing.quiet();
                    }
                    self.close_gate(&gate.gate_id, closing).await
                }
                None => {
                    let update = self
                        .gates
                        .update(&gate.gate_id, |record| {
                            record.deployment = Some(progress.clone())
                        })
                        .await;
                    if let Ok(Some(update)) = &update
                        && update.changed()
                    {
                        self.redraw(&update.after).await;
                    }
                    update
                }
            };
            let current = match updated {
                Ok(Some(update)) => {
                    if update.closed() {
                        self.forget_decision(&update.after).await;
                    }
                    update.after
                }
                _ => gate.clone(),
            };
            if root.is_none() && current.card.is_some() {
                root = Some(current);
            }
        }
        root
    }

    /// A plain-text reply in a card's thread, ending with the gate id like every audit entry.
    pub(super) async fn note_text_in_thread(&self, record: &GateRecord, text: &str) {
        let Some(card) = &record.card else {
            return;
        };
        let text = format!("{} · `{}`", escape(text), record.gate_id);
        let reply = OutgoingMessage::text(card.channel.clone(), text).in_thread(card.thread_root());
        if let Err(error) = self.slack.post_message(&reply).await {
            tracing::warn!(event = "slack.thread_note_failed", gate_id = %record.gate_id, error = %error);
        }
    }
}
