//! The egui panel.
