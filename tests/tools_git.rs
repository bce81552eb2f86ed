//! The git tools against real temporary repositories made with git2,
//! through `ToolRegistry::call` as the agent loop uses them.

use std::fs;
use std::path::Path;
use std::sync::Once;

mod common;

use common::Fixture;
use git2::{ConfigLevel, IndexAddOption, Oid, Repository, RepositoryInitOptions, Signature, Time};
use serde_json::json;

/// A fixed commit time (2024-05-01 12:34:56 UTC, shown in +02:00), so
/// dates in the output are known.
const WHEN: i64 = 1_714_566_896;

/// Points libgit2's global, XDG and system config at an empty directory,
/// once per test process, so the machine's own git configuration (its
/// identity in particular) cannot leak into the tests. Every test calls
/// this before touching git.
fn isolate_git_config() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        std::mem::forget(dir);
        for level in [ConfigLevel::Global, ConfigLevel::XDG, ConfigLevel::System] {
            // SAFETY: runs once, before any test of this process uses git2
            // (they all wait on this `Once`).
            unsafe { git2::opts::set_search_path(level, path.as_os_str()).unwrap() };
        }
    });
}

/// A repository at `dir` on branch `main`, with or without a test identity.
fn init_at(dir: &Path, with_identity: bool) -> Repository {
    isolate_git_config();
    let mut opts = RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = Repository::init_opts(dir, &opts).unwrap();
    if with_identity {
        let mut config = repo.config().unwrap();
        config.set_str("user.name", "Test User").unwrap();
        config.set_str("user.email", "test@example.com").unwrap();
    }
    repo
}

fn init(f: &Fixture) -> Repository {
    init_at(&f.root, true)
}

