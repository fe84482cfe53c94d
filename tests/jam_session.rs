//! Saving and reopening a jam: record two loops, save them while they play, reopen
//! into a fresh engine and hear the same thing; damaged files cost only what is damaged.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use samspill::controller::{build_looper, CaptureTicket, LooperConfig};
use samspill::engine::looper::{CaptureOutcome, LoopCapture, LoopOp, TrackNote};
use samspill::engine::{Command, Engine, EngineConfig, InputConfig};
use samspill::session::jam::{
    open_jam, parse_session, restore_jam, safe_jam_name, save_jam_in, write_jam, Jam, JamError,
    SESSION_FILE,
};
use samspill::{new_engine, Controller};

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const BLOCK: usize = 256;
/// The loop: a quarter second.
const LEN: usize = 12_000;
const REC_AT: u64 = 4_800;

fn small_looper() -> LooperConfig {
    LooperConfig {
        tracks: 2,
        max_secs: 5.0,
        undo_levels: 2,
        ..Default::default()
    }
}

fn mono_engine() -> (Controller, Engine) {
    new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![InputConfig {
            name: "mic".into(),
            channel: 0,
            right_channel: None,
        }],
    })
}

/// Runs `input` through in blocks, under the allocation checker.
fn run(engine: &mut Engine, input: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut l, mut r) = (vec![0f32; input.len()], vec![0f32; input.len()]);
    let before = assert_no_alloc::violation_count();
    for ((i, ol), or) in input
        .chunks(BLOCK)
        .zip(l.chunks_mut(BLOCK))
        .zip(r.chunks_mut(BLOCK))
    {
        assert_no_alloc::assert_no_alloc(|| engine.process(&[i], ol, or, &[]));
    }
    assert_eq!(
        assert_no_alloc::violation_count(),
        before,
        "the engine allocated"
    );
    (l, r)
}

/// Plays silence block by block until the capture comes back.
fn wait_for(c: &Controller, e: &mut Engine, ticket: &CaptureTicket) -> Box<LoopCapture> {
    let silence = vec![0f32; BLOCK];
    for _ in 0..2_000 {
        if let Some(cap) = ticket.try_take(c) {
            return cap;
        }
        run(e, &silence);
    }
    panic!("the engine never handed the capture back");
}

/// A sine on the input for frames `from..from + n` of `total`, silence elsewhere.
fn burst(total: usize, from: usize, n: usize, freq: f64) -> Vec<f32> {
    let mut x = vec![0f32; total];
    let s = sine(freq, 0.3, n as f64 / SR as f64 + 0.01);
    x[from..from + n].copy_from_slice(&s[..n]);
    x
}

/// The session: loop 1 (440 Hz) sets the cycle, loop 2 (660 Hz) is recorded right
/// after it, turned down and panned left. Returns the engine playing both, aligned:
/// both loops start at `REC_AT + k * LEN`.
fn jam_with_two_loops() -> (Controller, Engine) {
    let (c, mut e) = mono_engine();
    c.send(Command::InstallLooper(build_looper(&small_looper(), SR)))
        .unwrap();
    let stop0 = REC_AT + LEN as u64;
    let stop1 = stop0 + LEN as u64;
    let rec = |t: u8, at: u64| {
        c.send_at(
            at,
            Command::Loop {
                track: t,
                op: LoopOp::Record,
            },
        )
        .unwrap()
    };
    rec(0, REC_AT);
    rec(0, stop0);
    rec(1, stop0);
    rec(1, stop1);
    for (at, op) in [
        (stop1 + 100, LoopOp::SetVolume(0.5)),
        (stop1 + 100, LoopOp::SetPan(-0.4)),
    ] {
        c.send_at(at, Command::Loop { track: 1, op }).unwrap();
    }
    let total = stop1 as usize + LEN;
    // 64 frames past each stop: the seam of each loop is made from them.
    let mut x = burst(total, REC_AT as usize, LEN + 64, 440.0);
    let y = burst(total, stop0 as usize, LEN + 64, 660.0);
    x.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
    run(&mut e, &x);
    (c, e)
}

