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

use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::conversation::ToolSpec;
use crate::workspace::{Workspace, WorkspaceError};

pub mod list_dir;
pub mod read_file;
pub mod write_file;

pub use list_dir::ListDir;
pub use read_file::ReadFile;
pub use write_file::WriteFile;

/// The most bytes of tool output the model is shown in one result. Larger
/// outputs are cut at a line boundary with a `[... N more lines]` marker, so
/// one call cannot flood the context window.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// The embedded `tools/NAME.json` files, in registration order.
const EMBEDDED_TOOL_FILES: &[(&str, &str)] = &[
    ("read_file", include_str!("../../tools/read_file.json")),
    ("list_dir", include_str!("../../tools/list_dir.json")),
    ("write_file", include_str!("../../tools/write_file.json")),
];

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
}

impl ToolContext {
    /// A context with a fresh (never cancelled) token.
    pub fn new(workspace: Workspace) -> Self {
        ToolContext {
            workspace,
            cancel: CancellationToken::new(),
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

/// One tool the model can call.
pub trait Tool: Send + Sync {
    /// The spec the model sees, parsed from the embedded `tools/NAME.json`.
    fn spec(&self) -> &ToolSpec;

    /// The tool's name, taken from the spec so the two cannot disagree.
    fn name(&self) -> &str {
        self.spec().name().unwrap_or_default()
    }

    /// Runs the tool. Implementations check their arguments with
    /// [`parse_arguments`] and are responsible for honouring `ctx.cancel`
    /// where the work can take long (the registry only checks it before
    /// starting, since only the tool knows whether stopping half-way is
    /// safe).
    fn run<'a>(
        &'a self,
        arguments: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;
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
    tools: Vec<Box<dyn Tool>>,
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
        registry.register(Box::new(ReadFile::new(embedded_spec("read_file")?)))?;
        registry.register(Box::new(ListDir::new(embedded_spec("list_dir")?)))?;
        registry.register(Box::new(WriteFile::new(embedded_spec("write_file")?)))?;
        Ok(registry)
    }

    /// Adds a tool after the existing ones. Names must be unique.
    pub fn register(&mut self, tool: Box<dyn Tool>) -> Result<(), ToolSpecError> {
        if tool.name().is_empty() {
            return Err(ToolSpecError::Invalid {
                name: String::new(),
                problem: "the spec has no name".into(),
            });
        }
        if self.get(tool.name()).is_some() {
            return Err(ToolSpecError::Duplicate(tool.name().to_string()));
        }
        self.tools.push(tool);
        Ok(())
    }

    /// The specs for the prompt, in registration order.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|t| t.spec().clone()).collect()
    }

    /// Tool names, in registration order.
    pub fn names(&self) -> Vec<&str> {
        self.tools.iter().map(|t| t.name()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&dyn Tool> {
        self.tools
            .iter()
            .find(|t| t.name() == name)
            .map(|t| t.as_ref())
    }

    /// Runs one tool call and reports the result the way the model will see
    /// it. Output longer than [`MAX_OUTPUT_BYTES`] is cut with a marker.
    pub async fn call(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        ctx: &ToolContext,
    ) -> ToolOutcome {
        let Some(tool) = self.get(name) else {
            return ToolOutcome {
                ok: false,
                content: format!(
                    "Unknown tool `{name}`. Available tools: {}.",
                    self.names().join(", ")
                ),
                summary: format!("unknown tool `{}`", one_line(name, 60)),
            };
        };
        if ctx.cancel.is_cancelled() {
            return failure(name, ToolError::Cancelled);
        }
        match tool.run(arguments.clone(), ctx).await {
            Ok(output) => ToolOutcome {
                ok: true,
                content: truncate_output(&output.content, MAX_OUTPUT_BYTES),
                summary: output.summary,
            },
            Err(e) => failure(name, e),
        }
    }
}

fn failure(name: &str, error: ToolError) -> ToolOutcome {
    let content = truncate_output(&error.to_string(), MAX_OUTPUT_BYTES);
    let summary = match &error {
        ToolError::Cancelled => format!("{name}: cancelled"),
        ToolError::InvalidArguments(_) => format!("{name}: invalid arguments"),
        _ => format!("{name} failed: {}", one_line(&content, 72)),
    };
    ToolOutcome {
        ok: false,
        content,
        summary,
    }
}

/// The first line of `text`, cut to at most `max_chars` characters.
fn one_line(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max_chars {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max_chars).collect();
        format!("{cut}…")
    }
}

/// Cuts `text` to at most `max_bytes` bytes (plus the marker), at the last
/// line boundary that fits, and appends `[... N more lines]` so the model
/// knows output is missing. A single line longer than the cap is cut at a
/// character boundary; its remainder counts as one of the N lines.
pub fn truncate_output(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // Prefer to end on a whole line.
    if let Some(newline) = text[..cut].rfind('\n') {
        cut = newline + 1;
    }
    let kept = text[..cut].trim_end_matches('\n');
    let rest = &text[cut..];
    let more = count_lines(rest);
    let lines = if more == 1 { "line" } else { "lines" };
    format!("{kept}\n[... {more} more {lines}]")
}

/// Number of lines in `text`: a final line without a newline counts, a
/// trailing newline does not start a new one (`""` → 0, `"a\n"` → 1,
/// `"a\nb"` → 2).
pub fn count_lines(text: &str) -> usize {
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    if text.is_empty() || text.ends_with('\n') {
        newlines
    } else {
        newlines + 1
    }
}

/// Deserialises a tool's arguments into its argument struct (which should be
/// `#[serde(deny_unknown_fields)]`), turning any problem into an
/// [`ToolError::InvalidArguments`] that names the tool, the problem and the
/// arguments the spec expects, so the model can retry correctly.
///
/// Types are checked against the JSON schema first, because serde's own
/// type errors do not say which argument was wrong. A `null` value for an
/// optional argument counts as absent.
pub fn parse_arguments<T: DeserializeOwned>(
    spec: &ToolSpec,
    arguments: Map<String, Value>,
) -> Result<T, ToolError> {
    let name = spec.name().unwrap_or("tool");
    let invalid = |problem: String| {
        ToolError::InvalidArguments(format!(
            "Invalid arguments for {name}: {problem}. Expected: {}.",
            expected_arguments(spec)
        ))
    };
    let parameters = spec.function().get("parameters");
    let properties = parameters
        .and_then(|p| p.get("properties"))
        .and_then(Value::as_object);
    let required: Vec<&str> = parameters
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();

    if let Some(properties) = properties {
        if let Some(unknown) = arguments.keys().find(|k| !properties.contains_key(*k)) {
            return Err(invalid(format!("unknown field `{unknown}`")));
        }
        if let Some(missing) = required
            .iter()
            .find(|r| arguments.get(**r).is_none_or(Value::is_null))
        {
            return Err(invalid(format!("missing field `{missing}`")));
        }
        for (key, value) in &arguments {
            if value.is_null() {
                continue;
            }
            let Some(ty) = properties.get(key).and_then(|p| p.get("type")) else {
                continue;
            };
            if !value_matches_type(value, ty) {
                return Err(invalid(format!(
                    "`{key}` must be {}, got {}",
                    type_phrase(ty),
                    describe_value(value)
                )));
            }
        }
    }

    // Optional nulls are dropped so `Option` fields see them as absent even
    // when a field has a serde default rather than `Option`.
    let arguments: Map<String, Value> = arguments
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .collect();
    serde_json::from_value(Value::Object(arguments)).map_err(|e| invalid(reword_serde_error(&e)))
}

/// `path (string, required), offset (integer), limit (integer)`, from the
/// spec's schema in declaration order.
pub fn expected_arguments(spec: &ToolSpec) -> String {
    let parameters = spec.function().get("parameters");
    let required: Vec<&str> = parameters
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = parameters
        .and_then(|p| p.get("properties"))
        .and_then(Value::as_object)
    else {
        return "no arguments".into();
    };
    if properties.is_empty() {
        return "no arguments".into();
    }
    properties
        .iter()
        .map(|(key, schema)| {
            let ty = match schema.get("type") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(types)) => types
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => "any".into(),
            };
            if required.contains(&key.as_str()) {
                format!("{key} ({ty}, required)")
            } else {
                format!("{key} ({ty})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_matches_type(value: &Value, ty: &Value) -> bool {
    match ty {
        Value::String(t) => value_matches_type_name(value, t),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .any(|t| value_matches_type_name(value, t)),
        _ => true,
    }
}

fn value_matches_type_name(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        // An unknown schema type: let serde decide.
        _ => true,
    }
}

fn type_phrase(ty: &Value) -> String {
    let article = |t: &str| match t {
        "integer" | "array" | "object" => format!("an {t}"),
        "null" => "null".to_string(),
        _ => format!("a {t}"),
    };
    match ty {
        Value::String(t) => article(t),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .map(article)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "a valid value".into(),
    }
}

/// `string "x"`, `number 1.5`, ... with long values shortened.
fn describe_value(value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let text = value.to_string();
    if text.chars().count() > 40 {
        let short: String = text.chars().take(40).collect();
        format!("{kind} {short}…")
    } else {
        format!("{kind} {text}")
    }
}

/// Serde's messages name Rust types (`expected u64`); the model knows JSON
/// Schema types, so say those instead.
fn reword_serde_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    // `unknown field `x`, expected one of ...` repeats the Expected list.
    let message = match message.find(", expected one of") {
        Some(i) if message.starts_with("unknown field") => message[..i].to_string(),
        _ => message,
    };
    let mut message = message;
    for rust in ["u64", "u32", "usize", "u16", "u8"] {
        message = message.replace(
            &format!("expected {rust}"),
            "expected a non-negative integer",
        );
    }
    for (rust, schema) in [
        ("i64", "a 64-bit signed integer"),
        ("i32", "a 32-bit signed integer"),
        ("isize", "a 64-bit signed integer"),
    ] {
        message = message.replace(&format!("expected {rust}"), &format!("expected {schema}"));
    }
    message
}

/// Runs blocking filesystem work off the async threads, returning
/// [`ToolError::Cancelled`] as soon as the turn is cancelled. The blocking
/// work itself cannot be interrupted; use this only for work that is safe to
/// abandon (reads), not for writes whose result the model must know.
pub(crate) async fn run_blocking_cancellable<T, F>(
    ctx: &ToolContext,
    work: F,
) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ToolError> + Send + 'static,
{
    let handle = tokio::task::spawn_blocking(work);
    tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
        joined = handle => joined.map_err(|e| ToolError::Failed(format!("internal error: {e}")))?,
    }
}

/// Runs blocking work to completion, ignoring cancellation, for work whose
/// effect must be reported truthfully (a write that happened must not be
/// reported as cancelled).
pub(crate) async fn run_blocking<T, F>(work: F) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ToolError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ToolError::Failed(format!("internal error: {e}")))?
}
