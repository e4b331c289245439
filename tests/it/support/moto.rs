//! The moto server that `scripts/test` starts, and AWS SDK configuration that talks to it.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// moto's base URL. The tests refuse to run without it rather than pass vacuously.
pub fn moto_url() -> String {
    std::env::var("GREENLIGHT_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!("GREENLIGHT_TEST_MOTO_URL is not set: run the tests with scripts/test, which starts moto")
    })
}

/// The environment a greenlight process needs to reach moto.
pub fn moto_env() -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL".into(), moto_url()),
        ("AWS_REGION".into(), REGION.into()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]
}

/// SDK configuration for moto, with test credentials.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_at(&moto_url()).await
}

/// SDK configuration for any endpoint (a double, or a closed port to simulate an outage).
pub async fn sdk_config_at(endpoint: &str) -> SdkConfig {
    greenlight::tls::install_crypto_provider();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "greenlight-tests",
        ))
        .endpoint_url(endpoint)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(std::time::Duration::from_secs(5))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

/// A name no other test uses, so tests share one moto server without seeing each other's data.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a topic on moto and returns its ARN.
pub async fn create_topic(config: &SdkConfig, name: &str) -> String {
    let sns = aws_sdk_sns::Client::new(config);
    let created = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .expect("create topic on moto");
    created.topic_arn.expect("topic ARN")
}

/// Subscribes an HTTP endpoint to a topic on moto (moto confirms it at once).
pub async fn subscribe_http(config: &SdkConfig, topic_arn: &str, endpoint: &str) {
    let sns = aws_sdk_sns::Client::new(config);
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("http")
        .endpoint(endpoint)
        .send()
        .await
        .expect("subscribe on moto");
}

/// Creates a gate table with greenlight's schema on moto, as `greenlight table create` does, and
/// returns the adapter over it.
pub async fn gate_table(
    config: &SdkConfig,
    name: &str,
) -> greenlight::aws::dynamodb::DynamoGateTable {
    let table = greenlight::aws::dynamodb::DynamoGateTable::new(
        aws_sdk_dynamodb::Client::new(config),
        name,
        greenlight::store::DEFAULT_RETENTION,
    );
    assert!(
        table
            .create_table()
            .await
            .expect("create the gate table on moto"),
        "table {name} is new"
    );
    table
}

/// Every item of a table on moto, as `pk sk`. A test's own check, so a Scan is fine here; the
/// product never scans.
pub async fn table_items(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<String> {
    let out = client
        .scan()
        .table_name(table)
        .send()
        .await
        .expect("scan the test table");
    out.items
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let text = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            format!("{} {}", text("pk"), text("sk"))
        })
        .collect()
}

/// The DynamoDB endpoint the tests use: moto behind a proxy that hands it one request at a time.
///
/// DynamoDB applies each conditional write atomically; moto's server checks a condition and
/// writes in two steps on whichever thread took the request, so two racing writes can both pass
/// a condition only one of them should (seen here: ten racing `UpdateItem`s on one version, two
/// successes). A double weaker than the service would let the race tests pass or fail by luck,
/// so the proxy makes moto as strict as DynamoDB: one request at a time per table (every table a
/// request names, taken in name order, so a transaction over two tables cannot deadlock), in
/// order of arrival. It runs on a thread and runtime of its own, for every test of the process.
pub fn dynamodb_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let upstream = moto_url();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        listener.set_nonblocking(true).expect("non-blocking");
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the proxy's runtime");
            runtime.block_on(serve_one_at_a_time(listener, upstream));
        });
        url
    })
    .clone()
}

async fn serve_one_at_a_time(listener: std::net::TcpListener, upstream: String) {
    use axum::extract::{Request, State};
    use http_body_util::BodyExt;
    use std::sync::Arc;

    struct Proxy {
        upstream: String,
        client: super::RelayClient,
        turns: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    }
    /// Every `TableName` a request body names, sorted and without repeats.
    fn tables(body: &[u8]) -> Vec<String> {
        fn walk(value: &serde_json::Value, names: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(object) => {
                    for (key, value) in object {
                        match (key.as_str(), value) {
                            ("TableName", serde_json::Value::String(name)) => {
                                names.push(name.clone())
                            }
                            // BatchWriteItem keys its requests by table name.
                            ("RequestItems", serde_json::Value::Object(by_table)) => {
                                names.extend(by_table.keys().cloned())
                            }
                            _ => walk(value, names),
                        }
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, names)),
                _ => {}
            }
        }
        let mut names = Vec::new();
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            walk(&value, &mut names);
        }
        names.sort();
        names.dedup();
        names
    }
    async fn forward(
        State(proxy): State<Arc<Proxy>>,
        request: Request,
    ) -> axum::response::Response {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let locks: Vec<Arc<tokio::sync::Mutex<()>>> = {
            let mut turns = proxy.turns.lock().unwrap_or_else(|p| p.into_inner());
            tables(&body)
                .into_iter()
                .map(|table| Arc::clone(turns.entry(table).or_default()))
                .collect()
        };
        let mut _turns = Vec::with_capacity(locks.len());
        for lock in &locks {
            _turns.push(lock.lock().await);
        }
        super::relay(&proxy.client, &proxy.upstream, &parts, body).await
    }
    let proxy = Arc::new(Proxy {
        upstream,
        client: super::relay_client(),
        turns: std::sync::Mutex::new(std::collections::HashMap::new()),
    });
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    axum::serve(listener, app).await.expect("serve the proxy");
}

/// SDK configuration for DynamoDB through [`dynamodb_url`].
pub async fn dynamodb_config() -> SdkConfig {
    sdk_config_at(&dynamodb_url()).await
}
