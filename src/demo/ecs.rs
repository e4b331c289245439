//! The simulated ECS: one blue/green service deployment, walked stage by stage.
//!
//! It does what ECS does with the lifecycle hooks of a service's deployment configuration, and
//! nothing more:
//!
//! - **Flow A**, a Lambda hook ([`Hooks::Lambda`]): at every stage it sends the hook the
//!   documented payload, acts on `hookStatus`, waits the `callBackDelay` the hook asks for, hands
//!   `hookDetails` back on the next call, and rolls back on `FAILED`.
//! - **Flow B**, a `PAUSE` hook ([`Hooks::Pause`]): nothing is invoked. At a paused stage ECS
//!   stops by itself, lists the hook as `AWAITING_ACTION` in `DescribeServiceDeployments`, emits
//!   `ECS Hook State Change` / `HOOK_AWAITING_ACTION`, and waits for
//!   `ContinueServiceDeployment` ([`Deployments::continue_hook`]) or the hook's own timeout.
//!
//! Between stages it moves the test and production listeners' weights from blue (the running
//! revision) to green (the new one), then bakes. It answers the [`Deployments`] port (the hook
//! asks whether this is a first deployment; the bot describes, continues and stops), and, when
//! given the EventBridge rule ([`SimulatedEcs::attach_event_rule`]), emits ECS's EventBridge events
//! in their documented shapes to the gate topic, as the rule in `infra/` does.
//!
//! Everything it does is reported to an [`EcsObserver`] as [`SimulatedEvent`]s rather than printed, so
//! the walk is unit-tested on its events and the rehearsal decides how to show them.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::domain::evidence::{ContainerImage, DEPLOYER_TAG};
use crate::domain::gate::{Decision, TimeoutAction};
use crate::domain::lifecycle::{HookResponse, HookStatus};
use crate::domain::progress::{DEPLOYMENT_STATE_CHANGE, HOOK_STATE_CHANGE, TrafficPlan};
use crate::domain::stage::LifecycleStage;
use crate::hook::Hook;
use crate::ports::{
    AdapterError, DeploymentLookup, DeploymentStage, DeploymentState, DeploymentStatus,
    Deployments, HookState, HookTargetType, LifecycleHookStatus, RevisionDetails, TopicPublisher,
};

/// What ECS waits when a hook answers `IN_PROGRESS` without a `callBackDelay` (AWS's default).
const DEFAULT_CALL_BACK_DELAY: u32 = 30;
/// ECS waits at most 14 days for a pause hook (`timeoutInMinutes` up to 20160).
const PAUSE_LIMIT: Duration = Duration::from_secs(14 * 24 * 60 * 60);
/// What ECS reports as the lifecycle stage while it bakes; it takes no hooks, so it is no
/// [`LifecycleStage`].
pub const BAKE_TIME: &str = "BAKE_TIME";

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
    /// The green task definition's `greenlight:deployer` tag, as CI would set it.
    pub deployer: Option<String>,
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

    pub fn cluster_arn(&self) -> String {
        format!(
            "arn:aws:ecs:{}:{}:cluster/{}",
            self.region, self.account, self.cluster
        )
    }

    pub fn revision_arn(&self, revision: &str) -> String {
        format!("{}/{revision}", self.arn("service-revision"))
    }

    /// The `deploymentId` (`ecs-svc/…`) that `ECS Deployment State Change` events carry for a
    /// revision's deployment: they never name the service-deployment ARN.
    fn ecs_svc(revision: &str) -> String {
        format!("ecs-svc/{revision}")
    }

    /// The id ECS gives the pause hook of `stage`: unique per deployment and stage, in the shape
    /// of ECS's own (`ecs-pause-` and 43 URL-safe characters).
    pub fn pause_hook_id(&self, stage: LifecycleStage) -> String {
        let digest = Sha256::digest(format!("{}|{}", self.deployment_arn(), stage.as_str()));
        format!("ecs-pause-{}", URL_SAFE_NO_PAD.encode(digest))
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

/// What ECS invokes at a lifecycle stage in Flow A: the hook Lambda.
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
        let must_answer_by = Instant::now() + crate::config::LAMBDA_LIMIT;
        self.hook.handle(&payload, Some(must_answer_by)).await
    }
}

/// A `PAUSE` lifecycle hook of the service's deployment configuration (Flow B):
/// `{"targetType": "PAUSE", "lifecycleStages": [...], "timeoutConfiguration": {...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct PauseHook {
    stages: BTreeSet<LifecycleStage>,
    timeout: Duration,
    timeout_action: TimeoutAction,
}

impl PauseHook {
    /// Refuses what ECS refuses: no stage, a traffic-shift stage (ECS moves traffic in those; a
    /// pause may sit before or after, not in them), a timeout beyond 14 days. The timeout may be
    /// shorter than ECS's one minute, so that a rehearsal can let it run out.
    pub fn new(
        stages: impl IntoIterator<Item = LifecycleStage>,
        timeout: Duration,
        timeout_action: TimeoutAction,
    ) -> Result<PauseHook, String> {
        let stages: BTreeSet<LifecycleStage> = stages.into_iter().collect();
        if stages.is_empty() {
            return Err("a pause hook needs at least one lifecycle stage".to_owned());
        }
        if let Some(stage) = stages.iter().find(|stage| {
            matches!(
                stage,
                LifecycleStage::TestTrafficShift | LifecycleStage::ProductionTrafficShift
            )
        }) {
            return Err(format!("a pause hook cannot be at {stage}"));
        }
        if timeout.is_zero() || timeout > PAUSE_LIMIT {
            return Err("a pause hook's timeout is more than 0 and at most 14 days".to_owned());
        }
        Ok(PauseHook {
            stages,
            timeout,
            timeout_action,
        })
    }

    pub fn stages(&self) -> &BTreeSet<LifecycleStage> {
        &self.stages
    }

    /// `timeoutConfiguration.timeoutInMinutes`: how long ECS waits for an action.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `timeoutConfiguration.action`: what ECS does when nobody acted in time.
    pub fn timeout_action(&self) -> TimeoutAction {
        self.timeout_action
    }
}

