//! A tiny HTTP server that records what is POSTed to it: the far end of an SNS HTTP subscription
//! when a test only needs to see what was published.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;

#[derive(Clone, Default)]
pub struct HttpRecorder {
    pub url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl HttpRecorder {
    pub async fn start() -> HttpRecorder {
        let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
        let app = Router::new()
            .route("/", post(record))
            .route("/{*rest}", post(record))
            .with_state(Arc::clone(&bodies));
        let url = format!("http://{}/", super::serve_on_loopback(app).await);
        HttpRecorder { url, bodies }
    }

    /// Every body received so far.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().expect("lock").clone()
    }

    /// The `Message` of every SNS notification received so far.
    pub fn sns_messages(&self) -> Vec<serde_json::Value> {
        self.bodies()
            .iter()
            .filter_map(|body| serde_json::from_str::<serde_json::Value>(body).ok())
            .filter(|envelope| envelope["Type"] == "Notification")
            .filter_map(|envelope| {
                envelope["Message"]
                    .as_str()
                    .and_then(|m| serde_json::from_str(m).ok())
            })
            .collect()
    }

    /// Waits up to two seconds for at least `count` SNS messages.
    pub async fn wait_for_messages(&self, count: usize) -> Vec<serde_json::Value> {
        for _ in 0..40 {
            let messages = self.sns_messages();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.sns_messages()
    }
}

async fn record(State(bodies): State<Arc<Mutex<Vec<String>>>>, body: Bytes) -> &'static str {
    bodies
        .lock()
        .expect("lock")
        .push(String::from_utf8_lossy(&body).into_owned());
    "ok"
}
