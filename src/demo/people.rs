//! The people in the deploy channel: who reads the card, who clicks what, and when.
//!
//! Each story is a short script over [`SlackClicks`]; `--interactive` hands the approver's part
//! to the person at the terminal. What they did is kept in [`Acts`] for the rehearsal's checks.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::domain::gate::Decision;
use crate::ports::ParameterStore;

use super::console::{Console, human};
use super::ecs::SimulatedEcs;
use super::options::{Flow, Play, Story, Timings};
use super::slack::{Button, Person, PostedCard, SlackClicks, TerminalSlack};

/// An approver: `GREENLIGHT_APPROVERS` names her.
pub const ALICE: Person = Person {
    name: "alice",
    user_id: "U0DEMOALICE",
};

/// In the channel, but not an approver.
pub const MALLORY: Person = Person {
    name: "mallory",
    user_id: "U0DEMOMALLORY",
};

/// The on-call user group the `late` story escalates to.
pub const ON_CALL_GROUP: &str = "S0DEMOONCALL";

/// Who deployed: CI tags the green task definition with her e-mail address.
pub const CAROL: Person = Person {
    name: "carol",
    user_id: "U0DEMOCAROL",
};

/// The address on the task definition's `greenlight:deployer` tag; the rehearsal's Slack knows
/// it as [`CAROL`].
pub const DEPLOYER_EMAIL: &str = "carol@example.com";

/// The person at the terminal, deciding as the approver.
const YOU: Person = Person {
    name: "you",
    user_id: ALICE.user_id,
};

/// What the people did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acts {
    /// The deciding click's action, if anyone decided.
    pub choice: Option<Decision>,
    /// After a refused click: whether nothing had taken effect (Flow A: no decision parameter;
    /// Flow B: no `ContinueServiceDeployment` at ECS).
    pub refusal_decided_nothing: Option<bool>,
    /// Someone clicked Roll back now.
    pub rolled_back_now: bool,
    /// Whatever went wrong on the people's side (no card, no button, a failed request).
    pub problems: Vec<String>,
}

/// Where a decision would show if one had been made: what the rehearsal looks at after a
/// refused click.
pub enum Evidence {
    /// Flow A: the decision parameters under this prefix.
    Parameters {
        store: Arc<dyn ParameterStore>,
        prefix: String,
    },
    /// Flow B: the calls ECS received.
    EcsCalls,
}

impl Evidence {
    pub fn for_flow(flow: Flow, store: Arc<dyn ParameterStore>, prefix: String) -> Evidence {
        match flow {
            Flow::Lambda => Evidence::Parameters { store, prefix },
            Flow::Pause => Evidence::EcsCalls,
        }
    }
}

/// The people, with what they need to act.
pub struct People {
    clicks: SlackClicks,
    slack: Arc<TerminalSlack>,
    console: Arc<Console>,
    /// The deployment as its console shows it: people watch the bake time before they roll
    /// back, and the rehearsal looks at the calls it received.
    ecs: Arc<SimulatedEcs>,
    evidence: Evidence,
    timings: Timings,
    acts: Mutex<Acts>,
    /// The bot, for the sweep's passes in the `late` story.
    sweeper: Option<Arc<crate::bot::Bot>>,
}

impl People {
    pub fn new(
        clicks: SlackClicks,
        slack: Arc<TerminalSlack>,
        console: Arc<Console>,
        ecs: Arc<SimulatedEcs>,
        evidence: Evidence,
        timings: Timings,
    ) -> People {
        People {
            clicks,
            slack,
            console,
            ecs,
            evidence,
            timings,
            acts: Mutex::new(Acts::default()),
            sweeper: None,
        }
    }

    /// Lets the `late` story run the sweep's passes on this bot.
    pub fn with_sweeper(mut self, bot: Arc<crate::bot::Bot>) -> People {
        self.sweeper = Some(bot);
        self
    }

    /// What they did so far (the play may have been cut short when the deployment ended).
    pub fn acts(&self) -> Acts {
        self.with_acts(|acts| acts.clone())
    }

    fn with_acts<T>(&self, action: impl FnOnce(&mut Acts) -> T) -> T {
        let mut acts = match self.acts.lock() {
            Ok(acts) => acts,
            Err(poisoned) => poisoned.into_inner(),
        };
        action(&mut acts)
    }

    fn problem(&self, problem: String) {
        self.console.line("channel", &format!("✗ {problem}"));
        self.with_acts(|acts| acts.problems.push(problem));
    }

    /// Plays the people's part of the story, from the card's arrival on.
    pub async fn play(&self, play: Play) {
        // Started at once, so that nothing typed before the card arrives is lost.
        let input = (play == Play::Interactive).then(read_terminal_lines);
        let Some(card) = self.slack.first_card().await else {
            self.problem("the bot never posted a card".to_owned());
            return;
        };
        match play {
            Play::Scripted(Story::Approve) => {
                self.decide(ALICE, &card, Decision::Approved).await;
            }
            Play::Scripted(Story::Reject) => {
                self.decide(ALICE, &card, Decision::Rejected).await;
            }
            Play::Scripted(Story::Timeout) => {
                self.console.line(
                    "channel",
                    &format!(
                        "nobody clicks; the gate times out {} after the request",
                        human(self.timings.gate_timeout)
                    ),
                );
            }
            Play::Scripted(Story::Unauthorized) => {
                self.refused(MALLORY, &card).await;
                let card = self.slack.card().unwrap_or(card);
                self.decide(ALICE, &card, Decision::Approved).await;
            }
            Play::Scripted(Story::RollbackNow) => {
                self.decide(ALICE, &card, Decision::Approved).await;
                self.roll_back_now(ALICE).await;
            }
            Play::Scripted(Story::Late) => {
                self.sweeps_pass().await;
                self.decide(ALICE, &card, Decision::Approved).await;
            }
            Play::Interactive => {
                if let Some(lines) = input {
                    self.interactive(&card, lines).await;
                }
            }
        }
    }

