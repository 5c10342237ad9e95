//! The chunked decoder: every split of the input gives the same body, and broken framing is
//! refused wherever it breaks.

use super::*;

/// Decodes `input` fed in pieces of `step` bytes (data taken up to `max_data` at a time).
fn decode_in_steps(
    input: &[u8],
    step: usize,
    max_data: usize,
) -> Result<(Vec<u8>, usize), Malformed> {
    let mut decoder = Decoder::default();
    let mut body = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        if pending.is_empty() {
            if fed == input.len() {
                return Err(Malformed);
            }
            let end = (fed + step).min(input.len());
            pending.extend_from_slice(&input[fed..end]);
            fed = end;
        }
        let (used, decoded) = decoder.decode(&pending, max_data)?;
        match decoded {
            Decoded::Data(range) => body.extend_from_slice(&pending[range]),
            Decoded::End => {
                let rest = pending.len() - used + (input.len() - fed);
                return Ok((body, rest));
            }
            Decoded::NeedMore => assert_eq!(used, pending.len()),
        }
        pending.drain(..used);
    }
}

fn decode(input: &[u8]) -> Result<Vec<u8>, Malformed> {
    let whole = decode_in_steps(input, input.len().max(1), usize::MAX);
    for step in [1, 2, 3, 7] {
        for max_data in [1, 5, usize::MAX] {
            assert_eq!(
                decode_in_steps(input, step, max_data),
                whole,
                "step {step}, max {max_data}"
            );
        }
    }
    whole.map(|(body, _)| body)
}

#[test]
fn chunks_are_joined_and_what_follows_is_left() {
    let input = b"5\r\nhello\r\n7;a=b\r\n, world\r\n0\r\n\r\nGET /next";
    assert_eq!(decode(input), Ok(b"hello, world".to_vec()));
    assert_eq!(
        decode_in_steps(input, input.len(), usize::MAX).unwrap().1,
        9
    );
}

#[test]
fn sizes_are_hex_of_one_to_sixteen_digits() {
    assert_eq!(
        decode(b"A\r\n0123456789\r\n0\r\n\r\n"),
        Ok(b"0123456789".to_vec())
    );
    assert_eq!(
        decode(b"0000000000000001\r\nx\r\n0\r\n\r\n"),
        Ok(b"x".to_vec())
    );
    for bad in [
        &b"00000000000000001\r\nx\r\n0\r\n\r\n"[..],
        b"1g\r\nx\r\n0\r\n\r\n",
        b"0x1\r\nx\r\n0\r\n\r\n",
        b"\r\nx\r\n0\r\n\r\n",
        b"-1\r\nx\r\n0\r\n\r\n",
        b" 1\r\nx\r\n0\r\n\r\n",
    ] {
        assert_eq!(
            decode(bad),
            Err(Malformed),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

/// RFC 9112 §7.1: CRLF everywhere in the framing; a bare LF or a lone CR is refused.
#[test]
fn framing_lines_end_in_crlf_only() {
    for bad in [
        &b"1\nx\r\n0\r\n\r\n"[..],
        b"1\r\nx\n0\r\n\r\n",
        b"1\r\nxy\r\n0\r\n\r\n",
        b"1\r\nx\r\r\n0\r\n\r\n",
        b"1\r\nx\r\n0\n\r\n",
        b"1\r\nx\r\n0\r\n\n",
        b"1\r\nx\r\n0\r\nA: b\n\r\n",
        b"1;a\nb\r\nx\r\n0\r\n\r\n",
        b"1 \r\nx\r\n0\r\n\r\n",
    ] {
        assert_eq!(
            decode(bad),
            Err(Malformed),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn extensions_are_ignored_up_to_their_limit() {
    assert_eq!(
        decode(b"1 ; name=\"v\"\r\nx\r\n0;last\r\n\r\n"),
        Ok(b"x".to_vec())
    );
    let at_limit = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(MAX_EXTENSION_BYTES));
    assert_eq!(decode(at_limit.as_bytes()), Ok(b"x".to_vec()));
    let over = format!(
        "1;{}\r\nx\r\n0\r\n\r\n",
        "e".repeat(MAX_EXTENSION_BYTES + 1)
    );
    assert_eq!(decode(over.as_bytes()), Err(Malformed));
    assert_eq!(decode(b"1;a\0\r\nx\r\n0\r\n\r\n"), Err(Malformed));
}

/// Extensions are bounded per body too, so framing cannot grow without end around a small body.
#[test]
fn extensions_are_bounded_per_body() {
    let chunk = format!("1;{}\r\nx\r\n", "e".repeat(MAX_EXTENSION_BYTES));
    let chunks = MAX_BODY_EXTENSION_BYTES / MAX_EXTENSION_BYTES;
    let at_limit = format!("{}0\r\n\r\n", chunk.repeat(chunks));
    assert_eq!(decode(at_limit.as_bytes()), Ok(b"x".repeat(chunks)));
    let over = format!("{}1;e\r\nx\r\n0\r\n\r\n", chunk.repeat(chunks));
    assert_eq!(decode(over.as_bytes()), Err(Malformed));
}

#[test]
fn trailers_are_read_and_discarded_within_their_limits() {
    assert_eq!(
        decode(b"1\r\nx\r\n0\r\nA: b\r\nChecksum: 1\r\n\r\n"),
        Ok(b"x".to_vec())
    );
    let many = format!("0\r\n{}\r\n", "A: b\r\n".repeat(MAX_TRAILER_FIELDS));
    assert_eq!(decode(many.as_bytes()), Ok(Vec::new()));
    let too_many = format!("0\r\n{}\r\n", "A: b\r\n".repeat(MAX_TRAILER_FIELDS + 1));
    assert_eq!(decode(too_many.as_bytes()), Err(Malformed));
    let long = format!("0\r\nA: {}\r\n\r\n", "b".repeat(MAX_TRAILER_BYTES));
    assert_eq!(decode(long.as_bytes()), Err(Malformed));
    for bad in [
        &b"0\r\nno colon\r\n\r\n"[..],
        b"0\r\n folded: x\r\n\r\n",
        b"0\r\n: x\r\n\r\n",
    ] {
        assert_eq!(
            decode(bad),
            Err(Malformed),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn an_unfinished_body_needs_more() {
    let mut decoder = Decoder::default();
    assert_eq!(
        decoder.decode(b"5\r\nhel", 100),
        Ok((6, Decoded::Data(3..6)))
    );
    assert_eq!(decoder.decode(b"", 100), Ok((0, Decoded::NeedMore)));
    assert!(!decoder.is_done());
    assert_eq!(
        decoder.decode(b"lo\r\n0\r\n\r\n", 100),
        Ok((2, Decoded::Data(0..2)))
    );
    assert_eq!(decoder.decode(b"\r\n0\r\n\r\n", 100), Ok((7, Decoded::End)));
    assert!(decoder.is_done());
}
