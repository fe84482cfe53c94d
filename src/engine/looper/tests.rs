//! Sessions with the looper, run under the allocation checker.

use super::*;

const SR: u32 = 8000;
const BLOCK: usize = 64;

fn looper(secs: f32, undo: usize, sync: SyncMode) -> Looper {
    let mem = Box::new(LoopMemory::new(2, secs, undo, SR));
    Looper::new(
        mem,
        LooperSettings {
            sample_rate: SR,
            sync,
            ..LooperSettings::default()
        },
    )
}

fn tempo() -> SyncMode {
    // 120 bpm at 8 kHz: a beat is 4000 frames, a bar 16000.
    SyncMode::Tempo {
        bpm: 120.0,
        beats_per_bar: 4,
    }
}

/// Runs `frames` frames in blocks, feeding `input(frame)` to source 0 and collecting
/// the left and right output; every `process` call runs under the allocation checker.
fn run(lp: &mut Looper, frames: usize, mut input: impl FnMut(u64) -> f32) -> (Vec<f32>, Vec<f32>) {
    let mut out_l = vec![0.0; frames];
    let mut out_r = vec![0.0; frames];
    let mut in_l = vec![0.0; BLOCK];
    let before = assert_no_alloc::violation_count();
    let mut pos = 0;
    while pos < frames {
        let n = BLOCK.min(frames - pos);
        let start = lp.frame();
        for (i, s) in in_l.iter_mut().take(n).enumerate() {
            *s = input(start + i as u64);
        }
        let (ol, or) = (&mut out_l[pos..pos + n], &mut out_r[pos..pos + n]);
        let src = &in_l[..n];
        assert_no_alloc::assert_no_alloc(|| lp.process(&[(src, src)], ol, or));
        pos += n;
    }
    assert_eq!(
        assert_no_alloc::violation_count(),
        before,
        "allocated on the audio thread"
    );
    (out_l, out_r)
}

fn cmd(lp: &mut Looper, track: usize, op: LoopOp) {
    let before = assert_no_alloc::violation_count();
    assert_no_alloc::assert_no_alloc(|| lp.command(track, op));
    assert_eq!(assert_no_alloc::violation_count(), before);
}

/// Deterministic noise in -0.5..0.5.
fn noise(f: u64) -> f32 {
    let x = f
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
}

fn take(lp: &mut Looper, track: usize) -> Vec<f32> {
    lp.loop_frames(track).map(|(l, _)| l).unwrap_or_default()
}

#[test]
fn record_four_bars_overdub_undo_gives_the_first_take_bit_for_bit_and_redo_the_overdub() {
    let mut lp = looper(10.0, 4, tempo());
    cmd(&mut lp, 0, LoopOp::RecordBars(4));
    assert_eq!(lp.state(0).state, 2);
    run(&mut lp, 64_000 + 200, noise);
    let s = lp.state(0);
    assert_eq!((s.state, s.loop_len, s.cycle_len), (4, 64_000, 16_000));
    let first = take(&mut lp, 0);

    cmd(&mut lp, 0, LoopOp::Overdub);
    assert_eq!(lp.state(0).state, 5);
    run(&mut lp, 20_000, |f| noise(f + 77));
    cmd(&mut lp, 0, LoopOp::Overdub);
    run(&mut lp, 500, |_| 0.0);
    assert_eq!(lp.state(0).state, 4);
    let dubbed = take(&mut lp, 0);
    assert_ne!(dubbed, first);

    cmd(&mut lp, 0, LoopOp::Undo);
    run(&mut lp, 300, |_| 0.3);
    assert_eq!(
        take(&mut lp, 0),
        first,
        "undo brings back the first take bit for bit"
    );
    assert_eq!(lp.state(0).redo_levels, 1);

    cmd(&mut lp, 0, LoopOp::Redo);
    run(&mut lp, 300, |_| 0.3);
    assert_eq!(take(&mut lp, 0), dubbed, "redo brings back the overdub");

    // Undo past the first take leaves the track empty; redo brings the take back.
    cmd(&mut lp, 0, LoopOp::Undo);
    cmd(&mut lp, 0, LoopOp::Undo);
    run(&mut lp, 100, |_| 0.0);
    assert_eq!(lp.state(0).state, 0);
    cmd(&mut lp, 0, LoopOp::Redo);
    run(&mut lp, 100, |_| 0.0);
    assert_eq!(take(&mut lp, 0), first);
}

