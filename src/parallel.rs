//! Gathering several architectures at once, results in order.
//!
//! burn's `flex` device runs each op on the calling thread, so one gather keeps one core busy;
//! on a machine with more cores the others would idle. [`ordered`] runs independent pieces of
//! work (gather one architecture, maybe score it) on a few threads and hands the results back in
//! the order of their index, so callers see exactly what a sequential loop would have produced:
//! every architecture's computation is the same whichever thread runs it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Runs `work(k)` for `k` in `0..n` on up to `jobs` threads and calls `each(k, result)` on the
/// calling thread in increasing `k`. Stops taking new work when `stop` is set or `each` returns
/// an error (that error is returned). Returns how many results were handed to `each`: all `n`,
/// or fewer when stopped. With `jobs <= 1` it is a plain loop on the calling thread.
pub fn ordered<T: Send, E>(
    n: usize,
    jobs: usize,
    stop: &AtomicBool,
    work: impl Fn(usize) -> T + Sync,
    mut each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<usize, E> {
    if jobs <= 1 || n <= 1 {
        for k in 0..n {
            if stop.load(Ordering::SeqCst) {
                return Ok(k);
            }
            each(k, work(k))?;
        }
        return Ok(n);
    }
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, T)>();
        for _ in 0..jobs.min(n) {
            let tx = tx.clone();
            let (work, next, abort) = (&work, &next, &abort);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) || abort.load(Ordering::SeqCst) {
                    break;
                }
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k >= n {
                    break;
                }
                if tx.send((k, work(k))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut delivered = 0;
        let mut outcome = Ok(());
        for (k, value) in rx {
            if outcome.is_err() {
                continue;
            }
            pending.insert(k, value);
            while let Some(value) = pending.remove(&delivered) {
                if let Err(e) = each(delivered, value) {
                    outcome = Err(e);
                    abort.store(true, Ordering::SeqCst);
                    break;
                }
                delivered += 1;
            }
        }
        outcome.map(|()| delivered)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_order_whatever_the_thread_count() {
        for jobs in [1, 2, 3, 8] {
            let stop = AtomicBool::new(false);
            let mut seen = vec![];
            // Uneven work: later items finish first on several threads.
            let n = ordered::<_, ()>(10, jobs, &stop, |k| {
                std::thread::sleep(std::time::Duration::from_millis((10 - k as u64) * 2));
                k * k
            }, |k, v| {
                seen.push((k, v));
                Ok(())
            })
            .unwrap();
            assert_eq!(n, 10);
            assert_eq!(seen, (0..10).map(|k| (k, k * k)).collect::<Vec<_>>(), "jobs {jobs}");
        }
    }

    #[test]
    fn an_error_stops_the_work_and_is_returned() {
        let stop = AtomicBool::new(false);
        let mut seen = vec![];
        let r = ordered(100, 2, &stop, |k| k, |k, _| {
            seen.push(k);
            if k == 3 { Err("boom") } else { Ok(()) }
        });
        assert_eq!(r, Err("boom"));
        assert_eq!(seen, vec![0, 1, 2, 3]);
    }

    #[test]
    fn stop_hands_back_a_prefix() {
        let stop = AtomicBool::new(false);
        let mut seen = 0;
        let n = ordered::<_, ()>(50, 2, &stop, |k| {
            if k == 5 {
                stop.store(true, Ordering::SeqCst);
            }
            k
        }, |_, _| {
            seen += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, seen);
        assert!((5..50).contains(&n), "{n}");
    }
}
