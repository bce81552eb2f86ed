//! What the registry guarantees for every tool, whatever the tool does: a
//! time limit, a contained panic, a one-line summary of bounded length.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::Fixture;
use glint::tools::{
    DEFAULT_TIME_LIMIT, MAX_SUMMARY_CHARS, SHELL_TIME_MARGIN, Tool, ToolContext, ToolError,
    ToolOutput, ToolRegistry, parse_tool_spec,
};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

fn spec(name: &str) -> glint::conversation::ToolSpec {
    let json = json!({
        "name": name,
        "description": "A tool for the registry's tests.",
        "parameters": {"type": "object", "properties": {}}
    });
    parse_tool_spec(name, &json.to_string()).expect("spec")
}

fn no_args() -> Map<String, Value> {
    Map::new()
}

/// Never finishes on its own; reports the token it was given.
struct Hangs {
    token: Arc<std::sync::Mutex<Option<CancellationToken>>>,
}

impl Tool for Hangs {
    const NAME: &'static str = "hangs";
    type Args = Map<String, Value>;

    async fn run(&self, _: Self::Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        *self.token.lock().expect("lock") = Some(ctx.cancel.clone());
        std::future::pending().await
    }
}

/// Blocking work that runs until its call is cancelled, then says so.
struct SpinsUntilCancelled {
    saw_cancel: std::sync::Mutex<Option<mpsc::Sender<()>>>,
}

impl Tool for SpinsUntilCancelled {
    const NAME: &'static str = "spins";
    type Args = Map<String, Value>;

    async fn run(&self, _: Self::Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let cancel = ctx.cancel.clone();
        let done = self.saw_cancel.lock().expect("lock").take();
        let work = tokio::task::spawn_blocking(move || {
            while !cancel.is_cancelled() {
                std::thread::yield_now();
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        });
        let _ = work.await;
        Ok(ToolOutput {
            content: "stopped".into(),
            summary: "stopped".into(),
        })
    }
}

/// Panics in its async part.
struct Panics;

impl Tool for Panics {
    const NAME: &'static str = "panics";
    type Args = Map<String, Value>;

    async fn run(&self, _: Self::Args, _: &ToolContext) -> Result<ToolOutput, ToolError> {
        let empty: Vec<u8> = Vec::new();
        // An out-of-bounds index, as a library bug would do.
        let byte = empty[usize::from(empty.is_empty())];
        Ok(ToolOutput {
            content: byte.to_string(),
            summary: String::new(),
        })
    }
}

/// Succeeds with a huge, multi-line summary.
struct Verbose;

impl Tool for Verbose {
    const NAME: &'static str = "verbose";
    type Args = Map<String, Value>;

    async fn run(&self, _: Self::Args, _: &ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput {
            content: "done".into(),
            summary: format!("{}\nsecond line", "s".repeat(1 << 20)),
        })
    }
}

#[tokio::test]
async fn a_call_past_its_time_limit_fails_and_is_cancelled() {
    let f = Fixture::new();
    let token = Arc::new(std::sync::Mutex::new(None));
    let mut registry = ToolRegistry::new();
    registry
        .register(
            Hangs {
                token: token.clone(),
            },
            spec("hangs"),
        )
        .expect("register");
    registry.set_time_limit("hangs", Duration::from_millis(50));
    let out = registry.call("hangs", &no_args(), &f.ctx).await;
    assert!(!out.ok);
    assert_eq!(out.content.lines().count(), 1, "{}", out.content);
    assert!(out.content.contains("took too long"), "{}", out.content);
    assert!(out.content.contains("50 ms"), "{}", out.content);
    assert!(out.summary.contains("took too long"), "{}", out.summary);
    let token = token.lock().expect("lock").clone().expect("the tool ran");
    assert!(token.is_cancelled(), "the call's token is cancelled");
    // Only the call's own token: the turn goes on.
    assert!(!f.ctx.cancel.is_cancelled());
}

#[tokio::test]
async fn blocking_work_sees_the_time_limit_as_a_cancel() {
    let f = Fixture::new();
    let (done, saw_cancel) = mpsc::channel();
    let mut registry = ToolRegistry::new();
    registry
        .register(
            SpinsUntilCancelled {
                saw_cancel: std::sync::Mutex::new(Some(done)),
            },
            spec("spins"),
        )
        .expect("register");
    registry.set_time_limit("spins", Duration::from_millis(50));
    let out = registry.call("spins", &no_args(), &f.ctx).await;
    assert!(!out.ok, "{}", out.content);
    assert!(out.content.contains("took too long"), "{}", out.content);
    // The abandoned blocking work was told to stop, and stopped.
    saw_cancel
        .recv_timeout(Duration::from_secs(60))
        .expect("the blocking work saw the cancel");
}

#[test]
fn every_tool_has_a_time_limit() {
    let registry = ToolRegistry::builtin();
    for name in registry.names() {
        let limit = registry.time_limit(name, &no_args());
        assert!(limit >= Duration::from_secs(60), "{name}: {limit:?}");
        assert!(limit <= Duration::from_secs(3600), "{name}: {limit:?}");
    }
    assert_eq!(registry.time_limit("grep", &no_args()), DEFAULT_TIME_LIMIT);
    let mut args = Map::new();
    args.insert("timeout_s".into(), json!(10));
    assert_eq!(
        registry.time_limit("shell", &args),
        Duration::from_secs(10) + SHELL_TIME_MARGIN
    );
    args.insert("timeout_s".into(), json!(100_000));
    assert!(registry.time_limit("shell", &args) <= Duration::from_secs(600) + SHELL_TIME_MARGIN);
}

#[tokio::test]
async fn a_panicking_tool_fails_its_call_and_the_registry_goes_on() {
    let f = Fixture::new();
    let mut registry = ToolRegistry::new();
    registry.register(Panics, spec("panics")).expect("register");
    registry
        .register(Verbose, spec("verbose"))
        .expect("register");
    for _ in 0..2 {
        let out = registry.call("panics", &no_args(), &f.ctx).await;
        assert!(!out.ok);
        assert_eq!(out.content.lines().count(), 1, "{}", out.content);
        assert!(out.content.contains("`panics` crashed"), "{}", out.content);
        assert!(
            out.content.contains("index out of bounds"),
            "{}",
            out.content
        );
        assert!(!out.content.contains("backtrace"), "{}", out.content);
        assert!(!out.content.contains(".rs:"), "{}", out.content);
    }
    assert!(registry.call("verbose", &no_args(), &f.ctx).await.ok);
}

#[tokio::test]
async fn summaries_are_one_short_line() {
    let f = Fixture::new();
    let mut registry = ToolRegistry::new();
    registry
        .register(Verbose, spec("verbose"))
        .expect("register");
    let out = registry.call("verbose", &no_args(), &f.ctx).await;
    assert!(out.ok);
    assert!(!out.summary.contains('\n'));
    assert!(
        out.summary.chars().count() <= MAX_SUMMARY_CHARS + 1,
        "{} chars",
        out.summary.chars().count()
    );
}

#[tokio::test]
async fn builtin_summaries_are_capped_too() {
    let f = Fixture::new();
    f.write("a.rs", "fn a() {}\n");
    let name = "x".repeat(100_000);
    let out = f.call("find_symbol", json!({ "name": name })).await;
    assert!(
        out.summary.chars().count() <= MAX_SUMMARY_CHARS + 1,
        "{} chars",
        out.summary.chars().count()
    );
}