#[test]
fn overdub_with_feedback_fades_the_old_loop() {
    let mut lp = looper(2.0, 2, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 4000, |_| 0.5);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 100, |_| 0.0);
    cmd(&mut lp, 0, LoopOp::SetFeedback(0.5));
    cmd(&mut lp, 0, LoopOp::Overdub);
    run(&mut lp, 4000, |_| 0.0);
    let l = take(&mut lp, 0);
    // Away from the punch fades, one pass at feedback 0.5 halves the loop.
    assert!((l[2000] - 0.25).abs() < 1e-6, "{}", l[2000]);
}

#[test]
fn reverse_twice_is_identity_bit_for_bit_and_plays_backwards_between() {
    let mut lp = looper(2.0, 2, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 3000, |f| f as f32 * 1e-4);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 3000, |_| 0.0);
    let first = take(&mut lp, 0);
    cmd(&mut lp, 0, LoopOp::Reverse);
    let (out, _) = run(&mut lp, 1000, |_| 0.0);
    // Past the crossfade the ramp runs downwards.
    assert!(out[500] > out[501] && out[501] > out[502]);
    assert!(lp.state(0).reversed);
    cmd(&mut lp, 0, LoopOp::Reverse);
    run(&mut lp, 1000, |_| 0.0);
    assert!(!lp.state(0).reversed);
    assert_eq!(take(&mut lp, 0), first);
}

/// Frames between the first two impulses above `th` in `x`.
fn impulse_period(x: &[f32], th: f32) -> Option<usize> {
    let mut hits = x
        .iter()
        .enumerate()
        .filter(|(_, v)| v.abs() > th)
        .map(|(i, _)| i);
    let a = hits.next()?;
    let b = hits.find(|&i| i > a + 4)?;
    Some(b - a)
}

#[test]
fn half_speed_doubles_the_heard_length_and_double_speed_halves_it() {
    let mut lp = looper(2.0, 2, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    // An impulse in the middle of a 2000-frame loop.
    run(&mut lp, 2000, |f| if f == 1000 { 1.0 } else { 0.0 });
    cmd(&mut lp, 0, LoopOp::Record);
    let (out, _) = run(&mut lp, 5000, |_| 0.0);
    assert_eq!(impulse_period(&out, 0.3), Some(2000));
    cmd(&mut lp, 0, LoopOp::HalfSpeed);
    run(&mut lp, 200, |_| 0.0);
    let (out, _) = run(&mut lp, 9000, |_| 0.0);
    assert_eq!(impulse_period(&out, 0.2), Some(4000));
    cmd(&mut lp, 0, LoopOp::DoubleSpeed);
    run(&mut lp, 200, |_| 0.0);
    let (out, _) = run(&mut lp, 3000, |_| 0.0);
    assert_eq!(impulse_period(&out, 0.3), Some(1000));
    cmd(&mut lp, 0, LoopOp::NormalSpeed);
    assert_eq!(lp.state(0).speed, Speed::Normal);
}

#[test]
fn multiply_gives_twice_the_cycle_with_the_original_repeated() {
    let mut lp = looper(3.0, 3, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 3000, noise);
    cmd(&mut lp, 0, LoopOp::Record);
    // Let the head come round to the top, then multiply through one and a half cycles.
    run(&mut lp, 3000, |_| 0.0);
    let first = take(&mut lp, 0);
    assert_eq!(lp.state(0).loop_pos, 0);
    cmd(&mut lp, 0, LoopOp::Multiply);
    assert_eq!(lp.state(0).state, 6);
    run(&mut lp, 4500, |_| 0.0);
    assert_eq!(lp.state(0).loop_len, 6000, "grows a cycle at a time");
    cmd(&mut lp, 0, LoopOp::Multiply); // ends at the end of this cycle
    run(&mut lp, 2000, |_| 0.0);
    let s = lp.state(0);
    assert_eq!((s.state, s.loop_len, s.cycle_len), (4, 6000, 3000));
    let doubled = take(&mut lp, 0);
    assert_eq!(&doubled[..3000], &first[..]);
    assert_eq!(&doubled[3000..], &first[..]);
    cmd(&mut lp, 0, LoopOp::Undo);
    run(&mut lp, 100, |_| 0.0);
    assert_eq!(take(&mut lp, 0), first);
}

#[test]
fn insert_pushes_the_rest_later_by_whole_cycles() {
    let mut lp = looper(3.0, 3, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 2000, noise);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 2000 + 500, |_| 0.0);
    let first = take(&mut lp, 0);
    let at = lp.state(0).loop_pos;
    assert_eq!(at, 500);
    cmd(&mut lp, 0, LoopOp::Insert);
    assert_eq!(lp.state(0).state, 7);
    run(&mut lp, 700, |_| 0.25);
    cmd(&mut lp, 0, LoopOp::Insert); // rounds up to one cycle
    run(&mut lp, 2000, |_| 0.25);
    let s = lp.state(0);
    assert_eq!((s.state, s.loop_len, s.cycle_len), (4, 4000, 2000));
    let l = take(&mut lp, 0);
    assert_eq!(&l[..at], &first[..at], "before the insert point: untouched");
    assert!(
        l[at + 100..at + 1900].iter().all(|&v| v == 0.25),
        "the inserted cycle"
    );
    assert_eq!(
        &l[at + 2000..],
        &first[at..],
        "after it: the old loop, moved on"
    );
}

