//! `POST /slack/interactions`: clicks on a card's buttons.
//!
//! The Slack signature is checked on the raw bytes before the body is even parsed. The button's
//! value is only a gate id; everything else (the parameter, the deployment) comes from the gate
//! record, so a forged value can at most name another gate, which the policy then guards.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::card::{
    REASON_ACTION_ID, REASON_BLOCK_ID, REASON_CALLBACK_ID, REROUTE_ACTION_ID, ROLLBACK_ACTION_ID,
    ROLLBACK_NOW_ACTION_ID, ReasonModal, reason_modal,
};
use crate::domain::gate::Decision;
use crate::domain::gate::GateId;

use super::Bot;
use super::decisions::{Outcome, Via};
use super::edge::budget::{Answered, within_budget};
use super::edge::error::BotError;
use super::edge::extract::{SlackBody, VerifiedSlack};
use slack_morphism::prelude::{SlackChannelId, SlackUserId};

#[derive(Debug, Deserialize)]
struct Form {
    payload: String,
}

/// A `block_actions` interaction, as much of it as greenlight reads, with slack-morphism's ID
/// types. Not slack-morphism's `SlackInteractionBlockActionsEvent`: that one also requires and
/// reads the whole message the button sits in, blocks and all, which a click does not need, and a
/// block its model cannot read would then refuse a valid click.
#[derive(Debug, Deserialize)]
pub struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: Option<User>,
    channel: Option<Channel>,
    #[serde(default)]
    actions: Vec<ActionPayload>,
    /// Lets the app open a modal for this click, for 3 seconds.
    #[serde(default)]
    trigger_id: Option<String>,
    /// A `view_submission`'s modal, with what was typed into it.
    #[serde(default)]
    view: Option<SubmittedView>,
}

/// Slack's IDs, typed: a function that takes a user and a channel cannot be given them swapped.
#[derive(Debug, Deserialize)]
struct User {
    id: SlackUserId,
}

#[derive(Debug, Deserialize)]
struct Channel {
    id: SlackChannelId,
}

