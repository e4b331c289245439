//! `POST /slack/interactions`: clicks on a card's buttons.
//!
//! The Slack signature is checked on the raw bytes before the body is even parsed. The button's
//! value is only a gate id; everything else (the parameter, the deployment) comes from the gate
//! record, so a forged value can at most name another gate, which the policy then guards.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::card::{REROUTE_ACTION_ID, ROLLBACK_ACTION_ID, ROLLBACK_NOW_ACTION_ID};
use crate::domain::gate::Decision;
use crate::domain::gate::GateId;

use super::Bot;
use super::decisions::Via;
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
) -> Result<StatusCode, BotError> {
    if payload.kind != "block_actions" {
        return Ok(StatusCode::OK);
    }
    let (Some(user), Some(channel)) = (payload.user, payload.channel) else {
        return Err(BotError::BadRequest(
            "a block action without a user or channel".to_owned(),
        ));
    };
    for action in payload.actions {
        if action.action_id == ROLLBACK_NOW_ACTION_ID {
            roll_back_now(&bot, &user.id, &channel.id, action.value.as_deref()).await;
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
                &bot,
                &channel.id,
                &user.id,
                "This button does not name a greenlight gate; nothing was changed.",
            )
            .await;
            continue;
        };
        let outcome = bot
            .decide(&gate, &user.id, &channel.id, kind, Via::Button)
            .await;
        if !matches!(outcome, super::decisions::Outcome::Decided { .. }) {
            tell(&bot, &channel.id, &user.id, &outcome.message(&gate)).await;
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
