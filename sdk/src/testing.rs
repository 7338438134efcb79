//! A fake host, for native unit tests of a plugin's `execute` (cargo
//! feature `testing`).
//!
//! Give [`FakeHost`] the task_data, the input artifacts and a reply for
//! each command line the plugin may run; [`FakeHost::execute`] runs the
//! task natively, in a fresh workspace that is the current directory for
//! the duration, and returns a [`Run`]: the status, the commands run, the
//! artifacts and relations created, the results and the log. A denied
//! capability is simulated with the `deny_*` methods, so error paths are
//! testable.
//!
//! ```
//! use serde::Deserialize;
//! use taskhost_sdk::results::{CheckResult, Outcome};
//! use taskhost_sdk::testing::{FakeHost, Reply};
//! use taskhost_sdk::{Command, Environment, Result, Status, Task};
//!
//! #[derive(Deserialize)]
//! struct Data { file: String }
//!
//! struct Check;
//! impl Task for Check {
//!     type Data = Data;
//!     const NAME: &'static str = "check";
//!     const SUMMARY: &'static str = "Runs a checker";
//!     fn execute(data: Data) -> Result<Status> {
//!         let exit = Environment::open("auto")?.run(&Command::new("checker").arg(&data.file))?;
//!         let outcome = if exit.success() { Outcome::Passed } else { Outcome::Failed };
//!         CheckResult::new(&data.file, "file", outcome).note(exit.read_stdout()?).emit()?;
//!         Ok(if exit.success() { Status::Success } else { Status::Failure })
//!     }
//! }
//!
//! let run = FakeHost::new()
//!     .task_data(serde_json::json!({"file": "a.txt"}))
//!     .reply("checker *", Reply::exit(1).stdout("1 error"))
//!     .execute::<Check>();
//! assert_eq!(run.status, Ok(Status::Failure));
//! assert_eq!(run.commands, [["checker", "a.txt"]]);
//! assert_eq!(run.results[0].note.as_deref(), Some("1 error"));
//!
//! // The same run with `checker` denied by the policy.
//! let run = FakeHost::new()
//!     .task_data(serde_json::json!({"file": "a.txt"}))
//!     .deny_exec("checker **")
//!     .execute::<Check>();
//! assert!(matches!(run.status, Err(taskhost_sdk::Error::AccessDenied(_))));
//! ```
//!
//! A command line with no reply panics (the test fails, naming it), as
//! does any host call made outside [`FakeHost::execute`].
//!
//! Add it to a plugin crate with
//!
//! ```toml
//! [dev-dependencies]
//! taskhost-sdk = { version = "0.2", features = ["testing"] }
//! ```
//!
//! and write tests in `tests/*.rs` or `#[cfg(test)]` modules as above. The
//! fake host checks what it can of what the real one checks (workspace
//! paths, artifact visibility, denials given to it); it does not know the
//! plugin's manifest or policy. To test a built `.wasm` in the real host,
//! against the real tools, use `taskhost::testing` from the `taskhost`
//! crate.

use crate::bindings::taskhost::plugin::artifacts::RelationType;
use crate::bindings::taskhost::plugin::log::Level;
use crate::collections::{Collection, Item};
use crate::directive::{Context, Directive, Output};
use crate::{ArtifactId, Error, Outcome, Result, Status, Task};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How a faked command ends, and what it leaves behind: give one per
/// command line with [`FakeHost::reply`].
///
/// ```
/// use taskhost_sdk::testing::Reply;
/// let reply = Reply::exit(1).stdout("E: hello: binary-without-manpage").writes("out/tags", "1");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Reply {
    code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    truncated: bool,
    writes: Vec<(String, Made)>,
}

#[derive(Clone, Debug)]
enum Made {
    File(Vec<u8>),
    Dir,
    Symlink(String),
}

impl Reply {
    /// Exits with `code`.
    ///
    /// ```
    /// let ok = taskhost_sdk::testing::Reply::exit(0);
    /// ```
    pub fn exit(code: i32) -> Self {
        Reply {
            code: Some(code),
            ..Reply::default()
        }
    }

    /// Killed by `signal`.
    ///
    /// ```
    /// let killed = taskhost_sdk::testing::Reply::signal(9);
    /// ```
    pub fn signal(signal: i32) -> Self {
        Reply {
            signal: Some(signal),
            ..Reply::default()
        }
    }

    /// Killed at its timeout.
    ///
    /// ```
    /// let slow = taskhost_sdk::testing::Reply::timed_out();
    /// ```
    pub fn timed_out() -> Self {
        Reply {
            signal: Some(9),
            timed_out: true,
            ..Reply::default()
        }
    }

    /// Prints `text` on stdout.
    ///
    /// ```
    /// let r = taskhost_sdk::testing::Reply::exit(0).stdout("1.2.3");
    /// ```
    pub fn stdout(mut self, text: impl Into<Vec<u8>>) -> Self {
        self.stdout = text.into();
        self
    }

    /// Prints the content of `file` (read now, relative to the crate under
    /// test, else the path as given) on stdout: a real tool's output kept
    /// beside the tests, such as `tests/data/lintian.txt`. A missing file
    /// panics.
    ///
    /// ```
    /// use taskhost_sdk::testing::Reply;
    /// // Here the SDK's own README stands in for a saved tool output.
    /// let reply = Reply::exit(1).stdout_file("README.md");
    /// ```
    pub fn stdout_file(self, file: impl AsRef<Path>) -> Self {
        let text = read_fixture(file.as_ref());
        self.stdout(text)
    }

    /// Prints `text` on stderr.
    ///
    /// ```
    /// let r = taskhost_sdk::testing::Reply::exit(2).stderr("E: no such file");
    /// ```
    pub fn stderr(mut self, text: impl Into<Vec<u8>>) -> Self {
        self.stderr = text.into();
        self
    }

    /// Leaves workspace file `path` with `content` (a tool's report,
    /// a built package).
    ///
    /// ```
    /// let r = taskhost_sdk::testing::Reply::exit(0).writes("out/report.json", "{}");
    /// ```
    pub fn writes(mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        self.writes.push((path.into(), Made::File(content.into())));
        self
    }

    /// Leaves workspace directory `path`.
    ///
    /// ```
    /// let r = taskhost_sdk::testing::Reply::exit(0).mkdir("out/empty");
    /// ```
    pub fn mkdir(mut self, path: impl Into<String>) -> Self {
        self.writes.push((path.into(), Made::Dir));
        self
    }

    /// Leaves a symlink at workspace path `path` pointing to `target`.
    ///
    /// ```
    /// let r = taskhost_sdk::testing::Reply::exit(0)
    ///     .writes("hello_1.0-1_amd64-2026.build", "log")
    ///     .symlink("hello_1.0-1_amd64.build", "hello_1.0-1_amd64-2026.build");
    /// ```
    pub fn symlink(mut self, path: impl Into<String>, target: impl Into<String>) -> Self {
        self.writes
            .push((path.into(), Made::Symlink(target.into())));
        self
    }

    /// The host cut the output at its size cap.
    ///
    /// ```
    /// let r = taskhost_sdk::testing::Reply::exit(0).stdout("...").truncated();
    /// ```
    pub fn truncated(mut self) -> Self {
        self.truncated = true;
        self
    }
}

/// Reads a fixture relative to the crate under test (`CARGO_MANIFEST_DIR`,
/// which cargo sets for test binaries), not the current directory: that
/// is another test's workspace while its fake run is on.
fn read_fixture(file: &Path) -> Vec<u8> {
    let path = match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) if file.is_relative() => Path::new(&dir).join(file),
        _ => file.to_path_buf(),
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("FakeHost: reading {}: {e}", path.display()))
}

/// An argv pattern: the program, then tokens; `*` is one argument, a
/// trailing `**` any number (the policy's syntax, split on whitespace).
#[derive(Clone, Debug)]
struct Pattern(Vec<String>);

impl Pattern {
    fn new(pattern: &str) -> Self {
        Pattern(pattern.split_whitespace().map(str::to_owned).collect())
    }

    fn matches(&self, argv: &[String]) -> bool {
        let (rest, fixed) = match self.0.split_last() {
            Some((last, fixed)) if last == "**" => (true, fixed),
            _ => (false, &self.0[..]),
        };
        let len_ok = if rest {
            argv.len() >= fixed.len()
        } else {
            argv.len() == fixed.len()
        };
        len_ok && fixed.iter().zip(argv).all(|(p, a)| p == "*" || p == a)
    }
}

