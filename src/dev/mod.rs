//! Commands for developing and testing glint itself (`glint dev ...`).

pub mod tiny_glm;
pub mod cache_check;
