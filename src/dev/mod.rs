//! Commands for developing and testing glint itself (`glint dev ...`).

pub mod cache_check;
pub mod command;
pub mod tiny_glm;
