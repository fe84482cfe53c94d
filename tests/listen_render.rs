//! Guided listening through the engine, offline: songs made by independent encoders
//! (`flac`, `lame`, `oggenc`, ffmpeg's AAC and ALAC) are played by a render script and
//! compared with ffmpeg's own decode of the same file; a seek lands where it was asked;
//! a pause fades without a jump; broken files and playlists are said and the rest plays.

mod common;

use std::path::Path;
use std::process::Command as Process;

use samspill::render::{render, Rendered, Script};

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const SR: u32 = 48_000;

/// Something like music: a note every half second, three partials, a soft attack and a
/// decay, different on the left and right, peaks well below full scale.
fn music(secs: f64, rate: u32) -> [Vec<f32>; 2] {
    let n = (secs * rate as f64) as usize;
    let notes = [220.0, 277.18, 329.63, 440.0, 392.0, 293.66, 246.94, 349.23];
    let mut l = vec![0.0f32; n];
    let mut r = vec![0.0f32; n];
    for i in 0..n {
        let t = i as f64 / rate as f64;
        let k = (t / 0.5) as usize;
        let f = notes[k % notes.len()];
        let u = t - k as f64 * 0.5;
        let env = (u / 0.01).min(1.0) * (-3.0 * u).exp();
        let w = std::f64::consts::TAU * f * t;
        let s = env * (w.sin() + 0.4 * (2.0 * w).sin() + 0.2 * (3.0 * w).sin());
        l[i] = (0.2 * s) as f32;
        r[i] = (0.2 * s * 0.7 + 0.03 * (std::f64::consts::TAU * 110.0 * t).sin()) as f32;
    }
    [l, r]
}

fn write_wav(path: &Path, ch: &[Vec<f32>; 2], rate: u32, bits: u16) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let full = ((1i64 << (bits - 1)) - 1) as f32;
    for i in 0..ch[0].len() {
        for c in ch {
            w.write_sample((c[i] * full).round() as i32).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn run(program: &str, args: &[&str]) {
    let out = Process::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (bash .ci/install): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ffmpeg's decode of `path` at 48 kHz, interleaved stereo.
fn ffmpeg_decode(path: &Path) -> Vec<f32> {
    let out = Process::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-ac", "2", "-ar", "48000", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The songs, each made by its own encoder from the same music.
struct Songs {
    dir: tempfile::TempDir,
    /// The music at 48 kHz, and at 44.1 kHz.
    m48: [Vec<f32>; 2],
}

fn make_songs() -> Songs {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m48 = music(8.0, SR);
    let m44 = music(8.0, 44_100);
    write_wav(&d.join("song48.wav"), &m48, SR, 24);
    write_wav(&d.join("song44.wav"), &m44, 44_100, 16);
    let p = |n: &str| d.join(n).to_string_lossy().into_owned();
    run(
        "flac",
        &["-s", "-f", "-o", &p("song.flac"), &p("song48.wav")],
    );
    run(
        "lame",
        &["--quiet", "-b", "192", &p("song44.wav"), &p("song.mp3")],
    );
    run(
        "oggenc",
        &["-Q", "-q", "5", "-o", &p("song.ogg"), &p("song48.wav")],
    );
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            &p("song48.wav"),
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            &p("song.m4a"),
        ],
    );
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            &p("song48.wav"),
            "-c:a",
            "alac",
            &p("alac.m4a"),
        ],
    );
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            &p("song48.wav"),
            "-c:a",
            "pcm_s24be",
            &p("song.aiff"),
        ],
    );
    Songs { dir, m48 }
}

fn render_script(dir: &Path, body: &str, secs: f64) -> Rendered {
    let text = format!("master_db = 0\nlength_secs = {secs}\n{body}");
    let script = Script::parse(&text, "listen.toml", dir).unwrap_or_else(|e| panic!("{e}"));
    render(&script).unwrap_or_else(|e| panic!("{e}"))
}

/// The gain the desk said it set, in dB.
fn said_gain(said: &[String]) -> f32 {
    let line = said
        .iter()
        .find(|l| l.starts_with("playing:"))
        .unwrap_or_else(|| panic!("no playing line: {said:?}"));
    let at = line.find("gain ").unwrap() + 5;
    line[at..].split(' ').next().unwrap().parse().unwrap()
}

