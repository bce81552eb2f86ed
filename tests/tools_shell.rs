//! The `shell` tool: exit codes and output, confinement of `cwd`, no stdin
//! and no terminal, killing every process a command started (on timeout,
//! cancellation, a dropped call and at its normal end, unless background
//! jobs are allowed), output truncation, and the sandbox's basics (the
//! sandbox in depth is tests/sandbox.rs).
//!
//! Outcomes are awaited by event (a FIFO the command writes, a pidfd that
//! becomes readable when a process dies), never by sleeping; the few
//! timeouts here only stop a broken run from hanging.

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;

use common::Fixture;
use glint::tools::SandboxPolicy;
use serde_json::json;

/// A bound for waits that should end at once; reaching it is a failure.
const HANG: Duration = Duration::from_secs(60);

/// Whether the sandbox exists here. A missing one fails the test (CI must
/// have it) unless `GLINT_TEST_ALLOW_NO_SANDBOX=1`.
fn sandbox_available() -> bool {
    match SandboxPolicy::WorkspaceWrite.check() {
        Ok(()) => true,
        Err(why) if std::env::var_os("GLINT_TEST_ALLOW_NO_SANDBOX").is_some_and(|v| v == "1") => {
            eprintln!("running unconfined (GLINT_TEST_ALLOW_NO_SANDBOX=1): {why}");
            false
        }
        Err(why) => panic!(
            "the sandbox is missing ({why}); set GLINT_TEST_ALLOW_NO_SANDBOX=1 to allow that"
        ),
    }
}

/// A fixture whose workspace is a git repository, under the default
/// sandbox (so the basic tests also exercise the sandboxed spawn path).
fn fixture() -> Fixture {
    let mut f = Fixture::new();
    git2::Repository::init(&f.root).unwrap();
    if !sandbox_available() {
        f.ctx.shell.sandbox = SandboxPolicy::Off;
    }
    f
}

/// The same fixture under each sandbox policy the system supports.
fn fixtures_under_each_policy() -> Vec<Fixture> {
    let mut unconfined = fixture();
    unconfined.ctx.shell.sandbox = SandboxPolicy::Off;
    vec![fixture(), unconfined]
}

/// The pids listed one per line in `path`.
fn read_pids(path: &Path) -> Vec<libc::pid_t> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// Whether `pid` is still a live process. A zombie counts as gone: it runs
/// nothing.
fn alive(pid: libc::pid_t) -> bool {
    if !glint::pids::is_running(pid) {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !(state.starts_with('Z') || state.starts_with('X'))
        }
        // glint's reaper may collect a killed zombie between the two
        // looks: gone if the pid no longer exists, alive (unreadable) if
        // it still does.
        Err(_) => glint::pids::is_running(pid),
    }
}

/// Waits until every pid has died: a pidfd becomes readable when its
/// process exits.
fn assert_all_gone(pids: &[libc::pid_t]) {
    for &pid in pids {
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            assert!(!alive(pid), "process {pid} survived the kill");
            continue;
        }
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ready = unsafe { libc::poll(&mut poll, 1, HANG.as_millis() as i32) };
        assert_eq!(ready, 1, "process {pid} survived the kill");
    }
}

/// Creates a FIFO `name` in the workspace and returns a task that reads it
/// to EOF: it finishes when the command has written it and closed it.
fn fifo(f: &Fixture, name: &str) -> tokio::task::JoinHandle<String> {
    let path: PathBuf = f.root.join(name);
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    tokio::task::spawn_blocking(move || std::fs::read_to_string(path).unwrap())
}

/// A script that starts a shell with two background grandchildren and
/// records every pid (outer shell, inner shell, the sleeps) in `pids`.
/// Then it writes `ready` (a FIFO the test reads, where it made one).
const SPAWNS_GRANDCHILDREN: &str = "echo $$ > pids.tmp; bash -c 'sleep 300 & sleep 300 & echo $$ >> pids.tmp; jobs -p >> pids.tmp; mv pids.tmp pids; echo go > ready; wait'; echo unreachable";

