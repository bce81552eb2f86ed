//! Running a shell command for a tool: its own session, merged output, a
//! deadline, a chosen environment, and a kill that reaches every process it
//! started.
//!
//! The command runs as `bash -c SCRIPT` in a new session (`setsid`), so it
//! has no controlling terminal (nothing can stop to wait on one) and leads a
//! new process group. Standard error is the same pipe as standard output
//! (`2>&1` done in the child), so the model sees both interleaved in the
//! order they were written. When the call ends (the shell exits, the
//! deadline passes, the turn is cancelled or the call is dropped), every
//! process the command started is killed, wherever it went
//! ([`descendants`]), unless background processes are allowed.

mod captured;
mod descendants;
mod reaper;

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::spill::SpillFile;
use tokio::io::AsyncReadExt as _;
use tokio::process::ChildStdout;
use tokio_util::sync::CancellationToken;

use super::sandbox::Confinement;
pub use captured::CapturedOutput;
pub use descendants::{Proc, TAG_VARIABLE, killed_note};

/// How long output is still read after the shell exits, for background
/// processes that keep the pipe open.
const DRAIN_GRACE: Duration = Duration::from_millis(300);

/// What to run.
#[derive(Debug)]
pub struct ShellCommand<'a> {
    /// The script for `bash -c`.
    pub script: &'a str,
    pub cwd: &'a Path,
    /// The command's whole environment: glint's own is not inherited.
    pub env: Vec<(OsString, OsString)>,
    pub timeout: Duration,
    /// Applied in the child before `exec`.
    pub confinement: Option<Confinement>,
    /// Whether processes still running when the shell exits may live on
    /// (on timeout or cancellation the process group is killed either way).
    pub allow_background: bool,
    /// Where the whole output also goes as it arrives (the result keeps only
    /// its head and tail).
    pub spill: Option<SpillFile>,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signalled(i32),
    /// The deadline passed; the command's processes were killed.
    TimedOut,
    /// The turn was cancelled; the command's processes were killed.
    Cancelled,
}

/// A finished command.
#[derive(Debug)]
pub struct Finished {
    pub ending: Ending,
    pub output: CapturedOutput,
    pub elapsed: Duration,
    /// Some process (a background job) still held the output pipe when
    /// glint stopped reading; its later output is lost.
    pub pipe_left_open: bool,
    /// Processes still running after the shell exited, killed at the end
    /// of the call (empty when background processes are allowed).
    pub killed: Vec<Proc>,
}

/// A marker unique to one call, as `NAME=value` for the environment.
fn call_marker() -> (String, String) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let value = format!(
        "{}-{}",
        descendants::own_pid(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    (TAG_VARIABLE.to_string(), value)
}

/// Runs `command` to completion, to its deadline or until `cancel` fires.
/// Errors are failures to start it.
pub async fn run_shell(
    command: ShellCommand<'_>,
    cancel: &CancellationToken,
) -> io::Result<Finished> {
    reaper::init();
    let (tag_name, tag_value) = call_marker();
    let marker = format!("{tag_name}={tag_value}").into_bytes();
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        .arg(command.script)
        .current_dir(command.cwd)
        .env_clear()
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .env(&tag_name, &tag_value)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Replaced by a copy of stdout in `pre_exec`.
        .stderr(Stdio::null());
    let mut confinement = command.confinement;
    // SAFETY: the closure runs between fork and exec, so it only makes
    // async-signal-safe system calls (dup2, setsid and the sandbox's calls
    // in `apply_in_child`); it allocates nothing and takes no locks.
    unsafe {
        cmd.as_std_mut().pre_exec(move || {
            if libc::dup2(1, 2) == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            match confinement.as_mut() {
                Some(c) => c.apply_in_child(),
                None => Ok(()),
            }
        });
    }

    let started = Instant::now();
    // `spawn` returns once `exec` succeeded, so `setsid` has run and the
    // child's pid is its process group id.
    let mut child = reaper::spawn_registered(
        || cmd.spawn(),
        |child| child.id().and_then(|id| libc::pid_t::try_from(id).ok()),
    )?;
    let Some(pid) = child.id().and_then(|id| libc::pid_t::try_from(id).ok()) else {
        return Err(io::Error::other(
            "the shell exited before it could be watched",
        ));
    };
    let mut guard = CallGuard {
        pid,
        marker: marker.clone(),
        allow_background: command.allow_background,
        armed: true,
    };
    let mut pipe = child.stdout.take();
    let mut output = CapturedOutput::new(command.spill);
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = tokio::time::sleep(command.timeout);
    tokio::pin!(deadline);

    let ending = loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ending::Cancelled,
            _ = &mut deadline => break Ending::TimedOut,
            read = read_some(&mut pipe, &mut buf), if pipe.is_some() => match read {
                Ok(n) if n > 0 => output.push(&buf[..n]),
                // EOF or a broken pipe: the command closed its output.
                _ => pipe = None,
            },
            status = child.wait() => {
                let status = status?;
                guard.disarm();
                // Whatever the shell left running is killed first, so the
                // pipe they hold closes and the drain ends at once.
                let killed = if command.allow_background {
                    // What it left running is its to keep, and the reaper's
                    // to collect once it ends: noted now, while alive.
                    let _ = tokio::task::spawn_blocking(reaper::note_live_calls).await;
                    Vec::new()
                } else {
                    kill_call(marker.clone(), pid, false).await
                };
                let pipe_left_open = !drain(&mut pipe, &mut buf, &mut output, DRAIN_GRACE).await;
                output.finish();
                let ending = match (status.code(), status.signal()) {
                    (Some(code), _) => Ending::Exited(code),
                    (None, Some(signal)) => Ending::Signalled(signal),
                    (None, None) => Ending::Exited(-1),
                };
                return Ok(Finished { ending, output, elapsed: started.elapsed(), pipe_left_open, killed });
            }
        }
    };

    // Timed out or cancelled: kill everything (the shell too, while it is
    // still unreaped so its pid is safe to use), reap the shell, then keep
    // what the pipe still holds.
    let elapsed = started.elapsed();
    if command.allow_background {
        guard.kill_group();
    } else {
        kill_call(marker, pid, true).await;
    }
    let _ = child.wait().await;
    guard.disarm();
    let pipe_left_open = !drain(&mut pipe, &mut buf, &mut output, DRAIN_GRACE).await;
    output.finish();
    Ok(Finished {
        ending,
        output,
        elapsed,
        pipe_left_open,
        killed: Vec::new(),
    })
}

