//! THE AUDIO THREAD. Everything here can run inside `Engine::process` on a device
//! callback: no allocation, no locks, no blocking, no logging, no panics.
//!
//! `Engine` is the audio half; `crate::Controller` is the control half. They talk
//! through the command queue (in) and the shared meters and garbage queue (out).

pub mod command;
pub mod drums;
pub mod instruments;
pub mod level;
pub mod limiter;
pub mod listen_player;
pub mod looper;
pub mod midi;
pub mod recorder;
pub mod shared;
pub mod smooth;
pub mod song_player;
pub mod synth;
pub mod voices;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

pub use command::{Command, Garbage, Patch, SoundFontSynth, Timed};
use instruments::Instruments;
use limiter::Limiter;
use looper::{CaptureOutcome, LoopCapture, Looper};
pub use midi::{MidiEvent, MidiMessage, MidiParse};
use recorder::{TakeSource, TakeTap, MAX_TAKES};
pub use shared::{Level, Shared, MAX_INPUTS};
use song_player::SongPlayback;

/// What a sample rate needs that takes time to make, made off the audio thread (and
/// before the engine is lent) by `prep::for_rate`.
pub struct RateAssets {
    pub sample_rate: u32,
    pub drums: drums::DrumSounds,
}
use smooth::{db_to_gain, pan_gains, Smoother};

/// Frames the engine works on at once; longer device blocks are cut into pieces.
pub const MAX_BLOCK_FRAMES: usize = 1024;
/// Commands the engine can hold for a later frame.
pub const PENDING_CAPACITY: usize = 256;
/// Gain changes glide over this long.
pub const RAMP_SECS: f32 = 0.02;

/// One live input strip: a mono channel or a stereo pair of the device's inputs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputConfig {
    pub name: String,
    /// Device input channel (0-based) for the left or only side.
    pub channel: usize,
    /// Second channel for a stereo input.
    #[serde(default)]
    pub right_channel: Option<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    pub sample_rate: u32,
    pub inputs: Vec<InputConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            sample_rate: 48_000,
            inputs: vec![
                InputConfig {
                    name: "Input 1".into(),
                    channel: 0,
                    right_channel: None,
                },
                InputConfig {
                    name: "Input 2".into(),
                    channel: 1,
                    right_channel: None,
                },
            ],
        }
    }
}

struct InputStrip {
    channel: usize,
    right_channel: Option<usize>,
    gain: f32,
    pan: f32,
    muted: bool,
    monitor: bool,
    /// What the mix hears of the input (off when not monitored).
    to_left: Smoother,
    to_right: Smoother,
    /// What the loops hear of it: the same gain and pan, monitored or not (an interface's
    /// own direct monitoring is no reason to leave an input out of the loops).
    send_left: Smoother,
    send_right: Smoother,
    mean_square: f32,
    block_peak: f32,
    block_sum_sq: f32,
}

impl InputStrip {
    fn new(cfg: &InputConfig, ramp: u32) -> Self {
        let mut s = Self {
            channel: cfg.channel,
            right_channel: cfg.right_channel,
            gain: 1.0,
            pan: 0.0,
            muted: false,
            monitor: true,
            to_left: Smoother::new(0.0, ramp),
            to_right: Smoother::new(0.0, ramp),
            send_left: Smoother::new(0.0, ramp),
            send_right: Smoother::new(0.0, ramp),
            mean_square: 0.0,
            block_peak: 0.0,
            block_sum_sq: 0.0,
        };
        let (l, r) = s.targets();
        s.to_left.reset(l);
        s.to_right.reset(r);
        let (l, r) = s.send_targets();
        s.send_left.reset(l);
        s.send_right.reset(r);
        s
    }

    fn targets(&self) -> (f32, f32) {
        let (l, r) = self.send_targets();
        if self.monitor {
            (l, r)
        } else {
            (0.0, 0.0)
        }
    }

    fn send_targets(&self) -> (f32, f32) {
        let on = if self.muted { 0.0 } else { self.gain };
        let (l, r) = if self.right_channel.is_some() {
            // Balance: turning one side down, never the other up.
            ((1.0 - self.pan).min(1.0), (1.0 + self.pan).min(1.0))
        } else {
            pan_gains(self.pan)
        };
        (on * l, on * r)
    }

    fn retarget(&mut self) {
        let (l, r) = self.targets();
        self.to_left.set(l);
        self.to_right.set(r);
        let (l, r) = self.send_targets();
        self.send_left.set(l);
        self.send_right.set(r);
    }

    /// rt: nobody listens to the sends in this piece: their glides run on all the same.
    fn skip_sends(&mut self, frames: usize) {
        for s in [&mut self.send_left, &mut self.send_right] {
            if !s.is_settled() {
                for _ in 0..frames {
                    s.next_value();
                }
            }
        }
    }

    /// rt: whether the loops hear this input exactly as the mix does right now.
    fn sends_as_heard(&self) -> bool {
        self.to_left.is_settled()
            && self.to_right.is_settled()
            && self.send_left.is_settled()
            && self.send_right.is_settled()
            && self.to_left.current() == self.send_left.current()
            && self.to_right.current() == self.send_right.current()
    }
}

