//! The "Loop" view: one row per loop track (a big button that says what pressing it does
//! next, the loop's progress, its state in words, level, mute, undo, redo and clear) and
//! the shared beat (tempo, tap, click, count-in, when loops start and stop), and MIDI
//! learn with the keyboard shortcuts, and saving the loops as a jam or opening one. In
//! easy mode: one large button that starts and stops a loop on the first free track
//! (saving and opening stay on the therapist's full view).

use eframe::egui::{self, vec2, Color32, CornerRadius, Rect, RichText, Sense};

use super::i18n::{bpm_text, db_text, decimal, tr, tr_n, Text};
use super::meter::meter_row_named;
pub use super::state::LoopTrack;
use super::state::{Action, JamSaid, JamWork, OpenAnswer, PanelState};
use super::theme::{self, card, card_with, Sizes};
use crate::control::midi_learn::Trigger;
use crate::control::{foot_switch_op, Action as ControlAction, LoopCommand, TrackSel};
use crate::controller::LooperConfig;
use crate::engine::looper::sync::MAX_BEATS_PER_BAR;
use crate::engine::looper::{
    LoopOp, Quantize, SyncMode, SOURCE_INPUTS, SOURCE_INPUT_BASE, SOURCE_INSTRUMENTS, SOURCE_MIX,
};
use crate::session::jam::{local_time_text, JamNote, OpenTrouble};
use crate::session::settings::{Language, LoopQuantize, LoopSettings};

pub use crate::engine::looper::sync::{MAX_BPM as TEMPO_MAX_BPM, MIN_BPM as TEMPO_MIN_BPM};
/// What one press on "Slower"/"Faster" changes; tapping is the quick way to a tempo.
pub const TEMPO_STEP_BPM: f32 = 1.0;
pub const TRACK_MIN_DB: f32 = -30.0;
pub const TRACK_MAX_DB: f32 = 6.0;
/// Easy mode's one button: large enough to hit without aiming.
pub const EASY_BUTTON_HEIGHT: f32 = 120.0;

/// What the track's big button sends: the one foot-switch cycle the pedal, Space and
/// OSC share (empty → record, recording → stop, playing → overdub, overdubbing → stop).
pub fn next_op(state: u32) -> LoopOp {
    foot_switch_op(state)
}

/// The big button's words: what pressing it does next.
pub fn next_text(state: u32) -> Text {
    match state {
        1 => Text::DoCancelStart,
        2 | 3 => Text::DoStopRecording,
        4 => Text::DoOverdub,
        5..=8 | 13 => Text::DoStopOverdub,
        10 => Text::DoUnmute,
        12 => Text::DoOverdub,
        14 => Text::DoPlay,
        _ => Text::DoRecord,
    }
}

/// The sources a track can record from, in the chooser's order, for `inputs` live
/// inputs: every input, each input alone, the instruments, everything playing.
pub fn sources(inputs: usize) -> Vec<u8> {
    let each = (0..inputs.min(usize::from(u8::MAX - SOURCE_INPUT_BASE)))
        .map(|k| SOURCE_INPUT_BASE + k as u8);
    std::iter::once(SOURCE_INPUTS)
        .chain(each)
        .chain([SOURCE_INSTRUMENTS, SOURCE_MIX])
        .collect()
}

/// A source in words: "Alle innganger", "Inngang 2" (named as the Play view names it),
/// "Instrumentene", "Alt som spilles".
pub fn source_text(lang: Language, source: u8) -> String {
    match source {
        SOURCE_INPUTS => tr(lang, Text::SourceInputs).to_string(),
        SOURCE_INSTRUMENTS => tr(lang, Text::SourceInstruments).to_string(),
        SOURCE_MIX => tr(lang, Text::SourceMix).to_string(),
        k => tr_n(lang, Text::InputN, usize::from(k - SOURCE_INPUT_BASE) + 1),
    }
}

/// What the track is doing, in a word or two.
pub fn state_text(state: u32) -> Text {
    match state {
        1 => Text::StateWaiting,
        2 => Text::StateRecording,
        3 => Text::StateFinishing,
        4 => Text::StatePlaying,
        5 => Text::StateOverdubbing,
        6 => Text::StateMultiplying,
        7 => Text::StateInserting,
        8 | 13 => Text::StateReplacing,
        10 => Text::StateMuted,
        12 => Text::StateOnce,
        14 => Text::StatePaused,
        _ => Text::StateEmpty,
    }
}

fn state_colour(state: u32) -> Color32 {
    match state {
        1 => theme::ACCENT,
        2 | 3 => theme::STOP,
        5..=8 | 13 => theme::METER_LOUD,
        4 | 12 => theme::GOOD,
        _ => theme::WEAK_TEXT,
    }
}

