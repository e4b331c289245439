//! The policy file: its format, loading, validation, and which rule applies to a deployment.
//!
//! The file is TOML (see `docs/policy.example.toml`):
//!
//! ```toml
//! [defaults]                  # optional; every rule takes these unless it says otherwise
//! channel = "C0123456789"
//! gate_timeout = "23h"
//! timeout_action = "ROLLBACK"
//! continue_first_deployments = false
//!
//! [[rule]]                    # matched in order; the first that matches decides
//! name = "payments in prod"   # required, unique: it is what the audit trail names
//! clusters = ["prod-*"]       # glob patterns (* and ?); default ["*"]
//! services = ["payments-*"]   # default ["*"]
//! channel = "C0PAYMENTS1"     # C… or G…; default: [defaults], then the bot's default channel
//! approvers = ["U0ALICE01", "S0SRE0001"]  # user (U…/W…) and user-group (S…) IDs
//! quorum = 2                  # approvals needed to reroute; default 1
//! ```
//!
//! The file is read once, at start-up, and everything in it is checked then: a policy is the one
//! thing that says who may send production traffic to new code, so a typo must stop the bot from
//! starting rather than quietly widen (or silently empty) the set of people who may click. That is
//! why unknown keys are errors, why a rule nobody could ever satisfy is an error, and why a rule
//! hidden behind an earlier catch-all is an error. Every error names the file, the rule (its
//! position, counted from 1, and its name) and the key (list positions counted from 0), e.g.
//! `policy.toml: rule 2 ("payments in prod"): approvers[1]: "bob" is not a Slack user (U…/W…) or
//! user-group (S…) ID`.
//!
//! Reading is in two steps. serde reads the file into the `Raw…` structs, which list the keys
//! (anything else is an unknown key) and hold newtypes that check each value as it is read (a
//! Slack ID, a pattern, a timeout…). `RawRule::check` then makes each [`Rule`] with the checks no
//! single value can make: required keys, a name no earlier rule has, no approver twice, a quorum
//! the approvers can reach; [`Policy::parse`] adds the last, no rule after a catch-all. An error
//! from serde knows only a span of the text: `misplaced` finds the key or value there, so that it
//! names its rule and key like the others.
//!
//! Without a file, `GREENLIGHT_APPROVERS` makes one rule for everything ([`Policy::single_rule`]).

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use wildmatch::WildMatch;

use crate::domain::gate::Decision;
use crate::domain::gate::{ECS_STAGE_LIMIT, GateTimeout, InvalidTimeoutAction, TimeoutAction};

/// The setting that names the policy file.
pub const POLICY_FILE_ENV: &str = "GREENLIGHT_POLICY_FILE";
/// The setting that lists the approvers when there is no policy file.
pub const APPROVERS_ENV: &str = "GREENLIGHT_APPROVERS";

/// Whether `text` looks like a Slack ID with one of `prefixes`: the prefix letter, then capital
/// letters and digits, 9 to 32 characters in all. Slack's IDs have no documented fixed length, so
/// the bounds are loose; the check is there to catch names, handles and e-mail addresses written
/// where an ID belongs.
fn is_slack_id(text: &str, prefixes: &[u8]) -> bool {
    let bytes = text.as_bytes();
    (9..=32).contains(&bytes.len())
        && prefixes.contains(&bytes[0])
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Whether `text` is a Slack channel ID: `C…` (public or private) or `G…` (older private channels).
pub fn is_channel_id(text: &str) -> bool {
    is_slack_id(text, b"CG")
}

/// One entry of a rule's approver list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Approver {
    /// A Slack user ID (`U…`, or `W…` in an Enterprise Grid org).
    User(String),
    /// A Slack user-group ID (`S…`): whoever is in the group when the click arrives.
    Group(String),
}

impl Approver {
    /// Reads a user or user-group ID; anything else is `None`.
    pub fn parse(text: &str) -> Option<Approver> {
        if is_slack_id(text, b"UW") {
            Some(Approver::User(text.to_owned()))
        } else if is_slack_id(text, b"S") {
            Some(Approver::Group(text.to_owned()))
        } else {
            None
        }
    }

    /// The Slack ID, as written in the policy.
    pub fn id(&self) -> &str {
        match self {
            Approver::User(id) | Approver::Group(id) => id,
        }
    }
}

impl fmt::Display for Approver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl TryFrom<String> for Approver {
    type Error = String;
    fn try_from(text: String) -> Result<Approver, String> {
        Approver::parse(&text)
            .ok_or_else(|| format!("{text:?} is not a Slack user (U…/W…) or user-group (S…) ID"))
    }
}

/// The position of the first approver listed a second time. A duplicate is most likely a typo
/// for someone else, and would make a quorum look reachable when it is not.
fn listed_twice(approvers: &[Approver]) -> Option<usize> {
    (1..approvers.len()).find(|&index| approvers[..index].contains(&approvers[index]))
}

/// A cluster or service name pattern: `*` is any run of characters, `?` any one character.
#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    glob: WildMatch,
}

impl Pattern {
    fn new(text: String) -> Pattern {
        let glob = WildMatch::new(&text);
        Pattern { text, glob }
    }

    /// `*` (or `**`…): matches every name, and also the absence of one.
    fn matches_everything(&self) -> bool {
        self.text.chars().all(|c| c == '*')
    }
}

impl TryFrom<String> for Pattern {
    type Error = String;
    /// ECS names are letters, digits, `-` and `_`; a pattern with any other character (an ARN, a
    /// space) could never match and is a mistake.
    fn try_from(text: String) -> Result<Pattern, String> {
        if text.is_empty() {
            return Err("an empty pattern matches nothing".to_owned());
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '?'))
        {
            return Err(format!(
                "{text:?} can never match an ECS name (letters, digits, - and _, with * and ? as wildcards)"
            ));
        }
        Ok(Pattern::new(text))
    }
}

/// Whether one dimension (clusters or services) of a rule matches `value`. A gate that does not
/// know its cluster or service (a do-it-yourself-recipe notification carries only a parameter
/// name) matches only a dimension that matches everything: a rule written for `prod-*` must not
/// catch a gate that may or may not be in production.
fn dimension_matches(patterns: &[Pattern], value: Option<&str>) -> bool {
    match value {
        Some(name) => patterns.iter().any(|pattern| pattern.glob.matches(name)),
        None => patterns.iter().any(Pattern::matches_everything),
    }
}

/// A channel for cards, by ID: a name (`#deploys`) can be renamed, or reused for another channel.
#[derive(Clone)]
struct Channel(String);

impl TryFrom<String> for Channel {
    type Error = String;
    fn try_from(text: String) -> Result<Channel, String> {
        if !is_channel_id(&text) {
            return Err(format!("{text:?} is not a Slack channel ID (C…/G…)"));
        }
        Ok(Channel(text))
    }
}

/// How many approvals a reroute needs: at least one, or the gate would be no gate.
struct Quorum(u32);

impl TryFrom<i64> for Quorum {
    type Error = String;
    fn try_from(number: i64) -> Result<Quorum, String> {
        if number < 1 {
            return Err(format!("must be at least 1, found {number}"));
        }
        u32::try_from(number)
            .map(Quorum)
            .map_err(|_| format!("{number} is too large"))
    }
}

/// A gate timeout, written like `"4h"` or `"90m"`.
#[derive(Clone, Copy)]
struct Timeout(Duration);

impl TryFrom<String> for Timeout {
    type Error = String;
    fn try_from(text: String) -> Result<Timeout, String> {
        let after = humantime::parse_duration(&text).map_err(|error| {
            format!("{text:?} is not a duration like \"4h\" or \"90m\" ({error})")
        })?;
        check_timeout(after, &format!("{text:?}")).map(|()| Timeout(after))
    }
}

/// Checks a gate timeout against what ECS allows; `shown` is how the error names the value. ECS
/// ends the stage at its limit whatever the hook says, so a gate must time out before: then
/// greenlight, not ECS, applies the timeout action, and says so in Slack.
fn check_timeout(after: Duration, shown: &str) -> Result<(), String> {
    if after.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    if after >= ECS_STAGE_LIMIT {
        return Err(format!(
            "{shown} is not below ECS's limit of {}h for a lifecycle stage (the gate must time out \
             before ECS ends the stage, so that greenlight applies the timeout action)",
            ECS_STAGE_LIMIT.as_secs() / 3600
        ));
    }
    Ok(())
}

