//! The keyboard's sound: a GM SoundFont when one is installed, otherwise our own synth
//! and drum kit. Routes MIDI to whichever is active.

use super::command::{Patch, SoundFontSynth};
use super::drums::{DrumKit, DrumSounds};
use super::level;
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
    sf_rest: SoundFontRest,
}

/// A SoundFont synth renders reverb and chorus on silence too, so once no key is down
/// and its tail has died away it is put to rest. It renders in blocks of its own, so it
/// rests only on one of its block boundaries, and on waking renders the frames it skipped
/// (modulo its block) into scratch: notes land on the grid they would have without rest,
/// and the sound is the same at every engine block size.
#[derive(Clone, Copy, Debug, Default)]
struct SoundFontRest {
    /// Keys down, a bit per key, per channel; sustain pedals down, a bit per channel.
    keys: [u128; 16],
    pedals: u16,
    /// Frames since the last sample above the floor.
    quiet_frames: u64,
    /// Frames into the synth's current block.
    phase: usize,
    resting: bool,
    skipped: u64,
}

/// Below -100 dBFS a tail is inaudible; held that long, it has died away (rustysynth's
/// reverb is gone below this well before then).
const SOUNDFONT_FLOOR: f32 = 1e-5;
const SOUNDFONT_REST_SECS: f32 = 0.3;

impl SoundFontRest {
    /// rt: follows what is held down, so a held note is never put to rest.
    fn follow(&mut self, msg: &MidiMessage) {
        match *msg {
            MidiMessage::NoteOn {
                channel,
                key,
                velocity,
            } if velocity > 0 => self.keys[channel as usize & 15] |= 1 << (key & 127),
            MidiMessage::NoteOn { channel, key, .. }
            | MidiMessage::NoteOff { channel, key, .. } => {
                self.keys[channel as usize & 15] &= !(1 << (key & 127))
            }
            MidiMessage::Control {
                channel,
                controller: 64,
                value,
            } => {
                let bit = 1 << (channel & 15);
                if value >= 64 {
                    self.pedals |= bit
                } else {
                    self.pedals &= !bit
                }
            }
            // All sound off, reset controllers, all notes off.
            MidiMessage::Control {
                channel,
                controller: 120 | 121 | 123,
                ..
            } => {
                self.keys[channel as usize & 15] = 0;
                self.pedals &= !(1 << (channel & 15));
            }
            _ => {}
        }
    }

    fn nothing_held(&self) -> bool {
        self.pedals == 0 && self.keys.iter().all(|k| *k == 0)
    }
}

impl Instruments {
    pub fn new(sample_rate: u32, max_block: usize, drums: DrumSounds) -> Self {
        let mut me = Self {
            soundfont: None,
            fallback: FallbackSynth::new(sample_rate),
            drums: DrumKit::new(drums),
            patch: Patch::Piano,
            scratch_l: vec![0.0; max_block],
            scratch_r: vec![0.0; max_block],
            resting: false,
            sf_rest: SoundFontRest::default(),
        };
        me.set_patch(Patch::Piano);
        me
    }

    /// Not rt: the built-in synths at the new rate. A SoundFont, built for the old rate,
    /// is handed back to be rebuilt off the engine (the built-in synth plays meanwhile).
    pub fn set_sample_rate(
        &mut self,
        sample_rate: u32,
        drums: DrumSounds,
    ) -> Option<Box<SoundFontSynth>> {
        self.fallback = FallbackSynth::new(sample_rate);
        self.drums = DrumKit::new(drums);
        self.remove_soundfont()
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
        self.sf_rest = SoundFontRest::default();
        self.fallback.all_notes_off();
        self.drums.all_notes_off();
        program_all(&mut sf.synth, self.patch);
        self.soundfont.replace(sf)
    }

    /// rt: back to the built-in synth; the SoundFont is handed back to be freed.
    pub fn remove_soundfont(&mut self) -> Option<Box<SoundFontSynth>> {
        self.resting = false;
        self.sf_rest = SoundFontRest::default();
        let old = self.soundfont.take();
        self.set_patch(self.patch);
        old
    }

