//! A song exported: the mix bounced through the engine (track levels and pans, the
//! limiter) to WAV and FLAC, and stems with a BWF time reference, checked against the
//! takes and by tools no one here wrote (the reference `flac` decoder, `ffprobe`).

mod common;

use std::path::Path;
use std::process::Command as Cmd;

use common::*;
use samspill::control::songs::{ExportKind, SongDesk, SongLine};
use samspill::engine::EngineConfig;
use samspill::new_engine;
use samspill::session::song::{self, SongTrack, Take};

fn write_take(path: &Path, l: &[f32], r: &[f32]) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: SR,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for (a, b) in l.iter().zip(r) {
        w.write_sample((a * 8_388_607.0).round() as i32).unwrap();
        w.write_sample((b * 8_388_607.0).round() as i32).unwrap();
    }
    w.finalize().unwrap();
}

fn read(path: &Path) -> (Vec<f32>, Vec<f32>) {
    let v: Vec<f32> = hound::WavReader::open(path)
        .unwrap()
        .samples::<i32>()
        .map(|s| s.unwrap() as f32 / 8_388_607.0)
        .collect();
    v.chunks(2).map(|f| (f[0], f[1])).unzip()
}

fn track(name: &str, volume_db: f32, pan: f32, file: &str, start: u64, frames: u64) -> SongTrack {
    SongTrack {
        name: name.into(),
        source: "inputs".into(),
        volume_db,
        pan,
        muted: false,
        solo: false,
        takes: vec![Take {
            file: file.into(),
            start,
            frames,
            sample_rate: SR,
            kept: true,
            dropouts: vec![],
            lost_frames: 0,
            recovered: false,
            ended_early: None,
            offset: 0,
            fade: 0,
        }],
    }
}

#[test]
fn a_song_exports_as_its_tracks_sound_together_to_wav_flac_and_stems() {
    let data = tempfile::tempdir().unwrap();
    let (dir, mut s) = song::create_song(data.path(), "Eksport").unwrap();
    let one = sine(440.0, 0.3, 1.0);
    let two = sine(660.0, 0.2, 0.5);
    write_take(&dir.join("takes/track01-take001.wav"), &one, &one);
    write_take(&dir.join("takes/track02-take001.wav"), &two, &two);
    let start2 = 12_000u64;
    s.tracks = vec![
        track(
            "Gitar",
            0.0,
            0.0,
            "track01-take001.wav",
            0,
            one.len() as u64,
        ),
        track(
            "Sang",
            -6.0,
            0.5,
            "track02-take001.wav",
            start2,
            two.len() as u64,
        ),
    ];
    song::save_song(&dir, &s).unwrap();

    let (c, _engine) = new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![],
    });
    let mut desk = SongDesk::new(c, data.path().to_owned()).unwrap();
    desk.run(SongLine::Open("Eksport".into())).unwrap();
    let said = desk.run(SongLine::Export(ExportKind::Wav, None)).unwrap();
    let wav = dir.join("exports/Eksport.wav");
    assert_eq!(said, format!("exported: {} (0:01.0)", wav.display()));

    // The mix: track 1 in the middle, track 2 6 dB down and half right, from 0.25 s.
    let (l, r) = read(&wav);
    assert_eq!(l.len(), one.len());
    let g = 10f32.powf(-6.0 / 20.0);
    let q = |x: f32| (x * 8_388_607.0).round() / 8_388_607.0;
    for i in 0..l.len() {
        let t2 = i
            .checked_sub(start2 as usize)
            .and_then(|k| two.get(k))
            .map_or(0.0, |v| q(*v));
        let (want_l, want_r) = (q(one[i]) + 0.5 * g * t2, q(one[i]) + g * t2);
        assert!(
            (l[i] - want_l).abs() < 3e-7 && (r[i] - want_r).abs() < 3e-7,
            "frame {i}: {} {} against {want_l} {want_r}",
            l[i],
            r[i]
        );
    }

    // FLAC, decoded by the reference decoder: the same samples as the WAV.
    desk.run(SongLine::Export(ExportKind::Flac, None)).unwrap();
    let flac = dir.join("exports/Eksport.flac");
    let decoded = data.path().join("decoded.wav");
    let out = Cmd::new("flac")
        .args(["-d", "-s", "-f", "-o"])
        .arg(&decoded)
        .arg(&flac)
        .output()
        .expect("the flac tool runs (bash .ci/install puts it there)");
    assert!(
        out.status.success(),
        "flac could not decode the export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(&decoded), (l.clone(), r.clone()));

    // Stems: one per track, each from the song's start, as long as the song, with the
    // time reference a DAW lines them up by.
    let stems = data.path().join("stems out");
    let said = desk
        .run(SongLine::Export(ExportKind::Stems, Some(stems.clone())))
        .unwrap();
    assert!(said.starts_with("exported: "), "{said}");
    let (sl, sr) = read(&stems.join("02 Sang.wav"));
    assert_eq!(sl.len(), one.len());
    assert_eq!(
        sl[..start2 as usize]
            .iter()
            .fold(0f32, |m, v| m.max(v.abs())),
        0.0
    );
    let k = start2 as usize + 1000;
    assert!((sr[k] - g * q(two[1000])).abs() < 3e-7);
    assert!((sl[k] - 0.5 * g * q(two[1000])).abs() < 3e-7);
    let probe = Cmd::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags",
            "-of",
            "default=noprint_wrappers=1",
        ])
        .arg(stems.join("01 Gitar.wav"))
        .output()
        .expect("ffprobe runs (bash .ci/install puts it there)");
    let tags = String::from_utf8_lossy(&probe.stdout);
    assert!(
        tags.contains("TAG:time_reference=0"),
        "ffprobe says: {tags}"
    );
    // ffmpeg reads bext's description as the comment and its originator as the encoder.
    assert!(
        tags.contains("TAG:comment=Eksport: Gitar"),
        "ffprobe says: {tags}"
    );
    assert!(
        tags.contains("TAG:encoded_by=Samspill"),
        "ffprobe says: {tags}"
    );

    // A song with nothing kept has nothing to export, and says so.
    desk.run(SongLine::New("Tom".into())).unwrap();
    let e = desk
        .run(SongLine::Export(ExportKind::Wav, None))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "nothing to export: the song has no kept takes"
    );
}

