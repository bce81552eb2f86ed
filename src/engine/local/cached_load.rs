//! Loading a model through the quantized cache (see `quantized_cache`): a
//! copy made for these weights, level and device kind is loaded instead of
//! quantizing; otherwise the weights are quantized and, when there is room
//! for mistralrs to write them, kept for the next start. A copy that cannot
//! be used is reported in one line and rewritten; a copy that cannot be
//! written never fails the load.

use std::path::Path;

use mistralrs::Device;

use super::options::{self, LocalOptions, WeightsFrom};
use super::quantized_cache::{
    self, CacheKey, CachedCopy, Found, PendingCopy, QuantizedCache, QuantizedCacheUse,
};
use super::source::ModelSource;
use super::{MemoryCheck, memory};

/// Builds the model `options` name from `source` on `device`, through
/// `cache`. `memory` is the memory check the load passed, which also says
/// whether writing a copy fits; `note` shows a line of progress or a
/// warning.
pub(super) async fn build(
    source: &ModelSource,
    options: &LocalOptions,
    device: Device,
    cache: &QuantizedCache,
    memory: Option<&MemoryCheck>,
    note: &(dyn Fn(String) + Send + Sync),
) -> (anyhow::Result<mistralrs::Model>, QuantizedCacheUse) {
    let quantizing = options.isq.isq_type().is_some() && !matches!(source, ModelSource::Gguf(_));
    let root = match cache.root() {
        Some(root) if quantizing => root.to_path_buf(),
        _ => {
            let built = options::build(source, options, device, WeightsFrom::Checkpoint).await;
            return (built, QuantizedCacheUse::Unused);
        }
    };
    let kind = device_kind(&device);
    let checkpoint = source.local_dir();
    let target = quantized_cache::entry_dir(
        &root,
        &options.model,
        checkpoint.as_deref(),
        options.isq,
        kind,
    );
    let mut replaced = None;
    // A Hub model not downloaded yet has no files to key on: it is
    // quantized, and its copy keyed on the files the load fetched.
    if let Some(checkpoint) = &checkpoint {
        let found = CacheKey::of(checkpoint, options.isq, kind)
            .and_then(|key| quantized_cache::lookup(&target, &key));
        match found {
            Ok(Some(Found::Unwritable(reason))) => {
                note(format!(
                    "not keeping the quantized weights of {}: mistralrs could not write them ({reason}); delete {} to try again",
                    options.model,
                    target.display()
                ));
                let built = options::build(source, options, device, WeightsFrom::Checkpoint).await;
                return (built, QuantizedCacheUse::NotWritten { reason });
            }
            Ok(Some(Found::Copy(copy))) => {
                note(format!(
                    "loading {} (isq {}) from its quantized copy in {}",
                    options.model,
                    options.isq.name(),
                    target.display()
                ));
                match load_copy(source, options, &device, copy).await {
                    Ok(model) => return (Ok(model), QuantizedCacheUse::Read { dir: target }),
                    Err(error) => replaced = Some(error),
                }
            }
            Ok(None) => {}
            Err(error) => replaced = Some(error.to_string()),
        }
    }
    if let Some(reason) = &replaced {
        let line = format!(
            "warning: the quantized copy in {} is unusable ({reason}); quantizing again and rewriting it",
            target.display()
        );
        tracing::warn!("{line}");
        note(line);
    }
    if let Err(reason) = copy_room(memory, options, &root) {
        note(format!(
            "not keeping the quantized weights of {}: {reason}",
            options.model
        ));
        let built = options::build(source, options, device, WeightsFrom::Checkpoint).await;
        return (built, QuantizedCacheUse::NotWritten { reason });
    }
    let pending = match PendingCopy::begin(&target) {
        Ok(pending) => pending,
        Err(error) => {
            let reason = error.to_string();
            note(format!("not keeping the quantized weights: {reason}"));
            let built = options::build(source, options, device, WeightsFrom::Checkpoint).await;
            return (built, QuantizedCacheUse::NotWritten { reason });
        }
    };
    let writing = WeightsFrom::CheckpointWritingUqff(pending.uqff_path());
    let model = match options::build(source, options, device.clone(), writing).await {
        Ok(model) => model,
        Err(error) if memory::is_out_of_memory(&error.to_string()) => {
            let reason = error.to_string();
            return (Err(error), QuantizedCacheUse::NotWritten { reason });
        }
        Err(error) => {
            // The copy may be what failed (mistralrs writes it inside the
            // load): a load without it must not fail for that.
            let reason = first_line(&error.to_string());
            note(format!(
                "warning: loading {} while writing its quantized copy failed ({reason}); loading it without",
                options.model
            ));
            let built = options::build(source, options, device, WeightsFrom::Checkpoint).await;
            if built.is_ok()
                && let Some(dir) = source.local_dir()
                && let Ok(key) = CacheKey::of(&dir, options.isq, kind)
            {
                // The checkpoint loads: the copy was what failed. Later
                // starts skip it rather than load twice.
                let _ = pending.give_up(&key, &reason);
            }
            return (built, QuantizedCacheUse::NotWritten { reason });
        }
    };
    let committed = source
        .local_dir()
        .ok_or_else(|| "the checkpoint's files are not on this machine".to_string())
        .and_then(|dir| {
            let key = CacheKey::of(&dir, options.isq, kind).map_err(|e| e.to_string())?;
            pending.commit(&dir, &key).map_err(|e| e.to_string())
        });
    let used = match committed {
        Ok((dir, bytes)) => {
            note(format!(
                "kept the quantized weights ({}) in {} for later starts",
                memory::size(bytes),
                dir.display()
            ));
            QuantizedCacheUse::Written {
                dir,
                bytes,
                replaced,
            }
        }
        Err(reason) => {
            note(format!(
                "warning: the quantized weights were not kept: {reason}"
            ));
            QuantizedCacheUse::NotWritten { reason }
        }
    };
    (Ok(model), used)
}

