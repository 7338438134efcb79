//! A directive that returns what it was given: its params and the
//! formula's context. `exit` asks for an exit code; `fail` fails the
//! action; `save` writes the value to a workspace file.

use serde::Deserialize;
use serde_json::{Value, json};
use taskhost_sdk::directive::{Context, Directive, DirectiveParams, Output};
use taskhost_sdk::{Error, Result};

#[derive(Deserialize, DirectiveParams)]
pub struct Params {
    /// a message
    pub msg: String,
    /// anything
    pub data: Option<Value>,
    /// a number
    #[param(default = 1)]
    pub count: i64,
    /// a switch
    #[param(default = false)]
    pub flag: bool,
    /// a choice
    #[param(default = "fast", choices = ["fast", "slow"])]
    pub mode: String,
    /// one or more arches
    #[param(type = StringOrList, default = ["noarch"])]
    pub arch: Vec<String>,
    /// exit code to ask for
    pub exit: Option<u8>,
    /// fail with this message
    pub fail: Option<String>,
    /// also write the value to this workspace file
    pub save: Option<String>,
}

pub struct Echo;

impl Directive for Echo {
    type Params = Params;
    const NAME: &'static str = "echo";
    const SUMMARY: &'static str = "Returns its params and the formula context";
    const RETURNS: &'static str = "{msg, data, count, flag, mode, arch, context: {...}}";
    const RAISES: &'static str = "when `fail` is given";

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
