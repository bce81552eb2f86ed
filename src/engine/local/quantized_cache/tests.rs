//! The quantized cache's entries on the filesystem alone: keys, lookups,
//! commits and what a killed start leaves.

use super::*;

fn checkpoint(dir: &Path, weights: &[u8]) {
    std::fs::write(dir.join("model.safetensors"), weights).expect("written");
    std::fs::write(dir.join("config.json"), "{}").expect("written");
    std::fs::write(dir.join("tokenizer.json"), "{\"shipped\":1}").expect("written");
}

/// An entry as a load would leave it: mistralrs's files, then commit.
fn written_entry(root: &Path, model: &Path, key: &CacheKey) -> PathBuf {
    let target = entry_dir(root, "m", Some(model), IsqChoice::Q8_0, "cpu");
    let pending = PendingCopy::begin(&target).expect("begun");
    let temp = pending.uqff_path().parent().expect("dir").to_path_buf();
    for (name, bytes) in [
        ("weights-0.uqff", &b"first"[..]),
        ("weights-1.uqff", b"second"),
        ("weights-10.uqff", b"tenth"),
        ("residual.safetensors", b"residual"),
        ("tokenizer.json", b"re-serialized"),
    ] {
        std::fs::write(temp.join(name), bytes).expect("written");
    }
    let (dir, bytes) = pending.commit(model, key).expect("committed");
    assert_eq!(dir, target);
    assert!(bytes > 0);
    dir
}

#[test]
fn an_entry_is_found_for_its_key_only_and_holds_the_shipped_tokenizer() {
    let model = tempfile::tempdir().expect("temp dir");
    let root = tempfile::tempdir().expect("temp dir");
    checkpoint(model.path(), b"weights");
    let key = CacheKey::of(model.path(), IsqChoice::Q8_0, "cpu").expect("key");
    let dir = written_entry(root.path(), model.path(), &key);

    let Some(Found::Copy(copy)) = lookup(&dir, &key).expect("readable") else {
        panic!("no copy found");
    };
    assert_eq!(
        copy.shards,
        ["weights-0.uqff", "weights-1.uqff", "weights-10.uqff"]
    );
    let tokenizer = std::fs::read_to_string(dir.join("tokenizer.json")).expect("copied");
    assert_eq!(tokenizer, "{\"shipped\":1}");
    assert!(!dir.join("model.safetensors").exists(), "weights stay out");
    // Nothing else in the root: the temporary directory became the entry.
    assert_eq!(std::fs::read_dir(root.path()).expect("root").count(), 1);

    let other_level = CacheKey::of(model.path(), IsqChoice::Q4k, "cpu").expect("key");
    assert!(lookup(&dir, &other_level).expect("readable").is_none());
    let other_device = CacheKey::of(model.path(), IsqChoice::Q8_0, "cuda").expect("key");
    assert!(lookup(&dir, &other_device).expect("readable").is_none());
    // Same size, written again: the modification time tells.
    checkpoint(model.path(), b"WEIGHTS");
    let changed = CacheKey::of(model.path(), IsqChoice::Q8_0, "cpu").expect("key");
    assert_ne!(changed, key);
    assert!(lookup(&dir, &changed).expect("readable").is_none());
}

#[test]
fn a_cut_short_or_missing_file_is_an_error_and_a_new_commit_replaces_the_entry() {
    let model = tempfile::tempdir().expect("temp dir");
    let root = tempfile::tempdir().expect("temp dir");
    checkpoint(model.path(), b"weights");
    let key = CacheKey::of(model.path(), IsqChoice::Q8_0, "cpu").expect("key");
    let dir = written_entry(root.path(), model.path(), &key);
    std::fs::write(dir.join("weights-1.uqff"), b"sec").expect("cut");
    let error = lookup(&dir, &key).expect_err("cut short");
    assert!(matches!(
        error,
        CacheError::Truncated {
            expected: 6,
            actual: 3,
            ..
        }
    ));
    std::fs::remove_file(dir.join("residual.safetensors")).expect("removed");
    assert!(matches!(lookup(&dir, &key), Err(CacheError::Read { .. })));

    let again = written_entry(root.path(), model.path(), &key);
    assert_eq!(again, dir);
    assert!(lookup(&dir, &key).expect("readable").is_some());
    assert_eq!(std::fs::read_dir(root.path()).expect("root").count(), 1);
}

#[test]
fn entries_differ_by_path_level_and_device() {
    let root = Path::new("/cache");
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    let entry = |dir: &Path, isq, device| entry_dir(root, "model", Some(dir), isq, device);
    let first = entry(a.path(), IsqChoice::Q4k, "cpu");
    assert_ne!(first, entry(b.path(), IsqChoice::Q4k, "cpu"));
    assert_ne!(first, entry(a.path(), IsqChoice::Q8_0, "cpu"));
    assert_ne!(first, entry(a.path(), IsqChoice::Q4k, "cuda"));
    assert_eq!(first, entry(a.path(), IsqChoice::Q4k, "cpu"));
    let hub = entry_dir(root, "zai-org/GLM-4.7-Flash", None, IsqChoice::Q4k, "cuda");
    let name = hub
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("GLM-4.7-Flash-") && name.ends_with("-q4k-cuda"),
        "{name}"
    );
}

#[test]
fn a_partial_entry_of_an_ended_process_is_removed() {
    let root = tempfile::tempdir().expect("temp dir");
    // No process has this id (above the kernel's pid_max).
    let abandoned = root.path().join(".partial-4194305-abc");
    std::fs::create_dir(&abandoned).expect("created");
    let live = root
        .path()
        .join(format!(".partial-{}-abc", std::process::id()));
    std::fs::create_dir(&live).expect("created");
    remove_abandoned(root.path());
    assert!(!abandoned.exists());
    assert!(live.exists());
}
