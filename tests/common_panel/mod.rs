//! The room the panel tests play in: a real engine played block by block by hand, its
//! controller, the panel in an egui_kittest harness (no window, no GPU), and a folder
//! for the settings. Each test file adds what only it needs (a device double, a MIDI tap).
#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;

use eframe::egui::{self, accesskit::Role};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use samspill::controller::{build_looper, LooperConfig};
use samspill::session::settings::{AudioHost, AudioSettings, Language, Settings};
use samspill::ui::i18n::Text;
use samspill::ui::{tr, ApplyError, AudioControl, AudioState, AudioStatus, Panel};
use samspill::{new_engine, Command, Controller, Engine, EngineConfig};

pub const SR: u32 = 48_000;
pub const BLOCK: usize = 256;

/// A device layer that is simply running.
pub struct Running;

impl AudioControl for Running {
    fn status(&self) -> AudioStatus {
        AudioStatus {
            state: AudioState::Running,
            sample_rate: SR,
            buffer_frames: BLOCK as u32,
            ..AudioStatus::default()
        }
    }
    fn output_devices(&self, _: AudioHost) -> Vec<String> {
        vec![]
    }
    fn input_devices(&self, _: AudioHost) -> Vec<String> {
        vec![]
    }
    fn midi_ports(&self) -> Vec<String> {
        vec![]
    }
    fn apply(&self, _: &AudioSettings) -> Result<(), ApplyError> {
        Ok(())
    }
}

/// A panel on a real engine, with the engine played by hand block by block.
pub struct PanelRoom {
    pub harness: Harness<'static, Panel>,
    pub engine: Engine,
    pub controller: Controller,
    pub dir: tempfile::TempDir,
    /// Samples played so far (keeps a test tone's phase across calls).
    pub played: usize,
}

/// A panel over `audio` on a fresh engine, saving its settings in `dir`; `build` adds
/// what the test needs (a MIDI tap, OSC) before the harness takes the panel.
pub fn panel_room(
    audio: Box<dyn AudioControl>,
    settings: Settings,
    dir: tempfile::TempDir,
    height: f32,
    build: impl FnOnce(Panel) -> Panel,
) -> PanelRoom {
    let (controller, engine) = new_engine(&EngineConfig::default());
    let panel = Panel::new(controller.clone(), audio, settings)
        .save_settings_to(dir.path().join("settings.toml"));
    let panel = build(panel);
    let harness = Harness::builder()
        .with_size(egui::vec2(1024.0, height))
        .build_ui_state(|ui, panel: &mut Panel| panel.show(ui), panel);
    PanelRoom {
        harness,
        engine,
        controller,
        dir,
        played: 0,
    }
}

/// The small looper the loop tests use: two tracks of 5 s with two undo steps.
pub fn small_looper() -> LooperConfig {
    LooperConfig {
        tracks: 2,
        max_secs: 5.0,
        undo_levels: 2,
        ..Default::default()
    }
}

impl PanelRoom {
    /// Hands the engine a looper, as the app does once its memory is ready.
    pub fn install_looper(&mut self, config: &LooperConfig) {
        self.controller
            .send(Command::InstallLooper(build_looper(config, SR)))
            .unwrap();
    }

    /// Runs the engine for `secs`; `fill` writes inputs 1 and 2 of each block, given the
    /// number of the block's first sample. Returns the left output; then the panel draws
    /// what the engine published.
    pub fn run_engine(
        &mut self,
        secs: f64,
        mut fill: impl FnMut(usize, &mut [f32], &mut [f32]),
    ) -> Vec<f32> {
        let blocks = (secs * SR as f64 / BLOCK as f64).ceil() as usize;
        let mut out = Vec::with_capacity(blocks * BLOCK);
        let (mut one, mut two) = ([0f32; BLOCK], [0f32; BLOCK]);
        let (mut left, mut right) = ([0f32; BLOCK], [0f32; BLOCK]);
        for _ in 0..blocks {
            fill(self.played, &mut one, &mut two);
            self.played += BLOCK;
            let engine = &mut self.engine;
            assert_no_alloc::assert_no_alloc(|| {
                engine.process(&[&one, &two], &mut left, &mut right, &[]);
            });
            out.extend_from_slice(&left);
        }
        self.harness.run();
        out
    }

    /// Scrolls the control into view, like a person would, and clicks it.
    pub fn click(&mut self, label: &str) {
        self.click_nth(label, 0);
    }

    /// Clicks the `n`th control called `label` (track rows share their words).
    pub fn click_nth(&mut self, label: &str, n: usize) {
        self.harness
            .get_all_by_label(label)
            .nth(n)
            .unwrap_or_else(|| panic!("no {label:?} number {n}: {:?}", self.texts()))
            .scroll_to_me();
        self.harness.run();
        self.harness.get_all_by_label(label).nth(n).unwrap().click();
        self.harness.run();
    }

    pub fn has(&self, label: &str) -> bool {
        self.harness.query_all_by_label(label).next().is_some()
    }

    /// SooperLooper's state number of `track` as the engine published it.
    pub fn state(&self, track: usize) -> u32 {
        self.controller.shared().loops[track].state.load(Relaxed)
    }

    pub fn loop_frames(&self, track: usize) -> u32 {
        self.controller.shared().loops[track]
            .loop_frames
            .load(Relaxed)
    }

    pub fn saved(&self) -> Settings {
        Settings::load_from(&self.dir.path().join("settings.toml")).0
    }

    /// Every text on screen: labels' values and controls' names.
    pub fn texts(&self) -> Vec<String> {
        self.harness
            .root()
            .children_recursive()
            .filter_map(|n| {
                let a = n.accesskit_node();
                if a.role() == Role::Label {
                    a.value()
                } else {
                    a.label()
                }
            })
            .filter(|t| !t.trim().is_empty())
            .collect()
    }

    /// Every control a person can press or set, with where it is drawn.
    pub fn controls(&self) -> Vec<(String, egui::Rect)> {
        self.harness
            .root()
            .children_recursive()
            .filter(|n| egui::accessibility::is_input(n.accesskit_node().role()))
            .map(|n| (n.accesskit_node().label().unwrap_or_default(), n.rect()))
            .collect()
    }
}

/// A sine of `amp` at `hz`, sample `at` onwards, into `out`.
pub fn tone(out: &mut [f32], at: usize, hz: f32, amp: f32) {
    for (i, s) in out.iter_mut().enumerate() {
        let t = (at + i) as f32 / SR as f32;
        *s = amp * (std::f32::consts::TAU * hz * t).sin();
    }
}

pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(str::to_lowercase)
        .collect()
}

/// Words that appear in one language's texts and nowhere in the other's.
pub fn words_only_in(lang: Language) -> HashSet<String> {
    let theirs: HashSet<String> = Text::ALL
        .iter()
        .flat_map(|&k| words(tr(other(lang), k)))
        .collect();
    Text::ALL
        .iter()
        .flat_map(|&k| words(tr(lang, k)))
        .filter(|w| !theirs.contains(w))
        .collect()
}

fn other(lang: Language) -> Language {
    match lang {
        Language::Bokmal => Language::English,
        Language::English => Language::Bokmal,
    }
}

/// Fails if anything on screen uses a word found only in the other language's texts.
pub fn assert_all_in(room: &PanelRoom, lang: Language) {
    let foreign = words_only_in(other(lang));
    for text in room.texts() {
        for w in words(&text) {
            assert!(
                !foreign.contains(&w),
                "{lang:?} screen shows {text:?}, whose word {w:?} is from the other language"
            );
        }
    }
}
