//! The fallback synth: plays the keyboard when no SoundFont is installed.
//! (Being written: see the helper's work.)

use super::midi::MidiMessage;

pub struct FallbackSynth {
    _sample_rate: f32,
}

impl FallbackSynth {
    /// Allocates every voice up front.
    pub fn new(sample_rate: u32) -> Self {
        Self {
            _sample_rate: sample_rate as f32,
        }
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
