//! Base64url (RFC 4648 §5) decoding, padded or not.
//!
//! Hand-written rather than the `base64` crate: JWTs need only this one strict decoder, and it costs a few
//! hundred bytes of wasm instead of a few kilobytes of generic engine code.

/// Each byte's 6-bit value, or `INVALID`: a table lookup per character keeps decoding fast at `opt-level = "z"`.
const INVALID: u8 = 0xff;
static VALUES: [u8; 256] = {
    let mut t = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn value(b: u8) -> Option<u8> {
    let v = VALUES[b as usize];
    (v != INVALID).then_some(v)
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
    let mut out = vec![0u8; data.len() * 3 / 4];
    // Invalid characters are OR-ed together and checked once at the end: no branch per character.
    let mut bad = 0u8;
    let mut word = |c: &[u8]| {
        let mut n = 0u32;
        for (i, &b) in c.iter().enumerate() {
            let v = VALUES[b as usize];
            bad |= v;
            n |= u32::from(v & 63) << (18 - 6 * i);
        }
        n
    };
    let mut chunks = data.chunks_exact(4);
    let mut o = 0;
    for c in &mut chunks {
        let n = word(c);
        out[o] = (n >> 16) as u8;
        out[o + 1] = (n >> 8) as u8;
        out[o + 2] = n as u8;
        o += 3;
    }
    let rest = chunks.remainder();
    let n = word(rest);
    if rest.len() >= 2 {
        out[o] = (n >> 16) as u8;
    }
    if rest.len() == 3 {
        out[o + 1] = (n >> 8) as u8;
    }
    // INVALID has bit 7 set; every valid value is below 64.
    (bad & 0x80 == 0).then_some(out)
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
    fn agrees_with_a_plain_bit_by_bit_decoder_on_every_short_input() {
        // The reference: collect 6 bits per character, emit whole bytes; anything outside the alphabet fails.
        fn reference(input: &str) -> Option<Vec<u8>> {
            let (mut bits, mut n, mut out) = (0u32, 0u32, Vec::new());
            for c in input.chars() {
                let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".find(c)? as u32;
                n = (n << 6) | v;
                bits += 6;
                if bits >= 8 {
                    bits -= 8;
                    out.push((n >> bits) as u8);
                    n &= (1 << bits) - 1;
                }
            }
            (input.len() % 4 != 1).then_some(out)
        }
        let symbols = ['A', 'Q', 'z', '0', '9', '-', '_', '+', '.', '\u{e9}'];
        let mut inputs = vec![String::new()];
        for _ in 0..5 {
            inputs = inputs.iter().flat_map(|s| symbols.iter().map(move |c| format!("{s}{c}"))).collect();
            for input in &inputs {
                assert_eq!(decode(input), reference(input), "{input}");
                assert_eq!(decoded_len(input), reference(input).map(|v| v.len()), "{input}");
            }
        }
    }

    #[test]
    fn rejects_bad_alphabet_length_and_padding() {
        for bad in ["+/==", "Zm9v+", "Z", "Zm9vY", "Zg=", "Zg===", "Z===", "=", "Zg==Zg==", "Zm 9v", "Zé"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
