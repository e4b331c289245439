//! Property tests: what must hold whatever the input, checked on a few hundred generated inputs
//! per property on every `cargo test` (the fuzz targets in `fuzz/` search the same parsers far
//! longer; see docs/reliability.md).
//!
//! - Every parser of outside input answers, and never panics, on arbitrary bytes and on inputs
//!   shaped like the real thing with random fields: SNS envelopes, gate-topic messages, ECS events,
//!   hook payloads, Slack interaction and command bodies, Slack signatures, policy files.
//! - A gate id is the same for the same deployment and stage (or pause), and well formed.
//! - A decision parameter is always under the configured prefix, and a gate request only binds
//!   to the parameter derived from its deployment.
//! - Every card, in every state, and every thread note passes the Block Kit check the Slack
//!   double runs, whatever the names and texts (unicode, very long, full of mrkdwn).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use greenlight::bot::commands::SlashRequest;
use greenlight::bot::edge::extract::SlackBody;
use greenlight::bot::interactions::Payload;
use greenlight::bot::pause::pause_record;
use greenlight::card::{AuditEvent, CardView, gate_card, thread_note};
use greenlight::demo::sns::NoFetch;
use greenlight::domain::deployment::ServiceDeploymentArn;
use greenlight::domain::evidence::{
    AlarmReading, ContainerImage, Deployer, Evidence, ProbeResult, Reading, RevisionChange,
    TaskCount, TaskDefinitionView,
};
use greenlight::domain::gate::{
    Decision, GateId, ParameterName, TimeoutAction, decision_parameter,
};
use greenlight::domain::lifecycle::HookInvocation;
use greenlight::domain::notification::{EcsEvent, GateRequest, TopicMessage, classify};
use greenlight::domain::progress::{
    DeploymentEvent, DeploymentPhase, DeploymentProgress, HookEvent, TrafficStep,
};
use greenlight::domain::record::{CardLocation, GateRecord, GateStatus, Resolution};
use greenlight::domain::stage::LifecycleStage;
use greenlight::policy::AskReason;
use greenlight::policy::Policy;
use greenlight::slack::SlackRequestVerifier;
use greenlight::slack::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers};
use greenlight::sns::{CertificateStore, SnsVerifier};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

use crate::support::block_kit::check_blocks;

/// Cases per property: enough to find what a property test finds, few enough that the whole
/// suite stays fast (the fuzz targets do the long searches).
fn config() -> Config {
    Config {
        cases: 256,
        // Failures are kept as named regression tests, not as files next to the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Text as it may reach a card: plain, unicode, mrkdwn and HTML-ish control characters,
/// whitespace only, or very long.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ]{0,30}",
        3 => any::<String>(),
        3 => "[*_~`<>&|@!#:/\\\\. \n\t-]{0,40}",
        1 => Just(String::new()),
        1 => "[ \t\n\u{00a0}\u{200b}]{1,5}",
        1 => "[😀🚀éß漢字\u{202e}\u{0301}]{1,50}",
        1 => proptest::collection::vec(any::<char>(), 2_000..6_000)
            .prop_map(|chars| chars.into_iter().collect::<String>()),
        1 => "[<&>]{3000,4000}",
    ]
    .boxed()
}

fn maybe<T: std::fmt::Debug + Clone>(
    strategy: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(strategy)
}

/// A name ECS allows for a cluster, service or deployment id: usually short, up to 255.
fn ecs_name() -> BoxedStrategy<String> {
    prop_oneof![
        6 => "[A-Za-z0-9_-]{1,16}",
        1 => "[A-Za-z0-9_-]{200,255}",
    ]
    .boxed()
}

/// Any region the ARN parser accepts: real-looking ones, odd ones, and very long ones.
fn region() -> BoxedStrategy<String> {
    prop_oneof![
        6 => "(eu|us|ap|sa|cn)-(west|east|north|south|central|northeast)-[1-9]",
        1 => "[a-z0-9-]{1,64}",
        1 => "[a-z0-9-]{1000,1600}",
    ]
    .boxed()
}

fn arn() -> BoxedStrategy<ServiceDeploymentArn> {
    (
        prop_oneof![Just("aws"), Just("aws-cn"), Just("aws-us-gov")],
        region(),
        "[0-9]{12}",
        ecs_name(),
        ecs_name(),
        ecs_name(),
    )
        .prop_map(|(partition, region, account, cluster, service, id)| {
            format!(
                "arn:{partition}:ecs:{region}:{account}:service-deployment/{cluster}/{service}/{id}"
            )
            .parse()
            .expect("generated ARNs are valid")
        })
        .boxed()
}

