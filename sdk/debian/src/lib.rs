//! Debian tooling shared by taskhost's Debian task plugins: the checks their
//! task_data share, control-file fields, and parsers of what sbuild,
//! autopkgtest, lintian and piuparts write. Plugins keep their flow; the
//! formats live here, with their tests. [`derived`] holds the pure logic
//! of debusine's derived collections (UpdateSuiteLintianCollection).

pub mod autopkgtest;
pub mod checks;
pub mod control;
pub mod derived;
pub mod lintian;
pub mod piuparts;
pub mod sbuild;
