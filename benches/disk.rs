//! The take writer's figures: how many simultaneous stereo takes at 48 kHz one core
//! writes (24-bit WAV, the default), and what the header rewrite and sync every 0.9 s
//! cost. `cargo bench --bench disk`. Files go to a temporary folder on the disk the
//! data folder is on (here /tmp on the VM's disk), not to memory.

use std::time::{Duration, Instant};

use samspill::disk::{TakeFormat, TakeWriter, WriterEvent, WriterJob};
use samspill::engine::recorder::{TakeSource, TakeTap};

const SR: u32 = 48_000;

/// CPU seconds the thread called `name` in this process has used.
fn thread_cpu_secs(name: &str) -> Option<f64> {
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            // Fields after the command's closing parenthesis; utime and stime are 14 and 15.
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            return Some((ut + st) / tick);
        }
    }
    None
}

fn writer_run(tracks: usize, secs: usize, format: TakeFormat) -> (f64, f64) {
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let writer = TakeWriter::start().unwrap();
    let mut taps = Vec::new();
    for id in 0..tracks {
        let (mut tap, feed) = TakeTap::new(id as u32, TakeSource::Mix, SR as usize * 10);
        writer
            .write(WriterJob {
                feed,
                path: dir.path().join(format!("t{id}.wav")),
                sample_rate: SR,
                format,
                part_frames: 0,
            })
            .unwrap();
        tap.start(0, 0);
        taps.push(tap);
    }
    let block = 256usize;
    let l: Vec<f32> = (0..block).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
    let r: Vec<f32> = l.iter().map(|v| -v).collect();
    let total = SR as usize * secs;
    let started = Instant::now();
    let mut at = 0usize;
    while at < total {
        for t in &mut taps {
            t.offer(&l, &r, at as u64, 0);
        }
        at += block;
        // Pace at 4× real time at most, so the rings (10 s) never fill.
        let due = Duration::from_secs_f64(at as f64 / SR as f64 / 4.0);
        if let Some(w) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(w);
        }
    }
    for t in &mut taps {
        t.stop(at as u64);
        t.offer(&l[..1], &r[..1], at as u64, 0);
    }
    let mut done = 0;
    let mut lost = 0;
    let cpu = loop {
        match writer.events().recv_timeout(Duration::from_secs(60)) {
            Ok(WriterEvent::Finished { lost_frames, .. }) => {
                lost += lost_frames;
                done += 1;
                if done == tracks {
                    break thread_cpu_secs("take writer").unwrap_or(f64::NAN);
                }
            }
            Ok(WriterEvent::Failed { why, .. }) => panic!("{why}"),
            Ok(_) => {}
            Err(_) => panic!("the writer did not finish"),
        }
    };
    assert_eq!(lost, 0, "the writer fell behind");
    (cpu, secs as f64)
}

fn sync_cost() -> (f64, f64) {
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let path = dir.path().join("sync.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: SR,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let file = std::fs::File::create(&path).unwrap();
    let sync = file.try_clone().unwrap();
    let mut w = hound::WavWriter::new(std::io::BufWriter::new(file), spec).unwrap();
    let mut times = Vec::new();
    for _ in 0..20 {
        for i in 0..(SR as usize * 9 / 10) {
            let v = ((i as f32 * 0.01).sin() * 4_000_000.0) as i32;
            w.write_sample(v).unwrap();
            w.write_sample(-v).unwrap();
        }
        let t = Instant::now();
        w.flush().unwrap();
        sync.sync_data().unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() - 1])
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    for (tracks, format, name) in [
        (64, TakeFormat::Int24, "24-bit"),
        (64, TakeFormat::Float32, "float"),
        (8, TakeFormat::Int24, "24-bit"),
    ] {
        let (cpu, secs) = writer_run(tracks, 20, format);
        println!(
            "take writer, {tracks} stereo takes at 48 kHz, {name}: {:.3} s of one core per \
             second of audio ({:.0}% of a core; {:.1} such sets per core)",
            cpu / secs,
            100.0 * cpu / secs,
            secs / cpu
        );
    }
    export_speed();
    let (median, worst) = sync_cost();
    println!(
        "header rewrite + sync of one take every 0.9 s: median {median:.2} ms, worst {worst:.2} ms"
    );
}

/// A 4-minute song of 8 tracks (a take each, 24-bit) exported: seconds of song per
/// second of work.
fn export_speed() {
    use samspill::control::songs::{ExportKind, SongDesk, SongLine};
    use samspill::session::song::{self, SongTrack, Take};
    let data = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let (dir, mut s) = song::create_song(data.path(), "Bench").unwrap();
    let frames = SR as usize * 240;
    for t in 0..8 {
        let file = format!("track{:02}-take001.wav", t + 1);
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SR,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(dir.join("takes").join(&file), spec).unwrap();
        let f = 110.0 * (t + 1) as f32;
        for i in 0..frames {
            let v = ((i as f32 * f / SR as f32).fract() - 0.5) * 400_000.0;
            w.write_sample(v as i32).unwrap();
            w.write_sample(-v as i32).unwrap();
        }
        w.finalize().unwrap();
        s.tracks.push(SongTrack {
            name: format!("T{t}"),
            source: "inputs".into(),
            volume_db: -3.0,
            pan: 0.0,
            muted: false,
            solo: false,
            takes: vec![Take {
                file,
                start: 0,
                frames: frames as u64,
                sample_rate: SR,
                kept: true,
                dropouts: vec![],
                lost_frames: 0,
                recovered: false,
                ended_early: None,
                offset: 0,
                fade: 0,
            }],
        });
    }
    song::save_song(&dir, &s).unwrap();
    let (c, _e) = samspill::new_engine(&samspill::engine::EngineConfig {
        sample_rate: SR,
        inputs: vec![],
    });
    let mut desk = SongDesk::new(c, data.path().to_owned()).unwrap();
    desk.run(SongLine::Open("Bench".into())).unwrap();
    for (kind, name) in [
        (ExportKind::Wav, "WAV"),
        (ExportKind::Flac, "FLAC"),
        (ExportKind::Ogg, "Ogg (normalised)"),
        (ExportKind::Mp3, "MP3 (normalised)"),
        (ExportKind::Stems, "stems"),
    ] {
        let t = Instant::now();
        desk.run(SongLine::Export(kind, None)).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "export of a 4-minute, 8-track song to {name}: {secs:.2} s ({:.0}× real time)",
            240.0 / secs
        );
    }
}
