//! A song recorded by a render script, with the headless program's words: a count-in
//! and click, two takes, a punch with its pre-roll and crossfades, and a cycle that
//! stacks a take each time round. The takes on disk must be what the engine heard,
//! sample for sample, a round trip late; the punch must replace only its stretch.

mod common;

use common::*;
use samspill::disk::overview;
use samspill::disk::song_reader::{render_track, PlacedTake};
use samspill::render::{render, Script};
use samspill::session::song::{open_song, Take};

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// What the player plays: noise, so a take in the wrong place cannot look right.
fn noise(frames: usize) -> Vec<f32> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..frames)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.6
        })
        .collect()
}

fn read_stereo(path: &std::path::Path) -> (Vec<f32>, Vec<f32>) {
    let mut r = hound::WavReader::open(path).unwrap();
    assert_eq!(r.spec().bits_per_sample, 24, "takes are 24-bit by default");
    let v: Vec<f32> = r
        .samples::<i32>()
        .map(|s| s.unwrap() as f32 / 8_388_607.0)
        .collect();
    v.chunks(2).map(|f| (f[0], f[1])).unzip()
}

/// The take's frames `offset ..` equal `gain × input` from `input_at`, within 24-bit
/// rounding; the gain (the input strip's level, one number) is read off the take.
fn assert_take_is_input(
    what: &str,
    take: &(Vec<f32>, Vec<f32>),
    offset: usize,
    frames: usize,
    input: &[f32],
    input_at: usize,
) {
    let (l, r) = take;
    assert!(l.len() >= offset + frames, "{what}: the file is too short");
    let k = (0..frames)
        .max_by(|a, b| {
            input[input_at + a]
                .abs()
                .total_cmp(&input[input_at + b].abs())
        })
        .unwrap();
    let g = l[offset + k] / input[input_at + k];
    assert!(g > 0.3 && g < 1.5, "{what}: the input is in the take ({g})");
    for i in 0..frames {
        let want = g * input[input_at + i];
        assert!(
            (l[offset + i] - want).abs() < 3e-6 && (r[offset + i] - want).abs() < 3e-6,
            "{what}: frame {i} is {} / {}, the input a round trip late was {want}",
            l[offset + i],
            r[offset + i]
        );
    }
}

const RATE: usize = 48_000;
/// 120 bpm in 4: a bar is two seconds.
const BAR: usize = 2 * RATE;
const ROUND_TRIP: usize = 300;
/// A song line takes effect a fifth of a second after it is given.
const SOON: usize = RATE / 5;

