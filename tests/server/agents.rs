//! The agent API end to end: the catalog, an agent's whole life (create -> observe -> train job
//! -> progress -> act -> evaluate -> save -> load gives identical actions), an external
//! environment that teaches an agent only through `observe` and checks it through `act`, and
//! the 4xx answers.

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use flowopt::rl::env::Bandit2d;
use flowopt::rl::{Dataset, EnvKind, Quality};
use serde_json::{Value, json};

use super::{call, error, get, post, runtime, server};

async fn delete(router: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, body) = call(router, "DELETE", uri, None, axum::body::Body::empty()).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Polls a job until it leaves `queued`/`running` (at most two minutes).
async fn finished(router: &Router, agent: &str, job: u64) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = get(router, &format!("/v1/agents/{agent}/jobs/{job}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if !matches!(body["state"].as_str(), Some("queued" | "running")) {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "job stuck: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Mean distance of the agent's actions to the nearest reward mode of the bandit, for `n`
/// observations with the noise seeded by `seed` (about 0.4 for an untrained flow; 0 for a
/// policy that always hits a mode).
async fn mode_distance(router: &Router, agent: &str, n: usize, seed: u64) -> f32 {
    let body = json!({"observations": vec![vec![1.0f32]; n], "seed": seed}).to_string();
    let (status, answer) = post(router, &format!("/v1/agents/{agent}/act"), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let actions = answer["actions"].as_array().unwrap();
    assert_eq!(actions.len(), n);
    actions
        .iter()
        .map(|a| {
            let a: Vec<f32> = serde_json::from_value(a.clone()).unwrap();
            assert_eq!(a.len(), 2);
            assert!(a.iter().all(|v| v.abs() <= 1.0), "{a:?}");
            let [cx, cy] = Bandit2d::MODES[Bandit2d::nearest_mode([a[0], a[1]])].0;
            (a[0] - cx).hypot(a[1] - cy)
        })
        .sum::<f32>()
        / n as f32
}

#[test]
fn an_agent_lives_from_creation_to_reloaded_checkpoint() {
    let dir = std::env::temp_dir().join(format!("flowopt-agents-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let router = server(flowopt_server::ServerConfig {
        agents_dir: Some(dir.clone()),
        ..Default::default()
    })
    .router();
    runtime().block_on(async {
        let (status, algorithms) = get(&router, "/v1/agents/algorithms").await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = algorithms
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "flow-bc",
                "fql",
                "qam",
                "gfp",
                "decision-flow",
                "fpmd-r",
                "fpmd-m",
                "swfp",
                "streaming-flow"
            ]
        );
        assert_eq!(algorithms[5]["online"], true);
        assert_eq!(algorithms[8]["streams"], true);
        assert_eq!(algorithms[0]["streams"], false);
        let (_, envs) = get(&router, "/v1/agents/environments").await;
        assert_eq!(envs.as_array().unwrap().len(), EnvKind::ALL.len());
        assert_eq!(envs[0]["name"], "pendulum");
        assert_eq!(envs[0]["observation_dim"], 3);

        // Create, for the built-in bandit.
        let (status, agent) = post(
            &router,
            "/v1/agents",
            r#"{"algorithm":"flow-bc","env":"bandit2d","config":{"hidden":[64,64],"flow_steps":6,"learning_rate":1e-3},"seed":1}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{agent}");
        let id = agent["id"].as_str().unwrap().to_string();
        assert_eq!(agent["calls_per_action"], 6);
        assert_eq!(agent["trainable"], true);
        let before = mode_distance(&router, &id, 400, 5).await;

        // A collected-dataset job, polled to the end.
        let (status, job) = post(
            &router,
            &format!("/v1/agents/{id}/train"),
            r#"{"dataset":{"source":"collect","quality":"expert","episodes":300},
               "steps":2000,"batch_size":128,"eval_every":200,"eval_episodes":20,"final_episodes":50}"#,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let done = finished(&router, &id, job["id"].as_u64().unwrap()).await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["step"], 2000);
        assert!(done["losses"]["bc"].is_number(), "{done}");
        assert_eq!(done["final_eval"]["episodes"], 50);
        let after = mode_distance(&router, &id, 400, 5).await;
        assert!(
            after < 0.6 * before,
            "training did not bring the actions to the modes: {before} -> {after}"
        );
        let (_, info) = get(&router, &format!("/v1/agents/{id}")).await;
        assert_eq!(info["updates"], 2000);

        // Evaluate in the built-in environment.
        let (status, eval) = post(
            &router,
            &format!("/v1/agents/{id}/evaluate"),
            r#"{"episodes":30,"seed":3}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{eval}");
        assert_eq!(eval["episodes"], 30);

        // Save, load as a new agent: the same actions for the same seed.
        let (status, saved) =
            post(&router, &format!("/v1/agents/{id}/save"), r#"{"name":"bandit-bc"}"#).await;
        assert_eq!(status, StatusCode::CREATED, "{saved}");
        assert_eq!(saved["trainable"], true);
        // SWFP starts from the saved flow; without one it is refused.
        let (status, swfp) = post(
            &router,
            "/v1/agents",
            r#"{"algorithm":"swfp","env":"bandit2d","init":"bandit-bc"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{swfp}");
        assert_eq!(swfp["config"]["hidden"], json!([64, 64]));
        assert_eq!(swfp["calls_per_action"], 6);
        let (status, body) =
            post(&router, "/v1/agents", r#"{"algorithm":"swfp","env":"bandit2d"}"#).await;
        assert_eq!(error(status, &body).2, "init", "{body}");
        let (status, loaded) = post(&router, "/v1/agents/load", r#"{"name":"bandit-bc"}"#).await;
        assert_eq!(status, StatusCode::CREATED, "{loaded}");
        let copy = loaded["id"].as_str().unwrap().to_string();
        assert_eq!(copy, "bandit-bc");
        let act = |agent: String| {
            let router = router.clone();
            async move {
                post(
                    &router,
                    &format!("/v1/agents/{agent}/act"),
                    r#"{"observations":[[1.0],[1.0],[1.0]],"seed":9}"#,
                )
                .await
                .1["actions"]
                    .clone()
            }
        };
        assert_eq!(act(id.clone()).await, act(copy.clone()).await);
        // A restarted service finds the checkpoint in its folder.
        let again = server(flowopt_server::ServerConfig {
            agents_dir: Some(dir.clone()),
            ..Default::default()
        })
        .router();
        let (status, listed) = get(&again, "/v1/agents").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed[0]["id"], "bandit-bc", "{listed}");
        let (_, from_restart) = post(
            &again,
            "/v1/agents/bandit-bc/act",
            r#"{"observations":[[1.0],[1.0],[1.0]],"seed":9}"#,
        )
        .await;
        assert_eq!(from_restart["actions"], act(id.clone()).await);

        // One job at a time per agent; a cancelled job leaves a usable agent.
        let long = r#"{"dataset":{"source":"collect","quality":"noisy","episodes":20},"steps":1000000,"eval_every":1000000}"#;
        let (status, job) = post(&router, &format!("/v1/agents/{copy}/train"), long).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let (status, body) = post(&router, &format!("/v1/agents/{copy}/train"), long).await;
        assert_eq!(error(status, &body).0, 409, "{body}");
        let job = job["id"].as_u64().unwrap();
        let (status, _) = delete(&router, &format!("/v1/agents/{copy}/jobs/{job}")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let stopped = finished(&router, &copy, job).await;
        assert_eq!(stopped["state"], "cancelled", "{stopped}");
        assert!(mode_distance(&router, &copy, 4, 1).await.is_finite());
        let (status, _) = delete(&router, &format!("/v1/agents/{copy}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = get(&router, &format!("/v1/agents/{copy}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An external environment (here the bandit, stepped by the client) teaches an agent that
/// knows nothing of it: the agent is made from the spaces alone, receives the client's
/// demonstrations through `observe`, trains on them, and its actions through `act` then lie
/// much closer to the reward's modes than before.
#[test]
fn an_external_environment_teaches_an_agent_through_observe_and_act() {
    let router = server(flowopt_server::ServerConfig::default()).router();
    runtime().block_on(async {
        let (status, agent) = post(
            &router,
            "/v1/agents",
            r#"{"algorithm":"flow-bc","observation_dim":1,"action_dim":2,"config":{"hidden":[64,64],"flow_steps":6,"learning_rate":1e-3}}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{agent}");
        let id = agent["id"].as_str().unwrap().to_string();
        assert_eq!(agent["env"], Value::Null);
        let before = mode_distance(&router, &id, 400, 7).await;

        // The client's own demonstrations, sent in chunks.
        let demos = Dataset::collect(EnvKind::Bandit2d, Quality::Expert, 300, 4).unwrap();
        let transitions: Vec<Value> = (0..demos.len())
            .map(|i| {
                json!({
                    "observation": [demos.observations[i]],
                    "action": &demos.actions[2 * i..2 * i + 2],
                    "reward": demos.rewards[i],
                    "next_observation": [demos.next_observations[i]],
                    "terminal": demos.terminals[i] == 1.0,
                })
            })
            .collect();
        for chunk in transitions.chunks(100) {
            let body = json!({ "transitions": chunk }).to_string();
            let (status, kept) = post(&router, &format!("/v1/agents/{id}/observe"), &body).await;
            assert_eq!(status, StatusCode::OK, "{kept}");
        }
        let (_, info) = get(&router, &format!("/v1/agents/{id}")).await;
        assert_eq!(info["buffered"], 300);

        // Built-in datasets and evaluation need a built-in environment.
        let (status, body) = post(
            &router,
            &format!("/v1/agents/{id}/train"),
            r#"{"dataset":{"source":"collect","quality":"expert"}}"#,
        )
        .await;
        assert_eq!(error(status, &body), (422, "out_of_range".into(), "dataset.source".into()));
        let (status, body) = post(&router, &format!("/v1/agents/{id}/evaluate"), "{}").await;
        assert_eq!(error(status, &body).2, "env");

        let (status, job) = post(
            &router,
            &format!("/v1/agents/{id}/train"),
            r#"{"dataset":{"source":"observed"},"steps":2000,"batch_size":128}"#,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let done = finished(&router, &id, job["id"].as_u64().unwrap()).await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["transitions"], 300);
        assert_eq!(done["final_eval"], Value::Null);
        let after = mode_distance(&router, &id, 400, 7).await;
        assert!(
            after < 0.6 * before,
            "observed demonstrations did not bring the actions to the modes: {before} -> {after}"
        );
    });
}

#[test]
fn bad_agent_requests_get_4xx_naming_the_field() {
    let router = server(flowopt_server::ServerConfig::default()).router();
    runtime().block_on(async {
        let (_, agent) = post(&router, "/v1/agents", r#"{"algorithm":"fql","env":"pendulum","config":{"hidden":[16]}}"#).await;
        let id = agent["id"].as_str().unwrap().to_string();
        let cases: [(&str, String, (u16, &str, &str)); 12] = [
            ("/v1/agents", r#"{"algorithm":"ppo","env":"pendulum"}"#.into(), (422, "out_of_range", "algorithm")),
            ("/v1/agents", r#"{"algorithm":"fql","env":"cartpole"}"#.into(), (422, "out_of_range", "env")),
            ("/v1/agents", r#"{"algorithm":"fql","observation_dim":3}"#.into(), (422, "out_of_range", "action_dim")),
            ("/v1/agents", r#"{"algorithm":"fql","env":"pendulum","action_dim":2}"#.into(), (422, "out_of_range", "action_dim")),
            ("/v1/agents", r#"{"algorithm":"fql","env":"pendulum","config":{"alpah":1}}"#.into(), (422, "out_of_range", "config")),
            ("/v1/agents", r#"{"algorithm":"fql","env":"pendulum","config":{"hidden":[]}}"#.into(), (422, "out_of_range", "config.hidden")),
            ("/v1/agents", r#"{"algorithm":"fql","env":"pendulum""#.into(), (400, "malformed", "")),
            (&format!("/v1/agents/{id}/act"), r#"{"observations":[[0,0,0],[1,2]]}"#.into(), (422, "out_of_range", "observations[1]")),
            (&format!("/v1/agents/{id}/act"), r#"{"observations":[[0,0,1e999]]}"#.into(), (400, "malformed", "")),
            (&format!("/v1/agents/{id}/observe"), r#"{"transitions":[{"observation":[0,0,0],"action":[3.0],"reward":0,"next_observation":[0,0,0]}]}"#.into(), (422, "out_of_range", "transitions[0].action")),
            (&format!("/v1/agents/{id}/train"), r#"{"dataset":{"source":"observed"}}"#.into(), (422, "out_of_range", "dataset")),
            (&format!("/v1/agents/{id}/save"), r#"{"name":"../etc"}"#.into(), (422, "out_of_range", "name")),
        ];
        for (uri, body, (code, kind, field)) in cases {
            let (status, answer) = post(&router, uri, &body).await;
            let (s, k, f) = error(status, &answer);
            assert_eq!((s, k.as_str()), (code, kind), "{uri} {body}: {answer}");
            if !field.is_empty() {
                assert_eq!(f, field, "{uri} {body}: {answer}");
            }
        }
        // Nothing was kept from the refused transition; unknown agents and jobs are 404;
        // without an agents folder, save is 409.
        let (_, info) = get(&router, &format!("/v1/agents/{id}")).await;
        assert_eq!(info["buffered"], 0);
        let (status, _) = get(&router, "/v1/agents/nobody").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = get(&router, &format!("/v1/agents/{id}/jobs/99")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = post(&router, &format!("/v1/agents/{id}/save"), r#"{"name":"x"}"#).await;
        assert_eq!(error(status, &body).0, 409, "{body}");

        // Online agents learn in their environment: no dataset, and a job without one runs.
        let (status, online) = post(
            &router,
            "/v1/agents",
            r#"{"algorithm":"fpmd-m","env":"bandit2d","config":{"hidden":[16],"particles":4}}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{online}");
        assert_eq!(online["calls_per_action"], 1);
        let online = online["id"].as_str().unwrap().to_string();
        let train = format!("/v1/agents/{online}/train");
        let (status, body) = post(
            &router,
            &train,
            r#"{"dataset":{"source":"observed"},"steps":50}"#,
        )
        .await;
        assert_eq!(error(status, &body).2, "dataset", "{body}");
        let (status, job) = post(
            &router,
            &train,
            r#"{"steps":120,"warmup":60,"batch_size":16,"eval_every":60,"eval_episodes":4,"final_episodes":4}"#,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let done = finished(&router, &online, job["id"].as_u64().unwrap()).await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["step"], 120);
        assert!(done["losses"]["critic"].is_number(), "{done}");
    });
}

/// The shipped checkpoints (`assets/agents/`) load at start-up: listed, acting in range, policy
/// only (so `train` answers 409), and the point-maze FQL one (89% success when exported)
/// succeeds on most fresh episodes.
#[test]
fn shipped_agents_are_listed_and_act() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/agents");
    let router = server(flowopt_server::ServerConfig {
        agents_dir: Some(dir),
        ..Default::default()
    })
    .router();
    runtime().block_on(async {
        let (status, listed) = get(&router, "/v1/agents").await;
        assert_eq!(status, StatusCode::OK);
        let ids: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        for env in ["point-maze", "pendulum"] {
            for algo in ["flow-bc", "fql", "qam", "gfp", "decision-flow"] {
                assert!(ids.contains(&format!("{env}-{algo}").as_str()), "{ids:?}");
            }
        }
        for agent in listed.as_array().unwrap() {
            assert_eq!(agent["trainable"], false, "{agent}");
            let id = agent["id"].as_str().unwrap();
            let dim = agent["observation_dim"].as_u64().unwrap() as usize;
            let rows = vec![vec![0.1f32; dim]; 3];
            let body = json!({"observations": rows, "seed": 1}).to_string();
            let (status, answer) = post(&router, &format!("/v1/agents/{id}/act"), &body).await;
            assert_eq!(status, StatusCode::OK, "{id}: {answer}");
            for a in answer["actions"].as_array().unwrap() {
                let a: Vec<f32> = serde_json::from_value(a.clone()).unwrap();
                assert_eq!(a.len(), agent["action_dim"].as_u64().unwrap() as usize);
                assert!(a.iter().all(|v| v.abs() <= 1.0), "{id}: {a:?}");
            }
        }
        let (status, body) = post(
            &router,
            "/v1/agents/point-maze-fql/train",
            r#"{"dataset":{"source":"collect","quality":"noisy"}}"#,
        )
        .await;
        assert_eq!(error(status, &body).0, 409, "{body}");
        // The shipped point-maze FQL policy succeeds on most fresh episodes.
        let (status, eval) = post(
            &router,
            "/v1/agents/point-maze-fql/evaluate",
            r#"{"episodes":30,"seed":777}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{eval}");
        assert!(eval["success_rate"].as_f64().unwrap() > 0.6, "{eval}");
    });
}

#[test]
fn a_streaming_agent_sends_its_chunk_action_by_action() {
    let router = server(flowopt_server::ServerConfig::default()).router();
    runtime().block_on(async {
        let (status, agent) = post(
            &router,
            "/v1/agents",
            r#"{"algorithm":"streaming-flow","env":"point-maze","config":{"hidden":[32,32],"horizon":8,"execute":4},"seed":2}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{agent}");
        assert_eq!(agent["chunk_actions"], 4);
        let id = agent["id"].as_str().unwrap().to_string();
        // A short job on expert chunks goes through.
        let (status, job) = post(
            &router,
            &format!("/v1/agents/{id}/train"),
            r#"{"dataset":{"source":"collect","quality":"expert","episodes":20},
               "steps":100,"batch_size":32,"eval_every":100,"eval_episodes":2,"final_episodes":2}"#,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let done = finished(&router, &id, job["id"].as_u64().unwrap()).await;
        assert_eq!(done["state"], "done", "{done}");

        let observations = vec![vec![0.5f32, 0.5, 0.0, 0.0, 4.5, 4.5]; 3];
        let previous = vec![vec![0.3f32, -0.2], vec![0.0, 0.0], vec![-1.0, 1.0]];
        let request = json!({"observations": observations, "previous_actions": previous, "seed": 1});
        let (status, answer) = post(&router, &format!("/v1/agents/{id}/act"), &request.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let chunks: Vec<Vec<Vec<f32>>> = serde_json::from_value(answer["chunks"].clone()).unwrap();
        let actions: Vec<Vec<f32>> = serde_json::from_value(answer["actions"].clone()).unwrap();
        assert_eq!(chunks.len(), 3);
        for (i, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.len(), 4);
            assert_eq!(chunk[0], actions[i]);
            assert!(chunk.iter().flatten().all(|v| v.abs() <= 1.0));
        }

        // The stream: one line per action of the chunk, the same actions.
        let (status, body) = call(
            &router,
            "POST",
            &format!("/v1/agents/{id}/act/stream"),
            Some("application/json"),
            request.to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let text = String::from_utf8(body).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 4, "{text}");
        for (k, line) in lines.iter().enumerate() {
            assert_eq!(line["index"], k);
            let streamed: Vec<Vec<f32>> = serde_json::from_value(line["actions"].clone()).unwrap();
            let expected: Vec<Vec<f32>> = chunks.iter().map(|c| c[k].clone()).collect();
            assert_eq!(streamed, expected);
        }

        // A recorded episode for the visualizer: every step's scene, action and reward.
        let uri = format!("/v1/agents/{id}/rollout");
        let (status, rollout) = post(&router, &uri, r#"{"seed":4}"#).await;
        assert_eq!(status, StatusCode::OK, "{rollout}");
        let frames = rollout["frames"].as_array().unwrap();
        assert!(frames.len() >= 2, "{rollout}");
        assert!(frames.len() <= 301);
        let mut total = 0.0;
        for (i, frame) in frames.iter().enumerate() {
            let scene = &frame["scene"];
            assert_eq!(scene["bounds"], json!([0.0, 0.0, 5.0, 5.0]));
            assert_eq!(scene["bodies"].as_array().unwrap().len(), 1);
            assert!(!scene["walls"].as_array().unwrap().is_empty());
            let last = i + 1 == frames.len();
            assert_eq!(frame["action"].as_array().unwrap().len(), if last { 0 } else { 2 });
            total += frame["reward"].as_f64().unwrap();
        }
        assert!((total - rollout["episode_return"].as_f64().unwrap()).abs() < 1e-5);
        let (_, again) = post(&router, &uri, r#"{"seed":4}"#).await;
        assert_eq!(again, rollout, "a rollout is deterministic per seed");

        // Bad previous actions are refused, naming the row.
        for (previous, field) in [
            (json!([[0.0, 0.0]]), "previous_actions"),
            (json!([[0.0, 0.0], [0.0], [0.0, 0.0]]), "previous_actions[1]"),
            (json!([[0.0, 0.0], [0.0, 2.0], [0.0, 0.0]]), "previous_actions[1][1]"),
        ] {
            let request = json!({"observations": observations, "previous_actions": previous});
            for path in ["act", "act/stream"] {
                let (status, body) = post(&router, &format!("/v1/agents/{id}/{path}"), &request.to_string()).await;
                assert_eq!(error(status, &body), (422, "out_of_range".into(), field.into()), "{path}: {body}");
            }
        }
    });
}
