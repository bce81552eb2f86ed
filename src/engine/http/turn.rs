//! One streamed turn: send, retry while nothing has been passed on, read the
//! stream under its timeouts.
//!
//! The turn is a plain stream (no spawned task): dropping it drops the
//! connection at once, which is how the agent cancels a turn.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt, stream};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::time::{Instant, timeout, timeout_at};

use super::HttpConfig;
use super::retry::{self, Failure, Retry};
use super::stream::{SseDecoder, TurnAssembler};
use super::{Provider, request};
use crate::engine::{EngineError, ModelEvent, ModelStream, TurnRequest};

/// What every turn of one model shares.
pub(super) struct Shared {
    pub config: super::HttpConfig,
    pub client: reqwest::Client,
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Vec<u8>>> + Send>>;

/// What reading one chunk produced.
struct Chunk {
    events: Vec<ModelEvent>,
    /// The turn is over (the stream ended, or `[DONE]` arrived).
    ended: bool,
}

/// An open response being read.
struct Reading {
    body: ByteStream,
    sse: SseDecoder,
    turn: TurnAssembler,
    /// Until the first chunk arrives, the request timeout still applies.
    first_chunk_by: Option<Instant>,
}

enum Phase {
    Connect,
    Reading(Box<Reading>),
    Finished,
}

struct Driver {
    shared: Arc<Shared>,
    body: Vec<u8>,
    phase: Phase,
    ready: VecDeque<ModelEvent>,
    /// Retries made so far.
    retries: u32,
    /// Whether any event has been passed on (then nothing is retried).
    emitted: bool,
}

pub(super) fn stream(shared: Arc<Shared>, request: &TurnRequest) -> ModelStream {
    let body = request::body(&shared.config, request)
        .to_string()
        .into_bytes();
    let driver = Driver {
        shared,
        body,
        phase: Phase::Connect,
        ready: VecDeque::new(),
        retries: 0,
        emitted: false,
    };
    stream::unfold(driver, |mut driver| async move {
        let item = driver.next().await?;
        Some((item, driver))
    })
    .boxed()
}

impl Driver {
    async fn next(&mut self) -> Option<Result<ModelEvent, EngineError>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                self.emitted = true;
                return Some(Ok(event));
            }
            let failure = match std::mem::replace(&mut self.phase, Phase::Finished) {
                Phase::Finished => return None,
                Phase::Connect => match self.shared.open(&self.body).await {
                    Ok(reading) => {
                        self.phase = Phase::Reading(Box::new(reading));
                        continue;
                    }
                    Err(failure) => failure,
                },
                Phase::Reading(mut reading) => match self.shared.read(&mut reading).await {
                    Ok(chunk) => {
                        self.ready.extend(chunk.events);
                        if !chunk.ended {
                            self.phase = Phase::Reading(reading);
                        }
                        continue;
                    }
                    Err(failure) => failure,
                },
            };
            match failure.retry {
                Retry::Yes { after }
                    if !self.emitted && self.retries < self.config().max_retries =>
                {
                    let wait = retry::delay(after, self.retries, self.config().retry_base_delay);
                    self.retries += 1;
                    tokio::time::sleep(wait).await;
                    self.phase = Phase::Connect;
                }
                _ => return Some(Err(self.final_error(failure))),
            }
        }
    }

    fn config(&self) -> &HttpConfig {
        &self.shared.config
    }

    /// The error the agent sees: the failure, why it was not retried, and
    /// never the key.
    fn final_error(&self, failure: Failure) -> EngineError {
        let note = match failure.retry {
            Retry::Yes { .. } if self.emitted => {
                Some("not retried because part of the answer had already streamed".to_string())
            }
            Retry::Yes { .. } if self.retries > 0 => {
                Some(format!("giving up after {} attempts", self.retries + 1))
            }
            _ => None,
        };
        let mut message = failure.line(note.as_deref());
        if let Some(key) = self.config().api_key.as_deref().filter(|k| k.len() >= 4) {
            message = message.replace(key, "<redacted>");
        }
        EngineError::Backend(message)
    }
}

