//! The programs on top: thin hosts that put the layers below together. The panel's
//! window is `ui::run_panel`, offline rendering `render::render_script`; the headless
//! program lives here.

pub mod headless;
