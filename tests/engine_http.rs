//! The OpenAI-compatible HTTP engine against mock servers on localhost:
//! wiremock for whole responses, a hand-written TCP server where the test
//! needs control over how the bytes arrive.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use glint::agent::{self, AgentConfig, Event, RunStatus};
use glint::conversation::{Message, ToolCall};
use glint::engine::http::{HttpConfig, HttpModel, INVALID_ARGUMENTS_KEY, Provider};
use glint::engine::{EngineError, FinishReason, Model, ModelEvent, TurnRequest, Usage};
use glint::glm::ParsedToolCall;
use glint::tools::{ShellPolicy, ToolRegistry};
use glint::workspace::Workspace;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-test-secret-0123456789";

// ---------------------------------------------------------------- helpers

/// One streamed chunk whose first choice carries `delta`.
fn chunk(delta: Value) -> Value {
    json!({"id": "gen-1", "object": "chat.completion.chunk",
           "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
}

fn finish(reason: &str) -> Value {
    json!({"id": "gen-1", "object": "chat.completion.chunk",
           "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"id": "gen-1", "object": "chat.completion.chunk", "choices": [],
           "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                     "total_tokens": prompt + completion}})
}

/// An SSE body: each value as one event, then `[DONE]`.
fn sse(chunks: &[Value]) -> String {
    let mut body: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    body
}

fn stream_response(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

fn config(base: &str, provider: Provider) -> HttpConfig {
    let mut config = HttpConfig::new(provider, base, "test-model");
    config.api_key = Some(KEY.into());
    // Generous: a loaded 2-core CI machine must never turn a healthy
    // exchange into a timeout. The timeout tests set their own, short ones
    // against servers that stall far longer.
    config.request_timeout = Duration::from_secs(30);
    config.idle_timeout = Duration::from_secs(30);
    config.max_retries = 3;
    config.retry_base_delay = Duration::from_millis(10);
    config
}

fn base(server: &MockServer) -> String {
    format!("{}/v1", server.uri())
}

fn user_turn(text: &str) -> TurnRequest {
    TurnRequest {
        messages: vec![Message::system("You are glint."), Message::user(text)],
        tools: Vec::new(),
        thinking: true,
    }
}

/// Every event of one turn, and the error that ended it, if any.
async fn run_turn(config: HttpConfig, request: TurnRequest) -> (Vec<ModelEvent>, Option<String>) {
    let model = HttpModel::new(config).unwrap();
    let mut stream = model.stream_turn(request);
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(EngineError::Backend(message)) => return (events, Some(message)),
            Err(other) => return (events, Some(other.to_string())),
        }
    }
    (events, None)
}

async fn turn_error(config: HttpConfig) -> String {
    let (_, error) = run_turn(config, user_turn("hi")).await;
    let error = error.expect("the turn fails");
    assert!(!error.contains(KEY), "the key leaked: {error}");
    assert!(!error.contains('\n'), "not one line: {error}");
    error
}

/// The JSON bodies the server received, in order.
async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn text_of(events: &[ModelEvent]) -> (String, String) {
    let mut reasoning = String::new();
    let mut text = String::new();
    for event in events {
        match event {
            ModelEvent::ReasoningDelta(d) => reasoning.push_str(d),
            ModelEvent::TextDelta(d) => text.push_str(d),
            _ => {}
        }
    }
    (reasoning, text)
}

/// A whole call as the engine reports it, with the server's id.
fn tool_call(id: &str, name: &str, arguments: Value) -> ModelEvent {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    ModelEvent::ToolCall(ParsedToolCall {
        id: Some(id.into()),
        name: name.into(),
        arguments,
    })
}

/// A one-connection HTTP server that answers with `status_line` and writes
/// the body in `pieces`, pausing `pause` after each; the body ends when the
/// connection closes. Returns the base URL.
fn raw_server(pieces: Vec<Vec<u8>>, pause: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        socket.set_nodelay(true).unwrap();
        // Read the whole request so closing never resets the connection.
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = socket.read(&mut buffer).unwrap_or(0);
            if n == 0 {
                return;
            }
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        if socket.write_all(head.as_bytes()).is_err() {
            return;
        }
        for piece in pieces {
            if socket.write_all(&piece).is_err() || socket.flush().is_err() {
                return;
            }
            std::thread::sleep(pause);
        }
    });
    format!("http://{address}/v1")
}

// ---------------------------------------------------------------- streaming

#[tokio::test]
async fn streams_reasoning_text_and_tool_calls_split_across_deltas() {
    let server = MockServer::start().await;
    let body = sse(&[
        chunk(json!({"role": "assistant", "content": ""})),
        chunk(json!({"reasoning_content": "The user wants "})),
        chunk(json!({"reasoning_content": "the notes."})),
        chunk(json!({"content": "Let me "})),
        chunk(json!({"content": "look."})),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                     "function": {"name": "read_file", "arguments": ""}}]}),
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"pa"}}]})),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                     "function": {"name": "list_dir", "arguments": "{\"path\""}}]}),
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "th\": \"notes"}}]})),
        chunk(
            json!({"tool_calls": [{"index": 1, "function": {"arguments": ": \".\", \"depth\": 2}"}}]}),
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": ".txt\"}"}}]})),
        finish("tool_calls"),
        usage(42, 17),
    ]);
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(stream_response(body))
        .mount(&server)
        .await;

    let (events, error) = run_turn(config(&base(&server), Provider::OpenAi), user_turn("hi")).await;
    assert_eq!(error, None);
    assert_eq!(
        events,
        [
            ModelEvent::ReasoningDelta("The user wants ".into()),
            ModelEvent::ReasoningDelta("the notes.".into()),
            ModelEvent::TextDelta("Let me ".into()),
            ModelEvent::TextDelta("look.".into()),
            tool_call("call_a", "read_file", json!({"path": "notes.txt"})),
            tool_call("call_b", "list_dir", json!({"path": ".", "depth": 2})),
            ModelEvent::Usage(Usage {
                prompt_tokens: Some(42),
                completion_tokens: Some(17)
            }),
            ModelEvent::Finish(FinishReason::ToolCalls),
        ]
    );

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let auth = requests[0].headers.get("authorization").unwrap();
    assert_eq!(auth.to_str().unwrap(), format!("Bearer {KEY}"));
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "You are glint."}, {"role": "user", "content": "hi"}])
    );
    assert!(body.get("tools").is_none(), "no tools, no `tools`");
    assert!(
        body.get("reasoning").is_none(),
        "`reasoning` is OpenRouter's"
    );
}

