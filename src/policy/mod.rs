//! Who may decide: the policy.
//!
//! [`groups`] answers user-group membership, cached.

pub mod groups;

pub use groups::{CachedGroups, DEFAULT_GROUP_TTL, GroupDirectory, StaticGroups};