/// The track easy mode's button works on: the one recording, else the first free one.
pub fn easy_track(loops: &[LoopTrack]) -> Option<usize> {
    loops
        .iter()
        .position(LoopTrack::is_recording)
        .or_else(|| loops.iter().position(LoopTrack::is_free))
}

pub fn sync_mode(s: &LoopSettings) -> SyncMode {
    if s.follow_tempo {
        SyncMode::Tempo {
            bpm: s.tempo_bpm.clamp(TEMPO_MIN_BPM, TEMPO_MAX_BPM),
            beats_per_bar: s.beats_per_bar.clamp(1, MAX_BEATS_PER_BAR),
        }
    } else {
        SyncMode::FirstLoop
    }
}

pub fn quantize(q: LoopQuantize) -> Quantize {
    match q {
        LoopQuantize::Off => Quantize::Off,
        LoopQuantize::Beat => Quantize::Beat,
        LoopQuantize::Bar => Quantize::Bar,
        LoopQuantize::Cycle => Quantize::Cycle,
    }
}

/// "tone 36 på kanal 10": a learned key or pedal, channels counted from 1 as on the gear.
pub fn trigger_text(lang: Language, trigger: Trigger) -> String {
    let (what, channel) = match trigger {
        Trigger::Note { channel, key } => (tr_n(lang, Text::TriggerNote, key), channel),
        Trigger::Cc {
            channel,
            controller,
        } => (tr_n(lang, Text::TriggerCc, controller), channel),
    };
    format!(
        "{what} {}",
        tr_n(lang, Text::OnChannel, u32::from(channel) + 1)
    )
}

/// "Spor 1: fotbryter": what a learned key or pedal does.
pub fn action_text(lang: Language, action: ControlAction) -> String {
    let op_text = |op: LoopCommand| match op {
        LoopCommand::Record => tr(lang, Text::DoRecord).to_string(),
        LoopCommand::Overdub => tr(lang, Text::DoOverdub).to_string(),
        LoopCommand::Mute => tr(lang, Text::Mute).to_string(),
        LoopCommand::Undo => tr(lang, Text::Undo).to_string(),
        LoopCommand::Redo => tr(lang, Text::Redo).to_string(),
        LoopCommand::Clear => tr(lang, Text::ClearTrack).to_string(),
        other => other.name().replace('_', " "),
    };
    match action {
        ControlAction::FootSwitch { track } => format!(
            "{}: {}",
            tr_n(lang, Text::TrackN, u32::from(track) + 1),
            tr(lang, Text::FootSwitch)
        ),
        ControlAction::Hit { track, op } => format!(
            "{}: {}",
            tr_n(lang, Text::TrackN, u32::from(track) + 1),
            op_text(op)
        ),
        ControlAction::HitAll { op } => format!("{}: {}", tr(lang, Text::AllTracks), op_text(op)),
        ControlAction::TapTempo => tr(lang, Text::TapTempo).to_string(),
    }
}

/// How the looper is built from the saved settings.
pub fn looper_config(s: &LoopSettings) -> LooperConfig {
    LooperConfig {
        tracks: s.tracks.clamp(1, crate::engine::looper::MAX_TRACKS as u32) as usize,
        max_secs: (s.minutes_per_track * 60.0).max(1.0),
        undo_levels: s.undo_levels.max(1) as usize,
        crossfade_frames: s.crossfade_frames.max(1),
        sync: sync_mode(s),
        quantize: quantize(s.quantize),
    }
}

pub fn draw(ui: &mut egui::Ui, state: &PanelState, actions: &mut Vec<Action>) {
    let sizes = theme::sizes(state.settings.easy_mode);
    let lang = state.lang();
    if state.loops.is_empty() {
        ui.add_space(sizes.gap * 2.0);
        ui.label(
            RichText::new(tr(lang, Text::LoopGettingReady))
                .heading()
                .color(theme::WEAK_TEXT),
        );
        return;
    }
    if state.settings.easy_mode {
        easy(ui, state, &sizes, actions);
        return;
    }
    card(ui, &sizes, |ui| beat(ui, state, &sizes, actions));
    ui.add_space(sizes.gap * 0.5);
    card(ui, &sizes, |ui| learn(ui, state, &sizes, actions));
    for (i, track) in state.loops.iter().enumerate() {
        ui.add_space(sizes.gap * 0.5);
        let stroke = if state.selected.includes(i) {
            egui::Stroke::new(2.0, theme::ACCENT)
        } else {
            egui::Stroke::NONE
        };
        card_with(ui, &sizes, stroke, |ui| {
            track_row(ui, state, &sizes, i, track, actions)
        });
    }
    ui.add_space(sizes.gap * 0.5);
    card(ui, &sizes, |ui| all_tracks(ui, state, actions));
    ui.add_space(sizes.gap * 0.5);
    card(ui, &sizes, |ui| jam_files(ui, state, &sizes, actions));
}