/// A quiet song with sharp peaks (a soft pad and a few loud claps): the phone file is
/// brought up to -14 LUFS, which the claps would take far past full scale; the engine's
/// limiter holds them under the -1 dBTP ceiling. Measured on the decoded Ogg file by
/// ffmpeg's EBU R128 meter.
#[test]
fn the_phone_file_plays_at_minus_14_lufs_with_its_peaks_under_the_ceiling() {
    let data = tempfile::tempdir().unwrap();
    let (dir, mut s) = song::create_song(data.path(), "Telefon").unwrap();
    let mut pad = sine(220.0, 0.02, 8.0);
    for (k, v) in sine(330.0, 0.015, 8.0).iter().enumerate() {
        pad[k] += v;
    }
    for clap in 0..8 {
        let at = clap * SR as usize + 1234;
        // A 1 kHz burst of 20 ms, well inside what the codec keeps.
        for k in 0..960 {
            let t = k as f32 / SR as f32;
            pad[at + k] +=
                0.6 * (std::f32::consts::TAU * 1000.0 * t).sin() * (1.0 - k as f32 / 960.0);
        }
    }
    write_take(&dir.join("takes/track01-take001.wav"), &pad, &pad);
    s.tracks = vec![track(
        "Pad",
        0.0,
        0.0,
        "track01-take001.wav",
        0,
        pad.len() as u64,
    )];
    song::save_song(&dir, &s).unwrap();
    let (c, _engine) = new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![],
    });
    let mut desk = SongDesk::new(c, data.path().to_owned()).unwrap();
    desk.run(SongLine::Open("Telefon".into())).unwrap();
    let said = desk.run(SongLine::Export(ExportKind::Ogg, None)).unwrap();
    eprintln!("{said}");
    let ogg = dir.join("exports/Telefon.ogg");
    assert!(
        said.starts_with(&format!("exported: {} (0:08.0, -14.0 LUFS", ogg.display())),
        "{said}"
    );
    let (lufs, peak) = ffmpeg_r128(&ogg);
    eprintln!("ffmpeg's meter: {lufs} LUFS, true peak {peak} dBTP");
    assert!(
        (lufs + 14.0).abs() <= 0.5,
        "the phone file is at {lufs} LUFS"
    );
    // The limiter holds -1 dBTP; the lossy codec may overshoot it by a fraction.
    assert!(peak <= -0.5, "the phone file peaks at {peak} dBTP");
    // The same as MP3: every phone plays it. ffmpeg decodes it to the song's length
    // (the LAME tag makes it gapless) at the same loudness.
    let said = desk.run(SongLine::Export(ExportKind::Mp3, None)).unwrap();
    let mp3 = dir.join("exports/Telefon.mp3");
    assert!(
        said.starts_with(&format!("exported: {} (0:08.0, -14.0 LUFS", mp3.display())),
        "{said}"
    );
    let probe = Cmd::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,sample_rate,channels,duration_ts,bit_rate",
            "-of",
            "default=nw=1",
        ])
        .arg(&mp3)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&probe.stdout).to_string();
    eprintln!("{text}");
    for want in [
        "codec_name=mp3",
        "sample_rate=48000",
        "channels=2",
        "bit_rate=192000",
    ] {
        assert!(text.contains(want), "ffprobe says\n{text}");
    }
    let decoded = Cmd::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&mp3)
        .args(["-f", "f32le", "-"])
        .output()
        .expect("ffmpeg decodes");
    let frames = decoded.stdout.len() / 8;
    assert_eq!(
        frames,
        pad.len(),
        "decoded to the song's length, to the frame"
    );
    let (lufs, peak) = ffmpeg_r128(&mp3);
    eprintln!("ffmpeg's meter on the MP3: {lufs} LUFS, true peak {peak} dBTP");
    assert!((lufs + 14.0).abs() <= 0.5, "the MP3 is at {lufs} LUFS");
    assert!(peak <= -0.5, "the MP3 peaks at {peak} dBTP");
    // Unnormalised, the same song is far quieter: the normalisation did the work.
    desk.run(SongLine::Export(ExportKind::Wav, None)).unwrap();
    let (quiet, _) = ffmpeg_r128(&dir.join("exports/Telefon.wav"));
    assert!(quiet < -24.0, "the plain export is at {quiet} LUFS");
}

