//! The simulated ECS: one blue/green service deployment, walked stage by stage.
//!
//! It does what ECS does with a lifecycle-hook Lambda and nothing more: at every stage it sends
//! the hook the documented payload, acts on `hookStatus`, waits the `callBackDelay` the hook asks
//! for, hands `hookDetails` back on the next call, and rolls back on `FAILED`. Between stages it
//! moves the test and production listeners' weights from blue (the running revision) to green (the
//! new one). It also answers the [`Deployments`] port, because the hook asks ECS whether this is a
//! first deployment before it opens a gate.
//!
//! Everything it does is reported to an [`EcsObserver`] as [`EcsEvent`]s rather than printed, so
//! the walk is unit-tested on its events and the rehearsal decides how to show them.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::domain::lifecycle::{HookResponse, HookStatus};
use crate::domain::stage::LifecycleStage;
use crate::hook::Hook;
use crate::ports::{AdapterError, DeploymentState, Deployments, HookAction};

/// What ECS waits when a hook answers `IN_PROGRESS` without a `callBackDelay` (AWS's default).
const DEFAULT_CALL_BACK_DELAY: u32 = 30;
/// Lambda stops an invocation at 15 minutes; the hook plans its polling against that.
const LAMBDA_INVOCATION_LIMIT: Duration = Duration::from_secs(15 * 60);
/// How often a wait that can be cut short (bake time) looks for a stop request.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// Share of a listener's traffic on each revision, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub blue: u8,
    pub green: u8,
}

impl Weights {
    pub const BLUE: Weights = Weights {
        blue: 100,
        green: 0,
    };
    pub const GREEN: Weights = Weights {
        blue: 0,
        green: 100,
    };
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.blue, self.green) {
            (blue, 0) => write!(f, "blue {blue}%"),
            (0, green) => write!(f, "green {green}%"),
            (blue, green) => write!(f, "blue {blue}% · green {green}%"),
        }
    }
}

/// The deployment being rehearsed: names as ECS builds its ARNs from them.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentPlan {
    pub region: String,
    pub account: String,
    pub cluster: String,
    pub service: String,
    pub deployment_id: String,
    /// The service revision production runs on now (blue).
    pub blue_revision: String,
    /// The service revision being deployed (green).
    pub green_revision: String,
    /// `hookDetails` configured on the service's hook, sent on every first call of a stage.
    pub hook_details: Map<String, Value>,
}

impl DeploymentPlan {
    fn arn(&self, resource: &str) -> String {
        format!(
            "arn:aws:ecs:{}:{}:{resource}/{}/{}",
            self.region, self.account, self.cluster, self.service
        )
    }

    pub fn deployment_arn(&self) -> String {
        format!("{}/{}", self.arn("service-deployment"), self.deployment_id)
    }

    pub fn service_arn(&self) -> String {
        self.arn("service")
    }

    pub fn revision_arn(&self, revision: &str) -> String {
        format!("{}/{revision}", self.arn("service-revision"))
    }

    fn weights_json(&self, weights: Weights) -> Value {
        let mut map = Map::new();
        map.insert(self.revision_arn(&self.blue_revision), json!(weights.blue));
        map.insert(
            self.revision_arn(&self.green_revision),
            json!(weights.green),
        );
        Value::Object(map)
    }
}

/// How long ECS's own waits take in this rehearsal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Divides every wait below and every `callBackDelay`.
    pub speed: f64,
    /// Starting the new revision's tasks.
    pub stage_work: Duration,
    /// Bake time after production moved, before the old revision is scaled in.
    pub bake_time: Duration,
    /// How long one stage may take before ECS gives up on it and rolls back (24 hours on AWS).
    pub stage_limit: Duration,
}

impl Pace {
    fn scaled(&self, wait: Duration) -> Duration {
        wait.div_f64(self.speed)
    }
}