/// Kills the call's processes off the runtime and waits until they are
/// dead; returns what it killed, the shell left out.
async fn kill_call(marker: Vec<u8>, shell: libc::pid_t, shell_unreaped: bool) -> Vec<Proc> {
    let killed = tokio::task::spawn_blocking(move || {
        descendants::kill_and_wait(&marker, shell, shell_unreaped)
    })
    .await
    .unwrap_or_default();
    killed.into_iter().filter(|p| p.pid != shell).collect()
}

/// Reads once from the pipe (pending forever when there is none, though
/// callers guard that branch).
async fn read_some(pipe: &mut Option<ChildStdout>, buf: &mut [u8]) -> io::Result<usize> {
    match pipe {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Reads what is left until EOF or `grace` passes; closes the pipe either
/// way, so writers still holding it get EPIPE instead of blocking. Returns
/// whether EOF was reached.
async fn drain(
    pipe: &mut Option<ChildStdout>,
    buf: &mut [u8],
    output: &mut CapturedOutput,
    grace: Duration,
) -> bool {
    let Some(mut p) = pipe.take() else {
        return true;
    };
    let read_all = async {
        loop {
            match p.read(buf).await {
                Ok(n) if n > 0 => output.push(&buf[..n]),
                _ => return,
            }
        }
    };
    tokio::time::timeout(grace, read_all).await.is_ok()
}

/// Kills the call's processes when dropped while armed, so a tool future
/// that is dropped mid-run (an abandoned turn) leaves no processes behind.
/// The shell's pid (its process group id) stays valid while the shell is
/// unreaped, which is exactly while the guard is armed.
struct CallGuard {
    pid: libc::pid_t,
    marker: Vec<u8>,
    allow_background: bool,
    armed: bool,
}

impl CallGuard {
    /// Kills the shell's process group (what a timeout did before glint
    /// killed every descendant; kept where background jobs are allowed).
    fn kill_group(&mut self) {
        if self.armed {
            // SAFETY: plain system call; an already-empty group gives ESRCH.
            unsafe {
                libc::killpg(self.pid, libc::SIGKILL);
            }
        }
    }

    /// The shell was reaped: its pid is no longer ours.
    fn disarm(&mut self) {
        if self.armed {
            self.armed = false;
            reaper::shell_done(self.pid);
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.kill_group();
        if !self.allow_background {
            // No waiting here: the processes die on their own and the
            // reaper collects those reparented to glint.
            descendants::kill_now(&self.marker, self.pid, true);
        }
        self.disarm();
    }
}

/// A signal number as its name, where it is a common one.
pub fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}
