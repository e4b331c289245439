//! The moments the rehearsal measures, marked by whichever part sees them happen, and the
//! timeline printed at the end.
//!
//! The stand-ins only mark; nothing here decides the outcome. The measures are the ones that
//! matter to the people using greenlight: how soon a gate shows up in the channel, how soon Slack
//! gets its acknowledgement (it gives up after 3 seconds), and how soon ECS acts on a click:
//! in Flow A when the hook answers ECS, in Flow B when `ContinueServiceDeployment` reaches ECS.

use std::sync::Mutex;

use tokio::time::Instant;

use super::console::human;
use super::slack::Button;

/// One click sent to the bot's `/slack/interactions`.
#[derive(Debug, Clone)]
pub struct Click {
    pub user: String,
    pub button: Button,
    pub sent: Instant,
    /// The HTTP status and when it came; `None` if the request failed outright.
    pub answered: Option<(u16, Instant)>,
    /// The click that is meant to decide the gate (not a refused one).
    pub decisive: bool,
}

#[derive(Debug, Default)]
struct Marks {
    started: Option<Instant>,
    gate_requested: Option<Instant>,
    card_posted: Option<Instant>,
    clicks: Vec<Click>,
    /// When ECS got the gate's answer, and what it was (the hook's `SUCCEEDED` or `FAILED`,
    /// `ContinueServiceDeployment`'s `CONTINUE` or `ROLLBACK`, a pause's `TIMED_OUT`).
    decision_seen: Option<(Instant, &'static str)>,
    /// When `StopServiceDeployment` reached ECS.
    stop_seen: Option<Instant>,
    finished: Option<Instant>,
}

/// Shared by every part of the rehearsal.
#[derive(Debug, Default)]
pub struct Timeline {
    marks: Mutex<Marks>,
}

impl Timeline {
    pub fn new() -> Timeline {
        let timeline = Timeline::default();
        timeline.with(|marks| marks.started = Some(Instant::now()));
        timeline
    }

    fn with<T>(&self, action: impl FnOnce(&mut Marks) -> T) -> T {
        let mut marks = match self.marks.lock() {
            Ok(marks) => marks,
            Err(poisoned) => poisoned.into_inner(),
        };
        action(&mut marks)
    }

    /// The hook published its gate request (the first time only: a retried publish is the same
    /// request).
    pub fn gate_requested(&self) {
        self.with(|marks| {
            marks.gate_requested.get_or_insert_with(Instant::now);
        });
    }

    pub fn card_posted(&self) {
        self.with(|marks| {
            marks.card_posted.get_or_insert_with(Instant::now);
        });
    }

    /// Records a click being sent; returns its index for [`Timeline::click_answered`].
    pub fn click_sent(&self, user: &str, button: Button, decisive: bool) -> usize {
        self.with(|marks| {
            marks.clicks.push(Click {
                user: user.to_owned(),
                button,
                sent: Instant::now(),
                answered: None,
                decisive,
            });
            marks.clicks.len() - 1
        })
    }

    pub fn click_answered(&self, index: usize, status: u16) {
        self.with(|marks| {
            if let Some(click) = marks.clicks.get_mut(index) {
                click.answered = Some((status, Instant::now()));
            }
        });
    }

    /// ECS got the gate's answer now (the first answer counts).
    pub fn decision_seen(&self, what: &'static str) {
        self.decision_seen_at(Instant::now(), what);
    }

    /// ECS got the gate's answer at `at`.
    pub fn decision_seen_at(&self, at: Instant, what: &'static str) {
        self.with(|marks| {
            marks.decision_seen.get_or_insert((at, what));
        });
    }

    /// `StopServiceDeployment` reached ECS at `at`.
    pub fn stop_seen_at(&self, at: Instant) {
        self.with(|marks| {
            marks.stop_seen.get_or_insert(at);
        });
    }

    pub fn finished(&self) {
        self.with(|marks| marks.finished = Some(Instant::now()));
    }

    pub fn clicks(&self) -> Vec<Click> {
        self.with(|marks| marks.clicks.clone())
    }

