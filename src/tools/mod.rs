//! Agent tools: `tools/NAME.json` (what the model sees) paired with
//! `src/tools/NAME.rs` (what runs).
//!
//! The JSON files are embedded at compile time so the binary is
//! self-contained, and kept as separate files so the descriptions the model
//! reads can be reviewed and edited as prose. `tests/tools_pairing.rs` keeps
//! the two sides in step.
//!
//! A tool never fails the agent loop: [`ToolRegistry::call`] turns every
//! failure (unknown tool, bad arguments, refused path, I/O error,
//! cancellation) into a [`ToolOutcome`] with `ok: false` and a message the
//! model can act on.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::conversation::ToolSpec;
use crate::workspace::{Workspace, WorkspaceError};

mod support;

pub use support::args::{expected_arguments, parse_arguments};
use support::blocking::{contained, install_panic_hook, panicked};
pub(crate) use support::blocking::{run_blocking, run_blocking_cancellable};
/// Source files and their definitions, which the repo map reads too.
pub(crate) use support::code;
/// The languages the code tools parse; the TUI highlights the same ones.
pub(crate) use support::code::Lang;
pub use support::output::{count_lines, head_and_tail, one_line, printable, truncate_output};
pub use support::sandbox::SandboxPolicy;
pub use support::shell_policy::{CheckCommand, EnvPolicy, ShellPolicy};
pub use support::spill::SpillArea;

/// The most bytes of tool output the model is shown in one result. Larger
/// outputs are cut at a line boundary with a `[... N more lines]` marker, so
/// one call cannot flood the context window.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// The longest a call's `summary` (the one line UIs, logs and JSON events
/// show) may be, in characters; longer ones are cut with `…`.
pub const MAX_SUMMARY_CHARS: usize = 200;

/// How long a call of any tool but `shell` may run before the registry
/// stops it and reports that it took too long.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(5 * 60);

/// How much longer than its own `timeout_s` a `shell` call may run (the
/// shell tool kills its command at `timeout_s` and then reports; this is
/// the registry's backstop should that ever hang).
pub const SHELL_TIME_MARGIN: Duration = Duration::from_secs(60);

/// Declares the built-in tools once: for each, its module `src/tools/NAME.rs`,
/// the type implementing [`Tool`], and its embedded `tools/NAME.json`. The
/// order is the order of the specs in the prompt, so it must stay stable for
/// prompt caching.
macro_rules! builtin_tools {
    ($($module:ident => $tool:ident),* $(,)?) => {
        $(
            pub mod $module;
            pub use $module::$tool;
        )*

        /// The embedded `tools/NAME.json` files, in registration order.
        const EMBEDDED_TOOL_FILES: &[(&str, &str)] = &[
            $((stringify!($module), include_str!(concat!("../../tools/", stringify!($module), ".json"))),)*
        ];

        fn register_builtin(registry: &mut ToolRegistry) -> Result<(), ToolSpecError> {
            $(registry.register($tool, embedded_spec(stringify!($module))?)?;)*
            Ok(())
        }
    };
}

builtin_tools! {
    read_file => ReadFile,
    list_dir => ListDir,
    write_file => WriteFile,
    edit_file => EditFile,
    glob => Glob,
    grep => Grep,
    shell => Shell,
    git_status => GitStatus,
    git_diff => GitDiff,
    git_log => GitLog,
    git_show => GitShow,
    git_commit => GitCommit,
    code_outline => CodeOutline,
    find_symbol => FindSymbol,
    update_plan => UpdatePlan,
}

/// The embedded tool JSON files as `(name, json text)`, so tests can check
/// them against the files on disk and the registry.
pub fn embedded_tool_files() -> &'static [(&'static str, &'static str)] {
    EMBEDDED_TOOL_FILES
}

