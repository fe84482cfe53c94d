//! The Record view as a client and a therapist use it, through egui_kittest on a real
//! engine: one big button, the count-in shown large, the take on its track's lane, the
//! file on disk; in both languages, and in easy mode with nothing that can lose a take.

mod common_panel;

use std::time::{Duration, Instant};

use samspill::session::settings::{Language, Settings};
use samspill::ui::i18n::{tr, Text};

use common_panel::{assert_all_in, panel_room, tone, PanelRoom, Running};

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn room(settings: Settings) -> PanelRoom {
    let dir = tempfile::tempdir().unwrap();
    let songs = dir.path().join("songs");
    panel_room(Box::new(Running), settings, dir, 900.0, move |p| {
        p.songs_at(songs)
    })
}

fn play(room: &mut PanelRoom, secs: f64) {
    room.run_engine(secs, |at, one, _| tone(one, at, 330.0, 0.25));
}

/// Lets the panel draw until `done`, as the writer finishes on its own thread.
fn until(room: &mut PanelRoom, what: &str, done: impl Fn(&PanelRoom) -> bool) {
    let start = Instant::now();
    while !done(room) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} never happened: {:?}",
            room.texts()
        );
        play(room, 0.02);
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lang(room: &PanelRoom) -> Language {
    room.harness.state().settings().language
}

fn takes_on_track_one(room: &PanelRoom) -> usize {
    room.harness
        .state()
        .state()
        .record
        .desk
        .lanes
        .first()
        .map_or(0, |l| l.takes.len())
}

fn record_a_take(room: &mut PanelRoom) {
    let l = lang(room);
    room.click(tr(l, Text::ViewRecord));
    assert!(room.has(tr(l, Text::RecordNoSong)), "{:?}", room.texts());
    room.click(tr(l, Text::RecordStart));
    // The count-in: a bar at 100 bpm (2.4 s), counted down large.
    play(room, 0.5);
    let counting = room
        .texts()
        .into_iter()
        .find(|t| t.starts_with(&tr(l, Text::RecordCountIn).replace("{n}", "")));
    assert!(counting.is_some(), "no count-in shown: {:?}", room.texts());
    assert!(room.has(tr(l, Text::RecordStop)));
    play(room, 3.0);
    let recording = tr(l, Text::RecordRecording);
    assert!(
        room.texts().iter().any(|t| t.starts_with(recording)),
        "no running take shown: {:?}",
        room.texts()
    );
    room.click(tr(l, Text::RecordStop));
    until(room, "the take on its lane", |r| takes_on_track_one(r) == 1);
}