/// Stages everything (new, changed, deleted) and commits it with a fixed
/// author and time; returns the commit id.
fn commit_all(repo: &Repository, message: &str, when: i64) -> Oid {
    let mut index = repo.index().unwrap();
    index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::new("Ada Lovelace", "ada@example.com", &Time::new(when, 120)).unwrap();
    let parent = repo.head().ok().map(|h| h.peel_to_commit().unwrap());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

fn stage(repo: &Repository, path: &str) {
    let mut index = repo.index().unwrap();
    index.add_path(Path::new(path)).unwrap();
    index.write().unwrap();
}

fn short(oid: Oid) -> String {
    oid.to_string()[..7].to_string()
}

/// The indented entries under the status group whose title starts with
/// `title`.
fn group(content: &str, title: &str) -> Vec<String> {
    let mut lines = content.lines().skip_while(|l| !l.starts_with(title));
    assert!(lines.next().is_some(), "no `{title}` group in:\n{content}");
    lines
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// A repository with a first commit, then one change of every kind:
/// staged (modified, deleted, renamed, new), unstaged (modified, deleted),
/// untracked (a file and a directory) and ignored.
fn busy_repo(f: &Fixture) -> (Repository, Oid) {
    let repo = init(f);
    f.write(".gitignore", "*.log\n");
    f.write("a.txt", "alpha\n");
    f.write("b.txt", "bravo\n");
    f.write("c.txt", "charlie\n");
    f.write("d.txt", "delta\n");
    f.write(
        "old.txt",
        "a file that will be renamed\nwith a few lines\nof text\n",
    );
    let first = commit_all(&repo, "First commit", WHEN);

    f.write("a.txt", "alpha\nstaged line\n");
    stage(&repo, "a.txt");
    f.write("b.txt", "bravo\nunstaged line\n");
    fs::remove_file(f.root.join("c.txt")).unwrap();
    fs::remove_file(f.root.join("d.txt")).unwrap();
    fs::rename(f.root.join("old.txt"), f.root.join("new.txt")).unwrap();
    f.write("added.txt", "new and staged\n");
    let mut index = repo.index().unwrap();
    index.remove_path(Path::new("d.txt")).unwrap();
    index.remove_path(Path::new("old.txt")).unwrap();
    index.add_path(Path::new("new.txt")).unwrap();
    index.add_path(Path::new("added.txt")).unwrap();
    index.write().unwrap();
    f.write("u.txt", "untracked\n");
    f.write("untracked_dir/x.txt", "untracked too\n");
    f.write("debug.log", "ignored\n");
    (repo, first)
}

// ---------------------------------------------------------------- status

#[tokio::test]
async fn status_lists_each_change_in_its_group() {
    let f = Fixture::new();
    busy_repo(&f);
    let out = f.ok("git_status", json!({})).await;
    let c = &out.content;
    assert!(c.starts_with("On branch main\n"), "{c}");
    assert_eq!(
        group(c, "Staged changes"),
        [
            "modified: a.txt",
            "new: added.txt",
            "deleted: d.txt",
            "renamed: old.txt -> new.txt"
        ]
    );
    assert_eq!(
        group(c, "Unstaged changes"),
        ["modified: b.txt", "deleted: c.txt"]
    );
    assert_eq!(group(c, "Untracked files"), ["u.txt", "untracked_dir/"]);
    assert!(!c.contains("debug.log"), "ignored files are left out: {c}");
    assert!(!c.contains("Conflicted"), "{c}");
    assert_eq!(out.summary, "main: 4 staged, 2 unstaged, 2 untracked");
}

#[tokio::test]
async fn status_of_clean_unborn_and_detached_repositories() {
    let f = Fixture::new();
    let repo = init(&f);
    let out = f.ok("git_status", json!({})).await;
    assert_eq!(
        out.content,
        "On branch main (no commits yet)\nNothing to commit: the working tree is clean."
    );

    f.write("a.txt", "a\n");
    let first = commit_all(&repo, "one", WHEN);
    let out = f.ok("git_status", json!({})).await;
    assert_eq!(
        out.content,
        "On branch main\nNothing to commit: the working tree is clean."
    );
    assert_eq!(out.summary, "main: clean");

    repo.set_head_detached(first).unwrap();
    let out = f.ok("git_status", json!({})).await;
    assert!(
        out.content
            .starts_with(&format!("HEAD detached at {}\n", short(first))),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn status_reports_ahead_and_behind_its_upstream() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("a.txt", "a\n");
    let base = commit_all(&repo, "base", WHEN);
    // A fake remote-tracking branch one commit ahead of `base` on another line.
    repo.reference("refs/remotes/origin/main", base, true, "test")
        .unwrap();
    let mut config = repo.config().unwrap();
    config.set_str("remote.origin.url", "/nowhere").unwrap();
    config
        .set_str("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
        .unwrap();
    config.set_str("branch.main.remote", "origin").unwrap();
    config
        .set_str("branch.main.merge", "refs/heads/main")
        .unwrap();
    f.write("a.txt", "a\nb\n");
    commit_all(&repo, "local 1", WHEN + 60);
    f.write("a.txt", "a\nb\nc\n");
    commit_all(&repo, "local 2", WHEN + 120);
    let out = f.ok("git_status", json!({})).await;
    assert!(
        out.content
            .contains("Upstream origin/main: 2 commits ahead, 0 commits behind."),
        "{}",
        out.content
    );
}

// ---------------------------------------------------------------- diff

#[tokio::test]
async fn diff_shows_unstaged_changes_by_default() {
    let f = Fixture::new();
    busy_repo(&f);
    let out = f.ok("git_diff", json!({})).await;
    let c = &out.content;
    assert!(
        c.starts_with("Unstaged changes (working tree vs index):\n"),
        "{c}"
    );
    assert!(c.contains(" b.txt | 1 +\n"), "{c}");
    assert!(c.contains(" c.txt | 1 -\n"), "{c}");
    assert!(
        c.contains(" 2 files changed, 1 insertion(+), 1 deletion(-)\n"),
        "{c}"
    );
    assert!(c.contains("diff --git a/b.txt b/b.txt\n"), "{c}");
    assert!(c.contains("@@ -1 +1,2 @@\n bravo\n+unstaged line"), "{c}");
    assert!(
        c.contains("diff --git a/c.txt b/c.txt\ndeleted file mode"),
        "{c}"
    );
    assert!(!c.contains("a.txt"), "staged changes are not unstaged: {c}");
    assert!(!c.contains("u.txt"), "untracked files are not diffed: {c}");
    assert_eq!(
        out.summary,
        "2 files changed, 1 insertion(+), 1 deletion(-)"
    );
}

#[tokio::test]
async fn diff_staged_shows_the_index_against_head() {
    let f = Fixture::new();
    busy_repo(&f);
    let out = f.ok("git_diff", json!({"staged": true})).await;
    let c = &out.content;
    assert!(c.starts_with("Staged changes (index vs HEAD):\n"), "{c}");
    assert!(c.contains("+staged line"), "{c}");
    assert!(c.contains("old.txt -> new.txt | 0"), "{c}");
    assert!(c.contains("rename from old.txt\nrename to new.txt"), "{c}");
    assert!(
        c.contains("diff --git a/d.txt b/d.txt\ndeleted file mode"),
        "{c}"
    );
    assert!(c.contains("+new and staged"), "{c}");
    assert!(!c.contains("b.txt"), "{c}");
    assert!(
        c.contains(" 4 files changed, 2 insertions(+), 1 deletion(-)"),
        "{c}"
    );
}

#[tokio::test]
async fn diff_between_revisions_against_a_base_and_with_a_path() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("a.txt", "one\n");
    f.write("src/b.rs", "fn b() {}\n");
    let first = commit_all(&repo, "first", WHEN);
    f.write("a.txt", "one\ntwo\n");
    f.write("src/b.rs", "fn b() { todo!() }\n");
    let second = commit_all(&repo, "second", WHEN + 60);

    let out = f
        .ok("git_diff", json!({"base": "HEAD~1", "target": "HEAD"}))
        .await;
    assert!(
        out.content
            .starts_with("Changes from `HEAD~1` to `HEAD`:\n"),
        "{}",
        out.content
    );
    assert!(out.content.contains("+two"), "{}", out.content);
    assert!(
        out.content.contains("+fn b() { todo!() }"),
        "{}",
        out.content
    );
    // Shas work as well as expressions, and the order matters.
    let out = f
        .ok(
            "git_diff",
            json!({"base": second.to_string(), "target": short(first)}),
        )
        .await;
    assert!(out.content.contains("-two"), "{}", out.content);

    // With a path, only that file.
    let out = f
        .ok(
            "git_diff",
            json!({"base": "HEAD~1", "target": "HEAD", "path": "src"}),
        )
        .await;
    assert!(out.content.contains("in `src`:"), "{}", out.content);
    assert!(out.content.contains("src/b.rs"), "{}", out.content);
    assert!(!out.content.contains("a.txt"), "{}", out.content);

    // `base` alone: the working tree (staged or not) against it.
    f.write("a.txt", "one\ntwo\nthree\n");
    let out = f.ok("git_diff", json!({"base": "HEAD~1"})).await;
    assert!(out.content.contains("+two\n+three"), "{}", out.content);
    let out = f.ok("git_diff", json!({"path": "src/b.rs"})).await;
    assert!(
        out.content.starts_with(
            "No unstaged changes (working tree vs index) in `src/b.rs`. Staged changes are shown with staged=true"
        ),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn diff_argument_mistakes_and_unknown_revisions() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("a.txt", "one\n");
    commit_all(&repo, "first", WHEN);
    let e = f.err("git_diff", json!({"target": "HEAD"})).await;
    assert!(e.contains("`target` needs a `base`"), "{e}");
    let e = f.err("git_diff", json!({"base": "no-such-branch"})).await;
    assert!(e.starts_with("unknown revision `no-such-branch`"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    let e = f
        .err("git_diff", json!({"base": "HEAD", "target": "v9.9"}))
        .await;
    assert!(e.starts_with("unknown revision `v9.9`"), "{e}");
    let e = f
        .err("git_diff", json!({"path": "../outside/secret.txt"}))
        .await;
    assert!(e.contains("outside the workspace"), "{e}");
}

#[tokio::test]
async fn diff_output_is_capped_with_a_marker() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("big.txt", "");
    f.write("small.txt", "x\n");
    commit_all(&repo, "first", WHEN);
    let big: String = (0..5000).map(|i| format!("line number {i}\n")).collect();
    f.write("big.txt", &big);
    f.write("small.txt", "y\n");
    let out = f.ok("git_diff", json!({})).await;
    let c = &out.content;
    assert!(c.len() < 64 * 1024, "{}", c.len());
    // The stat still counts everything.
    assert!(
        c.contains(" 2 files changed, 5001 insertions(+), 1 deletion(-)"),
        "{c}"
    );
    let marker = c.lines().last().unwrap();
    assert!(marker.starts_with("[... "), "{marker}");
    assert!(
        marker.contains(" more lines; call git_diff again with the same arguments and `path`"),
        "{marker}"
    );
    let more: usize = marker[5..].split(' ').next().unwrap().parse().unwrap();
    let shown = c.lines().filter(|l| l.starts_with("+line number")).count();
    // Every patch line is either shown or counted.
    assert!(shown > 1000, "{shown}");
    assert!(shown + more >= 5000, "shown {shown} + more {more}");
}

// ---------------------------------------------------------------- log

#[tokio::test]
async fn log_lists_commits_with_count_and_path_filter() {
    let f = Fixture::new();
    let repo = init(&f);
    let mut ids = Vec::new();
    for i in 0..5 {
        f.write("counter.txt", format!("{i}\n"));
        if i % 2 == 0 {
            f.write("even.txt", format!("{i}\n"));
        }
        ids.push(commit_all(
            &repo,
            &format!("Commit {i}\n\nbody {i}"),
            WHEN + i * 60,
        ));
    }
    let out = f.ok("git_log", json!({})).await;
    let lines: Vec<&str> = out.content.lines().collect();
    assert_eq!(lines.len(), 5, "{}", out.content);
    assert_eq!(
        lines[0],
        format!(
            "{} 2024-05-01 14:38:56 +0200 <Ada Lovelace> Commit 4",
            short(ids[4])
        )
    );
    assert_eq!(
        lines[4],
        format!(
            "{} 2024-05-01 14:34:56 +0200 <Ada Lovelace> Commit 0",
            short(ids[0])
        )
    );
    assert_eq!(out.summary, "5 commits");

    let out = f.ok("git_log", json!({"count": 2})).await;
    let lines: Vec<&str> = out.content.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.content);
    assert!(lines[1].ends_with("Commit 3"));
    assert_eq!(
        lines[2],
        format!(
            "[... more commits; call git_log with revision={} to continue from the next one]",
            short(ids[2])
        )
    );

    let out = f.ok("git_log", json!({"path": "even.txt"})).await;
    let subjects: Vec<&str> = out
        .content
        .lines()
        .map(|l| l.rsplit("> ").next().unwrap())
        .collect();
    assert_eq!(subjects, ["Commit 4", "Commit 2", "Commit 0"]);
    assert_eq!(out.summary, "3 commits touching `even.txt`");

    let out = f
        .ok("git_log", json!({"revision": "HEAD~3", "count": 1}))
        .await;
    assert!(out.content.starts_with(&short(ids[1])), "{}", out.content);

    let out = f.ok("git_log", json!({"path": "never.txt"})).await;
    assert_eq!(
        out.content,
        "No commits in the history of `HEAD` touching `never.txt`."
    );
    let e = f.err("git_log", json!({"revision": "nope"})).await;
    assert!(e.starts_with("unknown revision `nope`"), "{e}");
    let e = f.err("git_log", json!({"count": 0})).await;
    assert!(e.contains("`count` must be at least 1"), "{e}");
}

#[tokio::test]
async fn log_of_a_repository_without_commits() {
    let f = Fixture::new();
    init(&f);
    let out = f.ok("git_log", json!({})).await;
    assert_eq!(out.content, "No commits yet on branch main.");
}

// ---------------------------------------------------------------- show

#[tokio::test]
async fn show_head_and_an_older_commit() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("a.txt", "one\n");
    let first = commit_all(&repo, "Add a\n\nThe first file.", WHEN);
    f.write("a.txt", "one\ntwo\n");
    let second = commit_all(&repo, "Extend a", WHEN + 60);

    let out = f.ok("git_show", json!({})).await;
    let c = &out.content;
    assert!(
        c.starts_with(&format!(
            "commit {second}\nAuthor: Ada Lovelace <ada@example.com>\nDate:   2024-05-01 14:35:56 +0200\n\n    Extend a\n"
        )),
        "{c}"
    );
    assert!(
        c.contains(" a.txt | 1 +\n 1 file changed, 1 insertion(+)"),
        "{c}"
    );
    assert!(c.contains("@@ -1 +1,2 @@\n one\n+two"), "{c}");
    assert!(out.summary.starts_with(&short(second)), "{}", out.summary);

    let out = f.ok("git_show", json!({"revision": "HEAD~1"})).await;
    let c = &out.content;
    assert!(c.starts_with(&format!("commit {first}\n")), "{c}");
    assert!(c.contains("    Add a\n\n    The first file.\n"), "{c}");
    assert!(c.contains("(the root commit: everything is new)"), "{c}");
    assert!(c.contains("new file mode 100644"), "{c}");
    assert!(c.contains("+one"), "{c}");

    let e = f.err("git_show", json!({"revision": "HEAD~5"})).await;
    assert!(e.starts_with("unknown revision `HEAD~5`"), "{e}");
}

#[tokio::test]
async fn show_file_contents_trees_and_tags() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("src/a.txt", "old text\n");
    f.write("bin.dat", b"\x00\x01\x02".as_slice());
    let first = commit_all(&repo, "first", WHEN);
    f.write("src/a.txt", "new text\n");
    commit_all(&repo, "second", WHEN + 60);

    let out = f
        .ok("git_show", json!({"revision": "HEAD~1:src/a.txt"}))
        .await;
    assert!(out.content.ends_with("\n\nold text\n"), "{}", out.content);
    assert!(
        out.content.starts_with("blob HEAD~1:src/a.txt (9 bytes"),
        "{}",
        out.content
    );
    let out = f.ok("git_show", json!({"revision": "HEAD:"})).await;
    assert!(
        out.content.ends_with("\n\nbin.dat\nsrc/"),
        "{}",
        out.content
    );
    let out = f.ok("git_show", json!({"revision": "HEAD:bin.dat"})).await;
    assert!(
        out.content.contains("is a binary blob (3 bytes"),
        "{}",
        out.content
    );
    let e = f
        .err(
            "git_show",
            json!({"revision": "HEAD:../outside/secret.txt"}),
        )
        .await;
    assert!(e.contains("outside the workspace"), "{e}");

    let sig = Signature::new("Ada Lovelace", "ada@example.com", &Time::new(WHEN, 0)).unwrap();
    let target = repo.find_object(first, None).unwrap();
    repo.tag("v1", &target, &sig, "Release one", false).unwrap();
    let out = f.ok("git_show", json!({"revision": "v1"})).await;
    assert!(
        out.content.starts_with("tag v1\nTagger: Ada Lovelace"),
        "{}",
        out.content
    );
    assert!(out.content.contains("    Release one\n"), "{}", out.content);
    assert!(
        out.content.contains(&format!("commit {first}\n")),
        "{}",
        out.content
    );
}

// ---------------------------------------------------------------- commit

#[tokio::test]
async fn commit_named_paths_including_new_and_deleted_files() {
    let f = Fixture::new();
    let (repo, _) = busy_repo(&f);
    let out = f
        .ok(
            "git_commit",
            json!({"message": "Add u, drop c", "paths": ["u.txt", "c.txt"]}),
        )
        .await;
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.message().unwrap(), "Add u, drop c\n");
    assert_eq!(head.author().name().unwrap(), "Test User");
    assert_eq!(head.author().email().unwrap(), "test@example.com");
    let c = &out.content;
    assert!(
        c.starts_with(&format!("[main {}] Add u, drop c\n", short(head.id()))),
        "{c}"
    );
    // Everything staged goes in too (a, d, the rename, added.txt).
    assert!(c.contains(" 6 files changed"), "{c}");
    let tree = head.tree().unwrap();
    assert!(tree.get_path(Path::new("u.txt")).is_ok());
    assert!(tree.get_path(Path::new("c.txt")).is_err());
    assert!(tree.get_path(Path::new("new.txt")).is_ok());
    // b.txt's unstaged change was not named, so it stays unstaged.
    let status = f.ok("git_status", json!({})).await;
    assert_eq!(
        group(&status.content, "Unstaged changes"),
        ["modified: b.txt"]
    );
    assert_eq!(
        group(&status.content, "Untracked files"),
        ["untracked_dir/"]
    );

    // A whole directory.
    f.ok(
        "git_commit",
        json!({"message": "Add the directory", "paths": ["untracked_dir"]}),
    )
    .await;
    let tree = repo.head().unwrap().peel_to_tree().unwrap();
    assert!(tree.get_path(Path::new("untracked_dir/x.txt")).is_ok());
}

#[tokio::test]
async fn commit_without_paths_takes_all_tracked_changes_only() {
    let f = Fixture::new();
    let (repo, first) = busy_repo(&f);
    let out = f
        .ok("git_commit", json!({"message": "Everything tracked"}))
        .await;
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_id(0).unwrap(), first);
    assert!(
        out.content
            .contains("(2 untracked entries were not committed"),
        "{}",
        out.content
    );
    let tree = head.tree().unwrap();
    for gone in ["c.txt", "d.txt", "old.txt", "u.txt", "debug.log"] {
        assert!(tree.get_path(Path::new(gone)).is_err(), "{gone}");
    }
    let b = tree.get_path(Path::new("b.txt")).unwrap();
    let blob = repo.find_blob(b.id()).unwrap();
    assert_eq!(blob.content(), b"bravo\nunstaged line\n");
    let status = f.ok("git_status", json!({})).await;
    assert!(!status.content.contains("Staged"), "{}", status.content);
    assert!(!status.content.contains("Unstaged"), "{}", status.content);
    assert_eq!(
        group(&status.content, "Untracked files"),
        ["u.txt", "untracked_dir/"]
    );

    // Nothing left to commit: refused, and the hint names the untracked files.
    let e = f.err("git_commit", json!({"message": "again"})).await;
    assert!(e.starts_with("nothing to commit: "), "{e}");
    assert!(e.contains("2 untracked entries are not included"), "{e}");
    assert_eq!(repo.head().unwrap().target(), Some(head.id()));
}