/// The lag (frames) at which `out` best matches `reference` (interleaved stereo, left
/// channel compared) within ±`max`, at the gain that fits best, and the error of that
/// match in dB below the signal.
fn best_match(out: &[f32], reference: &[f32], start: usize, len: usize, max: i64) -> (i64, f64) {
    let left = |v: &[f32], i: i64| -> f64 {
        if i < 0 {
            0.0
        } else {
            v.get(2 * i as usize).copied().unwrap_or(0.0) as f64
        }
    };
    let mut best = (0i64, f64::INFINITY);
    for lag in -max..=max {
        let (mut xy, mut yy, mut xx) = (0.0, 0.0, 0.0);
        for i in start..start + len {
            let (x, y) = (left(out, i as i64), left(reference, i as i64 - lag));
            xy += x * y;
            yy += y * y;
            xx += x * x;
        }
        let g = xy / yy.max(1e-30);
        let err = (xx - 2.0 * g * xy + g * g * yy).max(0.0) / xx.max(1e-30);
        if err < best.1 {
            best = (lag, err);
        }
    }
    (best.0, 10.0 * best.1.max(1e-30).log10())
}

/// What the speakers played, the engine's own delay (the limiter's look-ahead) taken
/// off, and the song's gain divided out.
fn played(r: &Rendered) -> Vec<f32> {
    let g = 10f32.powf(said_gain(&r.said) / 20.0);
    let lat = r.latency_frames;
    r.left[lat..]
        .iter()
        .zip(&r.right[lat..])
        .flat_map(|(l, r)| [*l / g, *r / g])
        .collect()
}

