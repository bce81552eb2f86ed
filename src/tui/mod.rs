//! The interactive app: a ratatui front end of the agent core.
//!
//! State and drawing ([`App`], `screen.rs`) are separate from the terminal
//! ([`event_loop`]): events and keys go in as values and a frame is drawn
//! from state, so tests and benchmarks draw screens into a `TestBackend`.

mod app;
mod approval;
mod commands;
pub mod compaction;
pub mod composer;
mod diff;
mod event_loop;
mod input;
mod live;
pub mod markdown;
mod pager;
mod plan;
mod review;
mod screen;
mod session;
mod sessions;
mod status;
mod terminal;
pub mod theme;
mod transcript;
mod undo;
mod wrap;

pub use app::{App, AppConfig, Effect};
pub use approval::{ApprovalPrompt, PromptAction};
pub use commands::{COMMANDS, SlashCommand};
pub use event_loop::{TuiError, TuiOptions, run};
pub use review::{EditRequest, ReviewAction, ReviewView};
pub use screen::{draw_main, draw_pager, viewport_height};
pub use session::SessionOptions;
pub use status::{EngineState, StatusLine};
pub use transcript::{Detail, Entry, ToolEntry};
