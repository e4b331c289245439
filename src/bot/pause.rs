//! Flow B: ECS pauses the deployment itself (a `PAUSE` lifecycle hook) and greenlight resolves the
//! pause with `ContinueServiceDeployment`.
//!
//! An `ECS Hook State Change` / `HOOK_AWAITING_ACTION` event, forwarded by the EventBridge rule to
//! the gate topic, opens a gate with the same card, policy and decision path as Flow A; only the
//! way the decision takes effect differs ([`Resolution::PauseHook`]). The hook's later events
//! (`HOOK_SUCCEEDED`, `HOOK_FAILED`, `HOOK_TIMED_OUT`) close a card that is still open, because
//! then someone resolved the pause outside greenlight or ECS applied its timeout.
//!
//! A linear or canary deployment pauses before every traffic step, each time with a new hook id:
//! each pause is its own gate, and every gate after the first is posted in the first card's thread
//! so the deployment's whole story stays in one place.

use chrono::{DateTime, Utc};

use crate::card::escape;
use crate::domain::gate::{Decision, GateId, TimeoutAction};
use crate::domain::notification::EcsEvent;
use crate::domain::progress::{
    DeploymentPhase, DeploymentProgress, HookEvent, HookEventName, TrafficStep,
};
use crate::domain::record::{GateRecord, GateStatus, Resolution};
use crate::domain::stage::LifecycleStage;
use crate::ports::{Created, DeploymentState, LifecycleHookStatus};
use crate::slack::api::OutgoingMessage;
use crate::sns::verify::SnsEnvelope;

use super::Bot;
use super::closing::Closing;
use super::decisions::Outcome;
use super::edge::error::BotError;

/// Who a gate is recorded as decided by when greenlight continued a first deployment itself.
pub const FIRST_DEPLOYMENT_DECIDER: &str = "greenlight (first deployment)";

/// `POST /sns` hands every `ECS Hook State Change` event here.
pub async fn hook_event(
    bot: &Bot,
    envelope: &SnsEnvelope,
    event: &EcsEvent,
) -> Result<String, BotError> {
    let hook = match HookEvent::from_event(event) {
        Ok(hook) => hook,
        Err(error) => {
            // A pause greenlight cannot read it cannot resolve either; a 4xx stops SNS retrying a
            // message that will never read better.
            tracing::warn!(event = "sns.gate_refused", message_id = %envelope.message_id, reason = %error, detail_type = %event.detail_type);
            return Err(BotError::Forbidden(format!("hook event refused: {error}")));
        }
    };
    if !hook.is_pause() {
        return Ok("not a pause hook; nothing to do\n".to_owned());
    }
    match hook.name {
        HookEventName::AwaitingAction => open_pause_gate(bot, envelope, &hook).await,
        HookEventName::Succeeded | HookEventName::Failed | HookEventName::TimedOut => {
            hook_ended(bot, &hook).await
        }
        HookEventName::InProgress | HookEventName::Other(_) => Ok("noted\n".to_owned()),
    }
}

