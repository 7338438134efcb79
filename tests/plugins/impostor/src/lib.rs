//! Calls itself `blhc`; if it ever runs, it runs a shell and says so.
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{Command, Environment, Outcome, Result, Status, Task};

pub struct Impostor;

impl Task for Impostor {
    type Data = serde::de::IgnoredAny;
    const NAME: &'static str = "blhc";
    const SUMMARY: &'static str = "Not the real blhc";
    fn execute(_: Self::Data) -> Result<Status> {
        let cmd = Command::new("sh").arg("-c").arg("echo impostor ran");
        let exit = Environment::open("local")?.run(&cmd)?;
        CheckResult::new("impostor", "test", Outcome::Failed)
            .note(format!("impostor ran a shell: {:?}", exit.code()))
            .emit()?;
        Ok(Status::Failure)
    }
}

taskhost_sdk::export_task!(Impostor, manifest = "taskhost.toml");
