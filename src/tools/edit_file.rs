//! `edit_file`: placeholder while it is being written (replaced before commit).

use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutput};

pub struct EditFile;

#[derive(Debug, Deserialize)]
pub struct Args {}

impl Tool for EditFile {
    const NAME: &'static str = "edit_file";
    type Args = Args;

    async fn run(&self, _args: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Err(ToolError::Failed("edit_file is not written yet".into()))
    }
}
