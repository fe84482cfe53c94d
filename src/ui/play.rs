//! The "Play" view: instrument choice, the stop button, level meters and the volume.

use eframe::egui::{self, RichText};

use super::i18n::{db_text, patch_text, tr, tr_n, Text};
use super::meter::{limiter_lamp, meter_row};
use super::state::{Action, PanelState, MASTER_MAX_DB, MASTER_MIN_DB, MASTER_STEP_DB};
use super::theme::{self, Sizes};
use crate::controller::SoundFontState;
use crate::engine::Patch;

/// Below this width the two halves stack instead of sitting side by side.
const TWO_COLUMNS_FROM: f32 = 900.0;

pub fn draw(ui: &mut egui::Ui, state: &PanelState, actions: &mut Vec<Action>) {
    let sizes = theme::sizes(state.settings.easy_mode);
    if ui.available_width() >= TWO_COLUMNS_FROM {
        ui.columns(2, |cols| {
            instruments(&mut cols[0], state, &sizes, actions);
            levels(&mut cols[1], state, &sizes, actions);
        });
    } else {
        instruments(ui, state, &sizes, actions);
        ui.add_space(sizes.gap * 2.0);
        levels(ui, state, &sizes, actions);
    }
}

fn instruments(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    ui.heading(tr(lang, Text::ChooseInstrument));
    ui.add_space(sizes.gap * 0.5);
    ui.horizontal_wrapped(|ui| {
        for patch in Patch::ALL {
            let selected = state.settings.patch == patch;
            let button = egui::Button::new(tr(lang, patch_text(patch)))
                .selected(selected)
                .min_size(sizes.patch_button);
            if ui.add(button).clicked() && !selected {
                actions.push(Action::Patch(patch));
            }
        }
    });
    ui.add_space(sizes.gap * 0.5);
    let (text, detail) = match &state.snapshot.soundfont {
        SoundFontState::BuiltIn => (tr(lang, Text::SoundFontBuiltIn).to_string(), None),
        SoundFontState::Loading(_) => (tr(lang, Text::SoundFontLoading).to_string(), None),
        SoundFontState::Ready(name) => (format!("{} {name}", tr(lang, Text::SoundFontReady)), None),
        SoundFontState::Failed(why) => (tr(lang, Text::SoundFontFailed).to_string(), Some(why)),
    };
    let label = ui.label(RichText::new(text).small().color(theme::WEAK_TEXT));
    if let Some(why) = detail {
        label.on_hover_text(why.as_str());
    }
    ui.add_space(sizes.gap * 1.5);
    let stop = egui::Button::new(
        RichText::new(tr(lang, Text::StopAllNotes))
            .strong()
            .color(egui::Color32::WHITE),
    )
    .fill(theme::STOP)
    .min_size(egui::vec2(
        sizes.patch_button.x * 2.0,
        sizes.patch_button.y * 0.8,
    ));
    // In a row of its own so the column's justified layout does not stretch it.
    ui.horizontal(|ui| {
        if ui.add(stop).clicked() {
            actions.push(Action::AllNotesOff);
        }
    });
}

fn levels(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let snap = &state.snapshot;
    ui.heading(tr(lang, Text::Levels));
    ui.add_space(sizes.gap * 0.5);
    for (i, (level, hold)) in snap.inputs.iter().zip(&state.input_holds).enumerate() {
        let name = tr_n(lang, Text::InputN, i + 1);
        meter_row(ui, lang, sizes, &name, *level, *hold);
        // A therapist's setting: easy mode leaves it as it is.
        if !state.settings.easy_mode {
            monitor_toggle(ui, state, sizes, i, actions);
        }
    }
    let instruments = tr(lang, Text::Instruments);
    meter_row(
        ui,
        lang,
        sizes,
        instruments,
        snap.instruments,
        state.instruments_hold,
    );
    let speakers = tr(lang, Text::Speakers);
    meter_row(ui, lang, sizes, speakers, snap.master, state.master_hold);
    limiter_lamp(ui, lang, sizes, snap.limiter_reduction_db);
    ui.add_space(sizes.gap);
    volume(ui, state, sizes, actions);
}

/// "Hear through Samspill" for input `i`: off for an interface that lets the player hear
/// the input directly. Loops record the input either way.
fn monitor_toggle(
    ui: &mut egui::Ui,
    state: &PanelState,
    sizes: &Sizes,
    i: usize,
    actions: &mut Vec<Action>,
) {
    let lang = state.lang();
    let on = state.input_monitor.get(i).copied().unwrap_or(true);
    ui.horizontal(|ui| {
        // Under the meter's bar, past its name.
        ui.add_space(sizes.meter_label_width);
        let button =
            egui::Button::new(RichText::new(tr(lang, Text::HearInput)).small()).selected(on);
        if ui
            .add(button)
            .on_hover_text(tr(lang, Text::HearInputHint))
            .clicked()
        {
            actions.push(Action::InputMonitor { input: i, on: !on });
        }
    });
}

/// The master volume: a slider in dB, with "Quieter"/"Louder" for those who cannot drag.
fn volume(ui: &mut egui::Ui, state: &PanelState, sizes: &Sizes, actions: &mut Vec<Action>) {
    let lang = state.lang();
    let db = state.settings.master_db;
    let name = ui
        .horizontal(|ui| {
            let name = ui.label(RichText::new(tr(lang, Text::Volume)).strong());
            ui.label(RichText::new(db_text(db)).color(theme::ACCENT).strong());
            name
        })
        .inner;
    let step_width = egui::vec2(sizes.control_height * 2.2, 0.0);
    ui.horizontal(|ui| {
        let mut to = None;
        if ui
            .add(egui::Button::new(tr(lang, Text::Quieter)).min_size(step_width))
            .clicked()
        {
            to = Some(db - MASTER_STEP_DB);
        }
        // The slider takes what the two buttons leave.
        let gap = ui.spacing().item_spacing.x;
        ui.spacing_mut().slider_width = (ui.available_width() - step_width.x - 2.0 * gap).max(80.0);
        let mut value = db;
        let slider = egui::Slider::new(&mut value, MASTER_MIN_DB..=MASTER_MAX_DB)
            .step_by(1.0)
            .show_value(false);
        let r = ui.add(slider).labelled_by(name.id);
        if r.changed() {
            actions.push(Action::MasterDb(value));
        }
        // Saved when let go, not on every step of a drag.
        if r.drag_stopped() || (r.changed() && !r.dragged()) {
            actions.push(Action::Save);
        }
        if ui
            .add(egui::Button::new(tr(lang, Text::Louder)).min_size(step_width))
            .clicked()
        {
            to = Some(db + MASTER_STEP_DB);
        }
        if let Some(to) = to {
            actions.push(Action::MasterDb(to.clamp(MASTER_MIN_DB, MASTER_MAX_DB)));
            actions.push(Action::Save);
        }
    });
}
