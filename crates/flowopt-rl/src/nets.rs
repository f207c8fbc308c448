//! The networks the agents are made of (DESIGN.md section 8): MLPs, flow velocity fields
//! v(s, x, t), one-step actors mu(s, z), critic ensembles Q_k(s, a) with LayerNorm, and the EMA
//! of a target network.

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A multilayer perceptron: Linear -> (LayerNorm) -> GELU per hidden layer, then a linear head.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Vec<Linear>,
    norms: Vec<LayerNorm>,
    head: Linear,
}

impl Mlp {
    /// `input -> hidden[0] -> ... -> output`, with LayerNorm after each hidden layer when
    /// `layer_norm`.
    pub fn new(
        input: usize,
        hidden: &[usize],
        output: usize,
        layer_norm: bool,
        device: &Device,
    ) -> Self {
        let mut layers = Vec::with_capacity(hidden.len());
        let mut norms = Vec::new();
        let mut width = input;
        for &h in hidden {
            layers.push(LinearConfig::new(width, h).init(device));
            if layer_norm {
                norms.push(LayerNormConfig::new(h).init(device));
            }
            width = h;
        }
        Self {
            hidden: layers,
            norms,
            head: LinearConfig::new(width, output).init(device),
        }
    }

    /// (B, input) -> (B, output).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = x;
        for (i, layer) in self.hidden.iter().enumerate() {
            h = layer.forward(h);
            if let Some(norm) = self.norms.get(i) {
                h = norm.forward(h);
            }
            h = gelu(h);
        }
        self.head.forward(h)
    }
}

/// A flow velocity field v(s, x, t): (B, obs) x (B, act) x (B, 1) -> (B, act).
#[derive(Module, Debug)]
pub struct VelocityField {
    mlp: Mlp,
}

impl VelocityField {
    /// A velocity field for `obs`-dimensional observations and `act`-dimensional actions.
    pub fn new(obs: usize, act: usize, hidden: &[usize], device: &Device) -> Self {
        Self {
            mlp: Mlp::new(obs + act + 1, hidden, act, false, device),
        }
    }

    /// v(s, x, t).
    pub fn forward(&self, obs: Tensor<2>, x: Tensor<2>, t: Tensor<2>) -> Tensor<2> {
        self.mlp.forward(Tensor::cat(vec![obs, x, t], 1))
    }

    /// Euler integration of dx/dt = v(s, x, t) from `x0` over `steps` steps, clipped into
    /// [-1, 1] at the end (the ODE(s, z) of RL-ALGORITHMS.md).
    pub fn sample(&self, obs: Tensor<2>, x0: Tensor<2>, steps: usize) -> Tensor<2> {
        self.integrate(obs, x0, steps).clamp(-1.0, 1.0)
    }

    /// Euler integration without the final clip.
    pub fn integrate(&self, obs: Tensor<2>, x0: Tensor<2>, steps: usize) -> Tensor<2> {
        let [b, _] = x0.dims();
        let device = x0.device();
        let h = 1.0 / steps as f32;
        let mut x = x0;
        for i in 0..steps {
            let t = Tensor::full([b, 1], i as f32 * h, &device);
            x = x.clone() + self.forward(obs.clone(), x, t) * h;
        }
        x
    }
}

/// A one-step actor mu(s, z): (B, obs) x (B, act) -> (B, act), unclipped.
#[derive(Module, Debug)]
pub struct OneStepActor {
    mlp: Mlp,
}

impl OneStepActor {
    /// An actor for `obs`-dimensional observations and `act`-dimensional actions.
    pub fn new(obs: usize, act: usize, hidden: &[usize], device: &Device) -> Self {
        Self {
            mlp: Mlp::new(obs + act, hidden, act, false, device),
        }
    }

    /// mu(s, z).
    pub fn forward(&self, obs: Tensor<2>, z: Tensor<2>) -> Tensor<2> {
        self.mlp.forward(Tensor::cat(vec![obs, z], 1))
    }
}

