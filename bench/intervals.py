"""How far a target's ratio could be from what one run's samples show.

A p99 of 450 messages is their fifth slowest, and the next run's may be half or twice as far
off; a target judged on it alone passes or fails by chance. So each ratio gets a confidence
interval, and a verdict is "settled" only when the whole interval is on one side of the limit.

A quantile's interval comes from order statistics, not from resampling: the number of samples
below the true p-quantile is binomial(n, p), whatever the distribution, so two order statistics
bracket the quantile with a probability the binomial gives exactly. It is the same every time
for the same samples, and it says so when there are too few samples for a bound (a p99 of 100
messages has no upper one). A ratio of two paths' quantiles takes the widest values both
intervals allow; each is at 1 - (1 - CONFIDENCE) / 2, so both hold at once with probability at
least CONFIDENCE.

The interval is about the samples' own scatter. What changes between runs beyond it (the
machine's state, other processes) is what repeated runs show.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Interval:
    """Bounds of a quantity; None where the samples set no bound."""

    low: float | None
    high: float | None

    def settled(self, limit: float) -> bool:
        """Whether the whole interval lies on one side of `limit` (at or below it, or above)."""
        if self.high is not None and self.high <= limit:
            return True
        return self.low is not None and self.low > limit

    def as_list(self) -> list[float | None]:
        return [_round(self.low), _round(self.high)]


def span_text(bounds: Sequence[float | None], unit: str = "") -> str:
    """ "0.31x to 0.48x" of an Interval.as_list(); an end the samples do not bound is
    "unbounded"."""
    low, high = (("unbounded" if end is None else f"{end:.2f}{unit}") for end in bounds)
    return f"{low} to {high}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _binomial_cdf(n: int, p: float) -> list[float]:
    """P(X <= i) for X ~ binomial(n, p), i = 0..n (in logs: (1 - p)^n underflows)."""
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    total, cdf = 0.0, []
    for i in range(n + 1):
        total += math.exp(
            log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        )
        cdf.append(min(total, 1.0))
    return cdf


def quantile_interval(ordered: Sequence[float], percent: float, confidence: float) -> Interval:
    """An interval holding the `percent` quantile of what `ordered` (sorted) was drawn from,
    with probability at least `confidence`, from two of its order statistics."""
    n = len(ordered)
    if n == 0:
        return Interval(None, None)
    tail = (1 - confidence) / 2
    cdf = _binomial_cdf(n, percent / 100)
    # The j-th smallest lies at or below the quantile unless at most j - 1 samples do:
    # the largest j with P(X <= j - 1) <= tail. The k-th lies at or above it unless k or
    # more do: the smallest k with P(X <= k - 1) >= 1 - tail.
    low = max((j for j in range(1, n + 1) if cdf[j - 1] <= tail), default=None)
    high = next((k for k in range(1, n + 1) if cdf[k - 1] >= 1 - tail), None)
    return Interval(
        ordered[low - 1] if low is not None else None,
        ordered[high - 1] if high is not None else None,
    )


def ratio_interval(
    ours: Sequence[float], theirs: Sequence[float], percent: float, *, minus: float = 0.0
) -> Interval:
    """The interval of (our quantile / their quantile) - `minus`, for non-negative samples, at
    CONFIDENCE. With `minus=1`, of what ours adds to theirs, as a share of theirs."""
    each = 1 - (1 - CONFIDENCE) / 2
    a = quantile_interval(sorted(ours), percent, each)
    b = quantile_interval(sorted(theirs), percent, each)
    low = (a.low or 0.0) / b.high - minus if b.high else 0.0 - minus
    high = a.high / b.low - minus if a.high is not None and b.low else None
    return Interval(low, high)