/// `24h`, `90m`, or humantime's longer form: how a duration given in code is shown in an error.
fn short_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if duration.subsec_nanos() == 0 && seconds > 0 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if duration.subsec_nanos() == 0 && seconds > 0 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        humantime::format_duration(duration).to_string()
    }
}

/// A timeout action, in any case (`rollback`, `CONTINUE`); [`TimeoutAction`]'s own `Deserialize`
/// is for the hook's JSON, and takes capitals only.
#[derive(Clone, Copy)]
struct OnTimeout(TimeoutAction);

impl TryFrom<String> for OnTimeout {
    type Error = String;
    fn try_from(text: String) -> Result<OnTimeout, String> {
        let parsed: Result<_, InvalidTimeoutAction> = text.parse();
        parsed.map(OnTimeout).map_err(|error| error.to_string())
    }
}

/// When a reason is asked of the person who decides: `never` (the default), for a `rollback`
/// only, or `always`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AskReason {
    #[default]
    Never,
    Rollback,
    Always,
}

impl AskReason {
    /// Whether a decision of this kind needs a reason.
    pub fn asks_for(self, decision: Decision) -> bool {
        match self {
            AskReason::Never => false,
            AskReason::Rollback => decision == Decision::Rejected,
            AskReason::Always => true,
        }
    }
}

impl TryFrom<String> for AskReason {
    type Error = String;
    fn try_from(text: String) -> Result<AskReason, String> {
        match text.as_str() {
            "never" => Ok(AskReason::Never),
            "rollback" => Ok(AskReason::Rollback),
            "always" => Ok(AskReason::Always),
            _ => Err(format!(
                "{text:?} is not one of \"never\", \"rollback\", \"always\""
            )),
        }
    }
}

/// The sweep runs once a minute: a reminder or an escalation can come no sooner.
const SWEEP_PERIOD: Duration = Duration::from_secs(60);

/// How often the sweep reminds a gate's approvers; `"0"` turns reminders off.
#[derive(Clone, Copy)]
struct RemindEvery(Option<Duration>);

impl TryFrom<String> for RemindEvery {
    type Error = String;
    fn try_from(text: String) -> Result<RemindEvery, String> {
        if text.trim() == "0" {
            return Ok(RemindEvery(None));
        }
        let every = sweep_interval(&text)?;
        Ok(RemindEvery((!every.is_zero()).then_some(every)))
    }
}

/// How long after a gate was asked for the sweep escalates it.
#[derive(Clone, Copy)]
struct EscalateAfter(Duration);

impl TryFrom<String> for EscalateAfter {
    type Error = String;
    fn try_from(text: String) -> Result<EscalateAfter, String> {
        let after = sweep_interval(&text)?;
        if after.is_zero() {
            return Err("must be longer than zero (leave it out to never escalate)".to_owned());
        }
        Ok(EscalateAfter(after))
    }
}

/// A duration for the sweep: zero, or at least its one-minute period (a shorter one could not be
/// kept, and is most likely `"30s"` written for `"30m"`).
fn sweep_interval(text: &str) -> Result<Duration, String> {
    let every = humantime::parse_duration(text)
        .map_err(|error| format!("{text:?} is not a duration like \"30m\" or \"2h\" ({error})"))?;
    if !every.is_zero() && every < SWEEP_PERIOD {
        return Err(format!(
            "{text:?} is shorter than a minute, how often the sweep runs"
        ));
    }
    Ok(every)
}

/// `Deserialize` for each newtype through its `TryFrom` from the TOML type after the colon, so
/// that one check serves both the file and the settings. The check runs inside
/// `deserialize_newtype_struct` because toml pins an error from there on the value itself; with
/// serde's `#[serde(try_from)]`, a bad list item would be blamed on the whole list (`approvers`
/// instead of `approvers[1]`).
macro_rules! deserialize_through_try_from {
    ($($type:ty: $from:ty),*) => {$(
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Checked;
                impl<'de> Visitor<'de> for Checked {
                    type Value = $type;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(stringify!($from))
                    }
                    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<$type, D::Error> {
                        <$type>::try_from(<$from>::deserialize(d)?).map_err(de::Error::custom)
                    }
                }
                deserializer.deserialize_newtype_struct(stringify!($type), Checked)
            }
        }
    )*};
}

deserialize_through_try_from!(Approver: String, Pattern: String, Channel: String,
    Quorum: i64, Timeout: String, OnTimeout: String, AskReason: String, RemindEvery: String,
    EscalateAfter: String);

/// The file as written (the order of the fields is how errors list the keys). Each `[[rule]]` is
/// read on its own, as a `RawRule`, so that its errors name it; here it is only counted.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    rule: Vec<de::IgnoredAny>,
}

/// `[defaults]`: what every rule takes unless it says otherwise.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table ([defaults])")]
struct RawDefaults {
    channel: Option<Channel>,
    gate_timeout: Option<Timeout>,
    timeout_action: Option<OnTimeout>,
    continue_first_deployments: Option<bool>,
    block_on_alarm: Option<bool>,
    self_approval: Option<bool>,
    ask_reason: Option<AskReason>,
    remind_every: Option<RemindEvery>,
    escalate_after: Option<EscalateAfter>,
    escalate_to: Option<Vec<Approver>>,
}

/// One `[[rule]]`. `name` and `approvers` are required, but optional here: `RawRule::check`
/// reports their absence with a hint, where serde would only say "missing field".
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([[rule]])")]
struct RawRule {
    name: Option<String>,
    clusters: Option<Vec<Pattern>>,
    services: Option<Vec<Pattern>>,
    channel: Option<Channel>,
    approvers: Option<Vec<Approver>>,
    quorum: Option<Quorum>,
    gate_timeout: Option<Timeout>,
    timeout_action: Option<OnTimeout>,
    continue_first_deployments: Option<bool>,
    block_on_alarm: Option<bool>,
    self_approval: Option<bool>,
    ask_reason: Option<AskReason>,
    remind_every: Option<RemindEvery>,
    escalate_after: Option<EscalateAfter>,
    escalate_to: Option<Vec<Approver>>,
}

impl RawRule {
    /// The rule at `position`, with `defaults` filled in, after the checks that take more than one
    /// of its values, or the `earlier` rules' names; `fail` places an error on one of its keys.
    fn check(
        self,
        position: usize,
        defaults: &RawDefaults,
        earlier: &[Rule],
        fail: impl Fn(&str, &str) -> PolicyError,
    ) -> Result<Rule, PolicyError> {
        const NO_NAME: &str =
            "missing (every rule needs a name: the audit trail says which rule applied)";
        const NO_APPROVERS: &str =
            "missing (list the Slack user and user-group IDs who may decide)";
        // Read before the keys below are taken out of `self`; reported after them.
        let judgement = self.judgement(defaults, &fail);
        let name = self
            .name
            .as_deref()
            .map(str::trim)
            .ok_or_else(|| fail("name", NO_NAME))?;
        if name.is_empty() {
            return Err(fail("name", "must not be empty"));
        }
        if let Some(other) = earlier.iter().find(|rule| rule.name == name) {
            let problem = format!("{name:?} is already the name of rule {}", other.position);
            return Err(fail("name", &problem));
        }
        let clusters = dimension(self.clusters, "cluster").map_err(|p| fail("clusters", &p))?;
        let services = dimension(self.services, "service").map_err(|p| fail("services", &p))?;
        let approvers = self
            .approvers
            .ok_or_else(|| fail("approvers", NO_APPROVERS))?;
        if approvers.is_empty() {
            let problem = "the list is empty, so nobody could ever decide a gate under this rule";
            return Err(fail("approvers", problem));
        }
        if let Some(index) = listed_twice(&approvers) {
            let problem = format!("{:?} is listed twice", approvers[index].id());
            return Err(fail(&format!("approvers[{index}]"), &problem));
        }
        // A group may have any number of members; a user counts once.
        let quorum = self.quorum.map_or(1, |Quorum(quorum)| quorum);
        let users = approvers
            .iter()
            .filter(|a| matches!(a, Approver::User(_)))
            .count();
        if users == approvers.len() && usize::try_from(quorum).unwrap_or(usize::MAX) > users {
            let problem = format!(
                "{quorum} approvals can never be reached with the {users} user(s) listed and no \
                 user group (add approvers or lower the quorum)"
            );
            return Err(fail("quorum", &problem));
        }
        let judgement = judgement?;
        Ok(Rule {
            position,
            name: name.to_owned(),
            clusters,
            services,
            channel: self
                .channel
                .or_else(|| defaults.channel.clone())
                .map(|Channel(id)| id),
            approvers,
            quorum,
            gate_timeout: self
                .gate_timeout
                .or(defaults.gate_timeout)
                .map(|Timeout(after)| after),
            timeout_action: self
                .timeout_action
                .or(defaults.timeout_action)
                .map(|OnTimeout(a)| a),
            continue_first_deployments: self
                .continue_first_deployments
                .or(defaults.continue_first_deployments)
                .unwrap_or(false),
            judgement,
        })
    }

