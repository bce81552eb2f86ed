//! Finding and killing every process a shell call started, wherever it
//! went: background jobs, `nohup`, `setsid` (a new session and process
//! group, out of reach of `killpg`), double forks.
//!
//! glint is a child subreaper ([`super::reaper::init`]), so an orphaned
//! process is reparented to glint rather than to init and stays a
//! descendant of glint. Each call's processes carry a marker variable
//! ([`TAG_VARIABLE`]) in their environment, inherited by everything they
//! start; a call's processes are glint's descendants that carry its marker,
//! or descend from one that does (or from the shell itself while it runs),
//! so concurrent calls and glint's other children are never touched.
//! `/proc` is the host's even inside the sandbox (there is no pid
//! namespace), so this works under every sandbox policy.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::reaper;

/// The environment variable marking a call's processes.
pub const TAG_VARIABLE: &str = "GLINT_SHELL_CALL";
/// Scan-and-kill rounds before giving up on a process that keeps forking.
const KILL_ROUNDS: usize = 50;
/// How long to wait for killed processes to die (a process in
/// uninterruptible sleep can take a while).
const DEATH_WAIT: Duration = Duration::from_secs(5);
/// How long a scan keeps looking again at processes whose environment it
/// could not read (see [`Marking::Unknown`]); `execve` takes microseconds,
/// this leaves room for a loaded machine.
const UNSURE_WAIT: Duration = Duration::from_millis(250);
/// The pause between two such looks.
const UNSURE_PAUSE: Duration = Duration::from_millis(5);

/// A process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: libc::pid_t,
    pub ppid: libc::pid_t,
    pub session: libc::pid_t,
    /// Start time in clock ticks since boot: with the pid, an identity
    /// that survives pid reuse.
    pub start: u64,
    pub zombie: bool,
    pub name: String,
}

/// Reads one process's stat line.
pub fn read_stat(pid: libc::pid_t) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<i64>().ok());
    Some(Proc {
        pid,
        ppid: libc::pid_t::try_from(number(1)?).ok()?,
        session: libc::pid_t::try_from(number(3)?).ok()?,
        start: fields.get(19)?.parse().ok()?,
        zombie: fields.first().is_some_and(|s| *s == "Z" || *s == "X"),
        name,
    })
}

/// Every process on the system, by pid.
pub fn all_processes() -> HashMap<libc::pid_t, Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid)?)))
        .collect()
}

/// glint's own pid.
pub fn own_pid() -> libc::pid_t {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// What a process's environment says about a call marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marking {
    Marked,
    Unmarked,
    /// Unreadable or empty: the process is gone, a zombie, or in the middle
    /// of `execve`, when the kernel shows the new image's environment as
    /// empty until its stack is set up (`setsid sleep` looks so for a
    /// moment). A later look can tell.
    Unknown,
}

/// Whether `pid`'s environment holds exactly `marker` (`NAME=value`), or,
/// with `prefix`, a variable starting with it.
pub fn environ_marking(pid: libc::pid_t, marker: &[u8], prefix: bool) -> Marking {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return Marking::Unknown;
    };
    if environ.is_empty() {
        return Marking::Unknown;
    }
    let marked = environ.split(|&b| b == 0).any(|var| {
        if prefix {
            var.starts_with(marker)
        } else {
            var == marker
        }
    });
    if marked {
        Marking::Marked
    } else {
        Marking::Unmarked
    }
}

/// A process as (pid, start time): an identity that survives pid reuse.
pub type ProcId = (libc::pid_t, u64);

