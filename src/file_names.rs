//! Names for glint's cache and data directories derived from a path: the
//! path's last component, kept readable but safe on every filesystem.

use std::path::Path;

/// `path`'s last component with every character other than ASCII letters,
/// digits, `-`, `_` and `.` replaced by `_` (empty when there is none).
/// Callers add a hash of the full path where two paths may share a name.
pub fn readable_file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