/// What ECS invokes at a lifecycle stage.
///
/// Flow A's Lambda hook is the one implementation the rehearsal plays ([`LambdaHook`]). Flow B
/// (a `PAUSE` hook) would not be invoked at all: ECS would publish `HOOK_AWAITING_ACTION` and wait
/// for `ContinueServiceDeployment`, which reaches this simulation through
/// [`Deployments::continue_hook`]. That flow is not rehearsed yet.
#[async_trait]
pub trait LifecycleHook: Send + Sync {
    async fn invoke(&self, payload: Value) -> HookResponse;
}

/// greenlight's real hook, invoked as Lambda invokes it.
pub struct LambdaHook {
    hook: Arc<Hook>,
}

impl LambdaHook {
    pub fn new(hook: Arc<Hook>) -> LambdaHook {
        LambdaHook { hook }
    }
}

#[async_trait]
impl LifecycleHook for LambdaHook {
    async fn invoke(&self, payload: Value) -> HookResponse {
        let must_answer_by = Instant::now() + LAMBDA_INVOCATION_LIMIT;
        self.hook.handle(&payload, Some(must_answer_by)).await
    }
}

/// How a deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Production traffic is on green; the deployment is `SUCCESSFUL`.
    Successful,
    /// ECS went back to blue; the deployment is `ROLLBACK_SUCCESSFUL`.
    RolledBack {
        /// The stage that failed; `None` when the rollback came during bake time.
        stage: Option<LifecycleStage>,
        reason: String,
    },
}

/// One thing the simulated ECS did.
#[derive(Debug, Clone, PartialEq)]
pub enum EcsEvent {
    /// A stage began, with the listeners' weights as the hook will be told them.
    Stage {
        stage: LifecycleStage,
        production: Weights,
        test: Weights,
    },
    /// ECS did some work of its own between stages.
    Work { what: &'static str, took: Duration },
    /// The hook is invoked; `attempt` counts from 1 within the stage.
    Invoked {
        stage: LifecycleStage,
        attempt: u32,
        hook_details: Map<String, Value>,
    },
    /// The hook answered.
    Answered {
        stage: LifecycleStage,
        attempt: u32,
        status: HookStatus,
        call_back_delay: Option<u32>,
        took: Duration,
    },
    /// ECS waits before calling the hook again: `requested` seconds, played as `waited`.
    Waiting {
        stage: LifecycleStage,
        requested: u32,
        waited: Duration,
    },
    /// Production is on green; ECS bakes before scaling blue in.
    Baking { waited: Duration },
    /// ECS rolls back to blue.
    RollingBack {
        stage: Option<LifecycleStage>,
        reason: String,
        production: Weights,
        test: Weights,
    },
    /// The deployment ended.
    Finished(Outcome),
}

/// Told of every [`EcsEvent`] as it happens.
pub trait EcsObserver: Send + Sync {
    fn observe(&self, event: &EcsEvent);
}

/// The deployment's state, as `DescribeServiceDeployments` would report it.
#[derive(Debug, Clone)]
struct State {
    status: &'static str,
    status_reason: Option<String>,
    stage: Option<LifecycleStage>,
    production: Weights,
    test: Weights,
}

/// One service deployment, simulated. Shared: the rehearsal walks it while the hook and the bot
/// read it through [`Deployments`].
pub struct SimulatedEcs {
    plan: DeploymentPlan,
    pace: Pace,
    state: Mutex<State>,
    /// Set by `StopServiceDeployment(ROLLBACK)`; the walk rolls back at its next look.
    stop_requested: AtomicBool,
}

impl SimulatedEcs {
    pub fn new(plan: DeploymentPlan, pace: Pace) -> SimulatedEcs {
        SimulatedEcs {
            plan,
            pace,
            state: Mutex::new(State {
                status: "PENDING",
                status_reason: None,
                stage: None,
                production: Weights::BLUE,
                test: Weights::BLUE,
            }),
            stop_requested: AtomicBool::new(false),
        }
    }

    pub fn plan(&self) -> &DeploymentPlan {
        &self.plan
    }

    /// Production and test weights now.
    pub fn weights(&self) -> (Weights, Weights) {
        self.with_state(|state| (state.production, state.test))
    }

    /// The deployment's status now, e.g. `IN_PROGRESS`, `SUCCESSFUL`, `ROLLBACK_SUCCESSFUL`.
    pub fn status(&self) -> &'static str {
        self.with_state(|state| state.status)
    }

