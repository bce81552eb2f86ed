//! Helpers shared by the tools (kept out of `src/tools/*.rs`, which holds
//! exactly one file per tool).

pub mod after_edit;
pub mod args;
pub mod blocking;
pub mod code;
pub mod git;
pub mod output;
pub mod process;
pub mod sandbox;
pub mod search;
pub mod shell_policy;
pub mod spill;
