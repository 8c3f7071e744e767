//! Harness for tests that run baedal's parts as separate `baedal` processes on one data dir,
//! the way a deployment runs them, so a test can stop or SIGKILL one part and start it again.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SERVICE_TOKEN: &str = "proc-service-token-0123456789abcdef";
/// The worker's credential at the payment service (charges and refunds).
pub const PAYMENT_TOKEN: &str = "proc-payment-token-0123456789abcdefgh";
pub const JWT_SECRET: &str = "proc-jwt-secret-0123456789abcdefghij";
/// The payload key every part of the cluster shares.
pub const PAYLOAD_KEY: &str = "procs:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

use baedal::devserver::free_local_port as free_port;

/// Free ports, none twice: each is free when chosen but bound only later, by a process, so
/// two choices could otherwise land on the same port (and one part answer for another).
fn distinct_ports(n: usize) -> Vec<u16> {
    let mut ports: Vec<u16> = Vec::with_capacity(n);
    while ports.len() < n {
        let p = free_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    ports
}

/// The parts a test can run, each a `baedal` process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// `baedal dev` with only the Temporal dev server (and the read-model migrations).
    Temporal,
    Payment,
    Notify,
    Worker,
    /// A second worker, for a rollout (its own metrics port; give it another `BAEDAL_BUILD_ID`
    /// with [`Cluster::set_env`] before starting it).
    NextWorker,
    Api,
    OrderApi,
    StoreApi,
    RiderApi,
}

pub struct Cluster {
    pub dir: PathBuf,
    env: Vec<(String, String)>,
    pub api: String,
    pub order_api: String,
    pub store_api: String,
    pub rider_api: String,
    pub payment: String,
    pub notify: String,
    /// The worker's `/healthz`, `/readyz` and `/metrics` (BAEDAL_METRICS_ADDR).
    pub worker_admin: String,
    ports: HashMap<Part, u16>,
    procs: HashMap<Part, Child>,
    /// Settings of one part only, over `env` ([`Cluster::set_part_env`]).
    part_env: HashMap<Part, Vec<(String, String)>>,
}

