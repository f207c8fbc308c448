//! The acting part of an agent: a flow integrated from noise, a one-step actor, FPMD's
//! one-step particles with the critic that picks among them, SWFP's cascade, or a streaming
//! flow integrated from the last action into a chunk of actions. Policies are what
//! `assets/agents/` ships (a few hundred kB each) and what `act` runs.

use std::ops::ControlFlow;
use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::RlError;
use crate::algo::fpmd::best_of_n;
use crate::algo::streaming::{Streaming, stream};
use crate::algo::swfp::cascade_act;
use crate::nets::{Cascade, CriticEnsemble, Noise, OneStepActor, VelocityField};

/// Called with the k-th action of every row of a chunk as soon as it is integrated
/// ([`Policy::chunk`]); `ControlFlow::Break` stops the integration.
pub type OnActions<'a> = dyn FnMut(usize, &[Vec<f32>]) -> ControlFlow<()> + 'a;

/// How a policy turns noise into an action.
#[derive(Module, Debug)]
pub enum PolicyNet {
    /// Euler integration of a velocity field from z ~ N(0, I).
    Flow(VelocityField),
    /// One network call mu(s, z).
    OneStep(OneStepActor),
    /// FPMD: one-step particles, the best under the critic.
    Particles(ParticlePolicy),
    /// SWFP: a cascade of Euler blocks with Langevin noise.
    Cascade(Cascade),
    /// Streaming flow: Euler integration from the last action, each action interval's end
    /// point the next action.
    Streaming(VelocityField),
}

/// FPMD's acting networks: the (EMA) policy flow and the critics that choose among its
/// particles.
#[derive(Module, Debug)]
pub struct ParticlePolicy {
    /// v(s, x, t) (FPMD-R) or u([s, r], z, t) (FPMD-M).
    pub flow: VelocityField,
    /// The critic ensemble (min over members).
    pub critic: CriticEnsemble,
}

/// What a saved policy needs besides its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySpec {
    /// `flow` or `one-step`.
    pub kind: String,
    /// Hidden widths of its MLP.
    pub hidden: Vec<usize>,
    /// Euler steps (flows).
    pub flow_steps: usize,
    /// Action dimension.
    pub act_dim: usize,
    /// Observation dimension.
    pub obs_dim: usize,
    /// FPMD: particles per action (0 otherwise).
    #[serde(default)]
    pub particles: usize,
    /// FPMD: critics in the ensemble (0 otherwise).
    #[serde(default)]
    pub critics: usize,
    /// SWFP: Langevin noise per block (0 otherwise).
    #[serde(default)]
    pub noise: f32,
    /// Streaming flow: actions per chunk H (0 otherwise; `flow_steps` are then the Euler steps
    /// per action).
    #[serde(default)]
    pub horizon: usize,
    /// Streaming flow: actions emitted per chunk (0 otherwise).
    #[serde(default)]
    pub execute: usize,
}

/// A policy: actions in [-1, 1]^d from observations and seeded noise.
#[derive(Debug, Clone)]
pub struct Policy {
    net: PolicyNet,
    steps: usize,
    obs_dim: usize,
    act_dim: usize,
    /// FPMD: particles per action.
    particles: usize,
    /// FPMD-M (MeanFlow) rather than FPMD-R.
    mean_flow: bool,
    /// SWFP: Langevin noise per block.
    noise: f32,
    /// Streaming flow: how it integrates a chunk.
    chunking: Option<Streaming>,
}

impl Policy {
    /// A flow policy.
    pub fn flow(field: VelocityField, steps: usize, obs_dim: usize, act_dim: usize) -> Self {
        Self {
            net: PolicyNet::Flow(field),
            steps,
            obs_dim,
            act_dim,
            particles: 1,
            mean_flow: false,
            noise: 0.0,
            chunking: None,
        }
    }