/// Opens (at most once) the gate of a waiting pause hook.
async fn open_pause_gate(
    bot: &Bot,
    envelope: &SnsEnvelope,
    hook: &HookEvent,
) -> Result<String, BotError> {
    let arn = hook.deployment.to_string();
    let gate_id = GateId::for_pause(&arn, &hook.hook_id);
    // A redelivered event (SNS retries with the same message; ECS may emit the same pause twice)
    // must not ask ECS anything, let alone post a second card; but a gate recorded without its
    // card (an earlier delivery's post failed) gets it now.
    let recorded = match bot.gates.load(&gate_id).await {
        Ok(Some(_)) => match super::intake::already_recorded(bot, &gate_id, envelope).await? {
            Some(record) => Some(record),
            None => return Ok("gate already carded\n".to_owned()),
        },
        Ok(None) => None,
        Err(_) => {
            return Err(BotError::Unavailable("could not read the gate".to_owned()));
        }
    };
    let (cluster, service) = (hook.deployment.cluster(), hook.deployment.service());
    let Some(channel) = bot.channel_for(Some(cluster), Some(service)) else {
        tracing::error!(event = "gate.no_channel", gate_id = %gate_id, "no policy rule or GREENLIGHT_SLACK_CHANNEL names a channel for this gate");
        return Err(BotError::Forbidden(
            "no channel is configured for this gate".to_owned(),
        ));
    };
    if let Some(mut record) = recorded {
        let earlier = bot.gates.deployment_gates(&arn).await.unwrap_or_default();
        return post_card(bot, &mut record, channel, &earlier).await;
    }
    let state = match bot.deployments.describe(&arn).await {
        Ok(state) => state,
        Err(error) => {
            // The card can do without revisions and step; the gate itself must not wait for ECS.
            tracing::warn!(event = "ecs.describe_failed", gate_id = %gate_id, error = %error);
            None
        }
    };
    let earlier = match bot.gates.deployment_gates(&arn).await {
        Ok(gates) => gates,
        Err(_) => {
            tracing::warn!(event = "gate.thread_unknown", gate_id = %gate_id, "the deployment's earlier gates are unknown; this card starts its own thread");
            Vec::new()
        }
    };
    let mut record = pause_record(hook, gate_id.clone(), state.as_ref(), &earlier);
    match bot.gates.create(&record).await {
        // Claimed like any other delivery's, so that a duplicate racing this one cannot post a
        // second card.
        Ok(Created::New | Created::AlreadyExisted) => {
            match super::intake::already_recorded(bot, &gate_id, envelope).await? {
                Some(recorded) => record = recorded,
                None => return Ok("gate already carded\n".to_owned()),
            }
        }
        Err(_) => {
            return Err(BotError::Unavailable(
                "could not record the gate".to_owned(),
            ));
        }
    }

    // ECS pauses a service's very first deployment too, though there is nothing to compare it
    // with. When the rule says so, greenlight lets it through at once, as the hook does in Flow A.
    // Not knowing (ECS did not answer) is not a reason to skip the gate.
    let rule = bot.policy.rule_for(Some(cluster), Some(service));
    let first_deployment = state
        .as_ref()
        .is_some_and(|state| state.source_revisions.is_empty());
    if first_deployment && rule.is_some_and(|rule| rule.continue_first_deployments()) {
        match continue_first_deployment(bot, &mut record, &channel).await {
            Ok(answer) => return Ok(answer),
            Err(error) => {
                tracing::warn!(event = "gate.first_deployment_failed", gate_id = %gate_id, error = %error, "ECS did not take the automatic continue; carding the gate instead");
            }
        }
    }

    post_card(bot, &mut record, channel, &earlier).await
}

/// The gate record of a waiting pause: what the event says, completed from ECS's own view.
///
/// Public (the module is) because it is pure and reads what an `ECS Hook State Change` event
/// says: the fuzz targets and property tests draw its card from arbitrary events.
pub fn pause_record(
    hook: &HookEvent,
    gate_id: GateId,
    state: Option<&DeploymentState>,
    earlier: &[GateRecord],
) -> GateRecord {
    let arn = &hook.deployment;
    let ecs_hook = state.and_then(|state| state.hook(&hook.hook_id));
    let stage = hook.stage.or_else(|| {
        state
            .and_then(|state| state.stage_word())
            .and_then(|stage| stage.parse().ok())
    });
    // Linear and canary deployments pause at PRE_PRODUCTION_TRAFFIC_SHIFT before each step.
    let step = match (stage, state) {
        (Some(LifecycleStage::PreProductionTrafficShift), _) => {
            let earlier_steps = earlier
                .iter()
                .filter(|gate| gate.gate_id != gate_id && gate.stage == stage)
                .count();
            TrafficStep::derive(
                &state.map(|s| s.plan.clone()).unwrap_or_default(),
                state.and_then(|s| s.target_production_weight),
                earlier_steps,
            )
        }
        _ => None,
    };
    let stage_text = stage
        .map(LifecycleStage::as_str)
        .unwrap_or("a lifecycle stage");
    let resolution = Resolution::PauseHook {
        hook_id: hook.hook_id.clone(),
    };
    let title = format!("{}: paused at {stage_text}", arn.service());
    GateRecord {
        description: "ECS paused this deployment (pause hook) and waits for a decision: Reroute \
                      lets it continue, Rollback rolls it back."
            .to_owned(),
        region: hook.region.clone(),
        cluster: Some(arn.cluster().to_owned()),
        service: Some(arn.service().to_owned()),
        service_deployment_arn: Some(arn.to_string()),
        stage,
        target_revision: state.and_then(|s| s.target_revision.clone()),
        source_revisions: state
            .map(|s| s.source_revisions.clone())
            .unwrap_or_default(),
        requested_at: Some(hook.updated_at.unwrap_or_else(Utc::now)),
        deadline: hook
            .expires_at
            .or_else(|| ecs_hook.and_then(|h| h.expires_at)),
        timeout_action: ecs_hook.and_then(|h| h.timeout_action),
        console_url: Some(arn.console_url()),
        step,
        ..GateRecord::new(gate_id, resolution, title)
    }
}

