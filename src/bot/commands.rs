//! `POST /slack/commands`: the `/deploy` slash command.
//!
//! Answers are ephemeral JSON in the HTTP response, so they reach only the person who typed them
//! and need no extra API call. `approve` and `rollback` take exactly the path a button takes.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::card::slack_date;
use crate::domain::gate::Decision;
use crate::domain::gate::GateId;
use crate::domain::record::{GateRecord, Resolution};
use crate::slack::api::archive_link;

use super::Bot;
use super::decisions::Via;
use super::edge::budget::{Answered, within_budget};
use super::edge::error::BotError;
use super::edge::extract::{SlackBody, VerifiedSlack};
use crate::store::OpenGates;
use slack_morphism::prelude::{SlackChannelId, SlackCommandEvent, SlackUserId};

/// Most gates `/deploy status` describes, so that the ECS lookups fit in Slack's 3 seconds.
const STATUS_LIMIT: usize = 10;

/// What Slack posts to the slash-command URL: a command, as slack-morphism models it (Slack's
/// documented form fields), or the signed `ssl_check=1` request with which Slack checks the
/// URL's certificate and which carries no user or channel.
#[derive(Debug)]
pub enum SlashRequest {
    SslCheck,
    Command(Box<SlackCommandEvent>),
}

/// The one field that tells an `ssl_check` from a command.
#[derive(Debug, Deserialize)]
struct SslCheck {
    #[serde(default)]
    ssl_check: Option<String>,
}

pub const USAGE: &str = "Usage: `/deploy status [service]` · `/deploy approve <gate> [reason…]` · `/deploy rollback <gate> [reason…]` · `/deploy help`";

const HELP: &str = "*greenlight* gates the production traffic shift of ECS blue/green deployments.\n\
• `/deploy status [service]`: the open gates of this channel (in a direct message: the ones you may decide), their votes and deadline, and where ECS is with each deployment\n\
• `/deploy approve <gate> [reason…]`: reroute production traffic to the new revision (same rules as the Reroute button)\n\
• `/deploy rollback <gate> [reason…]`: roll the deployment back (same rules as the Rollback button)\n\
A reason, where given, goes on the card and in the thread; where the policy asks for one, it is required.\n\
Gate ids look like `gl-0123456789ab` and are shown on each card.";

fn ephemeral(text: impl Into<String>) -> Json<Value> {
    Json(json!({"response_type": "ephemeral", "text": text.into()}))
}

impl SlackBody for SlashRequest {
    fn parse(body: &[u8]) -> Result<SlashRequest, BotError> {
        let check: Option<SslCheck> = serde_urlencoded::from_bytes(body).ok();
        if check.and_then(|check| check.ssl_check).as_deref() == Some("1") {
            return Ok(SlashRequest::SslCheck);
        }
        let command: SlackCommandEvent = serde_urlencoded::from_bytes(body).map_err(|_| {
            BotError::BadRequest(
                "expected a slash-command form with user_id and channel_id".to_owned(),
            )
        })?;
        if command.user_id.0.trim().is_empty() || command.channel_id.0.trim().is_empty() {
            return Err(BotError::BadRequest(
                "expected a slash-command form with user_id and channel_id".to_owned(),
            ));
        }
        Ok(SlashRequest::Command(Box::new(command)))
    }
}

pub async fn receive(
    State(bot): State<Arc<Bot>>,
    VerifiedSlack(request): VerifiedSlack<SlashRequest>,
) -> Result<Json<Value>, BotError> {
    let arrived = tokio::time::Instant::now();
    let command = match request {
        SlashRequest::SslCheck => return Ok(ephemeral("")),
        SlashRequest::Command(command) => command,
    };
    let (user, channel) = (command.user_id.clone(), command.channel_id.clone());
    // If Slack's time runs out first, the route answers that the outcome follows, and the
    // command, once done, posts its answer as an ephemeral message instead (see `edge::budget`).
    let working = Arc::clone(&bot);
    let work = async move { answer(&working, &command).await };
    let (late_user, late_channel) = (user.clone(), channel.clone());
    let when_late = move |answer: String| async move {
        if let Err(error) = bot
            .slack
            .post_ephemeral(&late_channel, &late_user, &answer)
            .await
        {
            tracing::warn!(event = "slack.ephemeral_failed", user = %late_user, error = %error);
        }
    };
    match within_budget(arrived, work, when_late).await? {
        Answered::InTime(answer) => Ok(ephemeral(answer)),
        Answered::Late => {
            tracing::warn!(event = "slack.answered_at_budget", route = "commands", user = %user, channel = %channel);
            Ok(ephemeral(
                "⏳ Still working on it: the outcome follows in a message only you see.",
            ))
        }
    }
}

