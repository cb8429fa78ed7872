//! CPU-bound work (E3): exact factorials and prime counts, the jobs the course sends
//! to a pool of processes.
//!
//! [`factorial`] is fast: `n!` is built from its prime factorisation (Legendre's
//! formula gives the exponent of every prime), grouped by the bits of the exponents as
//! in Luschny's prime-swing method, so most of the work is a few squarings and
//! balanced product trees of primes. The trees and the largest multiplications are
//! split across cores with rayon. [`factorial_sequential`] is the plain product
//! `1 * 2 * ... * n`: the oracle the suite compares against.
//!
//! ```
//! use racecourse_impl::cpu_bound::{count_primes, factorial, factorial_sequential};
//!
//! assert_eq!(factorial(45).to_string().len(), 57);
//! assert_eq!(factorial(300), factorial_sequential(300));
//! assert_eq!(count_primes(10_000..20_000), 1033);
//! ```
//!
//! `cargo run --release -p racecourse-impl --example factorial_bench` times `100000!`
//! against Python's `math.factorial`.

use std::ops::Range;

pub use num_bigint::BigUint;

/// Below this many bits a multiplication is not worth splitting across threads.
const PARALLEL_BITS: u64 = 1 << 17;

/// Below this many factors a product tree is built on the calling thread.
const PARALLEL_FACTORS: usize = 256;

/// `n!`, exactly, computed from its prime factorisation on every core (rayon's global
/// pool).
///
/// With `p^e(p)` the power of the odd prime `p` in `n!` (Legendre:
/// `e(p) = n/p + n/p² + ...`), write `P_k` for the product of the odd primes whose
/// exponent has bit `k` set. Then `n! = 2^(n - popcount(n)) · (...((P_top)² · P_top-1)² ...)² · P_0`: one
/// product tree per bit (computed in parallel), then a squaring per bit, then a shift.
pub fn factorial(n: u32) -> BigUint {
    if n < 2 {
        return BigUint::from(1u32);
    }
    let primes = odd_primes_up_to(n);
    let exponent = |p: u32| {
        let (mut e, mut q) = (0u32, n);
        while q >= p {
            q /= p;
            e += q;
        }
        e
    };
    let exponents: Vec<u32> = primes.iter().map(|&p| exponent(p)).collect();
    // At least one group, P_0 (empty, so 1, for n = 2).
    let bits = (32 - exponents.iter().copied().max().unwrap_or(0).leading_zeros()).max(1);
    let groups: Vec<Vec<u64>> = (0..bits)
        .map(|k| {
            let set = primes
                .iter()
                .zip(&exponents)
                .filter(|(_, &e)| e >> k & 1 == 1)
                .map(|(&p, _)| u64::from(p));
            pack(set)
        })
        .collect();
    // P_0, the largest tree (every prime above n/2 is in it), is only needed by the
    // last multiplication: it is built while the squarings of the others run.
    let (odd, p0) = rayon::join(
        || {
            use rayon::prelude::*;
            let mut products: Vec<BigUint> = groups[1..].par_iter().map(|g| product(g)).collect();
            let mut odd = products.pop().unwrap_or_else(|| BigUint::from(1u32));
            while let Some(p) = products.pop() {
                odd = multiply(&square(&odd), &p);
            }
            odd
        },
        || product(&groups[0]),
    );
    let odd = if bits > 1 {
        multiply(&square(&odd), &p0)
    } else {
        p0
    };
    odd << (n - n.count_ones())
}

/// `n!` as the plain product `1 * 2 * ... * n`, one factor at a time: slow (quadratic)
/// but obviously right, the oracle for [`factorial`].
pub fn factorial_sequential(n: u32) -> BigUint {
    (2..=n).fold(BigUint::from(1u32), |acc, k| acc * k)
}

/// Whether `n` is prime: trial division by the small primes, then Miller-Rabin with
/// the first twelve primes as bases, which is exact for every `u64`.
pub fn is_prime(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in BASES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    if n < 37 * 37 {
        return true;
    }
    let mul = |a: u64, b: u64| (u128::from(a) * u128::from(b) % u128::from(n)) as u64;
    let pow = |mut base: u64, mut e: u64| {
        let mut acc = 1;
        while e > 0 {
            if e & 1 == 1 {
                acc = mul(acc, base);
            }
            base = mul(base, base);
            e >>= 1;
        }
        acc
    };
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    BASES.iter().all(|&a| {
        let mut x = pow(a, d);
        if x == 1 || x == n - 1 {
            return true;
        }
        for _ in 1..s {
            x = mul(x, x);
            if x == n - 1 {
                return true;
            }
        }
        false
    })
}

/// How many primes `range` holds, tested one by one with [`is_prime`].
pub fn count_primes(range: Range<u64>) -> u64 {
    range.filter(|&n| is_prime(n)).count() as u64
}

/// The odd primes up to `n` (a sieve of Eratosthenes over the odd numbers).
fn odd_primes_up_to(n: u32) -> Vec<u32> {
    // Index i stands for 2i + 1.
    let size = (n as usize).div_ceil(2);
    let mut composite = vec![false; size];
    let mut i = 1;
    while (2 * i + 1) * (2 * i + 1) <= n as usize {
        if !composite[i] {
            let p = 2 * i + 1;
            let mut j = p * p / 2;
            while j < size {
                composite[j] = true;
                j += p;
            }
        }
        i += 1;
    }
    (1..size)
        .filter(|&i| !composite[i])
        .map(|i| 2 * i as u32 + 1)
        .filter(|&p| p <= n)
        .collect()
}

