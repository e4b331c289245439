//! `greenlight demo`: a whole blue/green deployment, rehearsed on one machine.
//!
//! Nothing is mocked inside greenlight. The real bot router is served on a loopback port, and in
//! Flow A (`--flow lambda`, the default) the real [`Hook`] is invoked at every lifecycle stage;
//! only what lies outside greenlight is played by a local stand-in, each speaking the real
//! protocol:
//!
//! - ECS ([`ecs`]) walks the stages and moves the traffic weights; it obeys the hook's answers
//!   (Flow A), or pauses by itself and waits for `ContinueServiceDeployment` (Flow B,
//!   `--flow pause`), emitting ECS's EventBridge events through the rule to the topic;
//! - SNS ([`sns`]) delivers what the hook or the EventBridge rule publishes to `POST /sns`,
//!   signed;
//! - Slack ([`slack`]) draws the bot's cards in the terminal, and sends signed clicks to
//!   `POST /slack/interactions`;
//! - SSM ([`store`]) is the in-memory parameter store, or SSM itself when AWS is configured;
//! - the people in the channel ([`people`]) click according to the story, or you do.
//!
//! The rehearsal then checks that the deployment ended as the story says and prints a timeline.
//! Exit status: 0 when it did, 1 when it did not, 2 when the rehearsal could not be set up.

pub mod console;
pub mod ecs;
pub mod loopback;
pub mod narrator;
pub mod options;
pub mod people;
pub mod slack;
pub mod sns;
pub mod store;
pub mod timeline;

use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde_json::Map;

use crate::bot::{Bot, BotServices, BotSettings};
use crate::config::{EnvSource, HookSettings, ProcessEnv, optional};
use crate::domain::gate::{Decision, ParameterName, TimeoutAction};
use crate::domain::stage::LifecycleStage;
use crate::hook::Hook;
use crate::policy::StaticGroups;
use crate::slack::api::SlackApi;
use crate::slack::web::{DEFAULT_API_URL, SlackWebApi};
use crate::sns::certificates::CertificateStore;
use crate::sns::signer::SnsSigner;

use console::{Console, human};
use ecs::{
    DeploymentEnd, DeploymentPlan, EcsCall, Hooks, LambdaHook, Pace, PauseHook, SimulatedEcs,
};
use loopback::{Loopback, Served};
use narrator::Narrator;
use options::{Expected, Flow, Options, Play, Story, expected_after};
use people::{ALICE, Acts, Evidence, MALLORY, People};
use slack::{SlackClicks, TerminalSlack};
use sns::{LoopbackTopic, NoFetch, NoSubscriptions};
use store::RunStore;
use timeline::Timeline;

pub use options::DemoArgs;

/// The rehearsal's deployment. The ARNs have AWS's shapes; nothing is looked up in AWS.
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";
const CLUSTER: &str = "rehearsal";
const SERVICE: &str = "web";
/// Service revision IDs, as long as ECS's own.
const BLUE_REVISION: &str = "4980306466373577095";
const GREEN_REVISION: &str = "5207151128745532006";
/// The channel the card goes to when no real channel is configured.
const REHEARSAL_CHANNEL: &str = "C0REHEARSAL";
/// Where the rehearsal gates, in both flows: test traffic is on green, production still on blue.
const GATED_STAGE: LifecycleStage = LifecycleStage::PostTestTrafficShift;

