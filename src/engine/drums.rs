//! The built-in drum kit on channel 10, from samples the project synthesised itself.
//! (Being written: see the helper's work.)

use super::midi::MidiMessage;

pub struct DrumKit {}

impl DrumKit {
    /// Decodes the kit that is built into the binary, resampled to `sample_rate`.
    pub fn builtin(_sample_rate: u32) -> Self {
        Self {}
    }
    /// rt:
    pub fn handle(&mut self, _msg: MidiMessage) {}
    /// rt: adds into the buffers.
    pub fn render_add(&mut self, _left: &mut [f32], _right: &mut [f32]) {}
    /// rt:
    pub fn all_notes_off(&mut self) {}
    pub fn active_voices(&self) -> usize {
        0
    }
}
