//! What the fuzz targets share: a runtime to drive greenlight's async entry points, SNS
//! verifiers whose certificates are pinned in memory (nothing is ever fetched), and the checks
//! each target runs on whatever a parser accepted: a gate request binds under the decision prefix
//! with the gate id derived from its deployment, and every card drawn from it passes the same
//! Block Kit check the integration tests' Slack double runs.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use greenlight::card::{AuditEvent, CardView, gate_card, thread_note};
use greenlight::demo::sns::NoFetch;
use greenlight::domain::gate::{Decision, GateId, ParameterName, TimeoutAction};
use greenlight::domain::notification::{EcsEvent, TopicMessage, classify};
use greenlight::domain::progress::{
    DeploymentEvent, DeploymentPhase, DeploymentProgress, HookEvent, service_in_resources,
};
use greenlight::domain::record::{GateRecord, GateStatus};
use greenlight::sns::{CertificateStore, SnsVerifier};

/// The Block Kit checker of the integration tests, compiled in here too, so the fuzzer holds
/// every card to exactly what the Slack double (and Slack) accepts.
#[path = "../../tests/it/support/block_kit.rs"]
mod block_kit;

/// The decision prefix the targets bind gate requests under (greenlight's default).
pub const PREFIX: &str = "/greenlight/decisions";

pub fn prefix() -> ParameterName {
    ParameterName::new(PREFIX).expect("the default prefix is a parameter name")
}

/// Runs a future to completion on one current-thread runtime per fuzzing thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// A certificate store with nothing but pins: the rehearsal's fetcher fails every fetch, so
/// nothing reaches the network.
pub fn pinned_store() -> Arc<CertificateStore> {
    Arc::new(CertificateStore::new(Arc::new(NoFetch)))
}

/// The topics of the genuine AWS messages in `tests/fixtures/sns`.
pub const FIXTURE_TOPICS: [&str; 3] = [
    "arn:aws:sns:us-east-1:810605503585:just_testing",
    "arn:aws:sns:us-east-2:295079676684:publish-and-verify-892f85fe-4836-424d-8188-ab85bef0f362",
    "arn:aws:sns:us-east-2:295079676684:publish-and-verify-62674b1d-4295-426b-88e7-5fb75652a04e",
];

/// A verifier that trusts the two certificates of `tests/fixtures/sns` (pinned under their file
/// names), the fixtures' topics, and any age: the fixtures were signed years ago by certificates
/// long expired, and a fuzzer mutating them should get as far as the signature check.
pub fn fixture_verifier() -> &'static SnsVerifier {
    static VERIFIER: OnceLock<SnsVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let store = pinned_store();
        for file in [
            "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            "SimpleNotificationService-bb750dd426d95ee9390147a5624348ee.pem",
        ] {
            let pem = std::fs::read(format!(
                "{}/../tests/fixtures/sns/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("the fixture certificate");
            store
                .pin(file, &pem)
                .expect("the fixture certificate parses");
        }
        SnsVerifier::new(
            FIXTURE_TOPICS
                .iter()
                .map(|topic| (*topic).to_owned())
                .collect(),
            Duration::MAX,
            store,
        )
    })
}

/// "Now" for the fixture verifier: after every fixture, so that none is from the future.
pub fn fixture_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

/// What happens to an SNS `Message` once its envelope verified: `classify`, then for each kind of
/// message what the bot reads from it, with the invariants that must hold for anything accepted.
pub fn follow_message(message: &str, message_id: &str) {
    let Ok(classified) = classify(message) else {
        return;
    };
    match classified {
        TopicMessage::GateRequest(request) => follow_gate_request(*request, message_id),
        TopicMessage::FollowUp(follow_up) => {
            assert!(follow_up.gate_id.as_str().starts_with("gl-"));
        }
        TopicMessage::EcsEvent(event) => follow_ecs_event(&event),
        TopicMessage::Plain(text) => {
            let _ = text.len();
        }
    }
}

