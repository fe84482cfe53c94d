//! End to end through a real JACK server (dummy driver, no sound card needed): the
//! `samspill headless` binary as a JACK client between a feeder and a recorder in this
//! process. Like a session: play into input 1 and hear it back on time and unbroken,
//! press a key and hear the note, lose the server and get it back, stop cleanly.
//!
//! Each test starts its own `jackd` and always stops it, also when the test fails. A
//! missing jackd fails the tests with a message saying how to install it.

mod common_jack;

use std::time::Duration;

use common_jack::*;
use jack::LatencyType;

const SECS: Duration = Duration::from_secs(1);

/// The value of `key=N` in a `levels:` line from the `status` command.
fn level_field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number for {key} in {line:?}"))
}

/// Each recorded sample's absolute frame, and whether the `guard` frames before it were
/// all recorded too (none of them in cycles the server skipped).
fn frames_and_settled(r: &Recording, guard: u32) -> (Vec<u32>, Vec<bool>) {
    let (mut frames, mut settled) = (Vec::new(), Vec::new());
    let mut since: Option<u32> = None; // first frame of the current unbroken stretch
    let mut end: Option<u32> = None;
    for &(t, n) in &r.blocks {
        if end.is_none() {
            // The recording's start is no jump: what came before it was played.
            since = Some(t.wrapping_sub(guard));
        } else if end != Some(t) {
            since = Some(t);
        }
        let from = since.unwrap_or(t);
        for k in 0..n {
            let f = t.wrapping_add(k);
            frames.push(f);
            settled.push(f.wrapping_sub(from) >= guard);
        }
        end = Some(t.wrapping_add(n));
    }
    (frames, settled)
}

#[test]
fn input_one_comes_out_unbroken_and_late_by_exactly_the_latency_samspill_reports() {
    let turn = Turn::take("audio");
    let jackd = Jackd::start(&turn);
    let mut samspill = Samspill::start(&turn, "ss-audio", true, &[]);
    let ready = samspill.wait_line("ready:", 15 * SECS);
    assert_eq!(ready, "ready: jack client ss-audio, 48000 Hz, 256 frames");

    let probe = client("probe-audio");
    wait_for_port(&probe, "ss-audio:in_1", 5 * SECS);
    wait_for_port(&probe, "ss-audio:midi_in", 5 * SECS);
    let (_feeder, feeder_port) = start_feeder("feeder");
    let mut rec = Recorder::start("recorder");
    connect(&probe, &feeder_port, "ss-audio:in_1");
    connect(&probe, "ss-audio:out_left", &rec.port);
    // Let the graph's latencies settle and the gain glides finish.
    std::thread::sleep(Duration::from_millis(400));
    // One window of 2 s, judged whole. Cycles the dummy server skipped for every client
    // (it does on this kind of machine, by itself) show as jumps in frame time; each
    // sample is compared with the input at its own frame, and only the first frames
    // after such a jump are left out, where Samspill's delay line still holds input from
    // before it.
    rec.forget();
    rec.record_for(2 * SECS);
    let got = std::mem::take(&mut rec.got);
    assert!(
        got.blocks.len() > 300,
        "only {} cycles in 2 s",
        got.blocks.len()
    );
    let (frames, settled) = frames_and_settled(&got, 2048);
    eprintln!(
        "jumps in frame time (server-skipped cycles): {:?}",
        got.gaps()
    );
    let judged = settled.iter().filter(|s| **s).count();
    assert!(
        judged > SR as usize * 3 / 2,
        "only {judged} frames to judge: the server skipped too much ({:?})\njackd:\n{}",
        got.gaps(),
        jackd.log()
    );

    // (a) The delay: the lag where the output best matches the known input.
    let y: Vec<(usize, f32)> = got
        .samples
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, _)| settled[*i])
        .take(SR as usize)
        .collect();
    let x_at = |i: usize, lag: usize| noise(frames[i].wrapping_sub(lag as u32));
    let energy_y: f64 = y.iter().map(|(_, s)| (*s as f64).powi(2)).sum();
    let (mut best_lag, mut best) = (0, f64::MIN);
    for lag in 0..2048 {
        let c: f64 = y
            .iter()
            .step_by(4)
            .map(|(i, s)| *s as f64 * x_at(*i, lag) as f64)
            .sum();
        if c > best {
            (best_lag, best) = (lag, c);
        }
    }
    let energy_x: f64 = y
        .iter()
        .map(|(i, _)| (x_at(*i, best_lag) as f64).powi(2))
        .sum();
    let dot: f64 = y
        .iter()
        .map(|(i, s)| *s as f64 * x_at(*i, best_lag) as f64)
        .sum();
    let correlation = dot / (energy_x * energy_y).sqrt();
    assert!(
        correlation > 0.999,
        "the input did not come through cleanly (correlation {correlation:.4} at lag {best_lag})"
    );

    let ours = probe
        .port_by_name("ss-audio:out_left")
        .unwrap()
        .get_latency_range(LatencyType::Capture);
    let theirs = probe
        .port_by_name(&feeder_port)
        .unwrap()
        .get_latency_range(LatencyType::Capture);
    assert_eq!(ours.0, ours.1, "one latency, not a range");
    let reported = (ours.1 - theirs.1) as i64;
    assert!(reported > 0, "Samspill reports no latency of its own");
    assert!(
        (best_lag as i64 - reported).abs() <= 1,
        "measured {best_lag} frames, Samspill reports {reported}"
    );

    // Sample-exact: output = gain × input, delayed, everywhere. A glitch anywhere in the
    // two seconds (a repeated or lost buffer, a click) would break this.
    let gain = dot / energy_x;
    let got = &got;
    let expected = 10f64.powf(-9.0 / 20.0); // master -6 dB, centre pan -3 dB
    assert!(
        (gain / expected - 1.0).abs() < 0.05,
        "gain {gain:.4}, expected {expected:.4}"
    );
    let worst = got
        .samples
        .iter()
        .enumerate()
        .filter(|(i, _)| settled[*i])
        .map(|(i, s)| (*s as f64 - gain * x_at(i, best_lag) as f64).abs())
        .fold(0f64, f64::max);
    assert!(
        worst < 1e-3,
        "the output strays from the input by {worst:.5}"
    );
    // And no sudden silence: every cycle carries the signal.
    for (b, cycle) in got.samples.chunks(PERIOD as usize).enumerate() {
        assert!(rms(cycle) > 0.02, "cycle {b} is silent: a dropout");
    }

    // Samspill's own account matches what JACK says.
    samspill.send("status");
    let levels = samspill.wait_line("levels:", 5 * SECS);
    assert_eq!(
        level_field(&levels, "latency_frames"),
        reported as u64,
        "{levels}"
    );

    // (d) `quit` ends it cleanly.
    samspill.send("quit");
    let status = samspill.wait_exit(10 * SECS);
    assert!(status.success(), "quit ended with {status}");
    // Its last line may still be on the way from the pipe when the process is gone.
    samspill.wait_line("stopped", 5 * SECS);
    samspill.assert_no_allocation_on_the_audio_thread();
}