fn capture_now(c: &Controller, e: &mut Engine) -> Box<LoopCapture> {
    let ticket = c.request_loop_capture().unwrap();
    let cap = wait_for(c, e, &ticket);
    assert_eq!(cap.outcome, CaptureOutcome::Done);
    cap
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn assert_same_loops(a: &Jam, b: &Jam) {
    assert_eq!(a.tracks.len(), b.tracks.len());
    for (t, (x, y)) in a.tracks.iter().zip(&b.tracks).enumerate() {
        assert!(same_bits(&x.left, &y.left), "loop {t} left differs");
        assert!(same_bits(&x.right, &y.right), "loop {t} right differs");
        assert_eq!(x.settings, y.settings, "loop {t} settings differ");
    }
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn saved_jam() -> (tempfile::TempDir, PathBuf, Jam) {
    let (c, mut e) = jam_with_two_loops();
    let cap = capture_now(&c, &mut e);
    let (jam, notes) = Jam::from_capture(&cap, "test");
    assert!(notes.is_empty(), "{notes:?}");
    let tmp = tempfile::tempdir().unwrap();
    let dir = save_jam_in(tmp.path(), Some("test"), &jam).unwrap();
    (tmp, dir, jam)
}

#[test]
fn save_two_loops_while_they_play_reopen_them_and_they_play_the_same_bit_for_bit() {
    let data = tempfile::tempdir().unwrap();
    // The only test here that uses the environment; the rest pass folders explicitly.
    std::env::set_var("SAMSPILL_DATA_DIR", data.path());

    let (c, mut e) = jam_with_two_loops();
    // Hear one whole pass of both loops, from a loop start, after every glide is done.
    let lat = e.latency_frames();
    let start = REC_AT as usize + 3 * LEN;
    let now = e.frame() as usize;
    let (heard, _) = run(&mut e, &vec![0.0; start + LEN + lat - now]);
    let heard = &heard[start + lat - now..];
    assert!(rms(heard) > 0.05, "nothing playing");

    let cap = capture_now(&c, &mut e);
    assert_eq!(cap.tracks.len(), 2);
    assert_eq!(cap.tracks[0].frames(), LEN);
    assert_eq!(cap.tracks[1].frames(), LEN);
    assert_eq!(cap.tracks[1].settings.volume, 0.5);
    assert_eq!(cap.tracks[1].settings.pan, -0.4);
    assert_eq!(cap.cycle_frames, LEN as u64);
    let (jam, notes) = Jam::from_capture(&cap, "Tirsdag ../../ettermiddag");
    assert!(notes.is_empty(), "{notes:?}");
    // Loop 1 really is the 440 Hz take, not silence.
    assert!(rms(&jam.tracks[0].left) > 0.05);

    let saved = samspill::session::jam::save_jam_in(
        &samspill::session::jam::jams_dir().unwrap(),
        Some(&jam.name),
        &jam,
    )
    .unwrap();
    let jams = data.path().join("jams");
    assert_eq!(saved, jams.join("Tirsdag-ettermiddag"));
    #[cfg(unix)]
    {
        assert_eq!(mode(&jams), 0o700);
        assert_eq!(mode(&saved), 0o700);
        for f in ["session.toml", "track-1.wav", "track-2.wav"] {
            assert_eq!(mode(&saved.join(f)), 0o600, "{f}");
        }
    }
    assert!(!saved.join("session.tmp").exists());

    let opened = open_jam(&saved).unwrap();
    assert_eq!(opened.message, None, "{:?}", opened.problems);
    assert_same_loops(&jam, &opened.jam);
    assert_eq!(opened.jam.sync, jam.sync);
    assert_eq!(opened.jam.cycle_frames, LEN as u64);

    // A fresh engine, the jam restored into it: the same loops, the same sound.
    let (c2, mut e2) = mono_engine();
    let notes = restore_jam(&c2, &opened.jam, &small_looper()).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    let (replay, _) = run(&mut e2, &vec![0.0; LEN + lat]);
    assert!(
        same_bits(&replay[lat..], heard),
        "the reopened jam does not play the same"
    );
    let again = capture_now(&c2, &mut e2);
    let (jam2, _) = Jam::from_capture(&again, "again");
    assert_same_loops(&jam, &jam2);
    std::env::remove_var("SAMSPILL_DATA_DIR");
}

#[test]
fn a_damaged_session_file_keeps_the_loops_its_wavs_hold() {
    let (_tmp, dir, jam) = saved_jam();
    std::fs::write(
        dir.join(SESSION_FILE),
        b"version = 1\n[[tracks]\nvolume = \"loud",
    )
    .unwrap();
    let opened = open_jam(&dir).unwrap();
    assert_eq!(
        opened.message.as_deref(),
        Some("The session file is damaged; 2 loops could still be read from their WAV files.")
    );
    for (a, b) in jam.tracks.iter().zip(&opened.jam.tracks) {
        assert!(same_bits(&a.left, &b.left) && same_bits(&a.right, &b.right));
    }

    std::fs::remove_file(dir.join(SESSION_FILE)).unwrap();
    let opened = open_jam(&dir).unwrap();
    assert_eq!(
        opened.message.as_deref(),
        Some("The session file is missing; 2 loops could still be read from their WAV files.")
    );
}

#[test]
fn a_damaged_wav_empties_its_track_and_the_message_names_it() {
    let (_tmp, dir, jam) = saved_jam();
    let wav = dir.join("track-2.wav");
    let bytes = std::fs::read(&wav).unwrap();
    std::fs::write(&wav, &bytes[..30]).unwrap();
    let opened = open_jam(&dir).unwrap();
    let msg = opened.message.unwrap();
    assert!(msg.contains("track-2.wav"), "{msg}");
    assert!(same_bits(&opened.jam.tracks[0].left, &jam.tracks[0].left));
    assert_eq!(opened.jam.tracks[1].frames(), 0);
    // Its settings are still there for the empty track.
    assert_eq!(opened.jam.tracks[1].settings.volume, 0.5);

    // A reopened jam with an empty track still installs and plays loop 1.
    let (c, mut e) = mono_engine();
    restore_jam(&c, &opened.jam, &small_looper()).unwrap();
    let (out, _) = run(&mut e, &vec![0.0; LEN]);
    assert!(rms(&out) > 0.01);

    // Nothing readable at all: a plain error, not an empty jam.
    std::fs::write(dir.join(SESSION_FILE), b"\xff\xfe").unwrap();
    std::fs::write(dir.join("track-1.wav"), b"RIFF").unwrap();
    let err = open_jam(&dir).unwrap_err();
    assert!(matches!(err, JamError::NothingReadable(_)), "{err}");
    assert!(err.to_string().contains("Nothing could be read"));
}

#[test]
fn a_loop_being_recorded_is_not_saved_and_the_save_says_so() {
    let (c, mut e) = jam_with_two_loops();
    c.send(Command::Loop {
        track: 1,
        op: LoopOp::Record,
    })
    .unwrap();
    run(&mut e, &sine(300.0, 0.3, 0.1));
    let cap = capture_now(&c, &mut e);
    assert_eq!(cap.tracks[0].frames(), LEN);
    assert_eq!(cap.tracks[1].note, TrackNote::RecordingNotSaved);
    assert_eq!(cap.tracks[1].frames(), 0);
    let (_, notes) = Jam::from_capture(&cap, "");
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].to_string().contains("Loop 2 was being recorded"),
        "{notes:?}"
    );
}