    /// A one-step policy.
    pub fn one_step(actor: OneStepActor, obs_dim: usize, act_dim: usize) -> Self {
        Self {
            net: PolicyNet::OneStep(actor),
            particles: 1,
            mean_flow: false,
            noise: 0.0,
            chunking: None,
            steps: 1,
            obs_dim,
            act_dim,
        }
    }

    /// An FPMD policy: `particles` one-step proposals per action, the best under the critic.
    pub fn particles(
        net: ParticlePolicy,
        mean_flow: bool,
        particles: usize,
        obs_dim: usize,
        act_dim: usize,
    ) -> Self {
        Self {
            net: PolicyNet::Particles(net),
            steps: 1,
            obs_dim,
            act_dim,
            particles: particles.max(1),
            mean_flow,
            noise: 0.0,
            chunking: None,
        }
    }

    /// A SWFP policy: the cascade's blocks with Langevin noise `noise` per block.
    pub fn cascade(blocks: Cascade, noise: f32, obs_dim: usize, act_dim: usize) -> Self {
        Self {
            steps: blocks.len(),
            net: PolicyNet::Cascade(blocks),
            obs_dim,
            act_dim,
            particles: 1,
            mean_flow: false,
            noise,
            chunking: None,
        }
    }

    /// A streaming-flow policy: `field` (over observations and the action interval's one-hot
    /// code) integrated from the last action, chunks integrated as `how` says.
    pub fn streaming(field: VelocityField, how: Streaming, obs_dim: usize, act_dim: usize) -> Self {
        Self {
            net: PolicyNet::Streaming(field),
            steps: how.substeps,
            obs_dim,
            act_dim,
            particles: 1,
            mean_flow: false,
            noise: 0.0,
            chunking: Some(how),
        }
    }

    /// How a streaming policy integrates its chunks (`None` for the others, which act one
    /// action per observation).
    pub fn chunking(&self) -> Option<Streaming> {
        self.chunking
    }

    /// The velocity field of a flow policy.
    pub fn flow_field(&self) -> Option<&VelocityField> {
        match &self.net {
            PolicyNet::Flow(v) => Some(v),
            _ => None,
        }
    }

    /// Observation dimension.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Sequential policy-network calls per action (FPMD's particles go through one batched
    /// call, then one critic call picks among them).
    pub fn calls_per_action(&self) -> usize {
        match self.net {
            PolicyNet::Flow(_) | PolicyNet::Cascade(_) | PolicyNet::Streaming(_) => self.steps,
            PolicyNet::OneStep(_) | PolicyNet::Particles(_) => 1,
        }
    }

    /// Noise rows per action: FPMD's particles, SWFP's x_0 and one per block, else 1.
    pub fn noise_rows(&self) -> usize {
        match &self.net {
            PolicyNet::Particles(_) => self.particles,
            PolicyNet::Cascade(c) => c.len() + 1,
            _ => 1,
        }
    }

    /// Action dimension.
    pub fn act_dim(&self) -> usize {
        self.act_dim
    }

    /// Actions (B, act) for observations (B, obs), from the noise z (B [`Self::noise_rows`],
    /// act).
    pub fn act_with(&self, obs: Tensor<2>, z: Tensor<2>) -> Tensor<2> {
        self.act_noisy(obs, z, None)
    }

    /// [`Self::act_with`], FPMD's particles moved by `explore` (B particles, act) before the
    /// choice (ignored by the other policies).
    fn act_noisy(&self, obs: Tensor<2>, z: Tensor<2>, explore: Option<Tensor<2>>) -> Tensor<2> {
        match &self.net {
            PolicyNet::Flow(v) => v.sample(obs, z, self.steps),
            PolicyNet::OneStep(mu) => mu.forward(obs, z).clamp(-1.0, 1.0),
            PolicyNet::Particles(p) => best_of_n(
                &p.flow,
                self.mean_flow,
                &p.critic,
                obs,
                z,
                explore,
                self.particles,
            ),
            PolicyNet::Cascade(c) => cascade_act(c, obs, z, self.noise),
            // From the zero action (an episode's start), the first streamed action.
            PolicyNet::Streaming(v) => {
                let how = Streaming {
                    execute: 1,
                    ..self
                        .chunking
                        .unwrap_or_else(|| unreachable!("streaming policies carry their chunking"))
                };
                let mut first = None;
                stream(v, obs, z.zeros_like(), how, &mut |_, a| {
                    first = Some(a);
                    ControlFlow::Break(())
                });
                first.unwrap_or_else(|| unreachable!("a stream emits at least one action"))
            }
        }
    }

