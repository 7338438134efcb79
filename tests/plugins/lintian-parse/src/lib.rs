//! The lintian output parser the lintian plugin uses
//! (`taskhost_debian::lintian`) inside a plugin, for `host/benches/lintian.rs`: reads
//! the workspace file named in task_data, parses it, and reports the tag
//! count and the time spent reading and parsing, measured in the guest
//! (WASI monotonic clock). `free_us` is the last free.

use serde::Deserialize;
use std::time::Instant;
use taskhost_sdk::results::CheckResult;
use taskhost_sdk::{Outcome, Result, Status, Task};

use taskhost_debian::lintian as parser;

#[derive(Deserialize)]
pub struct Data {
    /// Workspace path of a lintian output.
    file: String,
    /// Parse this many times (parse + free); `parse_us` is the first,
    /// `parse_last_us` the last, in linear memory already grown.
    #[serde(default = "one")]
    repeat: u32,
}

fn one() -> u32 {
    1
}

pub struct LintianParse;

impl Task for LintianParse {
    type Data = Data;
    const NAME: &'static str = "lintian-parse";
    const SUMMARY: &'static str = "Parses a lintian output file and reports how long it took";

    fn execute(data: Data) -> Result<Status> {
        let start = Instant::now();
        let text = std::fs::read_to_string(&data.file)?;
        let read = start.elapsed();
        let (mut parse, mut parse_last, mut free, mut count) = Default::default();
        for i in 0..data.repeat.max(1) {
            let start = Instant::now();
            let tags = parser::parse(&text);
            parse_last = start.elapsed();
            if i == 0 {
                parse = parse_last;
            }
            count = tags.len();
            let start = Instant::now();
            drop(tags);
            free = start.elapsed();
        }
        CheckResult::new(&data.file, "lintian-output", Outcome::Info)
            .keyval("bytes", text.len())
            .keyval("tags", count)
            .keyval("read_us", read.as_micros())
            .keyval("parse_us", parse.as_micros())
            .keyval("parse_last_us", parse_last.as_micros())
            .keyval("free_us", free.as_micros())
            .emit()?;
        Ok(Status::Success)
    }
}

taskhost_sdk::export_task!(LintianParse, manifest = "taskhost.toml");
