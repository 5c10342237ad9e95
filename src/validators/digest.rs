//! The digest behind taskd's strong entity tags: MurmurHash3 x64_128 (Austin Appleby, public
//! domain, SMHasher), written here from its published description, fed incrementally so an
//! upload is hashed chunk by chunk as it streams in.
//!
//! Why this hash: it gives 128 bits, runs at several GB/s in plain safe Rust (two independent
//! 64-bit lanes, one 16-byte block per round), is defined byte for byte by a reference that many
//! libraries (Guava, Python's `mmh3`, Elasticsearch) reproduce, so its outputs are pinned by
//! published vectors (the tests below) and stay the same in every release, which a tag that must
//! survive restarts needs.
//!
//! Why it need not be cryptographic: a tag only has to tell apart the representations that one
//! URL has over time. By accident, two of them collide with probability about n²/2¹²⁹; no store
//! lives long enough for that to matter. On purpose, MurmurHash3 can be made to collide by someone
//! who chooses *both* inputs, and the only party that chooses a task's JSON or an attachment's
//! bytes is a client allowed to write that very resource. What a collision would cost: a cache
//! holding the older representation would be told `304 Not Modified` and keep showing it, an
//! `If-Match` would let a write through against a version its client never saw, or an `If-Range`
//! would splice bytes of two versions. Each harms only readers of a resource that its own writer
//! made ambiguous, who could as well have written misleading content directly. A keyed or
//! cryptographic hash would also need a persistent secret or run several times slower, and
//! SHA-256 is not a dependency taskd may use.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;
/// Bytes per MurmurHash3 x64_128 block.
const BLOCK: usize = 16;

/// A 128-bit digest: MurmurHash3 x64_128's two halves as little-endian bytes, `h1` first (the
/// byte order Guava and `mmh3` print).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 16]);

impl Digest {
    /// The digest of `bytes` in one call (seed 0).
    pub fn of(bytes: &[u8]) -> Digest {
        let mut digester = Digester::new();
        digester.update(bytes);
        digester.finish()
    }

    /// A digest kept as its 16 bytes (a database's `bytea`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn from_bytes(bytes: [u8; 16]) -> Digest {
        Digest(bytes)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// 32 lowercase hex digits.
    pub fn to_hex(self) -> String {
        self.to_string()
    }

    /// Parses exactly 32 hex digits (either case); `None` otherwise.
    pub fn from_hex(text: &str) -> Option<Digest> {
        let text = text.as_bytes();
        if text.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            *byte = u8::try_from(high * 16 + low).expect("two hex digits fit a byte");
        }
        Some(Digest(bytes))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// Journal and snapshot records keep a digest as its 32 hex digits.
impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(deserializer)?;
        Digest::from_hex(&text).ok_or_else(|| serde::de::Error::custom("not 32 hex digits"))
    }
}

/// MurmurHash3 x64_128 over a stream of chunks: the result does not depend on how the input is
/// split.
#[derive(Debug, Clone)]
pub struct Digester {
    h1: u64,
    h2: u64,
    /// Bytes of an incomplete block, waiting for the next chunk.
    pending: [u8; BLOCK],
    pending_len: usize,
    /// Bytes fed so far; the finalisation mixes it in.
    total: u64,
}

impl Default for Digester {
    fn default() -> Digester {
        Digester::new()
    }
}

impl Digester {
    /// A digester with seed 0, the seed of every taskd digest.
    pub fn new() -> Digester {
        Digester::with_seed(0)
    }

