//! MIDI from keyboard threads to the audio callback: stamped on arrival, queued without
//! locks, and placed at their frame in the next block.
//!
//! Every event is played exactly one block after it arrived (the block's span of time,
//! shifted by one block), so timing keeps its shape instead of snapping to block starts.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::engine::MidiEvent;

/// Events that can wait for the audio thread; more are dropped and counted.
pub const MIDI_QUEUE_CAPACITY: usize = 4096;
/// Messages the control side (MIDI learn, mapped pedals) may fall behind by; more are
/// dropped and counted. A panel draining 25 times a second keeps far ahead of this.
pub const MIDI_TAP_CAPACITY: usize = 256;
/// Most events handed to the engine in one block; the rest wait for the next one.
pub const MAX_MIDI_PER_BLOCK: usize = 512;
/// Events older than this when the audio side gets to them are dropped: after a stream
/// change, a burst of stale notes would be worse than none.
const STALE_NANOS: u64 = 250_000_000;

/// Nanoseconds on one monotonic clock shared by MIDI threads and audio callbacks.
/// rt: after the first call (made when audio starts) this only reads the clock.
pub fn now_nanos() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Counters the io layer keeps beside the engine's own.
#[derive(Debug, Default)]
pub struct IoCounters {
    /// MIDI events dropped: the queue was full (a flood) or they went stale.
    pub midi_dropped: AtomicU64,
    /// MIDI events handed to the engine by the io layer.
    pub midi_delivered: AtomicU64,
    /// Messages the control-side tap could not take (nobody drained it in time).
    pub midi_tap_dropped: AtomicU64,
}

/// One incoming MIDI message and when it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedMidi {
    pub at_nanos: u64,
    pub event: MidiEvent,
}

/// A copy of every incoming MIDI message for the control side (MIDI learn and mapped
/// pedals), which must never run on the audio thread. Fixed-size messages in a bounded
/// channel: pushing never allocates and never waits; what does not fit is counted.
#[derive(Clone, Debug)]
pub struct MidiTap {
    tx: Sender<TimedMidi>,
    counters: Arc<IoCounters>,
}

impl PartialEq for MidiTap {
    fn eq(&self, other: &Self) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

impl Eq for MidiTap {}

impl MidiTap {
    /// A tap and the control side's end of it.
    pub fn new(counters: Arc<IoCounters>) -> (MidiTap, Receiver<TimedMidi>) {
        let (tx, rx) = crossbeam_channel::bounded(MIDI_TAP_CAPACITY);
        (MidiTap { tx, counters }, rx)
    }

    /// rt: copies one message (up to three bytes) into the tap; a full or abandoned tap
    /// counts a drop instead of waiting. SysEx and empty messages are not tapped.
    pub fn push(&self, at_nanos: u64, bytes: &[u8]) {
        if bytes.is_empty() || bytes.len() > 3 {
            return;
        }
        let m = TimedMidi {
            at_nanos,
            event: MidiEvent::new(0, bytes),
        };
        if self.tx.try_send(m).is_err() {
            self.counters.midi_tap_dropped.fetch_add(1, Relaxed);
        }
    }
}

/// The keyboard threads' end of the queue. Cheap to clone: one per port.
#[derive(Clone)]
pub struct MidiSender {
    tx: Sender<TimedMidi>,
    counters: Arc<IoCounters>,
    /// Also hands each message to the control side, when set.
    tap: Option<MidiTap>,
}

impl MidiSender {
    /// A queue with its sending end and the receiving end for the audio side.
    pub fn new(counters: Arc<IoCounters>) -> (MidiSender, Receiver<TimedMidi>) {
        let (tx, rx) = crossbeam_channel::bounded(MIDI_QUEUE_CAPACITY);
        (
            MidiSender {
                tx,
                counters,
                tap: None,
            },
            rx,
        )
    }

    /// The same sender, also copying every message into `tap`.
    pub fn with_tap(mut self, tap: MidiTap) -> MidiSender {
        self.tap = Some(tap);
        self
    }

    /// Stamps and queues one message; never waits.
    pub fn send(&self, bytes: &[u8]) {
        self.send_at(now_nanos(), bytes);
    }

    pub fn send_at(&self, at_nanos: u64, bytes: &[u8]) {
        let m = TimedMidi {
            at_nanos,
            event: MidiEvent::new(0, bytes),
        };
        match self.tx.try_send(m) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.midi_dropped.fetch_add(1, Relaxed);
            }
        }
        if let Some(tap) = &self.tap {
            tap.push(at_nanos, bytes);
        }
    }
}

/// The audio side's end: turns queued messages into events placed in a block.
pub struct MidiScheduler {
    rx: Receiver<TimedMidi>,
    counters: Arc<IoCounters>,
    events: Vec<MidiEvent>,
    /// Arrived after the current block's time span: belongs to the next block.
    held: Option<TimedMidi>,
}

