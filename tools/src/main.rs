//! `baedal-bench`: see `baedal-bench --help` and BENCHMARKS.md.

use baedal::settings::{DataDir, Jwt, PayloadKey, ReadModelDb, Temporal};
use baedal::system::connect_temporal;
use baedal_tools::{baseline, bench, bench_hooks, delay_proxy, loadgen, projections, seed};
use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "baedal-bench",
    version,
    about = "Load generation and benchmarks for a running baedal (see BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where Temporal is, and the payload key to read orders through it (a `baedal dev`'s data
/// dir holds its key).
#[derive(Debug, clap::Args)]
struct TemporalClient {
    #[command(flatten)]
    temporal: Temporal,
    #[command(flatten)]
    data_dir: DataDir,
    #[command(flatten)]
    payload_key: PayloadKey,
}

impl TemporalClient {
    async fn connect(&self) -> anyhow::Result<temporalio_client::Client> {
        let codec = self.payload_key.client_codec(&self.data_dir)?;
        connect_temporal(
            &self.temporal.address(),
            &self.temporal.temporal_namespace,
            Duration::from_secs(10),
            Some(&codec),
        )
        .await
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drive full order lifecycles through a running api and report throughput and latency.
    Loadgen {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// Print one JSON object instead of the summary.
        #[arg(long)]
        json: bool,
        /// Also read every order through a Temporal query (TEMPORAL_ADDRESS or the dev server
        /// port) to compare with the read model.
        #[arg(long)]
        query_reads: bool,
        /// Run once per concurrency in this list (e.g. 8,32,128) instead of --concurrency.
        #[arg(long, value_delimiter = ',')]
        sweep: Vec<usize>,
        /// Only place orders and leave them open (memory with many orders in flight).
        #[arg(long)]
        place_only: bool,
        /// With --sweep: draw lifecycles/s and place-order p99 against concurrency into this SVG.
        #[arg(long)]
        plot: Option<std::path::PathBuf>,
        /// Instead of baedal, run a minimal workflow of the same shape (update-with-start with
        /// one activity, then 7 updates) directly against Temporal (TEMPORAL_ADDRESS or the dev
        /// server port): the bare engine's figure.
        #[arg(long)]
        baseline: bool,
        /// With --baseline: each step also upserts a search attribute, as each order
        /// transition does (what that contract costs the engine by itself).
        #[arg(long, requires = "baseline")]
        baseline_upserts: bool,
        /// Sign the simulated users' tokens with BAEDAL_JWT_SECRET (and BAEDAL_JWT_ISSUER,
        /// BAEDAL_JWT_AUDIENCE) instead of asking /v1/dev/tokens, which only `baedal dev`
        /// serves: for driving a deployment (scripts/cluster-local).
        #[arg(long)]
        sign_tokens: bool,
        #[command(flatten)]
        temporal: TemporalClient,
        #[command(flatten)]
        jwt: Jwt,
    },
    /// `GET /v1/orders/{id}` at a fixed rate, beside a Temporal query of the same order.
    Reads {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// How many reads and Temporal queries, one at a time each, to compare the p50s of.
        #[arg(long, default_value_t = 500)]
        queries: u32,
        #[command(flatten)]
        temporal: TemporalClient,
    },
    /// Store board, rider board and `GET /v1/orders` over `baedal-bench seed`'s orders.
    Boards {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value_t = 2000)]
        requests: u32,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// As given to `baedal-bench seed`.
        #[arg(long, default_value_t = 1000)]
        stores: u32,
        #[arg(long, default_value_t = 10_000)]
        customers: u32,
        /// Page size asked of every board.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The rider board's radius.
        #[arg(long, default_value_t = 3.0)]
        radius_km: f64,
    },
    /// Store-stream subscribers and the delay from a command's answer to each one's event.
    Sse {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        #[arg(long, default_value_t = 20)]
        orders: u32,
        /// The api's process id, to report its resident memory.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Webhook deliveries to many hooks of a slow receiver: events/s and the delay from a
    /// command's answer to each delivery (`baedal dev` with BAEDAL_HOOKS_ALLOW_PRIVATE=1).
    Hooks {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value_t = 100)]
        hooks: usize,
        /// How long the receiver takes to answer each delivery.
        #[arg(long, default_value = "50ms", value_parser = humantime::parse_duration)]
        receiver_delay: Duration,
        /// Orders per second, each placed and accepted (two events).
        #[arg(long, default_value_t = 5.0)]
        rate: f64,
        #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
        duration: Duration,
    },
    /// Projections per second on PostgreSQL with many concurrent writers: the shipped path
    /// (frozen), the same without lock and notify, and this build's `ReadModel::project`, each
    /// on a fresh database (issue 20; `scripts/bench-projections` runs the whole matrix).
    Projections {
        /// A superuser's URL ($BAEDAL_TEST_POSTGRES_URL of `scripts/with-postgres`); each run
        /// creates and drops a database of its own beside it.
        #[arg(long, env = "BAEDAL_TEST_POSTGRES_URL")]
        database_url: String,
        /// Concurrent writers, one run per value (each with a pool of that many connections).
        #[arg(long, value_delimiter = ',', default_value = "16,64")]
        writers: Vec<usize>,
        /// Paths to measure, in this order, at each writer count.
        #[arg(
            long,
            value_delimiter = ',',
            value_enum,
            default_value = "shipped,lockfree,current"
        )]
        paths: Vec<projections::Path>,
        /// Measured time per run.
        #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// Run before each measured period, not counted.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        warmup: Duration,
        /// Orders each writer has in flight (rows spread over the tables' pages).
        #[arg(long, default_value_t = 4)]
        orders_per_writer: usize,
        /// Add this to every round trip between the writers and PostgreSQL (half each way),
        /// through an in-process delaying proxy (see `delay-proxy`). 0: the direct socket.
        #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
        delay: Duration,
        /// Keep each run's database afterwards.
        #[arg(long)]
        keep: bool,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// A TCP proxy adding a delay to every round trip (half each way, order and pipelining
    /// kept): what a database across the network adds, on one machine.
    DelayProxy {
        /// Where to accept connections.
        #[arg(long, default_value = "127.0.0.1:6543")]
        listen: String,
        /// Where to forward them (host:port).
        #[arg(long)]
        upstream: String,
        /// Added to every round trip: half to each direction.
        #[arg(long, default_value = "1ms", value_parser = humantime::parse_duration)]
        delay: Duration,
    },
    /// Add synthetic orders (most of them closed, some open, some waiting for a rider around
    /// Seoul) to the read model, for the board benchmarks. Not for a database with real orders.
    Seed {
        /// How many orders to add.
        #[arg(long)]
        orders: u64,
        /// Spread over this many stores (`st_bench_<n>`) ...
        #[arg(long, default_value_t = 1000)]
        stores: u32,
        /// ... and this many customers (`c_bench_<n>`).
        #[arg(long, default_value_t = 10_000)]
        customers: u32,
        #[command(flatten)]
        data_dir: DataDir,
        #[command(flatten)]
        db: ReadModelDb,
    },
}