/// What a tool run may use: the workspace it is confined to and the signal
/// that the user interrupted the turn.
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub workspace: Workspace,
    pub cancel: CancellationToken,
    /// How shell commands run (sandbox, network, environment, background
    /// jobs); chosen by the front end from flags and config.
    pub shell: ShellPolicy,
    /// Where outputs too long for the result are kept whole, for the
    /// session (the registry's, see [`ToolRegistry::spill_area`]).
    pub spill: SpillArea,
    /// The model's id of the call being run, when it comes from the model
    /// (checkpoints record it, so an undo can name the call).
    pub call_id: Option<String>,
}

impl ToolContext {
    /// A context with a fresh (never cancelled) token and its own spill
    /// area.
    pub fn new(workspace: Workspace) -> Self {
        ToolContext {
            workspace,
            cancel: CancellationToken::new(),
            shell: ShellPolicy::default(),
            spill: SpillArea::new_session(),
            call_id: None,
        }
    }
}

/// A successful tool result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolOutput {
    /// What the model sees.
    pub content: String,
    /// One short line for UIs and logs, e.g. `src/main.rs: lines 1-40 of 40`.
    pub summary: String,
}

/// Why a tool run failed. `Display` is the message the model sees, so each
/// variant's text must say what went wrong and how to retry.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Already a full sentence naming the tool and the expected arguments.
    #[error("{0}")]
    InvalidArguments(String),
    #[error("{0}")]
    Workspace(#[from] WorkspaceError),
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
}

impl ToolError {
    /// `Invalid arguments for TOOL: PROBLEM.`, the form every tool uses so
    /// the model can tell a bad call from a failed one.
    pub fn invalid(tool: &str, problem: impl std::fmt::Display) -> Self {
        ToolError::InvalidArguments(format!("Invalid arguments for {tool}: {problem}."))
    }
}

/// One tool the model can call. Its spec lives in `tools/NAME.json`; the
/// registry checks a call's arguments against that spec and deserialises them
/// into [`Tool::Args`] before [`Tool::run`] sees them.
pub trait Tool: Send + Sync + 'static {
    /// The tool's name, as in `tools/NAME.json`.
    const NAME: &'static str;

    /// The arguments, best declared `#[serde(deny_unknown_fields)]` so a
    /// misspelt argument is reported instead of ignored.
    type Args: DeserializeOwned + Send;

    /// Runs the tool. Implementations honour `ctx.cancel` where the work can
    /// take long (the registry only checks it before starting, since only the
    /// tool knows whether stopping half-way is safe).
    fn run(
        &self,
        args: Self::Args,
        ctx: &ToolContext,
    ) -> impl Future<Output = Result<ToolOutput, ToolError>> + Send;
}

/// The object-safe form of [`Tool`] the registry holds.
trait DynTool: Send + Sync {
    fn call<'a>(
        &'a self,
        spec: &'a ToolSpec,
        arguments: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;
}

impl<T: Tool> DynTool for T {
    fn call<'a>(
        &'a self,
        spec: &'a ToolSpec,
        arguments: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        Box::pin(async move {
            let args = parse_arguments(spec, arguments)?;
            self.run(args, ctx).await
        })
    }
}

/// A tool with its spec.
struct Registered {
    spec: ToolSpec,
    tool: Box<dyn DynTool>,
}

impl Registered {
    fn name(&self) -> &str {
        self.spec.name().unwrap_or_default()
    }
}

/// The outcome of one call as the agent loop records it. Never an error:
/// failures are reported to the model, which can then retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolOutcome {
    pub ok: bool,
    /// What the model sees.
    pub content: String,
    /// One short line for UIs and logs.
    pub summary: String,
}

/// A malformed tool spec: a bug in `tools/NAME.json`, caught by the tests.
#[derive(Debug, thiserror::Error)]
pub enum ToolSpecError {
    #[error("tools/{name}.json is not valid JSON: {source}")]
    Json {
        name: String,
        source: serde_json::Error,
    },
    #[error("tools/{name}.json: {problem}")]
    Invalid { name: String, problem: String },
    #[error("a tool named `{0}` is already registered")]
    Duplicate(String),
}

