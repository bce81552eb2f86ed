//! Shared test setup: scripted-model files and throwaway workspaces.
#![allow(dead_code)]

pub mod agent_harness;
pub mod completions;
pub mod headless;
pub mod pty;
pub mod screen;

// Kept at the top level where the tests have always found them; a test
// binary that uses neither must not warn.
#[allow(unused_imports)]
pub use agent_harness::{tool_results, until_finished};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use glint::tools::{ToolContext, ToolOutcome, ToolRegistry};
use glint::workspace::Workspace;
use serde_json::Value;

use tempfile::TempDir;

/// A scripted-model file under `tests/scripts/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

/// A temporary directory holding a workspace `ws/` with `notes.txt`, and a
/// file `secret.txt` next to (outside) it.
pub struct Sandbox {
    pub dir: TempDir,
}

impl Sandbox {
    pub fn create() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("ws")).expect("mkdir ws");
        std::fs::write(
            dir.path().join("ws/notes.txt"),
            "Project notes\nThe launch code is 4242.\n",
        )
        .expect("write notes");
        std::fs::write(dir.path().join("secret.txt"), "top secret\n").expect("write secret");
        Sandbox { dir }
    }

    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    pub fn outside(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The glint binary, run in `workspace`.
pub fn glint(workspace: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_glint"));
    // The developer's own ~/.config/glint/config.toml must not change what
    // a test sees: point the user config at a directory that does not exist.
    command
        .current_dir(workspace)
        .env_remove("GLINT_MODEL")
        .env("XDG_CONFIG_HOME", workspace.join(".no-user-config"))
        // Checkpoint shadow repositories (for workspaces outside git) go to
        // the data directory: keep them out of the developer's own.
        .env(
            "XDG_DATA_HOME",
            std::env::temp_dir().join("glint-test-data"),
        );
    command
}

/// `--model script:NAME` for a script under tests/scripts.
pub fn model_arg(name: &str) -> String {
    format!("script:{}", script(name).display())
}

/// A workspace directory and a sibling "outside" directory in one temp dir,
/// so escapes land somewhere the test can inspect (and clean up).
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub outside: PathBuf,
    pub ctx: ToolContext,
    pub registry: ToolRegistry,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(dir.path()).unwrap();
        let root = base.join("ws");
        let outside = base.join("outside");
        fs::create_dir(&root).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret.txt"), "top secret\n").unwrap();
        let ctx = ToolContext::new(Workspace::new(&root).unwrap());
        Fixture {
            _dir: dir,
            root,
            outside,
            ctx,
            registry: ToolRegistry::builtin(),
        }
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    pub async fn call(&self, name: &str, args: Value) -> ToolOutcome {
        let Value::Object(map) = args else {
            panic!("arguments must be an object")
        };
        self.registry.call(name, &map, &self.ctx).await
    }

    pub async fn ok(&self, name: &str, args: Value) -> ToolOutcome {
        let out = self.call(name, args.clone()).await;
        assert!(out.ok, "{name} {args} failed: {}", out.content);
        out
    }

    pub async fn err(&self, name: &str, args: Value) -> String {
        let out = self.call(name, args.clone()).await;
        assert!(
            !out.ok,
            "{name} {args} unexpectedly succeeded: {}",
            out.content
        );
        out.content
    }

    /// Symlinks `ws/link` → `outside/secret.txt` and `ws/linkdir` → `outside`.
    #[cfg(unix)]
    pub fn outside_links(&self) {
        std::os::unix::fs::symlink(self.outside.join("secret.txt"), self.root.join("link"))
            .unwrap();
        std::os::unix::fs::symlink(&self.outside, self.root.join("linkdir")).unwrap();
    }

    pub fn outside_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// The SmolLM2 GGUF fetched by `tests/fetch-fixtures.sh`.
pub fn smollm2() -> PathBuf {
    let dir = std::env::var_os("GLINT_FIXTURE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/glint/fixtures"))
        })
        .expect("HOME or GLINT_FIXTURE_DIR is set");
    let path = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing; run tests/fetch-fixtures.sh (the README's test command, .ci/run, does)",
        path.display()
    );
    path
}

/// Greedy decoding on CPU with the prefix cache, for local-engine tests.
pub fn greedy(model: &str, max_tokens: usize) -> glint::engine::local::LocalOptions {
    use glint::engine::local::{DeviceChoice, IsqChoice, LocalOptions, Sampling};
    LocalOptions {
        model: model.to_string(),
        isq: IsqChoice::None,
        device: DeviceChoice::Cpu,
        max_context: Some(8192),
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            max_tokens: Some(max_tokens),
        },
        prefix_cache: true,
        paged_attn: glint::engine::paged_attn::PagedAttnChoice::Auto,
        precision: glint::engine::local::Precision::Auto,
        prefill_chunk: glint::engine::local::PrefillChunk::Auto,
    }
}

