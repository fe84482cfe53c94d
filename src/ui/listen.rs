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
                        tr_n(lang, Text::ListenLevel, format!("{:+.1}", d.gain_db))
                    );
                }
                ui.label(RichText::new(line).size(sizes.body).color(theme::WEAK_TEXT));
                if let Some(len) = d.secs.filter(|s| *s > 0.0) {
                    let done = (d.position_secs / len).clamp(0.0, 1.0) as f32;
                    ui.add(egui::ProgressBar::new(done).desired_width(ui.available_width()));
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
            });
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