/// Parses and checks one `tools/NAME.json`: an object with, in this order,
/// `name` (equal to `expected_name`), a non-empty `description` and an object
/// `parameters` whose `properties` is an object and whose `required` names
/// only declared properties. Returns it wrapped in the OpenAI tool envelope.
pub fn parse_tool_spec(expected_name: &str, json: &str) -> Result<ToolSpec, ToolSpecError> {
    let invalid = |problem: String| ToolSpecError::Invalid {
        name: expected_name.to_string(),
        problem,
    };
    let value: Value = serde_json::from_str(json).map_err(|source| ToolSpecError::Json {
        name: expected_name.to_string(),
        source,
    })?;
    let Value::Object(function) = &value else {
        return Err(invalid("the top level must be an object".into()));
    };
    let keys: Vec<&str> = function.keys().map(String::as_str).collect();
    if keys != ["name", "description", "parameters"] {
        return Err(invalid(format!(
            "keys must be exactly name, description, parameters in that order; found {}",
            keys.join(", ")
        )));
    }
    match function.get("name").and_then(Value::as_str) {
        Some(name) if name == expected_name => {}
        other => {
            return Err(invalid(format!(
                "`name` must be \"{expected_name}\", found {other:?}"
            )));
        }
    }
    match function.get("description").and_then(Value::as_str) {
        Some(d) if !d.trim().is_empty() => {}
        _ => return Err(invalid("`description` must be a non-empty string".into())),
    }
    let Some(Value::Object(parameters)) = function.get("parameters") else {
        return Err(invalid("`parameters` must be an object".into()));
    };
    if parameters.get("type").and_then(Value::as_str) != Some("object") {
        return Err(invalid("`parameters.type` must be \"object\"".into()));
    }
    let Some(Value::Object(properties)) = parameters.get("properties") else {
        return Err(invalid("`parameters.properties` must be an object".into()));
    };
    match parameters.get("required") {
        None => {}
        Some(Value::Array(required)) => {
            for r in required {
                match r.as_str() {
                    Some(key) if properties.contains_key(key) => {}
                    _ => {
                        return Err(invalid(format!(
                            "`parameters.required` lists {r}, which is not a declared property"
                        )));
                    }
                }
            }
        }
        Some(_) => return Err(invalid("`parameters.required` must be an array".into())),
    }
    Ok(ToolSpec::from_function(value))
}

/// The embedded spec of a built-in tool.
fn embedded_spec(name: &str) -> Result<ToolSpec, ToolSpecError> {
    let json = EMBEDDED_TOOL_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, json)| *json)
        .ok_or_else(|| ToolSpecError::Invalid {
            name: name.to_string(),
            problem: "no such embedded file".into(),
        })?;
    parse_tool_spec(name, json)
}

