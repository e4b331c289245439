//! `POST /sns`: signed SNS deliveries from the gate topic.
//!
//! Verification comes first and decides the status alone (400 malformed, 403 refused, 503 when the
//! certificate could not be fetched). Only a verified message is read, and only a gate request
//! whose decision parameter lies under `GREENLIGHT_DECISION_PREFIX` ever becomes a card.

use std::sync::Arc;

use axum::extract::State;
use chrono::Utc;

use crate::card::AuditEvent;
use crate::domain::deployment::ServiceDeploymentArn;
use crate::domain::gate::GateId;
use crate::domain::notification::{
    EcsEvent, GateEvent, GateFollowUp, GateRequest, TopicMessage, classify,
};
use crate::domain::progress::{DEPLOYMENT_STATE_CHANGE, HOOK_STATE_CHANGE};
use crate::domain::record::{GateRecord, GateStatus, Resolution};
use crate::ports::Created;
use crate::slack::api::OutgoingMessage;
use crate::sns::verify::{SnsEnvelope, SnsMessageType};

use super::Bot;
use super::closing::Closing;
use super::edge::error::BotError;
use super::edge::extract::VerifiedSns;
use super::slack_posts::CardClaim;

/// Longest text posted for a message greenlight does not otherwise understand.
const PLAIN_TEXT_MAX: usize = 2900;

pub async fn receive(
    State(bot): State<Arc<Bot>>,
    VerifiedSns(envelope): VerifiedSns,
) -> Result<String, BotError> {
    match envelope.message_type {
        SnsMessageType::SubscriptionConfirmation => confirm(&bot, &envelope).await,
        SnsMessageType::UnsubscribeConfirmation => {
            tracing::warn!(event = "sns.unsubscribed", topic = %envelope.topic_arn, message_id = %envelope.message_id, "the topic says greenlight was unsubscribed; no more gate requests will arrive");
            Ok("unsubscribe noted\n".to_owned())
        }
        SnsMessageType::Notification => notification(&bot, &envelope).await,
    }
}

/// Confirms through the API with the token, never by fetching a URL from the request.
async fn confirm(bot: &Bot, envelope: &SnsEnvelope) -> Result<String, BotError> {
    let Some(token) = envelope.token.as_deref() else {
        return Err(BotError::BadRequest(
            "subscription confirmation without a Token".to_owned(),
        ));
    };
    match bot.subscriptions.confirm(&envelope.topic_arn, token).await {
        Ok(()) => {
            tracing::info!(event = "sns.subscription_confirmed", topic = %envelope.topic_arn);
            Ok("subscription confirmed\n".to_owned())
        }
        Err(error) => {
            tracing::error!(event = "sns.confirmation_failed", topic = %envelope.topic_arn, error = %error);
            Err(BotError::Unavailable(
                "could not confirm the subscription".to_owned(),
            ))
        }
    }
}

async fn notification(bot: &Bot, envelope: &SnsEnvelope) -> Result<String, BotError> {
    let message = match classify(&envelope.message) {
        Ok(message) => message,
        Err(error) => {
            tracing::warn!(event = "sns.gate_refused", message_id = %envelope.message_id, reason = %error);
            return Err(BotError::Forbidden(format!(
                "gate request refused: {error}"
            )));
        }
    };
    match message {
        TopicMessage::GateRequest(request) => open_gate(bot, envelope, &request).await,
        TopicMessage::FollowUp(follow_up) => follow_up_gate(bot, &follow_up).await,
        TopicMessage::EcsEvent(event) => ecs_event(bot, envelope, &event).await,
        TopicMessage::Plain(text) => {
            let text = match &envelope.subject {
                Some(subject) => format!("*{subject}*\n{text}"),
                None => text,
            };
            post_plain(bot, &text, None).await
        }
    }
}

