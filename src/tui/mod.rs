//! The interactive app: a ratatui front end of the agent core.

pub mod composer;
pub mod markdown;
pub mod theme;
