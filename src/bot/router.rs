//! The routes, and what every route shares: the body limit and plain-text refusals.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::Bot;
use super::error::BotError;

/// Largest body any route reads: an SNS message is at most 256 KiB, plus its envelope; Slack's
/// payloads are far smaller. Anything larger is refused before it is parsed.
pub const BODY_LIMIT: usize = 320 * 1024;

/// The bot's router. Tests drive it with `oneshot`; Lambda and `greenlight serve` serve it as is.
pub fn app(bot: Arc<Bot>) -> Router {
    Router::new()
        .route("/sns", post(super::sns_intake::receive))
        .route("/slack/interactions", post(super::interactions::receive))
        .route("/slack/commands", post(super::commands::receive))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(bot)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "no such route\n")
}

async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route\n",
    )
}

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
