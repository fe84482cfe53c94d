//! MIDI learn, mapped pedals and keyboard shortcuts as a therapist sets them up and a
//! player uses them, through egui_kittest on a real engine: "MIDI learn" on, click the
//! track's big button, press a pad, and from then on the pad records, stops and overdubs.
//! MIDI comes in the way the io layer's tap hands it to the panel (SooperLooper's state
//! numbers: 0 empty, 1 waiting, 2 recording, 4 playing, 5 overdubbing).

mod common_osc;
mod common_panel;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use eframe::egui;
use samspill::control::midi_learn::{Trigger, MAP_FILE};
use samspill::control::{Action as ControlAction, MidiLearn, TrackSel};
use samspill::io::{now_nanos, AudioSystem, IoOptions, TimedMidi};
use samspill::session::settings::{AudioHost, AudioSettings, Language, Settings};
use samspill::ui::View;
use samspill::{new_engine, EngineConfig, MidiEvent};

use common_osc::{s as osc_s, OscClient};
use common_panel::{panel_room, small_looper, PanelRoom, Running};
use egui_kittest::kittest::{NodeT, Queryable};

// Every block this binary renders runs `Engine::process` under this checker.
#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// The shared room with the pads and pedals beside it.
struct Room {
    base: PanelRoom,
    /// The pads and pedals: what the io layer's tap would hand the panel.
    midi: Sender<TimedMidi>,
}

impl Deref for Room {
    type Target = PanelRoom;
    fn deref(&self) -> &PanelRoom {
        &self.base
    }
}

impl DerefMut for Room {
    fn deref_mut(&mut self) -> &mut PanelRoom {
        &mut self.base
    }
}

/// A panel on a real engine with a two-track looper, its files in `dir`.
fn room_in(dir: tempfile::TempDir, settings: Settings, osc_port: Option<u16>) -> Room {
    let (midi, tap) = crossbeam_channel::bounded(256);
    let base = panel_room(Box::new(Running), settings, dir, 900.0, |panel| {
        let panel = panel.with_midi_tap(tap);
        match osc_port {
            Some(port) => panel.with_osc_on(port),
            None => panel,
        }
    });
    let mut room = Room { base, midi };
    room.install_looper(&small_looper());
    room.play(0.05);
    room
}

fn room_with(settings: Settings) -> Room {
    room_in(tempfile::tempdir().unwrap(), settings, None)
}

fn english() -> Settings {
    Settings {
        language: Language::English,
        ..Settings::default()
    }
}

impl Room {
    /// A pad or pedal sends `bytes`; the panel takes it on its next frame.
    fn midi(&mut self, bytes: &[u8]) {
        self.send(bytes);
        self.harness.run();
    }

    fn send(&mut self, bytes: &[u8]) {
        self.midi
            .send(TimedMidi {
                at_nanos: now_nanos(),
                event: MidiEvent::new(0, bytes),
            })
            .unwrap();
    }

    fn key(&mut self, key: egui::Key) {
        self.harness.key_press(key);
        self.harness.run();
    }

    /// Runs the engine for `secs` of a steady 0.1 on both inputs, then lets the panel redraw.
    fn play(&mut self, secs: f64) {
        self.run_engine(secs, |_, one, two| {
            one.fill(0.1);
            two.fill(0.1);
        });
    }

    fn map_file(&self) -> std::path::PathBuf {
        self.dir.path().join(MAP_FILE)
    }
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{path:?}");
}

#[cfg(not(unix))]
fn assert_private(_: &Path) {}

