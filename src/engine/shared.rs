//! What the audio thread tells the control side: meters and counters in atomics,
//! written once per block and read whenever the panel draws.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Most input strips an engine can have.
pub const MAX_INPUTS: usize = 8;
/// Most tracks a looper can have.
pub const MAX_TRACKS: usize = 8;

/// An f32 that can be shared without a lock.
#[derive(Default, Debug)]
pub struct AtomicF32(AtomicU32);

impl AtomicF32 {
    pub fn new(v: f32) -> Self {
        Self(AtomicU32::new(v.to_bits()))
    }
    pub fn load(&self) -> f32 {
        f32::from_bits(self.0.load(Relaxed))
    }
    pub fn store(&self, v: f32) {
        self.0.store(v.to_bits(), Relaxed)
    }
}

/// Peak of the last block and a running RMS (about 300 ms), both as linear gains.
#[derive(Default, Debug)]
pub struct Meter {
    pub peak: AtomicF32,
    pub rms: AtomicF32,
}

/// The levels a person reads off the panel.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Level {
    pub peak: f32,
    pub rms: f32,
}

impl Meter {
    pub fn read(&self) -> Level {
        Level {
            peak: self.peak.load(),
            rms: self.rms.load(),
        }
    }
}

/// One loop track as the panel and OSC see it.
#[derive(Debug, Default)]
pub struct LoopMeter {
    /// SooperLooper's state number (0 off, 2 recording, 4 playing, 5 overdubbing, 10 muted, ...).
    pub state: AtomicU32,
    pub loop_frames: AtomicU32,
    pub pos_frames: AtomicU32,
    pub cycle_frames: AtomicU32,
    /// How often the track filled up while recording.
    pub full_count: AtomicU32,
    /// What the track played: peak of the last block and a running RMS-like level.
    pub level: Meter,
    /// Undo and redo steps there are to take.
    pub undo_levels: AtomicU32,
    pub redo_levels: AtomicU32,
    /// What the track records from (`looper::SOURCE_*`; input k alone is
    /// `SOURCE_INPUT_BASE + k`).
    pub source: AtomicU32,
}

/// Counters and meters shared between the engine and the control side.
#[derive(Debug, Default)]
pub struct Shared {
    pub inputs: [Meter; MAX_INPUTS],
    pub instruments: Meter,
    pub master: Meter,
    /// Gain reduction of the limiter in dB (0 = not limiting), lowest in the last block.
    pub limiter_reduction_db: AtomicF32,
    /// Frames processed since the engine started.
    pub frames: AtomicU64,
    pub midi_received: AtomicU64,
    /// Bytes that were not MIDI: ignored and counted, never fatal.
    pub midi_malformed: AtomicU64,
    /// Commands refused because the engine's list of commands waiting for their frame
    /// was full (they are never applied early instead).
    pub commands_refused: AtomicU64,
    /// Samples or values that were not numbers (NaN, ±Inf): each time, the piece of audio
    /// was silenced or the value refused, so none reached the speakers or a loop.
    pub bad_numbers: AtomicU64,
    /// Allocations an audio callback made (counted where the allocation checker runs:
    /// tests and debug builds); anything but 0 is a bug.
    pub rt_allocations: AtomicU64,
    /// Things the engine let go of but could not hand back yet (the return queue was full).
    pub garbage_delayed: AtomicU64,
    pub voices_active: AtomicU32,
    /// Set by the io layer: blocks where input or output ran dry or overflowed.
    pub xruns: AtomicU64,
    /// Set by the io layer (ALSA): times the input ring was put back to where it settled
    /// after a dropout, so the round trip stayed what loops compensate.
    pub input_recentred: AtomicU64,
    /// Set by the io layer (ALSA): frames the input waits in the ring on average (its
    /// share of the round trip, by Little's law), and where that settled.
    pub input_ring_frames: AtomicU32,
    pub input_ring_settled: AtomicU32,
    /// Set by the io layer: the most CPU time one audio callback used, in µs (the thread's
    /// own clock, so time the machine took the thread away does not count). Below the
    /// period, a dropout was not Samspill's doing.
    pub longest_callback_us: AtomicU32,
    /// Set by the io layer: frames of latency from input to output, as the device reports it.
    pub latency_frames: AtomicU32,
    /// The sample rate the engine runs at now.
    pub sample_rate: AtomicU32,
    /// 0 = none yet, otherwise the engine holds a SoundFont synth.
    pub soundfont_active: AtomicU32,
    /// Loop tracks the engine has (0 until a looper is installed).
    pub loop_tracks: AtomicU32,
    pub loops: [LoopMeter; MAX_TRACKS],
}

impl Shared {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}
