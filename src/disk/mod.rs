//! Off-thread workers that touch the disk: the take writer (rings from the engine into
//! WAV files, synced every second), the repair of files a crash cut off, free space.
//! Nothing here runs on the audio thread; the engine only sees the rings.

pub mod decode;
pub mod export;
pub mod listen_feeder;
pub mod loudness;
pub mod overview;
pub mod song_reader;
pub mod space;
pub mod take_writer;
pub mod wav_repair;

pub use take_writer::{TakeFormat, TakeWriter, WriteFailure, WriterEvent, WriterJob};
pub use wav_repair::{repair_wav, RepairError, Repaired};