/// Print a report as one JSON object or as the human summary.
fn print_report<R: serde::Serialize + std::fmt::Display>(
    report: &R,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    baedal::process::init();
    match Cli::parse().command {
        Command::Loadgen {
            concurrency,
            duration,
            json,
            baseline: true,
            baseline_upserts,
            temporal,
            ..
        } => {
            let report = baseline::run(
                &temporal.temporal.address(),
                &temporal.temporal.temporal_namespace,
                concurrency,
                duration,
                baseline::BaselineInput {
                    upsert_search_attributes: baseline_upserts,
                },
            )
            .await?;
            print_report(&report, json)
        }
        Command::Loadgen {
            api,
            concurrency,
            duration,
            json,
            query_reads,
            sweep,
            plot,
            place_only,
            sign_tokens,
            temporal,
            jwt,
            baseline: false,
            ..
        } => {
            let tokens = if sign_tokens {
                loadgen::Tokens::Signed(jwt.identity().keys().clone())
            } else {
                loadgen::Tokens::Dev
            };
            let temporal = if query_reads {
                Some(temporal.connect().await?)
            } else {
                None
            };
            let levels = if sweep.is_empty() {
                vec![concurrency]
            } else {
                sweep
            };
            let mut reports = Vec::new();
            for level in levels {
                let report = loadgen::run(loadgen::Options {
                    api: api.clone(),
                    concurrency: level.max(1),
                    duration,
                    progress: !json,
                    temporal: temporal.clone(),
                    place_only,
                    tokens: tokens.clone(),
                })
                .await?;
                print_report(&report, json)?;
                reports.push(report);
            }
            if let Some(path) = plot {
                std::fs::write(&path, loadgen::plot_svg(&reports))?;
                eprintln!("plot written to {}", path.display());
            }
            Ok(())
        }
        Command::Reads {
            api,
            rate,
            duration,
            queries,
            temporal,
        } => {
            let client = temporal.connect().await?;
            let report = bench::reads(&api, rate, duration, &client, queries, move || async move {
                temporal.connect().await
            })
            .await?;
            println!("{report}");
            Ok(())
        }
        Command::Boards {
            api,
            requests,
            concurrency,
            stores,
            customers,
            limit,
            radius_km,
        } => {
            let report = bench::boards(
                &api,
                requests,
                concurrency,
                stores,
                customers,
                limit,
                radius_km,
            )
            .await?;
            println!("{report}");
            Ok(())
        }
        Command::Sse {
            api,
            subscribers,
            orders,
            pid,
        } => {
            println!("{}", bench::sse(&api, subscribers, orders, pid).await?);
            Ok(())
        }
        Command::Hooks {
            api,
            hooks,
            receiver_delay,
            rate,
            duration,
        } => {
            let report = bench_hooks::hooks(&api, hooks, receiver_delay, rate, duration).await?;
            println!("{report}");
            Ok(())
        }
        Command::Projections {
            database_url,
            writers,
            paths,
            duration,
            warmup,
            orders_per_writer,
            delay,
            keep,
            json,
        } => {
            let report = projections::run(projections::Options {
                database_url,
                writers,
                paths,
                duration,
                warmup,
                orders_per_writer,
                delay: Some(delay),
                keep,
            })
            .await?;
            print_report(&report, json)
        }
        Command::DelayProxy {
            listen,
            upstream,
            delay,
        } => {
            use std::net::ToSocketAddrs;
            let upstream = upstream
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| anyhow::anyhow!("cannot resolve {upstream}"))?;
            let proxy = delay_proxy::start(listen.as_str(), upstream, delay)?;
            eprintln!(
                "delay-proxy: {} -> {upstream}, {delay:?} added per round trip ({:?} each way); Ctrl-C stops it",
                proxy.addr,
                delay / 2
            );
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Command::Seed {
            orders,
            stores,
            customers,
            data_dir,
            db,
        } => {
            data_dir.create()?;
            let rm = baedal_readmodel::ReadModel::open(&db.url(&data_dir)).await?;
            seed::synthetic_orders(&rm, orders, stores, customers).await
        }
    }
}