type Responder = Box<dyn FnMut(&[String]) -> Reply>;
type ChildResponder = Box<dyn FnMut(&serde_json::Value) -> ChildReply>;

/// How a child run submitted with `runs::submit` ends, in a
/// [`FakeHost::child`] answer: its status and the artifacts it created
/// (category and data), which become visible to the submitting run.
#[derive(Clone, Debug)]
pub struct ChildReply {
    /// How it ended.
    pub status: crate::runs::RunStatus,
    /// Artifacts it created: category and data.
    pub artifacts: Vec<(String, serde_json::Value)>,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// An equal earlier run the host reused (`created` false).
    pub reused: bool,
}

impl ChildReply {
    /// A child that ended with `status` and created nothing.
    pub fn status(status: crate::runs::RunStatus) -> Self {
        ChildReply {
            status,
            artifacts: Vec::new(),
            error: None,
            reused: false,
        }
    }

    /// Gives the child's error message.
    pub fn error(mut self, message: &str) -> Self {
        self.error = Some(message.into());
        self
    }

    /// Answers as an equal earlier run the host found (`created` false).
    pub fn reused(mut self) -> Self {
        self.reused = true;
        self
    }

    /// Adds an artifact the child created.
    pub fn artifact(mut self, category: &str, data: serde_json::Value) -> Self {
        self.artifacts.push((category.into(), data));
        self
    }
}

/// A run submitted with `runs::submit`: [`Run::submitted`].
#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    /// The task.
    pub task: String,
    /// Its task_data.
    pub task_data: serde_json::Value,
    /// Whether `force` was set.
    pub force: bool,
}

/// One input artifact given to the fake host with [`FakeHost::input`]:
/// its id, task_data key, category, data and files.
///
/// ```
/// use taskhost_sdk::testing::{FakeHost, Input};
/// let host = FakeHost::new()
///     .task_data(serde_json::json!({"input": {"artifact": 7}}))
///     .input(Input::new(7, "debian:package-build-log").key("input.artifact").file("hello.build", "..."));
/// ```
#[derive(Clone, Debug)]
pub struct Input {
    id: ArtifactId,
    key: String,
    category: String,
    data: serde_json::Value,
    files: Vec<(String, Vec<u8>)>,
}

impl Input {
    /// Input artifact `id` of `category`, with empty data and no files.
    ///
    /// ```
    /// use taskhost_sdk::testing::Input;
    /// let log = Input::new(7, "debian:package-build-log")
    ///     .data(serde_json::json!({"source": "hello"}))
    ///     .file("hello.build", "dpkg-buildpackage ...\n");
    /// ```
    pub fn new(id: ArtifactId, category: impl Into<String>) -> Self {
        Input {
            id,
            key: "input".into(),
            category: category.into(),
            data: serde_json::json!({}),
            files: Vec::new(),
        }
    }

    /// The task_data key it came under, as
    /// [`artifacts::inputs`](crate::artifacts::inputs) reports it (default
    /// `input`).
    ///
    /// ```
    /// let source = taskhost_sdk::testing::Input::new(3, "debian:source-package").key("input.source_artifact");
    /// ```
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Sets the artifact's data (a JSON object).
    ///
    /// ```
    /// use taskhost_sdk::testing::Input;
    /// let log = Input::new(7, "debian:package-build-log").data(serde_json::json!({"filename": "hello.build"}));
    /// ```
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }

    /// Adds a file `name` holding `content`.
    ///
    /// ```
    /// use taskhost_sdk::testing::Input;
    /// let script = Input::new(5, "shellcheck:script").file("run.sh", "#!/bin/sh\necho $1\n");
    /// ```
    pub fn file(mut self, name: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.into(), content.into()));
        self
    }

    /// Adds a file `name` holding the content of `path` (read now,
    /// relative to the crate under test, else the path as given). A missing
    /// file panics.
    ///
    /// ```
    /// use taskhost_sdk::testing::Input;
    /// // Here the SDK's own README stands in for a real build log in tests/data/.
    /// let log = Input::new(7, "debian:package-build-log").file_from("hello.build", "README.md");
    /// ```
    pub fn file_from(self, name: impl Into<String>, path: impl AsRef<Path>) -> Self {
        let content = read_fixture(path.as_ref());
        self.file(name, content)
    }
}

/// An artifact the run created: [`Run::artifacts`].
///
/// ```
/// use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// # use taskhost_sdk::artifacts::NewArtifact;
/// // In the task:
/// std::fs::write("report.txt", "ok")?;
/// let report = NewArtifact::new("demo:report").file("report.txt", "report.txt");
/// report.create()?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
///
/// // In its test:
/// let run = FakeHost::new().execute::<Demo>();
/// let report = &run.artifacts[0];
/// assert_eq!((report.category.as_str(), report.id), ("demo:report", 1000));
/// assert_eq!(report.files, [("report.txt".to_string(), b"ok".to_vec())]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Created {
    /// The id the fake host gave it (1000 and up, past the inputs' ids).
    pub id: ArtifactId,
    /// Its category.
    pub category: String,
    /// Its data.
    pub data: serde_json::Value,
    /// Each file's name and content.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A relation the run recorded: [`Run::relations`].
///
/// ```
/// use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// use taskhost_sdk::artifacts::RelationType;
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// # use taskhost_sdk::artifacts::NewArtifact;
/// // In the task:
/// NewArtifact::new("demo:report").relates_to(7).create()?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
///
/// // In its test:
/// let run = FakeHost::new().input(Input::new(7, "demo:script")).execute::<Demo>();
/// let relation = run.relations[0];
/// assert_eq!((relation.source, relation.target), (run.artifacts[0].id, 7));
/// assert_eq!(relation.relation, RelationType::RelatesTo);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relation {
    /// The artifact the run created.
    pub source: ArtifactId,
    /// The artifact it relates to.
    pub target: ArtifactId,
    /// How.
    pub relation: RelationType,
}

/// A result the run emitted: [`Run::results`], the fields of the
/// [`CheckResult`](crate::results::CheckResult).
///
/// ```
/// use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// use taskhost_sdk::Outcome;
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// # use taskhost_sdk::results::CheckResult;
/// // In the task:
/// CheckResult::new("a.sh", "shellcheck:script", Outcome::Failed).note("2 errors").emit()?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
///
/// // In its test:
/// let run = FakeHost::new().execute::<Demo>();
/// let result = &run.results[0];
/// assert_eq!((result.item.as_str(), result.outcome), ("a.sh", Outcome::Failed));
/// assert_eq!(result.note.as_deref(), Some("2 errors"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Emitted {
    /// What was checked.
    pub item: String,
    /// The item's type.
    pub item_type: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The check name, if the plugin set one (the host defaults it to the
    /// plugin's name).
    pub checkname: Option<String>,
    /// The note, if any.
    pub note: Option<String>,
    /// Where the details are, if given.
    pub artifact: Option<String>,
    /// The extra keys, in the order given; see [`Emitted::keyval`].
    pub keyvals: Vec<(String, String)>,
}

