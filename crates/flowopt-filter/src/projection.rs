//! [`Projection`]: what [`crate::SafetyFilter::project`] is asked to do, the filter's one
//! projection entry point: the instances, whose each one is, and the caller's check.

use flowopt_core::{Coefficients, Problem};

use crate::batch::Instance;
use crate::solver::Decision;

/// The caller's check on an instance the filter offers (see [`Projection::accepting`]).
type Check<'c> = Box<dyn FnMut(usize, &[Coefficients]) -> Decision + 'c>;

/// A projection request. Built from instances ([`Self::of`], or `&instances` directly) or from
/// the candidates of several problems ([`Self::problems`]); by default every instance that meets
/// the filter's tolerance counts towards [`crate::FilterSettings::stop_after`].
pub struct Projection<'a, 'c> {
    pub(crate) instances: Vec<Instance<'a>>,
    /// Whose each instance is: `stop_after` applies to each owner on its own.
    pub(crate) owners: Vec<usize>,
    /// Whether the check is called with the owner's index (per-problem requests) rather
    /// than the instance's.
    pub(crate) by_owner: bool,
    pub(crate) check: Option<Check<'c>>,
}

impl<'a, 'c> Projection<'a, 'c> {
    /// Every instance, all of one owner.
    pub fn of(instances: &[Instance<'a>]) -> Self {
        Self {
            instances: instances.to_vec(),
            owners: vec![0; instances.len()],
            by_owner: false,
            check: None,
        }
    }

    /// The candidates of several problems (`candidates[p]` for `problems[p]`), in shared
    /// batches, each problem stopping on its own; the outputs come in problem order
    /// ([`Self::per_problem`] regroups them), and the check is called with the problem's index.
    pub fn problems(problems: &'a [Problem], candidates: &'a [Vec<Vec<Coefficients>>]) -> Self {
        let mut instances = Vec::new();
        let mut owners = Vec::new();
        for (p, (problem, candidates)) in problems.iter().zip(candidates).enumerate() {
            for candidate in candidates {
                instances.push(Instance { problem, candidate });
                owners.push(p);
            }
        }
        Self {
            instances,
            owners,
            by_owner: true,
            check: None,
        }
    }

    /// Instances of several independent requests: `owners[i]` says whose instance `i` is (e.g.
    /// the index of its problem), and `stop_after` applies to each owner on its own. Instances of
    /// the same shape run as one batch whoever owns them; each owner's results are those it
    /// would get alone (see [`crate::solver::run_grouped`]), which is what lets the server batch
    /// requests. A count other than the instances' is an error naming `owners`.
    pub fn owners(mut self, owners: &[usize]) -> Self {
        self.owners = owners.to_vec();
        self
    }

    /// An instance that meets the tolerance (or is offered below
    /// [`crate::FilterSettings::verify_below`]) counts towards `stop_after` only if
    /// `accept(index, coefficients)` takes it: a planner can ask for candidates that also pass
    /// its own, denser check before the batch stops.
    pub fn accepting(mut self, accept: &'c mut dyn FnMut(usize, &[Coefficients]) -> bool) -> Self {
        self.check = Some(Box::new(move |i, c| accept(i, c).into()));
        self
    }

    /// [`Self::accepting`] where the check answers with a [`Decision`]: with proximal rounds
    /// ([`crate::FilterSettings::recentre`]) it can end an instance's rounds early
    /// ([`Decision::Finish`]). An instance's output is where it stood when its owner stopped;
    /// the points its rounds reached are those `decide` accepted.
    pub fn deciding(
        mut self,
        decide: &'c mut dyn FnMut(usize, &[Coefficients]) -> Decision,
    ) -> Self {
        self.check = Some(Box::new(decide));
        self
    }

    /// The outputs of a [`Self::problems`] request, one list per problem (as many as its
    /// candidates).
    pub fn per_problem<T>(outputs: Vec<T>, candidates: &[Vec<Vec<Coefficients>>]) -> Vec<Vec<T>> {
        let mut outputs = outputs.into_iter();
        candidates
            .iter()
            .map(|c| outputs.by_ref().take(c.len()).collect())
            .collect()
    }
}

impl<'a, T: AsRef<[Instance<'a>]> + ?Sized> From<&T> for Projection<'a, '_> {
    fn from(instances: &T) -> Self {
        Self::of(instances.as_ref())
    }
}