/// The lifecycle hooks the walk meets: which flow is rehearsed.
#[derive(Clone, Copy)]
pub enum Hooks<'a> {
    /// Flow A: the Lambda hook, invoked at every stage.
    Lambda(&'a dyn LifecycleHook),
    /// Flow B: ECS pauses by itself at the hook's stages; nothing is invoked.
    Pause(&'a PauseHook),
}

/// How a deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentEnd {
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
pub enum SimulatedEvent {
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
    /// ECS paused at a pause hook's stage and waits for `ContinueServiceDeployment`.
    Paused {
        stage: LifecycleStage,
        hook_id: String,
        timeout: Duration,
        timeout_action: TimeoutAction,
    },
    /// `ContinueServiceDeployment` resolved the pause; `received` is when the call arrived.
    Continued {
        stage: LifecycleStage,
        action: Decision,
        received: Instant,
    },
    /// Nobody acted on the pause in time; ECS applies the hook's timeout action.
    PauseTimedOut {
        stage: LifecycleStage,
        action: TimeoutAction,
    },
    /// `StopServiceDeployment(ROLLBACK)` arrived at `received`; the walk now rolls back.
    Stopped { received: Instant },
    /// ECS emitted an EventBridge event; the rule forwards it to the gate topic.
    Emitted {
        detail_type: &'static str,
        name: String,
    },
    /// The rule could not deliver it (ECS carries on regardless).
    Undelivered { name: String, error: String },
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
    Finished(DeploymentEnd),
}

/// Told of every [`SimulatedEvent`] as it happens.
pub trait EcsObserver: Send + Sync {
    fn observe(&self, event: &SimulatedEvent);
}

/// A call greenlight made to ECS's service-deployment APIs, kept so the rehearsal can check
/// that exactly the calls it expects arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcsCall {
    Continue { hook_id: String, action: Decision },
    StopWithRollback,
}

/// Where the deployment is, as people watching it in the console would see it change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub status: &'static str,
    pub stage: Option<&'static str>,
}

/// A pause hook's execution at one stage.
#[derive(Debug, Clone)]
struct Pause {
    hook_id: String,
    stage: LifecycleStage,
    /// `AWAITING_ACTION`, then `SUCCEEDED`, `FAILED` or `TIMED_OUT`.
    status: &'static str,
    expires_at: DateTime<Utc>,
    timeout_action: TimeoutAction,
    /// The `ContinueServiceDeployment` that resolved it, and when it arrived.
    answer: Option<(Decision, Instant)>,
}

/// The deployment's state, as `DescribeServiceDeployments` would report it.
#[derive(Debug, Clone)]
struct State {
    status: &'static str,
    status_reason: Option<String>,
    /// As ECS spells it, so it includes `BAKE_TIME`.
    stage: Option<&'static str>,
    production: Weights,
    test: Weights,
    /// When the deployment last changed (ECS's `updatedAt`).
    updated_at: DateTime<Utc>,
    pauses: Vec<Pause>,
    /// When `StopServiceDeployment(ROLLBACK)` arrived; the walk rolls back at its next look.
    stop: Option<Instant>,
    calls: Vec<EcsCall>,
}

/// One service deployment, simulated. Shared: the rehearsal walks it while the hook and the bot
/// read and steer it through [`Deployments`].
pub struct SimulatedEcs {
    plan: DeploymentPlan,
    pace: Pace,
    state: Mutex<State>,
    /// Wakes the walk when a call changes what it waits for (a continue, a stop).
    poke: Notify,
    progress: watch::Sender<Progress>,
    /// The EventBridge rule that forwards ECS's events to the gate topic, if the rehearsal has
    /// one; without it ECS emits nothing. Attached after the bot is up, since the bot itself
    /// needs this ECS.
    event_rule: OnceLock<Arc<dyn TopicPublisher>>,
}

impl SimulatedEcs {
    pub fn new(plan: DeploymentPlan, pace: Pace) -> SimulatedEcs {
        let state = State {
            status: "PENDING",
            status_reason: None,
            stage: None,
            production: Weights::BLUE,
            test: Weights::BLUE,
            updated_at: Utc::now(),
            pauses: Vec::new(),
            stop: None,
            calls: Vec::new(),
        };
        SimulatedEcs {
            plan,
            pace,
            progress: watch::Sender::new(Progress {
                status: state.status,
                stage: state.stage,
            }),
            state: Mutex::new(state),
            poke: Notify::new(),
            event_rule: OnceLock::new(),
        }
    }

