//! Claims API 0.3.0, a future version this host does not speak.
use taskhost_sdk::{Result, Status, Task};

pub struct WrongApi;

impl Task for WrongApi {
    type Data = serde::de::IgnoredAny;
    const NAME: &'static str = "wrong-api";
    const SUMMARY: &'static str = "Built for a future API";
    fn execute(_: Self::Data) -> Result<Status> {
        Ok(Status::Success)
    }
}

taskhost_sdk::export_task!(WrongApi, manifest = "taskhost.toml", api_version = "0.3.0");
