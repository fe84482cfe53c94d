//! The Listen view: the song playing, large transport buttons and the talk button, the
//! list with songs that cannot play and why, and (not in easy mode) where to open songs
//! from: a typed path, the Music folder, USB sticks, or songs dragged onto the window.

use std::path::PathBuf;

use eframe::egui::{self, Color32, RichText};

use super::i18n::{tr, tr_n, Text};
use super::state::{Action, ListenAction, PanelState};
use super::theme::{self, card};
use crate::control::listen::time_text;
use crate::session::playlist::Problem;

/// Where a therapist's songs usually are: the Music folder and mounted USB sticks.
pub fn places() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Some(music) = directories::UserDirs::new().and_then(|u| u.audio_dir().map(PathBuf::from))
    {
        if music.is_dir() {
            out.push(("music".to_string(), music));
        }
    }
    let user = std::env::var("USER").unwrap_or_default();
    for root in ["/media", "/run/media"] {
        let base = PathBuf::from(root).join(&user);
        let Ok(dir) = std::fs::read_dir(&base) else {
            continue;
        };
        let mut sticks: Vec<PathBuf> = dir
            .flatten()
            .map(|d| d.path())
            .filter(|p| p.is_dir())
            .collect();
        sticks.sort();
        for s in sticks {
            let name = s
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((name, s));
        }
    }
    out
}

/// The song from start to end: its waveform (once measured) or a plain bar, the part
/// played, cue points as marks, the A–B stretch shaded; a click there seeks.
fn song_line(ui: &mut egui::Ui, state: &PanelState, len: f64, actions: &mut Vec<Action>) {
    use crate::control::listen::ListenLine;
    let sizes = theme::sizes(state.settings.easy_mode);
    let d = &state.listen.desk;
    let (rect, response) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), sizes.meter_height * 2.5),
        egui::Sense::click(),
    );
    let name = tr(state.lang(), Text::ListenSongLine);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Slider, true, name));
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 4.0, theme::METER_BACK);
    let x = |secs: f64| rect.left() + rect.width() * (secs / len).clamp(0.0, 1.0) as f32;
    if let Some((a, b)) = d.repeat {
        let r = egui::Rect::from_x_y_ranges(x(a)..=x(b), rect.y_range());
        p.rect_filled(r, 4.0, theme::BUTTON_PRESSED);
    }
    let played = egui::Rect::from_x_y_ranges(rect.left()..=x(d.position_secs), rect.y_range());
    match &d.overview {
        Some(o) => {
            // The overview covers the file; drawn over the song's length.
            let secs = o.peaks.len() as f64 * o.secs_per_peak();
            let r = egui::Rect::from_x_y_ranges(rect.left()..=x(secs), rect.y_range());
            super::meter::peaks(&p, r, &o.peaks, theme::WEAK_TEXT);
            let upto = ((d.position_secs / o.secs_per_peak()) as usize).min(o.peaks.len());
            let rp = egui::Rect::from_x_y_ranges(
                rect.left()..=x(upto as f64 * o.secs_per_peak()),
                rect.y_range(),
            );
            super::meter::peaks(&p, rp, &o.peaks[..upto], theme::ACCENT);
        }
        None => {
            p.rect_filled(played, 4.0, theme::ACCENT);
        }
    }
    for c in &d.cues {
        let xc = x(c.at_secs);
        p.line_segment(
            [egui::pos2(xc, rect.top()), egui::pos2(xc, rect.bottom())],
            egui::Stroke::new(
                2.5,
                if c.wait {
                    theme::STOP
                } else {
                    theme::METER_LOUD
                },
            ),
        );
    }
    let xn = x(d.position_secs);
    p.line_segment(
        [egui::pos2(xn, rect.top()), egui::pos2(xn, rect.bottom())],
        egui::Stroke::new(1.5, theme::TEXT),
    );
    if response.clicked() && !state.settings.easy_mode {
        if let Some(at) = response.interact_pointer_pos() {
            let secs = ((at.x - rect.left()) / rect.width()).clamp(0.0, 0.999) as f64 * len;
            actions.push(Action::Listen(ListenAction::Line(ListenLine::Seek(secs))));
        }
    }
}