#[tokio::test]
async fn reports_exit_code_and_combined_output() {
    let f = fixture();
    let out = f
        .ok(
            "shell",
            json!({"command": "echo out; echo err >&2; echo out2"}),
        )
        .await;
    assert!(out.content.starts_with("Exit code: 0\n"), "{}", out.content);
    assert!(
        out.content.ends_with("Output:\nout\nerr\nout2"),
        "{}",
        out.content
    );
    assert!(
        out.summary
            .starts_with("`echo out; echo err >&2; echo out2` → exit 0 ("),
        "{}",
        out.summary
    );

    // A failing command is still a successful call: the model needs its
    // output.
    let out = f
        .ok("shell", json!({"command": "echo failing >&2; exit 3"}))
        .await;
    assert!(out.content.starts_with("Exit code: 3\n"), "{}", out.content);
    assert!(out.content.ends_with("failing"), "{}", out.content);
    assert!(out.summary.contains("→ exit 3"), "{}", out.summary);

    let out = f.ok("shell", json!({"command": "true"})).await;
    assert!(out.content.ends_with("Output: (none)"), "{}", out.content);

    let out = f.ok("shell", json!({"command": "kill -SEGV $$"})).await;
    assert!(
        out.content.starts_with("Killed by signal 11 (SIGSEGV)"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn sets_a_non_interactive_environment() {
    let f = fixture();
    let out = f
        .ok(
            "shell",
            json!({"command": "echo $GLINT $PAGER $GIT_PAGER $TERM $NO_COLOR"}),
        )
        .await;
    assert!(out.content.ends_with("1 cat cat dumb 1"), "{}", out.content);
}

#[tokio::test]
async fn runs_in_cwd_inside_the_workspace_only() {
    let f = fixture();
    f.write("sub/dir/file.txt", "x");
    let out = f.ok("shell", json!({"command": "pwd"})).await;
    assert!(
        out.content.ends_with(&format!("\n{}", f.root.display())),
        "{}",
        out.content
    );
    let out = f
        .ok("shell", json!({"command": "pwd; ls", "cwd": "sub/dir"}))
        .await;
    assert!(
        out.content
            .ends_with(&format!("\n{}\nfile.txt", f.root.join("sub/dir").display())),
        "{}",
        out.content
    );

    f.outside_links();
    let outside = f.outside.display().to_string();
    for cwd in ["..", outside.as_str(), "linkdir", "sub/../.."] {
        let err = f
            .err("shell", json!({"command": "touch escaped", "cwd": cwd}))
            .await;
        assert!(err.contains("outside the workspace"), "{cwd}: {err}");
    }
    let err = f
        .err(
            "shell",
            json!({"command": "pwd", "cwd": "sub/dir/file.txt"}),
        )
        .await;
    assert!(err.contains("must be a directory"), "{err}");
    let err = f
        .err("shell", json!({"command": "pwd", "cwd": "missing"}))
        .await;
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(f.outside_entries(), vec!["secret.txt"]);
}

#[tokio::test]
async fn stdin_is_closed_and_there_is_no_terminal() {
    let f = fixture();
    // Waiting on stdin would run into the timeout instead of exiting 0.
    let out = f
        .ok(
            "shell",
            json!({"command": "cat; read line || echo eof", "timeout_s": 60}),
        )
        .await;
    assert!(out.content.starts_with("Exit code: 0\n"), "{}", out.content);
    assert!(out.content.ends_with("eof"), "{}", out.content);

    let out = f
        .ok(
            "shell",
            json!({"command": "tty; [ -t 0 ] || echo 'stdin: no tty'; [ -t 1 ] || echo 'stdout: no tty'; (: < /dev/tty) 2>/dev/null && echo has-ctty || echo no-ctty"}),
        )
        .await;
    assert!(
        out.content
            .ends_with("not a tty\nstdin: no tty\nstdout: no tty\nno-ctty"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn timeout_kills_every_process_started() {
    for f in fixtures_under_each_policy() {
        let out = f
            .ok(
                "shell",
                json!({"command": format!("echo started; {SPAWNS_GRANDCHILDREN}"), "timeout_s": 5}),
            )
            .await;
        assert!(
            out.content.starts_with(
                "Timed out after 5 s; the command was killed with every process it started."
            ),
            "{}",
            out.content
        );
        // The output written before the kill is kept.
        assert!(out.content.ends_with("Output:\nstarted"), "{}", out.content);
        assert_eq!(
            out.summary.split(" → ").nth(1).unwrap().split(" (").next(),
            Some("timed out after 5 s")
        );
        let pids = read_pids(&f.root.join("pids"));
        assert_eq!(pids.len(), 4, "outer shell, inner shell, two sleeps");
        // Dead by the time the call returned.
        for &pid in &pids {
            assert!(!alive(pid), "process {pid} survived the timeout");
        }
    }
}

#[tokio::test]
async fn cancellation_kills_every_process_started() {
    for f in fixtures_under_each_policy() {
        let token = f.ctx.cancel.clone();
        let ready = fifo(&f, "ready");
        let (out, ()) = tokio::join!(
            f.call(
                "shell",
                json!({"command": SPAWNS_GRANDCHILDREN, "timeout_s": 600}),
            ),
            async {
                tokio::time::timeout(HANG, ready).await.unwrap().unwrap();
                token.cancel();
            }
        );
        assert!(!out.ok);
        assert_eq!(out.content, "cancelled");
        let pids = read_pids(&f.root.join("pids"));
        assert_eq!(pids.len(), 4);
        for &pid in &pids {
            assert!(!alive(pid), "process {pid} survived the cancellation");
        }
    }
}

#[tokio::test]
async fn dropping_the_call_kills_every_process_started() {
    for f in fixtures_under_each_policy() {
        let ready = fifo(&f, "ready");
        let call = f.call(
            "shell",
            json!({"command": SPAWNS_GRANDCHILDREN, "timeout_s": 600}),
        );
        // The call is abandoned, as when a turn's future is dropped.
        tokio::select! {
            _ = call => panic!("the command finished"),
            read = ready => { read.unwrap(); }
            _ = tokio::time::sleep(HANG) => panic!("the command never got ready"),
        }
        let pids = read_pids(&f.root.join("pids"));
        assert_eq!(pids.len(), 4);
        assert_all_gone(&pids);
    }
}

/// Commands that leave a `sleep 300` running in each way a shell can, and
/// print its pid last.
const BACKGROUND_FORMS: &[&str] = &[
    "sleep 300 > /dev/null & echo $!",
    "nohup sleep 300 > /dev/null 2>&1 & echo $!",
    "setsid sleep 300 > /dev/null & echo $!",
    "( sleep 300 > /dev/null & echo $! )",
    "( setsid sleep 300 > /dev/null & echo $! )",
    "mkfifo p; setsid -f bash -c 'echo $$ > p; exec sleep 300 > /dev/null'; read pid < p; echo $pid",
    "env -u GLINT_SHELL_CALL sleep 300 > /dev/null & echo $!",
];

fn last_pid(content: &str) -> libc::pid_t {
    content
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid: {content}"))
}

#[tokio::test]
async fn background_processes_are_killed_when_the_call_ends() {
    for f in fixtures_under_each_policy() {
        for form in BACKGROUND_FORMS {
            assert_killed_when_the_call_ends(&f, form).await;
        }
    }
}

/// Runs `form` (which prints the pid it leaves running last) and checks that
/// the process was killed and named in the result's note.
async fn assert_killed_when_the_call_ends(f: &Fixture, form: &str) {
    let _ = std::fs::remove_file(f.root.join("p"));
    let out = f.ok("shell", json!({"command": form})).await;
    assert!(out.content.starts_with("Exit code: 0\n"), "{}", out.content);
    let pid = last_pid(&out.content);
    assert!(!alive(pid), "{form}: pid {pid} outlived the call");
    // Named `sleep`, or `nohup`/`setsid` when killed before exec.
    assert!(
        out.content
            .contains("Note: killed 1 background process left running: ")
            && out.content.contains(&format!(" (pid {pid})")),
        "{form}: {}",
        out.content
    );
}

/// A process in the middle of `execve` shows an empty environment, so one
/// scan cannot tell it is the call's (`setsid sleep` failed so, rarely).
/// This one holds the empty state for a moment on purpose: it runs under
/// `env -i`, in a session of its own, until well after the call ended, then
/// takes the call's marker back (straight from empty to marked, as an
/// `execve` does); the kill must look again and catch it.
#[tokio::test]
async fn a_background_process_with_an_unreadable_marker_is_caught_later() {
    const FORM: &str = "mkfifo p; setsid env -i sh -c \"echo \\$\\$ > p; sleep 0.03; \
        export GLINT_SHELL_CALL=$GLINT_SHELL_CALL; exec sleep 300 > /dev/null\" & \
        read pid < p; echo $pid";
    for f in fixtures_under_each_policy() {
        assert_killed_when_the_call_ends(&f, FORM).await;
    }
}

#[tokio::test]
async fn background_processes_live_on_when_allowed() {
    for mut f in fixtures_under_each_policy() {
        f.ctx.shell.allow_background = true;
        for form in BACKGROUND_FORMS {
            let _ = std::fs::remove_file(f.root.join("p"));
            let out = f.ok("shell", json!({"command": form})).await;
            let pid = last_pid(&out.content);
            assert!(alive(pid), "{form}: pid {pid} was killed");
            assert!(!out.content.contains("Note: killed"), "{}", out.content);
            unsafe { libc::kill(pid, libc::SIGKILL) };
            assert_all_gone(&[pid]);
        }
    }
}

#[tokio::test]
async fn orphans_reparented_to_glint_are_reaped() {
    for mut f in fixtures_under_each_policy() {
        f.ctx.shell.allow_background = true;
        let out = f
            .ok(
                "shell",
                json!({"command": "mkfifo p; setsid -f bash -c 'echo $$ > p; exec sleep 300 > /dev/null'; read pid < p; echo $pid"}),
            )
            .await;
        let pid = last_pid(&out.content);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let ppid: libc::pid_t = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            ppid,
            std::process::id() as libc::pid_t,
            "glint is the orphan's subreaper"
        );
        unsafe { libc::kill(pid, libc::SIGKILL) };
        // The reaper collects it on SIGCHLD: the /proc entry disappears.
        let deadline = std::time::Instant::now() + HANG;
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "zombie {pid} was never reaped"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn background_output_does_not_hold_the_call_open() {
    let mut f = fixture();
    f.ctx.shell.allow_background = true;
    let out = tokio::time::timeout(
        HANG,
        f.ok(
            "shell",
            json!({"command": "sleep 300 & echo $! > bgpid; echo now"}),
        ),
    )
    .await
    .expect("the call waited for the background job");
    let pid = read_pids(&f.root.join("bgpid"))[0];
    assert!(alive(pid));
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(out.content.starts_with("Exit code: 0\n"), "{}", out.content);
    assert!(
        out.content
            .contains("background processes still held the output pipe"),
        "{}",
        out.content
    );
    assert!(out.content.ends_with("Output:\nnow"), "{}", out.content);
    // Not allowed, the job is killed and the pipe closes with it.
    f.ctx.shell.allow_background = false;
    let out = f
        .ok("shell", json!({"command": "sleep 300 & echo now"}))
        .await;
    assert!(
        out.content.contains("Note: killed 1 background process"),
        "{}",
        out.content
    );
    assert!(
        !out.content.contains("held the output pipe"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn long_output_keeps_head_and_tail() {
    let f = fixture();
    let out = f.ok("shell", json!({"command": "seq 1 10000"})).await;
    let body = out.content.split_once("\n1\n").unwrap().1;
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "2");
    assert_eq!(lines[98], "100");
    assert!(
        lines[99].starts_with("[... 9700 lines omitted;"),
        "{}",
        lines[99]
    );
    assert_eq!(lines[100], "9801");
    assert_eq!(lines[299], "10000");
    // Then the note naming the spill file that holds every line.
    assert!(
        lines[300].starts_with("[The whole output (10000 lines) is in "),
        "{}",
        lines[300]
    );
    assert_eq!(lines.len(), 99 + 1 + 200 + 1);
    assert!(
        out.content.contains("Output (10000 lines, 48894 bytes;"),
        "{}",
        &out.content[..200]
    );

    // One huge line is cut, with a note of how much.
    let out = f
        .ok(
            "shell",
            json!({"command": "head -c 100000 /dev/zero | tr '\\0' x; echo; echo after"}),
        )
        .await;
    assert!(
        out.content
            .contains("x [... 98000 more bytes in this line]\nafter"),
        "{}",
        &out.content[out.content.len() - 200..]
    );
    assert!(out.content.len() < 4000);
}

#[tokio::test]
async fn timeout_is_bounded() {
    let f = fixture();
    let out = f
        .ok("shell", json!({"command": "echo hi", "timeout_s": 1000}))
        .await;
    assert!(
        out.content
            .contains("Note: timeout_s 1000 is above the maximum; the command ran with 600 s."),
        "{}",
        out.content
    );
    assert!(out.content.ends_with("Output:\nhi"));
    for bad in [0, -5] {
        let err = f
            .err("shell", json!({"command": "echo hi", "timeout_s": bad}))
            .await;
        assert!(err.contains("`timeout_s` must be from 1 to 600"), "{err}");
    }
    let err = f.err("shell", json!({"command": "  "})).await;
    assert!(err.contains("`command` is empty"), "{err}");
}

#[tokio::test]
async fn sandbox_refuses_metadata_writes_outside_the_workspace() {
    let mut f = Fixture::new();
    git2::Repository::init(&f.root).unwrap();
    f.ctx.shell.sandbox = SandboxPolicy::WorkspaceWrite;
    if !sandbox_available() {
        return;
    }
    // The fixture's `outside` is under /tmp, which stays writable; cargo's
    // scratch directory is not (tests/sandbox.rs covers every write).
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    assert!(
        !scratch.starts_with("/tmp"),
        "{} is a temp dir",
        scratch.display()
    );
    let file = tempfile::NamedTempFile::new_in(scratch).unwrap();
    let target = file.path().to_path_buf();
    let command = format!(
        "echo in > inside.txt && echo ok-inside; git status --short && echo ok-git; touch -d 2001-01-01 {t} && echo TOUCHED; chmod 000 {t} && echo CHMODDED",
        t = target.display()
    );
    let before = std::fs::metadata(&target).unwrap();
    let out = f.ok("shell", json!({"command": command})).await;
    assert!(out.content.contains("ok-inside\n"), "{}", out.content);
    assert!(out.content.contains("ok-git"), "{}", out.content);
    assert!(
        out.content.contains("Read-only file system"),
        "{}",
        out.content
    );
    assert!(!out.content.contains("TOUCHED"), "{}", out.content);
    assert!(!out.content.contains("CHMODDED"), "{}", out.content);
    let after = std::fs::metadata(&target).unwrap();
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());
}

#[test]
fn sandbox_support_is_reported() {
    assert_eq!(SandboxPolicy::Off.check(), Ok(()));
    if sandbox_available() {
        assert_eq!(SandboxPolicy::WorkspaceWrite.check(), Ok(()));
    } else {
        let refusal = SandboxPolicy::WorkspaceWrite.check().unwrap_err();
        assert!(refusal.contains("--sandbox off"), "{refusal}");
        assert!(!refusal.contains('\n'));
    }
    match SandboxPolicy::landlock_abi() {
        Ok(abi) => eprintln!("Landlock ABI {abi} adds a second layer"),
        Err(why) => eprintln!("Landlock unavailable ({why}); the namespace sandbox confines alone"),
    }
}
