//! The internal clock: no device at all. A thread runs the engine block by block at the
//! sample rate with silent input and throws the output away, so loops, meters, MIDI and
//! the panel keep working while no sound card is there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::backend::{AudioStream, Backend, BackendKind, Health, StreamContext, StreamInfo};
use super::error::IoError;
use super::midi_queue::{now_nanos, MidiScheduler};

pub struct ClockBackend {
    pub sample_rate: u32,
    pub buffer_frames: u32,
}

struct ClockStream {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    info: StreamInfo,
}

impl Backend for ClockBackend {
    fn open(&self, ctx: &StreamContext) -> Result<Box<dyn AudioStream>, IoError> {
        let rate = self.sample_rate.max(8000);
        let frames = self.buffer_frames.clamp(16, 8192) as usize;
        // Made before the engine is lent: it plays on meanwhile.
        let assets = crate::prep::for_rate(rate);
        let engine_latency = ctx
            .engine
            .with(Duration::from_secs(2), |e| {
                e.set_sample_rate(assets);
                e.latency_frames()
            })
            .ok_or(IoError::EngineBusy)?;
        ctx.shared
            .latency_frames
            .store(engine_latency as u32, Ordering::Relaxed);
        now_nanos();
        let stop = Arc::new(AtomicBool::new(false));
        let mut run = ClockRun {
            ctx: ctx.clone(),
            midi: MidiScheduler::new(ctx.midi.clone(), ctx.counters.clone()),
            left: vec![0.0; frames],
            right: vec![0.0; frames],
            rate,
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("samspill clock".into())
            .spawn(move || run.run())
            .map_err(|e| IoError::Thread(e.to_string()))?;
        Ok(Box::new(ClockStream {
            stop,
            thread: Some(thread),
            info: StreamInfo {
                backend: BackendKind::Clock,
                device: String::new(),
                sample_rate: rate,
                buffer_frames: frames as u32,
                input_channels: 0,
                input_problem: None,
            },
        }))
    }
}

struct ClockRun {
    ctx: StreamContext,
    midi: MidiScheduler,
    left: Vec<f32>,
    right: Vec<f32>,
    rate: u32,
    stop: Arc<AtomicBool>,
}

impl ClockRun {
    fn run(&mut self) {
        let frames = self.left.len();
        let period = Duration::from_nanos(frames as u64 * 1_000_000_000 / self.rate as u64);
        // Absolute deadlines: sleeping "one period" each time would drift by the work done.
        let mut deadline = Instant::now();
        let shared = self.ctx.shared.clone();
        while !self.stop.load(Ordering::Acquire) {
            super::backend::checked_callback(&shared, || self.block());
            deadline += period;
            let now = Instant::now();
            if now < deadline {
                std::thread::sleep(deadline - now);
            } else if now - deadline > period * 8 {
                // Suspended or starved: start afresh instead of racing to catch up.
                deadline = now;
            }
        }
    }

    /// rt: one block of silence in, output discarded.
    fn block(&mut self) {
        let frames = self.left.len();
        let events = self.midi.collect(now_nanos(), frames, self.rate);
        if let Some(mut engine) = self.ctx.engine.lend() {
            engine.process(&[], &mut self.left, &mut self.right, events);
        }
    }
}

impl AudioStream for ClockStream {
    fn info(&self) -> StreamInfo {
        self.info.clone()
    }
    fn health(&self) -> Health {
        Health::Running
    }
}

impl Drop for ClockStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::engine_cell::EngineCell;
    use crate::io::midi_queue::{IoCounters, MidiSender};
    use crate::{new_engine, EngineConfig};
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn the_clock_keeps_time_and_plays_midi_without_a_device() {
        let (controller, engine) = new_engine(&EngineConfig::default());
        let counters = Arc::new(IoCounters::default());
        let (tx, rx) = MidiSender::new(counters.clone());
        let ctx = StreamContext {
            engine: Arc::new(EngineCell::new(engine)),
            shared: controller.shared().clone(),
            counters,
            midi: rx,
            input_channels: 2,
        };
        let stream = ClockBackend {
            sample_rate: 48_000,
            buffer_frames: 256,
        }
        .open(&ctx)
        .unwrap();
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(100));
        tx.send(&[0x90, 69, 100]);
        std::thread::sleep(Duration::from_millis(200));
        let secs = start.elapsed().as_secs_f64();
        let frames = controller.shared().frames.load(Relaxed) as f64;
        assert!(
            (frames / 48_000.0 - secs).abs() < 0.05,
            "{frames} frames in {secs} s"
        );
        assert_eq!(controller.shared().midi_received.load(Relaxed), 1);
        assert_eq!(
            controller.shared().rt_allocations.load(Relaxed),
            0,
            "the clock's callback allocated"
        );
        assert!(controller.snapshot().instruments.peak > 0.0);
        drop(stream);
        let after = controller.shared().frames.load(Relaxed);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(controller.shared().frames.load(Relaxed), after, "stopped");
    }
}
