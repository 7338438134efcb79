//! `taskhost:plugin/types`: no functions, only types.

use super::RunState;
use super::bindings::taskhost::plugin::types;

impl types::Host for RunState {}
