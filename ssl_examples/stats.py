"""Means over seeds with a 95 % Student-t interval: how every number in the course is reported.

A result is measured once per seed (a seed changes the initialisation, the augmentation draws
and the batch order; the data stay fixed). With n values the interval is

    mean ± t_{0.975, n-1} · s / sqrt(n)

where s is the sample standard deviation. A gain over a baseline is computed seed by seed
(method and baseline share each seed, so much of the seed-to-seed noise cancels) and then
summarised the same way.
"""

import math

# Two-sided 95 % quantiles of Student's t, t_{0.975, df}, for df = 1 .. 30 (standard tables).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile(df: int) -> float:
    """t_{0.975, df}; beyond the table the normal quantile 1.96 is close enough."""
    if df < 1:
        raise ValueError("an interval needs at least two values")
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_interval(values) -> tuple[float, float]:
    """``(mean, half_width)`` of the 95 % interval; the half width is NaN for a single value."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no values")
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, t_quantile(n - 1) * sd / math.sqrt(n)


def gain_interval(values, baseline) -> tuple[float, float]:
    """Mean gain of ``values`` over ``baseline`` (paired by seed) with its 95 % half width."""
    if len(values) != len(baseline):
        raise ValueError("a paired gain needs one baseline value per seed")
    return mean_interval([v - b for v, b in zip(values, baseline)])


def format_interval(values, scale: float = 100.0, digits: int = 1) -> str:
    """``"43.7 ± 1.2"`` (percent by default); a single value prints without an interval."""
    mean, half = mean_interval(values)
    if math.isnan(half):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * half:.{digits}f}"


def format_gain(values, baseline, scale: float = 100.0, digits: int = 1) -> str:
    """``"+4.2 ± 1.3"``: the paired gain over ``baseline``; a single seed prints without an interval."""
    mean, half = gain_interval(values, baseline)
    text = f"{scale * mean:+.{digits}f}"
    return text if math.isnan(half) else f"{text} ± {scale * half:.{digits}f}"


# What "the method learned something" means in this course (the examples issue's bars): over
# the seeds, the mean gain over random init reaches the bar and its 95 % interval lies above 0.
BARS = {"linear": 0.08, "knn": 0.03}


def meets_bar(values, baseline, protocol: str) -> bool:
    mean, half = gain_interval(values, baseline)
    return mean >= BARS[protocol] and half == half and mean - half > 0  # half is nan with one seed


def verdict(row: dict, random_init: dict) -> str:
    """'both', 'linear only', 'kNN only' or 'neither': which bars a bench row meets."""
    lin, knn = (meets_bar(row[p], random_init[p], p) for p in ("linear", "knn"))
    return {(True, True): "both", (True, False): "linear only", (False, True): "kNN only"}.get((lin, knn), "neither")
