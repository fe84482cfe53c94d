//! The built-in drum kit on channel 10, from samples the project synthesised itself
//! (`examples/make_drums.rs`). The WAVs are embedded in the binary and decoded and
//! resampled once at construction; the audio thread only plays them back.

use super::midi::MidiMessage;
use super::voices::{self, Fading, STEAL_FADE_SECS};
use std::f32::consts::PI;

/// Hits that can ring at once.
pub const DRUM_VOICES: usize = 24;
/// Stolen or choked hits fade out here.
const FADE_SLOTS: usize = 8;
/// A closed hat stops a ringing open hat this quickly, as a foot on the pedal does.
const CHOKE_FADE_SECS: f32 = 0.015;
/// `all_notes_off` stops ringing cymbals over this long.
const STOP_FADE_SECS: f32 = 0.03;
const GAIN_GLIDE_SECS: f32 = 0.01;

/// The sounds of the kit, in the order of `prep::drums::SOURCES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sound {
    Kick,
    Snare,
    HatClosed,
    HatOpen,
    Clap,
    TomLow,
    TomMid,
    TomHigh,
    Crash,
    Ride,
    Rim,
}

pub const SOUNDS: usize = 11;

/// How a GM drum note plays a sound.
#[derive(Clone, Copy, Debug)]
struct Hit {
    sound: Sound,
    /// Level for a velocity-127 hit (the samples all peak at 0.9).
    gain: f32,
    /// -1 left .. 1 right, as the audience sees the kit.
    pan: f32,
    /// Playback speed: a second tom or cymbal from the same sample, a little lower or higher.
    rate: f32,
}

/// rt: the GM drum map, for the notes the kit has sounds for.
fn hit_for(key: u8) -> Option<Hit> {
    let h = |sound, gain, pan, rate| {
        Some(Hit {
            sound,
            gain,
            pan,
            rate,
        })
    };
    match key {
        35 => h(Sound::Kick, 0.4, 0.0, 0.94),
        36 => h(Sound::Kick, 0.4, 0.0, 1.0),
        37 => h(Sound::Rim, 0.28, 0.1, 1.0),
        38 => h(Sound::Snare, 0.37, 0.05, 1.0),
        39 => h(Sound::Clap, 0.32, 0.0, 1.0),
        40 => h(Sound::Snare, 0.39, 0.05, 1.06),
        41 => h(Sound::TomLow, 0.34, -0.35, 0.9),
        42 => h(Sound::HatClosed, 0.25, 0.3, 1.0),
        43 => h(Sound::TomLow, 0.34, -0.3, 1.0),
        44 => h(Sound::HatClosed, 0.17, 0.3, 0.92),
        45 => h(Sound::TomMid, 0.34, -0.1, 0.94),
        46 => h(Sound::HatOpen, 0.25, 0.3, 1.0),
        47 => h(Sound::TomMid, 0.34, 0.0, 1.0),
        48 => h(Sound::TomHigh, 0.32, 0.15, 0.94),
        49 => h(Sound::Crash, 0.33, -0.25, 1.0),
        50 => h(Sound::TomHigh, 0.32, 0.25, 1.0),
        51 => h(Sound::Ride, 0.28, 0.35, 1.0),
        52 => h(Sound::Crash, 0.28, 0.4, 0.85),  // china
        53 => h(Sound::Ride, 0.32, 0.35, 1.04),  // ride bell
        55 => h(Sound::Crash, 0.24, -0.4, 1.25), // splash
        57 => h(Sound::Crash, 0.33, 0.25, 1.06), // crash 2
        59 => h(Sound::Ride, 0.28, 0.4, 0.96),   // ride 2
        _ => None,
    }
}

/// rt: notes that close the hi-hat, stopping a ringing open hat (the open hat too: it is
/// the same cymbal struck again).
fn closes_hat(key: u8) -> bool {
    matches!(key, 42 | 44 | 46)
}

#[derive(Clone, Copy, Debug)]
struct Voice {
    active: bool,
    sound: Sound,
    age: u64,
    pos: f64,
    rate: f64,
    gain_l: f32,
    gain_r: f32,
    /// Softer hits are darker: a one-pole low-pass set from the velocity.
    lp: f32,
    lp_coef: f32,
    /// 1 while playing; falls by `fade_step` per sample once stolen or choked.
    fade: f32,
    fade_step: f32,
}

impl Voice {
    const IDLE: Voice = Voice {
        active: false,
        sound: Sound::Kick,
        age: 0,
        pos: 0.0,
        rate: 1.0,
        gain_l: 0.0,
        gain_r: 0.0,
        lp: 0.0,
        lp_coef: 1.0,
        fade: 1.0,
        fade_step: 0.0,
    };

