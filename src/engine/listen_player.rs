//! The listening player on the audio thread: a song the client chose, read from a ring
//! the listen feeder (`disk::listen_feeder`) keeps filled seconds ahead, at a gain set
//! when it started (even loudness), with gentle fades on pause, resume and stop, a short
//! crossfade when it jumps (a seek, the next song), and the talk-over dip: by hand, or
//! while the therapist's microphone is above a threshold.
//!
//! It never decodes, allocates or waits: a dry ring plays silence and is counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer};
use ringbuf::HeapCons;

use super::smooth::db_to_gain;
use super::MAX_BLOCK_FRAMES;

/// What the control side and the feeder see of a playing song.
#[derive(Debug, Default)]
pub struct ListenStatus {
    /// The song's frame (at the engine's rate) playing now.
    pub position: AtomicU64,
    /// Frames the ring did not have in time (played as silence).
    pub underruns: AtomicU64,
    /// Frames taken from the ring so far (the place goes round in a repeat; this does not).
    pub played: AtomicU64,
    /// The feeder: at this many frames taken, the next song of the album begins (0: none).
    pub next_from: AtomicU64,
    /// Frames the feeder has put in the ring, and whether the song's last is among them.
    pub fed: AtomicU64,
    pub fed_all: AtomicBool,
    /// The engine has played the song to its end.
    pub ended: AtomicBool,
    /// Paused, its fade done: the song holds its place.
    pub paused: AtomicBool,
    /// The engine has let go of the song: the feeder stops.
    pub done: AtomicBool,
}

/// A song to play: interleaved stereo frames from song frame `from`, at `gain`.
pub struct ListenStream {
    pub ring: HeapCons<f32>,
    /// Linear; set once, so the level never jumps mid-song.
    pub gain: f32,
    pub from: u64,
    /// Frames of fade-in (0: from the first frame at full level).
    pub fade_in: u32,
    /// Song frame where it pauses by itself with a fade (a cue point that waits).
    pub pause_at: Option<u64>,
    /// Song frames (A, B): the ring goes on from A after B (an A–B repeat).
    pub repeat: Option<(u64, u64)>,
    pub status: Arc<ListenStatus>,
}

/// A linear fade's place: `level` 0..1 moving by `step` a frame, `left` frames more.
#[derive(Clone, Copy, Debug)]
struct Fade {
    level: f32,
    target: f32,
    step: f32,
    left: u32,
}

impl Fade {
    const fn at(level: f32) -> Fade {
        Fade {
            level,
            target: level,
            step: 0.0,
            left: 0,
        }
    }

    fn to(&mut self, target: f32, frames: u32) {
        self.target = target;
        if target == self.level {
            self.left = 0;
            return;
        }
        self.left = frames.max(1);
        self.step = (target - self.level) / self.left as f32;
    }

    /// The gain for this frame: the level squared, gentler at the quiet end than a
    /// straight line.
    #[inline]
    fn next(&mut self) -> f32 {
        if self.left > 0 {
            self.left -= 1;
            self.level = if self.left == 0 {
                self.target
            } else {
                self.level + self.step
            };
        }
        self.level * self.level
    }

    fn settled(&self) -> bool {
        self.left == 0
    }

    /// Frames until the fade reaches its target.
    fn frames_left(&self) -> usize {
        self.left as usize
    }
}

/// Talk-over: how deep, how fast, and from which input the automatic dip listens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Duck {
    pub depth_db: f32,
    /// The input (from 0) that dips the music while above `threshold_db`; `None`: by hand only.
    pub input: Option<u8>,
    pub threshold_db: f32,
}

impl Default for Duck {
    fn default() -> Duck {
        Duck {
            depth_db: -15.0,
            input: None,
            threshold_db: -30.0,
        }
    }
}