#[test]
fn replace_swaps_a_stretch_for_the_input_and_leaves_the_rest() {
    let mut lp = looper(3.0, 3, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 4000, noise);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 4000 + 1000, |_| 0.0);
    let first = take(&mut lp, 0);
    cmd(&mut lp, 0, LoopOp::Replace);
    let (out, _) = run(&mut lp, 1000, |_| 0.25);
    assert_eq!(lp.state(0).state, 8);
    assert!(
        out[100..].iter().all(|v| *v == 0.0),
        "the old loop is silent while replacing"
    );
    cmd(&mut lp, 0, LoopOp::Replace);
    run(&mut lp, 100, |_| 0.25);
    let l = take(&mut lp, 0);
    assert!(l[1064..2000].iter().all(|&v| v == 0.25));
    assert_eq!(&l[..1000], &first[..1000]);
    assert_eq!(&l[2100..], &first[2100..]);
    // Substitute replaces too, but you keep hearing the old loop.
    run(&mut lp, 2900, |_| 0.0);
    cmd(&mut lp, 0, LoopOp::Substitute);
    let (out, _) = run(&mut lp, 500, |_| 0.1);
    assert_eq!(lp.state(0).state, 13);
    assert!(out[100..].iter().any(|v| v.abs() > 0.01));
}

#[test]
fn a_full_track_stops_recording_cleanly_and_plays_what_it_has() {
    let mut lp = looper(0.5, 2, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 10_000, |f| 0.3 * (f as f32 * 0.05).sin());
    let s = lp.state(0);
    assert_eq!((s.state, s.loop_len), (4, 4000));
    assert!(s.full && s.full_count == 1);
    let (out, _) = run(&mut lp, 10_000, |_| 0.0);
    assert!(out.iter().any(|v| v.abs() > 0.1), "the loop plays");
    // Overdubbing and multiplying a full track do not freeze anything.
    cmd(&mut lp, 0, LoopOp::Multiply);
    run(&mut lp, 10_000, |_| 0.0);
    assert_eq!(lp.state(0).state, 4);
    assert_eq!(lp.state(0).loop_len, 4000);
}

#[test]
fn quantized_record_starts_on_the_next_bar_and_cancel_pending_cancels_it() {
    let mut lp = looper(5.0, 2, tempo());
    lp.set_quantize(Quantize::Bar);
    run(&mut lp, 1000, |_| 0.0);
    cmd(&mut lp, 0, LoopOp::Record);
    let s = lp.state(0);
    assert_eq!(s.state, 1);
    assert_eq!(s.pending, Some((LoopOp::Record, 16_000)));
    run(&mut lp, 14_999, |_| 0.0);
    assert_eq!(lp.state(0).state, 1);
    run(&mut lp, 1, |_| 0.0);
    assert_eq!(lp.frame(), 16_000);
    run(&mut lp, 1, |_| 0.0);
    assert_eq!(lp.state(0).state, 2);
    assert_eq!(lp.state(0).loop_len, 1, "started exactly on the bar");
    // Stop after 1.3 bars: it waits for two bars, then plays.
    run(&mut lp, 20_800 - 1, |_| 0.1);
    cmd(&mut lp, 0, LoopOp::Record);
    assert_eq!(lp.state(0).state, 3);
    run(&mut lp, 11_200, |_| 0.1);
    assert_eq!(lp.state(0).state, 4);
    assert_eq!(lp.state(0).loop_len, 32_000);

    // A second track: pending record cancelled without undoing anything.
    run(&mut lp, 100, |_| 0.0);
    cmd(&mut lp, 1, LoopOp::Record);
    assert_eq!(lp.state(1).state, 1);
    cmd(&mut lp, 1, LoopOp::CancelPending);
    run(&mut lp, 20_000, |_| 0.1);
    assert_eq!(lp.state(1).state, 0);
    assert_eq!(lp.state(0).loop_len, 32_000);
}