    /// The rule's judgement keys, each falling back to `[defaults]`, then to its default. An
    /// escalation needs both when and whom: one without the other is a mistake, not a choice.
    fn judgement(
        &self,
        defaults: &RawDefaults,
        fail: &impl Fn(&str, &str) -> PolicyError,
    ) -> Result<Judgement, PolicyError> {
        let escalate_after = self.escalate_after.or(defaults.escalate_after);
        let escalate_to = self
            .escalate_to
            .clone()
            .or_else(|| defaults.escalate_to.clone())
            .unwrap_or_default();
        if let Some(index) = listed_twice(&escalate_to) {
            let problem = format!("{:?} is listed twice", escalate_to[index].id());
            return Err(fail(&format!("escalate_to[{index}]"), &problem));
        }
        let escalation = match (escalate_after, escalate_to.is_empty()) {
            (None, true) => None,
            (Some(EscalateAfter(after)), false) => Some(Escalation {
                after,
                to: escalate_to,
            }),
            (Some(_), true) => {
                return Err(fail(
                    "escalate_after",
                    "names no one to escalate to (add escalate_to with user and user-group IDs)",
                ));
            }
            (None, false) => {
                return Err(fail(
                    "escalate_to",
                    "has no effect without escalate_after (say when to escalate, e.g. \"1h\")",
                ));
            }
        };
        Ok(Judgement {
            block_on_alarm: self
                .block_on_alarm
                .or(defaults.block_on_alarm)
                .unwrap_or(false),
            self_approval: self
                .self_approval
                .or(defaults.self_approval)
                .unwrap_or(true),
            ask_reason: self.ask_reason.or(defaults.ask_reason).unwrap_or_default(),
            remind_every: self
                .remind_every
                .or(defaults.remind_every)
                .map_or(Some(DEFAULT_REMIND_EVERY), |RemindEvery(every)| every),
            escalation,
        })
    }
}

/// How often the sweep reminds approvers of an open gate, unless the policy says otherwise.
pub const DEFAULT_REMIND_EVERY: Duration = Duration::from_secs(30 * 60);

/// Whom the sweep mentions, once, when a gate has waited too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// How long after the gate was asked for.
    pub after: Duration,
    /// Users and user groups, mentioned in the card's thread.
    pub to: Vec<Approver>,
}

/// What a rule says about how people judge its gates, beyond who may decide.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Judgement {
    block_on_alarm: bool,
    self_approval: bool,
    ask_reason: AskReason,
    remind_every: Option<Duration>,
    escalation: Option<Escalation>,
}

impl Default for Judgement {
    fn default() -> Judgement {
        Judgement {
            block_on_alarm: false,
            self_approval: true,
            ask_reason: AskReason::Never,
            remind_every: Some(DEFAULT_REMIND_EVERY),
            escalation: None,
        }
    }
}

/// A dimension's patterns: every name when the rule does not say, but never an empty list, with
/// which the rule would never apply.
fn dimension(written: Option<Vec<Pattern>>, what: &str) -> Result<Vec<Pattern>, String> {
    match written {
        None => Ok(vec![Pattern::new("*".to_owned())]),
        Some(patterns) if patterns.is_empty() => Err(format!(
            "the list is empty, so the rule would never apply (write [\"*\"] for every {what})"
        )),
        Some(patterns) => Ok(patterns),
    }
}

/// `rule 2 ("payments in prod")`, or `rule 2` while the rule has no usable name.
fn rule_label(position: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("rule {position} ({name:?})"),
        None => format!("rule {position}"),
    }
}

/// A rule's name as written, when it is usable: to name the rule before it is read.
fn written_name<'d>(rule: &'d DeValue<'_>) -> Option<&'d str> {
    let name = rule.as_table()?.get("name")?.get_ref().as_str()?.trim();
    (!name.is_empty()).then_some(name)
}

/// One rule of the policy: which deployments it covers and who may decide their gates.
///
/// A `Rule` exists only as a validated part of a [`Policy`], so its invariants hold: a name, at
/// least one pattern in each dimension, well-formed IDs, no duplicate approver, a quorum of at
/// least 1 that the listed approvers can meet, a timeout within ECS's stage limit.
#[derive(Debug, Clone)]
pub struct Rule {
    position: usize,
    name: String,
    clusters: Vec<Pattern>,
    services: Vec<Pattern>,
    channel: Option<String>,
    approvers: Vec<Approver>,
    quorum: u32,
    gate_timeout: Option<Duration>,
    timeout_action: Option<TimeoutAction>,
    continue_first_deployments: bool,
    judgement: Judgement,
}

impl Rule {
    /// The rule's name, for the audit trail and log lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule's position in the policy, counted from 1.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The cluster patterns, as written.
    pub fn clusters(&self) -> impl Iterator<Item = &str> {
        self.clusters.iter().map(|pattern| pattern.text.as_str())
    }

    /// The service patterns, as written.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|pattern| pattern.text.as_str())
    }

    /// The channel for this rule's cards, when the rule or `[defaults]` names one; otherwise the
    /// caller's default channel applies (see [`Rule::channel_or`]).
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// The channel for this rule's cards, falling back to `default`.
    pub fn channel_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.channel.as_deref().unwrap_or(default)
    }

    /// Who may decide, in the order written.
    pub fn approvers(&self) -> &[Approver] {
        &self.approvers
    }

    /// Whether anyone at all may decide. A rule without approvers refuses every click.
    pub fn has_approvers(&self) -> bool {
        !self.approvers.is_empty()
    }

    /// How many distinct approvers must click Reroute before production traffic moves.
    pub fn quorum(&self) -> u32 {
        self.quorum
    }

    /// How many distinct approvers must agree on `action`: the quorum to reroute, but a single
    /// approver to roll back. Any one approver may veto; moving traffic is what needs agreement.
    pub fn approvals_needed(&self, action: Decision) -> u32 {
        match action {
            Decision::Approved => self.quorum,
            Decision::Rejected => 1,
        }
    }

    /// How long a gate waits, when the rule (or `[defaults]`) says so; otherwise the hook's own
    /// setting applies.
    pub fn gate_timeout(&self) -> Option<Duration> {
        self.gate_timeout
    }

    /// What happens when nobody decides in time, when the rule (or `[defaults]`) says so.
    pub fn timeout_action(&self) -> Option<TimeoutAction> {
        self.timeout_action
    }

    /// The rule's timeout, each part falling back to `fallback` (the hook's own settings).
    pub fn timeout_or(&self, fallback: GateTimeout) -> GateTimeout {
        GateTimeout {
            after: self.gate_timeout.unwrap_or(fallback.after),
            action: self.timeout_action.unwrap_or(fallback.action),
        }
    }

    /// Whether the first deployment of a service (nothing to compare with) goes on without a gate.
    pub fn continue_first_deployments(&self) -> bool {
        self.continue_first_deployments
    }

    /// Whether Reroute is refused while one of the deployment's CloudWatch alarms is in `ALARM`.
    pub fn block_on_alarm(&self) -> bool {
        self.judgement.block_on_alarm
    }

    /// Whether the person who deployed may approve their own deployment (`true` unless the
    /// policy says `self_approval = false`). Rolling back is always theirs to do.
    pub fn self_approval(&self) -> bool {
        self.judgement.self_approval
    }

    /// When a decision needs a reason.
    pub fn ask_reason(&self) -> AskReason {
        self.judgement.ask_reason
    }

    /// How often the sweep reminds the approvers who have not voted; `None` never.
    pub fn remind_every(&self) -> Option<Duration> {
        self.judgement.remind_every
    }

    /// The escalation, if the rule has one.
    pub fn escalation(&self) -> Option<&Escalation> {
        self.judgement.escalation.as_ref()
    }

    /// Whether this rule covers a gate in `cluster`/`service` (`None` when the gate does not say).
    pub fn matches(&self, cluster: Option<&str>, service: Option<&str>) -> bool {
        dimension_matches(&self.clusters, cluster) && dimension_matches(&self.services, service)
    }

    /// Whether this rule matches every gate, so that no later rule could ever apply.
    fn matches_everything(&self) -> bool {
        self.clusters.iter().any(Pattern::matches_everything)
            && self.services.iter().any(Pattern::matches_everything)
    }

    /// `rule 2 ("payments in prod")`, as error messages and log lines name a rule.
    pub fn label(&self) -> String {
        rule_label(self.position, Some(&self.name))
    }
}

