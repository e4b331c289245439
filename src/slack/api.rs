//! The port: what greenlight asks of Slack's Web API, and nothing more.
//!
//! Four calls cover the whole product: post a card or a thread reply, rewrite a card, tell one
//! person something only they see, and read a user group's members for the policy. The bot and
//! the rehearsal depend on this trait; [`super::web::SlackWebApi`] implements it over
//! slack-morphism, and the integration tests run that implementation against a local double.

use async_trait::async_trait;
use slack_morphism::prelude::{SlackBlock, SlackChannelId, SlackUserId};

use crate::ports::AdapterError;

/// A message to post: a card (blocks with a fallback text) or a plain thread reply.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    pub channel: String,
    /// Shown in notifications and by clients that cannot draw blocks; also what screen readers
    /// announce. Always set, even when `blocks` say the same.
    pub text: String,
    /// Block Kit blocks; empty for a text-only message.
    pub blocks: Vec<SlackBlock>,
    /// Posts as a reply in this message's thread (the audit trail under a card).
    pub thread_ts: Option<String>,
}

impl OutgoingMessage {
    /// A text-only message in `channel`.
    pub fn text(channel: impl Into<String>, text: impl Into<String>) -> Self {
        OutgoingMessage {
            channel: channel.into(),
            text: text.into(),
            blocks: Vec::new(),
            thread_ts: None,
        }
    }

    /// The same message as a reply in the thread of `thread_ts`.
    pub fn in_thread(self, thread_ts: impl Into<String>) -> Self {
        OutgoingMessage {
            thread_ts: Some(thread_ts.into()),
            ..self
        }
    }
}

/// Where Slack put a posted message: what `chat.update` and thread replies need later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    /// The channel ID (Slack answers with the ID even when posted by name).
    pub channel: String,
    pub ts: String,
}

/// A failed Slack Web API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Slack {method} failed: {code}")]
pub struct SlackError {
    /// The Web API method, e.g. `chat.postMessage`.
    pub method: &'static str,
    /// Slack's error code (`channel_not_found`, `not_in_channel`, `ratelimited` …), or `http` for
    /// a transport failure or an unexpected HTTP status, `timeout` when Slack did not answer in
    /// time, `invalid_response` when the answer could not be read.
    pub code: String,
    /// A network error, a timeout, a 5xx or a rate limit: trying again later may work. Slack's
    /// own error codes (a missing scope, an unknown channel) will not change by retrying.
    pub retryable: bool,
}

impl From<SlackError> for AdapterError {
    fn from(error: SlackError) -> Self {
        AdapterError {
            operation: error.method,
            message: error.code,
            retryable: error.retryable,
        }
    }
}

/// Slack's Web API, as much of it as greenlight uses.
#[async_trait]
pub trait SlackApi: Send + Sync {
    /// `chat.postMessage`.
    async fn post_message(&self, message: &OutgoingMessage) -> Result<PostedMessage, SlackError>;
    /// `chat.update`: replaces the message's text and all of its blocks.
    async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &[SlackBlock],
    ) -> Result<(), SlackError>;
    /// `chat.postEphemeral`: a message only `user` sees, e.g. why their click was refused.
    async fn post_ephemeral(
        &self,
        channel: &SlackChannelId,
        user: &SlackUserId,
        text: &str,
    ) -> Result<(), SlackError>;
    /// `usergroups.users.list`: the user IDs in a user group (`S…`).
    async fn usergroup_members(&self, usergroup_id: &str) -> Result<Vec<String>, SlackError>;
    /// `users.lookupByEmail`: the user with this address, `None` when Slack knows nobody by it.
    /// Needs the `users:read.email` scope; without it Slack answers `missing_scope`.
    async fn user_by_email(&self, email: &str) -> Result<Option<String>, SlackError>;
    /// `views.open`: opens a modal for the person whose click gave `trigger_id` (valid for 3 s).
    async fn open_view(&self, trigger_id: &str, view: &serde_json::Value)
    -> Result<(), SlackError>;
}

/// The link to a message in Slack's archive, `https://slack.com/archives/{channel}/p{ts}` with
/// the dot removed from the ts. Slack redirects it to the workspace, so it works without knowing
/// the workspace's domain (unlike `chat.getPermalink`, it costs no API call).
pub fn archive_link(channel: &str, ts: &str) -> String {
    let digits: String = ts.chars().filter(|c| *c != '.').collect();
    format!("https://slack.com/archives/{channel}/p{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_link_drops_the_dot() {
        assert_eq!(
            archive_link("C0123ABC", "1714567890.123456"),
            "https://slack.com/archives/C0123ABC/p1714567890123456"
        );
    }

    #[test]
    fn a_slack_error_reads_well_and_converts() {
        let error = SlackError {
            method: "chat.postMessage",
            code: "channel_not_found".into(),
            retryable: false,
        };
        assert_eq!(
            error.to_string(),
            "Slack chat.postMessage failed: channel_not_found"
        );
        let adapter: AdapterError = error.into();
        assert_eq!(adapter.operation, "chat.postMessage");
        assert!(!adapter.retryable);
    }

    #[test]
    fn thread_replies_keep_the_message() {
        let reply = OutgoingMessage::text("C1", "hello").in_thread("1.2");
        assert_eq!(reply.thread_ts.as_deref(), Some("1.2"));
        assert_eq!(reply.text, "hello");
        assert!(reply.blocks.is_empty());
    }
}