    /// Actions for host observations (rows of `obs_dim` values), noise drawn from `noise`.
    /// Rows of the wrong length or with NaN are refused.
    pub fn act(
        &self,
        observations: &[Vec<f32>],
        noise: &mut Noise,
        device: &Device,
    ) -> Result<Vec<Vec<f32>>, RlError> {
        self.act_exploring(observations, noise, 0.0, device)
    }

    /// [`Self::act`] with FPMD's exploration noise of standard deviation `sigma` on every
    /// particle before the critic's choice (other policies ignore it).
    pub fn act_exploring(
        &self,
        observations: &[Vec<f32>],
        noise: &mut Noise,
        sigma: f32,
        device: &Device,
    ) -> Result<Vec<Vec<f32>>, RlError> {
        let b = observations.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let obs = self.observations(observations, device)?;
        let rows = b * self.noise_rows();
        let z = noise.normal(rows, self.act_dim).to_device(device);
        let explore = (sigma > 0.0 && matches!(self.net, PolicyNet::Particles(_)))
            .then(|| noise.normal(rows, self.act_dim).to_device(device) * sigma);
        host_rows(self.act_noisy(obs, z, explore), self.act_dim)
    }

    /// The next actions for each observation: a streaming policy's chunk of `execute` actions
    /// integrated from `previous` (each row's last action; zeros at an episode's start), calling
    /// `on_action(k, actions)` with the k-th action of every row as soon as it is integrated
    /// (stop early with `ControlFlow::Break`); every other policy gives one action per row
    /// (`previous` unused). A streaming chunk is deterministic (`noise` unused). Returns the
    /// actions emitted, per observation.
    pub fn chunk(
        &self,
        observations: &[Vec<f32>],
        previous: &[Vec<f32>],
        noise: &mut Noise,
        device: &Device,
        on_action: &mut OnActions,
    ) -> Result<Vec<Vec<Vec<f32>>>, RlError> {
        let (PolicyNet::Streaming(field), Some(how)) = (&self.net, self.chunking) else {
            let actions = self.act(observations, noise, device)?;
            let _ = on_action(0, &actions);
            return Ok(actions.into_iter().map(|a| vec![a]).collect());
        };
        let b = observations.len();
        if previous.len() != b {
            return Err(RlError::Shape {
                field: "previous_actions",
                expected: b,
                got: previous.len(),
            });
        }
        if b == 0 {
            return Ok(Vec::new());
        }
        let obs = self.observations(observations, device)?;
        let mut start = Vec::with_capacity(b * self.act_dim);
        for row in previous {
            if row.len() != self.act_dim {
                return Err(RlError::Shape {
                    field: "previous_actions",
                    expected: self.act_dim,
                    got: row.len(),
                });
            }
            if row.iter().any(|v| !v.is_finite() || v.abs() > 1.0) {
                return Err(RlError::Invalid {
                    field: "previous_actions",
                    message: "must be finite and lie in [-1, 1]".into(),
                });
            }
            start.extend_from_slice(row);
        }
        // From the last action itself, as the reference does (sigma0 widens the training
        // tube around the demonstrations only).
        let start = Tensor::<2>::from_data(TensorData::new(start, [b, self.act_dim]), device);
        let mut chunks = vec![Vec::with_capacity(how.execute); b];
        let mut failed = None;
        stream(
            field,
            obs,
            start,
            how,
            &mut |k, actions| match host_rows(actions, self.act_dim) {
                Ok(actions) => {
                    for (chunk, a) in chunks.iter_mut().zip(&actions) {
                        chunk.push(a.clone());
                    }
                    on_action(k, &actions)
                }
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            },
        );
        match failed {
            Some(e) => Err(e),
            None => Ok(chunks),
        }
    }

