//! Medians of wall times: how the benchmark turns repetitions into one
//! figure each.

use crate::{Error, Sandbox};
use std::time::{Duration, Instant};

/// Runs `f` `reps` times (at least once) and returns the median wall time,
/// in milliseconds.
pub(super) fn median_ms<E>(reps: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<f64, Error>
where
    Error: From<E>,
{
    median_of(reps, || {
        let start = Instant::now();
        f()?;
        Ok::<_, E>(start.elapsed())
    })
}

/// The median wall time of each of `steps` over `reps` repetitions (at
/// least one), where each repetition runs every step once, in turn.
///
/// Interleaved rather than one step's repetitions after another's, so that
/// a slow spell of the machine (a noisy neighbour, a frequency change)
/// falls on every column of a row alike and the ratios between them stay
/// honest; on a shared virtual machine such spells last seconds.
pub(super) fn interleaved_medians_ms<const N: usize>(
    reps: usize,
    sandbox: &Sandbox,
    mut steps: [&mut dyn FnMut() -> Result<(), Error>; N],
) -> Result<[f64; N], Error> {
    let mut times: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(reps.max(1)));
    for _ in 0..reps.max(1) {
        for (step, times) in steps.iter_mut().zip(&mut times) {
            let start = Instant::now();
            step()?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            // What a sandboxed compile leaves for after its answer must
            // not fall on the next step.
            sandbox.settle();
        }
    }
    Ok(times.map(median))
}

/// Runs `f` `reps` times (at least once); `f` times what matters itself.
fn median_of<E>(reps: usize, mut f: impl FnMut() -> Result<Duration, E>) -> Result<f64, Error>
where
    Error: From<E>,
{
    let mut times = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        times.push(f()?.as_secs_f64() * 1000.0);
    }
    Ok(median(times))
}

/// The median of `times` (not empty).
pub(super) fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
