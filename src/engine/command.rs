//! What the control side asks of the engine. Each command is stamped with the frame
//! it applies at; frame 0 means "as soon as possible".

use std::sync::Arc;

use super::listen_player::{Duck, ListenStream};
use super::looper::{LoopCapture, LoopOp, Looper, Quantize, SyncMode};
use super::recorder::TakeTap;
use super::song_player::SongPlayback;

/// The instruments a keyboard can play, a click away. Drums are always on channel 10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Patch {
    Piano,
    EPiano,
    Guitar,
    Bass,
    Strings,
    Pad,
    Organ,
}

impl Patch {
    pub const ALL: [Patch; 7] = [
        Patch::Piano,
        Patch::EPiano,
        Patch::Guitar,
        Patch::Bass,
        Patch::Strings,
        Patch::Pad,
        Patch::Organ,
    ];

    /// The General MIDI program number (0-based).
    pub fn gm_program(self) -> u8 {
        match self {
            Patch::Piano => 0,
            Patch::EPiano => 4,
            Patch::Guitar => 25,
            Patch::Bass => 33,
            Patch::Strings => 48,
            Patch::Pad => 89,
            Patch::Organ => 16,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Patch::Piano => "piano",
            Patch::EPiano => "epiano",
            Patch::Guitar => "guitar",
            Patch::Bass => "bass",
            Patch::Strings => "strings",
            Patch::Pad => "pad",
            Patch::Organ => "organ",
        }
    }

    pub fn from_key(key: &str) -> Option<Patch> {
        Patch::ALL.into_iter().find(|p| p.key() == key)
    }
}

/// A SoundFont synth built off the audio thread, ready to swap in.
pub struct SoundFontSynth {
    pub font: Arc<rustysynth::SoundFont>,
    pub synth: rustysynth::Synthesizer,
    pub name: String,
}

/// Frames rustysynth renders at once; a note lands on this grid (see the README for why
/// this size).
pub const SOUNDFONT_BLOCK_FRAMES: usize = 16;
/// Voices a SoundFont may sound at once.
pub const SOUNDFONT_POLYPHONY: usize = 64;
/// GM SoundFonts are mixed for many channels at once; one keyboard needs more level
/// (this brings a piano note near the built-in synth's).
pub const SOUNDFONT_MASTER_VOLUME: f32 = 2.0;

impl SoundFontSynth {
    /// Not rt: a synth for `font` at `sample_rate`, at the level and grid every one has.
    pub fn build(
        font: Arc<rustysynth::SoundFont>,
        name: String,
        sample_rate: u32,
    ) -> Result<Box<SoundFontSynth>, rustysynth::SynthesizerError> {
        let mut settings = rustysynth::SynthesizerSettings::new(sample_rate as i32);
        settings.maximum_polyphony = SOUNDFONT_POLYPHONY;
        settings.block_size = SOUNDFONT_BLOCK_FRAMES;
        let mut synth = rustysynth::Synthesizer::new(&font, &settings)?;
        synth.set_master_volume(SOUNDFONT_MASTER_VOLUME);
        Ok(Box::new(SoundFontSynth { font, synth, name }))
    }

    pub fn sample_rate(&self) -> u32 {
        self.synth.get_sample_rate().max(0) as u32
    }
}