/// Posts the card: in the channel for the deployment's first gate, in that gate's thread for
/// every later one. Like Flow A, a card that could not be posted forgets its record so that a
/// redelivery tries again.
async fn post_card(
    bot: &Bot,
    record: &mut GateRecord,
    channel: String,
    earlier: &[GateRecord],
) -> Result<String, BotError> {
    let parent = earlier
        .iter()
        .filter(|gate| gate.gate_id != record.gate_id)
        .find_map(|gate| gate.card.as_ref().filter(|card| card.thread_ts.is_none()));
    let (channel, thread_ts) = match parent {
        Some(parent) => (parent.channel.clone(), Some(parent.ts.clone())),
        None => (channel, None),
    };
    if let Some(code) = bot.post_new_card(record, channel, thread_ts).await? {
        return Ok(format!("card not posted: Slack said {code}\n"));
    }
    tracing::info!(event = "gate.carded", flow = "pause", gate_id = %record.gate_id, cluster = record.cluster.as_deref().unwrap_or(""), service = record.service.as_deref().unwrap_or(""), stage = record.stage.map(|s| s.as_str()).unwrap_or(""), step = record.step.as_ref().map(|s| s.number).unwrap_or(0), in_thread = record.card.as_ref().is_some_and(|c| c.thread_ts.is_some()), outcome = "posted");
    Ok("card posted\n".to_owned())
}

/// Continues a first deployment's pause at once and says so in a short note instead of a card.
async fn continue_first_deployment(
    bot: &Bot,
    record: &mut GateRecord,
    channel: &str,
) -> Result<String, crate::ports::AdapterError> {
    let (arn, hook_id) = match (&record.service_deployment_arn, &record.resolution) {
        (Some(arn), Resolution::PauseHook { hook_id }) => (arn.clone(), hook_id.clone()),
        _ => {
            return Err(crate::ports::AdapterError::permanent(
                "greenlight",
                "not a pause gate",
            ));
        }
    };
    bot.deployments
        .continue_hook(&arn, &hook_id, Decision::Approved)
        .await?;
    let status = GateStatus::Decided {
        decision: Decision::Approved,
        by: FIRST_DEPLOYMENT_DECIDER.to_owned(),
        at: Utc::now(),
        reason: None,
    };
    // There is no card to redraw: the note below says what happened instead.
    if let Ok(Some(update)) = bot
        .close_gate(&record.gate_id, Closing::new(status, "gate.closed").quiet())
        .await
    {
        *record = update.after;
    }
    let rule = bot
        .policy
        .rule_for(record.cluster.as_deref(), record.service.as_deref())
        .map(|rule| rule.name().to_owned())
        .unwrap_or_default();
    tracing::info!(event = "gate.first_deployment", flow = "pause", gate_id = %record.gate_id, rule = %rule, outcome = "continued");
    let text = format!(
        "▶️ *{}* in {}: first deployment, with no earlier revision to compare with, so greenlight \
         continued the pause at `{}` at once (policy rule \"{}\" says `continue_first_deployments`). · `{}`",
        escape(record.display_name()),
        escape(record.cluster.as_deref().unwrap_or("?")),
        record.stage.map(LifecycleStage::as_str).unwrap_or("?"),
        escape(&rule),
        record.gate_id,
    );
    if let Err(error) = bot
        .slack
        .post_message(&OutgoingMessage::text(channel, text))
        .await
    {
        tracing::warn!(event = "slack.post_failed", gate_id = %record.gate_id, error = %error);
    }
    Ok("first deployment continued\n".to_owned())
}