#[tokio::test]
async fn openrouter_reasoning_and_reasoning_details_are_streamed_and_merged() {
    let server = MockServer::start().await;
    let text_piece = |text: &str| {
        json!({"type": "reasoning.text", "text": text, "signature": null,
               "format": "anthropic-claude-v1", "index": 0})
    };
    let body = sse(&[
        chunk(json!({"reasoning": "Think", "reasoning_details": [text_piece("Think")]})),
        chunk(json!({"reasoning": "ing.", "reasoning_details": [text_piece("ing.")]})),
        // The signature closes the block, with no text of its own.
        chunk(
            json!({"reasoning_details": [{"type": "reasoning.text", "text": "",
            "signature": "sig-1", "format": "anthropic-claude-v1", "index": 0}]}),
        ),
        // Details without the plain `reasoning` field still show as reasoning.
        chunk(
            json!({"reasoning_details": [{"type": "reasoning.summary", "summary": "Sum",
            "format": "openai-responses-v1", "index": 1}]}),
        ),
        chunk(
            json!({"reasoning_details": [{"type": "reasoning.summary", "summary": "mary",
            "format": "openai-responses-v1", "index": 1}]}),
        ),
        chunk(
            json!({"reasoning_details": [{"type": "reasoning.encrypted", "data": "QUJD",
            "id": "enc-1", "format": "anthropic-claude-v1", "index": 2}]}),
        ),
        chunk(json!({"content": "Done."})),
        finish("stop"),
    ]);
    Mock::given(method("POST"))
        .respond_with(stream_response(body))
        .mount(&server)
        .await;

    let (events, error) = run_turn(
        config(&base(&server), Provider::OpenRouter),
        user_turn("hi"),
    )
    .await;
    assert_eq!(error, None);
    assert_eq!(
        text_of(&events),
        ("Thinking.Summary".into(), "Done.".into())
    );
    let details: Vec<&Vec<Value>> = events
        .iter()
        .filter_map(|e| match e {
            ModelEvent::ReasoningDetails(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(details.len(), 1, "{events:?}");
    let expected = json!([
        {"type": "reasoning.text", "text": "Thinking.", "signature": "sig-1",
         "format": "anthropic-claude-v1", "index": 0},
        {"type": "reasoning.summary", "summary": "Summary", "format": "openai-responses-v1", "index": 1},
        {"type": "reasoning.encrypted", "data": "QUJD", "id": "enc-1",
         "format": "anthropic-claude-v1", "index": 2},
    ]);
    assert_eq!(
        serde_json::to_string(details[0]).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
    assert!(
        !events.iter().any(|e| matches!(e, ModelEvent::Usage(_))),
        "no usage chunk, no usage event"
    );

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].headers.get("x-title").unwrap(), "glint");
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["reasoning"], json!({"enabled": true}));
    assert!(body.get("chat_template_kwargs").is_none());
}

#[tokio::test]
async fn invalid_tool_arguments_still_reach_the_agent() {
    let server = MockServer::start().await;
    let body = sse(&[
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
            "function": {"name": "read_file", "arguments": "{\"path\": "}}]}),
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "c2", "type": "function",
            "function": {"name": "list_dir", "arguments": ""}}]}),
        ),
        finish("tool_calls"),
    ]);
    Mock::given(method("POST"))
        .respond_with(stream_response(body))
        .mount(&server)
        .await;
    let (events, error) = run_turn(config(&base(&server), Provider::OpenAi), user_turn("x")).await;
    assert_eq!(error, None);
    assert_eq!(
        events,
        [
            tool_call(
                "c1",
                "read_file",
                json!({INVALID_ARGUMENTS_KEY: "{\"path\": "})
            ),
            tool_call("c2", "list_dir", json!({})),
            ModelEvent::Finish(FinishReason::ToolCalls),
        ]
    );
}

