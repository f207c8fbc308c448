//! The DiT velocity model (DESIGN.md section 4).
//!
//! Robot tokens carry the conditioning and the noisy trajectory x_t; map tokens (workspace and
//! obstacles) go through a set encoder. Each DiT block applies self-attention across robots,
//! cross-attention to the map and an MLP, each pre-normalised and modulated by the flow time
//! (adaLN-Zero: shift, scale and gate from the time embedding, the gates starting at zero).
//! Nothing depends on token order (no positional encodings; padded tokens are masked), so
//! permuting the robots permutes the velocities and the order of obstacles does not matter.

use burn::module::Module;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Bool;
use burn::tensor::TensorData;
use burn::tensor::activation::{gelu, quiet_softmax, silu, softmax};

use crate::conditioning::{Conditioning, MAP_FEATURES, ROBOT_FEATURES};
use crate::config::GeneratorConfig;
use flowopt_core::{Scenario, ScenarioConfig};

/// Normalisation without learned affine parameters (adaLN supplies scale and shift).
fn normalize(x: Tensor<3>) -> Tensor<3> {
    let centred = x.clone() - x.mean_dim(2);
    let var = centred.clone().square().mean_dim(2);
    centred / (var + 1e-6).sqrt()
}

/// x (1 + scale) + shift with (B, 1, W) modulation.
fn modulate(x: Tensor<3>, shift: Tensor<3>, scale: Tensor<3>) -> Tensor<3> {
    x * (scale + 1.0) + shift
}

/// One DiT block.
#[derive(Module, Debug)]
pub struct DitBlock {
    modulation: Linear,
    self_attn: MultiHeadAttention,
    cross_attn: MultiHeadAttention,
    mlp_in: Linear,
    mlp_out: Linear,
}

impl DitBlock {
    fn forward(
        &self,
        x: Tensor<3>,
        time: Tensor<3>,
        keys_values: &(Tensor<4>, Tensor<4>),
        memory: &MapMemory,
        cond: &Conditioning,
    ) -> Tensor<3> {
        let m = self.modulation.forward(time).chunk(9, 2);
        let h = modulate(normalize(x.clone()), m[0].clone(), m[1].clone());
        let attn = self
            .self_attn
            .forward(MhaInput::self_attn(h).mask_pad(cond.robot_pad.clone()))
            .context;
        let x = x + attn * m[2].clone();
        let h = modulate(normalize(x.clone()), m[3].clone(), m[4].clone());
        let x = x + self.cross(h, keys_values, memory) * m[5].clone();
        let h = modulate(normalize(x.clone()), m[6].clone(), m[7].clone());
        x + self.mlp_out.forward(gelu(self.mlp_in.forward(h))) * m[8].clone()
    }

    /// The cross-attention's keys and values of encoded map tokens (B, M, W): (B, H, M, W / H)
    /// each.
    fn keys_values(&self, map: &Tensor<3>) -> (Tensor<4>, Tensor<4>) {
        let a = &self.cross_attn;
        let [b, m, _] = map.dims();
        let heads = |linear: &Linear| {
            linear
                .forward(map.clone())
                .reshape([b, m, a.n_heads, a.d_k])
                .swap_dims(1, 2)
        };
        (heads(&a.key), heads(&a.value))
    }

    /// The cross-attention of robot tokens `h` (B, N, W) to the map, from keys and values
    /// computed beforehand ([`Self::keys_values`]): the arithmetic of Burn's
    /// `MultiHeadAttention::forward` (no dropout: the model has none) without projecting the
    /// same map again at every flow step.
    fn cross(
        &self,
        h: Tensor<3>,
        (keys, values): &(Tensor<4>, Tensor<4>),
        memory: &MapMemory,
    ) -> Tensor<3> {
        let a = &self.cross_attn;
        let [b, n, w] = h.dims();
        let query = a
            .query
            .forward(h)
            .reshape([b, n, a.n_heads, a.d_k])
            .swap_dims(1, 2);
        let scores = query
            .matmul(keys.clone().transpose())
            .div_scalar((a.d_k as f32).sqrt())
            .mask_fill(memory.pad.clone(), a.min_float);
        let weights = if a.quiet_softmax {
            quiet_softmax(scores, 3)
        } else {
            softmax(scores, 3)
        };
        let context = weights
            .matmul(values.clone())
            .swap_dims(1, 2)
            .reshape([b, n, w]);
        a.output.forward(context)
    }
}

