//! Who may decide: the policy.
//!
//! A gate is a question about production traffic, so the answer must come from the right people.
//! [`rules`] reads the policy (a TOML file, or a single rule from `GREENLIGHT_APPROVERS`) and picks
//! the rule for a deployment; [`authorize`](mod@authorize) decides whether one person may act on a
//! gate under that rule; [`groups`] answers user-group membership, cached.
//!
//! Everything here fails closed: no policy, no matching rule, no approvers, a click from the wrong
//! channel, or a membership lookup that failed all mean "no".

pub mod authorize;
pub mod groups;
pub mod rules;

pub use authorize::{Authorized, Refusal, authorize};
pub use groups::{CachedGroups, DEFAULT_GROUP_TTL, GroupDirectory, StaticGroups};
pub use rules::{
    APPROVERS_ENV, Approver, AskReason, Escalation, POLICY_FILE_ENV, Policy, PolicyError, Rule,
};