/// SWFP's cascade of Euler blocks B_i(s, x) = x + h v_i(s, x), each v_i a time-free MLP.
#[derive(Module, Debug)]
pub struct Cascade {
    blocks: Vec<Mlp>,
}

impl Cascade {
    /// `steps` blocks for `obs`-dimensional observations and `act`-dimensional actions.
    pub fn new(steps: usize, obs: usize, act: usize, hidden: &[usize], device: &Device) -> Self {
        Self {
            blocks: (0..steps)
                .map(|_| Mlp::new(obs + act, hidden, act, false, device))
                .collect(),
        }
    }

    /// Blocks (Euler steps).
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether it has no block.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// v_i(s, x).
    pub fn velocity(&self, i: usize, obs: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        self.blocks[i].forward(Tensor::cat(vec![obs, x], 1))
    }

    /// The states x_0 = `x0`, x_{i+1} = x_i + h v_i(s, x_i) + `sigma` eps_i (h = 1 / len),
    /// `eps` holding eps_0, eps_1, ... as consecutive (B, act) row blocks (ignored when `sigma`
    /// is 0). Not clipped.
    pub fn rollout(
        &self,
        obs: Tensor<2>,
        x0: Tensor<2>,
        eps: Option<Tensor<2>>,
        sigma: f32,
    ) -> Vec<Tensor<2>> {
        let [b, _] = x0.dims();
        let h = 1.0 / self.len() as f32;
        let mut xs = vec![x0];
        for i in 0..self.len() {
            let x = xs[i].clone();
            let mut next = x.clone() + self.velocity(i, obs.clone(), x) * h;
            if let (Some(eps), true) = (&eps, sigma > 0.0) {
                next = next + eps.clone().narrow(0, i * b, b) * sigma;
            }
            xs.push(next);
        }
        xs
    }
}

/// An ensemble of critics Q_k(s, a) with LayerNorm.
#[derive(Module, Debug)]
pub struct CriticEnsemble {
    members: Vec<Mlp>,
}

impl CriticEnsemble {
    /// `size` critics for `obs`-dimensional observations and `act`-dimensional actions.
    pub fn new(size: usize, obs: usize, act: usize, hidden: &[usize], device: &Device) -> Self {
        Self {
            members: (0..size)
                .map(|_| Mlp::new(obs + act, hidden, 1, true, device))
                .collect(),
        }
    }

    /// Members.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// Every member's Q(s, a): (E, B).
    pub fn forward(&self, obs: Tensor<2>, act: Tensor<2>) -> Tensor<2> {
        let input = Tensor::cat(vec![obs, act], 1);
        let [b, _] = input.dims();
        Tensor::cat(
            self.members
                .iter()
                .map(|m| m.forward(input.clone()).reshape([1, b]))
                .collect(),
            0,
        )
    }

    /// The mean over members: (B,).
    pub fn mean(&self, obs: Tensor<2>, act: Tensor<2>) -> Tensor<1> {
        let q = self.forward(obs, act);
        let [_, b] = q.dims();
        q.mean_dim(0).reshape([b])
    }

    /// The minimum over members: (B,).
    pub fn min(&self, obs: Tensor<2>, act: Tensor<2>) -> Tensor<1> {
        let q = self.forward(obs, act);
        let [_, b] = q.dims();
        q.min_dim(0).reshape([b])
    }
}

/// A flow-state value V(s, x, t) (Decision Flow's critic of the generation MDP).
#[derive(Module, Debug)]
pub struct FlowValue {
    mlp: Mlp,
}

impl FlowValue {
    /// A value network for `obs`-dimensional observations and `act`-dimensional flow states.
    pub fn new(obs: usize, act: usize, hidden: &[usize], device: &Device) -> Self {
        Self {
            mlp: Mlp::new(obs + act + 1, hidden, 1, true, device),
        }
    }

