//! Level meters: a bar for the RMS (what the ear hears) with a mark at the peak, held
//! for a moment so a person can read it, and the limiter lamp.

use eframe::egui::{self, pos2, vec2, Color32, CornerRadius, Rect, RichText, Sense, Stroke};

use super::i18n::{db_text, tr, Text};
use super::theme::{self, Sizes};
use crate::engine::Level;
use crate::session::settings::Language;

/// The quietest level a meter shows; below it reads "silent".
pub const FLOOR_DB: f32 = -60.0;
/// A peak stays put this long before it falls.
const HOLD_SECS: f32 = 1.2;
const FALL_DB_PER_SEC: f32 = 20.0;

pub fn gain_to_db(gain: f32) -> f32 {
    if gain <= 0.0 {
        f32::NEG_INFINITY
    } else {
        20.0 * gain.log10()
    }
}

/// A peak reading that holds, then falls gently: block peaks flicker too fast to read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeakHold {
    pub db: f32,
    held_secs: f32,
}

impl Default for PeakHold {
    fn default() -> Self {
        Self {
            db: FLOOR_DB,
            held_secs: 0.0,
        }
    }
}

impl PeakHold {
    pub fn update(&mut self, peak_gain: f32, dt_secs: f32) {
        let now = gain_to_db(peak_gain).max(FLOOR_DB);
        if now >= self.db {
            self.db = now;
            self.held_secs = 0.0;
        } else {
            self.held_secs += dt_secs;
            if self.held_secs > HOLD_SECS {
                self.db = (self.db - FALL_DB_PER_SEC * dt_secs).max(now);
            }
        }
    }
}

fn fraction(db: f32) -> f32 {
    ((db - FLOOR_DB) / -FLOOR_DB).clamp(0.0, 1.0)
}

fn colour(db: f32) -> Color32 {
    if db > -1.0 {
        theme::METER_TOO_LOUD
    } else if db > -9.0 {
        theme::METER_LOUD
    } else {
        theme::METER_OK
    }
}

/// One row: name, bar, and the held peak in words ("-12 dB" or "silent").
pub fn meter_row(
    ui: &mut egui::Ui,
    lang: Language,
    sizes: &Sizes,
    name: &str,
    level: Level,
    hold: PeakHold,
) {
    row(ui, lang, sizes, name, None, level, hold);
}

/// A [`meter_row`] whose bar also tells a screen reader (and a test) what it shows: a
/// level indicator called `spoken`, its value the held peak in words and its number how
/// full the bar is (0–100). For rows whose short name needs context ("Sound" of a track).
pub fn meter_row_named(
    ui: &mut egui::Ui,
    lang: Language,
    sizes: &Sizes,
    name: &str,
    spoken: &str,
    level: Level,
    hold: PeakHold,
) {
    row(ui, lang, sizes, name, Some(spoken), level, hold);
}

/// How full a meter's bar is drawn for `level`, 0–100 (its RMS against the floor).
pub fn bar_percent(level: Level) -> f64 {
    (f64::from(fraction(gain_to_db(level.rms))) * 100.0).round()
}

fn row(
    ui: &mut egui::Ui,
    lang: Language,
    sizes: &Sizes,
    name: &str,
    spoken: Option<&str>,
    level: Level,
    hold: PeakHold,
) {
    let label_h = sizes
        .meter_height
        .max(ui.text_style_height(&egui::TextStyle::Body));
    low_row(ui, label_h, |ui| {
        ui.allocate_ui_with_layout(
            vec2(sizes.meter_label_width, label_h),
            egui::Layout::left_to_right(egui::Align::Center),
            |ui| {
                ui.set_min_width(sizes.meter_label_width);
                ui.add(egui::Label::new(name).truncate());
            },
        );
        let value_width = sizes.meter_label_width * 0.6;
        let bar_width =
            (ui.available_width() - value_width - ui.spacing().item_spacing.x).max(60.0);
        let (rect, bar) =
            ui.allocate_exact_size(vec2(bar_width, sizes.meter_height), Sense::hover());
        paint_bar(ui, rect, gain_to_db(level.rms), hold.db);
        let value = if hold.db <= FLOOR_DB {
            tr(lang, Text::Silent).to_string()
        } else {
            db_text(hold.db)
        };
        if let Some(spoken) = spoken {
            bar.widget_info(|| {
                let mut info = egui::WidgetInfo::labeled(
                    egui::accesskit::Role::Meter,
                    ui.is_enabled(),
                    spoken,
                );
                info.current_text_value = Some(value.clone());
                info.value = Some(bar_percent(level));
                info
            });
        }
        ui.add_sized(
            vec2(value_width, label_h),
            egui::Label::new(RichText::new(value).color(theme::WEAK_TEXT)),
        );
    });
}

/// A row only as tall as its content: nothing in it is clicked, so it needs none of
/// the height controls get (which would spread the meters apart in easy mode).
fn low_row(ui: &mut egui::Ui, height: f32, body: impl FnOnce(&mut egui::Ui)) {
    ui.scope(|ui| {
        ui.spacing_mut().interact_size.y = height;
        ui.horizontal(body);
    });
}

