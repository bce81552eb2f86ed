//! AGENTS.md is read through the workspace's confinement: a symlink out of
//! the workspace is never followed, only regular files are read (a FIFO or
//! a device never blocks or floods glint), and the size cap is a cap on what
//! is read, not a cut made after reading everything.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use glint::prompts::{AGENTS_MD_MAX_BYTES, build_system_prompt, system_prompt};
use glint::tools::ToolRegistry;
use glint::workspace::{Workspace, WorkspaceError};

/// Generous: a correct read takes milliseconds; the bound only turns a hang
/// (today's FIFO) into a failure instead of a stuck test run.
const BOUND: Duration = Duration::from_secs(60);

struct Dirs {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    outside: PathBuf,
}

fn dirs() -> Dirs {
    let dir = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(dir.path()).unwrap();
    let ws = base.join("ws");
    let outside = base.join("outside");
    fs::create_dir(&ws).unwrap();
    fs::create_dir(&outside).unwrap();
    Dirs {
        _dir: dir,
        ws,
        outside,
    }
}

/// The system prompt for `ws`, built on another thread and awaited at most
/// [`BOUND`]: `None` if it did not finish (the thread is left behind).
fn prompt_within_bound(ws: &Path) -> Option<(String, Vec<String>)> {
    let (tx, rx) = mpsc::channel();
    let ws = ws.to_path_buf();
    std::thread::spawn(move || {
        let built = build_system_prompt(&ws, &ToolRegistry::builtin(), "2024-05-01")
            .expect("the prompt builds");
        let _ = tx.send((built.text, built.warnings));
    });
    rx.recv_timeout(BOUND).ok()
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn a_symlink_out_of_the_workspace_is_not_read() {
    let d = dirs();
    fs::write(d.outside.join("secret"), "TOP-SECRET-TOKEN\n").unwrap();
    symlink(d.outside.join("secret"), d.ws.join("AGENTS.md")).unwrap();

    // The logging entry point that the front ends use today.
    let text = system_prompt(&d.ws, &ToolRegistry::builtin(), "2024-05-01").unwrap();
    assert!(!text.contains("TOP-SECRET-TOKEN"), "{text}");
    assert!(!text.contains("Project instructions"), "{text}");

    let (_, warnings) = prompt_within_bound(&d.ws).expect("returns");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("outside the workspace"),
        "{warnings:?}"
    );
    assert!(!warnings[0].contains('\n'), "one line: {warnings:?}");
}

