//! The lifecycle hook alone, as the template deploys it to the hook function.
//!
//! `greenlight hook` runs the same code; this binary exists because the hook is started again
//! and again (every cold start, every new deployment) while the bot and the sweep are not: built
//! without the bot's router, Slack client and command line, it is a third smaller than
//! `greenlight`, so it maps fewer pages and starts sooner (docs/benchmarks.md, "The hook-only binary").
//!
//! Usage: no argument inside Lambda (serves the runtime API); `--event FILE` (or `-` for standard
//! input) for one local invocation, its response printed as one JSON line.

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: greenlight-hook [--event FILE]
  inside Lambda (AWS_LAMBDA_RUNTIME_API set): serves the ECS lifecycle hook
  --event FILE  runs one invocation with this ECS payload (- for standard input) and prints the
                response ECS would receive as one JSON line";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => serve_lambda(),
        ["--event", path] => greenlight::hook_process::main(Some(Path::new(path))),
        ["--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        ["--version" | "-V"] => {
            println!("greenlight-hook {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Serves the hook through the Lambda runtime API; refuses to start outside Lambda, or when the
/// function's handler names another face (this binary has only the hook).
fn serve_lambda() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        eprintln!(
            "greenlight-hook: not inside Lambda (AWS_LAMBDA_RUNTIME_API is not set)\n{USAGE}"
        );
        return ExitCode::from(2);
    }
    match std::env::var("_HANDLER").as_deref() {
        Ok("hook") | Err(_) => greenlight::hook_process::main(None),
        Ok(other) => {
            eprintln!(
                "greenlight-hook: _HANDLER is `{other}`; this binary serves only the hook (deploy `greenlight` for bot and sweep)"
            );
            ExitCode::from(2)
        }
    }
}
