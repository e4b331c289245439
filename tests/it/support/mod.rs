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

/// A stand-in for the new revision's test listener on a loopback port: answers every GET with
/// 200. Hooks in tests probe it instead of a host on the internet.
pub async fn green_listener() -> String {
    let app = axum::Router::new().fallback(|| async { "green" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
