//! On-disk framing of records.
//!
//! Frame: `magic (1) | length (4, LE) | checksum (4, LE) | body (length)`,
//! the checksum being the first 4 bytes of BLAKE3(body). The body is a
//! versioned binary encoding of a [`Record`].

use std::sync::Arc;

use bytes::Bytes;

use crate::record::{DeadLetterReason, Provider, Record, RecordKind};

/// First byte of every frame.
pub const MAGIC: u8 = 0xE7;
/// Frame header length.
pub const HEADER: usize = 9;
/// Largest body accepted when reading (a larger length is corruption).
pub const MAX_BODY: usize = 256 * 1024 * 1024;
const VERSION: u8 = 1;

/// The checksum of a body.
pub fn checksum(body: &[u8]) -> u32 {
    let h = blake3::hash(body);
    let b = h.as_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Encodes `r` as one complete frame.
pub fn encode(r: &Record) -> Vec<u8> {
    let mut body = Vec::with_capacity(r.size_hint() + 64);
    body.push(VERSION);
    body.push(match r.kind {
        RecordKind::Event => 0,
        RecordKind::DeadLetter(reason) => {
            1 + DeadLetterReason::ALL
                .iter()
                .position(|x| *x == reason)
                .unwrap_or(0) as u8
        }
    });
    body.push(match r.provider {
        Provider::Agnt5 => 0,
        Provider::Lyzr => 1,
    });
    body.extend_from_slice(&r.received_at_us.to_le_bytes());
    for s in [
        r.id.as_bytes(),
        r.key.as_bytes(),
        r.event_type.as_bytes(),
        r.source.as_bytes(),
        r.subscription.as_bytes(),
        &r.payload,
    ] {
        put(&mut body, s);
    }
    match &r.unredacted {
        Some(u) => {
            body.push(1);
            put(&mut body, u);
        }
        None => body.push(0),
    }
    let mut frame = Vec::with_capacity(HEADER + body.len());
    frame.push(MAGIC);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&checksum(&body).to_le_bytes());
    frame.extend_from_slice(&body);
    frame
}

fn put(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s);
}

/// A body that does not decode.
#[derive(Debug, PartialEq, Eq)]
pub struct Undecodable;

struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Undecodable> {
        if self.b.len() < n {
            return Err(Undecodable);
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Undecodable> {
        Ok(self.take(1)?[0])
    }
    fn bytes(&mut self) -> Result<&'a [u8], Undecodable> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| Undecodable)?);
        self.take(len as usize)
    }
    fn string(&mut self) -> Result<String, Undecodable> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| Undecodable)
    }
}

/// Decodes a body (checksum already verified).
pub fn decode(body: &[u8]) -> Result<Record, Undecodable> {
    let mut c = Cursor { b: body };
    if c.u8()? != VERSION {
        return Err(Undecodable);
    }
    let kind = match c.u8()? {
        0 => RecordKind::Event,
        n => RecordKind::DeadLetter(
            *DeadLetterReason::ALL
                .get(usize::from(n) - 1)
                .ok_or(Undecodable)?,
        ),
    };
    let provider = match c.u8()? {
        0 => Provider::Agnt5,
        1 => Provider::Lyzr,
        _ => return Err(Undecodable),
    };
    let received_at_us = i64::from_le_bytes(c.take(8)?.try_into().map_err(|_| Undecodable)?);
    let id = c.string()?;
    let key = c.string()?;
    let event_type = c.string()?;
    let source = c.string()?;
    let subscription: Arc<str> = Arc::from(c.string()?);
    let payload = Bytes::copy_from_slice(c.bytes()?);
    let unredacted = match c.u8()? {
        0 => None,
        1 => Some(Bytes::copy_from_slice(c.bytes()?)),
        _ => return Err(Undecodable),
    };
    if !c.b.is_empty() {
        return Err(Undecodable);
    }
    Ok(Record {
        kind,
        id,
        key,
        event_type,
        source,
        provider,
        subscription,
        received_at_us,
        payload,
        unredacted,
    })
}

/// Parses a frame header: body length and checksum, or `None` when the
/// bytes cannot be a frame header.
pub fn header(h: &[u8]) -> Option<(usize, u32)> {
    if h.len() < HEADER || h[0] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes([h[1], h[2], h[3], h[4]]) as usize;
    let sum = u32::from_le_bytes([h[5], h[6], h[7], h[8]]);
    (len <= MAX_BODY).then_some((len, sum))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(i: u64) -> Record {
        Record {
            kind: if i.is_multiple_of(3) {
                RecordKind::DeadLetter(DeadLetterReason::NotJson)
            } else {
                RecordKind::Event
            },
            id: format!("{i:032x}"),
            key: format!("exec-{}", i % 5),
            event_type: "task.completed".into(),
            source: "ws://h/ws".into(),
            provider: Provider::Lyzr,
            subscription: Arc::from("sub"),
            received_at_us: 1_700_000_000_000_000 + i as i64,
            payload: Bytes::from(format!("{{\"n\":{i}}}")),
            unredacted: i
                .is_multiple_of(2)
                .then(|| Bytes::from_static(b"{\"secret\":1}")),
        }
    }

    #[test]
    fn round_trip_and_checksum() {
        for i in 0..10 {
            let r = record(i);
            let frame = encode(&r);
            let (len, sum) = header(&frame).unwrap();
            let body = &frame[HEADER..];
            assert_eq!(len, body.len());
            assert_eq!(sum, checksum(body));
            assert_eq!(decode(body).unwrap(), r);
        }
        assert_eq!(decode(&[9, 9, 9]), Err(Undecodable));
        assert_eq!(header(&[0; 9]), None);
    }
}
