//! The fallback synth: plays the keyboard when no SoundFont is installed.
//!
//! Each General MIDI program family gets a timbre from one of three small engines:
//! additive partials (piano, guitar, mallets, organ), two-pair FM (electric piano) and
//! detuned saws through a resonant low-pass (bass, strings, pads, brass, leads).
//! Every voice lives in a fixed array allocated in `new`. A 17th note steals a voice by
//! copying it into a fade slot where it fades out over 4 ms, so stealing never clicks.

use super::midi::MidiMessage;
use super::voices::{self, Fading, STEAL_FADE_SECS};
use std::f32::consts::PI;

/// Notes that can sound at once (not counting stolen notes still fading out).
pub const VOICES: usize = 16;
/// Stolen voices fade out here; several steals in one block each get a slot.
const FADE_SLOTS: usize = 8;
const CHANNELS: usize = 16;
/// Pitch, cutoff and gains are updated once per chunk; the audio itself per sample.
const CHUNK: usize = 16;
const MAX_PARTIALS: usize = 16;
const TABLE_BITS: u32 = 11;
const TABLE_SIZE: usize = 1 << TABLE_BITS;
const FRAC_BITS: u32 = 32 - TABLE_BITS;
/// One cycle of a `u32` phase: phases wrap for free and never drift.
const PHASE_SCALE: f32 = 4_294_967_296.0;
const INV_PHASE_SCALE: f32 = 1.0 / PHASE_SCALE;
/// -80 dB: a voice below this has ended, and stopping it there is inaudible.
const SILENT: f32 = 1e-4;
const BEND_GLIDE_SECS: f32 = 0.006;
const GAIN_GLIDE_SECS: f32 = 0.01;
/// Partials above this fraction of the sample rate are left out (room for a bend up).
const PARTIAL_LIMIT: f32 = 0.4;
/// Time for an exponential to fall by 60 dB, as a natural log.
const LN_1000: f32 = 6.907_755;

/// The sound a channel plays, chosen from its GM program number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timbre {
    Piano,
    ElectricPiano,
    Mallets,
    Organ,
    Guitar,
    Bass,
    Strings,
    Pad,
    Brass,
    Lead,
}

impl Timbre {
    /// Every timbre, for tests and for a panel that lists them.
    pub const ALL: [Timbre; 10] = [
        Timbre::Piano,
        Timbre::ElectricPiano,
        Timbre::Mallets,
        Timbre::Organ,
        Timbre::Guitar,
        Timbre::Bass,
        Timbre::Strings,
        Timbre::Pad,
        Timbre::Brass,
        Timbre::Lead,
    ];

    /// rt: the closest of our timbres to a GM program (0-based).
    pub fn for_program(program: u8) -> Self {
        match program {
            0..=3 => Timbre::Piano,
            4..=5 => Timbre::ElectricPiano,
            6..=7 => Timbre::Guitar, // harpsichord, clavinet: plucked strings
            8..=15 => Timbre::Mallets,
            16..=23 => Timbre::Organ,
            24..=31 => Timbre::Guitar,
            32..=39 => Timbre::Bass,
            40..=51 => Timbre::Strings,
            52..=55 => Timbre::Pad, // choir and voices
            56..=63 => Timbre::Brass,
            64..=87 => Timbre::Lead,      // reeds, pipes, synth leads
            88..=103 => Timbre::Pad,      // synth pads and effects
            104..=111 => Timbre::Guitar,  // plucked folk instruments
            112..=119 => Timbre::Mallets, // bells and percussion
            _ => Timbre::Lead,
        }
    }

    /// A GM program that selects this timbre, e.g. for a demo or a panel.
    pub fn program(self) -> u8 {
        match self {
            Timbre::Piano => 0,
            Timbre::ElectricPiano => 4,
            Timbre::Mallets => 11,
            Timbre::Organ => 16,
            Timbre::Guitar => 24,
            Timbre::Bass => 33,
            Timbre::Strings => 48,
            Timbre::Pad => 89,
            Timbre::Brass => 61,
            Timbre::Lead => 80,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Timbre::Piano => "Piano",
            Timbre::ElectricPiano => "Electric piano",
            Timbre::Mallets => "Mallets",
            Timbre::Organ => "Organ",
            Timbre::Guitar => "Guitar",
            Timbre::Bass => "Bass",
            Timbre::Strings => "Strings",
            Timbre::Pad => "Warm pad",
            Timbre::Brass => "Brass",
            Timbre::Lead => "Soft lead",
        }
    }

    /// rt: level that makes one note at velocity 100 peak near 0.25 on a default channel.
    fn gain(self) -> f32 {
        match self {
            Timbre::Piano => 0.39,
            Timbre::ElectricPiano => 0.42,
            Timbre::Mallets => 0.43,
            Timbre::Organ => 0.30,
            Timbre::Guitar => 0.66,
            Timbre::Bass => 0.28,
            Timbre::Strings => 0.56,
            Timbre::Pad => 0.44,
            Timbre::Brass => 0.47,
            Timbre::Lead => 0.45,
        }
    }
}

/// One cycle of a sine, read with linear interpolation (error below -110 dB): cheaper
/// per sample than `sin`.
struct SineTable {
    v: [f32; TABLE_SIZE + 1],
}

impl SineTable {
    fn new() -> Box<Self> {
        let mut t = Box::new(SineTable {
            v: [0.0; TABLE_SIZE + 1],
        });
        for (i, s) in t.v.iter_mut().enumerate() {
            *s = (i as f64 / TABLE_SIZE as f64 * std::f64::consts::TAU).sin() as f32;
        }
        t
    }

    /// rt: sine of a `u32` phase.
    #[inline(always)]
    fn at(&self, phase: u32) -> f32 {
        // The shift leaves at most TABLE_SIZE - 1, so both reads are in bounds.
        let i = (phase >> FRAC_BITS) as usize;
        let frac = (phase & ((1 << FRAC_BITS) - 1)) as f32 * (1.0 / (1u32 << FRAC_BITS) as f32);
        let a = self.v[i];
        let b = self.v[i + 1];
        a + (b - a) * frac
    }
}

/// rt: per-sample multiplier that makes an exponential fall 60 dB in `secs`.
fn t60_coef(secs: f32, sample_rate: f32) -> f32 {
    if secs.is_infinite() {
        return 1.0;
    }
    (-LN_1000 / (secs.max(1e-4) * sample_rate)).exp()
}

/// rt: cycles per sample as a `u32` phase increment (saturates, never wraps, past Nyquist).
#[inline(always)]
fn phase_inc(cycles_per_sample: f32) -> u32 {
    (cycles_per_sample * PHASE_SCALE) as u32
}

/// rt: equal temperament, A4 = 440 Hz.
fn note_hz(key: u8) -> f32 {
    440.0 * ((key as f32 - 69.0) / 12.0).exp2()
}

/// A fixed-seed xorshift: voices get their own stream so renders repeat bit for bit.
#[derive(Clone, Copy, Debug)]
struct Rng(u32);

impl Rng {
    /// rt: a stream seeded per voice at note-on.
    fn new(seed: u64) -> Self {
        let s = (seed ^ (seed >> 32)) as u32;
        Rng(s.wrapping_mul(0x9E37_79B9) | 1)
    }

    /// rt: the next value, -1..1.
    #[inline(always)]
    fn next(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        (x as i32) as f32 * (1.0 / 2_147_483_648.0)
    }

    /// rt: a random starting phase.
    fn phase(&mut self) -> u32 {
        ((self.next() * 0.5 + 0.5) * PHASE_SCALE) as u32
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Attack,
    Decay,
    Sustain,
    Release,
    Done,
}

/// Linear attack, exponential decay and release: no stage starts with a step.
#[derive(Clone, Copy, Debug)]
struct Adsr {
    stage: Stage,
    level: f32,
    attack_step: f32,
    decay_coef: f32,
    sustain: f32,
    release_coef: f32,
}

impl Adsr {
    const IDLE: Adsr = Adsr {
        stage: Stage::Done,
        level: 0.0,
        attack_step: 1.0,
        decay_coef: 0.0,
        sustain: 0.0,
        release_coef: 0.0,
    };

