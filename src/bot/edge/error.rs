//! How the bot answers what it will not or cannot do. Every refusal is a short plain-text reason
//! with a status the caller acts on: SNS retries a 5xx and gives up on a 4xx; Slack shows nothing
//! for either, so people-facing explanations go through ephemeral messages instead.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BotError {
    /// The body is not what the route takes.
    #[error("{0}")]
    BadRequest(String),
    /// The Slack signature is missing, wrong or out of its time window.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, or not, but refused: SNS signature, topic, certificate, or a gate request
    /// that would write outside the decision prefix.
    #[error("{0}")]
    Forbidden(String),
    /// The body is over [`super::router::BODY_LIMIT`].
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// A dependency (Slack, SSM, the certificate host) failed in a way a retry can fix.
    #[error("{0}")]
    Unavailable(String),
}

impl BotError {
    pub fn status(&self) -> StatusCode {
        match self {
            BotError::BadRequest(_) => StatusCode::BAD_REQUEST,
            BotError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            BotError::Forbidden(_) => StatusCode::FORBIDDEN,
            BotError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BotError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for BotError {
    fn into_response(self) -> Response {
        (
            self.status(),
            [("content-type", "text/plain; charset=utf-8")],
            format!("{self}\n"),
        )
            .into_response()
    }
}