impl MidiScheduler {
    /// Not rt: allocates the block's event list.
    pub fn new(rx: Receiver<TimedMidi>, counters: Arc<IoCounters>) -> Self {
        Self {
            rx,
            counters,
            events: Vec::with_capacity(MAX_MIDI_PER_BLOCK),
            held: None,
        }
    }

    /// rt: the events for a block of `frames` whose callback started at `now_nanos`,
    /// sorted by frame. An event that arrived at `t` lands at `(t - (now - block)) * rate`:
    /// a constant one-block delay, clamped into the block.
    pub fn collect(&mut self, now_nanos: u64, frames: usize, sample_rate: u32) -> &mut [MidiEvent] {
        self.events.clear();
        if frames == 0 || sample_rate == 0 {
            return &mut self.events[..];
        }
        let frames = frames as u64;
        while self.events.len() < self.events.capacity() {
            let m = match self.held.take() {
                Some(m) => m,
                None => match self.rx.try_recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
            };
            if m.at_nanos >= now_nanos {
                self.held = Some(m);
                break;
            }
            if now_nanos - m.at_nanos > STALE_NANOS {
                self.counters.midi_dropped.fetch_add(1, Relaxed);
                continue;
            }
            // Counted back from the block's end, rounded: exact for any rate.
            let age = now_nanos - m.at_nanos;
            let age_frames = (age * sample_rate as u64 + 500_000_000) / 1_000_000_000;
            let frame = frames.saturating_sub(age_frames).min(frames - 1) as u32;
            let mut ev = m.event;
            ev.frame = frame;
            self.insert_sorted(ev);
        }
        self.counters
            .midi_delivered
            .fetch_add(self.events.len() as u64, Relaxed);
        &mut self.events[..]
    }

    /// rt: insertion from the back keeps equal frames in arrival order (a note-off before
    /// the next note-on) and costs nothing when events already come in order.
    fn insert_sorted(&mut self, ev: MidiEvent) {
        self.events.push(ev);
        let mut i = self.events.len() - 1;
        while i > 0 && self.events[i - 1].frame > ev.frame {
            self.events.swap(i - 1, i);
            i -= 1;
        }
    }
}

