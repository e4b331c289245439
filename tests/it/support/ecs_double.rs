//! A double of ECS's service-deployment APIs (which moto lacks), speaking the AWS JSON 1.1
//! protocol on a local port so the real SDK client reaches it through `AWS_ENDPOINT_URL_ECS`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Default)]
struct EcsState {
    deployments: HashMap<String, Value>,
    calls: Vec<(String, Value)>,
    failing: bool,
    rejections: HashMap<String, Rejection>,
    /// Operation → how many of its next calls answer 500.
    server_errors: HashMap<String, usize>,
    /// Service revisions by ARN, as `DescribeServiceRevisions` reports them.
    revisions: HashMap<String, Value>,
    /// Task definitions by ARN, with their tags.
    task_definitions: HashMap<String, (Value, Vec<Value>)>,
}

/// How the double refuses one operation (see [`EcsDouble::reject`]).
#[derive(Clone)]
struct Rejection {
    kind: String,
    /// A deployment state put in place when the refusal is answered: what someone else did just
    /// before (e.g. continued the pause in the console).
    then: Option<(String, Value)>,
}

#[derive(Clone)]
pub struct EcsDouble {
    pub url: String,
    state: Arc<Mutex<EcsState>>,
}

impl EcsDouble {
    pub async fn start() -> EcsDouble {
        let state: Arc<Mutex<EcsState>> = Arc::default();
        let app = Router::new()
            .route("/", post(handle))
            .with_state(Arc::clone(&state));
        let url = format!("http://{}", super::serve_on_loopback(app).await);
        EcsDouble { url, state }
    }

    /// Adds a deployment as `DescribeServiceDeployments` reports it.
    pub fn add_deployment(&self, arn: &str, deployment: Value) {
        let mut deployment = deployment;
        deployment["serviceDeploymentArn"] = json!(arn);
        self.state
            .lock()
            .expect("lock")
            .deployments
            .insert(arn.to_owned(), deployment);
    }

    /// A deployment in progress with one source revision (not a first deployment).
    pub fn add_replacing_deployment(&self, arn: &str) {
        self.add_deployment(
            arn,
            json!({
                "status": "IN_PROGRESS",
                "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
                "sourceServiceRevisions": [{"arn": format!("{arn}-source-revision"), "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0}],
                "targetServiceRevision": {"arn": format!("{arn}-target-revision"), "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0}
            }),
        );
    }

    /// A service revision running `task_definition` with these (container, image) pairs.
    pub fn add_revision(&self, arn: &str, task_definition: &str, images: &[(&str, &str)]) {
        let images: Vec<Value> = images
            .iter()
            .map(|(container, image)| json!({"containerName": container, "image": image, "imageDigest": "sha256:0123456789abcdef"}))
            .collect();
        let mut state = self.state.lock().expect("lock");
        state.revisions.insert(
            arn.to_owned(),
            json!({"serviceRevisionArn": arn, "taskDefinition": task_definition, "containerImages": images}),
        );
        let family = task_definition.rsplit('/').next().unwrap_or_default();
        let (name, revision) = family.split_once(':').unwrap_or((family, "1"));
        state
            .task_definitions
            .entry(task_definition.to_owned())
            .or_insert_with(|| {
                (
                    json!({"taskDefinitionArn": task_definition, "family": name, "revision": revision.parse::<i64>().unwrap_or(1)}),
                    Vec::new(),
                )
            });
    }

    /// Tags a task definition added with [`EcsDouble::add_revision`].
    pub fn tag_task_definition(&self, task_definition: &str, key: &str, value: &str) {
        let mut state = self.state.lock().expect("lock");
        if let Some((_, tags)) = state.task_definitions.get_mut(task_definition) {
            tags.push(json!({"key": key, "value": value}));
        }
    }

    /// Every call received: (operation, request body).
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.state.lock().expect("lock").calls.clone()
    }

    pub fn calls_to(&self, operation: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, body)| body)
            .collect()
    }