    /// A digester with another seed (the published test vectors use several).
    pub fn with_seed(seed: u32) -> Digester {
        Digester {
            h1: u64::from(seed),
            h2: u64::from(seed),
            pending: [0; BLOCK],
            pending_len: 0,
            total: 0,
        }
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.total = self.total.wrapping_add(bytes.len() as u64);
        if self.pending_len > 0 {
            let take = (BLOCK - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < BLOCK {
                return;
            }
            let block = self.pending;
            self.mix_block(&block);
            self.pending_len = 0;
        }
        let mut blocks = bytes.chunks_exact(BLOCK);
        for block in &mut blocks {
            self.mix_block(block.try_into().expect("chunks_exact gives whole blocks"));
        }
        let rest = blocks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    fn mix_block(&mut self, block: &[u8; BLOCK]) {
        let (low, high) = block.split_at(8);
        let k1 = u64::from_le_bytes(low.try_into().expect("8 bytes"));
        let k2 = u64::from_le_bytes(high.try_into().expect("8 bytes"));
        self.h1 ^= scramble1(k1);
        self.h1 = self.h1.rotate_left(27).wrapping_add(self.h2);
        self.h1 = self.h1.wrapping_mul(5).wrapping_add(0x52dc_e729);
        self.h2 ^= scramble2(k2);
        self.h2 = self.h2.rotate_left(31).wrapping_add(self.h1);
        self.h2 = self.h2.wrapping_mul(5).wrapping_add(0x3849_5ab5);
    }

    /// The digest of everything fed.
    pub fn finish(mut self) -> Digest {
        // The tail (fewer than 16 bytes) is read as two little-endian words, zero-padded.
        let mut tail = [0u8; BLOCK];
        tail[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
        let (low, high) = tail.split_at(8);
        if self.pending_len > 8 {
            self.h2 ^= scramble2(u64::from_le_bytes(high.try_into().expect("8 bytes")));
        }
        if self.pending_len > 0 {
            self.h1 ^= scramble1(u64::from_le_bytes(low.try_into().expect("8 bytes")));
        }
        let (mut h1, mut h2) = (self.h1 ^ self.total, self.h2 ^ self.total);
        h1 = h1.wrapping_add(h2);
        h2 = h2.wrapping_add(h1);
        h1 = fmix64(h1);
        h2 = fmix64(h2);
        h1 = h1.wrapping_add(h2);
        h2 = h2.wrapping_add(h1);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&h1.to_le_bytes());
        bytes[8..].copy_from_slice(&h2.to_le_bytes());
        Digest(bytes)
    }
}

fn scramble1(k: u64) -> u64 {
    k.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

fn scramble2(k: u64) -> u64 {
    k.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

/// The finalisation mix: every input bit affects every output bit.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halves(digest: Digest) -> (u64, u64) {
        let (low, high) = digest.as_bytes().split_at(8);
        (
            u64::from_le_bytes(low.try_into().unwrap()),
            u64::from_le_bytes(high.try_into().unwrap()),
        )
    }

    fn seeded(seed: u32, bytes: &[u8]) -> Digest {
        let mut digester = Digester::with_seed(seed);
        digester.update(bytes);
        digester.finish()
    }

    /// The known answers Guava's `Murmur3Hash128Test` (and Elasticsearch, Spark) publish as
    /// compatible with the C++ reference: (seed, h1, h2, input).
    #[test]
    fn published_vectors() {
        let vectors: [(u32, u64, u64, &str); 8] = [
            (0, 0x6299_4269_3e10_f867, 0x92db_0b82_baeb_5347, "hell"),
            (1, 0xa78d_dff5_adae_8d10, 0x1289_00ef_2090_0135, "hello"),
            (2, 0x8a48_6b23_f422_e826, 0xf962_a2c5_8947_765f, "hello "),
            (3, 0x2ea5_9f46_6f6b_ed8c, 0xc610_990a_cc42_8a17, "hello w"),
            (4, 0x79f6_305a_386c_572c, 0x4630_5aed_3483_b94e, "hello wo"),
            (5, 0xc221_9d21_3ec1_f1b5, 0xa1d8_e2e0_a527_85bd, "hello wor"),
            (
                0,
                0xe34b_bc7b_bc07_1b6c,
                0x7a43_3ca9_c49a_9347,
                "The quick brown fox jumps over the lazy dog",
            ),
            (
                0,
                0x658c_a970_ff85_269a,
                0x43fe_e3ea_a68e_5c3e,
                "The quick brown fox jumps over the lazy cog",
            ),
        ];
        for (seed, h1, h2, input) in vectors {
            assert_eq!(halves(seeded(seed, input.as_bytes())), (h1, h2), "{input}");
        }
        // Python smhasher's printed form of the fox, as Guava quotes it.
        let fox = Digest::of(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(fox.to_hex(), "6c1b07bc7bbc4be347939ac4a93c437a");
    }

    /// SMHasher's verification value for MurmurHash3_x64_128: hash the keys {}, {0}, {0,1}, ...
    /// {0..254} with seed 256 - length, concatenate the digests, hash that with seed 0, and read
    /// the first four bytes little-endian. It covers every tail length and many block counts.
    #[test]
    fn smhasher_verification_value() {
        let key: Vec<u8> = (0..=255u8).collect();
        let mut digests = Vec::with_capacity(256 * 16);
        for length in 0..256usize {
            let seed = u32::try_from(256 - length).unwrap();
            digests.extend_from_slice(seeded(seed, &key[..length]).as_bytes());
        }
        let last = Digest::of(&digests);
        let verification = u32::from_le_bytes(last.as_bytes()[..4].try_into().unwrap());
        assert_eq!(verification, 0x6384_BA69);
    }

    #[test]
    fn any_split_gives_the_same_digest() {
        let input: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        let whole = Digest::of(&input);
        for chunk in [1, 2, 3, 7, 15, 16, 17, 31, 64, 999] {
            let mut digester = Digester::new();
            for piece in input.chunks(chunk) {
                digester.update(piece);
            }
            assert_eq!(digester.finish(), whole, "chunks of {chunk}");
        }
        let mut digester = Digester::new();
        digester.update(&[]);
        digester.update(&input[..5]);
        digester.update(&[]);
        digester.update(&input[5..]);
        assert_eq!(digester.finish(), whole);
    }

    #[test]
    fn empty_input_with_seed_zero_is_zero() {
        // The reference gives all zeros for no bytes and seed 0: fmix64(0) = 0.
        assert_eq!(Digest::of(b"").to_hex(), "0".repeat(32));
    }

    #[test]
    fn hex_round_trips_and_refuses_other_text() {
        let digest = Digest::of(b"hell");
        assert_eq!(Digest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(
            Digest::from_hex(&digest.to_hex().to_uppercase()),
            Some(digest)
        );
        for bad in [
            "",
            "00",
            &"g".repeat(32),
            &"0".repeat(33),
            "+1234567890abcdef1234567890abcde",
        ] {
            assert_eq!(Digest::from_hex(bad), None, "{bad}");
        }
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{digest}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
        assert!(serde_json::from_str::<Digest>("\"xyz\"").is_err());
    }
}
