//! A plugin as one built against taskhost API 0.1.0 is: its bindings come
//! from `wit/v0.1/plugin.wit`, its `taskhost:api` section says 0.1.0. It
//! runs each of task_data's `argv` lists and reports what came back, so a
//! test sees both a granted and a denied call through the 0.1 adapter.

wit_bindgen::generate!({ world: "task-plugin", path: "../../../wit/v0.1" });

use exports::taskhost::plugin::task::{Guest, Status, TaskInfo};
use taskhost::plugin::artifacts::{self, NewArtifact, NewFile};
use taskhost::plugin::process::{Command, Environment};
use taskhost::plugin::results::{CheckResult, Outcome, emit};
use taskhost::plugin::types::Error;

#[used]
#[unsafe(link_section = "taskhost:manifest")]
static MANIFEST: [u8; include_bytes!("../taskhost.toml").len()] =
    *include_bytes!("../taskhost.toml");

#[used]
#[unsafe(link_section = "taskhost:api")]
static API: [u8; 5] = *b"0.1.0";

struct Legacy;

fn text(e: &Error) -> String {
    match e {
        Error::AccessDenied(m) => format!("access-denied: {m}"),
        Error::Invalid(m) => format!("invalid: {m}"),
        Error::NotFound(m) => format!("not-found: {m}"),
        Error::Failed(m) => format!("failed: {m}"),
        Error::TimedOut => "timed-out".into(),
    }
}

impl Guest for Legacy {
    fn describe() -> TaskInfo {
        TaskInfo {
            name: "legacy01".into(),
            summary: "Built against taskhost API 0.1.0".into(),
            task_data_doc: "- `argv`: a list of command lines (lists of strings) to run".into(),
        }
    }

    fn validate(task_data: String) -> Result<(), Error> {
        let data: serde_json::Value =
            serde_json::from_str(&task_data).map_err(|e| Error::Invalid(e.to_string()))?;
        match data.get("argv") {
            Some(serde_json::Value::Array(_)) => Ok(()),
            _ => Err(Error::Invalid(
                "task_data: argv: a list of command lines".into(),
            )),
        }
    }

    fn execute(task_data: String) -> Result<Status, Error> {
        let data: serde_json::Value =
            serde_json::from_str(&task_data).map_err(|e| Error::Invalid(e.to_string()))?;
        let env = Environment::open("local", None)?;
        for (n, argv) in data["argv"].as_array().into_iter().flatten().enumerate() {
            let argv: Vec<String> = argv
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let command = Command {
                argv: argv.clone(),
                env: Vec::new(),
                cwd: None,
                stdin: None,
                stdout: Some(format!("out-{n}.txt")),
                stderr: None,
                timeout_ms: None,
                run_as_root: false,
            };
            let (outcome, note) = match env.run(&command) {
                Ok(exit) => {
                    let out = std::fs::read_to_string(&exit.stdout).unwrap_or_default();
                    (Outcome::Passed, format!("ran: {}", out.trim()))
                }
                Err(e) => (Outcome::Failed, text(&e)),
            };
            emit(&CheckResult {
                item: argv.join(" "),
                type_: "command".into(),
                outcome,
                checkname: None,
                note: Some(note),
                artifact: None,
                keyvals: Vec::new(),
            })?;
        }
        let id = artifacts::create(&NewArtifact {
            category: "test:legacy".into(),
            data: "{\"api\": \"0.1.0\"}".into(),
            files: vec![NewFile {
                name: "out.txt".into(),
                path: "out-0.txt".into(),
            }],
        })?;
        taskhost::plugin::log::log(
            taskhost::plugin::log::Level::Info,
            &format!("stored artifact {id}"),
        );
        Ok(Status::Success)
    }
}

export!(Legacy);