    fn with_state<T>(&self, action: impl FnOnce(&mut State) -> T) -> T {
        // A panic elsewhere while holding the lock leaves the state as it was; keep using it.
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        action(&mut state)
    }

    /// Walks the whole deployment, invoking `hook` at every stage, and says how it ended.
    pub async fn deploy(&self, hook: &dyn LifecycleHook, observer: &dyn EcsObserver) -> Outcome {
        self.with_state(|state| state.status = "IN_PROGRESS");
        for stage in LifecycleStage::ALL {
            if self.stop_requested.load(Ordering::SeqCst) {
                return self
                    .roll_back(Some(stage), "stopped with rollback".to_owned(), observer)
                    .await;
            }
            let (production, test) = self.with_state(|state| {
                state.stage = Some(stage);
                // A traffic-shift stage is reported to its hooks with the shift done.
                match stage {
                    LifecycleStage::TestTrafficShift => state.test = Weights::GREEN,
                    LifecycleStage::ProductionTrafficShift => state.production = Weights::GREEN,
                    _ => {}
                }
                (state.production, state.test)
            });
            observer.observe(&EcsEvent::Stage {
                stage,
                production,
                test,
            });
            if let Err(reason) = self.run_hooks(stage, hook, observer).await {
                return self.roll_back(Some(stage), reason, observer).await;
            }
            if stage == LifecycleStage::PreScaleUp {
                let took = self.pace.scaled(self.pace.stage_work);
                tokio::time::sleep(took).await;
                observer.observe(&EcsEvent::Work {
                    what: "the new revision's tasks are running (green), with no traffic yet",
                    took,
                });
            }
        }
        let bake = self.pace.scaled(self.pace.bake_time);
        observer.observe(&EcsEvent::Baking { waited: bake });
        if self.wait_unless_stopped(bake).await {
            return self
                .roll_back(
                    None,
                    "stopped with rollback during bake time".to_owned(),
                    observer,
                )
                .await;
        }
        self.with_state(|state| {
            state.status = "SUCCESSFUL";
            state.stage = None;
        });
        observer.observe(&EcsEvent::Finished(Outcome::Successful));
        Outcome::Successful
    }

    /// Invokes the hook of one stage until it answers `SUCCEEDED` (`Ok`) or `FAILED` (`Err`),
    /// honouring `callBackDelay` and handing `hookDetails` back, as ECS does.
    async fn run_hooks(
        &self,
        stage: LifecycleStage,
        hook: &dyn LifecycleHook,
        observer: &dyn EcsObserver,
    ) -> Result<(), String> {
        let started = Instant::now();
        let execution_id = format!("{}-{}", self.plan.deployment_id, stage.as_str());
        let mut hook_details = self.plan.hook_details.clone();
        for attempt in 1.. {
            observer.observe(&EcsEvent::Invoked {
                stage,
                attempt,
                hook_details: hook_details.clone(),
            });
            let called = Instant::now();
            let response = hook
                .invoke(self.payload(stage, &execution_id, &hook_details))
                .await;
            observer.observe(&EcsEvent::Answered {
                stage,
                attempt,
                status: response.hook_status,
                call_back_delay: response.call_back_delay,
                took: called.elapsed(),
            });
            match response.hook_status {
                HookStatus::Succeeded => return Ok(()),
                HookStatus::Failed => return Err(format!("the hook answered FAILED at {stage}")),
                HookStatus::InProgress => {}
            }
            // What the hook returns is what it gets next time; without any, the configured ones.
            hook_details = response
                .hook_details
                .unwrap_or_else(|| self.plan.hook_details.clone());
            let requested = response.call_back_delay.unwrap_or(DEFAULT_CALL_BACK_DELAY);
            let waited = self.pace.scaled(Duration::from_secs(u64::from(requested)));
            if started.elapsed() + waited > self.pace.stage_limit {
                return Err(format!(
                    "{stage} lasted longer than the stage limit ({:.0} s)",
                    self.pace.stage_limit.as_secs_f64()
                ));
            }
            observer.observe(&EcsEvent::Waiting {
                stage,
                requested,
                waited,
            });
            tokio::time::sleep(waited).await;
        }
        Err(format!("{stage}: the hook was invoked too many times"))
    }

