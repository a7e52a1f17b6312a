//! Secrets at rest: every secret a session holds (refresh tokens, provider credentials, the access tokens it
//! minted) is sealed with XChaCha20-Poly1305 under a key ring before it reaches a store, so that a dump of the
//! store alone gives nothing.
//!
//! A key ring is `id:key,id:key,…` (keys are 32 bytes in unpadded base64url, e.g. from
//! `authbridge-bridge --generate-key`): the first key seals, every key opens. Rotation: put a new key first and
//! restart; sessions sealed with the old key still open and are sealed again with the new one on their next
//! use. Remove the old key once every session has been used or has expired; a session sealed with a key no
//! longer in the ring ends cleanly (its user signs in again).
//!
//! A sealed value is `id.nonce.ciphertext` (base64url parts); the session id is the associated data, so a
//! sealed value copied onto another session's row does not open.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// A key ring: the first key seals, all open. Its `Debug` names the key ids only.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<(String, XChaCha20Poly1305)>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing").field("ids", &self.ids()).finish()
    }
}

/// Why a sealed value did not open.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed under a key id the ring does not hold (a key removed after rotation).
    UnknownKey,
    /// Not a sealed value, or altered, or sealed for another session, or under another key with this id.
    Corrupt,
}

impl KeyRing {
    /// Parses `id:key,id:key,…` (commas or newlines between entries; `#` starts a comment line). The error names
    /// the entry's position or id, never key material.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys: Vec<(String, XChaCha20Poly1305)> = Vec::new();
        let entries = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for (n, entry) in entries.enumerate() {
            let Some((id, key)) = entry.split_once(':') else {
                return Err(format!("key ring entry {}: expected id:key", n + 1));
            };
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(format!("key ring entry {}: a key id is letters, digits, - and _", n + 1));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(format!("key ring: key id {id} appears twice"));
            }
            let bytes = URL_SAFE_NO_PAD
                .decode(key.trim_end_matches('='))
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| format!("key ring: key {id} is not 32 bytes of base64url"))?;
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes).expect("the length was checked");
            keys.push((id.to_owned(), cipher));
        }
        if keys.is_empty() {
            return Err("key ring: no key".into());
        }
        Ok(Self { keys })
    }

    /// A ring of one fresh random key (a memory store's, which dies with the process anyway).
    pub fn ephemeral() -> Self {
        Self::parse(&format!("ephemeral:{}", generate_key())).expect("a generated key parses")
    }

    /// The key ids, sealing key first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Seals `plain` for the session `aad`.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> String {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: aad.as_bytes() })
            .expect("XChaCha20-Poly1305 seals any length a session holds");
        format!("{id}.{}.{}", URL_SAFE_NO_PAD.encode(nonce), URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Opens a value sealed for the session `aad`; also says whether it was sealed with another key than the
    /// sealing one (then seal it again).
    pub fn open(&self, aad: &str, sealed: &str) -> Result<(Vec<u8>, bool), OpenError> {
        let mut parts = sealed.split('.');
        let (Some(id), Some(nonce), Some(body), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(OpenError::Corrupt);
        };
        let Some(pos) = self.keys.iter().position(|(k, _)| k == id) else { return Err(OpenError::UnknownKey) };
        let nonce = URL_SAFE_NO_PAD.decode(nonce).ok().filter(|n| n.len() == 24).ok_or(OpenError::Corrupt)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| OpenError::Corrupt)?;
        let plain = self.keys[pos]
            .1
            .decrypt(XNonce::from_slice(&nonce), Payload { msg: &body, aad: aad.as_bytes() })
            .map_err(|_| OpenError::Corrupt)?;
        Ok((plain, pos != 0))
    }
}

/// A fresh random 32-byte key in the ring's encoding.
pub fn generate_key() -> String {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the OS random source is available");
    URL_SAFE_NO_PAD.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_rotates() {
        let (k1, k2) = (generate_key(), generate_key());
        let old = KeyRing::parse(&format!("k1:{k1}")).unwrap();
        let sealed = old.seal("session-a", b"refresh-token-secret");
        assert!(!sealed.contains("refresh") && sealed.starts_with("k1."));
        assert_eq!(old.open("session-a", &sealed).unwrap(), (b"refresh-token-secret".to_vec(), false));
        // Another session's row, a flipped byte: refused.
        assert_eq!(old.open("session-b", &sealed), Err(OpenError::Corrupt));
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(old.open("session-a", std::str::from_utf8(&flipped).unwrap()), Err(OpenError::Corrupt));
        // Rotation: the new key first; the old value opens and asks to be sealed again, with k2.
        let both = KeyRing::parse(&format!("k2:{k2}\n# the old key, until every session moved\nk1:{k1}")).unwrap();
        assert_eq!(both.ids(), ["k2", "k1"]);
        assert_eq!(both.open("session-a", &sealed).unwrap(), (b"refresh-token-secret".to_vec(), true));
        let resealed = both.seal("session-a", b"refresh-token-secret");
        assert!(resealed.starts_with("k2."));
        // The old key removed: what it sealed no longer opens, cleanly.
        let new = KeyRing::parse(&format!("k2:{k2}")).unwrap();
        assert_eq!(new.open("session-a", &sealed), Err(OpenError::UnknownKey));
        assert!(!new.open("session-a", &resealed).unwrap().1);
        // Same id, another key: refused, not garbage.
        let impostor = KeyRing::parse(&format!("k1:{}", generate_key())).unwrap();
        assert_eq!(impostor.open("session-a", &sealed), Err(OpenError::Corrupt));
    }

    #[test]
    fn bad_rings_are_refused_without_echoing_keys() {
        let k = generate_key();
        for bad in ["", "nocolon", "k:short", ":abc", "k k:x", &format!("a:{k},a:{k}"), &format!("a:{k}x")] {
            let e = KeyRing::parse(bad).unwrap_err();
            assert!(!e.contains(&k), "{e}");
        }
        assert!(!format!("{:?}", KeyRing::parse(&format!("a:{k}")).unwrap()).contains(&k));
    }
}
