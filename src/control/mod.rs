//! Control: the one command layer the panel, keyboard shortcuts, MIDI learn and OSC all
//! go through, so a foot switch, a key and an OSC message do exactly the same thing.
//!
//! Nothing here runs on the audio thread: it reads the engine's atomics and sends
//! `Command`s through the `Controller`.

pub mod lines;
pub mod listen;
pub mod midi_learn;
pub mod ops;
pub mod osc;
pub mod songs;
pub mod tap;

pub use midi_learn::{MidiLearn, MidiLearnError, Trigger};
pub use ops::{foot_switch_op, Action, LoopCommand, LoopControl, LoopReading, TrackSel};
pub use osc::{OscServer, OscStartError, DEFAULT_OSC_PORT};
pub use tap::TapTempo;
