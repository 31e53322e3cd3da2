//! The API fuzzed from its own description: schemathesis reads `/openapi.json` of a
//! running server and sends thousands of requests built from it — valid ones, and ones
//! that break the documented types, enums and required fields. It checks that nothing
//! answers 5xx, that bad input is refused, that every status code and body is one the
//! document declares (so the envelope and the error codes are as described), and that
//! operations needing a token refuse requests without one. Afterwards the server is
//! still healthy.
//!
//! What it does not check: that every request the document allows is accepted, since the
//! document does not state every rule (E.164 numbers, ranges of `limit`, formats of
//! dates in query strings); those rules have their own tests.
//!
//! Needs `schemathesis` on the PATH (`pip install schemathesis==4.32.5`) and says it was
//! skipped otherwise; `CALLVISOR_REQUIRE_SCHEMATHESIS` makes it required, as in CI.

mod common;

use callvisor::http::auth::Role;
use common::{spawn_app, Db};
use std::process::Command;

/// Examples per operation and phase: about 3,000 requests in all, some seconds.
const MAX_EXAMPLES: &str = "30";
/// A fixed seed, so a failure can be replayed.
const SEED: &str = "20261204";

fn installed() -> bool {
    common::tool_present(
        "schemathesis",
        "OpenAPI fuzz suite",
        "CALLVISOR_REQUIRE_SCHEMATHESIS",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_holds_to_its_own_description_under_fuzzing() {
    if !installed() {
        return;
    }
    let app = spawn_app(Db::Sqlite, &[]).await;
    let token = app.token(Role::SuperAdmin, None);
    let url = format!("{}/openapi.json", app.base);
    let report = common::scratch_dir("schemathesis");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .args(["--no-color", "run", &url])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--checks", "all"])
            // Valid by the document is not always valid by the API (see above).
            .args(["--exclude-checks", "positive_data_acceptance"])
            .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
            .args(["--workers", "2"])
            .current_dir(&report)
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("passed"), "{printed}");

    let health = app.send("GET", "/health", None, None).await;
    assert_eq!(health.status, 200, "the server survived the run");
    app.stop().await;
}