fn follow_gate_request(request: greenlight::domain::notification::GateRequest, message_id: &str) {
    let prefix = prefix();
    if !request.parameter_name.is_under(&prefix) {
        return;
    }
    let Ok(bound) = request.bind(&prefix) else {
        return;
    };
    assert!(bound.parameter_name.is_under(&prefix));
    if let Some(arn) = &bound.service_deployment_arn {
        let deployment = arn.parse().expect("bind parsed this ARN");
        let stage = bound.lifecycle_stage.expect("bind requires a stage");
        assert_eq!(bound.gate_id, Some(GateId::for_hook(&deployment, stage)));
    } else {
        assert!(bound.cluster.is_none() && bound.service.is_none() && bound.gate_id.is_none());
    }
    let mut record = GateRecord::from_request(&bound);
    if bound.gate_id.is_none() {
        record.gate_id = GateId::for_parameter_message(&bound.parameter_name, message_id);
    }
    check_cards(record);
}

/// Reads an ECS event the way the bot does, and draws the card of a pause it opens.
pub fn follow_ecs_event(event: &EcsEvent) {
    let _ = service_in_resources(event);
    if let Ok(deployment) = DeploymentEvent::from_event(event) {
        let phase = DeploymentPhase::from_event(
            &deployment.name,
            deployment.reason.as_deref(),
            Some(DeploymentPhase::RollingBack),
        );
        if let Some(phase) = phase {
            let progress = DeploymentProgress::observed(
                None,
                phase,
                deployment.reason.as_deref(),
                deployment.updated_at.unwrap_or_else(fixture_now),
            );
            let _ = progress.status_line(fixture_now());
            let _ = progress.note(fixture_now());
        }
    }
    if let Ok(hook) = HookEvent::from_event(event) {
        let gate_id = GateId::for_pause(&hook.deployment.to_string(), &hook.hook_id);
        assert_eq!(
            gate_id,
            GateId::for_pause(&hook.deployment.to_string(), &hook.hook_id)
        );
        let record = greenlight::bot::pause::pause_record(&hook, gate_id, None, &[]);
        check_cards(record);
    }
}

/// Draws the record's card open (with and without approvers, with a quorum and votes) and in every
/// closed state, and its thread notes, and checks each against Block Kit.
pub fn check_cards(record: GateRecord) {
    let at = fixture_now();
    let views = [
        CardView {
            votes: Vec::new(),
            quorum: 1,
            approvers_configured: true,
            ask_reason: greenlight::policy::AskReason::Never,
            status_line: None,
            offer_rollback_now: false,
        },
        CardView {
            votes: vec!["U0ALICE01".to_owned(), "not a user <&>".to_owned()],
            quorum: 3,
            approvers_configured: false,
            ask_reason: greenlight::policy::AskReason::Always,
            status_line: Some(record.title.clone()),
            offer_rollback_now: true,
        },
    ];
    let statuses = [
        GateStatus::Open,
        GateStatus::Decided {
            decision: Decision::Approved,
            by: "U0ALICE01".to_owned(),
            at,
            reason: None,
        },
        GateStatus::Decided {
            decision: Decision::Rejected,
            by: record.title.clone(),
            at,
            reason: Some(record.description.clone()),
        },
        GateStatus::TimedOut {
            action: TimeoutAction::Continue,
            at,
        },
        GateStatus::ResolvedElsewhere {
            outcome: record.description.clone(),
            at,
        },
    ];
    for status in statuses {
        let record = GateRecord {
            status,
            ..record.clone()
        };
        for view in &views {
            let card = gate_card(&record, view);
            let blocks = serde_json::to_value(&card.blocks).expect("blocks serialise");
            if let Err(problem) = block_kit::check_blocks(&blocks) {
                panic!("Slack would refuse this card: {problem}\n{blocks:#}");
            }
            assert!(!card.text.trim().is_empty(), "a card without fallback text");
            assert!(card.text.chars().count() <= 3000);
        }
        if let Some(event) = AuditEvent::from_status(&record.status) {
            let note = thread_note(&record, &event);
            assert!(!note.is_empty() && note.chars().count() <= 3000);
        }
    }
}
