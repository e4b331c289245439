//! Typed settings, read from the environment once at start-up.
//!
//! Every value is parsed and checked before the first event is served; a bad or missing value
//! stops start-up with an error that names the variable, instead of surfacing as a confusing
//! failure in the middle of someone's deployment.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::gate::{ECS_STAGE_LIMIT, GateTimeout, ParameterName, TimeoutAction};
use crate::domain::stage::LifecycleStage;

/// Where settings come from: the process environment in production, a map in tests.
pub trait EnvSource {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

impl EnvSource for HashMap<&str, &str> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).map(|value| (*value).to_owned())
    }
}

/// A setting that is missing or wrong, named so the operator knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            variable,
            problem: problem.into(),
        }
    }
}

/// A set, non-blank value (blank counts as unset, as an empty CloudFormation parameter does).
pub fn optional(env: &dyn EnvSource, name: &'static str) -> Option<String> {
    env.get(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

pub fn required(env: &dyn EnvSource, name: &'static str) -> Result<String, ConfigError> {
    optional(env, name).ok_or_else(|| ConfigError::new(name, "is required but not set"))
}

/// Parses a set value, or gives the default when unset.
pub fn parse_or<T>(
    env: &dyn EnvSource,
    name: &'static str,
    default: T,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    match optional(env, name) {
        None => Ok(default),
        Some(text) => parse(&text).map_err(|problem| ConfigError::new(name, problem)),
    }
}

/// A duration: a plain number is seconds (`30`, `0.5`), otherwise humantime (`23h`, `1h 30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Ok(Duration::from_secs_f64(seconds));
        }
        return Err(format!("`{text}` is not a duration"));
    }
    humantime::parse_duration(text).map_err(|err| format!("`{text}` is not a duration ({err})"))
}

pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("`{text}` is not true or false")),
    }
}

/// A DynamoDB table name: 3 to 255 of A-Z a-z 0-9 `_` `-` `.`.
pub fn parse_table_name(text: &str) -> Result<String, String> {
    let valid = (3..=255).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)"
        ))
    }
}

/// An SNS topic ARN: `arn:PARTITION:sns:REGION:ACCOUNT:NAME`.
pub fn parse_topic_arn(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
        && parts[5]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
        ))
    }
}

fn parse_prefix(text: &str) -> Result<ParameterName, String> {
    ParameterName::new(text.trim_end_matches('/')).map_err(|err| err.to_string())
}

fn parse_url(text: &str) -> Result<String, String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(text.to_owned()),
        _ => Err(format!("`{text}` is not an http(s) URL")),
    }
}

/// The default decision prefix, shared by the hook and the bot.
pub const DEFAULT_DECISION_PREFIX: &str = "/greenlight/decisions";

/// Where decisions are written, shared by the hook and the bot (`GREENLIGHT_DECISION_PREFIX`).
pub fn decision_prefix(env: &dyn EnvSource) -> Result<ParameterName, ConfigError> {
    parse_or(
        env,
        "GREENLIGHT_DECISION_PREFIX",
        ParameterName::new(DEFAULT_DECISION_PREFIX)
            .map_err(|err| ConfigError::new("GREENLIGHT_DECISION_PREFIX", err.to_string()))?,
        parse_prefix,
    )
}

/// The optional policy file (`GREENLIGHT_POLICY_FILE`), shared by the hook (timeouts) and the bot.
pub fn policy_file(env: &dyn EnvSource) -> Option<PathBuf> {
    optional(env, "GREENLIGHT_POLICY_FILE").map(PathBuf::from)
}

/// Settings of the lifecycle-hook function.
#[derive(Debug, Clone, PartialEq)]
pub struct HookSettings {
    /// `GREENLIGHT_SNS_TOPIC_ARN`: where gate requests go.
    pub sns_topic_arn: String,
    /// `GREENLIGHT_GATED_STAGES`: the stages that wait for people; others pass at once.
    pub gated_stages: BTreeSet<LifecycleStage>,
    /// `GREENLIGHT_DECISION_PREFIX`.
    pub decision_prefix: ParameterName,
    /// `GREENLIGHT_CALLBACK_DELAY`: seconds ECS waits before invoking the hook again.
    pub callback_delay: u32,
    /// `GREENLIGHT_POLL_WINDOW`: how long one invocation keeps polling before answering
    /// `IN_PROGRESS`; zero reads once.
    pub poll_window: Duration,
    /// `GREENLIGHT_POLL_INTERVAL`: time between two reads inside the window.
    pub poll_interval: Duration,
    /// `GREENLIGHT_GATE_TIMEOUT` and `GREENLIGHT_TIMEOUT_ACTION`: the default for every gate; a
    /// policy rule may set its own.
    pub gate_timeout: GateTimeout,
    /// `GREENLIGHT_GATE_FIRST_DEPLOYMENT`: gate a service's very first deployment too.
    pub gate_first_deployment: bool,
    /// `GREENLIGHT_TEST_URL`: where people can try the new revision, shown on the card.
    pub test_url: Option<String>,
    /// `GREENLIGHT_POLICY_FILE`: per-service timeouts.
    pub policy_file: Option<PathBuf>,
    /// `GREENLIGHT_TABLE`: the bot's gate table. When set, the hook publishes its request again
    /// (at most once a minute) until the table shows the gate carded, so a delivery SNS gave up
    /// on does not leave the deployment waiting unseen.
    pub table: Option<String>,
}

