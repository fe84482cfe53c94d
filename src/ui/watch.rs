//! Redraws only when what the panel shows has changed. A thread looks at the engine's
//! meters, the loops and the device status 25 times a second (no drawing, no GL) and
//! asks for a frame when they differ from its last look, or when MIDI comes in for the
//! panel's learned keys and pedals. An idle panel draws almost nothing: with software GL
//! (no GPU) a frame costs tens of milliseconds of a core.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;
use eframe::egui;

use super::audio::{AudioControl, AudioStatus};
use crate::controller::{Controller, Snapshot};
use crate::engine::Level;
use crate::io::TimedMidi;

/// How often the watcher looks: the meters' frame rate while something moves.
pub const LOOK: Duration = Duration::from_millis(40);

/// Stops its thread when dropped.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Watches for `ctx`; `midi` is the panel's MIDI tap (only peeked at, never drained).
    pub fn start(
        ctx: egui::Context,
        controller: Controller,
        audio: Arc<dyn AudioControl>,
        midi: Option<Receiver<TimedMidi>>,
    ) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("samspill panel watcher".into())
            .spawn(move || {
                let mut last = None;
                while !s.load(Relaxed) {
                    let now = fingerprint(&controller.snapshot(), &controller, &audio.status());
                    let midi_waiting = midi.as_ref().is_some_and(|m| !m.is_empty());
                    if last != Some(now) || midi_waiting {
                        last = Some(now);
                        ctx.request_repaint();
                    }
                    std::thread::sleep(LOOK);
                }
            })
            .ok();
        Watcher { stop, thread }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A level as the meters can show it: half-decibel steps above their floor.
fn shown(gain: f32) -> i32 {
    let db = super::meter::gain_to_db(gain);
    if db <= super::meter::FLOOR_DB || !db.is_finite() {
        i32::MIN
    } else {
        (db * 2.0).round() as i32
    }
}

fn level(h: &mut impl Hasher, l: Level) {
    shown(l.peak).hash(h);
    shown(l.rms).hash(h);
}

/// What the panel would show, reduced to what a person could see change: levels to half
/// a decibel, loop positions to a two-hundredth of the loop, counters and states as they
/// are. The frame counter and other things the panel does not draw are left out.
pub fn fingerprint(s: &Snapshot, controller: &Controller, audio: &AudioStatus) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for l in &s.inputs {
        level(&mut h, *l);
    }
    level(&mut h, s.instruments);
    level(&mut h, s.master);
    ((s.limiter_reduction_db * 2.0).round() as i32).hash(&mut h);
    (
        s.sample_rate,
        s.midi_received,
        s.midi_malformed,
        s.bad_numbers,
        s.commands_refused,
        s.xruns,
        s.latency_frames,
        s.voices,
    )
        .hash(&mut h);
    format!("{:?}", s.soundfont).hash(&mut h);
    let shared = controller.shared();
    let tracks = (shared.loop_tracks.load(Relaxed) as usize).min(shared.loops.len());
    tracks.hash(&mut h);
    for m in &shared.loops[..tracks] {
        let len = m.loop_frames.load(Relaxed);
        let pos = m.pos_frames.load(Relaxed);
        (
            m.state.load(Relaxed),
            len,
            (pos as u64 * 200).checked_div(len as u64).unwrap_or(0),
            m.undo_levels.load(Relaxed),
            m.redo_levels.load(Relaxed),
            m.source.load(Relaxed),
            m.full_count.load(Relaxed),
        )
            .hash(&mut h);
        level(&mut h, m.level.read());
    }
    format!("{audio:?}").hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{new_engine, EngineConfig};

    #[test]
    fn only_what_a_person_could_see_change_asks_for_a_frame() {
        let (c, _engine) = new_engine(&EngineConfig::default());
        let audio = AudioStatus::default();
        let look = || fingerprint(&c.snapshot(), &c, &audio);
        let quiet = look();
        // Time passing in silence changes nothing shown.
        c.shared().frames.store(123_456, Relaxed);
        assert_eq!(look(), quiet);
        // A level below the meters' floor neither.
        c.shared().master.peak.store(1e-5);
        assert_eq!(look(), quiet);
        // A level that moves the bar does.
        c.shared().master.peak.store(0.5);
        let loud = look();
        assert_ne!(loud, quiet);
        c.shared().master.peak.store(0.5001);
        assert_eq!(look(), loud, "less than the meter can show");
        // So does a problem for the status line.
        c.shared().xruns.store(1, Relaxed);
        assert_ne!(look(), loud);
        let other = AudioStatus {
            device: "USB".into(),
            ..AudioStatus::default()
        };
        assert_ne!(fingerprint(&c.snapshot(), &c, &other), look());
    }
}
