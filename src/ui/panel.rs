//! The panel's state and what its buttons do. Views draw from [`PanelState`] and hand
//! back [`Action`]s; only [`Panel::act`] changes anything (engine, devices, settings).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use eframe::egui::{self, Key, Modifiers, RichText};

use super::audio::{ApplyError, AudioControl};
use super::i18n::{tr, Text};
use super::jam;
use super::meter::PeakHold;
pub use super::state::*;
use super::{play, settings_view, status, theme};
use crate::control::midi_learn::MAP_FILE;
use crate::control::ops::{LoopCommand, LoopControlError, TrackSel};
use crate::control::tap::TapTempo;
use crate::control::{Action as ControlAction, LoopControl, MidiLearn, OscServer};
use crate::control::{MidiLearnError, DEFAULT_OSC_PORT};
use crate::controller::{ControlError, Controller};
use crate::engine::looper::{LoopOp, SOURCE_INPUTS};
use crate::engine::Command;
use crate::io::{now_nanos, TimedMidi};
use crate::session::jam::{self as jam_files, JamError, JamListing, JamNote, OpenedJam, SavedJam};
use crate::session::settings::{AudioSettings, LoopSettings, Settings};

/// Meters are redrawn this often; the engine publishes once per block anyway.
const REDRAW: Duration = Duration::from_millis(40);
/// With nothing moving, a frame now and then all the same (the jam's default name
/// follows the clock).
const IDLE_REDRAW: Duration = Duration::from_secs(5);
/// A pedal press older than this when the panel gets to it (the window was hidden, say)
/// does nothing: a loop starting seconds after the press would be worse than none.
const TAP_STALE_NANOS: u64 = 2_000_000_000;
/// Most MIDI messages taken from the tap in one frame; the rest wait for the next.
const TAP_PER_FRAME: usize = 256;

/// What a background save or open came back with.
enum JamDone {
    Saved(Result<SavedJam, JamError>),
    Opened(Result<(OpenedJam, Vec<JamNote>), JamError>),
}

/// The panel: reads engine snapshots, sends commands, and asks the device layer to reopen.
/// An export on its worker thread: its answer when done, and how far it has come.
type ExportWork = (
    Receiver<Result<String, crate::control::songs::SongLineError>>,
    Arc<crate::disk::export::Progress>,
);

pub struct Panel {
    controller: Controller,
    audio: Arc<dyn AudioControl>,
    /// Asks for frames when what is shown changes (None in tests, which draw by hand).
    watcher: Option<super::watch::Watcher>,
    /// A device being opened on a worker thread, and the settings it was asked for.
    applying: Option<(Receiver<Result<(), ApplyError>>, AudioSettings)>,
    state: PanelState,
    style: Arc<egui::Style>,
    style_changed: bool,
    /// `None`: the user's settings file ([`Settings::save`]).
    settings_path: Option<PathBuf>,
    /// Loop tracks last set up with the beat, click and count-in (0: no looper yet).
    looper_set_up: usize,
    /// The command layer shared with MIDI and OSC.
    loops: LoopControl,
    learn: MidiLearn,
    /// Where the mappings are kept; `None`: beside the settings file, or the data folder.
    learn_path: Option<PathBuf>,
    learn_loaded: bool,
    /// A copy of every incoming MIDI message (see `AudioSystem::midi_tap`).
    midi_tap: Option<Receiver<TimedMidi>>,
    osc: Option<OscServer>,
    osc_port: u16,
    /// Where jams are saved; `None`: beside the settings file, or the data folder.
    jams_path: Option<PathBuf>,
    /// A save or open running on its own thread.
    jam_work: Option<Receiver<JamDone>>,
    /// The song desk, made when the Record view is first used.
    songs: Option<crate::control::songs::SongDesk>,
    /// Where songs are kept; `None`: beside the settings file, or the data folder.
    songs_path: Option<PathBuf>,
    /// An export running on a worker thread.
    export_work: Option<ExportWork>,
    /// The listen desk, made when the Listen view is first used.
    listening: Option<crate::control::listen::ListenDesk>,
    /// "Save first" was answered: this jam opens once the save is done.
    open_after_save: Option<PathBuf>,
    /// The minute the default jam name was last set for.
    jam_name_minute: u64,
}

impl Panel {
    /// Makes the panel and brings the engine in line with the saved patch and volume.
    pub fn new(controller: Controller, audio: Box<dyn AudioControl>, settings: Settings) -> Self {
        let audio: Arc<dyn AudioControl> = Arc::from(audio);
        let snapshot = controller.snapshot();
        let state = PanelState {
            draft: settings.audio.clone(),
            opening: false,
            // Easy mode opens where a client starts a loop: one press away.
            view: if settings.easy_mode {
                View::Jam
            } else {
                View::Play
            },
            input_holds: vec![PeakHold::default(); snapshot.inputs.len()],
            input_monitor: vec![true; snapshot.inputs.len()],
            snapshot,
            audio: audio.status(),
            devices: Devices::default(),
            instruments_hold: PeakHold::default(),
            master_hold: PeakHold::default(),
            notice: None,
            loops: Vec::new(),
            loop_db: Vec::new(),
            loop_sources: Vec::new(),
            loop_holds: Vec::new(),
            taps: TapTempo::new(),
            confirm_clear: None,
            selected: TrackSel::One(0),
            learn: LearnView::default(),
            osc: OscView::default(),
            jams: JamFiles::default(),
            record: RecordState::default(),
            listen: ListenState::default(),
            settings,
        };
        let mut panel = Self {
            loops: LoopControl::new(controller.clone()),
            learn: MidiLearn::new(),
            learn_path: None,
            learn_loaded: false,
            midi_tap: None,
            osc: None,
            osc_port: DEFAULT_OSC_PORT,
            controller,
            audio,
            style: Arc::new(theme::style(state.settings.easy_mode)),
            style_changed: true,
            state,
            settings_path: None,
            looper_set_up: 0,
            jams_path: None,
            jam_work: None,
            songs: None,
            songs_path: None,
            export_work: None,
            listening: None,
            applying: None,
            watcher: None,
            open_after_save: None,
            jam_name_minute: u64::MAX,
        };
        let s = &panel.state.settings;
        let (patch, db) = (s.patch, s.master_db);
        let unheard = s.unmonitored_inputs.clone();
        let apart = s.click_apart;
        panel.send(Command::Patch(patch));
        panel.send(Command::MasterGain { db });
        panel.send(Command::ClickApart(apart));
        for input in unheard {
            if let (Ok(index), Some(m)) = (
                u8::try_from(input),
                panel.state.input_monitor.get_mut(input),
            ) {
                *m = false;
                panel.send(Command::InputMonitor {
                    input: index,
                    on: false,
                });
            }
        }
        panel
    }