#[tokio::test]
async fn a_stream_arriving_byte_by_byte_is_read_whole() {
    let body = sse(&[
        chunk(json!({"reasoning_content": "héllo ✓"})),
        chunk(json!({"content": "wörld"})),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "c", "type": "function",
            "function": {"name": "list_dir", "arguments": "{\"path\": \"ü\"}"}}]}),
        ),
        finish("tool_calls"),
    ])
    .replace("\n", "\r\n");
    let pieces = body.bytes().map(|b| vec![b]).collect();
    let base = raw_server(pieces, Duration::ZERO);
    let (events, error) = run_turn(config(&base, Provider::OpenAi), user_turn("x")).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), ("héllo ✓".into(), "wörld".into()));
    assert_eq!(
        events[events.len() - 2..],
        [
            tool_call("c", "list_dir", json!({"path": "ü"})),
            ModelEvent::Finish(FinishReason::ToolCalls)
        ]
    );
}

// ---------------------------------------------------------------- request bodies

fn tool_history() -> Vec<Message> {
    let mut args = Map::new();
    args.insert("path".into(), json!("src/main.rs"));
    args.insert("offset".into(), json!(10));
    args.insert("nested".into(), json!({"z": [1, 2.5, null], "a": "ü\"q"}));
    vec![
        Message::system("You are glint."),
        Message::user("Read main.rs"),
        Message::Assistant {
            content: String::new(),
            reasoning_content: Some("I should read it.".into()),
            tool_calls: vec![
                ToolCall::new("call_1", "read_file", args),
                ToolCall::new("call_2", "list_dir", Map::new()),
            ],
            reasoning_details: None,
            raw: None,
        },
        Message::tool_result("call_1", "fn main() {}"),
        Message::tool_result("call_2", "src/\nCargo.toml"),
        Message::Assistant {
            content: "It is empty.".into(),
            reasoning_content: None,
            tool_calls: Vec::new(),
            reasoning_details: None,
            raw: None,
        },
        Message::user("Thanks"),
    ]
}