/// Seconds the dip takes going down and coming back, and how long the microphone may
/// be quiet (a breath between words) before the music comes back.
const DUCK_DOWN_SECS: f32 = 0.25;
const DUCK_UP_SECS: f32 = 0.8;
const DUCK_HOLD_SECS: f32 = 0.7;
/// A jump (seek, next song, a song replacing another): the crossfade's length.
pub const JUMP_FADE_SECS: f32 = 0.03;

pub struct ListenPlayer {
    now: Option<Box<ListenStream>>,
    fade: Fade,
    /// Paused (or pausing: the fade runs to 0, then it holds).
    paused: bool,
    /// Stopping: when the fade is done the song is let go.
    stopping: bool,
    /// A song crossfading out under the one that replaced it.
    leaving: Option<(Box<ListenStream>, Fade)>,
    position: u64,
    /// Pause, resume and stop fade over this many frames (a setting).
    fade_frames: u32,
    jump_frames: u32,
    duck: Duck,
    talk: bool,
    /// Frames the automatic dip stays down after the microphone went quiet.
    hold: u32,
    duck_gain: f32,
    rate: u32,
    scratch: Vec<f32>,
    /// What the engine must hand back to be dropped off the audio thread (a stop, a
    /// crossfade's end and a replaced song can all fall in one block).
    pub(crate) let_go: [Option<Box<ListenStream>>; 4],
}

impl ListenPlayer {
    /// Not rt.
    pub fn new(rate: u32) -> ListenPlayer {
        ListenPlayer {
            now: None,
            fade: Fade::at(1.0),
            paused: false,
            stopping: false,
            leaving: None,
            position: 0,
            fade_frames: (0.5 * rate as f32) as u32,
            jump_frames: (JUMP_FADE_SECS * rate as f32) as u32,
            duck: Duck::default(),
            talk: false,
            hold: 0,
            duck_gain: 1.0,
            rate,
            scratch: vec![0.0; 2 * MAX_BLOCK_FRAMES],
            let_go: [None, None, None, None],
        }
    }

    /// rt: a new rate (the device changed): fade lengths follow.
    pub fn set_rate(&mut self, rate: u32) {
        let secs = self.fade_frames as f32 / self.rate.max(1) as f32;
        self.rate = rate;
        self.fade_frames = (secs * rate as f32) as u32;
        self.jump_frames = (JUMP_FADE_SECS * rate as f32) as u32;
    }

    /// rt: the pause/resume/stop fade, in seconds (0.3 to 1 as the panel offers).
    pub fn set_fade_secs(&mut self, secs: f32) {
        let secs = if secs.is_finite() {
            secs.clamp(0.01, 5.0)
        } else {
            0.5
        };
        self.fade_frames = (secs * self.rate as f32) as u32;
    }

    pub fn set_duck(&mut self, duck: Duck) {
        let d = Duck::default();
        self.duck = Duck {
            depth_db: Some(duck.depth_db)
                .filter(|v| v.is_finite())
                .unwrap_or(d.depth_db),
            input: duck.input,
            threshold_db: Some(duck.threshold_db)
                .filter(|v| v.is_finite())
                .unwrap_or(d.threshold_db),
        };
    }

    pub fn duck(&self) -> Duck {
        self.duck
    }

    pub fn set_talk(&mut self, on: bool) {
        self.talk = on;
    }

    pub fn is_playing(&self) -> bool {
        self.now.is_some()
    }

    /// rt: `s` plays now; a song already playing crossfades out under it.
    pub fn play(&mut self, s: Box<ListenStream>) {
        if let Some(old) = self.now.take() {
            let mut f = self.fade;
            if self.paused && f.settled() && f.level == 0.0 {
                self.let_go(old);
            } else {
                f.to(0.0, self.jump_frames);
                if let Some((older, _)) = self.leaving.replace((old, f)) {
                    self.let_go(older);
                }
            }
        }
        self.position = s.from;
        self.fade = Fade::at(if s.fade_in > 0 { 0.0 } else { 1.0 });
        self.fade.to(1.0, s.fade_in);
        s.status.position.store(s.from, Relaxed);
        s.status.paused.store(false, Relaxed);
        self.paused = false;
        self.stopping = false;
        self.now = Some(s);
    }