impl Emitted {
    /// The value of keyval `key`, if the result has it.
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// use taskhost_sdk::Outcome;
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::results::CheckResult;
    /// // In the task:
    /// CheckResult::new("a.sh", "file", Outcome::Passed).keyval("warnings", 0).emit()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().execute::<Demo>();
    /// assert_eq!(run.results[0].keyval("warnings"), Some("0"));
    /// assert_eq!(run.results[0].keyval("errors"), None);
    /// ```
    pub fn keyval(&self, key: &str) -> Option<&str> {
        self.keyvals
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A command the host ran, as the plugin gave it: [`Run::invocations`].
///
/// ```
/// use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// # use taskhost_sdk::{Command, Environment};
/// // In the task:
/// let env = Environment::open("auto")?;
/// env.run(&Command::new("make").arg("check").env("LANG", "C").cwd("src").as_root())?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
///
/// // In its test:
/// let run = FakeHost::new().reply("make **", Reply::exit(0)).execute::<Demo>();
/// let make = &run.invocations[0];
/// assert_eq!(make.argv, ["make", "check"]);
/// assert_eq!(make.cwd.as_deref(), Some("src"));
/// assert!(make.run_as_root);
/// assert_eq!(make.backend, "local");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// The environment variables it set ([`Command::env`](crate::Command::env)).
    pub env: Vec<(String, String)>,
    /// Its working directory, if set.
    pub cwd: Option<String>,
    /// Its stdin file, if set.
    pub stdin: Option<String>,
    /// Its stdout file, if set.
    pub stdout: Option<String>,
    /// Its stderr file, if set.
    pub stderr: Option<String>,
    /// Its timeout in milliseconds, if set.
    pub timeout_ms: Option<u64>,
    /// Whether it asked to run as root.
    pub run_as_root: bool,
    /// The backend it ran in.
    pub backend: String,
}

/// An HTTP request the plugin sent (downloads are `GET`s with no body):
/// [`Run::requests`].
///
/// ```
/// use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// # use taskhost_sdk::http::Request;
/// // In the task:
/// let body = serde_json::json!({"outcome": "PASSED"});
/// Request::post_json("https://resultsdb.example.org/api/v2.0/results", &body)?.send()?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
///
/// // In its test:
/// let run = FakeHost::new().http("https://resultsdb.example.org/", 201, "{}").execute::<Demo>();
/// let sent = &run.requests[0];
/// assert_eq!((sent.method.as_str(), sent.url.as_str()), ("POST", "https://resultsdb.example.org/api/v2.0/results"));
/// assert_eq!(sent.text(), r#"{"outcome":"PASSED"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The URL.
    pub url: String,
    /// The headers, as the plugin gave them.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The body as text (lossy UTF-8).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::http::Request;
    /// // In the task:
    /// Request::post("https://x.example.org/", "text/plain", "hello").send()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().http("https://x.example.org/", 200, "").execute::<Demo>();
    /// assert_eq!(run.requests[0].text(), "hello");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What a faked run did. `T` is a task's [`Status`] or a directive's
/// [`Output`]. Returned by [`FakeHost::execute`] and
/// [`FakeHost::run_directive`].
///
/// ```
/// use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// # use taskhost_sdk::{Command, Environment};
/// // In the task:
/// let env = Environment::open("auto")?;
/// env.run(&Command::new("checker").arg("a.txt"))?;
/// taskhost_sdk::log::info("checked");
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
///
/// // In its test:
/// let run = FakeHost::new().reply("checker *", Reply::exit(0)).execute::<Demo>();
/// assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
/// assert_eq!(run.commands, [["checker", "a.txt"]]);
/// assert_eq!(run.backends, ["local"]);
/// assert_eq!(run.log_text(taskhost_sdk::log::Level::Info), "checked");
/// ```
#[derive(Debug)]
pub struct Run<T> {
    /// What `execute` (or `run`) returned.
    pub status: Result<T>,
    /// The argv of every command the host ran (denied ones excluded).
    pub commands: Vec<Vec<String>>,
    /// The same commands with everything the plugin set on them.
    pub invocations: Vec<Invocation>,
    /// Every call the host denied, as the host words it.
    pub denied: Vec<String>,
    /// The backends opened, in order.
    pub backends: Vec<String>,
    /// The artifacts the run created, in order.
    pub artifacts: Vec<Created>,
    /// The relations it recorded, in order.
    pub relations: Vec<Relation>,
    /// The results it emitted, in order.
    pub results: Vec<Emitted>,
    /// Every log line, with its level; see [`Run::log_text`].
    pub log: Vec<(Level, String)>,
    /// Every URL downloaded or sent to.
    pub urls: Vec<String>,
    /// Every request and download, in order.
    pub requests: Vec<Request>,
    /// Every progress report: label, done, total.
    pub progress: Vec<(String, u64, Option<u64>)>,
    /// The collections given with [`FakeHost::collection`], with their
    /// active items after the run's changes.
    pub collections: Vec<(Collection, Vec<Item>)>,
    /// Every run submitted with `runs::submit`, in order.
    pub submitted: Vec<Submission>,
    /// The workspace, kept until the `Run` is dropped.
    pub workspace: tempfile::TempDir,
}

impl<T> Run<T> {
    /// The run's log lines at `level` or above, joined by newlines.
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// use taskhost_sdk::log::Level;
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// // In the task:
    /// taskhost_sdk::log::debug("argv: checker");
    /// taskhost_sdk::log::warn("no input files");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().execute::<Demo>();
    /// assert_eq!(run.log_text(Level::Info), "no input files");
    /// assert_eq!(run.log_text(Level::Trace), "argv: checker\nno input files");
    /// ```
    pub fn log_text(&self, level: Level) -> String {
        self.log
            .iter()
            .filter(|(l, _)| *l as u8 >= level as u8)
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The content of workspace file `path` after the run, if it exists.
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::{Command, Environment};
    /// // In the task:
    /// let env = Environment::open("auto")?;
    /// env.run(&Command::new("lintian").arg("x.changes").stdout("lintian.txt"))?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().reply("lintian *", Reply::exit(0).stdout("N: 0 tags")).execute::<Demo>();
    /// assert_eq!(run.workspace_file("lintian.txt").as_deref(), Some(&b"N: 0 tags"[..]));
    /// assert_eq!(run.workspace_file("missing.txt"), None);
    /// ```
    pub fn workspace_file(&self, path: &str) -> Option<Vec<u8>> {
        std::fs::read(self.workspace.path().join(path)).ok()
    }
}

enum Deny {
    Exec(Pattern),
    Backend(String),
    Url(String),
    Create(String),
    Lookup(String),
}

/// The fake host: task_data, inputs and replies in, a [`Run`] out. Each
/// method returns the host, to chain; [`FakeHost::execute`] (or
/// [`FakeHost::run_directive`]) runs the plugin.
///
/// ```
/// use taskhost_sdk::testing::{FakeHost, Input, Reply};
/// # struct Demo;
/// # impl taskhost_sdk::Task for Demo {
/// #     type Data = serde_json::Value;
/// #     const NAME: &'static str = "demo";
/// #     const SUMMARY: &'static str = "demo";
/// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
/// # use taskhost_sdk::{Command, Environment};
/// // In the task:
/// let log = taskhost_sdk::artifacts::get(7)?;
/// let paths = taskhost_sdk::artifacts::fetch(log.id, "in")?;
/// Environment::open("auto")?.run(&Command::new("blhc").args(paths))?;
/// #         Ok(taskhost_sdk::Status::Success)
/// #     }
/// # }
///
/// // In its test:
/// let run = FakeHost::new()
///     .task_data(serde_json::json!({"input": {"artifact": 7}}))
///     .input(Input::new(7, "debian:package-build-log").file("hello.build", "gcc -c hello.c\n"))
///     .reply("blhc *", Reply::exit(0)).execute::<Demo>();
/// assert_eq!(run.commands, [["blhc", "in/hello.build"]]);
/// ```
pub struct FakeHost {
    task_data: serde_json::Value,
    inputs: BTreeMap<ArtifactId, Input>,
    replies: Vec<(Pattern, Responder)>,
    denies: Vec<Deny>,
    lookups: Vec<(String, ArtifactId)>,
    collections: Vec<(Collection, Vec<Item>)>,
    children: Vec<(String, ChildResponder)>,
    http: Vec<(String, Answer)>,
    environment: BTreeMap<String, Vec<u8>>,
    workspace: Vec<(String, Vec<u8>)>,
    auto: String,
}

type Answer = Box<dyn FnMut(&Request) -> (u16, Vec<u8>)>;

impl Default for FakeHost {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeHost {
    /// A host with task_data `{}`, no inputs and no replies; `auto` opens
    /// the `local` backend.
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// // In the task:
    /// taskhost_sdk::log::info("nothing to do");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().execute::<Demo>();
    /// assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn new() -> Self {
        FakeHost {
            task_data: serde_json::json!({}),
            inputs: BTreeMap::new(),
            replies: Vec::new(),
            denies: Vec::new(),
            lookups: Vec::new(),
            collections: Vec::new(),
            children: Vec::new(),
            http: Vec::new(),
            environment: BTreeMap::new(),
            workspace: Vec::new(),
            auto: "local".into(),
        }
    }

