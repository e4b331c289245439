//! The `greenlight` command line, which is also the Lambda entry point of its three functions
//! (`_HANDLER` = `hook`, `bot` or `sweep`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::config::ProcessEnv;

/// greenlight: a human gate, in Slack, in front of the production traffic shift of an ECS
/// blue/green deployment.
#[derive(Debug, Parser)]
#[command(name = "greenlight", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the lifecycle hook through the Lambda runtime API, or run one invocation locally.
    Hook {
        /// Run one invocation with this ECS payload (a file, or - for standard input) and print
        /// the response ECS would receive as one JSON line.
        #[arg(long, value_name = "FILE")]
        event: Option<PathBuf>,
    },
    /// Serve the bot's router through the Lambda runtime API (function URL events).
    Bot,
    /// One pass of the sweep over the open gates (reminders, escalations, overdue gates, missing
    /// cards, fresh evidence) with the bot's settings; on Lambda, every pass the schedule asks for.
    Sweep,
    /// Print the Slack app manifest with the bot's URL filled in.
    Manifest {
        /// The bot's function URL (the stack output BotUrl).
        #[arg(long)]
        url: String,
    },
    /// Serve the bot's router on a local port, with the same routes as the function URL.
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
    },
    /// Rehearse a whole blue/green deployment on this machine: a simulated ECS, the real hook (or
    /// ECS's own pause, with --flow pause) and bot, the card drawn in the terminal. No AWS account
    /// or Slack workspace needed.
    #[cfg(feature = "rehearsal")]
    Demo(crate::demo::DemoArgs),
    /// Manage the DynamoDB table where the bot keeps its gates.
    Table {
        #[command(subcommand)]
        action: TableAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum TableAction {
    /// Create the table with greenlight's schema (keys, indexes, TTL) if it does not exist yet;
    /// a table that exists is left as it is. For local runs (moto), `greenlight serve` and tests;
    /// on AWS the stack's template creates it.
    Create {
        /// The table's name.
        #[arg(long, env = "GREENLIGHT_TABLE")]
        table: String,
    },
}

/// Which function Lambda asked for (`_HANDLER`, set from the template's `Handler`).
fn lambda_handler() -> Option<String> {
    std::env::var("AWS_LAMBDA_RUNTIME_API").ok()?;
    std::env::var("_HANDLER").ok()
}

/// Parses the command line and runs the command on the runtime it needs: the hook and the sweep
/// on one thread (Lambda hands them one event at a time), the rest on tokio's worker threads.
pub fn main() -> ExitCode {
    crate::tls::install_crypto_provider();
    let command = match command_to_run(Cli::parse()) {
        Ok(command) => command,
        Err(code) => return code,
    };
    let runtime = match command {
        Command::Hook { .. } | Command::Sweep => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    match runtime {
        Ok(runtime) => runtime.block_on(run(command)),
        Err(error) => {
            eprintln!("greenlight: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The command given, or the function Lambda asked for when none is.
fn command_to_run(cli: Cli) -> Result<Command, ExitCode> {
    match cli.command {
        Some(command) => Ok(command),
        None => match lambda_handler().as_deref() {
            Some("hook") => Ok(Command::Hook { event: None }),
            Some("bot") => Ok(Command::Bot),
            Some("sweep") => Ok(Command::Sweep),
            Some(other) => {
                eprintln!("greenlight: _HANDLER is `{other}`; expected hook, bot or sweep");
                Err(ExitCode::from(2))
            }
            None => {
                eprintln!("greenlight: no command given (try `greenlight --help`)");
                Err(ExitCode::from(2))
            }
        },
    }
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Hook { event } => crate::hook_process::run(event.as_deref()).await,
        Command::Bot => run_bot(None).await,
        Command::Sweep => run_sweep(lambda_handler().is_some()).await,
        Command::Manifest { url } => match crate::manifest::render(&url) {
            Ok(manifest) => {
                print!("{manifest}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("greenlight: {error}");
                ExitCode::from(2)
            }
        },
        Command::Serve { addr } => run_bot(Some(addr)).await,
        #[cfg(feature = "rehearsal")]
        Command::Demo(args) => crate::demo::main(args).await,
        Command::Table {
            action: TableAction::Create { table },
        } => create_table(&table).await,
    }
}

/// `greenlight table create`: exit 0 whether it made the table or found it there.
async fn create_table(table: &str) -> ExitCode {
    let config = crate::aws::load_config(crate::aws::CallBudget::HOOK).await;
    let gates = crate::aws::dynamodb::DynamoGateTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
        crate::store::DEFAULT_RETENTION,
    );
    match gates.create_table().await {
        Ok(true) => {
            println!("created table {table} (keys, 4 indexes, TTL on expires_at)");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("table {table} exists already; left as it is");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("greenlight: could not create table {table}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The bot (and the sweep, which takes its settings) from the environment, or the exit code of a
/// refused start-up, with the setting named.
async fn build_bot() -> Result<Arc<crate::bot::Bot>, ExitCode> {
    match crate::wiring::bot_from_env(&ProcessEnv).await {
        Ok(bot) => Ok(Arc::new(bot)),
        Err(error) => {
            tracing::error!(event = "startup.refused", variable = error.variable, problem = %error.problem);
            eprintln!("greenlight: {error}");
            Err(ExitCode::from(2))
        }
    }
}

/// The sweep: on Lambda, one pass per invocation (the schedule's event is ignored); otherwise
/// one pass now, its report printed as one JSON line. A pass that cannot read the gate table
/// fails (the invocation errors, which the template's alarm counts).
async fn run_sweep(on_lambda: bool) -> ExitCode {
    crate::telemetry::init("info");
    let bot = match build_bot().await {
        Ok(bot) => bot,
        Err(code) => return code,
    };
    if on_lambda {
        let handler = service_fn(move |_: LambdaEvent<Value>| {
            let bot = Arc::clone(&bot);
            async move {
                bot.sweep(chrono::Utc::now())
                    .await
                    .map_err(lambda_runtime::Error::from)
            }
        });
        return match lambda_runtime::run(handler).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(event = "runtime.failed", error = %error);
                ExitCode::FAILURE
            }
        };
    }
    match bot.sweep(chrono::Utc::now()).await {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("greenlight: the sweep could not read the gate table: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Serves the bot: inside Lambda through the runtime API, or on `addr` locally.
async fn run_bot(addr: Option<SocketAddr>) -> ExitCode {
    crate::telemetry::init("info");
    let bot = match build_bot().await {
        Ok(bot) => bot,
        Err(code) => return code,
    };
    let app = crate::bot::app(bot);
    let served = match addr {
        None => lambda_http::run(app).await,
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!(event = "serve.listening", address = %addr);
                eprintln!(
                    "greenlight: serving the bot on http://{addr} (POST /sns, /slack/interactions, /slack/commands; GET /healthz)"
                );
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = tokio::signal::ctrl_c().await;
                    })
                    .await
                    .map_err(lambda_http::Error::from)
            }
            Err(error) => {
                eprintln!("greenlight: cannot listen on {addr}: {error}");
                return ExitCode::from(2);
            }
        },
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(event = "runtime.failed", error = %error);
            ExitCode::FAILURE
        }
    }
}
