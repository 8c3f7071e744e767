//! The web front end in a real browser: `web/e2e/run.mjs` (headless Debian Chromium driven by
//! playwright-core, axe-core in every page) against this test binary's own running baedal.
//! Each scenario plays the parties in their own browser profiles; the screenshots it takes go
//! to `docs/screenshots/`. `./scripts/install-test-tools` installs Chromium, the CJK fonts and
//! the npm packages.

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn every_party_uses_baedal_from_a_browser() {
    let sys = common::system();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let e2e = root.join("web/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium and web/e2e's npm packages: run ./scripts/install-test-tools"
    );
    let status = Command::new("node")
        .arg(e2e.join("run.mjs"))
        .args(["--api", &sys.api, "--payment", &sys.payment])
        .args(["--kakao", &sys.kakao_provider])
        .arg("--shots")
        .arg(root.join("docs/screenshots"))
        .args(
            std::env::var("BAEDAL_E2E_ONLY")
                .map(|o| vec!["--only".to_owned(), o])
                .unwrap_or_default(),
        )
        .status()
        .expect("node runs (Node.js 20 or later)");
    assert!(
        status.success(),
        "a browser scenario failed (its output is above; the system's log: {})",
        sys.log.display()
    );
}