#[test]
fn a_pad_learned_for_track_1_records_stops_and_overdubs_it() {
    let mut room = room_with(Settings::default());
    room.click("Loop");
    room.click("Lær MIDI");
    assert!(
        room.has("Klikk på knappen som skal styres: et spors store knapp, Demp, Angre, Gjør om eller Tapp takten."),
        "{:?}",
        room.texts()
    );
    // While learning, the big button is armed, not pressed.
    room.click_nth("Ta opp", 0);
    room.play(0.05);
    assert_eq!(room.state(0), 0, "learning does not record");
    assert!(
        room.has("Trykk en tangent eller pedal…"),
        "{:?}",
        room.texts()
    );
    assert!(room.has("Spor 1: fotbryter"));

    // A note-off does not teach anything; the pad's note-on on channel 10 does.
    room.midi(&[0x89, 36, 0]);
    assert!(room.has("Trykk en tangent eller pedal…"));
    room.midi(&[0x99, 36, 100]);
    room.play(0.05);
    assert!(room.has("Lært: tone 36 på kanal 10"), "{:?}", room.texts());
    assert!(room.has("tone 36 på kanal 10") && room.has("Glem"));
    assert_eq!(room.state(0), 0, "learned, not performed");
    assert!(room.map_file().is_file());
    assert_private(&room.map_file());
    let saved = MidiLearn::load_from(&room.map_file()).unwrap();
    assert_eq!(saved.mappings().len(), 1);
    assert_eq!(
        saved.mappings()[0].trigger,
        Trigger::Note {
            channel: 9,
            key: 36
        }
    );
    assert_eq!(
        saved.mappings()[0].action,
        ControlAction::FootSwitch { track: 0 }
    );

    // Learning off: the buttons are buttons again, and the pad is the foot switch.
    room.click("Lær MIDI");
    room.midi(&[0x99, 36, 90]);
    room.midi(&[0x89, 36, 0]);
    room.play(0.5);
    assert_eq!(room.state(0), 2, "the pad starts recording track 1");
    assert_eq!(room.state(1), 0, "track 2 is left alone");
    room.midi(&[0x99, 36, 90]);
    room.play(0.1);
    assert_eq!(room.state(0), 4, "the pad stops it: playing");
    room.midi(&[0x99, 36, 90]);
    room.play(0.1);
    assert_eq!(room.state(0), 5, "then overdubs");
    room.midi(&[0x99, 36, 90]);
    room.play(0.1);
    assert_eq!(room.state(0), 4, "and back to playing");
    // Another channel is another key.
    room.midi(&[0x90, 36, 90]);
    room.play(0.1);
    assert_eq!(room.state(0), 4);
}

#[test]
fn a_sustain_pedal_learned_in_english_is_the_foot_switch_until_forgotten() {
    let mut room = room_with(english());
    room.click("Loops");
    room.click("MIDI learn");
    room.click_nth("Record", 1);
    assert!(room.has("Press a key or pedal…"), "{:?}", room.texts());
    assert!(room.has("Track 2: foot switch"));
    room.midi(&[0xB0, 64, 127]);
    room.midi(&[0xB0, 64, 0]);
    assert!(
        room.has("Learned: CC 64 on channel 1"),
        "{:?}",
        room.texts()
    );
    room.click("MIDI learn");

    // Down starts, up does nothing, down again stops.
    room.midi(&[0xB0, 64, 127]);
    room.play(0.3);
    assert_eq!((room.state(0), room.state(1)), (0, 2));
    room.midi(&[0xB0, 64, 0]);
    room.play(0.1);
    assert_eq!(room.state(1), 2, "letting go does nothing");
    room.midi(&[0xB0, 64, 127]);
    room.midi(&[0xB0, 64, 0]);
    room.play(0.1);
    assert_eq!(room.state(1), 4);

    // Forget it: the pedal does nothing, and the file says so.
    room.click("MIDI learn");
    room.click("Forget");
    assert!(room.has("No keys or pedals are learned yet."));
    assert!(MidiLearn::load_from(&room.map_file())
        .unwrap()
        .mappings()
        .is_empty());
    room.midi(&[0xB0, 64, 127]);
    room.play(0.1);
    assert_eq!(room.state(1), 4, "forgotten");
}