/// What a save or open wants the user to know, in `lang`.
pub fn note_text(lang: Language, note: JamNote) -> String {
    match note {
        JamNote::SavedBeforeChange(n) => tr_n(lang, Text::JamNoteSavedBefore, n),
        JamNote::RecordingNotSaved(n) => tr_n(lang, Text::JamNoteRecording, n),
        JamNote::GrewWhileSaving(n) | JamNote::ChangedWhileSaving(n) => {
            tr_n(lang, Text::JamNoteChanged, n)
        }
        JamNote::Converted { .. } => tr(lang, Text::JamNoteConverted).to_string(),
        JamNote::DidNotFit(n) => tr_n(lang, Text::JamNoteDidNotFit, n),
    }
}

/// The last save or open in words: (line, is it a problem). Lines after the first are
/// what the user should know about it.
pub fn said_lines(lang: Language, said: &JamSaid) -> Vec<(String, bool)> {
    let notes = |notes: &[JamNote]| -> Vec<(String, bool)> {
        notes.iter().map(|&n| (note_text(lang, n), true)).collect()
    };
    match said {
        JamSaid::Saved { folder, notes: n } => {
            let mut out = vec![(tr_n(lang, Text::JamSavedAs, folder), false)];
            out.extend(notes(n));
            out
        }
        JamSaid::Opened {
            folder,
            trouble,
            problems,
            notes: n,
        } => {
            let mut out = vec![(tr_n(lang, Text::JamOpened, folder), false)];
            match *trouble {
                Some(OpenTrouble::LoopsUnreadable(1)) => {
                    out.push((tr(lang, Text::JamTroubleOneLoop).to_string(), true));
                    // The file by file detail names the files; the jam module words it.
                    out.extend(problems.iter().map(|p| (p.clone(), true)));
                }
                Some(OpenTrouble::LoopsUnreadable(k)) => {
                    out.push((tr_n(lang, Text::JamTroubleLoops, k), true));
                    out.extend(problems.iter().map(|p| (p.clone(), true)));
                }
                Some(
                    OpenTrouble::SessionDamaged { loops } | OpenTrouble::SessionMissing { loops },
                ) => out.push((tr_n(lang, Text::JamTroubleSession, loops), true)),
                None => {}
            }
            out.extend(notes(n));
            out
        }
        JamSaid::Failed { text, why, detail } => {
            let mut line = format!("{} {}", tr(lang, *text), tr(lang, *why));
            if !detail.is_empty() {
                line = format!("{line} ({detail})");
            }
            vec![(line, true)]
        }
    }
}

/// Save the loops under a name, or open a saved jam (asking first when there are loops).
fn jam_files(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let j = &state.jams;
    let idle = j.working.is_none();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(tr(lang, Text::JamSection)).strong());
        ui.add_space(sizes.gap * 0.5);
        let label = ui.label(tr(lang, Text::JamName));
        let mut name = j.name.clone();
        let field = egui::TextEdit::singleline(&mut name).desired_width(sizes.patch_button.x * 1.5);
        if ui.add_enabled(idle, field).labelled_by(label.id).changed() {
            actions.push(Action::JamName(name));
        }
        if ui
            .add_enabled(idle, egui::Button::new(tr(lang, Text::JamSave)))
            .clicked()
        {
            actions.push(Action::SaveJam);
        }
        let listing = j.list.is_some();
        let open = if listing {
            Text::JamCloseList
        } else {
            Text::JamOpen
        };
        if ui
            .add_enabled(idle, egui::Button::new(tr(lang, open)).selected(listing))
            .clicked()
        {
            actions.push(Action::ListJams(!listing));
        }
    });
    match j.working {
        Some(JamWork::Saving) => {
            ui.label(RichText::new(tr(lang, Text::JamSaving)).color(theme::ACCENT));
        }
        Some(JamWork::Opening) => {
            ui.label(RichText::new(tr(lang, Text::JamOpening)).color(theme::ACCENT));
        }
        None => {
            for (line, problem) in j.said.iter().flat_map(|s| said_lines(lang, s)) {
                let colour = if problem { theme::TEXT } else { theme::GOOD };
                ui.add(egui::Label::new(RichText::new(line).color(colour)).wrap());
            }
        }
    }
    if j.confirm_open.is_some() {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(tr(lang, Text::JamReplaceAsk)).strong());
            for (text, answer) in [
                (Text::JamSaveFirst, OpenAnswer::SaveFirst),
                (Text::JamReplace, OpenAnswer::Replace),
                (Text::JamCancel, OpenAnswer::Cancel),
            ] {
                if ui.button(tr(lang, text)).clicked() {
                    actions.push(Action::AnswerOpen(answer));
                }
            }
        });
        return;
    }
    let Some(list) = &j.list else {
        return;
    };
    if list.is_empty() {
        ui.label(RichText::new(tr(lang, Text::JamNoneSaved)).color(theme::WEAK_TEXT));
        return;
    }
    ui.label(RichText::new(tr(lang, Text::JamPick)).color(theme::WEAK_TEXT));
    for jam in list {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(idle, egui::Button::new(&jam.folder))
                .clicked()
            {
                actions.push(Action::OpenJam(jam.dir.clone()));
            }
            let mut about = local_time_text(jam.saved_secs);
            if !jam.name.is_empty() && jam.name != jam.folder {
                about = format!("{}  ·  {about}", jam.name);
            }
            ui.label(RichText::new(about).color(theme::WEAK_TEXT));
        });
    }
}

