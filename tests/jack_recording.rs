//! Song recording end to end on a real JACK server (dummy driver): `samspill headless`
//! records a feeder's noise into a take, is killed with SIGKILL in the middle of it, and
//! on its next start mends the file and puts the take back into its song.

mod common_jack;

use std::time::{Duration, Instant};

use common_jack::*;

const SECS: Duration = Duration::from_secs(1);

#[test]
fn a_take_cut_off_by_sigkill_comes_back_at_the_next_start_all_but_the_last_second() {
    let turn = Turn::take("rec-crash");
    let _jackd = Jackd::start(&turn);
    let mut samspill = Samspill::start(&turn, "ss-rec", true, &[]);
    samspill.wait_line("ready: jack client ss-rec", 15 * SECS);
    let probe = client("probe-rec");
    wait_for_port(&probe, "ss-rec:in_1", 5 * SECS);
    let (_feeder, feeder_port) = start_feeder("feeder");
    connect(&probe, &feeder_port, "ss-rec:in_1");
    std::thread::sleep(Duration::from_millis(300));

    samspill.send("song new Krasj");
    let made = samspill.wait_line("song:", 5 * SECS);
    assert!(
        made.starts_with("song: Krasj (new); room on disk for"),
        "{made}"
    );
    // No count-in: the take starts at once.
    samspill.send("song count-in 0");
    samspill.wait_line("song count-in: 0", 5 * SECS);
    samspill.send("record");
    let rec = samspill.wait_line("recording:", 5 * SECS);
    let started = Instant::now();
    assert!(rec.starts_with("recording: track 1, take 1"), "{rec}");
    const N: f64 = 6.0;
    std::thread::sleep(Duration::from_secs_f64(N).saturating_sub(started.elapsed()));
    samspill.signal(libc::SIGKILL);
    let killed_after = started.elapsed().as_secs_f64();
    let status = samspill.wait_exit(10 * SECS);
    assert!(!status.success(), "it was killed: {status}");

    // The next start mends the take and says so, with the file's path.
    let mut again = Samspill::start(&turn, "ss-rec2", true, &[]);
    let said = again.wait_line("recovered:", 20 * SECS);
    let path = said
        .strip_prefix("recovered: ")
        .and_then(|r| r.split(" (").next())
        .unwrap_or_else(|| panic!("no path in {said:?}"));
    assert!(
        path.ends_with("songs/Krasj/takes/track01-take001.wav"),
        "{said}"
    );
    assert!(
        path.starts_with(turn.dir.path().to_str().unwrap()),
        "the take is in the user's data folder: {path}"
    );
    let mut wav = hound::WavReader::open(path).expect("the mended take opens as a WAV");
    let spec = wav.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, SR, 24)
    );
    let samples: Vec<i32> = wav
        .samples::<i32>()
        .collect::<Result<_, _>>()
        .expect("every sample reads");
    let frames = samples.len() / 2;
    let secs = frames as f64 / SR as f64;
    eprintln!("killed after {killed_after:.2} s of recording; {secs:.2} s came back");
    assert!(
        secs >= killed_after - 1.0,
        "only {secs:.2} s of a take killed after {killed_after:.2} s came back"
    );
    // Valid audio: the feeder's noise, every second of it, not silence or garbage.
    let left: Vec<f32> = samples
        .iter()
        .step_by(2)
        .map(|s| *s as f32 / 8_388_607.0)
        .collect();
    let expected = rms(&(0..SR).map(noise).collect::<Vec<f32>>());
    for (k, second) in left.chunks(SR as usize / 2).enumerate() {
        let level = rms(second);
        // Through the input strip (its pan) and the take, a level near the feeder's.
        assert!(
            level > 0.5 * expected && level < 1.2 * expected,
            "half-second {k} of the take has rms {level}, the feeder {expected}"
        );
    }

    // The song lists it, as recovered, and opens.
    again.send("song open Krasj");
    let opened = again.wait_line("song:", 5 * SECS);
    assert!(
        opened.starts_with("song: Krasj (1 tracks, 1 takes)"),
        "{opened}"
    );
    let song = std::fs::read_to_string(turn.dir.path().join("songs/Krasj/song.toml")).unwrap();
    assert!(song.contains("recovered = true"), "{song}");
    let journal = std::fs::read_dir(turn.dir.path().join("songs/Krasj/journal"))
        .unwrap()
        .count();
    assert_eq!(
        journal, 0,
        "the journal entry is gone once the take is filed"
    );
    again.send("quit");
    assert!(again.wait_exit(10 * SECS).success());
    again.assert_no_allocation_on_the_audio_thread();
}

