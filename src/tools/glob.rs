//! `glob`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct Glob;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for Glob {
    const NAME: &'static str = "glob";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("glob is not written yet".into()))
    }
}