#[test]
fn an_overdub_in_progress_is_left_out_and_the_loop_before_it_is_saved() {
    let (c, mut e) = jam_with_two_loops();
    let before = capture_now(&c, &mut e);
    c.send(Command::Loop {
        track: 0,
        op: LoopOp::Overdub,
    })
    .unwrap();
    let cap = {
        let ticket = c.request_loop_capture().unwrap();
        // Play into the overdub all the while the copy runs.
        let x = sine(900.0, 0.3, 1.0);
        let mut got = None;
        for piece in x.chunks(BLOCK) {
            run(&mut e, piece);
            if let Some(cap) = ticket.try_take(&c) {
                got = Some(cap);
                break;
            }
        }
        got.expect("no capture")
    };
    assert_eq!(cap.tracks[0].note, TrackNote::WithoutOpInProgress);
    let (a, _) = before.tracks[0].audio();
    let (b, _) = cap.tracks[0].audio();
    assert!(
        same_bits(a, b),
        "the saved loop is not the one before the overdub"
    );
}

#[test]
fn without_a_looper_the_capture_comes_back_saying_so() {
    let (c, mut e) = mono_engine();
    let ticket = c.request_loop_capture_sized(&[100]).unwrap();
    let cap = wait_for(&c, &mut e, &ticket);
    assert_eq!(cap.outcome, CaptureOutcome::NoLooper);
}