#[tokio::test]
async fn request_carries_tools_and_tool_call_history_in_openai_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(stream_response(sse(&[
            chunk(json!({"content": "ok"})),
            finish("stop"),
        ])))
        .mount(&server)
        .await;
    let tools = ToolRegistry::builtin().specs();
    assert!(!tools.is_empty());
    let mut cfg = config(&base(&server), Provider::OpenAi);
    assert!(cfg.chat_template_kwargs, "on by default for a local server");
    cfg.temperature = Some(0.7);
    cfg.top_p = Some(0.95);
    cfg.max_tokens = Some(4096);
    let request = TurnRequest {
        messages: tool_history(),
        tools: tools.clone(),
        thinking: true,
    };
    let (_, error) = run_turn(cfg.clone(), request.clone()).await;
    assert_eq!(error, None);

    cfg.chat_template_kwargs = false;
    let (_, error) = run_turn(
        cfg,
        TurnRequest {
            thinking: false,
            ..request
        },
    )
    .await;
    assert_eq!(error, None);

    let bodies = bodies(&server).await;
    let body = &bodies[0];
    let expected_tools: Vec<Value> = tools.iter().map(|t| t.0.clone()).collect();
    assert_eq!(body["tools"], Value::Array(expected_tools));
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["temperature"], json!(0.7));
    assert_eq!(body["top_p"], json!(0.95));
    assert_eq!(body["max_tokens"], 4096);
    assert_eq!(
        body["chat_template_kwargs"],
        json!({"enable_thinking": true, "clear_thinking": false})
    );

    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 7);
    let assistant = &messages[2];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["content"], Value::Null);
    assert_eq!(assistant["reasoning_content"], "I should read it.");
    assert!(assistant.get("reasoning_details").is_none());
    let calls = assistant["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["id"], "call_1");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "read_file");
    // Arguments travel as a JSON string, keys in the model's order.
    assert_eq!(
        calls[0]["function"]["arguments"],
        r#"{"path":"src/main.rs","offset":10,"nested":{"z":[1,2.5,null],"a":"ü\"q"}}"#
    );
    assert_eq!(calls[1]["function"]["arguments"], "{}");
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "fn main() {}"})
    );
    assert_eq!(
        messages[4],
        json!({"role": "tool", "tool_call_id": "call_2", "content": "src/\nCargo.toml"})
    );
    assert_eq!(
        messages[5],
        json!({"role": "assistant", "content": "It is empty."})
    );

    let body = &bodies[1];
    assert!(body.get("chat_template_kwargs").is_none(), "{body}");
    assert!(body.get("temperature").is_some());
}

#[test]
fn openai_api_gets_no_extra_fields() {
    // The real host is never contacted: only the shape is checked.
    let official = HttpConfig::new(Provider::OpenAi, "https://api.openai.com/v1/", "gpt");
    assert!(official.is_openai_api());
    assert!(!official.chat_template_kwargs);
    assert_eq!(
        official.endpoint(),
        "https://api.openai.com/v1/chat/completions"
    );
    let local = HttpConfig::new(Provider::OpenAi, "http://localhost:8000/v1", "glm");
    assert!(!local.is_openai_api());
}

#[tokio::test]
async fn reasoning_details_go_back_byte_identical_on_their_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(stream_response(sse(&[finish("stop")])))
        .mount(&server)
        .await;
    let details: Vec<Value> = serde_json::from_str(
        r#"[{"type":"reasoning.text","text":"Ünïcode ✓ \"quoted\"\n","signature":"c2ln","format":"anthropic-claude-v1","index":0},
            {"zeta":1.10,"alpha":12345678901234567890,"type":"reasoning.encrypted","data":"QUJD","id":null,"index":1},
            {"type":"reasoning.summary","summary":"second","index":2,"extra":{"b":[true,false],"a":-0.0}}]"#,
    )
    .unwrap();
    let messages = vec![
        Message::user("List the files"),
        Message::Assistant {
            content: String::new(),
            reasoning_content: Some("plain reasoning".into()),
            tool_calls: vec![ToolCall::new("call_1", "list_dir", Map::new())],
            reasoning_details: Some(details.clone()),
            raw: None,
        },
        Message::tool_result("call_1", "a.txt"),
    ];
    let request = TurnRequest {
        messages,
        tools: Vec::new(),
        thinking: true,
    };
    let (_, error) = run_turn(config(&base(&server), Provider::OpenRouter), request).await;
    assert_eq!(error, None);

    let requests = server.received_requests().await.unwrap();
    let raw = String::from_utf8(requests[0].body.clone()).unwrap();
    let expected = format!(
        "\"reasoning_details\":{}",
        serde_json::to_string(&details).unwrap()
    );
    assert!(raw.contains(&expected), "{raw}");
    let body: Value = serde_json::from_str(&raw).unwrap();
    let assistant = &body["messages"][1];
    assert_eq!(
        serde_json::to_string(&assistant["reasoning_details"]).unwrap(),
        serde_json::to_string(&details).unwrap()
    );
    // The details carry the reasoning; it is not sent a second time.
    assert!(assistant.get("reasoning").is_none());
    assert!(assistant.get("reasoning_content").is_none());
    assert!(body["messages"][0].get("reasoning_details").is_none());
}

