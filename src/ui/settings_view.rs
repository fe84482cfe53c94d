//! The "Settings" view: the sound (host, devices, rate, buffer with its delay in ms,
//! MIDI keyboards, Apply), the display (language, easy mode) and the loop memory (tracks,
//! minutes per track, undo steps, crossfade, and what that costs in MB), and remote
//! control over OSC on this computer.

use eframe::egui::{self, Align, Layout, RichText};

use super::i18n::{bytes_text, decimal, language_text, ms_text, rate_text, tr, tr_n, Text};
use super::jam::looper_config;
use super::state::{Action, PanelState};
use super::theme::{self, Sizes};
use crate::session::settings::{AudioHost, Language, ListenSettings, LoopSettings};

pub const SAMPLE_RATES: [u32; 3] = [44_100, 48_000, 96_000];
/// Powers of two only: other sizes glitch on PipeWire.
pub const BUFFER_SIZES: [u32; 6] = [64, 128, 256, 512, 1024, 2048];
pub const LOOP_TRACKS: [u32; 4] = [1, 2, 4, 8];
pub const LOOP_MINUTES: [f32; 4] = [0.5, 1.0, 2.0, 5.0];
pub const UNDO_LEVELS: [u32; 4] = [1, 2, 4, 8];
pub const CROSSFADES: [u32; 4] = [32, 64, 128, 256];

pub fn draw(ui: &mut egui::Ui, state: &PanelState, actions: &mut Vec<Action>) {
    let sizes = theme::sizes(state.settings.easy_mode);
    // Language and size first: what anyone may need; the sound is for whoever sets up.
    section(ui, &sizes, tr(state.lang(), Text::ViewSection), |ui| {
        display(ui, state, &sizes, actions)
    });
    ui.add_space(sizes.gap);
    section(ui, &sizes, tr(state.lang(), Text::SoundSection), |ui| {
        sound(ui, state, &sizes, actions)
    });
    ui.add_space(sizes.gap);
    section(ui, &sizes, tr(state.lang(), Text::LoopSection), |ui| {
        loops(ui, state, &sizes, actions)
    });
    ui.add_space(sizes.gap);
    section(ui, &sizes, tr(state.lang(), Text::SettingsListen), |ui| {
        listening(ui, state, &sizes, actions)
    });
    ui.add_space(sizes.gap);
    section(ui, &sizes, tr(state.lang(), Text::OscSection), |ui| {
        osc(ui, state, sizes.gap, actions)
    });
}

/// OSC: on or off, and where it listens (127.0.0.1 only), or why it does not.
fn osc(ui: &mut egui::Ui, state: &PanelState, gap: f32, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let on = state.settings.osc_enabled;
    ui.horizontal_wrapped(|ui| {
        let toggle = egui::Button::new(tr(lang, Text::OscToggle)).selected(on);
        if ui.add(toggle).clicked() {
            actions.push(Action::Osc(!on));
        }
        ui.add_space(gap);
        match (on, state.osc.addr) {
            (true, Some(addr)) => {
                ui.label(
                    RichText::new(format!("OSC: {addr}"))
                        .strong()
                        .color(theme::ACCENT),
                );
            }
            (true, None) if state.osc.busy => {
                ui.label(tr(lang, Text::OscBusy));
            }
            (true, None) => {}
            (false, _) => {
                ui.label(tr(lang, Text::OscOff));
            }
        }
    });
    hint(ui, tr(lang, Text::OscHint));
}

