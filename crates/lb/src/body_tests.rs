use super::*;

/// Feeds `input` split at `at` and returns the output and the bytes left.
fn dechunk_split(input: &[u8], at: usize, recode: Recode) -> Result<(Vec<u8>, Vec<u8>), BadChunk> {
    let mut state = BodyState::new(BodyLen::Chunked, recode);
    let mut src = BytesMut::new();
    let mut out = Vec::new();
    src.extend_from_slice(&input[..at]);
    state.take(&mut src, &mut out)?;
    src.extend_from_slice(&input[at..]);
    state.take(&mut src, &mut out)?;
    assert!(state.is_done(), "ended");
    Ok((out, src.to_vec()))
}

const BODY: &[u8] = b"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\nGET /next";

#[test]
fn a_chunked_body_decodes_the_same_however_it_is_split() {
    for at in 0..=BODY.len() {
        let (out, rest) = dechunk_split(BODY, at, Recode::Decoded).unwrap();
        assert_eq!(out, b"hello0123456789abcdef", "split at {at}");
        assert_eq!(rest, b"GET /next", "split at {at}");
    }
}

#[test]
fn a_rechunked_body_keeps_the_chunks_and_drops_extensions_and_trailers() {
    let (out, _) = dechunk_split(BODY, BODY.len(), Recode::Chunked).unwrap();
    assert_eq!(out, b"5\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
}

#[test]
fn bad_chunk_sizes_and_line_ends_are_refused() {
    for bad in [
        &b"x\r\nhello\r\n0\r\n\r\n"[..],
        b"\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"11111111111111111\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"0\r\nX: 1\n\r\n",
        b"5;\x01\r\nhello\r\n0\r\n\r\n",
    ] {
        let mut state = BodyState::new(BodyLen::Chunked, Recode::Chunked);
        let mut src = BytesMut::from(bad);
        let r = state.take(&mut src, &mut Vec::new());
        assert!(r.is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn the_largest_chunk_size_does_not_overflow() {
    let mut state = BodyState::new(BodyLen::Chunked, Recode::Chunked);
    let mut src = BytesMut::from(&b"ffffffffffffffff\r\nabc"[..]);
    let mut out = Vec::new();
    assert_eq!(state.take(&mut src, &mut out), Ok(false));
    assert_eq!(out, b"ffffffffffffffff\r\nabc");
}

#[test]
fn a_length_body_takes_only_its_bytes_and_leaves_the_next_request() {
    let mut state = BodyState::new(BodyLen::Length(5), Recode::Chunked);
    let mut src = BytesMut::from(&b"hel"[..]);
    let mut out = Vec::new();
    assert_eq!(state.take(&mut src, &mut out), Ok(false));
    src.extend_from_slice(b"loGET /");
    assert_eq!(state.take(&mut src, &mut out), Ok(true));
    assert_eq!((&out[..], &src[..]), (&b"hello"[..], &b"GET /"[..]));
    assert!(BodyState::new(BodyLen::Length(0), Recode::Chunked).is_done());
    assert!(BodyState::new(BodyLen::None, Recode::Chunked).is_done());
}

#[tokio::test]
async fn a_body_cut_short_is_an_error_and_one_until_close_is_not() {
    let (mut a, mut b) = tokio::io::duplex(64);
    let mut sink = Vec::new();
    tokio::io::AsyncWriteExt::write_all(&mut a, b"abc")
        .await
        .unwrap();
    drop(a);
    let mut state = BodyState::new(BodyLen::Length(10), Recode::Chunked);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let r = pump(&mut state, &mut b, &mut buf, &mut sink, &mut out, None).await;
    assert!(matches!(r, Err(PumpError::Truncated)), "{r:?}");
    assert_eq!(sink, b"abc");

    let (mut a, mut b) = tokio::io::duplex(64);
    let mut sink = Vec::new();
    tokio::io::AsyncWriteExt::write_all(&mut a, b"abc")
        .await
        .unwrap();
    drop(a);
    let mut state = BodyState::new(BodyLen::UntilClose, Recode::Chunked);
    out.extend_from_slice(b"HEAD|");
    let r = pump(&mut state, &mut b, &mut buf, &mut sink, &mut out, None).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(sink, b"HEAD|abc");
}

#[tokio::test(start_paused = true)]
async fn a_sender_silent_for_the_idle_timeout_fails_the_body() {
    let (_a, mut b) = tokio::io::duplex(64);
    let mut state = BodyState::new(BodyLen::Length(10), Recode::Chunked);
    let mut sink = Vec::new();
    let r = pump(
        &mut state,
        &mut b,
        &mut BytesMut::new(),
        &mut sink,
        &mut Vec::new(),
        Some(Duration::from_secs(60)),
    )
    .await;
    assert!(matches!(r, Err(PumpError::Read(e)) if e.kind() == io::ErrorKind::TimedOut));
}