    /// Saves settings to `path` instead of the user's settings file (tests, portable use).
    pub fn save_settings_to(mut self, path: PathBuf) -> Self {
        self.settings_path = Some(path);
        self
    }

    /// Redrawn when what it shows changes, seen by a watcher thread, instead of 25 times
    /// a second whatever happens (see `ui::watch`).
    pub fn watched_by(mut self, ctx: egui::Context) -> Self {
        self.watcher = Some(super::watch::Watcher::start(
            ctx,
            self.controller.clone(),
            self.audio.clone(),
            self.midi_tap.clone(),
        ));
        self
    }

    /// MIDI learn and mapped keys and pedals listen to `tap` (see `AudioSystem::midi_tap`;
    /// tests hand in their own).
    pub fn with_midi_tap(mut self, tap: Receiver<TimedMidi>) -> Self {
        self.midi_tap = Some(tap);
        self
    }

    /// Keeps the learned MIDI mappings in `path` instead of beside the settings.
    pub fn midi_map_at(mut self, path: PathBuf) -> Self {
        self.learn_path = Some(path);
        self.learn_loaded = false;
        self
    }

    /// Starts OSC on 127.0.0.1:`port` (0: any free port). A busy port is shown, calmly;
    /// the toggle in Settings tries again.
    pub fn with_osc_on(mut self, port: u16) -> Self {
        self.osc_port = port;
        self.start_osc();
        self
    }

    /// Keeps songs in `dir` instead of beside the settings.
    pub fn songs_at(mut self, dir: PathBuf) -> Self {
        self.songs_path = Some(dir);
        self
    }