#[test]
fn one_press_records_a_take_after_the_count_in_and_it_lands_on_its_lane_and_disk() {
    let mut room = room(Settings {
        language: Language::English,
        ..Settings::default()
    });
    record_a_take(&mut room);
    let l = lang(&room);
    assert!(room.has(tr(l, Text::RecordStart)), "the big button is back");
    let song = room
        .harness
        .state()
        .state()
        .record
        .desk
        .song
        .clone()
        .unwrap();
    let songs = room.dir.path().join("songs");
    let folder = std::fs::read_dir(&songs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let take = folder.join("takes/track01-take001.wav");
    let wav = hound::WavReader::open(&take).expect("the take is on disk");
    let secs = wav.duration() as f64 / wav.spec().sample_rate as f64;
    // Recorded from the end of the count-in to the stop: about 3.5 - 2.4 s.
    assert!(secs > 0.6 && secs < 1.5, "the take is {secs} s long");
    let rms = {
        let v: Vec<f32> = wav
            .into_samples::<i32>()
            .map(|s| s.unwrap() as f32 / 8_388_607.0)
            .collect();
        (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt()
    };
    assert!(rms > 0.05, "the take holds the tone: rms {rms}");
    // Its lane draws it from the overview the writer made while it recorded.
    let lane = room.harness.state().state().record.desk.lanes[0].takes[0].clone();
    assert_eq!(lane.peaks.len() as f64, (secs * 48_000.0 / 1024.0).ceil());
    let loud = lane.peaks.iter().filter(|p| **p > 10).count();
    assert!(
        loud * 10 > lane.peaks.len() * 8,
        "the overview shows the tone: {:?}",
        lane.peaks
    );
    assert!(!song.is_empty());
    // Not in easy mode: the take can be thrown away and the song saved.
    for t in [
        Text::RecordDiscardLast,
        Text::RecordExportWav,
        Text::RecordExportPhone,
        Text::RecordNewSong,
    ] {
        assert!(room.has(tr(l, t)), "{:?} missing: {:?}", t, room.texts());
    }
    room.click(tr(l, Text::RecordExportWav));
    let saved = tr(l, Text::RecordSaved).replace("{n}", "");
    until(&mut room, "the export", |r| {
        r.texts().iter().any(|t| t.starts_with(&saved))
    });
    assert!(std::fs::read_dir(folder.join("exports")).unwrap().count() == 1);
    assert_all_in(&room, Language::English);
}

/// A punch and a cycle from the panel: the checkbox sets the song's stretch, "Record here"
/// records on that track, and the take lands in the stretch.
#[test]
fn a_punch_on_track_one_and_a_cycle_are_set_and_recorded_from_the_panel() {
    let mut room = room(Settings::default());
    record_a_take(&mut room);
    let l = lang(&room);
    let desk = |r: &PanelRoom| r.harness.state().state().record.desk.clone();
    assert_eq!(desk(&room).punch, None);
    room.click(tr(l, Text::RecordPunch));
    // The first take is about a second long: the punch is put at 2 to 6 s.
    assert_eq!(desk(&room).punch, Some((2.0, 6.0)), "{:?}", room.texts());
    assert!(room.has(tr(l, Text::RecordFrom)) && room.has(tr(l, Text::RecordTo)));
    room.click(tr(l, Text::RecordHere));
    assert_eq!(desk(&room).recording, Some(0), "recording on track 1");
    // The count-in, the pre-roll to 2 s, and the punch stops itself at 6 s.
    play(&mut room, 2.4 + 6.5);
    until(&mut room, "the punched take", |r| {
        takes_on_track_one(r) == 2
    });
    let take = desk(&room).lanes[0].takes[1].clone();
    // With the 10 ms crossfades either side, over the old take.
    let fade = 480;
    assert_eq!(
        take.start,
        2 * 48_000 - fade,
        "the take starts at the punch-in"
    );
    assert_eq!(
        take.frames,
        4 * 48_000 + 2 * fade,
        "and ends at the punch-out"
    );
    assert_eq!(desk(&room).lanes.len(), 1, "no new track was made");

    // The cycle turns the punch off; its bars are the next take's stretch.
    room.click(tr(l, Text::RecordCycle));
    assert_eq!(desk(&room).cycle, Some((1, 4)));
    assert_eq!(desk(&room).punch, None, "one stretch at a time");
    let toml = std::fs::read_to_string(
        std::fs::read_dir(room.dir.path().join("songs"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("song.toml"),
    )
    .unwrap();
    let saved: toml::Value = toml::from_str(&toml).unwrap();
    assert_eq!(
        saved.get("cycle_bars").map(|v| v.to_string()),
        Some("[1, 4]".to_string()),
        "the song keeps its cycle: {toml}"
    );
    room.click(tr(l, Text::RecordCycle));
    assert_eq!(desk(&room).cycle, None);
    assert_all_in(&room, l);
}

#[test]
fn in_easy_mode_the_record_view_is_the_big_button_and_the_lanes_in_bokmal() {
    let mut room = room(Settings {
        easy_mode: true,
        language: Language::Bokmal,
        ..Settings::default()
    });
    record_a_take(&mut room);
    let l = lang(&room);
    for t in [
        Text::RecordDiscardLast,
        Text::RecordExportWav,
        Text::RecordExportPhone,
        Text::RecordNewSong,
        Text::RecordDiscardRunning,
    ] {
        assert!(!room.has(tr(l, t)), "easy mode shows {t:?}");
    }
    assert!(room.has("Spor 1"), "{:?}", room.texts());
    assert_all_in(&room, Language::Bokmal);
}

/// After a crash: the take it cut off is put back at once, the Record view comes up
/// with it, and the therapist keeps it or throws it away (the file stays either way).
#[test]
fn a_take_a_crash_cut_off_is_offered_to_keep_or_throw_away_at_the_next_start() {
    use samspill::session::song::{self, JournalEntry};
    let dir = tempfile::tempdir().unwrap();
    let songs = dir.path().join("songs");
    std::fs::create_dir_all(&songs).unwrap();
    let (folder, _) = song::create_song(&songs, "Natt").unwrap();
    let entry = JournalEntry {
        track: 0,
        file: "track01-take001.wav".into(),
        start: 0,
        sample_rate: 48_000,
        fade: 0,
        cycle_frames: 0,
    };
    song::write_journal(&folder, &entry).unwrap();
    // What a power cut leaves: the sound on disk, the header still saying "empty".
    let take = folder.join("takes").join(&entry.file);
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&take, spec).unwrap();
    for i in 0..48_000 * 3 {
        let v = ((i as f32 * 0.05).sin() * 3_000_000.0) as i32;
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
    let mut bytes = std::fs::read(&take).unwrap();
    bytes[4..8].copy_from_slice(&36u32.to_le_bytes());
    bytes[40..44].copy_from_slice(&0u32.to_le_bytes());
    std::fs::write(&take, bytes).unwrap();

    let mut room = panel_room(
        Box::new(Running),
        Settings::default(),
        dir,
        900.0,
        move |p| p.songs_at(songs),
    );
    play(&mut room, 0.05);
    let l = lang(&room);
    let offered = tr(l, Text::RecordRecoveredN).replace("{n}.", "");
    assert!(
        room.texts()
            .iter()
            .any(|t| t.starts_with(&offered) && t.contains("0:03")),
        "the recovered take is offered: {:?}",
        room.texts()
    );
    assert!(room.has(tr(l, Text::RecordKeepRecovered)));
    // Put back already: its lane shows it before anyone decides.
    assert_eq!(takes_on_track_one(&room), 1);
    room.click(tr(l, Text::RecordDiscardRecovered));
    play(&mut room, 0.05);
    assert!(!room.texts().iter().any(|t| t.starts_with(&offered)));
    let (_, s) = song::open_song(&room.dir.path().join("songs"), "Natt").unwrap();
    let k = &s.tracks[0].takes[0];
    assert!(k.recovered && !k.kept, "{k:?}");
    assert_eq!(k.frames, 48_000 * 3);
    assert!(take.is_file(), "throwing away keeps the file");
    assert_all_in(&room, l);
}
