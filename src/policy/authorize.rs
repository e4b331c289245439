//! Whether one person may take one decision on one gate.
//!
//! The bot's function URL is public, so a verified Slack signature only proves that a request came
//! from the workspace; whether its sender may move production traffic is decided here, and the
//! answer is no unless the policy positively says yes. There is no path from an error, a missing
//! rule or an empty approver list to "allowed".

use super::groups::GroupDirectory;
use super::rules::{Approver, Rule};
use crate::domain::gate::Decision;
use crate::ports::AdapterError;
use slack_morphism::prelude::{SlackChannelId, SlackUserId};

/// Permission granted, with what granted it, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The Slack user who acted.
    pub user: String,
    pub action: Decision,
    /// The approver entry that let them: themselves, or the user group they are in.
    pub via: Approver,
    /// The name of the rule that applied.
    pub rule: String,
}

/// Permission refused. `Display` is a short sentence for the ephemeral reply to the person;
/// [`Refusal::code`] is the stable name for the structured log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No rule of the policy covers this gate's cluster and service.
    #[error("nobody may approve this gate: no approver is configured")]
    NoRule,
    /// The rule that covers the gate lists nobody.
    #[error("nobody may approve this gate: no approver is configured")]
    NoApprovers { rule: String },
    /// The click or command came from another channel than the gate's card.
    #[error("this gate can only be decided in <#{expected}>")]
    WrongChannel { channel: String, expected: String },
    /// The user is neither listed nor in a listed user group.
    #[error("you are not an approver for this gate (policy rule {rule:?})")]
    NotAnApprover { user: String, rule: String },
    /// A user group could not be read, and no other entry let the user in.
    #[error(
        "I could not check your user-group membership with Slack just now, so nothing was \
         decided; please try again in a minute"
    )]
    GroupLookupFailed { group: String, error: AdapterError },
}

impl Refusal {
    /// The stable machine name of the refusal, for log lines and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoRule => "no_rule",
            Refusal::NoApprovers { .. } => "no_approvers",
            Refusal::WrongChannel { .. } => "wrong_channel",
            Refusal::NotAnApprover { .. } => "not_an_approver",
            Refusal::GroupLookupFailed { .. } => "group_lookup_failed",
        }
    }
}