#[test]
fn a_symlink_to_dev_zero_returns_promptly() {
    let d = dirs();
    symlink("/dev/zero", d.ws.join("AGENTS.md")).unwrap();
    let (text, warnings) = prompt_within_bound(&d.ws).expect("the prompt is built promptly");
    assert!(!text.contains('\0'));
    assert!(text.len() < 64 * 1024, "bounded: {} bytes", text.len());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn a_fifo_does_not_hang_glint() {
    let d = dirs();
    mkfifo(&d.ws.join("AGENTS.md"));
    let (text, warnings) = prompt_within_bound(&d.ws).expect("the prompt is built, no hang");
    assert!(!text.contains("Project instructions"), "{text}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("FIFO"), "{warnings:?}");
}

#[test]
fn a_device_inside_the_workspace_is_not_read() {
    // Root (as in CI) can make a device node inside the workspace, which
    // no symlink check catches: only the descriptor's type does.
    let d = dirs();
    let status = std::process::Command::new("mknod")
        .arg(d.ws.join("AGENTS.md"))
        .args(["c", "1", "5"])
        .status()
        .expect("mknod runs");
    if !status.success() {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let (text, warnings) = prompt_within_bound(&d.ws).expect("the prompt is built promptly");
    assert!(!text.contains("Project instructions"), "{text}");
    assert!(warnings[0].contains("character device"), "{warnings:?}");
}

#[test]
fn an_oversized_agents_md_is_read_only_up_to_the_cap() {
    let d = dirs();
    // A 1 TiB sparse file: reading it whole (as glint did) cannot succeed;
    // reading up to the cap is instant.
    let path = d.ws.join("AGENTS.md");
    let file = fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut &file, "Use tabs.\n".repeat(10_000).as_bytes()).unwrap();
    file.set_len(1 << 40).unwrap();
    drop(file);

    let (text, warnings) = prompt_within_bound(&d.ws).expect("the prompt is built promptly");
    assert!(
        text.contains("Use tabs."),
        "{}",
        &text[..200.min(text.len())]
    );
    assert!(
        text.contains(&format!(
            "[... AGENTS.md cut at {AGENTS_MD_MAX_BYTES} of {} bytes]",
            1u64 << 40
        )),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert!(text.len() < AGENTS_MD_MAX_BYTES + 16 * 1024);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn read_text_capped_confines_and_caps() {
    let d = dirs();
    let ws = Workspace::new(&d.ws).unwrap();
    assert_eq!(ws.read_text_capped("AGENTS.md", 10).unwrap(), None);

    fs::write(d.ws.join("a.txt"), "héllo wörld").unwrap();
    let got = ws.read_text_capped("a.txt", 2).unwrap().unwrap();
    // The cut falls inside `é`: only whole characters are kept.
    assert_eq!(got.text, "h");
    assert!(got.truncated);
    assert_eq!(got.total_bytes, "héllo wörld".len() as u64);
    let got = ws.read_text_capped("a.txt", 100).unwrap().unwrap();
    assert_eq!(got.text, "héllo wörld");
    assert!(!got.truncated);

    fs::write(d.outside.join("secret"), "secret").unwrap();
    symlink(d.outside.join("secret"), d.ws.join("out")).unwrap();
    assert!(matches!(
        ws.read_text_capped("out", 100),
        Err(WorkspaceError::SymlinkOutside { .. })
    ));
    mkfifo(&d.ws.join("fifo"));
    assert!(matches!(
        ws.read_text_capped("fifo", 100),
        Err(WorkspaceError::NotRegularFile { kind: "a FIFO", .. })
    ));
    fs::create_dir(d.ws.join("dir")).unwrap();
    assert!(matches!(
        ws.read_text_capped("dir", 100),
        Err(WorkspaceError::NotRegularFile { .. })
    ));
}

/// A repository `repo/` (its `.git` a plain directory: only its presence
/// counts) with the workspace two levels down, at `repo/sub/ws`.
struct Repo {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    ws: PathBuf,
    outside: PathBuf,
}

fn repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(dir.path()).unwrap();
    let repo = base.join("repo");
    let ws = repo.join("sub/ws");
    let outside = base.join("outside");
    fs::create_dir_all(repo.join(".git")).unwrap();
    fs::create_dir_all(&ws).unwrap();
    fs::create_dir(&outside).unwrap();
    Repo {
        _dir: dir,
        repo,
        ws,
        outside,
    }
}

#[test]
fn agents_md_files_from_the_repository_root_down_nearer_last() {
    let r = repo();
    fs::write(r.repo.join("AGENTS.md"), "ROOT-RULE: use tabs.\n").unwrap();
    fs::write(r.repo.join("sub/AGENTS.md"), "SUB-RULE: no unsafe.\n").unwrap();
    fs::write(r.ws.join("AGENTS.md"), "WS-RULE: run make check.\n").unwrap();
    let (text, warnings) = prompt_within_bound(&r.ws).expect("returns");
    assert!(warnings.is_empty(), "{warnings:?}");
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing:\n{text}"))
    };
    assert!(at("ROOT-RULE") < at("SUB-RULE") && at("SUB-RULE") < at("WS-RULE"));
    assert!(at("## AGENTS.md\n\nROOT-RULE") < at("## sub/AGENTS.md\n\nSUB-RULE"));
    assert!(text.contains("## sub/ws/AGENTS.md\n\nWS-RULE"), "{text}");
    assert!(text.contains("the later (nearer) one wins"), "{text}");

    // Only some levels have one: those are read, no gaps shown.
    fs::remove_file(r.repo.join("sub/AGENTS.md")).unwrap();
    fs::remove_file(r.ws.join("AGENTS.md")).unwrap();
    let (text, _) = prompt_within_bound(&r.ws).expect("returns");
    assert!(text.contains("ROOT-RULE"), "{text}");
    assert!(
        !text.contains("## AGENTS.md"),
        "one file reads as before:\n{text}"
    );
}

#[test]
fn without_a_repository_only_the_workspace_agents_md_is_read() {
    let d = dirs();
    // `base/` holds the workspace but is no repository.
    let parent = d.ws.parent().unwrap();
    fs::write(parent.join("AGENTS.md"), "PARENT-RULE\n").unwrap();
    fs::write(d.ws.join("AGENTS.md"), "WS-RULE\n").unwrap();
    let (text, warnings) = prompt_within_bound(&d.ws).expect("returns");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        text.contains("WS-RULE") && !text.contains("PARENT-RULE"),
        "{text}"
    );
}

#[test]
fn an_agents_md_above_the_workspace_may_not_link_out_of_the_repository() {
    let r = repo();
    fs::write(r.outside.join("secret"), "TOP-SECRET-TOKEN\n").unwrap();
    symlink(r.outside.join("secret"), r.repo.join("AGENTS.md")).unwrap();
    // A link inside the repository is fine.
    fs::write(r.repo.join("docs.md"), "LINKED-RULE\n").unwrap();
    symlink(r.repo.join("docs.md"), r.repo.join("sub/AGENTS.md")).unwrap();
    mkfifo(&r.ws.join("AGENTS.md"));
    let (text, warnings) = prompt_within_bound(&r.ws).expect("no hang on the FIFO");
    assert!(!text.contains("TOP-SECRET-TOKEN"), "{text}");
    assert!(text.contains("LINKED-RULE"), "{text}");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings.iter().any(
            |w| w.starts_with("AGENTS.md was not used") && w.contains("outside the repository")
        ),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("sub/ws/AGENTS.md was not used") && w.contains("FIFO")),
        "{warnings:?}"
    );
}

#[test]
fn the_cap_covers_all_files_and_cuts_the_farthest_first() {
    let r = repo();
    let near = "N".repeat(AGENTS_MD_MAX_BYTES - 2048);
    fs::write(r.ws.join("AGENTS.md"), &near).unwrap();
    fs::write(r.repo.join("sub/AGENTS.md"), "M".repeat(10_000)).unwrap();
    fs::write(r.repo.join("AGENTS.md"), "FAR-RULE\n").unwrap();
    let (text, warnings) = prompt_within_bound(&r.ws).expect("returns");
    // The nearest whole, the next cut to what is left, the farthest out.
    assert!(text.contains(&near), "the nearest file is whole");
    assert!(
        text.contains(&format!(
            "{}\n[... sub/AGENTS.md cut at 2048 of 10000 bytes]",
            "M".repeat(2048)
        )),
        "{}",
        &text[text.len().saturating_sub(400)..]
    );
    assert!(!text.contains("FAR-RULE"));
    assert!(
        text.contains("[... AGENTS.md left out: the AGENTS.md files nearer the workspace use all of the 32768-byte allowance]"),
        "{text}"
    );
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("sub/AGENTS.md is 10000 bytes"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with("AGENTS.md was left out"),
        "{warnings:?}"
    );
}