/// The audio half of Samspill. Create with [`crate::new_engine`].
pub struct Engine {
    sample_rate: u32,
    strips: Vec<InputStrip>,
    instruments: Instruments,
    instrument_gain: Smoother,
    master: Smoother,
    limiter: Limiter,
    bus_l: Vec<f32>,
    /// The click's own pair, when it goes apart (`Command::ClickApart`).
    click_l: Vec<f32>,
    click_r: Vec<f32>,
    /// Asked for (`Command::ClickApart`); `click_routed`: and the backend has the pair,
    /// for the chunk being made.
    click_apart: bool,
    click_routed: bool,
    bus_r: Vec<f32>,
    in_l: Vec<f32>,
    in_r: Vec<f32>,
    /// Every input as the loops hear it (when that differs from `in_l`/`in_r`), and each
    /// input alone, for tracks that record one.
    send_l: Vec<f32>,
    send_r: Vec<f32>,
    solo: Vec<(Vec<f32>, Vec<f32>)>,
    mix_l: Vec<f32>,
    mix_r: Vec<f32>,
    looper: Option<Box<Looper>>,
    /// A loop capture being copied, a little per block.
    capture: Option<Box<LoopCapture>>,
    /// Takes being recorded, and the sources they need (bits as in `looper::SOURCE_*`).
    // Boxed: a take comes in a command and goes back as garbage without being moved
    // out of its allocation (which the audio thread may not free).
    #[allow(clippy::vec_box)]
    takes: Vec<Box<TakeTap>>,
    take_wants: u64,
    silence: Vec<f32>,
    /// The frame commands being applied now apply at.
    now: u64,
    /// A song playing (its tracks and click).
    song: Option<Box<SongPlayback>>,
    /// The client's songs, listened to.
    listen: listen_player::ListenPlayer,
    loop_latency_offset: i32,
    loop_latency: usize,
    synth_l: Vec<f32>,
    synth_r: Vec<f32>,
    commands: Receiver<Timed>,
    garbage: Sender<Garbage>,
    garbage_held: Option<Garbage>,
    pending: Vec<(u64, u64, Command)>,
    seq: u64,
    frame: u64,
    shared: Arc<Shared>,
    instrument_ms: f32,
    master_ms: f32,
    /// Whether the instruments made any sound in this chunk (else their meter reads 0),
    /// and their peak and sum of squares over it, taken as they were rendered.
    instruments_sounding: bool,
    instruments_peak: f32,
    instruments_sum_sq: f32,
    meter_decay_per_frame: f32,
}