    /// rt: times in seconds; decay and release are the time to fall 60 dB.
    fn new(attack: f32, decay: f32, sustain: f32, release: f32, sample_rate: f32) -> Self {
        Adsr {
            stage: Stage::Attack,
            level: 0.0,
            // At least 1 ms, so a note never starts with a jump.
            attack_step: 1.0 / (attack.max(0.001) * sample_rate),
            decay_coef: t60_coef(decay, sample_rate),
            sustain: sustain.clamp(0.0, 1.0),
            release_coef: t60_coef(release.max(0.005), sample_rate),
        }
    }

    /// rt: the next level.
    #[inline(always)]
    fn next(&mut self) -> f32 {
        match self.stage {
            Stage::Attack => {
                self.level += self.attack_step;
                if self.level >= 1.0 {
                    self.level = 1.0;
                    self.stage = Stage::Decay;
                }
            }
            Stage::Decay => {
                self.level = self.sustain + (self.level - self.sustain) * self.decay_coef;
                if self.sustain < SILENT && self.level < SILENT {
                    self.level = 0.0;
                    self.stage = Stage::Done;
                } else if self.level - self.sustain < 1e-5 {
                    self.level = self.sustain;
                    self.stage = Stage::Sustain;
                }
            }
            Stage::Sustain => {}
            Stage::Release => {
                self.level *= self.release_coef;
                if self.level < SILENT {
                    self.level = 0.0;
                    self.stage = Stage::Done;
                }
            }
            Stage::Done => {}
        }
        self.level
    }

    /// rt: steps `frames` samples ahead (control-rate envelopes).
    fn advance(&mut self, frames: usize) {
        for _ in 0..frames {
            self.next();
        }
    }

    /// rt: from wherever the level is now, so a release during the attack is smooth too.
    fn release(&mut self) {
        if self.stage != Stage::Done {
            self.stage = Stage::Release;
        }
    }
}

/// Low-passed noise with its own decay: hammer, pluck and key-click transients.
#[derive(Clone, Copy, Debug)]
struct Noise {
    rng: Rng,
    amp: f32,
    decay: f32,
    lp: f32,
    coef: f32,
}

impl Noise {
    /// rt: the attack noise of a new voice, built at note-on.
    fn new(rng: Rng, amp: f32, t60: f32, cutoff_hz: f32, sample_rate: f32) -> Self {
        let cutoff = cutoff_hz.min(0.45 * sample_rate);
        Noise {
            rng,
            amp,
            decay: t60_coef(t60, sample_rate),
            lp: 0.0,
            coef: 1.0 - (-2.0 * PI * cutoff / sample_rate).exp(),
        }
    }

    /// rt: adds the burst into `out`.
    fn add_to(&mut self, out: &mut [f32]) {
        if self.amp < 1e-6 {
            self.amp = 0.0;
            return;
        }
        for o in out.iter_mut() {
            self.lp += self.coef * (self.rng.next() - self.lp);
            *o += self.lp * self.amp;
            self.amp *= self.decay;
        }
    }
}

/// Sine partials, each with its own decay: higher ones die sooner, as on a string.
#[derive(Clone, Copy, Debug)]
struct Additive {
    count: usize,
    phase: [u32; MAX_PARTIALS],
    /// Cycles per sample before pitch bend.
    freq: [f32; MAX_PARTIALS],
    amp: [f32; MAX_PARTIALS],
    decay: [f32; MAX_PARTIALS],
    noise: Noise,
}

impl Additive {
    /// rt: an additive voice with no partials yet, built at note-on.
    fn new(noise: Noise) -> Self {
        Additive {
            count: 0,
            phase: [0; MAX_PARTIALS],
            freq: [0.0; MAX_PARTIALS],
            amp: [0.0; MAX_PARTIALS],
            decay: [1.0; MAX_PARTIALS],
            noise,
        }
    }

    /// rt: adds a partial unless it would alias or the table is full.
    fn push(&mut self, cycles_per_sample: f32, amp: f32, t60: f32, sample_rate: f32) {
        if cycles_per_sample >= PARTIAL_LIMIT || self.count >= MAX_PARTIALS || amp <= 0.0 {
            return;
        }
        let i = self.count;
        if let (Some(f), Some(a), Some(d)) = (
            self.freq.get_mut(i),
            self.amp.get_mut(i),
            self.decay.get_mut(i),
        ) {
            *f = cycles_per_sample;
            *a = amp;
            *d = t60_coef(t60, sample_rate);
            self.count += 1;
        }
    }

    /// rt: adds the partials into `out`; returns the largest level they can still reach.
    fn render(&mut self, pitch: f32, sine: &SineTable, out: &mut [f32]) -> f32 {
        let mut bound = 0.0;
        let partials = self
            .phase
            .iter_mut()
            .zip(&self.freq)
            .zip(self.amp.iter_mut())
            .zip(&self.decay)
            .take(self.count);
        for (((phase, &freq), amp), &decay) in partials {
            if *amp == 0.0 {
                continue;
            }
            let inc = phase_inc(freq * pitch);
            let (mut ph, mut a) = (*phase, *amp);
            for o in out.iter_mut() {
                *o += sine.at(ph) * a;
                ph = ph.wrapping_add(inc);
                a *= decay;
            }
            *phase = ph;
            // Flushed well before denormals, which are slow.
            *amp = if a < 1e-7 { 0.0 } else { a };
            bound += *amp;
        }
        self.noise.add_to(out);
        bound + self.noise.amp
    }
}

/// A carrier sine phase-modulated by another sine, with a decaying index.
#[derive(Clone, Copy, Debug)]
struct FmPair {
    carrier: u32,
    modulator: u32,
    /// Cycles per sample before pitch bend.
    carrier_freq: f32,
    modulator_freq: f32,
    /// Modulation index in cycles: a floor plus a part that decays.
    index_floor: f32,
    index: f32,
    index_decay: f32,
    amp: f32,
    amp_decay: f32,
}

impl FmPair {
    const SILENT: FmPair = FmPair {
        carrier: 0,
        modulator: 0,
        carrier_freq: 0.0,
        modulator_freq: 0.0,
        index_floor: 0.0,
        index: 0.0,
        index_decay: 0.0,
        amp: 0.0,
        amp_decay: 0.0,
    };

