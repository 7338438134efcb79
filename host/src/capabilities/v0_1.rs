//! The 0.1.0 contract, served by the 0.2.0 implementation: each 0.1 host
//! call converts its arguments and calls the same method a 0.2 plugin
//! reaches, so it passes the same grant check and is audited the same
//! way. Nothing here decides anything.

use super::RunState;
use super::bindings::taskhost::plugin as now;
use super::bindings::v0_1::taskhost::plugin as old;
use crate::backends::Environment;
use crate::capabilities::process::Running;
use crate::store::ArtifactId;
use wasmtime::component::Resource;

// ---- types ----------------------------------------------------------------

impl From<now::types::Error> for old::types::Error {
    fn from(e: now::types::Error) -> Self {
        use now::types::Error as E;
        match e {
            E::AccessDenied(m) => Self::AccessDenied(m),
            E::Invalid(m) => Self::Invalid(m),
            E::NotFound(m) => Self::NotFound(m),
            E::Failed(m) => Self::Failed(m),
            E::TimedOut => Self::TimedOut,
        }
    }
}

impl From<old::types::Error> for now::types::Error {
    fn from(e: old::types::Error) -> Self {
        use old::types::Error as E;
        match e {
            E::AccessDenied(m) => Self::AccessDenied(m),
            E::Invalid(m) => Self::Invalid(m),
            E::NotFound(m) => Self::NotFound(m),
            E::Failed(m) => Self::Failed(m),
            E::TimedOut => Self::TimedOut,
        }
    }
}

type Old<T> = Result<T, old::types::Error>;

fn old<T, U: From<T>>(r: Result<T, now::types::Error>) -> Old<U> {
    r.map(U::from).map_err(Into::into)
}

impl old::types::Host for RunState {}

// ---- log ------------------------------------------------------------------

impl old::log::Host for RunState {
    async fn log(&mut self, level: old::log::Level, message: String) {
        use old::log::Level as L;
        let level = match level {
            L::Trace => now::log::Level::Trace,
            L::Debug => now::log::Level::Debug,
            L::Info => now::log::Level::Info,
            L::Warn => now::log::Level::Warn,
            L::Error => now::log::Level::Error,
        };
        now::log::Host::log(self, level, message).await
    }

    async fn progress(&mut self, label: String, done: u64, total: Option<u64>) {
        now::log::Host::progress(self, label, done, total).await
    }
}

// ---- process --------------------------------------------------------------

impl From<old::process::Command> for now::process::Command {
    fn from(c: old::process::Command) -> Self {
        Self {
            argv: c.argv,
            env: c.env,
            cwd: c.cwd,
            stdin: c.stdin,
            stdout: c.stdout,
            stderr: c.stderr,
            timeout_ms: c.timeout_ms,
            run_as_root: c.run_as_root,
        }
    }
}

impl From<now::process::ExitStatus> for old::process::ExitStatus {
    fn from(e: now::process::ExitStatus) -> Self {
        Self {
            code: e.code,
            signal: e.signal,
            timed_out: e.timed_out,
            stdout: e.stdout,
            stderr: e.stderr,
            truncated: e.truncated,
            duration_ms: e.duration_ms,
        }
    }
}

impl old::process::Host for RunState {}

impl old::process::HostRunning for RunState {
    async fn wait(
        &mut self,
        running: Resource<Running>,
        timeout_ms: u64,
    ) -> Old<Option<old::process::ExitStatus>> {
        now::process::HostRunning::wait(self, running, timeout_ms)
            .await
            .map(|e| e.map(Into::into))
            .map_err(Into::into)
    }

    async fn drop(&mut self, running: Resource<Running>) -> wasmtime::Result<()> {
        now::process::HostRunning::drop(self, running).await
    }
}

impl old::process::HostEnvironment for RunState {
    async fn open(
        &mut self,
        backend: String,
        environment: Option<ArtifactId>,
    ) -> Old<Resource<Environment>> {
        old(now::process::HostEnvironment::open(self, backend, environment).await)
    }

