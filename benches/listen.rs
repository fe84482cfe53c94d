//! Listening's figures: the loudness scan (times real time on one core), decoding and
//! resampling a playing song (share of a core), and "play" to sound (milliseconds), on
//! songs made by the reference encoders (`flac`, `lame`) at 44.1 kHz, as CDs and most
//! downloads are, played at 48 kHz. `cargo bench --bench listen`.
//!
//! "Play" to sound is measured the way a user gets it: the engine with its default
//! settings and the default SoundFont installed, run by a thread at the pace of a
//! 256-frame device, the listen desk as the panel and `samspill headless` use it; the
//! time runs from the call to the first block that carries the song.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use samspill::control::listen::{ListenDesk, ListenLine};
use samspill::controller::{find_soundfont, load_soundfont};
use samspill::disk::decode::{SongFile, SongStream};
use samspill::disk::loudness;
use samspill::engine::{Command, EngineConfig};
use samspill::new_engine;

const SR: u32 = 48_000;

/// CPU seconds this thread has used.
fn thread_cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// `secs` of music-like sound at 44.1 kHz, as WAV, FLAC and MP3 (192 kbit/s).
fn make_songs(dir: &Path, secs: usize, name: &str) -> Vec<PathBuf> {
    let rate = 44_100;
    let wav = dir.join(format!("{name}.wav"));
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in 0..secs * rate as usize {
        let t = i as f64 / rate as f64;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let noise = ((x >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 0.05;
        let f = [220.0, 330.0, 440.0, 293.7][(t / 0.5) as usize % 4];
        let s = 0.3 * (std::f64::consts::TAU * f * t).sin() * (-3.0 * (t % 0.5)).exp() + noise;
        w.write_sample((s * 20_000.0) as i16).unwrap();
        w.write_sample((s * 18_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    let p = |e: &str| dir.join(format!("{name}.{e}"));
    let flac = Process::new("flac")
        .args(["-s", "-f", "-o"])
        .arg(p("flac"))
        .arg(&wav)
        .status();
    let mp3 = Process::new("lame")
        .args(["--quiet", "-b", "192"])
        .arg(&wav)
        .arg(p("mp3"))
        .status();
    let mut out = vec![wav];
    if flac.is_ok_and(|s| s.success()) {
        out.push(p("flac"));
    } else {
        println!("(flac is not installed: bash .ci/install)");
    }
    if mp3.is_ok_and(|s| s.success()) {
        out.push(p("mp3"));
    } else {
        println!("(lame is not installed: bash .ci/install)");
    }
    out
}

fn ext(p: &Path) -> String {
    p.extension().unwrap().to_string_lossy().to_uppercase()
}

fn scan_speed(songs: &[PathBuf], secs: f64) {
    for s in songs {
        let frames = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let cpu = thread_cpu();
        let (m, _overview) = loudness::measure(s, &frames, &stop).unwrap().unwrap();
        let used = thread_cpu() - cpu;
        println!(
            "loudness scan, {} 44.1 kHz stereo: {:.0}× real time on one core ({:.1} LUFS, {:.1} dBTP)",
            ext(s),
            secs / used,
            m.lufs,
            m.peak_dbtp
        );
    }
}

fn decode_cost(songs: &[PathBuf], secs: f64) {
    for s in songs {
        let cpu = thread_cpu();
        let mut stream = SongStream::new(SongFile::open(s).unwrap(), SR).unwrap();
        let mut buf = Vec::with_capacity(1 << 16);
        let mut frames = 0usize;
        loop {
            buf.clear();
            let more = stream.read(&mut buf).unwrap();
            frames += buf.len() / 2;
            if !more {
                break;
            }
        }
        let used = thread_cpu() - cpu;
        println!(
            "decode + resample to 48 kHz, {}: {:.2}% of a core while it plays ({frames} frames)",
            ext(s),
            100.0 * used / secs
        );
    }
}

fn play_to_sound(songs: &[PathBuf]) {
    let (controller, mut engine) = new_engine(&EngineConfig::default());
    match find_soundfont().and_then(|p| Some((p.clone(), load_soundfont(&p, SR).ok()?))) {
        Some((path, synth)) => {
            let _ = controller.send(Command::InstallSoundFont(synth));
            println!("(the default SoundFont: {})", path.display());
        }
        None => println!("(no General MIDI SoundFont installed: the built-in synth)"),
    }
    let stop = Arc::new(AtomicBool::new(false));
    // The first block carrying sound, in microseconds since `epoch`.
    let heard = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    let audio = {
        let (stop, heard) = (stop.clone(), heard.clone());
        std::thread::spawn(move || {
            let (mut l, mut r) = (vec![0f32; 256], vec![0f32; 256]);
            let silence = vec![0f32; 256];
            let period = Duration::from_secs_f64(256.0 / SR as f64);
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                engine.process(&[&silence, &silence], &mut l, &mut r, &[]);
                if heard.load(Ordering::Relaxed) == 0 && l.iter().any(|v| v.abs() > 1e-4) {
                    heard.store(epoch.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
                next += period;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        })
    };
    let mut desk = ListenDesk::new(controller.clone(), None);
    for s in songs {
        let mut times = Vec::new();
        for _ in 0..10 {
            heard.store(0, Ordering::Relaxed);
            let asked = epoch.elapsed().as_micros() as u64;
            desk.run(ListenLine::Play(s.clone())).unwrap();
            let until = Instant::now() + Duration::from_secs(2);
            while heard.load(Ordering::Relaxed) == 0 && Instant::now() < until {
                std::thread::sleep(Duration::from_micros(200));
            }
            let at = heard.load(Ordering::Relaxed);
            times.push(at.saturating_sub(asked) as f64 / 1000.0);
            let _ = desk.run(ListenLine::Stop);
            std::thread::sleep(Duration::from_millis(700));
            controller.collect_garbage();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "\"play\" to sound, {}: median {:.0} ms, worst {:.0} ms (10 starts; a 256-frame block is {:.1} ms)",
            ext(s),
            times[times.len() / 2],
            times[times.len() - 1],
            256_000.0 / SR as f64
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = audio.join();
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let secs = 120;
    let songs = make_songs(dir.path(), secs, "song");
    scan_speed(&songs, secs as f64);
    decode_cost(&songs, secs as f64);
    play_to_sound(&songs);
}