    /// Where songs are kept: the user's songs folder (beside the settings file).
    fn songs_folder(&self) -> Result<PathBuf, crate::session::song::SongError> {
        match (&self.songs_path, &self.settings_path) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(settings)) => Ok(settings.with_file_name(crate::session::song::SONGS_DIR)),
            (None, None) => crate::session::song::songs_dir(),
        }
    }

    /// The song desk, made (and takes a crash left behind recovered) on first use.
    fn desk(&mut self) -> Option<&mut crate::control::songs::SongDesk> {
        if self.songs.is_none() && self.state.record.unavailable.is_none() {
            let made = self
                .songs_folder()
                .map_err(|e| e.to_string())
                .and_then(|dir| {
                    crate::session::make_private_dir(&dir, true).map_err(|e| e.to_string())?;
                    let (said, found) = crate::control::songs::recover_songs_found(&dir);
                    for line in said.into_iter().filter(|l| !l.starts_with("recovered:")) {
                        self.state.record.said.push((line, true));
                    }
                    // What a crash cut off is the first thing shown, to keep or throw away.
                    if !found.is_empty() {
                        self.state.view = View::Record;
                    }
                    self.state.record.recovered = found;
                    crate::control::songs::SongDesk::new(self.controller.clone(), dir)
                        .map_err(|e| e.to_string())
                });
            match made {
                Ok(mut d) => {
                    // The song a recovered take is in is opened, its lanes showing it.
                    if let Some(r) = self.state.record.recovered.first() {
                        let opened = d.run(crate::control::songs::SongLine::Open(r.song.clone()));
                        if let Err(e) = opened {
                            self.state.record.said.push((e.to_string(), true));
                        }
                    }
                    self.songs = Some(d);
                }
                Err(e) => self.state.record.unavailable = Some(e),
            }
        }
        self.songs.as_mut()
    }

    /// The desk's news and state, each frame once it exists.
    fn poll_songs(&mut self) {
        // Made at the first frame, so takes a crash cut off are offered at once.
        let _ = self.desk();
        self.state.record.exporting = self.export_work.as_ref().map(|(_, p)| p.fraction());
        if let Some((rx, _)) = &self.export_work {
            if let Ok(done) = rx.try_recv() {
                self.export_work = None;
                self.state.record.exporting = None;
                let lang = self.state.lang();
                match done {
                    Ok(l) => {
                        // "exported: PATH (…)": the path, said in the panel's language.
                        let path = l.strip_prefix("exported: ").unwrap_or(&l);
                        let path = path.rsplit_once(" (").map_or(path, |(p, _)| p);
                        let said = super::i18n::tr_n(lang, Text::RecordSaved, path);
                        self.state.record.said.push((said, false));
                    }
                    Err(crate::control::songs::SongLineError::Export(
                        crate::disk::export::ExportError::Cancelled,
                    )) => {
                        let said = super::i18n::tr(lang, Text::RecordCancelled).to_string();
                        self.state.record.said.push((said, false));
                    }
                    Err(e) => self.state.record.said.push((e.to_string(), true)),
                }
            }
        }
        let Some(desk) = self.songs.as_mut() else {
            return;
        };
        // What goes well shows on the view itself (the button, the lanes); the desk's
        // words are kept for what went wrong.
        for line in desk.poll() {
            if !(line.starts_with("take:") || line.starts_with("recording:")) {
                self.state.record.said.push((line, true));
            }
        }
        let said = &mut self.state.record.said;
        if said.len() > 20 {
            said.drain(..said.len() - 20);
        }
        self.state.record.desk = desk.view();
    }

    /// The listen desk, made on first use; the loudness cache beside the settings.
    fn listen_desk(&mut self) -> &mut crate::control::listen::ListenDesk {
        use crate::control::listen::ListenDesk;
        let desk = match self.listening.take() {
            Some(d) => d,
            None => {
                let dir = match &self.settings_path {
                    Some(p) => {
                        let dir = p.with_file_name(crate::session::playlist::LISTENING_DIR);
                        crate::session::make_private_dir(&dir, true)
                            .ok()
                            .map(|_| dir)
                    }
                    None => crate::session::playlist::listening_dir(),
                };
                let mut desk = ListenDesk::new(
                    self.controller.clone(),
                    dir.as_ref().map(|d| d.join("loudness.toml")),
                );
                if let Some(d) = dir {
                    desk = desk.keep_notes_in(d);
                }
                desk.apply(&self.state.settings.listen);
                desk
            }
        };
        self.listening.insert(desk)
    }

    /// Songs dropped on the window, the desk's news, what the view shows.
    fn poll_listening(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if !dropped.is_empty() {
            self.state.view = View::Listen;
            self.listen_action(ListenAction::Open(dropped));
        }
        if self.state.view == View::Listen && self.state.listen.places.is_empty() {
            self.state.listen.places = super::listen::places();
        }
        let Some(desk) = self.listening.as_mut() else {
            return;
        };
        for line in desk.poll() {
            let problem = line.starts_with("listen problem");
            self.state.listen.said.push((line, problem));
        }
        let said = &mut self.state.listen.said;
        if said.len() > 20 {
            said.drain(..said.len() - 20);
        }
        self.state.listen.desk = desk.view();
    }

    /// A Listen view button.
    fn listen_action(&mut self, a: ListenAction) {
        use crate::control::listen::ListenLine;
        match a {
            ListenAction::Path(p) => {
                self.state.listen.path = p;
                return;
            }
            ListenAction::Prompt(p) => {
                self.state.listen.prompt = p;
                return;
            }
            ListenAction::NoteDraft(n) => {
                self.state.listen.note = Some(n);
                return;
            }
            ListenAction::SessionDraft(n) => {
                self.state.listen.session_note = Some(n);
                return;
            }
            ListenAction::MarkA(a) => {
                self.state.listen.repeat_a = Some(a);
                return;
            }
            ListenAction::Line(ListenLine::Cue(..)) => self.state.listen.prompt.clear(),
            ListenAction::Line(ListenLine::Note(_)) => self.state.listen.note = None,
            ListenAction::Line(ListenLine::SessionNote(_)) => self.state.listen.session_note = None,
            ListenAction::Line(ListenLine::Repeat(_)) => self.state.listen.repeat_a = None,
            ListenAction::Open(_) | ListenAction::PlayAt(_) | ListenAction::Next => {
                self.state.listen.note = None;
                self.state.listen.repeat_a = None;
            }
            _ => {}
        }
        if a == ListenAction::LookForPlaces {
            self.state.listen.places = super::listen::places();
            return;
        }
        if let ListenAction::Choose(dir) = a {
            self.state.listen.chooser = dir.map(|d| crate::control::listen::folder(&d));
            return;
        }
        if matches!(a, ListenAction::Open(_)) {
            self.state.listen.chooser = None;
        }
        let desk = self.listen_desk();
        let result = match a {
            ListenAction::Open(paths) => desk.play_all(&paths),
            ListenAction::PlayAt(i) => desk.play_at(i),
            ListenAction::Pause => desk.run(ListenLine::Pause),
            ListenAction::Resume => desk.run(ListenLine::Resume),
            ListenAction::Stop => desk.run(ListenLine::Stop),
            ListenAction::Next => desk.run(ListenLine::Next),
            ListenAction::Skip(by) => desk.run(ListenLine::Skip(by)),
            ListenAction::Talk(on) => desk.run(ListenLine::Talk(on)),
            ListenAction::Line(line) => desk.run(line),
            ListenAction::Path(_)
            | ListenAction::Prompt(_)
            | ListenAction::NoteDraft(_)
            | ListenAction::SessionDraft(_)
            | ListenAction::MarkA(_)
            | ListenAction::Choose(_)
            | ListenAction::LookForPlaces => return,
        };
        self.note_listen_result(result);
    }

    fn note_listen_result(&mut self, result: Result<String, crate::control::listen::ListenError>) {
        // What goes well shows on the view itself; the words are kept for problems and
        // for songs skipped on the way.
        match result {
            Ok(line) if line.contains("; skipped ") => {
                self.state.listen.said.push((line, true));
            }
            Ok(_) => {}
            Err(e) => self.state.listen.said.push((e.to_string(), true)),
        }
        self.state.listen.desk = self.listen_desk().view();
    }

    /// A Record view button.
    fn record_action(&mut self, a: RecordAction) {
        use crate::control::songs::{ExportKind, SongLine};
        if let Some((_, p)) = &self.export_work {
            // One export at a time; the running one can be cancelled.
            if a == RecordAction::CancelExport {
                p.cancel();
            }
            if matches!(
                a,
                RecordAction::CancelExport | RecordAction::ExportWav | RecordAction::ExportPhone
            ) {
                return;
            }
        }
        let picked = match a {
            RecordAction::KeepRecovered(i) | RecordAction::DiscardRecovered(i) => {
                self.state.record.recovered.get(i).cloned()
            }
            _ => None,
        };
        let Some(desk) = self.desk() else {
            return;
        };
        let new_song = || SongLine::New(crate::session::jam::default_jam_name());
        let result = match a {
            RecordAction::Start => {
                let mut r = Ok(String::new());
                if desk.view().song.is_none() {
                    r = desk.run(new_song());
                }
                r.and_then(|_| desk.run(SongLine::Record(None)))
            }
            RecordAction::StartOn(track) => desk.run(SongLine::Record(Some(track))),
            RecordAction::Punch(p) => desk.run(SongLine::Punch(
                p.map(|(a, b)| (a as f64 / 1000.0, b as f64 / 1000.0)),
            )),
            RecordAction::Cycle(c) => desk.run(SongLine::Cycle(c)),
            RecordAction::Stop => desk.stop_nowait(false).map(|()| String::new()),
            RecordAction::DiscardRunning => desk.stop_nowait(true).map(|()| String::new()),
            RecordAction::DiscardLast => desk.run(SongLine::Discard),
            RecordAction::NewSong => desk.run(new_song()),
            RecordAction::CancelExport => return,
            RecordAction::KeepRecovered(_) | RecordAction::DiscardRecovered(_) => {
                let keep = matches!(a, RecordAction::KeepRecovered(_));
                match &picked {
                    Some(r) => desk.decide_recovered(r, keep),
                    None => return,
                }
            }
            RecordAction::ExportWav | RecordAction::ExportPhone => {
                let kind = if a == RecordAction::ExportWav {
                    ExportKind::Wav
                } else {
                    ExportKind::Mp3
                };
                let progress = Arc::new(crate::disk::export::Progress::default());
                match desk.export_work(kind, None, progress.clone()) {
                    Ok(work) => {
                        let (tx, rx) = crossbeam_channel::bounded(1);
                        let _ =
                            std::thread::Builder::new()
                                .name("export".into())
                                .spawn(move || {
                                    let _ = tx.send(work());
                                });
                        self.state.record.exporting = Some(0.0);
                        self.export_work = Some((rx, progress));
                        return;
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match (&result, a) {
            (Ok(_), RecordAction::KeepRecovered(i) | RecordAction::DiscardRecovered(i)) => {
                self.state.record.recovered.remove(i);
            }
            (Err(e), _) => self.state.record.said.push((e.to_string(), true)),
            _ => {}
        }
        if let Some(d) = self.songs.as_ref() {
            self.state.record.desk = d.view();
        }
    }

    /// Saves and opens jams in `dir` instead of beside the settings.
    pub fn jams_at(mut self, dir: PathBuf) -> Self {
        self.jams_path = Some(dir);
        self
    }

    /// Where jams are saved: the user's jams folder (beside the settings file).
    pub fn jams_folder(&self) -> Result<PathBuf, JamError> {
        match (&self.jams_path, &self.settings_path) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(settings)) => Ok(settings.with_file_name(jam_files::JAMS_DIR)),
            (None, None) => jam_files::jams_dir(),
        }
    }

    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The command layer the panel's loop buttons, keys and MIDI go through.
    pub fn loop_control(&self) -> &LoopControl {
        &self.loops
    }

    /// Where the learned MIDI mappings are kept.
    pub fn midi_map_path(&self) -> Result<PathBuf, MidiLearnError> {
        match (&self.learn_path, &self.settings_path) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(settings)) => Ok(settings.with_file_name(MAP_FILE)),
            (None, None) => MidiLearn::default_path(),
        }
    }

    pub fn state(&self) -> &PanelState {
        &self.state
    }

    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// Draws the whole panel into `ui` and carries out what was clicked.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let dt = ui.input(|i| i.stable_dt).clamp(0.0, 0.5);
        self.read_engine(dt);
        self.load_learned();
        self.poll_jam_work();
        self.poll_songs();
        self.poll_listening(ui.ctx());
        self.poll_apply();
        self.name_jam_by_the_clock();
        let now_secs = ui.input(|i| i.time);
        self.poll_midi(now_secs);
        for action in self.shortcuts(ui.ctx()) {
            self.act(action);
        }
        if self.style_changed {
            // Tooltips and popups take the context's style, not this ui's.
            let ctx = ui.ctx();
            ctx.set_theme(egui::Theme::Light);
            ctx.set_style_of(egui::Theme::Light, self.style.clone());
            self.style_changed = false;
        }
        ui.set_style(self.style.clone());
        let mut actions = Vec::new();
        let state = &self.state;
        egui::Panel::top("samspill-top")
            .frame(egui::Frame::new().fill(theme::BAR).inner_margin(12))
            .show(ui, |ui| top_bar(ui, state, &mut actions));
        egui::Panel::bottom("samspill-status")
            .frame(egui::Frame::new().fill(theme::BAR).inner_margin(12))
            .show(ui, |ui| status::status_bar(ui, state));
        egui::CentralPanel::default()
            .frame(egui::Frame::new().fill(theme::BACKGROUND).inner_margin(16))
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink(false)
                    .show(ui, |ui| match state.view {
                        View::Play => play::draw(ui, state, &mut actions),
                        View::Jam => jam::draw(ui, state, &mut actions),
                        View::Record => super::record::draw(ui, state, &mut actions),
                        View::Listen => super::listen::draw(ui, state, &mut actions),
                        View::Settings => settings_view::draw(ui, state, &mut actions),
                    });
            });
        for action in actions {
            self.act(action);
        }
        // Frames come from the watcher when something shown changes; the panel asks for
        // them itself only while it animates or waits on work of its own.
        let busy = self.applying.is_some()
            || self.jam_work.is_some()
            || self.export_work.is_some()
            || self.state.record.desk.position.is_some();
        let falling = |h: &PeakHold| h.db > super::meter::FLOOR_DB;
        let s = &self.state;
        let animating = s.input_holds.iter().any(falling)
            || falling(&s.instruments_hold)
            || falling(&s.master_hold)
            || s.loop_holds.iter().any(falling);
        let watched = self.watcher.is_some();
        ui.ctx()
            .request_repaint_after(if busy || animating || !watched {
                REDRAW
            } else {
                IDLE_REDRAW
            });
    }

    fn read_engine(&mut self, dt: f32) {
        let s = &mut self.state;
        s.snapshot = self.controller.snapshot();
        s.audio = self.audio.status();
        s.input_holds
            .resize(s.snapshot.inputs.len(), PeakHold::default());
        for (hold, level) in s.input_holds.iter_mut().zip(&s.snapshot.inputs) {
            hold.update(level.peak, dt);
        }
        s.input_monitor.resize(s.snapshot.inputs.len(), true);
        s.instruments_hold.update(s.snapshot.instruments.peak, dt);
        s.master_hold.update(s.snapshot.master.peak, dt);
        LoopTrack::read_all(self.controller.shared(), &mut s.loops);
        let tracks = s.loops.len();
        s.loop_holds.resize(tracks, PeakHold::default());
        s.loop_sources.clear();
        s.loop_sources
            .extend((0..tracks).map(|t| self.loops.source(t).unwrap_or(SOURCE_INPUTS)));
        for (hold, track) in s.loop_holds.iter_mut().zip(&s.loops) {
            hold.update(track.level.peak, dt);
        }
        s.selected = self.loops.selected();
        // A looper rebuilt with fewer tracks: back to the first, for OSC as well.
        if let TrackSel::One(t) = s.selected {
            if tracks > 0 && usize::from(t) >= tracks && self.loops.select(TrackSel::One(0)).is_ok()
            {
                s.selected = TrackSel::One(0);
            }
        }
        if tracks != self.looper_set_up {
            s.loop_db = vec![0.0; tracks];
            s.confirm_clear = None;
            if tracks > 0 {
                self.set_up_looper();
            }
            self.looper_set_up = tracks;
        }
    }

    /// A new looper starts with defaults: give it the saved beat, click and count-in.
    fn set_up_looper(&mut self) {
        let l = self.state.settings.looper.clone();
        self.send(Command::LoopSync(jam::sync_mode(&l)));
        self.send(Command::LoopQuantize(jam::quantize(l.quantize)));
        self.send(Command::LoopClick(l.click));
        self.send(Command::LoopCountIn(l.count_in));
        self.send(Command::LoopLatencyOffset(self.offset_frames(&l)));
        // A new looper records every input: give back what each track was set to.
        let sources = self.state.loop_sources.clone();
        for (t, source) in sources.into_iter().enumerate() {
            if source != SOURCE_INPUTS {
                if let Err(e) = self.loops.set_source(t, source) {
                    self.loop_error(e);
                }
            }
        }
    }

    fn offset_frames(&self, l: &LoopSettings) -> i32 {
        let rate = match self.state.snapshot.sample_rate {
            0 => self.state.settings.audio.sample_rate,
            r => r,
        };
        (l.latency_offset_ms * rate as f32 / 1000.0).round() as i32
    }

    /// Sends what changed between the looper settings in use and `new`, and keeps `new`.
    fn change_looper(&mut self, new: LoopSettings) {
        let old = self.state.settings.looper.clone();
        if jam::sync_mode(&old) != jam::sync_mode(&new) {
            self.send(Command::LoopSync(jam::sync_mode(&new)));
        }
        if old.quantize != new.quantize {
            self.send(Command::LoopQuantize(jam::quantize(new.quantize)));
        }
        if old.click != new.click {
            self.send(Command::LoopClick(new.click));
        }
        if old.count_in != new.count_in {
            self.send(Command::LoopCountIn(new.count_in));
        }
        if old.latency_offset_ms != new.latency_offset_ms {
            self.send(Command::LoopLatencyOffset(self.offset_frames(&new)));
        }
        self.state.settings.looper = new;
        self.save();
    }

    /// Carries out one user action.
    pub fn act(&mut self, action: Action) {
        match action {
            Action::Record(a) => self.record_action(a),
            Action::Listen(a) => self.listen_action(a),
            Action::ListenSettings(l) => {
                self.listen_desk().apply(&l);
                self.state.settings.listen = l;
                self.save();
            }
            Action::Show(view) => {
                if view == View::Settings && self.state.view != View::Settings {
                    self.state.draft = self.state.settings.audio.clone();
                    self.look_for_devices();
                }
                self.state.view = view;
            }
            Action::Patch(patch) => {
                if self.send(Command::Patch(patch)) {
                    self.state.settings.patch = patch;
                    self.save();
                }
            }
            Action::MasterDb(db) => {
                let db = db.clamp(MASTER_MIN_DB, MASTER_MAX_DB);
                if self.send(Command::MasterGain { db }) {
                    self.state.settings.master_db = db;
                }
            }
            Action::Save => self.save(),
            Action::AllNotesOff => {
                self.send(Command::AllNotesOff);
            }
            Action::Language(lang) => {
                self.state.settings.language = lang;
                self.save();
            }
            Action::EasyMode(on) => {
                self.state.settings.easy_mode = on;
                self.style = Arc::new(theme::style(on));
                self.style_changed = true;
                self.save();
            }
            Action::Host(host) => {
                let d = &mut self.state.draft;
                if d.host != host {
                    d.host = host;
                    // Device names belong to a host.
                    d.output_device = None;
                    d.input_device = None;
                    self.look_for_devices();
                }
            }
            Action::OutputDevice(name) => self.state.draft.output_device = name,
            Action::InputDevice(name) => self.state.draft.input_device = name,
            Action::SampleRate(rate) => self.state.draft.sample_rate = rate,
            Action::BufferFrames(frames) => self.state.draft.buffer_frames = frames,
            Action::LookForDevices => self.look_for_devices(),
            Action::ApplyAudio => self.apply_audio(),
            Action::Loop { track, op } => {
                if op == LoopOp::Clear {
                    self.state.confirm_clear = None;
                }
                let track = track.min(u8::MAX as usize) as u8;
                self.send(Command::Loop { track, op });
            }
            Action::AskClear(track) => self.state.confirm_clear = track,
            Action::TrackDb { track, db } => {
                let db = db.clamp(jam::TRACK_MIN_DB, jam::TRACK_MAX_DB);
                let gain = 10f32.powf(db / 20.0);
                let op = LoopOp::SetVolume(gain);
                if self.send(Command::Loop {
                    track: track.min(u8::MAX as usize) as u8,
                    op,
                }) {
                    if let Some(d) = self.state.loop_db.get_mut(track) {
                        *d = db;
                    }
                }
            }
            Action::Looper(new) => self.change_looper(new),
            Action::FootSwitch(track) => {
                self.select(track);
                if let Err(e) = self.loops.foot_switch(track) {
                    self.loop_error(e);
                }
            }
            Action::AllTracks(op) => {
                if let Err(e) = self.loops.perform(ControlAction::HitAll { op }) {
                    self.loop_error(e);
                }
            }
            Action::SelectTrack(track) => self.select(track),
            Action::LoopSource { track, source } => match self.loops.set_source(track, source) {
                Ok(()) => {
                    if let Some(s) = self.state.loop_sources.get_mut(track) {
                        *s = source;
                    }
                }
                Err(e) => self.loop_error(e),
            },
            Action::InputMonitor { input, on } => {
                let Ok(index) = u8::try_from(input) else {
                    return;
                };
                if self.send(Command::InputMonitor { input: index, on }) {
                    if let Some(m) = self.state.input_monitor.get_mut(input) {
                        *m = on;
                    }
                    let unheard = &mut self.state.settings.unmonitored_inputs;
                    unheard.retain(|i| *i != input);
                    if !on {
                        unheard.push(input);
                        unheard.sort_unstable();
                    }
                    self.save();
                }
            }
            Action::Learn(on) => {
                self.state.learn.on = on;
                self.state.learn.last = None;
                if !on {
                    self.learn.disarm();
                }
                self.state.learn.armed = self.learn.armed();
            }
            Action::LearnArm(action) => {
                self.learn.arm(action);
                self.state.learn.armed = Some(action);
                self.state.learn.last = None;
            }
            Action::Forget(action) => {
                self.learn.forget(action);
                self.state.learn.last = None;
                self.learned_changed();
            }
            Action::Cancel => {
                self.learn.disarm();
                self.state.learn.armed = None;
                self.state.confirm_clear = None;
                // A loop waiting for its start (a count-in, the next bar) is not started.
                if let Some(t) = self.state.selected_track() {
                    if self.state.loops[t].state == 1 {
                        self.act(Action::FootSwitch(t));
                    }
                }
            }
            Action::ClickApart(on) => {
                if self.send(Command::ClickApart(on)) {
                    self.state.settings.click_apart = on;
                    self.save();
                }
            }
            Action::Osc(on) => {
                self.state.settings.osc_enabled = on;
                if on {
                    self.start_osc();
                } else {
                    self.osc = None;
                    self.state.osc = OscView::default();
                }
                self.save();
            }
            Action::JamName(name) => {
                self.state.jams.name = name;
                self.state.jams.name_edited = true;
            }
            Action::SaveJam => self.start_saving(),
            Action::ListJams(show) => {
                self.state.jams.confirm_open = None;
                self.state.jams.list = show.then(|| self.list_jams());
            }
            Action::OpenJam(dir) => {
                let has_loops = self.state.loops.iter().any(|t| t.loop_frames > 0);
                if has_loops {
                    self.state.jams.confirm_open = Some(dir);
                } else {
                    self.start_opening(dir);
                }
            }
            Action::AnswerOpen(answer) => {
                let Some(dir) = self.state.jams.confirm_open.take() else {
                    return;
                };
                match answer {
                    OpenAnswer::Cancel => {}
                    OpenAnswer::Replace => self.start_opening(dir),
                    OpenAnswer::SaveFirst => {
                        self.open_after_save = Some(dir);
                        self.start_saving();
                    }
                }
            }
            Action::TapTempo(secs) => {
                if let Some(bpm) = self.state.taps.tap(secs) {
                    let mut new = self.state.settings.looper.clone();
                    new.tempo_bpm = bpm.round();
                    new.follow_tempo = true;
                    self.change_looper(new);
                }
            }
        }
    }

    /// Until the user types a name, the next jam is named by the date and time.
    fn name_jam_by_the_clock(&mut self) {
        if self.state.jams.name_edited {
            return;
        }
        let minute = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 60);
        if minute != self.jam_name_minute {
            self.jam_name_minute = minute;
            self.state.jams.name = jam_files::default_jam_name();
        }
    }

    fn list_jams(&self) -> Vec<JamListing> {
        self.jams_folder()
            .map(|dir| jam_files::jams_in(&dir))
            .unwrap_or_default()
    }

    /// Copies the loops out and writes them on a thread of its own: the copy takes a
    /// piece per audio block (seconds for long loops), and the window must not freeze.
    fn start_saving(&mut self) {
        if self.jam_work.is_some() {
            return;
        }
        let name = self.state.jams.name.trim().to_owned();
        let name = (!name.is_empty()).then_some(name);
        let controller = self.controller.clone();
        let folder = self.jams_folder();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("jam-save".into())
            .spawn(move || {
                let saved = folder.and_then(|dir| {
                    jam_files::save_running_jam_in(&controller, &dir, name.as_deref())
                });
                let _ = tx.send(JamDone::Saved(saved));
            });
        self.started(spawned.map(|_| rx), JamWork::Saving);
    }

    /// Reads the jam and builds its looper on a thread of its own (a long jam at another
    /// sample rate takes a while to convert), then hands the looper to the engine.
    fn start_opening(&mut self, dir: PathBuf) {
        if self.jam_work.is_some() {
            return;
        }
        let controller = self.controller.clone();
        let config = jam::looper_config(&self.state.settings.looper);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("jam-open".into())
            .spawn(move || {
                let opened = jam_files::open_jam(&dir).and_then(|opened| {
                    let notes = jam_files::restore_jam(&controller, &opened.jam, &config)?;
                    Ok((opened, notes))
                });
                let _ = tx.send(JamDone::Opened(opened));
            });
        self.started(spawned.map(|_| rx), JamWork::Opening);
    }

    fn started(&mut self, rx: std::io::Result<Receiver<JamDone>>, work: JamWork) {
        let jams = &mut self.state.jams;
        match rx {
            Ok(rx) => {
                self.jam_work = Some(rx);
                jams.working = Some(work);
                jams.said = None;
            }
            Err(e) => {
                self.open_after_save = None;
                let text = match work {
                    JamWork::Saving => Text::JamSaveFailed,
                    JamWork::Opening => Text::JamOpenFailed,
                };
                jams.said = Some(JamSaid::Failed {
                    text,
                    why: Text::JamWhyTryAgain,
                    detail: e.to_string(),
                });
            }
        }
    }

    /// Takes what a background save or open came back with.
    fn poll_jam_work(&mut self) {
        let Some(rx) = &self.jam_work else {
            return;
        };
        let done = match rx.try_recv() {
            Ok(done) => done,
            Err(crossbeam_channel::TryRecvError::Empty) => return,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                // The thread ended without an answer: say it failed, and nothing changed.
                let e = JamError::Capture(crate::controller::CaptureError::Interrupted);
                match self.state.jams.working {
                    Some(JamWork::Opening) => JamDone::Opened(Err(e)),
                    _ => JamDone::Saved(Err(e)),
                }
            }
        };
        self.jam_work = None;
        self.state.jams.working = None;
        let folder = |dir: &std::path::Path| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        match done {
            JamDone::Saved(Ok(saved)) => {
                self.state.jams.said = Some(JamSaid::Saved {
                    folder: folder(&saved.dir),
                    notes: saved.notes,
                });
                // The next save gets a name of its own.
                self.state.jams.name_edited = false;
                self.jam_name_minute = u64::MAX;
                if self.state.jams.list.is_some() {
                    self.state.jams.list = Some(self.list_jams());
                }
                if let Some(dir) = self.open_after_save.take() {
                    self.start_opening(dir);
                }
            }
            JamDone::Saved(Err(e)) => {
                // Not saved: the loops stay, so nothing is opened over them.
                self.open_after_save = None;
                self.state.jams.said = Some(failed(Text::JamSaveFailed, &e));
            }
            JamDone::Opened(Ok((opened, notes))) => {
                self.state.jams.list = None;
                self.jam_restored(&opened);
                self.state.jams.said = Some(JamSaid::Opened {
                    folder: folder(&opened.dir),
                    trouble: opened.trouble,
                    problems: opened.problems,
                    notes,
                });
            }
            JamDone::Opened(Err(e)) => {
                self.state.jams.said = Some(failed(Text::JamOpenFailed, &e));
            }
        }
    }

    /// The looper now plays a reopened jam: the Loop view's beat, levels and sources
    /// follow it, and the click, count-in and alignment carry over from the settings.
    fn jam_restored(&mut self, opened: &OpenedJam) {
        let j = &opened.jam;
        let mut l = self.state.settings.looper.clone();
        match j.sync {
            crate::engine::looper::SyncMode::Tempo { bpm, beats_per_bar } => {
                l.follow_tempo = true;
                l.tempo_bpm = bpm.clamp(jam::TEMPO_MIN_BPM, jam::TEMPO_MAX_BPM);
                l.beats_per_bar = beats_per_bar.clamp(1, 32);
            }
            _ => l.follow_tempo = false,
        }
        l.quantize = match j.quantize {
            crate::engine::looper::Quantize::Off => crate::session::settings::LoopQuantize::Off,
            crate::engine::looper::Quantize::Beat => crate::session::settings::LoopQuantize::Beat,
            crate::engine::looper::Quantize::Bar => crate::session::settings::LoopQuantize::Bar,
            crate::engine::looper::Quantize::Cycle => crate::session::settings::LoopQuantize::Cycle,
        };
        self.state.settings.looper = l.clone();
        self.save();
        // After the new looper in the queue, so they reach it, not the old one.
        self.send(Command::LoopClick(l.click));
        self.send(Command::LoopCountIn(l.count_in));
        self.send(Command::LoopLatencyOffset(self.offset_frames(&l)));
        let tracks = jam::looper_config(&l)
            .tracks
            .max(j.tracks.len())
            .clamp(1, crate::engine::looper::MAX_TRACKS);
        self.state.loop_db = (0..tracks)
            .map(|t| {
                let volume = j.tracks.get(t).map_or(1.0, |tr| tr.settings.volume);
                if volume > 0.0 {
                    (20.0 * volume.log10()).clamp(jam::TRACK_MIN_DB, jam::TRACK_MAX_DB)
                } else {
                    jam::TRACK_MIN_DB
                }
            })
            .collect();
        // Remembered for the source chooser and OSC; the looper already has them.
        for (t, tr) in j.tracks.iter().enumerate().take(self.state.loops.len()) {
            let _ = self.loops.set_source(t, tr.settings.source);
        }
        // A looper of as many tracks as before is not set up again from the settings.
        self.looper_set_up = tracks;
        self.state.confirm_clear = None;
    }

    /// The keyboard shortcuts, taken before any button sees the keys (Space would
    /// otherwise also press the focused button). Not in Settings, and never while typing.
    fn shortcuts(&self, ctx: &egui::Context) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state.view == View::Settings || ctx.egui_wants_keyboard_input() {
            return out;
        }
        let selected = self.state.selected;
        let track = self.state.selected_track();
        let all = selected == TrackSel::All && !self.state.loops.is_empty();
        ctx.input_mut(|i| {
            let time = i.time;
            let mut pressed = |key| i.consume_key(Modifiers::NONE, key);
            if pressed(Key::Escape) {
                out.push(Action::Cancel);
            }
            if pressed(Key::T) {
                out.push(Action::TapTempo(time));
            }
            let numbers = [
                Key::Num1,
                Key::Num2,
                Key::Num3,
                Key::Num4,
                Key::Num5,
                Key::Num6,
                Key::Num7,
                Key::Num8,
            ];
            for (n, key) in numbers.into_iter().enumerate() {
                if pressed(key) {
                    out.push(Action::SelectTrack(n));
                }
            }
            if track.is_none() && !all {
                return;
            }
            // With every track selected (from OSC) Space has no one cycle to step: it
            // waits for a track to be chosen; U, R and M work on all of them.
            if let Some(track) = track {
                if pressed(Key::Space) {
                    out.push(Action::FootSwitch(track));
                }
            }
            for (key, op, command) in [
                (Key::U, LoopOp::Undo, LoopCommand::Undo),
                (Key::R, LoopOp::Redo, LoopCommand::Redo),
                (Key::M, LoopOp::Mute, LoopCommand::Mute),
            ] {
                if pressed(key) {
                    out.push(match track {
                        Some(track) => Action::Loop { track, op },
                        None => Action::AllTracks(command),
                    });
                }
            }
        });
        out
    }

    /// Reads the learned mappings once, on the first frame (the path may be set after `new`).
    fn load_learned(&mut self) {
        if self.learn_loaded {
            return;
        }
        self.learn_loaded = true;
        let loaded = self
            .midi_map_path()
            .and_then(|path| MidiLearn::load_from(&path));
        match loaded {
            Ok(learn) => self.learn = learn,
            Err(e) => {
                self.state.notice = Some(Notice {
                    problem: true,
                    text: Text::MapLoadFailed,
                    detail: e.to_string(),
                });
            }
        }
        self.state.learn.mappings = self.learn.mappings().to_vec();
    }

    /// Takes what the MIDI tap has: learns the armed control, or does what a learned key
    /// or pedal is mapped to.
    fn poll_midi(&mut self, now_secs: f64) {
        let Some(tap) = &self.midi_tap else {
            return;
        };
        let messages: Vec<TimedMidi> = tap.try_iter().take(TAP_PER_FRAME).collect();
        if messages.is_empty() {
            return;
        }
        let now = now_nanos();
        for m in messages {
            if now.saturating_sub(m.at_nanos) > TAP_STALE_NANOS {
                continue;
            }
            let was_armed = self.learn.armed().is_some();
            let action = self.learn.handle(m.event.bytes());
            if was_armed && self.learn.armed().is_none() {
                self.state.learn.armed = None;
                self.state.learn.last = self.learn.mappings().last().copied();
                self.learned_changed();
            }
            if let Some(action) = action {
                self.perform(action, now_secs);
            }
        }
    }

    /// Does what a learned key or pedal is mapped to, the way the same button would.
    fn perform(&mut self, action: ControlAction, now_secs: f64) {
        match action {
            // Through the panel's own tap, so the tempo shown and saved follows.
            ControlAction::TapTempo => self.act(Action::TapTempo(now_secs)),
            ControlAction::FootSwitch { track } => self.act(Action::FootSwitch(track as usize)),
            ControlAction::Hit {
                op: LoopCommand::Clear,
                track,
            } => self.act(Action::Loop {
                track: track as usize,
                op: LoopOp::Clear,
            }),
            other => {
                if let Err(e) = self.loops.perform(other) {
                    self.loop_error(e);
                }
            }
        }
    }

    /// Chooses `track` in the command layer, where OSC's "selected loop" reads it too.
    fn select(&mut self, track: usize) {
        if track >= self.state.loops.len() {
            return;
        }
        let sel = TrackSel::One(track.min(u8::MAX as usize) as u8);
        match self.loops.select(sel) {
            Ok(()) => self.state.selected = sel,
            Err(e) => self.loop_error(e),
        }
    }

    fn loop_error(&mut self, e: LoopControlError) {
        let mut detail = String::new();
        let text = match e {
            // The Loop view already says the loops are getting ready.
            LoopControlError::NoLooper => return,
            LoopControlError::NotFinite(e) => {
                detail = e.to_string();
                Text::NotANumber
            }
            LoopControlError::NoSuchTrack { .. } => Text::MidiNoTrack,
            LoopControlError::Engine(ControlError::QueueFull) => Text::EngineBusy,
            LoopControlError::Engine(ControlError::EngineGone) => Text::EngineStopped,
        };
        self.state.notice = Some(Notice {
            problem: true,
            text,
            detail,
        });
    }

    /// Shows and saves the mappings after a change; a failed save is shown, never fatal.
    fn learned_changed(&mut self) {
        self.state.learn.mappings = self.learn.mappings().to_vec();
        let saved = self
            .midi_map_path()
            .and_then(|path| self.learn.save_to(&path));
        if let Err(e) = saved {
            self.state.notice = Some(Notice {
                problem: true,
                text: Text::MapSaveFailed,
                detail: e.to_string(),
            });
        }
    }

    fn start_osc(&mut self) {
        self.osc = None;
        match OscServer::start(self.loops.clone(), self.osc_port) {
            Ok(server) => {
                self.state.osc = OscView {
                    addr: Some(server.local_addr()),
                    busy: false,
                };
                self.osc = Some(server);
            }
            Err(_) => {
                self.state.osc = OscView {
                    addr: None,
                    busy: true,
                };
                // Calm: everything else works, and the toggle in Settings tries again.
                self.state.notice = Some(Notice {
                    problem: false,
                    text: Text::OscBusy,
                    detail: self.osc_port.to_string(),
                });
            }
        }
    }

    fn look_for_devices(&mut self) {
        let host = self.state.draft.host;
        self.state.devices = Devices {
            outputs: self.audio.output_devices(host),
            inputs: self.audio.input_devices(host),
            midi: self.audio.midi_ports(),
        };
    }

    /// Opens the device on a worker: a device that takes seconds (or hangs) never stops
    /// the window from drawing. The outcome is picked up by [`Self::poll_apply`].
    fn apply_audio(&mut self) {
        if self.applying.is_some() {
            return;
        }
        let draft = self.state.draft.clone();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let audio = self.audio.clone();
        let settings = draft.clone();
        let started = std::thread::Builder::new()
            .name("samspill device opener".into())
            .spawn(move || {
                let _ = tx.send(audio.apply(&settings));
            });
        match started {
            Ok(_) => {
                self.applying = Some((rx, draft));
                self.state.opening = true;
            }
            Err(e) => self.applied(draft, Err(e.into())),
        }
    }

    fn poll_apply(&mut self) {
        let done = match &self.applying {
            Some((rx, _)) => match rx.try_recv() {
                Ok(r) => Some(r),
                Err(crossbeam_channel::TryRecvError::Empty) => None,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    Some(Err("the device opener stopped".into()))
                }
            },
            None => None,
        };
        if let Some(result) = done {
            self.state.opening = false;
            if let Some((_, draft)) = self.applying.take() {
                self.applied(draft, result);
            }
        }
    }

    fn applied(&mut self, draft: AudioSettings, result: Result<(), ApplyError>) {
        match result {
            Ok(()) => {
                self.state.settings.audio = draft;
                self.state.notice = Some(Notice {
                    problem: false,
                    text: Text::Applied,
                    detail: String::new(),
                });
                self.save();
            }
            Err(why) => {
                self.state.notice = Some(Notice {
                    problem: true,
                    text: Text::ApplyFailed,
                    detail: why.to_string(),
                });
            }
        }
        self.state.audio = self.audio.status();
    }

    /// Sends a command; a refusal goes to the status line. True if the engine took it.
    fn send(&mut self, command: Command) -> bool {
        match self.controller.send(command) {
            Ok(()) => true,
            Err(e) => {
                let text = match e {
                    ControlError::QueueFull => Text::EngineBusy,
                    ControlError::EngineGone => Text::EngineStopped,
                };
                self.state.notice = Some(Notice {
                    problem: true,
                    text,
                    detail: String::new(),
                });
                false
            }
        }
    }

    /// Saves the settings; a failure is shown, never fatal: the panel works on unsaved.
    fn save(&mut self) {
        let s = &self.state.settings;
        let result = match &self.settings_path {
            Some(path) => s.save_to(path),
            None => s.save(),
        };
        if let Err(e) = result {
            self.state.notice = Some(Notice {
                problem: true,
                text: Text::SaveFailed,
                detail: e.to_string(),
            });
        }
    }
}