    async fn backend(&mut self, env: Resource<Environment>) -> String {
        now::process::HostEnvironment::backend(self, env).await
    }

    async fn run(
        &mut self,
        env: Resource<Environment>,
        command: old::process::Command,
    ) -> Old<old::process::ExitStatus> {
        old(now::process::HostEnvironment::run(self, env, command.into()).await)
    }

    async fn start(
        &mut self,
        env: Resource<Environment>,
        command: old::process::Command,
    ) -> Old<Resource<Running>> {
        old(now::process::HostEnvironment::start(self, env, command.into()).await)
    }

    async fn push(
        &mut self,
        env: Resource<Environment>,
        workspace_path: String,
        target: String,
    ) -> Old<()> {
        old(now::process::HostEnvironment::push(self, env, workspace_path, target).await)
    }

    async fn pull(
        &mut self,
        env: Resource<Environment>,
        source: String,
        workspace_path: String,
    ) -> Old<()> {
        old(now::process::HostEnvironment::pull(self, env, source, workspace_path).await)
    }

    async fn drop(&mut self, env: Resource<Environment>) -> wasmtime::Result<()> {
        now::process::HostEnvironment::drop(self, env).await
    }
}

// ---- artifacts ------------------------------------------------------------

impl From<now::artifacts::Artifact> for old::artifacts::Artifact {
    fn from(a: now::artifacts::Artifact) -> Self {
        Self {
            id: a.id,
            category: a.category,
            data: a.data,
            files: a
                .files
                .into_iter()
                .map(|f| old::artifacts::FileInfo {
                    name: f.name,
                    size: f.size,
                    sha256: f.sha256,
                })
                .collect(),
        }
    }
}

impl old::artifacts::Host for RunState {
    async fn get(&mut self, id: ArtifactId) -> Old<old::artifacts::Artifact> {
        old(now::artifacts::Host::get(self, id).await)
    }

    async fn fetch(&mut self, id: ArtifactId, target_dir: String) -> Old<Vec<String>> {
        old(now::artifacts::Host::fetch(self, id, target_dir).await)
    }

    async fn create(&mut self, new: old::artifacts::NewArtifact) -> Old<ArtifactId> {
        let new = now::artifacts::NewArtifact {
            category: new.category,
            data: new.data,
            files: new
                .files
                .into_iter()
                .map(|f| now::artifacts::NewFile {
                    name: f.name,
                    path: f.path,
                })
                .collect(),
        };
        old(now::artifacts::Host::create(self, new).await)
    }

    async fn relate(
        &mut self,
        source: ArtifactId,
        target: ArtifactId,
        relation: old::artifacts::RelationType,
    ) -> Old<()> {
        use old::artifacts::RelationType as R;
        let relation = match relation {
            R::RelatesTo => now::artifacts::RelationType::RelatesTo,
            R::Extends => now::artifacts::RelationType::Extends,
            R::BuiltUsing => now::artifacts::RelationType::BuiltUsing,
        };
        old(now::artifacts::Host::relate(self, source, target, relation).await)
    }

    async fn lookup(&mut self, query: String, category: String) -> Old<ArtifactId> {
        old(now::artifacts::Host::lookup(self, query, category).await)
    }
}

// ---- http -----------------------------------------------------------------

impl old::http::Host for RunState {
    async fn download(
        &mut self,
        url: String,
        workspace_path: String,
        sha256: Option<String>,
    ) -> Old<old::http::Fetched> {
        now::http::Host::download(self, url, workspace_path, sha256)
            .await
            .map(|f| old::http::Fetched {
                size: f.size,
                sha256: f.sha256,
                url: f.url,
            })
            .map_err(Into::into)
    }

