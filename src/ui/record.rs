//! The Record view: one big button that records a take after the count-in, the count-in
//! shown large, the song's tracks as lanes with their takes and dropout marks, and (not
//! in easy mode) a new song, throwing a take away and saving the song.

use eframe::egui::{self, Color32, RichText};

use super::i18n::{tr, tr_n, Text};
use super::state::{Action, PanelState, RecordAction};
use super::theme::{self, card, Sizes};
use crate::control::songs::LaneTake;

pub fn draw(ui: &mut egui::Ui, state: &PanelState, actions: &mut Vec<Action>) {
    let sizes = theme::sizes(state.settings.easy_mode);
    let lang = state.lang();
    let r = &state.record;
    let d = &r.desk;
    if let Some(why) = &r.unavailable {
        ui.label(
            RichText::new(format!("{} {why}", tr(lang, Text::RecordUnavailable)))
                .color(theme::PROBLEM),
        );
        return;
    }
    let act = |a: RecordAction| Action::Record(a);
    card(ui, &sizes, |ui| {
        ui.horizontal(|ui| {
            match &d.song {
                Some(name) => ui.label(
                    RichText::new(format!("{} {name}", tr(lang, Text::RecordSong)))
                        .size(sizes.heading)
                        .strong(),
                ),
                None => {
                    ui.label(RichText::new(tr(lang, Text::RecordNoSong)).color(theme::WEAK_TEXT))
                }
            };
            if !state.settings.easy_mode && d.recording.is_none() {
                ui.add_space(sizes.gap);
                if ui.button(tr(lang, Text::RecordNewSong)).clicked() {
                    actions.push(act(RecordAction::NewSong));
                }
            }
        });
        if let Some(secs) = d.room_secs {
            ui.label(
                RichText::new(tr_n(
                    lang,
                    Text::RecordRoom,
                    crate::disk::space::time_text(secs),
                ))
                .color(theme::WEAK_TEXT),
            );
        }
        ui.add_space(sizes.gap * 0.5);
        let big = egui::vec2(sizes.patch_button.x * 1.6, sizes.control_height * 1.8);
        ui.horizontal(|ui| {
            let (text, fill, what) = if d.recording.is_some() {
                (tr(lang, Text::RecordStop), theme::STOP, RecordAction::Stop)
            } else {
                (
                    tr(lang, Text::RecordStart),
                    theme::PROBLEM,
                    RecordAction::Start,
                )
            };
            let button = egui::Button::new(
                RichText::new(text)
                    .size(sizes.heading * 1.3)
                    .strong()
                    .color(Color32::WHITE),
            )
            .fill(fill)
            .min_size(big);
            if ui.add(button).clicked() {
                actions.push(act(what));
            }
            ui.add_space(sizes.gap);
            // The count-in, large, then the take's time.
            match (d.recording, d.position) {
                (Some(_), Some(p)) if p < 0 && d.beat_frames > 0 => {
                    let beats = ((-p) as u64).div_ceil(d.beat_frames);
                    ui.label(
                        RichText::new(tr_n(lang, Text::RecordCountIn, beats))
                            .size(sizes.heading * 1.8)
                            .strong()
                            .color(theme::ACCENT),
                    );
                }
                (Some(_), Some(p)) => {
                    let secs = p as f64 / d.sample_rate.max(1) as f64;
                    ui.label(
                        RichText::new(format!(
                            "{} {}:{:02}",
                            tr(lang, Text::RecordRecording),
                            (secs / 60.0) as u64,
                            (secs % 60.0) as u64
                        ))
                        .size(sizes.heading * 1.5)
                        .strong()
                        .color(theme::STOP),
                    );
                }
                _ => {}
            }
        });
        if d.recording.is_some() && !state.settings.easy_mode {
            ui.add_space(sizes.gap * 0.5);
            if ui.button(tr(lang, Text::RecordDiscardRunning)).clicked() {
                actions.push(act(RecordAction::DiscardRunning));
            }
        }
    });
    ui.add_space(sizes.gap * 0.5);
    for (k, found) in r.recovered.iter().enumerate() {
        card(ui, &sizes, |ui| {
            let secs = found.frames / found.sample_rate.max(1) as u64;
            let what = format!(
                "{}:{:02}, {} – {}",
                secs / 60,
                secs % 60,
                tr_n(lang, Text::TrackN, found.track + 1),
                found.song
            );
            ui.label(
                RichText::new(tr_n(lang, Text::RecordRecoveredN, what))
                    .size(sizes.body)
                    .color(theme::TEXT),
            );
            ui.horizontal(|ui| {
                if ui.button(tr(lang, Text::RecordKeepRecovered)).clicked() {
                    actions.push(act(RecordAction::KeepRecovered(k)));
                }
                // Easy mode shows nothing that can lose a take: the therapist decides.
                if !state.settings.easy_mode
                    && ui.button(tr(lang, Text::RecordDiscardRecovered)).clicked()
                {
                    actions.push(act(RecordAction::DiscardRecovered(k)));
                }
            });
        });
        ui.add_space(sizes.gap * 0.25);
    }
    lanes(ui, state, &sizes, actions);
    if !state.settings.easy_mode && d.song.is_some() && d.recording.is_none() {
        ui.add_space(sizes.gap * 0.5);
        card(ui, &sizes, |ui| stretch(ui, state, actions));
    }
    if let Some(done) = r.exporting.filter(|_| !state.settings.easy_mode) {
        ui.add_space(sizes.gap * 0.5);
        card(ui, &sizes, |ui| {
            ui.horizontal(|ui| {
                let percent = (done * 100.0).floor() as usize;
                ui.add(
                    egui::ProgressBar::new(done)
                        .desired_width(ui.available_width() * 0.6)
                        .text(tr_n(lang, Text::RecordSavingN, percent)),
                );
                if ui.button(tr(lang, Text::RecordCancel)).clicked() {
                    actions.push(act(RecordAction::CancelExport));
                }
            });
        });
    } else if !state.settings.easy_mode && d.song.is_some() && d.recording.is_none() {
        ui.add_space(sizes.gap * 0.5);
        card(ui, &sizes, |ui| {
            ui.horizontal_wrapped(|ui| {
                let has_takes = d.lanes.iter().any(|l| !l.takes.is_empty());
                for (text, what) in [
                    (Text::RecordDiscardLast, RecordAction::DiscardLast),
                    (Text::RecordExportWav, RecordAction::ExportWav),
                    (Text::RecordExportPhone, RecordAction::ExportPhone),
                ] {
                    if ui
                        .add_enabled(has_takes, egui::Button::new(tr(lang, text)))
                        .clicked()
                    {
                        actions.push(act(what));
                    }
                }
            });
        });
    }
    for (line, problem) in r.said.iter().rev().take(3).rev() {
        ui.label(RichText::new(line).color(if *problem {
            theme::PROBLEM
        } else {
            theme::WEAK_TEXT
        }));
    }
}

