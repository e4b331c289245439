//! What people judge a gate by: which task definitions and images are being deployed, the
//! deployment's CloudWatch alarms, the new revision's tasks, the test listener's answers, and who
//! deployed.
//!
//! The bot reads most of it from ECS and CloudWatch when it draws or refreshes a card (the sweep
//! refreshes it every pass); the hook probes the test URL, since it runs next to the deployment.
//! Each source is a [`Reading`]: read, or not readable with why. A source that cannot be read is
//! shown as such and never blocks a decision, except an alarm under `block_on_alarm`, which is
//! read again when the click arrives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::policy::Approver;

/// The task-definition tag CI sets to say who deployed: a Slack user ID or an e-mail address.
pub const DEPLOYER_TAG: &str = "greenlight:deployer";
/// The key of a gate request's `additionalContext` that names the deployer, for hooks that know.
pub const DEPLOYER_CONTEXT_KEY: &str = "deployer";

/// One source of evidence, as last read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reading", content = "value", rename_all = "camelCase")]
pub enum Reading<T> {
    Read(T),
    /// Could not be read; the reason is shown on the card.
    Unreadable(String),
}

impl<T> Reading<T> {
    pub fn read(&self) -> Option<&T> {
        match self {
            Reading::Read(value) => Some(value),
            Reading::Unreadable(_) => None,
        }
    }
}

/// The evidence the bot read for a card, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub read_at: DateTime<Utc>,
    /// The target revision's task definition and images, then each source revision's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revisions: Option<Reading<RevisionChange>>,
    /// The deployment's CloudWatch alarms; `None` when it has none configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<Reading<Vec<AlarmReading>>>,
    /// The target revision's tasks, as ECS reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<TaskCount>,
}

/// What is being deployed, as people know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionChange {
    pub target: TaskDefinitionView,
    #[serde(default)]
    pub sources: Vec<TaskDefinitionView>,
}

/// One service revision's task definition and container images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinitionView {
    /// `family:revision`, e.g. `web:43`.
    pub name: String,
    #[serde(default)]
    pub images: Vec<ContainerImage>,
}

/// One container's image, as ECS resolved it for the revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    pub container: String,
    /// The image reference as the task definition gives it.
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl ContainerImage {
    /// The part of the image people recognise: its tag (`1.9.0`), else a short digest
    /// (`sha256:3f2a9c1d`).
    pub fn short(&self) -> String {
        let (reference, digest_in_image) = match self.image.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (self.image.as_str(), None),
        };
        // The tag follows the last `:` after the last `/` (a registry may have a port).
        let last = reference.rsplit('/').next().unwrap_or(reference);
        if let Some((_, tag)) = last.split_once(':')
            && !tag.is_empty()
        {
            return tag.to_owned();
        }
        match digest_in_image.or(self.digest.as_deref()) {
            Some(digest) => short_digest(digest),
            None => "latest".to_owned(),
        }
    }
}

fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) => {
            format!("{algorithm}:{}", hex.chars().take(8).collect::<String>())
        }
        None => digest.chars().take(15).collect(),
    }
}

/// `family:revision` from a task definition ARN (`…:task-definition/web:43`), or the text as it is.
pub fn task_definition_name(arn: &str) -> String {
    arn.rsplit_once("task-definition/")
        .map_or(arn, |(_, name)| name)
        .to_owned()
}

/// A CloudWatch alarm's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmReading {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`, as CloudWatch says.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

impl AlarmReading {
    pub fn firing(&self) -> bool {
        self.state == "ALARM"
    }
}

/// The alarms in `ALARM`, by name.
pub fn firing(alarms: &[AlarmReading]) -> Vec<&AlarmReading> {
    alarms.iter().filter(|alarm| alarm.firing()).collect()
}

/// Running and desired tasks of the target revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCount {
    pub running: u32,
    pub desired: u32,
}

/// What the hook saw when it asked the test URL a few times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    pub at: DateTime<Utc>,
    /// One per request: the HTTP status, or `None` when no answer came (refused, timed out).
    pub statuses: Vec<Option<u16>>,
    /// Median time to the answer's head, over the requests that were answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ms: Option<u64>,
}

