//! Offline render: a TOML script feeds the engine WAV files as live inputs, MIDI files
//! and notes as the keyboard, and timed commands, and gets what the speakers would play.
//! Tests, benches and bug reports stand on it; users bounce sessions with it.

pub mod script;
pub mod smf;
pub mod wav;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::controller::{load_soundfont, new_engine, SoundFontError};
use crate::engine::{Command, MidiEvent, Shared};
pub use script::{Script, ScriptCommand};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{file}, line {line}: {message}")]
    Script {
        file: String,
        line: usize,
        message: String,
    },
    #[error("Could not open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("The audio file {path} is damaged or not a WAV file: {message}")]
    Wav { path: PathBuf, message: String },
    #[error("The MIDI file {path} cannot be played: {message}")]
    Midi { path: PathBuf, message: String },
    #[error(transparent)]
    SoundFont(#[from] SoundFontError),
    #[error("Could not write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error(
        "Too many changes at {at_secs:.3} s for one moment; spread them over a few milliseconds."
    )]
    TooManyChanges { at_secs: f64 },
    #[error("Songs cannot be recorded: {0}")]
    Songs(String),
    #[error("At {at_secs:.3} s, \"{line}\": {message}")]
    SongLine {
        at_secs: f64,
        line: String,
        message: String,
    },
}

/// Changes handed to the engine per block: well inside what it holds for later frames.
const CHANGES_PER_BLOCK: usize = crate::engine::PENDING_CAPACITY / 2;

/// What the speakers would have played.
pub struct Rendered {
    pub sample_rate: u32,
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    /// The engine's meters and counters at the end.
    pub shared: Arc<Shared>,
    /// Frames of latency the engine added (the limiter's look-ahead).
    pub latency_frames: usize,
    /// What the song desk said, a line each, as `samspill headless` says it.
    pub said: Vec<String>,
}

/// Reads, checks and renders a script file.
pub fn render_file(path: &Path) -> Result<Rendered, RenderError> {
    render(&Script::load(path)?)
}

