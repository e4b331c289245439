//! An in-process double of Slack's Web API, served over real HTTP on 127.0.0.1.
//!
//! greenlight's Slack adapter talks to it exactly as to Slack (slack-morphism, hyper, the same
//! connector), so tests see the requests as Slack would: method, bearer token, body. It answers
//! the four methods greenlight uses the way Slack does (`ok`, error codes, a fresh `ts` per
//! message; `invalid_blocks` for blocks Slack would refuse, checked by `support::block_kit`),
//! keeps the current content of every posted message so a test can look at a card after
//! `chat.update`, records every call, and can be told to fail the next calls of a method.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};

use greenlight::slack::SlackWebApi;

/// The bot token [`SlackDouble::client`] uses.
pub const TOKEN: &str = "xoxb-double-token";
/// The user ID the double posts as.
pub const BOT_USER: &str = "U0GREENLIT";

/// One request the double received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// The Web API method, e.g. `chat.postMessage`.
    pub method: String,
    /// `GET` or `POST`.
    pub http_method: String,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// The parameters, whichever way they came: a JSON body as is, form fields and query-string
    /// parameters as an object of strings.
    pub body: Value,
}

impl RecordedCall {
    /// The bearer token, if the call carried one.
    pub fn token(&self) -> Option<&str> {
        self.authorization.as_deref()?.strip_prefix("Bearer ")
    }
}

/// How the double should fail a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// HTTP 200 with `{"ok": false, "error": code}`: how Slack reports API errors.
    Error(String),
    /// HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// This HTTP status with a plain-text body, as a load balancer in trouble answers.
    Status(u16),
    /// Answers normally, but only after this long.
    Delay(Duration),
}

/// A message as it stands now in the double's channels.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: Option<String>,
    /// The blocks as JSON (`Value::Null` when the message has none).
    pub blocks: Value,
}

#[derive(Default)]
struct DoubleState {
    calls: Vec<RecordedCall>,
    groups: HashMap<String, Vec<String>>,
    /// Users by e-mail address, for `users.lookupByEmail`.
    emails: HashMap<String, String>,
    /// Modals opened with `views.open`: (trigger_id, view).
    views: Vec<(String, Value)>,
    failures: HashMap<String, VecDeque<Failure>>,
    messages: Vec<StoredMessage>,
    ephemerals: Vec<(String, String, String)>,
    /// Why each refused `invalid_blocks` was refused.
    refused_blocks: Vec<String>,
    next_ts: u64,
    /// `chat.postMessage`'s per-channel limit, when a test asks for it ([`SlackDouble::limit_posts`]).
    post_limit: Option<PostLimit>,
    /// Channel → (tokens left, when they were last counted).
    post_buckets: HashMap<String, (f64, std::time::Instant)>,
    posts_rate_limited: usize,
}

/// Slack allows about one message a second per channel with short bursts, and answers 429 with
/// `Retry-After` past that: a token bucket per channel.
#[derive(Clone, Copy)]
struct PostLimit {
    per_second: f64,
    burst: f64,
}

impl DoubleState {
    /// Whether one more `chat.postMessage` to `channel` fits the limit now (and takes its token).
    fn post_allowed(&mut self, channel: &str) -> bool {
        let Some(limit) = self.post_limit else {
            return true;
        };
        let now = std::time::Instant::now();
        let (tokens, counted) = self
            .post_buckets
            .entry(channel.to_owned())
            .or_insert((limit.burst, now));
        *tokens = (*tokens + now.duration_since(*counted).as_secs_f64() * limit.per_second)
            .min(limit.burst);
        *counted = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

type Shared = Arc<Mutex<DoubleState>>;

fn lock(state: &Shared) -> MutexGuard<'_, DoubleState> {
    // A test that panicked while holding the lock has failed already; keep serving the others.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running double; the server stops when it is dropped.
pub struct SlackDouble {
    /// What to configure as the Slack API URL, e.g. `http://127.0.0.1:PORT/api`.
    pub base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SlackDouble {
    fn drop(&mut self) {
        self.server.abort();
        // Every message the suite sends must be valid Block Kit: a refusal that no assertion
        // looked at still fails the test that caused it.
        let refused = lock(&self.state).refused_blocks.clone();
        if !refused.is_empty() && !std::thread::panicking() {
            panic!("the Slack double refused blocks as invalid_blocks: {refused:?}");
        }
    }
}

impl SlackDouble {
    pub async fn start() -> SlackDouble {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/api/{method}", any(handle))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Slack double");
        let address = listener.local_addr().expect("the double's address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("serve the Slack double");
        });
        SlackDouble {
            base_url: format!("http://{address}/api"),
            state,
            server,
        }
    }

    /// greenlight's real adapter, pointed at this double with [`TOKEN`].
    pub fn client(&self) -> SlackWebApi {
        SlackWebApi::new(&self.base_url, TOKEN).expect("a client for the double")
    }

    /// Every call of `method`, oldest first.
    pub fn calls(&self, method: &str) -> Vec<RecordedCall> {
        lock(&self.state)
            .calls
            .iter()
            .filter(|call| call.method == method)
            .cloned()
            .collect()
    }

    /// Every call, oldest first.
    pub fn all_calls(&self) -> Vec<RecordedCall> {
        lock(&self.state).calls.clone()
    }

    /// Makes `usergroups.users.list` answer `members` for `usergroup_id`.
    pub fn set_group(&self, usergroup_id: &str, members: &[&str]) {
        lock(&self.state).groups.insert(
            usergroup_id.to_owned(),
            members.iter().map(|m| (*m).to_owned()).collect(),
        );
    }

    /// Makes `users.lookupByEmail` find `user` by `email`.
    pub fn set_email(&self, email: &str, user: &str) {
        lock(&self.state)
            .emails
            .insert(email.to_owned(), user.to_owned());
    }

    /// The modals opened so far: (trigger_id, view).
    pub fn opened_views(&self) -> Vec<(String, Value)> {
        lock(&self.state).views.clone()
    }

    /// Makes the next `times` calls of `method` fail this way (after any failures already queued).
    /// From now on, `chat.postMessage` answers 429 (`Retry-After: 1`) past `per_second` messages
    /// a second per channel, after a burst of `burst`, as Slack does.
    pub fn limit_posts(&self, per_second: f64, burst: f64) {
        lock(&self.state).post_limit = Some(PostLimit { per_second, burst });
    }

    /// How many `chat.postMessage` calls the per-channel limit refused.
    pub fn posts_rate_limited(&self) -> usize {
        lock(&self.state).posts_rate_limited
    }

    pub fn fail_next(&self, method: &str, failure: Failure, times: usize) {
        let mut state = lock(&self.state);
        let queue = state.failures.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(failure, times));
    }