    /// rt: the song pauses by itself at this song frame (the next cue that waits).
    pub fn pause_at(&mut self, at: Option<u64>) {
        if let Some(s) = &mut self.now {
            s.pause_at = at;
        }
    }

    /// rt: fades out and holds the song's place.
    pub fn pause(&mut self) {
        if self.now.is_some() && !self.stopping {
            self.paused = true;
            self.fade.to(0.0, self.fade_frames);
        }
    }

    /// rt: fades back in from where it paused.
    pub fn resume(&mut self) {
        if let Some(s) = &self.now {
            if self.paused && !self.stopping {
                self.paused = false;
                s.status.paused.store(false, Relaxed);
                self.fade.to(1.0, self.fade_frames);
            }
        }
    }

    /// rt: lets the song go at once, no fade (the rate changed under it).
    pub fn stop_now(&mut self) {
        if let Some(s) = self.now.take() {
            self.let_go(s);
        }
        if let Some((s, _)) = self.leaving.take() {
            self.let_go(s);
        }
    }

    /// rt: fades out and lets the song go.
    pub fn stop(&mut self) {
        if self.now.is_some() {
            self.stopping = true;
            self.fade.to(0.0, self.fade_frames);
        }
    }

    /// rt: parks what is let go for the engine to hand back.
    fn let_go(&mut self, s: Box<ListenStream>) {
        s.status.done.store(true, Relaxed);
        match self.let_go.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(s),
            // Cannot happen (the slots are emptied every block); were it to, the song
            // is leaked rather than freed on the audio thread.
            None => std::mem::forget(s),
        }
    }

    /// rt: the next song let go, for the engine to hand back.
    pub fn take_let_go(&mut self) -> Option<Box<ListenStream>> {
        self.let_go.iter_mut().find_map(Option::take)
    }

    /// rt: the dip's target from the microphone's peak over the last block.
    pub fn follow_mic(&mut self, input_peaks: &[f32], frames: usize) {
        let loud = self
            .duck
            .input
            .and_then(|k| input_peaks.get(k as usize))
            .is_some_and(|p| *p > db_to_gain(self.duck.threshold_db));
        if loud {
            self.hold = (DUCK_HOLD_SECS * self.rate as f32) as u32;
        } else {
            self.hold = self.hold.saturating_sub(frames as u32);
        }
    }

    /// rt: adds the song to `l`, `r`.
    pub fn render(&mut self, l: &mut [f32], r: &mut [f32]) {
        let n = l.len().min(r.len()).min(MAX_BLOCK_FRAMES);
        let ducked = self.talk || self.hold > 0;
        let duck_to = if ducked {
            db_to_gain(self.duck.depth_db.clamp(-60.0, 0.0))
        } else {
            1.0
        };
        let secs = if ducked { DUCK_DOWN_SECS } else { DUCK_UP_SECS };
        let duck_step = (1.0 - db_to_gain(-60.0)) / (secs * self.rate.max(1) as f32);
        if let Some((mut old, mut f)) = self.leaving.take() {
            let got = pop_frames(&mut old, &mut self.scratch[..2 * n]);
            let g = old.gain;
            for (i, fr) in self.scratch[..2 * got].chunks_exact(2).enumerate() {
                let a = f.next() * g * self.duck_gain;
                l[i] += fr[0] * a;
                r[i] += fr[1] * a;
            }
            if f.settled() || got < n {
                self.let_go(old);
            } else {
                self.leaving = Some((old, f));
            }
        }
        let Some(mut s) = self.now.take() else {
            self.duck_gain = duck_to;
            return;
        };
        let g = s.gain;
        let mut done = 0usize;
        let mut ended = false;
        while done < n {
            // Paused and faded out: the song holds its place and nothing is read.
            if self.paused && self.fade.settled() && self.fade.level == 0.0 {
                s.status.paused.store(true, Relaxed);
                break;
            }
            let mut k = n - done;
            if self.paused || self.stopping {
                k = k.min(self.fade.frames_left());
            } else if let Some(at) = s.pause_at {
                // A cue that waits: the pause's fade starts at its frame.
                if at <= self.position {
                    s.pause_at = None;
                    self.paused = true;
                    self.fade.to(0.0, self.fade_frames);
                    continue;
                }
                k = k.min((at - self.position) as usize);
            }
            if let Some((_, b)) = s.repeat.filter(|(a, b)| a < b && self.position < *b) {
                // Pieces end at B, where the place goes back to A.
                k = k.min((b - self.position) as usize);
            }
            if k == 0 {
                break;
            }
            let got = pop_frames(&mut s, &mut self.scratch[..2 * k]);
            for (i, fr) in self.scratch[..2 * got].chunks_exact(2).enumerate() {
                self.duck_gain = if self.duck_gain > duck_to {
                    (self.duck_gain - duck_step).max(duck_to)
                } else {
                    (self.duck_gain + duck_step).min(duck_to)
                };
                let a = self.fade.next() * g * self.duck_gain;
                l[done + i] += fr[0] * a;
                r[done + i] += fr[1] * a;
            }
            self.position += got as u64;
            s.status.played.fetch_add(got as u64, Relaxed);
            if let Some((a, b)) = s.repeat.filter(|(a, b)| a < b) {
                if self.position >= b {
                    self.position = a + (self.position - b) % (b - a);
                }
            }
            done += got;
            if got < k {
                if s.status.fed_all.load(Relaxed) && s.ring.is_empty() {
                    ended = true;
                } else {
                    s.status.underruns.fetch_add((n - done) as u64, Relaxed);
                }
                break;
            }
        }
        s.status.position.store(self.position, Relaxed);
        if ended {
            s.status.ended.store(true, Relaxed);
            self.let_go(s);
        } else if self.stopping && self.fade.settled() {
            self.stopping = false;
            self.let_go(s);
        } else {
            self.now = Some(s);
        }
    }
}

