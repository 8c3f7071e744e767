//! `baedal`: see `baedal --help`.

use anyhow::Context;
use baedal::config::Common;
use baedal::devserver;
use baedal::system::{ApiSpec, Endpoint, System, SystemConfig, TemporalSource, connect_temporal};
use baedal_activities::PaymentClient;
use baedal_api::{ApiRole, MetricsRender};
use clap::{Parser, Subcommand};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
#[command(
    name = "baedal",
    version,
    about = "Food-delivery ordering on durable Temporal workflows"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Role,
}

#[derive(Debug, Subcommand)]
enum BenchWhat {
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
    },
    /// Store board, rider board and `GET /v1/orders` over `baedal readmodel seed`'s orders.
    Boards {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value_t = 2000)]
        requests: u32,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// As given to `baedal readmodel seed`.
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
}

#[derive(Debug, Subcommand)]
enum ReadModelAction {
    /// Rebuild the orders view (`orders`, `order_events`) from the change log. Idempotent,
    /// and safe while the system runs.
    Rebuild,
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
    },
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Everything in one process on the embedded defaults: Temporal dev server (SQLite in the
    /// data dir, Web UI), read model, payment, notification, worker and api with a demo catalog.
    /// `--no-*` leaves a part out, to run it as a process of its own.
    Dev {
        #[arg(long)]
        no_worker: bool,
        #[arg(long)]
        no_api: bool,
        #[arg(long)]
        no_payment: bool,
        #[arg(long)]
        no_notify: bool,
    },
    /// The HTTP api only (needs Temporal, the read model and the services running).
    Api {
        /// Which endpoints to serve: order, store, rider or all.
        #[arg(long, env = "BAEDAL_API_ROLE", default_value = "all")]
        role: ApiRole,
    },
    /// The Temporal worker only (OrderWorkflow and its activities).
    Worker,
    /// The payment service only.
    Payment,
    /// The notification service only.
    Notify,
    /// Apply the migrations of every store (the read model at DATABASE_URL, the payment ledger
    /// at BAEDAL_PAYMENT_DATABASE_URL, the notification store at BAEDAL_NOTIFY_DATABASE_URL;
    /// SQLite or PostgreSQL each), and seed the demo catalog with --seed-demo. Every role also
    /// migrates its own store at start; this is the deploy step that does it first.
    Migrate {
        #[arg(long)]
        seed_demo: bool,
    },
    /// Measure the read side of a running `baedal dev` (see BENCHMARKS.md); prints JSON.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Read-model maintenance: rebuild the orders view, seed synthetic orders for benchmarks.
    Readmodel {
        #[command(subcommand)]
        action: ReadModelAction,
    },
    /// The codec server for the Temporal Web UI and CLI (`POST /encode`, `/decode`) on
    /// BAEDAL_CODEC_ADDR, with BAEDAL_PAYLOAD_KEY: run it beside whoever may read payloads and
    /// set the Web UI's codec endpoint to it. Anyone who can reach it can decode.
    CodecServer,
    /// Compare the payment ledger with the read model, and the read model with the order
    /// workflows (open ones and those closed within `--since`); print every mismatch and exit
    /// non-zero when there is one.
    Reconcile {
        /// Write the engine's view over each order where the read model drifted from it (a
        /// change never committed, or one never projected), then report what is left.
        #[arg(long)]
        repair: bool,
        /// How far back closed orders are compared with their workflows.
        #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
        since: Duration,
    },
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
    },
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutdown requested");
}

async fn bind(addr: &str, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("binding the {what} to {addr} (is it in use? set its BAEDAL_*_ADDR)")
    })
}

async fn serve(addr: &str, what: &str, app: axum::Router) -> anyhow::Result<()> {
    let listener = bind(addr, what).await?;
    tracing::info!("{what} listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Install the Prometheus recorder; the returned closure renders `/metrics`.
fn install_metrics() -> anyhow::Result<MetricsRender> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    Ok(Arc::new(move || handle.render()))
}

/// What a process without an HTTP door of its own (the worker) reports at `/readyz`.
type ReadyCheck =
    Arc<dyn Fn() -> futures::future::BoxFuture<'static, Vec<(&'static str, bool)>> + Send + Sync>;