    async fn send(&mut self, r: old::http::HttpRequest) -> Old<old::http::HttpResponse> {
        let request = now::http::HttpRequest {
            method: r.method,
            url: r.url,
            headers: r.headers,
            body: r.body,
        };
        now::http::Host::send(self, request)
            .await
            .map(|r| old::http::HttpResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
                url: r.url,
            })
            .map_err(Into::into)
    }
}

// ---- results --------------------------------------------------------------

impl old::results::Host for RunState {
    async fn emit(&mut self, c: old::results::CheckResult) -> Old<()> {
        use old::results::Outcome as O;
        let outcome = match c.outcome {
            O::Passed => now::results::Outcome::Passed,
            O::Info => now::results::Outcome::Info,
            O::Failed => now::results::Outcome::Failed,
            O::NeedsInspection => now::results::Outcome::NeedsInspection,
            O::Aborted => now::results::Outcome::Aborted,
            O::Crashed => now::results::Outcome::Crashed,
        };
        let check = now::results::CheckResult {
            item: c.item,
            type_: c.type_,
            outcome,
            checkname: c.checkname,
            note: c.note,
            artifact: c.artifact,
            keyvals: c.keyvals,
        };
        old(now::results::Host::emit(self, check).await)
    }
}

// ---- exports --------------------------------------------------------------

pub(crate) mod exports {
    //! What a 0.1 plugin's exports return, in 0.2 types.
    use super::super::bindings::v0_1 as old;
    use super::super::bindings::{self as now};

    pub(crate) fn status(s: old::exports::taskhost::plugin::task::Status) -> now::Status {
        use old::exports::taskhost::plugin::task::Status as S;
        match s {
            S::Success => now::Status::Success,
            S::Failure => now::Status::Failure,
            S::Error => now::Status::Error,
            S::Skipped => now::Status::Skipped,
        }
    }

    pub(crate) fn task_info(i: old::exports::taskhost::plugin::task::TaskInfo) -> now::TaskInfo {
        now::TaskInfo {
            name: i.name,
            summary: i.summary,
            task_data_doc: i.task_data_doc,
        }
    }

    pub(crate) fn directive_info(
        i: old::directive::exports::taskhost::plugin::directive::DirectiveInfo,
    ) -> now::directive::DirectiveInfo {
        use old::directive::exports::taskhost::plugin::directive::ParamType as T;
        let kind = |t: T| match t {
            T::String => now::directive::ParamType::String,
            T::StringOrList => now::directive::ParamType::StringOrList,
            T::StringList => now::directive::ParamType::StringList,
            T::Boolean => now::directive::ParamType::Boolean,
            T::Integer => now::directive::ParamType::Integer,
            T::List => now::directive::ParamType::List,
            T::Dict => now::directive::ParamType::Dict,
            T::Any => now::directive::ParamType::Any,
        };
        now::directive::DirectiveInfo {
            name: i.name,
            summary: i.summary,
            params: i
                .params
                .into_iter()
                .map(|p| now::directive::Param {
                    name: p.name,
                    type_: kind(p.type_),
                    required: p.required,
                    default: p.default,
                    choices: p.choices,
                    doc: p.doc,
                })
                .collect(),
            returns: i.returns,
            raises: i.raises,
        }
    }

    pub(crate) fn context(
        c: &now::directive::Context,
    ) -> old::directive::exports::taskhost::plugin::directive::Context {
        old::directive::exports::taskhost::plugin::directive::Context {
            workdir: c.workdir.clone(),
            artifactsdir: c.artifactsdir.clone(),
            checkname: c.checkname.clone(),
            namespace: c.namespace.clone(),
            item: c.item.clone(),
            item_type: c.item_type.clone(),
            arch: c.arch.clone(),
            jobid: c.jobid.clone(),
            uuid: c.uuid.clone(),
        }
    }

    pub(crate) fn output(
        o: old::directive::exports::taskhost::plugin::directive::Output,
    ) -> now::directive::Output {
        now::directive::Output {
            value: o.value,
            exit_code: o.exit_code,
        }
    }
}
