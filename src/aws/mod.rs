//! Adapters from the port traits to the AWS SDK. Thin on purpose: each method is one API call
//! and a translation of its errors into [`AdapterError`], telling retryable from permanent.

pub mod dynamodb;
pub mod ecs;
pub mod sns;
pub mod ssm;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::AdapterError;

/// How long one AWS call may take. The bot answers Slack within 3 seconds, so its calls must
/// give up early; the hook has minutes and can afford patience.
#[derive(Debug, Clone, Copy)]
pub struct CallBudget {
    pub attempt: Duration,
    pub total: Duration,
}

impl CallBudget {
    pub const BOT: CallBudget = CallBudget {
        attempt: Duration::from_millis(1200),
        total: Duration::from_millis(2000),
    };
    pub const HOOK: CallBudget = CallBudget {
        attempt: Duration::from_secs(5),
        total: Duration::from_secs(15),
    };
}

/// Loads region, credentials and endpoints the standard way (environment, profile, container or
/// Lambda role; `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` included) once, at start-up.
pub async fn load_config(budget: CallBudget) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2).min(budget.attempt))
                .operation_attempt_timeout(budget.attempt)
                .operation_timeout(budget.total)
                .build(),
        )
        .load()
        .await
}

/// Error codes that mean "slow down" or "try later" whatever the HTTP status.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "ServerException",
];

/// Translates an SDK error into an [`AdapterError`].
pub(crate) fn adapter_error<E, R>(operation: &'static str, err: &SdkError<E, R>) -> AdapterError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = DisplayErrorContext(err).to_string();
    let retryable = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            service
                .err()
                .code()
                .is_some_and(|code| RETRYABLE_CODES.contains(&code))
                || message.contains("status code: 5")
        }
        _ => false,
    };
    AdapterError {
        operation,
        message,
        retryable,
    }
}