impl Cluster {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "baedal-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut fresh = distinct_ports(11).into_iter();
        let mut ports = HashMap::new();
        for p in [
            Part::Payment,
            Part::Notify,
            Part::Worker,
            Part::NextWorker,
            Part::Api,
            Part::OrderApi,
            Part::StoreApi,
            Part::RiderApi,
        ] {
            ports.insert(p, fresh.next().unwrap());
        }
        let temporal_port = fresh.next().unwrap();
        let (ui_port, codec_port) = (fresh.next().unwrap(), fresh.next().unwrap());
        let cli = baedal::devserver::find_cli().expect("temporal CLI (run ./scripts/test)");
        let env = vec![
            ("BAEDAL_DATA_DIR", dir.display().to_string()),
            // SQLite files in the data dir, or PostgreSQL under `scripts/with-postgres`.
            (
                "DATABASE_URL",
                baedal_db::scratch_url_in(&dir, "readmodel.db"),
            ),
            (
                "BAEDAL_PAYMENT_DATABASE_URL",
                baedal_db::scratch_url_in(&dir, "payment.db"),
            ),
            (
                "BAEDAL_NOTIFY_DATABASE_URL",
                baedal_db::scratch_url_in(&dir, "notify.db"),
            ),
            ("BAEDAL_TEMPORAL_PORT", temporal_port.to_string()),
            ("BAEDAL_TEMPORAL_UI_PORT", ui_port.to_string()),
            ("BAEDAL_TEMPORAL_CLI", cli.display().to_string()),
            (
                "BAEDAL_PAYMENT_ADDR",
                format!("127.0.0.1:{}", ports[&Part::Payment]),
            ),
            (
                "BAEDAL_NOTIFY_ADDR",
                format!("127.0.0.1:{}", ports[&Part::Notify]),
            ),
            ("BAEDAL_JWT_SECRET", JWT_SECRET.to_owned()),
            ("BAEDAL_SERVICE_TOKEN", SERVICE_TOKEN.to_owned()),
            ("BAEDAL_PAYMENT_TOKEN", PAYMENT_TOKEN.to_owned()),
            // The fault switches exist only when a role is started with this (tests, dev).
            ("BAEDAL_ENABLE_FAULT_INJECTION", "true".to_owned()),
            ("BAEDAL_PAYLOAD_KEY", PAYLOAD_KEY.to_owned()),
            ("BAEDAL_CODEC_ADDR", format!("127.0.0.1:{codec_port}")),
            ("BAEDAL_BREAKER_OPEN_FOR", "2s".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        // The tests drive one customer through hundreds of orders: limits a test reaches are
        // the abuse suite's business, not these (as in the shared test system).
        .chain(
            [
                "PLACE_ORDERS",
                "CARD_DECLINES",
                "COMMANDS",
                "LOCATION_REPORTS",
                "HOOK_CHANGES",
                "CATALOG_READS",
            ]
            .map(|l| (format!("BAEDAL_RATE_{l}"), "1000000/1s".to_owned())),
        )
        .chain(
            ["BAEDAL_STREAMS_PER_PRINCIPAL", "BAEDAL_STREAMS_PER_REPLICA"]
                .map(|k| (k.to_owned(), "100000".to_owned())),
        )
        .collect();
        let url = |p: Part| format!("http://127.0.0.1:{}", ports[&p]);
        Self {
            api: url(Part::Api),
            order_api: url(Part::OrderApi),
            store_api: url(Part::StoreApi),
            rider_api: url(Part::RiderApi),
            payment: url(Part::Payment),
            notify: url(Part::Notify),
            worker_admin: url(Part::Worker),
            dir,
            env,
            ports,
            procs: HashMap::new(),
            part_env: HashMap::new(),
        }
    }

    fn command(&self, part: Part) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_baedal"));
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(own) = self.part_env.get(&part) {
            cmd.envs(own.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let api = |cmd: &mut Command, port: u16, role: &str| {
            cmd.env("BAEDAL_API_ADDR", format!("127.0.0.1:{port}"))
                .args(["api", "--role", role]);
        };
        match part {
            Part::Temporal => {
                cmd.args([
                    "dev",
                    "--no-worker",
                    "--no-api",
                    "--no-payment",
                    "--no-notify",
                ]);
            }
            Part::Payment => {
                cmd.arg("payment");
            }
            Part::Notify => {
                cmd.arg("notify");
            }
            Part::Worker | Part::NextWorker => {
                cmd.env(
                    "BAEDAL_METRICS_ADDR",
                    format!("127.0.0.1:{}", self.ports[&part]),
                )
                .arg("worker");
            }
            Part::Api => api(&mut cmd, self.ports[&Part::Api], "all"),
            Part::OrderApi => api(&mut cmd, self.ports[&Part::OrderApi], "order"),
            Part::StoreApi => api(&mut cmd, self.ports[&Part::StoreApi], "store"),
            Part::RiderApi => api(&mut cmd, self.ports[&Part::RiderApi], "rider"),
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{part:?}.log").to_lowercase()))
            .unwrap();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        cmd
    }

    /// The value of setting `key` the parts are started with (`DATABASE_URL`, ...).
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Set `key` for every part started from now on.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Set `key` for `part` alone, from its next start on (over what [`Self::set_env`] set).
    pub fn set_part_env(&mut self, part: Part, key: &str, value: &str) {
        let own = self.part_env.entry(part).or_default();
        own.retain(|(k, _)| k != key);
        own.push((key.to_owned(), value.to_owned()));
    }

    /// Start `part` (no-op when it is running).
    pub fn start(&mut self, part: Part) {
        if self.running(part) {
            return;
        }
        let child = self.command(part).spawn().expect("spawn baedal");
        self.procs.insert(part, child);
    }

    pub fn running(&mut self, part: Part) -> bool {
        match self.procs.get_mut(&part) {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// SIGKILL `part`: no shutdown, no draining.
    pub fn kill(&mut self, part: Part) {
        if let Some(mut c) = self.procs.remove(&part) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM `part` and wait for it to exit.
    pub fn stop(&mut self, part: Part) {
        if let Some(mut c) = self.procs.remove(&part) {
            // SAFETY: signalling our own child.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP `part` and every process under it (for `Temporal`, the dev server itself): it
    /// keeps its sockets open and answers nothing, as a hung dependency does.
    pub fn pause(&self, part: Part) {
        self.signal_tree(part, libc::SIGSTOP);
    }

    /// SIGCONT what [`Cluster::pause`] stopped.
    pub fn resume(&self, part: Part) {
        self.signal_tree(part, libc::SIGCONT);
    }

    fn signal_tree(&self, part: Part, signal: i32) {
        let root = self.procs.get(&part).expect("part running").id();
        let mut todo = vec![root];
        while let Some(pid) = todo.pop() {
            // SAFETY: signalling our own child or one of its descendants.
            unsafe {
                libc::kill(pid as i32, signal);
            }
            for task in std::fs::read_dir(format!("/proc/{pid}/task"))
                .into_iter()
                .flatten()
            {
                let children = task
                    .ok()
                    .and_then(|t| std::fs::read_to_string(t.path().join("children")).ok())
                    .unwrap_or_default();
                todo.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
    }

    /// Start `baedal <args>` with the cluster's settings and return it running (its output in
    /// `<dir>/<name>.log`).
    pub fn spawn(&self, name: &str, args: &[&str]) -> Child {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        Command::new(env!("CARGO_BIN_EXE_baedal"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn baedal")
    }

    /// Restart parts that exited on their own (a supervisor, as Kubernetes would be).
    pub fn supervise(&mut self) {
        let parts: Vec<Part> = self.procs.keys().copied().collect();
        for p in parts {
            if !self.running(p) {
                self.procs.remove(&p);
                self.start(p);
            }
        }
    }

    /// Wait until `url`/healthz answers.
    pub async fn wait_healthy(&self, url: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let ok = reqwest::Client::new()
                .get(format!("{url}/healthz"))
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{url} not healthy after {secs}s; logs in {}",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Run `baedal <args>` to completion; (exit code, stdout).
    pub fn run(&self, args: &[&str]) -> (i32, String) {
        let out = self.output(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn output(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_baedal"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .output()
            .expect("run baedal")
    }
}

impl Cluster {
    /// Run `baedal <args>` to completion; (exit code, stderr): for what a part says when it
    /// refuses to start.
    pub fn run_stderr(&self, args: &[&str]) -> (i32, String) {
        let out = self.output(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Cluster {
    /// Stop every part, then remove the cluster's data dir (also when a test panicked).
    fn drop(&mut self) {
        let parts: Vec<Part> = self.procs.keys().copied().collect();
        for p in parts {
            self.kill(p);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A token as the deployment's identity provider would issue it: a separately run api serves
/// no `/v1/dev/tokens`, so the tests sign with the shared secret themselves.
pub fn token(role: &str, sub: &str, store: Option<&str>) -> String {
    baedal_auth::TokenKeys::new(JWT_SECRET).sign(&baedal_auth::Claims {
        sub: sub.into(),
        role: role.parse().unwrap(),
        store_id: store.map(Into::into),
        exp: jsonwebtoken_now() + 3600,
    })
}

fn jsonwebtoken_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
