//! `git_status`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct GitStatus;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for GitStatus {
    const NAME: &'static str = "git_status";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("git_status is not written yet".into()))
    }
}
