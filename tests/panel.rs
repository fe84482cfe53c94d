//! The panel as a therapist uses it, driven through egui_kittest (no window, no GPU):
//! controls are found by their words in bokmål and English, clicked, and the effect is
//! checked where it matters: in the engine's output, the device layer, the saved file.

mod common_panel;

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use egui_kittest::kittest::Queryable;
use samspill::session::settings::{AudioHost, AudioSettings, Language, Settings};
use samspill::ui::i18n::Text;
use samspill::ui::{tr, ApplyError, AudioControl, AudioState, AudioStatus, View};
use samspill::{Command, Patch};

use common_panel::{assert_all_in, panel_room, tone, PanelRoom, SR};

// Every block this binary renders runs `Engine::process` under this checker.
#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const OUTPUTS: [&str; 2] = ["Focusrite Scarlett 2i2", "HDA Intel PCH"];
const INPUTS: [&str; 1] = ["Focusrite Scarlett 2i2"];
const MIDI: [&str; 1] = ["Roland A-49"];

/// The device layer as a test double: fixed device lists, a status we set, and a
/// record of every `apply`.
#[derive(Clone, Default)]
struct FakeDevices {
    status: Arc<Mutex<AudioStatus>>,
    applied: Arc<Mutex<Vec<AudioSettings>>>,
    refuse: Arc<Mutex<Option<String>>>,
    /// When set, `apply` hangs until the test sends on (or drops) the other end: a
    /// device that takes its time to open.
    gate: Arc<Mutex<Option<crossbeam_channel::Receiver<()>>>>,
}

impl AudioControl for FakeDevices {
    fn status(&self) -> AudioStatus {
        self.status.lock().unwrap().clone()
    }
    fn output_devices(&self, host: AudioHost) -> Vec<String> {
        match host {
            AudioHost::None => vec![],
            _ => OUTPUTS.map(String::from).to_vec(),
        }
    }
    fn input_devices(&self, host: AudioHost) -> Vec<String> {
        match host {
            AudioHost::None => vec![],
            _ => INPUTS.map(String::from).to_vec(),
        }
    }
    fn midi_ports(&self) -> Vec<String> {
        MIDI.map(String::from).to_vec()
    }
    fn apply(&self, settings: &AudioSettings) -> Result<(), ApplyError> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            let _ = gate.recv();
        }
        if let Some(why) = self.refuse.lock().unwrap().clone() {
            return Err(why.into());
        }
        self.applied.lock().unwrap().push(settings.clone());
        let mut s = self.status.lock().unwrap();
        s.buffer_frames = settings.buffer_frames;
        s.sample_rate = settings.sample_rate;
        Ok(())
    }
}

