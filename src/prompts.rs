//! Model-facing text from `prompts/`, filled in for the session.

mod agents_md;
mod source;

use std::path::Path;
use std::sync::Arc;

use minijinja::Environment;
use serde::Serialize;

use crate::repomap::RepoMapJob;
use crate::tools::ToolRegistry;

pub use agents_md::AGENTS_MD_MAX_BYTES;
pub use source::{REPO_MAP_WAIT, SystemPromptSource};

const SYSTEM_TEMPLATE: &str = include_str!("../prompts/system.md");

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    // The cause is the error's source, which `{:#}` prints after this line.
    #[error("the system prompt template prompts/system.md is broken")]
    Template(#[from] minijinja::Error),
}

/// A system prompt with the warnings met while building it (e.g. an
/// AGENTS.md that was skipped), one line each, for the front ends to show.
#[derive(Debug, Clone)]
pub struct SystemPrompt {
    /// The prompt without a repo map.
    pub text: String,
    pub warnings: Vec<String>,
    /// What it was filled in from, to fill it in again with the map.
    inputs: Arc<PromptInputs>,
}

impl SystemPrompt {
    /// The prompt as an agent takes it: with the repo map `job` builds
    /// added at the first turn, when it is ready by then (see
    /// [`SystemPromptSource`]); as it is without a job.
    pub fn with_repo_map(&self, job: Option<RepoMapJob>) -> SystemPromptSource {
        SystemPromptSource::new(self.text.clone(), job.map(|job| (job, self.inputs.clone())))
    }
}

/// Everything `prompts/system.md` is filled in with.
#[derive(Debug, Clone, Serialize)]
struct PromptInputs {
    workspace: String,
    os: String,
    date: String,
    tools: Vec<ToolLine>,
    agents_md: Option<String>,
    repo_map: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct ToolLine {
    name: String,
    summary: String,
}

/// Fills `prompts/system.md` for a session in `workspace`, adding the
/// AGENTS.md files from the repository root down to the workspace.
/// Warnings (an AGENTS.md that could not be used) are logged;
/// [`build_system_prompt`] returns them instead.
pub fn system_prompt(
    workspace: &Path,
    tools: &ToolRegistry,
    date: &str,
) -> Result<String, PromptError> {
    let built = build_system_prompt(workspace, tools, date)?;
    for warning in &built.warnings {
        tracing::warn!("{warning}");
    }
    Ok(built.text)
}

/// [`system_prompt`], also returning the warnings for the front end to show.
pub fn build_system_prompt(
    workspace: &Path,
    tools: &ToolRegistry,
    date: &str,
) -> Result<SystemPrompt, PromptError> {
    let mut warnings = Vec::new();
    let agents_md = agents_md::read_agents_md(workspace, &mut warnings);
    let tools: Vec<ToolLine> = tools
        .specs()
        .iter()
        .map(|spec| ToolLine {
            name: spec.name().unwrap_or_default().to_string(),
            summary: first_sentence(
                spec.function()
                    .get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or_default(),
            ),
        })
        .collect();
    let inputs = PromptInputs {
        workspace: workspace.display().to_string(),
        os: format!("{} ({})", std::env::consts::OS, std::env::consts::ARCH),
        date: date.to_string(),
        tools,
        agents_md,
        repo_map: None,
    };
    Ok(SystemPrompt {
        text: render(&inputs)?,
        warnings,
        inputs: Arc::new(inputs),
    })
}

/// `prompts/system.md` filled in with `inputs`.
fn render(inputs: &PromptInputs) -> Result<String, PromptError> {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(false);
    env.add_template("system.md", SYSTEM_TEMPLATE)?;
    let rendered = env.get_template("system.md")?.render(inputs)?;
    Ok(rendered.trim_end().to_string())
}

/// [`system_prompt`] dated today (local time).
pub fn system_prompt_today(workspace: &Path, tools: &ToolRegistry) -> Result<String, PromptError> {
    system_prompt(workspace, tools, &today())
}

/// [`build_system_prompt`] dated today (local time).
pub fn build_system_prompt_today(
    workspace: &Path,
    tools: &ToolRegistry,
) -> Result<SystemPrompt, PromptError> {
    build_system_prompt(workspace, tools, &today())
}

fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

/// The first sentence of a tool description, for the one-line tool list.
fn first_sentence(description: &str) -> String {
    let line = description.lines().next().unwrap_or_default();
    match line.find(". ") {
        Some(end) => line[..=end].to_string(),
        None => line.to_string(),
    }
}
