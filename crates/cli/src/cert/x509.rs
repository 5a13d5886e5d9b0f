//! Just enough of X.509 to list a certificate: its subject names (DNS and IP
//! subject alternative names, else the common name) and its expiry. A
//! small DER walker, so the client needs no X.509 library; anything it
//! cannot read is shown as unknown, never an error.

/// What `cert ls` shows of the first certificate of a PEM chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CertSummary {
    /// Subject alternative names (DNS and IP), else the subject's common name.
    pub names: Vec<String>,
    /// `notAfter` as `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_after: String,
}

const SEQUENCE: u8 = 0x30;
const EXPLICIT_0: u8 = 0xa0;
const EXPLICIT_3: u8 = 0xa3;
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// Reads the first `CERTIFICATE` block of `pem`; `None` when it is not one.
pub(crate) fn summarize(pem: &str) -> Option<CertSummary> {
    let der = first_certificate_der(pem)?;
    let (SEQUENCE, cert, _) = tlv(&der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = tlv(cert)? else {
        return None;
    };
    let mut fields = Fields(tbs);
    // The version (explicit [0], absent in v1), then the serial number.
    if fields.next()?.0 == EXPLICIT_0 {
        let _serial = fields.next()?;
    }
    let _signature = fields.next()?;
    let _issuer = fields.next()?;
    let validity = fields.next()?.1;
    let subject = fields.next()?.1;
    let _key = fields.next()?;
    let mut names = Vec::new();
    for (tag, body) in fields {
        if tag == EXPLICIT_3 {
            names = alt_names(body).unwrap_or_default();
        }
    }
    if names.is_empty() {
        names.extend(common_name(subject));
    }
    let mut times = Fields(validity);
    let _not_before = times.next()?;
    let (time_tag, time) = times.next()?;
    Some(CertSummary {
        names,
        not_after: format_time(time_tag, time).unwrap_or_default(),
    })
}

fn first_certificate_der(pem: &str) -> Option<Vec<u8>> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = pem.find(begin)? + begin.len();
    let end = start + pem[start..].find("-----END CERTIFICATE-----")?;
    base64_decode(&pem[start..end])
}

/// Standard base64, whitespace ignored.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// One DER element: (tag, contents, what follows). Only definite lengths.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The elements of a constructed value, in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let (tag, body, rest) = tlv(self.0)?;
        self.0 = rest;
        Some((tag, body))
    }
}

/// The first common name of a Name (a sequence of sets of (oid, value)).
fn common_name(name: &[u8]) -> Option<String> {
    Fields(name)
        .flat_map(|(_, set)| Fields(set))
        .find_map(|(_, attr)| {
            let mut parts = Fields(attr);
            let (_, oid) = parts.next()?;
            let (_, value) = parts.next()?;
            (oid == OID_COMMON_NAME).then(|| String::from_utf8_lossy(value).into_owned())
        })
}

/// DNS names and IP addresses of the subjectAltName extension.
fn alt_names(explicit: &[u8]) -> Option<Vec<String>> {
    let (_, extensions, _) = tlv(explicit)?;
    let value = Fields(extensions).find_map(|(_, ext)| {
        let mut parts = Fields(ext);
        let (_, oid) = parts.next()?;
        let value = parts.find(|(tag, _)| *tag == 0x04)?.1;
        (oid == OID_SUBJECT_ALT_NAME).then_some(value)
    })?;
    let (_, general_names, _) = tlv(value)?;
    Some(
        Fields(general_names)
            .filter_map(|(tag, v)| match (tag, v.len()) {
                (0x82, _) => Some(String::from_utf8_lossy(v).into_owned()),
                (0x87, 4) => Some(format!("{}.{}.{}.{}", v[0], v[1], v[2], v[3])),
                (0x87, 16) => {
                    let octets: [u8; 16] = v.try_into().ok()?;
                    Some(std::net::Ipv6Addr::from(octets).to_string())
                }
                _ => None,
            })
            .collect(),
    )
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as RFC 3339.
fn format_time(tag: u8, body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let full = match (tag, digits.len()) {
        // RFC 5280: two-digit years below 50 are 20xx.
        (0x17, 12) if digits < "5" => format!("20{digits}"),
        (0x17, 12) => format!("19{digits}"),
        (0x18, 14) => digits.to_string(),
        _ => return None,
    };
    let d = |r: std::ops::Range<usize>| &full[r];
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        d(0..4),
        d(4..6),
        d(6..8),
        d(8..10),
        d(10..12),
        d(12..14)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(names: &[&str], not_after_year: i32) -> String {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.not_after = rcgen::date_time_ymd(not_after_year, 3, 4);
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "Shop Main");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn subject_alt_names_and_expiry_are_read_from_a_generated_certificate() {
        let pem = generated(&["shop.example.com", "*.example.com", "10.0.0.7"], 2031);
        let s = summarize(&pem).unwrap();
        assert_eq!(s.names, ["shop.example.com", "*.example.com", "10.0.0.7"]);
        assert_eq!(s.not_after, "2031-03-04T00:00:00Z");
        let far = summarize(&generated(&["a.example.com"], 2061)).unwrap();
        assert_eq!(
            far.not_after, "2061-03-04T00:00:00Z",
            "GeneralizedTime after 2049"
        );
    }

    #[test]
    fn without_alt_names_the_common_name_is_shown() {
        let s = summarize(&generated(&[], 2030)).unwrap();
        assert_eq!(s.names, ["Shop Main"]);
    }

    #[test]
    fn text_that_is_not_a_certificate_is_unknown_not_an_error() {
        for pem in [
            "",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        ] {
            assert_eq!(summarize(pem), None, "{pem:?}");
        }
        assert_eq!(
            format_time(0x17, b"991231235959Z").unwrap(),
            "1999-12-31T23:59:59Z"
        );
        assert_eq!(format_time(0x17, b"9912Z"), None);
    }
}
