//! The routes, and the answers to what no route takes.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::bot::{Bot, commands, intake, interactions};

/// The bot's router. Tests drive it with `oneshot`; Lambda and `greenlight serve` serve it as is.
pub fn app(bot: Arc<Bot>) -> Router {
    Router::new()
        .route("/sns", post(intake::receive))
        .route("/slack/interactions", post(interactions::receive))
        .route("/slack/commands", post(commands::receive))
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