#[test]
fn first_loop_sets_the_cycle_and_later_loops_snap_to_halves_and_multiples() {
    let mut lp = looper(5.0, 2, SyncMode::FirstLoop);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 8000, noise);
    cmd(&mut lp, 0, LoopOp::Record);
    assert_eq!(lp.grid().cycle_frames, 8000);
    lp.set_quantize(Quantize::Cycle);
    cmd(&mut lp, 1, LoopOp::Record);
    run(&mut lp, 3000, noise);
    assert_eq!(lp.state(1).state, 2, "on the cycle's start: no wait");
    cmd(&mut lp, 1, LoopOp::Record); // at 3000 frames: snaps up to half a cycle
    run(&mut lp, 2000, noise);
    assert_eq!(lp.state(1).loop_len, 4000);
}

#[test]
fn count_in_waits_a_bar_with_the_click_before_recording() {
    let mut lp = looper(5.0, 2, tempo());
    lp.set_count_in(true);
    run(&mut lp, 100, |_| 0.0);
    cmd(&mut lp, 0, LoopOp::Record);
    assert_eq!(lp.state(0).pending.map(|p| p.1), Some(32_000));
    let (out, _) = run(&mut lp, 20_000, |_| 0.0);
    // The click sounds at the bar and on each beat of the count-in.
    assert!(out[15_900..16_300].iter().any(|v| v.abs() > 0.05));
    assert!(out.iter().all(|v| v.abs() < 1.0));
    run(&mut lp, 12_100, |_| 0.0);
    assert_eq!(lp.state(0).state, 2);
}

#[test]
fn seams_never_click() {
    let mut lp = looper(2.0, 2, SyncMode::Off);
    // 440 Hz, started at an arbitrary phase; 3011 frames do not hold whole periods.
    let w = 2.0 * std::f32::consts::PI * 440.0 / SR as f32;
    let sine = move |f: u64| 0.5 * (f as f32 * w + 1.234).sin();
    let start = lp.frame();
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 3011, |f| sine(f - start));
    cmd(&mut lp, 0, LoopOp::Record);
    let (out, _) = run(&mut lp, 4 * 3011 + 10, |f| sine(f - start));
    let loop_len = lp.state(0).loop_len;
    assert_eq!(loop_len, 3011);
    // A hard cut would jump from the sine's last sample to its first.
    let hard_cut = (sine(3010) - sine(0)).abs();
    let step = 0.5 * w; // the largest sample-to-sample step of the sine itself
    let mut worst = 0f32;
    for k in 1..4 {
        let s = k * loop_len;
        for i in s - 3..s + 3 {
            worst = worst.max((out[i + 1] - out[i]).abs());
        }
    }
    // Output is at the centre-pan gain (-3 dB); compare like with like.
    let g = std::f32::consts::FRAC_1_SQRT_2;
    eprintln!(
        "seam jump {worst:.4}, sine step {:.4}, hard cut {:.4}",
        step * g,
        hard_cut * g
    );
    assert!(
        hard_cut * g > 0.3,
        "the test signal must make a bad seam: {hard_cut}"
    );
    assert!(
        worst <= step * g * 1.05,
        "seam jump {worst} vs hard cut {}",
        hard_cut * g
    );

    // Mute, unmute and the jumps (trigger, reverse, speed) are crossfaded too: no step
    // is larger than the sine's own at the faster of the two speeds, plus a little.
    for (op, speed) in [
        (LoopOp::Mute, 1.0),
        (LoopOp::Mute, 1.0),
        (LoopOp::Trigger, 1.0),
        (LoopOp::Reverse, 1.0),
        (LoopOp::HalfSpeed, 1.0),
        (LoopOp::DoubleSpeed, 2.0),
        (LoopOp::NormalSpeed, 2.0),
    ] {
        cmd(&mut lp, 0, op);
        let (o, _) = run(&mut lp, 700, |_| 0.0);
        let jump = o.windows(2).fold(0f32, |m, p| m.max((p[1] - p[0]).abs()));
        assert!(jump < step * g * speed * 1.15, "{op:?}: jump {jump}");
    }
}