/// The words beside the song: the line being sung marked, chords above their words.
fn lyrics_card(
    ui: &mut egui::Ui,
    state: &PanelState,
    lyrics: &crate::session::lyrics::Lyrics,
    actions: &mut Vec<Action>,
) {
    let sizes = theme::sizes(state.settings.easy_mode);
    let lang = state.lang();
    let d = &state.listen.desk;
    let has_chords = lyrics.lines.iter().any(|l| !l.chords.is_empty());
    ui.horizontal(|ui| {
        ui.label(RichText::new(tr(lang, Text::ListenLyrics)).strong());
        if has_chords && !state.settings.easy_mode {
            use crate::control::listen::ListenLine;
            if ui.button(tr(lang, Text::ListenTransposeDown)).clicked() {
                actions.push(Action::Listen(ListenAction::Line(ListenLine::Transpose(
                    (d.transpose - 1).max(-11),
                ))));
            }
            ui.label(format!("{:+}", d.transpose));
            if ui.button(tr(lang, Text::ListenTransposeUp)).clicked() {
                actions.push(Action::Listen(ListenAction::Line(ListenLine::Transpose(
                    (d.transpose + 1).min(11),
                ))));
            }
        }
    });
    // A timed text: a few lines before the one sung and more after; the rest scrolls.
    let (from, to) = match d.lyric_line {
        Some(i) => (i.saturating_sub(2), (i + 7).min(lyrics.lines.len())),
        None if lyrics.timed => (0, 8.min(lyrics.lines.len())),
        None => (0, lyrics.lines.len()),
    };
    egui::ScrollArea::vertical()
        .max_height(sizes.body * 14.0)
        .show(ui, |ui| {
            for (i, line) in lyrics.lines.iter().enumerate().take(to).skip(from) {
                if !line.chords.is_empty() {
                    let mut above = String::new();
                    for (at, chord) in &line.chords {
                        let col = above.chars().count();
                        if *at > col {
                            above.push_str(&" ".repeat(at - col));
                        } else if col > 0 {
                            above.push(' ');
                        }
                        above.push_str(chord);
                    }
                    ui.label(
                        RichText::new(above)
                            .monospace()
                            .size(sizes.body)
                            .strong()
                            .color(theme::ACCENT),
                    );
                }
                let mut words = RichText::new(&line.words).size(sizes.body);
                if !line.chords.is_empty() {
                    words = words.monospace();
                }
                if line.comment {
                    words = words.italics().color(theme::WEAK_TEXT);
                } else if d.lyric_line == Some(i) {
                    words = words.strong().size(sizes.heading).color(theme::ACCENT);
                }
                ui.label(words);
            }
        });
}

