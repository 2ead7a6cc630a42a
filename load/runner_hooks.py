"""Loaded next to the user's locustfile by ``alertdrill load`` (never needed otherwise).

Locust writes its stats-history CSV every second but flushes it only every 5 s; the runner
reads that file for live progress, so flush it every second too. Only the master (or the
single process) writes CSV files, so workers do not need this file.
"""

from __future__ import annotations

from locust import stats

stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1
