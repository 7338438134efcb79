//! A directive that returns what it was given: its params and the
//! formula's context. `exit` asks for an exit code; `fail` fails the
//! action; `save` writes the value to a workspace file.

use serde::Deserialize;
use serde_json::{Value, json};
use taskhost_sdk::directive::{Context, Directive, Output, Param, ParamType};
use taskhost_sdk::{Error, Result};

#[derive(Deserialize)]
pub struct Params {
    pub msg: String,
    #[serde(default)]
    pub data: Value,
    pub count: i64,
    pub flag: bool,
    pub mode: String,
    pub arch: Vec<String>,
    #[serde(default)]
    pub exit: Option<u8>,
    #[serde(default)]
    pub fail: Option<String>,
    #[serde(default)]
    pub save: Option<String>,
}

pub struct Echo;

impl Directive for Echo {
    type Params = Params;
    const NAME: &'static str = "echo";
    const SUMMARY: &'static str = "Returns its params and the formula context";
    const RETURNS: &'static str = "{msg, data, count, flag, mode, arch, context: {...}}";
    const RAISES: &'static str = "when `fail` is given";

    fn params() -> Vec<Param> {
        vec![
            Param::required("msg", ParamType::String, "a message"),
            Param::optional_without_default("data", ParamType::Any, "anything"),
            Param::optional("count", ParamType::Integer, 1, "a number"),
            Param::optional("flag", ParamType::Boolean, false, "a switch"),
            Param::optional("mode", ParamType::String, "fast", "a choice")
                .choices(&["fast", "slow"]),
            Param::optional(
                "arch",
                ParamType::StringOrList,
                ["noarch"],
                "one or more arches",
            ),
            Param::optional_without_default("exit", ParamType::Integer, "exit code to ask for"),
            Param::optional_without_default("fail", ParamType::String, "fail with this message"),
            Param::optional_without_default(
                "save",
                ParamType::String,
                "also write the value to this workspace file",
            ),
        ]
    }

    fn run(p: Params, c: &Context) -> Result<Output> {
        if let Some(why) = p.fail {
            return Err(Error::failed(why));
        }
        let value = json!({
            "msg": p.msg, "data": p.data, "count": p.count, "flag": p.flag,
            "mode": p.mode, "arch": p.arch,
            "context": {
                "workdir": c.workdir, "artifactsdir": c.artifactsdir,
                "checkname": c.checkname, "namespace": c.namespace,
                "item": c.item, "type": c.item_type,
                "arch": c.arch, "jobid": c.jobid, "uuid": c.uuid,
            },
        });
        if let Some(path) = &p.save {
            std::fs::write(path, value.to_string())?;
        }
        let out = Output::value(value);
        Ok(match p.exit {
            Some(code) => out.with_exit_code(code),
            None => out,
        })
    }
}

taskhost_sdk::export_directive!(Echo, manifest = "taskhost.toml");
