//! The gate: one human decision that one deployment waits for at one lifecycle stage.
//!
//! These are the names and values every face of greenlight agrees on: the hook that opens a gate,
//! the bot that shows it and records the decision, and the command line that rehearses it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::deployment::ServiceDeploymentArn;
use super::stage::LifecycleStage;

/// Short, stable identifier of a gate, `gl-` and 12 hex digits.
///
/// It is derived from what makes a gate unique (for Flow A, the deployment and stage) so that the
/// hook, retried by ECS, and SNS, redelivering a message, always name the same gate; short enough to
/// type in `/deploy approve gl-…`; and it never reveals a parameter name in a button value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GateId(String);

/// The text is not a gate identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a gate id (expected gl- and 12 hex digits)")]
pub struct InvalidGateId(pub String);

impl GateId {
    /// The gate id for a unique key; the same key always gives the same id.
    pub fn derive(key: &str) -> GateId {
        let digest = Sha256::digest(key.as_bytes());
        GateId(format!("gl-{}", hex::encode(&digest[..6])))
    }

    /// The gate of a Flow A lambda hook: one per service deployment and stage.
    pub fn for_hook(deployment: &ServiceDeploymentArn, stage: LifecycleStage) -> GateId {
        GateId::derive(&format!("hook|{deployment}|{stage}"))
    }

    /// The gate of a Flow B pause hook: one per service deployment and ECS hook id.
    pub fn for_pause(deployment: &str, hook_id: &str) -> GateId {
        GateId::derive(&format!("pause|{deployment}|{hook_id}"))
    }

    /// The gate of a notification that carries only a decision parameter (the do-it-yourself
    /// recipe's hooks), when nothing else is known about it: one per parameter name.
    pub fn for_parameter(parameter: &ParameterName) -> GateId {
        GateId::derive(&format!("parameter|{parameter}"))
    }

    /// The gate of such a notification as delivered by SNS: one per message. A recipe hook names
    /// the same parameter for every deployment (and deletes it once read), so the parameter alone
    /// would make every later deployment's request look like a duplicate of the first; the SNS
    /// `MessageId`, which a redelivery repeats, tells one request from the next.
    pub fn for_parameter_message(parameter: &ParameterName, message_id: &str) -> GateId {
        GateId::derive(&format!("parameter|{parameter}|{message_id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GateId {
    type Err = InvalidGateId;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        match text.strip_prefix("gl-") {
            Some(hex_part)
                if hex_part.len() == 12
                    && hex_part
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
            {
                Ok(GateId(text.to_owned()))
            }
            _ => Err(InvalidGateId(text.chars().take(80).collect())),
        }
    }
}

impl TryFrom<String> for GateId {
    type Error = InvalidGateId;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<GateId> for String {
    fn from(id: GateId) -> String {
        id.0
    }
}

impl fmt::Display for GateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest parameter name SSM accepts (including the leading `/`).
const SSM_NAME_MAX: usize = 1011;
/// Deepest hierarchy SSM accepts.
const SSM_MAX_LEVELS: usize = 15;

/// An SSM parameter name that SSM will accept: `/`-rooted, only `a-zA-Z0-9_.-/`, at most 15
/// levels and 1011 characters, no empty level, and not in the reserved `aws`/`ssm` namespaces.
///
/// Checking here means a bad name is a clear error when greenlight starts or a gate opens, not an
/// obscure `ValidationException` when the first person clicks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ParameterName(String);

/// Why a text is not a usable SSM parameter name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a valid SSM parameter name: {reason}")]
pub struct InvalidParameterName {
    pub name: String,
    pub reason: &'static str,
}

impl ParameterName {
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidParameterName> {
        let name = name.into();
        let fail = |reason| InvalidParameterName {
            name: name.chars().take(200).collect(),
            reason,
        };
        if !name.starts_with('/') {
            return Err(fail("it must start with /"));
        }
        if name.len() > SSM_NAME_MAX {
            return Err(fail("it is longer than 1011 characters"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
        {
            return Err(fail("only letters, digits, _ . - and / are allowed"));
        }
        let levels: Vec<&str> = name[1..].split('/').collect();
        if levels.iter().any(|level| level.is_empty()) {
            return Err(fail("it has an empty level (// or a trailing /)"));
        }
        if levels.len() > SSM_MAX_LEVELS {
            return Err(fail("it has more than 15 levels"));
        }
        if levels.iter().any(|level| *level == "." || *level == "..") {
            return Err(fail("a level may not be . or .."));
        }
        let first = levels[0].to_ascii_lowercase();
        if first.starts_with("aws") || first.starts_with("ssm") {
            return Err(fail("names beginning with aws or ssm are reserved"));
        }
        Ok(ParameterName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name one level down: `self/segment`.
    pub fn child(&self, segment: &str) -> Result<ParameterName, InvalidParameterName> {
        ParameterName::new(format!("{}/{}", self.0, segment))
    }

    /// Whether this name lies strictly under `prefix` (a whole-level match: `/ecs` does not
    /// contain `/ecs-other/x`).
    pub fn is_under(&self, prefix: &ParameterName) -> bool {
        self.0
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
    }
}

impl FromStr for ParameterName {
    type Err = InvalidParameterName;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ParameterName::new(text)
    }
}

impl TryFrom<String> for ParameterName {
    type Error = InvalidParameterName;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        ParameterName::new(text)
    }
}

impl From<ParameterName> for String {
    fn from(name: ParameterName) -> String {
        name.0
    }
}

impl fmt::Display for ParameterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The decision parameter of a Flow A gate:
/// `{prefix}/{cluster}/{service}/{deploymentId}/{stage}`.
pub fn decision_parameter(
    prefix: &ParameterName,
    deployment: &ServiceDeploymentArn,
    stage: LifecycleStage,
) -> Result<ParameterName, InvalidParameterName> {
    ParameterName::new(format!(
        "{prefix}/{}/{}/{}/{}",
        deployment.cluster(),
        deployment.service(),
        deployment.deployment_id(),
        stage
    ))
}

/// What the people in the channel decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Reroute: move production traffic to the new revision.
    Approved,
    /// Roll back: ECS returns to the old revision.
    Rejected,
}

impl Decision {
    /// The value written to (and polled from) the decision parameter. The do-it-yourself recipe's
    /// hooks poll for exactly these two words, so they must never change.
    pub fn parameter_value(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }

    /// The button (and `/deploy` verb) that asks for it, `reroute` or `rollback`: for log lines.
    pub fn action_word(self) -> &'static str {
        match self {
            Decision::Approved => "reroute",
            Decision::Rejected => "rollback",
        }
    }

    /// Reads a decision parameter's value; anything but the two words is not a decision.
    pub fn from_parameter_value(value: &str) -> Option<Decision> {
        match value.trim() {
            "approved" => Some(Decision::Approved),
            "rejected" => Some(Decision::Rejected),
            _ => None,
        }
    }
}

/// What happens when nobody decides before the gate's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeoutAction {
    /// Fail the hook: ECS rolls the deployment back. The safe default.
    Rollback,
    /// Let the deployment go on as if approved.
    Continue,
}

impl TimeoutAction {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutAction::Rollback => "ROLLBACK",
            TimeoutAction::Continue => "CONTINUE",
        }
    }

    /// What happened to the deployment, as people read it: "the deployment was rolled back".
    pub fn past_tense(self) -> &'static str {
        match self {
            TimeoutAction::Rollback => "rolled back",
            TimeoutAction::Continue => "continued",
        }
    }
}