fn stage() -> BoxedStrategy<LifecycleStage> {
    proptest::sample::select(LifecycleStage::ALL.to_vec()).boxed()
}

/// A decision prefix greenlight would start with: a valid SSM name, one to four levels.
fn prefix() -> BoxedStrategy<ParameterName> {
    proptest::collection::vec("[a-zA-Z0-9_.-]{1,24}", 1..5)
        .prop_filter_map("a valid parameter name", |levels| {
            ParameterName::new(format!("/{}", levels.join("/"))).ok()
        })
        .boxed()
}

fn instant() -> BoxedStrategy<DateTime<Utc>> {
    // 2001 to 2100, to the second.
    (978_307_200i64..4_102_444_800)
        .prop_map(|seconds| Utc.timestamp_opt(seconds, 0).unwrap())
        .boxed()
}

fn gate_id() -> BoxedStrategy<GateId> {
    text().prop_map(|key| GateId::derive(&key)).boxed()
}

fn decision() -> BoxedStrategy<Decision> {
    prop_oneof![Just(Decision::Approved), Just(Decision::Rejected)].boxed()
}

fn timeout_action() -> BoxedStrategy<TimeoutAction> {
    prop_oneof![Just(TimeoutAction::Rollback), Just(TimeoutAction::Continue)].boxed()
}

fn status() -> BoxedStrategy<GateStatus> {
    prop_oneof![
        Just(GateStatus::Open),
        (decision(), text(), instant(), maybe(text())).prop_map(|(decision, by, at, reason)| {
            GateStatus::Decided {
                decision,
                by,
                at,
                reason,
            }
        }),
        (timeout_action(), instant()).prop_map(|(action, at)| GateStatus::TimedOut { action, at }),
        (text(), instant()).prop_map(|(outcome, at)| GateStatus::ResolvedElsewhere { outcome, at }),
    ]
    .boxed()
}

fn phase() -> BoxedStrategy<DeploymentPhase> {
    proptest::sample::select(vec![
        DeploymentPhase::InProgress,
        DeploymentPhase::RollingBack,
        DeploymentPhase::Completed,
        DeploymentPhase::RolledBack,
        DeploymentPhase::Failed,
        DeploymentPhase::Stopped,
    ])
    .boxed()
}

fn progress() -> BoxedStrategy<DeploymentProgress> {
    (
        phase(),
        maybe(text()),
        maybe(text()),
        instant(),
        maybe(instant()),
        maybe(text()),
        maybe(instant()),
        maybe(text()),
    )
        .prop_map(
            |(phase, reason, stage, updated_at, bake_ends_at, by, by_at, unconfirmed)| {
                DeploymentProgress {
                    phase,
                    reason,
                    stage,
                    updated_at,
                    bake_ends_at,
                    rollback_requested_by: by,
                    rollback_requested_at: by_at,
                    unconfirmed,
                }
            },
        )
        .boxed()
}

fn step() -> BoxedStrategy<TrafficStep> {
    (
        any::<u32>(),
        maybe(any::<u32>()),
        maybe(any::<f64>()),
        maybe(any::<f64>()),
    )
        .prop_map(|(number, of, green_percent, next_percent)| TrafficStep {
            number,
            of,
            green_percent,
            next_percent,
        })
        .boxed()
}

/// A revision ARN, or any text where one should be.
fn revision() -> BoxedStrategy<String> {
    prop_oneof![
        (ecs_name(), ecs_name(), "[0-9]{1,20}").prop_map(|(cluster, service, n)| format!(
            "arn:aws:ecs:eu-west-1:123456789012:service-revision/{cluster}/{service}/{n}"
        )),
        text(),
    ]
    .boxed()
}

/// A URL from a request: https (sometimes very long), other schemes, or junk.
fn url() -> BoxedStrategy<String> {
    prop_oneof![
        "https://[a-z]{1,12}\\.example\\.com/[a-zA-Z0-9/?=&|<>%-]{0,40}",
        "https://[a-z]{1,3}\\.example\\.com/[a-z]{3000,3500}",
        "http://[a-z]{1,12}\\.example\\.com/",
        "javascript:[a-z()]{1,10}",
        text(),
    ]
    .boxed()
}

/// Every field of a gate record, as the store could hold it: from a greenlight hook, a recipe
/// hook or a pause, in any state.
fn reading<T: std::fmt::Debug + Clone + 'static>(
    value: BoxedStrategy<T>,
) -> BoxedStrategy<Reading<T>> {
    prop_oneof![
        value.prop_map(Reading::Read),
        text().prop_map(Reading::Unreadable)
    ]
    .boxed()
}