#[test]
fn a_scripted_song_records_takes_a_punch_and_a_cycle_that_are_what_the_engine_heard() {
    let dir = tempfile::tempdir().unwrap();
    let input = noise(40 * RATE);
    write_wav(&dir.path().join("player.wav"), std::slice::from_ref(&input));
    let export = dir.path().join("song.wav");
    let text = format!(
        r#"
soundfont = "none"
block_frames = 128
length_secs = 34.0
songs = "songs"
[[input]]
file = "player.wav"
[looper]
latency_offset = {ROUND_TRIP}
[[command]]
at_secs = 0.0
song = "song new Render"
[[command]]
at_secs = 0.0
song = "song tempo 120 4"
[[command]]
at_secs = 0.1
song = "record"
[[command]]
at_secs = 6.0
song = "stop"
[[command]]
at_secs = 6.5
song = "record"
[[command]]
at_secs = 12.0
song = "stop"
[[command]]
at_secs = 12.5
song = "song punch 2.5 3.5"
[[command]]
at_secs = 12.5
song = "record 1"
[[command]]
at_secs = 18.0
song = "stop"
[[command]]
at_secs = 18.5
song = "song cycle 2 2"
[[command]]
at_secs = 18.5
song = "record 2"
[[command]]
at_secs = 25.7
song = "stop"
[[command]]
at_secs = 33.0
song = "export wav {}"
"#,
        export.display()
    );
    let script = Script::parse(&text, "song.toml", dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let before = assert_no_alloc::violation_count();
    let out = render(&script).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        assert_no_alloc::violation_count(),
        before,
        "the engine allocated with takes armed"
    );
    let said = out.said.join("\n");
    for want in [
        "song: Render (new)",
        "recording: track 1, take 1",
        "take: track 1, take 1: 0:03.7 kept",
        "recording: track 2, take 1",
        "recording: track 1, take 2 from 0:02.5 to 0:03.5 (playing from 0:00.5)",
        "take: track 1, take 2: 0:01.0 kept",
        "recording: track 2, take 2 round and round from 0:02.0 to 0:04.0",
        "takes 2 to 4 (3 times round, 0:02.0 each): take 3 kept",
        "exported: ",
    ] {
        assert!(said.contains(want), "the desk said:\n{said}\nnot {want:?}");
    }

    let (song_dir, song) = open_song(&dir.path().join("songs"), "Render").unwrap();
    let takes = song_dir.join("takes");
    let t1: &[Take] = &song.tracks[0].takes;
    let t2: &[Take] = &song.tracks[1].takes;
    assert_eq!((t1.len(), t2.len()), (2, 4));

    // Take 1: started after a bar of count-in; the input a round trip later.
    let started = RATE / 10 + SOON + BAR;
    assert_eq!(t1[0].start, 0);
    assert_eq!(t1[0].frames as usize, 6 * RATE - started);
    let first = read_stereo(&takes.join(&t1[0].file));
    assert_take_is_input(
        "take 1",
        &first,
        0,
        t1[0].frames as usize,
        &input,
        started + ROUND_TRIP,
    );
    // Its waveform overview, made by the writer as it wrote, is the file's.
    let take1 = takes.join(&t1[0].file);
    let made = std::fs::read(overview::peaks_path(&take1)).unwrap();
    std::fs::remove_file(overview::peaks_path(&take1)).unwrap();
    let from_file = overview::load_or_make(&take1).unwrap();
    assert_eq!(from_file.len(), (t1[0].frames as usize).div_ceil(1024));
    assert_eq!(made.len(), 8 + from_file.len());
    assert!(made[8..]
        .iter()
        .zip(&from_file)
        .all(|(a, b)| a.abs_diff(*b) <= 1 && *b > 20));
    // Track 2's first take, the same way.
    let started2 = RATE * 65 / 10 + SOON + BAR;
    assert_eq!(t2[0].frames as usize, 12 * RATE - started2);
    assert_take_is_input(
        "track 2, take 1",
        &read_stereo(&takes.join(&t2[0].file)),
        0,
        t2[0].frames as usize,
        &input,
        started2 + ROUND_TRIP,
    );

    // The punch: 2.5 s to 3.5 s with 10 ms fades either side, after a 2 s pre-roll and
    // no count-in; it stopped by itself at the punch-out.
    let fade = RATE / 100;
    let punch = &t1[1];
    assert_eq!(punch.start as usize, RATE * 5 / 2 - fade);
    assert_eq!(punch.frames as usize, RATE + 2 * fade);
    assert_eq!(punch.fade as usize, fade);
    let played_from = punch.start as usize - 2 * RATE;
    let punch_started = RATE * 125 / 10 + SOON + (punch.start as usize - played_from);
    let punched = read_stereo(&takes.join(&punch.file));
    assert_take_is_input(
        "the punch",
        &punched,
        0,
        punch.frames as usize,
        &input,
        punch_started + ROUND_TRIP,
    );
    // As the song plays it: take 1 outside the punch, the punch inside, faded across.
    let placed = |k: &Take| PlacedTake {
        path: takes.join(&k.file),
        start: k.start,
        frames: k.frames,
        offset: k.offset,
        fade: k.fade,
    };
    let len = t1[0].frames as usize;
    let (heard, _) = render_track(t1.iter().map(placed).collect(), 1.0, 1.0, RATE as u32, len)
        .unwrap_or_else(|e| panic!("{e}"));
    let s = punch.start as usize;
    for (i, (heard, old)) in heard.iter().zip(&first.0).enumerate() {
        let new = if (s..s + punch.frames as usize).contains(&i) {
            punched.0[i - s]
        } else {
            0.0
        };
        let k = i as f32 - s as f32;
        let g = if i < s || i >= s + punch.frames as usize {
            0.0
        } else if k < fade as f32 {
            (k + 0.5) / fade as f32
        } else if k >= (punch.frames as usize - fade) as f32 {
            (punch.frames as f32 - k - 0.5) / fade as f32
        } else {
            1.0
        };
        let want = old * (1.0 - g) + new * g;
        assert!(
            (heard - want).abs() < 1e-6,
            "the punched track at {i}: {heard} not {want}"
        );
    }

    // The cycle: bar 2 round and round after a bar of count-in; stopped half way round
    // the third time. Three takes in one file, one after the other; the last whole one
    // is kept.
    let cycle_started = RATE * 185 / 10 + SOON + BAR;
    let total = RATE * 257 / 10 - cycle_started;
    let file = read_stereo(&takes.join(&t2[1].file));
    assert_eq!(file.0.len(), total);
    for (k, take) in t2[1..].iter().enumerate() {
        assert_eq!(take.file, t2[1].file);
        assert_eq!(take.start as usize, BAR);
        assert_eq!(take.offset as usize, k * BAR);
        assert_eq!(take.kept, k == 1, "take {} kept", k + 2);
    }
    assert_eq!(t2[3].frames as usize, total - 2 * BAR);
    assert_take_is_input(
        "the cycle",
        &file,
        0,
        total,
        &input,
        cycle_started + ROUND_TRIP,
    );

    // The export plays what was kept, and the file is there.
    let exported = hound::WavReader::open(&export).unwrap();
    assert_eq!(exported.spec().channels, 2);
    assert!(exported.duration() as usize >= 2 * BAR);
}

