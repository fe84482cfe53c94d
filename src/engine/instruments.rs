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
    /// No SoundFont, nothing sounding and every glide settled: rendering is a fill with
    /// zeros until something changes (any note, patch or synth swap wakes it).
    resting: bool,
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
            resting: false,
        };
        me.set_patch(Patch::Piano);
        me
    }

    /// Not rt: new synths at the new rate; a SoundFont is rebuilt from the font it holds.
    pub fn set_sample_rate(&mut self, sample_rate: u32) {
        self.resting = false;
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
        self.resting = false;
        self.fallback.all_notes_off();
        self.drums.all_notes_off();
        program_all(&mut sf.synth, self.patch);
        self.soundfont.replace(sf)
    }

    /// rt:
    pub fn remove_soundfont(&mut self) -> Option<Box<SoundFontSynth>> {
        self.resting = false;
        let old = self.soundfont.take();
        self.set_patch(self.patch);
        old
    }

    /// rt: chooses the keyboard's instrument on every melodic channel.
    pub fn set_patch(&mut self, patch: Patch) {
        self.resting = false;
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
        self.resting = false;
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
        self.resting = false;
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
                if self.resting {
                    return false;
                }
                if self.fallback.active_voices() + self.drums.active_voices() == 0 {
                    // Still lets the synth settle its glides.
                    self.fallback.render_add(left, right);
                    self.resting = true;
                    return false;
                }
                self.fallback.render_add(left, right);
                self.drums.render_add(left, right);
            }
        }
        true
    }

    pub fn active_voices(&self) -> usize {
        if self.resting {
            return 0;
        }
        self.fallback.active_voices() + self.drums.active_voices()
    }
}

/// rt: sets the program on every melodic channel of a SoundFont synth.
fn program_all(synth: &mut rustysynth::Synthesizer, patch: Patch) {
    for channel in (0..16).filter(|c| *c != DRUM_CHANNEL as i32) {
        synth.process_midi_message(channel, 0xC0, patch.gm_program() as i32, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(i: &mut Instruments) -> (bool, f32) {
        let (mut l, mut r) = (vec![1f32; 64], vec![1f32; 64]);
        let sounding = i.render(&mut l, &mut r);
        (
            sounding,
            l.iter().chain(&r).fold(0f32, |m, s| m.max(s.abs())),
        )
    }

    #[test]
    fn resting_instruments_render_silence_and_wake_on_the_next_note() {
        let mut i = Instruments::new(48_000, 64);
        for _ in 0..4 {
            assert_eq!(
                block(&mut i),
                (false, 0.0),
                "silence is written, not left over"
            );
        }
        assert_eq!(i.active_voices(), 0);
        for (channel, key) in [(0u8, 60u8), (DRUM_CHANNEL, 38)] {
            i.handle(MidiMessage::NoteOn {
                channel,
                key,
                velocity: 100,
            });
            let mut heard = false;
            for _ in 0..8 {
                heard |= block(&mut i).1 > 0.01;
            }
            assert!(heard, "channel {channel} did not wake the instruments");
            assert!(i.active_voices() > 0);
            i.all_notes_off();
            for _ in 0..200 {
                block(&mut i);
            }
            assert_eq!(block(&mut i), (false, 0.0), "it comes to rest again");
        }
    }
}
