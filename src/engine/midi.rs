//! MIDI messages as the engine understands them: parsed from raw bytes, never trusted.

/// A raw MIDI event placed at a frame inside the current block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MidiEvent {
    /// Frame offset from the start of the block it is handed in with.
    pub frame: u32,
    pub data: [u8; 3],
    pub len: u8,
}

impl MidiEvent {
    /// Copies up to three bytes; longer messages (SysEx) keep only their status byte,
    /// which the parser then ignores.
    pub fn new(frame: u32, bytes: &[u8]) -> Self {
        let mut data = [0u8; 3];
        let len = bytes.len().min(3);
        data[..len].copy_from_slice(&bytes[..len]);
        Self {
            frame,
            data,
            len: if bytes.len() > 3 { 1 } else { len as u8 },
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data[..(self.len as usize).min(3)]
    }
}

/// A channel message. Channels are 0-based (channel 10 in a manual is `9` here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MidiMessage {
    NoteOff {
        channel: u8,
        key: u8,
        velocity: u8,
    },
    NoteOn {
        channel: u8,
        key: u8,
        velocity: u8,
    },
    PolyPressure {
        channel: u8,
        key: u8,
        pressure: u8,
    },
    Control {
        channel: u8,
        controller: u8,
        value: u8,
    },
    Program {
        channel: u8,
        program: u8,
    },
    ChannelPressure {
        channel: u8,
        pressure: u8,
    },
    /// -8192 ..= 8191, 0 is centre.
    PitchBend {
        channel: u8,
        value: i16,
    },
}

/// Why bytes were not turned into a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MidiParse {
    /// Clock, active sensing, SysEx and the like: valid, but nothing an instrument plays.
    Ignored,
    /// Not a MIDI message: wrong length, missing status, data bytes above 127.
    Malformed,
}

impl MidiMessage {
    /// rt: parses one complete message; never panics on any input.
    pub fn parse(bytes: &[u8]) -> Result<Self, MidiParse> {
        let Some(&status) = bytes.first() else {
            return Err(MidiParse::Malformed);
        };
        if status < 0x80 {
            return Err(MidiParse::Malformed);
        }
        if status >= 0xF0 {
            return Err(MidiParse::Ignored);
        }
        let channel = status & 0x0F;
        let kind = status & 0xF0;
        let needed = if kind == 0xC0 || kind == 0xD0 { 2 } else { 3 };
        if bytes.len() < needed || bytes[1..needed].iter().any(|b| *b > 0x7F) {
            return Err(MidiParse::Malformed);
        }
        let d1 = bytes[1];
        let d2 = if needed == 3 { bytes[2] } else { 0 };
        Ok(match kind {
            0x80 => MidiMessage::NoteOff {
                channel,
                key: d1,
                velocity: d2,
            },
            0x90 if d2 == 0 => MidiMessage::NoteOff {
                channel,
                key: d1,
                velocity: 64,
            },
            0x90 => MidiMessage::NoteOn {
                channel,
                key: d1,
                velocity: d2,
            },
            0xA0 => MidiMessage::PolyPressure {
                channel,
                key: d1,
                pressure: d2,
            },
            0xB0 => MidiMessage::Control {
                channel,
                controller: d1,
                value: d2,
            },
            0xC0 => MidiMessage::Program {
                channel,
                program: d1,
            },
            0xD0 => MidiMessage::ChannelPressure {
                channel,
                pressure: d1,
            },
            _ => MidiMessage::PitchBend {
                channel,
                value: ((d2 as i16) << 7 | d1 as i16) - 8192,
            },
        })
    }

    pub fn channel(&self) -> u8 {
        match *self {
            MidiMessage::NoteOff { channel, .. }
            | MidiMessage::NoteOn { channel, .. }
            | MidiMessage::PolyPressure { channel, .. }
            | MidiMessage::Control { channel, .. }
            | MidiMessage::Program { channel, .. }
            | MidiMessage::ChannelPressure { channel, .. }
            | MidiMessage::PitchBend { channel, .. } => channel,
        }
    }

    /// The status byte and data bytes, as sent on a wire.
    pub fn to_bytes(&self) -> ([u8; 3], usize) {
        match *self {
            MidiMessage::NoteOff {
                channel,
                key,
                velocity,
            } => ([0x80 | channel, key, velocity], 3),
            MidiMessage::NoteOn {
                channel,
                key,
                velocity,
            } => ([0x90 | channel, key, velocity], 3),
            MidiMessage::PolyPressure {
                channel,
                key,
                pressure,
            } => ([0xA0 | channel, key, pressure], 3),
            MidiMessage::Control {
                channel,
                controller,
                value,
            } => ([0xB0 | channel, controller, value], 3),
            MidiMessage::Program { channel, program } => ([0xC0 | channel, program, 0], 2),
            MidiMessage::ChannelPressure { channel, pressure } => {
                ([0xD0 | channel, pressure, 0], 2)
            }
            MidiMessage::PitchBend { channel, value } => {
                let v = (value as i32 + 8192).clamp(0, 16383) as u16;
                ([0xE0 | channel, (v & 0x7F) as u8, (v >> 7) as u8], 3)
            }
        }
    }
}

/// The GM drum channel (channel 10 on the keyboard).
pub const DRUM_CHANNEL: u8 = 9;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_on_with_zero_velocity_is_note_off() {
        assert!(matches!(
            MidiMessage::parse(&[0x90, 60, 0]),
            Ok(MidiMessage::NoteOff { key: 60, .. })
        ));
    }

    #[test]
    fn strange_bytes_are_refused_not_fatal() {
        assert_eq!(MidiMessage::parse(&[]), Err(MidiParse::Malformed));
        assert_eq!(MidiMessage::parse(&[0x40, 1, 2]), Err(MidiParse::Malformed));
        assert_eq!(
            MidiMessage::parse(&[0x90, 200, 2]),
            Err(MidiParse::Malformed)
        );
        assert_eq!(MidiMessage::parse(&[0x90, 60]), Err(MidiParse::Malformed));
        assert_eq!(MidiMessage::parse(&[0xF8]), Err(MidiParse::Ignored));
        for a in 0..=255u8 {
            for b in [0u8, 64, 127, 128, 255] {
                let _ = MidiMessage::parse(&[a, b, b]);
                let _ = MidiMessage::parse(&[a, b]);
                let _ = MidiMessage::parse(&[a]);
            }
        }
    }

    #[test]
    fn pitch_bend_round_trips() {
        for v in [-8192i16, -1, 0, 1, 8191] {
            let (b, n) = MidiMessage::PitchBend {
                channel: 3,
                value: v,
            }
            .to_bytes();
            assert_eq!(
                MidiMessage::parse(&b[..n]),
                Ok(MidiMessage::PitchBend {
                    channel: 3,
                    value: v
                })
            );
        }
    }
}