async fn open_gate(
    bot: &Bot,
    envelope: &SnsEnvelope,
    request: &GateRequest,
) -> Result<String, BotError> {
    if !request
        .parameter_name
        .is_under(&bot.settings.decision_prefix)
    {
        tracing::warn!(event = "sns.gate_refused", code = "outside_decision_prefix", message_id = %envelope.message_id, parameter = %request.parameter_name, prefix = %bot.settings.decision_prefix);
        return Err(BotError::Forbidden(
            "gate request refused: its decision parameter is outside GREENLIGHT_DECISION_PREFIX"
                .to_owned(),
        ));
    }
    let request = match request.clone().bind(&bot.settings.decision_prefix) {
        Ok(request) => request,
        Err(why) => {
            tracing::warn!(event = "sns.gate_refused", code = "inconsistent_gate", message_id = %envelope.message_id, deployment = request.service_deployment_arn.as_deref().unwrap_or(""), reason = %why);
            return Err(BotError::Forbidden(format!(
                "gate request refused (inconsistent_gate): {why}"
            )));
        }
    };
    let mut record = GateRecord::from_request(&request);
    if request.gate_id.is_none() {
        record.gate_id =
            GateId::for_parameter_message(&request.parameter_name, &envelope.message_id);
    }
    // A recipe request carries no time of its own; the bot's clock dates it, so that a card from
    // last week cannot decide this week's deployment (see `decisions.rs`).
    record.requested_at.get_or_insert_with(Utc::now);
    let Some(channel) = bot.channel_for(record.cluster.as_deref(), record.service.as_deref())
    else {
        tracing::error!(event = "gate.no_channel", gate_id = %record.gate_id, "no policy rule or GREENLIGHT_SLACK_CHANNEL names a channel for this gate");
        return Err(BotError::Forbidden(
            "no channel is configured for this gate".to_owned(),
        ));
    };
    match bot.gates.create(&record).await {
        Ok(Created::New) => {
            if record.service_deployment_arn.is_none() {
                supersede_older_recipe_gates(bot, &record).await;
            }
            // Claimed like any other delivery's, so that a duplicate racing this one cannot post
            // a second card, and a claim is never left behind by a create that failed.
            match already_recorded(bot, &record.gate_id, envelope).await? {
                Some(recorded) => record = recorded,
                None => return Ok("gate already carded\n".to_owned()),
            }
        }
        Ok(Created::AlreadyExisted) => {
            match already_recorded(bot, &record.gate_id, envelope).await? {
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
    if let Some(code) = bot.post_new_card(&mut record, channel, None).await? {
        return Ok(format!("card not posted: Slack said {code}\n"));
    }
    tracing::info!(event = "gate.carded", gate_id = %record.gate_id, cluster = record.cluster.as_deref().unwrap_or(""), service = record.service.as_deref().unwrap_or(""), stage = record.stage.map(|s| s.as_str()).unwrap_or(""), parameter = %request.parameter_name, outcome = "posted");
    Ok("card posted\n".to_owned())
}

/// Recipe hooks share one decision parameter across deployments: a click on last week's card
/// would write `approved` where this week's hook reads it. So a new recipe gate on a parameter
/// closes the older one still open there (its card says by what, and loses its buttons).
async fn supersede_older_recipe_gates(bot: &Bot, record: &GateRecord) {
    let Resolution::Parameter { name } = &record.resolution else {
        return;
    };
    let Ok(Some(older)) = bot.gates.supersede(name.as_str(), &record.gate_id).await else {
        return;
    };
    if older == record.gate_id {
        return;
    }
    let status = GateStatus::ResolvedElsewhere {
        outcome: format!(
            "superseded by a newer request on the same parameter, `{}`",
            record.gate_id
        ),
        at: Utc::now(),
    };
    let _ = bot
        .close_gate(&older, Closing::new(status, "gate.superseded"))
        .await;
}

/// A request for a gate that is recorded already: `Some` with the gate when this delivery is the
/// one to post its missing card, `None` when there is nothing to post.
pub(super) async fn already_recorded(
    bot: &Bot,
    id: &GateId,
    envelope: &SnsEnvelope,
) -> Result<Option<GateRecord>, BotError> {
    let claim = bot
        .claim_card(id)
        .await
        .map_err(|_| BotError::Unavailable("could not read the gate".to_owned()))?;
    tracing::info!(event = "gate.card_claim", gate_id = %id, message_id = %envelope.message_id, claim = claim.code());
    match claim {
        CardClaim::Claimed(record) => Ok(Some(*record)),
        // "Duplicate" means carded, not recorded: until the card is there, SNS is asked to
        // deliver again (the delivery posting it may yet fail, or die and leave a stale claim).
        CardClaim::BeingPosted => Err(BotError::Unavailable(
            "another delivery is posting this gate's card; deliver again".to_owned(),
        )),
        CardClaim::Carded | CardClaim::Closed | CardClaim::Gone => Ok(None),
    }
}

/// How far the hook's clock may be ahead of the bot's when it says a deadline passed.
const DEADLINE_SKEW: chrono::Duration = chrono::Duration::minutes(2);

async fn follow_up_gate(bot: &Bot, follow_up: &GateFollowUp) -> Result<String, BotError> {
    let GateEvent::TimedOut { action } = follow_up.event;
    // What closes a card must be true: a timeout only once the gate's own deadline has passed,
    // with the action the gate recorded. Anyone who may publish could otherwise close any card.
    // The same check guards a closed gate, whose unread decision the timeout deletes.
    match bot.gates.load(&follow_up.gate_id).await {
        Ok(Some(record)) => {
            let premature = record
                .deadline
                .is_none_or(|deadline| Utc::now() + DEADLINE_SKEW < deadline);
            let mismatched = record
                .timeout_action
                .is_some_and(|recorded| recorded != action);
            if premature || mismatched {
                let code = if premature {
                    "premature_timeout"
                } else {
                    "mismatched_timeout"
                };
                tracing::warn!(event = "sns.gate_refused", code, gate_id = %follow_up.gate_id, deadline = ?record.deadline, claimed_action = action.as_str());
                return Err(BotError::Forbidden(format!(
                    "timeout refused ({code}): the gate's deadline has not passed or its action differs"
                )));
            }
        }
        Ok(_) => {}
        Err(_) => {
            return Err(BotError::Unavailable("could not read the gate".to_owned()));
        }
    }
    let status = GateStatus::TimedOut {
        action,
        at: follow_up.at,
    };
    match bot
        .close_gate(&follow_up.gate_id, Closing::new(status, "gate.timed_out"))
        .await
    {
        Ok(Some(update)) => {
            // The hook has given up on this gate: a decision written now (or in a race with
            // the timeout) would never be read.
            bot.forget_decision(&update.after).await;
            Ok(if update.closed() {
                "card updated\n"
            } else {
                "gate already closed\n"
            }
            .to_owned())
        }
        Ok(None) => {
            let text = format!(
                "⏰ Gate `{}` timed out; the deployment was {}.",
                follow_up.gate_id,
                action.past_tense()
            );
            post_plain(bot, &text, None).await
        }
        Err(_) => Err(BotError::Unavailable(
            "could not update the gate".to_owned(),
        )),
    }
}

/// Where an ECS event belongs: the cluster and service it is about.
fn event_service(event: &EcsEvent) -> Option<(String, String)> {
    if let Some(arn) = event
        .detail
        .get("serviceDeploymentArn")
        .and_then(|v| v.as_str())
        && let Ok(arn) = arn.parse::<ServiceDeploymentArn>()
    {
        return Some((arn.cluster().to_owned(), arn.service().to_owned()));
    }
    crate::domain::progress::service_in_resources(event)
}

async fn ecs_event(
    bot: &Bot,
    envelope: &SnsEnvelope,
    event: &EcsEvent,
) -> Result<String, BotError> {
    // Flow B's pauses and every gate's deployment progress are handled in their own modules;
    // what they do not take is noted below as before.
    match event.detail_type.as_str() {
        HOOK_STATE_CHANGE => return super::pause::hook_event(bot, envelope, event).await,
        DEPLOYMENT_STATE_CHANGE => {
            if let Some(answer) =
                super::deployment_events::deployment_event(bot, envelope, event).await
            {
                return answer;
            }
        }
        _ => {}
    }
    let name = event
        .detail
        .get("eventName")
        .and_then(|v| v.as_str())
        .unwrap_or("event");
    let reason = event.detail.get("reason").and_then(|v| v.as_str());
    let record = match event_service(event) {
        // A store failure (logged by the store) posts the event as it is.
        Some((cluster, service)) => bot
            .gates
            .latest_for_service(&cluster, &service)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    match record {
        Some(record) if record.card.is_some() => {
            bot.note_in_thread(
                &record,
                &AuditEvent::Deployment {
                    status: name,
                    reason,
                },
            )
            .await;
            Ok("noted in the gate's thread\n".to_owned())
        }
        _ => {
            // Every deployment of every ECS service in the region reaches the topic; only those
            // greenlight carded belong in the channel. The rest is a log line.
            let (cluster, service) = event_service(event).unwrap_or_default();
            tracing::info!(event = "ecs.event_without_card", detail_type = %event.detail_type, ecs_event = name, cluster = %cluster, service = %service, reason = reason.unwrap_or(""), message_id = %envelope.message_id);
            Ok("no card for this service; logged only\n".to_owned())
        }
    }
}

/// Posts what greenlight does not otherwise understand, so nothing on the topic is lost.
async fn post_plain(bot: &Bot, text: &str, thread_ts: Option<String>) -> Result<String, BotError> {
    let Some(channel) = bot.settings.slack_channel.clone() else {
        tracing::warn!(
            event = "sns.unrouted",
            "no GREENLIGHT_SLACK_CHANNEL for a message that is not a gate"
        );
        return Ok("no default channel; message logged only\n".to_owned());
    };
    let clipped: String = text.chars().take(PLAIN_TEXT_MAX).collect();
    let mut message = OutgoingMessage::text(channel, crate::card::escape(&clipped));
    message.thread_ts = thread_ts;
    match bot.slack.post_message(&message).await {
        Ok(_) => Ok("posted\n".to_owned()),
        Err(error) if error.retryable => {
            tracing::error!(event = "slack.post_failed", error = %error);
            Err(BotError::Unavailable(
                "Slack is unavailable; deliver again".to_owned(),
            ))
        }
        Err(error) => {
            tracing::error!(event = "slack.post_failed", error = %error);
            Ok(format!("not posted: Slack said {}\n", error.code))
        }
    }
}