/// Loop memory: every choice shows what it costs, since it is all set aside at start.
/// Listening: the pause and stop fade, running on to the next song, how deep talk dips.
fn listening(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let s = &state.settings.listen;
    let changed = |f: &dyn Fn(&mut ListenSettings)| {
        let mut new = s.clone();
        f(&mut new);
        Action::ListenSettings(new)
    };
    row(ui, sizes, tr(lang, Text::ListenFadeSecs), |ui| {
        for secs in [0.3f32, 0.5, 0.75, 1.0] {
            let places = if (secs * 10.0).fract() == 0.0 { 1 } else { 2 };
            if choice(ui, s.fade_secs == secs, &decimal(lang, secs, places)) {
                actions.push(changed(&|l| l.fade_secs = secs));
            }
        }
    });
    row(ui, sizes, tr(lang, Text::ListenTalkDepth), |ui| {
        for db in [6.0f32, 10.0, 15.0, 20.0, 30.0] {
            if choice(ui, s.talk_depth_db == db, &decimal(lang, db, 0)) {
                actions.push(changed(&|l| l.talk_depth_db = db));
            }
        }
    });
    row(ui, sizes, tr(lang, Text::ListenMicDips), |ui| {
        if choice(ui, s.mic_input.is_none(), tr(lang, Text::ListenMicOff)) {
            actions.push(changed(&|l| l.mic_input = None));
        }
        for i in 0..state.snapshot.inputs.len() {
            if choice(
                ui,
                s.mic_input == Some(i),
                &tr_n(lang, Text::ListenMicInput, i + 1),
            ) {
                actions.push(changed(&|l| l.mic_input = Some(i)));
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        let toggle = egui::Button::new(tr(lang, Text::ListenRunOn)).selected(s.run_on);
        if ui.add(toggle).clicked() {
            actions.push(changed(&|l| l.run_on = !l.run_on));
        }
    });
}

fn loops(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let s = &state.settings.looper;
    let rate = match state.snapshot.sample_rate {
        0 => state.settings.audio.sample_rate,
        r => r,
    };
    let changed = |f: &dyn Fn(&mut LoopSettings)| {
        let mut new = s.clone();
        f(&mut new);
        Action::Looper(new)
    };
    row(ui, sizes, tr(lang, Text::LoopTracks), |ui| {
        for n in LOOP_TRACKS {
            if choice(ui, s.tracks == n, &n.to_string()) {
                actions.push(changed(&|l| l.tracks = n));
            }
        }
    });
    row(ui, sizes, tr(lang, Text::MinutesPerTrack), |ui| {
        for m in LOOP_MINUTES {
            let places = if m.fract() == 0.0 { 0 } else { 1 };
            if choice(ui, s.minutes_per_track == m, &decimal(lang, m, places)) {
                actions.push(changed(&|l| l.minutes_per_track = m));
            }
        }
    });
    row(ui, sizes, tr(lang, Text::UndoLevels), |ui| {
        for n in UNDO_LEVELS {
            if choice(ui, s.undo_levels == n, &n.to_string()) {
                actions.push(changed(&|l| l.undo_levels = n));
            }
        }
    });
    row(ui, sizes, tr(lang, Text::Crossfade), |ui| {
        for n in CROSSFADES {
            if choice(ui, s.crossfade_frames == n, &ms_text(lang, n, rate)) {
                actions.push(changed(&|l| l.crossfade_frames = n));
            }
        }
    });
    row(ui, sizes, tr(lang, Text::LatencyOffset), |ui| {
        let ms = s.latency_offset_ms;
        if ui.button("− 1 ms").clicked() {
            actions.push(changed(&|l| l.latency_offset_ms = (ms - 1.0).max(-200.0)));
        }
        ui.label(RichText::new(format!("{} ms", decimal(lang, ms, 0))).strong());
        if ui.button("+ 1 ms").clicked() {
            actions.push(changed(&|l| l.latency_offset_ms = (ms + 1.0).min(200.0)));
        }
    });
    hint(ui, tr(lang, Text::LatencyOffsetHint));
    ui.horizontal(|ui| {
        let bytes = looper_config(s).bytes(rate);
        let memory = format!("{} {}", tr(lang, Text::LoopMemory), bytes_text(lang, bytes));
        ui.label(RichText::new(memory).strong().color(theme::ACCENT));
    });
    hint(ui, tr(lang, Text::LoopMemoryHint));
}

fn section(ui: &mut egui::Ui, sizes: &Sizes, title: &str, body: impl FnOnce(&mut egui::Ui)) {
    egui::Frame::new()
        .fill(theme::BAR)
        .corner_radius(12)
        .inner_margin(sizes.gap * 1.5)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.heading(title);
            ui.add_space(sizes.gap * 0.5);
            body(ui);
        });
}

/// A labelled row: the name in a fixed column, the choices flowing after it.
fn row(ui: &mut egui::Ui, sizes: &Sizes, name: &str, body: impl FnOnce(&mut egui::Ui)) {
    ui.horizontal(|ui| {
        let width = sizes.meter_label_width * 1.5;
        ui.allocate_ui_with_layout(
            egui::vec2(width, sizes.control_height),
            Layout::left_to_right(Align::Center),
            |ui| {
                ui.set_min_width(width);
                ui.label(RichText::new(name).strong());
            },
        );
        ui.vertical(|ui| ui.horizontal_wrapped(body));
    });
}

fn choice(ui: &mut egui::Ui, selected: bool, text: &str) -> bool {
    ui.add(egui::Button::new(text).selected(selected)).clicked() && !selected
}

fn hint(ui: &mut egui::Ui, text: &str) {
    ui.label(RichText::new(text).small().color(theme::WEAK_TEXT));
}