/// The shared room (engine, controller, panel) with the device double beside it.
struct Room {
    base: PanelRoom,
    devices: FakeDevices,
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

fn room() -> Room {
    room_with(Settings::default())
}

fn room_with(settings: Settings) -> Room {
    let devices = FakeDevices::default();
    *devices.status.lock().unwrap() = AudioStatus {
        state: AudioState::Running,
        host: AudioHost::Alsa,
        device: OUTPUTS[0].into(),
        sample_rate: SR,
        buffer_frames: 256,
        latency_frames: 512,
        detail: String::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let base = panel_room(Box::new(devices.clone()), settings, dir, 720.0, |p| p);
    Room { base, devices }
}

impl Room {
    /// Scrolls the control into view, like a person would, and clicks it (there must
    /// be exactly one).
    fn click(&mut self, label: &str) {
        self.harness.get_by_label(label).scroll_to_me();
        self.harness.run();
        self.harness.get_by_label(label).click();
        self.harness.run();
    }

    /// Runs the engine for `secs`, with a 440 Hz tone of `tone_amp` on input 1 (0 = silence),
    /// and returns the left output; then lets the panel draw what the engine published.
    fn play(&mut self, secs: f64, tone_amp: f32) -> Vec<f32> {
        self.run_engine(secs, |at, one, _| tone(one, at, 440.0, tone_amp))
    }

    /// Draws frames until the device opener is done (it runs on a thread of its own).
    fn until_opened(&mut self) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.harness.state().state().opening {
            assert!(std::time::Instant::now() < until, "the device never opened");
            std::thread::sleep(std::time::Duration::from_millis(5));
            self.harness.run();
        }
        self.harness.run();
    }

    fn saved(&self) -> Settings {
        let (s, problem) = Settings::load_from(&self.dir.path().join("settings.toml"));
        assert!(problem.is_none(), "{problem:?}");
        s
    }
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

fn note_on() -> Command {
    Command::Midi {
        data: [0x90, 60, 100],
        len: 3,
    }
}

#[test]
fn the_panel_speaks_bokmal_first_and_every_label_changes_with_the_language() {
    let mut room = room();
    assert!(room.has("Spill") && room.has("Innstillinger") && room.has("Gitar"));
    assert!(room.has("Stopp alle toner") && room.has("Høyttalere"));
    assert_all_in(&room, Language::Bokmal);

    room.click("Innstillinger");
    assert_eq!(room.harness.state().state().view, View::Settings);
    assert!(room.has("Bufferstørrelse") && room.has("Bruk"));
    assert_all_in(&room, Language::Bokmal);

    room.click("English");
    assert_eq!(room.harness.state().settings().language, Language::English);
    assert!(room.has("Settings") && room.has("Buffer size") && room.has("Apply"));
    assert!(!room.has("Innstillinger"));
    assert_all_in(&room, Language::English);

    room.click("Play");
    assert!(room.has("Guitar") && room.has("Stop all notes") && room.has("Speakers"));
    assert!(!room.has("Gitar") && !room.has("Spill"));
    assert_all_in(&room, Language::English);
    assert_eq!(
        room.saved().language,
        Language::English,
        "the choice is kept"
    );

    room.click("Settings");
    room.click("Norsk bokmål");
    assert!(room.has("Innstillinger"));
    assert_all_in(&room, Language::Bokmal);
}

#[test]
fn the_meters_show_the_tone_on_input_one_and_silence_on_input_two() {
    let mut room = room();
    room.play(0.5, 0.25);
    let snap = room.controller.snapshot();
    assert!(
        snap.inputs[0].peak > 0.2 && snap.inputs[1].peak == 0.0,
        "{snap:?}"
    );
    // A 0.25 tone peaks at -12 dB; input 2 and the instruments read "silent".
    assert!(room.has("-12 dB"), "{:?}", room.texts());
    assert_eq!(room.harness.get_all_by_label("stille").count(), 2);
    assert!(snap.master.rms > 0.0, "the tone reaches the speakers");
}

/// What the keyboard plays for half a second after `setup` and a middle C.
fn keyboard_after(setup: impl FnOnce(&mut Room)) -> Vec<f32> {
    let mut room = room();
    setup(&mut room);
    room.controller.send(note_on()).unwrap();
    room.play(0.5, 0.0)
}

#[test]
fn choosing_guitar_on_the_panel_changes_what_the_keyboard_plays() {
    let piano = keyboard_after(|_| {});
    let by_panel = keyboard_after(|r| r.click("Gitar"));
    let by_command = keyboard_after(|r| r.controller.send(Command::Patch(Patch::Guitar)).unwrap());
    assert!(rms(&piano) > 0.01, "the note sounds");
    let diff = |a: &[f32], b: &[f32]| {
        let d: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
        rms(&d)
    };
    assert!(
        diff(&by_panel, &by_command) < 1e-6,
        "the panel's click is the Patch(Guitar) command"
    );
    assert!(
        diff(&by_panel, &piano) > 0.1 * rms(&piano),
        "guitar sounds unlike piano"
    );

    let mut room = room();
    room.click("Gitar");
    assert_eq!(room.harness.state().settings().patch, Patch::Guitar);
    assert_eq!(room.saved().patch, Patch::Guitar);
}

#[test]
fn quieter_and_the_volume_slider_turn_the_speakers_down() {
    let mut room = room();
    let before = rms(&room.play(1.0, 0.25)[SR as usize / 2..]);
    let meter_before = room.controller.snapshot().master.rms;
    for _ in 0..5 {
        room.click("Lavere");
    }
    assert_eq!(room.harness.state().settings().master_db, -21.0);
    assert!(room.has("-21 dB"));
    // Two seconds: the meter's RMS averages over about 300 ms.
    let after = rms(&room.play(2.0, 0.25)[SR as usize..]);
    let drop_db = 20.0 * (after / before).log10();
    assert!(
        (drop_db + 15.0).abs() < 0.5,
        "five presses: -15 dB, got {drop_db:.2}"
    );
    let meter = room.controller.snapshot().master.rms;
    let meter_drop_db = 20.0 * (meter / meter_before).log10();
    assert!(
        (meter_drop_db + 15.0).abs() < 1.0,
        "the meter follows: {meter_drop_db:.2}"
    );
    assert_eq!(room.saved().master_db, -21.0);

    // The slider is reached by its name, "Volum", and set like a screen reader would.
    room.harness
        .get_by_label("Volum")
        .set_value_accesskit(-40.0);
    room.harness.run();
    assert_eq!(room.harness.state().settings().master_db, -40.0);
    let quiet = rms(&room.play(1.0, 0.25)[SR as usize / 2..]);
    assert!((20.0 * (quiet / before).log10() + 34.0).abs() < 0.5);
}

#[test]
fn stop_all_notes_silences_a_held_note() {
    let mut room = room();
    room.controller.send(note_on()).unwrap();
    assert!(rms(&room.play(0.3, 0.0)) > 0.01);
    room.click("Stopp alle toner");
    let after = room.play(1.0, 0.0);
    assert!(
        rms(&after[SR as usize / 2..]) < 1e-4,
        "silent once the release is over"
    );
    assert_eq!(room.controller.snapshot().voices, 0);
}

#[test]
fn easy_mode_makes_every_control_at_least_48_px_tall() {
    let mut room = room();
    let normal_gitar = room.harness.get_by_label("Gitar").rect().height();
    room.click("Innstillinger");
    room.click("Enkel visning");
    assert!(room.harness.state().settings().easy_mode);
    assert!(room.saved().easy_mode);
    for view in ["Innstillinger", "Spill"] {
        if view == "Spill" {
            room.click("Spill");
        }
        let found = room.controls();
        assert!(found.len() > 10, "{view}: {found:?}");
        for (name, rect) in found {
            assert!(rect.height() >= 48.0, "{view}: {name:?} is {rect:?}");
        }
    }
    assert!(room.harness.get_by_label("Gitar").rect().height() > normal_gitar);
}

#[test]
fn apply_reopens_the_device_with_the_chosen_buffer_and_saves_it() {
    let mut room = room();
    room.click("Innstillinger");
    assert!(room.has("Forsinkelse: 5,3 ms"), "256 frames at 48 kHz");
    assert!(room.has("Roland A-49"), "the MIDI keyboard is listed");
    room.click("512");
    assert!(room.has("Forsinkelse: 10,7 ms"));
    room.click(OUTPUTS[1]);
    assert!(
        room.devices.applied.lock().unwrap().is_empty(),
        "nothing before Apply"
    );
    assert_eq!(room.saved().audio.buffer_frames, 256);

    room.click("Bruk");
    room.until_opened();
    let applied = room.devices.applied.lock().unwrap().clone();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].buffer_frames, 512);
    assert_eq!(applied[0].output_device.as_deref(), Some(OUTPUTS[1]));
    assert_eq!(applied[0].host, AudioHost::Alsa);
    assert_eq!(room.saved().audio, applied[0]);
    assert!(room.has("De nye lydinnstillingene er i bruk."));

