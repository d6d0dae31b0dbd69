//! The planner's own pseudo-random generator, written out here so that a seed gives
//! byte-identical output across dependency upgrades and platforms.
//!
//! * [`split_mix64`] — SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
//!   generators", OOPSLA 2014; constants from Vigna's reference `splitmix64.c`). Used only to expand
//!   a 64-bit seed into a generator state and to mix labels into seeds.
//! * [`Rng`] — xoshiro256** 1.0 (Blackman & Vigna, "Scrambled linear pseudorandom number
//!   generators", 2018; reference `xoshiro256starstar.c`), seeded through SplitMix64 as its authors
//!   recommend.
//!
//! Only integer arithmetic and IEEE-754 `+ - * /` are used (no `ln`, `exp`, `powf`, whose last bit
//! may differ between platform math libraries), so every draw is the same everywhere.

use uuid::Uuid;

/// One SplitMix64 step: advances `state` and returns the next output.
pub(crate) fn split_mix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed derived from `seed` and a list of labels (a region code, a purpose, an index): FNV-1a
/// over each label's bytes, each label closed by a SplitMix64 mixing step. Different labels give
/// unrelated seeds, so every kabupaten, session schedule and KIM has its own stream.
pub(crate) fn derive(seed: u64, labels: &[&[u8]]) -> u64 {
    const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;
    let mut state = seed ^ 0xCBF2_9CE4_8422_2325;
    for label in labels {
        let mut hash = split_mix64(&mut state);
        for byte in *label {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(FNV_PRIME);
        }
        state ^= hash;
        split_mix64(&mut state);
    }
    split_mix64(&mut state)
}

/// xoshiro256**: 256 bits of state, period 2^256 − 1.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose state is four SplitMix64 outputs from `seed` (never all zero).
    pub(crate) fn new(seed: u64) -> Self {
        let mut sm = seed;
        Self {
            s: [
                split_mix64(&mut sm),
                split_mix64(&mut sm),
                split_mix64(&mut sm),
                split_mix64(&mut sm),
            ],
        }
    }

    /// A generator for `derive(seed, labels)`.
    pub(crate) fn derived(seed: u64, labels: &[&[u8]]) -> Self {
        Self::new(derive(seed, labels))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (0 when `n` is 0), by Lemire's multiply-high; the bias, at most
    /// `n / 2^64`, is far below anything a demo can show.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub(crate) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo) + 1;
        lo.wrapping_add(self.below(span) as i64)
    }

    /// Uniform index into a collection of `len` items (0 when empty).
    pub(crate) fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `true` with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`, each with its integer weight; `None` only when all weights are 0.
    pub(crate) fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> Option<&'a T> {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            let weight = u64::from(*weight);
            if roll < weight {
                return Some(item);
            }
            roll -= weight;
        }
        None
    }

    /// One of `items` (which callers keep non-empty), uniformly.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let at = self.index(items.len());
        items.get(at)
    }

    /// `N` random bytes.
    pub(crate) fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        out
    }

    /// A version-4 (random) UUID made of 122 random bits from this generator.
    pub(crate) fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.bytes()).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_mix64_matches_the_reference_output() {
        // First outputs of Vigna's splitmix64.c seeded with 1234567.
        let mut state = 1_234_567;
        let first: Vec<u64> = (0..3).map(|_| split_mix64(&mut state)).collect();
        assert_eq!(
            first,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn streams_are_reproducible_and_labels_separate_them() {
        let a: Vec<u64> = {
            let mut rng = Rng::derived(7, &[b"34.04", b"kim"]);
            (0..4).map(|_| rng.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut rng = Rng::derived(7, &[b"34.04", b"kim"]);
            (0..4).map(|_| rng.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut rng = Rng::derived(7, &[b"34.04k", b"im"]);
            (0..4).map(|_| rng.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            let x = rng.between(-3, 5);
            assert!((-3..=5).contains(&x));
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(rng.between(4, 4), 4);
        assert_eq!(rng.below(0), 0);
        let id = rng.uuid();
        assert_eq!(id.get_version_num(), 4);
    }
}