/// A take longer than a file holds (here 1 s, as 4 GiB would be) goes on in the next
/// file without a gap: the song plays its parts one after the other as the one take, and
/// a cycle's times round are never split. A crash during such a take brings every part
/// back.
#[test]
fn a_take_that_outgrows_its_file_goes_on_in_the_next_gap_free_and_comes_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let input = noise(20 * RATE);
    write_wav(&dir.path().join("player.wav"), std::slice::from_ref(&input));
    let text = r#"
soundfont = "none"
block_frames = 256
length_secs = 16.0
songs = "songs"
take_file_secs = 1.0
[[input]]
file = "player.wav"
[[command]]
at_secs = 0.0
song = "song new Lang"
[[command]]
at_secs = 0.0
song = "song count-in 0"
[[command]]
at_secs = 0.0
song = "record"
[[command]]
at_secs = 3.7
song = "stop"
[[command]]
at_secs = 4.0
song = "song tempo 240 1"
[[command]]
at_secs = 4.0
song = "song cycle 1 2"
[[command]]
at_secs = 4.0
song = "record"
[[command]]
at_secs = 9.3
song = "stop"
"#;
    let script = Script::parse(text, "long.toml", dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let out = render(&script).unwrap_or_else(|e| panic!("{e}"));
    let said = out.said.join("\n");
    let songs = dir.path().join("songs");
    let (song_dir, song) = open_song(&songs, "Lang").unwrap();
    let takes = song_dir.join("takes");

    // 3.5 s in four files of at most a second, placed end to end, all kept.
    let t1 = &song.tracks[0].takes;
    let started = SOON;
    let total = RATE * 37 / 10 - started;
    let lens: Vec<u64> = t1.iter().map(|t| t.frames).collect();
    assert_eq!(
        lens,
        vec![48_000, 48_000, 48_000, (total - 3 * RATE) as u64],
        "{said}"
    );
    assert!(t1.iter().all(|t| t.kept && t.offset == 0));
    assert_eq!(t1[3].file, "track01-take001-part4.wav");
    for (k, t) in t1.iter().enumerate() {
        assert_eq!(t.start as usize, k * RATE);
    }
    let placed: Vec<PlacedTake> = t1
        .iter()
        .map(|k| PlacedTake {
            path: takes.join(&k.file),
            start: k.start,
            frames: k.frames,
            offset: k.offset,
            fade: k.fade,
        })
        .collect();
    let (heard, _) = render_track(placed, 1.0, 1.0, RATE as u32, total).unwrap();
    let g = heard[1000] / input[started + 1000];
    for (i, h) in heard.iter().enumerate() {
        assert!(
            (h - g * input[started + i]).abs() < 3e-6,
            "the parts play as one take: frame {i} is off"
        );
    }

    // A cycle of two bars of a quarter second each (240 bpm, 1 beat a bar): a file of
    // 1 s holds two whole times round, and no time round is split between files.
    let t2 = &song.tracks[1].takes;
    let cycle = RATE / 2;
    assert!(t2
        .iter()
        .all(|t| t.frames as usize <= cycle && t.start == 0));
    assert!(t2.iter().all(|t| (t.offset as usize).is_multiple_of(cycle)
        && t.offset as usize + t.frames as usize <= RATE));
    assert_eq!(t2.iter().filter(|t| t.kept).count(), 1);

    // A crash during a take in parts: the journal still there, the last part's header
    // never written. Every part comes back, in order.
    use samspill::session::song::{self, JournalEntry};
    let entry = JournalEntry {
        track: 0,
        file: "track01-take099.wav".into(),
        start: 0,
        sample_rate: RATE as u32,
        fade: 0,
        cycle_frames: 0,
    };
    song::write_journal(&song_dir, &entry).unwrap();
    for (name, from) in [
        ("track01-take099.wav", 0usize),
        ("track01-take099-part2.wav", 1),
    ] {
        std::fs::copy(takes.join(&t1[from].file), takes.join(name)).unwrap();
    }
    let mut cut = std::fs::read(takes.join("track01-take099-part2.wav")).unwrap();
    let data = cut.windows(4).position(|w| w == b"data").unwrap();
    cut[data + 4..data + 8].copy_from_slice(&0u32.to_le_bytes());
    cut.truncate(cut.len() - 6 * 1000);
    std::fs::write(takes.join("track01-take099-part2.wav"), cut).unwrap();
    let back = samspill::control::songs::recover_songs(&songs);
    assert_eq!(back.len(), 1, "{back:?}");
    assert!(back[0].starts_with("recovered: "), "{back:?}");
    let (_, song) = open_song(&songs, "Lang").unwrap();
    let got: Vec<_> = song.tracks[0].takes[4..]
        .iter()
        .map(|t| (t.file.as_str(), t.start, t.frames, t.recovered))
        .collect();
    assert_eq!(
        got,
        vec![
            ("track01-take099.wav", 0, 48_000, true),
            ("track01-take099-part2.wav", 48_000, 47_000, true)
        ]
    );
}