    /// Host observations as a (B, obs) tensor; rows of the wrong length or with NaN are
    /// refused.
    fn observations(
        &self,
        observations: &[Vec<f32>],
        device: &Device,
    ) -> Result<Tensor<2>, RlError> {
        let mut flat = Vec::with_capacity(observations.len() * self.obs_dim);
        for row in observations {
            if row.len() != self.obs_dim {
                return Err(RlError::Shape {
                    field: "observation",
                    expected: self.obs_dim,
                    got: row.len(),
                });
            }
            if row.iter().any(|v| !v.is_finite()) {
                return Err(RlError::NonFinite {
                    field: "observation",
                });
            }
            flat.extend_from_slice(row);
        }
        Ok(Tensor::from_data(
            TensorData::new(flat, [observations.len(), self.obs_dim]),
            device,
        ))
    }

    /// Saves the weights to `path.bpk` and `spec` to `path.json`.
    pub fn save(&self, path: &Path, spec: &PolicySpec) -> Result<(), RlError> {
        flowopt_nn::save(&self.net, path)?;
        let json = path.with_extension("json");
        let text = serde_json::to_string_pretty(spec).map_err(|e| RlError::Weights {
            path: json.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&json, text + "\n").map_err(|source| RlError::Io { path: json, source })
    }

    /// Loads a policy saved by [`Self::save`].
    pub fn load(path: &Path, device: &Device) -> Result<(Self, PolicySpec), RlError> {
        let json = path.with_extension("json");
        let text = std::fs::read_to_string(&json).map_err(|source| RlError::Io {
            path: json.clone(),
            source,
        })?;
        let spec: PolicySpec = serde_json::from_str(&text).map_err(|e| RlError::Weights {
            path: json.clone(),
            message: e.to_string(),
        })?;
        let net = match spec.kind.as_str() {
            "flow" => PolicyNet::Flow(VelocityField::new(
                spec.obs_dim,
                spec.act_dim,
                &spec.hidden,
                device,
            )),
            "one-step" => PolicyNet::OneStep(OneStepActor::new(
                spec.obs_dim,
                spec.act_dim,
                &spec.hidden,
                device,
            )),
            "streaming" => {
                if spec.horizon == 0 || !(1..=spec.horizon).contains(&spec.execute) {
                    return Err(RlError::Weights {
                        path: json,
                        message: "a `streaming` policy needs `horizon` >= `execute` >= 1".into(),
                    });
                }
                PolicyNet::Streaming(VelocityField::new(
                    spec.obs_dim + spec.horizon,
                    spec.act_dim,
                    &spec.hidden,
                    device,
                ))
            }
            "cascade" => PolicyNet::Cascade(Cascade::new(
                spec.flow_steps,
                spec.obs_dim,
                spec.act_dim,
                &spec.hidden,
                device,
            )),
            kind @ ("fpmd-r" | "fpmd-m") => {
                if spec.particles == 0 || spec.critics == 0 {
                    return Err(RlError::Weights {
                        path: json,
                        message: format!("a `{kind}` policy needs `particles` and `critics`"),
                    });
                }
                let flow_obs = spec.obs_dim + usize::from(kind == "fpmd-m");
                PolicyNet::Particles(ParticlePolicy {
                    flow: VelocityField::new(flow_obs, spec.act_dim, &spec.hidden, device),
                    critic: CriticEnsemble::new(
                        spec.critics,
                        spec.obs_dim,
                        spec.act_dim,
                        &spec.hidden,
                        device,
                    ),
                })
            }
            other => {
                return Err(RlError::Unknown {
                    what: "policy kind",
                    name: other.to_string(),
                    known: vec![
                        "flow",
                        "one-step",
                        "fpmd-r",
                        "fpmd-m",
                        "cascade",
                        "streaming",
                    ],
                });
            }
        };
        // Initialised under the seeding lock before the weights replace its values: Burn
        // initialises lazily, and a draw from the device's generator outside the lock would
        // land inside another thread's seeded initialisation.
        let net = crate::nets::seeded(device, 0, || net);
        let net = flowopt_nn::load(net, path)?;
        Ok((
            Self {
                chunking: matches!(net, PolicyNet::Streaming(_)).then_some(Streaming {
                    horizon: spec.horizon,
                    execute: spec.execute,
                    substeps: spec.flow_steps.max(1),
                }),
                steps: if matches!(
                    net,
                    PolicyNet::Flow(_) | PolicyNet::Cascade(_) | PolicyNet::Streaming(_)
                ) {
                    spec.flow_steps
                } else {
                    1
                },
                particles: if matches!(net, PolicyNet::Particles(_)) {
                    spec.particles
                } else {
                    1
                },
                mean_flow: spec.kind == "fpmd-m",
                noise: spec.noise,
                net,
                obs_dim: spec.obs_dim,
                act_dim: spec.act_dim,
            },
            spec,
        ))
    }

    /// `flow` or `one-step`.
    pub fn kind(&self) -> &'static str {
        match self.net {
            PolicyNet::Flow(_) => "flow",
            PolicyNet::OneStep(_) => "one-step",
            PolicyNet::Particles(_) if self.mean_flow => "fpmd-m",
            PolicyNet::Particles(_) => "fpmd-r",
            PolicyNet::Cascade(_) => "cascade",
            PolicyNet::Streaming(_) => "streaming",
        }
    }
}