    /// From now on, emits ECS's EventBridge events (`ECS Hook State Change`, `ECS Deployment
    /// State Change`) to `topic`, as the EventBridge rule of the stack does. Only the first rule
    /// attached counts: a deployment's events go one way.
    pub fn attach_event_rule(&self, topic: Arc<dyn TopicPublisher>) {
        let _ = self.event_rule.set(topic);
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

    /// Every `ContinueServiceDeployment` and `StopServiceDeployment` ECS accepted, in order.
    pub fn calls(&self) -> Vec<EcsCall> {
        self.with_state(|state| state.calls.clone())
    }

    /// Waits until the deployment bakes (`true`), or has left the way to it: rolling back or
    /// over (`false`). What someone watching the deployment waits for before "Roll back now".
    pub async fn baking(&self) -> bool {
        let mut progress = self.progress.subscribe();
        let seen = progress
            .wait_for(|progress| {
                progress.stage == Some(BAKE_TIME)
                    || (progress.status != "IN_PROGRESS" && progress.status != "PENDING")
            })
            .await
            .map(|progress| *progress);
        matches!(
            seen,
            Ok(Progress {
                status: "IN_PROGRESS",
                stage: Some(BAKE_TIME)
            })
        )
    }

    /// Runs `action` on the state under its lock, then tells watchers if the status or stage
    /// changed.
    fn with_state<T>(&self, action: impl FnOnce(&mut State) -> T) -> T {
        let (result, now) = {
            // A panic elsewhere while holding the lock leaves the state as it was; keep using it.
            let mut state = match self.state.lock() {
                Ok(state) => state,
                Err(poisoned) => poisoned.into_inner(),
            };
            let result = action(&mut state);
            (
                result,
                Progress {
                    status: state.status,
                    stage: state.stage,
                },
            )
        };
        self.progress.send_if_modified(|progress| {
            let changed = *progress != now;
            *progress = now;
            changed
        });
        result
    }

    fn stop_requested(&self) -> Option<Instant> {
        self.with_state(|state| state.stop)
    }

    /// Walks the whole deployment, meeting `hooks` at every stage, and says how it ended.
    pub async fn deploy(&self, hooks: Hooks<'_>, observer: &dyn EcsObserver) -> DeploymentEnd {
        self.with_state(|state| {
            state.status = "IN_PROGRESS";
            state.updated_at = Utc::now();
        });
        let started = format!(
            "ECS deployment {} in progress.",
            DeploymentPlan::ecs_svc(&self.plan.green_revision)
        );
        self.emit_deployment_state("SERVICE_DEPLOYMENT_IN_PROGRESS", Some(&started), observer)
            .await;
        for stage in LifecycleStage::ALL {
            if let Some(received) = self.stop_requested() {
                observer.observe(&SimulatedEvent::Stopped { received });
                return self
                    .roll_back(Some(stage), "stopped with rollback".to_owned(), observer)
                    .await;
            }
            let (production, test) = self.with_state(|state| {
                state.stage = Some(stage.as_str());
                state.updated_at = Utc::now();
                // A traffic-shift stage is reported to its hooks with the shift done.
                match stage {
                    LifecycleStage::TestTrafficShift => state.test = Weights::GREEN,
                    LifecycleStage::ProductionTrafficShift => state.production = Weights::GREEN,
                    _ => {}
                }
                (state.production, state.test)
            });
            observer.observe(&SimulatedEvent::Stage {
                stage,
                production,
                test,
            });
            let passed = match hooks {
                Hooks::Lambda(hook) => self.run_hooks(stage, hook, observer).await,
                Hooks::Pause(pause) if pause.stages.contains(&stage) => {
                    self.pause(stage, pause, observer).await
                }
                Hooks::Pause(_) => Ok(()),
            };
            if let Err(reason) = passed {
                return self.roll_back(Some(stage), reason, observer).await;
            }
            if stage == LifecycleStage::PreScaleUp {
                let took = self.pace.scaled(self.pace.stage_work);
                tokio::time::sleep(took).await;
                observer.observe(&SimulatedEvent::Work {
                    what: "the new revision's tasks are running (green), with no traffic yet",
                    took,
                });
            }
        }
        let bake = self.pace.scaled(self.pace.bake_time);
        self.with_state(|state| {
            state.stage = Some(BAKE_TIME);
            state.updated_at = Utc::now();
        });
        observer.observe(&SimulatedEvent::Baking { waited: bake });
        if let Some(received) = self.wait_unless_stopped(bake).await {
            observer.observe(&SimulatedEvent::Stopped { received });
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
            state.updated_at = Utc::now();
        });
        self.emit_deployment_state("SERVICE_DEPLOYMENT_COMPLETED", None, observer)
            .await;
        observer.observe(&SimulatedEvent::Finished(DeploymentEnd::Successful));
        DeploymentEnd::Successful
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
            observer.observe(&SimulatedEvent::Invoked {
                stage,
                attempt,
                hook_details: hook_details.clone(),
            });
            let called = Instant::now();
            let response = hook
                .invoke(self.payload(stage, &execution_id, &hook_details))
                .await;
            observer.observe(&SimulatedEvent::Answered {
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
            observer.observe(&SimulatedEvent::Waiting {
                stage,
                requested,
                waited,
            });
            tokio::time::sleep(waited).await;
        }
        Err(format!("{stage}: the hook was invoked too many times"))
    }

    /// Pauses at `stage` until `ContinueServiceDeployment`, a stop, or the hook's timeout:
    /// `Ok` to go on, `Err` with the reason to roll back.
    ///
    /// The hook's timeout is a setting of the service (`timeoutInMinutes`), so unlike ECS's own
    /// waits it is not scaled by the rehearsal's speed: the card's deadline is the real one.
    async fn pause(
        &self,
        stage: LifecycleStage,
        hook: &PauseHook,
        observer: &dyn EcsObserver,
    ) -> Result<(), String> {
        let hook_id = self.plan.pause_hook_id(stage);
        let deadline = Instant::now() + hook.timeout;
        let expires_at = Utc::now() + chrono::Duration::from_std(hook.timeout).unwrap_or_default();
        let pause = Pause {
            hook_id: hook_id.clone(),
            stage,
            status: "AWAITING_ACTION",
            expires_at,
            timeout_action: hook.timeout_action,
            answer: None,
        };
        self.with_state(|state| {
            state.pauses.push(pause.clone());
            state.updated_at = Utc::now();
        });
        observer.observe(&SimulatedEvent::Paused {
            stage,
            hook_id: hook_id.clone(),
            timeout: hook.timeout,
            timeout_action: hook.timeout_action,
        });
        self.emit_hook_state("HOOK_AWAITING_ACTION", &pause, observer)
            .await;
        loop {
            // Registered before looking, so a call that lands in between still wakes us.
            let poked = self.poke.notified();
            let (answer, stop) = self.with_state(|state| {
                let answer = state
                    .pauses
                    .iter()
                    .find(|p| p.hook_id == hook_id)
                    .and_then(|p| p.answer);
                (answer, state.stop)
            });
            if let Some((action, received)) = answer {
                observer.observe(&SimulatedEvent::Continued {
                    stage,
                    action,
                    received,
                });
                let (name, ended) = match action {
                    Decision::Approved => ("HOOK_SUCCEEDED", Ok(())),
                    Decision::Rejected => (
                        "HOOK_FAILED",
                        Err(format!("ContinueServiceDeployment(ROLLBACK) at {stage}")),
                    ),
                };
                let now = self.pause_state(&hook_id).unwrap_or(pause);
                self.emit_hook_state(name, &now, observer).await;
                return ended;
            }
            if let Some(received) = stop {
                observer.observe(&SimulatedEvent::Stopped { received });
                return Err(format!("stopped with rollback while paused at {stage}"));
            }
            if Instant::now() >= deadline {
                let timed_out = self.with_state(|state| {
                    let found = state.pauses.iter_mut().find(|p| p.hook_id == hook_id)?;
                    found.status = "TIMED_OUT";
                    Some(found.clone())
                });
                observer.observe(&SimulatedEvent::PauseTimedOut {
                    stage,
                    action: hook.timeout_action,
                });
                let now = timed_out.unwrap_or(pause);
                self.emit_hook_state("HOOK_TIMED_OUT", &now, observer).await;
                return match hook.timeout_action {
                    TimeoutAction::Continue => Ok(()),
                    TimeoutAction::Rollback => Err(format!(
                        "the pause hook at {stage} timed out; its timeout action is ROLLBACK"
                    )),
                };
            }
            tokio::select! {
                _ = poked => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    fn pause_state(&self, hook_id: &str) -> Option<Pause> {
        self.with_state(|state| state.pauses.iter().find(|p| p.hook_id == hook_id).cloned())
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
    ) -> DeploymentEnd {
        let (production, test) = self.with_state(|state| {
            state.status = "ROLLBACK_IN_PROGRESS";
            state.status_reason = Some(reason.clone());
            state.production = Weights::BLUE;
            state.test = Weights::BLUE;
            state.updated_at = Utc::now();
            (state.production, state.test)
        });
        observer.observe(&SimulatedEvent::RollingBack {
            stage,
            reason: reason.clone(),
            production,
            test,
        });
        // ECS tells a rollback from a deployment only by the reason of the same event.
        let rolling_back = format!(
            "{reason}: rolling back to deploymentId {}.",
            DeploymentPlan::ecs_svc(&self.plan.blue_revision)
        );
        self.emit_deployment_state(
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            Some(&rolling_back),
            observer,
        )
        .await;
        tokio::time::sleep(self.pace.scaled(self.pace.stage_work)).await;
        self.with_state(|state| {
            state.status = "ROLLBACK_SUCCESSFUL";
            state.stage = None;
            state.updated_at = Utc::now();
        });
        self.emit_deployment_state("SERVICE_DEPLOYMENT_COMPLETED", None, observer)
            .await;
        let outcome = DeploymentEnd::RolledBack { stage, reason };
        observer.observe(&SimulatedEvent::Finished(outcome.clone()));
        outcome
    }

    /// Sleeps for `wait`; `Some(when it arrived)` if a stop was requested meanwhile.
    async fn wait_unless_stopped(&self, wait: Duration) -> Option<Instant> {
        let until = Instant::now() + wait;
        loop {
            let poked = self.poke.notified();
            if let Some(received) = self.stop_requested() {
                return Some(received);
            }
            if Instant::now() >= until {
                return None;
            }
            tokio::select! {
                _ = poked => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    /// Emits an `ECS Hook State Change` event about `pause`.
    async fn emit_hook_state(&self, name: &str, pause: &Pause, observer: &dyn EcsObserver) {
        let event = self.hook_state_change(name, pause, Utc::now());
        self.emit(HOOK_STATE_CHANGE, name, event, observer).await;
    }

    /// Emits an `ECS Deployment State Change` event about this deployment.
    async fn emit_deployment_state(
        &self,
        name: &str,
        reason: Option<&str>,
        observer: &dyn EcsObserver,
    ) {
        let event = self.deployment_state_change(name, reason, Utc::now());
        self.emit(DEPLOYMENT_STATE_CHANGE, name, event, observer)
            .await;
    }

    /// Hands an event to the EventBridge rule, which publishes it to the topic. Like ECS, the
    /// walk does not depend on anyone receiving it.
    async fn emit(
        &self,
        detail_type: &'static str,
        name: &str,
        event: Value,
        observer: &dyn EcsObserver,
    ) {
        let Some(rule) = self.event_rule.get() else {
            return;
        };
        observer.observe(&SimulatedEvent::Emitted {
            detail_type,
            name: name.to_owned(),
        });
        if let Err(error) = rule.publish(&event.to_string()).await {
            observer.observe(&SimulatedEvent::Undelivered {
                name: name.to_owned(),
                error: error.to_string(),
            });
        }
    }

    /// The EventBridge envelope every ECS event comes in.
    fn envelope(
        &self,
        detail_type: &str,
        resource: String,
        detail: Value,
        now: DateTime<Utc>,
    ) -> Value {
        json!({
            "version": "0",
            "id": event_id(&detail),
            "detail-type": detail_type,
            "source": "aws.ecs",
            "account": self.plan.account,
            "time": now.to_rfc3339_opts(SecondsFormat::Secs, true),
            "region": self.plan.region,
            "resources": [resource],
            "detail": detail,
        })
    }

    /// `ECS Hook State Change`, in the shape the bot reads (see docs/pause-hooks.md).
    fn hook_state_change(&self, name: &str, pause: &Pause, now: DateTime<Utc>) -> Value {
        let detail = json!({
            "eventType": if name == "HOOK_FAILED" || name == "HOOK_TIMED_OUT" { "WARN" } else { "INFO" },
            "eventName": name,
            "hookId": pause.hook_id,
            "hookType": "PAUSE",
            "lifecycleStage": pause.stage.as_str(),
            "expiresAt": pause.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "clusterArn": self.plan.cluster_arn(),
            "serviceArn": self.plan.service_arn(),
            "serviceDeploymentArn": self.plan.deployment_arn(),
            "updatedAt": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        self.envelope(HOOK_STATE_CHANGE, self.plan.deployment_arn(), detail, now)
    }

    /// `ECS Deployment State Change`, as documented: it names the service and an `ecs-svc/…`
    /// deployment id, not the service-deployment ARN. The documentation shows a reason only for
    /// the start of a deployment or a rollback, so a completion carries none.
    fn deployment_state_change(
        &self,
        name: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Value {
        let mut detail = json!({
            "eventType": "INFO",
            "eventName": name,
            "deploymentId": DeploymentPlan::ecs_svc(&self.plan.green_revision),
            "updatedAt": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if let (Some(reason), Some(object)) = (reason, detail.as_object_mut()) {
            object.insert("reason".to_owned(), json!(reason));
        }
        self.envelope(
            DEPLOYMENT_STATE_CHANGE,
            self.plan.service_arn(),
            detail,
            now,
        )
    }

    fn is_this(&self, arn: &str) -> bool {
        arn == self.plan.deployment_arn()
    }
}

/// An EventBridge event id: unique per event, in EventBridge's UUID shape.
fn event_id(detail: &Value) -> String {
    let digest = Sha256::digest(detail.to_string());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    crate::domain::text::uuid_text(&bytes)
}

/// `CONTINUE` or `ROLLBACK`, as the API spells them.
pub fn action_name(action: Decision) -> &'static str {
    match action {
        Decision::Approved => "CONTINUE",
        Decision::Rejected => "ROLLBACK",
    }
}

#[async_trait]
impl DeploymentLookup for SimulatedEcs {
    async fn describe(&self, arn: &str) -> Result<Option<DeploymentState>, AdapterError> {
        if !self.is_this(arn) {
            return Ok(None);
        }
        let state = self.with_state(|state| state.clone());
        Ok(Some(DeploymentState {
            arn: arn.to_owned(),
            status: DeploymentStatus::from_ecs(state.status),
            status_reason: state.status_reason,
            lifecycle_stage: state.stage.map(DeploymentStage::from_ecs),
            rollback: None,
            // A replacing deployment: blue is what it replaces, so the hook gates it.
            source_revisions: vec![self.plan.revision_arn(&self.plan.blue_revision)],
            target_revision: Some(self.plan.revision_arn(&self.plan.green_revision)),
            hooks: state
                .pauses
                .iter()
                .map(|pause| HookState {
                    hook_id: pause.hook_id.clone(),
                    target_type: HookTargetType::Pause,
                    status: LifecycleHookStatus::from_ecs(pause.status),
                    expires_at: Some(pause.expires_at),
                    timeout_action: Some(pause.timeout_action),
                })
                .collect(),
            updated_at: Some(state.updated_at),
            // The rehearsal bakes for seconds, which `bakeTimeInMinutes` cannot say: leaving it
            // out keeps the card from promising minutes of bake time.
            plan: TrafficPlan {
                strategy: Some("BLUE_GREEN".to_owned()),
                ..TrafficPlan::default()
            },
            target_production_weight: Some(f64::from(state.production.green)),
            alarms: None,
            target_tasks: None,
        }))
    }
}

#[async_trait]
impl Deployments for SimulatedEcs {
    /// Blue runs task definition `{service}:42` with image `1.8.3`, green `{service}:43` with
    /// `1.9.0`: what the card's "Deploying" field shows in the rehearsal.
    async fn revisions(&self, arns: &[String]) -> Result<Vec<RevisionDetails>, AdapterError> {
        let revision = |name: &str, number: u32, tag: &str| RevisionDetails {
            arn: self.plan.revision_arn(name),
            task_definition: format!(
                "arn:aws:ecs:{}:{}:task-definition/{}:{number}",
                self.plan.region, self.plan.account, self.plan.service
            ),
            images: vec![ContainerImage {
                container: "app".to_owned(),
                image: format!(
                    "{}.dkr.ecr.{}.amazonaws.com/{}:{tag}",
                    self.plan.account, self.plan.region, self.plan.service
                ),
                digest: None,
            }],
        };
        let known = [
            revision(&self.plan.blue_revision, 42, "1.8.3"),
            revision(&self.plan.green_revision, 43, "1.9.0"),
        ];
        Ok(known
            .into_iter()
            .filter(|revision| arns.contains(&revision.arn))
            .collect())
    }

    async fn task_definition_tags(
        &self,
        _task_definition: &str,
    ) -> Result<Vec<(String, String)>, AdapterError> {
        Ok(self
            .plan
            .deployer
            .iter()
            .map(|who| (DEPLOYER_TAG.to_owned(), who.clone()))
            .collect())
    }

    async fn continue_hook(
        &self,
        arn: &str,
        hook_id: &str,
        action: Decision,
    ) -> Result<(), AdapterError> {
        const OPERATION: &str = "ecs:ContinueServiceDeployment";
        if !self.is_this(arn) {
            return Err(AdapterError::permanent(
                OPERATION,
                format!("ServiceDeploymentNotFoundException: {arn}"),
            ));
        }
        let received = Instant::now();
        self.with_state(|state| {
            if state.status != "IN_PROGRESS" {
                return Err(format!(
                    "InvalidParameterException: the deployment is {}, not IN_PROGRESS",
                    state.status
                ));
            }
            let Some(pause) = state.pauses.iter_mut().find(|p| p.hook_id == hook_id) else {
                return Err(format!(
                    "InvalidParameterException: no pause hook {hook_id} in this deployment"
                ));
            };
            if pause.status != "AWAITING_ACTION" {
                return Err(format!(
                    "InvalidParameterException: the hook is {}, not AWAITING_ACTION",
                    pause.status
                ));
            }
            // The documentation does not say which state a pause resolved with ROLLBACK ends
            // in; FAILED is what a failed Lambda hook ends in, and what the bot reads as such.
            pause.status = match action {
                Decision::Approved => "SUCCEEDED",
                Decision::Rejected => "FAILED",
            };
            pause.answer = Some((action, received));
            state.calls.push(EcsCall::Continue {
                hook_id: hook_id.to_owned(),
                action,
            });
            Ok(())
        })
        .map_err(|message| AdapterError::permanent(OPERATION, message))?;
        self.poke.notify_one();
        Ok(())
    }

    async fn stop_with_rollback(&self, arn: &str) -> Result<(), AdapterError> {
        const OPERATION: &str = "ecs:StopServiceDeployment";
        if !self.is_this(arn) {
            return Err(AdapterError::permanent(
                OPERATION,
                format!("ServiceDeploymentNotFoundException: {arn}"),
            ));
        }
        let received = Instant::now();
        self.with_state(|state| match state.status {
            // ECS takes a stop of a running deployment, and carries on with one already asked.
            "PENDING" | "IN_PROGRESS" => {
                state.status = "ROLLBACK_REQUESTED";
                state.stop = Some(received);
                state.calls.push(EcsCall::StopWithRollback);
                Ok(())
            }
            "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => {
                state.calls.push(EcsCall::StopWithRollback);
                Ok(())
            }
            status => Err(format!(
                "InvalidParameterException: the deployment is {status}; there is nothing to stop"
            )),
        })
        .map_err(|message| AdapterError::permanent(OPERATION, message))?;
        self.poke.notify_one();
        Ok(())
    }
}

impl fmt::Display for EcsCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EcsCall::Continue { hook_id, action } => write!(
                f,
                "ContinueServiceDeployment(hookId {hook_id}, action {})",
                action_name(*action)
            ),
            EcsCall::StopWithRollback => write!(f, "StopServiceDeployment(stopType ROLLBACK)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::SubsecRound;

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
            deployer: None,
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
    struct Recorder(Mutex<Vec<SimulatedEvent>>);

    impl EcsObserver for Recorder {
        fn observe(&self, event: &SimulatedEvent) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    impl Recorder {
        fn events(&self) -> Vec<SimulatedEvent> {
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
        assert_eq!(
            ecs.deploy(Hooks::Lambda(&hook), &recorder).await,
            DeploymentEnd::Successful
        );
        let expected: Vec<&str> = LifecycleStage::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(hook.stages(), expected);
        assert_eq!(ecs.status(), "SUCCESSFUL");
        assert_eq!(ecs.weights(), (Weights::GREEN, Weights::GREEN));
        let events = recorder.events();
        assert!(matches!(
            events.last(),
            Some(SimulatedEvent::Finished(DeploymentEnd::Successful))
        ));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SimulatedEvent::Baking { .. }))
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SimulatedEvent::Work { .. }))
        );
    }

    #[tokio::test]
    async fn traffic_moves_test_first_then_production() {
        let ecs = SimulatedEcs::new(plan(), pace());
        let recorder = Recorder::default();
        ecs.deploy(Hooks::Lambda(&Scripted::default()), &recorder)
            .await;
        let weights: Vec<(LifecycleStage, Weights, Weights)> = recorder
            .events()
            .into_iter()
            .filter_map(|event| match event {
                SimulatedEvent::Stage {
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
        ecs.deploy(Hooks::Lambda(&hook), &Recorder::default()).await;
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
        assert_eq!(
            ecs.deploy(Hooks::Lambda(&hook), &recorder).await,
            DeploymentEnd::Successful
        );

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
                SimulatedEvent::Waiting {
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
        let outcome = ecs.deploy(Hooks::Lambda(&hook), &recorder).await;
        assert_eq!(
            outcome,
            DeploymentEnd::RolledBack {
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
                .any(|e| matches!(e, SimulatedEvent::Baking { .. }))
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
        let outcome = ecs.deploy(Hooks::Lambda(&hook), &Recorder::default()).await;
        let DeploymentEnd::RolledBack { stage, reason } = outcome else {
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
        ecs.deploy(Hooks::Lambda(&hook), &recorder).await;
        assert!(recorder.events().contains(&SimulatedEvent::Waiting {
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
        assert_eq!(state.status.as_str(), "PENDING");
        assert_eq!(state.source_revisions, vec![plan().revision_arn("41")]);
        assert_eq!(state.target_revision, Some(plan().revision_arn("42")));
        let other = plan().deployment_arn().replace("dep1", "dep2");
        assert_eq!(ecs.describe(&other).await.unwrap(), None);
        assert!(
            ecs.continue_hook(&plan().deployment_arn(), "h", Decision::Approved)
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
        let walk = tokio::spawn(async move {
            walking
                .deploy(Hooks::Lambda(&Scripted::default()), &*seen)
                .await
        });
        while !recorder
            .events()
            .iter()
            .any(|e| matches!(e, SimulatedEvent::Baking { .. }))
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ecs.stop_with_rollback(&plan().deployment_arn())
            .await
            .unwrap();
        let outcome = walk.await.unwrap();
        assert!(
            matches!(outcome, DeploymentEnd::RolledBack { stage: None, .. }),
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

    /// The EventBridge rule's target: keeps every event ECS emits, parsed.
    #[derive(Default)]
    struct Rule(Mutex<Vec<Value>>);

    #[async_trait]
    impl TopicPublisher for Rule {
        async fn publish(&self, message: &str) -> Result<(), AdapterError> {
            self.0
                .lock()
                .unwrap()
                .push(serde_json::from_str(message).unwrap());
            Ok(())
        }
    }

    impl Rule {
        fn events(&self) -> Vec<Value> {
            self.0.lock().unwrap().clone()
        }

        /// `eventName` of each event, in order.
        fn names(&self) -> Vec<String> {
            self.events()
                .iter()
                .map(|e| e["detail"]["eventName"].as_str().unwrap().to_owned())
                .collect()
        }
    }

    fn pause_at_post_test(timeout: Duration, action: TimeoutAction) -> PauseHook {
        PauseHook::new([LifecycleStage::PostTestTrafficShift], timeout, action).unwrap()
    }

    /// A paused deployment walking in the background, with its recorder and its rule.
    struct Paused {
        /// Just before the walk began.
        started: DateTime<Utc>,
        ecs: Arc<SimulatedEcs>,
        recorder: Arc<Recorder>,
        rule: Arc<Rule>,
        walk: tokio::task::JoinHandle<DeploymentEnd>,
    }

    /// Starts the walk with a pause hook and waits until ECS lists the pause.
    async fn paused(hook: PauseHook, pace: Pace) -> Paused {
        let ecs = Arc::new(SimulatedEcs::new(plan(), pace));
        let rule = Arc::new(Rule::default());
        ecs.attach_event_rule(rule.clone());
        let recorder = Arc::new(Recorder::default());
        let (walking, seen) = (Arc::clone(&ecs), Arc::clone(&recorder));
        let started = Utc::now();
        let walk = tokio::spawn(async move { walking.deploy(Hooks::Pause(&hook), &*seen).await });
        while !rule.names().contains(&"HOOK_AWAITING_ACTION".to_owned()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Paused {
            started,
            ecs,
            recorder,
            rule,
            walk,
        }
    }

    #[test]
    fn a_pause_hook_is_refused_where_ecs_refuses_it() {
        let minute = Duration::from_secs(60);
        for stage in [
            LifecycleStage::TestTrafficShift,
            LifecycleStage::ProductionTrafficShift,
        ] {
            let error = PauseHook::new([stage], minute, TimeoutAction::Rollback).unwrap_err();
            assert!(error.contains(stage.as_str()), "{error}");
        }
        assert!(PauseHook::new([], minute, TimeoutAction::Rollback).is_err());
        assert!(
            PauseHook::new(
                [LifecycleStage::PostTestTrafficShift],
                PAUSE_LIMIT + minute,
                TimeoutAction::Rollback
            )
            .is_err()
        );
        assert!(
            PauseHook::new(
                [LifecycleStage::PostTestTrafficShift],
                Duration::ZERO,
                TimeoutAction::Rollback
            )
            .is_err()
        );
        let hook = pause_at_post_test(minute, TimeoutAction::Continue);
        assert_eq!(hook.timeout_action(), TimeoutAction::Continue);
        assert!(
            hook.stages()
                .contains(&LifecycleStage::PostTestTrafficShift)
        );
    }

    #[test]
    fn pause_hook_ids_look_like_ecss_and_differ_per_deployment_and_stage() {
        let id = plan().pause_hook_id(LifecycleStage::PostTestTrafficShift);
        assert!(id.starts_with("ecs-pause-"), "{id}");
        assert_eq!(id.len(), "ecs-pause-".len() + 43);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(id, plan().pause_hook_id(LifecycleStage::PostScaleUp));
        let other = DeploymentPlan {
            deployment_id: "dep2".into(),
            ..plan()
        };
        assert_ne!(
            id,
            other.pause_hook_id(LifecycleStage::PostTestTrafficShift)
        );
    }

    #[tokio::test]
    async fn a_paused_deployment_waits_as_describe_and_its_event_say() {
        let paused = paused(
            pause_at_post_test(Duration::from_secs(60), TimeoutAction::Rollback),
            pace(),
        )
        .await;
        let arn = plan().deployment_arn();
        let hook_id = plan().pause_hook_id(LifecycleStage::PostTestTrafficShift);

        let state = paused.ecs.describe(&arn).await.unwrap().unwrap();
        assert_eq!(state.status.as_str(), "IN_PROGRESS");
        assert_eq!(state.stage_word(), Some("POST_TEST_TRAFFIC_SHIFT"));
        let hook = state.hook(&hook_id).unwrap();
        assert_eq!(hook.target_type, HookTargetType::Pause);
        assert_eq!(hook.status.as_str(), "AWAITING_ACTION");
        assert_eq!(hook.timeout_action, Some(TimeoutAction::Rollback));
        // The hook's timeout from when ECS paused.
        let expires_at = hook.expires_at.unwrap();
        let timeout = chrono::Duration::seconds(60);
        assert!(expires_at >= paused.started + timeout, "{expires_at}");
        assert!(expires_at <= Utc::now() + timeout, "{expires_at}");
        assert_eq!(paused.ecs.weights(), (Weights::BLUE, Weights::GREEN));

        // The event, as the bot reads it.
        let events = paused.rule.events();
        assert_eq!(
            paused.rule.names(),
            ["SERVICE_DEPLOYMENT_IN_PROGRESS", "HOOK_AWAITING_ACTION"]
        );
        let awaiting = &events[1];
        assert_eq!(awaiting["source"], "aws.ecs");
        assert_eq!(awaiting["detail-type"], "ECS Hook State Change");
        assert_eq!(awaiting["detail"]["hookId"], hook_id.as_str());
        assert_eq!(awaiting["detail"]["serviceDeploymentArn"], arn.as_str());
        assert_eq!(
            awaiting["detail"]["lifecycleStage"],
            "POST_TEST_TRAFFIC_SHIFT"
        );
        let event: crate::domain::notification::EcsEvent =
            serde_json::from_value(awaiting.clone()).unwrap();
        let read = crate::domain::progress::HookEvent::from_event(&event).unwrap();
        assert_eq!(
            read.name,
            crate::domain::progress::HookEventName::AwaitingAction
        );
        assert!(read.is_pause());
        assert_eq!(read.deployment.to_string(), arn);
        assert_eq!(read.expires_at, Some(expires_at.trunc_subsecs(0)));
        // Nothing was invoked: a pause hook is not a Lambda.
        assert!(
            !paused
                .recorder
                .events()
                .iter()
                .any(|e| matches!(e, SimulatedEvent::Invoked { .. }))
        );
        paused.walk.abort();
    }

    #[tokio::test]
    async fn continue_resumes_the_walk_and_ecs_reports_it() {
        let paused = paused(
            pause_at_post_test(Duration::from_secs(60), TimeoutAction::Rollback),
            pace(),
        )
        .await;
        let arn = plan().deployment_arn();
        let hook_id = plan().pause_hook_id(LifecycleStage::PostTestTrafficShift);
        paused
            .ecs
            .continue_hook(&arn, &hook_id, Decision::Approved)
            .await
            .unwrap();
        // A second answer finds the pause resolved, as ECS would.
        let again = paused
            .ecs
            .continue_hook(&arn, &hook_id, Decision::Rejected)
            .await
            .unwrap_err();
        assert!(again.message.contains("not AWAITING_ACTION"), "{again}");

        assert_eq!(paused.walk.await.unwrap(), DeploymentEnd::Successful);
        assert_eq!(paused.ecs.status(), "SUCCESSFUL");
        assert_eq!(paused.ecs.weights(), (Weights::GREEN, Weights::GREEN));
        assert_eq!(
            paused.ecs.calls(),
            [EcsCall::Continue {
                hook_id: hook_id.clone(),
                action: Decision::Approved
            }]
        );
        assert_eq!(
            paused.rule.names(),
            [
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                "HOOK_AWAITING_ACTION",
                "HOOK_SUCCEEDED",
                "SERVICE_DEPLOYMENT_COMPLETED"
            ]
        );
        let completed = paused.rule.events().pop().unwrap();
        let event: crate::domain::notification::EcsEvent =
            serde_json::from_value(completed).unwrap();
        let read = crate::domain::progress::DeploymentEvent::from_event(&event).unwrap();
        assert_eq!(
            (read.cluster.as_deref(), read.service.as_deref()),
            (Some("rehearsal"), Some("web"))
        );
        let state = paused.ecs.describe(&arn).await.unwrap().unwrap();
        assert_eq!(state.hook(&hook_id).unwrap().status.as_str(), "SUCCEEDED");
        let continued = paused.recorder.events().into_iter().find_map(|e| match e {
            SimulatedEvent::Continued { action, .. } => Some(action),
            _ => None,
        });
        assert_eq!(continued, Some(Decision::Approved));
    }

    #[tokio::test]
    async fn a_rollback_answer_rolls_back_and_says_so_in_its_events() {
        let paused = paused(
            pause_at_post_test(Duration::from_secs(60), TimeoutAction::Continue),
            pace(),
        )
        .await;
        let hook_id = plan().pause_hook_id(LifecycleStage::PostTestTrafficShift);
        paused
            .ecs
            .continue_hook(&plan().deployment_arn(), &hook_id, Decision::Rejected)
            .await
            .unwrap();
        let outcome = paused.walk.await.unwrap();
        assert!(
            matches!(
                outcome,
                DeploymentEnd::RolledBack {
                    stage: Some(LifecycleStage::PostTestTrafficShift),
                    ..
                }
            ),
            "{outcome:?}"
        );
        assert_eq!(paused.ecs.status(), "ROLLBACK_SUCCESSFUL");
        assert_eq!(paused.ecs.weights(), (Weights::BLUE, Weights::BLUE));
        assert_eq!(
            paused.rule.names(),
            [
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                "HOOK_AWAITING_ACTION",
                "HOOK_FAILED",
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                "SERVICE_DEPLOYMENT_COMPLETED"
            ]
        );
        // ECS tells the rollback's start by its reason alone; the bot must read it as one.
        let rolling_back = &paused.rule.events()[3];
        let reason = rolling_back["detail"]["reason"].as_str().unwrap();
        assert_eq!(
            crate::domain::progress::DeploymentPhase::from_event(
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                Some(reason),
                None
            ),
            Some(crate::domain::progress::DeploymentPhase::RollingBack)
        );
    }

    #[tokio::test]
    async fn an_unanswered_pause_times_out_with_the_hooks_action() {
        for (action, ended) in [
            (TimeoutAction::Rollback, "ROLLBACK_SUCCESSFUL"),
            (TimeoutAction::Continue, "SUCCESSFUL"),
        ] {
            let paused = paused(
                pause_at_post_test(Duration::from_millis(50), action),
                pace(),
            )
            .await;
            let outcome = paused.walk.await.unwrap();
            assert_eq!(paused.ecs.status(), ended, "{outcome:?}");
            let names = paused.rule.names();
            assert_eq!(names[2], "HOOK_TIMED_OUT", "{names:?}");
            let state = paused
                .ecs
                .describe(&plan().deployment_arn())
                .await
                .unwrap()
                .unwrap();
            let hook_id = plan().pause_hook_id(LifecycleStage::PostTestTrafficShift);
            assert_eq!(state.hook(&hook_id).unwrap().status.as_str(), "TIMED_OUT");
            assert!(paused.ecs.calls().is_empty());
            assert!(
                paused
                    .recorder
                    .events()
                    .contains(&SimulatedEvent::PauseTimedOut {
                        stage: LifecycleStage::PostTestTrafficShift,
                        action,
                    })
            );
        }
    }

    #[tokio::test]
    async fn continue_is_refused_for_what_is_not_waiting() {
        let ecs = SimulatedEcs::new(plan(), pace());
        let arn = plan().deployment_arn();
        let hook_id = plan().pause_hook_id(LifecycleStage::PostTestTrafficShift);
        // Not started yet.
        assert!(
            ecs.continue_hook(&arn, &hook_id, Decision::Approved)
                .await
                .is_err()
        );
        let paused = paused(
            pause_at_post_test(Duration::from_secs(60), TimeoutAction::Rollback),
            pace(),
        )
        .await;
        let other = arn.replace("dep1", "dep2");
        let unknown = paused
            .ecs
            .continue_hook(&other, &hook_id, Decision::Approved)
            .await
            .unwrap_err();
        assert!(unknown.message.contains("NotFound"), "{unknown}");
        let wrong_hook = paused
            .ecs
            .continue_hook(&arn, "ecs-pause-other", Decision::Approved)
            .await
            .unwrap_err();
        assert!(wrong_hook.message.contains("no pause hook"), "{wrong_hook}");
        assert!(paused.ecs.calls().is_empty());
        paused.walk.abort();
    }

    #[tokio::test]
    async fn a_stop_while_paused_rolls_back_without_continuing() {
        let paused = paused(
            pause_at_post_test(Duration::from_secs(60), TimeoutAction::Continue),
            pace(),
        )
        .await;
        let arn = plan().deployment_arn();
        paused.ecs.stop_with_rollback(&arn).await.unwrap();
        let hook_id = plan().pause_hook_id(LifecycleStage::PostTestTrafficShift);
        // Stopped, the deployment is no longer IN_PROGRESS: nothing can continue it.
        assert!(
            paused
                .ecs
                .continue_hook(&arn, &hook_id, Decision::Approved)
                .await
                .is_err()
        );
        let outcome = paused.walk.await.unwrap();
        assert!(
            matches!(&outcome, DeploymentEnd::RolledBack { reason, .. } if reason.contains("stopped")),
            "{outcome:?}"
        );
        assert_eq!(paused.ecs.calls(), [EcsCall::StopWithRollback]);
        assert!(
            paused
                .recorder
                .events()
                .iter()
                .any(|e| matches!(e, SimulatedEvent::Stopped { .. }))
        );
    }

    #[tokio::test]
    async fn people_watching_see_the_bake_time_or_that_it_never_came() {
        let ecs = Arc::new(SimulatedEcs::new(
            plan(),
            Pace {
                bake_time: Duration::from_secs(500),
                ..pace()
            },
        ));
        let walking = Arc::clone(&ecs);
        let walk = tokio::spawn(async move {
            walking
                .deploy(Hooks::Lambda(&Scripted::default()), &Recorder::default())
                .await
        });
        assert!(ecs.baking().await);
        let state = ecs
            .describe(&plan().deployment_arn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.stage_word(), Some(BAKE_TIME));
        assert_eq!(state.target_production_weight, Some(100.0));
        ecs.stop_with_rollback(&plan().deployment_arn())
            .await
            .unwrap();
        walk.await.unwrap();

        let failing = SimulatedEcs::new(plan(), pace());
        let hook = Scripted::default().at(
            LifecycleStage::PreScaleUp,
            vec![HookResponse::finished(HookStatus::Failed, None)],
        );
        let recorder = Recorder::default();
        let (deployed, baked) = tokio::join!(
            failing.deploy(Hooks::Lambda(&hook), &recorder),
            failing.baking()
        );
        assert!(matches!(deployed, DeploymentEnd::RolledBack { .. }));
        assert!(!baked);
    }

    #[tokio::test]
    async fn without_an_event_rule_ecs_emits_nothing() {
        let ecs = SimulatedEcs::new(plan(), pace());
        let recorder = Recorder::default();
        ecs.deploy(Hooks::Lambda(&Scripted::default()), &recorder)
            .await;
        assert!(
            !recorder
                .events()
                .iter()
                .any(|e| matches!(e, SimulatedEvent::Emitted { .. }))
        );
    }
}
