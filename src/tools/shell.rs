//! `shell`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct Shell;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for Shell {
    const NAME: &'static str = "shell";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("shell is not written yet".into()))
    }
}