/// Whether writing a copy fits: the memory mistralrs needs for a while to
/// serialize it, and the disk it takes.
fn copy_room(
    memory: Option<&MemoryCheck>,
    options: &LocalOptions,
    root: &Path,
) -> Result<(), String> {
    let Some(MemoryCheck { query, budget }) = memory else {
        return Ok(());
    };
    memory::copy_fits(query, budget, options.isq)?;
    let copy = query.weights.loaded_bytes(options.isq, budget.kind);
    disk_fits(root, copy)
}

/// Whether the disk holding `root` has room for a copy of about `bytes`
/// (with a tenth to spare): a copy that fills the disk would fail the load
/// it is written in. `Err` says what is missing; an unknown size does not
/// refuse.
fn disk_fits(root: &Path, bytes: u64) -> Result<(), String> {
    let Some(free) = free_disk(root) else {
        return Ok(());
    };
    let need = bytes + bytes / 10;
    if free < need {
        return Err(format!(
            "it needs about {} of disk in {} and {} is free",
            memory::size(need),
            root.display(),
            memory::size(free)
        ));
    }
    Ok(())
}

/// Bytes an unprivileged user may still write on the file system holding
/// `path` (or its nearest existing ancestor).
fn free_disk(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
        let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `c_path` is a valid C string and `stats` is written by
        // statvfs before it is read (only when it returns 0).
        let stats = unsafe {
            if libc::statvfs(c_path.as_ptr(), stats.as_mut_ptr()) != 0 {
                return None;
            }
            stats.assume_init()
        };
        Some((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = existing;
        None
    }
}

/// Loads `copy`; any failure, a panic inside mistralrs included, is its
/// one-line reason.
async fn load_copy(
    source: &ModelSource,
    options: &LocalOptions,
    device: &Device,
    copy: CachedCopy,
) -> Result<mistralrs::Model, String> {
    use futures::FutureExt;

    let weights = WeightsFrom::Uqff {
        dir: copy.dir,
        shards: copy.shards,
    };
    // A damaged file could trip an index inside mistralrs: a panic there is
    // a copy that cannot be read, not a crash.
    let loading = options::build(source, options, device.clone(), weights);
    match std::panic::AssertUnwindSafe(loading).catch_unwind().await {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(error)) => Err(first_line(&error.to_string())),
        Err(_) => Err("mistralrs panicked reading it".into()),
    }
}

/// `cpu`, `cuda` or `metal`: what the copy's layout depends on.
fn device_kind(device: &Device) -> &'static str {
    if device.is_cpu() {
        "cpu"
    } else if device.is_cuda() {
        "cuda"
    } else {
        "metal"
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