fn task_definition_view() -> BoxedStrategy<TaskDefinitionView> {
    let image =
        (text(), text(), maybe(text())).prop_map(|(container, image, digest)| ContainerImage {
            container,
            image,
            digest,
        });
    (text(), proptest::collection::vec(image, 0..4))
        .prop_map(|(name, images)| TaskDefinitionView { name, images })
        .boxed()
}

/// What the bot read for a card, with texts from anywhere (alarm and image names are not ours).
fn evidence() -> BoxedStrategy<Evidence> {
    let change = (
        task_definition_view(),
        proptest::collection::vec(task_definition_view(), 0..3),
    )
        .prop_map(|(target, sources)| RevisionChange { target, sources })
        .boxed();
    let alarm = (
        text(),
        prop_oneof![
            Just("OK".to_owned()),
            Just("ALARM".to_owned()),
            Just("INSUFFICIENT_DATA".to_owned()),
            text()
        ],
        maybe(instant()),
    )
        .prop_map(|(name, state, since)| AlarmReading { name, state, since });
    let alarms = proptest::collection::vec(alarm, 0..12).boxed();
    (
        instant(),
        maybe(reading(change)),
        maybe(reading(alarms)),
        maybe(
            (any::<u32>(), any::<u32>())
                .prop_map(|(running, desired)| TaskCount { running, desired }),
        ),
    )
        .prop_map(|(read_at, revisions, alarms, tasks)| Evidence {
            read_at,
            revisions,
            alarms,
            tasks,
        })
        .boxed()
}

fn deployer() -> BoxedStrategy<Deployer> {
    prop_oneof![
        text().prop_map(Deployer::SlackUser),
        text().prop_map(Deployer::Email)
    ]
    .boxed()
}

fn probe() -> BoxedStrategy<ProbeResult> {
    (
        instant(),
        proptest::collection::vec(maybe(any::<u16>()), 0..8),
        maybe(any::<u64>()),
    )
        .prop_map(|(at, statuses, median_ms)| ProbeResult {
            at,
            statuses,
            median_ms,
        })
        .boxed()
}

fn record() -> BoxedStrategy<GateRecord> {
    let identity = (
        gate_id(),
        prop_oneof![
            prefix().prop_map(|name| Resolution::Parameter { name }),
            text().prop_map(|hook_id| Resolution::PauseHook { hook_id }),
        ],
        text(),
        text(),
        maybe(region()),
        maybe(arn()),
        maybe(stage()),
        status(),
    );
    let details = (
        maybe(revision()),
        proptest::collection::vec(revision(), 0..4),
        maybe(instant()),
        maybe(instant()),
        maybe(timeout_action()),
        maybe(url()),
        maybe(url()),
        maybe(step()),
        maybe(progress()),
        any::<bool>(),
    );
    let judgement = (maybe(evidence()), maybe(deployer()), maybe(probe()));
    (identity, details, judgement)
        .prop_map(
            |(
                (gate_id, resolution, title, description, region, deployment, stage, status),
                (
                    target,
                    sources,
                    requested_at,
                    deadline,
                    timeout_action,
                    console_url,
                    test_url,
                    step,
                    progress,
                    carded,
                ),
                (evidence, deployer, probe),
            )| {
                let console_url = console_url
                    .or_else(|| deployment.as_ref().map(ServiceDeploymentArn::console_url));
                GateRecord {
                    description,
                    region,
                    cluster: deployment.as_ref().map(|arn| arn.cluster().to_owned()),
                    service: deployment.as_ref().map(|arn| arn.service().to_owned()),
                    service_deployment_arn: deployment.as_ref().map(ToString::to_string),
                    stage,
                    target_revision: target,
                    source_revisions: sources,
                    requested_at,
                    deadline,
                    timeout_action,
                    console_url,
                    test_url,
                    card: carded.then(|| CardLocation {
                        channel: "C0DEPLOYS01".to_owned(),
                        ts: "1718000000.000100".to_owned(),
                        thread_ts: None,
                    }),
                    status,
                    step,
                    deployment: progress,
                    evidence,
                    deployer,
                    probe,
                    ..GateRecord::new(gate_id, resolution, title)
                }
            },
        )
        .boxed()
}

