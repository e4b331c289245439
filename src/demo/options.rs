//! What `greenlight demo` takes on the command line, and the timings each story is played with.
//!
//! The hook's own settings (poll window, poll interval, gate timeout) are real `HookSettings`,
//! only shorter than in production so a whole deployment fits in seconds; in Flow B the gate
//! timeout is the pause hook's `timeoutConfiguration` instead. `--speed` scales what is *not* a
//! setting: the waits ECS itself makes (the `callBackDelay` the hook asks for, the stage work,
//! the bake time) and how long the simulated people take to read the card.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::domain::gate::Decision;

/// `greenlight demo`: plays a whole blue/green deployment on this machine, through the real hook
/// and the real bot router, with local stand-ins for ECS, SNS, SSM and Slack.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How ECS is gated: a Lambda hook that polls the decision parameter (Flow A), or a PAUSE
    /// hook that ECS holds itself until greenlight calls ContinueServiceDeployment (Flow B).
    #[arg(long, value_enum, default_value_t = Flow::Lambda)]
    pub flow: Flow,
    /// The story to play.
    #[arg(long, value_enum, default_value_t = Story::Approve)]
    pub decision: Story,
    /// Decide yourself: type r (reroute) or b (rollback) and Enter when the card is shown.
    #[arg(long, conflicts_with = "decision")]
    pub interactive: bool,
    /// Play ECS's waits (callBackDelay, stage work, bake time) and the people's reading time this
    /// many times faster (0.25 to 20). The hook's own poll window and timeout, and a pause hook's
    /// timeout, are settings and are not scaled.
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed, value_name = "FACTOR")]
    pub speed: f64,
    /// The deployment outcome that counts as success; by default the story's own.
    #[arg(long, value_enum, value_name = "OUTCOME")]
    pub expect: Option<Expected>,
    /// Where decisions and gates are kept: in memory, or SSM and a DynamoDB table of the run's
    /// own (moto or AWS, through AWS_ENDPOINT_URL and the usual credentials). `auto` takes AWS
    /// when the environment points at it.
    #[arg(long, value_enum, default_value_t = StoreFlag::Auto)]
    pub store: StoreFlag,
}

/// What `--store` chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreFlag {
    /// AWS when AWS_ENDPOINT_URL or AWS credentials are set, else memory.
    Auto,
    /// In memory, whatever the environment says.
    Memory,
    /// SSM Parameter Store and DynamoDB.
    Aws,
}

impl StoreFlag {
    pub fn choose(self, env: &dyn crate::config::EnvSource) -> super::store::StoreChoice {
        use super::store::StoreChoice;
        match self {
            StoreFlag::Auto => StoreChoice::from_env(env),
            StoreFlag::Memory => StoreChoice::Memory,
            StoreFlag::Aws => match StoreChoice::from_env(env) {
                StoreChoice::Memory => StoreChoice::Aws {
                    because: "--store aws",
                },
                aws => aws,
            },
        }
    }
}

/// The two ways greenlight gates a deployment, which `--flow` chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Flow {
    /// Flow A: ECS invokes greenlight's hook Lambda at every stage; it publishes the gate request
    /// and polls the decision parameter a click writes.
    Lambda,
    /// Flow B: ECS pauses at POST_TEST_TRAFFIC_SHIFT by itself (a PAUSE hook) and emits ECS Hook
    /// State Change; a click calls ContinueServiceDeployment.
    Pause,
}

impl Flow {
    /// One line for the header.
    pub fn summary(self) -> &'static str {
        match self {
            Flow::Lambda => {
                "A, Lambda hook: the hook publishes the gate request and polls the decision parameter"
            }
            Flow::Pause => {
                "B, pause hook: ECS pauses by itself; a click calls ContinueServiceDeployment"
            }
        }
    }
}

/// The stories `--decision` chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Story {
    /// An approver clicks Reroute: production traffic moves to the new revision.
    Approve,
    /// An approver clicks Rollback: ECS rolls the deployment back.
    Reject,
    /// Nobody clicks: the gate times out and its timeout action (ROLLBACK) applies.
    Timeout,
    /// Someone who is not an approver clicks Reroute and is refused; then an approver approves.
    Unauthorized,
    /// An approver clicks Reroute, then Roll back now during bake time: ECS stops the deployment
    /// and rolls back.
    RollbackNow,
    /// Nobody clicks at first: the sweep reminds the approver, then escalates to the on-call
    /// group; then the approver approves.
    Late,
}