#[test]
fn latency_compensation_lines_an_overdub_up_with_what_the_player_heard() {
    const RT: usize = 173;
    let mut lp = looper(2.0, 2, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    // Clicks every 1000 frames, 4000-frame loop.
    let t0 = lp.frame();
    run(&mut lp, 4000, |f| {
        if (f - t0) % 1000 == 300 {
            1.0
        } else {
            0.0
        }
    });
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 4000, |_| 0.0);
    let first = take(&mut lp, 0);
    lp.set_latency_compensation(RT);
    cmd(&mut lp, 0, LoopOp::Overdub);
    // The "player" plays back exactly what they hear, and it reaches us RT frames late.
    let mut delay = vec![0.0f32; RT];
    let mut out_l = vec![0.0f32; BLOCK];
    let mut out_r = vec![0.0f32; BLOCK];
    let mut in_l = vec![0.0f32; BLOCK];
    let mut w = 0usize;
    for _ in 0..(8000 / BLOCK) {
        for (i, s) in in_l.iter_mut().enumerate() {
            *s = delay[(w + i) % RT];
        }
        out_l.fill(0.0);
        out_r.fill(0.0);
        let src = &in_l[..];
        assert_no_alloc::assert_no_alloc(|| lp.process(&[(src, src)], &mut out_l, &mut out_r));
        for (i, s) in out_l.iter().enumerate() {
            delay[(w + i) % RT] = *s;
        }
        w += BLOCK;
    }
    cmd(&mut lp, 0, LoopOp::Overdub);
    run(&mut lp, 200, |_| 0.0);
    let now = take(&mut lp, 0);
    let added: Vec<f32> = now.iter().zip(&first).map(|(a, b)| a - b).collect();
    for k in 0..4 {
        let want = 300 + k * 1000;
        let (at, _) = added
            .iter()
            .enumerate()
            .filter(|(i, _)| i.abs_diff(want) < 400)
            .fold(
                (0, 0f32),
                |m, (i, v)| if v.abs() > m.1 { (i, v.abs()) } else { m },
            );
        assert!(
            at.abs_diff(want) <= 1,
            "click {k}: overdub at {at}, loop at {want}"
        );
    }
}

