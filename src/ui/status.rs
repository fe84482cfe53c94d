//! The status line: how the sound is doing in plain words, and the last problem or
//! confirmation (a failed Apply, a settings file that could not be saved).

use eframe::egui::{self, vec2, Color32, RichText, Sense};

use super::audio::{AudioState, AudioStatus};
use super::i18n::{ms_text, rate_text, tr, tr_n, Text};
use super::state::{Notice, PanelState};
use super::theme;
use crate::session::settings::Language;

/// The audio line's words and whether it is a problem.
pub fn audio_line(lang: Language, status: &AudioStatus, xruns: u64) -> (String, bool) {
    let (mut text, problem) = match status.state {
        AudioState::Starting => (tr(lang, Text::StatusStarting).to_string(), false),
        AudioState::Silent => (tr(lang, Text::StatusSilent).to_string(), false),
        AudioState::Running => {
            let mut parts = vec![tr(lang, Text::StatusRunning).to_string()];
            if !status.device.is_empty() {
                parts.push(status.device.clone());
            }
            if status.sample_rate > 0 {
                parts.push(rate_text(lang, status.sample_rate));
                if status.latency_frames > 0 {
                    parts.push(ms_text(lang, status.latency_frames, status.sample_rate));
                }
            }
            (parts.join("  ·  "), false)
        }
        AudioState::NoDevice => (tr(lang, Text::StatusNoDevice).to_string(), true),
        AudioState::DeviceLost => (tr(lang, Text::StatusDeviceLost).to_string(), true),
        AudioState::Failed => (tr(lang, Text::StatusFailed).to_string(), true),
    };
    if xruns > 0 && status.state == AudioState::Running {
        text = format!("{text}. {}", tr_n(lang, Text::Stutters, xruns));
    }
    (text, problem)
}

pub fn notice_line(lang: Language, notice: &Notice) -> String {
    if notice.detail.is_empty() {
        tr(lang, notice.text).to_string()
    } else {
        format!("{} {}", tr(lang, notice.text), notice.detail)
    }
}

pub fn status_bar(ui: &mut egui::Ui, state: &PanelState) {
    let lang = state.lang();
    let (text, problem) = audio_line(lang, &state.audio, state.snapshot.xruns);
    let lamp = match (problem, state.audio.state) {
        (true, _) => theme::PROBLEM,
        (false, AudioState::Running) => theme::GOOD,
        _ => theme::LAMP_OFF,
    };
    line(ui, lamp, &text, problem);
    if problem && !state.audio.detail.is_empty() {
        ui.label(
            RichText::new(&state.audio.detail)
                .small()
                .color(theme::WEAK_TEXT),
        );
    }
    if state.opening {
        line(ui, theme::LAMP_OFF, tr(lang, Text::Opening), false);
    }
    let bad = state.snapshot.bad_numbers;
    if bad > 0 {
        line(ui, theme::PROBLEM, &tr_n(lang, Text::BadNumbers, bad), true);
    }
    if let Some(n) = &state.notice {
        let colour = if n.problem {
            theme::PROBLEM
        } else {
            theme::GOOD
        };
        line(ui, colour, &notice_line(lang, n), n.problem);
    }
}

fn line(ui: &mut egui::Ui, lamp: Color32, text: &str, problem: bool) {
    ui.horizontal(|ui| {
        let d = ui.text_style_height(&egui::TextStyle::Body);
        let (rect, _) = ui.allocate_exact_size(vec2(d, d), Sense::hover());
        ui.painter().circle_filled(rect.center(), d * 0.3, lamp);
        let rich = RichText::new(text).color(theme::TEXT);
        ui.add(egui::Label::new(if problem { rich.strong() } else { rich }).wrap());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::settings::AudioHost;

    #[test]
    fn the_status_line_says_what_to_do_in_each_language() {
        let running = AudioStatus {
            state: AudioState::Running,
            host: AudioHost::Alsa,
            device: "USB Audio".into(),
            sample_rate: 48_000,
            buffer_frames: 256,
            latency_frames: 512,
            detail: String::new(),
        };
        let (t, problem) = audio_line(Language::Bokmal, &running, 0);
        assert!(!problem);
        assert_eq!(t, "Lyden er på  ·  USB Audio  ·  48 kHz  ·  10,7 ms");
        let (t, _) = audio_line(Language::English, &running, 3);
        assert!(t.contains("stuttered 3 times"), "{t}");
        let lost = AudioStatus {
            state: AudioState::DeviceLost,
            ..running
        };
        let (t, problem) = audio_line(Language::English, &lost, 0);
        assert!(problem);
        assert!(t.contains("unplugged"));
    }
}