#[test]
fn songs_from_independent_encoders_play_as_ffmpeg_decodes_them() {
    let songs = make_songs();
    let d = songs.dir.path();
    // (file, how close to ffmpeg's decode, in dB of error below the music, and the
    // most frames it may be shifted: decoders of lossy formats differ a little, and
    // symphonia's MP4 reader does not cut the AAC encoder's 1024 frames of priming; the
    // MP3 is at 44.1 kHz, resampled by rubato here and by ffmpeg's own resampler there)
    let cases: [(&str, f64, i64); 7] = [
        ("song48.wav", -100.0, 0),
        ("song.aiff", -100.0, 0),
        ("song.flac", -100.0, 0),
        ("alac.m4a", -100.0, 0),
        ("song.ogg", -60.0, 0),
        ("song.mp3", -60.0, 0),
        ("song.m4a", -60.0, 1024),
    ];
    for (name, bound, max_lag) in cases {
        let out = render_script(
            d,
            &format!("[[command]]\nat_secs = 0\nlisten = \"play {name}\"\n"),
            8.5,
        );
        let played = played(&out);
        let reference = ffmpeg_decode(&d.join(name));
        let search = max_lag.max(48);
        let (lag, err_db) = best_match(&played, &reference, 48_000, 96_000, search);
        eprintln!(
            "{name}: gain {:.2} dB, lag {lag}, error {err_db:.1} dB",
            said_gain(&out.said)
        );
        assert!(lag.abs() <= max_lag, "{name} is shifted by {lag} frames");
        assert!(
            err_db < bound,
            "{name}: {err_db:.1} dB of difference (bound {bound})"
        );
        assert_eq!(
            out.shared
                .bad_numbers
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
    }
}

#[test]
fn a_seek_lands_where_asked_and_a_pause_fades_without_a_jump() {
    let songs = make_songs();
    let d = songs.dir.path();
    let out = render_script(
        d,
        "[[command]]\nat_secs = 0\nlisten = \"play song.flac\"\n\
         [[command]]\nat_secs = 1.0\nlisten = \"seek 5\"\n\
         [[command]]\nat_secs = 2.0\nlisten = \"pause\"\n\
         [[command]]\nat_secs = 3.0\nlisten = \"resume\"\n",
        4.5,
    );
    let played = played(&out);
    let m = &songs.m48[0];
    // After the seek's 50 ms fade-in: the song from 5 s on, to the frame.
    for i in 0..10_000 {
        let at = 48_000 + 2_400 + 100 + i;
        let want = m[5 * 48_000 + at - 48_000];
        assert!(
            (played[2 * at] - want).abs() < 2e-3 * want.abs().max(0.05),
            "frame {at} after the seek: {} vs {want}",
            played[2 * at]
        );
    }
    // The pause: a fade of half a second, no step bigger than the music's own.
    let music_step = m
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    let around: Vec<f32> = (2 * 48_000 - 100..2 * 48_000 + 30_000)
        .map(|i| played[2 * i])
        .collect();
    let step = around
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    assert!(
        step <= music_step * 1.01,
        "a jump of {step} in the pause ({music_step})"
    );
    let quiet = &played[2 * (2 * 48_000 + 26_000)..2 * (3 * 48_000)];
    assert!(quiet.iter().all(|v| *v == 0.0), "silent while paused");
    // Resumed where the pause's fade ended: 6.5 s into the song, after its fade-in.
    for t in 3 * 48_000 + 30_000..3 * 48_000 + 40_000 {
        let want = m[6 * 48_000 + 24_000 + (t - 3 * 48_000)];
        assert!(
            (played[2 * t] - want).abs() < 2e-3 * want.abs().max(0.05),
            "frame {t} after resume: {} vs {want}",
            played[2 * t]
        );
    }
    assert!(
        out.said.iter().any(|l| l.starts_with("paused at 0:06")),
        "{:?}",
        out.said
    );
}

#[test]
fn broken_files_and_playlists_are_said_and_the_rest_plays() {
    let songs = make_songs();
    let d = songs.dir.path();
    let flac = std::fs::read(d.join("song.flac")).unwrap();
    // Cut in half, a wrong extension, a folder named like a song, random bytes.
    std::fs::write(d.join("half.flac"), &flac[..flac.len() / 2]).unwrap();
    std::fs::write(d.join("flac-really.mp3"), &flac).unwrap();
    std::fs::create_dir(d.join("folder.mp3")).unwrap();
    std::fs::write(d.join("noise.ogg"), vec![0x5Au8; 20_000]).unwrap();
    // A Latin-1 playlist with Windows paths, a missing song and a web address.
    let mut list = Vec::new();
    list.extend_from_slice(b"#EXTM3U\r\n#EXTINF:8,Bl\xE5 sang\r\nnoise.ogg\r\n");
    list.extend_from_slice(b"C:\\Musikk\\borte.mp3\r\nhttp://radio.example/stream\r\n");
    list.extend_from_slice(b"folder.mp3\r\nE:\\Musikk\\half.flac\r\n");
    std::fs::write(d.join("liste.m3u"), &list).unwrap();

    let out = render_script(
        d,
        "[[command]]\nat_secs = 0\nlisten = \"play folder.mp3\"\n\
         [[command]]\nat_secs = 0.1\nlisten = \"play liste.m3u\"\n\
         [[command]]\nat_secs = 0.2\nlisten = \"queue\"\n\
         [[command]]\nat_secs = 5\nlisten = \"play flac-really.mp3\"\n",
        6.0,
    );
    let said = out.said.join("\n");
    eprintln!("{said}");
    assert!(said.contains("folder.mp3 holds no songs"), "{said}");
    // The list's first four cannot play, each with its reason; the cut file plays.
    assert!(said.contains("playing: 5 of 5"), "{said}");
    assert!(said.contains("not a sound file"), "{said}");
    assert!(said.contains("Windows"), "{said}");
    assert!(said.contains("web address"), "{said}");
    assert!(said.contains("a folder, not a song"), "{said}");
    assert!(said.contains("queue: 1 \"Blå sang\""), "{said}");
    // The half file plays its half (about 4 s) and ends there; then the FLAC named .mp3.
    let l = &out.left;
    assert!(
        common::rms(&l[48_000..3 * 48_000]) > 0.01,
        "the cut file plays"
    );
    assert!(said.contains("ended: 5"), "{said}");
    assert!(
        common::rms(&l[5 * 48_000 + 4_800..6 * 48_000]) > 0.01,
        "a FLAC named .mp3 plays"
    );
}

fn write_float_wav(path: &Path, l: &[f32], r: &[f32]) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: SR,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for (a, b) in l.iter().zip(r) {
        w.write_sample(*a).unwrap();
        w.write_sample(*b).unwrap();
    }
    w.finalize().unwrap();
}

