//! [`SlackApi`] on Slack's Web API, through slack-morphism's `SlackClient`.
//!
//! Built once at start-up and shared: the HTTP connection pool lives in it. It runs on the
//! process's one TLS stack (`crate::tls`), and takes the API's base URL so tests and the local
//! rehearsal point it at a double.
//!
//! What slack-morphism does and what is added here:
//! - slack-morphism builds and sends the requests (typed request structs, bearer token, JSON
//!   bodies, query strings for GET methods) and turns answers into `SlackClientError`s: Slack's
//!   `ok: false` error code, HTTP statuses, and for a 429 a `RateLimitError` with `Retry-After`.
//! - slack-morphism can also retry a 429 by itself, but only with its rate controller enabled,
//!   and then it waits the whole `Retry-After` however long (its `max_delay_timeout` setting is
//!   never read). The bot must answer Slack within 3 seconds, so the controller stays off and this
//!   adapter retries a 429 once, only when `Retry-After` fits under a cap (2 s by default).
//! - Each attempt has a timeout (the connector has none), every failure becomes a [`SlackError`]
//!   with Slack's code and whether retrying may help, and the code is logged.
//! - Answers are read into small structs holding only what greenlight uses (`channel`, `ts`,
//!   `users`): slack-morphism's full response types also parse the echoed message, and a block it
//!   does not know would turn a message that *was* posted into an error, and a retry into a
//!   duplicate card.

use std::time::Duration;

use async_trait::async_trait;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::{
    SlackApiChatPostEphemeralRequest, SlackApiChatPostMessageRequest, SlackApiChatUpdateRequest,
    SlackApiToken, SlackApiTokenValue, SlackBlock, SlackChannelId, SlackClient,
    SlackClientHyperConnector, SlackMessageContent, SlackUserId,
};

use super::api::{OutgoingMessage, PostedMessage, SlackApi, SlackError};
use crate::tls::{Scheme, https_connector};

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";
/// The longest `Retry-After` worth waiting for within Slack's 3-second answer window.
pub const DEFAULT_RATE_LIMIT_WAIT_CAP: Duration = Duration::from_secs(2);
/// How long one attempt may take. Slack answers in well under a second when it is healthy.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The wait when a 429 comes without `Retry-After` (Slack always sends one; doubles may not).
const RATE_LIMIT_WAIT_WITHOUT_HEADER: Duration = Duration::from_secs(1);

/// Slack error codes that mean "Slack had a problem", not "your request is wrong".
const RETRYABLE_CODES: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// The configuration could not make a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackConfigError {
    #[error("the Slack API URL `{0}` is not an http:// or https:// URL")]
    ApiUrl(String),
    #[error("the Slack bot token is empty or not usable in an HTTP header")]
    Token,
}

/// The Slack Web API client greenlight uses in production.
#[derive(Clone)]
pub struct SlackWebApi {
    client: SlackClient<Connector>,
    token: SlackApiToken,
    api_url: String,
    rate_limit_wait_cap: Duration,
    attempt_timeout: Duration,
}

impl std::fmt::Debug for SlackWebApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of logs; slack-morphism's token type prints only its length anyway.
        f.debug_struct("SlackWebApi")
            .field("api_url", &self.api_url)
            .field("rate_limit_wait_cap", &self.rate_limit_wait_cap)
            .field("attempt_timeout", &self.attempt_timeout)
            .finish_non_exhaustive()
    }
}

