//! The OpenAPI document, generated from the handlers and types (`GET /openapi.json`).

use utoipa::OpenApi;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flow-Opt",
        description = "Multi-robot trajectory planning: flow-matching generator + batched safety filter; RL flow-policy agents."
    ),
    paths(
        crate::routes::plan::plan,
        crate::routes::plan::plan_batch,
        crate::routes::info::planners,
        crate::routes::info::scenarios,
        crate::routes::info::scenario,
        crate::routes::info::healthz,
        crate::routes::info::readyz,
        crate::routes::info::metrics,
        crate::routes::agents::algorithms,
        crate::routes::agents::environments,
        crate::routes::agents::list,
        crate::routes::agents::create,
        crate::routes::agents::load,
        crate::routes::agents::agent,
        crate::routes::agents::remove,
        crate::routes::agents::train,
        crate::routes::agents::job,
        crate::routes::agents::cancel,
        crate::routes::agents::act,
        crate::routes::agents::act_stream,
        crate::routes::agents::observe,
        crate::routes::agents::evaluate,
        crate::routes::agents::rollout,
        crate::routes::agents::save,
    ),
    components(schemas(
        flowopt_core::Problem,
        flowopt_core::Plan,
        flowopt_core::vda5050::PlanWithVda5050,
        crate::error::ErrorBody,
        crate::routes::plan::BatchRequest,
        crate::routes::plan::BatchResponse,
    )),
    tags(
        (name = "planning", description = "Plan joint trajectories"),
        (name = "catalog", description = "Planners and scenario families"),
        (name = "agents", description = "RL flow-policy agents: create, train, act, observe, evaluate, checkpoints"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;
