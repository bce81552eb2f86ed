//! The shell sandbox under `workspace-write`: every kind of write outside the
//! workspace and temporary directories fails (metadata included), the
//! network is off unless allowed, glint's secrets never reach a command, and
//! the command cannot undo its confinement.
//!
//! Every scenario runs as the current user (root in CI) and again as an
//! unprivileged user: `reruns_as_an_unprivileged_user`
//! re-executes this test binary, which drops to uid/gid 65534 before each
//! scenario. A missing mechanism fails the tests, since CI must have it;
//! only `GLINT_TEST_ALLOW_NO_SANDBOX=1` turns that into a skip.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use glint::tools::{EnvPolicy, SandboxPolicy, ToolContext, ToolRegistry};
use glint::workspace::Workspace;
use serde_json::{Value, json};

/// Set in the re-executed child: the uid (and gid) to drop to.
const DROP_TO: &str = "GLINT_TEST_DROP_TO";
/// Set in the re-executed child: a directory outside the temporary
/// directories that the dropped user owns.
const BASE: &str = "GLINT_TEST_BASE";
/// The unprivileged user.
const NOBODY: u32 = 65534;
/// A secret glint itself reads, set for the re-executed child.
const FAKE_KEY: &str = "sk-test-never-passed";

/// Whether the sandbox is there; panics when it is not, unless the run
/// explicitly allows that.
fn sandbox_available(network: bool) -> bool {
    match SandboxPolicy::WorkspaceWrite.check_with_network(network) {
        Ok(()) => true,
        Err(why) if std::env::var_os("GLINT_TEST_ALLOW_NO_SANDBOX").is_some_and(|v| v == "1") => {
            eprintln!("skipping (GLINT_TEST_ALLOW_NO_SANDBOX=1): {why}");
            false
        }
        Err(why) => panic!(
            "the sandbox is missing here, so this test cannot prove it ({why}); set GLINT_TEST_ALLOW_NO_SANDBOX=1 to skip"
        ),
    }
}

/// Drops to the unprivileged user when this is the re-executed child.
fn become_test_user() {
    let Some(uid) = std::env::var(DROP_TO)
        .ok()
        .and_then(|u| u.parse::<u32>().ok())
    else {
        return;
    };
    // SAFETY: plain system calls; glibc applies set*id to every thread.
    unsafe {
        if libc::getuid() == uid {
            return;
        }
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "setgroups");
        assert_eq!(libc::setgid(uid), 0, "setgid");
        assert_eq!(libc::setuid(uid), 0, "setuid");
        // Changing uid made the process undumpable (its /proc files
        // root's), which a real unprivileged glint never is.
        libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
    }
}

