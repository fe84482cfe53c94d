//! The engine's home while streams come and go: a lock-free hand-off between whichever
//! audio callback runs now and the control side.
//!
//! The callback swaps the pointer to null while it processes and puts it back after, so
//! the engine is never in two places. The control side takes it the same way, waiting
//! briefly if a callback has it; a callback that finds it gone plays silence. While the
//! control side waits, callbacks leave the engine alone, so a busy audio thread cannot
//! starve it.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::engine::Engine;

pub struct EngineCell {
    ptr: AtomicPtr<Engine>,
    /// Control-side callers waiting for the engine.
    wanted: AtomicU32,
}

// The engine moves between threads but is only ever used by one at a time.
const _: () = {
    fn assert_send<T: Send>() {}
    let _ = assert_send::<Engine>;
};

impl EngineCell {
    pub fn new(engine: Engine) -> Self {
        Self {
            ptr: AtomicPtr::new(Box::into_raw(Box::new(engine))),
            wanted: AtomicU32::new(0),
        }
    }

    /// rt: lends the engine for one block, or `None` while someone else holds it.
    pub fn lend(&self) -> Option<Lent<'_>> {
        if self.wanted.load(Ordering::Acquire) > 0 {
            return None;
        }
        self.take()
    }

    /// rt: swaps the engine out, or `None` if someone else has it.
    fn take(&self) -> Option<Lent<'_>> {
        let p = self.ptr.swap(std::ptr::null_mut(), Ordering::AcqRel);
        NonNull::new(p).map(|ptr| Lent { cell: self, ptr })
    }

    /// Not rt: runs `f` on the engine, waiting up to `timeout` for a callback to hand it
    /// back. `None` if it never did.
    pub fn with<R>(&self, timeout: Duration, f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
        self.wanted.fetch_add(1, Ordering::AcqRel);
        let got = self.wait_take(timeout);
        // Callbacks may lend again once this one holds it (or has given up).
        self.wanted.fetch_sub(1, Ordering::AcqRel);
        got.map(|mut lent| f(&mut lent))
    }

    fn wait_take(&self, timeout: Duration) -> Option<Lent<'_>> {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if let Some(lent) = self.take() {
                return Some(lent);
            }
            if start.elapsed() >= timeout {
                return None;
            }
            // A block takes well under a millisecond of work: spin a little, then sleep.
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

impl Drop for EngineCell {
    fn drop(&mut self) {
        let p = self.ptr.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // Safety: the pointer came from Box::into_raw and nobody else holds it
            // (a Lent borrows the cell, so it cannot outlive it).
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// The engine on loan to one block; goes back into the cell when dropped.
pub struct Lent<'a> {
    cell: &'a EngineCell,
    ptr: NonNull<Engine>,
}

impl std::ops::Deref for Lent<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        // Safety: swapping the pointer out made this loan the only holder.
        unsafe { self.ptr.as_ref() }
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        // Safety: as above.
        unsafe { self.ptr.as_mut() }
    }
}

impl Drop for Lent<'_> {
    /// rt: puts the engine back.
    fn drop(&mut self) {
        self.cell.ptr.store(self.ptr.as_ptr(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{new_engine, EngineConfig};
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::Arc;

    #[test]
    fn the_engine_is_lent_to_one_holder_at_a_time_and_survives_a_busy_audio_thread() {
        let (_c, engine) = new_engine(&EngineConfig::default());
        let cell = Arc::new(EngineCell::new(engine));
        let stop = Arc::new(AtomicBool::new(false));
        let blocks = Arc::new(AtomicU64::new(0));
        let audio = {
            let (cell, stop, blocks) = (cell.clone(), stop.clone(), blocks.clone());
            std::thread::spawn(move || {
                let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
                while !stop.load(Ordering::Relaxed) {
                    if let Some(mut e) = cell.lend() {
                        assert!(cell.lend().is_none(), "lent twice");
                        e.process(&[], &mut l, &mut r, &[]);
                        blocks.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        for rate in [44_100, 48_000, 96_000, 48_000] {
            let assets = crate::prep::for_rate(rate);
            let got = cell.with(Duration::from_secs(2), |e| {
                e.set_sample_rate(assets);
                e.sample_rate()
            });
            assert_eq!(got, Some(rate));
        }
        while blocks.load(Ordering::Relaxed) < 10 {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
        audio.join().unwrap();
        assert_eq!(cell.with(Duration::ZERO, |e| e.sample_rate()), Some(48_000));
        let held = cell.lend();
        assert!(cell.with(Duration::from_millis(5), |_| ()).is_none());
        drop(held);
    }
}
