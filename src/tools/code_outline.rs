//! `code_outline`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct CodeOutline;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for CodeOutline {
    const NAME: &'static str = "code_outline";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("code_outline is not written yet".into()))
    }
}
