//! The policy file (`Policy::parse`): TOML, every rule validated; an accepted policy answers
//! which rule judges a gate, and each rule's timeout, quorum and label.
#![no_main]

use std::time::Duration;

use greenlight::domain::gate::{Decision, GateTimeout, TimeoutAction};
use greenlight::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = match Policy::parse("fuzz.toml", text) {
        Ok(policy) => policy,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let fallback = GateTimeout {
        after: Duration::from_secs(60),
        action: TimeoutAction::Rollback,
    };
    for (cluster, service) in [
        (Some("prod-eu"), Some("payments-api")),
        (Some("staging"), Some("web")),
        (None, None),
    ] {
        if let Some(rule) = policy.rule_for(cluster, service) {
            assert!(rule.matches(cluster, service));
            let timeout = rule.timeout_or(fallback);
            assert!(timeout.after < greenlight::domain::gate::ECS_STAGE_LIMIT);
            assert!(rule.approvals_needed(Decision::Approved) >= 1);
            assert_eq!(rule.approvals_needed(Decision::Rejected), 1);
            let _ = (rule.label(), rule.channel(), rule.has_approvers());
        }
    }
    let _ = policy.has_approvers();
});