#[tokio::test]
async fn first_commit_on_an_unborn_branch() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("README.md", "hello\n");
    // Without paths only tracked files count, and nothing is tracked yet.
    let e = f.err("git_commit", json!({"message": "Initial"})).await;
    assert!(e.contains("1 untracked entry is not included"), "{e}");
    let out = f
        .ok(
            "git_commit",
            json!({"message": "Initial commit\n\nWith a body.  ", "paths": ["README.md"]}),
        )
        .await;
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_count(), 0);
    assert_eq!(head.message().unwrap(), "Initial commit\n\nWith a body.\n");
    assert!(
        out.content.starts_with(&format!(
            "[main (root-commit) {}] Initial commit\n README.md | 1 +\n 1 file changed, 1 insertion(+)",
            short(head.id())
        )),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn commit_refusals() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("a.txt", "a\n");
    f.write(".gitignore", "*.log\n");
    let first = commit_all(&repo, "first", WHEN);

    let e = f.err("git_commit", json!({"message": "   "})).await;
    assert!(e.contains("`message` is empty"), "{e}");
    let e = f
        .err("git_commit", json!({"message": "m", "paths": ["a.txt"]}))
        .await;
    assert!(
        e.starts_with("nothing to commit: the named paths have no changes"),
        "{e}"
    );
    let e = f
        .err(
            "git_commit",
            json!({"message": "m", "paths": ["missing.txt"]}),
        )
        .await;
    assert!(
        e.contains("`missing.txt` does not exist and is not tracked"),
        "{e}"
    );
    f.write("x.log", "log\n");
    let e = f
        .err("git_commit", json!({"message": "m", "paths": ["x.log"]}))
        .await;
    assert!(e.contains("is ignored by git"), "{e}");
    let e = f
        .err(
            "git_commit",
            json!({"message": "m", "paths": ["../outside/secret.txt"]}),
        )
        .await;
    assert!(e.contains("outside the workspace"), "{e}");
    let e = f
        .err(
            "git_commit",
            json!({"message": "m", "paths": [f.outside.join("secret.txt")]}),
        )
        .await;
    assert!(e.contains("outside the workspace"), "{e}");
    let e = f
        .err(
            "git_commit",
            json!({"message": "m", "paths": [".git/config"]}),
        )
        .await;
    assert!(e.contains("`.git`"), "{e}");
    assert_eq!(repo.head().unwrap().target(), Some(first));
}

