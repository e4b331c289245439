//! Adapters from the port traits to the AWS SDK. Thin on purpose: each method is one API call
//! and a translation of its errors into [`AdapterError`], telling retryable from permanent.

pub mod cloudwatch;
pub mod dynamodb;
pub mod ecs;
pub mod sns;
pub mod ssm;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ssm::config::http::HttpResponse;
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
/// The HTTPS client is the SDK's own, trusting the roots the process read once (`crate::tls`).
///
/// When the environment holds a key pair, as Lambda's always does, the credentials are that pair:
/// the default chain would pick it first too, but builds every other provider (profile files, an
/// STS client for web identity, the container and instance-metadata clients) before it looks, on
/// every cold start.
pub async fn load_config(budget: CallBudget) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::tls::aws_http_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2).min(budget.attempt))
                .operation_attempt_timeout(budget.attempt)
                .operation_timeout(budget.total)
                .build(),
        );
    let loader = if key_pair_in_environment(|name| std::env::var_os(name)) {
        loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
    } else {
        loader
    };
    loader.load().await
}

/// Whether the environment holds an access key and its secret, each non-empty: then the default
/// credentials chain would stop at its first provider, the environment's.
fn key_pair_in_environment(read: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|name| read(name).is_some_and(|value| !value.is_empty()))
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
pub(crate) fn adapter_error<E>(
    operation: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> AdapterError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = DisplayErrorContext(err).to_string();
    // Classified from the error's metadata and HTTP status, never from its text.
    let retryable = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            service
                .err()
                .code()
                .is_some_and(|code| RETRYABLE_CODES.contains(&code))
                || service.raw().status().is_server_error()
        }
        _ => false,
    };
    AdapterError {
        operation,
        message,
        retryable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ssm::operation::get_parameter::GetParameterError;

    #[test]
    fn the_environment_s_key_pair_is_taken_only_when_both_halves_are_there() {
        let environment = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| std::ffi::OsString::from(*value))
            }
        };
        assert!(key_pair_in_environment(environment(&[
            ("AWS_ACCESS_KEY_ID", "ASIA0EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])));
        // Half a pair, or an empty half: the default chain looks further (profile, role…).
        assert!(!key_pair_in_environment(environment(&[(
            "AWS_ACCESS_KEY_ID",
            "ASIA0EXAMPLE"
        )])));
        assert!(!key_pair_in_environment(environment(&[
            ("AWS_ACCESS_KEY_ID", "ASIA0EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", ""),
        ])));
        assert!(!key_pair_in_environment(environment(&[])));
    }
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(
        code: &str,
        status: u16,
        message: &str,
    ) -> SdkError<GetParameterError, HttpResponse> {
        let error = GetParameterError::generic(
            ErrorMetadata::builder().code(code).message(message).build(),
        );
        let response =
            HttpResponse::new(status.try_into().expect("a status code"), SdkBody::empty());
        SdkError::service_error(error, response)
    }

    #[test]
    fn retries_are_told_by_the_error_code_and_the_http_status_not_the_text() {
        assert!(
            adapter_error(
                "ssm:GetParameter",
                &service_error("ThrottlingException", 400, "slow down")
            )
            .retryable
        );
        assert!(adapter_error("ssm:GetParameter", &service_error("Whatever", 503, "x")).retryable);
        // A message that happens to contain "status code: 5" does not make a 400 retryable.
        assert!(
            !adapter_error(
                "ssm:GetParameter",
                &service_error("AccessDeniedException", 400, "status code: 500")
            )
            .retryable
        );
        assert!(
            !adapter_error(
                "ssm:GetParameter",
                &service_error("ParameterNotFound", 400, "no")
            )
            .retryable
        );
    }
}
