//! `git_log`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct GitLog;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for GitLog {
    const NAME: &'static str = "git_log";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("git_log is not written yet".into()))
    }
}
