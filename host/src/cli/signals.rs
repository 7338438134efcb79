//! SIGINT and SIGTERM: a run is stopped cleanly, or runtask exits
//! anyway once the grace period is over.

use super::usage;
use anyhow::Result;
use taskhost::report::{self, ExitCode as Code};
use taskhost::run::RunError;

/// How long a run may take to stop after SIGINT or SIGTERM before runtask
/// kills its commands, removes its workspace and exits without it.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Awaits a run; on SIGINT or SIGTERM drops it (every process of its
/// commands is killed, its workspace removed) and returns `None`. Bad input
/// becomes a usage error, worded by `invalid`.
///
/// The signal is watched by a task of its own, so a run stuck in a system
/// call cannot hide it: if the run does not stop within [`STOP_GRACE`],
/// the watcher kills every command, removes the workspaces and exits.
pub(crate) async fn until_signal(
    running: impl std::future::Future<Output = std::result::Result<report::Report, RunError>>,
    what: &str,
    invalid: impl FnOnce(String) -> String,
) -> Result<Option<report::Report>> {
    let (tell, told) = tokio::sync::oneshot::channel();
    let stuck = format!(
        "runtask: {what} did not stop within {}s",
        STOP_GRACE.as_secs()
    );
    let signalled = interrupted();
    let watcher = tokio::spawn(async move {
        let signal = signalled.await;
        let _ = tell.send(signal);
        tokio::time::sleep(STOP_GRACE).await;
        eprintln!("{stuck}: killing its commands and removing its workspace");
        taskhost::backends::kill_all(std::time::Duration::from_secs(1));
        taskhost::workspace::remove_all();
        std::process::exit(i32::from(Code::TaskError.code()));
    });
    let mut running = Box::pin(running);
    let finished = tokio::select! {
        result = &mut running => result,
        Ok(signal) = told => {
            drop(running);
            watcher.abort();
            eprintln!("runtask: {signal}: {what} stopped, its commands killed and its workspace removed");
            return Ok(None);
        }
    };
    watcher.abort();
    match finished {
        Ok(report) => Ok(Some(report)),
        Err(RunError::Invalid(message)) => Err(usage(invalid(message))),
        Err(RunError::Internal(e)) => Err(e),
    }
}

/// Handles SIGINT and SIGTERM from now on; the future resolves on either,
/// naming it.
pub(crate) fn interrupted() -> impl std::future::Future<Output = &'static str> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let streams = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    async move {
        match streams {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => "interrupted",
                _ = term.recv() => "terminated",
            },
            _ => std::future::pending().await,
        }
    }
}
