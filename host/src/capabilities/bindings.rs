//! Host bindings generated from `wit/plugin.wit`, in one place.

wasmtime::component::bindgen!({
    world: "task-plugin",
    path: "../wit",
    imports: { default: async },
    exports: { default: async },
    with: {
        "taskhost:plugin/process.environment": crate::backends::Environment,
        "taskhost:plugin/process.running": crate::capabilities::process::Running,
    },
});

/// The directive world: the same imports (reused from the task world's
/// bindings, so one linker serves both), a `directive` export.
pub mod directive {
    wasmtime::component::bindgen!({
        world: "directive-plugin",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
        with: {
            "taskhost:plugin/types": super::taskhost::plugin::types,
            "taskhost:plugin/log": super::taskhost::plugin::log,
            "taskhost:plugin/process": super::taskhost::plugin::process,
            "taskhost:plugin/artifacts": super::taskhost::plugin::artifacts,
            "taskhost:plugin/http": super::taskhost::plugin::http,
            "taskhost:plugin/results": super::taskhost::plugin::results,
        },
    });

    pub use self::exports::taskhost::plugin::directive::{
        Context, DirectiveInfo, Output, Param, ParamType,
    };
}

pub use self::exports::taskhost::plugin::task::{Status, TaskInfo};
pub use self::taskhost::plugin::types::Error;