    /// The task_data (a directive's params), as the host hands it over:
    /// input keys hold artifact ids. [`FakeHost::execute`] decodes and
    /// validates it as the host would.
    ///
    /// ```
    /// use taskhost_sdk::testing::FakeHost;
    /// use taskhost_sdk::{Error, Result, Status, Task};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Data { jobs: u32 }
    /// struct Build;
    /// impl Task for Build {
    ///     type Data = Data;
    ///     const NAME: &'static str = "build";
    ///     const SUMMARY: &'static str = "Builds";
    ///     fn execute(data: Data) -> Result<Status> {
    ///         Ok(if data.jobs > 0 { Status::Success } else { Status::Skipped })
    ///     }
    /// }
    ///
    /// let run = FakeHost::new().task_data(serde_json::json!({"jobs": 4})).execute::<Build>();
    /// assert_eq!(run.status, Ok(Status::Success));
    /// let run = FakeHost::new().task_data(serde_json::json!({"jobs": "4"})).execute::<Build>();
    /// assert!(matches!(run.status, Err(Error::Invalid(m)) if m.starts_with("task_data: jobs: invalid type")));
    /// ```
    pub fn task_data(mut self, data: serde_json::Value) -> Self {
        self.task_data = data;
        self
    }

    /// An input artifact of the run (visible to `artifacts::get`, `fetch`,
    /// `inputs`, and a valid relation target).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// // In the task:
    /// let inputs = taskhost_sdk::artifacts::inputs()?;
    /// assert_eq!(inputs[0].artifact.files[0].name, "hello.build");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().input(Input::new(7, "debian:package-build-log").file("hello.build", "log")).execute::<Demo>();
    /// assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn input(mut self, input: Input) -> Self {
        self.inputs.insert(input.id, input);
        self
    }

    /// Replies `reply` to every command line matching `pattern`; the first
    /// matching pattern wins. `pattern` is the policy's syntax: the
    /// program, then tokens, `*` for one argument and a trailing `**` for
    /// any number.
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::{Command, Environment};
    /// // In the task:
    /// let env = Environment::open("auto")?;
    /// let exit = env.run(&Command::new("lintian").arg("--info").arg("hello.changes"))?;
    /// assert_eq!(exit.code(), Some(2));
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new()
    ///     .reply("lintian --version", Reply::exit(0).stdout("Lintian v2.116"))
    ///     .reply("lintian **", Reply::exit(2).stdout("E: hello: ...")).execute::<Demo>();
    /// assert_eq!(run.commands.len(), 1);
    /// ```
    pub fn reply(self, pattern: &str, reply: Reply) -> Self {
        self.respond(pattern, move |_| reply.clone())
    }

    /// Replies to command lines matching `pattern` with what `f` makes of
    /// the argv (a tool whose output names its input, say).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::{Command, Environment};
    /// // In the task:
    /// let env = Environment::open("auto")?;
    /// let exit = env.run(&Command::new("sha256sum").arg("a.txt"))?;
    /// assert_eq!(exit.read_stdout()?, "0123  a.txt");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new()
    ///     .respond("sha256sum *", |argv| Reply::exit(0).stdout(format!("0123  {}", argv[1]))).execute::<Demo>();
    /// assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn respond(mut self, pattern: &str, f: impl FnMut(&[String]) -> Reply + 'static) -> Self {
        self.replies.push((Pattern::new(pattern), Box::new(f)));
        self
    }

    /// Denies command lines matching `pattern` (the syntax of
    /// [`FakeHost::reply`]), as a policy without the grant would: running
    /// one is [`Error::AccessDenied`].
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// use taskhost_sdk::Error;
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::{Command, Environment};
    /// // In the task:
    /// Environment::open("auto")?.run(&Command::new("rm").arg("-rf").arg("out"))?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().deny_exec("rm **").execute::<Demo>();
    /// assert!(matches!(run.status, Err(Error::AccessDenied(_))));
    /// assert!(run.commands.is_empty() && run.denied.len() == 1);
    /// ```
    pub fn deny_exec(mut self, pattern: &str) -> Self {
        self.denies.push(Deny::Exec(Pattern::new(pattern)));
        self
    }

    /// Denies opening backend `name` ([`Error::AccessDenied`]).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// use taskhost_sdk::Error;
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::Environment;
    /// // In the task:
    /// Environment::open("unshare")?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().deny_backend("unshare").execute::<Demo>();
    /// assert!(matches!(run.status, Err(Error::AccessDenied(_))));
    /// ```
    pub fn deny_backend(mut self, name: &str) -> Self {
        self.denies.push(Deny::Backend(name.into()));
        self
    }

    /// Denies URLs starting with `prefix` ([`Error::AccessDenied`]), for
    /// downloads and requests.
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// use taskhost_sdk::Error;
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// // In the task:
    /// taskhost_sdk::http::download("https://example.org/x.tar", "x.tar", None)?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().deny_url("https://example.org/").execute::<Demo>();
    /// assert!(matches!(run.status, Err(Error::AccessDenied(_))));
    /// assert!(run.urls.is_empty());
    /// ```
    pub fn deny_url(mut self, prefix: &str) -> Self {
        self.denies.push(Deny::Url(prefix.into()));
        self
    }

    /// Denies creating artifacts of `category` ([`Error::AccessDenied`]).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// use taskhost_sdk::Error;
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// // In the task:
    /// taskhost_sdk::artifacts::NewArtifact::new("demo:report").create()?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().deny_create("demo:report").execute::<Demo>();
    /// assert!(matches!(run.status, Err(Error::AccessDenied(_))));
    /// assert!(run.artifacts.is_empty());
    /// ```
    pub fn deny_create(mut self, category: &str) -> Self {
        self.denies.push(Deny::Create(category.into()));
        self
    }

    /// Denies the lookup `query` ([`Error::AccessDenied`]).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// use taskhost_sdk::Error;
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// // In the task:
    /// taskhost_sdk::artifacts::lookup("debian/match:codename=sid", "debian:system-tarball")?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().deny_lookup("debian/match:codename=sid").execute::<Demo>();
    /// assert!(matches!(run.status, Err(Error::AccessDenied(_))));
    /// ```
    pub fn deny_lookup(mut self, query: &str) -> Self {
        self.denies.push(Deny::Lookup(query.into()));
        self
    }

    /// Resolves lookup `query` to input artifact `id` (give it with
    /// [`FakeHost::input`] too). Other lookups find nothing
    /// ([`Error::NotFound`]).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::Environment;
    /// // In the task:
    /// let id = taskhost_sdk::artifacts::lookup("debian/match:codename=bookworm", "debian:system-tarball")?;
    /// let env = Environment::open_with("unshare", id)?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new()
    ///     .input(Input::new(12, "debian:system-tarball"))
    ///     .lookup("debian/match:codename=bookworm", 12).execute::<Demo>();
    /// assert_eq!(run.backends, ["unshare"]);
    /// ```
    pub fn lookup(mut self, query: &str, id: ArtifactId) -> Self {
        self.lookups.push((query.into(), id));
        self
    }

    /// A collection the run may find with `collections::get` (by
    /// `NAME@CATEGORY` or `NNN@collections`), with its active items; their
    /// artifacts become visible once the run lists them. Changes the run
    /// makes are applied, and kept in [`Run::collections`].
    ///
    /// ```
    /// use taskhost_sdk::collections::{self, Collection, Item, NewItem};
    /// use taskhost_sdk::testing::FakeHost;
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// // In the task:
    /// let lintian = collections::get("sid@debian:suite-lintian")?;
    /// collections::remove(&lintian, "hello_1.0_all")?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let c = Collection { id: 3, category: "debian:suite-lintian".into(), name: "sid".into(), data: serde_json::json!({}) };
    /// let item = Item { id: 9, name: "hello_1.0_all".into(), category: "debian:lintian".into(),
    ///                   artifact: Some(12), data: serde_json::json!({}), created_at: String::new() };
    /// let run = FakeHost::new().collection(c, vec![item]).execute::<Demo>();
    /// assert!(run.collections[0].1.is_empty());
    /// ```
    pub fn collection(mut self, collection: Collection, items: Vec<Item>) -> Self {
        self.collections.push((collection, items));
        self
    }

