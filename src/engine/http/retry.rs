//! What a failed attempt means: the one-line message the user sees, and
//! whether trying again could help (and after how long).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{HttpConfig, Provider};

/// The longest `Retry-After` glint waits for; a server asking for more is
/// reported at once rather than waited on, since a long wait usually means an
/// exhausted quota rather than a passing overload.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The longest computed backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Server messages quoted in errors are cut to this many characters.
const MAX_DETAIL_CHARS: usize = 300;

/// Why one attempt failed.
#[derive(Debug)]
pub(super) struct Failure {
    /// What went wrong, without a trailing period.
    pub message: String,
    /// What the user can do about it.
    pub advice: String,
    pub retry: Retry,
}

/// Whether a failed attempt may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    No,
    /// A passing fault; `after` is the server's own `Retry-After`, if any.
    Yes {
        after: Option<Duration>,
    },
}

impl Failure {
    pub fn fatal(message: impl Into<String>, advice: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            advice: advice.into(),
            retry: Retry::No,
        }
    }

    pub fn passing(message: impl Into<String>, advice: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            advice: advice.into(),
            retry: Retry::Yes { after: None },
        }
    }

    /// A response that does not follow the Chat Completions stream format.
    pub fn malformed(what: impl std::fmt::Display) -> Self {
        Failure::fatal(
            format!("the server sent a malformed response: {what}"),
            "check that --base-url points at an OpenAI-compatible /v1 endpoint",
        )
    }

    /// The one-line error: what happened, `note` (why it was not retried),
    /// what to do.
    pub fn line(&self, note: Option<&str>) -> String {
        match note {
            Some(note) => format!("{}, {note}; {}", self.message, self.advice),
            None => format!("{}; {}", self.message, self.advice),
        }
    }
}

/// How long to wait before attempt `attempt + 1` (0-based `attempt` of the
/// failed one): the server's `Retry-After` when it sent one, otherwise
/// exponential backoff from `base`.
pub(super) fn delay(after: Option<Duration>, attempt: u32, base: Duration) -> Duration {
    match after {
        Some(after) => after.min(MAX_RETRY_AFTER),
        None => base
            .checked_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF),
    }
}

/// The wait a response asks for: `retry-after-ms` (OpenAI's), or
/// `Retry-After` as seconds or an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    parse_retry_after(header("retry-after")?, Utc::now())
}

/// Parses a `Retry-After` value (delay seconds or an HTTP date) relative to
/// `now`; a date in the past means "now".
pub(super) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        // Ten years is far past any cap and keeps from_secs_f64 in range.
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(315_360_000.0)));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// The failure an HTTP error status stands for.
pub(super) fn status_failure(
    status: u16,
    body: &str,
    after: Option<Duration>,
    config: &HttpConfig,
) -> Failure {
    let detail = server_message(body);
    let http = match &detail {
        Some(detail) => format!("HTTP {status}: {detail}"),
        None => format!("HTTP {status}"),
    };
    let key_var = config.provider.api_key_var();
    match status {
        401 | 403 if config.api_key.is_none() => Failure::fatal(
            format!("the server requires an API key ({http})"),
            format!("set {key_var}"),
        ),
        401 | 403 => Failure::fatal(
            format!("the server rejected the API key ({http})"),
            format!("set {key_var} to a valid key"),
        ),
        404 => Failure::fatal(
            format!(
                "model `{}` or endpoint URL not found at {} ({http})",
                config.model, config.base_url
            ),
            "check --model and --base-url",
        ),
        408 | 429 | 500..=599 => {
            let what = match status {
                429 => "the server is rate-limiting requests",
                408 => "the server timed out reading the request",
                _ => "the server failed",
            };
            match after {
                Some(after) if after > MAX_RETRY_AFTER => Failure::fatal(
                    format!(
                        "{what} ({http}) and asks to wait {}s before trying again",
                        after.as_secs()
                    ),
                    "wait, or check the account's quota",
                ),
                _ => Failure {
                    message: format!("{what} ({http})"),
                    advice: "try again later".into(),
                    retry: Retry::Yes { after },
                },
            }
        }
        402 if config.provider == Provider::OpenRouter => Failure::fatal(
            format!("OpenRouter refused the request for lack of credits ({http})"),
            "add credits or pick a cheaper model",
        ),
        _ => Failure::fatal(
            format!("the server refused the request ({http})"),
            "check --model, --base-url and the server's log",
        ),
    }
}

/// The failure an error object in a successful response stands for:
/// OpenRouter sends `{"error": {"code", "message"}}` in the stream when the
/// upstream provider fails mid-way.
pub(super) fn stream_error_failure(error: &Value) -> Failure {
    let message = error_message(error).unwrap_or_else(|| one_line(&error.to_string()));
    let code = error.get("code").and_then(|c| match c {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let text = match code {
        Some(code) => format!("the server reported an error (code {code}): {message}"),
        None => format!("the server reported an error: {message}"),
    };
    match code {
        Some(429 | 500..=599) => Failure::passing(text, "try again later"),
        _ => Failure::fatal(text, "try again, or pick another model or provider"),
    }
}

/// The human-readable message of an error body: OpenAI's
/// `{"error": {"message"}}`, `{"error": "..."}`, vLLM's `{"message"}`,
/// FastAPI's `{"detail"}`, or else the body itself.
pub(super) fn server_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    match serde_json::from_str::<Value>(body) {
        Ok(value) => Some(error_message(&value).unwrap_or_else(|| one_line(body))),
        Err(_) => Some(one_line(body)),
    }
}

fn error_message(value: &Value) -> Option<String> {
    for key in ["error", "message", "detail"] {
        match value.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => return Some(one_line(s)),
            Some(inner @ Value::Object(_)) => {
                if let Some(message) = error_message(inner) {
                    return Some(message);
                }
            }
            Some(inner @ Value::Array(_)) => return Some(one_line(&inner.to_string())),
            _ => {}
        }
    }
    None
}

/// Collapses whitespace and cuts `text` so it fits in a one-line error.
pub(super) fn one_line(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= MAX_DETAIL_CHARS {
        return collapsed;
    }
    let cut: String = collapsed.chars().take(MAX_DETAIL_CHARS).collect();
    format!("{cut}…")
}

/// A transport error with its causes (`error sending request: connection
/// refused`), since reqwest's own message names only the outermost layer.
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    one_line(&parts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 0.5 ", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_millis(100);
        assert_eq!(delay(None, 0, base), Duration::from_millis(100));
        assert_eq!(delay(None, 3, base), Duration::from_millis(800));
        assert_eq!(delay(None, 40, base), MAX_BACKOFF);
        assert_eq!(
            delay(Some(Duration::from_secs(2)), 5, base),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn server_messages_are_found_in_common_shapes() {
        let cases = [
            (
                r#"{"error": {"message": "bad  model", "code": 400}}"#,
                "bad model",
            ),
            (r#"{"error": "nope"}"#, "nope"),
            (r#"{"object": "error", "message": "too long"}"#, "too long"),
            (r#"{"detail": "Not Found"}"#, "Not Found"),
            ("plain\ntext", "plain text"),
        ];
        for (body, expected) in cases {
            assert_eq!(server_message(body).as_deref(), Some(expected), "{body}");
        }
        assert_eq!(server_message("  "), None);
    }
}