#[test]
fn a_jam_name_never_leaves_the_jams_folder_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let jam = Jam {
        name: String::new(),
        created: String::new(),
        sample_rate: SR,
        sync: samspill::engine::looper::SyncMode::Off,
        quantize: samspill::engine::looper::Quantize::Off,
        cycle_frames: 0,
        tracks: Vec::new(),
    };
    let a = save_jam_in(tmp.path(), Some("../../x"), &jam).unwrap();
    let b = save_jam_in(tmp.path(), Some("../../x"), &jam).unwrap();
    assert_eq!(a, tmp.path().join("x"));
    assert_eq!(b, tmp.path().join("x-2"));
    let c = save_jam_in(tmp.path(), Some("/.."), &jam).unwrap();
    assert!(c.starts_with(tmp.path()));
    assert!(c.file_name().unwrap().to_string_lossy().starts_with("jam-"));
    assert_eq!(safe_jam_name("a/b"), "ab");
}

/// A small xorshift generator: repeatable, no crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    const PIECES: [&[u8]; 12] = [
        b"\"",
        b"[",
        b"]]",
        b"=",
        b"\n",
        b"-1",
        b"99999999999999999999",
        b"nan",
        b"inf",
        b"../../etc/passwd",
        b"track = 9",
        b"\xff",
    ];
    let mut s = base.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(s.len() + 1);
        match rng.below(6) {
            0 if !s.is_empty() => {
                let i = at.min(s.len() - 1);
                s[i] = rng.next() as u8;
            }
            1 => s.truncate(at),
            2 => {
                let end = (at + rng.below(40)).min(s.len());
                s.drain(at..end);
            }
            3 => {
                let p = PIECES[rng.below(PIECES.len())];
                s.splice(at..at, p.iter().copied());
            }
            4 if !s.is_empty() => {
                // A digit changed: numbers out of range, wrong track numbers.
                let i = at.min(s.len() - 1);
                if s[i].is_ascii_digit() {
                    s[i] = b'0' + rng.below(10) as u8;
                }
            }
            _ => {
                let i = rng.below(s.len() + 1);
                let j = rng.below(s.len() + 1);
                let (i, j) = (i.min(j), i.max(j));
                s[i..j].reverse();
            }
        }
    }
    s
}

#[test]
fn the_session_loader_survives_any_bytes() {
    let (_tmp, dir, _) = saved_jam();
    let valid = std::fs::read(dir.join(SESSION_FILE)).unwrap();
    assert!(parse_session(&valid).is_ok());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for i in 0..6_000 {
        let bytes = if i % 2 == 0 {
            let n = rng.below(300);
            (0..n).map(|_| rng.next() as u8).collect::<Vec<u8>>()
        } else {
            mutate(&mut rng, &valid)
        };
        if let Ok(file) = parse_session(&bytes) {
            parsed += 1;
            assert!(file.tracks.len() <= 8);
        }
    }
    // Some mutations leave a usable file; the loader took those too.
    assert!(parsed > 0);

    // The whole opening path: whatever the session file says, both WAVs are good, so
    // opening always succeeds and never panics.
    for _ in 0..400 {
        std::fs::write(dir.join(SESSION_FILE), mutate(&mut rng, &valid)).unwrap();
        let opened = open_jam(&dir).unwrap();
        assert!(opened.jam.tracks.len() <= 8);
    }
}

#[test]
fn saving_into_a_folder_removes_a_stale_take_of_an_empty_track() {
    let (_tmp, dir, mut jam) = saved_jam();
    jam.tracks[1].left.clear();
    jam.tracks[1].right.clear();
    write_jam(&dir, &jam).unwrap();
    assert!(!dir.join("track-2.wav").exists());
    let opened = open_jam(&dir).unwrap();
    assert_eq!(opened.message, None);
    assert_eq!(opened.jam.tracks[1].frames(), 0);
}