    /// The next `times` calls of `operation` answer 500 `ServerException`.
    pub fn fail_next(&self, operation: &str, times: usize) {
        self.state
            .lock()
            .expect("lock")
            .server_errors
            .insert(operation.to_owned(), times);
    }

    /// From now on every call answers 500.
    pub fn set_failing(&self, failing: bool) {
        self.state.lock().expect("lock").failing = failing;
    }
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

async fn handle(
    State(state): State<Arc<Mutex<EcsState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut state = state.lock().expect("lock");
    state.calls.push((operation.clone(), request.clone()));
    if state.failing {
        return aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServerException",
            "the double is failing on purpose",
        );
    }
    if let Some(left) = state.server_errors.get_mut(&operation)
        && *left > 0
    {
        *left -= 1;
        return aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServerException",
            "the double fails this call on purpose",
        );
    }
    if let Some(rejection) = state.rejections.get(&operation).cloned() {
        if let Some((arn, mut deployment)) = rejection.then {
            deployment["serviceDeploymentArn"] = json!(arn);
            state.deployments.insert(arn, deployment);
        }
        return aws_error(
            StatusCode::BAD_REQUEST,
            &rejection.kind,
            "refused by the double",
        );
    }
    let answer = match operation.as_str() {
        "DescribeServiceDeployments" => {
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for arn in request["serviceDeploymentArns"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let arn = arn.as_str().unwrap_or_default().to_owned();
                match state.deployments.get(&arn) {
                    Some(deployment) => found.push(deployment.clone()),
                    None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
                }
            }
            json!({"serviceDeployments": found, "failures": failures})
        }
        "ContinueServiceDeployment" | "StopServiceDeployment" => {
            let arn = request["serviceDeploymentArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !state.deployments.contains_key(&arn) {
                return aws_error(
                    StatusCode::BAD_REQUEST,
                    "ServiceDeploymentNotFoundException",
                    "no such deployment",
                );
            }
            json!({"serviceDeploymentArn": arn})
        }
        "DescribeServiceRevisions" => {
            let arns = request["serviceRevisionArns"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            // As ECS: 1 to 20 ARNs per call.
            if arns.is_empty() || arns.len() > 20 {
                return aws_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameterException",
                    "serviceRevisionArns must have 1 to 20 items",
                );
            }
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for arn in arns {
                let arn = arn.as_str().unwrap_or_default().to_owned();
                match state.revisions.get(&arn) {
                    Some(revision) => found.push(revision.clone()),
                    None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
                }
            }
            json!({"serviceRevisions": found, "failures": failures})
        }
        "DescribeTaskDefinition" => {
            let name = request["taskDefinition"].as_str().unwrap_or_default();
            let Some((definition, tags)) = state.task_definitions.get(name) else {
                return aws_error(
                    StatusCode::BAD_REQUEST,
                    "ClientException",
                    "Unable to describe task definition.",
                );
            };
            // Tags only when asked for with `include: ["TAGS"]`, as ECS does.
            let with_tags = request["include"]
                .as_array()
                .is_some_and(|include| include.iter().any(|field| field == "TAGS"));
            if with_tags {
                json!({"taskDefinition": definition, "tags": tags})
            } else {
                json!({"taskDefinition": definition})
            }
        }
        other => return aws_error(StatusCode::BAD_REQUEST, "UnknownOperationException", other),
    };
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        answer.to_string(),
    )
        .into_response()
}

impl EcsDouble {
    /// From now on `operation` answers 400 with this error type. When `then` is given, the
    /// deployment `then.0` takes the state `then.1` as the refusal is answered, as if someone had
    /// just acted on it elsewhere.
    pub fn reject(&self, operation: &str, kind: &str, then: Option<(&str, Value)>) {
        self.state.lock().expect("lock").rejections.insert(
            operation.to_owned(),
            Rejection {
                kind: kind.to_owned(),
                then: then.map(|(arn, deployment)| (arn.to_owned(), deployment)),
            },
        );
    }
}