/// Multiplies small factors together into words while they fit in 64 bits, so the
/// product tree starts from fewer, fuller leaves.
fn pack(factors: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut words = Vec::new();
    let mut word = 1u64;
    for f in factors {
        match word.checked_mul(f) {
            Some(w) => word = w,
            None => {
                words.push(word);
                word = f;
            }
        }
    }
    if word != 1 {
        words.push(word);
    }
    words
}

/// The product of `words` as a balanced tree (operands of similar sizes, where
/// Karatsuba and Toom-3 pay), its halves on two threads when large.
fn product(words: &[u64]) -> BigUint {
    match words {
        [] => BigUint::from(1u32),
        [w] => BigUint::from(*w),
        [a, b] => BigUint::from(*a) * *b,
        _ => {
            let (left, right) = words.split_at(words.len() / 2);
            let (l, r) = if words.len() >= PARALLEL_FACTORS {
                rayon::join(|| product(left), || product(right))
            } else {
                (product(left), product(right))
            };
            multiply(&l, &r)
        }
    }
}

/// `a * b`, splitting the larger operand in two halves multiplied on two threads when
/// both are large: `a * (hi·2^s + lo) = (a·hi)·2^s + a·lo`.
fn multiply(a: &BigUint, b: &BigUint) -> BigUint {
    let (small, large) = if a.bits() <= b.bits() { (a, b) } else { (b, a) };
    if small.bits() < PARALLEL_BITS || rayon::current_num_threads() < 2 {
        return a * b;
    }
    let shift = large.bits() / 2 / 64 * 64;
    let low_mask = (BigUint::from(1u32) << shift) - 1u32;
    let (hi, lo) = (large >> shift, large & low_mask);
    let (high, low) = rayon::join(|| small * &hi, || small * &lo);
    (high << shift) + low
}

/// `a²`, in three pieces of `s` bits when large, `a = a2·2^2s + a1·2^s + a0`: the six
/// products `a0², a1², a2², a0·a1, a0·a2, a1·a2` are independent and of one size, so
/// two threads share them evenly (splitting in two would leave three).
fn square(a: &BigUint) -> BigUint {
    if a.bits() < PARALLEL_BITS || rayon::current_num_threads() < 2 {
        return a * a;
    }
    use rayon::prelude::*;
    let s = a.bits().div_ceil(3 * 64) * 64;
    let mask = (BigUint::from(1u32) << s) - 1u32;
    let pieces = [a & &mask, (a >> s) & &mask, a >> (2 * s)];
    const PAIRS: [(usize, usize); 6] = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)];
    PAIRS
        .par_iter()
        .map(|&(i, j)| {
            let product = &pieces[i] * &pieces[j];
            // A cross product appears twice.
            product << (s * (i + j) as u64 + u64::from(i != j))
        })
        .reduce(|| BigUint::from(0u32), |x, y| x + y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_factorials() {
        let expected: [u64; 11] = [1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800];
        for (n, e) in expected.iter().enumerate() {
            assert_eq!(factorial(n as u32), BigUint::from(*e), "{n}!");
            assert_eq!(factorial_sequential(n as u32), BigUint::from(*e), "{n}!");
        }
        assert_eq!(factorial(20), BigUint::from(2_432_902_008_176_640_000u64));
    }

    #[test]
    fn forty_five_factorial_has_57_digits() {
        let text = factorial(45).to_string();
        assert_eq!(text.len(), 57);
        assert_eq!(
            text,
            "119622220865480194561963161495657715064383733760000000000"
        );
    }

    #[test]
    fn fast_equals_sequential() {
        for n in (0..=300).chain([511, 512, 1000, 1024, 2047, 3000]) {
            assert_eq!(factorial(n), factorial_sequential(n), "{n}!");
        }
    }

    /// Runs `f` on a pool of two threads, so the parallel paths run on any machine.
    fn on_two_threads<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool of two threads starts")
            .install(f)
    }

    #[test]
    fn fast_equals_sequential_with_parallel_multiplications() {
        // 30000! has about 403 000 bits: the last squarings and multiplications are
        // split.
        let n = 30_000;
        let expected = factorial_sequential(n);
        assert!(expected.bits() > 3 * PARALLEL_BITS);
        assert_eq!(on_two_threads(|| factorial(n)), expected);
    }

    #[test]
    fn split_products_are_exact() {
        let a = factorial_sequential(12_000);
        let b = factorial_sequential(15_000) + 12_345u32;
        assert!(a.bits() >= PARALLEL_BITS);
        on_two_threads(|| {
            assert_eq!(multiply(&a, &b), &a * &b);
            assert_eq!(square(&a), &a * &a);
            assert_eq!(square(&b), &b * &b);
        });
    }

    #[test]
    fn primes() {
        assert_eq!(count_primes(0..100), 25);
        assert_eq!(count_primes(10_000..20_000), 1033);
        assert_eq!(odd_primes_up_to(30), [3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(is_prime(18_446_744_073_709_551_557)); // the largest u64 prime
        assert!(!is_prime(3_215_031_751)); // a strong pseudoprime to bases 2, 3, 5, 7
        assert!(!is_prime(1) && !is_prime(0) && is_prime(2) && is_prime(37));
        let sieve = odd_primes_up_to(100_000);
        assert_eq!(
            sieve.len() as u64 + 1,
            count_primes(0..100_001),
            "the sieve and is_prime agree"
        );
    }
}
