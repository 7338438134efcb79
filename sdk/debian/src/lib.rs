//! Debian tooling shared by taskhost's Debian task plugins: the checks their
//! task_data share, control-file fields, and parsers of what sbuild,
//! autopkgtest, lintian and piuparts write. Plugins keep their flow; the
//! formats live here, with their tests.

pub mod autopkgtest;
pub mod checks;
pub mod control;
pub mod lintian;
pub mod piuparts;
pub mod sbuild;