    /// The lifecycle-hook payload, as documented for ECS blue/green deployments.
    fn payload(
        &self,
        stage: LifecycleStage,
        execution_id: &str,
        hook_details: &Map<String, Value>,
    ) -> Value {
        let (production, test) = self.weights();
        let mut payload = json!({
            "executionId": execution_id,
            "lifecycleStage": stage.as_str(),
            "resourceArn": self.plan.deployment_arn(),
            "executionDetails": {
                "serviceArn": self.plan.service_arn(),
                "targetServiceRevisionArn": self.plan.revision_arn(&self.plan.green_revision),
                "testTrafficWeights": self.plan.weights_json(test),
                "productionTrafficWeights": self.plan.weights_json(production),
            },
        });
        if !hook_details.is_empty()
            && let Some(object) = payload.as_object_mut()
        {
            object.insert(
                "hookDetails".to_owned(),
                Value::Object(hook_details.clone()),
            );
        }
        payload
    }

    async fn roll_back(
        &self,
        stage: Option<LifecycleStage>,
        reason: String,
        observer: &dyn EcsObserver,
    ) -> Outcome {
        let (production, test) = self.with_state(|state| {
            state.status = "ROLLBACK_IN_PROGRESS";
            state.status_reason = Some(reason.clone());
            state.production = Weights::BLUE;
            state.test = Weights::BLUE;
            (state.production, state.test)
        });
        observer.observe(&EcsEvent::RollingBack {
            stage,
            reason: reason.clone(),
            production,
            test,
        });
        tokio::time::sleep(self.pace.scaled(self.pace.stage_work)).await;
        self.with_state(|state| {
            state.status = "ROLLBACK_SUCCESSFUL";
            state.stage = None;
        });
        let outcome = Outcome::RolledBack { stage, reason };
        observer.observe(&EcsEvent::Finished(outcome.clone()));
        outcome
    }

    /// Sleeps for `wait`; `true` if a stop was requested meanwhile.
    async fn wait_unless_stopped(&self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        loop {
            if self.stop_requested.load(Ordering::SeqCst) {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            tokio::time::sleep((until - now).min(STOP_CHECK)).await;
        }
    }

    fn is_this(&self, arn: &str) -> bool {
        arn == self.plan.deployment_arn()
    }
}

#[async_trait]
impl Deployments for SimulatedEcs {
    async fn describe(&self, arn: &str) -> Result<Option<DeploymentState>, AdapterError> {
        if !self.is_this(arn) {
            return Ok(None);
        }
        let state = self.with_state(|state| state.clone());
        Ok(Some(DeploymentState {
            arn: arn.to_owned(),
            status: state.status.to_owned(),
            status_reason: state.status_reason,
            lifecycle_stage: state.stage.map(|stage| stage.as_str().to_owned()),
            // A replacing deployment: blue is what it replaces, so the hook gates it.
            source_revisions: vec![self.plan.revision_arn(&self.plan.blue_revision)],
            target_revision: Some(self.plan.revision_arn(&self.plan.green_revision)),
            hooks: Vec::new(),
            ..DeploymentState::default()
        }))
    }

    async fn continue_hook(
        &self,
        _arn: &str,
        _hook_id: &str,
        _action: HookAction,
    ) -> Result<(), AdapterError> {
        Err(AdapterError::permanent(
            "ecs:ContinueServiceDeployment",
            "the rehearsal plays Flow A (Lambda hooks); no hook is paused",
        ))
    }