    /// Answers every child run of `task` submitted with `runs::submit`:
    /// `f` gets the child's task_data. A submission with no answer is
    /// refused as the host refuses a task it was not granted.
    ///
    /// ```
    /// use taskhost_sdk::runs::{self, RunStatus};
    /// use taskhost_sdk::testing::{ChildReply, FakeHost};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// // In the task:
    /// let child = runs::wait(&runs::submit("lintian", &serde_json::json!({"a": 1}), false)?.run_id)?;
    /// let analysis = taskhost_sdk::artifacts::get(child.artifacts[0])?;
    /// assert_eq!(analysis.data["architecture"], "source");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new()
    ///     .child("lintian", |_| ChildReply::status(RunStatus::Success)
    ///         .artifact("debian:lintian", serde_json::json!({"architecture": "source"})))
    ///     .execute::<Demo>();
    /// assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// assert_eq!(run.submitted[0].task_data, serde_json::json!({"a": 1}));
    /// ```
    pub fn child(
        mut self,
        task: &str,
        f: impl FnMut(&serde_json::Value) -> ChildReply + 'static,
    ) -> Self {
        self.children.push((task.into(), Box::new(f)));
        self
    }

    /// Answers requests and downloads of URLs starting with `prefix`; the
    /// first matching prefix wins. A request with no answer panics.
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::http::Request;
    /// // In the task:
    /// let response = Request::get("https://bodhi.fedoraproject.org/updates/?builds=hello-1.0").send()?;
    /// assert!(!response.ok());
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().http("https://bodhi.fedoraproject.org/", 404, "not found").execute::<Demo>();
    /// assert_eq!(run.urls, ["https://bodhi.fedoraproject.org/updates/?builds=hello-1.0"]);
    /// ```
    pub fn http(self, prefix: &str, status: u16, body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        self.http_respond(prefix, move |_| (status, body.clone()))
    }

    /// Answers requests to URLs starting with `prefix` with what `f`
    /// makes of the request (an XML-RPC call by its method, a POST by its
    /// body).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::http::Request;
    /// // In the task:
    /// let call = Request::post("https://koji.example.org/kojihub", "text/xml", "<methodName>getBuild</methodName>");
    /// assert_eq!(call.send()?.text(), "<build/>");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new()
    ///     .http_respond("https://koji.example.org/", |request| {
    ///         if request.text().contains("getBuild") { (200, b"<build/>".to_vec()) } else { (500, vec![]) }
    ///     }).execute::<Demo>();
    /// assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn http_respond(
        mut self,
        prefix: &str,
        f: impl FnMut(&Request) -> (u16, Vec<u8>) + 'static,
    ) -> Self {
        self.http.push((prefix.into(), Box::new(f)));
        self
    }

    /// A file in the workspace before the run starts (an earlier formula
    /// step's output, the task's own files).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// // In the task:
    /// let text = std::fs::read_to_string("results.yaml")?;
    /// let details = taskhost_sdk::resultyaml::parse(&text)?;
    /// assert_eq!(details.len(), 1);
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new()
    ///     .workspace_file("results.yaml", "results:\n- {item: x, type: t, outcome: PASSED}\n").execute::<Demo>();
    /// assert_eq!(run.status, Ok(taskhost_sdk::Status::Success));
    /// ```
    pub fn workspace_file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.workspace.push((path.into(), content.into()));
        self
    }

    /// A file inside the environment, for
    /// [`Environment::pull`](crate::Environment::pull); pulling any other
    /// path is [`Error::NotFound`].
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::Environment;
    /// // In the task:
    /// Environment::open("auto")?.pull("/var/log/apt/history.log", "apt.log")?;
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().environment_file("/var/log/apt/history.log", "Install: hello").execute::<Demo>();
    /// assert_eq!(run.workspace_file("apt.log").as_deref(), Some(&b"Install: hello"[..]));
    /// ```
    pub fn environment_file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.environment.insert(path.into(), content.into());
        self
    }

    /// The backend `auto` opens (default `local`).
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::Environment;
    /// // In the task:
    /// let env = Environment::open("auto")?;
    /// assert_eq!(env.backend(), "unshare");
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().auto_backend("unshare").execute::<Demo>();
    /// assert_eq!(run.backends, ["unshare"]);
    /// ```
    pub fn auto_backend(mut self, name: &str) -> Self {
        self.auto = name.into();
        self
    }

    /// Decodes and validates the task_data and runs the task, as the host
    /// would, in a fresh temporary workspace that is the current directory
    /// for the duration (one fake run at a time). A panic in the task
    /// propagates to the test.
    ///
    /// ```
    /// use taskhost_sdk::testing::{FakeHost, Input, Reply};
    /// use taskhost_sdk::Status;
    /// # struct Demo;
    /// # impl taskhost_sdk::Task for Demo {
    /// #     type Data = serde_json::Value;
    /// #     const NAME: &'static str = "demo";
    /// #     const SUMMARY: &'static str = "demo";
    /// #     fn execute(_: serde_json::Value) -> taskhost_sdk::Result<taskhost_sdk::Status> {
    /// # use taskhost_sdk::{Command, Environment};
    /// // In the task:
    /// let exit = Environment::open("auto")?.run(&Command::new("checker"))?;
    /// if !exit.success() {
    ///     return Ok(Status::Failure);
    /// }
    /// #         Ok(taskhost_sdk::Status::Success)
    /// #     }
    /// # }
    ///
    /// // In its test:
    /// let run = FakeHost::new().reply("checker", Reply::exit(1)).execute::<Demo>();
    /// assert_eq!(run.status, Ok(Status::Failure));
    /// ```
    pub fn execute<T: Task>(self) -> Run<Status> {
        let data = self.task_data.to_string();
        self.run_with(move || crate::__private::execute::<T>(&data))
    }

    /// Runs a directive with the task_data as its params, in `context`:
    /// the declared defaults of params left out are filled in, as the host
    /// does, then the params are decoded strictly into
    /// [`Directive::Params`] (the host's type and choice checks are not
    /// simulated).
    ///
    /// ```
    /// use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output};
    /// use taskhost_sdk::testing::{FakeHost, context};
    ///
    /// #[derive(serde::Deserialize, DirectiveParams)]
    /// struct Params {
    ///     /// what to return
    ///     msg: String,
    ///     /// how often
    ///     #[param(default = 1)]
    ///     times: usize,
    /// }
    /// struct Echo;
    /// impl Directive for Echo {
    ///     type Params = Params;
    ///     const NAME: &'static str = "echo";
    ///     const SUMMARY: &'static str = "Returns its message";
    ///     fn run(p: Params, context: &Context) -> taskhost_sdk::Result<Output> {
    ///         Ok(Output::value(format!("{}: {}", context.item, p.msg.repeat(p.times))))
    ///     }
    /// }
    ///
    /// let run = FakeHost::new().task_data(serde_json::json!({"msg": "hi"})).run_directive::<Echo>(&context());
    /// assert_eq!(run.status, Ok(Output::value("item: hi")));
    /// ```
    pub fn run_directive<D: Directive>(self, context: &Context) -> Run<Output> {
        let mut params = self.task_data.clone();
        if let Some(given) = params.as_object_mut() {
            for p in <D::Params as crate::directive::DirectiveParams>::params() {
                let default = p
                    .default
                    .as_deref()
                    .and_then(|d| serde_json::from_str(d).ok());
                if let (false, Some(default)) = (given.contains_key(&p.name), default) {
                    given.insert(p.name, default);
                }
            }
        }
        let params = params.to_string();
        self.run_with(move || crate::directive::__private::run::<D>(&params, context))
    }

    fn run_with<T>(self, body: impl FnOnce() -> Result<T>) -> Run<T> {
        let workspace = tempfile::tempdir().expect("FakeHost: a temporary workspace");
        // The workspace is the current directory: one fake run at a time.
        static CWD: Mutex<()> = Mutex::new(());
        let guard = CWD.lock().unwrap_or_else(|e| e.into_inner());
        let previous = std::env::current_dir().expect("FakeHost: the current directory");
        std::env::set_current_dir(workspace.path()).expect("FakeHost: entering the workspace");
        for (path, content) in &self.workspace {
            let file = workspace.path().join(path);
            write(&file, content).unwrap_or_else(|e| panic!("FakeHost: writing {path}: {e:?}"));
        }
        HOST.with(|h| *h.borrow_mut() = Some(State::new(self, workspace.path())));
        let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        let state = HOST.with(|h| h.borrow_mut().take());
        let _ = std::env::set_current_dir(previous);
        drop(guard);
        let status = match status {
            Ok(status) => status,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let state = state.expect("FakeHost: the run's state");
        Run {
            status,
            commands: state.commands,
            invocations: state.invocations,
            denied: state.denied,
            backends: state.backends,
            artifacts: state.created,
            relations: state.relations,
            results: state.results,
            log: state.log,
            urls: state.urls,
            requests: state.requests,
            progress: state.progress,
            collections: state.host.collections,
            submitted: state.submitted,
            workspace,
        }
    }
}