impl Engine {
    /// Not rt: `assets` are at the config's rate (`prep::for_rate`).
    pub(crate) fn new(
        config: &EngineConfig,
        commands: Receiver<Timed>,
        garbage: Sender<Garbage>,
        shared: Arc<Shared>,
        assets: RateAssets,
    ) -> Self {
        let sr = assets.sample_rate;
        let ramp = (RAMP_SECS * sr as f32) as u32;
        shared.sample_rate.store(sr, Relaxed);
        Self {
            sample_rate: sr,
            strips: config
                .inputs
                .iter()
                .take(MAX_INPUTS)
                .map(|c| InputStrip::new(c, ramp))
                .collect(),
            instruments: Instruments::new(sr, MAX_BLOCK_FRAMES, assets.drums),
            instrument_gain: Smoother::new(1.0, ramp),
            master: Smoother::new(db_to_gain(-6.0), ramp),
            limiter: Limiter::new(sr, MAX_BLOCK_FRAMES),
            bus_l: vec![0.0; MAX_BLOCK_FRAMES],
            click_l: vec![0.0; MAX_BLOCK_FRAMES],
            click_r: vec![0.0; MAX_BLOCK_FRAMES],
            click_apart: false,
            click_routed: false,
            bus_r: vec![0.0; MAX_BLOCK_FRAMES],
            in_l: vec![0.0; MAX_BLOCK_FRAMES],
            in_r: vec![0.0; MAX_BLOCK_FRAMES],
            send_l: vec![0.0; MAX_BLOCK_FRAMES],
            send_r: vec![0.0; MAX_BLOCK_FRAMES],
            solo: (0..config.inputs.len().min(MAX_INPUTS))
                .map(|_| (vec![0.0; MAX_BLOCK_FRAMES], vec![0.0; MAX_BLOCK_FRAMES]))
                .collect(),
            mix_l: vec![0.0; MAX_BLOCK_FRAMES],
            mix_r: vec![0.0; MAX_BLOCK_FRAMES],
            looper: None,
            capture: None,
            takes: Vec::with_capacity(MAX_TAKES),
            take_wants: 0,
            silence: vec![0.0; MAX_BLOCK_FRAMES],
            now: 0,
            song: None,
            listen: listen_player::ListenPlayer::new(sr),
            loop_latency_offset: 0,
            loop_latency: 0,
            synth_l: vec![0.0; MAX_BLOCK_FRAMES],
            synth_r: vec![0.0; MAX_BLOCK_FRAMES],
            commands,
            garbage,
            garbage_held: None,
            pending: Vec::with_capacity(PENDING_CAPACITY),
            seq: 0,
            frame: 0,
            shared,
            instrument_ms: 0.0,
            master_ms: 0.0,
            instruments_sounding: false,
            instruments_peak: 0.0,
            instruments_sum_sq: 0.0,
            meter_decay_per_frame: meter_decay(sr),
        }
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Not rt: rebuilds what depends on the sample rate (a new device), keeping every
    /// setting, the SoundFont and the frame count, from `assets` made beforehand
    /// (`prep::for_rate`). The loops go out to be resampled and come back by themselves.
    pub fn set_sample_rate(&mut self, assets: RateAssets) {
        let sr = assets.sample_rate;
        if sr == self.sample_rate {
            return;
        }
        // A file has one rate: takes end here, kept as they are.
        for t in &self.takes {
            t.status
                .finished
                .store(true, std::sync::atomic::Ordering::Release);
        }
        self.let_go_of_finished_takes();
        // The loops keep their seconds, pitch and tempo: resampled on the control side
        // (`prep::looper_rate`) while the engine plays on without them, then installed.
        self.give_back_looper(Garbage::LooperToRetune);
        let ratio = sr as f64 / self.sample_rate as f64;
        self.loop_latency_offset = (self.loop_latency_offset as f64 * ratio).round() as i32;
        self.loop_latency = usize::MAX; // handed to the looper again on the next block
        self.sample_rate = sr;
        let ramp = (RAMP_SECS * sr as f32) as u32;
        for s in &mut self.strips {
            let (l, r) = s.targets();
            s.to_left = Smoother::new(l, ramp);
            s.to_right = Smoother::new(r, ramp);
            let (l, r) = s.send_targets();
            s.send_left = Smoother::new(l, ramp);
            s.send_right = Smoother::new(r, ramp);
        }
        self.instrument_gain = Smoother::new(self.instrument_gain.target(), ramp);
        self.master = Smoother::new(self.master.target(), ramp);
        self.limiter = Limiter::new(sr, MAX_BLOCK_FRAMES);
        // The SoundFont is rebuilt at the new rate on the control side, by the same
        // builder as at load (same level, grid and polyphony), and installed again.
        if let Some(sf) = self.instruments.set_sample_rate(sr, assets.drums) {
            self.throw_away(Garbage::SoundFontToRebuild(sf));
            self.shared.soundfont_active.store(0, Relaxed);
        }
        self.meter_decay_per_frame = meter_decay(sr);
        self.shared.sample_rate.store(sr, Relaxed);
        // A song being listened to was resampled for the old rate: it stops (the control
        // side sees it let go and can start it again at the new rate).
        self.listen.stop_now();
        self.listen.set_rate(sr);
        self.hand_back_listened();
    }

    /// rt: songs the listening player has let go, back to the control side.
    fn hand_back_listened(&mut self) {
        while let Some(s) = self.listen.take_let_go() {
            self.throw_away(Garbage::Listen(s));
        }
    }

    /// Whether a SoundFont is installed and resting (its tail has died away).
    pub fn soundfont_resting(&self) -> bool {
        self.instruments.soundfont_resting()
    }

    /// Frames processed since start.
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// Frames from input to output that the engine itself adds (the limiter's look-ahead).
    pub fn latency_frames(&self) -> usize {
        self.limiter.latency_frames()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// rt: the one entry point. `inputs` are the device's input channels (missing ones
    /// read as silence); `midi` events are sorted by frame within this block.
    pub fn process(
        &mut self,
        inputs: &[&[f32]],
        out_left: &mut [f32],
        out_right: &mut [f32],
        midi: &[MidiEvent],
    ) {
        self.process_with_click(inputs, out_left, out_right, None, midi);
    }

    /// rt: [`Engine::process`] for a backend with an output pair for the click: it gets
    /// the song's click when `Command::ClickApart` is on, silence otherwise.
    pub fn process_with_click(
        &mut self,
        inputs: &[&[f32]],
        out_left: &mut [f32],
        out_right: &mut [f32],
        mut click: Option<(&mut [f32], &mut [f32])>,
        midi: &[MidiEvent],
    ) {
        let frames = out_left.len().min(out_right.len());
        let mut start = 0;
        let mut midi_at = 0;
        while start < frames {
            let len = (frames - start).min(MAX_BLOCK_FRAMES);
            let end = start + len;
            let first = midi_at;
            while midi_at < midi.len() && (midi[midi_at].frame as usize) < end {
                midi_at += 1;
            }
            let apart = self.click_apart && click.is_some();
            self.process_chunk(
                inputs,
                start,
                &mut out_left[start..end],
                &mut out_right[start..end],
                &midi[first..midi_at],
                apart,
            );
            if let Some((cl, cr)) = click.as_mut() {
                let (cl, cr) = (cl.get_mut(start..end), cr.get_mut(start..end));
                if let (Some(cl), Some(cr)) = (cl, cr) {
                    if apart {
                        cl.copy_from_slice(&self.click_l[..len]);
                        cr.copy_from_slice(&self.click_r[..len]);
                    } else {
                        cl.fill(0.0);
                        cr.fill(0.0);
                    }
                }
            }
            start = end;
        }
        // Anything past the block's end is played at its last frame rather than lost.
        for ev in &midi[midi_at..] {
            self.midi(ev);
        }
        self.step_capture();
        self.hand_back_garbage();
    }

    /// rt: copies a bounded piece of a pending loop capture; hands it back when done.
    fn step_capture(&mut self) {
        let done = match (&mut self.capture, &mut self.looper) {
            (Some(c), Some(l)) => l.capture_step(c, looper::snapshot::CAPTURE_FRAMES_PER_BLOCK),
            _ => false,
        };
        if done {
            if let Some(c) = self.capture.take() {
                self.throw_away(Garbage::Captured(c));
            }
        }
    }

    /// rt: one piece of at most MAX_BLOCK_FRAMES; `offset` is where it starts in the
    /// caller's block (and in `inputs`), MIDI frames are relative to the caller's block.
    fn process_chunk(
        &mut self,
        inputs: &[&[f32]],
        offset: usize,
        out_left: &mut [f32],
        out_right: &mut [f32],
        midi: &[MidiEvent],
        click_apart: bool,
    ) {
        let n = out_left.len();
        self.follow_latency();
        self.click_l[..n].fill(0.0);
        self.click_r[..n].fill(0.0);
        self.click_routed = click_apart;
        let chunk_start = self.frame;
        let chunk_end = chunk_start + n as u64;
        if self.take_commands() {
            // Due commands to the front, in time order (in-place sort: no allocation);
            // what stays behind after the drain below is still in order.
            self.pending.sort_unstable_by_key(|(f, s, _)| (*f, *s));
        }
        let due = self.pending.partition_point(|(f, _, _)| *f < chunk_end);

        let mut pending = std::mem::take(&mut self.pending);
        let mut commands = pending.drain(..due).peekable();
        let mut midi_iter = midi.iter().peekable();
        let mut pos = 0usize;
        for s in &mut self.strips {
            s.block_peak = 0.0;
            s.block_sum_sq = 0.0;
        }
        self.instruments_sounding = false;
        self.instruments_peak = 0.0;
        self.instruments_sum_sq = 0.0;
        loop {
            let next_cmd = commands
                .peek()
                .map(|(f, _, _)| f.saturating_sub(chunk_start) as usize);
            let next_midi = midi_iter
                .peek()
                .map(|e| (e.frame as usize).saturating_sub(offset));
            let next = match (next_cmd, next_midi) {
                (Some(c), Some(m)) => c.min(m),
                (Some(c), None) => c,
                (None, Some(m)) => m,
                (None, None) => n,
            }
            .min(n);
            if next > pos {
                self.render(inputs, offset, pos, next);
                pos = next;
            }
            if pos >= n && next_cmd.is_none() && next_midi.is_none() {
                break;
            }
            // Apply everything due at `pos`: commands first, then notes.
            self.now = chunk_start + pos as u64;
            while let Some((f, _, _)) = commands.peek() {
                if (f.saturating_sub(chunk_start) as usize).min(n) <= pos {
                    if let Some((_, _, cmd)) = commands.next() {
                        self.apply(cmd);
                    }
                } else {
                    break;
                }
            }
            while let Some(ev) = midi_iter.peek() {
                if ((ev.frame as usize).saturating_sub(offset)).min(n) <= pos {
                    self.midi(ev);
                    midi_iter.next();
                } else {
                    break;
                }
            }
            if pos >= n && commands.peek().is_none() && midi_iter.peek().is_none() {
                break;
            }
        }
        drop(commands);
        self.pending = pending;

        // Master: limiter, meters, out. The meter's sums are the last line: a piece that
        // is not all numbers is never played, and the limiter forgets it.
        let (bl, br) = (&mut self.bus_l[..n], &mut self.bus_r[..n]);
        self.limiter.process(bl, br);
        let (mut peak, mut ms) = peak_and_ms(bl, br);
        if !ms.is_finite() {
            Shared::count(&self.shared.bad_numbers);
            bl.fill(0.0);
            br.fill(0.0);
            self.limiter.clear();
            (peak, ms) = (0.0, 0.0);
        }
        out_left.copy_from_slice(bl);
        out_right.copy_from_slice(br);
        if self.listen.is_playing() {
            let mut peaks = [0.0f32; MAX_INPUTS];
            for (p, s) in peaks.iter_mut().zip(&self.strips) {
                *p = s.block_peak;
            }
            self.listen.follow_mic(&peaks, n);
        }
        if !self.takes.is_empty() {
            let xruns = self.shared.xruns.load(Relaxed);
            for t in self.takes.iter_mut() {
                if t.source == TakeSource::Mix {
                    t.offer(bl, br, chunk_start, xruns);
                }
            }
            self.let_go_of_finished_takes();
        }
        self.hand_back_listened();
        self.frame = chunk_end;
        self.publish(n, peak, ms);
    }

    /// rt: takes whose last frame is offered go back to be dropped on the control side
    /// (the writer has its own end of the ring).
    fn let_go_of_finished_takes(&mut self) {
        let mut i = 0;
        while i < self.takes.len() {
            if self.takes[i].is_finished() {
                let t = self.takes.swap_remove(i);
                self.throw_away(Garbage::Take(t));
                self.take_wants = take_wants(&self.takes);
            } else {
                i += 1;
            }
        }
    }

    /// rt: the live sources of this piece go to the takes that record them.
    fn offer_to_takes(&mut self, from: usize, to: usize, own_send: bool) {
        let xruns = self.shared.xruns.load(Relaxed);
        let at = self.frame + from as u64;
        let (al, ar) = if own_send {
            (&self.send_l[from..to], &self.send_r[from..to])
        } else {
            (&self.in_l[from..to], &self.in_r[from..to])
        };
        let silence = &self.silence[from..to];
        for t in self.takes.iter_mut() {
            let (l, r): (&[f32], &[f32]) = match t.source {
                TakeSource::Inputs => (al, ar),
                TakeSource::Input(k) => match self.solo.get(k as usize) {
                    Some((l, r)) => (&l[from..to], &r[from..to]),
                    None => (silence, silence),
                },
                TakeSource::Instruments => (&self.synth_l[from..to], &self.synth_r[from..to]),
                TakeSource::Mix => continue,
            };
            t.offer(l, r, at, xruns);
        }
    }

    /// rt: mixes frames `from..to` of this chunk into the bus.
    fn render(&mut self, inputs: &[&[f32]], offset: usize, from: usize, to: usize) {
        // What the loops listen to: all inputs, or single ones (a bit per source).
        let wanted = self.looper.as_ref().map_or(0, |l| l.sources_wanted()) | self.take_wants;
        let all_wanted = wanted & (1 << looper::SOURCE_INPUTS) != 0;
        // Usually the loops hear the inputs as the mix does, and no second sum is needed.
        let own_send = all_wanted && !self.strips.iter().all(InputStrip::sends_as_heard);
        let bl = &mut self.in_l[from..to];
        let br = &mut self.in_r[from..to];
        bl.fill(0.0);
        br.fill(0.0);
        let (sl, sr) = (&mut self.send_l[from..to], &mut self.send_r[from..to]);
        if own_send {
            sl.fill(0.0);
            sr.fill(0.0);
        }
        let input = |ch: usize| -> Option<&[f32]> {
            inputs
                .get(ch)
                .and_then(|s| s.get(offset + from..offset + to))
        };
        for (k, strip) in self.strips.iter_mut().enumerate() {
            let mut left = input(strip.channel);
            let right = strip.right_channel.and_then(input);
            let alone = wanted & (1 << (looper::SOURCE_INPUT_BASE as usize + k)) != 0;
            // The meter's sums double as the check: NaN or ±Inf anywhere makes them
            // non-finite, and such a piece of input is heard (and looped) as silence.
            let (mut peak, mut sum_sq) = left.map_or((0.0, 0.0), level::peak_and_sum_sq);
            if let Some(r) = right {
                let (p, s) = level::peak_and_sum_sq(r);
                peak = peak.max(p);
                if !s.is_finite() {
                    sum_sq = s;
                }
            }
            if !sum_sq.is_finite() {
                Shared::count(&self.shared.bad_numbers);
                left = None;
            }
            if let Some(l) = left {
                strip.block_peak = strip.block_peak.max(peak);
                strip.block_sum_sq += sum_sq;
                let r = right.unwrap_or(l);
                strip.to_left.mix_into(l, bl);
                strip.to_right.mix_into(r, br);
                match self.solo.get_mut(k) {
                    Some((ol, or)) if alone => {
                        let (ol, or) = (&mut ol[from..to], &mut or[from..to]);
                        ol.fill(0.0);
                        or.fill(0.0);
                        strip.send_left.mix_into(l, ol);
                        strip.send_right.mix_into(r, or);
                        if own_send {
                            sl.iter_mut().zip(ol.iter()).for_each(|(d, s)| *d += s);
                            sr.iter_mut().zip(or.iter()).for_each(|(d, s)| *d += s);
                        }
                    }
                    _ if own_send => {
                        strip.send_left.mix_into(l, sl);
                        strip.send_right.mix_into(r, sr);
                    }
                    _ => strip.skip_sends(to - from),
                }
            } else {
                // No such channel on this device: let the glides run on over silence.
                for _ in from..to {
                    strip.to_left.next_value();
                    strip.to_right.next_value();
                }
                strip.skip_sends(to - from);
                if let Some((ol, or)) = self.solo.get_mut(k) {
                    ol[from..to].fill(0.0);
                    or[from..to].fill(0.0);
                }
            }
        }
        let (il, ir) = (&self.in_l[from..to], &self.in_r[from..to]);
        let bl = &mut self.bus_l[from..to];
        let br = &mut self.bus_r[from..to];
        bl.copy_from_slice(il);
        br.copy_from_slice(ir);
        let sl = &mut self.synth_l[from..to];
        let sr = &mut self.synth_r[from..to];
        let mut sounding = self.instruments.render(sl, sr);
        if sounding {
            let (p, ms) = peak_and_ms(sl, sr);
            if ms.is_finite() {
                self.instruments_peak = self.instruments_peak.max(p);
                self.instruments_sum_sq += ms * (2 * sl.len()) as f32;
            } else {
                Shared::count(&self.shared.bad_numbers);
                sl.fill(0.0);
                sr.fill(0.0);
                sounding = false;
            }
        }
        self.instruments_sounding |= sounding;
        if !sounding {
            if !self.instrument_gain.is_settled() {
                for _ in from..to {
                    self.instrument_gain.next_value();
                }
            }
        } else if self.instrument_gain.is_settled() {
            let g = self.instrument_gain.current();
            bl.iter_mut().zip(sl.iter()).for_each(|(d, s)| *d += s * g);
            br.iter_mut().zip(sr.iter()).for_each(|(d, s)| *d += s * g);
        } else {
            for i in 0..bl.len() {
                let g = self.instrument_gain.next_value();
                bl[i] += sl[i] * g;
                br[i] += sr[i] * g;
            }
        }
        if let Some(song) = &mut self.song {
            let click = self
                .click_routed
                .then(|| (&mut self.click_l[from..to], &mut self.click_r[from..to]));
            song.render(self.frame + from as u64, bl, br, click);
        }
        if self.listen.is_playing() {
            self.listen.render(bl, br);
        }
        if let Some(looper) = &mut self.looper {
            // Sources by index: the live inputs, the instruments, everything before the loops.
            let ml = &mut self.mix_l[from..to];
            let mr = &mut self.mix_r[from..to];
            if wanted & (1 << looper::SOURCE_MIX) != 0 {
                ml.copy_from_slice(bl);
                mr.copy_from_slice(br);
            }
            let (al, ar) = if own_send {
                (&self.send_l[from..to], &self.send_r[from..to])
            } else {
                (&self.in_l[from..to], &self.in_r[from..to])
            };
            // In the order of looper::SOURCE_*; inputs nobody records stay empty.
            let empty: &[f32] = &[];
            let mut sources = [(empty, empty); looper::SOURCE_INPUT_BASE as usize + MAX_INPUTS];
            sources[looper::SOURCE_INPUTS as usize] = (al, ar);
            sources[looper::SOURCE_INSTRUMENTS as usize] =
                (&self.synth_l[from..to], &self.synth_r[from..to]);
            sources[looper::SOURCE_MIX as usize] = (&*ml, &*mr);
            for (k, (l, r)) in self.solo.iter().enumerate() {
                if wanted & (1 << (looper::SOURCE_INPUT_BASE as usize + k)) != 0 {
                    sources[looper::SOURCE_INPUT_BASE as usize + k] = (&l[from..to], &r[from..to]);
                }
            }
            looper.process(&sources, bl, br);
        }
        if self.master.is_settled() {
            self.master.apply(bl);
            self.master.apply(br);
        } else {
            for (l, r) in bl.iter_mut().zip(br.iter_mut()) {
                let g = self.master.next_value();
                *l *= g;
                *r *= g;
            }
        }
        if !self.takes.is_empty() {
            self.offer_to_takes(from, to, own_send);
        }
    }

    /// rt: moves commands from the queue into the pending list; whether any came.
    fn take_commands(&mut self) -> bool {
        let mut came = false;
        while let Ok(Timed { frame, command }) = self.commands.try_recv() {
            came = true;
            if self.pending.len() < self.pending.capacity() {
                self.seq += 1;
                self.pending.push((frame, self.seq, command));
            } else if frame <= self.frame {
                // Due already: applying it now is applying it on time.
                self.apply(command);
            } else {
                // Nowhere to keep it for its frame: refused and counted, never applied early.
                Shared::count(&self.shared.commands_refused);
                self.refuse(command);
            }
        }
        came
    }

    /// rt: a loop capture being copied is cut short and goes back to whoever asked.
    fn interrupt_capture(&mut self) {
        if let Some(mut c) = self.capture.take() {
            c.outcome = CaptureOutcome::Interrupted;
            self.throw_away(Garbage::Captured(c));
        }
    }

    /// rt: the looper goes back to the control side as `why` says (to be freed, or
    /// carried to a new rate), with any capture of it cut short.
    fn give_back_looper(&mut self, why: fn(Box<Looper>) -> Garbage) {
        self.interrupt_capture();
        if let Some(l) = self.looper.take() {
            self.shared.loop_tracks.store(0, Relaxed);
            self.throw_away(why(l));
        }
    }

    /// rt: lets go of a refused command; what it carries is freed on the control side.
    fn refuse(&mut self, command: Command) {
        match command {
            Command::InstallSoundFont(sf) => self.throw_away(Garbage::SoundFont(sf)),
            Command::InstallLooper(l) => self.throw_away(Garbage::Looper(l)),
            Command::CaptureLoops(mut c) => {
                c.outcome = CaptureOutcome::Busy;
                self.throw_away(Garbage::Captured(c));
            }
            Command::PlaySong(p) => {
                p.status.done.store(true, Relaxed);
                self.throw_away(Garbage::Song(p));
            }
            Command::ListenPlay(p) => {
                p.status.done.store(true, Relaxed);
                self.throw_away(Garbage::Listen(p));
            }
            Command::StartTake(t) => {
                // Never started: the writer sees it end with no frames.
                t.status.abandoned.store(true, Relaxed);
                t.status
                    .finished
                    .store(true, std::sync::atomic::Ordering::Release);
                self.throw_away(Garbage::Take(t));
            }
            _ => {}
        }
    }

    /// rt: applies one command at the current frame.
    fn apply(&mut self, cmd: Command) {
        match cmd {
            // The control side refuses NaN by name; this is the last line.
            Command::InputGain { db, .. }
            | Command::InstrumentGain { db }
            | Command::MasterGain { db }
                if !db.is_finite() =>
            {
                Shared::count(&self.shared.bad_numbers)
            }
            Command::InputGain { input, db } => {
                if let Some(s) = self.strips.get_mut(input as usize) {
                    s.gain = db_to_gain(db.clamp(-120.0, 24.0));
                    s.retarget();
                }
            }
            Command::InputPan { input, pan } => {
                if let Some(s) = self.strips.get_mut(input as usize) {
                    s.pan = if pan.is_finite() {
                        pan.clamp(-1.0, 1.0)
                    } else {
                        0.0
                    };
                    s.retarget();
                }
            }
            Command::InputMute { input, muted } => {
                if let Some(s) = self.strips.get_mut(input as usize) {
                    s.muted = muted;
                    s.retarget();
                }
            }
            Command::InputMonitor { input, on } => {
                if let Some(s) = self.strips.get_mut(input as usize) {
                    s.monitor = on;
                    s.retarget();
                }
            }
            Command::InstrumentGain { db } => {
                self.instrument_gain.set(db_to_gain(db.clamp(-120.0, 12.0)))
            }
            Command::MasterGain { db } => self.master.set(db_to_gain(db.clamp(-120.0, 12.0))),
            Command::Patch(p) => self.instruments.set_patch(p),
            Command::Midi { data, len } => {
                let ev = MidiEvent {
                    frame: 0,
                    data,
                    len,
                };
                self.midi(&ev);
            }
            Command::AllNotesOff => self.instruments.all_notes_off(),
            Command::InstallSoundFont(sf) if sf.sample_rate() != self.sample_rate => {
                self.throw_away(Garbage::SoundFontToRebuild(sf))
            }
            Command::InstallSoundFont(sf) => {
                if let Some(old) = self.instruments.install(sf) {
                    self.throw_away(Garbage::SoundFont(old));
                }
                self.shared.soundfont_active.store(1, Relaxed);
            }
            Command::InstallLooper(l) if l.sample_rate() != self.sample_rate => {
                self.throw_away(Garbage::LooperToRetune(l))
            }
            Command::InstallLooper(mut l) => {
                self.interrupt_capture();
                l.set_latency_compensation(self.loop_latency);
                self.shared.loop_tracks.store(l.tracks() as u32, Relaxed);
                if let Some(old) = self.looper.replace(l) {
                    self.throw_away(Garbage::Looper(old));
                }
            }
            Command::Loop { track, op } => {
                if let Some(l) = &mut self.looper {
                    l.command(track as usize, op);
                }
            }
            Command::LoopSync(m) => {
                if let Some(l) = &mut self.looper {
                    l.set_sync(m);
                }
            }
            Command::LoopQuantize(q) => {
                if let Some(l) = &mut self.looper {
                    l.set_quantize(q);
                }
            }
            Command::LoopClick(on) => {
                if let Some(l) = &mut self.looper {
                    l.set_click(on);
                }
            }
            Command::ClickApart(on) => self.click_apart = on,
            Command::LoopCountIn(on) => {
                if let Some(l) = &mut self.looper {
                    l.set_count_in(on);
                }
            }
            Command::LoopLatencyOffset(n) => {
                self.loop_latency_offset = n;
                self.loop_latency = usize::MAX; // recomputed below
                self.follow_latency();
            }
            Command::RemoveLooper => self.give_back_looper(Garbage::Looper),
            Command::StartTake(mut t) => {
                if self.takes.len() < self.takes.capacity() {
                    t.start(self.now, self.loop_latency);
                    self.takes.push(t);
                    self.take_wants = take_wants(&self.takes);
                } else {
                    self.refuse(Command::StartTake(t));
                }
            }
            Command::PlaySong(mut p) => {
                p.start(self.now);
                if let Some(old) = self.song.replace(p) {
                    old.status.done.store(true, Relaxed);
                    self.throw_away(Garbage::Song(old));
                }
            }
            Command::ListenPlay(p) => self.listen.play(p),
            Command::ListenPause => self.listen.pause(),
            Command::ListenResume => self.listen.resume(),
            Command::ListenPauseAt(at) => self.listen.pause_at(at),
            Command::ListenStop => self.listen.stop(),
            Command::ListenFade(secs) => self.listen.set_fade_secs(secs),
            Command::ListenTalk(on) => self.listen.set_talk(on),
            Command::ListenDuck(d) => self.listen.set_duck(d),
            Command::StopSong => {
                if let Some(old) = self.song.take() {
                    old.status.done.store(true, Relaxed);
                    self.throw_away(Garbage::Song(old));
                }
            }
            Command::StopTake { id } => {
                for t in self
                    .takes
                    .iter_mut()
                    .filter(|t| id == ALL_TAKES || t.id == id)
                {
                    t.stop(self.now);
                }
            }
            Command::RemoveSoundFont => {
                if let Some(old) = self.instruments.remove_soundfont() {
                    self.throw_away(Garbage::SoundFont(old));
                }
                self.shared.soundfont_active.store(0, Relaxed);
            }
            Command::CaptureLoops(mut c) => match &self.looper {
                Some(l) if self.capture.is_none() => {
                    l.capture_begin(&mut c);
                    self.capture = Some(c);
                }
                _ => {
                    c.outcome = if self.capture.is_some() {
                        CaptureOutcome::Busy
                    } else {
                        CaptureOutcome::NoLooper
                    };
                    self.throw_away(Garbage::Captured(c));
                }
            },
        }
    }

    /// rt: recordings are aligned by the device's round trip (as io reports it) plus the
    /// offset set by hand.
    fn follow_latency(&mut self) {
        let device = self.shared.latency_frames.load(Relaxed) as i64;
        let lat = (device + self.loop_latency_offset as i64).max(0) as usize;
        if lat != self.loop_latency {
            self.loop_latency = lat;
            if let Some(l) = &mut self.looper {
                l.set_latency_compensation(lat);
            }
        }
    }

    /// rt: plays one MIDI message; bytes that are not MIDI are counted, never fatal.
    fn midi(&mut self, ev: &MidiEvent) {
        match MidiMessage::parse(ev.bytes()) {
            Ok(msg) => {
                Shared::count(&self.shared.midi_received);
                self.instruments.handle(msg);
            }
            Err(MidiParse::Malformed) => Shared::count(&self.shared.midi_malformed),
            Err(MidiParse::Ignored) => {}
        }
    }

    /// rt: hands something big back to the control side to be freed there.
    fn throw_away(&mut self, g: Garbage) {
        if self.garbage_held.is_none() {
            self.garbage_held = Some(g);
        } else if let Err(e) = self.garbage.try_send(g) {
            // Both the queue and our one slot are full: keep the newest in the slot
            // and send the older one first next time.
            Shared::count(&self.shared.garbage_delayed);
            let older = self.garbage_held.replace(e.into_inner());
            if let Some(o) = older {
                if let Err(e) = self.garbage.try_send(o) {
                    // Nowhere to put it without freeing here; leak rather than free on the audio thread.
                    std::mem::forget(e.into_inner());
                }
            }
        }
        self.hand_back_garbage();
    }

    /// rt: retries sending what the last full garbage queue left in our slot.
    fn hand_back_garbage(&mut self) {
        if let Some(g) = self.garbage_held.take() {
            if let Err(e) = self.garbage.try_send(g) {
                self.garbage_held = Some(e.into_inner());
            }
        }
    }

    /// rt: meters and counters for the panel; `master_*` were taken from the output.
    fn publish(&mut self, n: usize, master_peak: f32, master_ms: f32) {
        // exp(-t / 300 ms) for this block, without a transcendental per block.
        let a = self.meter_decay_per_frame.powi(n as i32);
        for (i, s) in self.strips.iter_mut().enumerate() {
            let g = s.gain;
            s.mean_square = s.mean_square * a + (s.block_sum_sq / n as f32) * g * g * (1.0 - a);
            if let Some(m) = self.shared.inputs.get(i) {
                m.peak.store(s.block_peak * g);
                m.rms.store(s.mean_square.sqrt());
            }
        }
        let (ip, ims) = if self.instruments_sounding {
            (
                self.instruments_peak,
                self.instruments_sum_sq / (2 * n.max(1)) as f32,
            )
        } else {
            (0.0, 0.0)
        };
        self.instrument_ms = self.instrument_ms * a + ims * (1.0 - a);
        self.shared.instruments.peak.store(ip);
        self.shared.instruments.rms.store(self.instrument_ms.sqrt());
        self.master_ms = self.master_ms * a + master_ms * (1.0 - a);
        self.shared.master.peak.store(master_peak);
        self.shared.master.rms.store(self.master_ms.sqrt());
        self.shared
            .limiter_reduction_db
            .store(smooth::gain_to_db(self.limiter.min_gain_in_block()));
        if let Some(l) = &mut self.looper {
            l.publish(&self.shared.loops, a, n);
        }
        self.shared.frames.store(self.frame, Relaxed);
        self.shared
            .voices_active
            .store(self.instruments.active_voices() as u32, Relaxed);
    }
}

/// `StopTake { id: ALL_TAKES }` stops every take.
pub const ALL_TAKES: u32 = u32::MAX;

/// rt: the sources `takes` need computed apart (bits as in `looper::SOURCE_*`).
fn take_wants(takes: &[Box<TakeTap>]) -> u64 {
    takes.iter().fold(0, |w, t| {
        w | match t.source {
            TakeSource::Inputs => 1 << looper::SOURCE_INPUTS,
            TakeSource::Input(k) => 1 << (looper::SOURCE_INPUT_BASE as u64 + k as u64),
            TakeSource::Instruments | TakeSource::Mix => 0,
        }
    })
}

/// RMS meters average over about 300 ms.
fn meter_decay(sample_rate: u32) -> f32 {
    (-1.0 / (0.3 * sample_rate as f64)).exp() as f32
}

/// rt: peak and mean square over both channels.
fn peak_and_ms(l: &[f32], r: &[f32]) -> (f32, f32) {
    let (pl, sl) = level::peak_and_sum_sq(l);
    let (pr, sr) = level::peak_and_sum_sq(r);
    (pl.max(pr), (sl + sr) / (2 * l.len().max(1)) as f32)
}