/// A policy that failed to load: where (file or setting, rule, key) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file (as its path was given) or the setting the policy came from.
    pub origin: String,
    /// The way down to the problem, e.g. `["rule 2 (\"payments in prod\")", "approvers[1]"]`.
    pub location: Vec<String>,
    /// What is wrong.
    pub problem: String,
}

impl PolicyError {
    fn new(origin: &str, location: &[&str], problem: impl Into<String>) -> PolicyError {
        PolicyError {
            origin: origin.to_owned(),
            location: location.iter().map(|&step| step.to_owned()).collect(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        for step in &self.location {
            write!(f, ": {step}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for PolicyError {}

/// serde's error, placed in the file like every other error: under `location`, then the way down
/// `value` to the key or value that toml pinned it on. toml gives each error a span of the text:
/// the key it is about (an unknown key), or the value (of the wrong type, or failing a newtype's
/// check).
fn misplaced(
    origin: &str,
    text: &str,
    location: &[&str],
    value: &Spanned<DeValue<'_>>,
    error: &toml::de::Error,
) -> PolicyError {
    let message = error.message();
    let mut placed = PolicyError::new(origin, location, message);
    match error.span().and_then(|span| find(value, &span)) {
        Some((steps, value)) => {
            placed.location.extend(steps);
            placed.problem = in_toml_terms(message, &placed.location, value);
        }
        None => placed
            .problem
            .insert_str(0, &line_and_column(text, error.span())),
    }
    placed
}

/// The way down `value` to the key or value at `span` (`defaults`, `channel`; `approvers[1]`),
/// and the value there (for a key, its value).
fn find<'d>(
    value: &'d Spanned<DeValue<'d>>,
    span: &Range<usize>,
) -> Option<(Vec<String>, &'d DeValue<'d>)> {
    if value.span() == *span {
        return Some((Vec::new(), value.get_ref()));
    }
    match value.get_ref() {
        DeValue::Table(table) => table.iter().find_map(|(key, value)| {
            let (mut steps, found) = if key.span() == *span {
                (Vec::new(), value.get_ref())
            } else {
                find(value, span)?
            };
            match steps.first_mut() {
                Some(item) if item.starts_with('[') => item.insert_str(0, key.get_ref()),
                _ => steps.insert(0, key.get_ref().to_string()),
            }
            Some((steps, found))
        }),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            let (mut steps, found) = find(item, span)?;
            steps.insert(0, format!("[{index}]"));
            Some((steps, found))
        }),
        _ => None,
    }
}

/// serde's message about the key or `value` at `location`, in the file's terms: serde says what it
/// expected in Rust's (`i64`, `a sequence`), and the file's authors write TOML. Its unknown-field
/// and invalid-type messages have kept their form since serde 1.0; any other message (a
/// newtype's own) is kept as it is.
fn in_toml_terms(message: &str, location: &[String], value: &DeValue<'_>) -> String {
    let key = location.last().map_or("", String::as_str);
    if let Some(names) = message.strip_prefix(&format!("unknown field `{key}`, expected ")) {
        // "`a` or `b`", "one of `a`, `b`, `c`": the names are between backquotes.
        let names: Vec<&str> = names.split('`').skip(1).step_by(2).collect();
        return format!("unknown key (expected one of: {})", names.join(", "));
    }
    let Some((_, expected)) =
        (message.strip_prefix("invalid type: ")).and_then(|rest| rest.rsplit_once(", expected "))
    else {
        return message.to_owned();
    };
    let expected = match expected {
        "a boolean" => "true or false",
        "i64" => "an integer",
        "a sequence" if location == ["rule"] => "[[rule]] tables",
        "a sequence" => "a list of strings",
        other => other,
    };
    format!("expected {expected}, found {}", kind(value))
}

/// `a string`, `an integer`… for "expected X, found Y" messages.
fn kind(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

/// `line L, column C: ` for an error at `span`, when there is one.
fn line_and_column(text: &str, span: Option<Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    format!("line {line}, column {column}: ")
}

/// The whole policy: rules in the order they are tried.
#[derive(Debug, Clone)]
pub struct Policy {
    origin: String,
    rules: Vec<Rule>,
}

impl Policy {
    /// Reads and checks the policy file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Policy, PolicyError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|error| PolicyError::new(&origin, &[], format!("cannot be read: {error}")))?;
        Policy::parse(&origin, &text)
    }

    /// Checks a policy given as text; `origin` is how errors name it (the file's path).
    pub fn parse(origin: &str, text: &str) -> Result<Policy, PolicyError> {
        let document = DeTable::parse(text).map_err(|error| {
            let at = line_and_column(text, error.span());
            let problem = format!("is not valid TOML: {at}{}", error.message().trim_end());
            PolicyError::new(origin, &[], problem)
        })?;
        let document = Spanned::new(document.span(), DeValue::Table(document.into_inner()));
        let raw = RawPolicy::deserialize(document.clone().into_deserializer())
            .map_err(|error| misplaced(origin, text, &[], &document, &error))?;
        if raw.rule.is_empty() {
            let problem = "no [[rule]] is defined, so nobody could ever decide a gate (add at least \
                           one rule)";
            return Err(PolicyError::new(origin, &[], problem));
        }
        // The rules are read one at a time, in order: an error names its rule, and no error in a
        // later rule hides one in an earlier rule.
        let listed = match document.get_ref().get("rule").map(Spanned::get_ref) {
            Some(DeValue::Array(listed)) => &listed[..],
            _ => &[],
        };
        let mut rules: Vec<Rule> = Vec::with_capacity(listed.len());
        for (index, item) in listed.iter().enumerate() {
            let label = rule_label(index + 1, written_name(item.get_ref()));
            let fail = |key: &str, problem: &str| PolicyError::new(origin, &[&label, key], problem);
            let rule = RawRule::deserialize(item.clone().into_deserializer())
                .map_err(|error| misplaced(origin, text, &[&label], item, &error))?
                .check(index + 1, &raw.defaults, &rules, fail)?;
            if let Some(catch_all) = rules.iter().find(|other| other.matches_everything()) {
                let problem = format!(
                    "can never apply: {} before it matches every cluster and service (put \
                     catch-all rules last)",
                    catch_all.label()
                );
                return Err(PolicyError::new(origin, &[&label], problem));
            }
            rules.push(rule);
        }
        Ok(Policy {
            origin: origin.to_owned(),
            rules,
        })
    }

    /// The policy without a file: one rule, named `GREENLIGHT_APPROVERS`, for every gate.
    ///
    /// `approvers_csv` is a comma-separated list of user and user-group IDs (blanks around
    /// entries and empty entries are ignored). An empty list is allowed and means nobody may
    /// decide: every click is refused, and gates end by their timeout. `channel` is the default
    /// channel for cards and `timeout` the gate timeout, both optional here as in a file.
    pub fn single_rule(
        approvers_csv: &str,
        channel: Option<&str>,
        timeout: Option<GateTimeout>,
    ) -> Result<Policy, PolicyError> {
        let approvers = approvers_csv
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| Approver::try_from(entry.to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|problem| PolicyError::new(APPROVERS_ENV, &[], problem))?;
        if let Some(index) = listed_twice(&approvers) {
            let problem = format!("{:?} is listed twice", approvers[index].id());
            return Err(PolicyError::new(APPROVERS_ENV, &[], problem));
        }
        let channel = channel
            .map(|channel| Channel::try_from(channel.to_owned()))
            .transpose()
            .map_err(|problem| PolicyError::new("default channel", &[], problem))?;
        if let Some(timeout) = timeout {
            check_timeout(timeout.after, &short_duration(timeout.after))
                .map_err(|problem| PolicyError::new("gate timeout", &[], problem))?;
        }
        Ok(Policy {
            origin: APPROVERS_ENV.to_owned(),
            rules: vec![Rule {
                position: 1,
                name: APPROVERS_ENV.to_owned(),
                clusters: vec![Pattern::new("*".to_owned())],
                services: vec![Pattern::new("*".to_owned())],
                channel: channel.map(|Channel(id)| id),
                approvers,
                quorum: 1,
                gate_timeout: timeout.map(|timeout| timeout.after),
                timeout_action: timeout.map(|timeout| timeout.action),
                continue_first_deployments: false,
                judgement: Judgement::default(),
            }],
        })
    }

    /// The policy as the settings describe it: the file at `policy_file` if one is named,
    /// otherwise [`Policy::single_rule`] over `approvers_csv` (absent means nobody may decide).
    /// Blank values count as absent, as an unset template parameter arrives as `""`. Naming both
    /// is an error: which approvers apply must never be a guess.
    pub fn from_settings(
        policy_file: Option<&str>,
        approvers_csv: Option<&str>,
        default_channel: Option<&str>,
        timeout: Option<GateTimeout>,
    ) -> Result<Policy, PolicyError> {
        let policy_file = policy_file.map(str::trim).filter(|v| !v.is_empty());
        let approvers_csv = approvers_csv.filter(|v| !v.trim().is_empty());
        match (policy_file, approvers_csv) {
            (Some(_), Some(_)) => Err(PolicyError::new(
                POLICY_FILE_ENV,
                &[],
                format!(
                    "is set together with {APPROVERS_ENV}; set one or the other (the file lists \
                     approvers per rule)"
                ),
            )),
            (Some(path), None) => Policy::load(path),
            (None, approvers) => {
                Policy::single_rule(approvers.unwrap_or(""), default_channel, timeout)
            }
        }
    }

    /// [`Policy::from_settings`] with the file and approvers read from `GREENLIGHT_POLICY_FILE`
    /// and `GREENLIGHT_APPROVERS`.
    pub fn from_env(
        default_channel: Option<&str>,
        timeout: Option<GateTimeout>,
    ) -> Result<Policy, PolicyError> {
        let file = std::env::var(POLICY_FILE_ENV).ok();
        let approvers = std::env::var(APPROVERS_ENV).ok();
        Policy::from_settings(
            file.as_deref(),
            approvers.as_deref(),
            default_channel,
            timeout,
        )
    }

    /// The first rule that covers a gate in `cluster`/`service`, or `None`: then nobody may
    /// decide the gate, and the caller must refuse. A gate that names neither (a do-it-yourself
    /// recipe's notification) matches only a rule whose patterns are all `*`.
    pub fn rule_for(&self, cluster: Option<&str>, service: Option<&str>) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|rule| rule.matches(cluster, service))
    }

    /// The rules, in the order they are tried.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The file (or setting) the policy came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether any rule asks a reason for some decision: when none does, a click needs no look at
    /// its gate's rule before it decides.
    pub fn asks_reasons(&self) -> bool {
        self.rules
            .iter()
            .any(|rule| rule.ask_reason() != AskReason::Never)
    }

    /// Whether any rule lets anyone decide; worth a warning at start-up when not.
    pub fn has_approvers(&self) -> bool {
        self.rules.iter().any(Rule::has_approvers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../docs/policy.example.toml");

    fn parsed(text: &str) -> Policy {
        Policy::parse("policy.toml", text).unwrap()
    }

    fn error(text: &str) -> String {
        Policy::parse("policy.toml", text).unwrap_err().to_string()
    }

    fn names(policy: &Policy) -> Vec<&str> {
        policy.rules().iter().map(Rule::name).collect()
    }

    fn matched<'p>(
        policy: &'p Policy,
        cluster: Option<&str>,
        service: Option<&str>,
    ) -> Option<&'p str> {
        policy.rule_for(cluster, service).map(Rule::name)
    }

    #[test]
    fn the_example_file_loads_and_means_what_its_comments_say() {
        let policy = parsed(EXAMPLE);
        assert_eq!(
            names(&policy),
            [
                "payments in prod",
                "everything else in prod",
                "staging and the rest"
            ]
        );
        let [payments, prod, rest] = policy.rules() else {
            panic!("three rules");
        };
        assert_eq!(payments.position(), 1);
        assert_eq!(payments.channel(), Some("C0PAYMENTS1"));
        assert_eq!(payments.quorum(), 2);
        assert_eq!(payments.gate_timeout(), Some(Duration::from_secs(4 * 3600)));
        assert_eq!(payments.timeout_action(), Some(TimeoutAction::Rollback));
        assert_eq!(
            payments.approvers(),
            [
                Approver::User("U0ALICE01".into()),
                Approver::User("U0BOB0002".into()),
                Approver::Group("S0SRE0001".into()),
            ]
        );
        assert!(!payments.continue_first_deployments());
        // The second rule takes everything from [defaults].
        assert_eq!(prod.channel(), Some("C0DEPLOYS01"));
        assert_eq!(prod.quorum(), 1);
        assert_eq!(prod.gate_timeout(), Some(Duration::from_secs(23 * 3600)));
        assert_eq!(prod.clusters().collect::<Vec<_>>(), ["prod-*"]);
        assert_eq!(prod.services().collect::<Vec<_>>(), ["*"]);
        assert_eq!(rest.timeout_action(), Some(TimeoutAction::Continue));
        assert!(rest.continue_first_deployments());
        assert_eq!(
            matched(&policy, Some("prod-eu"), Some("payments-api")),
            Some("payments in prod")
        );
        assert_eq!(
            matched(&policy, Some("prod-eu"), Some("search")),
            Some("everything else in prod")
        );
        assert_eq!(matched(&policy, None, None), Some("staging and the rest"));
    }

    #[test]
    fn the_first_matching_rule_wins_and_globs_match_whole_names() {
        let policy = parsed(
            r#"
            [[rule]]
            name = "pay"
            clusters = ["prod-*"]
            services = ["pay?", "billing"]
            approvers = ["U0ALICE01"]

            [[rule]]
            name = "prod"
            clusters = ["prod-*", "live"]
            approvers = ["U0BOB0002"]

            [[rule]]
            name = "rest"
            approvers = ["U0CAROL03"]
            "#,
        );
        assert_eq!(matched(&policy, Some("prod-eu"), Some("pay1")), Some("pay"));
        assert_eq!(
            matched(&policy, Some("prod-eu"), Some("billing")),
            Some("pay")
        );
        // ? is exactly one character; patterns match the whole name.
        assert_eq!(matched(&policy, Some("prod-eu"), Some("pay")), Some("prod"));
        assert_eq!(
            matched(&policy, Some("prod-eu"), Some("payments")),
            Some("prod")
        );
        assert_eq!(
            matched(&policy, Some("prod-eu"), Some("billing-v2")),
            Some("prod")
        );
        assert_eq!(matched(&policy, Some("live"), Some("pay1")), Some("prod"));
        assert_eq!(matched(&policy, Some("prod-"), Some("x")), Some("prod"));
        assert_eq!(matched(&policy, Some("xprod-eu"), Some("x")), Some("rest"));
        // Names are case-sensitive, as ECS's are.
        assert_eq!(
            matched(&policy, Some("PROD-eu"), Some("pay1")),
            Some("rest")
        );
    }

    #[test]
    fn a_broader_rule_first_shadows_a_narrower_one() {
        let policy = parsed(
            r#"
            [[rule]]
            name = "prod"
            clusters = ["prod-*"]
            approvers = ["U0BOB0002"]

            [[rule]]
            name = "pay"
            clusters = ["prod-*"]
            services = ["pay*"]
            approvers = ["U0ALICE01"]
            "#,
        );
        assert_eq!(
            matched(&policy, Some("prod-eu"), Some("pay1")),
            Some("prod")
        );
        assert_eq!(matched(&policy, Some("dev"), Some("pay1")), None);
    }

    #[test]
    fn a_gate_without_cluster_or_service_matches_only_all_star_rules() {
        let policy = parsed(
            r#"
            [[rule]]
            name = "prod"
            clusters = ["prod-*"]
            approvers = ["U0BOB0002"]

            [[rule]]
            name = "payments anywhere"
            services = ["payments-*"]
            approvers = ["U0ALICE01"]

            [[rule]]
            name = "any cluster"
            clusters = ["dev", "*"]
            approvers = ["U0CAROL03"]
            "#,
        );
        assert_eq!(matched(&policy, None, None), Some("any cluster"));
        // A known service but no cluster: "payments anywhere" matches every cluster.
        assert_eq!(
            matched(&policy, None, Some("payments-api")),
            Some("payments anywhere")
        );
        // A known cluster but no service: only rules matching every service.
        assert_eq!(matched(&policy, Some("prod-eu"), None), Some("prod"));
        assert_eq!(matched(&policy, Some("dev"), None), Some("any cluster"));

        let specific_only = Policy::parse(
            "policy.toml",
            r#"
            [[rule]]
            name = "prod"
            clusters = ["prod-*"]
            approvers = ["U0BOB0002"]
            "#,
        )
        .unwrap();
        assert_eq!(matched(&specific_only, None, None), None);
        assert_eq!(matched(&specific_only, Some("dev"), Some("web")), None);
    }

    /// Every validation error, with the exact text an operator reads.
    #[test]
    fn validation_errors_name_the_file_the_rule_and_the_key() {
        let ok_rule =
            "[[rule]]\nname = \"first\"\napprovers = [\"U0ALICE01\"]\nclusters = [\"a\"]\n";
        let cases: &[(&str, &str)] = &[
            (
                r#"[[rule]]
                name = "payments in prod"
                approvers = ["U0ALICE01", "bob"]"#,
                r#"policy.toml: rule 2 ("payments in prod"): approvers[1]: "bob" is not a Slack user (U…/W…) or user-group (S…) ID"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["u0alice01"]"#,
                r#"policy.toml: rule 2 ("x"): approvers[0]: "u0alice01" is not a Slack user (U…/W…) or user-group (S…) ID"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["C0DEPLOYS01"]"#,
                r#"policy.toml: rule 2 ("x"): approvers[0]: "C0DEPLOYS01" is not a Slack user (U…/W…) or user-group (S…) ID"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01", "S0SRE0001", "U0ALICE01"]"#,
                r#"policy.toml: rule 2 ("x"): approvers[2]: "U0ALICE01" is listed twice"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = "U0ALICE01""#,
                r#"policy.toml: rule 2 ("x"): approvers: expected a list of strings, found a string"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01", 7]"#,
                r#"policy.toml: rule 2 ("x"): approvers[1]: expected a string, found an integer"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = []"#,
                r#"policy.toml: rule 2 ("x"): approvers: the list is empty, so nobody could ever decide a gate under this rule"#,
            ),
            (
                r#"[[rule]]
                name = "x""#,
                r#"policy.toml: rule 2 ("x"): approvers: missing (list the Slack user and user-group IDs who may decide)"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                aprovers = ["U0ALICE01"]"#,
                r#"policy.toml: rule 2 ("x"): aprovers: unknown key (expected one of: name, clusters, services, channel, approvers, quorum, gate_timeout, timeout_action, continue_first_deployments, block_on_alarm, self_approval, ask_reason, remind_every, escalate_after, escalate_to)"#,
            ),
            (
                r#"[[rule]]
                approvers = ["U0ALICE01"]"#,
                r#"policy.toml: rule 2: name: missing (every rule needs a name: the audit trail says which rule applied)"#,
            ),
            (
                r#"[[rule]]
                name = "  "
                approvers = ["U0ALICE01"]"#,
                r#"policy.toml: rule 2: name: must not be empty"#,
            ),
            (
                r#"[[rule]]
                name = "first"
                approvers = ["U0ALICE01"]"#,
                r#"policy.toml: rule 2 ("first"): name: "first" is already the name of rule 1"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01", "U0BOB0002"]
                quorum = 3"#,
                r#"policy.toml: rule 2 ("x"): quorum: 3 approvals can never be reached with the 2 user(s) listed and no user group (add approvers or lower the quorum)"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                quorum = 0"#,
                r#"policy.toml: rule 2 ("x"): quorum: must be at least 1, found 0"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                quorum = "1""#,
                r#"policy.toml: rule 2 ("x"): quorum: expected an integer, found a string"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["S0SRE0001"]
                quorum = 99999999999"#,
                r#"policy.toml: rule 2 ("x"): quorum: 99999999999 is too large"#,
            ),
            (
                r##"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                channel = "#deploys""##,
                r##"policy.toml: rule 2 ("x"): channel: "#deploys" is not a Slack channel ID (C…/G…)"##,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                gate_timeout = "24h""#,
                r#"policy.toml: rule 2 ("x"): gate_timeout: "24h" is not below ECS's limit of 24h for a lifecycle stage (the gate must time out before ECS ends the stage, so that greenlight applies the timeout action)"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                gate_timeout = "0s""#,
                r#"policy.toml: rule 2 ("x"): gate_timeout: must be longer than zero"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                gate_timeout = "soon""#,
                r#"policy.toml: rule 2 ("x"): gate_timeout: "soon" is not a duration like "4h" or "90m" (expected number at 0)"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                timeout_action = "ABORT""#,
                r#"policy.toml: rule 2 ("x"): timeout_action: `ABORT` is not a timeout action (expected ROLLBACK or CONTINUE)"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                continue_first_deployments = "yes""#,
                r#"policy.toml: rule 2 ("x"): continue_first_deployments: expected true or false, found a string"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                clusters = []"#,
                r#"policy.toml: rule 2 ("x"): clusters: the list is empty, so the rule would never apply (write ["*"] for every cluster)"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                services = ["web", ""]"#,
                r#"policy.toml: rule 2 ("x"): services[1]: an empty pattern matches nothing"#,
            ),
            (
                r#"[[rule]]
                name = "x"
                approvers = ["U0ALICE01"]
                clusters = ["arn:aws:ecs:eu-west-1:123456789012:cluster/prod"]"#,
                r#"policy.toml: rule 2 ("x"): clusters[0]: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod" can never match an ECS name (letters, digits, - and _, with * and ? as wildcards)"#,
            ),
        ];
        for (rule, expected) in cases {
            let text = format!("{ok_rule}\n{rule}\n");
            assert_eq!(&error(&text), expected, "for\n{text}");
        }
    }

    #[test]
    fn a_rule_after_a_catch_all_is_an_error() {
        assert_eq!(
            error(
                r#"
                [[rule]]
                name = "everything"
                clusters = ["*"]
                approvers = ["U0ALICE01"]

                [[rule]]
                name = "prod"
                clusters = ["prod-*"]
                approvers = ["U0BOB0002"]
                "#
            ),
            r#"policy.toml: rule 2 ("prod"): can never apply: rule 1 ("everything") before it matches every cluster and service (put catch-all rules last)"#
        );
    }

    #[test]
    fn errors_outside_rules_name_their_place() {
        let rule = "[[rule]]\nname = \"x\"\napprovers = [\"U0ALICE01\"]\n";
        let cases: &[(String, &str)] = &[
            (
                format!("[[rules]]\nname = \"x\"\n{rule}"),
                "policy.toml: rules: unknown key (expected one of: defaults, rule)",
            ),
            (
                format!("[defaults]\nchanel = \"C0DEPLOYS01\"\n{rule}"),
                "policy.toml: defaults: chanel: unknown key (expected one of: channel, gate_timeout, timeout_action, continue_first_deployments, block_on_alarm, self_approval, ask_reason, remind_every, escalate_after, escalate_to)",
            ),
            (
                format!("[defaults]\napprovers = [\"U0ALICE01\"]\n{rule}"),
                "policy.toml: defaults: approvers: unknown key (expected one of: channel, gate_timeout, timeout_action, continue_first_deployments, block_on_alarm, self_approval, ask_reason, remind_every, escalate_after, escalate_to)",
            ),
            (
                format!("[defaults]\nchannel = \"deploys\"\n{rule}"),
                r#"policy.toml: defaults: channel: "deploys" is not a Slack channel ID (C…/G…)"#,
            ),
            (
                format!("[defaults]\ngate_timeout = \"25h\"\n{rule}"),
                r#"policy.toml: defaults: gate_timeout: "25h" is not below ECS's limit of 24h for a lifecycle stage (the gate must time out before ECS ends the stage, so that greenlight applies the timeout action)"#,
            ),
            (
                "[defaults]\nchannel = \"C0DEPLOYS01\"\n".to_owned(),
                "policy.toml: no [[rule]] is defined, so nobody could ever decide a gate (add at least one rule)",
            ),
            (
                String::new(),
                "policy.toml: no [[rule]] is defined, so nobody could ever decide a gate (add at least one rule)",
            ),
            (
                "rule = []\n".to_owned(),
                "policy.toml: no [[rule]] is defined, so nobody could ever decide a gate (add at least one rule)",
            ),
            (
                "rule = 5\n".to_owned(),
                "policy.toml: rule: expected [[rule]] tables, found an integer",
            ),
            (
                "rule = [5]\n".to_owned(),
                "policy.toml: rule 1: expected a table ([[rule]]), found an integer",
            ),
            (
                format!("{rule}name = \"y\"\n"),
                "policy.toml: is not valid TOML: line 4, column 1: duplicate key",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&error(text), expected, "for\n{text}");
        }
    }

    #[test]
    fn a_quorum_above_the_users_listed_is_fine_when_a_group_is_listed() {
        let policy = parsed(
            r#"
            [[rule]]
            name = "sre"
            approvers = ["U0ALICE01", "S0SRE0001"]
            quorum = 3
            "#,
        );
        let rule = &policy.rules()[0];
        assert_eq!(rule.quorum(), 3);
        assert_eq!(rule.approvals_needed(Decision::Approved), 3);
        assert_eq!(rule.approvals_needed(Decision::Rejected), 1);
        // A quorum equal to the users listed can be met.
        policy_ok(
            r#"[[rule]]
            name = "two"
            approvers = ["U0ALICE01", "W0BOB0002"]
            quorum = 2"#,
        );
    }

    fn policy_ok(text: &str) {
        if let Err(error) = Policy::parse("policy.toml", text) {
            panic!("{error}");
        }
    }

    #[test]
    fn a_rule_overrides_defaults_and_unset_values_stay_unset() {
        let policy = parsed(
            r#"
            [defaults]
            channel = "C0DEPLOYS01"
            timeout_action = "continue"
            continue_first_deployments = true

            [[rule]]
            name = "own"
            clusters = ["prod"]
            approvers = ["U0ALICE01"]
            channel = "G0PRIVATE1"
            timeout_action = "ROLLBACK"
            continue_first_deployments = false

            [[rule]]
            name = "inherits"
            approvers = ["U0ALICE01"]
            "#,
        );
        let [own, inherits] = policy.rules() else {
            panic!("two rules");
        };
        assert_eq!(own.channel(), Some("G0PRIVATE1"));
        assert_eq!(own.timeout_action(), Some(TimeoutAction::Rollback));
        assert!(!own.continue_first_deployments());
        assert_eq!(inherits.channel(), Some("C0DEPLOYS01"));
        assert_eq!(inherits.timeout_action(), Some(TimeoutAction::Continue));
        assert!(inherits.continue_first_deployments());
        assert_eq!(inherits.gate_timeout(), None);

        let bare = parsed("[[rule]]\nname = \"x\"\napprovers = [\"U0ALICE01\"]\n");
        let rule = &bare.rules()[0];
        assert_eq!(rule.channel(), None);
        assert_eq!(rule.channel_or("C0FALLBACK1"), "C0FALLBACK1");
        assert_eq!(rule.gate_timeout(), None);
        assert_eq!(rule.timeout_action(), None);
        assert!(!rule.continue_first_deployments());
        let hook = GateTimeout {
            after: Duration::from_secs(3600),
            action: TimeoutAction::Rollback,
        };
        assert_eq!(rule.timeout_or(hook), hook);
        assert_eq!(
            inherits.timeout_or(hook),
            GateTimeout {
                after: Duration::from_secs(3600),
                action: TimeoutAction::Continue
            }
        );
    }

    #[test]
    fn judgement_keys_default_and_fall_back_to_defaults() {
        let plain = parsed("[[rule]]\nname = \"x\"\napprovers = [\"U0ALICE01\"]\n");
        let rule = &plain.rules()[0];
        assert!(!rule.block_on_alarm());
        assert!(rule.self_approval());
        assert_eq!(rule.ask_reason(), AskReason::Never);
        assert_eq!(rule.remind_every(), Some(DEFAULT_REMIND_EVERY));
        assert_eq!(rule.escalation(), None);

        let policy = parsed(
            r#"[defaults]
            block_on_alarm = true
            self_approval = false
            ask_reason = "rollback"
            remind_every = "0"
            escalate_after = "1h"
            escalate_to = ["S0SRE0001"]

            [[rule]]
            name = "own"
            clusters = ["prod"]
            approvers = ["U0ALICE01"]
            self_approval = true
            ask_reason = "always"
            remind_every = "15m"
            escalate_after = "2h"
            escalate_to = ["U0BOB0002", "S0LEADS001"]

            [[rule]]
            name = "inherits"
            approvers = ["U0ALICE01"]"#,
        );
        let own = &policy.rules()[0];
        assert!(own.block_on_alarm(), "from [defaults]");
        assert!(own.self_approval());
        assert_eq!(own.ask_reason(), AskReason::Always);
        assert!(own.ask_reason().asks_for(Decision::Approved));
        assert_eq!(own.remind_every(), Some(Duration::from_secs(15 * 60)));
        let escalation = own.escalation().unwrap();
        assert_eq!(escalation.after, Duration::from_secs(7200));
        let to: Vec<&str> = escalation.to.iter().map(Approver::id).collect();
        assert_eq!(to, ["U0BOB0002", "S0LEADS001"]);

        let inherits = &policy.rules()[1];
        assert!(!inherits.self_approval());
        assert_eq!(inherits.ask_reason(), AskReason::Rollback);
        assert!(inherits.ask_reason().asks_for(Decision::Rejected));
        assert!(!inherits.ask_reason().asks_for(Decision::Approved));
        assert_eq!(inherits.remind_every(), None, "\"0\" turns reminders off");
        assert_eq!(
            inherits.escalation().unwrap().after,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn judgement_key_errors_name_the_file_the_rule_and_the_key() {
        let rule = |extra: &str| {
            error(&format!(
                "[[rule]]\nname = \"x\"\napprovers = [\"U0ALICE01\"]\n{extra}\n"
            ))
        };
        let cases = [
            (
                "block_on_alarm = \"yes\"",
                r#"policy.toml: rule 1 ("x"): block_on_alarm: expected true or false, found a string"#,
            ),
            (
                "self_approval = 0",
                r#"policy.toml: rule 1 ("x"): self_approval: expected true or false, found an integer"#,
            ),
            (
                "ask_reason = \"sometimes\"",
                r#"policy.toml: rule 1 ("x"): ask_reason: "sometimes" is not one of "never", "rollback", "always""#,
            ),
            (
                "remind_every = \"30s\"",
                r#"policy.toml: rule 1 ("x"): remind_every: "30s" is shorter than a minute, how often the sweep runs"#,
            ),
            (
                "remind_every = \"soon\"",
                r#"policy.toml: rule 1 ("x"): remind_every: "soon" is not a duration like "30m" or "2h" (expected number at 0)"#,
            ),
            (
                "escalate_after = \"0s\"\nescalate_to = [\"S0SRE0001\"]",
                r#"policy.toml: rule 1 ("x"): escalate_after: must be longer than zero (leave it out to never escalate)"#,
            ),
            (
                "escalate_after = \"1h\"",
                r#"policy.toml: rule 1 ("x"): escalate_after: names no one to escalate to (add escalate_to with user and user-group IDs)"#,
            ),
            (
                "escalate_to = [\"S0SRE0001\"]",
                r#"policy.toml: rule 1 ("x"): escalate_to: has no effect without escalate_after (say when to escalate, e.g. "1h")"#,
            ),
            (
                "escalate_after = \"1h\"\nescalate_to = [\"S0SRE0001\", \"@sre\"]",
                r#"policy.toml: rule 1 ("x"): escalate_to[1]: "@sre" is not a Slack user (U…/W…) or user-group (S…) ID"#,
            ),
            (
                "escalate_after = \"1h\"\nescalate_to = [\"S0SRE0001\", \"S0SRE0001\"]",
                r#"policy.toml: rule 1 ("x"): escalate_to[1]: "S0SRE0001" is listed twice"#,
            ),
        ];
        for (extra, expected) in cases {
            assert_eq!(rule(extra), expected, "{extra}");
        }
        assert_eq!(
            error(
                "[defaults]\nask_reason = \"Always\"\n[[rule]]\nname = \"x\"\napprovers = [\"U0ALICE01\"]\n"
            ),
            r#"policy.toml: defaults: ask_reason: "Always" is not one of "never", "rollback", "always""#
        );
        assert_eq!(
            error(
                "[defaults]\nescalate_to = [\"S0SRE0001\"]\n[[rule]]\nname = \"x\"\napprovers = [\"U0ALICE01\"]\n"
            ),
            r#"policy.toml: rule 1 ("x"): escalate_to: has no effect without escalate_after (say when to escalate, e.g. "1h")"#
        );
    }

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let loaded = Policy::load(&path).unwrap();
        assert_eq!(loaded.rules().len(), 3);
        assert_eq!(loaded.origin(), path.display().to_string());

        std::fs::write(&path, "[[rule]]\nname = \"x\"\napprovers = [\"bob\"]\n").unwrap();
        let error = Policy::load(&path).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: rule 1 (\"x\"): approvers[0]: \"bob\" is not a Slack user (U…/W…) or user-group (S…) ID",
                path.display()
            )
        );

        let missing = dir.path().join("absent.toml");
        let error = Policy::load(&missing).unwrap_err();
        assert_eq!(error.origin, missing.display().to_string());
        assert!(error.problem.starts_with("cannot be read: "), "{error}");
    }

    #[test]
    fn without_a_file_the_approvers_setting_makes_one_rule_for_everything() {
        let timeout = GateTimeout {
            after: Duration::from_secs(2 * 3600),
            action: TimeoutAction::Continue,
        };
        let policy = Policy::from_settings(
            None,
            Some(" U0ALICE01, S0SRE0001 ,,"),
            Some("C0DEPLOYS01"),
            Some(timeout),
        )
        .unwrap();
        assert_eq!(policy.origin(), APPROVERS_ENV);
        let rule = policy.rule_for(Some("prod"), Some("web")).unwrap();
        assert!(std::ptr::eq(rule, policy.rule_for(None, None).unwrap()));
        assert_eq!(rule.name(), "GREENLIGHT_APPROVERS");
        assert_eq!(
            rule.approvers(),
            [
                Approver::User("U0ALICE01".into()),
                Approver::Group("S0SRE0001".into())
            ]
        );
        assert_eq!(rule.channel(), Some("C0DEPLOYS01"));
        assert_eq!(rule.quorum(), 1);
        assert_eq!(rule.gate_timeout(), Some(timeout.after));
        assert_eq!(rule.timeout_action(), Some(TimeoutAction::Continue));
        assert!(policy.has_approvers());
    }

    #[test]
    fn no_approvers_anywhere_means_nobody_may_decide() {
        for approvers in [None, Some(""), Some(" , ")] {
            let policy = Policy::from_settings(Some("  "), approvers, None, None).unwrap();
            let rule = policy.rule_for(None, None).unwrap();
            assert!(!rule.has_approvers());
            assert!(!policy.has_approvers());
        }
    }

    #[test]
    fn the_approvers_setting_is_checked_too() {
        assert_eq!(
            Policy::single_rule("U0ALICE01,bob", None, None)
                .unwrap_err()
                .to_string(),
            r#"GREENLIGHT_APPROVERS: "bob" is not a Slack user (U…/W…) or user-group (S…) ID"#
        );
        assert_eq!(
            Policy::single_rule("U0ALICE01, U0ALICE01", None, None)
                .unwrap_err()
                .to_string(),
            r#"GREENLIGHT_APPROVERS: "U0ALICE01" is listed twice"#
        );
        assert_eq!(
            Policy::single_rule("U0ALICE01", Some("deploys"), None)
                .unwrap_err()
                .to_string(),
            r#"default channel: "deploys" is not a Slack channel ID (C…/G…)"#
        );
        let too_long = GateTimeout {
            after: ECS_STAGE_LIMIT,
            action: TimeoutAction::Rollback,
        };
        assert_eq!(
            Policy::single_rule("U0ALICE01", None, Some(too_long))
                .unwrap_err()
                .to_string(),
            "gate timeout: 24h is not below ECS's limit of 24h for a lifecycle stage (the gate \
             must time out before ECS ends the stage, so that greenlight applies the timeout action)"
        );
    }

    #[test]
    fn a_policy_file_setting_wins_over_nothing_and_conflicts_with_approvers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let path = path.to_str().unwrap();
        let policy = Policy::from_settings(Some(path), None, Some("C0DEPLOYS01"), None).unwrap();
        assert_eq!(policy.rules().len(), 3);
        let policy = Policy::from_settings(Some(path), Some(""), None, None).unwrap();
        assert_eq!(policy.origin(), path);
        assert_eq!(
            Policy::from_settings(Some(path), Some("U0ALICE01"), None, None)
                .unwrap_err()
                .to_string(),
            "GREENLIGHT_POLICY_FILE: is set together with GREENLIGHT_APPROVERS; set one or the \
             other (the file lists approvers per rule)"
        );
    }