    room.click("English");
    assert!(room.has("Latency: 10.7 ms"));
    room.click("256");
    assert!(room.has("Latency: 5.3 ms"));
}

#[test]
fn a_refused_apply_is_explained_and_the_old_settings_are_kept() {
    let mut room = room();
    *room.devices.refuse.lock().unwrap() = Some("The device is busy.".into());
    room.click("Innstillinger");
    room.click("1024");
    room.click("Bruk");
    room.until_opened();
    assert!(room.has("Kunne ikke bytte lydinnstillinger: The device is busy."));
    assert_eq!(room.harness.state().settings().audio.buffer_frames, 256);
}

#[test]
fn an_unplugged_device_is_explained_in_plain_words() {
    let mut room = room();
    room.devices.status.lock().unwrap().state = AudioState::DeviceLost;
    room.harness.run();
    let lost = tr(Language::Bokmal, Text::StatusDeviceLost);
    assert!(room.has(lost), "{:?}", room.texts());
    room.devices.status.lock().unwrap().state = AudioState::Running;
    room.harness.run();
    assert!(room
        .harness
        .query_by_label_contains("Lyden er på")
        .is_some());
}

#[test]
fn a_settings_file_that_cannot_be_written_is_shown_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where the file should be: saving fails.
    std::fs::create_dir(dir.path().join("settings.toml")).unwrap();
    let mut room = panel_room(
        Box::new(FakeDevices::default()),
        Settings::default(),
        dir,
        720.0,
        |p| p,
    );
    let harness = &mut room.harness;
    harness.get_by_label("Orgel").click();
    harness.run();
    assert_eq!(
        harness.state().settings().patch,
        Patch::Organ,
        "still chosen"
    );
    assert!(harness
        .query_by_label_contains("Kunne ikke lagre innstillingene")
        .is_some());
}