    /// The message at `channel`/`ts` as it stands now (after any `chat.update`).
    pub fn message(&self, channel: &str, ts: &str) -> Option<StoredMessage> {
        lock(&self.state)
            .messages
            .iter()
            .find(|m| m.channel == channel && m.ts == ts)
            .cloned()
    }

    /// Every message the double holds (top-level and replies), oldest first.
    pub fn messages(&self) -> Vec<StoredMessage> {
        lock(&self.state).messages.clone()
    }

    /// Replies in the thread of `channel`/`thread_ts`, oldest first.
    pub fn replies(&self, channel: &str, thread_ts: &str) -> Vec<StoredMessage> {
        lock(&self.state)
            .messages
            .iter()
            .filter(|m| m.channel == channel && m.thread_ts.as_deref() == Some(thread_ts))
            .cloned()
            .collect()
    }

    /// Why each message the double refused as `invalid_blocks` was refused.
    pub fn refused_blocks(&self) -> Vec<String> {
        lock(&self.state).refused_blocks.clone()
    }

    /// The texts of the ephemeral messages posted, oldest first.
    pub fn ephemeral_texts(&self) -> Vec<String> {
        self.ephemerals()
            .into_iter()
            .map(|(_, _, text)| text)
            .collect()
    }

    /// Ephemeral messages posted, as (channel, user, text).
    pub fn ephemerals(&self) -> Vec<(String, String, String)> {
        lock(&self.state).ephemerals.clone()
    }
}

/// The parameters of a request as one JSON object (or the JSON body as it is).
fn parameters(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> (Option<String>, Value) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let kind = content_type.as_deref().unwrap_or_default();
    let mut value = if kind.starts_with("application/json") {
        serde_json::from_slice(body).unwrap_or_else(|_| json!(String::from_utf8_lossy(body)))
    } else if kind.starts_with("application/x-www-form-urlencoded") {
        form_object(body)
    } else if body.is_empty() {
        Value::Object(Map::new())
    } else {
        json!(String::from_utf8_lossy(body))
    };
    if let (Some(query), Value::Object(object)) = (query, &mut value)
        && let Value::Object(params) = form_object(query.as_bytes())
    {
        object.extend(params);
    }
    (content_type, value)
}

