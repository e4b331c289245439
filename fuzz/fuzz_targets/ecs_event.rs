//! An EventBridge event about ECS (the `aws_lambda_events` envelope): `HookEvent::from_event`,
//! `DeploymentEvent::from_event`, the service in `resources`, the deployment phase, and the card
//! of the pause a hook event opens.
#![no_main]

use greenlight::domain::notification::EcsEvent;
use greenlight_fuzz::follow_ecs_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<EcsEvent>(data) {
        follow_ecs_event(&event);
    }
});
