//! Seeded initialisation of Burn modules: the one place where the neural crates turn a seed
//! into initial weights.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

/// Runs `build` with the device's random generator seeded (weight initialisation), one at a
/// time across threads so concurrent initialisations cannot interleave. Burn initialises
/// parameters lazily, on first use, so every parameter of the built module is initialised
/// here, under the lock: left to its first forward pass, it would draw from the generator
/// whenever that comes, after whatever the caller or other threads drew meanwhile.
pub fn seeded<M: Module>(device: &Device, seed: u64, build: impl FnOnce() -> M) -> M {
    struct Initialise;
    impl ModuleVisitor for Initialise {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
        fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
            let _ = param.val();
        }
        fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
            let _ = param.val();
        }
    }
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    device.seed(seed);
    let module = build();
    module.visit(&mut Initialise);
    module
}

#[cfg(test)]
mod tests {
    use burn::nn::LinearConfig;

    use super::*;

    /// The weights follow the seed even when the generator is drawn from between the build
    /// and the first use (what lazy initialisation would otherwise pick up).
    #[test]
    fn weights_follow_the_seed_whatever_is_drawn_after() {
        let device = Device::flex();
        let weights = |seed: u64| {
            let linear = seeded(&device, seed, || LinearConfig::new(4, 3).init(&device));
            let _noise = Tensor::<2>::random([8, 8], burn::tensor::Distribution::Default, &device);
            linear.weight.val().into_data().try_to_vec::<f32>().unwrap()
        };
        assert_eq!(weights(5), weights(5));
        assert_ne!(weights(5), weights(6));
    }
}
