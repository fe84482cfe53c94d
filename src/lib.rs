//! Samspill: real-time audio jamming and listening for music-therapy rooms.
//!
//! Layers, pointing one way: `ui` and the binary → `session`, `io`, `render` → `engine`.
//! `engine` is the audio thread and imports nothing that can block.

pub mod app;
pub mod control;
pub mod controller;
pub mod disk;
pub mod engine;
pub mod io;
pub mod number;
pub mod prep;
pub mod render;
pub mod session;
pub mod ui;

pub use controller::{new_engine, Controller, Snapshot, SoundFontState};
pub use engine::{Command, Engine, EngineConfig, InputConfig, MidiEvent, Patch};

// Unit tests run the audio path under the allocation checker too.
#[cfg(test)]
#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;
