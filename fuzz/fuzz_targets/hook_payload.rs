//! What ECS invokes the lifecycle hook with: the bytes are read as JSON (as the Lambda runtime
//! does) and handed to `Hook::handle`, with in-memory SSM and SNS, an ECS that knows a previous
//! revision, every stage gated and no polling. Whatever the hook publishes must be what the bot
//! accepts: a gate request under the decision prefix that binds to its deployment, with the gate
//! id derived from deployment and stage, or a follow-up.
#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use greenlight::config::HookSettings;
use greenlight::domain::gate::GateId;
use greenlight::domain::lifecycle::HookInvocation;
use greenlight::domain::notification::{TopicMessage, classify};
use greenlight::hook::Hook;
use greenlight::memory::{MemoryParameterStore, MemoryTopic};
use greenlight::ports::{AdapterError, DeploymentLookup, DeploymentState};
use greenlight_fuzz::{PREFIX, block_on, prefix};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// ECS as the hook sees it: every deployment replaces a revision, so every gated stage gates.
struct KnownDeployments;

#[async_trait]
impl DeploymentLookup for KnownDeployments {
    async fn describe(&self, arn: &str) -> Result<Option<DeploymentState>, AdapterError> {
        Ok(Some(DeploymentState {
            arn: arn.to_owned(),
            source_revisions: vec![
                "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/1".to_owned(),
            ],
            ..DeploymentState::default()
        }))
    }
}

fn settings() -> &'static HookSettings {
    static SETTINGS: OnceLock<HookSettings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let env: HashMap<&str, &str> = HashMap::from([
            (
                "GREENLIGHT_SNS_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:123456789012:greenlight",
            ),
            (
                "GREENLIGHT_GATED_STAGES",
                "RECONCILE_SERVICE,PRE_SCALE_UP,POST_SCALE_UP,TEST_TRAFFIC_SHIFT,\
                 POST_TEST_TRAFFIC_SHIFT,PRE_PRODUCTION_TRAFFIC_SHIFT,PRODUCTION_TRAFFIC_SHIFT,\
                 POST_PRODUCTION_TRAFFIC_SHIFT",
            ),
            ("GREENLIGHT_DECISION_PREFIX", PREFIX),
            ("GREENLIGHT_POLL_WINDOW", "0"),
            ("GREENLIGHT_TEST_URL", "https://green.example.com/"),
        ]);
        HookSettings::from_env(&env).expect("valid hook settings")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let parsed = HookInvocation::parse(&payload);
    let topic = Arc::new(MemoryTopic::new());
    let hook = Hook::new(
        settings().clone(),
        Arc::new(MemoryParameterStore::new()),
        topic.clone(),
        Arc::new(KnownDeployments),
    );
    let response = block_on(hook.handle(&payload, None));
    // The response goes back to ECS as JSON.
    serde_json::to_string(&response).expect("the response serialises");

    let prefix = prefix();
    for message in topic.messages() {
        let invocation = parsed.as_ref().expect("only a valid payload publishes");
        match classify(&message) {
            Ok(TopicMessage::GateRequest(request)) => {
                assert!(request.parameter_name.is_under(&prefix));
                let bound = request
                    .bind(&prefix)
                    .unwrap_or_else(|why| panic!("the bot refuses the hook's request: {why}"));
                assert_eq!(
                    bound.gate_id,
                    Some(GateId::for_hook(&invocation.deployment, invocation.stage))
                );
            }
            Ok(TopicMessage::FollowUp(_)) => {}
            other => panic!("the hook published something the bot misreads: {other:?}"),
        }
    }
});
