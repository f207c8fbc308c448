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
        crate::plan::plan,
        crate::plan::plan_batch,
        crate::info::planners,
        crate::info::scenarios,
        crate::info::scenario,
        crate::info::healthz,
        crate::info::readyz,
        crate::info::metrics,
        crate::agents::algorithms,
        crate::agents::environments,
        crate::agents::list,
        crate::agents::create,
        crate::agents::load,
        crate::agents::agent,
        crate::agents::remove,
        crate::agents::train,
        crate::agents::job,
        crate::agents::cancel,
        crate::agents::act,
        crate::agents::act_stream,
        crate::agents::observe,
        crate::agents::evaluate,
        crate::agents::rollout,
        crate::agents::save,
    ),
    components(schemas(
        flowopt_core::Problem,
        flowopt_core::Plan,
        flowopt_core::vda5050::PlanWithVda5050,
        crate::error::ErrorBody,
        crate::plan::BatchRequest,
        crate::plan::BatchResponse,
    )),
    tags(
        (name = "planning", description = "Plan joint trajectories"),
        (name = "catalog", description = "Planners and scenario families"),
        (name = "agents", description = "RL flow-policy agents: create, train, act, observe, evaluate, checkpoints"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;
