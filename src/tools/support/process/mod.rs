//! Running a shell command for a tool: its own session, merged output, a
//! deadline, and a kill that reaches every process it started.
//!
//! The command runs as `bash -c SCRIPT` in a new session (`setsid`), so it
//! has no controlling terminal (nothing can stop to wait on one) and leads a
//! new process group, which one `killpg` reaches whole: background jobs and
//! grandchildren included. Standard error is the same pipe as standard
//! output (`2>&1` done in the child), so the model sees both interleaved in
//! the order they were written.

use std::collections::VecDeque;
use std::io;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt as _;
use tokio::process::ChildStdout;
use tokio_util::sync::CancellationToken;

use super::sandbox::Confinement;

/// Lines kept from the start of the output.
pub const HEAD_LINES: usize = 100;
/// Lines kept from the end of the output.
pub const TAIL_LINES: usize = 200;
/// Bytes kept from the start of the output (whole lines).
pub const HEAD_BYTES: usize = 16 * 1024;
/// Bytes kept from the end of the output (whole lines).
pub const TAIL_BYTES: usize = 32 * 1024;
/// Bytes of one line shown before it is cut.
pub const LINE_BYTES: usize = 2000;
/// How long output is still read after the shell exits, for background
/// processes that keep the pipe open.
const DRAIN_GRACE: Duration = Duration::from_millis(300);

/// What to run.
#[derive(Debug)]
pub struct ShellCommand<'a> {
    /// The script for `bash -c`.
    pub script: &'a str,
    pub cwd: &'a Path,
    /// Set on top of the inherited environment.
    pub env: &'a [(&'a str, &'a str)],
    pub timeout: Duration,
    /// Applied in the child before `exec`.
    pub confinement: Option<Confinement>,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signalled(i32),
    /// The deadline passed; the process group was killed.
    TimedOut,
    /// The turn was cancelled; the process group was killed.
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
}

/// Runs `command` to completion, to its deadline or until `cancel` fires.
/// Errors are failures to start it.
pub async fn run_shell(
    command: ShellCommand<'_>,
    cancel: &CancellationToken,
) -> io::Result<Finished> {
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        .arg(command.script)
        .current_dir(command.cwd)
        .envs(command.env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Replaced by a copy of stdout in `pre_exec`.
        .stderr(Stdio::null());
    let mut confinement = command.confinement;
    // SAFETY: the closure runs between fork and exec, so it only makes
    // async-signal-safe system calls (dup2, setsid, prctl and the Landlock
    // calls in `apply_in_child`); it allocates nothing and takes no locks.
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
    let mut child = cmd.spawn()?;
    let Some(pgid) = child.id().and_then(|id| libc::pid_t::try_from(id).ok()) else {
        return Err(io::Error::other(
            "the shell exited before it could be watched",
        ));
    };
    let mut guard = GroupGuard { pgid, armed: true };
    let mut pipe = child.stdout.take();
    let mut output = CapturedOutput::default();
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
                // The shell is gone; background jobs it left may live on,
                // which is their business (nohup servers and the like).
                guard.armed = false;
                let pipe_left_open = !drain(&mut pipe, &mut buf, &mut output, DRAIN_GRACE).await;
                output.finish();
                let ending = match (status.code(), status.signal()) {
                    (Some(code), _) => Ending::Exited(code),
                    (None, Some(signal)) => Ending::Signalled(signal),
                    (None, None) => Ending::Exited(-1),
                };
                return Ok(Finished { ending, output, elapsed: started.elapsed(), pipe_left_open });
            }
        }
    };

    // Timed out or cancelled: kill the whole group at once, reap the shell,
    // then keep what the pipe still holds.
    let elapsed = started.elapsed();
    guard.kill();
    let _ = child.wait().await;
    let pipe_left_open = !drain(&mut pipe, &mut buf, &mut output, DRAIN_GRACE).await;
    output.finish();
    Ok(Finished {
        ending,
        output,
        elapsed,
        pipe_left_open,
    })
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

