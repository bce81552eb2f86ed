//! Commands for developing and testing glint itself (`glint dev ...`).

pub mod cache_check;
pub mod command;
pub mod logits;
pub mod speed;
pub mod steps;
pub mod tiny_glm;
