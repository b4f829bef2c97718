//! `tollgate serve`'s demo page in a real browser: the binary in development mode on
//! 127.0.0.1 (port 0, address read from its banner) and headless Debian Chromium driven by
//! `playwright-core` (`tests/js/browser.mjs`, see its header for the scenarios: chat and
//! presence across two browser contexts, token by query and by subprotocol, in-band
//! refresh, kick, expired and invalid tokens shown with their reason).
//!
//! Needs `/usr/bin/chromium` (or `TOLLGATE_CHROMIUM`) and `tests/js/node_modules`, both
//! installed by `scripts/install-test-deps.sh`; without them the test fails, it does not
//! skip. On failure the driver leaves screenshots and page text in `target/browser-test/`.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The whole browser run (it takes about 12 s on an idle machine).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(50);
/// Login tokens this short are refreshed (and expire) within the run.
const LOGIN_TOKEN_SECS: &str = "6";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A child process in its own process group, ended with the group on drop: SIGTERM first
/// (Playwright then closes Chromium, which it runs in a process group of its own), SIGKILL
/// after a grace period.
struct Group(Child);

impl Group {
    fn spawn(command: &mut Command) -> Self {
        let child = command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        Self(child)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // Signals go only to a group whose leader is still unreaped (so its id is ours).
        let group = format!("-{}", self.0.id());
        let running = |child: &mut Child| matches!(child.try_wait(), Ok(None));
        if running(&mut self.0) {
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let grace = Instant::now() + Duration::from_secs(3);
            while running(&mut self.0) && Instant::now() < grace {
                std::thread::sleep(Duration::from_millis(50));
            }
            if running(&mut self.0) {
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            }
        }
        let _ = self.0.wait();
    }
}

/// Starts `tollgate serve` in development mode; returns it and its `http://` base URL.
fn start_serve() -> (Group, String) {
    let mut serve = Group::spawn(
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--leeway", "0"])
            .args(["--login-token-secs", LOGIN_TOKEN_SECS])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let stdout = serve.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split("listening on ")
                .nth(1)
                .map(|url| url.trim().to_owned())
        })
        .expect("no banner from tollgate serve");
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (serve, base)
}

fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[test]
fn demo_page_works_in_headless_chromium() {
    let chromium =
        std::env::var("TOLLGATE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/install-test-deps.sh (Debian package chromium)"
    );
    let modules = repo().join("tests/js/node_modules/playwright-core");
    assert!(
        modules.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        modules.display()
    );
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("browser-test");
    let _ = std::fs::remove_dir_all(&out_dir);

    let (_serve, base) = start_serve();
    let mut driver = Group::spawn(
        Command::new(std::env::var("TOLLGATE_NODE").unwrap_or_else(|_| "node".into()))
            .arg(repo().join("tests/js/browser.mjs"))
            .arg(&base)
            .arg(&out_dir)
            .env("TOLLGATE_CHROMIUM", &chromium)
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stdout = collect(driver.0.stdout.take().unwrap());
    let stderr = collect(driver.0.stderr.take().unwrap());

    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = driver.0.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(driver);
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    print!("{stdout}");
    eprint!("{stderr}");
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!(
            "browser scenarios failed ({status}); screenshots and page text in {}",
            out_dir.display()
        ),
        None => panic!("browser scenarios took over {BROWSER_TIMEOUT:?}"),
    }
    for scenario in ["chat", "refresh", "kick", "expired", "invalid"] {
        assert!(
            stdout.contains(&format!("ok {scenario}")),
            "scenario {scenario} did not report ok"
        );
    }
}
