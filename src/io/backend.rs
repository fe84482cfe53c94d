//! The one small trait every way of reaching the speakers implements, so nothing above
//! `io` knows which one runs.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crossbeam_channel::Receiver;

use super::engine_cell::EngineCell;
use super::error::IoError;
use super::midi_queue::{IoCounters, TimedMidi};
use crate::engine::Shared;

/// Which backend drives the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Alsa,
    Jack,
    /// The internal clock: no device, output discarded.
    Clock,
}

/// What a running stream reports about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub backend: BackendKind,
    /// The output device (ALSA), the client name (JACK), or empty (clock).
    pub device: String,
    pub sample_rate: u32,
    pub buffer_frames: u32,
    /// Input channels the engine reads from the device.
    pub input_channels: usize,
    /// Why the inputs are silent although the output runs (ALSA input device failed).
    pub input_problem: Option<String>,
}

/// Why a stream stopped by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostReason {
    /// The device was unplugged or disappeared.
    DeviceGone,
    /// The JACK server quit or threw us out.
    ServerGone,
    /// The JACK server changed its sample rate under us.
    RateChanged,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Running,
    Lost(LostReason),
}

/// rt: runs one audio callback under the allocation checker. An allocation in it (where
/// the checker is the global allocator: tests and debug builds) is counted in
/// `Shared::rt_allocations`, readable from any thread, as well as reported on stderr.
/// The CPU time it used goes into `Shared::longest_callback_us`.
#[inline]
pub fn checked_callback<R>(shared: &Shared, f: impl FnOnce() -> R) -> R {
    let started = thread_cpu_ns();
    let before = assert_no_alloc::violation_count();
    let r = assert_no_alloc::assert_no_alloc(f);
    let after = assert_no_alloc::violation_count();
    if after != before {
        shared
            .rt_allocations
            .fetch_add(u64::from(after.wrapping_sub(before)), Ordering::Relaxed);
    }
    let used_us = thread_cpu_ns().saturating_sub(started) / 1000;
    shared
        .longest_callback_us
        .fetch_max(used_us.min(u64::from(u32::MAX)) as u32, Ordering::Relaxed);
    r
}

/// rt: CPU time this thread has used, in ns: one clock_gettime (no lock, no allocation).
/// Wall time would count the moments a busy machine takes the thread away, which are
/// not the callback's cost.
#[inline]
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; the clock id is a constant Linux knows.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if ok {
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    } else {
        0
    }
}

/// A flag a callback can raise without allocating or locking.
#[derive(Debug, Default)]
pub struct LostFlag(AtomicU8);

impl LostFlag {
    /// rt: (and async-signal safe) marks the stream as lost.
    pub fn raise(&self, reason: LostReason) {
        let code = match reason {
            LostReason::DeviceGone => 1,
            LostReason::ServerGone => 2,
            LostReason::RateChanged => 3,
        };
        let _ = self
            .0
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire);
    }

    pub fn health(&self) -> Health {
        match self.0.load(Ordering::Acquire) {
            0 => Health::Running,
            1 => Health::Lost(LostReason::DeviceGone),
            2 => Health::Lost(LostReason::ServerGone),
            _ => Health::Lost(LostReason::RateChanged),
        }
    }
}

/// Everything a stream needs to drive the engine; cheap to clone.
#[derive(Clone)]
pub struct StreamContext {
    pub engine: Arc<EngineCell>,
    pub shared: Arc<Shared>,
    pub counters: Arc<IoCounters>,
    /// MIDI from the sequencer threads (ALSA, clock); JACK brings its own.
    pub midi: Receiver<TimedMidi>,
    /// Device input channels the engine's strips read (channel 0..n).
    pub input_channels: usize,
}

/// A stream that drives the engine until it is dropped. Dropping it stops the callbacks;
/// the engine stays in its cell for the next stream.
pub trait AudioStream: Send {
    fn info(&self) -> StreamInfo;
    fn health(&self) -> Health;
}

/// One way of reaching the outside world: ALSA, JACK or the internal clock.
pub trait Backend {
    /// Opens and starts a stream. The engine's sample rate is set before the first block.
    fn open(&self, ctx: &StreamContext) -> Result<Box<dyn AudioStream>, IoError>;
}

/// Milliseconds a buffer of `frames` lasts.
pub(crate) fn buffer_ms(frames: u32, rate: u32) -> f64 {
    frames as f64 * 1000.0 / rate.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn an_allocation_in_a_callback_is_counted_for_every_thread_to_see() {
        let shared = Shared::default();
        checked_callback(&shared, || std::hint::black_box(0u8));
        assert_eq!(shared.rt_allocations.load(Relaxed), 0);
        let v = checked_callback(&shared, || std::hint::black_box(vec![1u8; 64]));
        assert_eq!(v.len(), 64);
        drop(v);
        assert_eq!(shared.rt_allocations.load(Relaxed), 1);
    }
}