    /// rt: adds the voice into the outputs with the channel gain ramping `g0` → `g1`.
    fn render(&mut self, data: &[f32], g0: f32, g1: f32, left: &mut [f32], right: &mut [f32]) {
        let dg = (g1 - g0) / left.len().max(1) as f32;
        let mut g = g0;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let i = self.pos as usize;
            let Some(&a) = data.get(i) else {
                self.active = false;
                return;
            };
            let b = data.get(i + 1).copied().unwrap_or(0.0);
            let x = a + (b - a) * (self.pos - i as f64) as f32;
            self.lp += self.lp_coef * (x - self.lp);
            let y = self.lp * self.fade * g;
            *l += y * self.gain_l;
            *r += y * self.gain_r;
            g += dg;
            self.pos += self.rate;
            self.fade = (self.fade - self.fade_step).max(0.0);
        }
        if self.fade_step > 0.0 && self.fade <= 0.0 {
            self.active = false;
        }
    }
}

/// One-shot sample playback for GM channel 10.
pub struct DrumKit {
    sample_rate: f32,
    sounds: Vec<Vec<f32>>,
    voices: Box<[Voice; DRUM_VOICES]>,
    fading: Box<[Voice; FADE_SLOTS]>,
    next_age: u64,
    volume: u8,
    expression: u8,
    gain: f32,
    gain_target: f32,
    gain_k: f32,
}

/// The kit's sounds, decoded and resampled to one rate off the audio thread
/// (`prep::drums::builtin`), in the order of `Sound`.
pub struct DrumSounds {
    pub sample_rate: u32,
    pub sounds: Vec<Vec<f32>>,
}

impl DrumKit {
    /// Not rt: a kit that plays `sounds` at their rate.
    pub fn new(sounds: DrumSounds) -> Self {
        let sr = sounds.sample_rate.max(1);
        let mut kit = Self {
            sample_rate: sr as f32,
            sounds: sounds.sounds,
            voices: Box::new([Voice::IDLE; DRUM_VOICES]),
            fading: Box::new([Voice::IDLE; FADE_SLOTS]),
            next_age: 0,
            volume: 100,
            expression: 127,
            gain: 1.0,
            gain_target: 1.0,
            gain_k: 1.0 / (GAIN_GLIDE_SECS * sr as f32),
        };
        kit.update_gain();
        kit.gain = kit.gain_target;
        kit
    }