/// Two songs 12 LU apart (a FLAC and an MP3 of the same music, one turned down) play
/// one after the other within 1 LU of each other and of the -18 LUFS target, measured
/// on what the speakers got by ffmpeg's EBU R128 meter, not by the scanner that set the
/// gains; no true peak passes -1 dBTP. The list runs on with a 1 s gap.
#[test]
fn two_songs_12_lu_apart_play_within_1_lu_of_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = music(6.0, SR);
    let loud = [
        m[0].iter().map(|v| v * 2.5).collect::<Vec<f32>>(),
        m[1].iter().map(|v| v * 2.5).collect(),
    ];
    let quiet = [
        loud[0]
            .iter()
            .map(|v| v * 0.251_188_64)
            .collect::<Vec<f32>>(),
        loud[1].iter().map(|v| v * 0.251_188_64).collect(),
    ];
    write_wav(&d.join("loud.wav"), &loud, SR, 24);
    write_wav(&d.join("quiet.wav"), &quiet, SR, 24);
    let p = |n: &str| d.join(n).to_string_lossy().into_owned();
    run("flac", &["-s", "-f", "-o", &p("loud.flac"), &p("loud.wav")]);
    run(
        "lame",
        &["--quiet", "-b", "256", &p("quiet.wav"), &p("quiet.mp3")],
    );
    let (l_in, _) = common::ffmpeg_r128(&d.join("loud.flac"));
    let (q_in, _) = common::ffmpeg_r128(&d.join("quiet.mp3"));
    assert!(
        (l_in - q_in - 12.0).abs() < 0.3,
        "the songs are 12 LU apart: {l_in} and {q_in}"
    );
    std::fs::write(d.join("to.m3u8"), "quiet.mp3\nloud.flac\n").unwrap();

    let out = render_script(
        d,
        "[[command]]\nat_secs = 0\nlisten = \"listen run-on on\"\n\
         [[command]]\nat_secs = 0\nlisten = \"listen gap 1\"\n\
         [[command]]\nat_secs = 0\nlisten = \"play to.m3u8\"\n",
        14.0,
    );
    let said = out.said.join("\n");
    assert!(said.contains("playing: 1 of 2"), "{said}");
    assert!(
        said.contains("ended: 1 \"quiet.mp3\"; the next in 1 s"),
        "{said}"
    );
    assert!(said.contains("playing: 2 of 2"), "the list ran on: {said}");
    // The gap: about a second of silence between the songs.
    let silent = out.left[6 * SR as usize + 4_800..7 * SR as usize - 2_400]
        .iter()
        .all(|v| *v == 0.0);
    assert!(silent, "a gap between the songs");
    let first = d.join("first.wav");
    let second = d.join("second.wav");
    let cut = |from: f64, to: f64| (from * SR as f64) as usize..(to * SR as f64) as usize;
    write_float_wav(&first, &out.left[cut(0.0, 6.0)], &out.right[cut(0.0, 6.0)]);
    write_float_wav(
        &second,
        &out.left[cut(7.0, 13.0)],
        &out.right[cut(7.0, 13.0)],
    );
    let (a, a_peak) = common::ffmpeg_r128(&first);
    let (b, b_peak) = common::ffmpeg_r128(&second);
    eprintln!("played at {a} and {b} LUFS, peaks {a_peak} and {b_peak} dBTP");
    assert!((a - b).abs() <= 1.0, "{a} and {b} LUFS");
    assert!(
        (a + 18.0).abs() <= 1.0 && (b + 18.0).abs() <= 1.0,
        "{a}, {b}"
    );
    assert!(a_peak <= -1.0 && b_peak <= -1.0, "{a_peak}, {b_peak} dBTP");
}