/// Cue points, the A–B repeat, notes on the song and on the session.
fn talking_card(ui: &mut egui::Ui, state: &PanelState, actions: &mut Vec<Action>) {
    use crate::control::listen::ListenLine;
    let lang = state.lang();
    let l = &state.listen;
    let d = &l.desk;
    let line = |x: ListenLine| Action::Listen(ListenAction::Line(x));
    let cues = ui.label(RichText::new(tr(lang, Text::ListenCues)).strong());
    for (i, c) in d.cues.iter().enumerate() {
        ui.horizontal(|ui| {
            let wait = if c.wait {
                format!(" ({})", tr(lang, Text::ListenWaits))
            } else {
                String::new()
            };
            ui.label(format!("{}  {}{wait}", time_text(c.at_secs), c.prompt));
            if ui.small_button(tr(lang, Text::ListenRemove)).clicked() {
                actions.push(line(ListenLine::Uncue(i)));
            }
        });
    }
    ui.horizontal_wrapped(|ui| {
        let mut prompt = l.prompt.clone();
        let field = egui::TextEdit::singleline(&mut prompt)
            .hint_text(tr(lang, Text::ListenPromptHint))
            .desired_width(ui.available_width() * 0.45);
        if ui.add(field).labelled_by(cues.id).changed() {
            actions.push(Action::Listen(ListenAction::Prompt(prompt.clone())));
        }
        let ready = !prompt.trim().is_empty();
        for (text, wait) in [(Text::ListenCueHere, false), (Text::ListenCueWait, true)] {
            if ui
                .add_enabled(ready, egui::Button::new(tr(lang, text)))
                .clicked()
            {
                actions.push(line(ListenLine::Cue(None, prompt.trim().to_string(), wait)));
            }
        }
    });
    ui.horizontal_wrapped(|ui| match d.repeat {
        Some((a, b)) => {
            ui.label(
                RichText::new(tr_n(
                    lang,
                    Text::ListenRepeating,
                    format!("{}–{}", time_text(a), time_text(b)),
                ))
                .strong()
                .color(theme::ACCENT),
            );
            if ui.button(tr(lang, Text::ListenRepeatOff)).clicked() {
                actions.push(line(ListenLine::Repeat(None)));
            }
        }
        None => {
            let here = d.position_secs;
            if ui.button(tr(lang, Text::ListenRepeatA)).clicked() {
                actions.push(Action::Listen(ListenAction::MarkA(here)));
            }
            if let Some(a) = l.repeat_a.filter(|a| here >= a + 0.1) {
                if ui.button(tr(lang, Text::ListenRepeatB)).clicked() {
                    actions.push(line(ListenLine::Repeat(Some((a, here)))));
                }
            }
        }
    });
    let mut note = l.note.clone().unwrap_or_else(|| d.notes.clone());
    let name = ui.label(RichText::new(tr(lang, Text::ListenNotes)).strong());
    let r = ui
        .add(
            egui::TextEdit::multiline(&mut note)
                .desired_rows(2)
                .desired_width(ui.available_width()),
        )
        .labelled_by(name.id);
    if r.changed() {
        actions.push(Action::Listen(ListenAction::NoteDraft(note.clone())));
    }
    if r.lost_focus() && l.note.is_some() {
        actions.push(line(ListenLine::Note(note)));
    }
    let mut session = l
        .session_note
        .clone()
        .unwrap_or_else(|| d.session_note.clone());
    let name = ui.label(RichText::new(tr(lang, Text::ListenSessionNote)).strong());
    let r = ui
        .add(
            egui::TextEdit::multiline(&mut session)
                .desired_rows(2)
                .desired_width(ui.available_width()),
        )
        .labelled_by(name.id);
    if r.changed() {
        actions.push(Action::Listen(ListenAction::SessionDraft(session.clone())));
    }
    if r.lost_focus() && l.session_note.is_some() {
        actions.push(line(ListenLine::SessionNote(session)));
    }
}

/// The song chooser: the folder, its folders to go into, its songs and lists to play,
/// or the whole folder.
fn chooser(
    ui: &mut egui::Ui,
    state: &PanelState,
    f: &crate::control::listen::Folder,
    actions: &mut Vec<Action>,
) {
    let lang = state.lang();
    let act = |a: ListenAction| Action::Listen(a);
    ui.separator();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(f.dir.display().to_string()).strong());
        if let Some(up) = f.dir.parent() {
            if ui.button(tr(lang, Text::ListenUp)).clicked() {
                actions.push(act(ListenAction::Choose(Some(up.to_owned()))));
            }
        }
        if !f.songs.is_empty() && ui.button(tr(lang, Text::ListenPlayFolder)).clicked() {
            actions.push(act(ListenAction::Open(vec![f.dir.clone()])));
        }
        if ui.button(tr(lang, Text::ListenClose)).clicked() {
            actions.push(act(ListenAction::Choose(None)));
        }
    });
    if let Some(p) = &f.problem {
        ui.label(
            RichText::new(format!("{} ({p})", tr(lang, Text::ProblemUnreadable)))
                .color(theme::PROBLEM),
        );
    }
    let name = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    egui::ScrollArea::vertical()
        .id_salt("chooser")
        .max_height(260.0)
        .show(ui, |ui| {
            for d in &f.folders {
                if ui.button(format!("{}/", name(d))).clicked() {
                    actions.push(act(ListenAction::Choose(Some(d.clone()))));
                }
            }
            for s in &f.songs {
                if ui.button(name(s)).clicked() {
                    actions.push(act(ListenAction::Open(vec![s.clone()])));
                }
            }
        });
}

/// Why a song cannot play, in the panel's language (a system's own words after it).
fn problem_text(lang: crate::session::settings::Language, p: &Problem) -> String {
    match p {
        Problem::Missing => tr(lang, Text::ProblemMissing).to_string(),
        Problem::NotOnThisMachine(path) => tr_n(lang, Text::ProblemWindows, path),
        Problem::Folder => tr(lang, Text::ProblemFolder).to_string(),
        Problem::WebAddress => tr(lang, Text::ProblemWeb).to_string(),
        Problem::Unreadable(why) => format!("{} ({why})", tr(lang, Text::ProblemUnreadable)),
        Problem::NotSound => tr(lang, Text::ProblemNotSound).to_string(),
        Problem::Codec(c) => tr_n(lang, Text::ProblemCodec, c),
        Problem::Broken(why) => format!("{} ({why})", tr(lang, Text::ProblemBroken)),
    }
}