/// The loops a client made in a jam drop into a song as tracks: on the JACK dummy
/// server the headless program loops a feeder's noise, then `song loops 3` makes a track
/// of the loop played three times round, sample for sample the loop each time.
#[test]
fn the_loops_playing_now_become_song_tracks() {
    let turn = Turn::take("rec-loops");
    let _jackd = Jackd::start(&turn);
    let mut samspill = Samspill::start(&turn, "ss-loops", true, &[]);
    samspill.wait_line("ready: jack client ss-loops", 15 * SECS);
    let probe = client("probe-loops");
    wait_for_port(&probe, "ss-loops:in_1", 5 * SECS);
    let (_feeder, feeder_port) = start_feeder("feeder-loops");
    connect(&probe, &feeder_port, "ss-loops:in_1");
    // The looper's memory is made in the background: it answers once it is there.
    let deadline = Instant::now() + 20 * SECS;
    loop {
        samspill.send("loops");
        if samspill.wait_line("loop", 5 * SECS).starts_with("loop 1:") {
            break;
        }
        assert!(Instant::now() < deadline, "the looper never came");
        std::thread::sleep(Duration::from_millis(200));
    }
    samspill.send("loop 1 record");
    std::thread::sleep(Duration::from_millis(1200));
    samspill.send("loop 1 record");
    std::thread::sleep(Duration::from_millis(300));

    samspill.send("song new Lupe");
    samspill.wait_line("song: Lupe", 5 * SECS);
    samspill.send("song loops 3");
    let said = samspill.wait_line("loops:", 20 * SECS);
    assert!(
        said.starts_with("loops: 1 tracks from the loops playing now, 3 times round"),
        "{said}"
    );
    let folder = turn.dir.path().join("songs/Lupe");
    let song = std::fs::read_to_string(folder.join("song.toml")).unwrap();
    assert!(song.contains("name = \"Loop 1\""), "{song}");
    let mut wav = hound::WavReader::open(folder.join("takes/track01-take001.wav")).unwrap();
    let v: Vec<i32> = wav.samples::<i32>().map(Result::unwrap).collect();
    let frames = v.len() / 2;
    assert_eq!(frames % 3, 0, "three whole times round");
    let len = frames / 3;
    let secs = len as f64 / SR as f64;
    assert!(secs > 0.8 && secs < 1.6, "the loop is {secs} s");
    assert!(
        v[..2 * len] == v[2 * len..4 * len] && v[..2 * len] == v[4 * len..],
        "each time round is the loop"
    );
    let loud = v[..2 * len]
        .iter()
        .filter(|s| s.unsigned_abs() > 100_000)
        .count();
    assert!(loud > len / 2, "the loop holds the feeder's noise");
}

/// With `--click-apart` the song's click and count-in go to their own ports (for the
/// headphones) and stay out of the mix the room and the mix take hear: recorded by two
/// JACK clients during a count-in, the click port ticks and the main output is silent.
#[test]
fn the_click_goes_to_its_own_ports_and_stays_out_of_the_mix() {
    let turn = Turn::take("rec-click");
    let _jackd = Jackd::start(&turn);
    let mut samspill = Samspill::start(&turn, "ss-click", true, &["--click-apart"]);
    samspill.wait_line("ready: jack client ss-click", 15 * SECS);
    let probe = client("probe-click");
    wait_for_port(&probe, "ss-click:click_left", 5 * SECS);
    let mut click = Recorder::start("rec-click-port");
    let mut main = Recorder::start("rec-main-port");
    connect(&probe, "ss-click:click_left", &click.port);
    connect(&probe, "ss-click:out_left", &main.port);

    samspill.send("song new Klikk");
    samspill.wait_line("song: Klikk", 5 * SECS);
    samspill.send("song count-in 2");
    samspill.wait_line("song count-in: 2", 5 * SECS);
    click.forget();
    main.forget();
    samspill.send("record");
    samspill.wait_line("recording:", 5 * SECS);
    // Two bars at the default 100 bpm: 4.8 s of count-in; the first 2 s are plenty.
    click.record_for(Duration::from_secs(2));
    main.drain();
    samspill.send("take discard");
    samspill.wait_line("stopped: during the count-in", 10 * SECS);
    let peak = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let (c, m) = (&click.got.samples, &main.got.samples);
    assert!(
        c.len() > SR as usize,
        "the click port was recorded: {}",
        c.len()
    );
    assert!(
        peak(c) > 0.1,
        "the click ticks on its own port: peak {}",
        peak(c)
    );
    // Ticks: most of a beat is silence between them.
    let quiet = c.iter().filter(|v| v.abs() < 1e-4).count();
    assert!(quiet > c.len() / 2, "the click port holds ticks, not noise");
    assert!(
        peak(m) < 1e-6,
        "the mix stays clean of the click: peak {}",
        peak(m)
    );
}