/// A pause ended (`HOOK_SUCCEEDED`, `HOOK_FAILED`, `HOOK_TIMED_OUT`). If greenlight decided it,
/// this is ECS confirming; if the card is still open, the pause was resolved outside greenlight
/// or ECS applied its timeout, and the card says which and loses its buttons.
async fn hook_ended(bot: &Bot, hook: &HookEvent) -> Result<String, BotError> {
    let arn = hook.deployment.to_string();
    let gate_id = GateId::for_pause(&arn, &hook.hook_id);
    let record = match bot.gates.load(&gate_id).await {
        Ok(Some(record)) => record,
        // A pause greenlight never carded (a first deployment it let through, another tool's).
        Ok(None) => return Ok("no gate for this pause\n".to_owned()),
        Err(_) => {
            return Err(BotError::Unavailable("could not read the gate".to_owned()));
        }
    };
    let at = hook.updated_at.unwrap_or_else(Utc::now);
    // The event alone closes nothing: anyone who may publish to the topic could send it. Only
    // DescribeServiceDeployments saying the pause no longer waits does.
    let state = match bot.deployments.describe(&arn).await {
        Ok(Some(state)) => state,
        Ok(None) => {
            tracing::warn!(event = "sns.gate_refused", code = "unconfirmed_hook_event", gate_id = %gate_id, hook_event = hook.name.as_str(), reason = "ECS does not know the deployment");
            return Err(BotError::Forbidden(
                "hook event refused: ECS does not know its deployment".to_owned(),
            ));
        }
        Err(error) => {
            tracing::warn!(event = "ecs.describe_failed", gate_id = %gate_id, error = %error);
            if record.status.is_open() {
                let note = format!(
                    "ECS reported {} for this pause; ECS could not be asked to confirm it",
                    hook.name.as_str()
                );
                let update = bot
                    .gates
                    .update(&gate_id, |stored| {
                        let progress = DeploymentProgress::observed(
                            stored.deployment.as_ref(),
                            DeploymentPhase::InProgress,
                            None,
                            at,
                        )
                        .unconfirmed(note.clone());
                        stored.deployment = Some(progress);
                    })
                    .await;
                if let Ok(Some(update)) = update
                    && update.changed()
                {
                    bot.redraw(&update.after).await;
                }
            }
            // A retry (SNS delivers again) asks ECS again.
            return Err(BotError::Unavailable(
                "ECS could not confirm the hook event; deliver again".to_owned(),
            ));
        }
    };
    if !record.status.is_open() {
        // greenlight's own decision (or an earlier delivery of this event) closed the card:
        // only the live state may have moved on.
        refresh_progress(bot, &gate_id, &state, at).await;
        return Ok("gate already closed\n".to_owned());
    }
    if resolved_elsewhere(&record, &state, &hook.hook_id).is_none() {
        tracing::warn!(event = "sns.gate_refused", code = "unconfirmed_hook_event", gate_id = %gate_id, hook_event = hook.name.as_str(), reason = "ECS says the pause still waits");
        return Err(BotError::Forbidden(
            "hook event refused: ECS says the pause still waits for a decision".to_owned(),
        ));
    }
    // greenlight takes its decision lock before calling ECS and saves the record after: a lock
    // without a saved decision is greenlight's own click in flight, not someone else's.
    if let Ok(Some(_)) = bot.gates.decision_lock(&gate_id).await {
        return Ok("greenlight's own decision is being recorded\n".to_owned());
    }
    let status = match hook.name {
        HookEventName::TimedOut => GateStatus::TimedOut {
            action: timeout_action_taken(&record, Some(&state), &hook.hook_id),
            at,
        },
        HookEventName::Succeeded => GateStatus::ResolvedElsewhere {
            outcome: "continued in ECS, pause hook SUCCEEDED".to_owned(),
            at,
        },
        _ => GateStatus::ResolvedElsewhere {
            outcome: "rolled back in ECS, pause hook FAILED".to_owned(),
            at,
        },
    };
    let progress = live_progress(record.deployment.as_ref(), &state, at);
    let closing = Closing::new(status, "gate.closed_by_ecs").with_progress(progress);
    match bot.close_gate(&gate_id, closing).await {
        Ok(_) => Ok("card updated\n".to_owned()),
        Err(_) => Err(BotError::Unavailable(
            "could not update the gate".to_owned(),
        )),
    }
}

/// What ECS did when the pause expired: the hook's own timeout action as ECS reports it, else
/// what the deployment is now doing, else what was known when the gate opened, else ECS's
/// documented default (`ROLLBACK`).
fn timeout_action_taken(
    record: &GateRecord,
    state: Option<&DeploymentState>,
    hook_id: &str,
) -> TimeoutAction {
    let reported = state
        .and_then(|state| state.hook(hook_id))
        .and_then(|hook| hook.timeout_action);
    let observed = state
        .and_then(|state| state.status.phase())
        .map(|phase| match phase {
            DeploymentPhase::InProgress | DeploymentPhase::Completed => TimeoutAction::Continue,
            _ => TimeoutAction::Rollback,
        });
    reported
        .or(observed)
        .or(record.timeout_action)
        .unwrap_or(TimeoutAction::Rollback)
}