#[test]
fn clear_mute_solo_oneshot_and_pause_report_sooperlooper_states() {
    let mut lp = looper(2.0, 2, SyncMode::Off);
    for t in 0..2 {
        cmd(&mut lp, t, LoopOp::Record);
        run(&mut lp, 2000, |_| 0.2);
        cmd(&mut lp, t, LoopOp::Record);
    }
    run(&mut lp, 500, |_| 0.0);
    cmd(&mut lp, 0, LoopOp::Mute);
    assert_eq!(lp.state(0).state, 10);
    cmd(&mut lp, 0, LoopOp::OneShot);
    assert_eq!(lp.state(0).state, 12);
    run(&mut lp, 2500, |_| 0.0);
    assert_eq!(lp.state(0).state, 10, "one pass, then muted");
    cmd(&mut lp, 0, LoopOp::Trigger);
    cmd(&mut lp, 1, LoopOp::Solo);
    let (out, _) = run(&mut lp, 1000, |_| 0.0);
    assert!(
        (out[500] - 0.2 * std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4,
        "only track 1: {}",
        out[500]
    );
    cmd(&mut lp, 1, LoopOp::Pause);
    run(&mut lp, 200, |_| 0.0);
    assert_eq!(lp.state(1).state, 14);
    let pos = lp.state(1).loop_pos;
    run(&mut lp, 200, |_| 0.0);
    assert_eq!(lp.state(1).loop_pos, pos, "paused heads stand still");
    cmd(&mut lp, 1, LoopOp::Clear);
    run(&mut lp, 200, |_| 0.0);
    assert_eq!(lp.state(1).state, 0);
}

/// Runs a scripted session (ops at given frames, pieces of varying size) and returns
/// every output sample and the loops at the end.
fn scripted(fast: bool, lat: usize, script: &[(usize, usize, LoopOp)]) -> (Vec<u32>, Vec<u32>) {
    let mut lp = looper(2.0, 3, SyncMode::Off);
    lp.set_fast_path(fast);
    lp.set_latency_compensation(lat);
    let sizes = [64usize, 1, 17, 200, 64, 3, 128, 511, 64, 64];
    let mut out = Vec::new();
    let mut in_l = vec![0.0f32; 1024];
    let mut in_r = vec![0.0f32; 1024];
    let mut ol = vec![0.0f32; 1024];
    let mut or = vec![0.0f32; 1024];
    let mut at = 0usize;
    let mut next = 0usize;
    let mut piece = 0usize;
    let end = script.last().map_or(0, |s| s.0) + 6000;
    while at < end {
        while let Some(&(f, t, op)) = script.get(next) {
            if f > at {
                break;
            }
            cmd(&mut lp, t, op);
            next += 1;
        }
        let due = script.get(next).map_or(end, |s| s.0);
        let n = sizes[piece % sizes.len()].min(due - at).max(1);
        piece += 1;
        for i in 0..n {
            let f = lp.frame() + i as u64;
            in_l[i] = noise(f);
            in_r[i] = noise(f ^ 0x5555) * 0.5;
            // A signed zero in the output must survive too.
            ol[i] = if i % 5 == 0 { -0.0 } else { 0.0 };
            or[i] = 0.25;
        }
        let (sl, sr) = (&in_l[..n], &in_r[..n]);
        let before = assert_no_alloc::violation_count();
        assert_no_alloc::assert_no_alloc(|| {
            lp.process(&[(sl, sr), (sr, sl)], &mut ol[..n], &mut or[..n])
        });
        assert_eq!(assert_no_alloc::violation_count(), before);
        out.extend(ol[..n].iter().chain(&or[..n]).map(|v| v.to_bits()));
        at += n;
    }
    let mut loops = Vec::new();
    for t in 0..2 {
        let s = lp.state(t);
        loops.extend([s.state as u32, s.loop_len as u32, s.loop_pos as u32]);
        let (l, r) = lp.loop_frames(t).unwrap_or_default();
        loops.extend(l.iter().chain(&r).map(|v| v.to_bits()));
    }
    (out, loops)
}

#[test]
fn the_block_fast_path_gives_the_per_frame_path_bit_for_bit() {
    use LoopOp::*;
    let script = [
        (0, 0, Record),
        (100, 1, SetSource(1)),
        (3000, 0, Record),
        (3100, 1, Record),
        (3110, 1, Record), // a tiny loop: pieces longer than the loop
        (5000, 0, SetVolume(0.7)),
        (6000, 0, SetPan(-0.4)),
        (7000, 0, Overdub),
        (7500, 1, SetSource(7)), // a missing source reads silence
        (7600, 1, Overdub),
        (9000, 1, Overdub),
        (9100, 1, SetSource(0)),
        (12000, 0, SetFeedback(0.6)),
        (16000, 0, Overdub),
        (17000, 0, Mute),
        (18000, 0, Mute),
        (19000, 0, Pause),
        (20000, 0, Overdub),
        (21000, 0, Pause),
        (22000, 0, Overdub),
        (24000, 0, Reverse),
        (26000, 0, Reverse),
        (28000, 0, HalfSpeed),
        (30000, 0, NormalSpeed),
        (31000, 0, Undo),
        (33000, 0, Redo),
        (34000, 0, Multiply),
        (36000, 0, Multiply),
        (44000, 0, Replace),
        (45000, 0, Replace),
        (46000, 0, Undo),
        (46500, 1, Solo),
        (47000, 0, Overdub),
        (49000, 1, Solo),
        (49500, 0, Overdub),
        (50000, 0, OneShot),
        (56000, 0, Trigger),
        (57000, 1, Clear),
        (58000, 0, Overdub),
        (66000, 0, Overdub),
    ];
    for lat in [0, 5, 173, 2999] {
        let slow = scripted(false, lat, &script);
        let fast = scripted(true, lat, &script);
        assert_eq!(slow.0.len(), fast.0.len());
        if let Some(i) = slow.0.iter().zip(&fast.0).position(|(a, b)| a != b) {
            panic!("lat {lat}: output differs at {i}");
        }
        assert!(slow.1 == fast.1, "lat {lat}: loops differ");
    }
}

#[test]
fn a_loop_of_one_frame_plays_at_double_speed_both_ways_without_running_off() {
    let mut lp = looper(1.0, 1, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    let one = [0.25f32];
    let (mut l, mut r) = ([0f32; 1], [0f32; 1]);
    lp.process(&[(&one[..], &one[..])], &mut l, &mut r);
    cmd(&mut lp, 0, LoopOp::Record);
    assert_eq!((lp.state(0).state, lp.state(0).loop_len), (4, 1));
    cmd(&mut lp, 0, LoopOp::DoubleSpeed);
    for reversed in [false, true] {
        if reversed {
            cmd(&mut lp, 0, LoopOp::Reverse);
        }
        // A head that ran past the loop would panic here (debug) or read past it.
        let (out, _) = run(&mut lp, 4096, |_| 0.0);
        let s = lp.state(0);
        assert_eq!((s.state, s.reversed), (4, reversed));
        assert!(
            s.loop_pos < 1,
            "the head is at {} of a one-frame loop",
            s.loop_pos
        );
        assert!(out.iter().all(|x| x.is_finite() && x.abs() <= 0.25 + 1e-6));
    }
}

fn free_chunks(lp: &Looper, track: usize) -> usize {
    lp.memory.tracks[track].free_chunks()
}

#[test]
fn undo_levels_share_the_chunks_they_did_not_change_and_give_each_level_back_bit_for_bit() {
    let mut lp = looper(10.0, 4, SyncMode::Off);
    let empty = free_chunks(&lp, 0);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 16_000, noise);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 500, |_| 0.0);
    let loop_chunks = 16_000usize.div_ceil(memory::CHUNK_FRAMES);
    assert_eq!(empty - free_chunks(&lp, 0), loop_chunks);
    let mut takes = vec![take(&mut lp, 0)];

    // Four short overdubs, each a new undo level: each costs the chunks it wrote into
    // (a stretch and its punch fades fall in at most three), not a loop.
    for k in 0..4u64 {
        cmd(&mut lp, 0, LoopOp::Overdub);
        run(&mut lp, 300, |f| noise(f + 1000 * (k + 1)));
        cmd(&mut lp, 0, LoopOp::Overdub);
        run(&mut lp, 3000, |_| 0.0);
        takes.push(take(&mut lp, 0));
        assert_ne!(takes[takes.len() - 1], takes[takes.len() - 2]);
    }
    let used = empty - free_chunks(&lp, 0);
    assert!(
        used <= loop_chunks + 4 * 3,
        "{used} chunks for a loop of {loop_chunks} and four short overdubs"
    );
    assert_eq!(lp.state(0).undo_levels, 4);

    // Each undo gives back the level before it, bit for bit.
    for k in (0..4).rev() {
        cmd(&mut lp, 0, LoopOp::Undo);
        run(&mut lp, 200, |_| 0.0);
        assert_eq!(take(&mut lp, 0), takes[k], "undo to level {k}");
    }
    // A new recording after the undos lets the redo levels' chunks go.
    cmd(&mut lp, 0, LoopOp::Overdub);
    run(&mut lp, 100, |_| 0.0);
    cmd(&mut lp, 0, LoopOp::Overdub);
    run(&mut lp, 500, |_| 0.0);
    assert!(empty - free_chunks(&lp, 0) <= loop_chunks + 3);
    assert_eq!(lp.state(0).undo_dropped, 0);
}

