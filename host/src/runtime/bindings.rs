//! Host bindings generated from `wit/plugin.wit`, in one place.

wasmtime::component::bindgen!({
    world: "task-plugin",
    path: "../wit",
    imports: { default: async },
    exports: { default: async },
    with: {
        "taskhost:plugin/process.environment": crate::backends::Environment,
    },
});

pub use self::exports::taskhost::plugin::task::{Status, TaskInfo};
pub use self::taskhost::plugin::types::Error;