/// What the robot tokens attend to, fixed over a whole flow: every block's cross-attention
/// keys and values of the encoded map. [`GeneratorNet::memory`] computes it once per problem;
/// sampling then reuses it at every step and for every candidate, where the model would
/// otherwise encode the same map S x K times.
#[derive(Clone, Debug)]
pub struct MapMemory {
    /// Per block: keys and values (B, H, M, W / H).
    keys_values: Vec<(Tensor<4>, Tensor<4>)>,
    /// Padded map tokens, shaped for the attention scores: (B, 1, 1, M).
    pad: Tensor<4, Bool>,
}

impl MapMemory {
    /// Entries B.
    pub fn size(&self) -> usize {
        self.pad.dims()[0]
    }

    /// Every entry `k` times in a row: (B, ...) -> (B k, ...), as [`Conditioning::repeat`].
    pub fn repeat(&self, k: usize) -> Self {
        let rep = |t: &Tensor<4>| -> Tensor<4> {
            let [b, h, m, d] = t.dims();
            t.clone()
                .unsqueeze_dim::<5>(1)
                .expand([b, k, h, m, d])
                .reshape([b * k, h, m, d])
        };
        let [b, _, _, m] = self.pad.dims();
        Self {
            keys_values: self
                .keys_values
                .iter()
                .map(|(keys, values)| (rep(keys), rep(values)))
                .collect(),
            pad: self
                .pad
                .clone()
                .reshape([b, 1, m])
                .unsqueeze_dim::<4>(1)
                .expand([b, k, 1, m])
                .reshape([b * k, 1, 1, m]),
        }
    }

    /// The entries at `rows` (a range of the batch).
    pub fn rows(&self, rows: std::ops::Range<usize>) -> Self {
        Self {
            keys_values: self
                .keys_values
                .iter()
                .map(|(keys, values)| {
                    (
                        keys.clone().slice(rows.clone()),
                        values.clone().slice(rows.clone()),
                    )
                })
                .collect(),
            pad: self.pad.clone().slice(rows),
        }
    }
}

/// The flow-matching velocity model v(x_t, t | problem).
#[derive(Module, Debug)]
pub struct GeneratorNet {
    robot_in: Linear,
    robot_hidden: Linear,
    map_in: Linear,
    map_hidden: Linear,
    map_norm: LayerNorm,
    map_attn: MultiHeadAttention,
    time_in: Linear,
    time_hidden: Linear,
    blocks: Vec<DitBlock>,
    final_modulation: Linear,
    head: Linear,
    width: usize,
    dim: usize,
}