/// What `/deploy` answers to one command.
async fn answer(bot: &Bot, command: &SlackCommandEvent) -> String {
    let (user, channel) = (&command.user_id, &command.channel_id);
    let text = command.text.clone().unwrap_or_default();
    tracing::info!(event = "command.received", command = %command.command, user = %user, channel = %channel, text = %text.chars().take(100).collect::<String>());
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["status"] => status(bot, user, channel, None).await,
        ["status", service] => status(bot, user, channel, Some(service)).await,
        [verb @ ("approve" | "rollback"), gate, reason @ ..] => {
            let action = if *verb == "approve" {
                Decision::Approved
            } else {
                Decision::Rejected
            };
            // The reason is the rest of the text as typed (its spacing kept), after the gate id.
            let reason = (!reason.is_empty())
                .then(|| text.trim_start())
                .and_then(|rest| rest.strip_prefix(verb))
                .map(str::trim_start)
                .and_then(|rest| rest.strip_prefix(gate))
                .map(str::trim);
            match gate.parse::<GateId>() {
                Ok(gate) => {
                    let outcome = bot
                        .decide(&gate, user, channel, action, Via::Command, reason)
                        .await;
                    outcome.message(&gate)
                }
                Err(error) => format!("{error}. {USAGE}"),
            }
        }
        ["help"] | [] => HELP.to_owned(),
        _ => USAGE.to_owned(),
    }
}

/// The open gates someone may see, each with the live state of its deployment from ECS: in a
/// channel, the gates whose cards are in it; in a direct message, the gates the person may
/// decide. Never every gate of every channel to anyone. Each list is one query per channel (or
/// one for the service) on a sparse index of open gates: what it reads does not grow with the
/// gates that closed.
async fn status(
    bot: &Bot,
    user: &SlackUserId,
    channel: &SlackChannelId,
    service: Option<&str>,
) -> String {
    let direct = channel.0.starts_with('D');
    let gates = match visible_gates(bot, user, channel, service, direct).await {
        Ok(gates) => gates,
        Err(_) => {
            return "⚠️ The gate store is unavailable; try again in a moment.".to_owned();
        }
    };
    if gates.is_empty() {
        return match (service, direct) {
            (Some(service), false) => format!("No open gate for `{service}` in this channel."),
            (Some(service), true) => format!("No open gate for `{service}` that you may decide."),
            (None, false) => "No open gates in this channel.".to_owned(),
            (None, true) => "No open gates that you may decide.".to_owned(),
        };
    }
    let shown = &gates[..gates.len().min(STATUS_LIMIT)];
    let lines =
        futures_util::future::join_all(shown.iter().map(|gate| status_line(bot, gate))).await;
    let mut text = format!(
        "*{} open gate{}*\n{}",
        gates.len(),
        if gates.len() == 1 { "" } else { "s" },
        lines.join("\n")
    );
    if gates.len() > STATUS_LIMIT {
        text.push_str(&format!("\n… and {} more", gates.len() - STATUS_LIMIT));
    }
    text
}

async fn visible_gates(
    bot: &Bot,
    user: &SlackUserId,
    channel: &SlackChannelId,
    service: Option<&str>,
    direct: bool,
) -> Result<Vec<GateRecord>, crate::store::StoreError> {
    let candidates: Vec<GateRecord> = match (service, direct) {
        (Some(service), _) => {
            bot.gates
                .open_gates(&OpenGates::OfService(service.to_owned()))
                .await?
        }
        (None, false) => {
            bot.gates
                .open_gates(&OpenGates::InChannel(channel.0.clone()))
                .await?
        }
        (None, true) => {
            let mut gates = Vec::new();
            for channel in bot.card_channels() {
                gates.extend(bot.gates.open_gates(&OpenGates::InChannel(channel)).await?);
            }
            gates.sort_by_key(|gate| gate.requested_at);
            gates
        }
    };
    let mut visible = Vec::new();
    for gate in candidates {
        let card_channel = gate.card.as_ref().map(|card| card.channel.clone());
        let shown = if direct {
            // Someone who may decide it, wherever its card is.
            let card_channel = SlackChannelId::new(card_channel.unwrap_or_default());
            bot.authorize_on_gate(&gate, user, &card_channel, Decision::Approved)
                .await
                .is_ok()
        } else {
            card_channel.as_deref() == Some(channel.0.as_str())
        };
        if shown {
            visible.push(gate);
        }
    }
    Ok(visible)
}

