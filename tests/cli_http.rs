//! `--model openai:NAME --base-url URL` through the real binary, against a
//! mock OpenAI-compatible server.

mod common;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::{Sandbox, glint};

fn sse(chunks: &[Value]) -> String {
    let mut body: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_answers_through_an_openai_compatible_server() {
    let server = MockServer::start().await;
    let body = sse(&[
        json!({"choices": [{"index": 0, "delta": {"reasoning_content": "Greet back."}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "Hello from the server."}}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 42, "completion_tokens": 7}}),
    ]);
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(&server)
        .await;

    let sandbox = Sandbox::create();
    let base_url = format!("{}/v1", server.uri());
    let output = tokio::task::spawn_blocking(move || {
        glint(&sandbox.workspace())
            .args(["--model", "openai:test-model", "--base-url", &base_url])
            .args(["--task", "hi", "--json"])
            .env_remove("OPENAI_API_KEY")
            .output()
            .expect("glint runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let done = events.last().expect("events");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["answer"], "Hello from the server.");
    assert_eq!(done["usage"]["prompt_tokens"], 42);
    assert_eq!(events[0]["model"], "openai:test-model");

    // Besides the turn, glint reads the server's model listing once (for
    // the context window; this server has none).
    let requests: Vec<_> = server
        .received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(requests.len(), 1);
    let sent: Value = serde_json::from_slice(&requests[0].body).expect("JSON body");
    assert_eq!(sent["model"], "test-model");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    let tools: Vec<&str> = sent["tools"]
        .as_array()
        .expect("tools sent")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(
        tools.contains(&"read_file") && tools.contains(&"shell"),
        "{tools:?}"
    );
}