#[derive(Debug, Deserialize)]
struct ActionPayload {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SubmittedView {
    #[serde(default)]
    callback_id: String,
    #[serde(default)]
    private_metadata: String,
    #[serde(default)]
    state: ViewState,
}

#[derive(Debug, Default, Deserialize)]
struct ViewState {
    #[serde(default)]
    values: std::collections::HashMap<String, std::collections::HashMap<String, InputValue>>,
}

#[derive(Debug, Deserialize)]
struct InputValue {
    #[serde(default)]
    value: Option<String>,
}

impl SubmittedView {
    /// What was typed into the reason field, if anything.
    fn reason(&self) -> Option<&str> {
        self.state
            .values
            .get(REASON_BLOCK_ID)
            .and_then(|block| block.get(REASON_ACTION_ID))
            .and_then(|input| input.value.as_deref())
    }
}

impl SlackBody for Payload {
    fn parse(body: &[u8]) -> Result<Payload, BotError> {
        let form: Form = serde_urlencoded::from_bytes(body)
            .map_err(|_| BotError::BadRequest("expected a form with a payload field".to_owned()))?;
        serde_json::from_str(&form.payload).map_err(|_| {
            BotError::BadRequest("the payload is not an interaction payload".to_owned())
        })
    }
}

pub async fn receive(
    State(bot): State<Arc<Bot>>,
    VerifiedSlack(payload): VerifiedSlack<Payload>,
) -> Result<Response, BotError> {
    let arrived = tokio::time::Instant::now();
    let gates = payload.gates_named();
    let working = Arc::clone(&bot);
    let work = async move {
        match payload.kind.as_str() {
            "block_actions" => block_actions(&working, payload)
                .await
                .map(IntoResponse::into_response),
            "view_submission" => Ok(view_submission(&working, payload).await),
            _ => Ok(StatusCode::OK.into_response()),
        }
    };
    match within_budget(arrived, work, |_| async {}).await? {
        Answered::InTime(answer) => answer,
        Answered::Late => {
            // What is decided is decided; the card may still be on its way (see `budget`).
            tracing::warn!(
                event = "slack.answered_at_budget",
                route = "interactions",
                gates = gates.len()
            );
            tokio::spawn(async move {
                for gate in gates {
                    bot.mark_card_stale(&gate).await;
                }
            });
            Ok(StatusCode::OK.into_response())
        }
    }
}

impl Payload {
    /// The gates this interaction is about: the buttons' values, or the reason modal's gate.
    fn gates_named(&self) -> Vec<GateId> {
        let from_buttons = self
            .actions
            .iter()
            .filter_map(|action| action.value.as_deref()?.parse().ok());
        let from_modal = self
            .view
            .as_ref()
            .and_then(|view| serde_json::from_str::<ReasonModal>(&view.private_metadata).ok())
            .map(|modal| modal.gate);
        from_buttons.chain(from_modal).collect()
    }
}

async fn block_actions(bot: &Arc<Bot>, payload: Payload) -> Result<StatusCode, BotError> {
    let bot = bot.as_ref();
    let (Some(user), Some(channel)) = (payload.user, payload.channel) else {
        return Err(BotError::BadRequest(
            "a block action without a user or channel".to_owned(),
        ));
    };
    for action in payload.actions {
        if action.action_id == ROLLBACK_NOW_ACTION_ID {
            roll_back_now(bot, &user.id, &channel.id, action.value.as_deref()).await;
            continue;
        }
        let kind = match action.action_id.as_str() {
            REROUTE_ACTION_ID => Decision::Approved,
            ROLLBACK_ACTION_ID => Decision::Rejected,
            // The console link button also reports its click; nothing to do.
            _ => continue,
        };
        let value = action.value.unwrap_or_default();
        let Ok(gate) = value.parse::<GateId>() else {
            tracing::warn!(event = "gate.refusal", user = %user.id, channel = %channel.id, outcome = "bad_button_value");
            tell(
                bot,
                &channel.id,
                &user.id,
                "This button does not name a greenlight gate; nothing was changed.",
            )
            .await;
            continue;
        };
        if let Some(rule) = bot.reason_asked(&gate, kind).await {
            ask_reason(
                bot,
                &gate,
                &user.id,
                &channel.id,
                kind,
                payload.trigger_id.as_deref(),
                &rule,
            )
            .await;
            continue;
        }
        let outcome = bot
            .decide(&gate, &user.id, &channel.id, kind, Via::Button, None)
            .await;
        if !matches!(outcome, Outcome::Decided { .. }) {
            tell(bot, &channel.id, &user.id, &outcome.message(&gate)).await;
        }
    }
    Ok(StatusCode::OK)
}

/// A "Roll back now" click: the same gate-id-only button value, its own path (see
/// `rollback_now.rs`).
async fn roll_back_now(
    bot: &Bot,
    user: &SlackUserId,
    channel: &SlackChannelId,
    value: Option<&str>,
) {
    let Some(gate) = value.and_then(|value| value.parse::<GateId>().ok()) else {
        tracing::warn!(
            event = "gate.refusal",
            user = %user,
            channel = %channel,
            outcome = "bad_button_value"
        );
        tell(
            bot,
            channel,
            user,
            "This button does not name a greenlight gate; nothing was changed.",
        )
        .await;
        return;
    };
    let outcome = bot.roll_back_now(&gate, user, channel).await;
    if outcome != super::rollback_now::RollbackNow::Requested {
        tell(bot, channel, user, &outcome.message(&gate)).await;
    }
}

/// An ephemeral answer to one person. Best effort: the structured log has the outcome anyway.
async fn tell(bot: &Bot, channel: &SlackChannelId, user: &SlackUserId, text: &str) {
    if let Err(error) = bot.slack.post_ephemeral(channel, user, text).await {
        tracing::warn!(event = "slack.ephemeral_failed", user = %user, error = %error);
    }
}

/// A Reroute or Rollback click on a gate whose rule asks a reason: instead of deciding, the
/// reason modal opens (with the click's `trigger_id`, which Slack honours for 3 seconds). Someone
/// who may not decide is told so now rather than after typing. `rule` names the rule for the
/// modal's text.
async fn ask_reason(
    bot: &Bot,
    gate: &GateId,
    user: &SlackUserId,
    channel: &SlackChannelId,
    decision: Decision,
    trigger_id: Option<&str>,
    rule: &str,
) {
    if let Err(outcome) = bot.may_decide(gate, user, channel, decision).await {
        tell(bot, channel, user, &outcome.message(gate)).await;
        return;
    }
    let Some(trigger_id) = trigger_id else {
        tell(bot, channel, user, "Slack sent no trigger to open the reason form; nothing was decided. Try again, or use `/deploy`.").await;
        return;
    };
    let modal = ReasonModal {
        gate: gate.clone(),
        decision,
        channel: channel.0.clone(),
    };
    let view = reason_modal(&modal, rule);
    if let Err(error) = bot.slack.open_view(trigger_id, &view).await {
        tracing::warn!(event = "slack.view_failed", gate_id = %gate, user = %user, slack_error = %error.code);
        let text = format!(
            "The reason form could not be opened ({}); nothing was decided. Use `/deploy {} {gate} <reason…>`.",
            error.code,
            match decision {
                Decision::Approved => "approve",
                Decision::Rejected => "rollback",
            }
        );
        tell(bot, channel, user, &text).await;
    }
}

/// A signed `view_submission` of the reason modal: checked like a click (the signature before
/// anything, then the policy, the gate still open, first decision wins), with the reason. Slack
/// closes the modal on an empty 200; `response_action: errors` keeps it open with the problem
/// under the reason field.
async fn view_submission(bot: &Bot, payload: Payload) -> Response {
    let (Some(user), Some(view)) = (payload.user, payload.view) else {
        return BotError::BadRequest("a view submission without a user or view".to_owned())
            .into_response();
    };
    if view.callback_id != REASON_CALLBACK_ID {
        return StatusCode::OK.into_response();
    }
    let Ok(modal) = serde_json::from_str::<ReasonModal>(&view.private_metadata) else {
        return BotError::BadRequest("the reason form does not name a gate".to_owned())
            .into_response();
    };
    let reason = view.reason().map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return field_error("Say why: the reason goes on the card and in the audit trail.");
    }
    let channel = SlackChannelId::new(modal.channel.clone());
    let outcome = bot
        .decide(
            &modal.gate,
            &user.id,
            &channel,
            modal.decision,
            Via::Modal,
            Some(reason),
        )
        .await;
    match outcome {
        Outcome::Decided { .. } => StatusCode::OK.into_response(),
        other => field_error(&crate::card::plain_from_mrkdwn(&other.message(&modal.gate))),
    }
}

/// Keeps the modal open with `text` under the reason field.
fn field_error(text: &str) -> Response {
    Json(json!({
        "response_action": "errors",
        "errors": { REASON_BLOCK_ID: text },
    }))
    .into_response()
}