#[test]
fn tap_the_beat_and_mute_are_learned_too_and_mappings_come_back_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut learn = MidiLearn::new();
    learn.map(
        Trigger::Note {
            channel: 0,
            key: 60,
        },
        ControlAction::FootSwitch { track: 0 },
    );
    learn.save_to(&dir.path().join(MAP_FILE)).unwrap();
    let mut room = room_in(dir, Settings::default(), None);
    room.click("Loop");
    room.midi(&[0x90, 60, 100]);
    room.play(0.3);
    assert_eq!(room.state(0), 2, "the saved mapping works at once");
    room.midi(&[0x90, 60, 100]);
    room.play(0.1);
    assert_eq!(room.state(0), 4);

    room.click("Lær MIDI");
    room.click("Tapp takten");
    assert!(room.has("Trykk en tangent eller pedal…"));
    room.midi(&[0x90, 62, 100]);
    room.click_nth("Demp", 0);
    room.midi(&[0x90, 64, 100]);
    assert!(room.has("Spor 1: Demp"), "{:?}", room.texts());
    room.click("Lær MIDI");
    assert_eq!(
        MidiLearn::load_from(&room.map_file())
            .unwrap()
            .mappings()
            .len(),
        3
    );

    room.midi(&[0x90, 64, 100]);
    room.play(0.1);
    assert_eq!(room.state(0), 10, "the learned key mutes track 1");
    // Two taps half a second apart on the panel's clock (a frame is a quarter second).
    for step in 0..3 {
        if step != 1 {
            room.send(&[0x90, 62, 100]);
        }
        room.harness.step();
    }
    let looper = &room.harness.state().settings().looper;
    assert!(looper.follow_tempo, "two taps set a tempo");
    assert_eq!(looper.tempo_bpm, 120.0);
}

#[test]
fn one_pad_mutes_every_track_at_once() {
    let mut room = room_with(english());
    room.click("Loops");
    for track in 0..2 {
        room.click_nth("Record", 0);
        room.play(0.4);
        room.click("Stop recording");
        room.play(0.9);
        assert_eq!(room.state(track), 4);
    }
    room.click("MIDI learn");
    // The third "Mute": after track 1's and track 2's comes the one for all tracks.
    room.click_nth("Mute", 2);
    assert!(room.has("All tracks: Mute"), "{:?}", room.texts());
    room.midi(&[0x9F, 40, 100]);
    assert!(room.has("Learned: note 40 on channel 16"));
    room.click("MIDI learn");
    room.midi(&[0x9F, 40, 100]);
    room.play(0.1);
    assert_eq!((room.state(0), room.state(1)), (10, 10), "both muted");
    room.click_nth("Mute", 2);
    room.play(0.1);
    assert_eq!(
        (room.state(0), room.state(1)),
        (4, 4),
        "the button does it too"
    );
}

#[test]
fn space_steps_the_foot_switch_on_the_chosen_track_and_keys_do_the_rest() {
    let mut room = room_with(Settings::default());
    room.click("Loop");
    assert!(
        room.texts()
            .iter()
            .any(|t| t.starts_with("Taster: Mellomrom")),
        "the shortcuts are shown: {:?}",
        room.texts()
    );
    assert!(room.has("valgt"), "track 1 is chosen from the start");
    room.key(egui::Key::Space);
    room.play(0.4);
    assert_eq!(room.state(0), 2, "Space records track 1");
    room.key(egui::Key::Space);
    room.play(0.1);
    assert_eq!(room.state(0), 4, "and stops it");
    room.key(egui::Key::M);
    room.play(0.1);
    assert_eq!(room.state(0), 10, "M mutes");
    room.key(egui::Key::M);
    room.play(0.1);
    assert_eq!(room.state(0), 4);

    room.key(egui::Key::Num2);
    assert_eq!(room.harness.state().state().selected, TrackSel::One(1));
    room.key(egui::Key::Space);
    room.play(0.2);
    assert_eq!((room.state(0), room.state(1)), (4, 2), "2 then Space");
    room.key(egui::Key::Space);
    // Rounded off to the first loop's cycle before it plays.
    room.play(0.8);
    assert_eq!(room.state(1), 4);
    room.key(egui::Key::U);
    room.play(0.1);
    assert_eq!(room.state(1), 0, "U undoes the only take");
    room.key(egui::Key::R);
    room.play(0.1);
    assert_eq!(room.state(1), 4, "R brings it back");

    // Esc stops waiting for a key to learn.
    room.click("Lær MIDI");
    room.click_nth("Legg på", 0);
    assert!(room.has("Trykk en tangent eller pedal…"));
    room.key(egui::Key::Escape);
    assert!(!room.has("Trykk en tangent eller pedal…"));
    assert_eq!(room.harness.state().state().learn.armed, None);
}

