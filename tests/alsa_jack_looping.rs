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

    /// Records for `d`, again (up to CLEAN_TRIES times) when there were dropouts meanwhile: on
    /// a busy machine a non-realtime jackd or the plugin's thread now and then misses a
    /// cycle, and then the loop slips against JACK's frame clock.
    fn record(&mut self, d: Duration) -> Timeline {
        for _ in 0..CLEAN_TRIES {
            let xruns = self.samspill.level("xruns");
            self.rec.forget();
            self.rec.record_for(d);
            if self.samspill.level("xruns") == xruns && self.rec.got.gaps().is_empty() {
                return Timeline::of(&self.rec.got);
            }
        }
        panic!("dropouts in every recording window");
    }

    /// The loop with the player playing along for half a second (no overdub).
    fn hear_player(&mut self) -> Timeline {
        for _ in 0..CLEAN_TRIES {
            let xruns = self.samspill.level("xruns");
            // The player plays well past the recording window, so that a late start of
            // the recording (a slow status answer) still hears a copy of every click.
            let from = self.player.frame_now().wrapping_add(SR / 20);
            self.player.play_window(from, SR * 9 / 10);
            std::thread::sleep(Duration::from_millis(100));
            self.rec.forget();
            self.rec.record_for(Duration::from_millis(450));
            std::thread::sleep(Duration::from_millis(500));
            if self.samspill.level("xruns") == xruns && self.rec.got.gaps().is_empty() {
                return Timeline::of(&self.rec.got);
            }
        }
        panic!("dropouts every time the player played");
    }

    /// The player's copies, each as late as the click it copies: the real round trip.
    fn round_trips(&mut self) -> Vec<i64> {
        let heard = self.hear_player();
        let mut trips: Vec<i64> = heard
            .landings(self.h0)
            .iter()
            .filter_map(|l| l.copy_at)
            .collect();
        trips.sort_unstable();
        trips
    }

    /// One overdub pass with the player playing along for exactly one loop, then the
    /// loop as it sounds after. A pass with dropouts is undone and done again; `Drift`
    /// when those dropouts moved the round trip itself (see `Drift`).
    fn overdub_pass(&mut self, what: &str) -> Result<Timeline, Drift> {
        for _ in 0..CLEAN_TRIES {
            let xruns = self.samspill.level("xruns");
            self.osc.hit("overdub");
            self.wait_state(5.0);
            let from = self.player.frame_now().wrapping_add(SR / 10);
            self.player.play_window(from, self.len as u32);
            // Jumps in the frame time while the player played count as dropouts too.
            self.rec.forget();
            self.rec
                .record_for(self.loop_secs() + Duration::from_millis(250));
            let jumps = self.rec.got.gaps();
            self.osc.hit("overdub");
            self.wait_state(4.0);
            std::thread::sleep(Duration::from_millis(200));
            let after = self.record(self.loop_secs() + Duration::from_millis(300));
            if self.samspill.level("xruns") == xruns && jumps.is_empty() {
                return Ok(after);
            }
            eprintln!("{what}: dropouts during the pass; undone, once more");
            self.osc.hit("undo");
            self.wait_state(4.0);
            std::thread::sleep(Duration::from_millis(100));
            // Unlike on JACK, a dropout here can move the round trip itself: the output
            // that found the ring dry played silence in its place, and the ring keeps
            // the input that came late as a buffer more. Say so rather than blame the
            // timestamps.
            self.check_round_trip(what)?;
        }
        panic!("{what}: every overdub pass had dropouts");
    }
}

/// The real round trip moved away from what Samspill compensates (after dropouts, say):
/// the input ring is held at its one buffer and put back after a dropout
/// (io/crossing.rs, `ring=` in the status), so this is a failure.
#[derive(Debug)]
struct Drift(String);

impl Rig {
    /// `Drift` when the player's copies now come back later or earlier than Samspill
    /// compensates.
    fn check_round_trip(&mut self, what: &str) -> Result<(), Drift> {
        let trips = self.round_trips();
        let compensation = self.samspill.level("latency_frames");
        if trips.len() >= 2 && trips.iter().all(|t| t.abs_diff(compensation) <= 1) {
            return Ok(());
        }
        let xruns = self.samspill.level("xruns");
        self.samspill.send("status");
        let status = self.samspill.wait_line("levels:", 5 * SECS);
        Err(Drift(format!(
            "{what}: after {xruns} dropouts the round trip is {trips:?} frames but Samspill \
             compensates {compensation} ({status})"
        )))
    }
}