/// Looks again, a few milliseconds apart and for at most [`UNSURE_WAIT`],
/// while `scan` reports processes whose marking was [`Marking::Unknown`]:
/// a process in the middle of `execve` is missed by one scan but not by the
/// next. A process still unknown when the wait ends really runs with an
/// empty environment (`env -i`); it is remembered and never waited for
/// again. Returns the last scan's result.
pub fn scan_until_sure<T>(mut scan: impl FnMut() -> (T, Vec<ProcId>)) -> T {
    static SETTLED: OnceLock<Mutex<HashSet<ProcId>>> = OnceLock::new();
    let settled = || {
        SETTLED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    let deadline = Instant::now() + UNSURE_WAIT;
    loop {
        let (result, unknown) = scan();
        let mut settled = settled();
        if unknown.iter().all(|id| settled.contains(id)) {
            return result;
        }
        if Instant::now() >= deadline {
            // Forgets the ended ones only here, not on every scan: the
            // identities are never reused, so a stale entry only takes room.
            settled.retain(|(pid, start)| read_stat(*pid).is_some_and(|p| p.start == *start));
            settled.extend(unknown);
            return result;
        }
        drop(settled);
        std::thread::sleep(UNSURE_PAUSE);
    }
}

/// The pids among `procs` that descend from glint (in parent order up to
/// glint), each with its chain of ancestors below glint, itself first.
pub fn descendant_chains(procs: &HashMap<libc::pid_t, Proc>) -> Vec<Vec<libc::pid_t>> {
    let me = own_pid();
    let mut chains = Vec::new();
    for &pid in procs.keys() {
        if pid == me {
            continue;
        }
        let mut chain = vec![pid];
        let mut current = pid;
        let reached = loop {
            let Some(parent) = procs.get(&current).map(|p| p.ppid) else {
                break false;
            };
            if parent == me {
                break true;
            }
            if parent <= 1 || chain.len() > 4096 {
                break false;
            }
            chain.push(parent);
            current = parent;
        };
        if reached {
            chains.push(chain);
        }
    }
    chains
}

/// The processes of the call marked `marker` (`NAME=value`) whose shell is
/// `shell`: glint's descendants that carry the marker, are in the shell's
/// session (the kernel never reuses a session's id while it has members), or
/// descend from such a process or from the shell itself while it is
/// unreaped (`shell_unreaped`). Ancestors come before their descendants.
/// Also returns the live processes on chains left out only because their
/// environments could not be read ([`Marking::Unknown`]).
pub fn members(
    marker: &[u8],
    shell: libc::pid_t,
    shell_unreaped: bool,
) -> (Vec<Proc>, Vec<ProcId>) {
    let procs = all_processes();
    let mut markings: HashMap<libc::pid_t, Marking> = HashMap::new();
    let mut found = Vec::new();
    let mut unsure = Vec::new();
    for chain in descendant_chains(&procs) {
        let mut unknown = Vec::new();
        let member = chain.iter().any(|&pid| {
            if (shell_unreaped && pid == shell)
                || procs.get(&pid).is_some_and(|p| p.session == shell)
            {
                return true;
            }
            let marking = *markings
                .entry(pid)
                .or_insert_with(|| environ_marking(pid, marker, false));
            if marking == Marking::Unknown
                && let Some(p) = procs.get(&pid).filter(|p| !p.zombie)
            {
                unknown.push((p.pid, p.start));
            }
            marking == Marking::Marked
        });
        if member {
            if let Some(p) = procs.get(&chain[0]) {
                found.push((chain.len(), p.clone()));
            }
        } else {
            unsure.extend(unknown);
        }
    }
    // Ancestors first: a parent killed before its children cannot run code
    // that sees them die (bash would print "Killed ..." into the output).
    found.sort_by_key(|(depth, _)| *depth);
    unsure.sort_unstable();
    unsure.dedup();
    (found.into_iter().map(|(_, p)| p).collect(), unsure)
}

/// Sends SIGKILL to every live process of the call (repeating the scan
/// until none is left, since they may fork meanwhile) and returns them with
/// a pidfd for each where the kernel has pidfds.
pub fn kill_now(
    marker: &[u8],
    shell: libc::pid_t,
    shell_unreaped: bool,
) -> (Vec<Proc>, Vec<OwnedFd>) {
    let mut killed: Vec<Proc> = Vec::new();
    let mut seen: HashSet<ProcId> = HashSet::new();
    let mut fds = Vec::new();
    for _ in 0..KILL_ROUNDS {
        let live: Vec<Proc> = scan_until_sure(|| {
            let (found, unsure) = members(marker, shell, shell_unreaped);
            let live: Vec<Proc> = found
                .into_iter()
                .filter(|p| !p.zombie && !seen.contains(&(p.pid, p.start)))
                .collect();
            // Something to kill now: the next round looks again anyway.
            let unsure = if live.is_empty() { unsure } else { Vec::new() };
            (live, unsure)
        });
        if live.is_empty() {
            break;
        }
        for p in live {
            seen.insert((p.pid, p.start));
            match pidfd_open(p.pid) {
                Some(fd) => {
                    // The pid may have been reused between the scan and
                    // the open; the start time tells.
                    if read_stat(p.pid).is_some_and(|now| now.start == p.start) {
                        // SAFETY: a signal through a pidfd we own.
                        unsafe {
                            libc::syscall(
                                libc::SYS_pidfd_send_signal,
                                fd.as_raw_fd(),
                                libc::SIGKILL,
                                std::ptr::null::<libc::siginfo_t>(),
                                0,
                            );
                        }
                        fds.push(fd);
                        killed.push(p);
                    }
                }
                None => {
                    // No pidfds (before Linux 5.3): a plain kill.
                    // SAFETY: plain system call.
                    unsafe { libc::kill(p.pid, libc::SIGKILL) };
                    killed.push(p);
                }
            }
        }
    }
    reaper::remember(killed.iter().map(|p| (p.pid, p.start)));
    (killed, fds)
}

/// [`kill_now`], then waits until every killed process is dead (each
/// pidfd becomes readable when its process exits) and lets the reaper
/// collect those reparented to glint. Blocking: run it off the runtime.
///
/// A scan that runs while a killed parent is still exiting can see its
/// child's chain broken (the parent gone from `/proc`, the child not yet
/// reparented to glint), so once the first round has died a second scan
/// looks again: by then every survivor hangs off glint with its marker.
pub fn kill_and_wait(marker: &[u8], shell: libc::pid_t, shell_unreaped: bool) -> Vec<Proc> {
    let mut killed = kill_round_and_wait(marker, shell, shell_unreaped);
    if !killed.is_empty() {
        killed.extend(kill_round_and_wait(marker, shell, shell_unreaped));
    }
    reaper::poke();
    killed
}

/// One [`kill_now`] and the wait for what it killed to die.
fn kill_round_and_wait(marker: &[u8], shell: libc::pid_t, shell_unreaped: bool) -> Vec<Proc> {
    let (killed, fds) = kill_now(marker, shell, shell_unreaped);
    let deadline = Instant::now() + DEATH_WAIT;
    let mut pending: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let timeout = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: polls the array we own.
        let n = unsafe { libc::poll(pending.as_mut_ptr(), pending.len() as libc::nfds_t, timeout) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
        pending.retain(|p| p.revents == 0);
    }
    drop(fds);
    killed
}

/// A pidfd for `pid`, or `None` where the process is gone or the kernel
/// has no pidfds.
fn pidfd_open(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: plain system call; a non-negative result is a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the fd was just opened and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The note for the tool result listing what was killed, or `None`.
pub fn killed_note(killed: &[Proc]) -> Option<String> {
    const SHOWN: usize = 8;
    if killed.is_empty() {
        return None;
    }
    let mut list: Vec<String> = killed
        .iter()
        .take(SHOWN)
        .map(|p| format!("{} (pid {})", p.name, p.pid))
        .collect();
    if killed.len() > SHOWN {
        list.push(format!("and {} more", killed.len() - SHOWN));
    }
    let processes = if killed.len() == 1 {
        "process"
    } else {
        "processes"
    };
    Some(format!(
        "Note: killed {} background {processes} left running: {}. Background jobs do not outlive a call: start a server and use it within one command.",
        killed.len(),
        list.join(", ")
    ))
}
