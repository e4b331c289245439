//! The hook's probe of the test URL: a few GETs against the new revision's test listener, as
//! evidence on the card ("test URL: 5/5 × 200, 41 ms").
//!
//! The hook runs next to the deployment, at the moment test traffic is on the new revision, so
//! it asks; the bot only shows what it found. A probe never fails a gate: requests that get no
//! answer are counted as such, and the whole probe is bounded in time.

use std::time::{Duration, Instant};

use chrono::Utc;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::domain::evidence::ProbeResult;
use crate::tls::{Scheme, https_connector};

/// How many requests a probe makes.
pub const PROBE_REQUESTS: usize = 5;
/// How long one request may take before it counts as "no answer".
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// GETs `url` `requests` times, one after another, and sums up the answers. The body is not
/// read: the status and the time to the answer's head are the evidence.
pub async fn probe(url: &str, requests: usize, timeout: Duration) -> ProbeResult {
    let at = Utc::now();
    let client = Client::builder(TokioExecutor::new())
        .build::<_, Empty<bytes::Bytes>>(https_connector(Scheme::HttpsOrHttp));
    let mut statuses = Vec::with_capacity(requests);
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let Ok(uri) = url.parse::<http::Uri>() else {
            statuses.push(None);
            continue;
        };
        let started = Instant::now();
        match tokio::time::timeout(timeout, client.get(uri)).await {
            Ok(Ok(response)) => {
                statuses.push(Some(response.status().as_u16()));
                times.push(started.elapsed());
            }
            Ok(Err(_)) | Err(_) => statuses.push(None),
        }
    }
    times.sort();
    let median_ms = times
        .get(times.len() / 2)
        .map(|median| u64::try_from(median.as_millis()).unwrap_or(u64::MAX));
    ProbeResult {
        at,
        statuses,
        median_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;

    async fn serve(status: StatusCode) -> String {
        let app = Router::new().route("/health", get(move || async move { status }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn a_probe_counts_statuses_and_times_the_answers() {
        let url = serve(StatusCode::OK).await;
        let result = probe(&url, 5, PROBE_TIMEOUT).await;
        assert_eq!(result.statuses, vec![Some(200); 5]);
        assert!(result.median_ms.is_some());
        assert!(
            result.summary().starts_with("5/5 × 200, "),
            "{}",
            result.summary()
        );

        let failing = serve(StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(
            probe(&failing, 2, PROBE_TIMEOUT).await.statuses,
            vec![Some(503); 2]
        );
    }

    #[tokio::test]
    async fn no_answer_is_counted_not_fatal() {
        // A port nothing listens on: bound, then closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let result = probe(&url, 3, PROBE_TIMEOUT).await;
        assert_eq!(result.statuses, vec![None; 3]);
        assert_eq!(result.median_ms, None);
        assert_eq!(result.summary(), "0/3 answered");
    }
}
