//! Engine cost at 48 kHz in 64-frame blocks on one core.
//! (a) two live stereo inputs, master bus and the true-peak limiter;
//! (b) the same with 16 sounding SoundFont voices, against rustysynth rendering alone.
//! After criterion's figures, a worst-block run prints the slowest block of 10 s.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use samspill::controller::{find_soundfont, load_soundfont};
use samspill::engine::{Command, Engine, EngineConfig, InputConfig, SoundFontSynth};
use samspill::{new_engine, Controller};

const SR: u32 = 48_000;
const BLOCK: usize = 64;
const PERIOD: Duration = Duration::from_nanos(1_000_000_000 * BLOCK as u64 / SR as u64);

struct Rig {
    engine: Engine,
    _controller: Controller,
    inputs: Vec<Vec<f32>>,
    out_l: Vec<f32>,
    out_r: Vec<f32>,
    pos: usize,
}

impl Rig {
    /// Two stereo inputs playing `level` (peak) tones; 1 s of material looped.
    fn new(level: f32) -> Self {
        let config = EngineConfig {
            sample_rate: SR,
            inputs: vec![
                InputConfig {
                    name: "guitar".into(),
                    channel: 0,
                    right_channel: Some(1),
                },
                InputConfig {
                    name: "keys".into(),
                    channel: 2,
                    right_channel: Some(3),
                },
            ],
        };
        let (controller, engine) = new_engine(&config);
        let inputs = (0..4)
            .map(|c| {
                (0..SR as usize)
                    .map(|i| {
                        let t = i as f32 / SR as f32;
                        level * (std::f32::consts::TAU * (110.0 * (c + 1) as f32) * t).sin()
                    })
                    .collect()
            })
            .collect();
        Rig {
            engine,
            _controller: controller,
            inputs,
            out_l: vec![0.0; BLOCK],
            out_r: vec![0.0; BLOCK],
            pos: 0,
        }
    }

    #[inline]
    fn block(&mut self) {
        let p = self.pos;
        let views: [&[f32]; 4] = std::array::from_fn(|c| &self.inputs[c][p..p + BLOCK]);
        self.engine
            .process(&views, &mut self.out_l, &mut self.out_r, &[]);
        self.pos = (p + BLOCK) % (SR as usize - BLOCK);
        black_box(&self.out_l);
    }
}

fn soundfont_16_voices() -> Option<(Arc<rustysynth::SoundFont>, rustysynth::SynthesizerSettings)> {
    let path = find_soundfont()?;
    let sf = load_soundfont(&path, SR).ok()?;
    let mut settings = rustysynth::SynthesizerSettings::new(SR as i32);
    settings.maximum_polyphony = 16;
    Some((sf.font, settings))
}

/// Holds 16 organ notes: sustaining samples, so all 16 voices keep sounding.
fn hold_16_notes(mut note_on: impl FnMut(u8)) {
    for k in 0..16u8 {
        note_on(48 + k * 2);
    }
}

/// The SoundFont installed, with `notes` organ notes held; instruments at -30 dB so the
/// limiter stays out of it and the difference is the synth's alone.
fn rig_with_voices(notes: bool) -> Option<Rig> {
    let (font, settings) = soundfont_16_voices()?;
    let synth = rustysynth::Synthesizer::new(&font, &settings).ok()?;
    let mut rig = Rig::new(0.2);
    let c = &rig._controller;
    c.send(Command::InstallSoundFont(Box::new(SoundFontSynth {
        font,
        synth,
        name: "bench".into(),
    })))
    .ok()?;
    c.send(Command::Patch(samspill::Patch::Organ)).ok()?;
    c.send(Command::InstrumentGain { db: -30.0 }).ok()?;
    if notes {
        hold_16_notes(|k| {
            let _ = c.send(Command::Midi {
                data: [0x90, k, 100],
                len: 3,
            });
        });
    }
    for _ in 0..100 {
        rig.block();
    }
    Some(rig)
}

