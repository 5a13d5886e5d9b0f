use super::*;

fn parsed<'h, 'b>(buf: &'b [u8], slots: &'h mut Slots<'b>) -> RequestHead<'h, 'b> {
    parse_request(buf, slots).unwrap().expect("a complete head")
}

fn body_of(head: &[u8]) -> Result<BodyLen, HeadError> {
    let mut slots = slots();
    request_body(parsed(head, &mut slots).headers)
}

#[test]
fn a_head_is_incomplete_until_its_blank_line() {
    let mut s = slots();
    assert!(matches!(
        parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n", &mut s),
        Ok(None)
    ));
    let mut s = slots();
    let head = parsed(b"GET /p?q HTTP/1.1\r\nHost: x\r\n\r\nNEXT", &mut s);
    assert_eq!((head.method, head.target, head.minor), ("GET", "/p?q", 1));
    assert_eq!(head.len, 30);
}

#[test]
fn a_malformed_request_line_is_refused() {
    for bad in [
        &b"GET /\r\n\r\n"[..],
        b"GET / HTTP/2.0\r\n\r\n",
        b"G(T / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nx: a\r\n b\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let mut s = slots();
        assert!(
            matches!(parse_request(bad, &mut s), Err(HeadError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn an_oversized_head_or_too_many_headers_is_too_large() {
    let mut big = b"GET / HTTP/1.1\r\nx: ".to_vec();
    big.resize(MAX_HEAD + 10, b'a');
    let mut s = slots();
    assert_eq!(parse_request(&big, &mut s).err(), Some(HeadError::TooLarge));
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let mut s = slots();
    assert_eq!(
        parse_request(&many, &mut s).err(),
        Some(HeadError::TooLarge)
    );
}

#[test]
fn content_length_and_transfer_encoding_together_are_refused_as_smuggling() {
    let both = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert!(matches!(body_of(both), Err(HeadError::Malformed(_))));
}

#[test]
fn content_lengths_must_all_agree_and_be_digits() {
    let same = b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(body_of(same), Ok(BodyLen::Length(5)));
    for bad in [
        &b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    ] {
        assert!(matches!(body_of(bad), Err(HeadError::Malformed(_))));
    }
    assert_eq!(body_of(b"GET / HTTP/1.1\r\n\r\n"), Ok(BodyLen::None));
}

#[test]
fn a_transfer_encoding_must_end_in_a_single_chunked() {
    let ok = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n";
    assert_eq!(body_of(ok), Ok(BodyLen::Chunked));
    for bad in [
        &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n",
    ] {
        assert!(matches!(body_of(bad), Err(HeadError::Malformed(_))));
    }
}

#[test]
fn a_response_to_head_or_a_204_or_304_has_no_body_but_keeps_its_length() {
    let h = [Header {
        name: "Content-Length",
        value: b"42",
    }];
    assert_eq!(response_body(200, true, &h), Ok((BodyLen::None, Some(42))));
    assert_eq!(response_body(304, false, &h), Ok((BodyLen::None, Some(42))));
    assert_eq!(response_body(204, false, &[]), Ok((BodyLen::None, None)));
    assert_eq!(
        response_body(200, false, &h),
        Ok((BodyLen::Length(42), Some(42)))
    );
}

#[test]
fn a_response_without_length_lasts_until_close_and_chunked_wins_over_length() {
    assert_eq!(
        response_body(200, false, &[]),
        Ok((BodyLen::UntilClose, None))
    );
    let both = [
        Header {
            name: "content-length",
            value: b"3",
        },
        Header {
            name: "transfer-encoding",
            value: b"chunked",
        },
    ];
    assert_eq!(
        response_body(200, false, &both),
        Ok((BodyLen::Chunked, None))
    );
}

#[test]
fn host_is_read_without_its_port_or_from_an_absolute_target() {
    let mut s = slots();
    let r = parsed(b"GET /x HTTP/1.1\r\nHost: Example.com:8080\r\n\r\n", &mut s);
    assert_eq!(host(&r), Ok("Example.com"));
    let mut s = slots();
    let r = parsed(b"GET /x HTTP/1.1\r\nHost: [::1]\r\n\r\n", &mut s);
    assert_eq!(host(&r), Ok("[::1]"));
    let mut s = slots();
    let r = parsed(
        b"GET http://api.example.com:81/v1?x HTTP/1.1\r\n\r\n",
        &mut s,
    );
    assert_eq!(host(&r), Ok("api.example.com"));
    assert_eq!(path(r.target), "/v1");
    assert_eq!(path("http://a.b"), "/");
    assert_eq!(path("/a/b?c=/d"), "/a/b");
}

#[test]
fn cookies_are_found_among_several() {
    let h = [
        Header {
            name: "Cookie",
            value: b"a=1; LB=abc",
        },
        Header {
            name: "cookie",
            value: b"b=2",
        },
    ];
    assert_eq!(cookie(&h, "LB"), Some("abc"));
    assert_eq!(cookie(&h, "b"), Some("2"));
    assert_eq!(cookie(&h, "c"), None);
}

const SPOOFED: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\
    X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Real-IP: 10.0.0.1\r\n\
    Forwarded: for=10.0.0.1\r\nX-Forwarded-Proto: gopher\r\n\r\n";

fn forwarded(head: &[u8], trust: bool) -> String {
    let mut s = slots();
    let r = parsed(head, &mut s);
    let fwd = Forwarding {
        client_ip: "192.0.2.7",
        proto: "https",
        port: "8080",
        trust,
    };
    let mut out = Vec::new();
    write_request_head(&r, request_body(r.headers).unwrap(), &fwd, &mut out);
    String::from_utf8(out).unwrap().to_ascii_lowercase()
}

#[test]
fn forwarding_headers_a_client_sends_are_replaced_by_the_peer_unless_trusted() {
    let h = forwarded(SPOOFED, false);
    assert_eq!(h.matches("x-forwarded-for").count(), 1, "{h}");
    assert!(h.contains("x-forwarded-for: 192.0.2.7\r\n"), "{h}");
    assert!(h.contains("x-real-ip: 192.0.2.7\r\n"), "{h}");
    assert!(h.contains("x-forwarded-proto: https\r\n"), "{h}");
    assert!(h.contains("x-forwarded-port: 8080\r\n"), "{h}");
    assert!(
        !h.contains("forwarded: for") && !h.contains("10.0.0"),
        "{h}"
    );
}

#[test]
fn trusted_forwarding_headers_get_the_peer_appended_and_are_kept() {
    let h = forwarded(SPOOFED, true);
    assert!(
        h.contains("x-forwarded-for: 10.0.0.1, 10.0.0.2, 192.0.2.7\r\n"),
        "{h}"
    );
    assert_eq!(h.matches("x-forwarded-for").count(), 1, "{h}");
    assert!(
        h.contains("x-real-ip: 10.0.0.1\r\n") && !h.contains("192.0.2.7\r\nx-real"),
        "{h}"
    );
    assert!(h.contains("x-forwarded-proto: gopher\r\n"), "{h}");
    assert!(h.contains("x-forwarded-port: 8080\r\n"), "{h}");
    assert!(h.contains("\r\nforwarded: for=10.0.0.1\r\n"), "{h}");
    assert!(h.ends_with("\r\n\r\n"));
}

#[test]
fn hop_by_hop_headers_are_not_forwarded_and_the_head_is_http11() {
    let head = b"GET /a HTTP/1.0\r\nConnection: keep-alive, x-secret\r\nx-secret: 1\r\n\
        Keep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Connection: x\r\n\
        Expect: 100-continue\r\nContent-Length: 2, 2\r\nx-kept: 1\r\n\r\n";
    let h = forwarded(head, false);
    assert!(h.starts_with("get /a http/1.1\r\n"), "{h}");
    for gone in [
        "connection",
        "x-secret",
        "keep-alive",
        "te:",
        "upgrade",
        "proxy",
        "expect",
    ] {
        assert!(!h.contains(gone), "{gone} in {h}");
    }
    assert!(
        h.contains("x-kept: 1\r\n") && h.contains("content-length: 2\r\n"),
        "{h}"
    );
}

#[test]
fn a_response_head_for_the_client_has_its_own_framing_and_connection_headers() {
    let raw = b"HTTP/1.1 200 OK\r\nConnection: close, x-hop\r\nx-hop: 1\r\nContent-Length: 3\r\n\
        Transfer-Encoding: chunked\r\nx-app: 1\r\n\r\n";
    let mut s = slots();
    let resp = parse_response(raw, &mut s).unwrap().unwrap();
    let framing = ClientFraming {
        length: None,
        keep_transfer_encoding: false,
        set_cookie: Some("SRV=ab; Path=/"),
        connection: Some(false),
    };
    let mut out = Vec::new();
    write_response_head(&resp, &framing, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 200 OK\r\nx-app: 1\r\nset-cookie: SRV=ab; Path=/\r\nconnection: keep-alive\r\n\r\n"
    );
}
