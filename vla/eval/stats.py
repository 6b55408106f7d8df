"""Confidence intervals for success rates."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927).

    Unlike the normal (Wald) interval it stays inside [0, 1] and is sensible at 0 or n
    successes, which is common for small evaluation runs: 10/10 gives (0.722, 1.0).
    Returns ``(0.0, 1.0)`` for ``n == 0`` (nothing is known).
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # clamp rounding noise; at p = 0 or 1 the bound is exactly 0 or 1
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value for paired binary outcomes.

    ``only_a``: pairs where only A succeeded; ``only_b``: only B. Pairs where both agree carry
    no information about which is better. Under "A and B are equally good" each discordant pair
    is a fair coin, so the p-value is the two-sided binomial tail of min(only_a, only_b) out of
    their sum (1.0 when no pair disagrees)."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"need counts >= 0, got only_a={only_a}, only_b={only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2.0 * tail)
