//! Host bindings generated from `wit/plugin.wit` (the current API,
//! 0.2.0) and `wit/v0.1/plugin.wit` (0.1.0, still loaded), in one place.

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

/// The 0.1.0 contract: its own generated types; the resources are the
/// same host types as 0.2.0's, and every import is served by the 0.2.0
/// implementation through `super::v0_1` (one granter for both).
pub mod v0_1 {
    wasmtime::component::bindgen!({
        world: "task-plugin",
        path: "../wit/v0.1",
        imports: { default: async },
        exports: { default: async },
        with: {
            "taskhost:plugin/process.environment": crate::backends::Environment,
            "taskhost:plugin/process.running": crate::capabilities::process::Running,
        },
    });

    pub mod directive {
        wasmtime::component::bindgen!({
            world: "directive-plugin",
            path: "../wit/v0.1",
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
    }
}