/// Loads a local model, failing the test with the engine's error.
pub async fn load(
    options: &glint::engine::local::LocalOptions,
) -> glint::engine::local::LocalEngine {
    match glint::engine::local::LocalEngine::load(options, std::sync::Arc::new(|_| {})).await {
        Ok(engine) => engine,
        Err(e) => panic!("{} does not load: {e}", options.model),
    }
}

/// The text of a completion of `prompt` (the engine's own stop settings),
/// or the engine's error.
pub async fn completion_text(
    engine: &glint::engine::local::LocalEngine,
    prompt: &str,
) -> Result<String, String> {
    use futures::StreamExt;
    use glint::engine::{RawChunk, RawCompletion, RawCompletionRequest};
    let mut stream = engine.complete(RawCompletionRequest {
        prompt: prompt.into(),
        stop: Vec::new(),
    });
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        if let RawChunk::Text(delta) = chunk.map_err(|e| e.to_string())? {
            text.push_str(&delta);
        }
    }
    Ok(text)
}

/// The tiny GLM-4.7-Flash checkpoint the local-engine tests run on CPU:
/// 2 layers, stacked experts (the layout mistralrs runs on CPU).
pub fn tiny_glm_options(
    weight_type: glint::dev::tiny_glm::WeightType,
    seed: u64,
) -> glint::dev::tiny_glm::TinyGlmOptions {
    glint::dev::tiny_glm::TinyGlmOptions {
        layers: 2,
        real_dims: false,
        hidden: None,
        heads: None,
        experts: None,
        active_experts: None,
        layout: glint::dev::tiny_glm::ExpertLayout::Stacked,
        weight_type,
        seed,
    }
}

/// A logits override that makes the model generate `ids` in order after a
/// prompt of `prompt_len` tokens (then repeat the last one): every other
/// token of the vocabulary is pushed far below the chosen one.
pub fn force_tokens(prompt_len: usize, ids: Vec<u32>) -> glint::engine::local::LogitsOverride {
    std::sync::Arc::new(move |logits, context| {
        let step = context.len().saturating_sub(prompt_len);
        let chosen = *ids.get(step).or(ids.last()).ok_or("no tokens to force")? as usize;
        let mut values = vec![-1.0e9f32; logits.elem_count()];
        let slot = values
            .get_mut(chosen)
            .ok_or(format!("token {chosen} is outside the vocabulary"))?;
        *slot = 1.0e9;
        mistralrs::Tensor::from_vec(values, logits.shape(), logits.device())
            .and_then(|t| t.to_dtype(logits.dtype()))
            .map_err(|e| format!("cannot build the forced logits: {e}"))
    })
}

/// Records every decoding step's context; the last one holds the prompt and
/// every generated token but the last sampled.
pub fn record_contexts(
    last: std::sync::Arc<std::sync::Mutex<Vec<u32>>>,
) -> glint::engine::local::StepHook {
    std::sync::Arc::new(move |_, context| {
        let mut kept = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.clear();
        kept.extend_from_slice(context);
        Ok(())
    })
}

/// Each prompt starts with the whole previous prompt: every turn extends
/// the last one exactly, which is what the prefix cache relies on.
pub fn assert_extends(prompts: &[String]) {
    assert!(!prompts.is_empty(), "the model was never called");
    for pair in prompts.windows(2) {
        assert!(
            pair[1].starts_with(&pair[0]),
            "a prompt does not extend the one before it:\n{}\n---\n{}",
            pair[0],
            pair[1]
        );
    }
}

/// The spill file a tool result names: between "is in " and "; page through".
pub fn spill_path(content: &str) -> PathBuf {
    let start = content
        .find("is in ")
        .unwrap_or_else(|| panic!("no spill file named in: {}", tail(content)))
        + "is in ".len();
    let end = content[start..]
        .find("; page through")
        .unwrap_or_else(|| panic!("no paging advice in: {}", tail(content)));
    PathBuf::from(&content[start..start + end])
}

/// The last 1,500 bytes or so of `text`, for failure messages.
pub fn tail(text: &str) -> &str {
    let mut from = text.len().saturating_sub(1500);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..]
}

/// "1\n2\n...n\n": what `seq n` prints.
pub fn numbers(n: u64) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}