/// Whether every ancestor of `dir` lets others through.
fn traversable(dir: &Path) -> bool {
    dir.ancestors()
        .all(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// A directory outside every temporary directory (which the sandbox leaves
/// writable), for files the sandbox must protect.
fn base_dir() -> PathBuf {
    if let Some(base) = std::env::var_os(BASE) {
        return PathBuf::from(base);
    }
    let candidates = [
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp"),
    ];
    // As root, prefer one the unprivileged child can reach too.
    let usable = |c: &&PathBuf| std::fs::create_dir_all(c).is_ok() && !under_temp(c);
    candidates
        .iter()
        .filter(usable)
        .find(|c| traversable(c))
        .or_else(|| candidates.iter().find(usable))
        .cloned()
        .expect("a directory outside the temporary directories")
}

fn under_temp(path: &Path) -> bool {
    let Ok(path) = std::fs::canonicalize(path) else {
        return true;
    };
    [
        std::env::temp_dir(),
        "/tmp".into(),
        "/var/tmp".into(),
        "/dev/shm".into(),
    ]
    .iter()
    .filter_map(|t| std::fs::canonicalize(t).ok())
    .any(|t| path.starts_with(t))
}

/// A workspace and a directory beside it, both outside the temp dirs.
struct Setup {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    outside: PathBuf,
    ctx: ToolContext,
    registry: ToolRegistry,
}

impl Setup {
    fn new() -> Setup {
        become_test_user();
        let dir = tempfile::Builder::new()
            .prefix("sandbox-test")
            .tempdir_in(base_dir())
            .unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let ws = base.join("ws");
        let outside = base.join("outside");
        std::fs::create_dir(&ws).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("file.txt"), "original\n").unwrap();
        std::fs::write(ws.join("file.txt"), "original\n").unwrap();
        std::fs::write(outside.join("other.txt"), "other\n").unwrap();
        std::fs::write(ws.join("other.txt"), "other\n").unwrap();
        let mut ctx = ToolContext::new(Workspace::new(&ws).unwrap());
        ctx.shell.sandbox = SandboxPolicy::WorkspaceWrite;
        Setup {
            _dir: dir,
            ws,
            outside,
            ctx,
            registry: ToolRegistry::builtin(),
        }
    }

    async fn run(&self, command: &str) -> String {
        let Value::Object(args) = json!({"command": command, "timeout_s": 60}) else {
            unreachable!()
        };
        let out = self.registry.call("shell", &args, &self.ctx).await;
        assert!(out.ok, "{command}: {}", out.content);
        out.content
    }
}

/// Each kind of write, on `file` in `dir`; prints `ok-KIND` for each that
/// worked.
fn writes(dir: &Path) -> String {
    let d = dir.display();
    [
        format!("echo new > {d}/file.txt && echo ok-write"),
        format!("echo more >> {d}/file.txt && echo ok-append"),
        format!("chmod 600 {d}/file.txt && echo ok-chmod"),
        format!("chown $(id -u):$(id -g) {d}/file.txt && echo ok-chown"),
        format!("touch -d 2001-01-01 {d}/file.txt && echo ok-touch"),
        format!("ln -s x {d}/link && echo ok-symlink"),
        format!("mkdir {d}/sub && echo ok-mkdir"),
        format!("rm {d}/other.txt && echo ok-rm"),
        format!("mv {d}/file.txt {d}/moved.txt && echo ok-mv"),
    ]
    .join("; ")
}

const ALL_WRITES: &[&str] = &[
    "ok-write",
    "ok-append",
    "ok-chmod",
    "ok-chown",
    "ok-touch",
    "ok-symlink",
    "ok-mkdir",
    "ok-rm",
    "ok-mv",
];

#[tokio::test]
async fn scenario_writes_outside_fail_inside_work() {
    let s = Setup::new();
    if !sandbox_available(false) {
        return;
    }
    let out = s.run(&writes(&s.outside)).await;
    for kind in ALL_WRITES {
        assert!(!out.contains(kind), "{kind} outside the workspace: {out}");
    }
    assert!(out.contains("Read-only file system"), "{out}");
    assert_eq!(
        std::fs::read_to_string(s.outside.join("file.txt")).unwrap(),
        "original\n"
    );
    let meta = std::fs::metadata(s.outside.join("file.txt")).unwrap();
    assert_ne!(
        meta.permissions().mode() & 0o777,
        0o600,
        "chmod went through"
    );
    assert_eq!(std::fs::read_dir(&s.outside).unwrap().count(), 2);

    let out = s.run(&writes(&s.ws)).await;
    for kind in ALL_WRITES {
        assert!(out.contains(kind), "{kind} inside the workspace: {out}");
    }
    // Temporary directories and devices stay writable; reading works.
    let out = s
        .run("f=$(mktemp) && echo x > $f && chmod 600 $f && rm $f && echo ok-tmp; echo x > /dev/null && echo ok-null; cat /etc/passwd > /dev/null && echo ok-read")
        .await;
    assert!(out.ends_with("ok-tmp\nok-null\nok-read"), "{out}");

    // Unconfined, the same writes go through.
    let mut s = s;
    s.ctx.shell.sandbox = SandboxPolicy::Off;
    let out = s.run(&writes(&s.outside)).await;
    for kind in ALL_WRITES {
        assert!(out.contains(kind), "{kind} unconfined: {out}");
    }
}

#[tokio::test]
async fn scenario_the_command_cannot_undo_the_sandbox() {
    let s = Setup::new();
    if !sandbox_available(false) {
        return;
    }
    let target = s.outside.join("file.txt");
    let t = target.display();
    let attempts = [
        "mount -o remount,rw /".to_string(),
        format!("mount -o remount,rw {}", s.outside.display()),
        format!(
            "mount --bind {0} {0} && mount -o remount,bind,rw {0}",
            s.outside.display()
        ),
        format!("umount -l {}", s.ws.display()),
        "unshare -rm sh -c 'mount -o remount,rw /'".to_string(),
        format!(
            "unshare -rm sh -c 'mount --bind {0} {0} && mount -o remount,bind,rw {0}'",
            s.outside.display()
        ),
        "unshare -rn true".to_string(),
    ];
    for attempt in attempts {
        let out = s
            .run(&format!(
                "{attempt} 2>&1; echo escaped >> {t} && echo WROTE; unshare -rm sh -c 'echo escaped >> {t}' 2>&1 && echo WROTE"
            ))
            .await;
        assert!(!out.contains("WROTE"), "{attempt}: {out}");
    }
    let out = s
        .run("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status")
        .await;
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(out.contains(&format!("{set}:\t0000000000000000")), "{out}");
    }
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "original\n");
    // Files keep their owners: glint's uid is mapped to itself.
    let out = s.run("id -u; stat -c %u file.txt").await;
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    assert!(out.ends_with(&format!("{uid}\n{uid}")), "{out}");
}