    #[test]
    fn slack_ids_are_recognised_by_prefix_and_shape() {
        assert_eq!(
            Approver::parse("U0ALICE01"),
            Some(Approver::User("U0ALICE01".into()))
        );
        assert_eq!(
            Approver::parse("W0ENTERPR1"),
            Some(Approver::User("W0ENTERPR1".into()))
        );
        assert_eq!(
            Approver::parse("S0SRE0001"),
            Some(Approver::Group("S0SRE0001".into()))
        );
        for bad in [
            "",
            "U",
            "U123",
            "bob",
            "@alice",
            "alice@example.com",
            "U0ALICE01 ",
            "u0alice01",
            "T0TEAM0001",
            "D0DIRECT01",
            "SRE",
            "U0alice01",
        ] {
            assert_eq!(Approver::parse(bad), None, "{bad}");
        }
        assert!(is_channel_id("C0DEPLOYS01"));
        assert!(is_channel_id("G0PRIVATE1"));
        assert!(!is_channel_id("D0DIRECT01"));
        assert!(!is_channel_id("#deploys"));
    }

    /// serde's own errors (types, unknown keys, the newtypes' checks) are placed wherever the
    /// value is: in `[defaults]`, in inline tables, in sub-tables, in lists of lists.
    #[test]
    fn serde_errors_name_their_place_in_toml_terms() {
        let rule = "[[rule]]\nname = \"x\"\napprovers = [\"U0ALICE01\"]\n";
        let keys = "name, clusters, services, channel, approvers, quorum, gate_timeout, \
                    timeout_action, continue_first_deployments, block_on_alarm, self_approval, ask_reason, \
                    remind_every, escalate_after, escalate_to";
        let cases: &[(String, String)] = &[
            (
                format!("defaults = 5\n{rule}"),
                "policy.toml: defaults: expected a table ([defaults]), found an integer".into(),
            ),
            (
                format!("[defaults]\ntimeout_action = 1\n{rule}"),
                "policy.toml: defaults: timeout_action: expected a string, found an integer".into(),
            ),
            (
                format!("[defaults]\ncontinue_first_deployments = 1.5\n{rule}"),
                "policy.toml: defaults: continue_first_deployments: expected true or false, found \
                 a float"
                    .into(),
            ),
            (
                "[[rule]]\nname = 5\napprovers = [\"U0ALICE01\"]\n".into(),
                "policy.toml: rule 1: name: expected a string, found an integer".into(),
            ),
            (
                format!("{rule}quorum = 1979-05-27\n"),
                r#"policy.toml: rule 1 ("x"): quorum: expected an integer, found a date-time"#.into(),
            ),
            (
                format!("{rule}clusters = [[\"prod\"]]\n"),
                r#"policy.toml: rule 1 ("x"): clusters[0]: expected a string, found a list"#.into(),
            ),
            (
                "rule = [{ name = \" x \", approvers = [\"U0ALICE01\", \"bob\"] }]\n".into(),
                r#"policy.toml: rule 1 ("x"): approvers[1]: "bob" is not a Slack user (U…/W…) or user-group (S…) ID"#.into(),
            ),
            (
                format!("{rule}[rule.extra]\nkey = 1\n"),
                format!(r#"policy.toml: rule 1 ("x"): extra: unknown key (expected one of: {keys})"#),
            ),
            (
                format!("{rule}\"odd`key\" = 1\n"),
                format!(r#"policy.toml: rule 1 ("x"): odd`key: unknown key (expected one of: {keys})"#),
            ),
            (
                format!("{rule}{rule}quorum = 0\n"),
                r#"policy.toml: rule 2 ("x"): quorum: must be at least 1, found 0"#.into(),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&error(text), expected, "for\n{text}");
        }
    }

    /// Rules are read in order, so the error reported is the earliest rule's, whichever kind.
    #[test]
    fn an_earlier_rule_is_reported_before_a_later_one() {
        let text = r#"
            [[rule]]
            name = "a"
            clusters = ["prod"]
            approvers = ["U0ALICE01"]
            quorum = 2

            [[rule]]
            name = "b"
            approvers = ["bob"]
            "#;
        assert_eq!(
            error(text),
            r#"policy.toml: rule 1 ("a"): quorum: 2 approvals can never be reached with the 1 user(s) listed and no user group (add approvers or lower the quorum)"#
        );
    }
}
