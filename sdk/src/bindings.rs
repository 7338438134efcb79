//! Raw bindings generated from `wit/plugin.wit`. Plugin authors use the
//! typed wrappers in the crate root instead.
//!
//! `sdk/wit/plugin.wit` is a symlink to the repository's canonical
//! `wit/plugin.wit` (only the current 0.2.0 contract: the host alone
//! reads `wit/v0.1/`), so that `cargo package` ships the WIT in the crate.
wit_bindgen::generate!({
    world: "task-plugin",
    path: "wit",
    pub_export_macro: true,
    additional_derives: [PartialEq],
    export_macro_name: "__export_task_plugin",
    default_bindings_module: "taskhost_sdk::bindings",
    runtime_path: "taskhost_sdk::__wit_bindgen::rt",
});
