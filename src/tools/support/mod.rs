//! Helpers shared by the tools (kept out of `src/tools/*.rs`, which holds
//! exactly one file per tool).

pub mod args;
pub mod blocking;
pub mod output;
pub mod sandbox;
