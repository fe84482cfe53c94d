//! The control half of the engine: sends commands, reads meters, loads SoundFonts in
//! the background and frees what the audio thread hands back.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::engine::looper::{
    CaptureOutcome, LoopCapture, LoopMemory, Looper, LooperSettings, Quantize, SyncMode, TrackNote,
};
use crate::engine::{
    Command, Engine, EngineConfig, Garbage, Level, Shared, SoundFontSynth, Timed, MAX_INPUTS,
};

/// Commands that can wait in the queue before the engine takes them.
pub const COMMAND_QUEUE: usize = 1024;
const GARBAGE_QUEUE: usize = 16;

/// Where Debian puts General MIDI SoundFonts, best first.
pub const SOUNDFONT_DIR: &str = "/usr/share/sounds/sf2";
const SOUNDFONT_PREFERENCE: [&str; 3] = ["FluidR3_GM.sf2", "TimGM6mb.sf2", "default-GM.sf2"];

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("The engine is busy and did not take the command; try again in a moment.")]
    QueueFull,
    #[error("The audio engine has stopped.")]
    EngineGone,
}

#[derive(Debug, thiserror::Error)]
pub enum SoundFontError {
    #[error("No SoundFont is installed (looked in {SOUNDFONT_DIR}). The built-in synth plays instead; install the package fluid-soundfont-gm for real instruments.")]
    NoneInstalled,
    #[error("Could not open the SoundFont {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "The file {path} is not a usable SoundFont ({message}). The built-in synth plays instead."
    )]
    Invalid { path: PathBuf, message: String },
}

/// What the panel shows about the instruments.
#[derive(Clone, Debug, PartialEq)]
pub enum SoundFontState {
    /// The built-in synth plays.
    BuiltIn,
    Loading(PathBuf),
    Ready(String),
    Failed(String),
}

/// Everything the panel draws, read in one go.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub inputs: Vec<Level>,
    pub instruments: Level,
    pub master: Level,
    pub limiter_reduction_db: f32,
    pub frames: u64,
    pub sample_rate: u32,
    pub midi_received: u64,
    pub midi_malformed: u64,
    /// Pieces of sound or values that were not numbers, silenced or refused.
    pub bad_numbers: u64,
    /// Commands the engine had no room to keep for their frame.
    pub commands_refused: u64,
    pub xruns: u64,
    pub latency_frames: u32,
    pub voices: u32,
    pub soundfont: SoundFontState,
}

/// The control side's handle on the engine. Cheap to clone: every clone sends to the same engine.
#[derive(Clone)]
pub struct Controller {
    tx: Sender<Timed>,
    garbage: Receiver<Garbage>,
    shared: Arc<Shared>,
    input_count: usize,
    soundfont: Arc<Mutex<SoundFontState>>,
}

/// Makes the two halves: the engine goes to the audio thread, the controller stays.
pub fn new_engine(config: &EngineConfig) -> (Controller, Engine) {
    let (tx, rx) = crossbeam_channel::bounded(COMMAND_QUEUE);
    let (gtx, grx) = crossbeam_channel::bounded(GARBAGE_QUEUE);
    let shared = Arc::new(Shared::default());
    let engine = Engine::new(
        config,
        rx,
        gtx,
        shared.clone(),
        crate::prep::for_rate(config.sample_rate),
    );
    let controller = Controller {
        tx,
        garbage: grx,
        shared,
        input_count: config.inputs.len().min(MAX_INPUTS),
        soundfont: Arc::new(Mutex::new(SoundFontState::BuiltIn)),
    };
    (controller, engine)
}

impl Controller {
    /// Sends a command to apply as soon as possible.
    pub fn send(&self, command: Command) -> Result<(), ControlError> {
        self.send_at(0, command)
    }

