//! Listening through the real headless program on the JACK dummy server, its output
//! recorded by a JACK client of the test's own: `play` a FLAC made by the reference
//! encoder, `pause` fades to silence and holds, `resume`, `talk on` dips the music by
//! its depth, `queue`, `stop`; and the loudness measurement is kept, owner-only.

mod common_jack;

use std::time::Duration;

use common_jack::*;

const SECS: Duration = Duration::from_secs(1);

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// A steady chord, 20 s, written as WAV and encoded by `flac`.
fn song(dir: &std::path::Path) -> std::path::PathBuf {
    let wav = dir.join("akkord.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for i in 0..20 * 48_000 {
        let t = i as f64 / 48_000.0;
        let s = [220.0, 277.18, 329.63]
            .iter()
            .map(|f| (std::f64::consts::TAU * f * t).sin())
            .sum::<f64>()
            * 0.1;
        let v = (s * 32767.0) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
    let flac = dir.join("akkord.flac");
    let out = std::process::Command::new("flac")
        .args(["-s", "-f", "-o"])
        .arg(&flac)
        .arg(&wav)
        .output()
        .expect("flac (bash .ci/install)");
    assert!(out.status.success());
    flac
}

#[test]
fn play_pause_resume_talk_and_stop_from_stdin_on_jack() {
    let turn = Turn::take("listen");
    let _jackd = Jackd::start(&turn);
    let music = tempfile::tempdir().unwrap();
    let flac = song(music.path());
    let mut samspill = Samspill::start(&turn, "ss-listen", true, &[]);
    samspill.wait_line("ready: jack client ss-listen", 15 * SECS);
    let probe = client("probe-listen");
    wait_for_port(&probe, "ss-listen:out_left", 5 * SECS);
    let mut rec = Recorder::start("rec-listen");
    connect(&probe, "ss-listen:out_left", &rec.port);

    samspill.send(&format!("play {}", flac.display()));
    let playing = samspill.wait_line("playing: 1 of 1 \"akkord.flac\" (0:20)", 5 * SECS);
    assert!(playing.contains("gain"), "{playing}");
    rec.forget();
    rec.record_for(SECS);
    let loud = rms(&rec.got.samples);
    assert!(loud > 0.02, "the song plays: rms {loud}");

    samspill.send("pause");
    samspill.wait_line("paused at 0:0", 5 * SECS);
    // The fade is half a second; after it, silence held.
    std::thread::sleep(Duration::from_millis(700));
    rec.forget();
    rec.record_for(Duration::from_millis(500));
    assert!(rms(&rec.got.samples) < 1e-6, "paused is silent");

    samspill.send("resume");
    samspill.wait_line("playing on from 0:0", 5 * SECS);
    std::thread::sleep(Duration::from_millis(700));
    samspill.send("talk on");
    samspill.wait_line("talk: the music is down 15 dB", 5 * SECS);
    std::thread::sleep(Duration::from_millis(500));
    rec.forget();
    rec.record_for(Duration::from_millis(500));
    let dipped = rms(&rec.got.samples);
    let db = 20.0 * (dipped / loud).log10();
    assert!((db + 15.0).abs() < 1.0, "talk dips 15 dB: {db:.1} dB");
    samspill.send("talk off");
    samspill.wait_line("talk: off", 5 * SECS);

    samspill.send("queue");
    samspill.wait_line("queue: >1 \"akkord.flac\"", 5 * SECS);
    samspill.send("seek 19");
    samspill.wait_line("playing: 1 of 1 \"akkord.flac\" (0:20) from 0:19", 5 * SECS);
    // Stop after this song: it ends and nothing follows.
    samspill.wait_line("ended: 1 \"akkord.flac\"", 5 * SECS);
    samspill.send("stop");
    samspill.wait_line("stopped: the song", 5 * SECS);

    // The list kept in the data folder, owner-only, and played again by its name.
    samspill.send("queue save Tirsdag");
    samspill.wait_line("saved: 1 songs in", 5 * SECS);
    samspill.send("lists");
    samspill.wait_line("lists: Tirsdag", 5 * SECS);
    let list = turn.dir.path().join("listening/lists/Tirsdag.m3u8");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&list)
        .expect("the saved list")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    samspill.send("play list Tirsdag");
    samspill.wait_line("playing: 1 of 1 \"akkord.flac\"", 5 * SECS);
    samspill.send("stop");
    samspill.wait_line("stopped", 5 * SECS);

    samspill.send("play /no/such/song.mp3");
    // stderr arrives in pieces (a message is written part by part): wait for all of it.
    let said = "/no/such/song.mp3 is not there";
    let deadline = std::time::Instant::now() + 5 * SECS;
    while !samspill.stderr().contains(said) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(samspill.stderr().contains(said), "{}", samspill.stderr());

    // The measurement is kept by the file's content, in the data folder, owner-only.
    let cache = turn.dir.path().join("listening/loudness.toml");
    let deadline = std::time::Instant::now() + 10 * SECS;
    while !cache.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mode = std::fs::metadata(&cache)
        .expect("the loudness cache")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(text.contains("lufs"), "{text}");
    samspill.assert_no_allocation_on_the_audio_thread();
}
