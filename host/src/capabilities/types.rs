//! `taskhost:plugin/types`: no functions, only types.

use crate::runtime::RunState;
use crate::runtime::bindings::taskhost::plugin::types;

impl types::Host for RunState {}
