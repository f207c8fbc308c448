//! Where CPU tensor work should run: on a worker of rayon's global pool, in how many lanes.

/// Runs `f` on a worker thread of rayon's global pool (directly, when the caller already is
/// one) inside the caller's tracing span, and returns what it returns.
///
/// Burn's CPU backend (flex) and its matmuls split each tensor op over that pool. Called from
/// any other thread, every op is handed to the pool and the caller sleeps until it is done: a
/// wake-up and a sleep per op. The filter runs hundreds of small ops per plan, and on 2 cores
/// those hand-offs took about a third of a plan's time (docs/tuning.md#thread-pool). From a worker,
/// the caller runs its share of each op itself and only the idle workers are woken.
///
/// Callers on several threads at once share the pool: a worker waiting inside one call may
/// take up another caller's whole call meanwhile (rayon's work stealing), which then finishes
/// first. The server therefore runs its neural planners on one thread, one batch at a time.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    let span = tracing::Span::current();
    rayon::scope(|_| span.in_scope(f))
}

/// How many lanes (blocks of a batch stepped in parallel, one per thread) a batched tensor
/// loop uses: `requested`, or for 0 (automatic) one per worker of rayon's pool when its
/// tensors are on the CPU and one otherwise (a GPU runs the whole batch in each op already).
///
/// On the CPU most ops of a small batch are too small for flex to split over threads, so a
/// second core sits idle unless the batch itself is split.
pub fn lanes(requested: usize, on_cpu: bool) -> usize {
    match requested {
        0 if on_cpu => rayon::current_num_threads(),
        0 => 1,
        lanes => lanes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_lanes_are_the_pool_workers_on_the_cpu_only() {
        assert_eq!(lanes(0, true), rayon::current_num_threads());
        assert_eq!(lanes(0, false), 1);
        assert_eq!(lanes(3, true), 3);
        assert_eq!(lanes(3, false), 3);
    }

    #[test]
    fn runs_on_a_pool_worker_and_returns_the_result() {
        assert!(rayon::current_thread_index().is_none());
        let (worker, value) = on_pool(|| (rayon::current_thread_index(), 6 * 7));
        assert!(worker.is_some(), "ran on the calling thread");
        assert_eq!(value, 42);
        // Nested calls run in place.
        let nested = on_pool(|| {
            let outer = rayon::current_thread_index();
            on_pool(move || rayon::current_thread_index() == outer)
        });
        assert!(nested);
    }
}
