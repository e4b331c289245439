//! A stand-in of the Lambda runtime API (the HTTP interface a custom runtime polls), so the real
//! `greenlight` binary can be started as Lambda starts it and handed events.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::Notify;

#[derive(Default)]
struct RuntimeState {
    pending: VecDeque<(String, Value)>,
    responses: Vec<(String, Value)>,
    errors: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct LambdaRuntimeApi {
    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` wants it.
    pub address: String,
    state: Arc<Mutex<RuntimeState>>,
    arrived: Arc<Notify>,
}

type Shared = (Arc<Mutex<RuntimeState>>, Arc<Notify>);

impl LambdaRuntimeApi {
    pub async fn start() -> LambdaRuntimeApi {
        let state: Arc<Mutex<RuntimeState>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state((Arc::clone(&state), Arc::clone(&arrived)));
        let address = super::serve_on_loopback(app).await.to_string();
        LambdaRuntimeApi {
            address,
            state,
            arrived,
        }
    }

    /// Queues an event for the function to pick up.
    pub fn invoke(&self, request_id: &str, event: Value) {
        self.state
            .lock()
            .expect("lock")
            .pending
            .push_back((request_id.to_owned(), event));
    }

    /// Waits for the function's answer to `request_id`.
    pub async fn response(&self, request_id: &str, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Registered before the state is read, so an answer arriving in between still wakes
            // this waiter (`notify_waiters` keeps no permit for later waiters).
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.state.lock().expect("lock");
                if let Some((_, body)) = state.responses.iter().find(|(id, _)| id == request_id) {
                    return Some(body.clone());
                }
                if let Some((_, error)) = state
                    .errors
                    .iter()
                    .find(|(id, _)| id == request_id || id == "init")
                {
                    panic!("the function reported an error: {error}");
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

async fn next(State((state, _)): State<Shared>) -> Response {
    loop {
        let event = state.lock().expect("lock").pending.pop_front();
        if let Some((id, event)) = event {
            let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
            return (
                StatusCode::OK,
                [
                    ("lambda-runtime-aws-request-id", id),
                    ("lambda-runtime-deadline-ms", deadline.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:greenlight-hook".to_owned(),
                    ),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000".to_owned(),
                    ),
                    ("content-type", "application/json".to_owned()),
                ],
                event.to_string(),
            )
                .into_response();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn response(
    State((state, arrived)): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    state.lock().expect("lock").responses.push((id, body));
    arrived.notify_waiters();
    StatusCode::ACCEPTED
}

async fn error(
    State((state, arrived)): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    state
        .lock()
        .expect("lock")
        .errors
        .push((id, String::from_utf8_lossy(&body).into_owned()));
    arrived.notify_waiters();
    StatusCode::ACCEPTED
}

async fn init_error(State((state, arrived)): State<Shared>, body: Bytes) -> StatusCode {
    state.lock().expect("lock").errors.push((
        "init".to_owned(),
        String::from_utf8_lossy(&body).into_owned(),
    ));
    arrived.notify_waiters();
    StatusCode::ACCEPTED
}
