//! The Listen view as a therapist and a client use it, through egui_kittest on a real
//! engine: songs dropped on the window become the list, the big buttons pause, play on
//! and dip the music for talk, a song that cannot play says why, the settings keep the
//! fade; in both languages, and in easy mode with only play/pause, next and talk.

mod common_panel;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eframe::egui;
use egui_kittest::kittest::Queryable;
use samspill::session::settings::{Language, Settings};
use samspill::ui::i18n::{tr, Text};

use common_panel::{assert_all_in, panel_room, PanelRoom, Running};

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// A file dropped on the window, as the windowing layer hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// A steady 440 Hz tone, 10 s, encoded by the reference `flac` encoder.
fn song(dir: &Path) -> PathBuf {
    let wav = dir.join("tone.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for i in 0..10 * 48_000 {
        let v =
            (0.2 * (std::f64::consts::TAU * 440.0 * i as f64 / 48_000.0).sin() * 32767.0) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
    let flac = dir.join("A440.flac");
    let out = std::process::Command::new("flac")
        .args(["-s", "-f", "-o"])
        .arg(&flac)
        .arg(&wav)
        .output()
        .expect("flac (bash .ci/install)");
    assert!(out.status.success());
    std::fs::remove_file(wav).unwrap();
    flac
}

fn room(settings: Settings) -> PanelRoom {
    let dir = tempfile::tempdir().unwrap();
    panel_room(Box::new(Running), settings, dir, 900.0, |p| p)
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

fn drop_files(room: &mut PanelRoom, paths: &[PathBuf]) {
    for p in paths {
        room.harness
            .input_mut()
            .dropped_files
            .push(Arc::new(Dropped(p.clone())));
    }
    room.harness.run();
}

/// The engine runs `secs` with silent inputs, the panel drawing every 0.1 s of it.
fn silence(room: &mut PanelRoom, secs: f64) -> Vec<f32> {
    let mut out = Vec::new();
    let mut left = secs;
    while left > 1e-9 {
        let step = left.min(0.1);
        out.extend(room.run_engine(step, |_, one, two| {
            one.fill(0.0);
            two.fill(0.0);
        }));
        left -= step;
    }
    out
}

fn the_list_plays_pauses_and_dips(lang: Language) {
    let music = tempfile::tempdir().unwrap();
    let flac = song(music.path());
    std::fs::write(music.path().join("list.m3u"), "A440.flac\nB220.mp3\n").unwrap();
    let mut room = room(Settings {
        language: lang,
        ..Settings::default()
    });
    room.click(tr(lang, Text::ViewListen));
    assert!(
        room.has(tr(lang, Text::ListenNothing)),
        "{:?}",
        room.texts()
    );
    drop_files(&mut room, &[music.path().join("list.m3u")]);
    let loud = rms(&silence(&mut room, 1.0));
    // Not measured yet (the scan runs beside it): played at the cautious guess.
    assert!(loud > 0.01, "the song plays: rms {loud}");
    assert!(
        room.has("A440.flac"),
        "the title is shown: {:?}",
        room.texts()
    );
    // The missing song stays in the list with its reason, in the panel's language.
    assert!(
        room.has(tr(lang, Text::ProblemMissing)),
        "{:?}",
        room.texts()
    );
    room.click(tr(lang, Text::ListenPause));
    silence(&mut room, 0.7);
    assert!(rms(&silence(&mut room, 0.3)) < 1e-6, "paused is silent");
    let paused = tr(lang, Text::ListenPaused);
    assert!(
        room.texts().iter().any(|t| t.contains(paused)),
        "{:?}",
        room.texts()
    );
    room.click(tr(lang, Text::ListenResume));
    silence(&mut room, 0.7);
    room.click(tr(lang, Text::ListenTalk));
    silence(&mut room, 0.5);
    let dipped = rms(&silence(&mut room, 0.5));
    let db = 20.0 * (dipped / loud).log10();
    assert!(
        (db + 15.0).abs() < 1.0,
        "talk dips the music 15 dB: {db:.1}"
    );
    assert!(room.has(tr(lang, Text::ListenTalking)));
    // Not in easy mode: skip, stop, and where to open songs from.
    for t in [
        Text::ListenBack,
        Text::ListenForward,
        Text::ListenStop,
        Text::ListenOpen,
    ] {
        assert!(room.has(tr(lang, t)), "{t:?} missing: {:?}", room.texts());
    }
    assert_all_in(&room, lang);
    let _ = flac;
}

#[test]
fn songs_dropped_on_the_window_play_pause_and_dip_for_talk_in_english() {
    the_list_plays_pauses_and_dips(Language::English);
}

#[test]
fn songs_dropped_on_the_window_play_pause_and_dip_for_talk_in_bokmal() {
    the_list_plays_pauses_and_dips(Language::Bokmal);
}

#[test]
fn easy_mode_shows_play_next_and_talk_only_and_the_fade_setting_is_kept() {
    let music = tempfile::tempdir().unwrap();
    let flac = song(music.path());
    let mut room = room(Settings {
        easy_mode: true,
        ..Settings::default()
    });
    let lang = Language::Bokmal;
    drop_files(&mut room, &[flac.clone(), flac]);
    silence(&mut room, 0.2);
    for t in [Text::ListenPause, Text::ListenNext, Text::ListenTalk] {
        assert!(room.has(tr(lang, t)), "{t:?} missing: {:?}", room.texts());
    }
    for t in [Text::ListenStop, Text::ListenOpen, Text::ListenBack] {
        assert!(!room.has(tr(lang, t)), "{t:?} is shown in easy mode");
    }
    room.click(tr(lang, Text::ListenNext));
    silence(&mut room, 0.2);
    assert_eq!(room.harness.state().state().listen.desk.playing, Some(1));
    assert_all_in(&room, lang);

    room.click(tr(lang, Text::ViewSettings));
    room.click("1,0");
    assert_eq!(room.saved().listen.fade_secs, 1.0, "the fade is saved");
}

/// Lyrics beside the song: an LRC file's line is marked as the song reaches it; a cue
/// set from the panel shows its prompt large when the song gets there; an A–B repeat is
/// set with two presses; the song's note is kept.
#[test]
fn lyrics_follow_the_song_and_cues_and_repeat_are_set_from_the_panel() {
    let music = tempfile::tempdir().unwrap();
    let flac = song(music.path());
    std::fs::write(
        music.path().join("A440.lrc"),
        "[ti:A440]\n[00:00.50]First line\n[00:01.50]Second line\n[00:03.00]Third line\n",
    )
    .unwrap();
    let mut room = room(Settings {
        language: Language::English,
        ..Settings::default()
    });
    let lang = Language::English;
    drop_files(&mut room, &[flac]);
    silence(&mut room, 1.7);
    let view = room.harness.state().state().listen.desk.clone();
    let lyrics = view.lyrics.clone().expect("the lyrics beside the song");
    assert_eq!(view.lyric_line, Some(1), "the second line is being sung");
    assert_eq!(lyrics.lines[1].words, "Second line");
    assert!(room.has("Second line") && room.has("First line"));

    // A cue at the place the song is now, then heard again after a skip back.
    room.harness
        .get_by_label(tr(lang, Text::ListenCues))
        .focus();
    room.harness.run();
    room.harness
        .get_by_label(tr(lang, Text::ListenCues))
        .type_text("What do you hear?");
    room.harness.run();
    room.click(tr(lang, Text::ListenCueHere));
    let cues = room.harness.state().state().listen.desk.cues.clone();
    assert_eq!(cues.len(), 1);
    assert_eq!(cues[0].prompt, "What do you hear?");
    room.click(tr(lang, Text::ListenBack));
    silence(&mut room, 2.5);
    assert!(
        room.has("What do you hear?"),
        "the prompt is shown: {:?}",
        room.texts()
    );
    assert_eq!(
        room.harness.state().state().listen.desk.prompt.as_deref(),
        Some("What do you hear?")
    );

    // Once the scan (on its own thread) has read the song, its waveform is drawn; a
    // press on it goes there.
    let start = std::time::Instant::now();
    while room.harness.state().state().listen.desk.overview.is_none()
        && start.elapsed() < std::time::Duration::from_secs(10)
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
        room.harness.run();
    }
    let o = room.harness.state().state().listen.desk.overview.clone();
    assert_eq!(
        o.expect("the song's overview").peaks.len(),
        469,
        "10 s of 1024-frame peaks"
    );
    room.click(tr(lang, Text::ListenSongLine));
    silence(&mut room, 0.1);
    let at = room.harness.state().state().listen.desk.position_secs;
    assert!(
        (at - 5.1).abs() < 0.2,
        "a press in the middle goes to the middle: {at}"
    );

    room.click(tr(lang, Text::ListenRepeatA));
    silence(&mut room, 1.0);
    room.click(tr(lang, Text::ListenRepeatB));
    let r = room
        .harness
        .state()
        .state()
        .listen
        .desk
        .repeat
        .expect("a repeat");
    assert!((r.1 - r.0 - 1.0).abs() < 0.1, "about a second: {r:?}");
    silence(&mut room, 2.0);
    let at = room.harness.state().state().listen.desk.position_secs;
    assert!(
        at >= r.0 - 0.01 && at <= r.1 + 0.01,
        "the song goes round A–B: {at}"
    );
    assert_all_in(&room, lang);
}

/// The therapist's microphone dips the music by itself: with input 1 chosen in the
/// settings, speaking into it (here a tone, not heard through Samspill) brings the
/// music down by the talk depth, and it comes back after a pause.
#[test]
fn the_microphone_chosen_in_the_settings_dips_the_music_while_it_is_heard() {
    let music = tempfile::tempdir().unwrap();
    let flac = song(music.path());
    let mut room = room(Settings {
        unmonitored_inputs: vec![0],
        ..Settings::default()
    });
    let lang = Language::Bokmal;
    room.click(tr(lang, Text::ViewSettings));
    room.click(&samspill::ui::i18n::tr_n(lang, Text::ListenMicInput, 1));
    assert_eq!(room.saved().listen.mic_input, Some(0), "the choice is kept");
    drop_files(&mut room, &[flac]);
    silence(&mut room, 0.5);
    let loud = rms(&silence(&mut room, 0.5));
    let speaking = room.run_engine(1.5, |at, one, _| common_panel::tone(one, at, 200.0, 0.3));
    let dipped = rms(&speaking[48_000..]);
    let db = 20.0 * (dipped / loud).log10();
    assert!(
        (db + 15.0).abs() < 1.0,
        "the voice dips the music 15 dB: {db:.1}"
    );
    silence(&mut room, 2.0);
    let back = rms(&silence(&mut room, 0.5));
    assert!(
        (back / loud - 1.0).abs() < 0.02,
        "the music is back: {back} vs {loud}"
    );
}

/// The song chooser: "Choose songs …" opens it; folders are gone into, a song pressed
/// plays, "Play the whole folder" queues all of it.
#[test]
fn songs_are_chosen_in_the_panel_without_a_desktop_file_dialog() {
    use samspill::ui::state::ListenAction;
    use samspill::ui::Action;
    let music = tempfile::tempdir().unwrap();
    let album = music.path().join("Plate");
    std::fs::create_dir(&album).unwrap();
    song(&album);
    std::fs::copy(album.join("A440.flac"), album.join("B440.flac")).unwrap();
    let mut room = room(Settings {
        language: Language::English,
        ..Settings::default()
    });
    let lang = Language::English;
    room.click(tr(lang, Text::ViewListen));
    assert!(room.has(tr(lang, Text::ListenChoose)));
    room.click(tr(lang, Text::ListenChoose));
    assert!(room.has(tr(lang, Text::ListenClose)), "the chooser is open");
    // Where it opens depends on the machine; the test's folder is chosen from there.
    room.harness
        .state_mut()
        .act(Action::Listen(ListenAction::Choose(Some(
            music.path().to_owned(),
        ))));
    room.harness.run();
    room.click("Plate/");
    assert!(
        room.has("A440.flac") && room.has("B440.flac"),
        "{:?}",
        room.texts()
    );
    room.click("B440.flac");
    silence(&mut room, 0.2);
    let d = room.harness.state().state().listen.desk.clone();
    assert_eq!(d.queue.len(), 1);
    assert_eq!(d.queue[0].title, "B440.flac");
    assert!(!room.has(tr(lang, Text::ListenClose)), "the chooser closes");
    room.click(tr(lang, Text::ListenChoose));
    room.harness
        .state_mut()
        .act(Action::Listen(ListenAction::Choose(Some(album.clone()))));
    room.harness.run();
    room.click(tr(lang, Text::ListenPlayFolder));
    silence(&mut room, 0.2);
    assert_eq!(room.harness.state().state().listen.desk.queue.len(), 2);
    assert_all_in(&room, lang);
}