/// Cue points: a prompt is said when the song reaches it, and one that waits pauses the
/// song there with its fade until `resume`.
#[test]
fn cues_are_said_where_the_song_reaches_them_and_one_waits() {
    let songs = make_songs();
    let d = songs.dir.path();
    let out = render_script(
        d,
        "[[command]]\nat_secs = 0\nlisten = \"play song.flac\"\n\
         [[command]]\nat_secs = 0.1\nlisten = \"cue 1 Lytt til bassen\"\n\
         [[command]]\nat_secs = 0.1\nlisten = \"cue wait 2 Hva hører du?\"\n\
         [[command]]\nat_secs = 0.2\nlisten = \"cues\"\n\
         [[command]]\nat_secs = 4\nlisten = \"resume\"\n",
        6.0,
    );
    let said = out.said.join("\n");
    assert!(
        said.contains("cues: 1 0:01 \"Lytt til bassen\" | 2 0:02 \"Hva hører du?\" (waits)"),
        "{said}"
    );
    assert!(said.contains("cue: 0:01 \"Lytt til bassen\"\n"), "{said}");
    assert!(
        said.contains("cue: 0:02 \"Hva hører du?\", waiting"),
        "{said}"
    );
    let played = played(&out);
    let m = &songs.m48[0];
    // Up to the cue the song as it is; from the cue a half-second fade; then silence.
    for t in [48_000usize, 95_000] {
        assert!(
            (played[2 * t] - m[t]).abs() < 2e-3 * m[t].abs().max(0.05),
            "frame {t}"
        );
    }
    let quiet = &played[2 * (2 * 48_000 + 24_500)..2 * (4 * 48_000 - 100)];
    assert!(quiet.iter().all(|v| *v == 0.0), "the song waits at its cue");
    // Resumed where the fade ended: 2.5 s into the song.
    let t = 4 * 48_000 + 30_000;
    let want = m[2 * 48_000 + 24_000 + 30_000];
    assert!(
        (played[2 * t] - want).abs() < 2e-3 * want.abs().max(0.05),
        "resumed at 2.5 s"
    );
}

/// An A–B repeat plays the stretch round and round from the feeder, seamless: after B
/// the song goes on at A, with a 5 ms dip and no click.
#[test]
fn an_a_b_repeat_goes_round_without_a_click() {
    let songs = make_songs();
    let d = songs.dir.path();
    let out = render_script(
        d,
        "[[command]]\nat_secs = 0\nlisten = \"play song.flac\"\n\
         [[command]]\nat_secs = 0.5\nlisten = \"repeat 1 2\"\n",
        5.0,
    );
    assert!(
        out.said
            .iter()
            .any(|l| l == "repeat: 0:01 to 0:02 round and round"),
        "{:?}",
        out.said
    );
    let played = played(&out);
    let m = &songs.m48[0];
    // Song frame for output frame t (after the restart's 50 ms fade-in at 0.5 s).
    let song_frame = |t: usize| -> usize {
        let s = t; // played from 0.5 s on at 0.5 s: the same frame
        if s < 2 * 48_000 {
            s
        } else {
            48_000 + (s - 2 * 48_000) % 48_000
        }
    };
    for t in (30_000..4 * 48_000).step_by(997) {
        let f = song_frame(t);
        let near_seam = f % 48_000 < 300 || f % 48_000 > 48_000 - 300;
        if near_seam {
            continue;
        }
        assert!(
            (played[2 * t] - m[f]).abs() < 2e-3 * m[f].abs().max(0.05),
            "output frame {t} is song frame {f}: {} vs {}",
            played[2 * t],
            m[f]
        );
    }
    let music_step = m
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    for seam in [2 * 48_000usize, 3 * 48_000, 4 * 48_000] {
        let step = (seam - 400..seam + 400)
            .map(|t| (played[2 * t + 2] - played[2 * t]).abs())
            .fold(0.0, f32::max);
        assert!(
            step <= music_step * 1.05,
            "a click at the seam {seam}: {step}"
        );
    }
}