/// What the deployment ends as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Expected {
    /// Production traffic is on the new revision and the deployment succeeded.
    Rerouted,
    /// ECS rolled the deployment back to the old revision.
    RolledBack,
}

impl Expected {
    pub fn words(self) -> &'static str {
        match self {
            Expected::Rerouted => "rerouted",
            Expected::RolledBack => "rolled back",
        }
    }
}

/// What is played: a scripted story, or a person at the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Play {
    Scripted(Story),
    Interactive,
}

impl Play {
    /// One line for the header.
    pub fn summary(self) -> &'static str {
        match self {
            Play::Scripted(Story::Approve) => {
                "approve: an approver clicks Reroute; production traffic moves to the new revision"
            }
            Play::Scripted(Story::Reject) => {
                "reject: an approver clicks Rollback; ECS rolls the deployment back"
            }
            Play::Scripted(Story::Timeout) => {
                "timeout: nobody clicks; the gate times out and rolls the deployment back"
            }
            Play::Scripted(Story::Unauthorized) => {
                "unauthorized: a non-approver clicks Reroute and is refused; then an approver approves"
            }
            Play::Scripted(Story::RollbackNow) => {
                "rollback-now: an approver clicks Reroute, then Roll back now during bake time"
            }
            Play::Scripted(Story::Late) => {
                "late: nobody clicks; the sweep reminds, then escalates; then an approver approves"
            }
            Play::Interactive => "interactive: you decide, at this terminal",
        }
    }

    /// The outcome the story ends in when everything works. For a person at the terminal it
    /// depends on what they type, so it is settled after the fact (see `expected_after`).
    pub fn expected(self) -> Option<Expected> {
        match self {
            Play::Scripted(Story::Approve | Story::Unauthorized | Story::Late) => {
                Some(Expected::Rerouted)
            }
            Play::Scripted(Story::Reject | Story::Timeout | Story::RollbackNow) => {
                Some(Expected::RolledBack)
            }
            Play::Interactive => None,
        }
    }
}

/// The outcome a person's choice leads to; no choice means the gate timed out, and the
/// rehearsal's timeout action is ROLLBACK.
pub fn expected_after(choice: Option<Decision>) -> Expected {
    match choice {
        Some(Decision::Approved) => Expected::Rerouted,
        Some(Decision::Rejected) | None => Expected::RolledBack,
    }
}

/// Everything the rehearsal is played with, checked.
#[derive(Debug, Clone)]
pub struct Options {
    pub flow: Flow,
    pub play: Play,
    pub expect: Option<Expected>,
    pub store: StoreFlag,
    pub timings: Timings,
}

impl Options {
    pub fn from_args(args: &DemoArgs) -> Options {
        let play = if args.interactive {
            Play::Interactive
        } else {
            Play::Scripted(args.decision)
        };
        Options {
            flow: args.flow,
            play,
            expect: args.expect,
            store: args.store,
            timings: Timings::for_play(play, args.speed),
        }
    }
}

/// The durations of one rehearsal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    /// Divides every wait of ECS and of the people.
    pub speed: f64,
    /// `GREENLIGHT_POLL_WINDOW`: how long one hook invocation polls before `IN_PROGRESS`.
    pub poll_window: Duration,
    /// `GREENLIGHT_POLL_INTERVAL`: the hook's smallest allowed interval.
    pub poll_interval: Duration,
    /// `GREENLIGHT_CALLBACK_DELAY`, in whole seconds (the hook's smallest allowed value).
    pub callback_delay_seconds: u32,
    /// `GREENLIGHT_GATE_TIMEOUT` in Flow A; the pause hook's `timeoutInMinutes` in Flow B.
    pub gate_timeout: Duration,
    /// How long ECS takes to start the new tasks, before scaling.
    pub stage_work: Duration,
    /// How long ECS bakes after production moved, before scaling the old revision in.
    pub bake_time: Duration,
    /// How long a simulated person reads the card before clicking, before scaling.
    pub reading_time: Duration,
}

