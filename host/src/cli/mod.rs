//! runtask, the command line: arguments (`args`), the set-up they make
//! once (`setup`), and one module per command.

pub(crate) mod args;
pub(crate) mod artifact;
pub(crate) mod audit;
pub(crate) mod children;
pub(crate) mod collection;
pub(crate) mod formula;
pub(crate) mod metrics;
pub(crate) mod output;
pub(crate) mod plugin;
pub(crate) mod queue;
pub(crate) mod run;
pub(crate) mod scaffold;
pub(crate) mod setup;
pub(crate) mod signals;

/// Bad input from the user (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(String);

pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// A plugin the policy does not trust (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refusal(String);

pub(crate) fn refusal(message: impl Into<String>) -> anyhow::Error {
    Refusal(message.into()).into()
}