/// A failed save or open in plain words: what failed, and why as the user can act on it.
fn failed(text: Text, e: &JamError) -> JamSaid {
    use crate::controller::CaptureError;
    let (why, detail) = match e {
        JamError::NoDataFolder => (Text::JamWhyNoFolder, String::new()),
        JamError::Write { source, .. } => (Text::JamWhyDisk, source.to_string()),
        JamError::NotFound(_) => (Text::JamWhyGone, String::new()),
        JamError::NothingReadable(_) | JamError::Damaged(_) => {
            (Text::JamWhyUnreadable, String::new())
        }
        JamError::Capture(CaptureError::NoLooper) => (Text::JamWhyNoLooper, String::new()),
        JamError::Capture(CaptureError::Busy) => (Text::JamWhyBusy, String::new()),
        JamError::Capture(CaptureError::Interrupted | CaptureError::TimedOut) => {
            (Text::JamWhyTryAgain, String::new())
        }
        JamError::Capture(CaptureError::Control(c)) | JamError::Control(c) => (
            match c {
                ControlError::QueueFull => Text::EngineBusy,
                ControlError::EngineGone => Text::EngineStopped,
            },
            String::new(),
        ),
    };
    JamSaid::Failed { text, why, detail }
}

impl eframe::App for Panel {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn clear_color(&self, _visuals: &egui::Visuals) -> [f32; 4] {
        theme::BACKGROUND.to_normalized_gamma_f32()
    }
}

/// The name and the two views, as large tabs.
fn top_bar(ui: &mut egui::Ui, state: &PanelState, actions: &mut Vec<Action>) {
    let lang = state.lang();
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(tr(lang, Text::AppName))
                .heading()
                .strong()
                .color(theme::ACCENT),
        );
        ui.add_space(ui.spacing().item_spacing.x * 2.0);
        for (view, text) in [
            (View::Play, Text::ViewPlay),
            (View::Jam, Text::ViewJam),
            (View::Record, Text::ViewRecord),
            (View::Listen, Text::ViewListen),
            (View::Settings, Text::ViewSettings),
        ] {
            let selected = state.view == view;
            // Plain text: a selected button draws it white on the accent colour.
            let tab = egui::Button::new(tr(lang, text))
                .selected(selected)
                .min_size(egui::vec2(ui.spacing().interact_size.y * 3.0, 0.0));
            if ui.add(tab).clicked() && !selected {
                actions.push(Action::Show(view));
            }
        }
    });
}