impl Timings {
    /// Short enough that the default story takes a few seconds; long enough that the hook's
    /// `IN_PROGRESS` and `callBackDelay` are seen at work. The gate timeout is short only in the
    /// timeout story: elsewhere it must not cut a click short (a person at the terminal gets a
    /// minute). The bake time is longer when someone has to notice trouble and click Roll back
    /// now before it ends.
    pub fn for_play(play: Play, speed: f64) -> Timings {
        let gate_timeout = match play {
            Play::Scripted(Story::Timeout) => Duration::from_secs(4),
            Play::Scripted(_) => Duration::from_secs(120),
            Play::Interactive => Duration::from_secs(60),
        };
        Timings {
            speed,
            poll_window: Duration::from_secs(2),
            poll_interval: Duration::from_millis(250),
            callback_delay_seconds: 1,
            gate_timeout,
            stage_work: Duration::from_millis(200),
            bake_time: match play {
                Play::Scripted(Story::RollbackNow) => Duration::from_secs(6),
                _ => Duration::from_secs(2),
            },
            reading_time: Duration::from_millis(1200),
        }
    }

    /// A wait of ECS or of a person, at this speed.
    pub fn scaled(&self, wait: Duration) -> Duration {
        wait.div_f64(self.speed)
    }

    /// ECS's stage limit is 24 hours; here it only has to outlast the gate, so that the hook's
    /// own timeout, not the simulated ECS, ends an undecided gate.
    pub fn stage_limit(&self) -> Duration {
        self.gate_timeout + Duration::from_secs(30)
    }
}

fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed.is_finite() && (0.25..=20.0).contains(&speed) => Ok(speed),
        _ => Err(format!("`{text}` is not a speed from 0.25 to 20")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: DemoArgs,
    }

    fn parse(words: &[&str]) -> Result<Options, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("demo").chain(words.iter().copied()))?;
        Ok(Options::from_args(&cli.args))
    }

    #[test]
    fn the_default_story_is_approve_at_real_speed() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.flow, Flow::Lambda);
        assert_eq!(options.play, Play::Scripted(Story::Approve));
        assert_eq!(options.play.expected(), Some(Expected::Rerouted));
        assert_eq!(options.timings.speed, 1.0);
        assert_eq!(options.expect, None);
    }

    #[test]
    fn each_story_has_its_outcome_and_only_timeout_has_a_short_gate() {
        for (word, expected, short) in [
            ("approve", Expected::Rerouted, false),
            ("reject", Expected::RolledBack, false),
            ("timeout", Expected::RolledBack, true),
            ("unauthorized", Expected::Rerouted, false),
            ("rollback-now", Expected::RolledBack, false),
        ] {
            let options = parse(&["--decision", word]).unwrap();
            assert_eq!(options.play.expected(), Some(expected), "{word}");
            assert_eq!(
                options.timings.gate_timeout < Duration::from_secs(10),
                short,
                "{word}"
            );
        }
    }

    #[test]
    fn the_flow_is_chosen_and_rollback_now_bakes_long_enough_to_be_clicked() {
        assert_eq!(parse(&["--flow", "pause"]).unwrap().flow, Flow::Pause);
        assert_eq!(parse(&["--flow", "lambda"]).unwrap().flow, Flow::Lambda);
        assert!(parse(&["--flow", "codedeploy"]).is_err());
        let options = parse(&["--flow", "pause", "--decision", "rollback-now"]).unwrap();
        let timings = options.timings;
        assert!(timings.bake_time > timings.reading_time * 3, "{timings:?}");
        assert_eq!(
            parse(&[]).unwrap().timings.bake_time,
            Duration::from_secs(2)
        );
    }

    #[test]
    fn speed_scales_waits_and_is_bounded() {
        let options = parse(&["--speed", "4"]).unwrap();
        assert_eq!(
            options.timings.scaled(Duration::from_secs(1)),
            Duration::from_millis(250)
        );
        for bad in ["0", "-1", "NaN", "100", "fast"] {
            assert!(parse(&["--speed", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn interactive_excludes_a_scripted_decision() {
        assert_eq!(parse(&["--interactive"]).unwrap().play, Play::Interactive);
        assert!(parse(&["--interactive", "--decision", "reject"]).is_err());
        assert_eq!(
            parse(&["--expect", "rolled-back"]).unwrap().expect,
            Some(Expected::RolledBack)
        );
    }

    #[test]
    fn a_persons_choice_settles_the_expected_outcome() {
        assert_eq!(expected_after(Some(Decision::Approved)), Expected::Rerouted);
        assert_eq!(
            expected_after(Some(Decision::Rejected)),
            Expected::RolledBack
        );
        assert_eq!(expected_after(None), Expected::RolledBack);
    }
}
