"""What every benchmark shares: options, latency statistics, results files, tables, child servers, process memory."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
console = Console()


@dataclass(frozen=True)
class Options:
    """Command-line options every benchmark's ``main`` receives; ``quick`` trades precision for minutes, and
    ``reuse_models`` serves the last trained version even when the training code has changed since."""

    quick: bool = False
    reuse_models: bool = False

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full


def summarize_ms(timings: Sequence[float]) -> dict[str, Any]:
    """p50/p90/p99/mean of latencies in milliseconds (nearest-rank percentiles)."""
    ordered = sorted(timings)

    def rank(q: float) -> float:
        return round(ordered[max(0, min(len(ordered) - 1, int(round(q * len(ordered))) - 1))], 3)

    return {
        "requests": len(ordered),
        "p50_ms": rank(0.50),
        "p90_ms": rank(0.90),
        "p99_ms": rank(0.99),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def time_calls(call: Callable[[], Any], count: int, *, warmup: int = 20) -> list[float]:
    """Milliseconds per call of ``count`` sequential calls after ``warmup`` unrecorded ones."""
    for _ in range(warmup):
        call()
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages: other users' work slows every figure alike."""
    return [round(v, 2) for v in os.getloadavg()]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average_at_end": load_average(),
    }


def write_results(name: str, results: dict[str, Any]) -> Path:
    """bench/results/<name>.json, written atomically, with the machine it ran on."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps({**results, "machine": machine()}, indent=2, default=str) + "\n")
    temporary.replace(path)
    return path


def run_part(
    name: str,
    options: Options | None,
    measure: Callable[[Options], dict[str, Any]],
    report: Callable[[dict[str, Any]], None],
) -> Path:
    """One benchmark part: measure, write bench/results/<name>.json with the machine's load before and after, and
    print its tables. Returns the results file."""
    options = options or Options()
    load_at_start = load_average()
    results = measure(options)
    path = write_results(name, {"quick": options.quick, "load_average_at_start": load_at_start, **results})
    report(results)
    return path


def show_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*(fmt(value) for value in row))
    console.print(table)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def wait_ready(url: str, process: subprocess.Popen[bytes], *, timeout: float = 180.0) -> None:
    """Wait until ``url`` answers 200, failing early if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before it was ready ({url})")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"{url} was not ready within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child we started, and kill it if it does not go."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def vm_kib(pid: int, field: str) -> int:
    """A /proc/<pid>/status memory figure (VmRSS, VmHWM) in KiB; 0 when the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def python_command(*args: str) -> list[str]:
    return [sys.executable, *args]
