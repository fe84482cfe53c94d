//! The panel's look: calm, warm colours with strong text contrast, and the sizes of
//! normal and easy mode (easy mode: every control at least 48 px high, bigger text).

use eframe::egui::{
    self, Color32, CornerRadius, FontFamily, FontId, Stroke, Style, TextStyle, Vec2,
};

pub const BACKGROUND: Color32 = Color32::from_rgb(0xF4, 0xF1, 0xEA);
pub const BAR: Color32 = Color32::from_rgb(0xE9, 0xE4, 0xDA);
pub const TEXT: Color32 = Color32::from_rgb(0x2B, 0x30, 0x33);
pub const WEAK_TEXT: Color32 = Color32::from_rgb(0x5E, 0x63, 0x66);
pub const BUTTON: Color32 = Color32::from_rgb(0xE3, 0xDD, 0xD1);
pub const BUTTON_HOVER: Color32 = Color32::from_rgb(0xD8, 0xD1, 0xC3);
pub const BUTTON_PRESSED: Color32 = Color32::from_rgb(0xCC, 0xC4, 0xB4);
pub const ACCENT: Color32 = Color32::from_rgb(0x2F, 0x6F, 0x78);
pub const METER_BACK: Color32 = Color32::from_rgb(0xDD, 0xD7, 0xCB);
pub const METER_OK: Color32 = Color32::from_rgb(0x5E, 0x9C, 0x6E);
pub const METER_LOUD: Color32 = Color32::from_rgb(0xD8, 0xA2, 0x3C);
pub const METER_TOO_LOUD: Color32 = Color32::from_rgb(0xC0, 0x55, 0x45);
pub const PEAK_MARK: Color32 = Color32::from_rgb(0x33, 0x5C, 0x40);
pub const LAMP_OFF: Color32 = Color32::from_rgb(0xC9, 0xC2, 0xB4);
pub const LAMP_ON: Color32 = METER_LOUD;
pub const GOOD: Color32 = METER_OK;
pub const PROBLEM: Color32 = Color32::from_rgb(0xB0, 0x45, 0x35);
pub const STOP: Color32 = Color32::from_rgb(0xA8, 0x48, 0x3A);

/// Sizes that differ between normal and easy mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizes {
    pub body: f32,
    pub heading: f32,
    pub small: f32,
    /// The least height of anything clickable.
    pub control_height: f32,
    pub patch_button: Vec2,
    pub meter_height: f32,
    pub meter_label_width: f32,
    pub gap: f32,
}

pub fn sizes(easy: bool) -> Sizes {
    if easy {
        Sizes {
            body: 24.0,
            heading: 32.0,
            small: 19.0,
            control_height: 56.0,
            // Three to a row in half of a 1024 px window.
            patch_button: Vec2::new(148.0, 84.0),
            meter_height: 30.0,
            meter_label_width: 160.0,
            gap: 16.0,
        }
    } else {
        Sizes {
            body: 17.0,
            heading: 24.0,
            small: 14.5,
            control_height: 36.0,
            patch_button: Vec2::new(128.0, 56.0),
            meter_height: 20.0,
            meter_label_width: 130.0,
            gap: 10.0,
        }
    }
}

/// The whole style for one mode; built when the mode changes, not every frame.
pub fn style(easy: bool) -> Style {
    let s = sizes(easy);
    let mut style = Style {
        visuals: visuals(),
        ..Style::default()
    };
    let p = FontFamily::Proportional;
    style.text_styles = [
        (TextStyle::Heading, FontId::new(s.heading, p.clone())),
        (TextStyle::Body, FontId::new(s.body, p.clone())),
        (TextStyle::Button, FontId::new(s.body, p.clone())),
        (TextStyle::Small, FontId::new(s.small, p)),
        (
            TextStyle::Monospace,
            FontId::new(s.body, FontFamily::Monospace),
        ),
    ]
    .into();
    let sp = &mut style.spacing;
    sp.item_spacing = Vec2::splat(s.gap);
    sp.button_padding = Vec2::new(s.gap * 1.4, s.gap * 0.6);
    sp.interact_size = Vec2::new(s.control_height, s.control_height);
    sp.slider_rail_height = if easy { 14.0 } else { 8.0 };
    sp.scroll.bar_width = if easy { 18.0 } else { 10.0 };
    style
}

fn visuals() -> egui::Visuals {
    let mut v = egui::Visuals::light();
    v.panel_fill = BACKGROUND;
    v.window_fill = BACKGROUND;
    v.extreme_bg_color = METER_BACK;
    v.faint_bg_color = BAR;
    v.selection.bg_fill = ACCENT;
    v.selection.stroke = Stroke::new(1.5, Color32::WHITE);
    v.slider_trailing_fill = true;
    let radius = CornerRadius::same(10);
    let w = &mut v.widgets;
    w.noninteractive.fg_stroke = Stroke::new(1.0, TEXT);
    w.noninteractive.bg_stroke = Stroke::new(1.0, BUTTON_PRESSED);
    for (state, fill) in [
        (&mut w.inactive, BUTTON),
        (&mut w.hovered, BUTTON_HOVER),
        (&mut w.active, BUTTON_PRESSED),
        (&mut w.open, BUTTON_HOVER),
    ] {
        state.bg_fill = fill;
        state.weak_bg_fill = fill;
        state.fg_stroke = Stroke::new(1.5, TEXT);
        state.corner_radius = radius;
        state.bg_stroke = Stroke::NONE;
        state.expansion = 0.0;
    }
    w.hovered.bg_stroke = Stroke::new(1.0, ACCENT);
    v
}

/// A card: the calm rounded box each part of a view sits in.
pub fn card(ui: &mut egui::Ui, sizes: &Sizes, body: impl FnOnce(&mut egui::Ui)) {
    card_with(ui, sizes, egui::Stroke::NONE, body);
}

/// A card with an edge: the selected track's is drawn in the accent colour.
pub fn card_with(
    ui: &mut egui::Ui,
    sizes: &Sizes,
    stroke: egui::Stroke,
    body: impl FnOnce(&mut egui::Ui),
) {
    egui::Frame::new()
        .fill(BAR)
        .stroke(stroke)
        .corner_radius(12)
        .inner_margin(sizes.gap)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            body(ui);
        });
}
