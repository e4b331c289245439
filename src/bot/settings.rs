//! The bot's settings, read from the environment and checked at start-up.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{
    ConfigError, EnvSource, decision_prefix, optional, parse_duration, parse_or, parse_table_name,
    parse_topic_arn, policy_file, required,
};
use crate::domain::gate::ParameterName;
use crate::store::DEFAULT_RETENTION;

/// A secret given either as its value (for local runs) or as the name of an SSM SecureString
/// parameter (on AWS), so it never has to sit in the template or the repository.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    Value(String),
    Parameter(ParameterName),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Value(_) => f.write_str("Value(<redacted>)"),
            SecretSource::Parameter(name) => write!(f, "Parameter({name})"),
        }
    }
}

/// Default `GREENLIGHT_SNS_MAX_AGE`: an SNS message older than this is refused as a replay.
pub const DEFAULT_SNS_MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq)]
pub struct BotSettings {
    /// `GREENLIGHT_ALLOWED_TOPIC_ARNS`: the only topics whose messages are accepted.
    pub allowed_topic_arns: Vec<String>,
    /// `GREENLIGHT_SNS_CERT_DIR`: pinned SNS signing certificates.
    pub sns_cert_dir: Option<PathBuf>,
    /// `GREENLIGHT_SNS_MAX_AGE`.
    pub sns_max_age: Duration,
    /// `GREENLIGHT_SLACK_BOT_TOKEN` or `GREENLIGHT_SLACK_BOT_TOKEN_PARAM`.
    pub slack_bot_token: SecretSource,
    /// `GREENLIGHT_SLACK_SIGNING_SECRET` or `GREENLIGHT_SLACK_SIGNING_SECRET_PARAM`.
    pub slack_signing_secret: SecretSource,
    /// `GREENLIGHT_SLACK_CHANNEL`: where cards go when no policy rule names a channel.
    pub slack_channel: Option<String>,
    /// `GREENLIGHT_SLACK_API_URL`.
    pub slack_api_url: String,
    /// `GREENLIGHT_DECISION_PREFIX`: a card may only ever write under it.
    pub decision_prefix: ParameterName,
    /// `GREENLIGHT_TABLE`: the DynamoDB table where gates, votes and locks live.
    pub table: String,
    /// `GREENLIGHT_RETENTION`: how long a closed gate stays in the table (its TTL).
    pub retention: Duration,
    /// `GREENLIGHT_POLICY_FILE`.
    pub policy_file: Option<PathBuf>,
    /// `GREENLIGHT_APPROVERS`: the one-rule policy when there is no file.
    pub approvers: Option<String>,
}

fn secret(
    env: &dyn EnvSource,
    value_variable: &'static str,
    parameter_variable: &'static str,
) -> Result<SecretSource, ConfigError> {
    match (
        optional(env, value_variable),
        optional(env, parameter_variable),
    ) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            value_variable,
            format!("is set together with {parameter_variable}; set one or the other"),
        )),
        (Some(value), None) => Ok(SecretSource::Value(value)),
        (None, Some(name)) => ParameterName::new(name)
            .map(SecretSource::Parameter)
            .map_err(|err| ConfigError::new(parameter_variable, err.to_string())),
        (None, None) => Err(ConfigError::new(
            parameter_variable,
            format!("is required (or {value_variable} with the value itself)"),
        )),
    }
}

fn is_channel_id(text: &str) -> bool {
    crate::policy::rules::is_channel_id(text)
}