/// Mute, undo or redo on every track at once (learnable, like every loop button).
fn all_tracks(ui: &mut egui::Ui, state: &PanelState, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let any_undo = state.loops.iter().any(|t| t.undo_levels > 0);
    let any_redo = state.loops.iter().any(|t| t.redo_levels > 0);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(tr(lang, Text::AllTracks)).strong());
        for (text, op, can, why) in [
            (Text::Mute, LoopCommand::Mute, true, None),
            (
                Text::Undo,
                LoopCommand::Undo,
                any_undo,
                Some(Text::NothingToUndoAll),
            ),
            (
                Text::Redo,
                LoopCommand::Redo,
                any_redo,
                Some(Text::NothingToRedoAll),
            ),
        ] {
            let all = ControlAction::HitAll { op };
            let button = egui::Button::new(tr(lang, text)).selected(state.learn.armed == Some(all));
            // While learning, every control can be armed, history or not.
            let enabled = can || state.learn.on;
            let response = ui.add_enabled(enabled, button);
            let response = match why {
                Some(why) if !enabled => greyed_because(response, tr(lang, why)),
                _ => response,
            };
            if response.clicked() {
                actions.push(if state.learn.on {
                    Action::LearnArm(all)
                } else {
                    Action::AllTracks(op)
                });
            }
        }
    });
}

/// A button filled with `fill`, its words white and strong.
fn filled(text: &str, fill: Color32) -> egui::Button<'_> {
    egui::Button::new(RichText::new(text).strong().color(Color32::WHITE)).fill(fill)
}

/// A greyed-out control says why when hovered, and tells a screen reader (and a test) the
/// same in its description.
fn greyed_because(response: egui::Response, why: &str) -> egui::Response {
    response.ctx.accesskit_node_builder(response.id, |node| {
        node.set_description(why);
    });
    response.on_disabled_hover_text(why)
}

/// The big button of a track, coloured by what it does: start (accent), stop (red).
fn state_button(state: u32, text: &str) -> egui::Button<'_> {
    match state {
        0 => filled(text, theme::ACCENT),
        1..=3 => filled(text, theme::STOP),
        _ => egui::Button::new(RichText::new(text).strong()),
    }
}

fn seconds_text(lang: Language, frames: u32, sample_rate: u32) -> String {
    let secs = frames as f32 / sample_rate.max(1) as f32;
    format!("{} s", decimal(lang, secs, 1))
}

fn progress_bar(ui: &mut egui::Ui, size: egui::Vec2, fraction: f32, colour: Color32) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    let radius = CornerRadius::same((rect.height() * 0.3) as u8);
    painter.rect_filled(rect, radius, theme::METER_BACK);
    let w = rect.width() * fraction.clamp(0.0, 1.0);
    if w > 0.5 {
        painter.rect_filled(
            Rect::from_min_size(rect.min, vec2(w, rect.height())),
            radius,
            colour,
        );
    }
}

