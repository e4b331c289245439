//! The hook as a process: served through the Lambda runtime API, or one invocation from a file.
//! Shared by `greenlight hook` and the hook-only binary `greenlight-hook` (`src/bin/`), which is
//! what the template deploys as the hook function.
//!
//! The hook runs on a current-thread runtime: Lambda hands an execution environment one event at
//! a time, and the hook's work is a few AWS calls and sleeps, so worker threads would only add
//! start-up work and memory to every cold start.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::config::ProcessEnv;
use crate::hook::{Hook, instant_of_deadline};

/// Runs the hook on its own current-thread runtime: `event` is a payload file (`-` for standard
/// input) for one local invocation; `None` serves the Lambda runtime API.
pub fn main(event: Option<&Path>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(event)),
        Err(error) => {
            eprintln!("greenlight: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The hook on whatever runtime the caller runs.
pub async fn run(event: Option<&Path>) -> ExitCode {
    crate::tls::install_crypto_provider();
    crate::telemetry::init("info");
    let hook = match crate::wiring::hook_from_env(&ProcessEnv).await {
        Ok(hook) => Arc::new(hook),
        Err(error) => {
            tracing::error!(event = "startup.refused", variable = error.variable, problem = %error.problem);
            eprintln!("greenlight: {error}");
            return ExitCode::from(2);
        }
    };
    match event {
        Some(path) => run_once(&hook, path).await,
        None => {
            let handler = service_fn(move |event: LambdaEvent<Value>| {
                let hook = Arc::clone(&hook);
                async move {
                    let must_answer_by = instant_of_deadline(event.context.deadline);
                    Ok::<_, lambda_runtime::Error>(
                        hook.handle(&event.payload, must_answer_by).await,
                    )
                }
            });
            match lambda_runtime::run(handler).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(event = "runtime.failed", error = %error);
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// One invocation with the payload in `path`, its response printed as one JSON line.
async fn run_once(hook: &Hook, path: &Path) -> ExitCode {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(path)
    };
    let text = match text {
        Ok(text) => text,
        Err(error) => {
            eprintln!("greenlight: cannot read {}: {error}", path.display());
            return ExitCode::from(2);
        }
    };
    // A payload that is not JSON is handed on as a string: the hook answers FAILED, as it would
    // in Lambda, instead of this command inventing another behaviour.
    let payload = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    let response = hook.handle(&payload, None).await;
    match serde_json::to_string(&response) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("greenlight: cannot print the response: {error}");
            ExitCode::FAILURE
        }
    }
}