fn view() -> BoxedStrategy<CardView> {
    (
        proptest::collection::vec(prop_oneof!["U[A-Z0-9]{8,10}", text()], 0..12),
        0u32..12,
        any::<bool>(),
        maybe(text()),
        any::<bool>(),
        prop_oneof![
            Just(AskReason::Never),
            Just(AskReason::Rollback),
            Just(AskReason::Always)
        ],
    )
        .prop_map(
            |(votes, quorum, approvers_configured, status_line, offer_rollback_now, ask_reason)| {
                CardView {
                    votes,
                    quorum,
                    approvers_configured,
                    ask_reason,
                    status_line,
                    offer_rollback_now,
                }
            },
        )
        .boxed()
}

fn audit_event() -> impl Strategy<Value = (String, AuditEventKind, usize, u32)> {
    (text(), audit_kind(), any::<usize>(), any::<u32>())
}

/// The kinds of audit events, to build one borrowing generated text.
#[derive(Debug, Clone)]
enum AuditEventKind {
    Approval,
    Decided(Decision, DateTime<Utc>),
    TimedOut(TimeoutAction, DateTime<Utc>),
    ResolvedElsewhere(DateTime<Utc>),
    RolledBackAfterApproval(DateTime<Utc>),
    Deployment(Option<String>),
}

fn audit_kind() -> BoxedStrategy<AuditEventKind> {
    prop_oneof![
        Just(AuditEventKind::Approval),
        (decision(), instant()).prop_map(|(d, at)| AuditEventKind::Decided(d, at)),
        (timeout_action(), instant()).prop_map(|(a, at)| AuditEventKind::TimedOut(a, at)),
        instant().prop_map(AuditEventKind::ResolvedElsewhere),
        instant().prop_map(AuditEventKind::RolledBackAfterApproval),
        maybe(text()).prop_map(AuditEventKind::Deployment),
    ]
    .boxed()
}

/// A JSON value of any shape, a few levels deep.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
    .boxed()
}

/// An object holding some of `keys`, each with a plausible value or anything at all.
fn object_with(keys: &'static [&'static str], plausible: Value) -> impl Strategy<Value = Value> {
    proptest::collection::vec(
        (
            proptest::sample::select(keys),
            prop_oneof![
                3 => Just(None),
                2 => json_value().prop_map(Some),
            ],
        ),
        0..keys.len() + 2,
    )
    .prop_map(move |changes| {
        let mut object = plausible.as_object().cloned().unwrap_or_default();
        for (key, value) in changes {
            match value {
                Some(value) => object.insert(key.to_owned(), value),
                None => object.remove(key),
            };
        }
        Value::Object(object)
    })
}

// ---------------------------------------------------------------------------------------------
// What every accepted input leads to
// ---------------------------------------------------------------------------------------------

fn assert_cards_pass(record: &GateRecord, view: &CardView) -> Result<(), TestCaseError> {
    let card = gate_card(record, view);
    let blocks = serde_json::to_value(&card.blocks).expect("blocks serialise");
    if let Err(problem) = check_blocks(&blocks) {
        return Err(TestCaseError::fail(format!(
            "Slack would refuse the card: {problem}"
        )));
    }
    prop_assert!(!card.text.trim().is_empty(), "no fallback text");
    prop_assert!(card.text.chars().count() <= 3000, "fallback text too long");
    Ok(())
}

fn default_view() -> CardView {
    CardView {
        votes: Vec::new(),
        quorum: 1,
        approvers_configured: true,
        ask_reason: AskReason::Never,
        status_line: None,
        offer_rollback_now: true,
    }
}

/// What the bot does with a message from the topic, short of I/O, and what must then hold.
fn follow_message(message: &str, prefix: &ParameterName) -> Result<(), TestCaseError> {
    match classify(message) {
        Ok(TopicMessage::GateRequest(request)) => follow_request(*request, prefix),
        Ok(TopicMessage::EcsEvent(event)) => follow_event(&event),
        Ok(TopicMessage::FollowUp(_) | TopicMessage::Plain(_)) | Err(_) => Ok(()),
    }
}

fn follow_request(request: GateRequest, prefix: &ParameterName) -> Result<(), TestCaseError> {
    if !request.parameter_name.is_under(prefix) {
        return Ok(());
    }
    let Ok(bound) = request.bind(prefix) else {
        return Ok(());
    };
    prop_assert!(bound.parameter_name.is_under(prefix));
    let mut record = GateRecord::from_request(&bound);
    if bound.gate_id.is_none() {
        record.gate_id = GateId::for_parameter_message(&bound.parameter_name, "message-1");
    }
    assert_cards_pass(&record, &default_view())
}

