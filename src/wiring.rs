//! Builds each face of greenlight from the environment: settings first (so a bad value stops
//! start-up with its name), then the AWS clients, once, outside any handler.

use std::sync::Arc;

use crate::aws::cloudwatch::CloudWatchAlarms;
use crate::aws::dynamodb::DynamoGateTable;
use crate::aws::ecs::EcsDeployments;
use crate::aws::sns::{SnsSubscriptions, SnsTopic};
use crate::aws::ssm::SsmParameterStore;
use crate::aws::{CallBudget, load_config};
use crate::bot::settings::SecretSource;
use crate::bot::{Bot, BotServices, BotSettings};
use crate::config::{ConfigError, EnvSource, HookSettings};
use crate::hook::Hook;
use crate::policy::Policy;
use crate::ports::ParameterStore;
use crate::slack::api::SlackApi;
use crate::slack::web::SlackWebApi;
use crate::sns::certificates::CertificateStore;

/// The hook with real AWS clients, and the policy's per-service timeouts when a file is set.
pub async fn hook_from_env(env: &dyn EnvSource) -> Result<Hook, ConfigError> {
    crate::tls::install_crypto_provider();
    let settings = HookSettings::from_env(env)?;
    let policy = match &settings.policy_file {
        Some(path) => Some(
            Policy::load(path)
                .map_err(|error| ConfigError::new("GREENLIGHT_POLICY_FILE", error.to_string()))?,
        ),
        None => None,
    };
    let aws = load_config(CallBudget::HOOK).await;
    let topic = SnsTopic::new(
        aws_sdk_sns::Client::new(&aws),
        settings.sns_topic_arn.clone(),
    );
    let decisions = SsmParameterStore::new(aws_sdk_ssm::Client::new(&aws));
    let deployments = EcsDeployments::new(aws_sdk_ecs::Client::new(&aws));
    let table = settings.table.clone();
    let mut hook = Hook::new(
        settings,
        Arc::new(decisions),
        Arc::new(topic),
        Arc::new(deployments),
    );
    if let Some(table) = table {
        // Only read (`GetItem`): the retention is the bot's business.
        hook = hook.with_gate_table(Arc::new(DynamoGateTable::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table,
            crate::store::DEFAULT_RETENTION,
        )));
    }
    Ok(match policy {
        Some(policy) => hook.with_timeout_rules(Arc::new(policy)),
        None => hook,
    })
}

/// Reads a secret: the value itself, or the SSM SecureString it names (decrypted).
async fn resolve_secret(
    source: &SecretSource,
    store: &dyn ParameterStore,
    parameter_variable: &'static str,
) -> Result<String, ConfigError> {
    match source {
        SecretSource::Value(value) => Ok(value.clone()),
        SecretSource::Parameter(name) => match store.get(name.as_str()).await {
            Ok(Some(value)) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
            Ok(_) => Err(ConfigError::new(
                parameter_variable,
                format!("parameter {name} does not exist or is empty"),
            )),
            Err(error) => Err(ConfigError::new(
                parameter_variable,
                format!("cannot read parameter {name}: {error}"),
            )),
        },
    }
}

/// The policy of the bot: the file, or the one rule of `GREENLIGHT_APPROVERS`; and a default
/// channel for every rule that names none.
pub fn bot_policy(settings: &BotSettings) -> Result<Policy, ConfigError> {
    let file = settings
        .policy_file
        .as_ref()
        .map(|path| path.display().to_string());
    let policy = Policy::from_settings(
        file.as_deref(),
        settings.approvers.as_deref(),
        settings.slack_channel.as_deref(),
        None,
    )
    .map_err(|error| {
        let variable = if file.is_some() {
            "GREENLIGHT_POLICY_FILE"
        } else {
            "GREENLIGHT_APPROVERS"
        };
        ConfigError::new(variable, error.to_string())
    })?;
    if settings.slack_channel.is_none()
        && let Some(rule) = policy.rules().iter().find(|rule| rule.channel().is_none())
    {
        return Err(ConfigError::new(
            "GREENLIGHT_SLACK_CHANNEL",
            format!(
                "is required: {} names no channel for its cards",
                rule.label()
            ),
        ));
    }
    if !policy.has_approvers() {
        tracing::warn!(
            event = "startup.no_approvers",
            "no approver is configured: every gate fails closed and can only be rolled back"
        );
    }
    Ok(policy)
}

/// The bot with real clients: SSM for decisions and secrets; DynamoDB for gates; Slack's Web API;
/// SNS for subscription confirmations; ECS for deployment state and paused hooks.
pub async fn bot_from_env(env: &dyn EnvSource) -> Result<Bot, ConfigError> {
    crate::tls::install_crypto_provider();
    let settings = BotSettings::from_env(env)?;
    let policy = bot_policy(&settings)?;
    let aws = load_config(CallBudget::BOT).await;
    let store: Arc<dyn ParameterStore> =
        Arc::new(SsmParameterStore::new(aws_sdk_ssm::Client::new(&aws)));
    let token = resolve_secret(
        &settings.slack_bot_token,
        store.as_ref(),
        "GREENLIGHT_SLACK_BOT_TOKEN_PARAM",
    )
    .await?;
    let signing_secret = resolve_secret(
        &settings.slack_signing_secret,
        store.as_ref(),
        "GREENLIGHT_SLACK_SIGNING_SECRET_PARAM",
    )
    .await?;
    let slack = SlackWebApi::new(&settings.slack_api_url, &token)
        .map_err(|error| ConfigError::new("GREENLIGHT_SLACK_API_URL", error.to_string()))?
        .with_attempt_timeout(SLACK_ATTEMPT)
        .with_rate_limit_wait_cap(SLACK_RATE_LIMIT_WAIT);
    let slack: Arc<dyn SlackApi> = Arc::new(slack);
    let mut certificates = CertificateStore::over_https();
    if let Some(directory) = &settings.sns_cert_dir {
        certificates = certificates.with_directory(directory);
    }
    let gates = DynamoGateTable::new(
        aws_sdk_dynamodb::Client::new(&aws),
        settings.table.clone(),
        settings.retention,
    );
    let services = BotServices {
        slack,
        decisions: store,
        gates: Arc::new(gates),
        subscriptions: Arc::new(SnsSubscriptions::new(aws_sdk_sns::Client::new(&aws))),
        deployments: Arc::new(EcsDeployments::new(aws_sdk_ecs::Client::new(&aws))),
        alarms: Arc::new(CloudWatchAlarms::new(aws_sdk_cloudwatch::Client::new(&aws))),
        certificates: Arc::new(certificates),
        groups: None,
    };
    Ok(Bot::new(settings, &signing_secret, policy, services))
}

/// One Slack call gives up after this long, so an outage fails a click in seconds instead of
/// hanging it. A healthy click is a few SSM and Slack round trips, far inside Slack's 3 s; when a
/// dependency is slow, a click can outlast the 3 s: Slack then tells the person it timed out, but
/// the request still runs to its end, so the decision and the card stay consistent.
const SLACK_ATTEMPT: std::time::Duration = std::time::Duration::from_millis(1200);
const SLACK_RATE_LIMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
