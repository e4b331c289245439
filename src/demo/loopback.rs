//! The bot's router served on a loopback port, and the plain-HTTP client the stand-ins for SNS
//! and Slack reach it with.
//!
//! Going through a socket rather than calling the router as a function is the point: the bodies,
//! headers and signatures the bot checks are the bytes that cross the wire, as they are when SNS
//! and Slack call the function URL.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Slack gives up on an answer after 3 seconds; nothing local should take longer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The router, listening on `127.0.0.1` on a port the system chose.
pub struct Served {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), std::io::Error>>,
}

impl Served {
    pub async fn start(app: Router) -> std::io::Result<Served> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Served {
            address,
            stop: Some(stop),
            task,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops accepting and waits for requests in flight.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(REQUEST_TIMEOUT, &mut self.task).await;
    }
}

/// A plain-HTTP client for one base URL on the loopback interface.
#[derive(Clone)]
pub struct Loopback {
    base_url: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Loopback {
    pub fn new(base_url: impl Into<String>) -> Loopback {
        Loopback {
            base_url: base_url.into(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// POSTs `body` to `path` with `headers`; an error is a transport failure, not a status.
    pub async fn post(
        &self,
        path: &str,
        headers: HeaderMap,
        body: impl Into<Bytes>,
    ) -> Result<Answer, String> {
        let mut request = Request::post(format!("{}{path}", self.base_url))
            .body(Full::new(body.into()))
            .map_err(|error| format!("cannot build the request: {error}"))?;
        request.headers_mut().extend(headers);
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("no answer from {path} within 3 s"))?
            .map_err(|error| format!("POST {path} failed: {error}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| format!("cannot read the answer of {path}: {error}"))?
            .to_bytes();
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&body).trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;

    #[tokio::test]
    async fn posts_reach_the_served_router_with_their_headers() {
        let app = Router::new().route(
            "/echo",
            post(|headers: HeaderMap, body: String| async move {
                let marker = headers
                    .get("x-marker")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                format!("{marker}:{body}\n")
            }),
        );
        let served = Served::start(app).await.unwrap();
        assert!(served.address.ip().is_loopback());
        let client = Loopback::new(served.base_url());
        let mut headers = HeaderMap::new();
        headers.insert("x-marker", "m".parse().unwrap());
        let answer = client.post("/echo", headers, "hello").await.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "m:hello");
        served.stop().await;
        assert!(client.post("/echo", HeaderMap::new(), "x").await.is_err());
    }
}