/// A directive's context with the usual values (`workdir` ".",
/// `artifactsdir` "artifacts", item "item", type "koji_build").
///
/// ```
/// let context = taskhost_sdk::testing::context();
/// assert_eq!(context.artifactsdir, "artifacts");
/// ```
pub fn context() -> Context {
    Context {
        workdir: ".".into(),
        artifactsdir: "artifacts".into(),
        checkname: "test".into(),
        namespace: "test".into(),
        item: "item".into(),
        item_type: "koji_build".into(),
        arch: "x86_64".into(),
        jobid: "-1".into(),
        uuid: "00000000-0000-0000-0000-000000000000".into(),
    }
}

struct State {
    host: FakeHost,
    /// Collections found by `collections::get`; artifacts of listed items.
    found_collections: Vec<u64>,
    listed: Vec<ArtifactId>,
    submitted: Vec<Submission>,
    /// Finished children by run id, and the artifacts they created.
    children: Vec<(String, crate::runs::Child)>,
    from_children: Vec<Created>,
    workspace: PathBuf,
    next_id: ArtifactId,
    outputs: u32,
    commands: Vec<Vec<String>>,
    invocations: Vec<Invocation>,
    denied: Vec<String>,
    backends: Vec<String>,
    created: Vec<Created>,
    relations: Vec<Relation>,
    results: Vec<Emitted>,
    log: Vec<(Level, String)>,
    urls: Vec<String>,
    requests: Vec<Request>,
    progress: Vec<(String, u64, Option<u64>)>,
}

impl State {
    fn new(host: FakeHost, workspace: &Path) -> Self {
        let next_id = host.inputs.keys().max().map_or(1, |m| m + 1).max(1000);
        State {
            host,
            found_collections: Vec::new(),
            listed: Vec::new(),
            submitted: Vec::new(),
            children: Vec::new(),
            from_children: Vec::new(),
            workspace: workspace.to_path_buf(),
            next_id,
            outputs: 0,
            commands: Vec::new(),
            invocations: Vec::new(),
            denied: Vec::new(),
            backends: Vec::new(),
            created: Vec::new(),
            relations: Vec::new(),
            results: Vec::new(),
            log: Vec::new(),
            urls: Vec::new(),
            requests: Vec::new(),
            progress: Vec::new(),
        }
    }

    fn deny(&mut self, what: String) -> Error {
        let message = format!("plugin may not {what}: denied (simulated by FakeHost)");
        self.denied.push(message.clone());
        Error::AccessDenied(message)
    }

    fn url_denied(&mut self, url: &str) -> Result<()> {
        let denied = self
            .host
            .denies
            .iter()
            .any(|d| matches!(d, Deny::Url(p) if url.starts_with(p.as_str())));
        if denied {
            return Err(self.deny(format!("fetch {url}")));
        }
        self.urls.push(url.to_owned());
        Ok(())
    }

    fn answer(&mut self, request: Request) -> (u16, Vec<u8>) {
        let url = request.url.clone();
        let found = self
            .host
            .http
            .iter_mut()
            .find(|(p, _)| url.starts_with(p.as_str()));
        let answer = match found {
            Some((_, answer)) => answer(&request),
            None => panic!(
                "FakeHost: unexpected request to {url}: give the FakeHost an answer with .http(PREFIX, STATUS, BODY)"
            ),
        };
        self.requests.push(request);
        answer
    }

    /// An input, or an artifact this run created.
    fn artifact(&self, id: ArtifactId) -> Option<Created> {
        if let Some(i) = self.host.inputs.get(&id) {
            return Some(Created {
                id,
                category: i.category.clone(),
                data: i.data.clone(),
                files: i.files.clone(),
            });
        }
        if let Some(c) = self
            .created
            .iter()
            .chain(&self.from_children)
            .find(|c| c.id == id)
        {
            return Some(c.clone());
        }
        self.listed.contains(&id).then(|| Created {
            id,
            category: String::new(),
            data: serde_json::json!({}),
            files: Vec::new(),
        })
    }

    /// The index of a collection found by `collections::get`.
    fn found(&mut self, id: u64) -> Result<usize> {
        match self.host.collections.iter().position(|(c, _)| c.id == id) {
            Some(i) if self.found_collections.contains(&id) => Ok(i),
            _ => Err(self.deny(format!(
                "use collection {id}@collections: this run did not get it with collections::get"
            ))),
        }
    }

    fn not_an_input(&mut self, id: ArtifactId) -> Error {
        self.deny(format!(
            "use artifact {id}: not an input of this run (give it with .input(Input::new({id}, CATEGORY)))"
        ))
    }
}

thread_local! {
    static HOST: RefCell<Option<State>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    HOST.with(|h| {
        let mut h = h.borrow_mut();
        let state = h
            .as_mut()
            .expect("a host call outside FakeHost::execute: with the `testing` feature, host calls go to the fake host");
        f(state)
    })
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A workspace-relative path, refused outside the workspace as the host
/// refuses it.
fn in_workspace(state: &mut State, path: &str) -> Result<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() || p.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(state.deny(format!("use path '{path}' outside the workspace")));
    }
    Ok(state.workspace.join(p))
}

fn write(path: &Path, content: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content)?;
    Ok(())
}

/// The host's imports, as the SDK calls them natively under `testing`.
#[doc(hidden)]
pub mod imports {
    pub mod log {
        pub use crate::bindings::taskhost::plugin::log::Level;

        pub fn log(level: Level, message: &str) {
            super::super::with(|s| s.log.push((level, message.to_owned())));
        }

        pub fn progress(label: &str, done: u64, total: Option<u64>) {
            super::super::with(|s| s.progress.push((label.to_owned(), done, total)));
        }
    }

    pub mod process {
        use super::super::{Deny, Invocation, Made, in_workspace, with, write};
        pub use crate::bindings::taskhost::plugin::process::{Command, ExitStatus};
        use crate::{ArtifactId, Error};

        /// A faked environment.
        #[derive(Debug)]
        pub struct Environment {
            backend: String,
        }

        /// A faked started command: already ended.
        #[derive(Debug)]
        pub struct Running(ExitStatus);

        impl Running {
            pub fn wait(&self, _timeout_ms: u64) -> Result<Option<ExitStatus>, Error> {
                Ok(Some(self.0.clone()))
            }
        }

        impl Environment {
            pub fn open(backend: &str, environment: Option<ArtifactId>) -> Result<Self, Error> {
                with(|s| {
                    let name = if backend == "auto" {
                        s.host.auto.clone()
                    } else {
                        backend.to_owned()
                    };
                    let denied = s
                        .host
                        .denies
                        .iter()
                        .any(|d| matches!(d, Deny::Backend(b) if *b == name));
                    if denied {
                        return Err(s.deny(format!("use backend `{name}`")));
                    }
                    if let Some(id) = environment
                        && s.artifact(id).is_none()
                    {
                        return Err(s.not_an_input(id));
                    }
                    s.backends.push(name.clone());
                    Ok(Environment { backend: name })
                })
            }

            pub fn backend(&self) -> String {
                self.backend.clone()
            }