/// A long export says how far it has come, on another thread, and stops when cancelled:
/// no file, no half file, and a plain reason.
#[test]
fn an_export_shows_its_progress_and_a_cancelled_one_leaves_no_file() {
    use samspill::control::songs::SongLineError;
    use samspill::disk::export::{ExportError, Progress};
    use std::sync::Arc;
    let data = tempfile::tempdir().unwrap();
    let (dir, mut s) = song::create_song(data.path(), "Lang").unwrap();
    let tone = sine(440.0, 0.3, 20.0);
    write_take(&dir.join("takes/track01-take001.wav"), &tone, &tone);
    s.tracks = vec![track(
        "Tone",
        0.0,
        0.0,
        "track01-take001.wav",
        0,
        tone.len() as u64,
    )];
    song::save_song(&dir, &s).unwrap();
    let (c, _engine) = new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![],
    });
    let mut desk = SongDesk::new(c, data.path().to_owned()).unwrap();
    desk.run(SongLine::Open("Lang".into())).unwrap();

    // Watched from here while it runs: the fraction only grows, and ends at 1.
    let progress = Arc::new(Progress::default());
    let work = desk
        .export_work(ExportKind::Ogg, None, progress.clone())
        .unwrap();
    let t = std::thread::spawn(work);
    let mut seen = vec![];
    while !t.is_finished() {
        seen.push(progress.fraction());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    t.join().unwrap().unwrap();
    assert!(seen.windows(2).all(|w| w[1] >= w[0]), "{seen:?}");
    assert!(
        seen.iter().any(|f| *f > 0.05 && *f < 0.95),
        "some steps on the way were seen: {seen:?}"
    );
    assert!(progress.fraction() > 0.99);
    assert!(dir.join("exports/Lang.ogg").is_file());

    // Cancelled half way: an error in words, and nothing written.
    let progress = Arc::new(Progress::default());
    let target = data.path().join("cancelled.ogg");
    let work = desk
        .export_work(ExportKind::Ogg, Some(target.clone()), progress.clone())
        .unwrap();
    let t = std::thread::spawn(work);
    while progress.fraction() < 0.2 && !t.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    progress.cancel();
    let e = t.join().unwrap().unwrap_err();
    assert!(
        matches!(e, SongLineError::Export(ExportError::Cancelled)),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "the export was cancelled; no file was written"
    );
    assert!(!target.exists() && !target.with_extension("part").exists());
}