/// Records one `secs`-long loop on track 0.
fn one_long_loop(secs_long: f64) -> (Controller, Engine, usize) {
    let (c, mut e) = mono_engine();
    c.send(Command::InstallLooper(build_looper(&small_looper(), SR)))
        .unwrap();
    let len = secs(secs_long);
    for at in [REC_AT, REC_AT + len as u64] {
        c.send_at(
            at,
            Command::Loop {
                track: 0,
                op: LoopOp::Record,
            },
        )
        .unwrap();
    }
    let total = REC_AT as usize + len + 1_000;
    run(&mut e, &burst(total, REC_AT as usize, len + 64, 220.0));
    (c, e, len)
}

#[test]
fn a_long_loop_is_copied_a_piece_per_block() {
    let (c, mut e, len) = one_long_loop(2.0);
    let ticket = c.request_loop_capture().unwrap();
    let silence = vec![0f32; BLOCK];
    let mut blocks = 0;
    let cap = loop {
        if let Some(cap) = ticket.try_take(&c) {
            break cap;
        }
        run(&mut e, &silence);
        blocks += 1;
        assert!(blocks < 100, "no capture");
    };
    assert_eq!(cap.tracks[0].frames(), len);
    // 96 000 frames at 16 384 a block: never all at once.
    assert!(blocks >= len.div_ceil(16_384), "{blocks} blocks");
}

#[test]
fn clearing_a_loop_while_it_is_copied_saves_it_empty_never_half() {
    let (c, mut e, _) = one_long_loop(2.0);
    let ticket = c.request_loop_capture().unwrap();
    let silence = vec![0f32; BLOCK];
    run(&mut e, &silence);
    run(&mut e, &silence);
    c.send(Command::Loop {
        track: 0,
        op: LoopOp::Clear,
    })
    .unwrap();
    let cap = wait_for(&c, &mut e, &ticket);
    assert_eq!(cap.tracks[0].frames(), 0);
    assert_eq!(cap.tracks[0].note, TrackNote::Whole);
}

#[test]
fn saving_from_the_panel_waits_while_the_audio_thread_plays_on() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (c, mut e, len) = one_long_loop(1.0);
    let stop = Arc::new(AtomicBool::new(false));
    let audio = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let silence = vec![0f32; BLOCK];
            let (mut l, mut r) = (vec![0f32; BLOCK], vec![0f32; BLOCK]);
            let before = assert_no_alloc::violation_count();
            while !stop.load(Ordering::Relaxed) {
                assert_no_alloc::assert_no_alloc(|| e.process(&[&silence], &mut l, &mut r, &[]));
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            assert_no_alloc::violation_count() - before
        })
    };
    let tmp = tempfile::tempdir().unwrap();
    let saved = samspill::session::jam::save_running_jam_in(&c, tmp.path(), Some("live"));
    stop.store(true, Ordering::Relaxed);
    assert_eq!(audio.join().unwrap(), 0, "the audio thread allocated");
    let saved = saved.unwrap();
    assert!(saved.notes.is_empty(), "{:?}", saved.notes);
    let opened = open_jam(&saved.dir).unwrap();
    assert_eq!(opened.jam.tracks[0].frames(), len);
    assert_eq!(opened.jam.tracks[1].frames(), 0);
}

/// An engine like `mono_engine`, on a device running at `rate`.
fn mono_engine_at(rate: u32) -> (Controller, Engine) {
    new_engine(&EngineConfig {
        sample_rate: rate,
        inputs: vec![InputConfig {
            name: "mic".into(),
            channel: 0,
            right_channel: None,
        }],
    })
}

/// Frequency from the upward zero crossings (interpolated between frames).
fn zero_crossing_hz(x: &[f32], rate: u32) -> f64 {
    let ups: Vec<f64> = (1..x.len())
        .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
        .map(|i| {
            let (a, b) = (x[i - 1] as f64, x[i] as f64);
            i as f64 - 1.0 + a / (a - b)
        })
        .collect();
    assert!(ups.len() > 2, "no tone");
    (ups.len() - 1) as f64 * rate as f64 / (ups[ups.len() - 1] - ups[0])
}