#[test]
fn a_key_pressed_on_a_jack_keyboard_sounds_at_its_frame_and_sigterm_stops_cleanly() {
    let turn = Turn::take("midi");
    let _jackd = Jackd::start(&turn);
    // No stdin at all, as under a service manager: it must keep running.
    let mut samspill = Samspill::start(&turn, "ss-midi", false, &[]);
    samspill.wait_line("ready: jack client ss-midi", 15 * SECS);

    let probe = client("probe-midi");
    wait_for_port(&probe, "ss-midi:midi_in", 5 * SECS);
    let mut keyboard = Keyboard::start("keyboard");
    let mut rec = Recorder::start("recorder");
    connect(&probe, &keyboard.port, "ss-midi:midi_in");
    connect(&probe, "ss-midi:out_left", &rec.port);
    std::thread::sleep(Duration::from_millis(400));
    assert!(samspill.is_running(), "it stopped when stdin closed");
    let latency = probe
        .port_by_name("ss-midi:out_left")
        .unwrap()
        .get_latency_range(LatencyType::Capture)
        .1;

    rec.forget();
    rec.record_for(Duration::from_millis(200));
    let before = rms(&rec.got.samples);
    assert!(before < 1e-4, "not silent before the key: rms {before}");

    // A4 at frame 100 of a cycle: the note must start there (plus the latency), not at
    // the cycle's start.
    let pressed_at = keyboard.play(100, [0x90, 69, 100]);
    rec.record_for(SECS);
    let got = &rec.got;
    let onset = got
        .samples
        .iter()
        .position(|s| s.abs() > 1e-3)
        .expect("the note never sounded");
    let onset_frame = got.frame_of(onset);
    let expected = pressed_at.wrapping_add(latency);
    let early_by = expected.wrapping_sub(onset_frame) as i32;
    assert!(
        (-48..=0).contains(&early_by),
        "the note started at frame {onset_frame}, expected {expected} (pressed at {pressed_at} + {latency} frames)"
    );
    let sound = &got.samples[onset..onset + SR as usize / 2];
    let level = rms(sound);
    assert!(level > 0.01, "the note is too quiet: rms {level}");
    let pitch = strongest_hz(sound, 200.0, 1000.0);
    assert!(
        (pitch - 440.0).abs() < 3.0,
        "the note sounds at {pitch} Hz, not 440 Hz"
    );
    keyboard.play(0, [0x80, 69, 0]);

    // (d) SIGTERM ends it cleanly, with its JACK client closed.
    samspill.signal(libc::SIGTERM);
    let status = samspill.wait_exit(10 * SECS);
    assert!(status.success(), "SIGTERM ended with {status}");
    // Its last line may still be on the way from the pipe when the process is gone.
    samspill.wait_line("stopped", 5 * SECS);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        probe.port_by_name("ss-midi:out_left").is_none(),
        "its JACK ports outlived it"
    );
    samspill.assert_no_allocation_on_the_audio_thread();
}