/// `tracks` loops of 2 s playing, the first `dubbing` of them overdubbing the inputs.
fn rig_with_loops(tracks: usize, dubbing: usize) -> Rig {
    use samspill::controller::{build_looper, LooperConfig};
    use samspill::engine::looper::LoopOp;
    let mut rig = Rig::new(0.05);
    let looper = build_looper(
        &LooperConfig {
            tracks,
            max_secs: 4.0,
            undo_levels: 2,
            ..LooperConfig::default()
        },
        SR,
    );
    let c = rig._controller.clone();
    c.send(Command::InstallLooper(looper)).unwrap();
    for t in 0..tracks as u8 {
        c.send(Command::Loop {
            track: t,
            op: LoopOp::Record,
        })
        .unwrap();
    }
    for _ in 0..(2 * SR as usize / BLOCK) {
        rig.block();
    }
    for t in 0..tracks as u8 {
        c.send(Command::Loop {
            track: t,
            op: LoopOp::Record,
        })
        .unwrap();
        c.send(Command::Loop {
            track: t,
            op: LoopOp::SetVolume(0.3),
        })
        .unwrap();
    }
    for _ in 0..(SR as usize / BLOCK) {
        rig.block();
    }
    for t in 0..dubbing as u8 {
        c.send(Command::Loop {
            track: t,
            op: LoopOp::Overdub,
        })
        .unwrap();
    }
    for _ in 0..100 {
        rig.block();
    }
    rig
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine 64 frames @48k");
    let mut quiet = Rig::new(0.2);
    g.bench_function("2 stereo inputs + limiter (-14 dBFS)", |b| {
        b.iter(|| quiet.block())
    });
    let mut hot = Rig::new(2.0);
    g.bench_function("2 stereo inputs + limiter (limiting)", |b| {
        b.iter(|| hot.block())
    });
    if let Some(mut rig) = rig_with_voices(true) {
        g.bench_function("inputs + limiter + 16 SoundFont voices", |b| {
            b.iter(|| rig.block())
        });
    }
    if let Some(mut rig) = rig_with_voices(false) {
        g.bench_function("inputs + limiter + SoundFont, 0 voices", |b| {
            b.iter(|| rig.block())
        });
    }
    let mut eight = rig_with_loops(8, 2);
    g.bench_function("8 loops (2 overdubbing) + 2 stereo inputs + limiter", |b| {
        b.iter(|| eight.block())
    });
    let mut seven = rig_with_loops(7, 2);
    g.bench_function("7 loops (2 overdubbing) + 2 stereo inputs + limiter", |b| {
        b.iter(|| seven.block())
    });
    if let Some((font, settings)) = soundfont_16_voices() {
        let mut synth = rustysynth::Synthesizer::new(&font, &settings).unwrap();
        synth.process_midi_message(0, 0xC0, 16, 0);
        hold_16_notes(|k| synth.note_on(0, k as i32, 100));
        let (mut l, mut r) = (vec![0f32; BLOCK], vec![0f32; BLOCK]);
        g.bench_function("rustysynth alone, 16 voices", |b| {
            b.iter(|| {
                synth.render(&mut l, &mut r);
                black_box(&l);
            })
        });
        let mut idle = rustysynth::Synthesizer::new(&font, &settings).unwrap();
        g.bench_function("rustysynth alone, 0 voices", |b| {
            b.iter(|| {
                idle.render(&mut l, &mut r);
                black_box(&l);
            })
        });
    }
    g.finish();
}

/// The slowest block matters for dropouts, not the mean.
fn worst_block(name: &str, rig: &mut Rig) {
    let blocks = 10 * SR as usize / BLOCK;
    for _ in 0..1000 {
        rig.block();
    }
    // What reading the clock adds inside each timed block (a VM's clock is not free),
    // taken out of the real-time figure; the worst block keeps it.
    let mut empty: Vec<Duration> = (0..10_000)
        .map(|_| {
            let t = Instant::now();
            t.elapsed()
        })
        .collect();
    empty.sort();
    let overhead = empty[empty.len() / 2];
    let mut times: Vec<Duration> = (0..blocks)
        .map(|_| {
            let t = Instant::now();
            rig.block();
            t.elapsed()
        })
        .collect();
    times.sort();
    let total: Duration = times.iter().map(|t| t.saturating_sub(overhead)).sum();
    let worst = *times.last().unwrap();
    let p999 = times[blocks * 999 / 1000];
    println!(
        "{name}: {:.0}x real time, worst block {:.1} us = {:.2} % of the {:.0} us period (99.9th percentile {:.1} us; clock reading {} ns a block taken out)",
        PERIOD.as_secs_f64() * blocks as f64 / total.as_secs_f64(),
        worst.as_secs_f64() * 1e6,
        100.0 * worst.as_secs_f64() / PERIOD.as_secs_f64(),
        PERIOD.as_secs_f64() * 1e6,
        p999.as_secs_f64() * 1e6,
        overhead.as_nanos(),
    );
}