fn track_row(
    ui: &mut egui::Ui,
    state: &PanelState,
    sizes: &Sizes,
    i: usize,
    track: &LoopTrack,
    actions: &mut Vec<Action>,
) {
    let lang = state.lang();
    let rate = state.snapshot.sample_rate;
    let learning = state.learn.on;
    // While learning, a click arms the control for the next key or pedal instead.
    let press = |op: LoopOp, command: LoopCommand| {
        if learning {
            Action::LearnArm(ControlAction::Hit {
                track: i as u8,
                op: command,
            })
        } else {
            Action::Loop { track: i, op }
        }
    };
    let button_size = vec2(sizes.patch_button.x * 1.5, sizes.patch_button.y);
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.set_width(sizes.meter_label_width);
            ui.horizontal(|ui| {
                let selected = state.selected.includes(i);
                // A click on the name chooses the track for the keys, pads and OSC.
                let name = egui::Button::selectable(
                    selected,
                    RichText::new(tr_n(lang, Text::TrackN, i + 1)).strong(),
                );
                // Also when every track is selected (from OSC): this one alone, then.
                let alone = state.selected == TrackSel::One(i as u8);
                if ui.add(name).clicked() && !alone {
                    actions.push(Action::SelectTrack(i));
                }
                if selected {
                    ui.label(
                        RichText::new(tr(lang, Text::Chosen))
                            .small()
                            .color(theme::ACCENT),
                    );
                }
            });
            ui.label(
                RichText::new(tr(lang, state_text(track.state)))
                    .strong()
                    .color(state_colour(track.state)),
            );
        });
        let text = tr(lang, next_text(track.state));
        let foot = ControlAction::FootSwitch { track: i as u8 };
        if ui
            .add(
                state_button(track.state, text)
                    .min_size(button_size)
                    .selected(state.learn.armed == Some(foot)),
            )
            .clicked()
        {
            actions.push(if learning {
                Action::LearnArm(foot)
            } else {
                Action::FootSwitch(i)
            });
        }
        ui.vertical(|ui| {
            let time = if track.loop_frames == 0 {
                String::new()
            } else if track.state == 2 {
                seconds_text(lang, track.loop_frames, rate)
            } else {
                format!(
                    "{} / {}",
                    seconds_text(lang, track.pos_frames, rate),
                    seconds_text(lang, track.loop_frames, rate)
                )
            };
            ui.label(RichText::new(time).color(theme::WEAK_TEXT));
            let w = ui.available_width().max(80.0);
            progress_bar(
                ui,
                vec2(w, sizes.meter_height),
                track.progress(),
                state_colour(track.state),
            );
        });
    });
    let hold = state.loop_holds.get(i).copied().unwrap_or_default();
    meter_row_named(
        ui,
        lang,
        sizes,
        tr(lang, Text::TrackSound),
        &tr_n(lang, Text::TrackSoundN, i + 1),
        track.level,
        hold,
    );
    if track.full_count > 0 {
        ui.label(
            RichText::new(tr(lang, Text::TrackFull))
                .small()
                .color(theme::WEAK_TEXT),
        );
    }
    ui.horizontal_wrapped(|ui| {
        let has_loop = track.loop_frames > 0 && !track.is_recording();
        let muted = track.state == 10;
        if ui
            .add_enabled(
                has_loop || learning,
                egui::Button::new(tr(lang, Text::Mute)).selected(muted),
            )
            .clicked()
        {
            actions.push(press(LoopOp::Mute, LoopCommand::Mute));
        }
        for (text, op, command, steps, why) in [
            (
                Text::Undo,
                LoopOp::Undo,
                LoopCommand::Undo,
                track.undo_levels,
                Text::NothingToUndo,
            ),
            (
                Text::Redo,
                LoopOp::Redo,
                LoopCommand::Redo,
                track.redo_levels,
                Text::NothingToRedo,
            ),
        ] {
            // Greyed out, not hidden: the row keeps its shape as history comes and goes.
            let enabled = steps > 0 || learning;
            let armed = state.learn.armed
                == Some(ControlAction::Hit {
                    track: i as u8,
                    op: command,
                });
            let button = egui::Button::new(tr(lang, text)).selected(armed);
            let mut response = ui.add_enabled(enabled, button);
            if !enabled {
                response = greyed_because(response, tr(lang, why));
            }
            if response.clicked() {
                actions.push(press(op, command));
            }
        }
        if state.confirm_clear == Some(i) {
            ui.label(RichText::new(tr_n(lang, Text::ClearAsk, i + 1)).strong());
            if ui
                .add(filled(tr(lang, Text::ClearYes), theme::STOP))
                .clicked()
            {
                actions.push(Action::Loop {
                    track: i,
                    op: LoopOp::Clear,
                });
            }
            if ui.button(tr(lang, Text::ClearNo)).clicked() {
                actions.push(Action::AskClear(None));
            }
        } else if ui
            .add_enabled(
                !track.is_free(),
                egui::Button::new(tr(lang, Text::ClearTrack)),
            )
            .clicked()
        {
            actions.push(Action::AskClear(Some(i)));
        }
        ui.add_space(sizes.gap);
        let db = state.loop_db.get(i).copied().unwrap_or(0.0);
        let name = ui.label(RichText::new(tr(lang, Text::TrackLevel)).strong());
        let mut value = db;
        ui.spacing_mut().slider_width = sizes.patch_button.x;
        let slider = egui::Slider::new(&mut value, TRACK_MIN_DB..=TRACK_MAX_DB)
            .step_by(1.0)
            .show_value(false);
        if ui.add(slider).labelled_by(name.id).changed() {
            actions.push(Action::TrackDb {
                track: i,
                db: value,
            });
        }
        ui.label(RichText::new(db_text(db)).color(theme::ACCENT).strong());
    });
    source_row(ui, state, i, actions);
}

