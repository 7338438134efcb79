//! Raw bindings of the directive world's export (from `wit/plugin.wit`,
//! as [`crate::bindings`]). The imports are shared with
//! [`crate::bindings`].
wit_bindgen::generate!({
    world: "directive-plugin",
    path: "wit",
    with: {
        "taskhost:plugin/types@0.2.1": crate::bindings::taskhost::plugin::types,
        "taskhost:plugin/log@0.2.1": crate::bindings::taskhost::plugin::log,
        "taskhost:plugin/process@0.2.1": crate::bindings::taskhost::plugin::process,
        "taskhost:plugin/artifacts@0.2.1": crate::bindings::taskhost::plugin::artifacts,
        "taskhost:plugin/http@0.2.1": crate::bindings::taskhost::plugin::http,
        "taskhost:plugin/results@0.2.1": crate::bindings::taskhost::plugin::results,
    },
    pub_export_macro: true,
    additional_derives: [PartialEq],
    export_macro_name: "__export_directive_plugin",
    default_bindings_module: "taskhost_sdk::directive_bindings",
    runtime_path: "taskhost_sdk::__wit_bindgen::rt",
});
