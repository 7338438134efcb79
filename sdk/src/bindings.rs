//! Raw bindings generated from `wit/plugin.wit`. Plugin authors use the
//! typed wrappers in the crate root instead.
wit_bindgen::generate!({
    world: "task-plugin",
    path: "../wit",
    pub_export_macro: true,
    export_macro_name: "__export_task_plugin",
    default_bindings_module: "taskhost_sdk::bindings",
    runtime_path: "taskhost_sdk::__wit_bindgen::rt",
});