    async fn stop_with_rollback(&self, arn: &str) -> Result<(), AdapterError> {
        if !self.is_this(arn) {
            return Err(AdapterError::permanent(
                "ecs:StopServiceDeployment",
                format!("ServiceDeploymentNotFoundException: {arn}"),
            ));
        }
        if self.status() != "IN_PROGRESS" {
            return Err(AdapterError::permanent(
                "ecs:StopServiceDeployment",
                format!("the deployment is {}, not IN_PROGRESS", self.status()),
            ));
        }
        self.stop_requested.store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::domain::lifecycle::HookInvocation;

    use super::*;

    fn plan() -> DeploymentPlan {
        DeploymentPlan {
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            cluster: "rehearsal".into(),
            service: "web".into(),
            deployment_id: "dep1".into(),
            blue_revision: "41".into(),
            green_revision: "42".into(),
            hook_details: Map::from_iter([("team".to_owned(), json!("payments"))]),
        }
    }

    /// Every wait a hundred times shorter, so the tests take milliseconds.
    fn pace() -> Pace {
        Pace {
            speed: 100.0,
            stage_work: Duration::from_millis(100),
            bake_time: Duration::from_millis(200),
            stage_limit: Duration::from_secs(10),
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<EcsEvent>>);

    impl EcsObserver for Recorder {
        fn observe(&self, event: &EcsEvent) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    impl Recorder {
        fn events(&self) -> Vec<EcsEvent> {
            self.0.lock().unwrap().clone()
        }
    }

    /// A hook that answers from a script: per stage, the answers in turn (the last one repeats);
    /// `SUCCEEDED` for a stage without a script. It keeps every payload.
    #[derive(Default)]
    struct Scripted {
        answers: HashMap<LifecycleStage, Vec<HookResponse>>,
        payloads: Mutex<Vec<Value>>,
    }

    impl Scripted {
        fn at(mut self, stage: LifecycleStage, answers: Vec<HookResponse>) -> Self {
            self.answers.insert(stage, answers);
            self
        }

        fn payloads(&self) -> Vec<Value> {
            self.payloads.lock().unwrap().clone()
        }

        fn stages(&self) -> Vec<String> {
            self.payloads()
                .iter()
                .map(|p| p["lifecycleStage"].as_str().unwrap().to_owned())
                .collect()
        }
    }

    #[async_trait]
    impl LifecycleHook for Scripted {
        async fn invoke(&self, payload: Value) -> HookResponse {
            let stage: LifecycleStage =
                payload["lifecycleStage"].as_str().unwrap().parse().unwrap();
            let mut payloads = self.payloads.lock().unwrap();
            let earlier = payloads
                .iter()
                .filter(|p| p["lifecycleStage"] == stage.as_str())
                .count();
            payloads.push(payload);
            match self.answers.get(&stage) {
                Some(answers) => answers[earlier.min(answers.len() - 1)].clone(),
                None => HookResponse::finished(HookStatus::Succeeded, None),
            }
        }
    }

    fn marker() -> Map<String, Value> {
        Map::from_iter([
            ("team".to_owned(), json!("payments")),
            (
                "greenlight".to_owned(),
                json!({"gateId": "gl-0123456789ab"}),
            ),
        ])
    }

    #[tokio::test]
    async fn every_stage_is_walked_in_order_and_production_ends_on_green() {
        let ecs = SimulatedEcs::new(plan(), pace());
        let hook = Scripted::default();
        let recorder = Recorder::default();
        assert_eq!(ecs.deploy(&hook, &recorder).await, Outcome::Successful);
        let expected: Vec<&str> = LifecycleStage::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(hook.stages(), expected);
        assert_eq!(ecs.status(), "SUCCESSFUL");
        assert_eq!(ecs.weights(), (Weights::GREEN, Weights::GREEN));
        let events = recorder.events();
        assert!(matches!(
            events.last(),
            Some(EcsEvent::Finished(Outcome::Successful))
        ));
        assert!(events.iter().any(|e| matches!(e, EcsEvent::Baking { .. })));
        assert!(events.iter().any(|e| matches!(e, EcsEvent::Work { .. })));
    }

    #[tokio::test]
    async fn traffic_moves_test_first_then_production() {
        let ecs = SimulatedEcs::new(plan(), pace());
        let recorder = Recorder::default();
        ecs.deploy(&Scripted::default(), &recorder).await;
        let weights: Vec<(LifecycleStage, Weights, Weights)> = recorder
            .events()
            .into_iter()
            .filter_map(|event| match event {
                EcsEvent::Stage {
                    stage,
                    production,
                    test,
                } => Some((stage, production, test)),
                _ => None,
            })
            .collect();
        use LifecycleStage::*;
        let (blue, green) = (Weights::BLUE, Weights::GREEN);
        assert_eq!(
            weights,
            vec![
                (ReconcileService, blue, blue),
                (PreScaleUp, blue, blue),
                (PostScaleUp, blue, blue),
                (TestTrafficShift, blue, green),
                (PostTestTrafficShift, blue, green),
                (PreProductionTrafficShift, blue, green),
                (ProductionTrafficShift, green, green),
                (PostProductionTrafficShift, green, green),
            ]
        );
    }

    #[tokio::test]
    async fn every_payload_is_one_the_hook_understands() {
        let ecs = SimulatedEcs::new(plan(), pace());
        let hook = Scripted::default();
        ecs.deploy(&hook, &Recorder::default()).await;
        for payload in hook.payloads() {
            let invocation = HookInvocation::parse(&payload).unwrap();
            assert_eq!(invocation.deployment.to_string(), plan().deployment_arn());
            assert_eq!(invocation.deployment.service(), "web");
            assert_eq!(invocation.target_revision, plan().revision_arn("42"));
            assert_eq!(invocation.hook_details["team"], "payments");
            assert_eq!(invocation.test_traffic_weights.len(), 2);
        }
        let post_test = &hook.payloads()[4];
        let green = plan().revision_arn("42");
        let blue = plan().revision_arn("41");
        assert_eq!(
            post_test["executionDetails"]["testTrafficWeights"][&green],
            100
        );
        assert_eq!(
            post_test["executionDetails"]["productionTrafficWeights"][&blue],
            100
        );
        assert_eq!(
            post_test["executionDetails"]["productionTrafficWeights"][&green],
            0
        );
    }

    #[tokio::test]
    async fn in_progress_is_called_back_after_the_delay_with_the_returned_hook_details() {
        let ecs = SimulatedEcs::new(plan(), pace());
        let hook = Scripted::default().at(
            LifecycleStage::PostTestTrafficShift,
            vec![
                HookResponse::in_progress(3, marker()),
                HookResponse::finished(HookStatus::Succeeded, Some(marker())),
            ],
        );
        let recorder = Recorder::default();
        assert_eq!(ecs.deploy(&hook, &recorder).await, Outcome::Successful);

        let calls: Vec<Value> = hook
            .payloads()
            .into_iter()
            .filter(|p| p["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT")
            .collect();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["hookDetails"], json!({"team": "payments"}));
        assert_eq!(calls[1]["hookDetails"], Value::Object(marker()));
        assert_eq!(calls[0]["executionId"], calls[1]["executionId"]);

        let waits: Vec<(u32, Duration)> = recorder
            .events()
            .into_iter()
            .filter_map(|event| match event {
                EcsEvent::Waiting {
                    requested, waited, ..
                } => Some((requested, waited)),
                _ => None,
            })
            .collect();
        assert_eq!(waits, vec![(3, Duration::from_millis(30))]);
        // The next stage starts afresh, with the configured details only.
        let next = hook
            .payloads()
            .into_iter()
            .find(|p| p["lifecycleStage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT")
            .unwrap();
        assert_eq!(next["hookDetails"], json!({"team": "payments"}));
    }

    #[tokio::test]
    async fn a_failed_hook_rolls_back_and_no_later_stage_is_invoked() {
        let ecs = SimulatedEcs::new(plan(), pace());
        let hook = Scripted::default().at(
            LifecycleStage::PostTestTrafficShift,
            vec![HookResponse::finished(HookStatus::Failed, None)],
        );
        let recorder = Recorder::default();
        let outcome = ecs.deploy(&hook, &recorder).await;
        assert_eq!(
            outcome,
            Outcome::RolledBack {
                stage: Some(LifecycleStage::PostTestTrafficShift),
                reason: "the hook answered FAILED at POST_TEST_TRAFFIC_SHIFT".into()
            }
        );
        assert_eq!(hook.stages().last().unwrap(), "POST_TEST_TRAFFIC_SHIFT");
        assert_eq!(hook.stages().len(), 5);
        assert_eq!(ecs.status(), "ROLLBACK_SUCCESSFUL");
        assert_eq!(ecs.weights(), (Weights::BLUE, Weights::BLUE));
        assert!(
            !recorder
                .events()
                .iter()
                .any(|e| matches!(e, EcsEvent::Baking { .. }))
        );
    }

    #[tokio::test]
    async fn a_stage_that_never_ends_rolls_back_at_the_stage_limit() {
        let pace = Pace {
            stage_limit: Duration::from_millis(50),
            ..pace()
        };
        let ecs = SimulatedEcs::new(plan(), pace);
        let hook = Scripted::default().at(
            LifecycleStage::PostTestTrafficShift,
            vec![HookResponse::in_progress(1, marker())],
        );
        let outcome = ecs.deploy(&hook, &Recorder::default()).await;
        let Outcome::RolledBack { stage, reason } = outcome else {
            panic!("expected a rollback, got {outcome:?}");
        };
        assert_eq!(stage, Some(LifecycleStage::PostTestTrafficShift));
        assert!(reason.contains("stage limit"), "{reason}");
    }

    #[tokio::test]
    async fn a_missing_call_back_delay_means_ecss_default() {
        let ecs = SimulatedEcs::new(
            plan(),
            Pace {
                speed: 20.0,
                ..pace()
            },
        );
        let mut answer = HookResponse::in_progress(1, marker());
        answer.call_back_delay = None;
        let hook = Scripted::default().at(
            LifecycleStage::PreScaleUp,
            vec![answer, HookResponse::finished(HookStatus::Succeeded, None)],
        );
        let recorder = Recorder::default();
        ecs.deploy(&hook, &recorder).await;
        assert!(recorder.events().contains(&EcsEvent::Waiting {
            stage: LifecycleStage::PreScaleUp,
            requested: 30,
            waited: Duration::from_millis(1500),
        }));
    }

    #[tokio::test]
    async fn describe_reports_a_replacing_deployment_and_only_this_one() {
        let ecs = SimulatedEcs::new(plan(), pace());
        let state = ecs
            .describe(&plan().deployment_arn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.status, "PENDING");
        assert_eq!(state.source_revisions, vec![plan().revision_arn("41")]);
        assert_eq!(state.target_revision, Some(plan().revision_arn("42")));
        let other = plan().deployment_arn().replace("dep1", "dep2");
        assert_eq!(ecs.describe(&other).await.unwrap(), None);
        assert!(
            ecs.continue_hook(&plan().deployment_arn(), "h", HookAction::Continue)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn stop_with_rollback_during_bake_time_rolls_back() {
        let ecs = Arc::new(SimulatedEcs::new(
            plan(),
            Pace {
                speed: 1.0,
                stage_work: Duration::from_millis(1),
                bake_time: Duration::from_secs(5),
                stage_limit: Duration::from_secs(10),
            },
        ));
        let recorder = Arc::new(Recorder::default());
        let (walking, seen) = (Arc::clone(&ecs), Arc::clone(&recorder));
        let walk = tokio::spawn(async move { walking.deploy(&Scripted::default(), &*seen).await });
        while !recorder
            .events()
            .iter()
            .any(|e| matches!(e, EcsEvent::Baking { .. }))
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ecs.stop_with_rollback(&plan().deployment_arn())
            .await
            .unwrap();
        let outcome = walk.await.unwrap();
        assert!(
            matches!(outcome, Outcome::RolledBack { stage: None, .. }),
            "{outcome:?}"
        );
        assert_eq!(ecs.weights(), (Weights::BLUE, Weights::BLUE));
        assert!(
            ecs.stop_with_rollback(&plan().deployment_arn())
                .await
                .is_err()
        );
    }

    #[test]
    fn weights_read_as_people_say_them() {
        assert_eq!(Weights::BLUE.to_string(), "blue 100%");
        assert_eq!(Weights::GREEN.to_string(), "green 100%");
        assert_eq!(
            Weights {
                blue: 90,
                green: 10
            }
            .to_string(),
            "blue 90% · green 10%"
        );
    }
}