/// With the list running on, songs of one album follow each other without a gap (the
/// next song's first frame right after the last one's last), and a song of another
/// album after the set gap.
#[test]
fn an_album_plays_on_gapless_and_another_album_after_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let one = music(3.0, SR);
    let two = [
        one[0].iter().map(|v| -v * 0.5).collect::<Vec<f32>>(),
        one[1].iter().map(|v| -v * 0.5).collect(),
    ];
    write_wav(&d.join("one.wav"), &one, SR, 24);
    write_wav(&d.join("two.wav"), &two, SR, 24);
    let p = |n: &str| d.join(n).to_string_lossy().into_owned();
    for (wav, flac, album) in [
        ("one.wav", "1.flac", "Plate"),
        ("two.wav", "2.flac", "Plate"),
        ("one.wav", "3.flac", "Annen plate"),
    ] {
        let tag = format!("--tag=ALBUM={album}");
        run("flac", &["-s", "-f", &tag, "-o", &p(flac), &p(wav)]);
    }
    std::fs::write(d.join("plate.m3u8"), "1.flac\n2.flac\n3.flac\n").unwrap();
    let out = render_script(
        d,
        "[[command]]\nat_secs = 0\nlisten = \"listen run-on on\"\n\
         [[command]]\nat_secs = 0\nlisten = \"listen gap 1\"\n\
         [[command]]\nat_secs = 0\nlisten = \"play plate.m3u8\"\n",
        8.5,
    );
    let said = out.said.join("\n");
    assert!(
        said.contains("playing: 2 of 3 \"2.flac\", gapless after the last (the same album)"),
        "{said}"
    );
    assert!(
        said.contains("ended: 2 \"2.flac\"; the next in 1 s"),
        "{said}"
    );
    assert!(said.contains("playing: 3 of 3"), "{said}");
    let played = played(&out);
    // Song two's first frames right after song one's last (both at the same gain here:
    // the same music at -6 dB measures 6 LU quieter and is brought up by 6 dB).
    let m = &one[0];
    for k in [0usize, 1, 2, 100, 24_000] {
        let want = -m[k];
        let got = played[2 * (3 * 48_000 + k)];
        assert!(
            (got - want).abs() < 2e-3 * want.abs().max(0.05),
            "frame {k} of song two: {got} vs {want}"
        );
    }
    let last = played[2 * (3 * 48_000 - 1)];
    assert!((last - m[3 * 48_000 - 1]).abs() < 2e-3 * m[3 * 48_000 - 1].abs().max(0.05));
    // Then a second of silence before the other album.
    let gap = &played[2 * (6 * 48_000 + 4_800)..2 * (7 * 48_000 - 4_800)];
    assert!(gap.iter().all(|v| *v == 0.0), "a gap before another album");
}

/// The device's rate changes while a song plays (a new interface, another setting):
/// the engine lets the song go, and the desk starts it again, decoded for the new rate,
/// from where it was.
#[test]
fn a_song_goes_on_after_the_device_rate_changes() {
    use samspill::control::listen::{ListenDesk, ListenLine};
    let songs = make_songs();
    let (controller, mut engine) = samspill::new_engine(&samspill::EngineConfig::default());
    let mut desk = ListenDesk::offline(controller.clone(), None);
    let said = desk
        .run(ListenLine::Play(songs.dir.path().join("song.flac")))
        .unwrap();
    assert!(said.starts_with("playing: 1 of 1"), "{said}");
    let silence = vec![0f32; 256];
    let (mut l, mut r) = (vec![0f32; 256], vec![0f32; 256]);
    let mut run = |engine: &mut samspill::engine::Engine, desk: &mut ListenDesk, blocks: usize| {
        let mut out = Vec::new();
        let mut lines = Vec::new();
        for _ in 0..blocks {
            assert_no_alloc::assert_no_alloc(|| {
                engine.process(&[&silence, &silence], &mut l, &mut r, &[])
            });
            out.extend_from_slice(&l);
            lines.extend(desk.poll());
            desk.pump();
            controller.collect_garbage();
        }
        (out, lines)
    };
    let (before, _) = run(&mut engine, &mut desk, 375); // 2 s at 48 kHz
    assert!(common::rms(&before[48_000..]) > 0.01);
    engine.set_sample_rate(samspill::prep::for_rate(44_100));
    let (after, lines) = run(&mut engine, &mut desk, 345); // 2 s at 44.1 kHz
    let line = lines
        .iter()
        .find(|l| l.starts_with("listen: the sound device changed"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(line.ends_with("from 0:02"), "{line}");
    assert!(
        common::rms(&after[22_050..]) > 0.01,
        "the song plays on at 44.1 kHz"
    );
}