/// A saved jam's loops drop into a song as tracks: each loop as the looper played it
/// (its level, pan, reversed, half speed), round and round from the song's start; a
/// song without takes takes the jam's tempo.
#[test]
fn a_saved_jams_loops_become_song_tracks_as_the_looper_played_them() {
    use samspill::engine::looper::{Quantize, Speed, SyncMode, TrackSettings};
    use samspill::session::jam::{save_jam_in, Jam, JamTrack};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let a = noise(RATE / 2);
    let b: Vec<f32> = noise(RATE / 4).iter().map(|v| v * 0.5).collect();
    let jam = Jam {
        name: "Fredag".into(),
        created: "2026-12-02T20:00:00Z".into(),
        sample_rate: RATE as u32,
        sync: SyncMode::Tempo {
            bpm: 90.0,
            beats_per_bar: 3,
        },
        quantize: Quantize::Off,
        cycle_frames: RATE as u64 / 4,
        tracks: vec![
            JamTrack {
                left: a.clone(),
                right: a.clone(),
                settings: TrackSettings {
                    volume: 0.5,
                    pan: -0.5,
                    ..TrackSettings::default()
                },
            },
            JamTrack::default(),
            JamTrack {
                left: b.clone(),
                right: b.clone(),
                settings: TrackSettings {
                    reversed: true,
                    speed: Speed::Half,
                    muted: true,
                    ..TrackSettings::default()
                },
            },
        ],
    };
    save_jam_in(&data.join("jams"), Some("Fredag"), &jam).unwrap();
    let text = r#"
soundfont = "none"
length_secs = 0.5
songs = "data/songs"
[[command]]
at_secs = 0.0
song = "song new Fra jam"
[[command]]
at_secs = 0.1
song = "song jam Fredag 3"
[[command]]
at_secs = 0.2
song = "song loops"
"#;
    let first = text.replace("song new Fra jam", "song new Prøve");
    let script = Script::parse(&first, "jam.toml", dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let err = render(&script)
        .err()
        .expect("a render cannot copy loops out of itself");
    assert!(err.to_string().contains("from a saved jam"), "{err}");
    let text = text.replace("[[command]]\nat_secs = 0.2\nsong = \"song loops\"\n", "");
    let script = Script::parse(&text, "jam.toml", dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let out = render(&script).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.said
            .iter()
            .any(|l| l.starts_with("loops: 2 tracks from the jam Fredag, 3 times round (0:01.5)")),
        "{:?}",
        out.said
    );
    let (song_dir, song) = open_song(&data.join("songs"), "Fra-jam").unwrap();
    assert_eq!((song.tempo_bpm, song.beats_per_bar), (90.0, 3));
    assert_eq!(song.tracks.len(), 2);
    let (one, three) = (&song.tracks[0], &song.tracks[1]);
    assert_eq!(
        (one.name.as_str(), three.name.as_str()),
        ("Loop 1", "Loop 3")
    );
    assert!((one.volume_db + 6.02).abs() < 0.01 && one.pan == -0.5 && !one.muted);
    assert!(three.muted);
    let take = read_stereo(&song_dir.join("takes").join(&one.takes[0].file));
    assert_eq!(take.0.len(), 3 * a.len());
    for (i, v) in take.0.iter().enumerate() {
        assert!((v - a[i % a.len()]).abs() < 1e-6, "loop 1, frame {i}");
    }
    // Reversed and at half speed: twice as long, and backwards.
    let take = read_stereo(&song_dir.join("takes").join(&three.takes[0].file));
    let n = 2 * b.len();
    assert_eq!(take.0.len(), 3 * n);
    assert_eq!(take.0[..n], take.0[n..2 * n]);
    let slow: Vec<f32> = take.0[..n].iter().step_by(2).copied().collect();
    let back: Vec<f32> = b.iter().rev().copied().collect();
    let corr = |x: &[f32], y: &[f32]| {
        let dot: f32 = x.iter().zip(y).map(|(a, b)| a * b).sum();
        dot / (rms(x) * rms(y) * x.len() as f32)
    };
    let (backwards, forwards) = (corr(&slow, &back), corr(&slow, &b));
    assert!(
        backwards > 0.5 && forwards.abs() < 0.1,
        "the half-speed copy runs backwards: {backwards:.2} backwards, {forwards:.2} forwards"
    );
}
