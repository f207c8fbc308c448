//! Where CPU tensor work should run: on a worker of rayon's global pool.

/// Runs `f` on a worker thread of rayon's global pool (directly, when the caller already is
/// one) inside the caller's tracing span, and returns what it returns.
///
/// Burn's CPU backend (flex) and its matmuls split each tensor op over that pool. Called from
/// any other thread, every op is handed to the pool and the caller sleeps until it is done: a
/// wake-up and a sleep per op. The filter runs hundreds of small ops per plan, and on 2 cores
/// those hand-offs took about a third of a plan's time (README, "Thread pool"). From a worker,
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

#[cfg(test)]
mod tests {
    use super::*;

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