            pub fn run(&self, command: &Command) -> Result<ExitStatus, Error> {
                with(|s| {
                    let argv = &command.argv;
                    let denied = s
                        .host
                        .denies
                        .iter()
                        .any(|d| matches!(d, Deny::Exec(p) if p.matches(argv)));
                    if denied {
                        return Err(s.deny(format!("run `{}`", argv.join(" "))));
                    }
                    for path in [
                        &command.cwd,
                        &command.stdin,
                        &command.stdout,
                        &command.stderr,
                    ]
                    .into_iter()
                    .flatten()
                    {
                        in_workspace(s, path)?;
                    }
                    let reply = match s.host.replies.iter_mut().find(|(p, _)| p.matches(argv)) {
                        Some((_, respond)) => respond(argv),
                        None => panic!(
                            "FakeHost: unexpected command `{}`: give the FakeHost a reply with .reply(PATTERN, Reply::exit(0))",
                            argv.join(" ")
                        ),
                    };
                    s.commands.push(argv.clone());
                    s.invocations.push(Invocation {
                        argv: argv.clone(),
                        env: command.env.clone(),
                        cwd: command.cwd.clone(),
                        stdin: command.stdin.clone(),
                        stdout: command.stdout.clone(),
                        stderr: command.stderr.clone(),
                        timeout_ms: command.timeout_ms,
                        run_as_root: command.run_as_root,
                        backend: self.backend.clone(),
                    });
                    s.outputs += 1;
                    let n = s.outputs;
                    let stdout = command
                        .stdout
                        .clone()
                        .unwrap_or_else(|| format!(".taskhost/out/{n}.stdout"));
                    let stderr = command
                        .stderr
                        .clone()
                        .unwrap_or_else(|| format!(".taskhost/out/{n}.stderr"));
                    if stdout == stderr {
                        // One file for both, as the host opens it.
                        let both = [reply.stdout.as_slice(), reply.stderr.as_slice()].concat();
                        write(&s.workspace.join(&stdout), &both)?;
                    } else {
                        write(&s.workspace.join(&stdout), &reply.stdout)?;
                        write(&s.workspace.join(&stderr), &reply.stderr)?;
                    }
                    for (path, made) in &reply.writes {
                        let path = in_workspace(s, path)?;
                        match made {
                            Made::File(content) => write(&path, content)?,
                            Made::Dir => std::fs::create_dir_all(&path)?,
                            Made::Symlink(target) => {
                                if let Some(parent) = path.parent() {
                                    std::fs::create_dir_all(parent)?;
                                }
                                std::os::unix::fs::symlink(target, &path)?;
                            }
                        }
                    }
                    Ok(ExitStatus {
                        code: reply.code,
                        signal: reply.signal,
                        timed_out: reply.timed_out,
                        stdout,
                        stderr,
                        truncated: reply.truncated,
                        duration_ms: 1,
                    })
                })
            }

            pub fn start(&self, command: &Command) -> Result<Running, Error> {
                self.run(command).map(Running)
            }

            pub fn push(&self, workspace_path: &str, _target: &str) -> Result<(), Error> {
                with(|s| {
                    let path = in_workspace(s, workspace_path)?;
                    if path.exists() {
                        Ok(())
                    } else {
                        Err(Error::NotFound(format!(
                            "{workspace_path}: no such workspace file"
                        )))
                    }
                })
            }

            pub fn pull(&self, source: &str, workspace_path: &str) -> Result<(), Error> {
                with(|s| {
                    let path = in_workspace(s, workspace_path)?;
                    match s.host.environment.get(source) {
                        Some(content) => write(&path, content),
                        None => Err(Error::NotFound(format!(
                            "{source}: not in the environment (give it with .environment_file)"
                        ))),
                    }
                })
            }
        }
    }

    pub mod artifacts {
        use super::super::{Created, Deny, Relation, in_workspace, sha256, with, write};
        pub use crate::bindings::taskhost::plugin::artifacts::{
            Artifact, FileInfo, Input, NewArtifact, NewFile, RelationType,
        };
        use crate::{ArtifactId, Error};

        fn raw(a: Created) -> Artifact {
            Artifact {
                id: a.id,
                category: a.category,
                data: a.data.to_string(),
                files: a
                    .files
                    .iter()
                    .map(|(name, content)| FileInfo {
                        name: name.clone(),
                        size: content.len() as u64,
                        sha256: sha256(content),
                    })
                    .collect(),
            }
        }

        pub fn get(id: ArtifactId) -> Result<Artifact, Error> {
            with(|s| match s.artifact(id) {
                Some(a) => Ok(raw(a)),
                None => Err(s.not_an_input(id)),
            })
        }

        pub fn inputs() -> Result<Vec<Input>, Error> {
            with(|s| {
                let keyed: Vec<(String, ArtifactId)> = s
                    .host
                    .inputs
                    .values()
                    .map(|i| (i.key.clone(), i.id))
                    .collect();
                Ok(keyed
                    .into_iter()
                    .filter_map(|(key, id)| {
                        s.artifact(id).map(|a| Input {
                            key,
                            artifact: raw(a),
                        })
                    })
                    .collect())
            })
        }

        pub fn fetch(id: ArtifactId, target_dir: &str) -> Result<Vec<String>, Error> {
            with(|s| {
                let Some(artifact) = s.artifact(id) else {
                    return Err(s.not_an_input(id));
                };
                let dir = in_workspace(s, target_dir)?;
                let mut paths = Vec::new();
                for (name, content) in artifact.files {
                    write(&dir.join(&name), &content)?;
                    paths.push(format!("{}/{name}", target_dir.trim_end_matches('/')));
                }
                Ok(paths)
            })
        }

        pub fn create(artifact: &NewArtifact) -> Result<ArtifactId, Error> {
            with(|s| {
                let category = &artifact.category;
                let denied = s
                    .host
                    .denies
                    .iter()
                    .any(|d| matches!(d, Deny::Create(c) if c == category));
                if denied {
                    return Err(s.deny(format!("create an artifact of category {category}")));
                }
                let data: serde_json::Value = serde_json::from_str(&artifact.data)
                    .map_err(|e| Error::Invalid(format!("artifact data is not JSON: {e}")))?;
                if !data.is_object() {
                    return Err(Error::Invalid("artifact data must be a JSON object".into()));
                }
                let mut files = Vec::new();
                for f in &artifact.files {
                    let path = in_workspace(s, &f.path)?;
                    let content = std::fs::read(&path)
                        .map_err(|e| Error::NotFound(format!("{}: {e}", f.path)))?;
                    files.push((f.name.clone(), content));
                }
                let id = s.next_id;
                s.next_id += 1;
                s.created.push(Created {
                    id,
                    category: category.clone(),
                    data,
                    files,
                });
                Ok(id)
            })
        }

        pub fn relate(
            source: ArtifactId,
            target: ArtifactId,
            relation: RelationType,
        ) -> Result<(), Error> {
            with(|s| {
                if !s.created.iter().any(|c| c.id == source) {
                    return Err(s.deny(format!(
                        "relate artifact {source}: only artifacts this run created may be a source"
                    )));
                }
                if s.artifact(target).is_none() {
                    return Err(s.not_an_input(target));
                }
                s.relations.push(Relation {
                    source,
                    target,
                    relation,
                });
                Ok(())
            })
        }

        pub fn lookup(query: &str, _category: &str) -> Result<ArtifactId, Error> {
            with(|s| {
                let denied = s
                    .host
                    .denies
                    .iter()
                    .any(|d| matches!(d, Deny::Lookup(q) if q == query));
                if denied {
                    return Err(s.deny(format!("look up `{query}`")));
                }
                match s.host.lookups.iter().find(|(q, _)| q == query) {
                    Some((_, id)) => Ok(*id),
                    None => Err(Error::NotFound(format!("no artifact matches `{query}`"))),
                }
            })
        }
    }

    pub mod collections {
        use super::super::with;
        use crate::Error;
        pub use crate::bindings::taskhost::plugin::collections::{Collection, Item, NewItem};

        fn raw_item(i: &crate::collections::Item) -> Item {
            Item {
                id: i.id,
                name: i.name.clone(),
                category: i.category.clone(),
                artifact: i.artifact,
                data: i.data.to_string(),
                created_at: i.created_at.clone(),
            }
        }

        pub fn get(query: &str) -> Result<Collection, Error> {
            with(|s| {
                let found = s
                    .host
                    .collections
                    .iter()
                    .map(|(c, _)| c)
                    .find(|c| c.label() == query || format!("{}@collections", c.id) == query)
                    .cloned();
                let Some(c) = found else {
                    return Err(Error::Invalid(format!(
                        "no collection {query} (give it with FakeHost::collection)"
                    )));
                };
                s.found_collections.push(c.id);
                Ok(Collection {
                    id: c.id,
                    category: c.category,
                    name: c.name,
                    data: c.data.to_string(),
                })
            })
        }

        pub fn items(collection: u64) -> Result<Vec<Item>, Error> {
            with(|s| {
                let i = s.found(collection)?;
                let items = s.host.collections[i].1.clone();
                s.listed.extend(items.iter().filter_map(|i| i.artifact));
                Ok(items.iter().map(raw_item).collect())
            })
        }