    /// rt: plays a note, or follows a controller; note-offs are ignored (one-shots).
    pub fn handle(&mut self, msg: MidiMessage) {
        match msg {
            MidiMessage::NoteOn { key, velocity, .. } if velocity > 0 => {
                self.hit(key, velocity.min(127))
            }
            MidiMessage::Control {
                controller, value, ..
            } => match controller {
                7 => {
                    self.volume = value.min(127);
                    self.update_gain();
                }
                11 => {
                    self.expression = value.min(127);
                    self.update_gain();
                }
                120 | 123 => self.all_notes_off(),
                121 => {
                    self.expression = 127;
                    self.update_gain();
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// rt: adds the kit's output into the buffers.
    pub fn render_add(&mut self, left: &mut [f32], right: &mut [f32]) {
        let frames = left.len().min(right.len());
        if frames == 0 {
            return;
        }
        // The channel gain glides once per call; the voices ramp across it.
        let g0 = self.gain;
        let k = (self.gain_k * frames as f32).min(1.0);
        self.gain += (self.gain_target - self.gain) * k;
        if (self.gain_target - self.gain).abs() < 1e-5 {
            self.gain = self.gain_target;
        }
        let g1 = self.gain;
        for v in self.voices.iter_mut().chain(self.fading.iter_mut()) {
            if !v.active {
                continue;
            }
            match self.sounds.get(v.sound as usize) {
                Some(data) => v.render(data, g0, g1, &mut left[..frames], &mut right[..frames]),
                None => v.active = false,
            }
        }
    }

    /// rt: stops every ringing hit with a short fade.
    pub fn all_notes_off(&mut self) {
        let step = 1.0 / (STOP_FADE_SECS * self.sample_rate);
        for v in self.voices.iter_mut().chain(self.fading.iter_mut()) {
            if v.active {
                v.begin_fade(step);
            }
        }
    }

    /// Hits sounding, including stolen or choked ones still fading out.
    pub fn active_voices(&self) -> usize {
        self.voices
            .iter()
            .chain(self.fading.iter())
            .filter(|v| v.active)
            .count()
    }

    /// rt: GM volume and expression curves.
    fn update_gain(&mut self) {
        let vol = self.volume as f32 / 127.0;
        let expr = self.expression as f32 / 127.0;
        // Normalised so the default volume (100) plays the kit at its designed level.
        self.gain_target = (vol * vol * expr * expr) / (100.0f32 / 127.0).powi(2);
    }

    /// rt: starts a hit, choking the open hat first if the pedal closes.
    fn hit(&mut self, key: u8, velocity: u8) {
        let Some(hit) = hit_for(key) else {
            return;
        };
        if closes_hat(key) {
            let step = 1.0 / (CHOKE_FADE_SECS * self.sample_rate);
            for v in self.voices.iter_mut() {
                if v.active && v.sound == Sound::HatOpen {
                    v.begin_fade(step);
                }
            }
        }
        let Some(slot) = self.free_or_steal() else {
            return;
        };
        self.next_age += 1;
        let v = velocity as f32 / 127.0;
        let level = hit.gain * v * v.sqrt();
        let theta = (hit.pan.clamp(-1.0, 1.0) + 1.0) * PI / 4.0;
        // Full velocity is the sample as made; softer hits lose their top end.
        let cutoff = (2000.0 * 12f32.powf(v)).min(0.45 * self.sample_rate);
        let lp_coef = if velocity >= 120 {
            1.0
        } else {
            1.0 - (-2.0 * PI * cutoff / self.sample_rate).exp()
        };
        if let Some(voice) = self.voices.get_mut(slot) {
            *voice = Voice {
                active: true,
                sound: hit.sound,
                age: self.next_age,
                pos: 0.0,
                rate: hit.rate as f64,
                gain_l: level * theta.cos() * std::f32::consts::SQRT_2,
                gain_r: level * theta.sin() * std::f32::consts::SQRT_2,
                lp: 0.0,
                lp_coef,
                fade: 1.0,
                fade_step: 0.0,
            };
        }
    }

    /// rt: a free voice, or the oldest (fading ones first) after moving it to a fade slot.
    fn free_or_steal(&mut self) -> Option<usize> {
        let step = 1.0 / (STEAL_FADE_SECS * self.sample_rate);
        voices::free_or_steal(&mut self.voices[..], &mut self.fading[..], step)
    }
}

impl Fading for Voice {
    fn active(&self) -> bool {
        self.active
    }
    fn fade(&self) -> f32 {
        self.fade
    }
    /// Fading hits first, then the oldest.
    fn steal_rank(&self) -> (u8, u64) {
        (u8::from(self.fade_step == 0.0), self.age)
    }
    fn begin_fade(&mut self, step: f32) {
        self.fade_step = self.fade_step.max(step);
    }
    fn silence(&mut self) {
        self.active = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit_at(rate: u32) -> DrumKit {
        DrumKit::new(crate::prep::drums::builtin(rate))
    }

    const SR: u32 = 48_000;
    const KIT_NOTES: [u8; 11] = [36, 38, 42, 46, 49, 51, 39, 45, 47, 50, 37];

    fn on(key: u8, velocity: u8) -> MidiMessage {
        MidiMessage::NoteOn {
            channel: 9,
            key,
            velocity,
        }
    }

    fn send(kit: &mut DrumKit, msg: MidiMessage) {
        let before = assert_no_alloc::violation_count();
        assert_no_alloc::assert_no_alloc(|| kit.handle(msg));
        assert_eq!(
            assert_no_alloc::violation_count(),
            before,
            "handle allocated"
        );
    }

    /// Renders in uneven blocks; returns (left, right).
    fn render(kit: &mut DrumKit, frames: usize) -> (Vec<f32>, Vec<f32>) {
        let mut left = vec![0.0; frames];
        let mut right = vec![0.0; frames];
        let before = assert_no_alloc::violation_count();
        assert_no_alloc::assert_no_alloc(|| {
            let sizes = [64, 1, 37, 128, 500, 8192];
            let (mut pos, mut i) = (0, 0);
            while pos < frames {
                let n = sizes[i % sizes.len()].min(frames - pos);
                kit.render_add(&mut left[pos..pos + n], &mut right[pos..pos + n]);
                pos += n;
                i += 1;
            }
        });
        assert_eq!(
            assert_no_alloc::violation_count(),
            before,
            "render allocated"
        );
        (left, right)
    }

    fn secs(t: f32) -> usize {
        (t * SR as f32) as usize
    }

    fn peak(x: &[f32]) -> f32 {
        x.iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    #[test]
    fn every_kit_note_sounds_and_unknown_notes_do_not() {
        for key in KIT_NOTES {
            let mut kit = kit_at(SR);
            send(&mut kit, on(key, 100));
            assert_eq!(kit.active_voices(), 1, "note {key}");
            let (l, r) = render(&mut kit, secs(2.0));
            let p = peak(&l).max(peak(&r));
            assert!((0.1..=0.35).contains(&p), "note {key} peaks at {p}");
            assert_eq!(kit.active_voices(), 0, "note {key} has ended");
        }
        let mut kit = kit_at(SR);
        for key in [0, 20, 34, 60, 127] {
            send(&mut kit, on(key, 127));
        }
        assert_eq!(kit.active_voices(), 0);
        let (l, r) = render(&mut kit, secs(0.2));
        assert_eq!(peak(&l).max(peak(&r)), 0.0);
    }

    #[test]
    fn softer_hits_are_quieter() {
        for key in KIT_NOTES {
            let play = |velocity| {
                let mut kit = kit_at(SR);
                send(&mut kit, on(key, velocity));
                render(&mut kit, secs(1.5)).0
            };
            assert!(rms(&play(30)) < 0.4 * rms(&play(120)), "note {key}");
        }
    }

    #[test]
    fn closed_hat_chokes_a_ringing_open_hat_smoothly() {
        let at = secs(0.1);
        let mut open = kit_at(SR);
        send(&mut open, on(46, 110));
        let (ringing, _) = render(&mut open, secs(0.5));

        let mut choked = kit_at(SR);
        send(&mut choked, on(46, 110));
        let (before, _) = render(&mut choked, at);
        send(&mut choked, on(42, 110));
        let (after, _) = render(&mut choked, secs(0.4));
        let mut closed = kit_at(SR);
        send(&mut closed, on(42, 110));
        let (closed, _) = render(&mut closed, secs(0.4));
        assert_eq!(before[..], ringing[..at]);

        // What is left of the open hat once the closed hat itself is taken away.
        let rest: Vec<f32> = after.iter().zip(&closed).map(|(a, c)| a - c).collect();
        let open_then = &ringing[at..];
        // Not a cut: most of its level is still there in the first millisecond...
        let ms = secs(0.001);
        assert!(rms(&rest[..ms]) > 0.5 * rms(&open_then[..ms]));
        // ...and it fades over several milliseconds rather than one sample.
        assert!(
            rms(&rest[secs(0.005)..secs(0.006)]) > 0.1 * rms(&open_then[secs(0.005)..secs(0.006)])
        );
        // Gone well before it would have died away by itself.
        let late = secs(0.03)..secs(0.2);
        assert!(rms(&rest[late.clone()]) < 1e-6);
        assert!(rms(&open_then[late]) > 0.01);
        assert_eq!(choked.active_voices(), 0);
    }

    #[test]
    fn the_kit_decodes_at_any_rate_with_the_same_duration() {
        let base = kit_at(48_000);
        assert!(base.sounds.iter().all(|s| !s.is_empty()));
        for rate in [44_100u32, 96_000] {
            let kit = kit_at(rate);
            for (a, b) in base.sounds.iter().zip(&kit.sounds) {
                let want = a.len() as f64 * rate as f64 / 48_000.0;
                assert!((b.len() as f64 - want).abs() <= 2.0);
                let ratio = rms(b) / rms(a);
                assert!(
                    (0.75..1.25).contains(&ratio),
                    "level changed by {ratio} at {rate} Hz"
                );
            }
        }
    }

    #[test]
    fn a_drum_roll_never_runs_out_of_voices_or_clicks() {
        let mut kit = kit_at(SR);
        let mut out = Vec::new();
        for i in 0..80 {
            send(&mut kit, on(if i % 2 == 0 { 49 } else { 38 }, 100));
            assert!(kit.active_voices() <= DRUM_VOICES + FADE_SLOTS);
            out.extend(render(&mut kit, secs(0.02)).0);
        }
        assert!(kit.active_voices() >= DRUM_VOICES - 1);
        send(
            &mut kit,
            MidiMessage::Control {
                channel: 9,
                controller: 123,
                value: 0,
            },
        );
        let (tail, _) = render(&mut kit, secs(0.1));
        assert_eq!(kit.active_voices(), 0);
        assert!(peak(&tail[secs(0.05)..]) == 0.0);
        assert!(out.iter().all(|v| v.is_finite()));
    }
}
