//! The component's `memcmp` and `bcmp`, eight bytes at a time.
//!
//! On `wasm32-unknown-unknown` these come from `compiler-builtins`, which
//! compares byte by byte; every `==` between strings and byte slices calls
//! them, and the SDK compares the host's verified payload with the text it
//! parsed (about a kilobyte per exchange). In the evaluation bench `memcmp`
//! was an eighth of the guest's time. `compiler-builtins` defines both as
//! weak symbols so that a program may bring its own: the SDK does (feature
//! `compare`, on by default).
//!
//! The comparison itself is plain safe Rust on slices, so it runs and is
//! tested natively; only the exported symbols are wasm's.

use core::ffi::c_int;

/// `memcmp`'s answer for two slices of equal length: zero when equal,
/// otherwise the difference of the first differing bytes (as `u8`).
pub(crate) fn compare(a: &[u8], b: &[u8]) -> c_int {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut words_a = a.chunks_exact(8);
    let mut words_b = b.chunks_exact(8);
    for (x, y) in (&mut words_a).zip(&mut words_b) {
        let x = u64::from_le_bytes(word(x));
        let y = u64::from_le_bytes(word(y));
        if x != y {
            // Little-endian: the lowest differing bit is in the first
            // differing byte.
            let shift = (x ^ y).trailing_zeros() & !7;
            return c_int::from((x >> shift) as u8) - c_int::from((y >> shift) as u8);
        }
    }
    for (x, y) in words_a.remainder().iter().zip(words_b.remainder()) {
        if x != y {
            return c_int::from(*x) - c_int::from(*y);
        }
    }
    0
}

fn word(chunk: &[u8]) -> [u8; 8] {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(chunk);
    bytes
}

#[cfg(all(target_arch = "wasm32", feature = "compare"))]
mod symbols {
    #![allow(unsafe_code)]

    use core::ffi::c_int;

    /// SAFETY: the C contract: both pointers valid for `n` bytes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> c_int {
        if n == 0 {
            return 0;
        }
        unsafe {
            super::compare(
                core::slice::from_raw_parts(a, n),
                core::slice::from_raw_parts(b, n),
            )
        }
    }

    /// SAFETY: as `memcmp`; only zero or not matters to callers.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> c_int {
        unsafe { memcmp(a, b, n) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(x: c_int) -> i8 {
        x.signum() as i8
    }

    fn expected(a: &[u8], b: &[u8]) -> c_int {
        a.iter()
            .zip(b)
            .find(|(x, y)| x != y)
            .map_or(0, |(x, y)| c_int::from(*x) - c_int::from(*y))
    }

    #[test]
    fn agrees_with_a_byte_by_byte_comparison_at_every_length_and_position() {
        let base: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for len in 0..base.len() {
            let a = &base[..len];
            assert_eq!(compare(a, a), 0, "equal at length {len}");
            for at in 0..len {
                for new in [0u8, 1, 0x7f, 0x80, 0xff, base[at].wrapping_add(1)] {
                    let mut b = a.to_vec();
                    b[at] = new;
                    assert_eq!(
                        compare(a, &b),
                        expected(a, &b),
                        "length {len}, byte {at} = {new}"
                    );
                    assert_eq!(compare(&b, a), expected(&b, a), "swapped");
                }
            }
        }
    }

    #[test]
    fn the_first_difference_decides_not_a_later_larger_one() {
        // Differences in the same word and in later words must not outweigh
        // the first: the word is compared by its first differing byte.
        let a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let b = [1, 2, 4, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(sign(compare(&a, &b)), -1);
        assert_eq!(sign(compare(&b, &a)), 1);
        let c = [1, 2, 3, 4, 5, 6, 7, 8, 0, 255];
        let d = [1, 2, 3, 4, 5, 6, 7, 8, 1, 0];
        assert_eq!(sign(compare(&c, &d)), -1);
        assert_eq!(compare(&[0x80], &[0x7f]), 1, "bytes compare as unsigned");
    }
}