fn paint_bar(ui: &egui::Ui, rect: Rect, rms_db: f32, peak_db: f32) {
    let painter = ui.painter_at(rect);
    let radius = CornerRadius::same((rect.height() * 0.3) as u8);
    painter.rect_filled(rect, radius, theme::METER_BACK);
    let rms_w = rect.width() * fraction(rms_db);
    if rms_w > 0.5 {
        let fill = Rect::from_min_size(rect.min, vec2(rms_w, rect.height()));
        painter.rect_filled(fill, radius, colour(rms_db));
    }
    if peak_db > FLOOR_DB {
        let x = rect.left() + rect.width() * fraction(peak_db);
        let x = x.clamp(rect.left() + 2.0, rect.right() - 2.0);
        painter.line_segment(
            [pos2(x, rect.top() + 2.0), pos2(x, rect.bottom() - 2.0)],
            Stroke::new(3.0, theme::PEAK_MARK),
        );
    }
    // Faint ticks every 12 dB help reading without numbers.
    let mut db = FLOOR_DB + 12.0;
    while db < 0.0 {
        let x = rect.left() + rect.width() * fraction(db);
        painter.line_segment(
            [pos2(x, rect.bottom() - 4.0), pos2(x, rect.bottom())],
            Stroke::new(1.0, theme::WEAK_TEXT.gamma_multiply(0.5)),
        );
        db += 12.0;
    }
}

/// The limiter lamp: lit while the limiter is turning the sound down.
pub fn limiter_lamp(ui: &mut egui::Ui, lang: Language, sizes: &Sizes, reduction_db: f32) {
    let active = reduction_db < -0.5;
    let d = sizes.meter_height;
    low_row(ui, d, |ui| {
        let (rect, _) = ui.allocate_exact_size(vec2(d, d), Sense::hover());
        let fill = if active {
            theme::LAMP_ON
        } else {
            theme::LAMP_OFF
        };
        ui.painter().circle_filled(rect.center(), d * 0.4, fill);
        let mut text = tr(lang, Text::Limiter).to_string();
        if active {
            text = format!("{text}  {}", db_text(reduction_db));
        }
        let colour = if active {
            theme::TEXT
        } else {
            theme::WEAK_TEXT
        };
        ui.label(RichText::new(text).color(colour))
            .on_hover_text(tr(lang, Text::LimiterHint));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peak_holds_then_falls_to_the_level_below() {
        let mut h = PeakHold::default();
        h.update(0.5, 0.03);
        let top = h.db;
        assert!((top - -6.02).abs() < 0.1);
        for _ in 0..30 {
            h.update(0.01, 0.03);
        }
        assert_eq!(h.db, top, "held for a second");
        for _ in 0..200 {
            h.update(0.01, 0.03);
        }
        assert!(
            (h.db - -40.0).abs() < 0.1,
            "fell to the level below: {}",
            h.db
        );
        h.update(0.0, 0.03);
        assert!(h.db >= FLOOR_DB);
    }

    #[test]
    fn the_bar_is_empty_for_silence_and_fills_with_the_level() {
        let level = |rms| Level { peak: rms, rms };
        assert_eq!(bar_percent(level(0.0)), 0.0);
        assert_eq!(bar_percent(level(0.0005)), 0.0, "below -60 dB");
        assert_eq!(bar_percent(level(1.0)), 100.0);
        // 0.25 RMS is about -12 dB: four fifths of the way up from -60.
        assert_eq!(bar_percent(level(0.25)), 80.0);
    }
}

/// An overview (one byte per 1024 frames: the loudest sample, 0..255) drawn into `r`: a
/// line a pixel wide per column, as loud as the loudest peak under it, on a decibel scale
/// (48 dB tall, as Ardour's logarithmic view), so a quiet singer is still seen.
pub fn peaks(p: &egui::Painter, r: Rect, peaks: &[u8], color: Color32) {
    let columns = r.width().floor() as usize;
    if peaks.is_empty() || columns == 0 {
        return;
    }
    let half = r.height() * 0.45;
    let stroke = Stroke::new(1.0, color);
    for c in 0..columns {
        let a = c * peaks.len() / columns;
        let b = ((c + 1) * peaks.len() / columns)
            .max(a + 1)
            .min(peaks.len());
        let v = peaks[a..b].iter().copied().max().unwrap_or(0) as f32 / 255.0;
        let h = (shown_height(v) * half).max(0.5);
        let x = r.left() + c as f32 + 0.5;
        p.line_segment(
            [pos2(x, r.center().y - h), pos2(x, r.center().y + h)],
            stroke,
        );
    }
}

/// A peak (0..1 of full scale) as a share of the half height: -48 dBFS and below are a
/// hairline, full scale fills it.
fn shown_height(peak: f32) -> f32 {
    const FLOOR_DB: f32 = 48.0;
    if peak <= 0.0 {
        return 0.0;
    }
    ((20.0 * peak.log10() + FLOOR_DB) / FLOOR_DB).clamp(0.0, 1.0)
}

#[cfg(test)]
mod waveform_tests {
    use super::shown_height;

    #[test]
    fn waveforms_are_drawn_in_decibels() {
        assert_eq!(shown_height(0.0), 0.0);
        assert_eq!(shown_height(1.0), 1.0);
        assert!((shown_height(0.5) - (1.0 - 6.0206 / 48.0)).abs() < 1e-3);
        assert_eq!(shown_height(0.001), 0.0, "-60 dBFS is below the floor");
    }
}
