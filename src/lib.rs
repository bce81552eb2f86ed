//! glint: a terminal coding agent that runs GLM-4.7-Flash in-process.
//!
//! The agent core ([`agent`]) takes typed operations and emits typed events;
//! the headless runner ([`headless`]) and, later, the TUI are two front ends
//! of that one core.

pub mod agent;
pub mod approval;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod dev;
pub mod engine;
pub mod file_names;
pub mod glm;
pub mod headless;
pub mod logging;
pub mod mcp;
pub mod pids;
pub mod prompts;
pub mod protocol_cmd;
pub mod repomap;
pub mod review;
pub mod scratch;
pub mod session;
pub mod tools;
pub mod tui;
pub mod workspace;
