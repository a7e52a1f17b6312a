//! Base64url (RFC 4648 §5) decoding, padded or not.
//!
//! Hand-written rather than the `base64` crate: JWTs need only this one strict decoder, and it costs a few
//! hundred bytes of wasm instead of a few kilobytes of generic engine code.

fn value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Strips valid padding; `None` when the padding or length is impossible.
fn unpad(input: &[u8]) -> Option<&[u8]> {
    let pad = input.iter().rev().take_while(|&&b| b == b'=').count();
    let data = &input[..input.len() - pad];
    if pad > 0 && (pad > 2 || input.len() % 4 != 0) {
        return None;
    }
    (data.len() % 4 != 1).then_some(data)
}

/// The decoded length of `input`, checking its alphabet and padding without decoding.
pub fn decoded_len(input: &str) -> Option<usize> {
    let data = unpad(input.as_bytes())?;
    data.iter().all(|&b| value(b).is_some()).then_some(data.len() * 3 / 4)
}

/// Decodes base64url with or without `=` padding; `None` on any character outside the alphabet.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    let data = unpad(input.as_bytes())?;
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let n = (u32::from(value(c[0])?) << 18)
            | (u32::from(value(c[1])?) << 12)
            | (u32::from(value(c[2])?) << 6)
            | u32::from(value(c[3])?);
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let rest = chunks.remainder();
    let mut n = 0u32;
    for (i, &b) in rest.iter().enumerate() {
        n |= u32::from(value(b)?) << (18 - 6 * i);
    }
    match rest.len() {
        2 => out.push((n >> 16) as u8),
        3 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]),
        _ => {}
    }
    Some(out)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_padded_and_unpadded() {
        let cases: [(&str, &[u8]); 7] = [
            ("", b""),
            ("Zg", b"f"),
            ("Zm8", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg", b"foob"),
            ("Zm9vYmE", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
        ];
        for (enc, dec) in cases {
            assert_eq!(decode(enc).as_deref(), Some(dec), "{enc}");
            let padded = format!("{enc}{}", "=".repeat((4 - enc.len() % 4) % 4));
            assert_eq!(decode(&padded).as_deref(), Some(dec), "{padded}");
            assert_eq!(decoded_len(enc), Some(dec.len()));
        }
        assert_eq!(decode("-_-_").unwrap(), vec![0xfb, 0xff, 0xbf]);
    }

    #[test]
    fn rejects_bad_alphabet_length_and_padding() {
        for bad in ["+/==", "Zm9v+", "Z", "Zm9vY", "Zg=", "Zg===", "Z===", "=", "Zg==Zg==", "Zm 9v", "Zé"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