/// What the track records from, in a small chooser: set once, seldom changed.
fn source_row(ui: &mut egui::Ui, state: &PanelState, i: usize, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let now = state.loop_sources.get(i).copied().unwrap_or(SOURCE_INPUTS);
    ui.horizontal(|ui| {
        let name = ui.label(RichText::new(tr(lang, Text::SourceLabel)).color(theme::WEAK_TEXT));
        let all = sources(state.snapshot.inputs.len());
        // Tall enough for every source: none hides below a scroll edge.
        let row = ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
        let chooser = egui::ComboBox::from_id_salt(("loop-source", i))
            .selected_text(source_text(lang, now))
            .height(row * (all.len() + 1) as f32)
            .show_ui(ui, |ui| {
                for source in all {
                    let picked = ui
                        .selectable_label(source == now, source_text(lang, source))
                        .clicked();
                    if picked && source != now {
                        actions.push(Action::LoopSource { track: i, source });
                    }
                }
            });
        chooser.response.labelled_by(name.id);
    });
}

/// The shared beat: what sets it, the tempo (with tap), when loops start, click, count-in.
fn beat(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let s = &state.settings.looper;
    let changed = |f: &dyn Fn(&mut LoopSettings)| {
        let mut new = s.clone();
        f(&mut new);
        Action::Looper(new)
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(tr(lang, Text::CycleFrom)).strong());
        for (tempo, text) in [(false, Text::FirstLoop), (true, Text::Tempo)] {
            let selected = s.follow_tempo == tempo;
            if ui
                .add(egui::Button::new(tr(lang, text)).selected(selected))
                .clicked()
                && !selected
            {
                actions.push(changed(&|n| n.follow_tempo = tempo));
            }
        }
        ui.add_space(sizes.gap);
        let step = vec2(sizes.control_height * 2.2, 0.0);
        for (text, delta) in [
            (Text::Slower, -TEMPO_STEP_BPM),
            (Text::Faster, TEMPO_STEP_BPM),
        ] {
            if delta > 0.0 {
                let colour = if s.follow_tempo {
                    theme::ACCENT
                } else {
                    theme::WEAK_TEXT
                };
                ui.label(RichText::new(bpm_text(s.tempo_bpm)).strong().color(colour));
            }
            if ui
                .add(egui::Button::new(tr(lang, text)).min_size(step))
                .clicked()
            {
                // Changing the tempo means wanting to follow it.
                actions.push(changed(&|n| {
                    n.tempo_bpm = (n.tempo_bpm + delta).clamp(TEMPO_MIN_BPM, TEMPO_MAX_BPM);
                    n.follow_tempo = true;
                }));
            }
        }
        if ui.button(tr(lang, Text::TapTempo)).clicked() {
            actions.push(if state.learn.on {
                Action::LearnArm(ControlAction::TapTempo)
            } else {
                Action::TapTempo(ui.input(|i| i.time))
            });
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(tr(lang, Text::BeatsPerBar)).strong());
        for n in [2u32, 3, 4, 6] {
            let selected = s.beats_per_bar == n;
            if ui
                .add(egui::Button::new(n.to_string()).selected(selected))
                .clicked()
                && !selected
            {
                actions.push(changed(&|new| new.beats_per_bar = n));
            }
        }
        ui.add_space(sizes.gap);
        let click = s.click;
        if ui
            .add(egui::Button::new(tr(lang, Text::Click)).selected(click))
            .clicked()
        {
            actions.push(changed(&|n| n.click = !click));
        }
        let count_in = s.count_in;
        if ui
            .add(egui::Button::new(tr(lang, Text::CountIn)).selected(count_in))
            .clicked()
        {
            actions.push(changed(&|n| n.count_in = !count_in));
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(tr(lang, Text::StartOn)).strong());
        for (q, text) in [
            (LoopQuantize::Off, Text::QuantizeOff),
            (LoopQuantize::Beat, Text::QuantizeBeat),
            (LoopQuantize::Bar, Text::QuantizeBar),
            (LoopQuantize::Cycle, Text::QuantizeCycle),
        ] {
            let selected = s.quantize == q;
            if ui
                .add(egui::Button::new(tr(lang, text)).selected(selected))
                .clicked()
                && !selected
            {
                actions.push(changed(&|n| n.quantize = q));
            }
        }
    });
}

