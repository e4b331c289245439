//! A proxy in front of moto that fails chosen AWS JSON-protocol operations on purpose: SSM
//! answering `ThrottlingException` as it does past an account's throughput, for instance. Every
//! other request goes through to moto unchanged, so the SDK speaks its real protocol both ways.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::{RelayClient, relay, relay_client, serve_on_loopback};

#[derive(Default)]
struct Faults {
    /// Operation → how many more of its requests to throttle.
    throttled: HashMap<String, usize>,
    /// Operation → how many requests were throttled so far.
    refused: HashMap<String, usize>,
}

struct Proxy {
    upstream: String,
    client: RelayClient,
    faults: Mutex<Faults>,
}

#[derive(Clone)]
pub struct FaultProxy {
    pub url: String,
    proxy: Arc<Proxy>,
}

impl FaultProxy {
    pub async fn start() -> FaultProxy {
        let proxy = Arc::new(Proxy {
            upstream: super::moto::moto_url(),
            client: relay_client(),
            faults: Mutex::default(),
        });
        let app = Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&proxy));
        let url = format!("http://{}", serve_on_loopback(app).await);
        FaultProxy { url, proxy }
    }

    /// The next `times` requests of `operation` (e.g. `GetParameter`) answer 400
    /// `ThrottlingException`, as SSM does past its throughput.
    pub fn throttle(&self, operation: &str, times: usize) {
        let mut faults = self.proxy.faults.lock().expect("lock");
        faults.throttled.insert(operation.to_owned(), times);
    }

    /// How many requests of `operation` were throttled.
    pub fn throttled(&self, operation: &str) -> usize {
        let faults = self.proxy.faults.lock().expect("lock");
        faults.refused.get(operation).copied().unwrap_or(0)
    }
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    {
        let mut faults = proxy.faults.lock().expect("lock");
        if let Some(left) = faults.throttled.get_mut(&operation)
            && *left > 0
        {
            *left -= 1;
            *faults.refused.entry(operation).or_default() += 1;
            return (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.1")],
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            )
                .into_response();
        }
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    relay(&proxy.client, &proxy.upstream, &parts, body).await
}