/// rt: up to `buf.len() / 2` whole frames from the song's ring.
fn pop_frames(s: &mut ListenStream, buf: &mut [f32]) -> usize {
    let whole = (s.ring.occupied_len() / 2).min(buf.len() / 2);
    s.ring.pop_slice(&mut buf[..2 * whole]) / 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::{Producer, Split};
    use ringbuf::{HeapProd, HeapRb};

    fn stream(frames: usize, fade_in: u32) -> (Box<ListenStream>, HeapProd<f32>) {
        let (mut p, c) = HeapRb::<f32>::new(2 * frames + 64).split();
        for _ in 0..frames {
            p.try_push(0.5).unwrap();
            p.try_push(-0.5).unwrap();
        }
        let s = Box::new(ListenStream {
            ring: c,
            gain: 1.0,
            from: 0,
            fade_in,
            pause_at: None,
            repeat: None,
            status: Arc::new(ListenStatus::default()),
        });
        (s, p)
    }

    fn run(p: &mut ListenPlayer, frames: usize) -> Vec<f32> {
        let mut out = Vec::new();
        let mut left = frames;
        while left > 0 {
            let n = left.min(64);
            let (mut l, mut r) = (vec![0.0; n], vec![0.0; n]);
            p.render(&mut l, &mut r);
            out.extend_from_slice(&l);
            left -= n;
        }
        out
    }

    #[test]
    fn a_pause_fades_out_and_holds_the_place_and_resume_fades_back_in() {
        let mut p = ListenPlayer::new(1000);
        p.set_fade_secs(0.1);
        let (s, _prod) = stream(2000, 0);
        let status = s.status.clone();
        p.play(s);
        let a = run(&mut p, 100);
        assert!(a.iter().all(|v| *v == 0.5));
        p.pause();
        let b = run(&mut p, 300);
        // 100 frames of fade, no step above one frame's worth, then silence.
        let steps = b
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(steps <= 0.5 * 2.0 / 100.0 + 1e-6, "largest step {steps}");
        assert!(b[150..].iter().all(|v| *v == 0.0));
        assert_eq!(
            status.position.load(Relaxed),
            200,
            "held where the fade ended"
        );
        assert!(status.paused.load(Relaxed));
        p.resume();
        let c = run(&mut p, 200);
        assert!(c[0] < 0.01 && c[150] == 0.5);
        assert_eq!(status.position.load(Relaxed), 400);
    }

    #[test]
    fn the_song_ends_when_the_feeder_is_done_and_the_ring_runs_dry() {
        let mut p = ListenPlayer::new(1000);
        let (s, _prod) = stream(100, 0);
        let status = s.status.clone();
        p.play(s);
        run(&mut p, 64);
        assert!(!status.ended.load(Relaxed));
        status.fed_all.store(true, Relaxed);
        run(&mut p, 64);
        assert!(status.ended.load(Relaxed));
        assert!(status.done.load(Relaxed));
        assert!(p.take_let_go().is_some() && !p.is_playing());
        assert_eq!(
            status.underruns.load(Relaxed),
            0,
            "the end is not a dropout"
        );
    }

    #[test]
    fn talk_dips_the_music_by_its_depth_and_brings_it_back() {
        let mut p = ListenPlayer::new(1000);
        let (s, _prod) = stream(3000, 0);
        p.play(s);
        p.set_talk(true);
        let a = run(&mut p, 400);
        let want = 0.5 * db_to_gain(-15.0);
        assert!((a[399] - want).abs() < 1e-4, "{} vs {want}", a[399]);
        p.set_talk(false);
        let b = run(&mut p, 1000);
        assert_eq!(b[999], 0.5);
    }

    #[test]
    fn the_microphone_dips_the_music_while_it_is_loud_and_a_while_after() {
        let mut p = ListenPlayer::new(1000);
        p.set_duck(Duck {
            depth_db: -20.0,
            input: Some(1),
            threshold_db: -30.0,
        });
        let (s, _prod) = stream(5000, 0);
        p.play(s);
        p.follow_mic(&[0.0, 0.1], 64);
        let a = run(&mut p, 400);
        assert!((a[399] - 0.05).abs() < 1e-4);
        // Quiet again: held 0.7 s, then back up over 0.8 s.
        for _ in 0..10 {
            p.follow_mic(&[0.0, 0.0], 64);
        }
        let b = run(&mut p, 64);
        assert!((b[63] - 0.05).abs() < 1e-4, "still held");
        for _ in 0..2 {
            p.follow_mic(&[0.0, 0.0], 64);
        }
        let c = run(&mut p, 900);
        assert_eq!(c[899], 0.5);
    }

    #[test]
    fn a_song_replacing_another_crossfades_without_a_jump() {
        let mut p = ListenPlayer::new(1000);
        let (a, _pa) = stream(1000, 0);
        p.play(a);
        run(&mut p, 64);
        let (mut b, _pb) = stream(1000, 30);
        b.gain = -1.0;
        p.play(b);
        let out = run(&mut p, 64);
        let steps = out
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(steps < 0.1, "largest step {steps}");
        assert_eq!(out[63], -0.5);
    }

    #[test]
    fn a_cue_that_waits_pauses_at_its_frame() {
        let mut p = ListenPlayer::new(1000);
        p.set_fade_secs(0.05);
        let (mut s, _prod) = stream(2000, 0);
        s.pause_at = Some(100);
        let status = s.status.clone();
        p.play(s);
        let out = run(&mut p, 300);
        assert_eq!(out[99], 0.5);
        assert!(out[100] < 0.5);
        assert_eq!(out[200], 0.0);
        assert_eq!(status.position.load(Relaxed), 150);
    }
}
