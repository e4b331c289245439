//! Extractors that authenticate before anything else happens.
//!
//! The function URL is public. A handler that takes [`VerifiedSns`] or [`VerifiedSlack`] runs
//! only for a request whose signature checked out on its raw bytes, and reads only what those
//! bytes said: there is no way to write a handler that forgets to check.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use chrono::Utc;

use super::error::BotError;
use crate::bot::Bot;
use crate::sns::verify::SnsEnvelope;

/// Largest body any route reads: an SNS message is at most 256 KiB, plus its envelope; Slack's
/// payloads are far smaller. Anything larger is refused before it is parsed.
pub const BODY_LIMIT: usize = 320 * 1024;

/// Reads a whole body, refusing it as soon as it passes [`BODY_LIMIT`].
pub async fn read_body(body: Body) -> Result<Bytes, BotError> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|err| {
        let too_large = std::error::Error::source(&err)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
            || err.to_string().contains("length limit");
        if too_large {
            BotError::PayloadTooLarge(BODY_LIMIT)
        } else {
            BotError::BadRequest("the request body could not be read".to_owned())
        }
    })
}

/// An SNS delivery whose signature, certificate, topic and age were verified.
pub struct VerifiedSns(pub SnsEnvelope);

impl FromRequest<Arc<Bot>> for VerifiedSns {
    type Rejection = BotError;

    async fn from_request(request: Request, bot: &Arc<Bot>) -> Result<Self, BotError> {
        let body = read_body(request.into_body()).await?;
        match bot.sns.verify(&body, Utc::now()).await {
            Ok(envelope) => Ok(VerifiedSns(envelope)),
            Err(refusal) => {
                tracing::warn!(event = "sns.refused", code = refusal.code(), detail = %refusal, status = refusal.status().as_u16());
                let reason = refusal.reason();
                Err(match refusal.status().as_u16() {
                    400 => BotError::BadRequest(reason),
                    503 => BotError::Unavailable(reason),
                    _ => BotError::Forbidden(reason),
                })
            }
        }
    }
}

/// What a Slack request's body is read as, once its signature checked out.
pub trait SlackBody: Sized {
    fn parse(body: &[u8]) -> Result<Self, BotError>;
}

/// A Slack request whose signature (`X-Slack-Signature` over the raw body, within five minutes of
/// `X-Slack-Request-Timestamp`) checked out, with its body read as `T`.
pub struct VerifiedSlack<T>(pub T);

impl<T: SlackBody> FromRequest<Arc<Bot>> for VerifiedSlack<T> {
    type Rejection = BotError;

    async fn from_request(request: Request, bot: &Arc<Bot>) -> Result<Self, BotError> {
        let (parts, body) = request.into_parts();
        let body = read_body(body).await?;
        bot.slack_requests
            .verify(&parts.headers, &body, Utc::now())
            .map_err(|refusal| {
                let reason = refusal.reason();
                tracing::warn!(event = "slack.refused", reason = %reason);
                BotError::Unauthorized(reason)
            })?;
        T::parse(&body).map(VerifiedSlack)
    }
}