fn sound(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let draft = &state.draft;
    let apart = state.settings.click_apart;
    ui.horizontal_wrapped(|ui| {
        let toggle = egui::Button::new(tr(lang, Text::ClickApartToggle)).selected(apart);
        if ui.add(toggle).clicked() {
            actions.push(Action::ClickApart(!apart));
        }
    });
    hint(ui, tr(lang, Text::ClickApartHint));
    row(ui, sizes, tr(lang, Text::AudioSystem), |ui| {
        for (host, text) in [
            (AudioHost::Alsa, Text::HostAlsa),
            (AudioHost::Jack, Text::HostJack),
            (AudioHost::None, Text::HostNone),
        ] {
            if choice(ui, draft.host == host, tr(lang, text)) {
                actions.push(Action::Host(host));
            }
        }
    });
    if draft.host == AudioHost::None {
        hint(ui, tr(lang, Text::HostNoneHint));
    } else {
        device_row(
            ui,
            state,
            sizes,
            Text::SoundOut,
            &state.devices.outputs,
            &draft.output_device,
            &mut |d| actions.push(Action::OutputDevice(d)),
        );
        device_row(
            ui,
            state,
            sizes,
            Text::SoundIn,
            &state.devices.inputs,
            &draft.input_device,
            &mut |d| actions.push(Action::InputDevice(d)),
        );
    }
    if draft.host == AudioHost::Jack {
        hint(ui, tr(lang, Text::JackDecides));
    } else {
        row(ui, sizes, tr(lang, Text::SampleRate), |ui| {
            let mut rates = SAMPLE_RATES.to_vec();
            if !rates.contains(&draft.sample_rate) {
                rates.push(draft.sample_rate);
            }
            for rate in rates {
                if choice(ui, draft.sample_rate == rate, &rate_text(lang, rate)) {
                    actions.push(Action::SampleRate(rate));
                }
            }
        });
        row(ui, sizes, tr(lang, Text::BufferSize), |ui| {
            for frames in BUFFER_SIZES {
                if choice(ui, draft.buffer_frames == frames, &frames.to_string()) {
                    actions.push(Action::BufferFrames(frames));
                }
            }
            ui.add_space(sizes.gap);
            let latency = format!(
                "{} {}",
                tr(lang, Text::Latency),
                ms_text(lang, draft.buffer_frames, draft.sample_rate)
            );
            ui.label(RichText::new(latency).strong().color(theme::ACCENT));
        });
        hint(ui, tr(lang, Text::BufferHint));
    }
    ui.add_space(sizes.gap * 0.5);
    row(ui, sizes, tr(lang, Text::MidiKeyboards), |ui| {
        if state.devices.midi.is_empty() {
            ui.label(tr(lang, Text::NoMidi));
        }
        for port in &state.devices.midi {
            ui.label(RichText::new(port).color(theme::TEXT));
        }
    });
    ui.add_space(sizes.gap);
    ui.horizontal(|ui| {
        let apply = egui::Button::new(
            RichText::new(tr(lang, Text::Apply))
                .strong()
                .color(egui::Color32::WHITE),
        )
        .fill(theme::ACCENT)
        .min_size(egui::vec2(sizes.patch_button.x * 1.3, sizes.control_height));
        if ui.add_enabled(!state.opening, apply).clicked() {
            actions.push(Action::ApplyAudio);
        }
        if state.opening {
            // Words, not a spinner: a spinner redraws the window all the time.
            ui.label(RichText::new(tr(lang, Text::Opening)).color(theme::TEXT));
        }
        if ui.button(tr(lang, Text::LookAgain)).clicked() {
            actions.push(Action::LookForDevices);
        }
    });
}

/// Devices to choose from; the one in the settings stays listed even when unplugged.
fn device_row(
    ui: &mut egui::Ui,
    state: &PanelState,
    sizes: &Sizes,
    name: Text,
    found: &[String],
    chosen: &Option<String>,
    pick: &mut dyn FnMut(Option<String>),
) {
    let lang = state.lang();
    row(ui, sizes, tr(lang, name), |ui| {
        if choice(ui, chosen.is_none(), tr(lang, Text::SystemDefault)) {
            pick(None);
        }
        for device in found {
            if choice(ui, chosen.as_deref() == Some(device.as_str()), device) {
                pick(Some(device.clone()));
            }
        }
        if let Some(missing) = chosen.as_ref().filter(|c| !found.contains(c)) {
            let text = format!("{missing} {}", tr(lang, Text::NotConnected));
            choice(ui, true, &text);
        }
        if found.is_empty() {
            hint(ui, tr(lang, Text::NoneFound));
        }
    });
}

/// Language and size on one row, so the sound settings below fit a small screen.
fn display(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let easy = state.settings.easy_mode;
    row(ui, sizes, tr(lang, Text::Language), |ui| {
        for l in [Language::Bokmal, Language::English] {
            if choice(ui, lang == l, tr(lang, language_text(l))) {
                actions.push(Action::Language(l));
            }
        }
        ui.add_space(sizes.gap * 3.0);
        let toggle = egui::Button::new(tr(lang, Text::EasyMode)).selected(easy);
        if ui.add(toggle).clicked() {
            actions.push(Action::EasyMode(!easy));
        }
        hint(ui, tr(lang, Text::EasyModeHint));
    });
}
