//! The HTTP API end to end (through the router, without sockets): every endpoint, every error
//! class with its status and `field`, plans equal to the CLI's, and dynamic batching.

use std::time::Duration;

use assert_cmd::Command;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use flowopt::core::ValidationConfig;
use flowopt_server::{Server, ServerConfig};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn server(config: ServerConfig) -> Server {
    Server::new(config).expect("the server starts with the shipped weights")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = router
        .clone()
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}

async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, body) = call(router, "GET", uri, None, Body::empty()).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn post(router: &Router, uri: &str, body: &str) -> (StatusCode, Value) {
    let (status, body) = call(
        router,
        "POST",
        uri,
        Some("application/json"),
        body.to_string(),
    )
    .await;
    let value = serde_json::from_slice(&body).unwrap_or_else(|_| {
        panic!(
            "{uri}: not JSON: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )
    });
    (status, value)
}

/// The error body's status, code and field.
fn error(status: StatusCode, body: &Value) -> (u16, String, String) {
    let e = &body["error"];
    assert!(e["message"].is_string(), "no error message: {body}");
    (
        status.as_u16(),
        e["code"].as_str().unwrap_or("").to_string(),
        e["field"].as_str().unwrap_or("").to_string(),
    )
}

fn circle(robots: usize, seed: u64) -> String {
    let problem = flowopt::core::Scenario::Circle
        .generate(&flowopt::core::ScenarioConfig::new(robots).seed(seed))
        .unwrap();
    serde_json::to_string(&problem).unwrap()
}

#[test]
fn every_endpoint_answers() {
    let server = server(ServerConfig::default());
    let router = server.router();
    runtime().block_on(async {
        assert_eq!(get(&router, "/healthz").await.1["status"], "ok");
        assert_eq!(get(&router, "/readyz").await.1["status"], "ready");
        let (_, planners) = get(&router, "/v1/planners").await;
        let names: Vec<&str> = planners
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["flowopt", "filter", "scp", "orca", "straight"]);
        let (_, scenarios) = get(&router, "/v1/scenarios").await;
        assert_eq!(scenarios.as_array().unwrap().len(), 6);
        let (status, problem) = get(&router, "/v1/scenarios/warehouse?robots=5&seed=2").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(problem["robots"].as_array().unwrap().len(), 5);
        // The generated problem plans as it is.
        let (status, plan) = post(&router, "/v1/plan?planner=straight", &problem.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{plan}");
        assert_eq!(plan["planner"], "straight");
        // Alternatives: every feasible candidate, the plan's first.
        let (status, plan) = post(
            &router,
            "/v1/plan?return_candidates=true&candidates=4",
            &circle(4, 1),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{plan}");
        let candidates = plan["candidates"].as_array().unwrap();
        assert_eq!(
            candidates.len() as f64,
            plan["info"]["feasible_candidates"].as_f64().unwrap()
        );
        assert!(candidates.len() > 1, "{}", candidates.len());
        assert_eq!(candidates[0]["trajectories"], plan["trajectories"]);
        // Polishing is on by default and off per request (seed 0 polishes: see
        // tests/shipped.rs).
        let warehouse = get(&router, "/v1/scenarios/warehouse?robots=16&seed=0")
            .await
            .1;
        for (uri, polished) in [("/v1/plan", 1.0), ("/v1/plan?polish_iterations=0", 0.0)] {
            let (status, plan) = post(&router, uri, &warehouse.to_string()).await;
            assert_eq!(status, StatusCode::OK, "{plan}");
            assert_eq!(plan["feasible"], true);
            assert_eq!(plan["info"]["polished"], polished, "{uri}");
        }
        // An open floor samples `OPEN_CANDIDATES` (2), at most `candidates`, and every
        // candidate when alternatives are asked for.
        for (uri, sampled) in [
            ("/v1/plan", 2.0),
            ("/v1/plan?candidates=8", 2.0),
            ("/v1/plan?candidates=1", 1.0),
            ("/v1/plan?candidates=3&return_candidates=true", 3.0),
        ] {
            let (status, plan) = post(&router, uri, &circle(4, 1)).await;
            assert_eq!(status, StatusCode::OK, "{plan}");
            assert_eq!(plan["info"]["candidates"], sampled, "{uri}");
        }
        let (status, openapi) = get(&router, "/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        for path in [
            "/v1/plan",
            "/v1/plan/batch",
            "/v1/scenarios/{name}",
            "/metrics",
        ] {
            assert!(openapi["paths"][path].is_object(), "{path} missing");
        }
        assert!(openapi["components"]["schemas"]["Problem"].is_object());
        let (status, metrics) = call(&router, "GET", "/metrics", None, Body::empty()).await;
        assert_eq!(status, StatusCode::OK);
        let metrics = String::from_utf8(metrics).unwrap();
        // The eight plans above.
        assert!(
            metrics.contains(
                "flowopt_http_requests_total{method=\"POST\",route=\"/v1/plan\",status=\"200\"} 8"
            ),
            "{metrics}"
        );
        assert!(metrics.contains("flowopt_http_request_duration_seconds_bucket"));
        for (uri, needle) in [
            ("/", "Flow-Opt visualizer"),
            ("/app.js", "requestAnimationFrame"),
            ("/style.css", "canvas"),
            ("/docs", "openapi.json"),
        ] {
            let (status, body) = call(&router, "GET", uri, None, Body::empty()).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert!(String::from_utf8(body).unwrap().contains(needle), "{uri}");
        }
    });
}

#[test]
fn every_error_class_has_its_status_code_and_field() {
    let config = ServerConfig {
        max_body_bytes: 64 << 10,
        limits: ValidationConfig {
            max_robots: 10,
            ..ServerConfig::default().limits
        },
        cpu_workers: 1,
        ..Default::default()
    };
    let server = server(config);
    let router = server.router();
    let ok = circle(4, 0);
    runtime().block_on(async {
        let robots = |r: &str| {
            format!(r#"{{"workspace":{{"min":[0,0],"max":[4,4]}},"robots":[{{"start":[1,1],"goal":[3,3]}},{r}]}}"#)
        };
        let cases: Vec<(String, String, (u16, &str, &str))> = vec![
            ("/v1/plan".into(), "{".into(), (400, "malformed", "problem")),
            (
                "/v1/plan".into(),
                robots(r#"{"start":[3,1]}"#),
                (400, "malformed", "robots[1].goal"),
            ),
            (
                "/v1/plan".into(),
                robots(r#"{"start":[1.1,1],"goal":[1,3]}"#),
                (422, "robots_overlap", "robots[1].start"),
            ),
            (
                "/v1/plan".into(),
                robots(r#"{"start":[3,1],"goal":[9,3]}"#),
                (422, "outside_workspace", "robots[1].goal"),
            ),
            ("/v1/plan".into(), circle(11, 0), (422, "too_many", "robots")),
            (
                "/v1/plan?planner=warp".into(),
                ok.clone(),
                (422, "out_of_range", "planner"),
            ),
            (
                "/v1/plan?candidates=65".into(),
                ok.clone(),
                (422, "out_of_range", "candidates"),
            ),
            // Tuning constants are not query options: refused by name, not ignored.
            (
                "/v1/plan?polish_smoothing=-1".into(),
                ok.clone(),
                (400, "malformed", "polish_smoothing"),
            ),
            (
                "/v1/plan?candidates=2&open_candidates=1".into(),
                ok.clone(),
                (400, "malformed", "open_candidates"),
            ),
            (
                "/v1/plan?flow_steps=101".into(),
                ok.clone(),
                (422, "out_of_range", "flow_steps"),
            ),
            (
                "/v1/plan?planner=scp&candidates=1".into(),
                ok.clone(),
                (422, "out_of_range", "planner"),
            ),
            (
                "/v1/plan?planner=orca&polish_iterations=100".into(),
                ok.clone(),
                (422, "out_of_range", "planner"),
            ),
            (
                "/v1/plan?polish_iterations=10001".into(),
                ok.clone(),
                (422, "out_of_range", "polish_iterations"),
            ),
            (
                "/v1/plan?planner=orca&return_candidates=true".into(),
                ok.clone(),
                (422, "out_of_range", "planner"),
            ),
            (
                "/v1/plan?seed=minus-one".into(),
                ok.clone(),
                (400, "malformed", "seed"),
            ),
            (
                "/v1/plan?planner=orca&format=vda5050".into(),
                ok.clone(),
                (422, "out_of_range", "format"),
            ),
            (
                "/v1/plan/batch".into(),
                format!(r#"{{"problems":[{ok},{}]}}"#, robots(r#"{"start":[1.1,1],"goal":[1,3]}"#)),
                (422, "robots_overlap", "problems[1].robots[1].start"),
            ),
            (
                "/v1/plan/batch".into(),
                r#"{"problems":[]}"#.into(),
                (422, "out_of_range", "problems"),
            ),
        ];
        for (uri, body, expected) in cases {
            let (status, value) = post(&router, &uri, &body).await;
            let got = error(status, &value);
            assert_eq!(
                (got.0, got.1.as_str(), got.2.as_str()),
                expected,
                "{uri} {body}"
            );
        }
        // 413: a body over the limit.
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 << 10));
        let (status, value) = post(&router, "/v1/plan", &big).await;
        assert_eq!(error(status, &value).0, 413, "{value}");
        // 415: not JSON.
        let (status, body) = call(&router, "POST", "/v1/plan", Some("text/plain"), ok.clone()).await;
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error(status, &value), (415, "unsupported_media_type".into(), "content-type".into()));
        // 404: unknown scenario and route.
        let (status, value) = get(&router, "/v1/scenarios/maze").await;
        assert_eq!(error(status, &value).0, 404);
        let (status, value) = get(&router, "/v2/plan").await;
        assert_eq!(error(status, &value).0, 404);
        // Generated scenarios obey the same limits.
        let (status, value) = get(&router, "/v1/scenarios/obstacles?obstacles=100000").await;
        assert_eq!(error(status, &value), (422, "too_many".into(), "obstacles".into()));
        let (status, value) = get(&router, "/v1/scenarios/circle?robots=11").await;
        assert_eq!(error(status, &value), (422, "too_many".into(), "robots".into()));
        // Unknown query options are refused by name, not ignored (a misspelt `robot=4`).
        let (status, value) = get(&router, "/v1/scenarios/circle?robot=4").await;
        assert_eq!(error(status, &value), (400, "malformed".into(), "robot".into()));
        // 429: every CPU planner slot is busy (held here as a running plan would hold it).
        let held = server.state().cpu_slots.clone().try_acquire_owned().unwrap();
        let (status, value) = post(&router, "/v1/plan?planner=straight", &ok).await;
        assert_eq!(error(status, &value), (429, "busy".into(), String::new()));
        drop(held);
        assert_eq!(post(&router, "/v1/plan?planner=straight", &ok).await.0, StatusCode::OK);
        // 504: a deadline shorter than the batching window.
        let (status, value) = post(&router, "/v1/plan?planner=filter&deadline_ms=1", &circle(8, 3)).await;
        assert_eq!(error(status, &value).0, 504, "{value}");
        // 503: shutting down.
        server.state().ready.store(false, std::sync::atomic::Ordering::SeqCst);
        let (status, value) = post(&router, "/v1/plan", &ok).await;
        assert_eq!(error(status, &value).0, 503);
        assert_eq!(get(&router, "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    });
}

#[test]
fn an_http_plan_equals_the_cli_plan() {
    let problem = circle(6, 4);
    let dir = std::env::temp_dir().join(format!("flowopt-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("circle.json");
    std::fs::write(&path, &problem).unwrap();
    let out = Command::cargo_bin("flowopt")
        .unwrap()
        .args([
            "plan",
            path.to_str().unwrap(),
            "--seed",
            "3",
            "--format",
            "vda5050",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    let router = server(ServerConfig::default()).router();
    let (status, http) =
        runtime().block_on(post(&router, "/v1/plan?seed=3&format=vda5050", &problem));
    assert_eq!(status, StatusCode::OK, "{http}");
    assert_eq!(http["planner"], "flowopt");
    assert_eq!(http["trajectories"], cli["trajectories"]);
    assert_eq!(http["metrics"], cli["metrics"]);
    assert_eq!(http["vda5050"], cli["vda5050"]);
    assert_eq!(http["vda5050"]["trajectories"].as_array().unwrap().len(), 6);
}

/// A full inference queue sheds load with 429 instead of growing: with room for one waiting
/// plan and batches of one, the third of three problems queued at once finds the queue full
/// (the worker holds at most one plan and the queue one more).
#[test]
fn a_full_queue_answers_429() {
    let config = ServerConfig {
        queue_capacity: 1,
        max_batch: 1,
        ..Default::default()
    };
    let router = server(config).router();
    let body = format!(
        r#"{{"problems":[{},{},{}]}}"#,
        circle(8, 0),
        circle(8, 1),
        circle(8, 2)
    );
    let (status, value) = runtime().block_on(post(&router, "/v1/plan/batch", &body));
    assert_eq!(error(status, &value), (429, "busy".into(), String::new()));
    // The server recovers once the queue drains (the refused batch's queued jobs are skipped).
    let recovered = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        runtime()
            .block_on(post(&router, "/v1/plan", &circle(4, 0)))
            .0
            == StatusCode::OK
    });
    assert!(recovered, "still refusing plans after 5 s");
}

/// The largest difference between two JSON documents of the same shape (numbers compared,
/// everything else equal), infinite when the shapes differ.
fn largest_difference(a: &Value, b: &Value) -> f64 {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => (x.as_f64().unwrap() - y.as_f64().unwrap()).abs(),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .map(|(x, y)| largest_difference(x, y))
            .fold(0.0, f64::max),
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => x
            .iter()
            .map(|(k, v)| y.get(k).map_or(f64::INFINITY, |w| largest_difference(v, w)))
            .fold(0.0, f64::max),
        (x, y) if x == y => 0.0,
        _ => f64::INFINITY,
    }
}

/// Concurrent requests share batched planner calls and get the plans they get one at a time
/// (up to f32 rounding: the batched matrix products block differently with the batch size).
#[test]
fn concurrent_requests_are_batched_and_get_the_sequential_answers() {
    let config = ServerConfig {
        batch_window: Duration::from_millis(20),
        ..Default::default()
    };
    let router = server(config).router();
    let problems: Vec<(String, u64)> = (0..32)
        .map(|i| {
            let scenario = if i % 2 == 0 { "circle" } else { "crossing" };
            let problem = format!("/v1/scenarios/{scenario}?robots={}&seed={i}", 3 + i % 4);
            (problem, i as u64 % 5)
        })
        .collect();
    runtime().block_on(async {
        let mut bodies = Vec::new();
        for (uri, _) in &problems {
            bodies.push(get(&router, uri).await.1.to_string());
        }
        let mut sequential = Vec::new();
        for (body, (_, seed)) in bodies.iter().zip(&problems) {
            let (status, plan) = post(&router, &format!("/v1/plan?seed={seed}"), body).await;
            assert_eq!(status, StatusCode::OK, "{plan}");
            sequential.push(plan);
        }
        let tasks: Vec<_> = bodies
            .iter()
            .zip(&problems)
            .map(|(body, (_, seed))| {
                let (router, body, uri) = (
                    router.clone(),
                    body.clone(),
                    format!("/v1/plan?seed={seed}"),
                );
                tokio::spawn(async move { post(&router, &uri, &body).await })
            })
            .collect();
        let mut largest = 0.0f64;
        for (task, alone) in tasks.into_iter().zip(&sequential) {
            let (status, plan) = task.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{plan}");
            assert_eq!(plan["feasible"], alone["feasible"]);
            assert_eq!(plan["info"]["iterations"], alone["info"]["iterations"]);
            let diff = largest_difference(&plan["trajectories"], &alone["trajectories"]);
            assert!(diff < 1e-4, "batched plan differs by {diff}");
            largest = largest.max(plan["info"]["batch"].as_f64().unwrap());
        }
        assert!(largest > 1.0, "no two requests shared a batch");
        // The batch endpoint gives the same plans too.
        let body = format!(r#"{{"problems":[{},{}]}}"#, bodies[0], bodies[5]);
        let (status, batch) = post(&router, "/v1/plan/batch?seed=0", &body).await;
        assert_eq!(status, StatusCode::OK, "{batch}");
        for (plan, alone) in [(0, 0), (1, 5)] {
            let diff = largest_difference(
                &batch["plans"][plan]["trajectories"],
                &sequential[alone]["trajectories"],
            );
            assert!(diff < 1e-4, "batch endpoint plan differs by {diff}");
        }
        let (_, metrics) = call(&router, "GET", "/metrics", None, Body::empty()).await;
        assert!(
            String::from_utf8(metrics)
                .unwrap()
                .contains("flowopt_batch_size_count")
        );
    });
}

mod agents;
