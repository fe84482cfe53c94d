//! The looper's latency compensation through the ALSA (cpal) backend, end to end, on a
//! machine without a sound card: ALSA's `jack` PCM plugin (libasound2-plugins) gives a
//! PCM paced by a private JACK server on its dummy driver, and the test's own JACK clients
//! sit on the other side of it: clicks to feed, a recorder, and a player who plays back
//! what they hear. The round trip Samspill compensates comes from cpal's timestamps
//! (what the plugin reports as its delay), no offset set by hand.

mod common_jack;
mod common_osc;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common_jack::*;
use common_osc::{free_port, OscClient as Osc};

const SECS: Duration = Duration::from_secs(1);
/// The ALSA PCM the test defines, and the JACK client name the plugin opens it under.
const PCM: &str = "samspill_jack";

/// The plugin is a system package; without it the test says how to get it.
fn require_jack_plugin() {
    let found = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib",
    ]
    .iter()
    .any(|d| {
        Path::new(d)
            .join("alsa-lib/libasound_module_pcm_jack.so")
            .is_file()
    });
    assert!(
        found,
        "ALSA's jack plugin is missing: this test needs it. Install it with \
         `apt-get install libasound2-plugins` (or run `bash .ci/install`)."
    );
}

/// A HOME whose `.asoundrc` defines [`PCM`]: plays into `playback` (left, right) and
/// captures from `capture` (one channel). The plugin connects these when the PCM is
/// set up, so the ports must exist by then. ALSA lists it without a hint (cpal finds
/// it either way); the hint only gives it a description in `samspill devices`.
fn home_with_pcm(turn: &Turn, playback: [&str; 2], capture: &str) -> PathBuf {
    let home = turn.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("a home");
    let rc = format!(
        "pcm.{PCM} {{\n  type jack\n  name \"{PCM}\"\n  playback_ports {{\n    0 {}\n    \
         1 {}\n  }}\n  capture_ports {{\n    0 {capture}\n  }}\n  hint {{\n    show on\n    \
         description \"Samspill test: JACK through ALSA\"\n  }}\n}}\n",
        playback[0], playback[1]
    );
    std::fs::write(home.join(".asoundrc"), rc).expect("the .asoundrc");
    home
}