async fn status_line(bot: &Bot, gate: &GateRecord) -> String {
    let now = Utc::now();
    let mut line = format!("• `{}` *{}*", gate.gate_id, gate.display_name());
    if let Some(cluster) = &gate.cluster {
        line.push_str(&format!(" in {cluster}"));
    }
    if let Some(stage) = gate.stage {
        line.push_str(&format!(" at {stage}"));
    }
    if let Some(requested) = gate.requested_at {
        let minutes = (now - requested).num_minutes().max(0);
        line.push_str(&format!(", waiting {}", human_minutes(minutes)));
    }
    if let Some(deadline) = gate.deadline {
        line.push_str(&format!(", deadline {}", slack_date(deadline)));
    }
    let view = bot.card_view(gate, Vec::new());
    // Votes are one more SSM call per gate, inside Slack's 3 s: only where a quorum counts them.
    if view.quorum > 1 {
        let votes = bot.gates.votes(&gate.gate_id).await.unwrap_or_default();
        line.push_str(&format!(", {} of {} approvals", votes.len(), view.quorum));
    }
    if !view.approvers_configured {
        line.push_str(", ⚠️ no approver configured");
    }
    if let Some(card) = &gate.card {
        line.push_str(&format!(
            " · <{}|card>",
            archive_link(&card.channel, &card.ts)
        ));
    }
    if let Some(arn) = &gate.service_deployment_arn {
        match bot.deployments.describe(arn).await {
            Ok(Some(state)) => {
                line.push_str(&format!("\n    ECS: {}", state.status));
                if let Some(stage) = &state.lifecycle_stage {
                    line.push_str(&format!(", stage {stage}"));
                }
                // A pause gate's own hook is marked: a deployment may list several.
                let own_hook = match &gate.resolution {
                    Resolution::PauseHook { hook_id } => Some(hook_id.as_str()),
                    Resolution::Parameter { .. } => None,
                };
                let reported = |hook: &&crate::ports::HookState| {
                    hook.status != crate::ports::LifecycleHookStatus::default()
                };
                for hook in state.hooks.iter().filter(reported) {
                    line.push_str(&format!(", hook {} {}", hook.target_type, hook.status));
                    if let Some(expires) = hook.expires_at {
                        line.push_str(&format!(" (expires {}", slack_date(expires)));
                        if let Some(action) = &hook.timeout_action {
                            line.push_str(&format!(", then {action}"));
                        }
                        line.push(')');
                    }
                    if own_hook == Some(hook.hook_id.as_str()) {
                        line.push_str(" ← this gate");
                    }
                }
            }
            Ok(None) => line.push_str("\n    ECS: deployment not found"),
            Err(error) => {
                tracing::warn!(event = "ecs.describe_failed", gate_id = %gate.gate_id, error = %error);
                line.push_str("\n    ECS: state unavailable");
            }
        }
    }
    line
}

fn human_minutes(minutes: i64) -> String {
    match minutes {
        0 => "under a minute".to_owned(),
        1..=59 => format!("{minutes} min"),
        _ => format!("{} h {} min", minutes / 60, minutes % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example of a slash command's body reads as a command.
    #[test]
    fn slacks_documented_slash_command_reads() {
        let body = "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&\
            enterprise_id=E0001&enterprise_name=Globular%20Construct%20Inc&channel_id=C2147483705&\
            channel_name=test&user_id=U2147483697&user_name=Steve&command=/weather&text=94070&\
            response_url=https://hooks.slack.com/commands/1234/5678&\
            trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A123456";
        let body: String = body.split_whitespace().collect();
        match SlashRequest::parse(body.as_bytes()).unwrap() {
            SlashRequest::Command(command) => {
                assert_eq!(command.user_id.0, "U2147483697");
                assert_eq!(command.channel_id.0, "C2147483705");
                assert_eq!(command.text.as_deref(), Some("94070"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            SlashRequest::parse(b"ssl_check=1&token=x").unwrap(),
            SlashRequest::SslCheck
        ));
        assert!(SlashRequest::parse(b"command=/deploy&text=help").is_err());
    }
}