        pub fn add(collection: u64, new: &NewItem) -> Result<Item, Error> {
            with(|s| {
                let i = s.found(collection)?;
                if let Some(id) = new.artifact
                    && s.artifact(id).is_none()
                {
                    return Err(s.not_an_input(id));
                }
                let data: serde_json::Value = serde_json::from_str(&new.data)
                    .map_err(|e| Error::Invalid(format!("item data is not JSON: {e}")))?;
                let id = s.next_id;
                s.next_id += 1;
                let items = &mut s.host.collections[i].1;
                if let Some(at) = items.iter().position(|it| it.name == new.name) {
                    if !new.replace {
                        return Err(Error::Invalid(format!(
                            "the collection already has an active item {:?}",
                            new.name
                        )));
                    }
                    items.remove(at);
                }
                let item = crate::collections::Item {
                    id,
                    name: new.name.clone(),
                    category: new.category.clone().unwrap_or_default(),
                    artifact: new.artifact,
                    data,
                    created_at: "2026-01-01T00:00:00Z".into(),
                };
                let raw = raw_item(&item);
                items.push(item);
                Ok(raw)
            })
        }

        pub fn remove(collection: u64, name: &str) -> Result<(), Error> {
            with(|s| {
                let i = s.found(collection)?;
                let items = &mut s.host.collections[i].1;
                match items.iter().position(|it| it.name == name) {
                    Some(at) => {
                        items.remove(at);
                        Ok(())
                    }
                    None => Err(Error::Invalid(format!(
                        "the collection has no active item {name:?}"
                    ))),
                }
            })
        }
    }

    pub mod runs {
        use super::super::{Created, Submission, with};
        use crate::Error;
        pub use crate::bindings::taskhost::plugin::runs::{Child, RunStatus, Submitted};

        pub fn submit(task: &str, task_data: &str, force: bool) -> Result<Submitted, Error> {
            with(|s| {
                let data: serde_json::Value = serde_json::from_str(task_data)
                    .map_err(|e| Error::Invalid(format!("task_data is not JSON: {e}")))?;
                let Some(at) = s.host.children.iter().position(|(t, _)| t == task) else {
                    return Err(s.deny(format!(
                        "submit task `{task}` (answer it with FakeHost::child)"
                    )));
                };
                let reply = (s.host.children[at].1)(&data);
                let run_id = format!("child-{}", s.submitted.len() + 1);
                let mut artifacts = Vec::new();
                for (category, data) in reply.artifacts {
                    let id = s.next_id;
                    s.next_id += 1;
                    s.from_children.push(Created {
                        id,
                        category,
                        data,
                        files: Vec::new(),
                    });
                    artifacts.push(id);
                }
                s.submitted.push(Submission {
                    task: task.into(),
                    task_data: data,
                    force,
                });
                let child = crate::runs::Child {
                    run_id: run_id.clone(),
                    task: task.into(),
                    status: reply.status,
                    error: reply.error,
                    artifacts,
                };
                s.children.push((run_id.clone(), child));
                Ok(Submitted {
                    run_id,
                    created: !reply.reused,
                })
            })
        }

        pub fn wait(run_id: &str) -> Result<Child, Error> {
            with(|s| match s.children.iter().find(|(id, _)| id == run_id) {
                Some((_, c)) => Ok(Child {
                    run_id: c.run_id.clone(),
                    task: c.task.clone(),
                    status: c.status,
                    error: c.error.clone(),
                    artifacts: c.artifacts.clone(),
                }),
                None => Err(s.deny(format!(
                    "wait for run `{run_id}`: not submitted by this run"
                ))),
            })
        }
    }

    pub mod http {
        use super::super::{Request, in_workspace, sha256, with, write};
        use crate::Error;
        pub use crate::bindings::taskhost::plugin::http::{Fetched, HttpRequest, HttpResponse};

        pub fn download(
            url: &str,
            workspace_path: &str,
            want: Option<&str>,
        ) -> Result<Fetched, Error> {
            with(|s| {
                s.url_denied(url)?;
                let path = in_workspace(s, workspace_path)?;
                let (status, body) = s.answer(Request {
                    method: "GET".into(),
                    url: url.to_owned(),
                    headers: Vec::new(),
                    body: Vec::new(),
                });
                if !(200..300).contains(&status) {
                    return Err(Error::Failed(format!("{url}: HTTP {status}")));
                }
                let got = sha256(&body);
                if let Some(want) = want
                    && !want.eq_ignore_ascii_case(&got)
                {
                    // The host's kind and words.
                    return Err(Error::Invalid(format!(
                        "{url}: sha256 mismatch: expected {want}, got {got}"
                    )));
                }
                write(&path, &body)?;
                Ok(Fetched {
                    size: body.len() as u64,
                    sha256: got,
                    url: url.to_owned(),
                })
            })
        }

        pub fn send(request: &HttpRequest) -> Result<HttpResponse, Error> {
            with(|s| {
                s.url_denied(&request.url)?;
                let (status, body) = s.answer(Request {
                    method: request.method.clone(),
                    url: request.url.clone(),
                    headers: request.headers.clone(),
                    body: request.body.clone(),
                });
                Ok(HttpResponse {
                    status,
                    headers: Vec::new(),
                    body,
                    url: request.url.clone(),
                })
            })
        }
    }

    pub mod results {
        use super::super::{Emitted, with};
        use crate::Error;
        pub use crate::bindings::taskhost::plugin::results::{CheckResult, Outcome};

        pub fn emit(check: &CheckResult) -> Result<(), Error> {
            // What the host refuses, refused here too.
            if check.item.is_empty() || check.type_.is_empty() {
                return Err(Error::Invalid("a result needs an item and a type".into()));
            }
            let reserved = check
                .keyvals
                .iter()
                .find(|(k, _)| taskhost_resultyaml::is_reserved_key(k));
            if let Some((key, _)) = reserved {
                return Err(Error::Invalid(format!(
                    "'{key}' is a reserved ResultYAML key; use another keyval name"
                )));
            }
            let outcome = match check.outcome {
                Outcome::Passed => crate::Outcome::Passed,
                Outcome::Info => crate::Outcome::Info,
                Outcome::Failed => crate::Outcome::Failed,
                Outcome::NeedsInspection => crate::Outcome::NeedsInspection,
                Outcome::Aborted => crate::Outcome::Aborted,
                Outcome::Crashed => crate::Outcome::Crashed,
            };
            with(|s| {
                s.results.push(Emitted {
                    item: check.item.clone(),
                    item_type: check.type_.clone(),
                    outcome,
                    checkname: check.checkname.clone(),
                    note: check.note.clone(),
                    artifact: check.artifact.clone(),
                    keyvals: check.keyvals.clone(),
                });
                Ok(())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::CheckResult;

    struct Emits;

    thread_local! {
        static RESULT: RefCell<Option<CheckResult>> = const { RefCell::new(None) };
    }

    impl Task for Emits {
        type Data = serde_json::Value;
        const NAME: &'static str = "emits";
        const SUMMARY: &'static str = "Emits the result it is given";
        fn execute(_: serde_json::Value) -> Result<Status> {
            let result = RESULT.with(|r| r.borrow_mut().take()).expect("a result");
            result.emit()?;
            Ok(Status::Success)
        }
    }

    fn emit(result: CheckResult) -> Run<Status> {
        RESULT.with(|r| *r.borrow_mut() = Some(result));
        FakeHost::new().execute::<Emits>()
    }

    #[test]
    fn results_the_host_refuses_are_refused_here_too() {
        let refused = [
            CheckResult::new("", "file", Outcome::Passed),
            CheckResult::new("a.sh", "", Outcome::Passed),
            CheckResult::new("a.sh", "file", Outcome::Passed).keyval("outcome", "x"),
        ];
        for result in refused {
            let run = emit(result);
            assert!(
                matches!(run.status, Err(Error::Invalid(_))),
                "{:?}",
                run.status
            );
            assert!(run.results.is_empty());
        }
        let run = emit(CheckResult::new("a.sh", "file", Outcome::Passed).keyval("lines", 3));
        assert_eq!(run.status, Ok(Status::Success));
        assert_eq!(run.results[0].keyval("lines"), Some("3"));
    }
}