#[test]
fn when_the_pool_runs_dry_an_overdub_gives_up_the_oldest_undo_and_keeps_every_frame() {
    // 2 s at 8 kHz with one undo level: a full loop of chunks and one to spare.
    let mut lp = looper(2.0, 1, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 15_000, noise);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 500, |_| 0.0);
    let first = take(&mut lp, 0);
    let len = first.len();
    assert_eq!(len, 15_000);

    // An overdub of a whole pass (and a bit): every chunk changes, more than the spare.
    let from = lp.state(0).loop_pos;
    cmd(&mut lp, 0, LoopOp::Overdub);
    run(&mut lp, len + 2000, |_| 0.25);
    cmd(&mut lp, 0, LoopOp::Overdub);
    run(&mut lp, 500, |_| 0.0);
    let s = lp.state(0);
    assert_eq!((s.state, s.undo_levels, s.undo_dropped), (4, 0, 1));
    assert_eq!(
        s.full_count, 0,
        "the overdub had room once the undo level went"
    );
    let dubbed = take(&mut lp, 0);
    let lat = LooperSettings::default().latency_frames;
    let wrong = (0..len)
        .filter(|i| {
            // Away from the punch fades (where the latency compensation puts them).
            let d = (i + len - from - lat) % len;
            (200..1800).contains(&d) || (2200..len - 200).contains(&d)
        })
        .filter(|&i| {
            let d = (i + len - from - lat) % len;
            // The first 2000 frames were overdubbed twice.
            let added = if d < 2000 { 0.5 } else { 0.25 };
            (dubbed[i] - (first[i] + added)).abs() > 1e-3
        })
        .count();
    assert_eq!(wrong, 0, "frames where the overdub is missing or wrong");
}