    /// Sends a command to apply at `frame` (frames since the engine started).
    pub fn send_at(&self, frame: u64, command: Command) -> Result<(), ControlError> {
        self.collect_garbage();
        match self.tx.try_send(Timed { frame, command }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(ControlError::QueueFull),
            Err(TrySendError::Disconnected(_)) => Err(ControlError::EngineGone),
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Frees what the engine let go of (old SoundFonts). Called on every send and snapshot.
    pub fn collect_garbage(&self) {
        while let Ok(g) = self.garbage.try_recv() {
            match g {
                // A loop capture goes to whoever asked for it (dropped if they gave up).
                Garbage::Captured(mut c) => {
                    if let Some(reply) = c.take_reply() {
                        let _ = reply.try_send(c);
                    }
                }
                // Loaded while the rate changed: rebuilt at the engine's rate, off here.
                Garbage::SoundFontToRebuild(sf) => {
                    self.remake_at_engine_rate("soundfont rebuild", move |rate| {
                        let SoundFontSynth { font, name, .. } = *sf;
                        let sf = SoundFontSynth::build(font, name, rate).ok()?;
                        Some(Command::InstallSoundFont(sf))
                    })
                }
                // At a rate the engine no longer runs at: carried to the engine's rate
                // and sent back; if the rate changed again meanwhile, the engine sends it
                // back once more.
                Garbage::LooperToRetune(looper) => {
                    self.remake_at_engine_rate("loop resampling", move |rate| {
                        let looper = crate::prep::looper_rate::retuned(looper, rate);
                        Some(Command::InstallLooper(looper))
                    })
                }
                other => drop(other),
            }
        }
    }

    /// On a thread of its own (it can take a while): `make` builds for the engine's
    /// current rate what is then sent to it.
    fn remake_at_engine_rate(
        &self,
        thread: &str,
        make: impl FnOnce(u32) -> Option<Command> + Send + 'static,
    ) {
        let me = self.clone();
        let rate = self.shared.sample_rate.load(Relaxed);
        let _ = std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || {
                if let Some(command) = make(rate) {
                    let _ = me.send(command);
                }
            });
    }

    pub fn snapshot(&self) -> Snapshot {
        self.collect_garbage();
        let s = &self.shared;
        Snapshot {
            inputs: s.inputs[..self.input_count]
                .iter()
                .map(|m| m.read())
                .collect(),
            instruments: s.instruments.read(),
            master: s.master.read(),
            limiter_reduction_db: s.limiter_reduction_db.load(),
            frames: s.frames.load(Relaxed),
            sample_rate: s.sample_rate.load(Relaxed),
            midi_received: s.midi_received.load(Relaxed),
            midi_malformed: s.midi_malformed.load(Relaxed),
            bad_numbers: s.bad_numbers.load(Relaxed),
            commands_refused: s.commands_refused.load(Relaxed),
            xruns: s.xruns.load(Relaxed),
            latency_frames: s.latency_frames.load(Relaxed),
            voices: s.voices_active.load(Relaxed),
            soundfont: self.soundfont_state(),
        }
    }

    pub fn soundfont_state(&self) -> SoundFontState {
        match self.soundfont.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_soundfont_state(&self, state: SoundFontState) {
        match self.soundfont.lock() {
            Ok(mut s) => *s = state,
            Err(p) => *p.into_inner() = state,
        }
    }

    /// Loads a SoundFont on a thread of its own and swaps it in when ready; the
    /// built-in synth plays until then. `None` picks the best one installed.
    pub fn load_soundfont_in_background(&self, path: Option<PathBuf>) {
        let path = match path.or_else(find_soundfont) {
            Some(p) => p,
            None => {
                self.set_soundfont_state(SoundFontState::Failed(
                    SoundFontError::NoneInstalled.to_string(),
                ));
                return;
            }
        };
        self.set_soundfont_state(SoundFontState::Loading(path.clone()));
        let me = self.clone();
        let rate = self.shared.sample_rate.load(Relaxed);
        std::thread::Builder::new()
            .name("soundfont loader".into())
            .spawn(move || match load_soundfont(&path, rate) {
                Ok(sf) => {
                    let name = sf.name.clone();
                    if me.send(Command::InstallSoundFont(sf)).is_ok() {
                        me.set_soundfont_state(SoundFontState::Ready(name));
                    }
                }
                Err(e) => me.set_soundfont_state(SoundFontState::Failed(e.to_string())),
            })
            .ok();
    }
}

/// The best General MIDI SoundFont installed on this machine.
pub fn find_soundfont() -> Option<PathBuf> {
    let dir = Path::new(SOUNDFONT_DIR);
    for name in SOUNDFONT_PREFERENCE {
        let p = dir.join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    let mut others: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("sf2")))
        .collect();
    others.sort();
    others.into_iter().next()
}

/// Reads a SoundFont and builds a synth for it at `sample_rate` (slow: off the audio thread).
pub fn load_soundfont(
    path: &Path,
    sample_rate: u32,
) -> Result<Box<SoundFontSynth>, SoundFontError> {
    let file = std::fs::File::open(path).map_err(|source| SoundFontError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let mut reader = std::io::BufReader::new(file);
    let font = rustysynth::SoundFont::new(&mut reader).map_err(|e| SoundFontError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    SoundFontSynth::build(Arc::new(font), name, sample_rate).map_err(|e| SoundFontError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// How the looper is set up: how many tracks, how long each can be, how far undo reaches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LooperConfig {
    pub tracks: usize,
    /// Longest loop a track holds, in seconds.
    pub max_secs: f32,
    /// Undo levels per track. They share the chunks they did not change; beyond one
    /// full loop each sets aside a twentieth of a track for what it changes.
    pub undo_levels: usize,
    /// Crossfade at every seam, punch and mute (SooperLooper uses 64).
    pub crossfade_frames: u32,
    pub sync: SyncMode,
    pub quantize: Quantize,
}

impl Default for LooperConfig {
    fn default() -> Self {
        Self {
            tracks: 4,
            max_secs: 60.0,
            undo_levels: 4,
            crossfade_frames: crate::engine::looper::DEFAULT_XFADE_FRAMES,
            sync: SyncMode::FirstLoop,
            quantize: Quantize::Off,
        }
    }
}

impl LooperConfig {
    /// Memory the looper will hold, so Settings can say what a choice costs.
    pub fn bytes(&self, sample_rate: u32) -> u64 {
        LoopMemory::bytes_for(
            self.tracks,
            self.max_secs.max(1.0),
            self.undo_levels.max(1),
            sample_rate,
        )
    }
}

/// Builds a looper with all its memory touched (slow: off the audio thread).
pub fn build_looper(config: &LooperConfig, sample_rate: u32) -> Box<Looper> {
    let tracks = config.tracks.clamp(1, crate::engine::looper::MAX_TRACKS);
    let memory = Box::new(LoopMemory::new(
        tracks,
        config.max_secs.max(1.0),
        config.undo_levels.max(1),
        sample_rate,
    ));
    Box::new(Looper::new(
        memory,
        LooperSettings {
            sample_rate,
            xfade_frames: config.crossfade_frames.max(1),
            sync: config.sync,
            quantize: config.quantize,
            ..LooperSettings::default()
        },
    ))
}

impl Controller {
    /// Builds the looper's memory on a thread of its own and hands it to the engine.
    pub fn enable_looper_in_background(&self, config: LooperConfig) {
        let me = self.clone();
        let rate = self.shared.sample_rate.load(Relaxed);
        std::thread::Builder::new()
            .name("loop memory".into())
            .spawn(move || {
                let looper = build_looper(&config, rate);
                let _ = me.send(Command::InstallLooper(looper));
            })
            .ok();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("There is no looper running, so there are no loops to save.")]
    NoLooper,
    #[error("The loops are already being saved; wait a moment and try again.")]
    Busy,
    #[error(
        "The looper was restarted while the loops were being copied; nothing was saved. Try again."
    )]
    Interrupted,
    #[error("The audio engine did not hand over the loops in time; nothing was saved. Try again.")]
    TimedOut,
}

/// A loop capture on its way back from the engine.
pub struct CaptureTicket {
    rx: Receiver<Box<LoopCapture>>,
}

impl CaptureTicket {
    /// The finished capture, if the engine has handed it back.
    pub fn try_take(&self, controller: &Controller) -> Option<Box<LoopCapture>> {
        controller.collect_garbage();
        self.rx.try_recv().ok()
    }

    /// Waits for the capture while the audio thread runs (it needs a few blocks per
    /// second of loop); `None` after `timeout`.
    pub fn wait(
        &self,
        controller: &Controller,
        timeout: std::time::Duration,
    ) -> Option<Box<LoopCapture>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(c) = self.try_take(controller) {
                return Some(c);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return None;
            }
            // The engine hands back through the garbage queue, which we must empty.
            if let Ok(c) = self
                .rx
                .recv_timeout((deadline - now).min(std::time::Duration::from_millis(5)))
            {
                return Some(c);
            }
        }
    }
}

