//! glint as a child subreaper, and the reaper that collects the orphans it
//! inherits.
//!
//! Once glint is a subreaper, every process a shell command orphans
//! (`setsid -f`, a double fork, a background job whose shell exited) is
//! reparented to glint, and when it exits it stays a zombie until glint
//! waits for it. The reaper waits for exactly those, by pid, never with
//! `waitpid(-1)`: tokio waits for its own children (the shells), and
//! stealing one of their exit statuses would break `Child::wait`. A zombie
//! child of glint is collected when it is not a running shell and either was
//! seen as one of a call's processes, belongs to a shell call's session, or
//! is a sandboxed process (no capabilities at all and `no_new_privs`, which
//! only sandboxed commands have). The reaper runs on SIGCHLD (glint gets one
//! whenever such an orphan exits) and after every call.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, Once, OnceLock};

use tokio::sync::Notify;

use super::descendants::{
    Marking, Proc, ProcId, TAG_VARIABLE, all_processes, descendant_chains, environ_marking,
    own_pid, scan_until_sure,
};

/// What the reaper may collect.
#[derive(Default)]
struct Registry {
    /// Shells tokio is waiting for: never touched.
    active: HashSet<libc::pid_t>,
    /// Sessions that shell calls lead (a shell's pid is its session id).
    sessions: HashSet<libc::pid_t>,
    /// Processes seen as a call's.
    known: HashSet<ProcId>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn wake() -> &'static Notify {
    static WAKE: OnceLock<Notify> = OnceLock::new();
    WAKE.get_or_init(Notify::new)
}

/// Makes glint a child subreaper and starts the reaper thread; once per
/// process.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: plain prctl; failure leaves orphans to init, as before.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let _ = std::thread::Builder::new()
            .name("glint-reaper".into())
            .spawn(run);
    });
}

/// The reaper thread: a small runtime of its own waiting for SIGCHLD or a
/// call's end.
fn run() {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let mut sigchld =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child()).ok();
        loop {
            scan_until_sure(|| ((), reap()));
            match sigchld.as_mut() {
                Some(signal) => {
                    tokio::select! {
                        _ = signal.recv() => {}
                        _ = wake().notified() => {}
                    }
                }
                None => wake().notified().await,
            }
        }
    });
}

/// Runs `spawn` (which starts a shell) with the registry locked, so the
/// reaper cannot mistake the new shell for an orphan before it is
/// registered by `pid_of`.
pub fn spawn_registered<T>(
    spawn: impl FnOnce() -> std::io::Result<T>,
    pid_of: impl FnOnce(&T) -> Option<libc::pid_t>,
) -> std::io::Result<T> {
    let mut registry = registry();
    let spawned = spawn()?;
    if let Some(pid) = pid_of(&spawned) {
        registry.active.insert(pid);
        registry.sessions.insert(pid);
    }
    Ok(spawned)
}

/// The shell `pid` was reaped by tokio (or abandoned to it).
pub fn shell_done(pid: libc::pid_t) {
    registry().active.remove(&pid);
    poke();
}

/// Marks processes as a call's.
pub fn remember(processes: impl IntoIterator<Item = ProcId>) {
    registry().known.extend(processes);
}

/// Asks the reaper for a pass now.
pub fn poke() {
    wake().notify_one();
}

/// Notes the live processes of every call as the calls', now. A call whose
/// background processes outlive it runs this before it returns: a process
/// killed or ending right after its call is a zombie by the reaper's next
/// pass, and a zombie's environment (its call marker) can no longer be read.
/// Looks again while a process's environment cannot be read yet (one in the
/// middle of `execve`). Blocking (scans of /proc): run it off the runtime.
pub fn note_live_calls() {
    scan_until_sure(|| ((), note_live(&all_processes(), &mut registry())));
}

/// Notes the live, marked descendants of glint; returns the live ones whose
/// marking could not be read ([`Marking::Unknown`]).
fn note_live(procs: &HashMap<libc::pid_t, Proc>, registry: &mut Registry) -> Vec<ProcId> {
    let marker = format!("{TAG_VARIABLE}={}-", own_pid());
    let mut unsure = Vec::new();
    for chain in descendant_chains(procs) {
        let Some(p) = procs.get(&chain[0]) else {
            continue;
        };
        if p.zombie || registry.known.contains(&(p.pid, p.start)) {
            continue;
        }
        match environ_marking(p.pid, marker.as_bytes(), true) {
            Marking::Marked => {
                registry.known.insert((p.pid, p.start));
            }
            Marking::Unmarked => {}
            Marking::Unknown => unsure.push((p.pid, p.start)),
        }
    }
    unsure
}

/// One pass: notes the live processes of every call, then collects the
/// eligible zombie children of glint. Returns the live descendants whose
/// marking could not be read, for [`scan_until_sure`] to look at again.
fn reap() -> Vec<ProcId> {
    let me = own_pid();
    let procs = all_processes();
    let mut registry = registry();
    let unsure = note_live(&procs, &mut registry);
    for p in procs.values() {
        if p.ppid != me || !p.zombie || registry.active.contains(&p.pid) {
            continue;
        }
        let ours = registry.known.contains(&(p.pid, p.start))
            || registry.sessions.contains(&p.session)
            || sandboxed(p.pid);
        if ours {
            let mut status = 0;
            // SAFETY: waits for this one zombie child only.
            unsafe { libc::waitpid(p.pid, &mut status, libc::WNOHANG) };
        }
    }
    // Forget what no longer exists.
    registry
        .known
        .retain(|(pid, start)| procs.get(pid).is_some_and(|p| p.start == *start));
    let live_sessions: HashSet<libc::pid_t> = procs.values().map(|p| p.session).collect();
    let Registry {
        active, sessions, ..
    } = &mut *registry;
    sessions.retain(|s| active.contains(s) || live_sessions.contains(s));
    unsure
}

/// Whether `pid` runs with no capabilities in its bounding set and
/// `no_new_privs`, as only sandboxed commands do (unless glint itself
/// already runs so, when this says nothing).
fn sandboxed(pid: libc::pid_t) -> bool {
    static GLINT_ITSELF: OnceLock<bool> = OnceLock::new();
    let marked = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
            status.contains("\nNoNewPrivs:\t1\n")
                && status.contains("\nCapBnd:\t0000000000000000\n")
        })
    };
    !*GLINT_ITSELF.get_or_init(|| marked("self")) && marked(&pid.to_string())
}