    /// The timeline's lines, label and value, in the order things happen.
    pub fn summary(&self) -> Vec<(String, String)> {
        self.with(|marks| {
            let mut lines = Vec::new();
            let between = |from: Option<Instant>, to: Option<Instant>| match (from, to) {
                (Some(from), Some(to)) => human(to.saturating_duration_since(from)),
                _ => "—".to_owned(),
            };
            lines.push((
                "request → card".to_owned(),
                between(marks.gate_requested, marks.card_posted),
            ));
            let decisive = |wanted: fn(Button) -> bool| {
                marks
                    .clicks
                    .iter()
                    .rev()
                    .find(|click| click.decisive && wanted(click.button))
            };
            let deciding = decisive(|button| button != Button::RollbackNow);
            let rollback_now = decisive(|button| button == Button::RollbackNow);
            for click in marks.clicks.iter().filter(|click| !click.decisive) {
                lines.push((
                    format!("refused click → acknowledgement ({})", status_of(click)),
                    between(Some(click.sent), click.answered.map(|(_, at)| at)),
                ));
            }
            match deciding {
                Some(click) => {
                    lines.push((
                        format!("click → acknowledgement ({})", status_of(click)),
                        between(Some(click.sent), click.answered.map(|(_, at)| at)),
                    ));
                    lines.push((
                        format!("click → ECS sees the decision ({})", seen_status(marks)),
                        between(Some(click.sent), marks.decision_seen.map(|(at, _)| at)),
                    ));
                }
                None => lines.push((
                    format!("request → ECS sees the timeout ({})", seen_status(marks)),
                    between(marks.gate_requested, marks.decision_seen.map(|(at, _)| at)),
                )),
            }
            if let Some(click) = rollback_now {
                lines.push((
                    format!("Roll back now → acknowledgement ({})", status_of(click)),
                    between(Some(click.sent), click.answered.map(|(_, at)| at)),
                ));
                lines.push((
                    "Roll back now → ECS stops the deployment".to_owned(),
                    between(Some(click.sent), marks.stop_seen),
                ));
            }
            lines.push((
                "whole rehearsal".to_owned(),
                between(marks.started, marks.finished),
            ));
            lines
        })
    }
}

fn status_of(click: &Click) -> String {
    match click.answered {
        Some((status, _)) => format!("HTTP {status}"),
        None => "no answer".to_owned(),
    }
}

fn seen_status(marks: &Marks) -> &'static str {
    marks
        .decision_seen
        .map(|(_, what)| what)
        .unwrap_or("not seen")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decided_gate_measures_from_the_deciding_click() {
        let timeline = Timeline::new();
        timeline.gate_requested();
        timeline.card_posted();
        let refused = timeline.click_sent("U2", Button::Reroute, false);
        timeline.click_answered(refused, 200);
        let click = timeline.click_sent("U1", Button::Reroute, true);
        timeline.click_answered(click, 200);
        timeline.decision_seen("SUCCEEDED");
        timeline.finished();
        let labels: Vec<String> = timeline.summary().into_iter().map(|(l, _)| l).collect();
        assert_eq!(
            labels,
            vec![
                "request → card",
                "refused click → acknowledgement (HTTP 200)",
                "click → acknowledgement (HTTP 200)",
                "click → ECS sees the decision (SUCCEEDED)",
                "whole rehearsal",
            ]
        );
    }

    #[test]
    fn without_a_click_the_timeout_is_measured_from_the_request() {
        let timeline = Timeline::new();
        timeline.gate_requested();
        timeline.decision_seen("FAILED");
        let summary = timeline.summary();
        assert_eq!(summary[1].0, "request → ECS sees the timeout (FAILED)");
        assert_eq!(summary[2], ("whole rehearsal".to_owned(), "—".to_owned()));
    }

    #[test]
    fn the_first_answer_counts_and_roll_back_now_is_measured_to_the_stop() {
        let timeline = Timeline::new();
        timeline.gate_requested();
        timeline.card_posted();
        let click = timeline.click_sent("U1", Button::Reroute, true);
        timeline.click_answered(click, 200);
        timeline.decision_seen_at(Instant::now(), "CONTINUE");
        timeline.decision_seen("ROLLBACK");
        let stop = timeline.click_sent("U1", Button::RollbackNow, true);
        timeline.click_answered(stop, 200);
        timeline.stop_seen_at(Instant::now());
        timeline.finished();
        let summary = timeline.summary();
        let labels: Vec<&str> = summary.iter().map(|(label, _)| label.as_str()).collect();
        assert_eq!(
            labels,
            vec![
                "request → card",
                "click → acknowledgement (HTTP 200)",
                "click → ECS sees the decision (CONTINUE)",
                "Roll back now → acknowledgement (HTTP 200)",
                "Roll back now → ECS stops the deployment",
                "whole rehearsal",
            ]
        );
        assert!(summary.iter().all(|(_, value)| value != "—"), "{summary:?}");
    }
}
