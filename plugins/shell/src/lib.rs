//! The `shell` directive (libtaskotron's `bash`): runs command lines one
//! after the other on the local backend, or on the machine of
//! `runtask --ssh` (backend `auto`).
//!
//! A command line is split into argv with shell-words rules (quotes and
//! backslashes; no variables, globs, pipes or `;`), or given as a list
//! that already is the argv. No shell ever runs unless a line names one,
//! so each argv is checked as it is against the operator's exec grants.
//! A command that does not exit 0 fails the action. The end of each
//! command's stdout is logged.

use serde::Deserialize;
use serde_json::Value;
use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output};
use taskhost_sdk::{Command, Environment, Error, Result, log};

// ---- params -----------------------------------------------------------

#[derive(Debug, Deserialize, DirectiveParams)]
pub struct Params {
    /// command lines: text split like a shell does (no expansions), or argv lists
    pub commands: Vec<Value>,
}

/// Lines of stderr shown when a command fails.
const STDERR_TAIL: usize = 20;
/// Lines of stdout logged after each command.
const STDOUT_TAIL: usize = 20;

pub struct Shell;

impl Directive for Shell {
    type Params = Params;
    const NAME: &'static str = "shell";
    const SUMMARY: &'static str = "Runs command lines (argv, no shell) on the local backend, the --ssh machine or the --libvirt machine";
    const RETURNS: &'static str = "the stdout of the last command, as text";
    const RAISES: &'static str =
        "when a line cannot be split, a command is not granted, or a command does not exit 0";

    fn run(p: Params, _: &Context) -> Result<Output> {
        let commands = argvs(&p.commands)?;
        let env = Environment::open("auto")?;
        let mut stdout = String::new();
        for (index, argv) in commands.iter().enumerate() {
            let shown = shell_words::join(argv);
            log::info(format!("commands[{index}]: {shown}"));
            let exit = env
                .run(&Command::new(argv[0].as_str()).args(argv[1..].iter().cloned()))
                .map_err(|e| in_command(index, &shown, e))?;
            if exit.truncated() {
                log::warn(format!(
                    "commands[{index}] `{shown}` printed more than the host keeps \
                     (`output-limit` in the policy): its output was cut there"
                ));
            }
            if !exit.success() {
                let how = match (exit.code(), exit.signal()) {
                    _ if exit.timed_out() => "ran past its time limit".to_string(),
                    (Some(code), _) => format!("exited with code {code}"),
                    (None, Some(signal)) => format!("was killed by signal {signal}"),
                    (None, None) => "ended abnormally".to_string(),
                };
                let stderr = exit.read_stderr().unwrap_or_default();
                let tail = tail(&stderr, STDERR_TAIL);
                let tail = if tail.is_empty() {
                    " (no stderr)".to_string()
                } else {
                    format!("; its stderr ends with:\n{tail}")
                };
                return Err(Error::failed(format!(
                    "commands[{index}] `{shown}` {how}{tail}"
                )));
            }
            stdout = exit.read_stdout()?;
            if !stdout.trim().is_empty() {
                log::info(format!(
                    "commands[{index}] printed:\n{}",
                    tail(&stdout, STDOUT_TAIL)
                ));
            }
        }
        Ok(Output::value(stdout))
    }
}

// ---- command lines ----------------------------------------------------

/// The argv of each command line. Errors name the line.
pub fn argvs(commands: &[Value]) -> Result<Vec<Vec<String>>> {
    if commands.is_empty() {
        return Err(Error::invalid(
            "param `commands` is empty: give at least one command line",
        ));
    }
    commands
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let argv = match line {
                Value::String(text) => shell_words::split(text).map_err(|e| {
                    Error::invalid(format!("commands[{index}] `{text}`: {e} (quote it as a shell would)"))
                })?,
                Value::Array(items) => items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        Value::Number(n) => Ok(n.to_string()),
                        Value::Bool(b) => Ok(b.to_string()),
                        _ => Err(Error::invalid(format!(
                            "commands[{index}]: an argv list holds text only, found {v}"
                        ))),
                    })
                    .collect::<Result<Vec<_>>>()?,
                other => {
                    return Err(Error::invalid(format!(
                        "commands[{index}] must be a command line (text) or an argv list, not {other}"
                    )));
                }
            };
            if argv.first().is_none_or(|p| p.is_empty()) {
                return Err(Error::invalid(format!("commands[{index}] names no program")));
            }
            Ok(argv)
        })
        .collect()
}

/// Says which command a host error is about.
fn in_command(index: usize, shown: &str, e: Error) -> Error {
    let at = format!("commands[{index}] `{shown}`");
    match e {
        Error::AccessDenied(m) => Error::AccessDenied(format!("{at}: {m}")),
        Error::Invalid(m) => Error::Invalid(format!("{at}: {m}")),
        Error::NotFound(m) => Error::NotFound(format!("{at}: {m}")),
        Error::Failed(m) => Error::Failed(format!("{at}: {m}")),
        Error::TimedOut => Error::Failed(format!("{at}: timed out")),
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

taskhost_sdk::export_directive!(Shell, manifest = "taskhost.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(lines: Value) -> Result<Vec<Vec<String>>> {
        argvs(lines.as_array().unwrap())
    }

    #[test]
    fn lines_are_split_like_a_shell_without_expansions() {
        let got = split(json!([
            "echo a;b",
            "printf '%s\\n' \"two words\" $HOME *.txt",
            "grep -e 'x|y' file > out",
        ]))
        .unwrap();
        assert_eq!(got[0], ["echo", "a;b"]);
        assert_eq!(got[1], ["printf", "%s\\n", "two words", "$HOME", "*.txt"]);
        assert_eq!(got[2], ["grep", "-e", "x|y", "file", ">", "out"]);
    }

    #[test]
    fn lists_are_argv_as_they_are() {
        let got = split(json!([["echo", "a b", 3, true]])).unwrap();
        assert_eq!(got[0], ["echo", "a b", "3", "true"]);
    }

    #[test]
    fn bad_lines_are_named() {
        let msg = |v: Value| match split(v).unwrap_err() {
            Error::Invalid(m) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            msg(json!(["echo ok", "echo 'unclosed"])).starts_with("commands[1] `echo 'unclosed`:")
        );
        assert_eq!(msg(json!(["  "])), "commands[0] names no program");
        assert_eq!(msg(json!([[]])), "commands[0] names no program");
        assert!(msg(json!([{"a": 1}])).starts_with("commands[0] must be a command line"));
        assert!(msg(json!([["echo", ["x"]]])).contains("an argv list holds text only"));
        assert!(msg(json!([])).contains("is empty"));
    }

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 2), "");
    }
}
