"""The load script at a tenth of its size: 1,000 requests at 32 concurrent clients against 3 gunicorn workers.

bench/load_test.py publishes a hotel_rates version to the embedded S3, starts gunicorn (3 workers x 4 threads) and
sends a seeded mix of single-record JSON, JSON batches and CSV bodies. Every answer must be a 200 with every row
from every model; every worker's memory must end close to where it started. The full run (10,000 requests) is
``python -m bench.load_test``, with its results in bench/results/load.json.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.load_test import Plan, report, run

pytestmark = [pytest.mark.load, pytest.mark.slow]

RSS_GROWTH_MB = 64


def test_a_thousand_concurrent_requests_all_succeed_and_memory_stays_flat(tmp_path: Path):
    plan = Plan(requests=1_000, clients=32, workers=3, threads=4, time_limit=300, train_rows=2_000)
    results = run(plan, tmp_path)
    print(report(results))
    assert results["errors"] == 0, results["first_errors"]
    assert results["requests_sent"] == 1_000 and results["requests_not_sent_before_time_limit"] == 0
    assert set(results["by_kind"]) == {"json_one", "json_batch", "csv"}
    workers = results["rss_mb"]["workers"]
    assert len(workers) == 3 and all(worker["end"] is not None for worker in workers), "no worker restarted"
    assert results["rss_mb"]["max_growth_mb"] < RSS_GROWTH_MB, workers