#[cfg(unix)]
#[tokio::test]
async fn commit_refuses_paths_through_a_symlinked_directory() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("a.txt", "a\n");
    commit_all(&repo, "first", WHEN);
    f.outside_links();
    let e = f
        .err(
            "git_commit",
            json!({"message": "m", "paths": ["linkdir/secret.txt"]}),
        )
        .await;
    assert!(e.contains("outside the workspace"), "{e}");
    let index = repo.index().unwrap();
    assert!(index.iter().all(|e| !e.path.starts_with(b"linkdir")));
}

#[tokio::test]
async fn commit_without_an_identity_is_refused() {
    let f = Fixture::new();
    let repo = init_at(&f.root, false);
    f.write("a.txt", "a\n");
    let e = f
        .err("git_commit", json!({"message": "m", "paths": ["a.txt"]}))
        .await;
    assert!(
        e.starts_with("no git identity is configured (user.name and user.email not set)"),
        "{e}"
    );
    assert!(e.contains("git config user.name"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(repo.head().is_err(), "no commit was made");
    assert!(repo.index().unwrap().is_empty(), "nothing was staged");
}

// ---------------------------------------------------------------- anywhere

#[tokio::test]
async fn every_git_tool_fails_cleanly_outside_a_repository() {
    isolate_git_config();
    let f = Fixture::new();
    let expected = format!(
        "`{}` is not inside a git repository; run `git init` first or use the shell tool",
        f.root.display()
    );
    for (tool, args) in [
        ("git_status", json!({})),
        ("git_diff", json!({})),
        ("git_log", json!({})),
        ("git_show", json!({})),
        ("git_commit", json!({"message": "m"})),
    ] {
        let e = f.err(tool, args).await;
        assert_eq!(e, expected, "{tool}");
    }
}

/// The workspace is `ws/`, a subdirectory of the repository: paths are
/// shown relative to it, pathspecs resolved from it, and nothing outside
/// it is shown.
#[tokio::test]
async fn a_workspace_inside_a_larger_repository() {
    let f = Fixture::new();
    let top = f.root.parent().unwrap();
    let repo = init_at(top, true);
    f.write("src/a.txt", "a\n");
    fs::write(f.outside.join("other.txt"), "other\n").unwrap();
    commit_all(&repo, "first", WHEN);
    f.write("src/a.txt", "a\nb\n");
    f.write("new.txt", "new\n");
    fs::write(f.outside.join("other.txt"), "changed\n").unwrap();
    fs::write(f.outside.join("secret.txt"), "changed secret\n").unwrap();

    let out = f.ok("git_status", json!({})).await;
    let c = &out.content;
    assert!(
        c.contains("The workspace is `ws/` inside the repository"),
        "{c}"
    );
    assert_eq!(group(c, "Unstaged changes"), ["modified: src/a.txt"]);
    assert_eq!(group(c, "Untracked files"), ["new.txt"]);
    assert!(!c.contains("other") && !c.contains("secret"), "{c}");

    let out = f.ok("git_diff", json!({})).await;
    assert!(
        out.content.contains("diff --git a/src/a.txt b/src/a.txt\n"),
        "{}",
        out.content
    );
    assert!(out.content.contains("+++ b/src/a.txt"), "{}", out.content);
    assert!(!out.content.contains("other"), "{}", out.content);

    let out = f
        .ok(
            "git_commit",
            json!({"message": "ws only", "paths": ["new.txt"]}),
        )
        .await;
    assert!(out.content.contains(" new.txt | 1 +"), "{}", out.content);
    let tree = repo.head().unwrap().peel_to_tree().unwrap();
    assert!(tree.get_path(Path::new("ws/new.txt")).is_ok());

    f.ok("git_commit", json!({"message": "tracked in ws"}))
        .await;
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    let blob = head
        .tree()
        .unwrap()
        .get_path(Path::new("outside/other.txt"))
        .unwrap();
    assert_eq!(
        repo.find_blob(blob.id()).unwrap().content(),
        b"other\n",
        "outside untouched"
    );

    let out = f.ok("git_log", json!({"path": "src/a.txt"})).await;
    let subjects: Vec<&str> = out
        .content
        .lines()
        .map(|l| l.rsplit("> ").next().unwrap())
        .collect();
    assert_eq!(subjects, ["tracked in ws", "first"]);
    let out = f
        .ok("git_show", json!({"revision": "HEAD~2:src/a.txt"}))
        .await;
    assert!(out.content.ends_with("\n\na\n"), "{}", out.content);
}

#[tokio::test]
async fn conflicts_and_a_merge_in_progress() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("a.txt", "base\n");
    let base = commit_all(&repo, "base", WHEN);
    f.write("a.txt", "ours\n");
    commit_all(&repo, "ours", WHEN + 60);
    // A side branch changing the same line.
    let side_tree = {
        let mut index = git2::Index::new().unwrap();
        let blob = repo.blob(b"theirs\n").unwrap();
        let mut entry = repo
            .index()
            .unwrap()
            .get_path(Path::new("a.txt"), 0)
            .unwrap();
        entry.id = blob;
        index.add(&entry).unwrap();
        repo.find_tree(index.write_tree_to(&repo).unwrap()).unwrap()
    };
    let sig = Signature::new("Ada Lovelace", "ada@example.com", &Time::new(WHEN, 0)).unwrap();
    let parent = repo.find_commit(base).unwrap();
    let side = repo
        .commit(None, &sig, &sig, "theirs", &side_tree, &[&parent])
        .unwrap();
    let annotated = repo.find_annotated_commit(side).unwrap();
    repo.merge(&[&annotated], None, None).unwrap();

    let out = f.ok("git_status", json!({})).await;
    assert!(
        out.content.contains("A merge is in progress"),
        "{}",
        out.content
    );
    assert_eq!(group(&out.content, "Conflicted"), ["a.txt"]);
    assert!(out.summary.ends_with("1 conflicted"), "{}", out.summary);
    let e = f
        .err(
            "git_commit",
            json!({"message": "merge", "paths": ["a.txt"]}),
        )
        .await;
    assert!(e.contains("in the middle of an operation"), "{e}");
}

// ------------------------------------------------- argument and scope checks

#[tokio::test]
async fn a_nul_byte_in_any_git_argument_is_an_invalid_argument() {
    let f = Fixture::new();
    let repo = init(&f);
    f.write("a.txt", "a\n");
    commit_all(&repo, "first", WHEN);
    f.write("a.txt", "b\n");

    let calls = [
        ("git_diff", json!({"path": "a\0.txt"})),
        ("git_diff", json!({"base": "HEAD\0"})),
        ("git_diff", json!({"base": "HEAD", "target": "HEAD\0~1"})),
        ("git_show", json!({"path": "a\0.txt"})),
        ("git_show", json!({"revision": "HEAD\0"})),
        ("git_log", json!({"path": "a\0.txt"})),
        ("git_log", json!({"revision": "HEAD\0"})),
        (
            "git_commit",
            json!({"message": "m", "paths": ["a.txt", "a\0.txt"]}),
        ),
        ("git_commit", json!({"message": "m\0m"})),
    ];
    for (tool, args) in calls {
        let e = f.err(tool, args.clone()).await;
        assert!(
            e.starts_with(&format!("Invalid arguments for {tool}: ")) && e.contains("NUL byte"),
            "{tool} {args}: {e}"
        );
        assert!(!e.contains("internal error") && !e.contains('\n'), "{e}");
    }
    // Nothing was committed.
    assert_eq!(
        repo.head().unwrap().peel_to_commit().unwrap().message(),
        Ok("first")
    );
}

#[tokio::test]
async fn git_objects_outside_the_workspace_subtree_are_refused() {
    let f = Fixture::new();
    let top = f.root.parent().unwrap();
    let repo = init_at(top, true);
    f.write("src/a.txt", "inside text\n");
    fs::write(f.outside.join("secret.txt"), "TOP-SECRET\n").unwrap();
    commit_all(&repo, "first", WHEN);
    let head = repo.head().unwrap().peel_to_tree().unwrap();
    let id = |p: &str| head.get_path(Path::new(p)).unwrap().id().to_string();

    // Outside: a blob by id, a tree by id, the repository's root tree, a
    // tag pointing at the blob, REV:PATH whose REV is a tree.
    let sig = Signature::new("Ada Lovelace", "ada@example.com", &Time::new(WHEN, 0)).unwrap();
    let secret = repo
        .find_object(Oid::from_str(&id("outside/secret.txt")).unwrap(), None)
        .unwrap();
    repo.tag("leak", &secret, &sig, "a tag on a blob", false)
        .unwrap();
    let outside_tree = id("outside");
    for revision in [
        id("outside/secret.txt"),
        outside_tree.clone(),
        "HEAD^{tree}".to_string(),
        "leak".to_string(),
        format!("{outside_tree}:src"),
    ] {
        let e = f.err("git_show", json!({"revision": revision})).await;
        assert!(
            !e.contains("TOP-SECRET") && !e.contains("secret.txt"),
            "{revision}: {e}"
        );
        assert!(
            e.contains("REV:PATH") || e.contains("not a commit"),
            "{revision}: {e}"
        );
    }
    let e = f
        .err("git_diff", json!({"base": outside_tree, "target": "HEAD"}))
        .await;
    assert!(!e.contains("secret"), "{e}");

    // Inside: by id, as REV:PATH, and the workspace's own tree.
    let out = f
        .ok("git_show", json!({"revision": id("ws/src/a.txt")}))
        .await;
    assert!(out.content.ends_with("inside text\n"), "{}", out.content);
    let out = f.ok("git_show", json!({"revision": id("ws/src")})).await;
    assert!(out.content.ends_with("a.txt"), "{}", out.content);
    let out = f.ok("git_show", json!({"revision": id("ws")})).await;
    assert!(out.content.ends_with("src/"), "{}", out.content);
    let out = f.ok("git_show", json!({"revision": "HEAD:src"})).await;
    assert!(out.content.ends_with("a.txt"), "{}", out.content);
    let out = f.ok("git_show", json!({"revision": "HEAD"})).await;
    assert!(!out.content.contains("TOP-SECRET"), "{}", out.content);
    assert!(out.content.contains("inside text"), "{}", out.content);

    // A commit made from the workspace lists only what lies inside it,
    // even when the user had staged something outside.
    fs::write(f.outside.join("secret.txt"), "NEW-SECRET\n").unwrap();
    stage(&repo, "outside/secret.txt");
    f.write("new.txt", "n\n");
    let out = f
        .ok(
            "git_commit",
            json!({"message": "add", "paths": ["new.txt"]}),
        )
        .await;
    assert!(out.content.contains("new.txt"), "{}", out.content);
    assert!(!out.content.contains("secret"), "{}", out.content);
    assert!(
        out.content.contains("1 file outside the workspace"),
        "{}",
        out.content
    );
}