criterion_group!(group, benches);

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
    println!("\nworst blocks over 10 s of audio:");
    worst_block("2 stereo inputs + limiter (-14 dBFS)", &mut Rig::new(0.2));
    worst_block("2 stereo inputs + limiter (limiting)", &mut Rig::new(2.0));
    worst_block(
        "8 loops (2 overdubbing) + 2 stereo inputs + limiter",
        &mut rig_with_loops(8, 2),
    );
    if let Some(mut rig) = rig_with_voices(true) {
        worst_block("inputs + limiter + 16 SoundFont voices", &mut rig);
    }
    soundfont_grid();
    rate_change();
}

/// The default looper (4 tracks of 60 s, 4 undo levels) with every track full, carried
/// from 48 to 44.1 kHz as a device change does: the time its loops are away (the engine
/// plays on meanwhile), and the memory it holds.
fn rate_change() {
    use samspill::controller::{build_looper, LooperConfig};
    use samspill::engine::looper::TrackSettings;
    let config = LooperConfig::default();
    let mut looper = build_looper(&config, SR);
    let frames = (config.max_secs * SR as f32) as usize;
    let noise: Vec<f32> = (0..frames as u64)
        .map(|i| ((i.wrapping_mul(2_654_435_761) >> 8) % 2000) as f32 / 10_000.0 - 0.1)
        .collect();
    for t in 0..config.tracks {
        looper
            .preload(t, &noise, &noise, &TrackSettings::default())
            .expect("a full track fits");
    }
    println!(
        "\nloop memory, default setup: {:.1} MB held (Settings says {:.1} MB)",
        looper.memory_bytes() as f64 / 1e6,
        config.bytes(SR) as f64 / 1e6
    );
    let t = Instant::now();
    let looper = samspill::prep::looper_rate::retuned(looper, 44_100);
    println!(
        "rate change 48 -> 44.1 kHz, {} full tracks of {} s: loops away for {:.2} s",
        config.tracks,
        config.max_secs,
        t.elapsed().as_secs_f64()
    );
    black_box(looper);
}

/// What a finer note grid costs: rustysynth renders in blocks of its own size and a note
/// starts on the next one. 16 held voices, rendered in the engine's 64-frame calls.
fn soundfont_grid() {
    let Some((font, base)) = soundfont_16_voices() else {
        return;
    };
    println!(
        "
SoundFont note grid (rustysynth's block size), 16 voices, default SoundFont:"
    );
    let mut first = None;
    for size in [64usize, 32, 16, 8] {
        let mut settings = rustysynth::SynthesizerSettings::new(SR as i32);
        settings.maximum_polyphony = base.maximum_polyphony;
        settings.block_size = size;
        let Ok(mut synth) = rustysynth::Synthesizer::new(&font, &settings) else {
            continue;
        };
        for c in 0..16 {
            synth.process_midi_message(c, 0xC0, 16, 0);
        }
        hold_16_notes(|k| synth.note_on(0, k as i32, 100));
        let (mut l, mut r) = (vec![0f32; BLOCK], vec![0f32; BLOCK]);
        let blocks = 10 * SR as usize / BLOCK;
        let t = Instant::now();
        for _ in 0..blocks {
            synth.render(&mut l, &mut r);
            black_box(&l);
        }
        let per_block = t.elapsed().as_secs_f64() / blocks as f64;
        let base_cost = *first.get_or_insert(per_block);
        println!(
            "  block {size:>2}: {:.1} us per 64 frames ({:.2}x the 64-frame grid), notes land up to {} frames ({:.2} ms) late",
            per_block * 1e6,
            per_block / base_cost,
            size - 1,
            (size - 1) as f64 * 1e3 / SR as f64,
        );
    }
}