/// Runs `greenlight demo`.
pub async fn main(args: DemoArgs) -> ExitCode {
    crate::tls::install_crypto_provider();
    // Warnings only, as JSON on stderr like every other command: the story is on stdout.
    crate::telemetry::init("warn");
    let options = Options::from_args(&args);
    let console = Arc::new(Console::stdout());
    let timeline = Arc::new(Timeline::new());
    match Rehearsal::set_up(options, console, timeline, &ProcessEnv).await {
        Ok(rehearsal) => rehearsal.play().await,
        Err(error) => {
            eprintln!("greenlight demo: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// How ECS is gated in this rehearsal: what `--flow` chose.
enum Gate {
    /// Flow A: greenlight's hook, invoked as Lambda invokes it.
    Lambda(Arc<Hook>),
    /// Flow B: a pause hook in the service's deployment configuration; nothing is invoked.
    Pause(PauseHook),
}

/// Everything one rehearsal is played with.
struct Rehearsal {
    options: Options,
    console: Arc<Console>,
    timeline: Arc<Timeline>,
    ecs: Arc<SimulatedEcs>,
    gate: Gate,
    slack: Arc<TerminalSlack>,
    people: Arc<People>,
    store: RunStore,
    served: Served,
    /// Where the card goes, and whether it is a real channel too.
    channel: String,
    mirrored: bool,
}

impl Rehearsal {
    async fn set_up(
        options: Options,
        console: Arc<Console>,
        timeline: Arc<Timeline>,
        env: &dyn EnvSource,
    ) -> anyhow::Result<Rehearsal> {
        let timings = options.timings;
        let run_id = hex::encode(random::<4>()?);
        let root = ParameterName::new(format!("/greenlight-rehearsal/{run_id}"))?;
        let decision_prefix = root.child("decisions")?;
        let store = RunStore::open(options.store.choose(env), root, &run_id)
            .await
            .map_err(|error| anyhow!(error))?;

        let real_slack = real_slack(env)?;
        let mirrored = real_slack.is_some();
        let (mirror, channel) = match real_slack {
            Some((api, channel)) => (Some(api), channel),
            None => (None, REHEARSAL_CHANNEL.to_owned()),
        };
        let slack = Arc::new(TerminalSlack::new(
            Arc::clone(&console),
            Arc::clone(&timeline),
            mirror,
        ));

        let ecs = Arc::new(SimulatedEcs::new(
            DeploymentPlan {
                region: REGION.to_owned(),
                account: ACCOUNT.to_owned(),
                cluster: CLUSTER.to_owned(),
                service: SERVICE.to_owned(),
                deployment_id: run_id.clone(),
                blue_revision: BLUE_REVISION.to_owned(),
                green_revision: GREEN_REVISION.to_owned(),
                hook_details: Map::new(),
                // CI tags the task definition with who deployed: an e-mail address, which the
                // bot turns into a mention through `users.lookupByEmail`.
                deployer: Some(people::DEPLOYER_EMAIL.to_owned()),
            },
            Pace {
                speed: timings.speed,
                stage_work: timings.stage_work,
                bake_time: timings.bake_time,
                stage_limit: timings.stage_limit(),
            },
        ));

        // SNS: a throwaway certificate, pinned, so the bot verifies every delivery for real.
        let topic_arn = format!("arn:aws:sns:{REGION}:{ACCOUNT}:greenlight-rehearsal");
        let signer = Arc::new(SnsSigner::new(REGION).context("the SNS stand-in's key")?);
        let certificates = CertificateStore::new(Arc::new(NoFetch));
        signer
            .pin_into(&certificates)
            .context("pinning the SNS stand-in's certificate")?;

        // The bot, assembled as on AWS but for its clients, from settings read the usual way.
        let signing_secret = hex::encode(random::<32>()?);
        let bot_env: HashMap<&str, &str> = HashMap::from([
            ("GREENLIGHT_ALLOWED_TOPIC_ARNS", topic_arn.as_str()),
            // Never used: the bot's Slack is the terminal stand-in.
            ("GREENLIGHT_SLACK_BOT_TOKEN", "xoxb-rehearsal"),
            ("GREENLIGHT_SLACK_SIGNING_SECRET", signing_secret.as_str()),
            ("GREENLIGHT_SLACK_CHANNEL", channel.as_str()),
            ("GREENLIGHT_DECISION_PREFIX", decision_prefix.as_str()),
            ("GREENLIGHT_TABLE", "greenlight-rehearsal"),
            ("GREENLIGHT_APPROVERS", ALICE.user_id),
        ]);
        let settings = BotSettings::from_env(&bot_env).context("the bot's settings")?;
        let policy = match options.play {
            // The late story's policy reminds every minute and escalates after two.
            Play::Scripted(Story::Late) => crate::policy::Policy::parse(
                "the rehearsal's policy",
                &format!(
                    "[[rule]]\nname = \"rehearsal\"\napprovers = [\"{}\"]\nremind_every = \"1m\"\n\
                     escalate_after = \"2m\"\nescalate_to = [\"{}\"]\n",
                    ALICE.user_id,
                    people::ON_CALL_GROUP
                ),
            )
            .context("the rehearsal's policy")?,
            _ => crate::wiring::bot_policy(&settings).context("the bot's policy")?,
        };
        let slack_api: Arc<dyn SlackApi> = slack.clone();
        let services = BotServices {
            slack: slack_api,
            decisions: Arc::clone(&store.store),
            gates: Arc::clone(&store.gates),
            subscriptions: Arc::new(NoSubscriptions),
            deployments: ecs.clone(),
            alarms: Arc::new(crate::memory::FixedAlarms::default()),
            certificates: Arc::new(certificates),
            groups: Some(Arc::new(StaticGroups::new())),
        };
        let bot = Arc::new(Bot::new(settings, &signing_secret, policy, services));
        let served = Served::start(crate::bot::app(Arc::clone(&bot)))
            .await
            .context("serving the bot on a loopback port")?;
        let to_bot = Loopback::new(served.base_url());
        let topic = Arc::new(LoopbackTopic::new(
            topic_arn.clone(),
            signer,
            to_bot.clone(),
            Arc::clone(&console),
            Arc::clone(&timeline),
        ));
        let gate = match options.flow {
            Flow::Lambda => Gate::Lambda(lambda_hook(
                &options,
                &topic_arn,
                &decision_prefix,
                &store,
                topic,
                ecs.clone(),
            )?),
            Flow::Pause => {
                // The stack's EventBridge rule: ECS's events go to the same topic.
                ecs.attach_event_rule(topic);
                Gate::Pause(
                    PauseHook::new([GATED_STAGE], timings.gate_timeout, TimeoutAction::Rollback)
                        .map_err(|error| anyhow!("the pause hook: {error}"))?,
                )
            }
        };

        let clicks = SlackClicks::new(
            to_bot,
            signing_secret,
            Arc::clone(&console),
            Arc::clone(&timeline),
        );
        let people = Arc::new(
            People::new(
                clicks,
                Arc::clone(&slack),
                Arc::clone(&console),
                Arc::clone(&ecs),
                Evidence::for_flow(
                    options.flow,
                    Arc::clone(&store.store),
                    decision_prefix.to_string(),
                ),
                timings,
            )
            .with_sweeper(Arc::clone(&bot)),
        );
        Ok(Rehearsal {
            options,
            console,
            timeline,
            ecs,
            gate,
            slack,
            people,
            store,
            served,
            channel,
            mirrored,
        })
    }

    /// Plays the deployment and the story, checks the outcome, prints the timeline.
    async fn play(self) -> ExitCode {
        self.header();
        let people = Arc::clone(&self.people);
        let play = self.options.play;
        let acting = tokio::spawn(async move { people.play(play).await });
        let gated = match &self.gate {
            Gate::Lambda(hook) => hook.settings().gated_stages.clone(),
            Gate::Pause(_) => BTreeSet::new(),
        };
        let narrator = Narrator::new(
            Arc::clone(&self.console),
            Arc::clone(&self.timeline),
            gated,
            self.options.timings.speed,
        );
        let outcome = match &self.gate {
            Gate::Lambda(hook) => {
                let lambda = LambdaHook::new(Arc::clone(hook));
                self.ecs.deploy(Hooks::Lambda(&lambda), &narrator).await
            }
            Gate::Pause(pause) => self.ecs.deploy(Hooks::Pause(pause), &narrator).await,
        };
        // Whoever has not acted by now (nobody typed anything) no longer can.
        if !acting.is_finished() {
            acting.abort();
        }
        let _ = acting.await;
        self.timeline.finished();
        let acts = self.people.acts();
        let (expected, checks) = self.check(&outcome, &acts);
        self.summary(&outcome, expected, &checks);
        match self.store.clean_up().await {
            Ok(removed) if !removed.table => {}
            Ok(removed) => self.console.say(&format!(
                "removed this run's gate table, and the {} parameters left under {}",
                removed.parameters, self.store.root
            )),
            Err(error) => self.console.say(&format!(
                "could not remove what this run wrote under {}: {error}",
                self.store.root
            )),
        }
        self.served.stop().await;
        if checks.iter().all(|check| check.passed) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    fn header(&self) {
        let timings = &self.options.timings;
        let plan = self.ecs.plan();
        let slack = if self.mirrored {
            format!(
                "stand-in: cards are drawn here and posted to channel {} as well; clicks are\n\
                 signed block_actions requests from this rehearsal to /slack/interactions",
                self.channel
            )
        } else {
            format!(
                "stand-in: cards are drawn here (channel {}); clicks are signed block_actions\n\
                 requests to /slack/interactions. GREENLIGHT_SLACK_BOT_TOKEN and\n\
                 GREENLIGHT_SLACK_CHANNEL post the cards to a real channel as well",
                self.channel
            )
        };
        let pace = match (&self.gate, (timings.speed - 1.0).abs() < f64::EPSILON) {
            (Gate::Lambda(_), true) => format!(
                "real time: ECS waits the callBackDelay the hook asks for; stage work ({})\n\
                 and bake time ({}) are shortened for the rehearsal",
                human(timings.stage_work),
                human(timings.bake_time)
            ),
            (Gate::Lambda(_), false) => format!(
                "ECS's waits and the people's reading are {}× faster: a callBackDelay of 1 s\n\
                 is waited as {}, stage work takes {}, bake time {}; the hook's own\n\
                 poll window and gate timeout are not scaled",
                timings.speed,
                human(timings.scaled(Duration::from_secs(1))),
                human(timings.scaled(timings.stage_work)),
                human(timings.scaled(timings.bake_time))
            ),
            (Gate::Pause(_), true) => format!(
                "real time: stage work ({}) and bake time ({}) are shortened for the rehearsal",
                human(timings.stage_work),
                human(timings.bake_time)
            ),
            (Gate::Pause(_), false) => format!(
                "ECS's waits and the people's reading are {}× faster: stage work takes {},\n\
                 bake time {}; the pause hook's timeout is a setting and is not scaled",
                timings.speed,
                human(timings.scaled(timings.stage_work)),
                human(timings.scaled(timings.bake_time))
            ),
        };
        let deployment = format!(
            "simulated: service {} in cluster {}, deployment {}\n\
             blue = revision {} (running), green = {} (new)",
            plan.service, plan.cluster, plan.deployment_id, plan.blue_revision, plan.green_revision
        );
        let (ecs, hook, sns) = match &self.gate {
            Gate::Lambda(hook) => {
                let settings = hook.settings();
                let gated: Vec<&str> = settings.gated_stages.iter().map(|s| s.as_str()).collect();
                (
                    deployment,
                    format!(
                        "the real Hook::handle, invoked at every stage; gates {}\n\
                         polls every {} for {}, then IN_PROGRESS with callBackDelay {} s\n\
                         gate timeout {}, then {}",
                        gated.join(", "),
                        human(settings.poll_interval),
                        human(settings.poll_window),
                        settings.callback_delay,
                        human(settings.gate_timeout.after),
                        settings.gate_timeout.action.as_str()
                    ),
                    "stand-in: POSTs what the hook publishes to /sns, signed (SignatureVersion 2)\n\
                     with a throwaway certificate pinned in the bot"
                        .to_owned(),
                )
            }
            Gate::Pause(pause) => {
                let stages: Vec<&str> = pause.stages().iter().map(|s| s.as_str()).collect();
                (
                    format!(
                        "{deployment}\n\
                         a PAUSE hook at {}: timeout {}, then {};\n\
                         its events go through the EventBridge rule to the topic",
                        stages.join(", "),
                        human(pause.timeout()),
                        pause.timeout_action().as_str()
                    ),
                    "none: ECS pauses by itself and waits for ContinueServiceDeployment".to_owned(),
                    "stand-in: POSTs what the EventBridge rule publishes to /sns, signed\n\
                     (SignatureVersion 2) with a throwaway certificate pinned in the bot"
                        .to_owned(),
                )
            }
        };
        let store = match &self.gate {
            Gate::Lambda(_) => ("stores", self.store.describe()),
            Gate::Pause(_) => (
                "stores",
                format!(
                    "{}\ndecisions go to ECS as ContinueServiceDeployment, not to parameters",
                    self.store.describe()
                ),
            ),
        };
        let rows: Vec<(&str, String)> = vec![
            ("story", self.options.play.summary().to_owned()),
            ("flow", self.options.flow.summary().to_owned()),
            ("ECS", ecs),
            ("hook", hook),
            (
                "bot",
                format!(
                    "the real router on {} (POST /sns, POST /slack/interactions)",
                    self.served.base_url()
                ),
            ),
            ("SNS", sns),
            ("Slack", slack),
            (
                "people",
                format!(
                    "{} (@{}) is an approver; {} (@{}) is not",
                    ALICE.name, ALICE.user_id, MALLORY.name, MALLORY.user_id
                ),
            ),
            store,
            ("pace", pace),
            (
                "logs",
                "JSON on stderr, warnings and errors only (RUST_LOG=info for more)".to_owned(),
            ),
            (
                "traffic",
                "prod and test below: where the production and the test listener send traffic"
                    .to_owned(),
            ),
        ];
        let mut text = format!(
            "greenlight demo: a blue/green deployment of {} rehearsed on this machine\n\n",
            plan.service
        );
        for (label, value) in rows {
            let mut lines = value.lines();
            text.push_str(&format!(
                "  {label:<10} {}\n",
                lines.next().unwrap_or_default()
            ));
            for more in lines {
                text.push_str(&format!("  {:<10} {more}\n", ""));
            }
        }
        self.console.say(&text);
    }

    /// Whether the rehearsal went as its story says.
    fn check(&self, outcome: &DeploymentEnd, acts: &Acts) -> (Expected, Vec<Check>) {
        let expected = self
            .options
            .expect
            .or(self.options.play.expected())
            .unwrap_or_else(|| expected_after(acts.choice));
        let got = match outcome {
            DeploymentEnd::Successful => Expected::Rerouted,
            DeploymentEnd::RolledBack { .. } => Expected::RolledBack,
        };
        let mut checks = vec![Check::new(
            got == expected,
            format!(
                "the deployment was {} (expected: {})",
                got.words(),
                expected.words()
            ),
        )];

        let card = self.slack.card();
        let pause = self.options.flow == Flow::Pause;
        let (phrase, what) = match acts.choice {
            Some(Decision::Approved) => ("Rerouted by", "who rerouted, and when"),
            Some(Decision::Rejected) => ("Rollback requested by", "who rolled back, and when"),
            // ECS applies a pause hook's timeout itself, and the card says so.
            None if pause => ("Timed out in ECS:", "that ECS timed the pause out"),
            None => ("Timed out:", "that the gate timed out"),
        };
        let shown = card.as_ref().and_then(|card| {
            card.drawing
                .lines()
                .map(|line| line.trim_matches(|c: char| c == '│' || c.is_whitespace()))
                .find(|line| line.contains(phrase))
                .map(str::to_owned)
        });
        checks.push(match (&card, shown) {
            (Some(card), Some(line)) if !card.is_open() => {
                Check::new(true, format!("the card shows {what}: {line}"))
            }
            (Some(_), _) => Check::new(false, format!("the card does not show {what}")),
            (None, _) => Check::new(false, "no card was posted".to_owned()),
        });

        if self.options.play == Play::Scripted(Story::Unauthorized) {
            let refusal = self
                .slack
                .ephemerals()
                .into_iter()
                .find(|(user, _)| user == MALLORY.user_id)
                .map(|(_, text)| text);
            checks.push(match refusal {
                Some(text) if text.contains("not an approver") => Check::new(
                    true,
                    format!("{} was told, and only her: {text}", MALLORY.name),
                ),
                Some(text) => Check::new(false, format!("{} was told: {text}", MALLORY.name)),
                None => Check::new(false, format!("{} was not told why", MALLORY.name)),
            });
            checks.push(Check::new(
                acts.refusal_decided_nothing == Some(true),
                if pause {
                    "her click decided nothing: ECS received no ContinueServiceDeployment"
                } else {
                    "her click decided nothing: no decision parameter was written"
                }
                .to_owned(),
            ));
        }
        if self.options.play == Play::Scripted(Story::Timeout) {
            checks.push(Check::new(
                self.timeline.clicks().is_empty(),
                "nobody clicked".to_owned(),
            ));
        }
        if pause || acts.rolled_back_now {
            checks.push(self.check_calls(acts));
        }
        let context = card.as_ref().and_then(|card| card.context_line());
        // What the card's last line should say once ECS has told the bot: in Flow B through
        // ECS's events; in Flow A, which has no EventBridge rule here, only what Roll back now
        // itself knows.
        let last_word = match (pause, got) {
            (true, Expected::Rerouted) => Some("✅ completed"),
            (true, Expected::RolledBack) => Some("⏪ rolled back"),
            (false, _) if acts.rolled_back_now => Some("⏪ rolling back"),
            (false, _) => None,
        };
        if let Some(words) = last_word {
            checks.push(match &context {
                Some(line) if line.contains(words) => {
                    Check::new(true, format!("the card's last line says so: {line}"))
                }
                Some(line) => Check::new(
                    false,
                    format!("the card's last line does not say {words}: {line}"),
                ),
                None => Check::new(false, format!("the card has no last line saying {words}")),
            });
        }
        for problem in &acts.problems {
            checks.push(Check::new(false, problem.clone()));
        }
        (expected, checks)
    }

    /// Whether ECS received exactly the calls the people's clicks should have made: one
    /// `ContinueServiceDeployment` per decided pause, one `StopServiceDeployment` per Roll back
    /// now, however the bot got there.
    fn check_calls(&self, acts: &Acts) -> Check {
        let mut expected = Vec::new();
        if let (Gate::Pause(_), Some(action)) = (&self.gate, acts.choice) {
            expected.push(EcsCall::Continue {
                hook_id: self.ecs.plan().pause_hook_id(GATED_STAGE),
                action: match action {
                    Decision::Approved => Decision::Approved,
                    Decision::Rejected => Decision::Rejected,
                },
            });
        }
        if acts.rolled_back_now {
            expected.push(EcsCall::StopWithRollback);
        }
        let calls = self.ecs.calls();
        let names = |calls: &[EcsCall]| -> String {
            if calls.is_empty() {
                "no call".to_owned()
            } else {
                calls
                    .iter()
                    .map(|call| match call {
                        EcsCall::Continue { action, .. } => {
                            format!("ContinueServiceDeployment({})", ecs::action_name(*action))
                        }
                        EcsCall::StopWithRollback => "StopServiceDeployment(ROLLBACK)".to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join(", then ")
            }
        };
        if calls == expected && calls.is_empty() {
            Check::new(
                true,
                "ECS received no ContinueServiceDeployment and no StopServiceDeployment".to_owned(),
            )
        } else if calls == expected {
            Check::new(true, format!("ECS received {}, once", names(&calls)))
        } else {
            Check::new(
                false,
                format!(
                    "ECS received {} (expected: {})",
                    names(&calls),
                    names(&expected)
                ),
            )
        }
    }

    fn summary(&self, outcome: &DeploymentEnd, expected: Expected, checks: &[Check]) {
        let lines = self.timeline.summary();
        let width = lines
            .iter()
            .map(|(label, _)| label.chars().count())
            .max()
            .unwrap_or(0);
        let mut text = String::from("\ntimeline\n");
        for (label, value) in &lines {
            let pad = width - label.chars().count();
            text.push_str(&format!("  {label}{}  {value:>8}\n", " ".repeat(pad)));
        }
        text.push_str("\nchecks\n");
        for check in checks {
            let mark = if check.passed { "✔" } else { "✘" };
            text.push_str(&format!("  {mark} {}\n", check.text));
        }
        let ended = match outcome {
            DeploymentEnd::Successful => format!(
                "rerouted: the deployment is {}; production traffic is on green",
                self.ecs.status()
            ),
            DeploymentEnd::RolledBack { reason, .. } => format!(
                "rolled back: the deployment is {}; production traffic is on blue\n         ({reason})",
                self.ecs.status()
            ),
        };
        let passed = checks.iter().all(|check| check.passed);
        text.push_str(&format!(
            "\noutcome  {ended}\n         {}\n",
            if passed {
                format!("✔ as the story expects ({})", expected.words())
            } else {
                format!("✘ the story expects {}", expected.words())
            }
        ));
        self.console.say(&text);
    }
}

/// One thing the rehearsal checked.
struct Check {
    passed: bool,
    text: String,
}

impl Check {
    fn new(passed: bool, text: String) -> Check {
        Check { passed, text }
    }
}

/// greenlight's hook for Flow A, with settings read from the same variables as in Lambda,
/// shortened for a rehearsal.
fn lambda_hook(
    options: &Options,
    topic_arn: &str,
    decision_prefix: &ParameterName,
    store: &RunStore,
    topic: Arc<LoopbackTopic>,
    ecs: Arc<SimulatedEcs>,
) -> anyhow::Result<Arc<Hook>> {
    let timings = options.timings;
    let seconds = |duration: Duration| duration.as_secs_f64().to_string();
    let hook_env: HashMap<String, String> = [
        ("GREENLIGHT_SNS_TOPIC_ARN", topic_arn.to_owned()),
        ("GREENLIGHT_GATED_STAGES", GATED_STAGE.as_str().to_owned()),
        ("GREENLIGHT_DECISION_PREFIX", decision_prefix.to_string()),
        (
            "GREENLIGHT_CALLBACK_DELAY",
            timings.callback_delay_seconds.to_string(),
        ),
        ("GREENLIGHT_POLL_WINDOW", seconds(timings.poll_window)),
        ("GREENLIGHT_POLL_INTERVAL", seconds(timings.poll_interval)),
        ("GREENLIGHT_GATE_TIMEOUT", seconds(timings.gate_timeout)),
        ("GREENLIGHT_TIMEOUT_ACTION", "ROLLBACK".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let settings = HookSettings::from_env(&hook_env).context("the hook's settings")?;
    Ok(Arc::new(
        Hook::new(settings, Arc::clone(&store.store), topic, ecs)
            .with_gate_table(store.gates.clone()),
    ))
}

/// `N` random bytes from the system's generator: the run's id, the signing secret.
fn random<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0; N];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| anyhow!("the system's random generator failed"))?;
    Ok(bytes)
}

/// A real Slack channel to post to as well, when the environment names one and a bot token.
fn real_slack(env: &dyn EnvSource) -> anyhow::Result<Option<(Arc<dyn SlackApi>, String)>> {
    let (Some(token), Some(channel)) = (
        optional(env, "GREENLIGHT_SLACK_BOT_TOKEN"),
        optional(env, "GREENLIGHT_SLACK_CHANNEL"),
    ) else {
        return Ok(None);
    };
    if !crate::policy::rules::is_channel_id(&channel) {
        return Err(anyhow!(
            "GREENLIGHT_SLACK_CHANNEL: `{channel}` is not a Slack channel ID (C… or G…)"
        ));
    }
    let api_url =
        optional(env, "GREENLIGHT_SLACK_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    let api = SlackWebApi::new(&api_url, &token)
        .context("GREENLIGHT_SLACK_BOT_TOKEN")?
        .with_attempt_timeout(Duration::from_millis(1200));
    Ok(Some((Arc::new(api), channel)))
}