// ---------------------------------------------------------------- end to end

#[tokio::test]
async fn agent_sends_streamed_reasoning_details_back_in_the_next_turn() {
    let server = MockServer::start().await;
    let turn1 = sse(&[
        chunk(
            json!({"reasoning": "List ", "reasoning_details": [{"type": "reasoning.text",
            "text": "List ", "format": "anthropic-claude-v1", "index": 0}]}),
        ),
        chunk(
            json!({"reasoning": "files.", "reasoning_details": [{"type": "reasoning.text",
            "text": "files.", "signature": "sig-xyz", "format": "anthropic-claude-v1", "index": 0}]}),
        ),
        chunk(
            json!({"reasoning_details": [{"type": "reasoning.encrypted", "data": "ZW5j",
            "format": "anthropic-claude-v1", "index": 1}]}),
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function",
            "function": {"name": "list_dir", "arguments": "{\"path\":"}}]}),
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": " \".\"}"}}]})),
        finish("tool_calls"),
        usage(100, 20),
    ]);
    let turn2 = sse(&[
        chunk(json!({"content": "There is notes.txt."})),
        finish("stop"),
        usage(150, 5),
    ]);
    Mock::given(method("POST"))
        .respond_with(stream_response(turn1))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(stream_response(turn2))
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello\n").unwrap();
    let model = HttpModel::new(config(&base(&server), Provider::OpenRouter)).unwrap();
    let mut handle = agent::spawn(AgentConfig {
        model: Arc::new(model),
        tools: Arc::new(ToolRegistry::builtin()),
        workspace: Workspace::new(dir.path()).unwrap(),
        system_prompt: "You are glint.".into(),
        max_turns: 5,
        thinking: true,
        shell: ShellPolicy::default(),
        guards: Default::default(),
        approval: Default::default(),
    });
    handle.submit("What files are here?");
    let mut finished = None;
    while finished.is_none() {
        let event = tokio::time::timeout(Duration::from_secs(120), handle.next_event())
            .await
            .expect("the run finishes")
            .expect("the core is alive");
        if let Event::RunFinished {
            status,
            answer,
            error,
            usage,
            ..
        } = event
        {
            finished = Some((status, answer, error, usage));
        }
    }
    let stored = handle.shutdown().await;
    let (status, answer, error, usage) = finished.unwrap();
    assert_eq!(status, RunStatus::Completed, "{error:?}");
    assert_eq!(answer.as_deref(), Some("There is notes.txt."));
    assert_eq!(usage.prompt_tokens, Some(250));
    assert_eq!(usage.completion_tokens, Some(25));

    let expected = json!([
        {"type": "reasoning.text", "text": "List files.", "format": "anthropic-claude-v1",
         "index": 0, "signature": "sig-xyz"},
        {"type": "reasoning.encrypted", "data": "ZW5j", "format": "anthropic-claude-v1", "index": 1},
    ]);
    let stored_details = stored
        .iter()
        .find_map(|m| match m {
            Message::Assistant {
                reasoning_details: Some(d),
                ..
            } => Some(d.clone()),
            _ => None,
        })
        .expect("the first turn's details are stored");
    let stored_json = serde_json::to_string(&stored_details).unwrap();
    assert_eq!(stored_json, serde_json::to_string(&expected).unwrap());

    let bodies = bodies(&server).await;
    assert_eq!(bodies.len(), 2);
    let messages = bodies[1]["messages"].as_array().unwrap();
    let assistant = messages
        .iter()
        .find(|m| m["role"] == "assistant")
        .expect("turn 1 is sent back");
    assert_eq!(
        serde_json::to_string(&assistant["reasoning_details"]).unwrap(),
        stored_json
    );
    let call = &assistant["tool_calls"][0];
    assert_eq!(call["function"]["name"], "list_dir");
    assert_eq!(call["function"]["arguments"], r#"{"path":"."}"#);
    // The server's own id goes back, on the call and on its result.
    assert_eq!(call["id"], "toolu_1");
    let result = messages.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(result["tool_call_id"], "toolu_1");
    assert!(result["content"].as_str().unwrap().contains("notes.txt"));
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn rate_limit_is_retried_after_the_servers_delay() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_string(r#"{"error": {"message": "slow down"}}"#),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(stream_response(sse(&[
            chunk(json!({"content": "ok"})),
            finish("stop"),
        ])))
        .mount(&server)
        .await;
    let started = Instant::now();
    let (events, error) = run_turn(config(&base(&server), Provider::OpenAi), user_turn("x")).await;
    let elapsed = started.elapsed();
    assert_eq!(error, None);
    assert_eq!(
        events,
        [
            ModelEvent::TextDelta("ok".into()),
            ModelEvent::Finish(FinishReason::Stop)
        ]
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    // It waited the server's second (not the 10 ms base delay), and not
    // some much longer backoff of its own.
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[tokio::test]
async fn server_error_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(stream_response(sse(&[
            chunk(json!({"content": "ok"})),
            finish("stop"),
        ])))
        .mount(&server)
        .await;
    let (events, error) = run_turn(config(&base(&server), Provider::OpenAi), user_turn("x")).await;
    assert_eq!(error, None);
    assert_eq!(
        events,
        [
            ModelEvent::TextDelta("ok".into()),
            ModelEvent::Finish(FinishReason::Stop)
        ]
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn persistent_server_error_gives_up_after_max_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503).set_body_string(r#"{"error": {"message": "overloaded"}}"#),
        )
        .mount(&server)
        .await;
    let mut cfg = config(&base(&server), Provider::OpenAi);
    cfg.max_retries = 2;
    let error = turn_error(cfg).await;
    assert!(error.contains("HTTP 503: overloaded"), "{error}");
    assert!(error.contains("giving up after 3 attempts"), "{error}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn rejected_key_is_reported_without_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!(
            r#"{{"error": {{"message": "Incorrect API key provided: {KEY}", "code": 401}}}}"#
        )))
        .mount(&server)
        .await;
    let error = turn_error(config(&base(&server), Provider::OpenRouter)).await;
    assert!(error.contains("rejected the API key"), "{error}");
    assert!(error.contains("set OPENROUTER_API_KEY"), "{error}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "no retry"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
        .mount(&server)
        .await;
    let mut no_key = config(&base(&server), Provider::OpenAi);
    no_key.api_key = None;
    let error = turn_error(no_key).await;
    assert!(error.contains("requires an API key"), "{error}");
    assert!(error.contains("set OPENAI_API_KEY"), "{error}");
}