/// Decides whether `user`, acting in `channel`, may take `action` on a gate governed by `rule`
/// whose card is in `expected_channel`.
///
/// In order: no rule, or a rule without approvers, refuses everyone; a click from any channel
/// but the card's is refused (an empty `expected_channel` matches nothing); a user listed by ID is
/// allowed; otherwise the listed user groups are asked in order and membership in any allows.
/// A group that cannot be read does not stop the others from being asked (membership proven by
/// one group is not weakened by another's outage), but if none lets the user in, the refusal is
/// [`Refusal::GroupLookupFailed`], not [`Refusal::NotAnApprover`]: the honest answer is "could
/// not tell", and it is still no.
///
/// Authorisation is per person; counting approvals towards [`Rule::quorum`] (see
/// [`Rule::approvals_needed`]) is the caller's job.
pub async fn authorize(
    rule: Option<&Rule>,
    user: &SlackUserId,
    channel: &SlackChannelId,
    expected_channel: &SlackChannelId,
    action: Decision,
    groups: &dyn GroupDirectory,
) -> Result<Authorized, Refusal> {
    let (user, channel, expected_channel) = (
        user.0.as_str(),
        channel.0.as_str(),
        expected_channel.0.as_str(),
    );
    let Some(rule) = rule else {
        return Err(Refusal::NoRule);
    };
    if !rule.has_approvers() {
        return Err(Refusal::NoApprovers {
            rule: rule.name().to_owned(),
        });
    }
    if expected_channel.is_empty() || channel != expected_channel {
        return Err(Refusal::WrongChannel {
            channel: channel.to_owned(),
            expected: expected_channel.to_owned(),
        });
    }
    let allowed = |via: &Approver| Authorized {
        user: user.to_owned(),
        action,
        via: via.clone(),
        rule: rule.name().to_owned(),
    };
    if let Some(listed) = rule
        .approvers()
        .iter()
        .find(|approver| matches!(approver, Approver::User(id) if id == user))
    {
        return Ok(allowed(listed));
    }
    let mut failure: Option<(String, AdapterError)> = None;
    for approver in rule.approvers() {
        let Approver::Group(group) = approver else {
            continue;
        };
        match groups.members(group).await {
            Ok(members) if members.iter().any(|member| member == user) => {
                return Ok(allowed(approver));
            }
            Ok(_) => {}
            Err(error) => {
                failure.get_or_insert((group.clone(), error));
            }
        }
    }
    match failure {
        Some((group, error)) => Err(Refusal::GroupLookupFailed { group, error }),
        None => Err(Refusal::NotAnApprover {
            user: user.to_owned(),
            rule: rule.name().to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::policy::groups::StaticGroups;
    use crate::policy::rules::Policy;

    const CARD_CHANNEL: &str = "C0DEPLOYS01";

    /// One rule: Alice by name, and the SRE and on-call groups.
    fn policy() -> Policy {
        Policy::parse(
            "policy.toml",
            r#"
            [[rule]]
            name = "prod"
            clusters = ["prod-*"]
            approvers = ["U0ALICE01", "S0SRE0001", "S0ONCALL1"]
            "#,
        )
        .unwrap()
    }

    fn directory() -> StaticGroups {
        StaticGroups::new()
            .with_group("S0SRE0001", ["U0BOB0002"])
            .with_group("S0ONCALL1", ["U0CAROL03"])
    }

    /// Answers from `inner`, except that `broken` fails; counts every call.
    struct Flaky {
        inner: StaticGroups,
        broken: &'static str,
        calls: AtomicUsize,
    }

    impl Flaky {
        fn new(broken: &'static str) -> Flaky {
            Flaky {
                inner: directory(),
                broken,
                calls: AtomicUsize::new(0),
            }
        }
    }

    #[async_trait]
    impl GroupDirectory for Flaky {
        async fn members(&self, group_id: &str) -> Result<Vec<String>, AdapterError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if group_id == self.broken {
                return Err(AdapterError::retryable(
                    "slack:usergroups.users.list",
                    "ratelimited",
                ));
            }
            self.inner.members(group_id).await
        }
    }

    async fn check(
        policy: &Policy,
        user: &str,
        channel: &str,
        groups: &dyn GroupDirectory,
    ) -> Result<Authorized, Refusal> {
        let rule = policy.rule_for(Some("prod-eu"), Some("web"));
        authorize(
            rule,
            &SlackUserId::new(user.into()),
            &SlackChannelId::new(channel.into()),
            &SlackChannelId::new(CARD_CHANNEL.into()),
            Decision::Approved,
            groups,
        )
        .await
    }

    #[tokio::test]
    async fn a_listed_user_is_allowed_without_asking_about_groups() {
        let groups = Flaky::new("none");
        let allowed = check(&policy(), "U0ALICE01", CARD_CHANNEL, &groups)
            .await
            .unwrap();
        assert_eq!(
            allowed,
            Authorized {
                user: "U0ALICE01".into(),
                action: Decision::Approved,
                via: Approver::User("U0ALICE01".into()),
                rule: "prod".into(),
            }
        );
        assert_eq!(groups.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_member_of_a_listed_group_is_allowed_and_the_group_is_named() {
        let policy = policy();
        let rule = policy.rule_for(Some("prod-eu"), None);
        let allowed = authorize(
            rule,
            &SlackUserId::new("U0CAROL03".into()),
            &SlackChannelId::new(CARD_CHANNEL.into()),
            &SlackChannelId::new(CARD_CHANNEL.into()),
            Decision::Rejected,
            &directory(),
        )
        .await
        .unwrap();
        assert_eq!(allowed.via, Approver::Group("S0ONCALL1".into()));
        assert_eq!(allowed.action, Decision::Rejected);
        assert_eq!(allowed.user, "U0CAROL03");
    }

    #[tokio::test]
    async fn someone_else_is_not_an_approver() {
        let refusal = check(&policy(), "U0MALLORY", CARD_CHANNEL, &directory())
            .await
            .unwrap_err();
        assert_eq!(
            refusal,
            Refusal::NotAnApprover {
                user: "U0MALLORY".into(),
                rule: "prod".into()
            }
        );
        assert_eq!(refusal.code(), "not_an_approver");
        assert_eq!(
            refusal.to_string(),
            r#"you are not an approver for this gate (policy rule "prod")"#
        );
    }

    #[tokio::test]
    async fn no_rule_means_nobody() {
        let policy = policy();
        // A recipe gate (no cluster, no service) matches no rule of this policy.
        let rule = policy.rule_for(None, None);
        let refusal = authorize(
            rule,
            &SlackUserId::new("U0ALICE01".into()),
            &SlackChannelId::new(CARD_CHANNEL.into()),
            &SlackChannelId::new(CARD_CHANNEL.into()),
            Decision::Rejected,
            &directory(),
        )
        .await
        .unwrap_err();
        assert_eq!(refusal, Refusal::NoRule);
        assert_eq!(refusal.code(), "no_rule");
        assert_eq!(
            refusal.to_string(),
            "nobody may approve this gate: no approver is configured"
        );
    }

    #[tokio::test]
    async fn a_rule_without_approvers_means_nobody() {
        let policy = Policy::single_rule("", Some(CARD_CHANNEL), None).unwrap();
        for user in ["U0ALICE01", ""] {
            let refusal = check(&policy, user, CARD_CHANNEL, &directory())
                .await
                .unwrap_err();
            assert_eq!(
                refusal,
                Refusal::NoApprovers {
                    rule: "GREENLIGHT_APPROVERS".into()
                }
            );
            assert_eq!(refusal.code(), "no_approvers");
            assert_eq!(
                refusal.to_string(),
                "nobody may approve this gate: no approver is configured"
            );
        }
    }

    #[tokio::test]
    async fn an_approver_in_another_channel_is_refused_before_any_lookup() {
        let groups = Flaky::new("none");
        for user in ["U0ALICE01", "U0BOB0002"] {
            let refusal = check(&policy(), user, "C0ELSEWHER", &groups)
                .await
                .unwrap_err();
            assert_eq!(
                refusal,
                Refusal::WrongChannel {
                    channel: "C0ELSEWHER".into(),
                    expected: CARD_CHANNEL.into()
                }
            );
            assert_eq!(refusal.code(), "wrong_channel");
            assert_eq!(
                refusal.to_string(),
                "this gate can only be decided in <#C0DEPLOYS01>"
            );
        }
        assert_eq!(groups.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_unknown_card_channel_matches_nothing() {
        let policy = policy();
        let rule = policy.rule_for(Some("prod-eu"), None);
        let refusal = authorize(
            rule,
            &SlackUserId::new("U0ALICE01".into()),
            &SlackChannelId::new(String::new()),
            &SlackChannelId::new(String::new()),
            Decision::Approved,
            &directory(),
        )
        .await
        .unwrap_err();
        assert_eq!(refusal.code(), "wrong_channel");
    }

    #[tokio::test]
    async fn a_failed_group_lookup_refuses_and_says_so() {
        // Bob is only in the SRE group, which cannot be read: refused, as a lookup failure.
        let groups = Flaky::new("S0SRE0001");
        let refusal = check(&policy(), "U0BOB0002", CARD_CHANNEL, &groups)
            .await
            .unwrap_err();
        assert_eq!(
            refusal,
            Refusal::GroupLookupFailed {
                group: "S0SRE0001".into(),
                error: AdapterError::retryable("slack:usergroups.users.list", "ratelimited"),
            }
        );
        assert_eq!(refusal.code(), "group_lookup_failed");
        assert!(!refusal.to_string().contains("ratelimited"));
        // Someone in no group at all is refused the same way: it could not be told.
        let refusal = check(&policy(), "U0MALLORY", CARD_CHANNEL, &groups)
            .await
            .unwrap_err();
        assert_eq!(refusal.code(), "group_lookup_failed");
    }

    #[tokio::test]
    async fn membership_proven_by_another_group_survives_one_groups_outage() {
        let groups = Flaky::new("S0SRE0001");
        let allowed = check(&policy(), "U0CAROL03", CARD_CHANNEL, &groups)
            .await
            .unwrap();
        assert_eq!(allowed.via, Approver::Group("S0ONCALL1".into()));
        assert_eq!(groups.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn refusal_codes_are_distinct_and_stable() {
        let error = AdapterError::permanent("x", "y");
        let codes = [
            Refusal::NoRule.code(),
            Refusal::NoApprovers { rule: "r".into() }.code(),
            Refusal::WrongChannel {
                channel: "a".into(),
                expected: "b".into(),
            }
            .code(),
            Refusal::NotAnApprover {
                user: "u".into(),
                rule: "r".into(),
            }
            .code(),
            Refusal::GroupLookupFailed {
                group: "g".into(),
                error,
            }
            .code(),
        ];
        assert_eq!(
            codes,
            [
                "no_rule",
                "no_approvers",
                "wrong_channel",
                "not_an_approver",
                "group_lookup_failed"
            ]
        );
    }

    #[test]
    fn a_decision_is_logged_by_the_button_that_asks_for_it() {
        assert_eq!(Decision::Approved.action_word(), "reroute");
        assert_eq!(Decision::Rejected.action_word(), "rollback");
        assert_eq!(Decision::Approved.parameter_value(), "approved");
    }
}
