//! The SNS stand-in: the gate topic, delivering each message to the bot's `POST /sns` as an
//! HTTPS subscription would, signed. The hook publishes to it (Flow A), and so does the
//! EventBridge rule with ECS's events (Flow B).
//!
//! Every delivery is a complete SNS `Notification` body, signed (SignatureVersion 2, no Subject)
//! with an [`SnsSigner`] throwaway key whose certificate the rehearsal pins into the bot's
//! [`CertificateStore`]. The bot therefore runs its whole verification (topic, age, certificate
//! URL, signature) on it; only the certificate comes from the pin instead of a fetch, and a fetch
//! is refused outright so the rehearsal never leaves the machine.
//!
//! Delivery happens before `Publish` returns, as moto does it; real SNS delivers a moment later.
//! That keeps the output in the order things depend on each other: the card, then the hook's
//! next step.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use tokio::time::Instant;

use crate::domain::notification::{GateEvent, TopicMessage, classify};
use crate::domain::progress::HOOK_STATE_CHANGE;
use crate::ports::{AdapterError, SubscriptionConfirmer, TopicPublisher};
use crate::sns::certificates::{CertificateFetcher, SigningCertUrl};
use crate::sns::signer::SnsSigner;
use crate::sns::verify::SignatureVersion;

use super::console::{Console, human};
use super::loopback::Loopback;
use super::timeline::Timeline;

/// The topic the hook publishes to, delivering to the bot over loopback HTTP.
pub struct LoopbackTopic {
    topic_arn: String,
    signer: Arc<SnsSigner>,
    bot: Loopback,
    console: Arc<Console>,
    timeline: Arc<Timeline>,
}

impl LoopbackTopic {
    pub fn new(
        topic_arn: impl Into<String>,
        signer: Arc<SnsSigner>,
        bot: Loopback,
        console: Arc<Console>,
        timeline: Arc<Timeline>,
    ) -> LoopbackTopic {
        LoopbackTopic {
            topic_arn: topic_arn.into(),
            signer,
            bot,
            console,
            timeline,
        }
    }
}

/// What a message is, in a few words for the output, and whether it opens a gate: a hook's gate
/// request, or ECS's word that a pause hook awaits an action.
fn describe(message: &str) -> (String, bool) {
    match classify(message) {
        Ok(TopicMessage::GateRequest(_)) => ("gate request".to_owned(), true),
        Ok(TopicMessage::FollowUp(follow_up))
            if matches!(follow_up.event, GateEvent::TimedOut { .. }) =>
        {
            ("gate follow-up (timed out)".to_owned(), false)
        }
        Ok(TopicMessage::FollowUp(_)) => ("gate follow-up".to_owned(), false),
        Ok(TopicMessage::EcsEvent(event)) => {
            match event.detail.get("eventName").and_then(|name| name.as_str()) {
                Some(name) => (
                    format!("{} ({name})", event.detail_type),
                    event.detail_type == HOOK_STATE_CHANGE && name == "HOOK_AWAITING_ACTION",
                ),
                None => (event.detail_type, false),
            }
        }
        Ok(TopicMessage::Plain(_)) => ("plain message".to_owned(), false),
        Err(_) => ("malformed gate message".to_owned(), false),
    }
}

#[async_trait]
impl TopicPublisher for LoopbackTopic {
    async fn publish(&self, message: &str) -> Result<(), AdapterError> {
        let (kind, opens_a_gate) = describe(message);
        if opens_a_gate {
            self.timeline.gate_requested();
        }
        let body = self
            .signer
            .notification(
                &self.topic_arn,
                message,
                None,
                Utc::now(),
                SignatureVersion::V2Sha256,
            )
            .map_err(|error| AdapterError::permanent("sns:Publish", error.to_string()))?;
        let mut headers = HeaderMap::new();
        // The headers SNS sends with an HTTP(S) delivery.
        for (name, value) in [
            (CONTENT_TYPE.as_str(), "text/plain; charset=UTF-8"),
            ("x-amz-sns-message-type", "Notification"),
            ("x-amz-sns-topic-arn", self.topic_arn.as_str()),
            ("user-agent", "Amazon Simple Notification Service Agent"),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        self.console.line(
            "sns",
            &format!("delivers the {kind} → POST /sns (signed, SignatureVersion 2)"),
        );
        let sent = Instant::now();
        let answer = self
            .bot
            .post("/sns", headers, Bytes::from(body))
            .await
            .map_err(|error| AdapterError::retryable("sns:Publish", error))?;
        self.console.line(
            "sns",
            &format!(
                "← {} {} ({})",
                answer.status.as_u16(),
                answer.body,
                human(sent.elapsed())
            ),
        );
        if answer.status.is_success() {
            Ok(())
        } else {
            // SNS would retry a 5xx for a while; the hook publishes again on its next call.
            Err(AdapterError {
                operation: "sns:Publish",
                message: format!("the subscriber answered {}", answer.status),
                retryable: answer.status.is_server_error(),
            })
        }
    }
}

/// The rehearsal's certificate is pinned; any other would have to be fetched from AWS, which the
/// rehearsal never does.
pub struct NoFetch;

#[async_trait]
impl CertificateFetcher for NoFetch {
    async fn fetch(&self, url: &SigningCertUrl) -> Result<Bytes, AdapterError> {
        Err(AdapterError::permanent(
            "sns:certificate",
            format!("the rehearsal fetches nothing; {url} is not pinned"),
        ))
    }
}

/// The rehearsal's topic has no subscription to confirm: deliveries start at once.
pub struct NoSubscriptions;

#[async_trait]
impl SubscriptionConfirmer for NoSubscriptions {
    async fn confirm(&self, topic_arn: &str, _token: &str) -> Result<(), AdapterError> {
        Err(AdapterError::permanent(
            "sns:ConfirmSubscription",
            format!("the rehearsal has no subscription to {topic_arn} to confirm"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_named_by_what_the_bot_makes_of_them() {
        assert_eq!(describe("hello"), ("plain message".to_owned(), false));
        assert_eq!(
            describe(
                r#"{"version":"1.0","source":"custom","content":{"textType":"client-markdown","title":"t"},"metadata":{"additionalContext":{"parameterName":"/a/b"}}}"#
            ),
            ("gate request".to_owned(), true)
        );
    }

    #[test]
    fn a_waiting_pause_hook_opens_a_gate_and_other_ecs_events_do_not() {
        let event = |detail_type: &str, name: &str| {
            serde_json::json!({
                "version": "0",
                "source": "aws.ecs",
                "detail-type": detail_type,
                "resources": [],
                "detail": {"eventName": name},
            })
            .to_string()
        };
        assert_eq!(
            describe(&event("ECS Hook State Change", "HOOK_AWAITING_ACTION")),
            (
                "ECS Hook State Change (HOOK_AWAITING_ACTION)".to_owned(),
                true
            )
        );
        assert!(!describe(&event("ECS Hook State Change", "HOOK_SUCCEEDED")).1);
        assert_eq!(
            describe(&event(
                "ECS Deployment State Change",
                "SERVICE_DEPLOYMENT_COMPLETED"
            )),
            (
                "ECS Deployment State Change (SERVICE_DEPLOYMENT_COMPLETED)".to_owned(),
                false
            )
        );
    }
}