#[tokio::test]
async fn unknown_model_or_url_is_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string(
            r#"{"object": "error", "message": "The model `nope` does not exist."}"#,
        ))
        .mount(&server)
        .await;
    let mut cfg = config(&base(&server), Provider::OpenAi);
    cfg.model = "nope".into();
    let error = turn_error(cfg).await;
    let expected = format!(
        "model `nope` or endpoint URL not found at {}",
        base(&server)
    );
    assert!(error.contains(&expected), "{error}");
    assert!(error.contains("check --model and --base-url"), "{error}");
    assert!(error.contains("does not exist"), "{error}");
}

#[tokio::test]
async fn other_client_errors_quote_the_server() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            r#"{"error": {"message": "This model's maximum context length is 8192 tokens"}}"#,
        ))
        .mount(&server)
        .await;
    let error = turn_error(config(&base(&server), Provider::OpenAi)).await;
    assert!(
        error.contains("HTTP 400: This model's maximum context length is 8192 tokens"),
        "{error}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "no retry"
    );
}

#[tokio::test]
async fn malformed_stream_data_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(stream_response("data: {not json\n\n".into()))
        .mount(&server)
        .await;
    let error = turn_error(config(&base(&server), Provider::OpenAi)).await;
    assert!(error.contains("malformed response"), "{error}");
    assert!(error.contains("not JSON"), "{error}");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(stream_response(sse(&[
            json!({"id": "x", "object": "chunk"}),
        ])))
        .mount(&server)
        .await;
    let error = turn_error(config(&base(&server), Provider::OpenAi)).await;
    assert!(error.contains("without a `choices` list"), "{error}");
}

