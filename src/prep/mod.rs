//! Preparation, off the audio thread: what the engine is handed ready to play. The one
//! resampler (loops across a rate change, jams, script inputs, drum hits) and the drum
//! kit's decoding. Nothing here runs on the audio thread, and it takes its time and
//! allocates freely; the writer, decoder and scanner threads of recording and listening
//! belong beside it.

pub mod drums;
pub mod resample;