/// The tools the model may call, in registration order (which is the order
/// their specs appear in the prompt, so it must be stable for prompt
/// caching).
#[derive(Default)]
pub struct ToolRegistry {
    tools: Vec<Registered>,
    /// Time limits set with [`ToolRegistry::set_time_limit`], by tool name.
    time_limits: Vec<(String, Duration)>,
    /// Where mutating calls are checkpointed for undo (none: not recorded).
    checkpoints: Option<std::sync::Arc<crate::checkpoint::Checkpoints>>,
    /// The session's spill files. The registry is made once per session by
    /// the front end and shared by every agent core of it (a model switch
    /// keeps the conversation, so its spill files must stay readable); the
    /// files go when the session drops its last handle to the registry.
    spill: SpillArea,
    /// Tools from MCP servers, offered after the built-in ones (see
    /// [`crate::mcp`]); their list can change while the session runs.
    mcp: Option<std::sync::Arc<crate::mcp::McpManager>>,
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRegistry")
            .field("tools", &self.names())
            .finish()
    }
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in tools: read_file, list_dir, write_file.
    ///
    /// # Panics
    /// If an embedded `tools/NAME.json` is malformed. That is a build-time
    /// bug which the test suite catches (every test that builds the
    /// registry fails), so it cannot reach a user of a tested build; use
    /// [`ToolRegistry::try_builtin`] to handle it instead.
    pub fn builtin() -> Self {
        match Self::try_builtin() {
            Ok(registry) => registry,
            Err(e) => panic!("bug: embedded tool spec is malformed: {e}"),
        }
    }

    /// The built-in tools, or the first malformed embedded spec.
    pub fn try_builtin() -> Result<Self, ToolSpecError> {
        let mut registry = Self::new();
        register_builtin(&mut registry)?;
        Ok(registry)
    }

    /// Adds a tool after the existing ones. The spec must carry the tool's
    /// name, and names must be unique.
    pub fn register<T: Tool>(&mut self, tool: T, spec: ToolSpec) -> Result<(), ToolSpecError> {
        if spec.name() != Some(T::NAME) {
            return Err(ToolSpecError::Invalid {
                name: T::NAME.to_string(),
                problem: format!("the spec is named {:?}", spec.name()),
            });
        }
        if self.spec(T::NAME).is_some() {
            return Err(ToolSpecError::Duplicate(T::NAME.to_string()));
        }
        self.tools.push(Registered {
            spec,
            tool: Box::new(tool),
        });
        Ok(())
    }

    /// The specs for the prompt, in registration order, then the MCP
    /// tools fixed at the conversation's first turn (see
    /// [`ToolRegistry::prepare_turn`]).
    pub fn specs(&self) -> Vec<ToolSpec> {
        let builtin = self.tools.iter().map(|t| t.spec.clone());
        match &self.mcp {
            Some(mcp) => builtin.chain(mcp.specs()).collect(),
            None => builtin.collect(),
        }
    }

    /// Offers the tools of these MCP servers after the built-in ones.
    pub fn set_mcp(&mut self, mcp: std::sync::Arc<crate::mcp::McpManager>) {
        self.mcp = Some(mcp);
    }

    /// The MCP servers whose tools are offered, if any.
    pub fn mcp(&self) -> Option<&std::sync::Arc<crate::mcp::McpManager>> {
        self.mcp.as_ref()
    }

    /// Before each model turn: what the MCP servers need said (warnings,
    /// tools announced to the model). A conversation's first turn
    /// (`fresh`) waits for servers still starting, bounded by their startup
    /// timeouts, and fixes the MCP tools its prompt holds.
    pub async fn prepare_turn(&self, fresh: bool) -> crate::mcp::TurnNotes {
        match &self.mcp {
            Some(mcp) => mcp.prepare_turn(fresh).await,
            None => crate::mcp::TurnNotes::default(),
        }
    }

    /// Whether a call of `name` changes nothing, as far as glint knows:
    /// an MCP tool its server marks `readOnlyHint: true`.
    pub fn is_read_only(&self, name: &str) -> bool {
        self.mcp.as_ref().is_some_and(|mcp| mcp.is_read_only(name))
    }

    /// Tool names, in registration order.
    pub fn names(&self) -> Vec<&str> {
        self.tools.iter().map(Registered::name).collect()
    }

    /// The session's spill area, for the [`ToolContext`] of each call.
    pub fn spill_area(&self) -> &SpillArea {
        &self.spill
    }

    /// The spec of the tool called `name`.
    pub fn spec(&self, name: &str) -> Option<&ToolSpec> {
        self.find(name).map(|t| &t.spec)
    }

    fn find(&self, name: &str) -> Option<&Registered> {
        self.tools.iter().find(|t| t.name() == name)
    }

    /// Replaces the time limit of the tool called `name` (by default
    /// [`DEFAULT_TIME_LIMIT`], or for `shell` its `timeout_s` plus
    /// [`SHELL_TIME_MARGIN`]).
    pub fn set_time_limit(&mut self, name: &str, limit: Duration) {
        self.time_limits.retain(|(n, _)| n != name);
        self.time_limits.push((name.to_string(), limit));
    }

    /// How long this call of `name` may run.
    pub fn time_limit(&self, name: &str, arguments: &Map<String, Value>) -> Duration {
        if let Some((_, limit)) = self.time_limits.iter().find(|(n, _)| n == name) {
            return *limit;
        }
        if let Some(limit) = self.mcp.as_ref().and_then(|mcp| mcp.time_limit(name)) {
            return limit;
        }
        if name == Shell::NAME {
            let timeout_s = arguments
                .get("timeout_s")
                .and_then(Value::as_u64)
                .unwrap_or(shell::DEFAULT_TIMEOUT_S)
                .clamp(1, shell::MAX_TIMEOUT_S);
            return Duration::from_secs(timeout_s) + SHELL_TIME_MARGIN;
        }
        DEFAULT_TIME_LIMIT
    }

    /// Runs one tool call and reports the result the way the model will see
    /// it. Output longer than [`MAX_OUTPUT_BYTES`] is cut with a marker, and
    /// the summary is one line of at most [`MAX_SUMMARY_CHARS`].
    ///
    /// The call is stopped when it runs past its [time
    /// limit](ToolRegistry::time_limit) (its cancellation token is cancelled,
    /// so blocking work that checks it stops soon), and a panic anywhere in
    /// the tool becomes a failed call; neither ever ends the run.
    pub async fn call(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        ctx: &ToolContext,
    ) -> ToolOutcome {
        let run = self.call_unrecorded(name, arguments, ctx);
        match &self.checkpoints {
            Some(store) => crate::checkpoint::around(store, name, ctx, run).await,
            None => run.await,
        }
    }

    /// Records mutating calls as checkpoints from now on (see
    /// [`crate::checkpoint`]).
    pub fn set_checkpoints(&mut self, store: std::sync::Arc<crate::checkpoint::Checkpoints>) {
        self.checkpoints = Some(store);
    }

    /// The store mutating calls are checkpointed in, if any.
    pub fn checkpoints(&self) -> Option<&std::sync::Arc<crate::checkpoint::Checkpoints>> {
        self.checkpoints.as_ref()
    }

    /// [`ToolRegistry::call`] without checkpointing.
    async fn call_unrecorded(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        ctx: &ToolContext,
    ) -> ToolOutcome {
        let Some(registered) = self.find(name) else {
            if let Some(outcome) = self.call_mcp(name, arguments, ctx).await {
                return outcome;
            }
            let mut names: Vec<String> = self.names().iter().map(|n| n.to_string()).collect();
            names.extend(self.mcp.iter().flat_map(|mcp| mcp.names()));
            return ToolOutcome {
                ok: false,
                content: format!(
                    "Unknown tool `{}`. Available tools: {}.",
                    one_line(name, 60),
                    names.join(", ")
                ),
                summary: format!("unknown tool `{}`", one_line(name, 60)),
            };
        };
        if ctx.cancel.is_cancelled() {
            return failure(name, ToolError::Cancelled);
        }
        install_panic_hook();
        let limit = self.time_limit(name, arguments);
        // The call's own token: cancelled by the user's (its parent) or when
        // the time limit passes.
        let mut call_ctx = ctx.clone();
        call_ctx.cancel = ctx.cancel.child_token();
        let mut running = registered
            .tool
            .call(&registered.spec, arguments.clone(), &call_ctx);
        let guarded = std::future::poll_fn(|cx| contained(|| running.as_mut().poll(cx)));
        let result = tokio::select! {
            result = AssertUnwindSafe(guarded).catch_unwind() => match result {
                Ok(result) => result,
                Err(payload) => Err(panicked(name, payload.as_ref())),
            },
            () = tokio::time::sleep(limit) => {
                call_ctx.cancel.cancel();
                Err(ToolError::Failed(too_long(name, limit)))
            }
        };
        match result {
            Ok(output) => ToolOutcome {
                ok: true,
                content: fit_output(name, output.content, &call_ctx.spill),
                summary: one_line(&output.summary, MAX_SUMMARY_CHARS),
            },
            Err(e) => failure(name, e),
        }
    }
}