/// The loops of the two-loop session as a 44.1 kHz engine holds them: a quarter
/// second each, 440 Hz and 660 Hz, the second one's mix kept.
fn assert_the_two_loops_at_44k1(cap: &LoopCapture) {
    let quarter = 11_025; // 0.25 s at 44.1 kHz
    assert_eq!(cap.sample_rate, 44_100);
    assert_eq!(cap.tracks[0].frames(), quarter);
    assert_eq!(cap.tracks[1].frames(), quarter);
    assert_eq!(cap.cycle_frames, quarter as u64);
    assert_eq!(cap.tracks[0].settings.cycle_frames, quarter);
    assert_eq!(cap.tracks[1].settings.volume, 0.5);
    assert_eq!(cap.tracks[1].settings.pan, -0.4);
    for (t, hz) in [(0, 440.0), (1, 660.0)] {
        let (l, r) = cap.tracks[t].audio();
        let got = zero_crossing_hz(l, 44_100);
        assert!((got - hz).abs() < 0.05, "loop {t} is at {got} Hz, not {hz}");
        assert!(
            same_bits(l, r),
            "loop {t}: a mono take should stay the same on both sides"
        );
        assert!(rms(l) > 0.15, "loop {t} lost its level: {}", rms(l));
    }
}

#[test]
fn a_jam_saved_at_48k_opens_at_44k1_as_long_and_as_high_as_it_was_played() {
    let (_tmp, dir, _jam) = saved_jam();
    let opened = open_jam(&dir).unwrap();
    assert_eq!(opened.jam.sample_rate, 48_000);

    let (c, mut e) = mono_engine_at(44_100);
    let notes = restore_jam(&c, &opened.jam, &small_looper()).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = notes[0].to_string();
    assert!(note.contains("48000 Hz") && note.contains("converted"));

    // Heard: 440 Hz (and 660 Hz), not the 480 Hz a 48 kHz take played at 44.1 kHz gives.
    let (heard, _) = run(&mut e, &vec![0.0; 44_100]);
    let heard = &heard[4_410..];
    assert!(rms(heard) > 0.05, "nothing playing");
    let at = |hz| magnitude_at_rate(heard, hz, 44_100);
    assert!(
        at(440.0) > 20.0 * at(440.0 * 48_000.0 / 44_100.0),
        "the pitch moved"
    );
    assert!(
        at(660.0) > 20.0 * at(660.0 * 48_000.0 / 44_100.0),
        "the pitch moved"
    );

    let cap = capture_now(&c, &mut e);
    assert_the_two_loops_at_44k1(&cap);
}

#[test]
fn a_device_at_another_rate_takes_the_playing_loops_along() {
    let (c, mut e) = jam_with_two_loops();
    run(&mut e, &vec![0.0; LEN]);
    // What io does when the new device runs at 44.1 kHz: what the rate needs is made
    // first, then the engine is lent for a moment. The loops go out to be resampled
    // while the engine plays on, and come back by themselves.
    e.set_sample_rate(samspill::prep::for_rate(44_100));
    assert_eq!(e.sample_rate(), 44_100);
    let tracks = || {
        c.shared()
            .loop_tracks
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(tracks(), 0, "the loops went out to be resampled");
    let silence = vec![0f32; BLOCK];
    let start = std::time::Instant::now();
    let mut blocks = 0;
    while tracks() == 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the resampled loops never came back"
        );
        let (out, _) = run(&mut e, &silence);
        // After the limiter's look-ahead has let out what it held.
        blocks += 1;
        // (A block in which they came back is heard, of course.)
        assert!(
            blocks < 3 || tracks() > 0 || out.iter().all(|s| *s == 0.0),
            "loops heard while they were out: block {blocks}, peak {}",
            out.iter().fold(0f32, |m, s| m.max(s.abs()))
        );
        c.collect_garbage();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(tracks(), 2);
    let (heard, _) = run(&mut e, &vec![0.0; 44_100]);
    let heard = &heard[4_410..];
    let at = |hz| magnitude_at_rate(heard, hz, 44_100);
    assert!(
        at(440.0) > 20.0 * at(440.0 * 48_000.0 / 44_100.0),
        "the pitch moved"
    );
    let cap = capture_now(&c, &mut e);
    assert_the_two_loops_at_44k1(&cap);
}