/// Each track a lane: its takes placed along the song, kept ones filled, thrown away
/// ones outlined, dropouts as red marks.
fn lanes(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let d = &state.record.desk;
    let stretch = stretch_frames(d);
    let end = d
        .lanes
        .iter()
        .flat_map(|l| l.takes.iter().map(|t| t.start + t.frames))
        .max()
        .unwrap_or(0)
        .max(d.position.unwrap_or(0).max(0) as u64)
        .max(stretch.map_or(0, |(_, b)| b))
        .max(1);
    for (i, lane) in d.lanes.iter().enumerate() {
        card(ui, sizes, |ui| {
            ui.horizontal(|ui| {
                let recording = d.recording == Some(i);
                // Tracks are named as made ("Track 2"); that name is shown in the panel's language.
                let name = if lane.name == format!("Track {}", i + 1) {
                    tr_n(lang, Text::TrackN, i + 1)
                } else {
                    lane.name.clone()
                };
                ui.label(RichText::new(name).strong().color(if recording {
                    theme::STOP
                } else {
                    theme::TEXT
                }));
                let dropouts: usize = lane
                    .takes
                    .iter()
                    .filter(|t| t.kept)
                    .map(|t| t.dropouts)
                    .sum();
                if dropouts > 0 {
                    ui.label(
                        RichText::new(tr_n(lang, Text::RecordDropoutsN, dropouts))
                            .color(theme::PROBLEM),
                    );
                }
                if lane.takes.is_empty() && !recording {
                    ui.label(
                        RichText::new(tr(lang, Text::RecordTrackEmpty)).color(theme::WEAK_TEXT),
                    );
                }
                if !state.settings.easy_mode
                    && d.recording.is_none()
                    && ui.small_button(tr(lang, Text::RecordHere)).clicked()
                {
                    actions.push(Action::Record(RecordAction::StartOn(i)));
                }
            });
            let (rect, _) = ui.allocate_exact_size(
                egui::vec2(ui.available_width(), sizes.meter_height * 2.5),
                egui::Sense::hover(),
            );
            let p = ui.painter_at(rect);
            p.rect_filled(rect, 4.0, theme::METER_BACK);
            let x = |f: u64| rect.left() + rect.width() * (f as f32 / end as f32);
            // The stretch the next take records: a frame of its own under the takes.
            if let Some((a, b)) = stretch {
                let r = egui::Rect::from_x_y_ranges(x(a)..=x(b), rect.y_range());
                p.rect_filled(r, 4.0, theme::BUTTON_PRESSED);
            }
            for t in &lane.takes {
                let r =
                    egui::Rect::from_x_y_ranges(x(t.start)..=x(t.start + t.frames), rect.y_range());
                if t.kept {
                    p.rect_filled(r, 4.0, theme::ACCENT);
                    waveform(&p, r, t, theme::TEXT);
                } else {
                    waveform(&p, r, t, theme::WEAK_TEXT);
                    p.rect_stroke(
                        r,
                        4.0,
                        egui::Stroke::new(1.5, theme::WEAK_TEXT),
                        egui::StrokeKind::Inside,
                    );
                }
                dropout_marks(&p, r, t);
            }
            if let Some(t) = d.live.as_ref().filter(|_| d.recording == Some(i)) {
                let r =
                    egui::Rect::from_x_y_ranges(x(t.start)..=x(t.start + t.frames), rect.y_range());
                p.rect_filled(r, 4.0, theme::STOP);
                waveform(&p, r, t, theme::TEXT);
                dropout_marks(&p, r, t);
            }
        });
        ui.add_space(sizes.gap * 0.25);
    }
}