/// rt boundary: every `Engine::process` call runs under the allocation checker.
pub fn render(script: &Script) -> Result<Rendered, RenderError> {
    let sr = script.sample_rate;
    let (mut inputs, channels) = script.load_inputs()?;
    let looper = script
        .looper
        .as_ref()
        .map(|l| (crate::controller::build_looper(&l.config, sr), l.clone()));
    let (controller, mut engine) = new_engine(&script.engine_config(&channels));
    if let Some(path) = &script.soundfont {
        let sf = load_soundfont(path, sr)?;
        // Before the first block, so the render is the same every time.
        let _ = controller.send_at(0, Command::InstallSoundFont(sf));
    }
    if let Some((looper, l)) = looper {
        let _ = controller.send_at(0, Command::InstallLooper(looper));
        let _ = controller.send_at(0, Command::LoopClick(l.click));
        let _ = controller.send_at(0, Command::LoopCountIn(l.count_in));
        let _ = controller.send_at(0, Command::LoopLatencyOffset(l.latency_offset));
    }
    let midi = script.load_midi()?;
    let total = script.total_frames(&inputs, &midi);
    let block = script.block_frames.max(1);
    for ch in &mut inputs {
        ch.resize(total, 0.0);
    }

    let mut left = vec![0f32; total];
    let mut right = vec![0f32; total];
    let mut events: Vec<MidiEvent> = Vec::with_capacity(4096);
    let mut next_command = 0;
    let mut midi_at = 0;
    let mut start = 0usize;
    let mut views: Vec<&[f32]> = Vec::with_capacity(inputs.len());
    let mut desk = song_desk(script, &controller)?;
    let mut listen = script
        .commands
        .iter()
        .any(|c| matches!(c.action, script::Action::Listen(..)))
        .then(|| crate::control::listen::ListenDesk::offline(controller.clone(), None));
    let mut said = Vec::new();
    while start < total {
        let mut end = (start + block).min(total);
        // A block takes no more changes than the engine holds at once: past that, the
        // block ends where the next change is, so nothing is dropped or moved.
        let mut sent = 0;
        while let Some(c) = script
            .commands
            .get(next_command)
            .filter(|c| c.frame < end as u64)
        {
            if let script::Action::Song(line, text) = &c.action {
                // The desk reads the engine's clock: the block ends at the line's frame.
                if c.frame > start as u64 {
                    end = c.frame as usize;
                    break;
                }
                next_command += 1;
                if let Some(desk) = desk.as_mut() {
                    let answer = desk.run(line.clone()).map_err(|e| RenderError::SongLine {
                        at_secs: c.frame as f64 / sr as f64,
                        line: text.clone(),
                        message: e.to_string(),
                    })?;
                    said.extend(answer.lines().map(String::from));
                }
                continue;
            }
            if let script::Action::Listen(line, text) = &c.action {
                if c.frame > start as u64 {
                    end = c.frame as usize;
                    break;
                }
                next_command += 1;
                if let Some(desk) = listen.as_mut() {
                    // A song that cannot play is said, as headless says it; the render goes on.
                    match desk.run(line.clone()) {
                        Ok(answer) => said.push(answer),
                        Err(e) => said.push(format!("{text}: {e}")),
                    }
                    desk.pump();
                }
                continue;
            }
            if sent == CHANGES_PER_BLOCK && c.frame > start as u64 {
                end = c.frame as usize;
                break;
            }
            next_command += 1;
            if let Some(cmd) = c.to_command() {
                controller
                    .send_at(c.frame, cmd)
                    .map_err(|_| RenderError::TooManyChanges {
                        at_secs: c.frame as f64 / sr as f64,
                    })?;
                sent += 1;
            }
        }
        events.clear();
        while midi_at < midi.len() && (midi[midi_at].0 as usize) < end {
            let (frame, bytes, len) = midi[midi_at];
            if events.len() == events.capacity() {
                if frame as usize > start {
                    end = frame as usize;
                    break;
                }
                return Err(RenderError::TooManyChanges {
                    at_secs: frame as f64 / sr as f64,
                });
            }
            events.push(MidiEvent::new(
                (frame as usize).saturating_sub(start) as u32,
                &bytes[..len as usize],
            ));
            midi_at += 1;
        }
        views.clear();
        for ch in &inputs {
            views.push(&ch[start..end]);
        }
        let (l, r) = (&mut left[start..end], &mut right[start..end]);
        assert_no_alloc::assert_no_alloc(|| engine.process(&views, l, r, &events));
        start = end;
        if let Some(desk) = desk.as_mut() {
            desk.pump();
            said.extend(desk.poll());
            controller.collect_garbage();
        }
        if let Some(desk) = listen.as_mut() {
            said.extend(desk.poll());
            desk.pump();
            controller.collect_garbage();
        }
    }
    if let Some(desk) = desk.as_mut() {
        // A take still running at the end is stopped there and kept, past the output.
        if desk.is_recording() {
            let _ = desk.stop_nowait(false);
            let silent: Vec<Vec<f32>> = inputs.iter().map(|_| vec![0.0; block]).collect();
            let views: Vec<&[f32]> = silent.iter().map(|v| v.as_slice()).collect();
            let (mut l, mut r) = (vec![0.0; block], vec![0.0; block]);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while desk.is_recording() && std::time::Instant::now() < deadline {
                assert_no_alloc::assert_no_alloc(|| engine.process(&views, &mut l, &mut r, &[]));
                desk.pump();
                said.extend(desk.poll());
                controller.collect_garbage();
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        said.extend(desk.finish());
    }
    controller.collect_garbage();
    Ok(Rendered {
        sample_rate: sr,
        left,
        right,
        shared: engine.shared().clone(),
        latency_frames: engine.latency_frames(),
        said,
    })
}

/// The song desk a script with song lines needs, in its songs folder.
fn song_desk(
    script: &Script,
    controller: &crate::controller::Controller,
) -> Result<Option<crate::control::songs::SongDesk>, RenderError> {
    if !script
        .commands
        .iter()
        .any(|c| matches!(c.action, script::Action::Song(..)))
    {
        return Ok(None);
    }
    let dir = match &script.songs {
        Some(d) => {
            crate::session::make_private_dir(d, true)
                .map_err(|e| RenderError::Songs(e.to_string()))?;
            d.clone()
        }
        None => crate::session::song::songs_dir().map_err(|e| RenderError::Songs(e.to_string()))?,
    };
    let mut desk = crate::control::songs::SongDesk::offline(controller.clone(), dir)
        .map_err(|e| RenderError::Songs(e.to_string()))?;
    desk.set_part_frames(script.take_file_frames);
    Ok(Some(desk))
}

impl Rendered {
    pub fn write_wav(&self, path: &Path) -> Result<(), RenderError> {
        wav::write_wav(path, self.sample_rate, &self.left, &self.right)
    }
}