/// rt: runs `f` on consecutive pieces of at most `chunk` frames of a block of `frames`,
/// with the events that fall in each piece rebased to the piece's start.
pub fn for_each_chunk(
    frames: usize,
    chunk: usize,
    events: &mut [MidiEvent],
    mut f: impl FnMut(usize, usize, &[MidiEvent]),
) {
    let chunk = chunk.max(1);
    let mut start = 0;
    let mut rest = events;
    while start < frames {
        let len = chunk.min(frames - start);
        let end = start + len;
        let last_piece = end >= frames;
        let n = if last_piece {
            rest.len()
        } else {
            rest.iter().take_while(|e| (e.frame as usize) < end).count()
        };
        let (now, later) = std::mem::take(&mut rest).split_at_mut(n);
        for e in now.iter_mut() {
            e.frame = (e.frame as usize).saturating_sub(start).min(len - 1) as u32;
        }
        f(start, len, now);
        rest = later;
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SR: u32 = 48_000;
    const MS: u64 = 1_000_000;

    fn queue() -> (MidiSender, MidiScheduler, Arc<IoCounters>) {
        let counters = Arc::new(IoCounters::default());
        let (tx, rx) = MidiSender::new(counters.clone());
        (tx, MidiScheduler::new(rx, counters.clone()), counters)
    }

    fn frames_of(events: &[MidiEvent]) -> Vec<u32> {
        events.iter().map(|e| e.frame).collect()
    }

    #[test]
    fn a_note_lands_one_block_after_it_arrived_whatever_the_callback_jitter() {
        let (tx, mut sched, _) = queue();
        // 256-frame blocks are 5.333 ms; the callback runs at t = 1000 ms.
        let now = 1_000 * MS;
        let block = 256 * 1_000_000_000 / SR as u64;
        tx.send_at(now - block, &[0x90, 60, 100]); // start of the span: frame 0
        tx.send_at(now - block / 2, &[0x90, 62, 100]); // the middle: frame 128
        tx.send_at(now - 1, &[0x80, 60, 0]); // just before the callback: last frame
        let ev = sched.collect(now, 256, SR);
        assert_eq!(frames_of(ev), vec![0, 128, 255]);
        assert_eq!(ev[1].bytes(), &[0x90, 62, 100]);

        // The same spacing arriving 1.7 ms later, seen by a callback that is itself 1.7 ms
        // late, lands on the same frames: the delay is constant.
        let late = now + block + 1_700_000;
        tx.send_at(late - block, &[0x90, 64, 100]);
        tx.send_at(late - block / 2, &[0x90, 65, 100]);
        assert_eq!(frames_of(sched.collect(late, 256, SR)), vec![0, 128]);
    }

    #[test]
    fn events_are_clamped_into_the_block_and_kept_sorted() {
        let (tx, mut sched, counters) = queue();
        let now = 2_000 * MS;
        tx.send_at(now - 3 * MS, &[0x90, 61, 1]); // frame 112 of a 5.33 ms block
        tx.send_at(now - 20 * MS, &[0x90, 60, 1]); // older than the span: frame 0
        tx.send_at(now - 3 * MS, &[0x80, 61, 0]); // same frame: stays after the note-on
        tx.send_at(now - 5 * MS, &[0x90, 59, 1]);
        tx.send_at(now + 2 * MS, &[0x90, 70, 1]); // after the callback: next block
        let ev = sched.collect(now, 256, SR);
        let keys: Vec<(u32, u8, u8)> = ev.iter().map(|e| (e.frame, e.data[0], e.data[1])).collect();
        assert_eq!(
            keys,
            vec![
                (0, 0x90, 60),
                (16, 0x90, 59),
                (112, 0x90, 61),
                (112, 0x80, 61)
            ]
        );
        let next = sched.collect(now + 256 * 1_000_000_000 / SR as u64, 256, SR);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].data[1], 70);
        assert_eq!(next[0].frame, 96);
        // Stale events (the audio side was away) are dropped and counted.
        tx.send_at(now, &[0x90, 72, 1]);
        assert!(sched.collect(now + 1_000 * MS, 256, SR).is_empty());
        assert_eq!(counters.midi_dropped.load(Relaxed), 1);
    }

    #[test]
    fn a_flood_is_bounded_per_block_and_overflow_is_counted_never_waited_on() {
        let (tx, mut sched, counters) = queue();
        let now = 3_000 * MS;
        for i in 0..(MIDI_QUEUE_CAPACITY + 100) {
            tx.send_at(now - 5 * MS + i as u64, &[0x90, (i % 128) as u8, 1]);
        }
        assert_eq!(counters.midi_dropped.load(Relaxed), 100);
        let got = sched.collect(now, 256, SR).len();
        assert_eq!(got, MAX_MIDI_PER_BLOCK);
        assert_eq!(sched.collect(now + MS, 256, SR).len(), MAX_MIDI_PER_BLOCK);
        // Collecting allocates nothing: the event list never grows past its capacity.
        assert_eq!(sched.events.capacity(), MAX_MIDI_PER_BLOCK);
    }

    #[test]
    fn the_control_tap_never_waits_when_full_and_counts_what_it_dropped() {
        let counters = Arc::new(IoCounters::default());
        let (tap, tap_rx) = MidiTap::new(counters.clone());
        let (tx, rx) = MidiSender::new(counters.clone());
        let tx = tx.with_tap(tap.clone());
        // A keyboard (ALSA) note reaches both the audio queue and the tap.
        tx.send_at(5, &[0x99, 36, 100]);
        assert_eq!(rx.try_recv().unwrap().event.bytes(), &[0x99, 36, 100]);
        let tapped = tap_rx.try_recv().unwrap();
        assert_eq!(
            (tapped.at_nanos, tapped.event.bytes()),
            (5, &[0x99, 36, 100][..])
        );
        // JACK's process callback pushes straight in, under the allocation checker.
        let started = Instant::now();
        assert_no_alloc::assert_no_alloc(|| {
            for i in 0..(MIDI_TAP_CAPACITY + 10) {
                tap.push(i as u64, &[0xB0, 64, (i % 128) as u8]);
            }
            // SysEx is not tapped, and not counted as dropped.
            tap.push(0, &[0xF0, 1, 2, 3, 0xF7]);
        });
        assert!(started.elapsed() < Duration::from_secs(1), "never waits");
        assert_eq!(counters.midi_tap_dropped.load(Relaxed), 10);
        assert_eq!(tap_rx.try_iter().count(), MIDI_TAP_CAPACITY);
        // Nobody listening any more: still no waiting, still counted.
        drop(tap_rx);
        tap.push(1, &[0x90, 60, 1]);
        assert_eq!(counters.midi_tap_dropped.load(Relaxed), 11);
        assert_eq!(
            counters.midi_dropped.load(Relaxed),
            0,
            "the audio queue is apart"
        );
    }

    #[test]
    fn a_long_block_is_cut_into_pieces_with_each_event_rebased() {
        let mut events: Vec<MidiEvent> = [0u32, 10, 99, 100, 250, 299]
            .iter()
            .map(|&f| MidiEvent::new(f, &[0x90, 60, 1]))
            .collect();
        let mut seen = vec![];
        for_each_chunk(300, 100, &mut events, |start, len, ev| {
            seen.push((start, len, frames_of(ev)));
        });
        assert_eq!(
            seen,
            vec![
                (0, 100, vec![0, 10, 99]),
                (100, 100, vec![0]),
                (200, 100, vec![50, 99])
            ]
        );
    }
}