    /// rt: chooses the keyboard's instrument on every melodic channel.
    pub fn set_patch(&mut self, patch: Patch) {
        self.resting = false;
        self.wake_soundfont();
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

    /// rt: plays one MIDI message at the current frame.
    pub fn handle(&mut self, msg: MidiMessage) {
        self.resting = false;
        self.wake_soundfont();
        self.sf_rest.follow(&msg);
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

    /// rt: the panic button: every note is let go, pedals too, and ends as released
    /// notes do (a SoundFont's release tails), the built-in synth within milliseconds.
    pub fn all_notes_off(&mut self) {
        self.resting = false;
        self.wake_soundfont();
        if let Some(sf) = &mut self.soundfont {
            // A held pedal would keep every note sounding through the release.
            for channel in 0..16 {
                sf.synth.process_midi_message(channel, 0xB0, 64, 0);
            }
            sf.synth.note_off_all(false);
        }
        self.sf_rest.keys = [0; 16];
        self.sf_rest.pedals = 0;
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
                let sounding = render_soundfont(sf, &mut self.sf_rest, left, right);
                // The fallback may still be releasing notes from before the swap.
                if self.fallback.active_voices() + self.drums.active_voices() > 0 {
                    let (sl, sr) = (&mut self.scratch_l[..n], &mut self.scratch_r[..n]);
                    sl.fill(0.0);
                    sr.fill(0.0);
                    self.fallback.render_add(sl, sr);
                    self.drums.render_add(sl, sr);
                    left.iter_mut().zip(sl.iter()).for_each(|(d, s)| *d += s);
                    right.iter_mut().zip(sr.iter()).for_each(|(d, s)| *d += s);
                } else if !sounding {
                    return false;
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

    /// rt: a resting SoundFont catches up to where its block grid would be, before the
    /// message that wakes it.
    fn wake_soundfont(&mut self) {
        let rest = &mut self.sf_rest;
        if !rest.resting {
            return;
        }
        rest.resting = false;
        rest.quiet_frames = 0;
        if let Some(sf) = &mut self.soundfont {
            let block = sf.synth.get_block_size().max(1);
            let catch_up = (rest.skipped % block as u64) as usize;
            let n = catch_up.min(self.scratch_l.len());
            let (l, r) = (&mut self.scratch_l[..n], &mut self.scratch_r[..n]);
            sf.synth.render(l, r);
            rest.phase = n % block;
        }
        rest.skipped = 0;
    }

    /// Whether a SoundFont is installed and resting (for tests and the CPU figures).
    pub fn soundfont_resting(&self) -> bool {
        self.soundfont.is_some() && self.sf_rest.resting
    }

    pub fn active_voices(&self) -> usize {
        if self.resting {
            return 0;
        }
        self.fallback.active_voices() + self.drums.active_voices()
    }
}

/// rt: renders the SoundFont in pieces that end on its block boundaries, so it can be put
/// to rest on one; false when it rests (the buffers are then silent).
fn render_soundfont(
    sf: &mut SoundFontSynth,
    rest: &mut SoundFontRest,
    left: &mut [f32],
    right: &mut [f32],
) -> bool {
    let n = left.len().min(right.len());
    if rest.resting {
        left[..n].fill(0.0);
        right[..n].fill(0.0);
        rest.skipped += n as u64;
        return false;
    }
    let block = sf.synth.get_block_size().max(1);
    let rest_frames = (SOUNDFONT_REST_SECS * sf.synth.get_sample_rate() as f32) as u64;
    let mut done = 0;
    while done < n {
        let piece = (n - done).min(block - rest.phase.min(block - 1));
        let (l, r) = (
            &mut left[done..done + piece],
            &mut right[done..done + piece],
        );
        sf.synth.render(l, r);
        // Frames since the last one above the floor, exact to the frame.
        match (0..piece)
            .rev()
            .find(|&i| l[i].abs() > SOUNDFONT_FLOOR || r[i].abs() > SOUNDFONT_FLOOR)
        {
            Some(i) => rest.quiet_frames = (piece - 1 - i) as u64,
            None => rest.quiet_frames += piece as u64,
        }
        rest.phase = (rest.phase + piece) % block;
        done += piece;
        if rest.phase == 0 && rest.quiet_frames >= rest_frames && rest.nothing_held() {
            rest.resting = true;
            rest.skipped = (n - done) as u64;
            left[done..n].fill(0.0);
            right[done..n].fill(0.0);
            return done > 0 && level::peak(&left[..done]).max(level::peak(&right[..done])) > 0.0;
        }
    }
    true
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
        let mut i = Instruments::new(48_000, 64, crate::prep::drums::builtin(48_000));
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
