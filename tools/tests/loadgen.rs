//! `baedal loadgen` drives real lifecycles through the api and reports them without errors.

#[path = "../../cli/tests/common/mod.rs"]
mod common;

use baedal_tools::baseline::BaselineInput;
use std::time::Duration;

#[tokio::test]
async fn loadgen_runs_every_path_without_errors() {
    let s = common::system();
    let report = baedal_tools::loadgen::run(baedal_tools::loadgen::Options {
        api: s.api.clone(),
        concurrency: 4,
        duration: Duration::from_secs(4),
        progress: false,
        temporal: Some(s.temporal().await),
        place_only: false,
        tokens: baedal_tools::loadgen::Tokens::Dev,
    })
    .await
    .expect("loadgen runs");
    assert_eq!(
        report.errors,
        0,
        "{:?}; the system logged:\n{}",
        report.errors_by_kind,
        s.errors_logged(20)
    );
    assert_eq!(report.lost_in_flight, 0, "nothing was killed: {report}");
    assert!(report.completed >= 4, "{report}");
    assert!(
        report.completed_by_path.contains_key("complete"),
        "{report}"
    );
    assert!(report.place_p50_ms > 0.0 && report.place_p99_ms >= report.place_p50_ms);
    assert!(report.status_read_p99_ms > 0.0);
    assert!(report.query_read_p99_ms > 0.0, "query reads measured");
    let svg = baedal_tools::loadgen::plot_svg(&[report.clone(), report.clone()]);
    assert!(
        svg.starts_with("<svg") && svg.contains("polyline") && svg.trim_end().ends_with("</svg>")
    );
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "completed",
        "errors",
        "lifecycles_per_sec",
        "place_p50_ms",
        "place_p99_ms",
        "command_p99_ms",
        "status_read_p99_ms",
    ] {
        assert!(json.get(key).is_some(), "--json lacks {key}");
    }
}

#[tokio::test]
async fn engine_baseline_runs_against_the_same_temporal() {
    let s = common::system();
    let report = baedal_tools::baseline::run(
        &s.temporal_address,
        "default",
        2,
        Duration::from_secs(3),
        BaselineInput::default(),
    )
    .await
    .expect("baseline runs");
    assert_eq!(report.errors, 0, "{report}");
    assert!(report.completed >= 1, "{report}");
    assert!(report.place_p99_ms >= report.place_p50_ms && report.place_p50_ms > 0.0);
}

/// `--baseline-upserts`: every step upserts a search attribute, so the closed baseline
/// workflows are found by the last step's value.
#[tokio::test]
async fn engine_baseline_with_search_attribute_upserts() {
    let s = common::system();
    let report = baedal_tools::baseline::run(
        &s.temporal_address,
        "default",
        2,
        Duration::from_secs(3),
        BaselineInput {
            upsert_search_attributes: true,
        },
    )
    .await
    .expect("baseline runs");
    assert_eq!(report.errors, 0, "{report}");
    assert!(report.completed >= 1, "{report}");
    assert!(report.search_attribute_upserts);
    let found = s
        .visible_workflows(
            "WorkflowType = 'BaselineWorkflow' AND OrderStatus = 'step_7'",
            Duration::from_secs(10),
            |n| n as u64 >= report.completed,
        )
        .await as u64;
    assert!(found >= report.completed, "{found} of {report}");
}