#[test]
fn osc_listens_on_this_computer_and_a_busy_port_is_calm() {
    let mut room = room_in(tempfile::tempdir().unwrap(), english(), Some(0));
    let addr = room.harness.state().state().osc.addr.expect("listening");
    assert!(addr.ip().is_loopback());
    room.click("Settings");
    let shown = format!("OSC: 127.0.0.1:{}", addr.port());
    assert!(room.has(&shown), "{:?}", room.texts());
    room.click("OSC on");
    assert!(room.has("OSC is off."));
    assert!(!room.harness.state().settings().osc_enabled);
    let saved = Settings::load_from(&room.dir.path().join("settings.toml")).0;
    assert!(!saved.osc_enabled);

    // Someone else has the port: the panel says so and carries on.
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut busy = room_in(tempfile::tempdir().unwrap(), english(), Some(port));
    assert_eq!(busy.harness.state().state().osc.addr, None);
    busy.click("Settings");
    assert!(
        busy.has("OSC could not start; another program may be using its port. Everything else works. Port:"),
        "{:?}",
        busy.texts()
    );
    assert_eq!(busy.harness.state().state().view, View::Settings);
    busy.click("Loops");
    busy.click_nth("Record", 0);
    busy.play(0.1);
    assert_eq!(busy.state(0), 2, "the loops work without OSC");
}

#[test]
fn osc_selected_loop_num_moves_the_panel_and_a_click_moves_what_minus_3_means() {
    let mut room = room_in(tempfile::tempdir().unwrap(), Settings::default(), Some(0));
    let port = room
        .harness
        .state()
        .state()
        .osc
        .addr
        .expect("listening")
        .port();
    let osc = OscClient::new(port);
    room.click("Loop");
    let chosen = |room: &Room, name: &str| {
        room.harness
            .get_by_role_and_label(egui::accesskit::Role::Button, name)
            .accesskit_node()
            .toggled()
            == Some(egui::accesskit::Toggled::True)
    };
    assert!(chosen(&room, "Spor 1") && !chosen(&room, "Spor 2"));

    // SooperLooper's GUI picks loop 2 (counted from 0: 1); the panel follows on its own.
    osc.set_global("selected_loop_num", 1.0);
    let until = Instant::now() + Duration::from_secs(2);
    while room.harness.state().state().selected != TrackSel::One(1) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
        room.harness.run();
    }
    assert_eq!(room.harness.state().state().selected, TrackSel::One(1));
    assert!(chosen(&room, "Spor 2") && !chosen(&room, "Spor 1"));

    // A click on track 1's name: OSC's "selected loop" is track 1 now.
    room.click("Spor 1");
    assert_eq!(osc.get_global("selected_loop_num"), Some(0.0));
    osc.send("/sl/-3/hit", vec![osc_s("record")]);
    // The server answers in order: once this reply is here, the hit was sent.
    assert_eq!(osc.get_global("selected_loop_num"), Some(0.0));
    room.play(0.2);
    assert_eq!((room.state(0), room.state(1)), (2, 0), "-3 is track 1");
}

#[test]
fn keyboard_midi_on_alsa_reaches_the_control_tap_as_well_as_the_engine() {
    let (_controller, engine) = new_engine(&EngineConfig::default());
    let options = IoOptions {
        midi: false,
        ..IoOptions::default()
    };
    let settings = AudioSettings {
        host: AudioHost::None,
        ..AudioSettings::default()
    };
    let sys = AudioSystem::start(engine, &settings, options).unwrap();
    let tap = sys.midi_tap();
    sys.midi_sender().send(&[0x99, 36, 100]);
    let got = tap.recv_timeout(Duration::from_secs(2)).unwrap();
    assert_eq!(got.event.bytes(), &[0x99, 36, 100]);
    assert!(now_nanos() >= got.at_nanos);
    sys.stop();
}