/// Serialises every draw of initial weights from the device's global generator.
fn init_lock() -> std::sync::MutexGuard<'static, ()> {
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    INIT.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl GeneratorConfig {
    /// A freshly initialised model on `device` (adaLN-Zero: the blocks start as identities and
    /// the output at zero).
    pub fn init(&self, device: &Device) -> GeneratorNet {
        let _guard = init_lock();
        self.build(device, true)
    }

    /// A fresh model whose random initial weights depend only on `seed`: Burn draws them from
    /// the device's global generator, so the seeding and the draws happen under one
    /// process-wide lock ([`flowopt_nn::seeded`]; concurrent trainings or tests would
    /// otherwise interleave their draws).
    pub fn init_seeded(&self, device: &Device, seed: u64) -> GeneratorNet {
        self.build_seeded(device, seed, true)
    }

    /// [`Self::init_seeded`], with the zero initialisation optional. Burn initialises
    /// parameters lazily, at first use; they are initialised here, under the lock, by one
    /// forward pass on a two-robot problem, so in the order a first training step would
    /// (the order decides which draw each parameter gets: the weights are those the seed gave
    /// when they were left to the first step, which the shipped generator's training did).
    pub(crate) fn build_seeded(&self, device: &Device, seed: u64, zero_init: bool) -> GeneratorNet {
        flowopt_nn::seeded(device, seed, || {
            let net = self.build(device, zero_init);
            if let Ok(problem) = Scenario::Circle.generate(&ScenarioConfig::new(2).seed(0))
                && let Ok(cond) = Conditioning::new(&[&problem], device)
            {
                let x = Tensor::<3>::zeros([1, 2, net.dim], device);
                let _ = net.forward(x, Tensor::zeros([1], device), &cond);
            }
            net
        })
    }

    /// With `zero_init` false every layer gets the default random initialisation (tests use
    /// it to check symmetries on a model whose output is not identically zero).
    pub(crate) fn build(&self, device: &Device, zero_init: bool) -> GeneratorNet {
        let w = self.width;
        let zero = |i: usize, o: usize| {
            let config = LinearConfig::new(i, o);
            if zero_init {
                config.with_initializer(Initializer::Zeros).init(device)
            } else {
                config.init(device)
            }
        };
        let mha = || {
            MultiHeadAttentionConfig::new(w, self.heads)
                .with_dropout(0.0)
                .init(device)
        };
        GeneratorNet {
            robot_in: LinearConfig::new(ROBOT_FEATURES + self.trajectory_dim(), w).init(device),
            robot_hidden: LinearConfig::new(w, w).init(device),
            map_in: LinearConfig::new(MAP_FEATURES, w).init(device),
            map_hidden: LinearConfig::new(w, w).init(device),
            map_norm: LayerNormConfig::new(w).init(device),
            map_attn: mha(),
            time_in: LinearConfig::new(w, w).init(device),
            time_hidden: LinearConfig::new(w, w).init(device),
            blocks: (0..self.blocks)
                .map(|_| DitBlock {
                    modulation: zero(w, 9 * w),
                    self_attn: mha(),
                    cross_attn: mha(),
                    mlp_in: LinearConfig::new(w, 4 * w).init(device),
                    mlp_out: LinearConfig::new(4 * w, w).init(device),
                })
                .collect(),
            final_modulation: zero(w, 2 * w),
            head: zero(w, self.trajectory_dim()),
            width: w,
            dim: self.trajectory_dim(),
        }
    }
}

impl GeneratorNet {
    /// Sinusoidal embedding of flow times `t` in [0, 1]: (B,) -> (B, 1, W).
    fn time_embedding(&self, t: Tensor<1>) -> Tensor<3> {
        let [b] = t.dims();
        let half = self.width / 2;
        let freqs: Vec<f32> = (0..half)
            .map(|i| (-(10_000f32.ln()) * i as f32 / half as f32).exp())
            .collect();
        let freqs = Tensor::<2>::from_data(TensorData::new(freqs, [1, half]), &t.device());
        let angle = t.reshape([b, 1]) * 1000.0 * freqs;
        let emb = Tensor::cat(vec![angle.clone().sin(), angle.cos()], 1);
        let emb = self
            .time_hidden
            .forward(silu(self.time_in.forward(emb)))
            .reshape([b, 1, self.width]);
        silu(emb)
    }

    /// The velocity at `x_t` (B, N, 2K) and times `t` (B,) for conditioning `cond` (B entries);
    /// zero on padded robots.
    pub fn forward(&self, x_t: Tensor<3>, t: Tensor<1>, cond: &Conditioning) -> Tensor<3> {
        self.forward_with(x_t, t, cond, &self.memory(cond))
    }

    /// The map side of `cond` (B entries): the map tokens through the set encoder, then every
    /// block's cross-attention keys and values.
    pub fn memory(&self, cond: &Conditioning) -> MapMemory {
        let map = self.encode_map(cond);
        let [b, m] = cond.map_pad.dims();
        MapMemory {
            keys_values: self
                .blocks
                .iter()
                .map(|block| block.keys_values(&map))
                .collect(),
            pad: cond.map_pad.clone().reshape([b, 1, 1, m]),
        }
    }

    /// The map tokens of `cond` through the set encoder: (B, M, W).
    fn encode_map(&self, cond: &Conditioning) -> Tensor<3> {
        let map = self
            .map_hidden
            .forward(gelu(self.map_in.forward(cond.map.clone())));
        let h = self.map_norm.forward(map.clone());
        map + self
            .map_attn
            .forward(MhaInput::self_attn(h).mask_pad(cond.map_pad.clone()))
            .context
    }