/// The deployment's live state as ECS describes it, keeping who asked for a rollback.
fn live_progress(
    previous: Option<&DeploymentProgress>,
    state: &DeploymentState,
    at: DateTime<Utc>,
) -> Option<DeploymentProgress> {
    let phase = state.status.phase()?;
    let reason = (phase != DeploymentPhase::InProgress)
        .then_some(state.status_reason.as_deref())
        .flatten();
    Some(
        DeploymentProgress::observed(previous, phase, reason, at).with_live_state(
            state.stage_word(),
            state.updated_at,
            &state.plan,
        ),
    )
}

/// Saves and redraws a closed card when ECS reports something new about its deployment.
async fn refresh_progress(bot: &Bot, gate_id: &GateId, state: &DeploymentState, at: DateTime<Utc>) {
    let update = bot
        .gates
        .update(gate_id, |record| {
            if let Some(progress) = live_progress(record.deployment.as_ref(), state, at)
                && progress.is_news_after(record.deployment.as_ref())
            {
                record.deployment = Some(progress);
            }
        })
        .await;
    if let Ok(Some(update)) = update
        && update.changed()
    {
        bot.redraw(&update.after).await;
    }
}

/// Why a pause is no longer greenlight's to resolve, if ECS says so: the hook is listed but no
/// longer `AWAITING_ACTION`, or it is gone and the deployment has ended or moved to another
/// stage. `None` when the pause still waits, or when ECS's answer does not tell.
fn resolved_elsewhere(
    record: &GateRecord,
    state: &DeploymentState,
    hook_id: &str,
) -> Option<String> {
    match state.hook(hook_id) {
        Some(hook) => match &hook.status {
            LifecycleHookStatus::AwaitingAction => None,
            LifecycleHookStatus::Other(word) if word.is_empty() => None,
            LifecycleHookStatus::Succeeded => {
                Some("continued in ECS, pause hook SUCCEEDED".to_owned())
            }
            LifecycleHookStatus::Failed => Some("rolled back in ECS, pause hook FAILED".to_owned()),
            LifecycleHookStatus::TimedOut => Some("the pause timed out in ECS".to_owned()),
            other => Some(format!("the pause hook is {other}")),
        },
        None => {
            let phase = state.status.phase();
            if phase.is_some_and(|phase| phase != DeploymentPhase::InProgress) {
                return Some(format!("the deployment is {}", state.status));
            }
            match (state.stage_word(), record.stage) {
                (Some(now), Some(paused)) if now != paused.as_str() => {
                    Some(format!("the deployment moved on to {now}"))
                }
                _ => None,
            }
        }
    }
}

