//! The egui panel: a window that reads engine snapshots, sends commands and asks the
//! device layer (through [`AudioControl`]) to reopen. It never touches audio buffers.
//!
//! [`Panel`] holds the state; the view modules draw it and return [`Action`]s.

pub mod audio;
pub mod i18n;
pub mod jam;
pub mod listen;
pub mod live;
pub mod meter;
pub mod panel;
pub mod play;
pub mod record;
pub mod settings_view;
pub mod state;
pub mod status;
pub mod theme;
pub mod watch;

pub use audio::{ApplyError, AudioControl, AudioState, AudioStatus};
pub use i18n::{tr, Text};
pub use live::LiveAudio;
pub use panel::{Action, LearnView, OscView, Panel, PanelState, View};

use eframe::egui;

use crate::session::settings::Language;

/// The window's first size, in points.
pub const WINDOW_SIZE: [f32; 2] = [1024.0, 720.0];

/// How the panel's window is opened: glow (OpenGL, Mesa's software GL does), titled "Samspill".
pub fn native_options() -> eframe::NativeOptions {
    eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(tr(Language::Bokmal, Text::AppName))
            .with_app_id("samspill")
            .with_inner_size(WINDOW_SIZE)
            .with_min_inner_size([640.0, 480.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    }
}

/// Opens a window running `make_app` until it is closed. A missing display or GL gives a
/// plain message in `lang`, so the caller can say so and run headless instead.
pub fn open_window(
    options: eframe::NativeOptions,
    lang: Language,
    make_app: impl FnOnce(&eframe::CreationContext<'_>) -> Box<dyn eframe::App> + 'static,
) -> Result<(), WindowError> {
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        return Err(WindowError::NoDisplay(lang));
    }
    eframe::run_native(
        tr(lang, Text::AppName),
        options,
        Box::new(move |cc| Ok(make_app(cc))),
    )
    .map_err(|e| WindowError::Failed(lang, e.to_string()))
}

/// Why the panel's window did not open, in the panel's language.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("{}", tr(*.0, Text::NoDisplay))]
    NoDisplay(Language),
    #[error("{failed} {1}", failed = tr(*.0, Text::WindowFailed))]
    Failed(Language, String),
}

/// The panel in a native window; returns when the window is closed.
pub fn run_panel(panel: Panel) -> Result<(), WindowError> {
    let settings = panel.settings();
    let lang = settings.language;
    // Loop memory is big and is built on a thread of its own; the Loop view says
    // "getting ready" until it is in.
    panel
        .controller()
        .enable_looper_in_background(jam::looper_config(&settings.looper));
    open_window(native_options(), lang, move |cc| {
        Box::new(panel.watched_by(cc.egui_ctx.clone()))
    })
}
