//! The Loop view as a therapist and a client use it, through egui_kittest on a real
//! engine: buttons are found by their words, clicked, and the effect is read from the
//! engine's loop meters (SooperLooper's state numbers: 0 empty, 2 recording, 4 playing,
//! 5 overdubbing, 10 muted).

mod common_panel;

use std::ops::{Deref, DerefMut};

use eframe::egui::accesskit::{Role, Toggled};
use egui_kittest::kittest::{NodeT, Queryable};
use samspill::control::TrackSel;
use samspill::controller::{build_looper, LooperConfig};
use samspill::session::settings::{Language, Settings};
use samspill::ui::i18n::{tr_n, Text};
use samspill::ui::View;
use samspill::Command;

use common_panel::{assert_all_in, panel_room, small_looper, tone, PanelRoom, Running, SR};

// Every block this binary renders runs `Engine::process` under this checker.
#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const BLOCK: usize = common_panel::BLOCK;

struct Room(PanelRoom);

impl Deref for Room {
    type Target = PanelRoom;
    fn deref(&self) -> &PanelRoom {
        &self.0
    }
}

impl DerefMut for Room {
    fn deref_mut(&mut self) -> &mut PanelRoom {
        &mut self.0
    }
}

/// A panel on a real engine whose looper is not in yet.
fn bare_room(settings: Settings) -> Room {
    let dir = tempfile::tempdir().unwrap();
    Room(panel_room(Box::new(Running), settings, dir, 720.0, |p| p))
}

/// A panel whose engine has a small looper (two tracks of 5 s), as it would after start.
fn room_with(settings: Settings) -> Room {
    let mut room = bare_room(settings);
    room.install_looper(&small_looper());
    room.play(0.05);
    room
}

fn room() -> Room {
    room_with(Settings::default())
}

impl Room {
    /// Runs the engine for `secs` with a tone on input 1, then lets the panel redraw.
    fn play(&mut self, secs: f64) {
        self.run_engine(secs, |at, one, _| tone(one, at, 330.0, 0.25));
    }

    /// Runs the engine with nothing on the inputs: only the loops sound.
    fn play_silence(&mut self, secs: f64) {
        self.run_engine(secs, |_, one, _| one.fill(0.0));
    }

    /// The level meter of `track` (from 0): how full its bar is (0–100) and the words
    /// beside it, as a screen reader gets them.
    fn meter(&self, track: usize) -> (f64, String) {
        let lang = self.harness.state().settings().language;
        let name = tr_n(lang, Text::TrackSoundN, track + 1);
        let node = self.harness.get_by_role_and_label(Role::Meter, &name);
        let a = node.accesskit_node();
        (
            a.numeric_value().unwrap_or(-1.0),
            a.value().unwrap_or_default(),
        )
    }

    /// The `n`th control called `label`: greyed out or not, and what it says about why.
    fn enabled_nth(&self, label: &str, n: usize) -> (bool, Option<String>) {
        let node = self
            .harness
            .get_all_by_label(label)
            .nth(n)
            .unwrap_or_else(|| panic!("no {label:?} number {n}: {:?}", self.texts()));
        let a = node.accesskit_node();
        (!a.is_disabled(), a.description())
    }

