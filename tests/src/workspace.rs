//! Paths inside the workspace: the workspace root, the target directory, the
//! function binaries, and the tools of the Python virtual environment.

use std::collections::HashMap;
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate lives inside the workspace").to_path_buf()
}

/// The profile directory of the target directory this test binary was built
/// into, e.g. `<workspace>/target/debug`.
///
/// Test executables live in `<target>/<profile>/deps/`, so the parent of the
/// running executable's directory is the profile directory; the function
/// binaries built with the same profile sit right there.
fn profile_dir() -> PathBuf {
    if let Ok(exe) = env::current_exe()
        && let Some(deps) = exe.parent()
        && deps.file_name().is_some_and(|n| n == "deps")
        && let Some(profile) = deps.parent()
    {
        return profile.to_path_buf();
    }
    // Not run from a cargo test binary: fall back to the default layout.
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { workspace_root().join(p) })
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug")
}

/// The cargo profile name matching [`profile_dir`] (`debug` means `dev`).
fn profile_name() -> String {
    let dir = profile_dir();
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "debug".into());
    if name == "debug" { "dev".into() } else { name }
}

/// Where a workspace binary built with this test's profile is expected:
/// `<target>/<profile>/<name>`. Does not check that it exists.
pub fn find_binary(name: &str) -> PathBuf {
    profile_dir().join(format!("{name}{}", env::consts::EXE_SUFFIX))
}

/// Builds the workspace binary `name` with the test's profile (`cargo build
/// --workspace --bin <name>`), once per test process and binary, and returns
/// its path.
///
/// `--workspace` keeps cargo's feature resolution the same as in a plain
/// `cargo build --workspace`, so the build reuses those artifacts and is a
/// no-op when they are up to date (under a second); `--bin` keeps other,
/// unrelated binaries out of it.
///
/// Environment overrides:
/// * `INTEGRATION_TESTS_BIN_DIR=<dir>`: run `<dir>/<name>` as is (e.g. a
///   release build); nothing is built.
/// * `INTEGRATION_TESTS_NO_BUILD=1`: nothing is built; the binary must exist
///   in the target directory already (`cargo build --workspace`).
///
/// # Panics
///
/// If the build fails or the binary is missing afterwards.
pub fn build_binary(name: &str) -> PathBuf {
    type Built = Arc<OnceLock<Result<(), String>>>;
    static BUILT: OnceLock<Mutex<HashMap<String, Built>>> = OnceLock::new();

    if let Some(dir) = env::var_os("INTEGRATION_TESTS_BIN_DIR").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(dir).join(format!("{name}{}", env::consts::EXE_SUFFIX));
        assert!(path.is_file(), "{} not found (INTEGRATION_TESTS_BIN_DIR)", path.display());
        return path;
    }
    let skip = env::var("INTEGRATION_TESTS_NO_BUILD").is_ok_and(|v| !v.is_empty() && v != "0");
    if !skip {
        let built: Built =
            BUILT.get_or_init(Default::default).lock().unwrap().entry(name.to_owned()).or_default().clone();
        let result = built.get_or_init(|| {
            let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            eprintln!("[harness] cargo build --workspace --bin {name} (once per test process)");
            let output = Command::new(cargo)
                .current_dir(workspace_root())
                .args(["build", "--workspace", "--bin", name, "--profile"])
                .arg(profile_name())
                .output()
                .map_err(|e| format!("cannot run cargo build: {e}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "cargo build --workspace --bin {name} failed ({}):\n{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
    let path = find_binary(name);
    assert!(path.is_file(), "function binary {} not found; run `cargo build --workspace` first", path.display());
    path
}

/// Finds an executable: the environment variable `var` if set, else
/// `<workspace>/.venv/bin/<name>`, else `<name>` itself (looked up on `PATH`
/// when spawned).
pub(crate) fn tool(var: &str, name: &str) -> PathBuf {
    if let Some(path) = env::var_os(var).filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    let venv = workspace_root().join(".venv").join("bin").join(name);
    if venv.is_file() {
        return venv;
    }
    PathBuf::from(name)
}
