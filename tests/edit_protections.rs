//! write_file and edit_file respect the user's protections: a read-only
//! file is refused (also for root, who could write it anyway), and a
//! replaced file keeps its owner, group, mode and hard links.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

mod common;

use common::Fixture;
use serde_json::json;

/// `nobody` on most systems; any uid other than glint's works.
const OTHER: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chmod(f: &Fixture, rel: &str, mode: u32) {
    fs::set_permissions(f.root.join(rel), fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(f: &Fixture, rel: &str) -> u32 {
    fs::metadata(f.root.join(rel)).unwrap().mode() & 0o7777
}

#[tokio::test]
async fn a_read_only_file_is_refused_by_write_file_and_edit_file() {
    let f = Fixture::new();
    f.write("locked.txt", "keep me\n");
    chmod(&f, "locked.txt", 0o444);

    let err = f
        .err(
            "write_file",
            json!({"path": "locked.txt", "content": "replaced\n"}),
        )
        .await;
    assert!(err.contains("read-only"), "{err}");
    assert!(err.contains("chmod u+w"), "says what to do: {err}");
    let err = f
        .err(
            "edit_file",
            json!({"path": "locked.txt", "old_string": "keep", "new_string": "lose"}),
        )
        .await;
    assert!(err.contains("read-only"), "{err}");

    assert_eq!(
        fs::read_to_string(f.root.join("locked.txt")).unwrap(),
        "keep me\n"
    );
    assert_eq!(mode(&f, "locked.txt"), 0o444);
    // The refusal left no temporary file behind.
    assert_eq!(fs::read_dir(&f.root).unwrap().count(), 1);
}

#[tokio::test]
async fn a_file_with_no_write_bit_for_anyone_is_refused_whoever_owns_it() {
    let f = Fixture::new();
    f.write("ro.txt", "x\n");
    chmod(&f, "ro.txt", 0o550);
    let err = f
        .err("write_file", json!({"path": "ro.txt", "content": "y\n"}))
        .await;
    assert!(err.contains("mode 0550"), "{err}");
}

#[tokio::test]
async fn another_users_file_keeps_its_owner_group_and_mode() {
    if !is_root() {
        eprintln!("skipped: giving a file to another user needs root (CI runs as root)");
        return;
    }
    let f = Fixture::new();
    f.write("theirs.txt", "one\n");
    let path = f.root.join("theirs.txt");
    std::os::unix::fs::chown(&path, Some(OTHER), Some(OTHER)).unwrap();
    chmod(&f, "theirs.txt", 0o664);

    f.ok(
        "write_file",
        json!({"path": "theirs.txt", "content": "two\n"}),
    )
    .await;
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (OTHER, OTHER));
    assert_eq!(meta.mode() & 0o7777, 0o664);

    f.ok(
        "edit_file",
        json!({"path": "theirs.txt", "old_string": "two", "new_string": "three"}),
    )
    .await;
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (OTHER, OTHER));
    assert_eq!(meta.mode() & 0o7777, 0o664);
    assert_eq!(fs::read_to_string(&path).unwrap(), "three\n");
}

#[tokio::test]
async fn setgid_and_odd_modes_survive_a_write() {
    let f = Fixture::new();
    f.write("tool.sh", "#!/bin/sh\necho one\n");
    let path = f.root.join("tool.sh");
    if is_root() {
        // chown clears setgid; the mode must be set after the owner.
        std::os::unix::fs::chown(&path, Some(OTHER), Some(OTHER)).unwrap();
    }
    chmod(&f, "tool.sh", 0o2751);
    let before = fs::metadata(&path).unwrap();

    f.ok(
        "edit_file",
        json!({"path": "tool.sh", "old_string": "echo one", "new_string": "echo two"}),
    )
    .await;
    let after = fs::metadata(&path).unwrap();
    assert_eq!(after.mode() & 0o7777, 0o2751);
    assert_eq!(
        (after.uid(), after.gid()),
        (before.uid(), before.gid()),
        "owner and group kept"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "#!/bin/sh\necho two\n");
}

#[tokio::test]
async fn a_hard_linked_file_stays_linked() {
    let f = Fixture::new();
    f.write("a.txt", "old\n");
    fs::hard_link(f.root.join("a.txt"), f.root.join("b.txt")).unwrap();

    let out = f
        .ok("write_file", json!({"path": "a.txt", "content": "new\n"}))
        .await;
    assert!(out.content.contains("in place"), "{}", out.content);
    assert_eq!(fs::read_to_string(f.root.join("b.txt")).unwrap(), "new\n");
    let (a, b) = (
        fs::metadata(f.root.join("a.txt")).unwrap(),
        fs::metadata(f.root.join("b.txt")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
    assert_eq!(a.nlink(), 2);
}

#[tokio::test]
async fn a_plain_file_is_still_replaced_atomically_and_new_files_are_created() {
    let f = Fixture::new();
    f.write("a.txt", "old\n");
    chmod(&f, "a.txt", 0o640);
    let ino = fs::metadata(f.root.join("a.txt")).unwrap().ino();
    let out = f
        .ok("write_file", json!({"path": "a.txt", "content": "new\n"}))
        .await;
    assert!(!out.content.contains("in place"), "{}", out.content);
    let meta = fs::metadata(f.root.join("a.txt")).unwrap();
    assert_ne!(meta.ino(), ino, "replaced by rename");
    assert_eq!(meta.mode() & 0o7777, 0o640);

    f.ok(
        "write_file",
        json!({"path": "dir/new.txt", "content": "hi\n"}),
    )
    .await;
    assert_eq!(
        fs::read_to_string(f.root.join("dir/new.txt")).unwrap(),
        "hi\n"
    );
}
