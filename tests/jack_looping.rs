//! The looper end to end on a real JACK server (dummy driver, no sound card): the
//! `samspill headless` binary driven over OSC as SooperLooper's clients would, with a
//! feeder, a recorder and a "player" client in this process.
//!
//! Each test starts its own `jackd` and always stops it (and Samspill), also when the
//! test fails. A missing jackd fails the tests with a message saying how to install it.

mod common_jack;
mod common_osc;

use std::time::Duration;

use common_jack::*;
use common_osc::{free_port, OscClient as Osc};
use jack::LatencyType;

const SECS: Duration = Duration::from_secs(1);

/// Samspill on JACK with OSC on a free port and a 10-second looper; waits until the
/// looper answers over OSC.
fn samspill_with_osc(turn: &Turn, client: &str) -> (Samspill, Osc) {
    let port = free_port();
    let port_arg = port.to_string();
    let samspill = Samspill::start_with(
        turn,
        client,
        true,
        &["--loop-secs", "10", "--osc-port", &port_arg],
    );
    samspill.wait_line("ready: jack client", 15 * SECS);
    samspill.wait_line("osc: listening on", 5 * SECS);
    let osc = Osc::new(port);
    // The looper's memory is built in the background; until then no loop answers.
    osc.wait_for("state", 0.0, 20 * SECS, || samspill.stderr());
    (samspill, osc)
}

/// Frames from `samspill:out_left` to `samspill:in_1` and from in to out that JACK reports.
fn port_latencies(probe: &jack::Client, client: &str) -> String {
    let range = |port: &str, t: LatencyType| {
        probe
            .port_by_name(&format!("{client}:{port}"))
            .map(|p| p.get_latency_range(t))
    };
    format!(
        "in_1 capture {:?} playback {:?}; out_left capture {:?} playback {:?}",
        range("in_1", LatencyType::Capture),
        range("in_1", LatencyType::Playback),
        range("out_left", LatencyType::Capture),
        range("out_left", LatencyType::Playback),
    )
}