/// The plugin's port connected to `port` (it is named by the plugin, not by us).
fn plugin_port_at(probe: &jack::Client, port: &str) -> String {
    let p = probe.port_by_name(port).expect("the test's port");
    let start = Instant::now();
    loop {
        let found = p.get_connections().into_iter().find(|c| c.starts_with(PCM));
        if let Some(f) = found {
            return f;
        }
        assert!(
            start.elapsed() < 5 * SECS,
            "the ALSA plugin never connected to {port}; the server has {:?}",
            probe.ports(None, None, jack::PortFlags::empty())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Rig {
    samspill: Samspill,
    osc: Osc,
    player: Player,
    rec: Recorder,
    /// The loop's length in frames.
    len: usize,
    /// The height of the loop's clicks before any overdub.
    h0: f32,
}

impl Rig {
    fn wait_state(&self, want: f32) {
        self.osc
            .wait_for("state", want, 2 * SECS, || self.samspill.stderr());
    }

    fn loop_secs(&self) -> Duration {
        Duration::from_secs_f64(self.len as f64 / SR as f64)
    }

    /// What the recorder hears in the next `d`, one window judged whole (JACK's clock
    /// jumps after the dummy server wakes late lose no audio: see [`Timeline`]).
    fn record(&mut self, d: Duration) -> Timeline {
        self.rec.forget();
        self.rec.record_for(d);
        Timeline::of(&self.rec.got)
    }

    /// Times Samspill has put its input ring back after a dropout it caught.
    fn recentred(&mut self) -> i64 {
        self.samspill.level("recentred")
    }

    /// The loop with the player playing along (no overdub), and how many dropouts
    /// Samspill caught and put back meanwhile (counted a little after the window, so
    /// that one still on its 0.2 s hold is counted too).
    fn hear_player(&mut self) -> (Timeline, i64) {
        let before = self.recentred();
        // The player plays well past the recording window, so that a late start of the
        // recording still hears a copy of every click.
        let from = self.player.played().wrapping_add(SR / 20);
        self.player.play_window(from, SR * 3 / 2);
        std::thread::sleep(Duration::from_millis(100));
        let heard = self.record(Duration::from_millis(900));
        std::thread::sleep(Duration::from_millis(700));
        let caught = self.recentred() - before;
        if caught > 0 {
            self.assert_ring_settled("after a dropout while the player played");
        }
        (heard, caught)
    }

    /// The ring holds what it settled at again (within half a buffer).
    fn assert_ring_settled(&mut self, when: &str) {
        self.samspill.send("status");
        let status = self.samspill.wait_line("levels:", 5 * SECS);
        let ring = status
            .split_whitespace()
            .find_map(|w| w.strip_prefix("ring="))
            .and_then(|r| r.split_once('/'))
            .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
            .unwrap_or_else(|| panic!("no ring in {status:?}"));
        assert!(
            ring.0.abs_diff(ring.1) <= PERIOD as u64 / 2,
            "{when}: the ring holds {} frames, it settled at {}: {status}",
            ring.0,
            ring.1
        );
    }

    /// The player's copies, each as late as the click it copies: the real round trip;
    /// and the dropouts Samspill caught while they were measured.
    fn round_trips(&mut self) -> (Vec<i64>, i64) {
        let (heard, caught) = self.hear_player();
        let mut trips: Vec<i64> = heard
            .landings(self.h0)
            .iter()
            .filter_map(|l| l.copy_at)
            .collect();
        trips.sort_unstable();
        (trips, caught)
    }

    /// One overdub pass with the player playing along for exactly one loop (counted in
    /// the frames it processes), then the loop as it sounds after, and the dropouts
    /// Samspill caught during the pass. One pass, judged as it is: a dropout of
    /// Samspill's own stream (the plugin's thread woke late) spoils the clicks of the
    /// 0.2 s until the ring is put back (io/crossing.rs), which [`lands`] allows for
    /// only when Samspill caught one.
    fn overdub_pass(&mut self) -> (Timeline, i64) {
        let before = self.recentred();
        self.osc.hit("overdub");
        self.wait_state(5.0);
        let from = self.player.played().wrapping_add(SR / 10);
        self.player.play_window(from, self.len as u32);
        std::thread::sleep(self.loop_secs() + Duration::from_millis(250));
        self.osc.hit("overdub");
        self.wait_state(4.0);
        std::thread::sleep(Duration::from_millis(200));
        let after = self.record(self.loop_secs() + Duration::from_millis(300));
        (after, self.recentred() - before)
    }
}

/// The round trip the clicks agree on (within a frame): all of them, but for up to two
/// a dropout fell on when Samspill caught one (`caught` > 0). `None`: no agreement.
fn steady(trips: &[i64], caught: i64) -> Option<i64> {
    let median = *trips.get(trips.len() / 2)?;
    let agree = trips.iter().filter(|t| t.abs_diff(median) <= 1).count();
    let spoiled = trips.len() - agree;
    (agree >= 3 && (spoiled == 0 || (caught > 0 && spoiled <= 2))).then_some(median)
}

/// Where the overdubbed layer landed against each original click, in frames (0: on it;
/// `None`: a click that is neither on the original nor a clean second copy). Each click
/// of the loop once: the window is longer than the loop, and a click heard twice is one
/// place in the layer.
fn landing_errors(after: &Timeline, h0: f32, len: usize) -> Vec<Option<i64>> {
    let mut seen = Vec::new();
    after
        .landings(h0)
        .iter()
        .filter(|l| {
            let place = l.at % len;
            let again = seen.iter().any(|p: &usize| p.abs_diff(place) < CLICK_SPAN);
            seen.push(place);
            !again
        })
        .map(|l| match l.copy_at {
            // One click, louder by the layer (the player's copy comes back quieter).
            None if (1.15..1.4).contains(&l.reinforced) => Some(0),
            // Two clicks of the original height: the layer is `d` frames off.
            Some(d) if (0.95..1.05).contains(&l.reinforced) => Some(d),
            _ => None,
        })
        .collect()
}

/// Whether the layer sits `want` frames off the clicks (a frame either way): every
/// click that shows a clean copy or a clean reinforcement, and at least four of them.
/// Up to two clicks may be neither: one at the punch-in or punch-out, or at the loop's
/// seam, falls in the looper's 64-frame crossfade and is only partly doubled. For each
/// dropout Samspill `caught` in the pass, three more may be off by anything: the clicks
/// (eight a second) of the quarter second until it put its ring back.
fn lands(errors: &[Option<i64>], want: i64, caught: i64) -> bool {
    let on = errors
        .iter()
        .filter(|e| e.is_some_and(|d| d.abs_diff(want) <= 1))
        .count();
    let clean = errors.iter().flatten().count();
    let spoiled_allowed = 3 * caught.max(0) as usize;
    on >= 4 && errors.len() - clean <= 2 + spoiled_allowed && clean - on <= spoiled_allowed
}

/// "Record a loop of clicks over ALSA, let a player overdub what they hear: the layer
/// lands on the original clicks." Samspill's output goes through the plugin to the
/// recorder and the player; the player plays into the plugin's capture port, so the
/// round trip is everything ALSA, the plugin and JACK buffer on the way out and back in,
/// plus Samspill's ring and limiter. Then the same with the compensation cancelled, to
/// show that the measurement sees a layer that lands late.
#[test]
fn a_player_overdubbing_over_alsa_lands_on_the_original_clicks() {
    require_jack_plugin();
    let turn = Turn::take("alsa-loop");
    let jackd = Jackd::start(&turn);
    // The test's side exists first: the plugin connects to it when the PCM opens.
    let feeder = SignalFeeder::start("clicks", Box::new(click), false);
    let player = Player::start("player", 1.0);
    let rec = Recorder::start("recorder");
    // The right channel needs somewhere to go; nobody listens to it.
    let sink = Player::start("sink", 0.0);
    let home = home_with_pcm(&turn, [&rec.port, &sink.input], &feeder.port);

    let osc_port = free_port().to_string();
    let samspill = Samspill::start_alsa(
        &turn,
        &home,
        PCM,
        &[
            "--input-device",
            PCM,
            "--rate",
            "48000",
            "--buffer",
            &PERIOD.to_string(),
            "--inputs",
            "1",
            "--loop-secs",
            "10",
            "--osc-port",
            &osc_port,
        ],
    );
    let ready = samspill.wait_line("ready:", 15 * SECS);
    assert!(
        ready.starts_with(&format!("ready: alsa device {PCM}")),
        "Samspill did not open the plugin's PCM: {ready}\n{}\njackd:\n{}",
        samspill.stderr(),
        jackd.log()
    );
    samspill.wait_line("osc: listening on", 5 * SECS);
    let osc = Osc::new(osc_port.parse().unwrap());
    osc.wait_for("state", 0.0, 20 * SECS, || samspill.stderr());

    // The player hears Samspill's left channel and plays into its input, beside the
    // clicks; JACK runs them in one cycle, the ALSA buffers make the round trip.
    let probe = client("probe-alsa");
    let out_left = plugin_port_at(&probe, &rec.port);
    let capture = plugin_port_at(&probe, &feeder.port);
    connect(&probe, &out_left, &player.input);
    connect(&probe, &player.output, &capture);
    std::thread::sleep(Duration::from_millis(400));
    let mut rig = Rig {
        samspill,
        osc,
        player,
        rec,
        len: 0,
        h0: 0.0,
    };

    measure(&mut rig, &feeder);
    rig.samspill.send("quit");
    assert!(rig.samspill.wait_exit(10 * SECS).success());
    rig.samspill.assert_no_allocation_on_the_audio_thread();
    drop(sink);
}

/// The loop, the real round trip against what Samspill compensates, and both passes.
fn measure(rig: &mut Rig, feeder: &SignalFeeder) {
    // A first loop of clicks, about a second.
    // Started and stopped between clicks, so no click sits on the seam.
    feeder.set(true);
    wait_between_clicks(|| rig.player.frame_now());
    let first = rig.osc.hit("record");
    rig.wait_state(2.0);
    std::thread::sleep(SECS.saturating_sub(first.elapsed()));
    wait_between_clicks(|| rig.player.frame_now());
    rig.osc.hit("record");
    feeder.set(false);
    rig.wait_state(4.0);
    rig.len = (rig.osc.get("loop_len").unwrap() as f64 * SR as f64).round() as usize;
    std::thread::sleep(Duration::from_millis(300));

    // The original as it plays back: every click once, all the same height.
    let before = rig.record(rig.loop_secs() + Duration::from_millis(300));
    let h0 = before.peak();
    rig.h0 = h0;
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
    // looper.
    let (trips, caught) = rig.round_trips();
    let round_trip = steady(&trips, caught).unwrap_or_else(|| {
        panic!("the round trip through the plugin varies ({caught} dropouts caught): {trips:?}")
    });

    // What Samspill compensates, from cpal's timestamps: as the status line and as
    // SooperLooper's `input_latency` (all of it, output 0).
    let compensation = rig.samspill.level("latency_frames");
    let input_latency = rig.osc.get("input_latency").expect("input_latency answers");
    let output_latency = rig
        .osc
        .get("output_latency")
        .expect("output_latency answers");
    let figures = format!(
        "measured round trip {round_trip} frames (per click {trips:?}, {caught} dropouts \
         caught); Samspill compensates {compensation} (OSC input_latency {input_latency}, \
         output_latency {output_latency})"
    );
    eprintln!("{figures}");
    assert!(round_trip.abs_diff(compensation) <= 1, "{figures}");
    assert_eq!(
        (input_latency as i64, output_latency),
        (compensation, 0.0),
        "{figures}"
    );
    // The ring's buffer, the limiter and at least a period of the device; at most a few
    // periods more.
    let period = PERIOD as i64;
    assert!(
        (41 + 2 * period..=41 + 8 * period).contains(&compensation),
        "an implausible round trip: {figures}"
    );

    // 1. Samspill's own compensation: the new layer lands on the original clicks. The
    //    plugin's path is the same every run (its delays move in whole JACK periods), so
    //    a frame either way is all the slack there is: two frames hid a rounding bug.
    let (auto, caught) = rig.overdub_pass();
    let errors = landing_errors(&auto, h0, rig.len);
    eprintln!("automatic: landed {errors:?} frames off the clicks ({caught} dropouts caught)");
    if !lands(&errors, 0, caught) {
        // Say whether the round trip itself moved or the compensation was wrong all along.
        let (trips_now, caught_now) = rig.round_trips();
        panic!(
            "the overdub did not land on the clicks: {errors:?} ({:?}); before the pass {figures}; \
             after it the round trip is {trips_now:?} ({caught_now} dropouts caught), Samspill \
             compensates {}, {} dropouts so far",
            auto.landings(h0),
            rig.samspill.level("latency_frames"),
            rig.samspill.level("xruns"),
        );
    }
    rig.osc.hit("undo");
    rig.wait_state(4.0);

    // 2. Compensation cancelled: the copy lands a round trip late, which this test sees.
    let cancel = (-compensation - 10_000) as f32;
    rig.osc.set_global("latency_offset", cancel);
    assert_eq!(rig.osc.get_global("latency_offset"), Some(cancel));
    // Applied by the engine at its next block.
    std::thread::sleep(Duration::from_millis(50));
    let (off, caught) = rig.overdub_pass();
    let errors = landing_errors(&off, h0, rig.len);
    assert!(
        lands(&errors, round_trip, caught),
        "without compensation the layer should land {round_trip} frames late \
         ({caught} dropouts caught): {errors:?}"
    );
}