    /// Nobody clicks while the sweep runs: its clock is moved on by the policy's `remind_every`
    /// (one reminder), then past `escalate_after` (the escalation); the gate's deadline is
    /// further off, so it stays open.
    async fn sweeps_pass(&self) {
        let Some(bot) = &self.sweeper else {
            return;
        };
        let now = chrono::Utc::now();
        for (ahead, what) in [(61, "a minute later"), (121, "two minutes later")] {
            self.console.line(
                "sweep",
                &format!("nobody has clicked; {what} the sweep's pass runs (its clock moved on)"),
            );
            if let Err(error) = bot.sweep(now + chrono::Duration::seconds(ahead)).await {
                self.problem(format!("the sweep failed: {error}"));
            }
        }
    }

    async fn read(&self, person: Person) {
        let wait = self.timings.scaled(self.timings.reading_time);
        self.console
            .line(person.name, &format!("reads the card ({})", human(wait)));
        tokio::time::sleep(wait).await;
    }

    /// `person` reads the card and decides with `action`.
    async fn decide(&self, person: Person, card: &PostedCard, action: Decision) {
        self.read(person).await;
        self.with_acts(|acts| acts.choice = Some(action));
        match self.clicks.click(person, card, action.into(), true).await {
            Ok(200) => {}
            Ok(status) => self.problem(format!("the bot answered {status} to the click")),
            Err(error) => self.problem(error),
        }
    }

    /// `person`, who may not decide, clicks Reroute; then the rehearsal looks whether anything
    /// was decided.
    async fn refused(&self, person: Person, card: &PostedCard) {
        self.read(person).await;
        match self
            .clicks
            .click(person, card, Button::Reroute, false)
            .await
        {
            Ok(200) => {}
            Ok(status) => self.problem(format!("the bot answered {status} to the click")),
            Err(error) => self.problem(error),
        }
        let (nothing, line) = self.anything_decided().await;
        self.console.line("check", &line);
        self.with_acts(|acts| acts.refusal_decided_nothing = Some(nothing));
    }

    /// Whether nothing was decided, and a line saying what was looked at.
    async fn anything_decided(&self) -> (bool, String) {
        match &self.evidence {
            Evidence::Parameters { store, prefix } => match store.list(prefix).await {
                Ok(list) if list.is_empty() => (
                    true,
                    format!("nothing was decided: no decision parameter under {prefix}"),
                ),
                Ok(list) => (false, format!("✗ a decision was written: {}", list[0].0)),
                Err(error) => (false, format!("✗ cannot look at the decisions: {error}")),
            },
            Evidence::EcsCalls => match self.ecs.calls().first() {
                None => (
                    true,
                    "nothing was decided: ECS received no ContinueServiceDeployment".to_owned(),
                ),
                Some(call) => (false, format!("✗ ECS received {call}")),
            },
        }
    }

    /// `person` watches the deployment after approving it; during the bake time something looks
    /// wrong, and they click Roll back now on the card.
    async fn roll_back_now(&self, person: Person) {
        if !self.ecs.baking().await {
            self.problem("the deployment ended before its bake time".to_owned());
            return;
        }
        self.console.line(
            person.name,
            "watches the bake time: errors climb on green, time to roll back",
        );
        self.read(person).await;
        let Some(card) = self.slack.card() else {
            self.problem("the card is gone".to_owned());
            return;
        };
        self.with_acts(|acts| acts.rolled_back_now = true);
        match self
            .clicks
            .click(person, &card, Button::RollbackNow, true)
            .await
        {
            Ok(200) => {}
            Ok(status) => self.problem(format!("the bot answered {status} to the click")),
            Err(error) => self.problem(error),
        }
    }

    /// The approver's part, typed at the terminal.
    async fn interactive(&self, card: &PostedCard, mut lines: mpsc::UnboundedReceiver<String>) {
        self.console.line(
            "you",
            &format!(
                "as @{} (an approver): type r + Enter to Reroute, b + Enter to Roll back;\n\
                 without an answer the gate times out in {} and rolls back",
                ALICE.user_id,
                human(self.timings.gate_timeout)
            ),
        );
        while let Some(line) = lines.recv().await {
            let action = match line.trim().to_ascii_lowercase().as_str() {
                "r" | "reroute" => Decision::Approved,
                "b" | "rollback" | "roll back" => Decision::Rejected,
                "" => continue,
                other => {
                    self.console.line(
                        "you",
                        &format!("`{other}`? type r (reroute) or b (rollback)"),
                    );
                    continue;
                }
            };
            self.with_acts(|acts| acts.choice = Some(action));
            let card = self.slack.card().unwrap_or_else(|| card.clone());
            match self.clicks.click(YOU, &card, action.into(), true).await {
                Ok(200) => {}
                Ok(status) => self.problem(format!("the bot answered {status} to the click")),
                Err(error) => self.problem(error),
            }
            return;
        }
        self.console
            .line("you", "no more input; the gate will time out");
    }
}

/// Lines typed at the terminal, read on a thread of their own.
///
/// Not tokio's `stdin`: its read cannot be cancelled, and the runtime would wait for it at exit
/// until someone pressed Enter. A plain thread ends with the process.
fn read_terminal_lines() -> mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("greenlight-demo-stdin".to_owned())
        .spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
    if spawned.is_err() {
        // No thread, no input: the receiver ends at once and the gate times out.
        tracing::warn!(
            event = "demo.no_stdin",
            "could not read the terminal; the gate will time out"
        );
    }
    receiver
}
