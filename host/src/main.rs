//! runtask: the command line of taskhost. Parses arguments, calls the
//! library, prints. The modules under `cli/` hold the arguments, the
//! set-up they make and one file per command.

mod cli;

use anyhow::Result;
use cli::args::{Cli, Command, parse_cli};
use cli::{Refusal, UsageError};
use std::io::IsTerminal;
use std::process::ExitCode;
use taskhost::report::ExitCode as Code;

fn main() -> ExitCode {
    // runtask is also the reaper of commands on hosts without cgroups.
    taskhost::backends::reaper::serve_if_asked();
    let cli = parse_cli();
    let format = cli.output_format();
    init_tracing(cli.verbose, cli.debug, cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                Code::TaskError,
                &anyhow::anyhow!("starting the async runtime: {e}"),
            );
        }
    };
    let result = runtime.block_on(dispatch(cli));
    // A thread stuck in a system call (a plugin's WASI open of a FIFO, say)
    // must not keep runtask alive: dropping the runtime would wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            let code = if e.downcast_ref::<UsageError>().is_some() {
                Code::Usage
            } else if e.downcast_ref::<Refusal>().is_some() {
                Code::PolicyRefused
            } else {
                Code::TaskError
            };
            if let Some(format) = format {
                cli::output::print_failure(format, &format!("runtask: error: {e:#}"));
            }
            fail(code, &e)
        }
    }
}

fn fail(code: Code, e: &anyhow::Error) -> ExitCode {
    eprintln!("runtask: error: {e:#}");
    code.into()
}

fn init_tracing(verbose: u8, debug: bool, json: bool) {
    let filter = match (debug, verbose) {
        (true, _) => "trace",
        (false, 0) => "info,wasmtime=warn,cranelift=warn,refinery_core=warn,async_nats=warn",
        (false, _) => "debug,wasmtime=info,cranelift=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUNTASK_LOG")
        .unwrap_or_else(|_| filter.into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        logs.json().with_current_span(false).init();
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

async fn dispatch(cli: Cli) -> Result<Code> {
    // The flags make one set-up, used by every command.
    let config = cli::setup::Config::new(cli.store.clone(), cli.nats.clone(), cli.replicas)?;
    match cli.command {
        Some(Command::Run(args)) => cli::run::run(*args, &config).await,
        Some(Command::Plugin(cmd)) => cli::plugin::plugin(cmd, &config).await,
        Some(Command::Artifact(cmd)) => cli::artifact::artifact(cmd, &config),
        Some(Command::Collection(cmd)) => cli::collection::collection(cmd, &config).await,
        Some(Command::Submit(args)) => cli::queue::submit(*args, &config).await,
        Some(Command::Status { run_id, json }) => cli::queue::status(&config, &run_id, json).await,
        Some(Command::Wait { run_id, output }) => cli::queue::wait(&config, &run_id, &output).await,
        Some(Command::Worker(args)) => cli::queue::worker(*args, &config).await,
        Some(Command::Audit {
            run_id,
            denied,
            json,
        }) => cli::audit::audit(&config, &run_id, denied, json),
        None => cli::formula::formula(*cli.formula, &config).await,
    }
}