impl Shared {
    /// Sends the request and checks the response's status.
    async fn open(&self, body: &[u8]) -> Result<Reading, Failure> {
        let config = &self.config;
        let deadline = Instant::now() + config.request_timeout;
        let mut builder = self
            .client
            .post(config.endpoint())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "text/event-stream")
            .body(body.to_vec());
        if let Some(key) = &config.api_key {
            builder = builder.bearer_auth(key);
        }
        if config.provider == Provider::OpenRouter {
            builder = builder.header("X-Title", "glint");
        }
        let response = match timeout_at(deadline, builder.send()).await {
            Err(_) => return Err(self.request_timeout()),
            Ok(Err(error)) => return Err(self.send_failure(&error)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if !status.is_success() {
            let after = retry::retry_after(response.headers());
            let text = read_text(response, deadline).await;
            return Err(retry::status_failure(status.as_u16(), &text, after, config));
        }
        if is_json {
            // Not a stream: an error reported with status 200, or a server
            // that ignored `stream: true`.
            let text = read_text(response, deadline).await;
            let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
                return Err(retry::stream_error_failure(error));
            }
            return Err(Failure::malformed(
                "a single JSON document instead of an event stream (the server may not support `stream: true`)",
            ));
        }
        Ok(Reading {
            body: response
                .bytes_stream()
                .map(|chunk| chunk.map(|bytes| bytes.to_vec()))
                .boxed(),
            sse: SseDecoder::default(),
            turn: TurnAssembler::default(),
            first_chunk_by: Some(deadline),
        })
    }

    /// Reads the next chunk and returns the events it completes; at the end
    /// of the stream (or at `[DONE]`), the turn's closing events.
    async fn read(&self, reading: &mut Reading) -> Result<Chunk, Failure> {
        let next = match reading.first_chunk_by.take() {
            Some(deadline) => timeout_at(deadline, reading.body.next())
                .await
                .map_err(|_| self.request_timeout())?,
            None => timeout(self.config.idle_timeout, reading.body.next())
                .await
                .map_err(|_| self.idle_timeout())?,
        };
        let payloads = match next {
            Some(Ok(chunk)) => reading.sse.feed(&chunk)?,
            Some(Err(error)) => {
                return Err(Failure::passing(
                    format!(
                        "the connection to {} broke while streaming ({})",
                        self.config.base_url,
                        retry::error_chain(&error)
                    ),
                    "try again",
                ));
            }
            None => {
                let mut events = Vec::new();
                for payload in reading.sse.finish()? {
                    events.extend(reading.turn.on_data(&payload)?);
                }
                events.extend(reading.turn.finish()?);
                return Ok(Chunk {
                    events,
                    ended: true,
                });
            }
        };
        let mut events = Vec::new();
        for payload in payloads {
            events.extend(reading.turn.on_data(&payload)?);
        }
        let ended = reading.turn.is_done();
        if ended {
            events.extend(reading.turn.finish()?);
        }
        Ok(Chunk { events, ended })
    }

    fn request_timeout(&self) -> Failure {
        let config = &self.config;
        Failure::passing(
            format!(
                "no answer from {} within {}s (request timeout)",
                config.base_url,
                config.request_timeout.as_secs_f32()
            ),
            "the server may be overloaded or still loading the model; try again later",
        )
    }

    fn idle_timeout(&self) -> Failure {
        Failure::passing(
            format!(
                "the server sent nothing for {}s in the middle of the answer (stream idle timeout)",
                self.config.idle_timeout.as_secs_f32()
            ),
            "try again",
        )
    }

    fn send_failure(&self, error: &reqwest::Error) -> Failure {
        let base = &self.config.base_url;
        // reqwest's own message only repeats the URL; its causes say why.
        let detail = match std::error::Error::source(error) {
            Some(source) => retry::error_chain(source),
            None => retry::error_chain(error),
        };
        if error.is_timeout() {
            self.request_timeout()
        } else if error.is_builder() {
            Failure::fatal(
                format!("cannot build a request for {base} ({detail})"),
                "check --base-url",
            )
        } else if error.is_connect() {
            Failure::fatal(
                format!("cannot connect to {base} ({detail})"),
                "check --base-url and that the server is running",
            )
        } else {
            Failure::passing(
                format!("the request to {base} failed ({detail})"),
                "try again",
            )
        }
    }
}

/// A response body as text, or "" when it cannot be read in time.
async fn read_text(response: reqwest::Response, deadline: Instant) -> String {
    let deadline = deadline.max(Instant::now() + std::time::Duration::from_secs(5));
    match timeout_at(deadline, response.text()).await {
        Ok(Ok(text)) => text,
        _ => String::new(),
    }
}
