//! `POST /slack/interactions`: clicks on a card's buttons.
//!
//! The Slack signature is checked on the raw bytes before the body is even parsed. The button's
//! value is only a gate id; everything else (the parameter, the deployment) comes from the gate
//! record, so a forged value can at most name another gate, which the policy then guards.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::Deserialize;

use crate::card::{REROUTE_ACTION_ID, ROLLBACK_ACTION_ID, ROLLBACK_NOW_ACTION_ID};
use crate::domain::gate::GateId;
use crate::policy::Action;

use super::Bot;
use super::decisions::Via;
use super::error::BotError;
use super::router::read_body;

#[derive(Debug, Deserialize)]
struct Form {
    payload: String,
}

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: Option<IdOnly>,
    channel: Option<IdOnly>,
    #[serde(default)]
    actions: Vec<ActionPayload>,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ActionPayload {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

/// Verifies a Slack request's signature, or refuses it with 401.
pub fn verify_slack(bot: &Bot, headers: &HeaderMap, body: &[u8]) -> Result<(), BotError> {
    bot.slack_requests
        .verify(headers, body, Utc::now())
        .map_err(|refusal| {
            let reason = refusal.reason();
            tracing::warn!(event = "slack.refused", reason = %reason);
            BotError::Unauthorized(reason)
        })
}

pub async fn receive(
    State(bot): State<Arc<Bot>>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, BotError> {
    let body = read_body(body).await?;
    verify_slack(&bot, &headers, &body)?;
    let form: Form = serde_urlencoded::from_bytes(&body)
        .map_err(|_| BotError::BadRequest("expected a form with a payload field".to_owned()))?;
    let payload: Payload = serde_json::from_str(&form.payload).map_err(|_| {
        BotError::BadRequest("the payload is not an interaction payload".to_owned())
    })?;
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
            REROUTE_ACTION_ID => Action::Reroute,
            ROLLBACK_ACTION_ID => Action::Rollback,
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
async fn roll_back_now(bot: &Bot, user: &str, channel: &str, value: Option<&str>) {
    let Some(gate) = value.and_then(|value| value.parse::<GateId>().ok()) else {
        tracing::warn!(
            event = "gate.refusal",
            user,
            channel,
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
async fn tell(bot: &Bot, channel: &str, user: &str, text: &str) {
    if let Err(error) = bot.slack.post_ephemeral(channel, user, text).await {
        tracing::warn!(event = "slack.ephemeral_failed", user, error = %error);
    }
}
