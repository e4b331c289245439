//! Builds each face of greenlight from the environment: settings first (so a bad value stops
//! start-up with its name), then the AWS clients, once, outside any handler.

use std::sync::Arc;

use crate::aws::ecs::EcsDeployments;
use crate::aws::sns::SnsTopic;
use crate::aws::ssm::SsmParameterStore;
use crate::aws::{CallBudget, load_config};
use crate::config::{ConfigError, EnvSource, HookSettings};
use crate::hook::Hook;
use crate::policy::Policy;

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
    let hook = Hook::new(
        settings,
        Arc::new(decisions),
        Arc::new(topic),
        Arc::new(deployments),
    );
    Ok(match policy {
        Some(policy) => hook.with_timeout_rules(Arc::new(policy)),
        None => hook,
    })
}