impl Controller {
    /// Asks the engine for a copy of every loop, with room for `frames[t]` frames on
    /// track `t` (allocated here, never on the audio thread).
    pub fn request_loop_capture_sized(
        &self,
        frames: &[usize],
    ) -> Result<CaptureTicket, ControlError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let capture = Box::new(LoopCapture::new(frames, Some(tx)));
        self.send(Command::CaptureLoops(capture))?;
        Ok(CaptureTicket { rx })
    }

    /// Like [`Self::request_loop_capture_sized`], sized from the loop lengths the engine
    /// last showed, with room for a loop that grows meanwhile.
    pub fn request_loop_capture(&self) -> Result<CaptureTicket, ControlError> {
        let s = &self.shared;
        let tracks = (s.loop_tracks.load(Relaxed) as usize).min(s.loops.len());
        let room = s.sample_rate.load(Relaxed) as usize / 2;
        let frames: Vec<usize> = s.loops[..tracks]
            .iter()
            .map(|m| {
                let n = m.loop_frames.load(Relaxed) as usize;
                n + n / 4 + room
            })
            .collect();
        self.request_loop_capture_sized(&frames)
    }

    /// Copies every loop out of the running engine (blocking, up to `timeout`); a loop
    /// that outgrew its buffer is asked for again with a bigger one.
    pub fn capture_loops(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Box<LoopCapture>, CaptureError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut ticket = self.request_loop_capture()?;
        for attempt in 0..3 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let c = ticket.wait(self, left).ok_or(CaptureError::TimedOut)?;
            match c.outcome {
                CaptureOutcome::NoLooper => return Err(CaptureError::NoLooper),
                CaptureOutcome::Busy => return Err(CaptureError::Busy),
                CaptureOutcome::Interrupted => return Err(CaptureError::Interrupted),
                CaptureOutcome::Pending | CaptureOutcome::Done => {}
            }
            let too_long = c
                .tracks
                .iter()
                .any(|t| matches!(t.note, TrackNote::TooLong { .. }));
            if !too_long || attempt == 2 {
                return Ok(c);
            }
            let frames: Vec<usize> = c
                .tracks
                .iter()
                .map(|t| match t.note {
                    TrackNote::TooLong { frames } => frames + frames / 4,
                    _ => t.frames() + t.frames() / 4 + 1,
                })
                .collect();
            drop(c);
            ticket = self.request_loop_capture_sized(&frames)?;
        }
        Err(CaptureError::TimedOut)
    }
}