/// Kills the process group when dropped while armed, so a tool future that
/// is dropped mid-run (an abandoned turn) leaves no processes behind. The
/// group id stays valid while the shell is unreaped, which is exactly while
/// the guard is armed.
struct GroupGuard {
    pgid: libc::pid_t,
    armed: bool,
}

impl GroupGuard {
    fn kill(&mut self) {
        if self.armed {
            // SAFETY: plain system call; an already-empty group gives ESRCH.
            unsafe {
                libc::killpg(self.pgid, libc::SIGKILL);
            }
            self.armed = false;
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The output of a command, kept as its first and last lines so that a
/// command printing gigabytes uses bounded memory, with a count of the
/// lines in between.
#[derive(Debug, Default)]
pub struct CapturedOutput {
    head: Vec<String>,
    head_bytes: usize,
    tail: VecDeque<String>,
    tail_bytes: usize,
    /// The line being received: at most [`LINE_BYTES`] of it.
    partial: Vec<u8>,
    /// The full length of the line being received.
    partial_len: usize,
    omitted: usize,
    total_lines: usize,
    total_bytes: usize,
}

impl CapturedOutput {
    /// Adds bytes as they arrive.
    pub fn push(&mut self, bytes: &[u8]) {
        self.total_bytes += bytes.len();
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.extend_partial(&rest[..newline]);
            self.end_line();
            rest = &rest[newline + 1..];
        }
        self.extend_partial(rest);
    }

    /// Ends the last line if it had no newline.
    pub fn finish(&mut self) {
        if self.partial_len > 0 {
            self.end_line();
        }
    }

    /// Lines received (including omitted ones).
    pub fn total_lines(&self) -> usize {
        self.total_lines
    }

    /// Bytes received.
    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    /// Lines dropped from the middle.
    pub fn omitted_lines(&self) -> usize {
        self.omitted
    }

    /// The kept lines, with `[... N lines omitted ...]` where lines were
    /// dropped.
    pub fn render(&self) -> String {
        let mut out: Vec<String> = self.head.clone();
        if self.omitted > 0 {
            let lines = if self.omitted == 1 { "line" } else { "lines" };
            out.push(format!(
                "[... {} {lines} omitted; to see them, rerun with the output redirected to a file and use grep or read_file on it ...]",
                self.omitted
            ));
        }
        out.extend(self.tail.iter().cloned());
        out.join("\n")
    }

    fn extend_partial(&mut self, bytes: &[u8]) {
        let room = LINE_BYTES.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.partial_len += bytes.len();
    }

    fn end_line(&mut self) {
        let line = shown_line(&self.partial, self.partial_len);
        self.partial.clear();
        self.partial_len = 0;
        self.total_lines += 1;
        if self.tail.is_empty()
            && self.head.len() < HEAD_LINES
            && self.head_bytes + line.len() <= HEAD_BYTES
        {
            self.head_bytes += line.len() + 1;
            self.head.push(line);
            return;
        }
        self.tail_bytes += line.len() + 1;
        self.tail.push_back(line);
        while self.tail.len() > TAIL_LINES || (self.tail_bytes > TAIL_BYTES && self.tail.len() > 1)
        {
            if let Some(dropped) = self.tail.pop_front() {
                self.tail_bytes -= dropped.len() + 1;
                self.omitted += 1;
            }
        }
    }
}

/// A received line as text: invalid UTF-8 replaced, a trailing `\r`
/// dropped, and a line longer than [`LINE_BYTES`] cut with a marker.
fn shown_line(kept: &[u8], full_len: usize) -> String {
    // Do not split a multi-byte character at the cut.
    let end = match std::str::from_utf8(kept) {
        Err(e) if full_len > kept.len() && e.error_len().is_none() => e.valid_up_to(),
        _ => kept.len(),
    };
    let text = String::from_utf8_lossy(&kept[..end]);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    if full_len > kept.len() {
        format!("{text} [... {} more bytes in this line]", full_len - end)
    } else {
        text.to_string()
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
