//! libtaskotron's `python` directive: calls a function of the task's own
//! Python file, with every other param as a keyword argument, and returns
//! what it returns (usually ResultYAML from `check.export_YAML`).
//!
//! The task's directory is copied into the workspace before the first
//! action, so `file` is a workspace path. The directive writes its runner
//! and the `libtaskotron.check` / `checkb.check` modules to
//! `.taskhost/python/`, the params to `kwargs.json` there, and runs
//! `python3 .taskhost/python/runner.py FILE CALLABLE` on the local
//! backend (on the machine of `runtask --ssh` with it: backend `auto`), outside the wasm sandbox (task code imports rpm and koji and
//! runs tools). The operator's exec grants decide which files may run.
//! The runner writes what the callable returned, or the traceback of what
//! it raised, to `return.json`.

use serde::Deserialize;
use serde_json::{Map, Value};
use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output};
use taskhost_sdk::{Command, Environment, Error, Result, log};

/// `file`, `callable` and the keyword arguments.
#[derive(Debug, Deserialize, DirectiveParams)]
pub struct Params {
    /// the task's Python file, relative to the task's directory
    pub file: String,
    /// the function to call (or object.method)
    pub callable: String,
    /// every other param: a keyword argument of the callable, as the formula gives it
    #[serde(flatten)]
    pub kwargs: Map<String, Value>,
}

/// The call the params ask for.
#[derive(Debug, PartialEq)]
pub struct Call {
    /// The task's file, a workspace path without `./`.
    pub file: String,
    /// A function, or `object.method`.
    pub callable: String,
    pub kwargs: Map<String, Value>,
}

/// Where the runner and the modules are written, in the workspace.
pub const DIR: &str = ".taskhost/python";
/// The runner, as the exec grant names it.
pub const RUNNER: &str = ".taskhost/python/runner.py";
const KWARGS: &str = ".taskhost/python/kwargs.json";
const RETURN: &str = ".taskhost/python/return.json";
/// The task's stdout and stderr, together.
const OUTPUT: &str = ".taskhost/python/output.txt";

/// `(name, text)` of files under python/, embedded.
macro_rules! shipped {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../python/", $name)))),*]
    };
}

/// The files written to [`DIR`]: the runner and the compatibility modules.
pub const FILES: &[(&str, &str)] = shipped![
    "runner.py",
    "_taskhost_check.py",
    "libtaskotron/__init__.py",
    "libtaskotron/check.py",
    "libtaskotron/exceptions.py",
    "checkb/__init__.py",
    "checkb/check.py",
    "checkb/exceptions.py",
];

/// Lines of the task's output logged after the call.
const OUTPUT_TAIL: usize = 100;
/// Bytes read from the end of the output for that.
const OUTPUT_TAIL_BYTES: u64 = 64 << 10;

pub struct Python;

impl Directive for Python {
    type Params = Params;
    const NAME: &'static str = "python";
    const SUMMARY: &'static str =
        "Calls a function of the task's Python file with keyword params (libtaskotron's python)";
    const RETURNS: &'static str =
        "what the callable returns (usually ResultYAML from libtaskotron's check.export_YAML)";
    const RAISES: &'static str = "when the file is missing or not granted, the callable does not \
         exist, raises (the traceback is in the log), or returns what JSON cannot hold";

    fn run(p: Params, _: &Context) -> Result<Output> {
        let call = Call::from_params(p)?;
        match std::fs::metadata(&call.file) {
            Ok(m) if m.is_file() => {}
            _ => {
                return Err(Error::NotFound(format!(
                    "param `file`: '{}' is not in the task's directory (the formula's \
                     directory, copied into the workspace)",
                    call.file
                )));
            }
        }
        install()?;
        let kwargs = serde_json::to_string(&call.kwargs)
            .map_err(|e| Error::failed(format!("encoding the keyword params: {e}")))?;
        write(KWARGS, &kwargs)?;
        match std::fs::remove_file(RETURN) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::failed(format!("removing {RETURN}: {e}")));
            }
            _ => {}
        }

        log::info(format!("calling {}() in {}", call.callable, call.file));
        // A refused backend is the host's refusal as it is: an exec grant
        // for the file (what `refused` suggests) would not help.
        let env = Environment::open("auto")?;
        let exit = env
            .run(
                &Command::new("python3")
                    .args(call.argv()[1..].iter().cloned())
                    .stdout(OUTPUT)
                    .stderr(OUTPUT),
            )
            .map_err(|e| call.refused(e))?;
        let output = tail(OUTPUT);
        if !output.trim().is_empty() {
            log::info(format!("{} printed:\n{output}", call.file));
        }
        if exit.truncated() {
            log::warn(format!(
                "{} printed more than the host keeps (`output-limit` in the policy): its output \
                 was cut there",
                call.file
            ));
        }
        let answer = match std::fs::read_to_string(RETURN) {
            Ok(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
                Error::failed(format!("the runner wrote a {RETURN} that is not JSON: {e}"))
            })?,
            Err(_) => {
                return Err(Error::failed(format!(
                    "python3 {exit} before {}() in {} returned{}",
                    call.callable,
                    call.file,
                    if output.trim().is_empty() {
                        " (it printed nothing)".to_string()
                    } else {
                        format!("; its output ends with:\n{output}")
                    }
                )));
            }
        };
        answer_to_output(answer)
    }
}

