//! The host's imports: the real ones in a plugin, the fake host's in a
//! native test build with the `testing` feature.

#[cfg(not(all(feature = "testing", not(target_arch = "wasm32"))))]
pub(crate) use crate::bindings::taskhost::plugin::{
    artifacts, collections, http, log, process, results, runs,
};
#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub(crate) use crate::testing::imports::{
    artifacts, collections, http, log, process, results, runs,
};