    /// rt: adds the pair into `out`.
    fn render(&mut self, pitch: f32, sine: &SineTable, out: &mut [f32]) {
        if self.amp == 0.0 {
            return;
        }
        let (ci, mi) = (
            phase_inc(self.carrier_freq * pitch),
            phase_inc(self.modulator_freq * pitch),
        );
        for o in out.iter_mut() {
            let m = sine.at(self.modulator) * (self.index_floor + self.index);
            // Through i64 so any index wraps around the cycle instead of saturating.
            let offset = (m * PHASE_SCALE) as i64 as u32;
            *o += sine.at(self.carrier.wrapping_add(offset)) * self.amp;
            self.carrier = self.carrier.wrapping_add(ci);
            self.modulator = self.modulator.wrapping_add(mi);
            self.index *= self.index_decay;
            self.amp *= self.amp_decay;
        }
        if self.amp < 1e-7 {
            self.amp = 0.0;
        }
    }
}

/// Two FM pairs: a warm body and a short metallic "tine", as in the classic FM e-pianos.
#[derive(Clone, Copy, Debug)]
struct Fm {
    pairs: [FmPair; 2],
}

/// State of a zero-delay-feedback state-variable filter (stable under fast modulation).
#[derive(Clone, Copy, Debug, Default)]
struct Svf {
    ic1: f32,
    ic2: f32,
}

#[derive(Clone, Copy, Debug)]
struct SvfCoef {
    a1: f32,
    a2: f32,
    a3: f32,
}

impl SvfCoef {
    /// rt: coefficients for a cutoff and resonance.
    fn lowpass(cutoff_hz: f32, q: f32, sample_rate: f32) -> Self {
        let fc = cutoff_hz.clamp(20.0, 0.45 * sample_rate);
        let g = (PI * fc / sample_rate).tan();
        let k = 1.0 / q.max(0.5);
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        SvfCoef { a1, a2, a3: g * a2 }
    }
}

impl Svf {
    /// rt: low-passes `buf` in place.
    fn lowpass(&mut self, c: SvfCoef, buf: &mut [f32]) {
        let (mut ic1, mut ic2) = (self.ic1, self.ic2);
        for x in buf.iter_mut() {
            let v3 = *x - ic2;
            let v1 = c.a1 * ic1 + c.a2 * v3;
            let v2 = ic2 + c.a2 * ic1 + c.a3 * v3;
            ic1 = 2.0 * v1 - ic1;
            ic2 = 2.0 * v2 - ic2;
            *x = v2;
        }
        self.ic1 = ic1;
        self.ic2 = ic2;
    }
}

/// rt: adds a band-limited (polyBLEP) saw into both sides with the given weights.
fn add_saw(left: &mut [f32], right: &mut [f32], phase: &mut u32, inc: u32, wl: f32, wr: f32) {
    let dt = inc as f32 * INV_PHASE_SCALE;
    if dt <= 0.0 || dt >= 0.5 {
        return;
    }
    let inv_dt = 1.0 / dt;
    let mut ph = *phase;
    for (l, r) in left.iter_mut().zip(right.iter_mut()) {
        let t = ph as f32 * INV_PHASE_SCALE;
        let mut s = 2.0 * t - 1.0;
        if t < dt {
            let x = t * inv_dt;
            s -= x + x - x * x - 1.0;
        } else if t > 1.0 - dt {
            let x = (t - 1.0) * inv_dt;
            s -= x * x + x + x + 1.0;
        }
        *l += s * wl;
        *r += s * wr;
        ph = ph.wrapping_add(inc);
    }
    *phase = ph;
}

/// Detuned saws and a sub sine through a resonant low-pass with its own envelope.
#[derive(Clone, Copy, Debug)]
struct Subtractive {
    count: usize,
    phase: [u32; 3],
    /// Cycles per sample of each saw before pitch bend.
    freq: [f32; 3],
    weight_l: [f32; 3],
    weight_r: [f32; 3],
    sub_phase: u32,
    sub_level: f32,
    stereo: bool,
    filter: [Svf; 2],
    cutoff_hz: f32,
    env_octaves: f32,
    q: f32,
    filter_env: Adsr,
}

impl Subtractive {
    /// rt: renders raw (un-enveloped) audio into `left` and, if stereo, `right`.
    fn render(
        &mut self,
        pitch: f32,
        sine: &SineTable,
        sample_rate: f32,
        left: &mut [f32],
        right: &mut [f32],
    ) {
        let oscillators = self
            .phase
            .iter_mut()
            .zip(&self.freq)
            .zip(self.weight_l.iter().zip(&self.weight_r))
            .take(self.count);
        for ((phase, &freq), (&wl, &wr)) in oscillators {
            add_saw(left, right, phase, phase_inc(freq * pitch), wl, wr);
        }
        if self.sub_level > 0.0 {
            let inc = phase_inc(self.freq[0] * pitch * 0.5);
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                let s = sine.at(self.sub_phase) * self.sub_level;
                *l += s;
                *r += s;
                self.sub_phase = self.sub_phase.wrapping_add(inc);
            }
        }
        let cutoff = self.cutoff_hz * pitch * (self.env_octaves * self.filter_env.level).exp2();
        let coef = SvfCoef::lowpass(cutoff, self.q, sample_rate);
        let [fl, fr] = &mut self.filter;
        fl.lowpass(coef, left);
        if self.stereo {
            fr.lowpass(coef, right);
        }
        self.filter_env.advance(left.len());
    }
}

/// The settings of a subtractive timbre.
struct SubShape {
    saws: usize,
    detune_cents: [f32; 3],
    /// Saws spread left and right, each side with its own filter.
    stereo: bool,
    /// A sine an octave down.
    sub_level: f32,
    /// Cutoff at middle C and velocity 64.
    cutoff_hz: f32,
    /// 1 = the cutoff follows the keyboard fully.
    key_tracking: f32,
    velocity_octaves: f32,
    env_octaves: f32,
    q: f32,
    /// Filter envelope: attack, decay (60 dB), sustain. It releases with the note.
    filter_env: (f32, f32, f32),
    /// Attack, decay (60 dB), sustain, release (60 dB).
    amp_env: (f32, f32, f32, f32),
    /// Depth in semitones, rate in Hz, fade-in time.
    vibrato: (f32, f32, f32),
}

/// Round and plucky: the filter snaps shut after each note starts.
const BASS: SubShape = SubShape {
    saws: 1,
    detune_cents: [0.0; 3],
    stereo: false,
    sub_level: 0.45,
    cutoff_hz: 260.0,
    key_tracking: 0.5,
    velocity_octaves: 1.6,
    env_octaves: 2.6,
    q: 1.8,
    filter_env: (0.001, 0.35, 0.0),
    amp_env: (0.003, 3.0, 0.55, 0.09),
    vibrato: (0.0, 5.5, 0.0),
};

/// A bowed section: slow swell, delayed vibrato.
const STRINGS: SubShape = SubShape {
    saws: 3,
    detune_cents: [0.0, -8.0, 7.0],
    stereo: true,
    sub_level: 0.0,
    cutoff_hz: 1100.0,
    key_tracking: 0.6,
    velocity_octaves: 0.9,
    env_octaves: 0.8,
    q: 0.8,
    filter_env: (0.3, 1.5, 0.6),
    amp_env: (0.16, f32::INFINITY, 1.0, 0.45),
    vibrato: (0.1, 5.2, 0.6),
};

/// Warm and slow: the filter opens over a second and a half.
const PAD: SubShape = SubShape {
    saws: 3,
    detune_cents: [0.0, -12.0, 11.0],
    stereo: true,
    sub_level: 0.3,
    cutoff_hz: 650.0,
    key_tracking: 0.35,
    velocity_octaves: 0.6,
    env_octaves: 1.1,
    q: 0.9,
    filter_env: (1.5, 3.0, 0.5),
    amp_env: (0.5, f32::INFINITY, 1.0, 1.3),
    vibrato: (0.0, 5.5, 0.0),
};

/// A soft section swell rather than a stab.
const BRASS: SubShape = SubShape {
    saws: 2,
    detune_cents: [-5.0, 5.0, 0.0],
    stereo: false,
    sub_level: 0.0,
    cutoff_hz: 420.0,
    key_tracking: 0.8,
    velocity_octaves: 1.4,
    env_octaves: 2.2,
    q: 1.1,
    filter_env: (0.07, 0.6, 0.45),
    amp_env: (0.03, f32::INFINITY, 1.0, 0.2),
    vibrato: (0.08, 5.5, 0.8),
};

/// The default: a gentle singing lead for reeds, pipes and everything else.
const LEAD: SubShape = SubShape {
    saws: 2,
    detune_cents: [-4.0, 4.0, 0.0],
    stereo: false,
    sub_level: 0.15,
    cutoff_hz: 900.0,
    key_tracking: 0.7,
    velocity_octaves: 1.0,
    env_octaves: 1.3,
    q: 1.0,
    filter_env: (0.005, 0.8, 0.35),
    amp_env: (0.01, 1.5, 0.8, 0.22),
    vibrato: (0.07, 5.3, 0.8),
};