impl Call {
    /// Splits the params; errors name the param.
    pub fn from_params(p: Params) -> Result<Call> {
        Ok(Call {
            file: task_file(&p.file)?,
            callable: checked_callable(&p.callable)?,
            kwargs: p.kwargs,
        })
    }

    /// What runs: `python3 RUNNER FILE CALLABLE`.
    pub fn argv(&self) -> Vec<String> {
        vec![
            "python3".into(),
            RUNNER.into(),
            self.file.clone(),
            self.callable.clone(),
        ]
    }

    /// A refused call names the file and how to grant it alone.
    fn refused(&self, e: Error) -> Error {
        match e {
            Error::AccessDenied(m) => {
                let alone = format!(
                    "{} *",
                    shell_words::join(["python3", RUNNER, self.file.as_str()])
                );
                Error::AccessDenied(format!(
                    "the task's python file '{}' (callable `{}`) is not granted: {m}; \
                     to grant this file alone: exec = [{alone:?}] in the same table, \
                     or pass --allow-exec {}",
                    self.file,
                    self.callable,
                    shell_words::quote(&alone)
                ))
            }
            other => other,
        }
    }
}

/// `file` as a workspace path: relative, no `..`, without `./` parts.
pub fn task_file(file: &str) -> Result<String> {
    use std::path::{Component, Path};
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "param `file`: '{file}' {why}; give a path relative to the task's directory \
             (e.g. run_check.py)"
        )))
    };
    if Path::new(file).is_absolute() {
        return bad("is an absolute path");
    }
    let mut parts = Vec::new();
    for c in Path::new(file).components() {
        match c {
            Component::Normal(part) => match part.to_str() {
                Some(part) => parts.push(part),
                None => return bad("is not UTF-8"),
            },
            Component::CurDir => {}
            _ => return bad("leaves the task's directory"),
        }
    }
    if parts.is_empty() {
        return bad("names no file");
    }
    Ok(parts.join("/"))
}

/// `callable`: a Python name, or dotted names (`Check.run`).
pub fn checked_callable(callable: &str) -> Result<String> {
    let name = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if callable.split('.').all(name) {
        Ok(callable.to_string())
    } else {
        Err(Error::invalid(format!(
            "param `callable`: '{callable}' is not a Python name (a function, or object.method)"
        )))
    }
}

/// The runner's answer: `{"value": ...}` or `{"error": ..., "traceback": ...}`.
pub fn answer_to_output(answer: Value) -> Result<Output> {
    let Value::Object(mut answer) = answer else {
        return Err(Error::failed(format!(
            "the runner answered {answer}, not a mapping"
        )));
    };
    if let Some(value) = answer.remove("value") {
        return Ok(Output::value(value));
    }
    let error = answer
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("the runner failed without saying why");
    Err(Error::failed(
        match answer.get("traceback").and_then(Value::as_str) {
            Some(traceback) => format!("{error}:\n{}", traceback.trim_end()),
            None => error.to_string(),
        },
    ))
}

/// Writes the runner and the modules to [`DIR`].
fn install() -> Result<()> {
    for (name, text) in FILES {
        let path = format!("{DIR}/{name}");
        if let Some(parent) = std::path::Path::new(&path).parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::failed(format!("creating {}: {e}", parent.display())))?;
        }
        write(&path, text)?;
    }
    Ok(())
}

fn write(path: &str, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::failed(format!("writing {path}: {e}")))
}

/// The last lines of a workspace file (empty when unreadable).
fn tail(path: &str) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(OUTPUT_TAIL_BYTES)));
    let mut bytes = Vec::new();
    let _ = f.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(OUTPUT_TAIL)..].join("\n")
}

taskhost_sdk::export_directive!(Python, manifest = "taskhost.toml");

#[cfg(test)]
mod tests;
