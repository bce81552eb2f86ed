//! `grep`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct Grep;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for Grep {
    const NAME: &'static str = "grep";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("grep is not written yet".into()))
    }
}