/// Connects to a listener the test opened on the host's loopback, then
/// runs a server and a client on the command's own loopback.
fn connect_script(port: u16) -> String {
    format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED; perl -MIO::Socket::INET -e '{LOCAL_SERVER}'"
    )
}

const LOCAL_SERVER: &str = r#"$l = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die "listen: $!"; IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $l->sockport) or die "connect: $!"; print "LOOPBACK-OK\n""#;

#[tokio::test]
async fn scenario_network_is_off_unless_allowed() {
    let mut s = Setup::new();
    if !sandbox_available(false) {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = s.run(&connect_script(port)).await;
    assert!(!out.contains("CONNECTED"), "{out}");
    assert!(out.contains("Connection refused"), "{out}");
    // Servers inside one command still work on the loopback.
    assert!(out.ends_with("LOOPBACK-OK"), "{out}");

    s.ctx.shell.network = true;
    let out = s.run(&connect_script(port)).await;
    assert!(out.contains("CONNECTED\nLOOPBACK-OK"), "{out}");
}

#[tokio::test]
async fn scenario_secrets_do_not_reach_commands() {
    let mut s = Setup::new();
    if std::env::var_os("OPENAI_API_KEY").is_none() {
        // Only the re-executed children set it (tests must not set_var).
        eprintln!("OPENAI_API_KEY is unset here; checked in the re-executed runs");
    }
    s.ctx.shell.sandbox = SandboxPolicy::Off;
    let show = "echo key=${OPENAI_API_KEY:-none} router=${OPENROUTER_API_KEY:-none} gh=${GITHUB_TOKEN:-none} path=${PATH:+set} home=${HOME:+set} editor=${EDITOR_FOR_TEST:-none}";
    let out = s.run(show).await;
    assert!(
        out.contains("key=none router=none gh=none path=set home=set"),
        "{out}"
    );
    assert!(!out.contains(FAKE_KEY), "{out}");

    // A pass list: only the core set and the names listed.
    s.ctx.shell.env = EnvPolicy {
        pass: Some(vec!["GITHUB_TOKEN".into()]),
    };
    let out = s.run(show).await;
    assert!(out.contains("key=none router=none"), "{out}");
    assert!(out.contains("path=set home=set editor=none"), "{out}");
    if std::env::var_os("GITHUB_TOKEN").is_some() {
        assert!(!out.contains("gh=none"), "{out}");
    }
    if std::env::var_os("EDITOR_FOR_TEST").is_some() {
        s.ctx.shell.env = EnvPolicy::default();
        let out = s.run(show).await;
        assert!(out.contains("editor=vi"), "{out}");
    }
}

/// Re-runs the scenarios in a child of this test binary with glint's
/// secrets set, as `uid` when given.
fn rerun_scenarios(uid: Option<u32>) {
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(exe);
    command
        .args(["scenario_", "--test-threads", "1"])
        .env("OPENAI_API_KEY", FAKE_KEY)
        .env("OPENROUTER_API_KEY", FAKE_KEY)
        .env("GITHUB_TOKEN", FAKE_KEY)
        .env("EDITOR_FOR_TEST", "vi");
    let _base;
    if let Some(uid) = uid {
        let dir = tempfile::Builder::new()
            .prefix("sandbox-nobody")
            .tempdir_in(base_dir())
            .unwrap();
        assert!(
            traversable(dir.path().parent().unwrap()),
            "{} is not reachable by uid {uid}; run the tests from a checkout others can read",
            dir.path().display()
        );
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid)).unwrap();
        command
            .env(DROP_TO, uid.to_string())
            .env(BASE, OsString::from(dir.path()));
        _base = dir;
    }
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("4 passed"), "{text}");
}

#[test]
fn reruns_with_secrets_in_the_environment() {
    if std::env::var_os(DROP_TO).is_some() || std::env::var_os("OPENAI_API_KEY").is_some() {
        return;
    }
    rerun_scenarios(None);
}

#[test]
fn reruns_as_an_unprivileged_user() {
    if std::env::var_os(DROP_TO).is_some() {
        return;
    }
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("already unprivileged: the scenarios above ran as this user");
        return;
    }
    rerun_scenarios(Some(NOBODY));
}

#[test]
fn a_missing_mechanism_is_refused_in_one_line() {
    assert_eq!(SandboxPolicy::Off.check(), Ok(()));
    match SandboxPolicy::WorkspaceWrite.check() {
        Ok(()) => eprintln!("the sandbox is available"),
        Err(refusal) => {
            assert!(refusal.contains("--sandbox off"), "{refusal}");
            assert!(!refusal.contains('\n'), "{refusal}");
            assert!(sandbox_available(false));
        }
    }
}
