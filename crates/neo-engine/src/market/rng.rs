//! A small, well-known PRNG so the simulator needs no `rand` crate and stays
//! byte-identical across versions: xoshiro256** (Blackman and Vigna), seeded
//! through splitmix64 as its authors recommend.

/// splitmix64: expands one `u64` seed into a well-mixed stream (used for seeding).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose first output is `splitmix64(seed + golden gamma)`.
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next output.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// xoshiro256**: fast, 256 bits of state, passes BigCrush; not cryptographic (it
/// only drives a simulation).
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro256 {
    s: [u64; 4],
    /// The second normal of the last Box-Muller pair, used before drawing again.
    spare_normal: Option<f64>,
}

impl Xoshiro256 {
    /// Seeded from four splitmix64 outputs (never the all-zero state).
    pub(crate) fn seed_from(seed: u64) -> Self {
        let mut sm = SplitMix64::new(seed);
        let s = [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()];
        Self::from_state(s)
    }

    /// From a raw state (reference test vectors); an all-zero state is replaced
    /// by a fixed non-zero one, since xoshiro would stay at zero forever.
    pub(crate) fn from_state(s: [u64; 4]) -> Self {
        let s = if s == [0; 4] { [1, 0, 0, 0] } else { s };
        Xoshiro256 {
            s,
            spare_normal: None,
        }
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

    /// Uniform in `[0, 1)` with 53 random bits.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal by Box-Muller (two per pair of uniforms, the spare kept).
    pub(crate) fn next_normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        self.spare_normal = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_reference_vector() {
        // Reference C implementation (Vigna, prng.di.unimi.it/splitmix64.c), seed 0.
        let mut sm = SplitMix64::new(0);
        assert_eq!(sm.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(sm.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(sm.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn xoshiro256starstar_matches_reference_vector() {
        // Reference C implementation (prng.di.unimi.it/xoshiro256starstar.c), state [1, 2, 3, 4].
        let mut x = Xoshiro256::from_state([1, 2, 3, 4]);
        let got: Vec<u64> = (0..4).map(|_| x.next_u64()).collect();
        assert_eq!(got, [11_520, 0, 1_509_978_240, 1_215_971_899_390_074_240]);
        // Seeded through splitmix64(42), as `seed_from` does (same C code).
        let mut x = Xoshiro256::seed_from(42);
        assert_eq!(x.next_u64(), 0x1578_0b2e_0c2e_c716);
        assert_eq!(x.next_u64(), 0x6104_d986_6d11_3a7e);
        assert_eq!(x.next_u64(), 0xae17_5332_39e4_99a1);
    }

    #[test]
    fn normals_have_unit_moments() {
        let mut x = Xoshiro256::seed_from(7);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| x.next_normal()).collect();
        let mean = draws.iter().sum::<f64>() / f64::from(n);
        let var = draws.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / f64::from(n);
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        let u: Vec<f64> = (0..1000).map(|_| x.next_f64()).collect();
        assert!(u.iter().all(|v| (0.0..1.0).contains(v)));
    }
}