impl fmt::Display for TimeoutAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a timeout action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a timeout action (expected ROLLBACK or CONTINUE)")]
pub struct InvalidTimeoutAction(pub String);

impl FromStr for TimeoutAction {
    type Err = InvalidTimeoutAction;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ROLLBACK" => Ok(TimeoutAction::Rollback),
            "CONTINUE" => Ok(TimeoutAction::Continue),
            _ => Err(InvalidTimeoutAction(text.to_owned())),
        }
    }
}

/// ECS ends a lifecycle stage after 24 hours whatever the hook says; a gate must time out before,
/// so that greenlight (not ECS) applies the configured action and says so in Slack.
pub const ECS_STAGE_LIMIT: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a gate waits, and what it does when nobody decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateTimeout {
    pub after: Duration,
    pub action: TimeoutAction,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn() -> ServiceDeploymentArn {
        "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/dep1"
            .parse()
            .unwrap()
    }

    #[test]
    fn gate_ids_are_stable_short_and_distinct() {
        let a = GateId::for_hook(&arn(), LifecycleStage::PostTestTrafficShift);
        let b = GateId::for_hook(&arn(), LifecycleStage::PostTestTrafficShift);
        let c = GateId::for_hook(&arn(), LifecycleStage::PreProductionTrafficShift);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str().len(), 15);
        assert_eq!(a.as_str().parse::<GateId>(), Ok(a.clone()));
        for bad in [
            "",
            "gl-",
            "gl-XYZ",
            "gl-0123456789abc",
            "/greenlight/x",
            "gl-0123456789AB",
        ] {
            assert!(bad.parse::<GateId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn decision_parameter_follows_the_documented_layout() {
        let prefix = ParameterName::new("/greenlight/decisions").unwrap();
        let name =
            decision_parameter(&prefix, &arn(), LifecycleStage::PostTestTrafficShift).unwrap();
        assert_eq!(
            name.as_str(),
            "/greenlight/decisions/prod/web/dep1/POST_TEST_TRAFFIC_SHIFT"
        );
        assert!(name.is_under(&prefix));
    }

    #[test]
    fn parameter_names_follow_ssm_rules() {
        for bad in [
            "relative", "/", "/a//b", "/a/b/", "/a b", "/a/../b", "/aws/x", "/SSM/x", "/a/b:c",
            "/a/b?c",
        ] {
            assert!(ParameterName::new(bad).is_err(), "{bad}");
        }
        let deep = format!("/{}", vec!["x"; 16].join("/"));
        assert!(ParameterName::new(deep).is_err());
        let long = format!("/{}", "x".repeat(1011));
        assert!(ParameterName::new(long).is_err());
        assert!(ParameterName::new("/ecs/blue-green/approval_1.v2").is_ok());
    }

    #[test]
    fn is_under_matches_whole_levels_only() {
        let prefix = ParameterName::new("/ecs").unwrap();
        assert!(ParameterName::new("/ecs/x").unwrap().is_under(&prefix));
        assert!(
            !ParameterName::new("/ecs-other/x")
                .unwrap()
                .is_under(&prefix)
        );
        assert!(!ParameterName::new("/ecs").unwrap().is_under(&prefix));
    }

    #[test]
    fn decision_values_are_the_recipes_words() {
        assert_eq!(
            Decision::from_parameter_value("approved"),
            Some(Decision::Approved)
        );
        assert_eq!(
            Decision::from_parameter_value("rejected\n"),
            Some(Decision::Rejected)
        );
        assert_eq!(Decision::from_parameter_value("yes"), None);
        assert_eq!(Decision::Approved.parameter_value(), "approved");
    }
}
