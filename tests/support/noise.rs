//! Deterministic noise (xorshift): garbage inputs that reproduce from
//! their seed, for the tests and the load test's hostile client.

/// `len` pseudo-random bytes from `seed`.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
