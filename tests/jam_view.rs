//! The Loop view as a therapist and a client use it, through egui_kittest on a real
//! engine: buttons are found by their words, clicked, and the effect is read from the
//! engine's loop meters (SooperLooper's state numbers: 0 empty, 2 recording, 4 playing,
//! 5 overdubbing, 10 muted).

use std::sync::atomic::Ordering::Relaxed;

use eframe::egui::{self, accesskit::Role};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use samspill::controller::{build_looper, LooperConfig};
use samspill::session::settings::{Language, Settings};
use samspill::ui::i18n::Text;
use samspill::ui::{tr, AudioControl, AudioState, AudioStatus, Panel, View};
use samspill::{new_engine, Command, Controller, Engine, EngineConfig};

// Every block this binary renders runs `Engine::process` under this checker.
#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const SR: u32 = 48_000;
const BLOCK: usize = 256;

/// A device layer that is simply running.
struct Running;

impl AudioControl for Running {
    fn status(&self) -> AudioStatus {
        AudioStatus {
            state: AudioState::Running,
            sample_rate: SR,
            buffer_frames: BLOCK as u32,
            ..AudioStatus::default()
        }
    }
    fn output_devices(&self, _: samspill::session::settings::AudioHost) -> Vec<String> {
        vec![]
    }
    fn input_devices(&self, _: samspill::session::settings::AudioHost) -> Vec<String> {
        vec![]
    }
    fn midi_ports(&self) -> Vec<String> {
        vec![]
    }
    fn apply(&mut self, _: &samspill::session::settings::AudioSettings) -> Result<(), String> {
        Ok(())
    }
}

struct Room {
    harness: Harness<'static, Panel>,
    engine: Engine,
    controller: Controller,
    dir: tempfile::TempDir,
    tone_at: usize,
}