    /// [`Self::forward`] with the map side computed beforehand ([`Self::memory`] of `cond`,
    /// or of its problems [`MapMemory::repeat`]ed as `cond` was).
    pub fn forward_with(
        &self,
        x_t: Tensor<3>,
        t: Tensor<1>,
        cond: &Conditioning,
        memory: &MapMemory,
    ) -> Tensor<3> {
        let time = self.time_embedding(t);
        let tokens = Tensor::cat(vec![cond.robots.clone(), x_t], 2);
        let mut x = self
            .robot_hidden
            .forward(gelu(self.robot_in.forward(tokens)));
        for (block, keys_values) in self.blocks.iter().zip(&memory.keys_values) {
            x = block.forward(x, time.clone(), keys_values, memory, cond);
        }
        let m = self.final_modulation.forward(time).chunk(2, 2);
        let h = modulate(normalize(x), m[0].clone(), m[1].clone());
        self.head.forward(h) * cond.robot_mask.clone()
    }

    /// Values per robot token of the trajectory (2K).
    pub fn trajectory_dim(&self) -> usize {
        self.dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowopt_core::{Problem, Scenario, ScenarioConfig};
    use proptest::prelude::*;

    fn host(t: Tensor<3>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    fn problem(robots: usize, obstacles: usize, seed: u64) -> Problem {
        Scenario::Obstacles
            .generate(&ScenarioConfig::new(robots).obstacles(obstacles).seed(seed))
            .unwrap()
    }

    fn permuted(p: &Problem, robots: &[usize], obstacles: &[usize]) -> Problem {
        let mut q = p.clone();
        q.robots = robots.iter().map(|&i| p.robots[i]).collect();
        q.obstacles = obstacles.iter().map(|&i| p.obstacles[i]).collect();
        q
    }

    fn velocity(net: &GeneratorNet, p: &Problem, x: &[f32], t: f32) -> Vec<f32> {
        let device = Device::flex();
        let cond = Conditioning::new(&[p], &device).unwrap();
        let n = p.robots.len();
        let x = Tensor::<3>::from_data(TensorData::new(x.to_vec(), [1, n, net.dim]), &device);
        host(net.forward(x, Tensor::full([1], t, &device), &cond))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]
        /// Permuting robots permutes the velocities; the obstacle order does not matter (1e-4).
        #[test]
        fn equivariant_to_robot_order_and_invariant_to_obstacle_order(
            seed in 0u64..1000,
            robots in 2usize..7,
            t in 0.0f32..1.0,
        ) {
            let _serial = crate::test_lock();
            let device = Device::flex();
            let config = GeneratorConfig { width: 32, heads: 4, blocks: 2, ..Default::default() };
            let net = config.build_seeded(&device, seed, false);
            let p = problem(robots, 3, seed);
            let d = net.dim;
            let x: Vec<f32> = (0..robots * d).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
            let base = velocity(&net, &p, &x, t);
            prop_assert!(base.iter().map(|v| v.abs()).sum::<f32>() > 1e-3, "trivial output");
            let perm: Vec<usize> = (0..robots).rev().collect();
            let mut xp = Vec::with_capacity(x.len());
            for &i in &perm {
                xp.extend_from_slice(&x[i * d..(i + 1) * d]);
            }
            let q = permuted(&p, &perm, &[2, 0, 1]);
            let moved = velocity(&net, &q, &xp, t);
            for (slot, &i) in perm.iter().enumerate() {
                for j in 0..d {
                    let (a, b) = (moved[slot * d + j], base[i * d + j]);
                    prop_assert!((a - b).abs() < 1e-4, "robot {i} value {j}: {a} vs {b}");
                }
            }
        }
    }

    /// A seeded model has the weights the seed gave when they were left to the first forward
    /// pass (as the shipped generator's training did), and keeps them when the device's
    /// generator is drawn from between the build and the first use.
    #[test]
    fn seeded_weights_are_those_of_a_first_forward_pass_and_stay() {
        let _serial = crate::test_lock();
        let device = Device::flex();
        let config = crate::config::tiny();
        let p = problem(4, 2, 3);
        let xs: Vec<f32> = (0..4 * config.trajectory_dim())
            .map(|i| (i as f32 * 0.21).cos())
            .collect();
        let eager = config.build_seeded(&device, 11, false);
        let _draw = Tensor::<2>::random([16, 16], burn::tensor::Distribution::Default, &device);
        let eager = velocity(&eager, &p, &xs, 0.4);
        device.seed(11);
        let lazy = config.build(&device, false);
        let lazy = velocity(&lazy, &p, &xs, 0.4);
        assert_eq!(eager, lazy);
        let other = velocity(&config.build_seeded(&device, 12, false), &p, &xs, 0.4);
        assert_ne!(eager, other);
    }

    /// Padding a problem into a batch with a larger one leaves its velocities unchanged.
    #[test]
    fn padding_does_not_change_the_result() {
        let _serial = crate::test_lock();
        let device = Device::flex();
        let config = crate::config::tiny();
        let net = config.build_seeded(&device, 7, false);
        let (small, big) = (problem(3, 1, 1), problem(6, 4, 2));
        let d = net.dim;
        let xs: Vec<f32> = (0..3 * d).map(|i| (i as f32 * 0.37).sin()).collect();
        let alone = velocity(&net, &small, &xs, 0.3);
        let cond = Conditioning::new(&[&small, &big], &device).unwrap();
        let mut x = vec![0f32; 2 * 6 * d];
        x[..3 * d].copy_from_slice(&xs);
        let x = Tensor::<3>::from_data(TensorData::new(x, [2, 6, d]), &device);
        let both = host(net.forward(x, Tensor::full([2], 0.3, &device), &cond));
        for (a, b) in alone.iter().zip(&both[..3 * d]) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        assert!(
            both[3 * d..6 * d].iter().all(|v| *v == 0.0),
            "padded rows are zero"
        );
    }

    /// The map memory is the plain arithmetic: its cross-attention is Burn's attention on the
    /// encoded map (padded obstacle tokens included), and one problem's memory repeated for
    /// its candidates gives the velocities of the repeated conditioning.
    #[test]
    fn map_memory_is_burns_attention_computed_once() {
        let _serial = crate::test_lock();
        let device = Device::flex();
        let net = crate::config::tiny().build_seeded(&device, 3, false);
        let (p, q) = (problem(4, 1, 1), problem(4, 3, 2));
        let cond = Conditioning::new(&[&p, &q], &device).unwrap();
        let memory = net.memory(&cond);
        // Burn's attention on the encoded map, for the first block.
        let map = net.encode_map(&cond);
        let queries = Tensor::<3>::random(
            [2, 4, net.width],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let block = &net.blocks[0];
        let burn = block.cross_attn.forward(
            MhaInput::new(queries.clone(), map.clone(), map).mask_pad(cond.map_pad.clone()),
        );
        let ours = block.cross(queries, &memory.keys_values[0], &memory);
        for (a, b) in host(ours).iter().zip(host(burn.context)) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // Repeated for three candidates each.
        let d = net.dim;
        let x = Tensor::<3>::random(
            [6, 4, d],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let t = Tensor::<1>::full([6], 0.4, &device);
        let repeated = cond.repeat(3);
        let once = host(net.forward_with(x.clone(), t.clone(), &repeated, &memory.repeat(3)));
        let plain = host(net.forward(x, t, &repeated));
        assert!(
            plain.iter().map(|v| v.abs()).sum::<f32>() > 1e-3,
            "trivial output"
        );
        for (a, b) in once.iter().zip(&plain) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let rows = memory.repeat(3).rows(2..5);
        assert_eq!(rows.size(), 3);
    }

    /// adaLN-Zero: a fresh model predicts zero velocity.
    #[test]
    fn a_fresh_model_starts_at_zero() {
        let _serial = crate::test_lock();
        let device = Device::flex();
        let net = GeneratorConfig::default().init(&device);
        let p = problem(4, 2, 0);
        let x = vec![0.5f32; 4 * net.dim];
        assert!(velocity(&net, &p, &x, 0.5).iter().all(|v| *v == 0.0));
    }
}
