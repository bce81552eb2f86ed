//! Running blocking filesystem work from async tools, and keeping a tool's
//! panic from ending the run.
//!
//! A panic inside a tool (its async part, its blocking part, or a thread a
//! search starts) is *contained*: the call fails with a one-line message and
//! the panic's details go to the log, not to the terminal. [`contained`]
//! marks the code a panic may come from; the panic hook installed by
//! [`install_panic_hook`] logs panics raised there instead of passing them
//! to the previous hook (which prints a backtrace, or in the interactive app
//! restores the terminal as if glint were about to die).

use std::any::Any;
use std::cell::Cell;
use std::sync::Once;

use crate::tools::{ToolContext, ToolError};

thread_local! {
    /// How many [`contained`] sections this thread is inside.
    static CONTAINED: Cell<u32> = const { Cell::new(0) };
}

/// Runs `work` marked as tool code: a panic in it is logged by glint's panic
/// hook instead of printed, because the caller turns it into a failed call.
/// The panic itself still unwinds out of `work`.
pub(crate) fn contained<R>(work: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            CONTAINED.with(|depth| depth.set(depth.get().saturating_sub(1)));
        }
    }
    CONTAINED.with(|depth| depth.set(depth.get() + 1));
    let _leave = Leave;
    work()
}

/// Wraps the current panic hook (once per process) so that panics inside
/// [`contained`] code are logged via `tracing`, backtrace included, and not
/// shown; every other panic goes to the previous hook as before.
///
/// Installed on the first tool call, after a front end installed its own
/// hook, so that this one runs first and can keep a contained panic from
/// reaching it.
pub(crate) fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CONTAINED.with(Cell::get) > 0 {
                let backtrace = std::backtrace::Backtrace::force_capture();
                tracing::error!(
                    "a tool panicked (the call failed, the run goes on): {info}\n{backtrace}"
                );
            } else {
                previous(info);
            }
        }));
    });
}

/// A panic's message as one short line, for the model.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    crate::tools::one_line(text, 160)
}

/// The error a contained panic becomes.
pub(crate) fn panicked(tool: &str, payload: &(dyn Any + Send)) -> ToolError {
    ToolError::Failed(format!(
        "`{tool}` crashed inside glint ({}); this is a bug in glint, not in your call. Try different arguments or another tool",
        panic_message(payload)
    ))
}

/// What a blocking task's failure to finish becomes.
fn join_error(error: tokio::task::JoinError) -> ToolError {
    if error.is_panic() {
        let payload = error.into_panic();
        ToolError::Failed(format!(
            "the tool crashed inside glint ({}); this is a bug in glint, not in your call. Try different arguments or another tool",
            panic_message(payload.as_ref())
        ))
    } else {
        ToolError::Cancelled
    }
}

/// Runs blocking filesystem work off the async threads, returning
/// [`ToolError::Cancelled`] as soon as the turn is cancelled. The blocking
/// work itself cannot be interrupted from outside: it must check
/// `ctx.cancel` itself (between files, between chunks) so that abandoned
/// work stops soon. Use this only for work that is safe to abandon (reads),
/// not for writes whose result the model must know.
pub(crate) async fn run_blocking_cancellable<T, F>(
    ctx: &ToolContext,
    work: F,
) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ToolError> + Send + 'static,
{
    let handle = tokio::task::spawn_blocking(move || contained(work));
    tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
        joined = handle => joined.map_err(join_error)?,
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
    tokio::task::spawn_blocking(move || contained(work))
        .await
        .map_err(join_error)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_blocking_work_is_a_one_line_failure() {
        install_panic_hook();
        let result: Result<(), ToolError> = run_blocking(|| panic!("boom\nsecond line")).await;
        let Err(ToolError::Failed(message)) = result else {
            panic!("expected a failure, got {result:?}");
        };
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.contains("crashed inside glint (boom"), "{message}");
    }
}