/// Defaults chosen so a click reaches ECS in about two seconds at small cost: one invocation polls
/// for 14 minutes (inside Lambda's 15-minute limit) every 2 seconds, and ECS calls back 2 seconds
/// after each `IN_PROGRESS`. docs/costs.md has the arithmetic.
pub const DEFAULT_POLL_WINDOW: Duration = Duration::from_secs(840);
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
pub const DEFAULT_CALLBACK_DELAY: u32 = 2;
pub const DEFAULT_GATE_TIMEOUT: Duration = Duration::from_secs(23 * 60 * 60);
/// Lambda stops any invocation at 15 minutes.
pub const LAMBDA_LIMIT: Duration = Duration::from_secs(900);

impl HookSettings {
    pub fn from_env(env: &dyn EnvSource) -> Result<HookSettings, ConfigError> {
        let sns_topic_arn = parse_topic_arn(&required(env, "GREENLIGHT_SNS_TOPIC_ARN")?)
            .map_err(|problem| ConfigError::new("GREENLIGHT_SNS_TOPIC_ARN", problem))?;
        let gated_stages = parse_or(
            env,
            "GREENLIGHT_GATED_STAGES",
            BTreeSet::from([LifecycleStage::PostTestTrafficShift]),
            |text| {
                let stages = text
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse::<LifecycleStage>().map_err(|err| err.to_string()))
                    .collect::<Result<BTreeSet<_>, _>>()?;
                if stages.is_empty() {
                    return Err("names no stage".to_owned());
                }
                Ok(stages)
            },
        )?;
        let callback_delay = parse_or(
            env,
            "GREENLIGHT_CALLBACK_DELAY",
            DEFAULT_CALLBACK_DELAY,
            |text| match text.parse::<u32>() {
                Ok(seconds) if (1..=900).contains(&seconds) => Ok(seconds),
                _ => Err(format!(
                    "`{text}` is not a whole number of seconds from 1 to 900"
                )),
            },
        )?;
        let poll_window = parse_or(env, "GREENLIGHT_POLL_WINDOW", DEFAULT_POLL_WINDOW, |text| {
            let window = parse_duration(text)?;
            if window >= LAMBDA_LIMIT {
                return Err(format!(
                    "`{text}` does not fit in Lambda's 15-minute limit; use at most 870 seconds"
                ));
            }
            Ok(window)
        })?;
        let poll_interval = parse_or(
            env,
            "GREENLIGHT_POLL_INTERVAL",
            DEFAULT_POLL_INTERVAL,
            |text| {
                let interval = parse_duration(text)?;
                if interval < Duration::from_millis(200) || interval > Duration::from_secs(60) {
                    return Err(format!("`{text}` must be between 0.2 and 60 seconds"));
                }
                Ok(interval)
            },
        )?;
        let after = parse_or(
            env,
            "GREENLIGHT_GATE_TIMEOUT",
            DEFAULT_GATE_TIMEOUT,
            |text| {
                let timeout = parse_duration(text)?;
                if timeout.is_zero() || timeout >= ECS_STAGE_LIMIT {
                    return Err(format!(
                        "`{text}` must be more than zero and less than 24h, ECS's own limit for a stage"
                    ));
                }
                Ok(timeout)
            },
        )?;
        let action = parse_or(
            env,
            "GREENLIGHT_TIMEOUT_ACTION",
            TimeoutAction::Rollback,
            |text| {
                text.parse()
                    .map_err(|err: crate::domain::gate::InvalidTimeoutAction| err.to_string())
            },
        )?;
        Ok(HookSettings {
            sns_topic_arn,
            gated_stages,
            decision_prefix: decision_prefix(env)?,
            callback_delay,
            poll_window,
            poll_interval,
            gate_timeout: GateTimeout { after, action },
            gate_first_deployment: parse_or(
                env,
                "GREENLIGHT_GATE_FIRST_DEPLOYMENT",
                false,
                parse_bool,
            )?,
            test_url: match optional(env, "GREENLIGHT_TEST_URL") {
                None => None,
                Some(text) => {
                    Some(parse_url(&text).map_err(|p| ConfigError::new("GREENLIGHT_TEST_URL", p))?)
                }
            },
            policy_file: policy_file(env),
            table: match optional(env, "GREENLIGHT_TABLE") {
                Some(text) => Some(
                    parse_table_name(&text)
                        .map_err(|problem| ConfigError::new("GREENLIGHT_TABLE", problem))?,
                ),
                None => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:greenlight";

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn defaults_are_documented_ones() {
        let settings =
            HookSettings::from_env(&env(&[("GREENLIGHT_SNS_TOPIC_ARN", TOPIC)])).unwrap();
        assert_eq!(
            settings.gated_stages,
            BTreeSet::from([LifecycleStage::PostTestTrafficShift])
        );
        assert_eq!(settings.decision_prefix.as_str(), "/greenlight/decisions");
        assert_eq!(settings.callback_delay, 2);
        assert_eq!(settings.poll_window, Duration::from_secs(840));
        assert_eq!(settings.gate_timeout.after, Duration::from_secs(23 * 3600));
        assert_eq!(settings.gate_timeout.action, TimeoutAction::Rollback);
        assert!(!settings.gate_first_deployment);
        assert_eq!(settings.test_url, None);
    }

    #[test]
    fn every_value_is_read() {
        let settings = HookSettings::from_env(&env(&[
            ("GREENLIGHT_SNS_TOPIC_ARN", TOPIC),
            (
                "GREENLIGHT_GATED_STAGES",
                "pre_production_traffic_shift, POST_TEST_TRAFFIC_SHIFT",
            ),
            ("GREENLIGHT_DECISION_PREFIX", "/ecs/"),
            ("GREENLIGHT_CALLBACK_DELAY", "30"),
            ("GREENLIGHT_POLL_WINDOW", "0"),
            ("GREENLIGHT_POLL_INTERVAL", "500ms"),
            ("GREENLIGHT_GATE_TIMEOUT", "2h 30m"),
            ("GREENLIGHT_TIMEOUT_ACTION", "continue"),
            ("GREENLIGHT_GATE_FIRST_DEPLOYMENT", "true"),
            ("GREENLIGHT_TEST_URL", "https://green.example.com"),
        ]))
        .unwrap();
        assert_eq!(settings.gated_stages.len(), 2);
        assert_eq!(settings.decision_prefix.as_str(), "/ecs");
        assert_eq!(settings.callback_delay, 30);
        assert_eq!(settings.poll_window, Duration::ZERO);
        assert_eq!(settings.poll_interval, Duration::from_millis(500));
        assert_eq!(settings.gate_timeout.after, Duration::from_secs(9000));
        assert_eq!(settings.gate_timeout.action, TimeoutAction::Continue);
        assert!(settings.gate_first_deployment);
        assert_eq!(
            settings.test_url.as_deref(),
            Some("https://green.example.com")
        );
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: &[(&'static str, &'static str)] = &[
            ("GREENLIGHT_GATED_STAGES", "POST_TEST"),
            ("GREENLIGHT_DECISION_PREFIX", "no-slash"),
            ("GREENLIGHT_CALLBACK_DELAY", "0"),
            ("GREENLIGHT_POLL_WINDOW", "20m"),
            ("GREENLIGHT_POLL_INTERVAL", "10ms"),
            ("GREENLIGHT_GATE_TIMEOUT", "25h"),
            ("GREENLIGHT_TIMEOUT_ACTION", "MAYBE"),
            ("GREENLIGHT_GATE_FIRST_DEPLOYMENT", "perhaps"),
            ("GREENLIGHT_TEST_URL", "ftp://x"),
            (
                "GREENLIGHT_SNS_TOPIC_ARN",
                "arn:aws:sqs:eu-west-1:123456789012:q",
            ),
        ];
        for (name, value) in cases {
            let mut pairs = env(&[("GREENLIGHT_SNS_TOPIC_ARN", TOPIC)]);
            pairs.insert(name, value);
            let err = HookSettings::from_env(&pairs).unwrap_err();
            assert_eq!(err.variable, *name, "{err}");
        }
        let err = HookSettings::from_env(&env(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GREENLIGHT_SNS_TOPIC_ARN: is required but not set"
        );
    }
}