/// MIDI learn: the toggle, what it waits for, what was learned (each with "Forget"),
/// and the keyboard shortcuts in small print.
fn learn(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let l = &state.learn;
    ui.horizontal_wrapped(|ui| {
        if ui
            .add(egui::Button::new(tr(lang, Text::MidiLearn)).selected(l.on))
            .clicked()
        {
            actions.push(Action::Learn(!l.on));
        }
        if !l.on {
            return;
        }
        ui.add_space(sizes.gap * 0.5);
        match (l.armed, l.last) {
            (Some(armed), _) => {
                ui.label(RichText::new(action_text(lang, armed)).strong());
                ui.label(
                    RichText::new(tr(lang, Text::LearnPress))
                        .strong()
                        .color(theme::ACCENT),
                );
                if ui.button(tr(lang, Text::LearnCancel)).clicked() {
                    actions.push(Action::Cancel);
                }
            }
            (None, Some(m)) => {
                let learned = format!(
                    "{} {}",
                    tr(lang, Text::Learned),
                    trigger_text(lang, m.trigger)
                );
                ui.label(RichText::new(learned).strong().color(theme::GOOD));
                ui.label(RichText::new(action_text(lang, m.action)).strong());
            }
            (None, None) => {
                ui.label(RichText::new(tr(lang, Text::LearnPickTarget)).color(theme::WEAK_TEXT));
            }
        }
    });
    if l.on {
        if l.mappings.is_empty() {
            ui.label(RichText::new(tr(lang, Text::NoMappings)).color(theme::WEAK_TEXT));
        }
        for m in &l.mappings {
            ui.horizontal(|ui| {
                ui.label(trigger_text(lang, m.trigger));
                ui.label(RichText::new("–").color(theme::WEAK_TEXT));
                ui.label(RichText::new(action_text(lang, m.action)).strong());
                if ui.button(tr(lang, Text::Forget)).clicked() {
                    actions.push(Action::Forget(m.action));
                }
            });
        }
    }
    ui.label(
        RichText::new(tr(lang, Text::Shortcuts))
            .small()
            .color(theme::WEAK_TEXT),
    );
}