#[derive(Clone, Copy, Debug)]
enum Engine {
    Additive(Additive),
    Fm(Fm),
    Subtractive(Subtractive),
}

/// Per-channel values for one chunk, computed once and shared by its voices.
#[derive(Clone, Copy, Debug)]
struct ChunkCtx {
    ratio: f32,
    /// Extra vibrato depth in semitones from the mod wheel.
    vibrato: f32,
    gl0: f32,
    gl1: f32,
    gr0: f32,
    gr1: f32,
}

#[derive(Clone, Copy, Debug)]
struct Voice {
    active: bool,
    channel: u8,
    key: u8,
    /// The key is down.
    held: bool,
    /// The key is up but the sustain pedal holds the note.
    sustained: bool,
    age: u64,
    /// Timbre gain times velocity.
    level: f32,
    pan_l: f32,
    pan_r: f32,
    env: Adsr,
    /// 1 while playing; falls to 0 by `fade_step` per sample once stolen or silenced.
    fade: f32,
    fade_step: f32,
    vib_depth: f32,
    vib_amount: f32,
    vib_rise: f32,
    vib_phase: u32,
    vib_inc: u32,
    engine: Engine,
}

impl Voice {
    const IDLE: Voice = Voice {
        active: false,
        channel: 0,
        key: 0,
        held: false,
        sustained: false,
        age: 0,
        level: 0.0,
        pan_l: 1.0,
        pan_r: 1.0,
        env: Adsr::IDLE,
        fade: 1.0,
        fade_step: 0.0,
        vib_depth: 0.0,
        vib_amount: 0.0,
        vib_rise: 0.0,
        vib_phase: 0,
        vib_inc: 0,
        engine: Engine::Fm(Fm {
            pairs: [FmPair::SILENT; 2],
        }),
    };

    /// rt: sets up a new note; `sr` is the sample rate.
    fn start(&mut self, timbre: Timbre, channel: u8, key: u8, velocity: u8, age: u64, sr: f32) {
        let v = velocity.min(127) as f32 / 127.0;
        let f0 = note_hz(key) / sr; // cycles per sample
        let k = key as f32 - 60.0; // semitones from middle C
        let mut rng = Rng::new(age.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ key as u64);
        let mut pan = 0.0;
        let mut vib = (0.0, 5.5, 0.0); // depth in semitones, rate in Hz, rise time
        let (env, engine) = match timbre {
            Timbre::Piano => {
                pan = (key as f32 - 64.0) / 64.0 * 0.35;
                let b = (2.5e-4 * (k / 18.0).exp2()).clamp(4e-5, 4e-3);
                let norm = 1.0 / (1.0 + b).sqrt();
                let tilt = 0.5 - 0.32 * v; // harder strikes are brighter
                let t60 = (9.0 * (-k / 20.0).exp2()).clamp(1.2, 20.0);
                let noise = Noise::new(
                    rng,
                    0.05 + 0.2 * v,
                    0.03,
                    (note_hz(key) * 6.0).clamp(800.0, 6000.0),
                    sr,
                );
                let mut a = Additive::new(noise);
                let detune = (0.4f32 / 1200.0).exp2();
                for n in 1..=13 {
                    let nf = n as f32;
                    let f = f0 * nf * (1.0 + b * nf * nf).sqrt() * norm;
                    let amp = (-(nf - 1.0) * tilt).exp() / nf.powf(0.8);
                    let t = t60 / (1.0 + 0.6 * (nf - 1.0));
                    if n <= 3 {
                        // Two strings a fraction of a cent apart: beating and a two-stage decay.
                        a.push(f / detune, amp * 0.6, t, sr);
                        a.push(f * detune, amp * 0.4, t * 0.5, sr);
                    } else {
                        a.push(f, amp, t, sr);
                    }
                }
                (
                    Adsr::new(0.002, f32::INFINITY, 1.0, 0.35, sr),
                    Engine::Additive(a),
                )
            }
            Timbre::Guitar => {
                pan = (key as f32 - 60.0) / 64.0 * 0.2;
                let pluck_at = 0.18;
                let tilt = 0.24 - 0.14 * v;
                let t60 = (4.5 * (-(key as f32 - 52.0) / 24.0).exp2()).clamp(0.8, 7.0);
                let noise = Noise::new(rng, 0.03 + 0.08 * v, 0.015, 3000.0, sr);
                let mut a = Additive::new(noise);
                let detune = (1.2f32 / 1200.0).exp2();
                for n in 1..=10 {
                    let nf = n as f32;
                    let f = f0 * nf * (1.0 + 1.5e-5 * nf * nf).sqrt();
                    let amp = (PI * nf * pluck_at).sin().abs() / nf * (-(nf - 1.0) * tilt).exp();
                    let t = t60 / (1.0 + 0.55 * (nf - 1.0));
                    if n <= 2 {
                        a.push(f / detune, amp * 0.55, t, sr);
                        a.push(f * detune, amp * 0.45, t * 0.7, sr);
                    } else {
                        a.push(f, amp, t, sr);
                    }
                }
                (
                    Adsr::new(0.0015, f32::INFINITY, 1.0, 0.15, sr),
                    Engine::Additive(a),
                )
            }
            Timbre::Mallets => {
                pan = (key as f32 - 64.0) / 64.0 * 0.4;
                let t60 = (5.0 * (-k / 24.0).exp2()).clamp(0.8, 6.0);
                let noise = Noise::new(rng, 0.04 * v, 0.01, 4000.0, sr);
                let mut a = Additive::new(noise);
                a.push(f0, 1.0, t60, sr);
                a.push(f0 * 4.0, 0.2 + 0.25 * v, t60 * 0.25, sr);
                a.push(f0 * 10.0, 0.1 * v, t60 * 0.08, sr);
                (
                    Adsr::new(0.0015, f32::INFINITY, 1.0, 0.4, sr),
                    Engine::Additive(a),
                )
            }
            Timbre::Organ => {
                vib = (0.06, 6.2, 0.0);
                let click = Noise::new(rng, 0.04, 0.006, 2500.0, sr);
                let mut a = Additive::new(click);
                let drawbars = [
                    (0.5, 0.5),
                    (1.0, 1.0),
                    (1.5, 0.35),
                    (2.0, 0.5),
                    (3.0, 0.2),
                    (4.0, 0.22),
                    (6.0, 0.08),
                ];
                for (ratio, amp) in drawbars {
                    a.push(f0 * ratio, amp, f32::INFINITY, sr);
                }
                // Percussion on the third harmonic, louder when struck harder.
                a.push(f0 * 3.0, 0.3 * v, 0.6, sr);
                (
                    Adsr::new(0.006, f32::INFINITY, 1.0, 0.07, sr),
                    Engine::Additive(a),
                )
            }
            Timbre::ElectricPiano => {
                pan = (key as f32 - 64.0) / 64.0 * 0.3;
                // The tine's ratio-14 modulator fades out where it would alias.
                let tine_room = ((0.42 - 14.0 * f0) / 0.1).clamp(0.0, 1.0);
                let high = (-(k.max(0.0)) / 24.0).exp2();
                let to_cycles = 1.0 / (2.0 * PI);
                let body = FmPair {
                    carrier_freq: f0,
                    modulator_freq: f0,
                    index_floor: 0.15 * to_cycles,
                    index: (0.3 + 1.3 * v) * to_cycles,
                    index_decay: t60_coef(1.2, sr),
                    amp: 1.0,
                    amp_decay: 1.0,
                    ..FmPair::SILENT
                };
                let tine = FmPair {
                    carrier_freq: f0 * (1.5f32 / 1200.0).exp2(),
                    modulator_freq: f0 * 14.0,
                    index: (0.6 + 1.8 * v) * to_cycles * high * tine_room,
                    index_decay: t60_coef(0.2, sr),
                    amp: 0.2 + 0.3 * v,
                    amp_decay: t60_coef(0.9, sr),
                    ..FmPair::SILENT
                };
                let fm = Fm {
                    pairs: [body, tine],
                };
                let t60 = (7.0 * (-k / 18.0).exp2()).clamp(1.5, 12.0);
                (Adsr::new(0.0015, t60, 0.0, 0.25, sr), Engine::Fm(fm))
            }
            Timbre::Bass | Timbre::Strings | Timbre::Pad | Timbre::Brass | Timbre::Lead => {
                let shape = match timbre {
                    Timbre::Bass => &BASS,
                    Timbre::Strings => &STRINGS,
                    Timbre::Pad => &PAD,
                    Timbre::Brass => &BRASS,
                    _ => &LEAD,
                };
                vib = shape.vibrato;
                let (count, stereo) = (shape.saws.clamp(1, 3), shape.stereo);
                let mut freq = [0.0; 3];
                for (f, c) in freq.iter_mut().zip(shape.detune_cents) {
                    *f = f0 * (c / 1200.0).exp2();
                }
                // Free-running oscillators: the first starts at zero crossing, the others anywhere.
                let phase = [1u32 << 31, rng.phase(), rng.phase()];
                let (weight_l, weight_r) = if stereo {
                    ([0.5, 0.5, 0.15], [0.5, 0.15, 0.5])
                } else {
                    let w = 1.0 / count as f32;
                    ([w; 3], [w; 3])
                };
                let (fe, ae) = (shape.filter_env, shape.amp_env);
                let sub = Subtractive {
                    count,
                    phase,
                    freq,
                    weight_l,
                    weight_r,
                    sub_phase: 0,
                    sub_level: shape.sub_level,
                    stereo,
                    filter: [Svf::default(); 2],
                    cutoff_hz: shape.cutoff_hz
                        * (shape.key_tracking * k / 12.0).exp2()
                        * (shape.velocity_octaves * (v - 0.5)).exp2(),
                    env_octaves: shape.env_octaves,
                    q: shape.q,
                    filter_env: Adsr::new(fe.0, fe.1, fe.2, ae.3, sr),
                };
                (
                    Adsr::new(ae.0, ae.1, ae.2, ae.3, sr),
                    Engine::Subtractive(sub),
                )
            }
        };
        // Centre is unity on both sides, so a centred mono timbre keeps its level.
        let theta = (pan.clamp(-1.0, 1.0) + 1.0) * PI / 4.0;
        *self = Voice {
            active: true,
            channel,
            key,
            held: true,
            sustained: false,
            age,
            level: timbre.gain() * v * v.sqrt(),
            pan_l: theta.cos() * std::f32::consts::SQRT_2,
            pan_r: theta.sin() * std::f32::consts::SQRT_2,
            env,
            fade: 1.0,
            fade_step: 0.0,
            vib_depth: vib.0,
            vib_amount: if vib.2 > 0.0 { 0.0 } else { 1.0 },
            vib_rise: if vib.2 > 0.0 { 1.0 / (vib.2 * sr) } else { 0.0 },
            vib_phase: 0,
            vib_inc: phase_inc(vib.1 / sr),
            engine,
        };
    }