/// A panel on a real engine whose looper is not in yet.
fn bare_room(settings: Settings) -> Room {
    let (controller, engine) = new_engine(&EngineConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let panel = Panel::new(controller.clone(), Box::new(Running), settings)
        .save_settings_to(dir.path().join("settings.toml"));
    let harness = Harness::builder()
        .with_size(egui::vec2(1024.0, 720.0))
        .build_ui_state(|ui, panel: &mut Panel| panel.show(ui), panel);
    Room {
        harness,
        engine,
        controller,
        dir,
        tone_at: 0,
    }
}

/// A panel whose engine has a small looper (two tracks of 5 s), as it would after start.
fn room_with(settings: Settings) -> Room {
    let mut room = bare_room(settings);
    let config = LooperConfig {
        tracks: 2,
        max_secs: 5.0,
        undo_levels: 2,
        ..Default::default()
    };
    room.controller
        .send(Command::InstallLooper(build_looper(&config, SR)))
        .unwrap();
    room.play(0.05);
    room
}

fn room() -> Room {
    room_with(Settings::default())
}

impl Room {
    fn click(&mut self, label: &str) {
        self.click_nth(label, 0);
    }

    /// Clicks the `n`th control called `label` (track rows share their words).
    fn click_nth(&mut self, label: &str, n: usize) {
        self.harness
            .get_all_by_label(label)
            .nth(n)
            .unwrap_or_else(|| panic!("no {label:?} number {n}: {:?}", self.texts()))
            .scroll_to_me();
        self.harness.run();
        self.harness.get_all_by_label(label).nth(n).unwrap().click();
        self.harness.run();
    }

    fn has(&self, label: &str) -> bool {
        self.harness.query_all_by_label(label).next().is_some()
    }

    /// Runs the engine for `secs` with a tone on input 1, then lets the panel redraw.
    fn play(&mut self, secs: f64) {
        let blocks = (secs * SR as f64 / BLOCK as f64).ceil() as usize;
        let (mut input, mut left, mut right) = ([0f32; BLOCK], [0f32; BLOCK], [0f32; BLOCK]);
        let silence = [0f32; BLOCK];
        for _ in 0..blocks {
            for (i, s) in input.iter_mut().enumerate() {
                let t = (self.tone_at + i) as f32 / SR as f32;
                *s = 0.25 * (std::f32::consts::TAU * 330.0 * t).sin();
            }
            self.tone_at += BLOCK;
            let engine = &mut self.engine;
            assert_no_alloc::assert_no_alloc(|| {
                engine.process(&[&input, &silence], &mut left, &mut right, &[]);
            });
        }
        self.harness.run();
    }

    fn state(&self, track: usize) -> u32 {
        self.controller.shared().loops[track].state.load(Relaxed)
    }

    fn loop_frames(&self, track: usize) -> u32 {
        self.controller.shared().loops[track]
            .loop_frames
            .load(Relaxed)
    }

    fn saved(&self) -> Settings {
        Settings::load_from(&self.dir.path().join("settings.toml")).0
    }

    fn texts(&self) -> Vec<String> {
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

    fn controls(&self) -> Vec<(String, egui::Rect)> {
        self.harness
            .root()
            .children_recursive()
            .filter(|n| egui::accessibility::is_input(n.accesskit_node().role()))
            .map(|n| (n.accesskit_node().label().unwrap_or_default(), n.rect()))
            .collect()
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(str::to_lowercase)
        .collect()
}

/// Fails if anything on screen uses a word found only in the other language's texts.
fn assert_all_in(room: &Room, lang: Language) {
    let other = match lang {
        Language::Bokmal => Language::English,
        Language::English => Language::Bokmal,
    };
    let mine: std::collections::HashSet<String> =
        Text::ALL.iter().flat_map(|&k| words(tr(lang, k))).collect();
    let foreign: std::collections::HashSet<String> = Text::ALL
        .iter()
        .flat_map(|&k| words(tr(other, k)))
        .filter(|w| !mine.contains(w))
        .collect();
    for text in room.texts() {
        for w in words(&text) {
            assert!(
                !foreign.contains(&w),
                "{lang:?} screen shows {text:?}, whose word {w:?} is from the other language"
            );
        }
    }
}

#[test]
fn the_loop_view_waits_calmly_until_the_looper_is_ready() {
    let mut room = bare_room(Settings::default());
    room.click("Loop");
    assert_eq!(room.harness.state().state().view, View::Jam);
    assert!(room.has("Gjør klar loopene …"), "{:?}", room.texts());
    assert!(!room.has("Ta opp"));
    let config = LooperConfig {
        tracks: 2,
        max_secs: 2.0,
        undo_levels: 1,
        ..Default::default()
    };
    room.controller
        .send(Command::InstallLooper(build_looper(&config, SR)))
        .unwrap();
    room.play(0.02);
    assert!(!room.has("Gjør klar loopene …"));
    assert!(room.has("Spor 1") && room.has("Spor 2"));
    assert_eq!(room.harness.get_all_by_label("Ta opp").count(), 2);
}

#[test]
fn record_stop_overdub_and_mute_from_the_track_row() {
    let mut room = room();
    room.click("Loop");
    assert!(room.has("Tom"));
    room.click_nth("Ta opp", 0);
    room.play(0.1);
    assert_eq!(room.state(0), 2, "recording");
    assert!(room.has("Tar opp") && room.has("Stopp opptak"));
    assert_eq!(room.state(1), 0, "track 2 is left alone");

    room.play(0.9);
    room.click("Stopp opptak");
    room.play(0.2);
    assert_eq!(room.state(0), 4, "playing");
    let len = room.loop_frames(0);
    assert!(
        (len as i64 - SR as i64).abs() < 2 * BLOCK as i64,
        "about a second: {len}"
    );
    assert!(room.has("Spiller"));

    room.click("Legg på");
    room.play(0.1);
    assert_eq!(room.state(0), 5, "overdubbing");
    assert!(room.has("Legger på"));
    room.click("Stopp pålegg");
    room.play(0.1);
    assert_eq!(room.state(0), 4);

    room.click_nth("Demp", 0);
    room.play(0.1);
    assert_eq!(room.state(0), 10, "muted");
    assert!(room.has("Dempet") && room.has("Slå på lyden"));
    room.click("Slå på lyden");
    room.play(0.1);
    assert_eq!(room.state(0), 4, "the big button brings it back");
    assert_eq!(room.loop_frames(0), len, "the loop kept its length");
}

#[test]
fn clearing_asks_first_and_no_keeps_the_loop() {
    let mut room = room();
    room.click("Loop");
    room.click_nth("Ta opp", 0);
    room.play(0.5);
    room.click("Stopp opptak");
    room.play(0.1);
    assert_eq!(room.state(0), 4);

    room.click_nth("Tøm", 0);
    assert!(room.has("Tømme spor 1?"));
    room.click("Nei, behold");
    room.play(0.1);
    assert!(!room.has("Tømme spor 1?"));
    assert_eq!(room.state(0), 4, "still playing");

    room.click_nth("Tøm", 0);
    room.click("Ja, tøm");
    room.play(0.1);
    assert_eq!((room.state(0), room.loop_frames(0)), (0, 0), "empty");
    assert_eq!(room.harness.get_all_by_label("Ta opp").count(), 2);
}

#[test]
fn in_easy_mode_a_client_starts_a_loop_with_one_press_from_launch() {
    let settings = Settings {
        easy_mode: true,
        ..Settings::default()
    };
    let mut room = room_with(settings);
    let mut presses = 0;
    // The panel opens on the loops, with one large button.
    assert_eq!(room.harness.state().state().view, View::Jam);
    let big = room.harness.get_by_label("Start en loop").rect();
    assert!(big.height() >= 96.0, "{big:?}");
    for (name, rect) in room.controls() {
        assert!(rect.height() >= 48.0, "{name:?} is {rect:?}");
    }
    room.click("Start en loop");
    presses += 1;
    room.play(0.5);
    assert_eq!(room.state(0), 2, "track 1 records");
    assert!(presses <= 2);
    assert!(room.has("Tar opp"));

    room.click("Stopp loopen");
    room.play(0.2);
    assert_eq!(room.state(0), 4);
    // The same button now starts the next loop, on track 2.
    room.click("Start en loop");
    room.play(0.2);
    assert_eq!((room.state(0), room.state(1)), (4, 2));
    room.click("Stopp loopen");
    room.play(0.3);
    assert!(room.has("Alle sporene er i bruk. Tøm ett for å ta opp mer."));
}

#[test]
fn faster_and_slower_set_the_beat_that_loops_snap_to() {
    let mut room = room();
    room.click("Loop");
    room.click("Raskere");
    let looper = &room.harness.state().settings().looper;
    assert!(looper.follow_tempo && looper.tempo_bpm == 121.0);
    assert!(room.has("121 BPM"));
    assert_eq!(room.saved().looper.tempo_bpm, 121.0);

    // A short take snaps to a quarter of the bar: one beat at 121 BPM.
    room.click_nth("Ta opp", 0);
    room.play(0.3);
    room.click("Stopp opptak");
    room.play(0.5);
    let beat_121 = (SR as f64 * 60.0 / 121.0).round() as u32;
    assert_eq!((room.state(0), room.loop_frames(0)), (4, beat_121));

    room.click("Saktere");
    room.click("Saktere");
    assert!(room.has("119 BPM"));
    room.click_nth("Ta opp", 0);
    room.play(0.3);
    room.click("Stopp opptak");
    room.play(0.5);
    let beat_119 = (SR as f64 * 60.0 / 119.0).round() as u32;
    assert_eq!(room.loop_frames(1), beat_119);

    room.click("Første loop");
    assert!(!room.harness.state().settings().looper.follow_tempo);
}

#[test]
fn click_count_in_and_start_on_are_kept() {
    let mut room = room();
    room.click("Loop");
    room.click("Klikk");
    room.click("Inntelling");
    room.click("På neste takt");
    room.click("3");
    let saved = room.saved().looper;
    assert!(saved.click && saved.count_in && saved.beats_per_bar == 3);
    assert_eq!(
        saved.quantize,
        samspill::session::settings::LoopQuantize::Bar
    );
    // With count-in on a tempo, the record waits a bar first.
    room.click("Tempo");
    room.click_nth("Ta opp", 0);
    room.play(0.1);
    assert_eq!(room.state(0), 1, "waiting for the count-in");
    assert!(room.has("Venter") && room.has("Ikke start"));
    room.click("Ikke start");
    room.play(0.1);
    assert_eq!(room.state(0), 0);
}

#[test]
fn every_label_of_the_loop_view_follows_the_language() {
    let mut room = room();
    room.click("Loop");
    assert!(room.has("Tapp takten") && room.has("Straks") && room.has("Angre"));
    assert_all_in(&room, Language::Bokmal);

    room.click("Innstillinger");
    assert!(room.has("Minne: 461 MB"), "{:?}", room.texts());
    room.click_nth("2", 0);
    assert!(room.has("Minne: 230 MB"));
    assert_eq!(room.saved().looper.tracks, 2);
    room.click("English");
    assert!(room.has("Memory: 230 MB") && room.has("Minutes per track"));
    assert_all_in(&room, Language::English);

    room.click("Loops");
    for label in [
        "Track 1",
        "Record",
        "Empty",
        "Mute",
        "Undo",
        "Redo",
        "Tap the beat",
        "Faster",
        "At once",
        "On the next bar",
        "Count-in",
    ] {
        assert!(room.has(label), "{label}: {:?}", room.texts());
    }
    assert!(!room.has("Ta opp") && !room.has("Spor 1"));
    assert_all_in(&room, Language::English);
}

#[test]
fn the_recording_alignment_is_set_by_hand_in_settings_and_kept() {
    let mut room = room();
    room.click("Innstillinger");
    assert!(
        room.has("Opptaksjustering") && room.has("0 ms"),
        "{:?}",
        room.texts()
    );
    for _ in 0..3 {
        room.click("+ 1 ms");
    }
    room.click("− 1 ms");
    assert!(room.has("2 ms"), "{:?}", room.texts());
    assert_eq!(room.saved().looper.latency_offset_ms, 2.0);
}