/// A (B, act) tensor's rows on the host.
fn host_rows(actions: Tensor<2>, act_dim: usize) -> Result<Vec<Vec<f32>>, RlError> {
    let values = actions
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| RlError::Invalid {
            field: "actions",
            message: format!("reading the actions back: {e:?}"),
        })?;
    Ok(values.chunks(act_dim).map(<[f32]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::seeded;

    #[test]
    fn a_saved_policy_loads_and_acts_the_same_and_bad_rows_are_refused() {
        let device = Device::flex();
        let field = seeded(&device, 3, || VelocityField::new(3, 2, &[16], &device));
        let policy = Policy::flow(field, 4, 3, 2);
        let dir = std::env::temp_dir().join(format!("flowopt-policy-{}", std::process::id()));
        let spec = PolicySpec {
            kind: policy.kind().into(),
            hidden: vec![16],
            flow_steps: 4,
            act_dim: 2,
            obs_dim: 3,
            particles: 0,
            critics: 0,
            noise: 0.0,
            horizon: 0,
            execute: 0,
        };
        policy.save(&dir.join("p"), &spec).expect("saved");
        let (loaded, read) = Policy::load(&dir.join("p"), &device).expect("loaded");
        assert_eq!(read, spec);
        let obs = vec![vec![0.1, -0.2, 0.3]; 5];
        let a = policy
            .act(&obs, &mut Noise::new(9, &device), &device)
            .expect("acts");
        let b = loaded
            .act(&obs, &mut Noise::new(9, &device), &device)
            .expect("acts");
        assert_eq!(a, b);
        assert!(
            a.iter().flatten().any(|v| v.abs() > 1e-6),
            "all-zero actions: {a:?}"
        );
        let ragged = vec![vec![0.0; 3], vec![0.0; 2]];
        assert!(matches!(
            policy.act(&ragged, &mut Noise::new(1, &device), &device),
            Err(RlError::Shape { got: 2, .. })
        ));
        let nan = vec![vec![f32::NAN, 0.0, 0.0]];
        assert!(
            policy
                .act(&nan, &mut Noise::new(1, &device), &device)
                .is_err()
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