    /// Is the track named `name` drawn as the chosen one?
    fn chosen(&self, name: &str) -> bool {
        let node = self.harness.get_by_role_and_label(Role::Button, name);
        node.accesskit_node().toggled() == Some(Toggled::True)
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
    assert!(room.has("Minne: 111 MB"), "{:?}", room.texts());
    room.click_nth("2", 0);
    assert!(room.has("Minne: 55 MB"), "{:?}", room.texts());
    assert_eq!(room.saved().looper.tracks, 2);
    room.click("English");
    assert!(room.has("Memory: 55 MB") && room.has("Minutes per track"));
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

/// Records about a second of the tone on track 1 and lets it play.
fn record_track_one(room: &mut Room) {
    let record = tr(room, Text::DoRecord);
    room.click_nth(record, 0);
    room.play(1.0);
    let stop = tr(room, Text::DoStopRecording);
    room.click(stop);
    room.play(0.2);
    assert_eq!(room.state(0), 4, "playing");
}

/// `key`'s words in the room's language.
fn tr(room: &Room, key: Text) -> &'static str {
    samspill::ui::tr(room.harness.state().settings().language, key)
}

#[test]
fn a_playing_loop_fills_its_meter_and_a_silent_track_reads_silent() {
    let mut room = room();
    room.click("Loop");
    // The tone on input 1 is heard, but no track plays it yet.
    assert_eq!(room.meter(0), (0.0, "stille".to_string()));
    assert_eq!(room.meter(1), (0.0, "stille".to_string()));

    record_track_one(&mut room);
    // Nothing on the inputs now: what the meter shows is the loop alone.
    room.play_silence(0.6);
    let (fill, words) = room.meter(0);
    assert!(fill > 50.0, "track 1 plays a -15 dB RMS tone: {fill}");
    assert!(words.ends_with(" dB"), "{words:?}");
    assert_eq!(room.meter(1), (0.0, "stille".to_string()), "track 2");

    room.click("Innstillinger");
    room.click("English");
    room.click("Loops");
    room.play_silence(0.1);
    assert!(room.meter(0).0 > 50.0);
    assert_eq!(room.meter(1), (0.0, "silent".to_string()));
}

#[test]
fn in_easy_mode_each_track_shows_its_level_too() {
    let settings = Settings {
        easy_mode: true,
        language: Language::English,
        ..Settings::default()
    };
    let mut room = room_with(settings);
    assert_eq!(room.meter(0).0, 0.0);
    room.click("Start a loop");
    room.play(1.0);
    room.click("Stop the loop");
    room.play_silence(0.8);
    assert_eq!(room.state(0), 4);
    assert!(room.meter(0).0 > 50.0, "{:?}", room.meter(0));
    assert_eq!(room.meter(1), (0.0, "silent".to_string()));
    assert!(
        room.has("Sound"),
        "the meter has a name: {:?}",
        room.texts()
    );
}

#[test]
fn undo_and_redo_are_greyed_out_until_there_is_something_to_take_back() {
    let mut room = room();
    room.click("Loop");
    // Track 1, track 2, then "all tracks".
    let nothing = Some("Ingenting å angre på dette sporet ennå.".to_string());
    let no_redo = Some("Ingenting å gjøre om. Angre først.".to_string());
    assert_eq!(room.enabled_nth("Angre", 0), (false, nothing.clone()));
    assert_eq!(room.enabled_nth("Gjør om", 0), (false, no_redo.clone()));
    assert_eq!(
        room.enabled_nth("Angre", 2),
        (false, Some("Ingen av sporene har noe å angre.".to_string()))
    );

    record_track_one(&mut room);
    assert_eq!(room.enabled_nth("Angre", 0), (true, None), "a take to undo");
    assert_eq!(room.enabled_nth("Angre", 1), (false, nothing), "track 2");
    assert!(
        room.enabled_nth("Angre", 2).0,
        "all tracks: one has history"
    );
    assert_eq!(room.enabled_nth("Gjør om", 0), (false, no_redo.clone()));

    room.click_nth("Angre", 0);
    room.play(0.1);
    assert_eq!(room.state(0), 0, "the take is undone");
    assert_eq!(room.enabled_nth("Gjør om", 0), (true, None));
    assert!(room.enabled_nth("Gjør om", 2).0);

    room.click_nth("Gjør om", 0);
    room.play(0.1);
    assert_eq!(room.state(0), 4, "and brought back");
    assert_eq!(room.enabled_nth("Gjør om", 0), (false, no_redo));
    assert!(room.enabled_nth("Angre", 0).0);

    // While learning, a greyed-out button can still be armed for a pad.
    room.click("Lær MIDI");
    assert!(room.enabled_nth("Angre", 1).0 && room.enabled_nth("Gjør om", 1).0);
}

#[test]
fn greyed_out_undo_and_redo_say_why_in_english_too() {
    let mut room = room_with(Settings {
        language: Language::English,
        ..Settings::default()
    });
    room.click("Loops");
    assert_eq!(
        room.enabled_nth("Undo", 0),
        (
            false,
            Some("Nothing to undo on this track yet.".to_string())
        )
    );
    assert_eq!(
        room.enabled_nth("Redo", 1),
        (
            false,
            Some("Nothing to redo. Undo something first.".to_string())
        )
    );
    assert_eq!(
        room.enabled_nth("Redo", 2),
        (false, Some("No track has anything to redo.".to_string()))
    );
    record_track_one(&mut room);
    assert!(room.enabled_nth("Undo", 0).0);
    room.click_nth("Undo", 0);
    room.play(0.1);
    assert!(room.enabled_nth("Redo", 0).0 && room.enabled_nth("Redo", 2).0);
    assert_all_in(&room, Language::English);
}

#[test]
fn the_panel_and_osc_share_one_selected_track() {
    let mut room = room();
    room.click("Loop");
    let control = room.harness.state().loop_control().clone();
    assert_eq!(control.selected(), TrackSel::One(0));
    assert!(room.chosen("Spor 1") && !room.chosen("Spor 2"));

    // A click on the track's name chooses it for OSC's "selected loop" too.
    room.click("Spor 2");
    assert_eq!(control.selected(), TrackSel::One(1));
    assert_eq!(room.harness.state().state().selected, TrackSel::One(1));
    assert!(room.chosen("Spor 2") && !room.chosen("Spor 1"));

    // OSC's `/set selected_loop_num 0` selects through the same handle: the panel follows.
    control.select(TrackSel::One(0)).unwrap();
    room.harness.run();
    assert!(room.chosen("Spor 1") && !room.chosen("Spor 2"));
    room.harness.key_press(eframe::egui::Key::Space);
    room.harness.run();
    room.play(0.3);
    assert_eq!(
        (room.state(0), room.state(1)),
        (2, 0),
        "Space records track 1"
    );

    // -1 is every track: both rows are drawn chosen.
    control.select(TrackSel::All).unwrap();
    room.harness.run();
    assert!(room.chosen("Spor 1") && room.chosen("Spor 2"));
    assert_eq!(room.harness.query_all_by_label("valgt").count(), 2);
    room.click("Spor 1");
    assert_eq!(
        control.selected(),
        TrackSel::One(0),
        "a click picks one again"
    );
    control.select(TrackSel::All).unwrap();

    // Pressing a track's big button chooses it, as it always did.
    room.click_nth("Ta opp", 0);
    assert_eq!(control.selected(), TrackSel::One(1));
}

/// Opens the source chooser of `track` (from 0).
fn open_source_chooser(room: &mut Room, track: usize) {
    let combos = |room: &Room| room.harness.get_all_by_role(Role::ComboBox).count();
    assert!(combos(room) > track, "{:?}", room.texts());
    room.harness
        .get_all_by_role(Role::ComboBox)
        .nth(track)
        .expect("a source chooser per track")
        .scroll_to_me();
    room.harness.run();
    room.harness
        .get_all_by_role(Role::ComboBox)
        .nth(track)
        .expect("a source chooser per track")
        .click();
    room.harness.run();
}

#[test]
fn choosing_the_instruments_on_track_two_records_them_and_not_the_guitar() {
    use samspill::engine::looper::{SOURCE_INPUTS, SOURCE_INSTRUMENTS};
    let mut room = room();
    room.click("Loop");
    let control = room.harness.state().loop_control().clone();
    assert_eq!(
        room.harness.get_all_by_role(Role::ComboBox).count(),
        2,
        "one chooser per track"
    );
    open_source_chooser(&mut room, 1);
    for label in [
        "Alle innganger",
        "Inngang 1",
        "Inngang 2",
        "Instrumentene",
        "Alt som spilles",
    ] {
        assert!(room.has(label), "{label}: {:?}", room.texts());
    }
    room.harness
        .get_by_role_and_label(Role::Button, "Instrumentene")
        .click();
    room.harness.run();
    assert_eq!(control.source(1), Some(SOURCE_INSTRUMENTS));
    assert_eq!(
        control.source(0),
        Some(SOURCE_INPUTS),
        "track 1 is left alone"
    );
    assert_eq!(
        room.harness.state().state().loop_sources,
        [SOURCE_INPUTS, SOURCE_INSTRUMENTS]
    );

    // The tone on input 1 plays while track 2 records: its loop stays silent.
    room.click_nth("Ta opp", 1);
    room.play(1.0);
    room.click("Stopp opptak");
    room.play(0.2);
    assert_eq!(room.state(1), 4, "track 2 plays");
    room.play_silence(0.6);
    assert_eq!(room.meter(1), (0.0, "stille".to_string()));
    assert_all_in(&room, Language::Bokmal);
}

#[test]
fn the_source_chooser_speaks_english_too_and_easy_mode_has_none() {
    let mut room = room_with(Settings {
        language: Language::English,
        ..Settings::default()
    });
    room.click("Loops");
    assert!(room.has("Records from"), "{:?}", room.texts());
    open_source_chooser(&mut room, 0);
    for label in [
        "All inputs",
        "Input 1",
        "Input 2",
        "The instruments",
        "Everything playing",
    ] {
        assert!(room.has(label), "{label}: {:?}", room.texts());
    }
    assert_all_in(&room, Language::English);
    room.harness
        .get_by_role_and_label(Role::Button, "Everything playing")
        .click();
    room.harness.run();
    let control = room.harness.state().loop_control().clone();
    assert_eq!(
        control.source(0),
        Some(samspill::engine::looper::SOURCE_MIX)
    );

    let easy = room_with(Settings {
        easy_mode: true,
        ..Settings::default()
    });
    assert_eq!(easy.harness.state().state().view, View::Jam);
    assert_eq!(easy.harness.query_all_by_role(Role::ComboBox).count(), 0);
    assert!(!easy.has("Tar opp fra"));
}

/// Plays on (the save and the open wait for the audio blocks) until `label` is on
/// screen; fails with what is there after half a minute.
fn play_until_shown(room: &mut Room, label: &str) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < until {
        if room.has(label) {
            return;
        }
        room.play(0.05);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!("{label:?} never came: {:?}", room.texts());
}

/// Plays on until track 1 holds a loop of `frames`.
fn play_until_track_one_is(room: &mut Room, frames: u32) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < until {
        if room.loop_frames(0) == frames && room.state(0) == 4 {
            return;
        }
        room.play(0.05);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!(
        "track 1 never held {frames} frames: {} (state {})",
        room.loop_frames(0),
        room.state(0)
    );
}

/// Types `text` into the field called `label` instead of what it says.
fn type_into(room: &mut Room, label: &str, text: &str) {
    room.harness.get_by_label(label).focus();
    room.harness.run();
    room.harness
        .key_press_modifiers(eframe::egui::Modifiers::COMMAND, eframe::egui::Key::A);
    room.harness.get_by_label(label).type_text(text);
    room.harness.run();
}

fn jam_folders(room: &Room) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(room.dir.path().join("jams"))
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Settings whose looper is the small one the room installs, so a reopened jam
/// builds a looper of that size too.
fn small_settings(language: Language) -> Settings {
    let mut s = Settings {
        language,
        ..Settings::default()
    };
    s.looper.tracks = 2;
    s.looper.minutes_per_track = 5.0 / 60.0;
    s.looper.undo_levels = 2;
    s
}

#[test]
fn save_the_loop_under_a_name_record_over_it_and_open_it_again() {
    let mut room = room_with(small_settings(Language::Bokmal));
    room.click("Loop");
    record_track_one(&mut room);
    let saved_len = room.loop_frames(0);
    assert!(saved_len > SR / 2, "{saved_len}");

    // The name starts as the date and time; the therapist types their own.
    let prefilled = room.harness.state().state().jams.name.clone();
    assert!(prefilled.starts_with("20"), "{prefilled:?}");
    type_into(&mut room, "Navn", "Tirsdag med Åse");
    assert_eq!(room.harness.state().state().jams.name, "Tirsdag med Åse");
    room.click("Lagre");
    assert!(
        room.has("Lagrer … Musikken spiller videre."),
        "{:?}",
        room.texts()
    );
    play_until_shown(&mut room, "Lagret som «Tirsdag-med-Åse».");
    assert_eq!(room.state(0), 4, "the loop played on while it was saved");
    assert_eq!(jam_folders(&room), ["Tirsdag-med-Åse"]);
    let saved = room.dir.path().join("jams").join("Tirsdag-med-Åse");
    #[cfg(unix)]
    {
        assert_eq!(mode(&saved), 0o700);
        for f in ["session.toml", "track-1.wav"] {
            assert_eq!(mode(&saved.join(f)), 0o600, "{f}");
        }
    }
    assert!(
        !saved.join("track-2.wav").exists(),
        "an empty track has no file"
    );
    // The next save is named by the clock again.
    assert_ne!(room.harness.state().state().jams.name, "Tirsdag med Åse");

    // Clear it and record something shorter on the same track.
    room.click_nth("Tøm", 0);
    room.click("Ja, tøm");
    room.play(0.1);
    assert_eq!(room.loop_frames(0), 0);
    room.click_nth("Ta opp", 0);
    room.play(0.4);
    room.click("Stopp opptak");
    room.play(0.2);
    assert_ne!(room.loop_frames(0), saved_len);

    // Open lists it; opening asks before it replaces the loops there are now.
    room.click("Åpne");
    assert!(room.has("Velg det du vil åpne:"), "{:?}", room.texts());
    room.click("Tirsdag-med-Åse");
    assert!(
        room.has("Loopene du har nå blir erstattet. Lagre dem først?"),
        "{:?}",
        room.texts()
    );
    room.click("Ikke åpne");
    room.play(0.2);
    assert!(!room.has("Loopene du har nå blir erstattet. Lagre dem først?"));
    assert_ne!(room.loop_frames(0), saved_len, "cancel keeps the loops");

    room.click("Tirsdag-med-Åse");
    room.click("Erstatt");
    play_until_shown(&mut room, "Åpnet «Tirsdag-med-Åse».");
    play_until_track_one_is(&mut room, saved_len);
    assert_eq!(room.state(1), 0, "track 2 is empty, as it was saved");
    assert_eq!(
        jam_folders(&room),
        ["Tirsdag-med-Åse"],
        "nothing else saved"
    );
    assert_all_in(&room, Language::Bokmal);
}

#[test]
fn in_english_save_first_keeps_the_loops_before_the_saved_jam_replaces_them() {
    let mut room = room_with(small_settings(Language::English));
    room.click("Loops");
    room.click("Open");
    assert!(room.has("Nothing is saved yet."), "{:?}", room.texts());
    room.click("Close the list");
    record_track_one(&mut room);
    let first_len = room.loop_frames(0);
    type_into(&mut room, "Name", "first");
    room.click("Save");
    assert!(room.has("Saving … The music plays on."));
    play_until_shown(&mut room, "Saved as “first”.");

    room.click_nth("Clear", 0);
    room.click("Yes, clear");
    room.play(0.1);
    room.click_nth("Record", 0);
    room.play(0.4);
    room.click("Stop recording");
    room.play(0.2);
    let second_len = room.loop_frames(0);
    assert_ne!(second_len, first_len);

    room.click("Open");
    room.click("first");
    assert!(
        room.has("The loops you have now will be replaced. Save them first?"),
        "{:?}",
        room.texts()
    );
    type_into(&mut room, "Name", "second");
    room.click("Save first");
    play_until_shown(&mut room, "Opened “first”.");
    play_until_track_one_is(&mut room, first_len);
    assert_eq!(jam_folders(&room), ["first", "second"]);
    assert_all_in(&room, Language::English);

    // The loops saved first are there to open in turn.
    room.click("Open");
    room.click("second");
    room.click("Replace");
    play_until_shown(&mut room, "Opened “second”.");
    play_until_track_one_is(&mut room, second_len);
}

#[test]
fn saving_and_opening_stay_off_the_clients_easy_screen() {
    let mut room = room_with(Settings {
        easy_mode: true,
        ..Settings::default()
    });
    room.play(0.05);
    assert!(room.has("Start en loop"), "{:?}", room.texts());
    assert!(!room.has("Lagre") && !room.has("Åpne"));
}
