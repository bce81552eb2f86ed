//! `git_diff`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct GitDiff;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for GitDiff {
    const NAME: &'static str = "git_diff";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("git_diff is not written yet".into()))
    }
}