#[test]
fn hear_through_samspill_off_takes_input_one_out_of_the_speakers() {
    let mut room = room();
    let heard = room.play(0.3, 0.25);
    assert!(
        rms(&heard[heard.len() / 2..]) > 0.05,
        "the tone is heard first"
    );
    assert_eq!(room.harness.get_all_by_label("Hør i programmet").count(), 2);
    assert_eq!(room.harness.state().state().input_monitor, [true, true]);

    // The hover text says why one would, and that loops record the input either way.
    let hear = room
        .harness
        .get_all_by_label("Hør i programmet")
        .next()
        .unwrap();
    hear.hover();
    room.harness.run();
    assert!(
        room.has(tr(Language::Bokmal, Text::HearInputHint)),
        "{:?}",
        room.texts()
    );

    room.harness
        .get_all_by_label("Hør i programmet")
        .next()
        .unwrap()
        .click();
    room.harness.run();
    assert_eq!(room.harness.state().state().input_monitor, [false, true]);
    let quiet = room.play(0.3, 0.25);
    assert!(
        rms(&quiet[quiet.len() / 2..]) < 1e-4,
        "input 1 is still heard: {}",
        rms(&quiet[quiet.len() / 2..])
    );
    // Still metered: the input is there, only not sent to the speakers.
    assert!(room.controller.snapshot().inputs[0].peak > 0.2);
    // Kept for next time: a panel started from the saved settings does not play it.
    let saved = room.saved();
    assert_eq!(saved.unmonitored_inputs, [0]);
    let mut next = room_with(saved);
    assert_eq!(next.harness.state().state().input_monitor, [false, true]);
    let next_heard = next.play(0.3, 0.25);
    assert!(
        rms(&next_heard[next_heard.len() / 2..]) < 1e-4,
        "after a restart input 1 is heard again"
    );
    assert!(
        next.controller.snapshot().inputs[0].peak > 0.2,
        "the tone came in"
    );

    room.click("Innstillinger");
    room.click("English");
    room.click("Play");
    assert_eq!(
        room.harness
            .get_all_by_label("Hear through Samspill")
            .count(),
        2
    );
    assert_all_in(&room, Language::English);
    room.harness
        .get_all_by_label("Hear through Samspill")
        .next()
        .unwrap()
        .click();
    room.harness.run();
    let back = room.play(0.3, 0.25);
    assert!(rms(&back[back.len() / 2..]) > 0.05, "on again: heard again");
    assert!(room.saved().unmonitored_inputs.is_empty());
}

#[test]
fn the_panel_keeps_drawing_while_a_device_takes_its_time_to_open() {
    let mut room = room();
    let (release, gate) = crossbeam_channel::bounded::<()>(0);
    *room.devices.gate.lock().unwrap() = Some(gate);
    room.click("Innstillinger");
    room.click("512");
    room.click("Bruk");
    // The device is still opening: frames keep coming, and say so.
    let opening = tr(Language::Bokmal, Text::Opening);
    for _ in 0..20 {
        room.harness.run();
        assert!(room.harness.state().state().opening);
        assert!(room.has(opening), "{:?}", room.texts());
    }
    assert!(room.devices.applied.lock().unwrap().is_empty());
    // The panel answers a click meanwhile (a language change is drawn at once).
    room.click("English");
    assert!(room.has("Opening the sound device …"), "{:?}", room.texts());
    drop(release);
    room.until_opened();
    assert_eq!(room.devices.applied.lock().unwrap().len(), 1);
    assert!(
        room.has("The new sound settings are in use."),
        "{:?}",
        room.texts()
    );
    assert_eq!(room.saved().audio.buffer_frames, 512);
}
