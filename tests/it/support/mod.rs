//! Shared helpers for the integration tests: stand-ins that speak the real protocols.
#![allow(dead_code)]

pub mod block_kit;
pub mod bot;
pub mod ecs_double;
pub mod fault_proxy;
pub mod history;
pub mod http_recorder;
pub mod lambda_runtime;
pub mod moto;
pub mod slack_double;
pub mod tls_front;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;

/// Serves `app` on a free loopback port for the rest of the test; returns its address.
pub async fn serve_on_loopback(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("the listener's address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// A stand-in for the new revision's test listener on a loopback port: answers every GET with
/// 200. Hooks in tests probe it instead of a host on the internet.
pub async fn green_listener() -> String {
    let app = axum::Router::new().fallback(|| async { "green" });
    format!("http://{}/", serve_on_loopback(app).await)
}

/// The HTTP client the proxies in front of moto relay with.
pub type RelayClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<Bytes>,
>;

pub fn relay_client() -> RelayClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// Sends a request a proxy received on to `upstream` (a base URL) as it came (method, path and
/// query, headers but `Host`, body), and hands back the answer whole; 502 when `upstream` cannot
/// be reached.
pub async fn relay(
    client: &RelayClient,
    upstream: &str,
    parts: &http::request::Parts,
    body: Bytes,
) -> axum::response::Response {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = http::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if name != http::header::HOST {
            request = request.header(name, value);
        }
    }
    let Ok(request) = request.body(http_body_util::Full::new(body)) else {
        return bad_gateway("the request could not be rebuilt".to_owned());
    };
    match client.request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            axum::response::Response::from_parts(parts, Body::from(body))
        }
        Err(error) => bad_gateway(error.to_string()),
    }
}

fn bad_gateway(why: String) -> axum::response::Response {
    let mut response = axum::response::Response::new(Body::from(why));
    *response.status_mut() = http::StatusCode::BAD_GATEWAY;
    response
}