/// Easy mode: one large button for the next loop, and each track's state in big words.
fn easy(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    match easy_track(&state.loops) {
        Some(t) => {
            let track = state.loops[t];
            let (text, fill) = match track.state {
                1 => (Text::DoCancelStart, theme::STOP),
                2 | 3 => (Text::StopLoop, theme::STOP),
                _ => (Text::StartLoop, theme::ACCENT),
            };
            let size = vec2(
                (ui.available_width() * 0.6).max(sizes.patch_button.x * 2.0),
                EASY_BUTTON_HEIGHT,
            );
            let button = egui::Button::new(
                RichText::new(tr(lang, text))
                    .size(sizes.heading * 1.2)
                    .strong()
                    .color(Color32::WHITE),
            )
            .fill(fill)
            .min_size(size);
            ui.horizontal(|ui| {
                if ui.add(button).clicked() {
                    actions.push(Action::Loop {
                        track: t,
                        op: LoopOp::Record,
                    });
                }
            });
        }
        None => {
            ui.label(RichText::new(tr(lang, Text::AllTracksUsed)).heading());
        }
    }
    ui.add_space(sizes.gap);
    for (i, track) in state.loops.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.set_min_height(sizes.meter_height);
            ui.label(RichText::new(tr_n(lang, Text::TrackN, i + 1)).heading());
            ui.label(
                RichText::new(tr(lang, state_text(track.state)))
                    .heading()
                    .strong()
                    .color(state_colour(track.state)),
            );
        });
        progress_bar(
            ui,
            vec2(ui.available_width(), sizes.meter_height),
            track.progress(),
            state_colour(track.state),
        );
        meter_row_named(
            ui,
            lang,
            sizes,
            tr(lang, Text::TrackSound),
            &tr_n(lang, Text::TrackSoundN, i + 1),
            track.level,
            state.loop_holds.get(i).copied().unwrap_or_default(),
        );
        ui.add_space(sizes.gap * 0.5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_big_button_follows_the_foot_switch_cycle_and_says_what_it_does() {
        // Empty → record; recording → record (stops); playing → overdub; overdubbing → overdub.
        assert_eq!(next_op(0), LoopOp::Record);
        assert_eq!(next_op(2), LoopOp::Record);
        assert_eq!(next_op(4), LoopOp::Overdub);
        assert_eq!(next_op(5), LoopOp::Overdub);
        assert_eq!(next_op(10), LoopOp::Mute, "a muted loop is brought back");
        assert_eq!(
            next_op(6),
            LoopOp::Multiply,
            "a second press ends a multiply"
        );
        assert_eq!(next_text(0), Text::DoRecord);
        assert_eq!(next_text(2), Text::DoStopRecording);
        assert_eq!(next_text(4), Text::DoOverdub);
        assert_eq!(next_text(5), Text::DoStopOverdub);
        assert_eq!(state_text(10), Text::StateMuted);
        assert_eq!(state_text(99), Text::StateEmpty);
    }

    #[test]
    fn the_source_chooser_offers_every_input_alone_between_all_and_the_instruments() {
        assert_eq!(
            sources(2),
            [
                SOURCE_INPUTS,
                SOURCE_INPUT_BASE,
                SOURCE_INPUT_BASE + 1,
                SOURCE_INSTRUMENTS,
                SOURCE_MIX
            ]
        );
        let words: Vec<String> = sources(2)
            .into_iter()
            .map(|s| source_text(Language::Bokmal, s))
            .collect();
        assert_eq!(
            words,
            [
                "Alle innganger",
                "Inngang 1",
                "Inngang 2",
                "Instrumentene",
                "Alt som spilles"
            ]
        );
        assert_eq!(
            source_text(Language::English, SOURCE_MIX),
            "Everything playing"
        );
    }

    #[test]
    fn a_learned_pad_reads_like_the_gear_says_it() {
        let pad = Trigger::Note {
            channel: 9,
            key: 36,
        };
        assert_eq!(trigger_text(Language::Bokmal, pad), "tone 36 på kanal 10");
        assert_eq!(
            trigger_text(Language::English, pad),
            "note 36 on channel 10"
        );
        let pedal = Trigger::Cc {
            channel: 0,
            controller: 64,
        };
        assert_eq!(trigger_text(Language::English, pedal), "CC 64 on channel 1");
        let foot = ControlAction::FootSwitch { track: 0 };
        assert_eq!(action_text(Language::Bokmal, foot), "Spor 1: fotbryter");
        let undo = ControlAction::Hit {
            track: 1,
            op: LoopCommand::Undo,
        };
        assert_eq!(action_text(Language::English, undo), "Track 2: Undo");
    }

    #[test]
    fn what_a_save_or_open_says_is_in_the_panels_language() {
        let saved = JamSaid::Saved {
            folder: "Tirsdag".into(),
            notes: vec![JamNote::RecordingNotSaved(2)],
        };
        assert_eq!(
            said_lines(Language::Bokmal, &saved),
            [
                ("Lagret som «Tirsdag».".to_string(), false),
                (
                    "Spor 2 tok opp; det nye opptaket er ikke lagret.".to_string(),
                    true
                )
            ]
        );
        let opened = JamSaid::Opened {
            folder: "old".into(),
            trouble: Some(OpenTrouble::SessionDamaged { loops: 2 }),
            problems: vec!["The session file is damaged (x).".into()],
            notes: vec![JamNote::Converted {
                from_hz: 44_100,
                to_hz: 48_000,
            }],
        };
        let lines = said_lines(Language::English, &opened);
        assert_eq!(lines[0], ("Opened “old”.".to_string(), false));
        assert!(lines[1].0.contains("2 tracks were read"), "{lines:?}");
        assert!(lines[2].0.contains("converted"), "{lines:?}");
        let failed = JamSaid::Failed {
            text: Text::JamSaveFailed,
            why: Text::JamWhyDisk,
            detail: "No space left on device".into(),
        };
        let line = &said_lines(Language::Bokmal, &failed)[0].0;
        assert!(
            line.starts_with("Loopene ble ikke lagret. Det gikk ikke å skrive til disken.")
                && line.ends_with("(No space left on device)"),
            "{line}"
        );
    }

    #[test]
    fn easy_mode_works_on_the_recording_track_then_the_first_free_one() {
        let empty = LoopTrack::default();
        let playing = LoopTrack {
            state: 4,
            loop_frames: 48_000,
            ..empty
        };
        let recording = LoopTrack {
            state: 2,
            loop_frames: 100,
            ..empty
        };
        assert_eq!(easy_track(&[empty, empty]), Some(0));
        assert_eq!(easy_track(&[playing, recording, empty]), Some(1));
        assert_eq!(easy_track(&[playing, empty]), Some(1));
        assert_eq!(easy_track(&[playing, playing]), None);
    }

    #[test]
    fn the_saved_settings_build_the_looper_they_describe() {
        let s = LoopSettings {
            tracks: 2,
            minutes_per_track: 0.5,
            undo_levels: 3,
            follow_tempo: true,
            tempo_bpm: 90.0,
            beats_per_bar: 3,
            quantize: LoopQuantize::Bar,
            ..LoopSettings::default()
        };
        let c = looper_config(&s);
        assert_eq!((c.tracks, c.max_secs, c.undo_levels), (2, 30.0, 3));
        assert_eq!(
            c.sync,
            SyncMode::Tempo {
                bpm: 90.0,
                beats_per_bar: 3
            }
        );
        assert_eq!(c.quantize, Quantize::Bar);
        // What Settings says is what the looper holds: two tracks of 30 s stereo f32,
        // a full loop each and three twentieths of one for the undo levels to share.
        let built = crate::controller::build_looper(&c, 48_000).memory_bytes();
        assert_eq!(c.bytes(48_000), built as u64);
        let full = 2 * 30 * 48_000 * 8;
        assert!(
            (full + full * 3 / 20..full + full * 3 / 20 + full / 50).contains(&built),
            "{built} bytes"
        );
    }
}