impl ToolRegistry {
    /// Runs a call of an MCP tool, its output capped like any tool's;
    /// `None` when no MCP server's tools are named like `name`. The
    /// server's `tool_timeout_sec` is enforced by [`crate::mcp`]; the
    /// registry's limit is the backstop.
    async fn call_mcp(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        ctx: &ToolContext,
    ) -> Option<ToolOutcome> {
        let mcp = self.mcp.as_ref()?;
        if ctx.cancel.is_cancelled() {
            return Some(failure(name, ToolError::Cancelled));
        }
        let limit = self.time_limit(name, arguments);
        let cancel = ctx.cancel.child_token();
        let result = tokio::select! {
            result = mcp.call(name, arguments, &cancel) => result?,
            () = tokio::time::sleep(limit) => {
                cancel.cancel();
                Err(ToolError::Failed(too_long(name, limit)))
            }
        };
        Some(match result {
            Ok(output) => ToolOutcome {
                ok: true,
                content: fit_output(name, output.content, &ctx.spill),
                summary: one_line(&output.summary, MAX_SUMMARY_CHARS),
            },
            Err(e) => failure(name, e),
        })
    }
}

/// A successful output as the model sees it: whole when it fits in
/// [`MAX_OUTPUT_BYTES`]; otherwise written whole to a spill file, with only
/// its head and tail and a note naming the file kept in the result. Where
/// the spill file cannot be written, cut to its head as before.
fn fit_output(name: &str, content: String, spill: &SpillArea) -> String {
    if content.len() <= MAX_OUTPUT_BYTES {
        return content;
    }
    let path = match spill.write(name, &content) {
        Ok(path) => path,
        Err(e) => {
            tracing::warn!("cannot write a spill file for {name}: {e}");
            return truncate_output(&content, MAX_OUTPUT_BYTES);
        }
    };
    let note = support::spill::spill_note(&path, count_lines(&content));
    let budget = MAX_OUTPUT_BYTES.saturating_sub(note.len() + 200);
    let kept = head_and_tail(&content, budget, |n| {
        let lines = if n == 1 { "line" } else { "lines" };
        format!("[... {n} {lines} omitted; see the note at the end ...]")
    });
    format!("{}\n{note}", kept.trim_end_matches('\n'))
}