impl SlackWebApi {
    /// A client for the Web API at `api_url` (e.g. [`DEFAULT_API_URL`]) acting with `bot_token`.
    ///
    /// Plain `http://` is allowed only because the URL says so: that is a local double. Anything
    /// else goes over HTTPS only.
    pub fn new(api_url: &str, bot_token: &str) -> Result<Self, SlackConfigError> {
        let trimmed = api_url.trim().trim_end_matches('/');
        let parsed =
            url::Url::parse(trimmed).map_err(|_| SlackConfigError::ApiUrl(api_url.to_owned()))?;
        let scheme = match parsed.scheme() {
            "https" => Scheme::HttpsOnly,
            "http" => Scheme::HttpsOrHttp,
            _ => return Err(SlackConfigError::ApiUrl(api_url.to_owned())),
        };
        if parsed.host_str().is_none() {
            return Err(SlackConfigError::ApiUrl(api_url.to_owned()));
        }
        if bot_token.trim().is_empty()
            || http::HeaderValue::from_str(&format!("Bearer {bot_token}")).is_err()
        {
            return Err(SlackConfigError::Token);
        }
        let connector = SlackClientHyperConnector::with_connector(https_connector(scheme))
            .with_slack_api_url(trimmed);
        Ok(SlackWebApi {
            client: SlackClient::new(connector),
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.to_owned())),
            api_url: trimmed.to_owned(),
            rate_limit_wait_cap: DEFAULT_RATE_LIMIT_WAIT_CAP,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
        })
    }

    /// The longest `Retry-After` this client waits for (once) before retrying a 429; a longer one
    /// fails at once as retryable.
    pub fn with_rate_limit_wait_cap(self, cap: Duration) -> Self {
        SlackWebApi {
            rate_limit_wait_cap: cap,
            ..self
        }
    }

    /// How long one attempt may take before it fails as a retryable `timeout`.
    pub fn with_attempt_timeout(self, timeout: Duration) -> Self {
        SlackWebApi {
            attempt_timeout: timeout,
            ..self
        }
    }

    /// POSTs `request` as JSON to `method`.
    async fn post<RQ, RS>(&self, method: &'static str, request: &RQ) -> Result<RS, SlackError>
    where
        RQ: Serialize + Send + Sync,
        RS: DeserializeOwned + Send,
    {
        self.with_retry(method, || async {
            let session = self.client.open_session(&self.token);
            // No rate-control parameters: the connector has no rate controller (see the module
            // docs), so they would be ignored anyway.
            session
                .http_session_api
                .http_post(method, request, None)
                .await
        })
        .await
    }

    /// GETs `method` with `params` in the query string.
    async fn get<RS>(&self, method: &'static str, params: &[(&str, &str)]) -> Result<RS, SlackError>
    where
        RS: DeserializeOwned + Send,
    {
        let params: Vec<(&str, Option<&str>)> = params
            .iter()
            .map(|(name, value)| (*name, Some(*value)))
            .collect();
        self.with_retry(method, || async {
            let session = self.client.open_session(&self.token);
            session
                .http_session_api
                .http_get(method, &params, None)
                .await
        })
        .await
    }

    /// Runs `attempt` with a timeout, and once more after a short 429.
    async fn with_retry<RS, F, Fut>(
        &self,
        method: &'static str,
        attempt: F,
    ) -> Result<RS, SlackError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<RS, SlackClientError>>,
    {
        let mut rate_limited_before = false;
        loop {
            let outcome = tokio::time::timeout(self.attempt_timeout, attempt()).await;
            let error = match outcome {
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(error)) => error,
                Err(_elapsed) => {
                    let error = SlackError {
                        method,
                        code: "timeout".into(),
                        retryable: true,
                    };
                    tracing::warn!(
                        slack.method = method,
                        slack.error = %error.code,
                        timeout_ms = self.attempt_timeout.as_millis() as u64,
                        "Slack did not answer in time"
                    );
                    return Err(error);
                }
            };
            if let SlackClientError::RateLimitError(limit) = &error {
                let wait = limit.retry_after.unwrap_or(RATE_LIMIT_WAIT_WITHOUT_HEADER);
                if !rate_limited_before && wait <= self.rate_limit_wait_cap {
                    rate_limited_before = true;
                    tracing::info!(
                        slack.method = method,
                        retry_after_ms = wait.as_millis() as u64,
                        "Slack rate-limited the call; retrying once"
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let translated = translate(method, &error);
            tracing::warn!(
                slack.method = method,
                slack.error = %translated.code,
                retryable = translated.retryable,
                detail = %describe(&error),
                "Slack call failed"
            );
            return Err(translated);
        }
    }
}

/// The [`SlackError`] for a slack-morphism error.
fn translate(method: &'static str, error: &SlackClientError) -> SlackError {
    let (code, retryable) = match error {
        SlackClientError::ApiError(api) => (
            api.code.clone(),
            RETRYABLE_CODES.contains(&api.code.as_str()),
        ),
        SlackClientError::RateLimitError(limit) => (
            limit.code.clone().unwrap_or_else(|| "ratelimited".into()),
            true,
        ),
        SlackClientError::HttpError(http) => ("http".into(), http.status_code.is_server_error()),
        // Connection refused, DNS, TLS, a body cut short: the request may not have arrived.
        SlackClientError::HttpProtocolError(_) | SlackClientError::SystemError(_) => {
            ("http".into(), true)
        }
        SlackClientError::ProtocolError(_) => ("invalid_response".into(), false),
        SlackClientError::EndOfStream(_) | SlackClientError::SocketModeProtocolError(_) => {
            ("http".into(), false)
        }
    };
    SlackError {
        method,
        code,
        retryable,
    }
}

/// A log-safe description of a slack-morphism error: no response bodies (they may echo what was
/// posted), only statuses and codes.
fn describe(error: &SlackClientError) -> String {
    match error {
        SlackClientError::ApiError(api) => match &api.errors {
            Some(errors) => format!("{} ({})", api.code, errors.join("; ")),
            None => api.code.clone(),
        },
        SlackClientError::HttpError(http) => format!("HTTP {}", http.status_code),
        SlackClientError::RateLimitError(limit) => {
            format!("HTTP 429, Retry-After {:?}", limit.retry_after)
        }
        SlackClientError::HttpProtocolError(protocol) => match &protocol.cause {
            Some(cause) => format!("transport: {cause}"),
            None => "transport error".into(),
        },
        SlackClientError::SystemError(system) => match &system.cause {
            Some(cause) => format!("system: {cause}"),
            None => "system error".into(),
        },
        SlackClientError::ProtocolError(protocol) => {
            format!("unreadable answer: {}", protocol.json_error)
        }
        SlackClientError::EndOfStream(_) => "end of stream".into(),
        SlackClientError::SocketModeProtocolError(_) => "socket mode error".into(),
    }
}

/// What greenlight reads of `chat.postMessage`'s answer.
#[derive(Debug, Deserialize)]
struct PostMessageAnswer {
    channel: String,
    ts: String,
}

/// An answer whose content greenlight does not need (unknown fields are ignored).
#[derive(Debug, Deserialize)]
struct Acknowledged {}

#[derive(Debug, Deserialize)]
struct UserAnswer {
    user: FoundUser,
}

#[derive(Debug, Deserialize)]
struct FoundUser {
    id: String,
}

#[derive(Debug, serde::Serialize)]
struct OpenView<'a> {
    trigger_id: &'a str,
    view: &'a serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct UsergroupUsersAnswer {
    #[serde(default)]
    users: Vec<String>,
}

fn content(text: &str, blocks: Option<Vec<SlackBlock>>) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(text.to_owned())
        .opt_blocks(blocks)
}

#[async_trait]
impl SlackApi for SlackWebApi {
    async fn post_message(&self, message: &OutgoingMessage) -> Result<PostedMessage, SlackError> {
        // Slack refuses an empty `blocks` array; a text-only message sends none.
        let blocks = (!message.blocks.is_empty()).then(|| message.blocks.clone());
        let request = SlackApiChatPostMessageRequest::new(
            message.channel.clone().into(),
            content(&message.text, blocks),
        )
        .opt_thread_ts(message.thread_ts.clone().map(Into::into))
        // Cards and audit notes carry console and test links; previews of them are noise.
        .with_unfurl_links(false)
        .with_unfurl_media(false);
        let answer: PostMessageAnswer = self.post("chat.postMessage", &request).await?;
        Ok(PostedMessage {
            channel: answer.channel,
            ts: answer.ts,
        })
    }

    async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &[SlackBlock],
    ) -> Result<(), SlackError> {
        // Always send `blocks`, even empty: Slack keeps the old blocks when the field is absent,
        // and a decided card must lose its buttons.
        let request = SlackApiChatUpdateRequest::new(
            channel.to_owned().into(),
            content(text, Some(blocks.to_vec())),
            ts.to_owned().into(),
        );
        let _: Acknowledged = self.post("chat.update", &request).await?;
        Ok(())
    }

    async fn post_ephemeral(
        &self,
        channel: &SlackChannelId,
        user: &SlackUserId,
        text: &str,
    ) -> Result<(), SlackError> {
        let request = SlackApiChatPostEphemeralRequest::new(
            channel.clone(),
            user.clone(),
            content(text, None),
        );
        let _: Acknowledged = self.post("chat.postEphemeral", &request).await?;
        Ok(())
    }

    async fn usergroup_members(&self, usergroup_id: &str) -> Result<Vec<String>, SlackError> {
        let answer: UsergroupUsersAnswer = self
            .get("usergroups.users.list", &[("usergroup", usergroup_id)])
            .await?;
        Ok(answer.users)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<String>, SlackError> {
        match self
            .get::<UserAnswer>("users.lookupByEmail", &[("email", email)])
            .await
        {
            Ok(answer) => Ok(Some(answer.user.id)),
            Err(error) if error.code == "users_not_found" => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn open_view(
        &self,
        trigger_id: &str,
        view: &serde_json::Value,
    ) -> Result<(), SlackError> {
        let request = OpenView { trigger_id, view };
        let _: Acknowledged = self.post("views.open", &request).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slack_morphism::errors::{SlackClientApiError, SlackClientHttpError, SlackRateLimitError};

    #[test]
    fn urls_and_tokens_are_checked_at_start_up() {
        assert!(SlackWebApi::new(DEFAULT_API_URL, "xoxb-1").is_ok());
        assert!(SlackWebApi::new("http://127.0.0.1:9/api/", "xoxb-1").is_ok());
        for bad in ["", "slack.com/api", "ftp://slack.com/api", "https://"] {
            assert_eq!(
                SlackWebApi::new(bad, "xoxb-1").err(),
                Some(SlackConfigError::ApiUrl(bad.to_owned())),
                "{bad}"
            );
        }
        for bad in ["", "  ", "xoxb-1\n"] {
            assert_eq!(
                SlackWebApi::new(DEFAULT_API_URL, bad).err(),
                Some(SlackConfigError::Token)
            );
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let api = SlackWebApi::new(DEFAULT_API_URL, "xoxb-secret-token").unwrap();
        let printed = format!("{api:?}");
        assert!(!printed.contains("xoxb-secret-token"), "{printed}");
        assert!(printed.contains("slack.com/api"));
    }

    #[test]
    fn errors_translate_with_their_retryability() {
        let api_error =
            |code: &str| SlackClientError::ApiError(SlackClientApiError::new(code.into()));
        let channel = translate("chat.postMessage", &api_error("channel_not_found"));
        assert_eq!(channel.code, "channel_not_found");
        assert!(!channel.retryable);
        assert!(translate("chat.update", &api_error("internal_error")).retryable);

        let status = |code: u16| {
            SlackClientError::HttpError(SlackClientHttpError::new(
                http::StatusCode::from_u16(code).unwrap(),
            ))
        };
        assert_eq!(translate("m", &status(503)).code, "http");
        assert!(translate("m", &status(503)).retryable);
        assert!(!translate("m", &status(404)).retryable);

        let limited = SlackClientError::RateLimitError(SlackRateLimitError::new());
        let limited = translate("m", &limited);
        assert_eq!(limited.code, "ratelimited");
        assert!(limited.retryable);
    }
}
