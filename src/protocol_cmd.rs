//! `glint protocol render|prompt|parse`: the GLM format, inspectable by hand.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cli::{ProtocolCommand, open_workspace};
use crate::conversation::{Message, ToolSpec};
use crate::glm::{ParsedTurn, RenderOptions, RenderRequest, StreamParser, render_prompt};
use crate::prompts::build_system_prompt_today;
use crate::repomap::RepoMapSettings;
use crate::tools::ToolRegistry;

pub fn run(command: ProtocolCommand) -> Result<()> {
    match command {
        ProtocolCommand::Render { file } => {
            let text = read_input(&file)?;
            let request: RenderRequest = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a conversation in the golden files' shape ({{\"flags\", \"tools\", \"messages\"}})",
                    file.display()
                )
            })?;
            print!("{}", request.render());
            Ok(())
        }
        ProtocolCommand::Prompt {
            task,
            cd,
            no_thinking,
        } => {
            let workspace = open_workspace(cd.as_deref())?;
            // The repo map as a run would add it (and waiting as long).
            let config = crate::config::load(&workspace, &[])?;
            let repo_map = RepoMapSettings::from_config(&config).start(workspace.root());
            let tools = ToolRegistry::builtin();
            let built = build_system_prompt_today(workspace.root(), &tools)?;
            for warning in &built.warnings {
                eprintln!("glint: warning: {warning}");
            }
            let system = built.with_repo_map(repo_map).resolve_blocking(&task);
            let messages = [Message::system(system), Message::user(task)];
            let options = RenderOptions {
                enable_thinking: !no_thinking,
                ..RenderOptions::default()
            };
            print!("{}", render_prompt(&messages, &tools.specs(), &options));
            Ok(())
        }
        ProtocolCommand::Parse {
            tools,
            no_thinking,
            partial,
        } => {
            let tools = match tools {
                Some(path) => read_tools(&path)?,
                None => ToolRegistry::builtin().specs(),
            };
            let mut raw = String::new();
            std::io::stdin()
                .read_to_string(&mut raw)
                .context("cannot read raw model output from stdin; it must be UTF-8 text")?;
            let turn = parse(&raw, &tools, !no_thinking, partial);
            println!("{}", serde_json::to_string_pretty(&turn)?);
            Ok(())
        }
    }
}

/// Parses `raw`; with `partial`, stops short of `finish` so only what a
/// streaming consumer would already have seen is reported.
pub fn parse(
    raw: &str,
    tools: &[ToolSpec],
    starts_in_reasoning: bool,
    partial: bool,
) -> ParsedTurn {
    let mut parser = StreamParser::new(tools, starts_in_reasoning);
    let mut turn = ParsedTurn::default();
    for event in parser.feed(raw) {
        turn.push(event);
    }
    if !partial {
        for event in parser.finish() {
            turn.push(event);
        }
    }
    turn
}

fn read_input(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin as UTF-8 text")?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_tools(path: &Path) -> Result<Vec<ToolSpec>> {
    let text = read_input(path)?;
    let tools: Vec<ToolSpec> = serde_json::from_str(&text).with_context(|| {
        format!(
            "--tools {}: expected a JSON array of tools like [{{\"type\": \"function\", \"function\": {{\"name\": ..., \"parameters\": ...}}}}]",
            path.display()
        )
    })?;
    if let Some(index) = tools.iter().position(|tool| tool.name().is_none()) {
        bail!(
            "--tools {}: tool #{} has no function name; each tool needs \"function\": {{\"name\": ...}}",
            path.display(),
            index + 1
        );
    }
    Ok(tools)
}