/// Where the overdubbed layer landed against each original click, in frames (0: on it;
/// `None`: a click that is neither on the original nor a clean second copy).
fn landing_errors(after: &Timeline, h0: f32) -> Vec<Option<i64>> {
    after
        .landings(h0)
        .iter()
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
/// seam, falls in the looper's 64-frame crossfade and is only partly doubled.
fn lands(errors: &[Option<i64>], want: i64) -> bool {
    let clean: Vec<i64> = errors.iter().flatten().copied().collect();
    clean.len() >= 4
        && errors.len() - clean.len() <= 2
        && clean.iter().all(|d| d.abs_diff(want) <= 1)
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
    let mut kit = Kit {
        turn: &turn,
        jackd: &jackd,
        feeder: &feeder,
        player: Some(player),
        rec: Some(rec),
        home: &home,
    };
    // One attempt: a round trip that dropouts moved is a failure, not a retry.
    if let Err(d) = attempt(&mut kit) {
        panic!("dropouts moved the round trip: {}", d.0);
    }
    drop(sink);
}

/// What one attempt borrows and gives back: the server, the plugin's config and the
/// test's own clients.
struct Kit<'a> {
    turn: &'a Turn,
    jackd: &'a Jackd,
    feeder: &'a SignalFeeder,
    player: Option<Player>,
    rec: Option<Recorder>,
    home: &'a Path,
}

/// One Samspill on the plugin's PCM, the loop, the measurement and both overdub passes.
fn attempt(kit: &mut Kit) -> Result<(), Drift> {
    let (turn, jackd, feeder, home) = (kit.turn, kit.jackd, kit.feeder, kit.home);
    let (Some(player), Some(rec)) = (kit.player.take(), kit.rec.take()) else {
        panic!("the clients are in the kit");
    };

    let osc_port = free_port().to_string();
    let samspill = Samspill::start_alsa(
        turn,
        home,
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

    let outcome = measure(&mut rig, feeder);
    // The clients go back to the kit whatever happened; Samspill goes.
    kit.player = Some(rig.player);
    kit.rec = Some(rig.rec);
    let mut samspill = rig.samspill;
    if outcome.is_ok() {
        samspill.send("quit");
        assert!(samspill.wait_exit(10 * SECS).success());
        samspill.assert_no_allocation_on_the_audio_thread();
    }
    outcome
}

/// The loop, the real round trip against what Samspill compensates, and both passes.
fn measure(rig: &mut Rig, feeder: &SignalFeeder) -> Result<(), Drift> {
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
    let trips = rig.round_trips();
    assert!(
        trips.len() >= 2,
        "the player's copy was not heard: {trips:?}"
    );
    let round_trip = trips[trips.len() / 2];
    assert!(
        trips[trips.len() - 1] - trips[0] <= 1,
        "the round trip through the plugin varies: {trips:?}"
    );

    // What Samspill compensates, from cpal's timestamps: as the status line and as
    // SooperLooper's `input_latency` (all of it, output 0).
    let compensation = rig.samspill.level("latency_frames");
    let input_latency = rig.osc.get("input_latency").expect("input_latency answers");
    let output_latency = rig
        .osc
        .get("output_latency")
        .expect("output_latency answers");
    let figures = format!(
        "measured round trip {round_trip} frames (per click {trips:?}); Samspill compensates \
         {compensation} (OSC input_latency {input_latency}, output_latency {output_latency})"
    );
    eprintln!("{figures}");
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
    let auto = rig.overdub_pass("automatic")?;
    let errors = landing_errors(&auto, h0);
    eprintln!("automatic: landed {errors:?} frames off the clicks; {figures}");
    if !lands(&errors, 0) {
        // Say whether the round trip itself moved (after dropouts, say) or the
        // compensation was wrong all along.
        rig.check_round_trip("automatic")?;
        let trips_now = rig.round_trips();
        panic!(
            "the overdub did not land on the clicks: {errors:?} ({:?}); before the pass {figures}; \
             after it the round trip is {trips_now:?}, Samspill compensates {}, {} dropouts so far",
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
    let off = rig.overdub_pass("no compensation")?;
    let errors = landing_errors(&off, h0);
    assert!(
        lands(&errors, round_trip),
        "without compensation the layer should land {round_trip} frames late: {errors:?}"
    );

    Ok(())
}