#[test]
fn a_tempo_jam_at_another_rate_keeps_its_bpm_and_whole_bars() {
    use samspill::engine::looper::{Quantize, SyncMode, TrackSettings};
    use samspill::session::jam::JamTrack;
    // 97 bpm in 4: a bar is 4 * 29 691 frames at 48 kHz, 4 * 27 278 at 44.1 kHz.
    let bar = 4 * 29_691;
    let tone: Vec<f32> = (0..2 * bar)
        .map(|i| (0.3 * (std::f64::consts::TAU * 330.0 * i as f64 / 48_000.0).sin()) as f32)
        .collect();
    let jam = Jam {
        name: "tempo".into(),
        created: String::new(),
        sample_rate: 48_000,
        sync: SyncMode::Tempo {
            bpm: 97.0,
            beats_per_bar: 4,
        },
        quantize: Quantize::Bar,
        cycle_frames: bar as u64,
        tracks: vec![JamTrack {
            left: tone.clone(),
            right: tone,
            settings: TrackSettings {
                cycle_frames: bar,
                ..Default::default()
            },
        }],
    };
    let at = jam.at_rate(44_100);
    assert_eq!(at.sample_rate, 44_100);
    assert_eq!(at.sync, jam.sync);
    assert_eq!(at.cycle_frames, 4 * 27_278);
    assert_eq!(at.tracks[0].frames(), 2 * 4 * 27_278);
    assert_eq!(at.tracks[0].settings.cycle_frames, 4 * 27_278);
    let hz = zero_crossing_hz(&at.tracks[0].left[2_000..200_000], 44_100);
    // The bar is rounded to whole frames at each rate: a few parts per million.
    assert!((hz - 330.0).abs() < 0.01, "{hz} Hz");
}

#[test]
fn what_each_track_records_from_is_saved_and_comes_back_even_on_an_empty_track() {
    use samspill::engine::looper::{Quantize, SyncMode};
    use samspill::engine::looper::{TrackSettings, SOURCE_INPUTS, SOURCE_INPUT_BASE, SOURCE_MIX};
    use samspill::session::jam::{prepare_looper, JamTrack};
    // Track 1 has a loop and records the mix; track 2 is empty, set to input 2 alone.
    let take = vec![0.1f32; 4_800];
    let jam = Jam {
        name: "sources".into(),
        created: "2025-03-01T14:05:09Z".into(),
        sample_rate: SR,
        sync: SyncMode::FirstLoop,
        quantize: Quantize::Off,
        cycle_frames: 4_800,
        tracks: vec![
            JamTrack {
                left: take.clone(),
                right: take,
                settings: TrackSettings {
                    cycle_frames: 4_800,
                    source: SOURCE_MIX,
                    ..TrackSettings::default()
                },
            },
            JamTrack {
                settings: TrackSettings {
                    source: SOURCE_INPUT_BASE + 1,
                    ..TrackSettings::default()
                },
                ..JamTrack::default()
            },
        ],
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = save_jam_in(tmp.path(), Some("sources"), &jam).unwrap();
    let opened = open_jam(&dir).unwrap();
    assert!(opened.problems.is_empty(), "{:?}", opened.problems);
    let (looper, _) = prepare_looper(&opened.jam, &small_looper(), SR);
    assert_eq!(looper.state(0).source, SOURCE_MIX);
    assert_eq!(looper.state(1).source, SOURCE_INPUT_BASE + 1);

    // A session file from before sources were saved: every track records the inputs.
    let file = dir.join(SESSION_FILE);
    let old: String = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("source"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!old.contains("source ="), "{old}");
    std::fs::write(&file, old).unwrap();
    let opened = open_jam(&dir).unwrap();
    assert!(opened.problems.is_empty(), "{:?}", opened.problems);
    let (looper, _) = prepare_looper(&opened.jam, &small_looper(), SR);
    assert_eq!(looper.state(0).source, SOURCE_INPUTS);
    assert_eq!(looper.state(1).source, SOURCE_INPUTS);
}