#[test]
fn a_flood_of_ten_thousand_midi_messages_a_second_causes_no_dropouts() {
    let turn = Turn::take("flood");
    let _jackd = Jackd::start(&turn);
    let mut samspill = Samspill::start(&turn, "ss-flood", true, &[]);
    samspill.wait_line("ready: jack client ss-flood", 15 * SECS);
    let probe = client("probe-flood");
    wait_for_port(&probe, "ss-flood:midi_in", 5 * SECS);
    let keyboard = Keyboard::start("keyboard");
    let mut rec = Recorder::start("recorder");
    connect(&probe, &keyboard.port, "ss-flood:midi_in");
    connect(&probe, "ss-flood:out_left", &rec.port);
    std::thread::sleep(Duration::from_millis(300));

    // 54 messages per 256-frame cycle at 48 kHz: 10,125 a second.
    keyboard.flood(54);
    rec.forget();
    rec.record_for(2 * SECS);
    let heard = std::mem::take(&mut rec.got);
    keyboard.flood(0);
    assert!(
        rms(&heard.samples) > 0.01,
        "the flood of notes made no sound"
    );
    let poured = keyboard.flooded.load(std::sync::atomic::Ordering::Relaxed);
    assert!(poured > 20_000, "only {poured} messages went out");

    std::thread::sleep(Duration::from_millis(100));
    samspill.send("status");
    let levels = samspill.wait_line("levels:", 5 * SECS);
    let (played, malformed, dropped) = (
        level_field(&levels, "midi"),
        level_field(&levels, "malformed"),
        level_field(&levels, "dropped"),
    );
    // Every message reached the engine; the ones that were not MIDI were counted. A
    // non-realtime jackd on a busy machine can skip whole cycles (server xruns), and the
    // keyboard's messages of such a cycle never reach any client: at most 54 each.
    let xruns = level_field(&levels, "xruns");
    let arrived = played + malformed + dropped;
    assert!(arrived <= poured, "{levels}");
    assert!(
        poured - arrived <= 54 * xruns,
        "{} messages lost with {xruns} server xruns: {levels}",
        poured - arrived
    );
    assert!(malformed >= poured / 50 - 1, "{levels}");
    // No dropout of Samspill's making: no callback, the flood's included, needed more
    // CPU time than the period it had (256 frames at 48 kHz). Server xruns on a busy
    // machine come from the machine (see `Timeline`).
    let longest = level_field(&levels, "longest_callback_us");
    eprintln!("longest callback {longest} µs of CPU; {xruns} server xruns");
    assert!(
        longest > 0 && longest < 256 * 1_000_000 / SR as u64,
        "a callback took {longest} µs of CPU, more than its period: {levels}"
    );
    samspill.send("quit");
    assert!(samspill.wait_exit(10 * SECS).success());
    samspill.assert_no_allocation_on_the_audio_thread();
}

#[test]
fn without_a_server_samspill_keeps_time_and_joins_jack_when_it_starts_and_again_after_a_crash() {
    let turn = Turn::take("recover");
    let mut samspill = Samspill::start(&turn, "ss-recover", true, &[]);
    let ready = samspill.wait_line("ready:", 15 * SECS);
    assert_eq!(
        ready,
        "ready: no sound (internal clock), 48000 Hz, 256 frames"
    );
    let status = samspill.wait_line("status:", 5 * SECS);
    assert!(
        status.contains("JACK sound server is not running"),
        "{status}"
    );
    assert!(status.contains("tries again"), "{status}");

    // The server starts: Samspill finds it by itself.
    let mut jackd = Jackd::start(&turn);
    samspill.wait_line(
        "ready: jack client ss-recover, 48000 Hz, 256 frames",
        8 * SECS,
    );
    {
        let probe = client("probe-recover");
        wait_for_port(&probe, "ss-recover:out_left", 5 * SECS);
    }
    samspill.send("status");
    let frames_before = level_field(&samspill.wait_line("levels:", 5 * SECS), "frames");

    // The server goes away: Samspill says so in plain words and keeps running.
    jackd.stop();
    let lost = samspill.wait_line("status:", 8 * SECS);
    assert!(lost.contains("JACK sound server stopped"), "{lost}");
    assert!(lost.contains("kept"), "{lost}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(samspill.is_running(), "losing the server ended Samspill");
    samspill.send("status");
    let frames_after = level_field(&samspill.wait_line("levels:", 5 * SECS), "frames");
    assert!(
        frames_after > frames_before,
        "the engine stopped counting ({frames_before} → {frames_after})"
    );

    // It comes back: so does Samspill, with the same engine.
    let _jackd = Jackd::start(&turn);
    samspill.wait_line(
        "ready: jack client ss-recover, 48000 Hz, 256 frames",
        8 * SECS,
    );
    let probe = client("probe-recover-2");
    wait_for_port(&probe, "ss-recover:in_1", 5 * SECS);
    samspill.send("status");
    let frames_back = level_field(&samspill.wait_line("levels:", 5 * SECS), "frames");
    assert!(frames_back > frames_after);

    samspill.send("quit");
    let status = samspill.wait_exit(10 * SECS);
    assert!(status.success(), "quit ended with {status}");
    samspill.assert_no_allocation_on_the_audio_thread();
}
