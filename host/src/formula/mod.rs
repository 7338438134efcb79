//! Taskotron task formulas: `runtask -i ITEM -t TYPE runtask.yml`.
//!
//! A formula (`runtask.yml`) names the task and lists its actions; each
//! action calls a directive plugin (`koji`, `resultsdb`, `exitcode`, ...)
//! or a task plugin (`lintian`, `blhc`, ... with their task_data as
//! params). Values may use `$var` / `${var}` ([`template`]); an action's
//! `export:` stores what it returned under a new variable.
//!
//! Everything that can be checked before a plugin runs is checked first:
//! the YAML, the keys, the directives' names, undefined variables, the
//! params that hold no variables, `input.args`, `environment` and every
//! plugin's grants. Errors name the file, line and column, the action
//! and the key.
//!
//! All actions share one workspace: the formula's `workdir` (`.`).
//! Files an action writes under `artifacts/` (`${artifactsdir}`) are
//! copied to `<artifactsdir>/<uuid>/` at the end, with `results.yaml`
//! and the run's log.

mod params;
mod parse;
mod run;
pub mod template;

pub use parse::{Action, Formula};
pub use run::{Invocation, LoadError, PlannedFormula, plan, run, task_files};

use crate::runtime::bindings::directive::DirectiveInfo;
use std::fmt::{self, Write as _};

/// A line and column (1-based) in a formula.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Something wrong with a formula, found before or while running it.
#[derive(Debug, thiserror::Error)]
pub enum FormulaError {
    /// At a place in the file.
    #[error("{file}:{}:{}: {message}", at.line, at.column)]
    At {
        file: String,
        at: Pos,
        message: String,
    },
    /// About the run as a whole (missing dependencies, input args).
    #[error("{0}")]
    Run(String),
    /// The policy does not trust a plugin the formula uses.
    #[error("{0}")]
    Untrusted(String),
}

impl FormulaError {
    pub(crate) fn at(file: &str, at: Pos, message: impl Into<String>) -> Self {
        FormulaError::At {
            file: file.to_string(),
            at,
            message: message.into(),
        }
    }
}

/// `runtask plugin describe` of a directive: its params and returns.
pub fn describe_directive(info: &DirectiveInfo) -> String {
    let mut out = format!("{} — {} (directive)\n\nparams:\n", info.name, info.summary);
    if info.params.is_empty() {
        out.push_str("  (none)\n");
    }
    for p in &info.params {
        let mut flags = vec![params::type_name(p.type_).to_string()];
        if p.required {
            flags.push("required".into());
        }
        if let Some(d) = &p.default {
            flags.push(format!("default {d}"));
        }
        if !p.choices.is_empty() {
            flags.push(format!("one of {}", p.choices.join(", ")));
        }
        let _ = writeln!(out, "  {}: {} — {}", p.name, flags.join("; "), p.doc);
    }
    let _ = writeln!(out, "\nreturns: {}", info.returns);
    if !info.raises.is_empty() {
        let _ = writeln!(out, "raises: {}", info.raises);
    }
    out
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}