impl Bot {
    /// Makes a decision on a pause gate reach ECS: `ContinueServiceDeployment` with `CONTINUE`
    /// (approved) or `ROLLBACK` (rejected).
    ///
    /// The pause may have been resolved in the console or the CLI while the card still showed
    /// its buttons. ECS is asked first; if it says the pause no longer waits, nothing is sent,
    /// the card is closed as resolved elsewhere and the person is told so. If ECS refuses the
    /// continue, it is asked once more, to tell "someone was faster" from a real failure.
    pub(super) async fn resolve_pause(
        &self,
        record: &GateRecord,
        hook_id: &str,
        decision: Decision,
    ) -> Result<(), Outcome> {
        let Some(arn) = record.service_deployment_arn.as_deref() else {
            return Err(Outcome::Failed {
                reason: "the gate names no service deployment".to_owned(),
            });
        };
        match self.deployments.describe(arn).await {
            Ok(Some(state)) => {
                if let Some(outcome) = resolved_elsewhere(record, &state, hook_id) {
                    return Err(self.close_as_resolved_elsewhere(record, outcome).await);
                }
            }
            Ok(None) => {
                return Err(Outcome::Failed {
                    reason: "ECS does not know this deployment".to_owned(),
                });
            }
            Err(error) => {
                // ECS will refuse the continue itself if the pause is gone.
                tracing::warn!(event = "ecs.describe_failed", gate_id = %record.gate_id, error = %error);
            }
        }
        let Err(error) = self.deployments.continue_hook(arn, hook_id, decision).await else {
            return Ok(());
        };
        tracing::warn!(event = "gate.dependency_failed", gate_id = %record.gate_id, error = %error, reason = "ECS did not accept the decision");
        if let Ok(Some(state)) = self.deployments.describe(arn).await {
            // A call that timed out may still have been applied: ECS showing the hook in the
            // state this decision asked for is this decision taking effect, not someone else's.
            let applied = state.hook(hook_id).is_some_and(|hook| match decision {
                Decision::Approved => hook.status == LifecycleHookStatus::Succeeded,
                Decision::Rejected => hook.status == LifecycleHookStatus::Failed,
            });
            if applied {
                tracing::warn!(event = "gate.write_applied_late", gate_id = %record.gate_id, "ContinueServiceDeployment reported a failure but was applied");
                return Ok(());
            }
            if let Some(outcome) = resolved_elsewhere(record, &state, hook_id) {
                return Err(self.close_as_resolved_elsewhere(record, outcome).await);
            }
        }
        Err(Outcome::Failed {
            reason: "ECS did not accept the decision".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{DeploymentStage, DeploymentStatus, HookState, HookTargetType};

    fn record() -> GateRecord {
        GateRecord {
            cluster: Some("prod".into()),
            service: Some("web".into()),
            service_deployment_arn: Some(
                "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/d1".into(),
            ),
            stage: Some(LifecycleStage::PostTestTrafficShift),
            ..GateRecord::new(
                GateId::derive("g"),
                Resolution::PauseHook {
                    hook_id: "h1".into(),
                },
                "web: paused",
            )
        }
    }

    fn state(status: &str, stage: &str, hooks: Vec<HookState>) -> DeploymentState {
        DeploymentState {
            status: DeploymentStatus::from_ecs(status),
            lifecycle_stage: Some(DeploymentStage::from_ecs(stage)),
            hooks,
            ..DeploymentState::default()
        }
    }

    fn hook(status: &str, timeout_action: Option<&str>) -> HookState {
        HookState {
            hook_id: "h1".into(),
            target_type: HookTargetType::Pause,
            status: LifecycleHookStatus::from_ecs(status),
            expires_at: None,
            timeout_action: timeout_action.and_then(|action| action.parse().ok()),
        }
    }

    #[test]
    fn a_waiting_pause_is_still_greenlights_to_resolve() {
        let waiting = state(
            "IN_PROGRESS",
            "POST_TEST_TRAFFIC_SHIFT",
            vec![hook("AWAITING_ACTION", None)],
        );
        assert_eq!(resolved_elsewhere(&record(), &waiting, "h1"), None);
        // Not listed, same stage, in progress: ECS's answer does not tell.
        let unlisted = state("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", vec![]);
        assert_eq!(resolved_elsewhere(&record(), &unlisted, "h1"), None);
    }

    #[test]
    fn a_pause_resolved_in_the_console_is_recognised() {
        let continued = state(
            "IN_PROGRESS",
            "POST_TEST_TRAFFIC_SHIFT",
            vec![hook("SUCCEEDED", None)],
        );
        assert!(
            resolved_elsewhere(&record(), &continued, "h1")
                .unwrap()
                .contains("continued")
        );
        let moved_on = state("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", vec![]);
        assert_eq!(
            resolved_elsewhere(&record(), &moved_on, "h1").as_deref(),
            Some("the deployment moved on to PRODUCTION_TRAFFIC_SHIFT")
        );
        let rolled_back = state("ROLLBACK_SUCCESSFUL", "CLEAN_UP", vec![]);
        assert_eq!(
            resolved_elsewhere(&record(), &rolled_back, "h1").as_deref(),
            Some("the deployment is ROLLBACK_SUCCESSFUL")
        );
    }

    #[test]
    fn the_timeout_action_is_what_ecs_did() {
        let reported = state(
            "IN_PROGRESS",
            "POST_TEST_TRAFFIC_SHIFT",
            vec![hook("TIMED_OUT", Some("CONTINUE"))],
        );
        assert_eq!(
            timeout_action_taken(&record(), Some(&reported), "h1"),
            TimeoutAction::Continue
        );
        let rolling_back = state("ROLLBACK_IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", vec![]);
        assert_eq!(
            timeout_action_taken(&record(), Some(&rolling_back), "h1"),
            TimeoutAction::Rollback
        );
        let mut known = record();
        known.timeout_action = Some(TimeoutAction::Continue);
        assert_eq!(
            timeout_action_taken(&known, None, "h1"),
            TimeoutAction::Continue
        );
        assert_eq!(
            timeout_action_taken(&record(), None, "h1"),
            TimeoutAction::Rollback
        );
    }
}
