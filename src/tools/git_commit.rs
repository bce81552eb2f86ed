//! `git_commit`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct GitCommit;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for GitCommit {
    const NAME: &'static str = "git_commit";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("git_commit is not written yet".into()))
    }
}
