"""The end-of-run table: one row per endpoint and the total."""

from __future__ import annotations

import math

from alertdrill.load.results import EndpointStats, LoadResult

__all__ = ["render_table"]


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def _row(stats: EndpointStats, width: int) -> str:
    return (
        f"{stats.method:<7} {stats.name[:width]:<{width}} {stats.requests:>8d} "
        f"{stats.failures:>6d} {100 * stats.failure_ratio:>6.2f} {stats.rps:>8.1f} "
        f"{_ms(stats.median_ms):>6} {_ms(stats.p95_ms):>6} {_ms(stats.p99_ms):>6} "
        f"{_ms(stats.max_ms):>7}"
    )


def render_table(result: LoadResult) -> str:
    width = max([len("endpoint"), *(len(e.name) for e in result.endpoints)])
    width = min(width, 50)
    head = (
        f"{'method':<7} {'endpoint':<{width}} {'requests':>8} {'fails':>6} {'fail%':>6} "
        f"{'req/s':>8} {'p50':>6} {'p95':>6} {'p99':>6} {'max ms':>7}"
    )
    rule = "-" * len(head)
    lines = [head, rule, *(_row(e, width) for e in result.endpoints), rule]
    lines.append(_row(result.total, width))
    lines.append(
        f"\n{result.total.requests} requests in {result.duration:.1f}s, "
        f"peak {result.peak_users()} users; Locust exit code {result.exit_code}"
    )
    return "\n".join(lines)