/// A control message for the engine. Small and cheap to move; big things come boxed.
pub enum Command {
    InputGain {
        input: u8,
        db: f32,
    },
    /// -1 left .. +1 right (balance for a stereo input).
    InputPan {
        input: u8,
        pan: f32,
    },
    InputMute {
        input: u8,
        muted: bool,
    },
    /// Whether the input is heard through the speakers (it is metered either way).
    InputMonitor {
        input: u8,
        on: bool,
    },
    InstrumentGain {
        db: f32,
    },
    MasterGain {
        db: f32,
    },
    /// The keyboard's instrument, on every channel but the drum channel.
    Patch(Patch),
    /// A MIDI message as if played on a keyboard (panel keys, scripts).
    Midi {
        data: [u8; 3],
        len: u8,
    },
    /// Silence every sounding note at once (the panic button).
    AllNotesOff,
    InstallSoundFont(Box<SoundFontSynth>),
    RemoveSoundFont,
    /// Loop memory is big: the looper is built off the audio thread and handed over.
    InstallLooper(Box<Looper>),
    /// The looper goes back to be freed (before another is built: never two at once).
    RemoveLooper,
    Loop {
        track: u8,
        op: LoopOp,
    },
    LoopSync(SyncMode),
    LoopQuantize(Quantize),
    LoopClick(bool),
    LoopCountIn(bool),
    /// The song's click (and count-in) to its own output pair, for the headphones, when
    /// the backend has one; else in the mix.
    ClickApart(bool),
    /// Frames added by hand to the device's round trip when aligning recordings.
    LoopLatencyOffset(i32),
    /// Copy every loop into these buffers, a little per block, and hand them back
    /// (`Garbage::Captured`): how loops are saved without a glitch.
    CaptureLoops(Box<LoopCapture>),
    /// A take starts recording its source (the writer holds the ring's other end).
    StartTake(Box<TakeTap>),
    /// The take ends (`ALL_TAKES`: every one); live sound a round trip later.
    StopTake {
        id: u32,
    },
    /// A song starts playing (its count-in first) at the command's frame.
    PlaySong(Box<SongPlayback>),
    StopSong,
    /// A song to listen to starts (one playing crossfades out under it).
    ListenPlay(Box<ListenStream>),
    ListenPause,
    ListenResume,
    /// The song playing pauses by itself at this song frame (a cue that waits).
    ListenPauseAt(Option<u64>),
    ListenStop,
    /// Seconds the pause, resume and stop fades take.
    ListenFade(f32),
    /// The talk-over dip by hand.
    ListenTalk(bool),
    ListenDuck(Duck),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::InstallSoundFont(s) => write!(f, "InstallSoundFont({})", s.name),
            Command::InputGain { input, db } => write!(f, "InputGain({input}, {db} dB)"),
            Command::InputPan { input, pan } => write!(f, "InputPan({input}, {pan})"),
            Command::InputMute { input, muted } => write!(f, "InputMute({input}, {muted})"),
            Command::InputMonitor { input, on } => write!(f, "InputMonitor({input}, {on})"),
            Command::InstrumentGain { db } => write!(f, "InstrumentGain({db} dB)"),
            Command::MasterGain { db } => write!(f, "MasterGain({db} dB)"),
            Command::Patch(p) => write!(f, "Patch({p:?})"),
            Command::Midi { data, len } => write!(f, "Midi({:?})", &data[..*len as usize]),
            Command::AllNotesOff => write!(f, "AllNotesOff"),
            Command::RemoveSoundFont => write!(f, "RemoveSoundFont"),
            Command::RemoveLooper => write!(f, "RemoveLooper"),
            Command::InstallLooper(l) => write!(f, "InstallLooper({} tracks)", l.tracks()),
            Command::Loop { track, op } => write!(f, "Loop({track}, {op:?})"),
            Command::LoopSync(m) => write!(f, "LoopSync({m:?})"),
            Command::LoopQuantize(q) => write!(f, "LoopQuantize({q:?})"),
            Command::LoopClick(on) => write!(f, "LoopClick({on})"),
            Command::LoopCountIn(on) => write!(f, "LoopCountIn({on})"),
            Command::ClickApart(on) => write!(f, "ClickApart({on})"),
            Command::LoopLatencyOffset(n) => write!(f, "LoopLatencyOffset({n})"),
            Command::CaptureLoops(c) => write!(f, "CaptureLoops({} tracks)", c.tracks.len()),
            Command::StartTake(t) => write!(f, "StartTake({}, {:?})", t.id, t.source),
            Command::StopTake { id } => write!(f, "StopTake({id})"),
            Command::PlaySong(_) => write!(f, "PlaySong"),
            Command::StopSong => write!(f, "StopSong"),
            Command::ListenPlay(s) => write!(f, "ListenPlay(from {})", s.from),
            Command::ListenPause => write!(f, "ListenPause"),
            Command::ListenResume => write!(f, "ListenResume"),
            Command::ListenPauseAt(at) => write!(f, "ListenPauseAt({at:?})"),
            Command::ListenStop => write!(f, "ListenStop"),
            Command::ListenFade(s) => write!(f, "ListenFade({s} s)"),
            Command::ListenTalk(on) => write!(f, "ListenTalk({on})"),
            Command::ListenDuck(d) => write!(f, "ListenDuck({d:?})"),
        }
    }
}

/// A command and the frame it applies at.
#[derive(Debug)]
pub struct Timed {
    pub frame: u64,
    pub command: Command,
}

/// What the engine hands back to be dropped on the control side.
pub enum Garbage {
    SoundFont(Box<SoundFontSynth>),
    /// Built for a rate the engine no longer runs at (the rate changed while it loaded):
    /// to be rebuilt at the engine's rate and sent again.
    SoundFontToRebuild(Box<SoundFontSynth>),
    Looper(Box<Looper>),
    /// At a rate the engine no longer runs at: to be carried to the engine's rate
    /// (`prep::looper_rate`) and installed again.
    LooperToRetune(Box<Looper>),
    /// A finished (or refused) loop capture, for whoever asked for it.
    Captured(Box<LoopCapture>),
    /// A take whose every frame is offered (its writer finishes the file).
    Take(Box<TakeTap>),
    /// A song that stopped playing (its reader has stopped feeding it).
    Song(Box<SongPlayback>),
    /// A song listened to, let go (ended, stopped or replaced; its feeder stops).
    Listen(Box<ListenStream>),
}