impl ProbeResult {
    /// `5/5 × 200, 41 ms`, or `3/5 × 200, 2 × no answer, 41 ms`.
    pub fn summary(&self) -> String {
        let total = self.statuses.len();
        let mut counts: std::collections::BTreeMap<Option<u16>, usize> = Default::default();
        for status in &self.statuses {
            *counts.entry(*status).or_default() += 1;
        }
        let mut parts: Vec<String> = Vec::new();
        // Answers first (in status order), then the requests that got none.
        for (status, count) in counts.iter().filter(|(s, _)| s.is_some()) {
            let status = status.map_or(0, |s| s);
            if parts.is_empty() {
                parts.push(format!("{count}/{total} × {status}"));
            } else {
                parts.push(format!("{count} × {status}"));
            }
        }
        if let Some(count) = counts.get(&None) {
            if parts.is_empty() {
                parts.push(format!("0/{total} answered"));
            } else {
                parts.push(format!("{count} × no answer"));
            }
        }
        if let Some(median) = self.median_ms {
            parts.push(format!("{median} ms"));
        }
        parts.join(", ")
    }
}

/// Who deployed, as CI (the task definition's tag) or the hook said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "camelCase")]
pub enum Deployer {
    /// A Slack user: from the tag, or resolved from an e-mail address.
    SlackUser(String),
    /// An e-mail address Slack could not resolve (or was not allowed to): shown as text, and
    /// nobody's approval is refused because of it.
    Email(String),
}

impl Deployer {
    /// Reads a tag or context value: a Slack user ID, or an e-mail address; anything else is
    /// ignored (a name would be a guess at who it means).
    pub fn parse(text: &str) -> Option<Deployer> {
        let text = text.trim();
        // A Slack user ID as the policy reads one (a user group cannot have deployed).
        if let Some(Approver::User(id)) = Approver::parse(text) {
            return Some(Deployer::SlackUser(id));
        }
        let email = text.len() <= 254
            && text.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !text
                        .chars()
                        .any(|c| c.is_whitespace() || "<>|*`&".contains(c))
            });
        email.then(|| Deployer::Email(text.to_owned()))
    }

    /// The Slack user, when known.
    pub fn slack_user(&self) -> Option<&str> {
        match self {
            Deployer::SlackUser(id) => Some(id),
            Deployer::Email(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(image: &str, digest: Option<&str>) -> ContainerImage {
        ContainerImage {
            container: "app".to_owned(),
            image: image.to_owned(),
            digest: digest.map(str::to_owned),
        }
    }

    #[test]
    fn an_image_is_shown_by_its_tag_or_a_short_digest() {
        let ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app";
        assert_eq!(image(&format!("{ecr}:1.9.0"), None).short(), "1.9.0");
        assert_eq!(image("registry.local:5000/app:2.0", None).short(), "2.0");
        assert_eq!(image("registry.local:5000/app", None).short(), "latest");
        assert_eq!(
            image(&format!("{ecr}@sha256:3f2a9c1d0e"), None).short(),
            "sha256:3f2a9c1d"
        );
        assert_eq!(
            image(ecr, Some("sha256:abcdef0123456789")).short(),
            "sha256:abcdef01"
        );
    }

    #[test]
    fn task_definition_names_come_from_arns() {
        assert_eq!(
            task_definition_name("arn:aws:ecs:eu-west-1:123456789012:task-definition/web:43"),
            "web:43"
        );
        assert_eq!(task_definition_name("web:43"), "web:43");
    }

    #[test]
    fn a_probe_summary_counts_answers_and_silence() {
        let at = Utc::now();
        let all = ProbeResult {
            at,
            statuses: vec![Some(200); 5],
            median_ms: Some(41),
        };
        assert_eq!(all.summary(), "5/5 × 200, 41 ms");
        let mixed = ProbeResult {
            at,
            statuses: vec![Some(200), Some(503), None, Some(200), None],
            median_ms: Some(12),
        };
        assert_eq!(mixed.summary(), "2/5 × 200, 1 × 503, 2 × no answer, 12 ms");
        let none = ProbeResult {
            at,
            statuses: vec![None, None],
            median_ms: None,
        };
        assert_eq!(none.summary(), "0/2 answered");
    }

    #[test]
    fn a_deployer_is_a_slack_user_or_an_email_address() {
        assert_eq!(
            Deployer::parse(" U0CAROL03 "),
            Some(Deployer::SlackUser("U0CAROL03".to_owned()))
        );
        assert_eq!(
            Deployer::parse("carol@example.com"),
            Some(Deployer::Email("carol@example.com".to_owned()))
        );
        for not in [
            "carol",
            "",
            "@example.com",
            "<@U0CAROL03>",
            "a b@example.com",
            "x@y",
        ] {
            assert_eq!(Deployer::parse(not), None, "{not}");
        }
    }
}