impl BotSettings {
    pub fn from_env(env: &dyn EnvSource) -> Result<BotSettings, ConfigError> {
        let topics = required(env, "GREENLIGHT_ALLOWED_TOPIC_ARNS")?;
        let allowed_topic_arns = topics
            .split(',')
            .map(str::trim)
            .filter(|arn| !arn.is_empty())
            .map(parse_topic_arn)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|problem| ConfigError::new("GREENLIGHT_ALLOWED_TOPIC_ARNS", problem))?;
        if allowed_topic_arns.is_empty() {
            return Err(ConfigError::new(
                "GREENLIGHT_ALLOWED_TOPIC_ARNS",
                "names no topic",
            ));
        }
        let slack_channel = optional(env, "GREENLIGHT_SLACK_CHANNEL");
        if let Some(channel) = &slack_channel
            && !is_channel_id(channel)
        {
            return Err(ConfigError::new(
                "GREENLIGHT_SLACK_CHANNEL",
                format!(
                    "`{channel}` is not a Slack channel ID (C… or G…; find it under the channel's details)"
                ),
            ));
        }
        let slack_api_url = parse_or(
            env,
            "GREENLIGHT_SLACK_API_URL",
            crate::slack::web::DEFAULT_API_URL.to_owned(),
            |text| match url::Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {
                    Ok(text.trim_end_matches('/').to_owned())
                }
                _ => Err(format!("`{text}` is not an http(s) URL")),
            },
        )?;
        if optional(env, "GREENLIGHT_GATE_PREFIX").is_some() {
            return Err(ConfigError::new(
                "GREENLIGHT_GATE_PREFIX",
                "is retired: gate records moved from SSM to a DynamoDB table; unset it and set \
                 GREENLIGHT_TABLE to the table's name (`greenlight table create` makes one)",
            ));
        }
        let table = parse_table_name(&required(env, "GREENLIGHT_TABLE")?)
            .map_err(|problem| ConfigError::new("GREENLIGHT_TABLE", problem))?;
        let retention = parse_or(env, "GREENLIGHT_RETENTION", DEFAULT_RETENTION, |text| {
            let retention = parse_duration(text)?;
            if retention < Duration::from_secs(24 * 3600) {
                return Err(format!(
                    "`{text}` is too short; a closed gate must outlive its card's last update by days"
                ));
            }
            Ok(retention)
        })?;
        let decision_prefix = decision_prefix(env)?;
        Ok(BotSettings {
            allowed_topic_arns,
            sns_cert_dir: optional(env, "GREENLIGHT_SNS_CERT_DIR").map(PathBuf::from),
            sns_max_age: parse_or(env, "GREENLIGHT_SNS_MAX_AGE", DEFAULT_SNS_MAX_AGE, |text| {
                let age = parse_duration(text)?;
                if age < Duration::from_secs(60) {
                    return Err(format!("`{text}` is too short; SNS retries for minutes"));
                }
                Ok(age)
            })?,
            slack_bot_token: secret(
                env,
                "GREENLIGHT_SLACK_BOT_TOKEN",
                "GREENLIGHT_SLACK_BOT_TOKEN_PARAM",
            )?,
            slack_signing_secret: secret(
                env,
                "GREENLIGHT_SLACK_SIGNING_SECRET",
                "GREENLIGHT_SLACK_SIGNING_SECRET_PARAM",
            )?,
            slack_channel,
            slack_api_url,
            decision_prefix,
            table,
            retention,
            policy_file: policy_file(env),
            approvers: optional(env, "GREENLIGHT_APPROVERS"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn base() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            (
                "GREENLIGHT_ALLOWED_TOPIC_ARNS",
                "arn:aws:sns:us-east-1:123456789012:gates",
            ),
            (
                "GREENLIGHT_SLACK_BOT_TOKEN_PARAM",
                "/greenlight/slack/bot-token",
            ),
            ("GREENLIGHT_SLACK_SIGNING_SECRET", "s3cret"),
            ("GREENLIGHT_SLACK_CHANNEL", "C0123456789"),
            ("GREENLIGHT_TABLE", "greenlight-gates"),
        ])
    }

    #[test]
    fn reads_a_complete_configuration() {
        let settings = BotSettings::from_env(&base()).unwrap();
        assert_eq!(
            settings.allowed_topic_arns,
            vec!["arn:aws:sns:us-east-1:123456789012:gates"]
        );
        assert_eq!(settings.slack_api_url, "https://slack.com/api");
        assert_eq!(settings.table, "greenlight-gates");
        assert_eq!(settings.retention, DEFAULT_RETENTION);
        assert_eq!(settings.sns_max_age, Duration::from_secs(3600));
        assert!(matches!(
            settings.slack_bot_token,
            SecretSource::Parameter(_)
        ));
        assert_eq!(
            format!("{:?}", settings.slack_signing_secret),
            "Value(<redacted>)"
        );
    }

    #[test]
    fn the_retired_gate_prefix_says_what_replaced_it() {
        let mut env = base();
        env.insert("GREENLIGHT_GATE_PREFIX", "/greenlight/gates");
        let err = BotSettings::from_env(&env).unwrap_err().to_string();
        assert!(
            err.contains("GREENLIGHT_TABLE") && err.contains("retired"),
            "{err}"
        );
    }

    #[test]
    fn each_problem_names_its_variable() {
        let cases: &[(&'static str, Option<&'static str>, &'static str)] = &[
            (
                "GREENLIGHT_ALLOWED_TOPIC_ARNS",
                None,
                "GREENLIGHT_ALLOWED_TOPIC_ARNS",
            ),
            (
                "GREENLIGHT_ALLOWED_TOPIC_ARNS",
                Some("arn:aws:sqs:us-east-1:123456789012:q"),
                "GREENLIGHT_ALLOWED_TOPIC_ARNS",
            ),
            (
                "GREENLIGHT_SLACK_BOT_TOKEN_PARAM",
                None,
                "GREENLIGHT_SLACK_BOT_TOKEN_PARAM",
            ),
            (
                "GREENLIGHT_SLACK_BOT_TOKEN",
                Some("xoxb-1"),
                "GREENLIGHT_SLACK_BOT_TOKEN",
            ),
            (
                "GREENLIGHT_SLACK_CHANNEL",
                Some("#deploys"),
                "GREENLIGHT_SLACK_CHANNEL",
            ),
            (
                "GREENLIGHT_SLACK_API_URL",
                Some("slack"),
                "GREENLIGHT_SLACK_API_URL",
            ),
            (
                "GREENLIGHT_GATE_PREFIX",
                Some("/greenlight/gates"),
                "GREENLIGHT_GATE_PREFIX",
            ),
            ("GREENLIGHT_TABLE", None, "GREENLIGHT_TABLE"),
            ("GREENLIGHT_TABLE", Some("no spaces"), "GREENLIGHT_TABLE"),
            ("GREENLIGHT_RETENTION", Some("1h"), "GREENLIGHT_RETENTION"),
            ("GREENLIGHT_RETENTION", Some("soon"), "GREENLIGHT_RETENTION"),
            (
                "GREENLIGHT_SNS_MAX_AGE",
                Some("5s"),
                "GREENLIGHT_SNS_MAX_AGE",
            ),
        ];
        for (variable, value, named) in cases {
            let mut env = base();
            match value {
                Some(value) => {
                    env.insert(variable, value);
                }
                None => {
                    env.remove(variable);
                }
            }
            let err = BotSettings::from_env(&env).unwrap_err();
            assert_eq!(err.variable, *named, "{err}");
        }
    }
}
