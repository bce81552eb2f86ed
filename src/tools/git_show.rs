//! `git_show`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct GitShow;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for GitShow {
    const NAME: &'static str = "git_show";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("git_show is not written yet".into()))
    }
}
