//! Compaction over the HTTP engine, against a mock OpenAI-compatible
//! server: the context window comes from `--max-context` or the server's
//! model listing (`GET /v1/models`), the prompt's size from the usage the
//! server reports with each turn (here a quarter of the request's bytes,
//! as a tokenizer would count), and the compaction triggers at the
//! threshold of that window. Without a window the user is told once that
//! automatic compaction is off.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use glint::agent::compact::{CompactionReason, CompactionSettings};
use glint::agent::{self, AgentConfig, AgentHandle, Event, GuardSettings};
use glint::engine::Model;
use glint::engine::http::{HttpConfig, HttpModel, Provider};
use glint::tools::ShellPolicy;
use glint::workspace::Workspace;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::common::{Sandbox, until_finished};
use crate::support::{
    TASK, compactions, prompt_tokens, timeline, tools, window_between, workspace,
};

/// What the mock server answers, turn by turn.
enum Reply {
    Read(&'static str),
    Answer(&'static str),
}

/// Answers each chat request with the next reply, reporting the request's
/// bytes / 4 as its prompt tokens.
struct Turns {
    replies: Vec<Reply>,
    next: AtomicUsize,
}

impl Respond for Turns {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let delta = match self.replies.get(n) {
            Some(Reply::Read(file)) => json!({"tool_calls": [{"index": 0,
                "id": format!("call_{}", n + 1), "type": "function",
                "function": {"name": "read_file",
                             "arguments": json!({"path": file}).to_string()}}]}),
            Some(Reply::Answer(text)) => json!({"content": text}),
            None => {
                return ResponseTemplate::new(400).set_body_json(
                    json!({"error": {"message": format!("the mock has no reply for request {}", n + 1)}}),
                );
            }
        };
        let finish = match self.replies.get(n) {
            Some(Reply::Read(_)) => "tool_calls",
            _ => "stop",
        };
        let prompt = request.body.len() as u64 / 4;
        let chunks = [
            json!({"choices": [{"index": 0, "delta": delta}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                   "usage": {"prompt_tokens": prompt, "completion_tokens": 10}}),
        ];
        let mut body: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
        body.push_str("data: [DONE]\n\n");
        ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
    }
}

/// Four big files, a small one, an answer.
fn script() -> Vec<Reply> {
    vec![
        Reply::Read("big1.txt"),
        Reply::Read("big2.txt"),
        Reply::Read("big3.txt"),
        Reply::Read("big4.txt"),
        Reply::Read("small1.txt"),
        Reply::Answer("They hold numbered lines."),
    ]
}

/// A server that lists `listing` (or lists nothing: 404) and answers chat
/// requests with `replies`.
async fn server(listing: Option<Value>, replies: Vec<Reply>) -> MockServer {
    let server = MockServer::start().await;
    if let Some(listing) = listing {
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .respond_with(ResponseTemplate::new(200).set_body_json(listing))
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(Turns {
            replies,
            next: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    server
}

fn listing(window: u64) -> Value {
    json!({"object": "list", "data": [
        {"id": "other-model", "object": "model", "max_model_len": 1000},
        {"id": "test-model", "object": "model", "owned_by": "vllm", "max_model_len": window}]})
}

async fn open(server: &MockServer, max_context: Option<u64>) -> HttpModel {
    let mut config = HttpConfig::new(
        Provider::OpenAi,
        &format!("{}/v1", server.uri()),
        "test-model",
    );
    config.request_timeout = Duration::from_secs(30);
    config.idle_timeout = Duration::from_secs(30);
    config.context_window = max_context;
    let model = HttpModel::new(config).expect("the client builds");
    model.look_up_context_window().await;
    model
}

fn spawn(sandbox: &Sandbox, model: HttpModel) -> AgentHandle {
    let guards = GuardSettings {
        compaction: CompactionSettings {
            keep_turns: 1,
            ..CompactionSettings::default()
        },
        ..GuardSettings::default()
    };
    agent::spawn(AgentConfig {
        model: Arc::new(model),
        tools: tools(),
        workspace: Workspace::new(sandbox.workspace()).expect("workspace"),
        system_prompt: "You are glint.".into(),
        max_turns: 20,
        thinking: true,
        shell: ShellPolicy::default(),
        guards,
        approval: Default::default(),
    })
}

async fn run(sandbox: &Sandbox, model: HttpModel) -> Vec<Event> {
    let mut handle = spawn(sandbox, model);
    handle.submit(TASK);
    let events = until_finished(&mut handle).await;
    handle.shutdown().await;
    events
}

fn warnings(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Warning { message } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listed_window_and_reported_usage_trigger_compaction_at_the_threshold() {
    let sandbox = workspace();
    let roomy = server(Some(listing(100_000_000)), script()).await;
    let events = run(&sandbox, open(&roomy, None).await).await;
    assert!(
        compactions(&events).is_empty(),
        "no compaction below the threshold"
    );
    let sizes = prompt_tokens(&events);
    assert_eq!(sizes.len(), 6, "{sizes:?}");

    // Compact before turn 5 (after big4 is read), not before turn 4.
    let window = window_between(sizes[3], sizes[4]);
    let server = server(Some(listing(window)), script()).await;
    let model = open(&server, None).await;
    assert_eq!(model.context_window(), Some(window), "from max_model_len");
    assert_eq!(model.context_window_notice(), None);
    let events = run(&sandbox, model).await;

    let steps = timeline(&events);
    let at = steps
        .iter()
        .position(|s| s == "compaction_started")
        .expect("a compaction");
    assert_eq!(
        steps[at - 2..at + 3],
        [
            "turn 4",
            "call read_file",
            "compaction_started",
            "compacted",
            "turn 5"
        ],
        "{steps:?}"
    );
    assert_eq!(compactions(&events).len(), 2, "one compaction: {steps:?}");
    let Some(Event::Compacted {
        reason,
        tokens_before,
        tokens_after,
        elided,
        ..
    }) = events.iter().find(|e| matches!(e, Event::Compacted { .. }))
    else {
        unreachable!()
    };
    assert_eq!(*reason, CompactionReason::Threshold);
    assert!(
        *tokens_before >= window * 85 / 100,
        "{tokens_before} of {window}"
    );
    assert!(
        *tokens_after < tokens_before / 2,
        "{tokens_after} of {tokens_before}"
    );
    let calls: Vec<&str> = elided.iter().map(|e| e.call.as_str()).collect();
    assert_eq!(
        calls,
        [
            "read_file big1.txt",
            "read_file big2.txt",
            "read_file big3.txt"
        ]
    );
    // The server saw the compacted conversation: the prompt after it holds
    // one big output where the one before held three.
    let after = prompt_tokens(&events);
    assert_eq!(after[..4], sizes[..4], "the same prompts before it");
    assert!(after[4] < after[3] / 2, "{after:?}");
    assert!(warnings(&events).is_empty(), "{:?}", warnings(&events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_context_wins_without_asking_the_server() {
    let server = server(Some(listing(4096)), Vec::new()).await;
    let model = open(&server, Some(32_768)).await;
    assert_eq!(model.context_window(), Some(32_768));
    let requests = server.received_requests().await.expect("recorded");
    assert!(requests.is_empty(), "the listing is not read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_window_the_user_is_told_once_that_compaction_is_off() {
    let sandbox = workspace();
    // The server lists no models (404), as some compatible servers do.
    let server = server(None, script()).await;
    let model = open(&server, None).await;
    assert_eq!(model.context_window(), None);
    let notice = model.context_window_notice().expect("a notice");
    assert!(
        notice.contains("HTTP 404") && notice.contains("--max-context"),
        "{notice}"
    );
    let events = run(&sandbox, model).await;
    assert_eq!(prompt_tokens(&events).len(), 6, "every turn runs");
    assert!(compactions(&events).is_empty());
    let warnings = warnings(&events);
    assert_eq!(warnings.len(), 1, "once per session: {warnings:?}");
    assert!(
        warnings[0].starts_with(
            "automatic compaction is off: the context window of openai:test-model is unknown"
        ),
        "{}",
        warnings[0]
    );
}
