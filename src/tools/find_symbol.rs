//! `find_symbol`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct FindSymbol;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for FindSymbol {
    const NAME: &'static str = "find_symbol";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("find_symbol is not written yet".into()))
    }
}
