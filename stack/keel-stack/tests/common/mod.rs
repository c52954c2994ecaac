//! What the process-level tests share: where the repository and the built binaries are.

#![allow(clippy::unwrap_used, dead_code)] // test code; each test uses what it needs

use std::path::{Path, PathBuf};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory cargo put the binaries in (a test runs from its `deps/`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_owned()
}
