//! The simulated ECS's story, told line by line, and the moments ECS sees the gate's answer and a
//! stop marked on the timeline.
//!
//! A stage that is not gated takes one line: its weights and the hook's answer (Flow A), or just
//! its weights (Flow B, where nothing is invoked). The gated or paused stage is told as it
//! happens, since the gate request, the card and the clicks come in between.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::domain::lifecycle::HookStatus;
use crate::domain::stage::LifecycleStage;

use super::console::{Console, human};
use super::ecs::{DeploymentEnd, EcsObserver, SimulatedEvent, Weights, action_name};
use super::timeline::Timeline;

/// Tells the story of the simulated ECS, and marks when ECS sees the gate's answer.
pub struct Narrator {
    console: Arc<Console>,
    timeline: Arc<Timeline>,
    /// The stages the Lambda hook gates (empty in Flow B: ECS says itself where it pauses).
    gated: BTreeSet<LifecycleStage>,
    speed: f64,
    /// A stage's line, held until its hook answers, so an ungated stage takes one line.
    pending: Mutex<Option<String>>,
}

/// Where one listener's traffic goes, in a word when it all goes one way.
pub fn on(weights: Weights) -> String {
    match (weights.blue, weights.green) {
        (100, 0) => "blue".to_owned(),
        (0, 100) => "green".to_owned(),
        _ => weights.to_string(),
    }
}

impl Narrator {
    pub fn new(
        console: Arc<Console>,
        timeline: Arc<Timeline>,
        gated: BTreeSet<LifecycleStage>,
        speed: f64,
    ) -> Narrator {
        Narrator {
            console,
            timeline,
            gated,
            speed,
            pending: Mutex::new(None),
        }
    }

