//! Running blocking filesystem work from async tools.

use crate::tools::{ToolContext, ToolError};

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