/// The frames a punch or a cycle records, if the song has one.
fn stretch_frames(d: &crate::control::songs::DeskView) -> Option<(u64, u64)> {
    let rate = d.sample_rate as f64;
    let bar = d.beat_frames * d.beats_per_bar.max(1) as u64;
    match (d.punch, d.cycle) {
        (Some((a, b)), _) => Some(((a * rate) as u64, (b * rate) as u64)),
        (None, Some((first, last))) => {
            Some((first.saturating_sub(1) as u64 * bar, last as u64 * bar))
        }
        (None, None) => None,
    }
}

/// A punch (replace seconds A to B of a track) or a cycle (go round bars A to B), the two
/// ways to record a stretch; turning one on turns the other off.
fn stretch(ui: &mut egui::Ui, state: &PanelState, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let d = &state.record.desk;
    let ms = |secs: f64| (secs.max(0.0) * 1000.0).round() as u64;
    let song_secs = d
        .lanes
        .iter()
        .flat_map(|l| l.takes.iter().map(|t| t.start + t.frames))
        .max()
        .unwrap_or(0) as f64
        / d.sample_rate.max(1) as f64;
    ui.horizontal_wrapped(|ui| {
        let mut on = d.punch.is_some();
        if ui.checkbox(&mut on, tr(lang, Text::RecordPunch)).changed() {
            // The middle third of what is recorded, in tenths of a second.
            let (a, b) = if song_secs >= 3.0 {
                (
                    (song_secs / 3.0 * 10.0).round() / 10.0,
                    (song_secs * 2.0 / 3.0 * 10.0).round() / 10.0,
                )
            } else {
                (2.0, 6.0)
            };
            actions.push(Action::Record(RecordAction::Punch(
                on.then(|| (ms(a), ms(b))),
            )));
        }
        if let Some((mut a, mut b)) = d.punch {
            let from = ui.label(tr(lang, Text::RecordFrom));
            let ra = ui
                .add(
                    egui::DragValue::new(&mut a)
                        .range(0.0..=(b - 0.1).max(0.0))
                        .speed(0.1)
                        .max_decimals(1)
                        .suffix(" s"),
                )
                .labelled_by(from.id);
            let to = ui.label(tr(lang, Text::RecordTo));
            let rb = ui
                .add(
                    egui::DragValue::new(&mut b)
                        .range(a + 0.1..=24.0 * 3600.0)
                        .speed(0.1)
                        .max_decimals(1)
                        .suffix(" s"),
                )
                .labelled_by(to.id);
            if ra.changed() || rb.changed() {
                actions.push(Action::Record(RecordAction::Punch(Some((ms(a), ms(b))))));
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        let mut on = d.cycle.is_some();
        if ui.checkbox(&mut on, tr(lang, Text::RecordCycle)).changed() {
            actions.push(Action::Record(RecordAction::Cycle(on.then_some((1, 4)))));
        }
        if let Some((mut a, mut b)) = d.cycle {
            let from = ui.label(tr(lang, Text::RecordFrom));
            let ra = ui
                .add(egui::DragValue::new(&mut a).range(1..=b).speed(0.1))
                .labelled_by(from.id);
            let to = ui.label(tr(lang, Text::RecordTo));
            let rb = ui
                .add(
                    egui::DragValue::new(&mut b)
                        .range(a..=crate::session::song::MAX_BAR)
                        .speed(0.1),
                )
                .labelled_by(to.id);
            if ra.changed() || rb.changed() {
                actions.push(Action::Record(RecordAction::Cycle(Some((a, b)))));
            }
        }
    });
}

/// The take's overview drawn in its place.
fn waveform(p: &egui::Painter, r: egui::Rect, t: &LaneTake, color: egui::Color32) {
    use crate::disk::overview::FRAMES_PER_PEAK;
    let first = (t.offset / FRAMES_PER_PEAK) as usize;
    let count = t.frames.div_ceil(FRAMES_PER_PEAK) as usize;
    if let Some(peaks) = t.peaks.get(first..) {
        super::meter::peaks(p, r, &peaks[..count.min(peaks.len())], color);
    }
}

/// Where the device dropped out during the take: a red line each.
fn dropout_marks(p: &egui::Painter, r: egui::Rect, t: &LaneTake) {
    for m in &t.dropout_marks {
        let xm = r.left() + r.width() * (*m as f32 / t.frames.max(1) as f32);
        p.line_segment(
            [egui::pos2(xm, r.top()), egui::pos2(xm, r.bottom())],
            egui::Stroke::new(2.0, theme::PROBLEM),
        );
    }
}