    /// V(s, x, t): (B,).
    pub fn forward(&self, obs: Tensor<2>, x: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
        let [b, _] = obs.dims();
        self.mlp
            .forward(Tensor::cat(vec![obs, x, t], 1))
            .reshape([b])
    }
}

/// `target <- (1 - tau) target + tau online`, parameter by parameter in visiting order: `target`
/// must have the structure of `online` (made by [`fresh_copy`]).
pub fn ema<M: Module>(target: M, online: &M, tau: f32) -> M {
    struct Collect(Vec<TensorData>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().into_data());
        }
    }
    struct Blend {
        online: std::vec::IntoIter<TensorData>,
        tau: f32,
    }
    impl ModuleMapper for Blend {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some(data) = self.online.next() else {
                return param;
            };
            let tau = self.tau;
            param.map(|t| {
                let online = Tensor::<D>::from_data(data, &t.device());
                (t * (1.0 - tau) + online * tau).detach()
            })
        }
    }
    let mut collect = Collect(Vec::new());
    online.visit(&mut collect);
    target.map(&mut Blend {
        online: collect.0.into_iter(),
        tau,
    })
}

/// A copy of `module` with new parameter ids and detached weights: a target network. (A plain
/// clone shares the ids, and an optimizer keyed by id would then move the target with the
/// online network's gradients.)
pub fn fresh_copy<M: Module>(module: &M) -> M {
    struct Renew;
    impl ModuleMapper for Renew {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            Param::initialized(ParamId::new(), param.val().detach())
        }
    }
    module.clone().map(&mut Renew)
}

/// Host-side seeded random numbers for a training step, uploaded as tensors.
pub struct Noise {
    rng: ChaCha8Rng,
    device: Device,
}

impl Noise {
    /// Noise from `seed` on `device`.
    pub fn new(seed: u64, device: &Device) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            device: device.clone(),
        }
    }

    /// Standard normal (rows, cols).
    pub fn normal(&mut self, rows: usize, cols: usize) -> Tensor<2> {
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| self.rng.sample(StandardNormal))
            .collect();
        Tensor::from_data(TensorData::new(values, [rows, cols]), &self.device)
    }

    /// Uniform in [0, 1): (rows, 1).
    pub fn uniform(&mut self, rows: usize) -> Tensor<2> {
        let values: Vec<f32> = (0..rows).map(|_| self.rng.random::<f32>()).collect();
        Tensor::from_data(TensorData::new(values, [rows, 1]), &self.device)
    }

    /// The generator itself (minibatch indices).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }
}

pub use flowopt_nn::seeded;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_moves_the_target_towards_the_online_weights() {
        let device = Device::flex();
        let online = seeded(&device, 1, || Mlp::new(3, &[8], 2, true, &device));
        let target = fresh_copy(&online);
        struct Shift;
        impl ModuleMapper for Shift {
            fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
                p.map(|t| t + 1.0)
            }
        }
        let online = online.map(&mut Shift);
        let x = Tensor::<2>::ones([4, 3], &device);
        let before = target.forward(x.clone());
        let moved = ema(target, &online, 0.5);
        let after = moved.forward(x.clone());
        let goal = online.forward(x);
        let d_before = (before - goal.clone()).abs().sum().into_scalar::<f32>();
        let d_after = (after - goal).abs().sum().into_scalar::<f32>();
        assert!(d_after < d_before, "{d_after} >= {d_before}");
        assert!(d_before > 1e-3);
    }

    #[test]
    fn ensemble_members_differ_and_shapes_are_right() {
        let device = Device::flex();
        let critic = seeded(&device, 0, || {
            CriticEnsemble::new(2, 3, 2, &[16, 16], &device)
        });
        let q = critic.forward(
            Tensor::ones([5, 3], &device),
            Tensor::zeros([5, 2], &device),
        );
        assert_eq!(q.dims(), [2, 5]);
        let v: Vec<f32> = q.into_data().try_to_vec::<f32>().unwrap_or_default();
        assert!((v[0] - v[5]).abs() > 1e-6, "members are copies");
    }
}
