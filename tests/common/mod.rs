//! Shared test setup: scripted-model files and throwaway workspaces.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A scripted-model file under `tests/scripts/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

/// A temporary directory holding a workspace `ws/` with `notes.txt`, and a
/// file `secret.txt` next to (outside) it.
pub struct Sandbox {
    pub dir: TempDir,
}

impl Sandbox {
    pub fn create() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("ws")).expect("mkdir ws");
        std::fs::write(
            dir.path().join("ws/notes.txt"),
            "Project notes\nThe launch code is 4242.\n",
        )
        .expect("write notes");
        std::fs::write(dir.path().join("secret.txt"), "top secret\n").expect("write secret");
        Sandbox { dir }
    }

    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    pub fn outside(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The glint binary, run in `workspace`.
pub fn glint(workspace: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_glint"));
    command.current_dir(workspace).env_remove("GLINT_MODEL");
    command
}

/// `--model script:NAME` for a script under tests/scripts.
pub fn model_arg(name: &str) -> String {
    format!("script:{}", script(name).display())
}
