//! Preparation, off the audio thread: what the engine is handed ready to play. The one
//! resampler (loops across a rate change, jams, script inputs, drum hits) and the drum
//! kit's decoding. Nothing here runs on the audio thread, and it takes its time and
//! allocates freely; the writer, decoder and scanner threads of recording and listening
//! belong beside it.

use crate::engine::RateAssets;

pub mod drums;
pub mod looper_rate;
pub mod resample;

/// Not rt: what the engine needs at `sample_rate` (at least 8 kHz), for
/// `Engine::set_sample_rate` and a new engine.
pub fn for_rate(sample_rate: u32) -> RateAssets {
    let sample_rate = sample_rate.max(8000);
    RateAssets {
        sample_rate,
        drums: drums::builtin(sample_rate),
    }
}
