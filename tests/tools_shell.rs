//! The `shell` tool: exit codes and output, confinement of `cwd`, no stdin
//! and no terminal, killing whole process groups on timeout and
//! cancellation, output truncation, and the Landlock sandbox.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

use common::Fixture;
use glint::tools::SandboxPolicy;
use serde_json::json;

/// A fixture whose workspace is a git repository. Commands run under the
/// default sandbox where the kernel has Landlock (so the basic tests also
/// exercise the sandboxed spawn path), and unconfined where it does not.
fn fixture() -> Fixture {
    let mut f = Fixture::new();
    git2::Repository::init(&f.root).unwrap();
    if SandboxPolicy::WorkspaceWrite.check().is_err() {
        f.ctx.shell.sandbox = SandboxPolicy::Off;
    }
    f
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
/// nothing, and reaping an orphan is its new parent's (init's) job.
fn alive(pid: libc::pid_t) -> bool {
    if unsafe { libc::kill(pid, 0) } != 0 {
        return std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
    !state.starts_with('Z')
}

/// Asserts every pid dies within a short grace period (orphans are reaped
/// asynchronously by init).
fn assert_all_gone(pids: &[libc::pid_t]) {
    let deadline = Instant::now() + Duration::from_secs(3);
    for &pid in pids {
        while alive(pid) {
            assert!(Instant::now() < deadline, "process {pid} survived the kill");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A script that starts a shell with two background grandchildren and
/// records every pid (outer shell, inner shell, the sleeps) in `pids`.
const SPAWNS_GRANDCHILDREN: &str = "echo $$ > pids.tmp; bash -c 'sleep 300 & sleep 300 & echo $$ >> pids.tmp; jobs -p >> pids.tmp; mv pids.tmp pids; wait'; echo unreachable";

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
    let started = Instant::now();
    let out = f
        .ok(
            "shell",
            json!({"command": "cat; read line || echo eof", "timeout_s": 10}),
        )
        .await;
    assert!(out.content.ends_with("eof"), "{}", out.content);
    assert!(started.elapsed() < Duration::from_secs(5));

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
async fn timeout_kills_the_whole_process_group() {
    let f = fixture();
    let started = Instant::now();
    let out = f
        .ok(
            "shell",
            json!({"command": format!("echo started; {SPAWNS_GRANDCHILDREN}"), "timeout_s": 1}),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        out.content
            .starts_with("Timed out after 1 s; the process group was killed."),
        "{}",
        out.content
    );
    // The output written before the kill is kept.
    assert!(out.content.ends_with("Output:\nstarted"), "{}", out.content);
    assert_eq!(
        out.summary.split(" → ").nth(1).unwrap().split(" (").next(),
        Some("timed out after 1 s")
    );
    let pids = read_pids(&f.root.join("pids"));
    assert_eq!(pids.len(), 4, "outer shell, inner shell, two sleeps");
    assert_all_gone(&pids);
}

#[tokio::test]
async fn cancellation_kills_the_whole_process_group() {
    let f = fixture();
    let token = f.ctx.cancel.clone();
    let pids_file = f.root.join("pids");
    let started = Instant::now();
    let (out, ()) = tokio::join!(
        f.call(
            "shell",
            json!({"command": SPAWNS_GRANDCHILDREN, "timeout_s": 60}),
        ),
        async {
            while !pids_file.exists() {
                assert!(started.elapsed() < Duration::from_secs(10));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            token.cancel();
        }
    );
    assert!(!out.ok);
    assert_eq!(out.content, "cancelled");
    assert!(started.elapsed() < Duration::from_secs(5));
    let pids = read_pids(&pids_file);
    assert_eq!(pids.len(), 4);
    assert_all_gone(&pids);
}

#[tokio::test]
async fn dropping_the_call_kills_the_whole_process_group() {
    let f = fixture();
    let pids_file = f.root.join("pids");
    let call = f.call(
        "shell",
        json!({"command": SPAWNS_GRANDCHILDREN, "timeout_s": 60}),
    );
    let wait_for_pids = async {
        while !pids_file.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // The call is abandoned, as when a turn's future is dropped.
    tokio::select! {
        _ = call => panic!("the command finished"),
        _ = wait_for_pids => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => panic!("no pids file"),
    }
    let pids = read_pids(&pids_file);
    assert_eq!(pids.len(), 4);
    assert_all_gone(&pids);
}

#[tokio::test]
async fn background_jobs_do_not_hold_the_call_open() {
    let f = fixture();
    let started = Instant::now();
    let out = f
        .ok(
            "shell",
            json!({"command": "(sleep 3; echo late) & echo now"}),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(out.content.starts_with("Exit code: 0\n"), "{}", out.content);
    assert!(
        out.content.contains("background processes"),
        "{}",
        out.content
    );
    assert!(out.content.ends_with("Output:\nnow"), "{}", out.content);
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
    assert_eq!(*lines.last().unwrap(), "10000");
    assert_eq!(lines.len(), 99 + 1 + 200);
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

/// A directory outside both the workspace and the temporary directories
/// (the fixture lives under /tmp, which the sandbox leaves writable), so
/// the sandbox must refuse writes there.
fn dir_outside_temp() -> Option<tempfile::TempDir> {
    let home = PathBuf::from(std::env::var_os("HOME")?);
    let base = home.join(".cache/glint");
    std::fs::create_dir_all(&base).ok()?;
    let base = std::fs::canonicalize(base).ok()?;
    let temp_roots = [std::env::temp_dir(), "/tmp".into(), "/var/tmp".into()];
    if temp_roots
        .iter()
        .filter_map(|t| std::fs::canonicalize(t).ok())
        .any(|t| base.starts_with(t))
    {
        return None;
    }
    tempfile::Builder::new()
        .prefix("shell-sandbox-test")
        .tempdir_in(base)
        .ok()
}

#[tokio::test]
async fn sandbox_confines_writes_to_workspace_and_temp() {
    if let Err(why) = SandboxPolicy::landlock_abi() {
        eprintln!("skipping the Landlock test: {why}");
        return;
    }
    let Some(elsewhere) = dir_outside_temp() else {
        eprintln!("skipping the Landlock test: no writable directory outside the temp dirs");
        return;
    };
    let mut f = Fixture::new();
    git2::Repository::init(&f.root).unwrap();
    f.ctx.shell.sandbox = SandboxPolicy::WorkspaceWrite;
    let target = elsewhere.path().join("written.txt");
    let tmp_file = std::env::temp_dir().join(format!("glint-shell-test-{}", std::process::id()));
    let command = format!(
        "echo in > inside.txt && echo ok-inside; echo t > {tmp} && echo ok-tmp; echo n > /dev/null && echo ok-null; cat /etc/hostname > /dev/null && echo ok-read; echo ok-stderr > /dev/stderr; git status --short && echo ok-git; echo x > {target} && echo WROTE-OUTSIDE",
        tmp = tmp_file.display(),
        target = target.display()
    );
    let out = f.ok("shell", json!({"command": command})).await;
    assert!(
        out.content
            .contains("ok-inside\nok-tmp\nok-null\nok-read\n"),
        "{}",
        out.content
    );
    assert!(out.content.contains("Permission denied"), "{}", out.content);
    assert!(!out.content.contains("WROTE-OUTSIDE"), "{}", out.content);
    assert!(!target.exists());
    assert!(f.root.join("inside.txt").exists());
    assert!(tmp_file.exists());
    std::fs::remove_file(&tmp_file).unwrap();

    // Unconfined, the same write goes through.
    f.ctx.shell.sandbox = SandboxPolicy::Off;
    let out = f
        .ok(
            "shell",
            json!({"command": format!("echo x > {} && echo WROTE-OUTSIDE", target.display())}),
        )
        .await;
    assert!(out.content.ends_with("WROTE-OUTSIDE"), "{}", out.content);
    assert!(target.exists());
}

#[test]
fn sandbox_support_is_reported() {
    match SandboxPolicy::landlock_abi() {
        Ok(abi) => {
            eprintln!("Landlock ABI {abi}");
            assert!(abi >= 1);
            assert_eq!(SandboxPolicy::WorkspaceWrite.check(), Ok(()));
        }
        Err(why) => {
            eprintln!("Landlock unavailable: {why}");
            let refusal = SandboxPolicy::WorkspaceWrite.check().unwrap_err();
            assert!(refusal.contains("--sandbox off"), "{refusal}");
            assert!(!refusal.contains('\n'));
        }
    }
    assert_eq!(SandboxPolicy::Off.check(), Ok(()));
}