fn latency_frames_of(samspill: &mut Samspill) -> i64 {
    samspill.send("status");
    let levels = samspill.wait_line("levels:", 5 * SECS);
    levels
        .split_whitespace()
        .find_map(|w| w.strip_prefix("latency_frames="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no latency in {levels:?}"))
}

#[test]
fn two_osc_record_hits_a_second_apart_make_a_one_second_loop_that_repeats() {
    let turn = Turn::take("loop-osc");
    let jackd = Jackd::start(&turn);
    let (mut samspill, osc) = samspill_with_osc(&turn, "ss-loop");
    let probe = client("probe-loop");
    wait_for_port(&probe, "ss-loop:in_1", 5 * SECS);
    let feeder = SignalFeeder::start("feeder", Box::new(noise), true);
    let mut rec = Recorder::start("recorder");
    connect(&probe, &feeder.port, "ss-loop:in_1");
    connect(&probe, "ss-loop:out_left", &rec.port);
    std::thread::sleep(Duration::from_millis(400));

    let first = osc.hit("record");
    osc.wait_for("state", 2.0, 2 * SECS, || samspill.stderr());
    std::thread::sleep(SECS.saturating_sub(first.elapsed()));
    let second = osc.hit("record");
    let between = second.duration_since(first).as_secs_f64();
    // The feeder goes quiet: from now on only the loop sounds.
    feeder.set(false);
    osc.wait_for("state", 4.0, 2 * SECS, || samspill.stderr());
    let len_secs = osc.get("loop_len").expect("loop_len answers") as f64;
    assert!(
        (len_secs - between).abs() < 0.05,
        "the loop is {len_secs:.4} s long, the hits were {between:.4} s apart"
    );
    let len = (len_secs * SR as f64).round() as usize;

    std::thread::sleep(Duration::from_millis(300));
    let heard = recording(&mut rec, Duration::from_millis(3300));
    assert!(
        heard.samples.len() > 3 * len,
        "only {} frames recorded",
        heard.samples.len()
    );
    let level = rms(&heard
        .samples
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<f32>>());
    assert!(level > 0.02, "the loop is (nearly) silent: rms {level}");

    // Periodic with the loop's length: every frame sounds again `len` frames later.
    let (best_lag, best) = (len - 4..=len + 4)
        .map(|lag| (lag, heard.self_correlation(0, 2 * len, lag).0))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    let (c, n) = heard.self_correlation(0, 2 * len, best_lag);
    assert!(
        n > len,
        "too few frames to compare ({n}); jackd:\n{}",
        jackd.log()
    );
    assert!(
        c > 0.98 && best_lag.abs_diff(len) <= 1,
        "the output does not repeat every {len} frames: correlation {best:.4} at {best_lag}"
    );
    // ... and only with it: half a loop later it is unrelated (the noise does not repeat).
    let (half, _) = heard.self_correlation(0, 2 * len, len / 2);
    assert!(half.abs() < 0.2, "correlation {half:.3} half a loop later");

    samspill.send("quit");
    assert!(samspill.wait_exit(10 * SECS).success());
    samspill.assert_no_allocation_on_the_audio_thread();
}

/// What the recorder hears in the next `d`, one window, judged whole: see [`Timeline`]
/// for why the server's late wakeups (on a busy machine) do not break it.
fn recording(rec: &mut Recorder, d: Duration) -> Timeline {
    rec.forget();
    rec.record_for(d);
    Timeline::of(&rec.got)
}

struct Rig {
    samspill: Samspill,
    osc: Osc,
    player: Player,
    rec: Recorder,
    /// The loop's length in frames.
    len: usize,
}

impl Rig {
    fn record(&mut self, d: Duration) -> Timeline {
        recording(&mut self.rec, d)
    }

    fn loop_secs(&self) -> Duration {
        Duration::from_secs_f64(self.len as f64 / SR as f64)
    }

    /// One overdub pass with the player playing along for exactly one loop (counted in
    /// the frames it processes); then the loop as it sounds after.
    fn overdub_pass(&mut self) -> Timeline {
        self.osc.hit("overdub");
        self.osc
            .wait_for("state", 5.0, 2 * SECS, || self.samspill.stderr());
        let from = self.player.played().wrapping_add(SR / 10);
        self.player.play_window(from, self.len as u32);
        std::thread::sleep(self.loop_secs() + Duration::from_millis(250));
        self.osc.hit("overdub");
        self.osc
            .wait_for("state", 4.0, 2 * SECS, || self.samspill.stderr());
        std::thread::sleep(Duration::from_millis(200));
        self.record(self.loop_secs() + Duration::from_millis(300))
    }

    /// The loop with the player playing along (no overdub).
    fn hear_player(&mut self) -> Timeline {
        // The player plays well past the recording window, so that a late start of the
        // recording still hears a copy of every click.
        let from = self.player.played().wrapping_add(SR / 20);
        self.player.play_window(from, SR * 9 / 10);
        std::thread::sleep(Duration::from_millis(100));
        let heard = self.record(Duration::from_millis(450));
        std::thread::sleep(Duration::from_millis(500));
        heard
    }

    /// Sets Samspill's hand-set latency offset over OSC and checks it took.
    fn set_offset(&self, frames: i64) {
        self.osc.set_global("latency_offset", frames as f32);
        assert_eq!(
            self.osc.get_global("latency_offset"),
            Some(frames as f32),
            "latency_offset reply"
        );
        // Applied by the engine at its next block.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// "A test client plays back what it hears as the player; the recorded layer must land
/// within a few frames of the original." The player sits in the JACK graph between
/// `out_left` and `in_1`, so JACK runs that feedback a period late: the real round trip
/// is Samspill's 41 frames + 256. Three overdub passes, each undone after:
///
/// 1. Samspill's own compensation: JACK's latencies do not include the feedback period
///    (and around the cycle depend on the order JACK computed them), so Samspill finds
///    the cycle in the graph and counts 41 + one period; the copy lands on the click.
/// 2. Compensation cancelled with the OSC `latency_offset`: a round trip late, a doubled
///    click (the measurement can tell).
/// 3. Offset = round trip − compensation, as a person would dial in: on the click,
///    every click once and louder.
#[test]
fn a_player_overdubbing_what_they_hear_lands_on_the_original_clicks() {
    let turn = Turn::take("loop-latency");
    let jackd = Jackd::start(&turn);
    let (samspill, osc) = samspill_with_osc(&turn, "ss-lat");
    let probe = client("probe-lat");
    wait_for_port(&probe, "ss-lat:in_1", 5 * SECS);
    let feeder = SignalFeeder::start("clicks", Box::new(click), false);
    let player = Player::start("player", 1.0);
    let rec = Recorder::start("recorder");
    connect(&probe, &feeder.port, "ss-lat:in_1");
    connect(&probe, "ss-lat:out_left", &rec.port);
    // The player hears Samspill and plays into its input: JACK runs this loop in the
    // graph a period late, the way a person's ears and hands are late.
    connect(&probe, "ss-lat:out_left", &player.input);
    connect(&probe, &player.output, "ss-lat:in_1");
    std::thread::sleep(Duration::from_millis(400));
    let mut rig = Rig {
        samspill,
        osc,
        player,
        rec,
        len: 0,
    };

    // A first loop of clicks, about a second.
    // Started and stopped between clicks, so no click sits on the seam.
    feeder.set(true);
    wait_between_clicks(|| rig.player.frame_now());
    let first = rig.osc.hit("record");
    rig.osc
        .wait_for("state", 2.0, 2 * SECS, || rig.samspill.stderr());
    std::thread::sleep(SECS.saturating_sub(first.elapsed()));
    wait_between_clicks(|| rig.player.frame_now());
    rig.osc.hit("record");
    feeder.set(false);
    rig.osc
        .wait_for("state", 4.0, 2 * SECS, || rig.samspill.stderr());
    rig.len = (rig.osc.get("loop_len").unwrap() as f64 * SR as f64).round() as usize;
    std::thread::sleep(Duration::from_millis(300));

    // The original as it plays back: every click once, all the same height.
    let before = rig.record(rig.loop_secs() + Duration::from_millis(300));
    let h0 = before
        .samples
        .iter()
        .flatten()
        .fold(0f32, |m, v| m.max(v.abs()));
    let original = before.landings(h0);
    assert!(
        original.len() >= 4
            && original
                .iter()
                .all(|l| l.copy_at.is_none() && l.reinforced > 0.95),
        "the first loop is not clean single clicks: {original:?}"
    );

    // The real round trip: while the player plays along (no overdub), each click comes
    // back once through Samspill's monitoring, as late as the player's copy reaches the
    // looper. The copy is quieter by the player's path (monitor pan, master, loop pan).
    let heard = rig.hear_player();
    let mut trips: Vec<i64> = heard
        .landings(h0)
        .iter()
        .filter_map(|l| l.copy_at)
        .collect();
    trips.sort_unstable();
    assert!(
        trips.len() >= 2,
        "the player's copy was not heard: {trips:?}"
    );
    let round_trip = trips[trips.len() / 2];
    assert!(
        trips.iter().all(|t| *t == round_trip),
        "the round trip varies: {trips:?}"
    );
    std::thread::sleep(Duration::from_millis(200));

    // What Samspill compensates: JACK's capture latency of its inputs + its own 41
    // frames + JACK's playback latency of its outputs.
    let compensation = latency_frames_of(&mut rig.samspill);
    let ranges = port_latencies(&probe, "ss-lat");

    let check = |what: &str, after: &Timeline, expect_copy_at: i64| -> Vec<Landing> {
        let got = after.landings(h0);
        assert!(
            got.len() >= 4,
            "{what}: only {} clicks to look at: {got:?}",
            got.len()
        );
        for l in &got {
            if expect_copy_at == 0 {
                assert!(
                    l.copy_at.is_none() && (1.15..1.4).contains(&l.reinforced),
                    "{what}: the overdub did not land on the click (Samspill compensates \
                     {compensation} frames, the round trip is {round_trip}): {got:?}"
                );
            } else {
                assert!(
                    l.copy_at == Some(expect_copy_at) && (0.95..1.05).contains(&l.reinforced),
                    "{what}: the copy should sit {expect_copy_at} frames off the click \
                     (Samspill compensates {compensation} frames, the round trip is \
                     {round_trip}): {got:?}"
                );
            }
        }
        got
    };

    // 1. Samspill's own compensation (it sees the player's cycle and adds JACK's period):
    //    the new layer lands on the original clicks.
    assert_eq!(
        compensation, round_trip,
        "Samspill's round trip ({ranges}) is not the one measured"
    );
    let auto = rig.overdub_pass();
    let auto_got = check("automatic", &auto, 0);
    rig.osc.hit("undo");
    rig.osc
        .wait_for("state", 4.0, 2 * SECS, || rig.samspill.stderr());

    // 2. Compensation off (an offset that cancels it): the copy lands a round trip late,
    //    a doubled click, which this test sees.
    rig.set_offset(-compensation - 10_000);
    let off = rig.overdub_pass();
    check("no compensation", &off, round_trip);
    rig.osc.hit("undo");
    rig.osc
        .wait_for("state", 4.0, 2 * SECS, || rig.samspill.stderr());

    // 3. Compensation set to the round trip (the offset a person would dial in): the
    //    layer lands on the original, every click once and louder.
    rig.set_offset(round_trip - compensation);
    let right = rig.overdub_pass();
    check("calibrated", &right, 0);

    eprintln!(
        "round trip {round_trip} frames; Samspill compensates {compensation} ({ranges}); \
         automatic: {auto_got:?}; jackd:\n{}",
        jackd.log()
    );
    rig.samspill.send("quit");
    assert!(rig.samspill.wait_exit(10 * SECS).success());
    rig.samspill.assert_no_allocation_on_the_audio_thread();
}
