//! The keyboard's sound: a GM SoundFont when one is installed, otherwise our own synth
//! and drum kit. Routes MIDI to whichever is active.

use super::command::{Patch, SoundFontSynth};
use super::drums::DrumKit;
use super::midi::{MidiMessage, DRUM_CHANNEL};
use super::synth::FallbackSynth;

pub struct Instruments {
    soundfont: Option<Box<SoundFontSynth>>,
    fallback: FallbackSynth,
    drums: DrumKit,
    patch: Patch,
    scratch_l: Vec<f32>,
    scratch_r: Vec<f32>,
}

impl Instruments {
    pub fn new(sample_rate: u32, max_block: usize) -> Self {
        let mut me = Self {
            soundfont: None,
            fallback: FallbackSynth::new(sample_rate),
            drums: DrumKit::builtin(sample_rate),
            patch: Patch::Piano,
            scratch_l: vec![0.0; max_block],
            scratch_r: vec![0.0; max_block],
        };
        me.set_patch(Patch::Piano);
        me
    }

    /// Not rt: new synths at the new rate; a SoundFont is rebuilt from the font it holds.
    pub fn set_sample_rate(&mut self, sample_rate: u32) {
        self.fallback = FallbackSynth::new(sample_rate);
        self.drums = DrumKit::builtin(sample_rate);
        if let Some(sf) = &mut self.soundfont {
            let mut settings = rustysynth::SynthesizerSettings::new(sample_rate as i32);
            settings.maximum_polyphony = sf.synth.get_maximum_polyphony();
            match rustysynth::Synthesizer::new(&sf.font, &settings) {
                Ok(s) => sf.synth = s,
                Err(_) => self.soundfont = None,
            }
        }
        self.set_patch(self.patch);
    }

    pub fn patch(&self) -> Patch {
        self.patch
    }

    pub fn has_soundfont(&self) -> bool {
        self.soundfont.is_some()
    }

    /// rt: swaps the SoundFont synth in, handing back the one it replaces.
    pub fn install(&mut self, mut sf: Box<SoundFontSynth>) -> Option<Box<SoundFontSynth>> {
        self.fallback.all_notes_off();
        self.drums.all_notes_off();
        program_all(&mut sf.synth, self.patch);
        self.soundfont.replace(sf)
    }

    /// rt:
    pub fn remove_soundfont(&mut self) -> Option<Box<SoundFontSynth>> {
        let old = self.soundfont.take();
        self.set_patch(self.patch);
        old
    }

    /// rt: chooses the keyboard's instrument on every melodic channel.
    pub fn set_patch(&mut self, patch: Patch) {
        self.patch = patch;
        match &mut self.soundfont {
            Some(sf) => program_all(&mut sf.synth, patch),
            None => {
                for channel in (0..16u8).filter(|c| *c != DRUM_CHANNEL) {
                    self.fallback.handle(MidiMessage::Program {
                        channel,
                        program: patch.gm_program(),
                    });
                }
            }
        }
    }

    /// rt:
    pub fn handle(&mut self, msg: MidiMessage) {
        match &mut self.soundfont {
            Some(sf) => {
                let (bytes, _) = msg.to_bytes();
                sf.synth.process_midi_message(
                    msg.channel() as i32,
                    (bytes[0] & 0xF0) as i32,
                    bytes[1] as i32,
                    bytes[2] as i32,
                );
            }
            None if msg.channel() == DRUM_CHANNEL => self.drums.handle(msg),
            None => self.fallback.handle(msg),
        }
    }

    /// rt: the panic button: everything fades out within milliseconds.
    pub fn all_notes_off(&mut self) {
        if let Some(sf) = &mut self.soundfont {
            sf.synth.note_off_all(false);
        }
        self.fallback.all_sound_off();
        self.drums.all_notes_off();
    }

    /// rt: renders `left.len()` frames into the buffers (overwriting them); false when
    /// nothing sounds (the buffers are then silent and need not be mixed).
    pub fn render(&mut self, left: &mut [f32], right: &mut [f32]) -> bool {
        let n = left.len().min(right.len()).min(self.scratch_l.len());
        let (left, right) = (&mut left[..n], &mut right[..n]);
        match &mut self.soundfont {
            Some(sf) => {
                sf.synth.render(left, right);
                // The fallback may still be releasing notes from before the swap.
                if self.fallback.active_voices() + self.drums.active_voices() > 0 {
                    let (sl, sr) = (&mut self.scratch_l[..n], &mut self.scratch_r[..n]);
                    sl.fill(0.0);
                    sr.fill(0.0);
                    self.fallback.render_add(sl, sr);
                    self.drums.render_add(sl, sr);
                    left.iter_mut().zip(sl.iter()).for_each(|(d, s)| *d += s);
                    right.iter_mut().zip(sr.iter()).for_each(|(d, s)| *d += s);
                }
            }
            None => {
                left.fill(0.0);
                right.fill(0.0);
                if self.fallback.active_voices() + self.drums.active_voices() == 0 {
                    // Still lets the synth settle its glides.
                    self.fallback.render_add(left, right);
                    return false;
                }
                self.fallback.render_add(left, right);
                self.drums.render_add(left, right);
            }
        }
        true
    }

    pub fn active_voices(&self) -> usize {
        self.fallback.active_voices() + self.drums.active_voices()
    }
}

/// rt: sets the program on every melodic channel of a SoundFont synth.
fn program_all(synth: &mut rustysynth::Synthesizer, patch: Patch) {
    for channel in (0..16).filter(|c| *c != DRUM_CHANNEL as i32) {
        synth.process_midi_message(channel, 0xC0, patch.gm_program() as i32, 0);
    }
}
