//! The real WebSocket clients the interop tests drive (`tests/ws-interop/steps.py` with
//! Python `websockets`, `steps.mjs` with Node `ws`), and whether each can run here.

use std::path::PathBuf;
use std::process::Command;

use super::provider::repo;
use super::{run, try_run};

/// A client implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Python `websockets` (from `.venv`).
    Python,
    /// Node `ws` (from `tests/js/node_modules`).
    Node,
}

/// The Python with `websockets`: `TOLLGATE_PYTHON`, or the repository's `.venv`.
pub fn python() -> String {
    std::env::var("TOLLGATE_PYTHON")
        .unwrap_or_else(|_| repo().join(".venv/bin/python").display().to_string())
}

/// The Node binary: `TOLLGATE_NODE`, or `node` on the `PATH`.
pub fn node() -> String {
    std::env::var("TOLLGATE_NODE").unwrap_or_else(|_| "node".into())
}

/// Why `peer` cannot run here, if it cannot.
pub fn problem(peer: Peer) -> Option<String> {
    let probe = match peer {
        Peer::Python => Command::new(python())
            .args(["-c", "import websockets"])
            .output(),
        Peer::Node => {
            let module: PathBuf = repo().join("tests/js/node_modules/ws");
            if !module.is_dir() {
                return Some(format!("{} is missing", module.display()));
            }
            Command::new(node()).arg("--version").output()
        }
    };
    match probe {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        Err(e) => Some(format!("cannot start {peer:?}: {e}")),
    }
}

/// The clients that can run; a missing one fails the test under `CI=true`.
pub fn peers() -> Vec<Peer> {
    [Peer::Python, Peer::Node]
        .into_iter()
        .filter(|&peer| match problem(peer) {
            None => true,
            Some(problem) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("{peer:?} client unavailable under CI=true: {problem}")
            }
            Some(problem) => {
                eprintln!(
                    "skipping the {peer:?} client ({problem}); run scripts/install-test-deps.sh"
                );
                false
            }
        })
        .collect()
}

/// Whether Node runs and the npm `modules` are in `tests/js/node_modules`; missing is a
/// failure under `CI=true`, else `what` is reported skipped.
pub fn node_with(modules: &[&str], what: &str) -> bool {
    let dir = repo().join("tests/js/node_modules");
    let installed = modules.iter().all(|m| dir.join(m).is_dir());
    let node_runs = try_run(Command::new(node()).arg("--version"), b"").is_ok_and(|r| r.code == 0);
    if installed && node_runs {
        return true;
    }
    let why = format!(
        "{what} skipped: {modules:?} in {}: {installed}, node runs: {node_runs} \
         (run scripts/install-test-deps.sh)",
        dir.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("{why}");
    false
}

/// Runs `tests/js/interop.mjs` (Node `jose`) with `args`; its trimmed output.
pub fn jose(args: &[&str]) -> String {
    let mut command = Command::new(node());
    command.arg(repo().join("tests/js/interop.mjs")).args(args);
    let out = run(&mut command, b"");
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout.trim_end().to_owned()
}