fn follow_event(event: &EcsEvent) -> Result<(), TestCaseError> {
    let _ = DeploymentEvent::from_event(event);
    if let Ok(hook) = HookEvent::from_event(event) {
        let gate = GateId::for_pause(&hook.deployment.to_string(), &hook.hook_id);
        let record = pause_record(&hook, gate, None, &[]);
        assert_cards_pass(&record, &default_view())?;
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A verifier with no certificate at all: nothing verifies, nothing is fetched, and every
/// refusal must come back as a refusal.
fn verifier() -> SnsVerifier {
    SnsVerifier::new(
        vec!["arn:aws:sns:eu-west-1:123456789012:greenlight".to_owned()],
        Duration::MAX,
        Arc::new(CertificateStore::new(Arc::new(NoFetch))),
    )
}

const GATE_CONTEXT_KEYS: &[&str] = &[
    "ActionGroup",
    "parameterName",
    "region",
    "gateId",
    "cluster",
    "service",
    "serviceDeploymentArn",
    "lifecycleStage",
    "targetRevision",
    "sourceRevisions",
    "requestedAt",
    "deadline",
    "timeoutAction",
    "consoleUrl",
    "testUrl",
    "greenlightEvent",
    "at",
];

/// The additionalContext greenlight's hook publishes for a deployment and stage.
fn gate_context(
    arn: &ServiceDeploymentArn,
    stage: LifecycleStage,
    prefix: &ParameterName,
) -> Value {
    let parameter = decision_parameter(prefix, arn, stage)
        .map(String::from)
        .unwrap_or_else(|_| format!("{prefix}/x"));
    json!({
        "ActionGroup": "greenlight",
        "parameterName": parameter,
        "region": arn.region(),
        "gateId": GateId::for_hook(arn, stage).as_str(),
        "cluster": arn.cluster(),
        "service": arn.service(),
        "serviceDeploymentArn": arn.to_string(),
        "lifecycleStage": stage.as_str(),
        "targetRevision": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/2",
        "sourceRevisions": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/1",
        "requestedAt": "2026-06-01T10:00:00Z",
        "deadline": "2026-06-02T09:00:00Z",
        "timeoutAction": "ROLLBACK",
        "consoleUrl": arn.console_url(),
    })
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// A gate id is derived, not chosen: the same deployment and stage (or pause) always give
    /// the same id, in the `gl-` + 12 hex shape that parses back; another stage another id.
    #[test]
    fn a_gate_id_is_the_same_for_the_same_deployment_and_stage(
        arn in arn(),
        stage in stage(),
        other in stage(),
        hook_id in text(),
    ) {
        let again: ServiceDeploymentArn = arn.to_string().parse().expect("round trip");
        let id = GateId::for_hook(&arn, stage);
        prop_assert_eq!(&id, &GateId::for_hook(&again, stage));
        prop_assert_eq!(id.as_str().parse::<GateId>().ok(), Some(id.clone()));
        prop_assert_eq!(id.as_str().len(), 15);
        if other != stage {
            prop_assert_ne!(&id, &GateId::for_hook(&arn, other));
        }
        let pause = GateId::for_pause(&arn.to_string(), &hook_id);
        prop_assert_eq!(&pause, &GateId::for_pause(&again.to_string(), &hook_id));
        prop_assert_eq!(pause.as_str().parse::<GateId>().ok(), Some(pause.clone()));
    }

    /// A decision parameter is always under the configured prefix, and a gate request binds only
    /// to the parameter derived from its deployment and stage, whatever parameter it claims.
    #[test]
    fn a_decision_parameter_is_always_under_the_prefix(
        prefix in prefix(),
        arn in arn(),
        stage in stage(),
        claimed in prop_oneof![prefix(), prefix().prop_map(|p| p.child("x").unwrap_or(p))],
    ) {
        let derived = decision_parameter(&prefix, &arn, stage);
        if let Ok(parameter) = &derived {
            prop_assert!(parameter.is_under(&prefix), "{parameter} is not under {prefix}");
        }
        for parameter in [derived.clone().ok(), Some(claimed)].into_iter().flatten() {
            let request = GateRequest {
                title: "t".to_owned(),
                description: String::new(),
                action_group: None,
                parameter_name: parameter.clone(),
                region: None,
                gate_id: None,
                cluster: None,
                service: None,
                service_deployment_arn: Some(arn.to_string()),
                lifecycle_stage: Some(stage),
                target_revision: None,
                source_revisions: Vec::new(),
                requested_at: None,
                deadline: None,
                timeout_action: None,
                console_url: None,
                test_url: None,
                deployer: None,
                probe: None,
            };
            if let Ok(bound) = request.bind(&prefix) {
                prop_assert!(bound.parameter_name.is_under(&prefix));
                prop_assert_eq!(Some(&bound.parameter_name), derived.as_ref().ok());
                prop_assert_eq!(bound.gate_id, Some(GateId::for_hook(&arn, stage)));
            }
        }
    }

    /// Every card, open or closed, with or without approvers, votes, status lines, pauses and
    /// traffic steps, passes the Block Kit check; so do its thread notes.
    #[test]
    fn every_card_passes_the_block_kit_check(record in record(), view in view()) {
        assert_cards_pass(&record, &view)?;
    }

    #[test]
    fn every_thread_note_is_a_message_slack_takes(
        record in record(),
        (by, kind, votes, quorum) in audit_event(),
    ) {
        let event = match &kind {
            AuditEventKind::Approval => AuditEvent::Approval { by: &by, votes, quorum },
            AuditEventKind::Decided(decision, at) => {
                // The person's words as the reason: from anywhere, like the name.
                AuditEvent::Decided { decision: *decision, by: &by, at: *at, reason: Some(&by) }
            }
            AuditEventKind::TimedOut(action, at) => AuditEvent::TimedOut { action: *action, at: *at },
            AuditEventKind::ResolvedElsewhere(at) => {
                AuditEvent::ResolvedElsewhere { outcome: &by, at: *at }
            }
            AuditEventKind::RolledBackAfterApproval(at) => {
                AuditEvent::RolledBackAfterApproval { by: &by, at: *at }
            }
            AuditEventKind::Deployment(reason) => {
                AuditEvent::Deployment { status: &by, reason: reason.as_deref() }
            }
        };
        let note = thread_note(&record, &event);
        prop_assert!(!note.trim().is_empty());
        prop_assert!(note.chars().count() <= 3000);
    }

    /// Raw bytes to `/sns`: a refusal, never a panic (and nothing verifies without a certificate).
    #[test]
    fn sns_envelopes_of_any_bytes_are_refused_not_panicked_on(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let refused = runtime().block_on(verifier().verify(&body, Utc::now()));
        prop_assert!(refused.is_err());
    }

    /// Envelopes shaped like SNS's with random fields: a refusal with a status, never a panic.
    #[test]
    fn sns_envelopes_with_random_fields_are_refused_not_panicked_on(
        envelope in object_with(
            &["Type", "MessageId", "TopicArn", "Message", "Subject", "Timestamp", "SignatureVersion",
              "Signature", "SigningCertURL", "SubscribeURL", "Token", "UnsubscribeURL"],
            json!({
                "Type": "Notification", "MessageId": "m1",
                "TopicArn": "arn:aws:sns:eu-west-1:123456789012:greenlight",
                "Message": "hello", "Timestamp": "2026-06-01T10:00:00.000Z",
                "SignatureVersion": "2", "Signature": "AAAA",
                "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
            }),
        ),
    ) {
        let body = serde_json::to_vec(&envelope).expect("JSON");
        let refusal = runtime()
            .block_on(verifier().verify(&body, Utc::now()))
            .expect_err("nothing verifies without a certificate");
        prop_assert!(matches!(refusal.status().as_u16(), 400 | 403 | 503));
    }

    /// Any text on the gate topic is classified; what is accepted binds and draws valid cards.
    #[test]
    fn topic_messages_of_any_text_never_panic(message in text(), prefix in prefix()) {
        follow_message(&message, &prefix)?;
    }

    /// Gate requests shaped like greenlight's and the recipe's, with random context fields.
    #[test]
    fn gate_requests_with_random_fields_never_panic(
        (prefix, context) in (arn(), stage(), prefix()).prop_flat_map(|(arn, stage, prefix)| {
            let plausible = gate_context(&arn, stage, &prefix);
            (Just(prefix), object_with(GATE_CONTEXT_KEYS, plausible))
        }),
        title in text(),
        description in maybe(text()),
    ) {
        let message = json!({
            "version": "1.0", "source": "custom",
            "content": {"title": title, "description": description},
            "metadata": {"enableCustomActions": true, "additionalContext": context},
        });
        follow_message(&message.to_string(), &prefix)?;
    }

    /// What greenlight's own hook publishes is always accepted by the bot, with its own id.
    #[test]
    fn the_hooks_own_request_always_binds(arn in arn(), stage in stage(), prefix in prefix()) {
        prop_assume!(decision_parameter(&prefix, &arn, stage).is_ok());
        let message = json!({
            "version": "1.0", "source": "custom",
            "content": {"title": "t", "description": "d"},
            "metadata": {"additionalContext": gate_context(&arn, stage, &prefix)},
        });
        let Ok(TopicMessage::GateRequest(request)) = classify(&message.to_string()) else {
            return Err(TestCaseError::fail("not read as a gate request"));
        };
        let bound = request.bind(&prefix).map_err(|why| TestCaseError::fail(why.to_string()))?;
        prop_assert_eq!(bound.gate_id, Some(GateId::for_hook(&arn, stage)));
    }

    /// ECS events with random details: read or refused, and a pause draws a valid card.
    #[test]
    fn ecs_events_with_random_fields_never_panic(
        arn in arn(),
        detail_type in prop_oneof![
            Just("ECS Hook State Change".to_owned()),
            Just("ECS Deployment State Change".to_owned()),
            text(),
        ],
        resources in maybe(proptest::collection::vec(prop_oneof![arn().prop_map(|a| a.to_string()), text()], 0..3)),
        detail in object_with(
            &["eventName", "hookId", "serviceDeploymentArn", "hookType", "lifecycleStage",
              "expiresAt", "updatedAt", "reason", "deploymentId"],
            json!({
                "eventName": "HOOK_AWAITING_ACTION", "hookId": "ecs-pause-1", "hookType": "PAUSE",
                "lifecycleStage": "PRE_PRODUCTION_TRAFFIC_SHIFT", "expiresAt": "2026-06-02T10:00:00Z",
                "updatedAt": "2026-06-01T10:00:00Z", "reason": "rolling back",
                "deploymentId": "ecs-svc/1",
            }),
        ),
        with_arn in any::<bool>(),
    ) {
        let mut detail = detail;
        if with_arn && let Value::Object(fields) = &mut detail {
            fields.insert("serviceDeploymentArn".to_owned(), Value::String(arn.to_string()));
        }
        let event = json!({
            "version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.ecs",
            "account": "123456789012", "time": "2026-06-01T10:00:00Z", "region": "eu-west-1",
            "resources": resources, "detail": detail,
        });
        if let Ok(event) = serde_json::from_value::<EcsEvent>(event.clone()) {
            follow_event(&event)?;
        }
        follow_message(&event.to_string(), &ParameterName::new("/greenlight/decisions").unwrap())?;
    }

    /// Hook payloads of any shape, and shaped like ECS's with random fields: parsed or refused.
    #[test]
    fn hook_payloads_never_panic(
        anything in json_value(),
        payload in object_with(
            &["executionId", "lifecycleStage", "resourceArn", "executionDetails", "hookDetails"],
            json!({
                "executionId": "exec-1",
                "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
                "resourceArn": "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/d1",
                "executionDetails": {
                    "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
                    "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/2",
                },
                "hookDetails": {"greenlight": {
                    "gateId": "gl-0123456789ab", "parameterName": "/greenlight/decisions/x",
                    "requestedAt": "2026-06-01T10:00:00Z", "deadline": "2026-06-02T09:00:00Z",
                    "timeoutAction": "ROLLBACK",
                }},
            }),
        ),
    ) {
        let _ = HookInvocation::parse(&anything);
        if let Ok(invocation) = HookInvocation::parse(&payload) {
            let details = invocation.details_with(invocation.marker.as_ref());
            prop_assert!(serde_json::to_string(&details).is_ok());
        }
    }

    /// Slack bodies of any bytes, and forms with random fields: read or refused.
    #[test]
    fn slack_bodies_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..1024),
        fields in proptest::collection::vec(
            (
                prop_oneof![
                    Just("payload".to_owned()), Just("user_id".to_owned()),
                    Just("channel_id".to_owned()), Just("text".to_owned()),
                    Just("ssl_check".to_owned()), Just("command".to_owned()),
                    Just("team_id".to_owned()), text(),
                ],
                prop_oneof![
                    text(),
                    json_value().prop_map(|v| v.to_string()),
                    object_with(
                        &["type", "user", "channel", "actions"],
                        json!({
                            "type": "block_actions", "user": {"id": "U1"}, "channel": {"id": "C1"},
                            "actions": [{"action_id": "greenlight.reroute", "value": "gl-0123456789ab"}],
                        }),
                    ).prop_map(|v| v.to_string()),
                ],
            ),
            0..8,
        ),
    ) {
        let _ = Payload::parse(&body);
        let _ = SlashRequest::parse(&body);
        let form = serde_urlencoded::to_string(&fields).expect("a form");
        let _ = Payload::parse(form.as_bytes());
        if let Ok(SlashRequest::Command(command)) = SlashRequest::parse(form.as_bytes()) {
            prop_assert!(!command.user_id.0.trim().is_empty());
            prop_assert!(!command.channel_id.0.trim().is_empty());
        }
    }

    /// Any headers and body: refused or accepted, never a panic; a body signed as Slack signs it
    /// is always accepted.
    #[test]
    fn slack_signatures_never_panic(
        timestamp in proptest::collection::vec(any::<u8>(), 0..20),
        signature in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..80),
            "v0=[0-9a-f]{64}".prop_map(String::into_bytes),
            "v0=[0-9a-fA-F]{60,68}".prop_map(String::into_bytes),
        ],
        body in proptest::collection::vec(any::<u8>(), 0..512),
        secret in "[a-z0-9]{0,40}",
    ) {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let verifier = SlackRequestVerifier::new(&secret);
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes(&timestamp) {
            headers.insert(TIMESTAMP_HEADER, value);
        }
        if let Ok(value) = HeaderValue::from_bytes(&signature) {
            headers.insert(SIGNATURE_HEADER, value);
        }
        let _ = verifier.verify(&headers, &body, now);
        let signed = signed_headers(&secret, now, &body);
        prop_assert_eq!(verifier.verify(&signed, &body, now).is_ok(), !secret.is_empty());
    }

    /// Policy files of any text, and TOML shaped like a policy with random values: loaded or
    /// refused with an error, never a panic.
    #[test]
    fn policy_files_never_panic(
        anything in text(),
        defaults in proptest::collection::vec(
            (
                proptest::sample::select(&["channel", "gate_timeout", "timeout_action", "continue_first_deployments", "other"][..]),
                toml_value(),
            ),
            0..4,
        ),
        rules in proptest::collection::vec(
            proptest::collection::vec(
                (
                    proptest::sample::select(&["name", "clusters", "services", "channel", "approvers", "quorum", "gate_timeout", "timeout_action", "continue_first_deployments", "other"][..]),
                    toml_value(),
                ),
                0..8,
            ),
            0..4,
        ),
    ) {
        let _ = Policy::parse("any.toml", &anything);
        let mut text = String::from("[defaults]\n");
        for (key, value) in &defaults {
            text.push_str(&format!("{key} = {value}\n"));
        }
        for rule in &rules {
            text.push_str("\n[[rule]]\n");
            for (key, value) in rule {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        if let Ok(policy) = Policy::parse("shaped.toml", &text)
            && let Some(rule) = policy.rule_for(Some("prod"), Some("web"))
        {
            prop_assert!(rule.matches(Some("prod"), Some("web")));
            prop_assert!(rule.quorum() >= 1);
        }
    }
}

/// A TOML value for a policy key: of the right kind for some key, or not.
fn toml_value() -> BoxedStrategy<String> {
    prop_oneof![
        "\"[A-Za-z0-9 *?_-]{0,12}\"",
        "\"(U|W|S|C)[A-Z0-9]{6,10}\"",
        "\"[0-9]{1,3}(h|m|s|d| ){0,3}\"",
        "\"(ROLLBACK|CONTINUE|rollback)\"",
        "-?[0-9]{1,12}",
        "(true|false)",
        proptest::collection::vec("\"[A-Za-z0-9*?_-]{0,12}\"", 0..4)
            .prop_map(|items| format!("[{}]", items.join(", "))),
        text().prop_map(|text| format!("{:?}", text)),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Regressions: inputs the fuzz targets found, kept byte for byte in tests/fixtures/fuzz/
// ---------------------------------------------------------------------------------------------

/// `gate_request` found it: a recipe request whose title, escaped for mrkdwn, is over 3,000
/// characters. Shown as the card's status line (as the fuzz target shows it), it made the
/// context element too long for Slack, which would have refused the whole card.
#[test]
fn fuzz_finding_a_context_line_over_slacks_limit_is_clipped() {
    let message = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fuzz/gate_request-long-context.json"
    ))
    .expect("the fuzz input");
    let prefix = ParameterName::new("/greenlight/decisions").unwrap();
    let Ok(TopicMessage::GateRequest(request)) = classify(&message) else {
        panic!("the input is a gate request");
    };
    let request = request.bind(&prefix).expect("a recipe request binds");
    let mut record = GateRecord::from_request(&request);
    record.gate_id = GateId::for_parameter_message(&request.parameter_name, "message-1");
    let view = CardView {
        votes: vec!["U0ALICE01".to_owned(), "not a user <&>".to_owned()],
        quorum: 3,
        approvers_configured: false,
        ask_reason: AskReason::Always,
        status_line: Some(record.title.clone()),
        offer_rollback_now: true,
    };
    let blocks = serde_json::to_value(gate_card(&record, &view).blocks).unwrap();
    check_blocks(&blocks).unwrap();
}
