//! The framing shared by journals and snapshots: each record is a 12-byte header and a payload.
//!
//! ```text
//! 0..4    payload length L, u32 little-endian
//! 4..8    CRC-32 of bytes 0..4
//! 8..12   CRC-32 of the payload
//! 12..    the payload: L bytes of compact JSON
//! ```
//!
//! The length has its own checksum so that a damaged length can never be mistaken for a torn
//! tail: a length pointing past the end of the file is believed only when it checks out. A crash
//! (even `kill -9` halfway through a `write`) leaves the file as a prefix of what was being
//! written, so the only damage a crash can cause is at the end: an incomplete header, an
//! incomplete payload, or (after a power loss on some file systems) a zero-filled tail or a last
//! record whose payload does not check out. Anything else is corruption.

use std::io::{self, Read};

use super::crc32::crc32;

/// Bytes before each payload.
pub(crate) const HEADER_BYTES: u64 = 12;
/// No record taskd writes comes near this; a larger checked length is corruption.
const MAX_PAYLOAD: u32 = 64 * 1024 * 1024;

/// Appends one framed record to `out`.
pub(crate) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).expect("records are far smaller than 4 GiB");
    let len = len.to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc32(&len).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Why reading stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Damage {
    /// The file ends inside the record at `offset`: the tail of an interrupted append, safe to
    /// cut off because it was never acknowledged.
    Torn {
        /// Where the torn record starts (the length to keep).
        offset: u64,
        /// What was wrong, for the log line.
        reason: &'static str,
    },
    /// A record before the end does not check out: never cut silently.
    Corrupt {
        /// Where the bad record starts.
        offset: u64,
        /// What was wrong.
        reason: &'static str,
    },
}

/// Reads framed records one by one from a file of known length.
pub(crate) struct Reader<R> {
    inner: R,
    offset: u64,
    len: u64,
    payload: Vec<u8>,
}

impl<R: Read> Reader<R> {
    /// A reader over `len` bytes of `inner`.
    pub(crate) fn new(inner: R, len: u64) -> Reader<R> {
        Reader {
            inner,
            offset: 0,
            len,
            payload: Vec::new(),
        }
    }

    /// Where the next record starts.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The next record's payload, `Ok(None)` at a clean end of file.
    ///
    /// # Errors
    /// `Ok(Err(damage))` for a torn or corrupt record; `Err` when reading fails.
    pub(crate) fn next_record(&mut self) -> io::Result<Result<Option<&[u8]>, Damage>> {
        let start = self.offset;
        let remaining = self.len - start;
        if remaining == 0 {
            return Ok(Ok(None));
        }
        let torn = |reason| {
            Ok(Err(Damage::Torn {
                offset: start,
                reason,
            }))
        };
        let corrupt = |reason| {
            Ok(Err(Damage::Corrupt {
                offset: start,
                reason,
            }))
        };
        if remaining < HEADER_BYTES {
            return torn("incomplete header");
        }
        let mut header = [0u8; HEADER_BYTES as usize];
        self.inner.read_exact(&mut header)?;
        let field = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
        let (len, len_crc, payload_crc) = (field(0), field(4), field(8));
        if crc32(&header[..4]) != len_crc {
            // A zero-filled tail is what some file systems show after a power loss when the
            // file's size reached the disk but its data did not.
            if header.iter().all(|&b| b == 0) && self.rest_is_zero(remaining - HEADER_BYTES)? {
                return torn("zero-filled tail");
            }
            return corrupt("the length's checksum does not match");
        }
        if len > MAX_PAYLOAD {
            return corrupt("impossible record length");
        }
        if remaining - HEADER_BYTES < u64::from(len) {
            return torn("incomplete record");
        }
        self.payload.resize(len as usize, 0);
        self.inner.read_exact(&mut self.payload)?;
        if crc32(&self.payload) != payload_crc {
            if remaining - HEADER_BYTES == u64::from(len) {
                return torn("the last record's checksum does not match");
            }
            return corrupt("the record's checksum does not match");
        }
        self.offset = start + HEADER_BYTES + u64::from(len);
        Ok(Ok(Some(&self.payload)))
    }

    fn rest_is_zero(&mut self, mut count: u64) -> io::Result<bool> {
        let mut buffer = [0u8; 8192];
        while count > 0 {
            let take = count.min(buffer.len() as u64) as usize;
            self.inner.read_exact(&mut buffer[..take])?;
            if buffer[..take].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            count -= take as u64;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for payload in payloads {
            encode(payload, &mut out);
        }
        out
    }

    /// All payloads up to the damage, and the damage.
    fn read_all(bytes: &[u8]) -> (Vec<Vec<u8>>, Option<Damage>) {
        let mut reader = Reader::new(bytes, bytes.len() as u64);
        let mut seen = Vec::new();
        loop {
            match reader.next_record().unwrap() {
                Ok(Some(payload)) => seen.push(payload.to_vec()),
                Ok(None) => return (seen, None),
                Err(damage) => return (seen, Some(damage)),
            }
        }
    }

    #[test]
    fn round_trip() {
        let bytes = records(&[b"one", b"", b"three"]);
        let (seen, damage) = read_all(&bytes);
        assert_eq!(seen, [b"one".to_vec(), Vec::new(), b"three".to_vec()]);
        assert_eq!(damage, None);
    }

    /// A crash can cut the file anywhere inside the last record: every cut yields exactly the
    /// records before it and a torn tail at the last record's start.
    #[test]
    fn every_cut_inside_the_last_record_is_torn_at_its_start() {
        let bytes = records(&[b"{\"a\":1}", b"{\"b\":2}", b"{\"last\":true}"]);
        let last_start = records(&[b"{\"a\":1}", b"{\"b\":2}"]).len();
        for cut in last_start + 1..bytes.len() {
            let (seen, damage) = read_all(&bytes[..cut]);
            assert_eq!(seen.len(), 2, "cut at {cut}");
            assert!(
                matches!(damage, Some(Damage::Torn { offset, .. }) if offset == last_start as u64),
                "cut at {cut}: {damage:?}"
            );
        }
        assert_eq!(
            read_all(&bytes[..last_start]),
            (read_all(&bytes[..last_start]).0, None)
        );
    }

    /// A flipped byte anywhere in an earlier record (length, either checksum, payload) is
    /// corruption at that record, never a torn tail.
    #[test]
    fn a_flipped_byte_in_an_earlier_record_is_corrupt() {
        let bytes = records(&[b"{\"a\":1}", b"{\"b\":2}", b"{\"c\":3}"]);
        let second = records(&[b"{\"a\":1}"]).len();
        let third = records(&[b"{\"a\":1}", b"{\"b\":2}"]).len();
        for at in second..third {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let (seen, damage) = read_all(&damaged);
                assert_eq!(seen.len(), 1, "byte {at}");
                assert!(
                    matches!(damage, Some(Damage::Corrupt { offset, .. }) if offset == second as u64),
                    "byte {at} ^ {flip:#x}: {damage:?}"
                );
            }
        }
    }

    #[test]
    fn a_zero_filled_tail_is_torn() {
        let mut bytes = records(&[b"x"]);
        let end = bytes.len() as u64;
        bytes.extend_from_slice(&[0u8; 40]);
        let (seen, damage) = read_all(&bytes);
        assert_eq!(seen.len(), 1);
        assert!(matches!(damage, Some(Damage::Torn { offset, .. }) if offset == end));
    }
}