#[tokio::test]
async fn error_inside_the_stream_is_reported() {
    let server = MockServer::start().await;
    let body = sse(&[json!({"id": "x", "object": "chat.completion.chunk",
        "error": {"code": 400, "message": "Provider returned error"},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]})]);
    Mock::given(method("POST"))
        .respond_with(stream_response(body))
        .mount(&server)
        .await;
    let error = turn_error(config(&base(&server), Provider::OpenRouter)).await;
    assert!(
        error.contains("(code 400): Provider returned error"),
        "{error}"
    );
}

/// The wait ended well before the server's 30 s: the short timeout under
/// test ended it, not the server.
fn assert_cut_short(started: Instant) {
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slow_first_byte_is_a_request_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(stream_response(sse(&[finish("stop")])).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let mut cfg = config(&base(&server), Provider::OpenAi);
    cfg.request_timeout = Duration::from_millis(300);
    cfg.max_retries = 1;
    let started = Instant::now();
    let error = turn_error(cfg).await;
    assert!(error.contains("request timeout"), "{error}");
    assert!(error.contains("giving up after 2 attempts"), "{error}");
    // Two 0.3 s timeouts, far short of the server's 30 s delay.
    assert_cut_short(started);
}

#[tokio::test]
async fn a_stalled_stream_is_an_idle_timeout_and_not_retried() {
    let first = format!("data: {}\n\n", chunk(json!({"content": "Hel"})));
    let base = raw_server(
        vec![first.into_bytes(), Vec::new()],
        Duration::from_secs(30),
    );
    let mut cfg = config(&base, Provider::OpenAi);
    cfg.idle_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let (events, error) = run_turn(cfg, user_turn("x")).await;
    let error = error.expect("the turn fails");
    assert_eq!(events, [ModelEvent::TextDelta("Hel".into())]);
    assert!(error.contains("stream idle timeout"), "{error}");
    assert!(error.contains("not retried"), "{error}");
    // A 0.3 s idle timeout, far short of the server's 30 s pause.
    assert_cut_short(started);
}

#[tokio::test]
async fn a_stream_cut_off_mid_answer_is_an_error() {
    let server = MockServer::start().await;
    let body: String = [
        chunk(json!({"content": "Half an"})),
        chunk(json!({"content": " ans"})),
    ]
    .iter()
    .map(|c| format!("data: {c}\n\n"))
    .collect();
    Mock::given(method("POST"))
        .respond_with(stream_response(body))
        .mount(&server)
        .await;
    let (events, error) = run_turn(config(&base(&server), Provider::OpenAi), user_turn("x")).await;
    let error = error.expect("the turn fails");
    assert_eq!(text_of(&events).1, "Half an ans");
    assert!(error.contains("closed the stream mid-answer"), "{error}");
    assert!(error.contains("not retried"), "{error}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn unreachable_server_is_reported_at_once() {
    // Bind then drop a listener so the port is (almost surely) closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/v1");
    let error = turn_error(config(&base, Provider::OpenAi)).await;
    assert!(
        error.contains(&format!("cannot connect to {base}")),
        "{error}"
    );
    assert!(error.contains("check --base-url"), "{error}");
}

// ---------------------------------------------------------------- configuration

fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

#[test]
fn configuration_comes_from_the_environment() {
    let error = HttpConfig::from_vars(Provider::OpenRouter, "z-ai/glm-4.7", None, vars(&[]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("OPENROUTER_API_KEY is not set"), "{error}");

    let config = HttpConfig::from_vars(
        Provider::OpenRouter,
        "z-ai/glm-4.7",
        None,
        vars(&[("OPENROUTER_API_KEY", "or-key")]),
    )
    .unwrap();
    assert_eq!(config.base_url, "https://openrouter.ai/api/v1");
    assert_eq!(config.api_key.as_deref(), Some("or-key"));
    assert!(!config.chat_template_kwargs);
    let shown = format!("{config:?}");
    assert!(!shown.contains("or-key"), "{shown}");
    let model = HttpModel::new(config).unwrap();
    assert!(!format!("{model:?}").contains("or-key"));
    assert_eq!(model.describe(), "openrouter:z-ai/glm-4.7");

    let error = HttpConfig::from_vars(Provider::OpenAi, "glm", None, vars(&[]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("needs --base-url"), "{error}");

    let config = HttpConfig::from_vars(
        Provider::OpenAi,
        "glm",
        None,
        vars(&[("OPENAI_BASE_URL", "http://gpu:8000/v1/")]),
    )
    .unwrap();
    assert_eq!(config.endpoint(), "http://gpu:8000/v1/chat/completions");
    assert_eq!(config.api_key, None);
    assert!(config.chat_template_kwargs);

    let config = HttpConfig::from_vars(
        Provider::OpenAi,
        "glm",
        Some("http://localhost:30000/v1"),
        vars(&[
            ("OPENAI_BASE_URL", "http://gpu:8000/v1"),
            ("OPENAI_API_KEY", ""),
        ]),
    )
    .unwrap();
    assert_eq!(config.base_url, "http://localhost:30000/v1");
    assert_eq!(config.api_key, None, "an empty key is no key");

    let config = HttpConfig::from_vars(
        Provider::OpenAi,
        "gpt-5",
        None,
        vars(&[("OPENAI_API_KEY", "k")]),
    )
    .unwrap();
    assert_eq!(config.base_url, "https://api.openai.com/v1");

    let error = HttpConfig::from_vars(Provider::OpenAi, "glm", Some("localhost:8000"), vars(&[]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("must start with http://"), "{error}");
    assert_eq!(
        Provider::from_prefix("openrouter"),
        Some(Provider::OpenRouter)
    );
    assert_eq!(Provider::from_prefix("openai"), Some(Provider::OpenAi));
    assert_eq!(Provider::from_prefix("local"), None);
}

/// A server's `finish_reason` reaches the agent after the turn's text and
/// calls: `length` says the answer was cut at the token limit, so the agent
/// must not run the half-written call it carries.
#[tokio::test]
async fn the_servers_finish_reason_is_reported_after_the_calls() {
    let server = MockServer::start().await;
    let cut_call = json!({"tool_calls": [{"index": 0, "id": "call_x", "type": "function",
        "function": {"name": "read_file", "arguments": "{\"path\": \"a"}}]});
    Mock::given(method("POST"))
        .respond_with(stream_response(sse(&[
            chunk(json!({"content": "Reading"})),
            chunk(cut_call),
            finish("length"),
            usage(10, 5),
        ])))
        .mount(&server)
        .await;
    let (events, error) = run_turn(config(&base(&server), Provider::OpenAi), user_turn("x")).await;
    assert_eq!(error, None);
    assert_eq!(
        events.last(),
        Some(&ModelEvent::Finish(FinishReason::Length)),
        "{events:?}"
    );
    let finishes = events
        .iter()
        .filter(|e| matches!(e, ModelEvent::Finish(_)))
        .count();
    assert_eq!(finishes, 1, "{events:?}");
    assert!(
        events.iter().any(|e| matches!(e, ModelEvent::ToolCall(_))),
        "{events:?}"
    );

    // A server that says nothing glint acts on sends no reason at all.
    let quiet = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(stream_response(sse(&[chunk(json!({"content": "ok"}))])))
        .mount(&quiet)
        .await;
    let (events, error) = run_turn(config(&base(&quiet), Provider::OpenAi), user_turn("x")).await;
    assert_eq!(error, None);
    assert_eq!(events, [ModelEvent::TextDelta("ok".into())]);
}