/// Serve `/metrics` on BAEDAL_METRICS_ADDR for processes without an api; with `ready`, also
/// `/healthz` and `/readyz` there (the worker's probes).
fn spawn_metrics_server(c: &Common, render: MetricsRender, ready: Option<ReadyCheck>) {
    if let Some(addr) = c.metrics_addr.clone() {
        tokio::spawn(async move {
            let mut app = axum::Router::new().route(
                "/metrics",
                axum::routing::get(move || {
                    let render = render.clone();
                    async move { render() }
                }),
            );
            if let Some(ready) = ready {
                app = app
                    .route("/healthz", axum::routing::get(baedal_http::healthz))
                    .route(
                        "/readyz",
                        axum::routing::get(move || {
                            let ready = ready.clone();
                            async move { baedal_http::readiness(&ready().await) }
                        }),
                    );
            }
            if let Err(e) = serve(&addr, "metrics", app).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
    }
}

/// The read model and a Temporal client, as the api and worker roles need them.
async fn read_model_and_temporal(
    c: &Common,
) -> anyhow::Result<(baedal_readmodel::ReadModel, temporalio_client::Client)> {
    let read_model = baedal_readmodel::ReadModel::open(&c.database_url()).await?;
    let codec = c.payload_codec()?;
    let temporal = connect_temporal(
        &c.temporal_address(),
        &c.temporal_namespace,
        Duration::from_secs(60),
        Some(&codec),
    )
    .await?;
    Ok((read_model, temporal))
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

struct DevParts {
    worker: bool,
    api: bool,
    payment: bool,
    notify: bool,
}

async fn dev(c: Common, parts: DevParts, metrics: MetricsRender) -> anyhow::Result<()> {
    let temporal = match &c.temporal_address {
        Some(address) => TemporalSource::Existing {
            address: address.clone(),
        },
        None => TemporalSource::DevServer {
            cli: devserver::find_cli()?,
            port: c.temporal_port,
            ui_port: c.temporal_ui_port,
        },
    };
    let cfg = SystemConfig {
        data_dir: c.data_dir.clone(),
        database_url: c.database_url(),
        payment_database_url: c.payment_database_url(),
        notify_database_url: c.notify_database_url(),
        temporal,
        namespace: c.temporal_namespace.clone(),
        identity: c.identity(),
        payload_codec: c.dev_payload_codec()?,
        codec_server: Some(bind(&c.codec_addr, "codec server").await?),
        service_token: c.service_token.clone(),
        apis: if parts.api {
            vec![ApiSpec {
                listener: bind(&c.api_addr, "api").await?,
                timeouts: c.timeouts(),
                role: ApiRole::All,
                idempotency_window: c.idempotency_window,
                request_timeout: c.request_timeout,
                sse_heartbeat: c.sse_heartbeat,
            }]
        } else {
            vec![]
        },
        payment: if parts.payment {
            Endpoint::Serve(bind(&c.payment_addr, "payment service").await?)
        } else {
            Endpoint::External(c.payment_url())
        },
        hook_delivery: c.hook_delivery(),
        kakao: c.kakao()?,
        notify: if parts.notify {
            Endpoint::Serve(bind(&c.notify_addr, "notification service").await?)
        } else {
            Endpoint::External(c.notify_url())
        },
        worker: parts.worker,
        worker_settings: c.worker_settings(),
        breaker: c.breaker.settings()?,
        dev_mode: true,
        metrics: Some(metrics),
        stuck_after: c.stuck_after,
        idempotency_window: c.idempotency_window,
        temporal_ui: c.temporal_ui_url.clone(),
    };
    let mut system = System::start(cfg).await?;
    let api = system
        .api_urls
        .first()
        .cloned()
        .unwrap_or_else(|| format!("http://{} (not in this process)", c.api_addr));
    println!();
    println!("  baedal is running (data in {})", c.data_dir.display());
    println!("  api           {api}   (OpenAPI: {api}/openapi.json, metrics: {api}/metrics)");
    println!("  payment       {}", system.payment_url);
    println!("  notification  {}", system.notify_url);
    println!("  temporal      {}", system.temporal_address);
    if let Some(ui) = &system.temporal_ui {
        println!(
            "  temporal UI   {ui}   (payloads decoded by the codec server at http://{})",
            c.codec_addr
        );
    }
    println!();
    println!(
        "  get a token:  curl -s -XPOST {api}/v1/dev/tokens -H 'content-type: application/json' \\"
    );
    println!("                  -d '{{\"role\":\"customer\",\"sub\":\"alice\"}}'");
    println!("  roles: customer, store_owner (+ \"store_id\":\"st_1\"), rider, ops. Ctrl-C stops.");
    println!();
    tokio::select! {
        r = system.wait_for_failure() => {
            r?;
        }
        _ = shutdown_signal() => {}
    }
    system.shutdown().await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,temporalio_sdk_core=warn,temporalio_sdk=warn".into()),
        )
        .init();
    // One TLS crypto provider for every HTTPS client in the process (JWKS, webhooks, the
    // api's calls to the notification service), whatever the role.
    baedal_activities::install_crypto_provider();
    let cli = Cli::parse();
    let c = cli.common;
    let metrics = install_metrics()?;
    if matches!(
        cli.command,
        Role::Api { .. } | Role::Worker | Role::Payment | Role::Notify | Role::Reconcile { .. }
    ) {
        c.require_production_secrets()?;
    }
    if matches!(
        cli.command,
        Role::Api { .. } | Role::Worker | Role::Reconcile { .. } | Role::CodecServer
    ) {
        // Fail before touching anything: card data must never reach Temporal unsealed.
        c.payload_codec()?;
    }
    match cli.command {
        Role::Dev {
            no_worker,
            no_api,
            no_payment,
            no_notify,
        } => {
            let parts = DevParts {
                worker: !no_worker,
                api: !no_api,
                payment: !no_payment,
                notify: !no_notify,
            };
            dev(c, parts, metrics).await
        }
        Role::Api { role } => {
            let (read_model, temporal) = read_model_and_temporal(&c).await?;
            baedal::retention::check(
                &temporal,
                &c.temporal_namespace,
                c.idempotency_window,
                &c.timeouts(),
            )
            .await?;
            let feed = read_model
                .follow(baedal_readmodel::FollowSettings::default())
                .await?;
            let state = baedal_api::AppState::new(
                read_model,
                temporal,
                c.identity(),
                baedal_api::ApiConfig {
                    dev_mode: false,
                    timeouts: c.timeouts(),
                    token_ttl: Duration::from_secs(24 * 3600),
                    role,
                    metrics: Some(metrics),
                    stuck_after: c.stuck_after,
                    idempotency_window: c.idempotency_window,
                    temporal_ui: Some(c.temporal_ui_url()),
                    namespace: c.temporal_namespace.clone(),
                    request_timeout: c.request_timeout,
                    sse_heartbeat: c.sse_heartbeat,
                    hooks: Some(baedal_api::hooks::HookService {
                        url: c.notify_url(),
                        service_token: c.service_token.clone(),
                    }),
                },
                feed,
            );
            serve(&c.api_addr, "api", baedal_api::router(state)).await
        }
        Role::Worker => {
            let (read_model, temporal) = read_model_and_temporal(&c).await?;
            baedal::retention::check(
                &temporal,
                &c.temporal_namespace,
                c.idempotency_window,
                &c.timeouts(),
            )
            .await?;
            // Ready when it can take tasks and record what they do: Temporal and the read
            // model answer. Payment and notification outages are the activities' to retry.
            let ready: ReadyCheck = {
                let (rm, t) = (read_model.clone(), temporal.clone());
                Arc::new(move || {
                    let (rm, t) = (rm.clone(), t.clone());
                    Box::pin(async move {
                        vec![
                            ("read_model", rm.ping().await.is_ok()),
                            ("temporal", baedal_api::temporal_answers(&t).await),
                        ]
                    })
                })
            };
            spawn_metrics_server(&c, metrics, Some(ready));
            baedal_worker::serve(temporal, read_model, c.worker_role()?, shutdown_signal()).await
        }
        Role::Loadgen {
            concurrency,
            duration,
            json,
            baseline: true,
            baseline_upserts,
            ..
        } => {
            let report = baedal::baseline::run(
                &c.temporal_address(),
                &c.temporal_namespace,
                concurrency,
                duration,
                baedal_workflows::baseline::BaselineInput {
                    upsert_search_attributes: baseline_upserts,
                },
            )
            .await?;
            print_report(&report, json)
        }
        Role::Loadgen {
            api,
            concurrency,
            duration,
            json,
            query_reads,
            sweep,
            plot,
            place_only,
            sign_tokens,
            baseline: false,
            ..
        } => {
            let tokens = if sign_tokens {
                baedal::loadgen::Tokens::Signed(c.identity().keys().clone())
            } else {
                baedal::loadgen::Tokens::Dev
            };
            baedal_activities::install_crypto_provider();
            let temporal = if query_reads {
                Some(
                    connect_temporal(
                        &c.temporal_address(),
                        &c.temporal_namespace,
                        Duration::from_secs(10),
                        Some(&c.client_payload_codec()?),
                    )
                    .await?,
                )
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
                let report = baedal::loadgen::run(baedal::loadgen::Options {
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
                std::fs::write(&path, baedal::loadgen::plot_svg(&reports))?;
                eprintln!("plot written to {}", path.display());
            }
            Ok(())
        }
        Role::CodecServer => {
            let codec = c.payload_codec()?;
            let app = baedal_codec::server::router(codec, Some(&c.temporal_ui_url()));
            serve(&c.codec_addr, "codec server", app).await
        }
        Role::Reconcile { repair, since } => {
            let (read_model, temporal) = read_model_and_temporal(&c).await?;
            let payment = PaymentClient::new(c.payment_url(), c.service_token.clone());
            let opts = baedal::reconcile::Options { repair, since };
            let report = baedal::reconcile::run(&payment, &read_model, &temporal, opts).await?;
            print!("{report}");
            if !report.is_clean() {
                std::process::exit(1);
            }
            Ok(())
        }
        Role::Payment => {
            spawn_metrics_server(&c, metrics, None);
            std::fs::create_dir_all(&c.data_dir)?;
            let url = c.payment_database_url();
            let state =
                baedal_payment::PaymentState::open(&url, &c.service_token, c.identity()).await?;
            serve(
                &c.payment_addr,
                "payment service",
                baedal_payment::router(state),
            )
            .await
        }
        Role::Notify => {
            spawn_metrics_server(&c, metrics, None);
            std::fs::create_dir_all(&c.data_dir)?;
            let url = c.notify_database_url();
            let state = baedal_notification::NotifyState::open(
                &url,
                &c.service_token,
                c.identity(),
                c.hook_delivery(),
                c.kakao()?,
            )
            .await?;
            serve(
                &c.notify_addr,
                "notification service",
                baedal_notification::router(state),
            )
            .await
        }
        Role::Migrate { seed_demo } => {
            std::fs::create_dir_all(&c.data_dir)?;
            for (what, url, migrations) in [
                (
                    "read model",
                    c.database_url(),
                    baedal_readmodel::migrations(),
                ),
                (
                    "payment ledger",
                    c.payment_database_url(),
                    baedal_payment::migrations(),
                ),
                (
                    "notification store",
                    c.notify_database_url(),
                    baedal_notification::migrations(),
                ),
            ] {
                let shown = baedal_db::redact(&url);
                let settings = baedal_db::PoolSettings {
                    max_connections: 1,
                    ..Default::default()
                };
                baedal_db::open(&url, settings, &migrations)
                    .await
                    .with_context(|| format!("migrating the {what} at {shown}"))?;
                println!("{what} at {shown} is up to date");
            }
            if seed_demo {
                baedal_readmodel::ReadModel::open(&c.database_url())
                    .await?
                    .seed_demo_catalog()
                    .await?;
                println!("demo catalog seeded");
            }
            Ok(())
        }
        Role::Bench { what } => {
            baedal_activities::install_crypto_provider();
            let report = match what {
                BenchWhat::Reads {
                    api,
                    rate,
                    duration,
                    queries,
                } => {
                    let (address, namespace, codec) = (
                        c.temporal_address(),
                        c.temporal_namespace.clone(),
                        c.client_payload_codec()?,
                    );
                    let temporal = connect_temporal(
                        &address,
                        &namespace,
                        Duration::from_secs(10),
                        Some(&codec),
                    )
                    .await?;
                    baedal::bench::reads(
                        &api,
                        rate,
                        duration,
                        &temporal,
                        queries,
                        move || async move {
                            connect_temporal(
                                &address,
                                &namespace,
                                Duration::from_secs(10),
                                Some(&codec),
                            )
                            .await
                        },
                    )
                    .await?
                }
                BenchWhat::Boards {
                    api,
                    requests,
                    concurrency,
                    stores,
                    customers,
                    limit,
                    radius_km,
                } => {
                    baedal::bench::boards(
                        &api,
                        requests,
                        concurrency,
                        stores,
                        customers,
                        limit,
                        radius_km,
                    )
                    .await?
                }
                BenchWhat::Sse {
                    api,
                    subscribers,
                    orders,
                    pid,
                } => baedal::bench::sse(&api, subscribers, orders, pid).await?,
                BenchWhat::Hooks {
                    api,
                    hooks,
                    receiver_delay,
                    rate,
                    duration,
                } => {
                    baedal::bench_hooks::hooks(&api, hooks, receiver_delay, rate, duration).await?
                }
            };
            println!("{report}");
            Ok(())
        }
        Role::Readmodel { action } => {
            std::fs::create_dir_all(&c.data_dir)?;
            let rm = baedal_readmodel::ReadModel::open(&c.database_url()).await?;
            match action {
                ReadModelAction::Rebuild => {
                    let done = rm.rebuild().await?;
                    println!(
                        "rebuilt {} orders from {} changes in the log",
                        done.orders, done.changes
                    );
                }
                ReadModelAction::Seed {
                    orders,
                    stores,
                    customers,
                } => baedal::seed::synthetic_orders(&rm, orders, stores, customers).await?,
            }
            Ok(())
        }
    }
}