    /// rt: lets the note ring out in its release.
    fn release(&mut self) {
        self.held = false;
        self.sustained = false;
        self.env.release();
        if let Engine::Subtractive(s) = &mut self.engine {
            s.filter_env.release();
        }
    }

    /// rt: adds one chunk (at most `CHUNK` frames) into the outputs.
    fn render(
        &mut self,
        ctx: &ChunkCtx,
        sine: &SineTable,
        sr: f32,
        out_l: &mut [f32],
        out_r: &mut [f32],
    ) {
        let len = out_l.len().min(out_r.len()).min(CHUNK);
        if len == 0 {
            return;
        }
        let mut raw_l = [0f32; CHUNK];
        let mut raw_r = [0f32; CHUNK];
        let (raw_l, raw_r) = (&mut raw_l[..len], &mut raw_r[..len]);

        let mut pitch = ctx.ratio;
        let depth = self.vib_depth * self.vib_amount + ctx.vibrato;
        if depth > 0.0 {
            pitch *= (depth * sine.at(self.vib_phase) / 12.0).exp2();
        }
        self.vib_phase = self
            .vib_phase
            .wrapping_add(self.vib_inc.wrapping_mul(len as u32));
        self.vib_amount = (self.vib_amount + self.vib_rise * len as f32).min(1.0);

        let (stereo, bound) = match &mut self.engine {
            Engine::Additive(a) => (false, a.render(pitch, sine, raw_l)),
            Engine::Fm(f) => {
                for pair in f.pairs.iter_mut() {
                    pair.render(pitch, sine, raw_l);
                }
                (false, 1.0)
            }
            Engine::Subtractive(s) => {
                s.render(pitch, sine, sr, raw_l, raw_r);
                (s.stereo, 1.0)
            }
        };

        let inv = 1.0 / len as f32;
        let (gl0, gr0) = (
            ctx.gl0 * self.pan_l * self.level,
            ctx.gr0 * self.pan_r * self.level,
        );
        let (gl1, gr1) = (
            ctx.gl1 * self.pan_l * self.level,
            ctx.gr1 * self.pan_r * self.level,
        );
        let (dgl, dgr) = ((gl1 - gl0) * inv, (gr1 - gr0) * inv);
        let (mut gl, mut gr) = (gl0, gr0);
        let src_r: &[f32] = if stereo { raw_r } else { raw_l };
        let frames = out_l
            .iter_mut()
            .zip(out_r.iter_mut())
            .zip(raw_l.iter().zip(src_r));
        for ((ol, or), (&xl, &xr)) in frames {
            let e = self.env.next() * self.fade;
            *ol += xl * e * gl;
            *or += xr * e * gr;
            gl += dgl;
            gr += dgr;
            self.fade = (self.fade - self.fade_step).max(0.0);
        }

        let faded_out = self.fade_step > 0.0 && self.fade <= 0.0;
        if self.env.stage == Stage::Done || faded_out || bound * self.env.level < SILENT {
            self.active = false;
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Channel {
    timbre: Timbre,
    volume: u8,
    expression: u8,
    pan: u8,
    modulation: u8,
    sustain: bool,
    bend_range: f32,
    /// Selected registered parameter (MSB, LSB); 127/127 is none.
    rpn: (u8, u8),
    bend_target: f32,
    bend: f32,
    ratio: f32,
    target_l: f32,
    target_r: f32,
    gain_l: f32,
    gain_r: f32,
}

impl Channel {
    fn new() -> Self {
        let mut c = Channel {
            timbre: Timbre::Piano,
            volume: 100,
            expression: 127,
            pan: 64,
            modulation: 0,
            sustain: false,
            bend_range: 2.0,
            rpn: (127, 127),
            bend_target: 0.0,
            bend: 0.0,
            ratio: 1.0,
            target_l: 1.0,
            target_r: 1.0,
            gain_l: 1.0,
            gain_r: 1.0,
        };
        c.update_gain();
        c.gain_l = c.target_l;
        c.gain_r = c.target_r;
        c
    }

    /// rt: GM volume and expression curves (squared), constant-power pan, centre = unity.
    fn update_gain(&mut self) {
        let vol = self.volume as f32 / 127.0;
        let expr = self.expression as f32 / 127.0;
        let g = vol * vol * expr * expr;
        let p = ((self.pan as f32 - 64.0) / 63.0).clamp(-1.0, 1.0);
        let theta = (p + 1.0) * PI / 4.0;
        self.target_l = g * theta.cos() * std::f32::consts::SQRT_2;
        self.target_r = g * theta.sin() * std::f32::consts::SQRT_2;
    }

    /// rt: jumps every glide to its target (only while nothing sounds).
    fn settle(&mut self) {
        if self.bend != self.bend_target {
            self.bend = self.bend_target;
            self.ratio = (self.bend / 12.0).exp2();
        }
        self.gain_l = self.target_l;
        self.gain_r = self.target_r;
    }

    /// rt: glides bend and gains for the next `len` frames.
    fn begin_chunk(&mut self, len: usize, bend_k: f32, gain_k: f32) -> ChunkCtx {
        if self.bend != self.bend_target {
            let k = (bend_k * len as f32).min(1.0);
            self.bend += (self.bend_target - self.bend) * k;
            if (self.bend_target - self.bend).abs() < 1e-4 {
                self.bend = self.bend_target;
            }
            self.ratio = (self.bend / 12.0).exp2();
        }
        let (gl0, gr0) = (self.gain_l, self.gain_r);
        let k = (gain_k * len as f32).min(1.0);
        self.gain_l += (self.target_l - self.gain_l) * k;
        self.gain_r += (self.target_r - self.gain_r) * k;
        if (self.target_l - self.gain_l).abs() < 1e-5 && (self.target_r - self.gain_r).abs() < 1e-5
        {
            self.gain_l = self.target_l;
            self.gain_r = self.target_r;
        }
        ChunkCtx {
            ratio: self.ratio,
            vibrato: self.modulation as f32 / 127.0 * 0.4,
            gl0,
            gl1: self.gain_l,
            gr0,
            gr1: self.gain_r,
        }
    }
}

/// A small polyphonic synth covering the GM program families, with no files needed.
pub struct FallbackSynth {
    sample_rate: f32,
    sine: Box<SineTable>,
    voices: Box<[Voice; VOICES]>,
    fading: Box<[Voice; FADE_SLOTS]>,
    channels: [Channel; CHANNELS],
    next_age: u64,
    bend_k: f32,
    gain_k: f32,
    steal_step: f32,
}

impl FallbackSynth {
    /// Allocates every voice up front.
    pub fn new(sample_rate: u32) -> Self {
        let sr = sample_rate.max(1) as f32;
        Self {
            sample_rate: sr,
            sine: SineTable::new(),
            voices: Box::new([Voice::IDLE; VOICES]),
            fading: Box::new([Voice::IDLE; FADE_SLOTS]),
            channels: [Channel::new(); CHANNELS],
            next_age: 0,
            bend_k: 1.0 / (BEND_GLIDE_SECS * sr),
            gain_k: 1.0 / (GAIN_GLIDE_SECS * sr),
            steal_step: 1.0 / (STEAL_FADE_SECS * sr),
        }
    }

    /// rt: applies one channel message.
    pub fn handle(&mut self, msg: MidiMessage) {
        match msg {
            MidiMessage::NoteOn {
                channel,
                key,
                velocity,
            } if velocity > 0 => self.note_on(channel & 15, key & 127, velocity.min(127)),
            MidiMessage::NoteOn { channel, key, .. }
            | MidiMessage::NoteOff { channel, key, .. } => self.note_off(channel & 15, key & 127),
            MidiMessage::Control {
                channel,
                controller,
                value,
            } => self.control(channel & 15, controller, value.min(127)),
            MidiMessage::Program { channel, program } => {
                let ch = &mut self.channels[(channel & 15) as usize];
                ch.timbre = Timbre::for_program(program & 127);
            }
            MidiMessage::PitchBend { channel, value } => {
                let ch = &mut self.channels[(channel & 15) as usize];
                ch.bend_target = value.clamp(-8192, 8191) as f32 / 8192.0 * ch.bend_range;
            }
            MidiMessage::PolyPressure { .. } | MidiMessage::ChannelPressure { .. } => {}
        }
    }

    /// rt: adds the synth's output into the buffers.
    pub fn render_add(&mut self, left: &mut [f32], right: &mut [f32]) {
        // Nothing sounding: glides have nobody to glide for, so they land at once.
        if !self
            .voices
            .iter()
            .chain(self.fading.iter())
            .any(|v| v.active)
        {
            for ch in &mut self.channels {
                ch.settle();
            }
            return;
        }
        let sr = self.sample_rate;
        for (cl, cr) in left.chunks_mut(CHUNK).zip(right.chunks_mut(CHUNK)) {
            let len = cl.len().min(cr.len());
            let mut ctx = [ChunkCtx {
                ratio: 1.0,
                vibrato: 0.0,
                gl0: 0.0,
                gl1: 0.0,
                gr0: 0.0,
                gr1: 0.0,
            }; CHANNELS];
            for (c, ch) in ctx.iter_mut().zip(self.channels.iter_mut()) {
                *c = ch.begin_chunk(len, self.bend_k, self.gain_k);
            }
            for v in self.voices.iter_mut().chain(self.fading.iter_mut()) {
                if v.active {
                    let c = &ctx[(v.channel & 15) as usize];
                    v.render(c, &self.sine, sr, cl, cr);
                }
            }
        }
    }

    /// rt: releases every note (tails ring out) and lifts every sustain pedal.
    pub fn all_notes_off(&mut self) {
        for ch in self.channels.iter_mut() {
            ch.sustain = false;
        }
        for v in self.voices.iter_mut() {
            if v.active {
                v.release();
            }
        }
    }

    /// rt: silences everything within a few milliseconds, tails included.
    pub fn all_sound_off(&mut self) {
        for ch in self.channels.iter_mut() {
            ch.sustain = false;
        }
        let step = self.steal_step;
        for v in self.voices.iter_mut().chain(self.fading.iter_mut()) {
            if v.active {
                v.begin_fade(step);
            }
        }
    }

    /// Notes sounding, including stolen ones still fading out.
    pub fn active_voices(&self) -> usize {
        self.voices
            .iter()
            .chain(self.fading.iter())
            .filter(|v| v.active)
            .count()
    }

    /// The timbre a channel (0-based) plays now.
    pub fn timbre(&self, channel: u8) -> Timbre {
        self.channels[(channel & 15) as usize].timbre
    }

    /// rt: starts a voice in a free slot, or one stolen when all are busy.
    fn note_on(&mut self, channel: u8, key: u8, velocity: u8) {
        let timbre = self.channels[(channel & 15) as usize].timbre;
        // Striking a key again lets the earlier strike ring out instead of piling up.
        for v in self.voices.iter_mut() {
            if v.active && v.channel == channel && v.key == key && (v.held || v.sustained) {
                v.release();
            }
        }
        let Some(slot) = self.free_or_steal() else {
            return;
        };
        self.next_age += 1;
        if let Some(v) = self.voices.get_mut(slot) {
            v.start(
                timbre,
                channel,
                key,
                velocity,
                self.next_age,
                self.sample_rate,
            );
        }
    }

    /// rt: a free voice, or the best one to steal after moving it to a fade slot.
    fn free_or_steal(&mut self) -> Option<usize> {
        voices::free_or_steal(&mut self.voices[..], &mut self.fading[..], self.steal_step)
    }

    /// rt: the pedal, if down, keeps the note sounding.
    fn note_off(&mut self, channel: u8, key: u8) {
        let pedal = self.channels[(channel & 15) as usize].sustain;
        for v in self.voices.iter_mut() {
            if v.active && v.held && v.channel == channel && v.key == key {
                if pedal {
                    v.held = false;
                    v.sustained = true;
                } else {
                    v.release();
                }
            }
        }
    }

    /// rt: the controllers a keyboard sends: mod wheel, bend range (RPN 0), volume, pan,
    /// expression, sustain, and the channel-mode messages.
    fn control(&mut self, channel: u8, controller: u8, value: u8) {
        let ch = &mut self.channels[(channel & 15) as usize];
        match controller {
            1 => ch.modulation = value,
            6 if ch.rpn == (0, 0) => {
                ch.bend_range = value.min(24) as f32;
            }
            7 => {
                ch.volume = value;
                ch.update_gain();
            }
            10 => {
                ch.pan = value;
                ch.update_gain();
            }
            11 => {
                ch.expression = value;
                ch.update_gain();
            }
            64 => {
                let down = value >= 64;
                let lifted = ch.sustain && !down;
                ch.sustain = down;
                if lifted {
                    self.release_sustained(channel);
                }
            }
            98 | 99 => ch.rpn = (127, 127), // NRPN: data entry no longer means bend range
            100 => ch.rpn.1 = value,
            101 => ch.rpn.0 = value,
            120 => {
                let step = self.steal_step;
                for v in self.voices.iter_mut() {
                    if v.active && v.channel == channel {
                        v.begin_fade(step);
                    }
                }
            }
            121 => {
                ch.expression = 127;
                ch.modulation = 0;
                ch.bend_target = 0.0;
                ch.rpn = (127, 127);
                let was_down = ch.sustain;
                ch.sustain = false;
                ch.update_gain();
                if was_down {
                    self.release_sustained(channel);
                }
            }
            123..=127 => {
                // All notes off (and the mode messages that imply it); the pedal still holds.
                let pedal = ch.sustain;
                for v in self.voices.iter_mut() {
                    if v.active && v.held && v.channel == channel {
                        if pedal {
                            v.held = false;
                            v.sustained = true;
                        } else {
                            v.release();
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// rt: pedal up.
    fn release_sustained(&mut self, channel: u8) {
        for v in self.voices.iter_mut() {
            if v.active && v.sustained && v.channel == channel {
                v.release();
            }
        }
    }
}

impl Fading for Voice {
    fn active(&self) -> bool {
        self.active
    }
    fn fade(&self) -> f32 {
        self.fade
    }
    /// rt: which voice to steal first: fading, then released, then pedal-held, then held.
    fn steal_rank(&self) -> (u8, u64) {
        let class = if self.fade_step > 0.0 {
            0
        } else if !self.held && !self.sustained {
            1
        } else if self.sustained {
            2
        } else {
            3
        };
        (class, self.age)
    }
    /// rt: fades the voice to silence, `step` per sample, then frees it.
    fn begin_fade(&mut self, step: f32) {
        self.fade_step = self.fade_step.max(step);
        self.held = false;
        self.sustained = false;
    }
    fn silence(&mut self) {
        self.active = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: u32 = 48_000;

    fn on(channel: u8, key: u8, velocity: u8) -> MidiMessage {
        MidiMessage::NoteOn {
            channel,
            key,
            velocity,
        }
    }

    fn off(channel: u8, key: u8) -> MidiMessage {
        MidiMessage::NoteOff {
            channel,
            key,
            velocity: 64,
        }
    }

    fn cc(channel: u8, controller: u8, value: u8) -> MidiMessage {
        MidiMessage::Control {
            channel,
            controller,
            value,
        }
    }

    fn synth_with(program: u8) -> FallbackSynth {
        let mut s = FallbackSynth::new(SR);
        send(
            &mut s,
            MidiMessage::Program {
                channel: 0,
                program,
            },
        );
        s
    }

    /// Hands a message over the way the audio thread does: no allocation allowed.
    fn send(s: &mut FallbackSynth, msg: MidiMessage) {
        let before = assert_no_alloc::violation_count();
        assert_no_alloc::assert_no_alloc(|| s.handle(msg));
        assert_eq!(
            assert_no_alloc::violation_count(),
            before,
            "handle allocated"
        );
    }

    /// Renders in uneven blocks, as devices and MIDI events cut them; returns the left side.
    fn render(s: &mut FallbackSynth, frames: usize) -> Vec<f32> {
        let mut left = vec![0.0; frames];
        let mut right = vec![0.0; frames];
        let before = assert_no_alloc::violation_count();
        assert_no_alloc::assert_no_alloc(|| {
            let sizes = [64, 1, 37, 128, 500, 16, 8192];
            let mut pos = 0;
            let mut i = 0;
            while pos < frames {
                let n = sizes[i % sizes.len()].min(frames - pos);
                s.render_add(&mut left[pos..pos + n], &mut right[pos..pos + n]);
                pos += n;
                i += 1;
            }
        });
        assert_eq!(
            assert_no_alloc::violation_count(),
            before,
            "render allocated"
        );
        left
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

    fn max_jump(x: &[f32]) -> f32 {
        x.windows(2).fold(0.0, |m, w| m.max((w[1] - w[0]).abs()))
    }

    /// Power at `hz` (Goertzel), of a signal already windowed.
    fn goertzel(x: &[f64], hz: f32) -> f64 {
        let c = 2.0 * (2.0 * std::f64::consts::PI * hz as f64 / SR as f64).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = v + c * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - c * s1 * s2
    }

    fn hann(x: &[f32]) -> Vec<f64> {
        let n = x.len() as f64;
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                v as f64 * (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos())
            })
            .collect()
    }

    fn power_at(x: &[f32], hz: f32) -> f64 {
        goertzel(&hann(x), hz)
    }

    /// The strongest frequency between `lo` and `hi`: 1 Hz steps (the window is long
    /// enough that no line falls between them), then 0.1 Hz steps around the best.
    fn spectral_peak(x: &[f32], lo: f32, hi: f32) -> f32 {
        let w = hann(x);
        let scan = |from: f32, to: f32, step: f32| {
            let mut best = (from, 0.0);
            let mut i = 0;
            while from + i as f32 * step <= to {
                let f = from + i as f32 * step;
                let p = goertzel(&w, f);
                if p > best.1 {
                    best = (f, p);
                }
                i += 1;
            }
            best.0
        };
        let coarse = scan(lo, hi, 1.0);
        scan(coarse - 1.0, coarse + 1.0, 0.1)
    }

    #[test]
    fn a_440_note_has_its_spectral_peak_at_440_on_every_patch() {
        for timbre in Timbre::ALL {
            let mut s = synth_with(timbre.program());
            send(&mut s, on(0, 69, 100));
            // A long window averages out vibrato and detuned oscillators.
            let out = render(&mut s, secs(2.0));
            let f = spectral_peak(&out[secs(1.0)..], 50.0, 2000.0);
            assert!((f - 440.0).abs() < 1.5, "{}: peak at {f} Hz", timbre.name());
        }
    }

    #[test]
    fn one_note_at_velocity_100_peaks_near_a_quarter() {
        for timbre in Timbre::ALL {
            for key in [48, 60, 72] {
                let mut s = synth_with(timbre.program());
                send(&mut s, on(0, key, 100));
                let p = peak(&render(&mut s, secs(1.5)));
                assert!(
                    (0.15..=0.35).contains(&p),
                    "{} key {key}: peak {p}",
                    timbre.name()
                );
            }
        }
    }

    #[test]
    fn velocity_30_is_quieter_and_darker_than_velocity_120() {
        for timbre in Timbre::ALL {
            let play = |velocity| {
                let mut s = synth_with(timbre.program());
                send(&mut s, on(0, 57, velocity));
                render(&mut s, secs(0.8))
            };
            let (soft, loud) = (play(30), play(120));
            assert!(rms(&soft) < 0.4 * rms(&loud), "{}", timbre.name());
            // Brightness: upper harmonics against the fundamental, early in the note.
            let bright = |x: &[f32]| {
                let w = &x[secs(0.6)..secs(0.8)];
                let upper: f64 = (3..=8).map(|n| power_at(w, 220.0 * n as f32)).sum();
                upper / power_at(w, 220.0)
            };
            assert!(
                bright(&soft) < bright(&loud),
                "{} is not brighter when struck harder",
                timbre.name()
            );
        }
    }

    #[test]
    fn sustain_pedal_holds_a_released_note_until_lifted() {
        let play = |pedal: bool| {
            let mut s = FallbackSynth::new(SR);
            send(&mut s, cc(0, 64, if pedal { 127 } else { 0 }));
            send(&mut s, on(0, 60, 100));
            render(&mut s, secs(0.3));
            send(&mut s, off(0, 60));
            let after = render(&mut s, secs(1.0));
            (s, rms(&after[secs(0.8)..]))
        };
        let (_, dry) = play(false);
        let (mut s, held) = play(true);
        assert!(dry < 1e-4, "without the pedal the note stops: {dry}");
        assert!(held > 0.02, "with the pedal it rings: {held}");
        assert_eq!(s.active_voices(), 1);

        send(&mut s, cc(0, 64, 0));
        let lifted = render(&mut s, secs(1.5));
        assert!(rms(&lifted[secs(1.3)..]) < 1e-5);
        assert_eq!(s.active_voices(), 0);
        // The damper is a release, not a cut.
        assert!(max_jump(&lifted[..secs(0.05)]) < 0.05);
    }

    #[test]
    fn pitch_bend_up_raises_the_note_two_semitones_smoothly() {
        for timbre in [Timbre::Organ, Timbre::Piano, Timbre::Pad] {
            let mut s = synth_with(timbre.program());
            send(&mut s, on(0, 69, 100));
            render(&mut s, secs(0.6));
            send(
                &mut s,
                MidiMessage::PitchBend {
                    channel: 0,
                    value: 8191,
                },
            );
            let bent = render(&mut s, secs(0.6));
            let f = spectral_peak(&bent[secs(0.1)..], 50.0, 2000.0);
            let want = 440.0 * (2.0f32 / 12.0).exp2();
            assert!((f - want).abs() < 2.0, "{}: bent to {f} Hz", timbre.name());
            send(
                &mut s,
                MidiMessage::PitchBend {
                    channel: 0,
                    value: 0,
                },
            );
            let back = render(&mut s, secs(0.6));
            let f = spectral_peak(&back[secs(0.1)..], 50.0, 2000.0);
            assert!((f - 440.0).abs() < 1.5, "{}: back to {f} Hz", timbre.name());
        }
    }

    #[test]
    fn seventeenth_note_steals_the_oldest_voice_without_a_click() {
        let keys: Vec<u8> = (40..56).collect();
        for timbre in Timbre::ALL {
            let start = |keys: &[u8]| {
                let mut s = synth_with(timbre.program());
                for &k in keys {
                    send(&mut s, on(0, k, 100));
                }
                s
            };
            // The oldest note alone, to find a moment where cutting it would jump far.
            let solo = render(&mut start(&keys[..1]), secs(1.0));
            let window = secs(0.6)..secs(0.7);
            let loudest = peak(&solo[window.clone()]);
            let at = window.start
                + solo[window]
                    .iter()
                    .position(|v| v.abs() >= 0.8 * loudest)
                    .unwrap();
            let hard_cut = solo[at].abs();

            let mut stolen = start(&keys);
            let mut kept = start(&keys);
            assert_eq!(stolen.active_voices(), 16);
            let a0 = render(&mut stolen, at);
            let b0 = render(&mut kept, at);
            assert_eq!(a0, b0);
            // A soft new note isolates the stolen note's fade-out; the new note's own
            // onset is checked by `notes_start_from_silence`.
            send(&mut stolen, on(0, 70, 1));
            assert_eq!(
                stolen.active_voices(),
                17,
                "{}: the stolen note fades out",
                timbre.name()
            );
            let a = render(&mut stolen, secs(0.02));
            let b = render(&mut kept, secs(0.02));
            assert_eq!(
                stolen.active_voices(),
                16,
                "{}: 16 after the fade",
                timbre.name()
            );

            // Steal = new note + (faded old - old): its largest step is the click.
            let mut diff = vec![a0[at - 1] - b0[at - 1]];
            diff.extend(a.iter().zip(&b).map(|(x, y)| x - y));
            let click = max_jump(&diff);
            let bound = hard_cut / 4.0;
            assert!(
                hard_cut > 0.05,
                "{}: the test needs a loud victim ({hard_cut})",
                timbre.name()
            );
            assert!(
                click < bound,
                "{}: steal jumps {click}, bound {bound}, a cut would jump {hard_cut}",
                timbre.name()
            );
        }
    }

    #[test]
    fn a_burst_of_notes_never_cuts_a_sounding_voice() {
        let held: Vec<u8> = (40..56).collect();
        let start = || {
            let mut s = synth_with(Timbre::Organ.program());
            for &k in &held {
                send(&mut s, on(0, k, 100));
            }
            render(&mut s, secs(0.5));
            s
        };
        let (mut burst, mut calm) = (start(), start());
        // A forearm on the keyboard: far more notes in one instant than there are voices.
        for k in 60..100 {
            send(&mut burst, on(0, k, 1));
        }
        assert!(burst.active_voices() <= VOICES + FADE_SLOTS);
        let a = render(&mut burst, secs(0.02));
        let b = render(&mut calm, secs(0.02));
        // Up to the burst both were the same: the difference starts from zero.
        let mut diff = vec![0.0];
        diff.extend(a.iter().zip(&b).map(|(x, y)| x - y));
        // Eight stolen notes fade out together, still far below what cutting just one of
        // them (about 0.2 at its peak) would jump.
        assert!(max_jump(&diff) < 0.05, "burst jumps {}", max_jump(&diff));
        assert_eq!(burst.active_voices(), VOICES);
    }

    #[test]
    fn notes_start_from_silence() {
        for timbre in Timbre::ALL {
            let mut s = synth_with(timbre.program());
            send(&mut s, on(0, 60, 127));
            let out = render(&mut s, secs(0.01));
            // A step would put the note's full level in its first samples.
            assert!(out[0].abs() < 0.005, "{} starts with a step", timbre.name());
            let first = peak(&out[..secs(0.00025)]);
            assert!(
                first < 0.3 * peak(&out),
                "{} starts with a step",
                timbre.name()
            );
        }
    }

    #[test]
    fn all_notes_off_lets_everything_ring_out_to_silence() {
        let mut s = FallbackSynth::new(SR);
        for (ch, program) in [(0, 0), (1, 33), (2, 89), (3, 4), (4, 19)] {
            send(
                &mut s,
                MidiMessage::Program {
                    channel: ch,
                    program,
                },
            );
            send(&mut s, cc(ch, 64, 127));
            for k in [48, 55, 64] {
                send(&mut s, on(ch, k, 90));
            }
        }
        render(&mut s, secs(0.5));
        assert_eq!(s.active_voices(), 15);
        let before = assert_no_alloc::violation_count();
        assert_no_alloc::assert_no_alloc(|| s.all_notes_off());
        assert_eq!(assert_no_alloc::violation_count(), before);
        let tail = render(&mut s, secs(3.0));
        assert_eq!(s.active_voices(), 0);
        assert!(max_jump(&tail[..secs(0.1)]) < 0.1);
        assert!(peak(&tail[secs(2.9)..]) == 0.0);
    }

    #[test]
    fn volume_controller_glides_and_channels_keep_their_own_patch() {
        let mut s = FallbackSynth::new(SR);
        send(
            &mut s,
            MidiMessage::Program {
                channel: 1,
                program: 33,
            },
        );
        assert_eq!(s.timbre(0), Timbre::Piano);
        assert_eq!(s.timbre(1), Timbre::Bass);
        send(
            &mut s,
            MidiMessage::Program {
                channel: 1,
                program: 90,
            },
        );
        assert_eq!(s.timbre(1), Timbre::Pad);
        send(&mut s, on(0, 60, 100));
        let loud = render(&mut s, secs(0.3));
        send(&mut s, cc(0, 7, 30));
        let soft = render(&mut s, secs(0.3));
        assert!(rms(&soft[secs(0.1)..]) < 0.2 * rms(&loud[secs(0.1)..]));
        assert!(
            max_jump(&soft[..secs(0.02)]) < 0.05,
            "a volume change does not click"
        );
    }
}