pub fn draw(ui: &mut egui::Ui, state: &PanelState, actions: &mut Vec<Action>) {
    let easy = state.settings.easy_mode;
    let sizes = theme::sizes(easy);
    let lang = state.lang();
    let l = &state.listen;
    let d = &l.desk;
    let act = |a: ListenAction| Action::Listen(a);
    card(ui, &sizes, |ui| {
        match d.playing.and_then(|i| d.queue.get(i)) {
            Some(song) => {
                ui.label(
                    RichText::new(&song.title)
                        .size(sizes.heading * 1.2)
                        .strong()
                        .color(theme::TEXT),
                );
                let length = d
                    .secs
                    .map(|s| format!(" / {}", time_text(s)))
                    .unwrap_or_default();
                let mut line = format!("{}{length}", time_text(d.position_secs));
                if d.paused {
                    line = format!("{line}  ·  {}", tr(lang, Text::ListenPaused));
                }
                if !easy {
                    line = format!(
                        "{line}  ·  {}",
                        tr_n(
                            lang,
                            Text::ListenLevel,
                            format!(
                                "{}{}",
                                if d.gain_db >= 0.0 { "+" } else { "−" },
                                super::i18n::decimal(lang, d.gain_db.abs() as f32, 1)
                            )
                        )
                    );
                }
                ui.label(RichText::new(line).size(sizes.body).color(theme::WEAK_TEXT));
                if let Some(len) = d.secs.filter(|s| *s > 0.0) {
                    song_line(ui, state, len, actions);
                }
            }
            None => {
                ui.label(
                    RichText::new(tr(lang, Text::ListenNothing))
                        .size(sizes.body)
                        .color(theme::WEAK_TEXT),
                );
            }
        }
        ui.add_space(sizes.gap * 0.5);
        let big = egui::vec2(sizes.patch_button.x, sizes.control_height * 1.4);
        let button = |text: &str, fill: Color32, white: bool| {
            egui::Button::new(
                RichText::new(text)
                    .size(sizes.heading)
                    .strong()
                    .color(if white { Color32::WHITE } else { theme::TEXT }),
            )
            .fill(fill)
            .min_size(big)
        };
        ui.horizontal_wrapped(|ui| {
            let playing = d.playing.is_some();
            let (text, what) = match (playing, d.paused) {
                (true, false) => (Text::ListenPause, Some(ListenAction::Pause)),
                (true, true) => (Text::ListenResume, Some(ListenAction::Resume)),
                (false, _) => (
                    Text::ListenPlay,
                    (!d.queue.is_empty()).then_some(ListenAction::PlayAt(0)),
                ),
            };
            let main = ui.add_enabled(what.is_some(), button(tr(lang, text), theme::ACCENT, true));
            if main.clicked() {
                if let Some(w) = what {
                    actions.push(act(w));
                }
            }
            let more = d.playing.is_some_and(|i| i + 1 < d.queue.len());
            if ui
                .add_enabled(
                    more,
                    button(tr(lang, Text::ListenNext), theme::BUTTON, false),
                )
                .clicked()
            {
                actions.push(act(ListenAction::Next));
            }
            let talk = if d.talk {
                button(tr(lang, Text::ListenTalk), theme::STOP, true)
            } else {
                button(tr(lang, Text::ListenTalk), theme::BUTTON, false)
            };
            if ui.add(talk).clicked() {
                actions.push(act(ListenAction::Talk(!d.talk)));
            }
        });
        if d.talk {
            ui.label(
                RichText::new(tr(lang, Text::ListenTalking))
                    .size(sizes.body)
                    .color(theme::STOP),
            );
        }
        if !easy && d.playing.is_some() {
            ui.horizontal(|ui| {
                if ui.button(tr(lang, Text::ListenBack)).clicked() {
                    actions.push(act(ListenAction::Skip(-15.0)));
                }
                if ui.button(tr(lang, Text::ListenForward)).clicked() {
                    actions.push(act(ListenAction::Skip(15.0)));
                }
                if ui.button(tr(lang, Text::ListenStop)).clicked() {
                    actions.push(act(ListenAction::Stop));
                }
            });
        }
    });
    ui.add_space(sizes.gap * 0.5);
    if let Some(p) = &d.prompt {
        card(ui, &sizes, |ui| {
            ui.label(
                RichText::new(p)
                    .size(sizes.heading * 1.4)
                    .strong()
                    .color(theme::ACCENT),
            );
        });
        ui.add_space(sizes.gap * 0.5);
    }
    if let Some(lyrics) = &d.lyrics {
        card(ui, &sizes, |ui| lyrics_card(ui, state, lyrics, actions));
        ui.add_space(sizes.gap * 0.5);
    }
    if !easy && d.playing.is_some() {
        card(ui, &sizes, |ui| talking_card(ui, state, actions));
        ui.add_space(sizes.gap * 0.5);
    }
    if !d.queue.is_empty() {
        card(ui, &sizes, |ui| {
            ui.label(RichText::new(tr(lang, Text::ListenList)).strong());
            for (i, song) in d.queue.iter().enumerate() {
                let now = d.playing == Some(i);
                let length = song
                    .secs
                    .map(|s| format!("  {}", time_text(s)))
                    .unwrap_or_default();
                let text = format!("{}. {}{length}", i + 1, song.title);
                let mut rich = RichText::new(text).size(sizes.body);
                if now {
                    rich = rich.strong().color(theme::ACCENT);
                }
                ui.horizontal_wrapped(|ui| {
                    if song.problem.is_none() {
                        if ui.add(egui::Button::new(rich).frame(false)).clicked() {
                            actions.push(act(ListenAction::PlayAt(i)));
                        }
                    } else {
                        ui.label(rich.color(theme::WEAK_TEXT));
                    }
                    if let Some(p) = &song.problem {
                        ui.label(RichText::new(problem_text(lang, p)).color(theme::PROBLEM));
                    }
                });
            }
            let (done, asked) = d.scanned;
            if done < asked && !easy {
                ui.label(
                    RichText::new(tr_n(
                        lang,
                        Text::ListenMeasuring,
                        format!("{done} / {asked}"),
                    ))
                    .color(theme::WEAK_TEXT),
                );
            }
        });
        ui.add_space(sizes.gap * 0.5);
    }
    if !easy {
        card(ui, &sizes, |ui| {
            ui.horizontal(|ui| {
                let mut path = l.path.clone();
                let field = egui::TextEdit::singleline(&mut path)
                    .hint_text(tr(lang, Text::ListenPathHint))
                    .desired_width(ui.available_width() * 0.6);
                let r = ui.add(field);
                if r.changed() {
                    actions.push(act(ListenAction::Path(path.clone())));
                }
                let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let open = ui.add_enabled(
                    !path.trim().is_empty(),
                    egui::Button::new(tr(lang, Text::ListenOpen)),
                );
                if open.clicked() || (enter && !path.trim().is_empty()) {
                    actions.push(act(ListenAction::Open(vec![PathBuf::from(path.trim())])));
                }
            });
            ui.horizontal_wrapped(|ui| {
                for (name, path) in &l.places {
                    let text = if name == "music" {
                        tr(lang, Text::ListenMusicFolder).to_string()
                    } else {
                        tr_n(lang, Text::ListenStick, name)
                    };
                    if ui.button(text).clicked() {
                        actions.push(act(ListenAction::Open(vec![path.clone()])));
                    }
                }
                if ui.button(tr(lang, Text::ListenLookAgain)).clicked() {
                    actions.push(act(ListenAction::LookForPlaces));
                }
                if ui.button(tr(lang, Text::ListenChoose)).clicked() {
                    let start = l
                        .places
                        .first()
                        .map(|(_, p)| p.clone())
                        .or_else(|| directories::UserDirs::new().map(|u| u.home_dir().to_owned()))
                        .unwrap_or_else(|| PathBuf::from("/"));
                    actions.push(act(ListenAction::Choose(Some(start))));
                }
            });
            if let Some(f) = &l.chooser {
                chooser(ui, state, f, actions);
            }
            ui.label(RichText::new(tr(lang, Text::ListenDropHint)).color(theme::WEAK_TEXT));
        });
    }
    for (line, problem) in l.said.iter().rev().take(3).rev() {
        ui.label(RichText::new(line).color(if *problem {
            theme::PROBLEM
        } else {
            theme::WEAK_TEXT
        }));
    }
}