fn form_object(encoded: &[u8]) -> Value {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(encoded).unwrap_or_default();
    Value::Object(
        pairs
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect(),
    )
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Blocks as JSON, whether sent as a JSON array or (in a form) as a JSON string.
fn blocks(body: &Value) -> Value {
    match body.get("blocks") {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(blocks) => blocks.clone(),
        None => Value::Null,
    }
}

fn slack_error(code: &str) -> Response {
    axum::Json(json!({"ok": false, "error": code})).into_response()
}

async fn handle(
    State(state): State<Shared>,
    Path(method): Path<String>,
    http_method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let (content_type, body) = parameters(&headers, query.as_deref(), &body);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let failure = {
        let mut state = lock(&state);
        state.calls.push(RecordedCall {
            method: method.clone(),
            http_method: http_method.to_string(),
            authorization: authorization.clone(),
            content_type,
            body: body.clone(),
        });
        state
            .failures
            .get_mut(&method)
            .and_then(VecDeque::pop_front)
    };
    match failure {
        Some(Failure::Error(code)) => return slack_error(&code),
        Some(Failure::RateLimited { retry_after_secs }) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                axum::Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response();
        }
        Some(Failure::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, "upstream trouble").into_response();
        }
        Some(Failure::Delay(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    if method == "chat.postMessage" {
        let channel = field(&body, "channel").unwrap_or_default();
        let mut state = lock(&state);
        if !state.post_allowed(channel) {
            state.posts_rate_limited += 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                axum::Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response();
        }
    }
    if !authorization
        .as_deref()
        .is_some_and(|auth| auth.starts_with("Bearer ") && auth.len() > "Bearer ".len())
    {
        return slack_error("not_authed");
    }
    let mut state = lock(&state);
    match method.as_str() {
        "chat.postMessage" => {
            let Some(channel) = field(&body, "channel") else {
                return slack_error("channel_not_found");
            };
            let blocks = blocks(&body);
            let text = field(&body, "text").map(str::to_owned);
            if text.is_none() && blocks.is_null() {
                return slack_error("no_text");
            }
            if !blocks.is_null()
                && let Err(why) = super::block_kit::check_blocks(&blocks)
            {
                state.refused_blocks.push(why);
                return slack_error("invalid_blocks");
            }
            state.next_ts += 1;
            let ts = format!("{}.{:06}", 1_700_000_000 + state.next_ts, state.next_ts);
            let thread_ts = field(&body, "thread_ts").map(str::to_owned);
            let message = StoredMessage {
                channel: channel.to_owned(),
                ts: ts.clone(),
                thread_ts: thread_ts.clone(),
                text: text.clone(),
                blocks: blocks.clone(),
            };
            state.messages.push(message);
            let mut echoed = json!({
                "type": "message", "user": BOT_USER, "bot_id": "B0GREENLIT", "ts": ts,
                "text": text.unwrap_or_default(),
            });
            if !blocks.is_null() {
                echoed["blocks"] = blocks;
            }
            if let Some(thread_ts) = thread_ts {
                echoed["thread_ts"] = json!(thread_ts);
            }
            axum::Json(json!({"ok": true, "channel": channel, "ts": ts, "message": echoed}))
                .into_response()
        }
        "chat.update" => {
            let (Some(channel), Some(ts)) = (field(&body, "channel"), field(&body, "ts")) else {
                return slack_error("cant_update_message");
            };
            let new_text = field(&body, "text").map(str::to_owned);
            let new_blocks = body.get("blocks").map(|_| blocks(&body));
            if let Some(blocks) = &new_blocks
                && let Err(why) = super::block_kit::check_blocks(blocks)
            {
                state.refused_blocks.push(why);
                return slack_error("invalid_blocks");
            }
            let Some(message) = state
                .messages
                .iter_mut()
                .find(|m| m.channel == channel && m.ts == ts)
            else {
                return slack_error("message_not_found");
            };
            if let Some(text) = new_text {
                message.text = Some(text);
            }
            // Slack keeps the old blocks when the field is absent; an empty array removes them.
            if let Some(blocks) = new_blocks {
                message.blocks = blocks;
            }
            axum::Json(json!({
                "ok": true, "channel": channel, "ts": ts,
                "text": message.text.clone().unwrap_or_default(),
            }))
            .into_response()
        }
        "chat.postEphemeral" => {
            let Some(channel) = field(&body, "channel") else {
                return slack_error("channel_not_found");
            };
            let Some(user) = field(&body, "user") else {
                return slack_error("user_not_in_channel");
            };
            let text = field(&body, "text").unwrap_or_default().to_owned();
            if text.is_empty() {
                return slack_error("no_text");
            }
            state
                .ephemerals
                .push((channel.to_owned(), user.to_owned(), text));
            state.next_ts += 1;
            let ts = format!("{}.{:06}", 1_700_000_000 + state.next_ts, state.next_ts);
            axum::Json(json!({"ok": true, "message_ts": ts})).into_response()
        }
        "usergroups.users.list" => {
            match field(&body, "usergroup").and_then(|id| state.groups.get(id)) {
                Some(members) => axum::Json(json!({"ok": true, "users": members})).into_response(),
                None => slack_error("no_such_subteam"),
            }
        }
        "users.lookupByEmail" => {
            match field(&body, "email").and_then(|email| state.emails.get(email)) {
                Some(user) => axum::Json(json!({"ok": true, "user": {"id": user}})).into_response(),
                None => slack_error("users_not_found"),
            }
        }
        "views.open" => {
            let Some(trigger_id) = field(&body, "trigger_id").map(str::to_owned) else {
                return slack_error("invalid_arguments");
            };
            // The view may come as JSON or as a JSON string (form encoding).
            let view = match body.get("view") {
                Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
                Some(view) => view.clone(),
                None => Value::Null,
            };
            if let Err(why) = super::block_kit::check_modal(&view) {
                state.refused_blocks.push(why);
                return slack_error("invalid_arguments");
            }
            state.views.push((trigger_id, view.clone()));
            axum::Json(json!({"ok": true, "view": view})).into_response()
        }
        _ => slack_error("unknown_method"),
    }
}