    fn take_pending(&self) -> Option<String> {
        match self.pending.lock() {
            Ok(mut pending) => pending.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    fn hold(&self, line: String) {
        match self.pending.lock() {
            Ok(mut pending) => *pending = Some(line),
            Err(poisoned) => *poisoned.into_inner() = Some(line),
        }
    }

    fn flush(&self) {
        if let Some(line) = self.take_pending() {
            // Without a hook's answer after it, the padded weights end the line.
            self.console.line("ecs", line.trim_end());
        }
    }
}

impl EcsObserver for Narrator {
    fn observe(&self, event: &SimulatedEvent) {
        match event {
            SimulatedEvent::Stage {
                stage,
                production,
                test,
            } => {
                self.flush();
                let line = format!(
                    "{:<30} prod {:<6} test {:<6}",
                    stage.as_str(),
                    on(*production),
                    on(*test)
                );
                if self.gated.contains(stage) {
                    self.console
                        .line("ecs", &format!("{line} hook: invoked, gated stage"));
                } else {
                    self.hold(line);
                }
            }
            SimulatedEvent::Work { what, took } => {
                self.flush();
                self.console
                    .line("ecs", &format!("{what} ({})", human(*took)));
            }
            SimulatedEvent::Invoked {
                attempt,
                hook_details,
                ..
            } => {
                if *attempt > 1 {
                    self.flush();
                    let keys: Vec<&str> = hook_details.keys().map(String::as_str).collect();
                    self.console.line(
                        "ecs",
                        &format!(
                            "invokes the hook again (attempt {attempt}), handing back the hookDetails it returned {{{}}}",
                            keys.join(", ")
                        ),
                    );
                }
            }
            SimulatedEvent::Answered {
                stage,
                attempt,
                status,
                call_back_delay,
                took,
            } => {
                let gated = self.gated.contains(stage);
                if !gated
                    && *attempt == 1
                    && *status != HookStatus::InProgress
                    && let Some(line) = self.take_pending()
                {
                    self.console
                        .line("ecs", &format!("{line} hook: {}", status.as_str()));
                    return;
                }
                self.flush();
                let text = match (status, call_back_delay) {
                    (HookStatus::InProgress, Some(delay)) => format!(
                        "IN_PROGRESS, callBackDelay {delay} s (after polling for {})",
                        human(*took)
                    ),
                    _ => format!("{} (after {})", status.as_str(), human(*took)),
                };
                self.console.line("hook", &text);
                if gated && *status != HookStatus::InProgress {
                    self.timeline.decision_seen(status.as_str());
                }
            }
            SimulatedEvent::Paused {
                hook_id,
                timeout,
                timeout_action,
                ..
            } => {
                match self.take_pending() {
                    Some(line) => self
                        .console
                        .line("ecs", &format!("{line} PAUSE hook: AWAITING_ACTION")),
                    None => self.console.line("ecs", "PAUSE hook: AWAITING_ACTION"),
                }
                self.console.line(
                    "ecs",
                    &format!(
                        "pauses by itself and waits for ContinueServiceDeployment; the hook\n\
                         times out in {}, then {} (hookId {hook_id})",
                        human(*timeout),
                        timeout_action.as_str()
                    ),
                );
            }
            SimulatedEvent::Continued {
                action, received, ..
            } => {
                self.flush();
                let ended = match action {
                    crate::domain::gate::Decision::Approved => "SUCCEEDED: the deployment goes on",
                    crate::domain::gate::Decision::Rejected => "FAILED: ECS rolls back",
                };
                self.console.line(
                    "ecs",
                    &format!(
                        "← ContinueServiceDeployment(action {}); the pause hook {ended}",
                        action_name(*action)
                    ),
                );
                self.timeline
                    .decision_seen_at(*received, action_name(*action));
            }
            SimulatedEvent::PauseTimedOut { action, .. } => {
                self.flush();
                self.console.line(
                    "ecs",
                    &format!(
                        "nobody acted: the pause hook TIMED_OUT; its timeout action {} applies",
                        action.as_str()
                    ),
                );
                self.timeline.decision_seen("TIMED_OUT");
            }
            SimulatedEvent::Stopped { received } => {
                self.flush();
                self.console
                    .line("ecs", "← StopServiceDeployment(stopType ROLLBACK)");
                self.timeline.stop_seen_at(*received);
            }
            SimulatedEvent::Emitted { name, .. } => {
                self.flush();
                self.console
                    .line("ecs", &format!("emits {name} → EventBridge rule → topic"));
            }
            SimulatedEvent::Undelivered { name, error } => {
                self.console.line(
                    "ecs",
                    &format!("✗ the EventBridge rule could not deliver {name}: {error}"),
                );
            }
            SimulatedEvent::Waiting {
                requested, waited, ..
            } => {
                let how = if (self.speed - 1.0).abs() < f64::EPSILON {
                    String::new()
                } else {
                    format!(" at {}× speed", self.speed)
                };
                self.console.line(
                    "ecs",
                    &format!(
                        "waits {} as asked (callBackDelay {requested} s{how})",
                        human(*waited)
                    ),
                );
            }
            SimulatedEvent::Baking { waited } => {
                self.flush();
                self.console.line(
                    "ecs",
                    &format!(
                        "production is on green; bake time {} before blue is scaled in",
                        human(*waited)
                    ),
                );
            }
            SimulatedEvent::RollingBack {
                reason,
                production,
                test,
                ..
            } => {
                self.flush();
                self.console.line(
                    "ecs",
                    &format!(
                        "⏪ rolls back: {reason}; prod {} test {}",
                        on(*production),
                        on(*test)
                    ),
                );
            }
            SimulatedEvent::Finished(outcome) => {
                self.flush();
                let text = match outcome {
                    DeploymentEnd::Successful => {
                        "✔ deployment SUCCESSFUL: production traffic is on green"
                    }
                    DeploymentEnd::RolledBack { .. } => {
                        "⏪ deployment ROLLBACK_SUCCESSFUL: production traffic is back on blue"
                    }
                };
                self.console.line("ecs", text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    use super::super::console::Shared;

    fn answered(stage: LifecycleStage, attempt: u32, status: HookStatus) -> SimulatedEvent {
        SimulatedEvent::Answered {
            stage,
            attempt,
            status,
            call_back_delay: (status == HookStatus::InProgress).then_some(1),
            took: Duration::from_millis(3),
        }
    }

    #[test]
    fn an_ungated_stage_is_one_line_and_the_gated_answer_is_marked() {
        let shared = Shared::default();
        let timeline = Arc::new(Timeline::new());
        let narrator = Narrator::new(
            Arc::new(Console::to(Box::new(shared.clone()))),
            Arc::clone(&timeline),
            BTreeSet::from([LifecycleStage::PostTestTrafficShift]),
            1.0,
        );
        let stage = |stage| SimulatedEvent::Stage {
            stage,
            production: Weights::BLUE,
            test: Weights::GREEN,
        };
        narrator.observe(&stage(LifecycleStage::TestTrafficShift));
        narrator.observe(&answered(
            LifecycleStage::TestTrafficShift,
            1,
            HookStatus::Succeeded,
        ));
        narrator.observe(&stage(LifecycleStage::PostTestTrafficShift));
        narrator.observe(&answered(
            LifecycleStage::PostTestTrafficShift,
            1,
            HookStatus::InProgress,
        ));
        narrator.observe(&answered(
            LifecycleStage::PostTestTrafficShift,
            2,
            HookStatus::Failed,
        ));
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].contains("TEST_TRAFFIC_SHIFT"), "{text}");
        assert!(
            lines[0].ends_with("prod blue   test green  hook: SUCCEEDED"),
            "{text}"
        );
        assert!(lines[1].ends_with("hook: invoked, gated stage"), "{text}");
        assert!(
            lines[2].contains("IN_PROGRESS, callBackDelay 1 s"),
            "{text}"
        );
        assert!(lines[3].contains("hook    FAILED"), "{text}");
        let summary = timeline.summary();
        assert!(summary[1].0.ends_with("(FAILED)"), "{summary:?}");
    }

    #[test]
    fn a_pause_is_told_on_its_stage_line_and_the_continue_call_is_marked() {
        let shared = Shared::default();
        let timeline = Arc::new(Timeline::new());
        let narrator = Narrator::new(
            Arc::new(Console::to(Box::new(shared.clone()))),
            Arc::clone(&timeline),
            BTreeSet::new(),
            1.0,
        );
        let stage = |stage| SimulatedEvent::Stage {
            stage,
            production: Weights::BLUE,
            test: Weights::GREEN,
        };
        narrator.observe(&stage(LifecycleStage::TestTrafficShift));
        narrator.observe(&stage(LifecycleStage::PostTestTrafficShift));
        narrator.observe(&SimulatedEvent::Paused {
            stage: LifecycleStage::PostTestTrafficShift,
            hook_id: "ecs-pause-1".into(),
            timeout: Duration::from_secs(120),
            timeout_action: crate::domain::gate::TimeoutAction::Rollback,
        });
        narrator.observe(&SimulatedEvent::Emitted {
            detail_type: "ECS Hook State Change",
            name: "HOOK_AWAITING_ACTION".into(),
        });
        timeline.click_sent("U1", crate::demo::slack::Button::Reroute, true);
        narrator.observe(&SimulatedEvent::Continued {
            stage: LifecycleStage::PostTestTrafficShift,
            action: crate::domain::gate::Decision::Approved,
            received: tokio::time::Instant::now(),
        });
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("prod blue   test green"), "{text}");
        assert!(
            lines[1].ends_with("test green  PAUSE hook: AWAITING_ACTION"),
            "{text}"
        );
        assert!(
            lines[2].contains("waits for ContinueServiceDeployment"),
            "{text}"
        );
        assert!(
            lines[3].contains("times out in 2 min, then ROLLBACK (hookId ecs-pause-1)"),
            "{text}"
        );
        assert!(lines[4].contains("emits HOOK_AWAITING_ACTION → EventBridge rule → topic"));
        assert!(
            lines[5].contains("← ContinueServiceDeployment(action CONTINUE)"),
            "{text}"
        );
        let labels: Vec<String> = timeline.summary().into_iter().map(|(l, _)| l).collect();
        assert!(
            labels.contains(&"click → ECS sees the decision (CONTINUE)".to_owned()),
            "{labels:?}"
        );
    }
}