#[test]
fn a_multiply_that_finds_no_room_ends_and_the_loop_still_plays_its_repeats() {
    // A pool of 17 chunks; a 6-chunk loop multiplied needs its parent (the undo level)
    // until every repeat is filled in, so a long multiply runs it dry.
    let mut lp = looper(2.0, 1, SyncMode::Off);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 6000, noise);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 6000 - 64, |_| 0.0);
    let first = take(&mut lp, 0);
    cmd(&mut lp, 0, LoopOp::Multiply);
    run(&mut lp, 14_000, |_| 0.0);
    let s = lp.state(0);
    assert_eq!(s.state, 4, "the multiply ended by itself");
    assert!(
        s.full && s.full_count >= 1,
        "and said memory was full: {s:?}"
    );
    assert!(
        s.loop_len > 6000 && s.loop_len.is_multiple_of(6000),
        "{s:?}"
    );
    // Every repeat is the first loop (silence was multiplied in).
    let now = take(&mut lp, 0);
    for (i, v) in now.iter().enumerate() {
        assert_eq!(*v, first[i % 6000], "frame {i}");
    }
}

#[test]
fn the_default_loop_memory_is_at_most_a_quarter_of_full_copies_with_the_same_undo_depth() {
    // Four tracks of 60 s at 48 kHz, four undo levels: 461 MB as full copies.
    let copies = 4 * 5 * 60 * 48_000 * 8;
    let shared = LoopMemory::bytes_for(4, 60.0, 4, 48_000);
    assert!(shared <= copies / 4, "{shared} bytes");
    let built = LoopMemory::new(4, 60.0, 4, 48_000);
    assert_eq!(built.bytes() as u64, shared);
    assert_eq!(
        built.tracks[0].pool(),
        5,
        "the playing layer and four undo levels"
    );
}

#[test]
fn overdubs_undone_and_done_again_leave_exactly_the_last_one_over_the_first_take() {
    // As the JACK test does it: a loop of sparse clicks longer than a whole number of
    // chunks, latency compensation on, three passes of which the first two are undone.
    let mut lp = looper(10.0, 4, SyncMode::Off);
    let lat = 297;
    lp.set_latency_compensation(lat);
    let click = |f: u64| if f.is_multiple_of(6000) { 0.5 } else { 0.0 };
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 48_128, click);
    cmd(&mut lp, 0, LoopOp::Record);
    run(&mut lp, 5000, |_| 0.0);
    let first = take(&mut lp, 0);
    let len = first.len();
    for pass in 0..3u64 {
        cmd(&mut lp, 0, LoopOp::Overdub);
        run(&mut lp, 800, |_| 0.0);
        // The player: a copy of every click, a quarter as loud, for one whole loop.
        let from = lp.frame();
        run(&mut lp, len, |f| 0.25 * click(f - from + 7 * pass));
        run(&mut lp, 800, |_| 0.0);
        cmd(&mut lp, 0, LoopOp::Overdub);
        run(&mut lp, 3000, |_| 0.0);
        if pass < 2 {
            cmd(&mut lp, 0, LoopOp::Undo);
            run(&mut lp, 500, |_| 0.0);
            assert_eq!(take(&mut lp, 0), first, "pass {pass} undone");
        }
    }
    // Every copy whole, in one frame, a quarter of the original click as played, and
    // nothing else changed.
    let last = take(&mut lp, 0);
    let h = first.iter().fold(0f32, |m, v| m.max(v.abs()));
    let changed: Vec<(usize, f32)> = last
        .iter()
        .zip(&first)
        .enumerate()
        .filter(|(_, (a, b))| (*a - *b).abs() > 1e-6)
        .map(|(i, (a, b))| (i, a - b))
        .collect();
    let copies = (0..len as u64).filter(|f| click(f + 14) > 0.0).count();
    assert_eq!(changed.len(), copies, "{changed:?}");
    assert!(
        changed.iter().all(|(_, d)| (d - h / 4.0).abs() < 1e-6),
        "{changed:?} against clicks of {h}"
    );
}