/// The one-line error for a call stopped at its time limit: what happened
/// and what to try instead.
fn too_long(name: &str, limit: Duration) -> String {
    let secs = limit.as_secs();
    let shown = if secs >= 60 && secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else if secs >= 1 {
        format!("{secs} s")
    } else {
        format!("{} ms", limit.as_millis())
    };
    let instead = match name {
        "grep" => {
            "narrow `path` or `glob`, or use a shorter or simpler pattern (a plain word with `literal`: true is fastest)"
        }
        "glob" => "narrow `path` or make the pattern more specific",
        "shell" => "split the command into smaller steps",
        "find_symbol" | "code_outline" => "give a smaller `path`",
        "write_file" | "edit_file" | "git_commit" => {
            "check with read_file or git_status whether it took effect before retrying"
        }
        _ => "try a smaller request",
    };
    format!("`{name}` took too long and was stopped after {shown}; {instead}.")
}

fn failure(name: &str, error: ToolError) -> ToolOutcome {
    let content = truncate_output(&error.to_string(), MAX_OUTPUT_BYTES);
    let summary = match &error {
        ToolError::Cancelled => format!("{name}: cancelled"),
        ToolError::InvalidArguments(_) => format!("{name}: invalid arguments"),
        _ => format!("{name} failed: {}", one_line(&content, 120)),
    };
    let summary = one_line(&summary, MAX_SUMMARY_CHARS);
    ToolOutcome {
        ok: false,
        content,
        summary,
    }
}
