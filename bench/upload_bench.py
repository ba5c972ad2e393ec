"""Big-upload benchmark: a 600,000-row CSV (about 60 MB) posted to /api/v1/predict with ``Accept: text/csv``.

gunicorn (``adaptml.serving.wsgi:app``, 2 sync workers, batches in-process as in the serving benchmark, a heartbeat
timeout long enough for a busy machine) serves the trained adult version with every model's fast path on. The
client sends the body chunked, one MiB at a time, and reads the answer as it streams. Measured: the seconds to the
first answered byte and to the last, rows per second, that every row got a prediction from every model, and the
worker's memory: resident before, its peak while answering (sampled every 20 ms) and its high-water mark (VmHWM);
the CPU seconds the workers spent answering (user + system, from /proc: the figure a busy machine does not
inflate, unlike the wall time); and, on every ``CHECK_EVERY``-th row, the largest difference per model between the
streamed answer and the pickled pipelines. Results: bench/results/upload.json.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import requests

from adaptml.datasets import read_bundled
from adaptml.s3server import running_s3
from adaptml.storage import Storage
from bench.common import Options, run_part, show_table, vm_kib
from bench.load_test import PeakRss, Served, write_config
from bench.serve_bench import _differences
from bench.trained import config_for, ensure_version

DATASET = "adult"
ROWS = 600_000
WORKERS = 2
CHECK_EVERY = 50  # rows compared with the pickled pipelines: every 50th (12,000 of 600,000)


@contextmanager
def gunicorn(config: Path, workdir: Path, *, timeout: int = 900) -> Iterator[Served]:
    """As ``bench.load_test.gunicorn``, with a heartbeat timeout that a slow answer on a loaded machine outlasts."""
    from adaptml.s3server import free_port
    from adaptml.signing import INSECURE_ENV

    env = {k: v for k, v in os.environ.items() if k not in ("DASK_SCHEDULER_ADDRESS", "GUNICORN_CMD_ARGS")}
    env.update(ADAPTML_CONFIG=str(config), ADAPTML_RUNTIME_DIR=str(workdir / "runtime"))
    env[INSECURE_ENV] = "1"
    port = free_port()
    command = [str(Path(sys.executable).with_name("gunicorn")), "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(WORKERS), "--timeout", str(timeout), "adaptml.serving.wsgi:app"]
    log_path = workdir / "gunicorn.log"
    with log_path.open("wb") as log:
        master = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        served = Served(f"http://127.0.0.1:{port}", master, log_path)
        try:
            deadline = time.monotonic() + 600
            while len(served.worker_pids()) < WORKERS or not _ready(served.url):
                if master.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.5)
            yield served
        finally:
            master.terminate()
            master.wait(timeout=60)


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _chunks(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def wait_fast_paths(served: Served, timeout: float = 600) -> dict[str, Any]:
    """Poll /api/v1/models until every worker has derived its fast paths; what the last answer said per model."""
    deadline, paths = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        answers = [requests.get(f"{served.url}/api/v1/models", timeout=30).json() for _ in range(4 * WORKERS)]
        paths = {m["name"]: m["fast_path"]["enabled"] for m in answers[-1]["models"]}
        if all(not (m["fast_path"]["reason"] or "").startswith("not derived") for a in answers for m in a["models"]):
            return paths
        time.sleep(1)
    return paths


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (/proc/<pid>/stat, in clock ticks)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime: the 14th and 15th fields
    return total / os.sysconf("SC_CLK_TCK")


def measure_upload(served: Served, features: pd.DataFrame, rows: int, pipelines: dict[str, Any]) -> dict[str, Any]:
    sent = features.sample(rows, replace=True, random_state=2).reset_index(drop=True)
    body = sent.to_csv(index=False).encode()
    before = max(vm_kib(pid, "VmRSS") / 1024 for pid in served.worker_pids())
    workers = served.worker_pids()
    cpu_before = cpu_seconds(workers)
    received = bytearray()
    with PeakRss(served) as rss:
        started = time.perf_counter()
        response = requests.post(
            f"{served.url}/api/v1/predict",
            data=_chunks(body),
            headers={"Content-Type": "text/csv", "Accept": "text/csv"},
            stream=True,
            timeout=600,
        )
        first_byte = time.perf_counter() - started
        for piece in response.iter_content(1 << 20):
            received += piece
        seconds = time.perf_counter() - started
    cpu = cpu_seconds(workers) - cpu_before
    response.raise_for_status()
    text = bytes(received)
    table = pd.read_csv(io.BytesIO(text), low_memory=False, comment=None)
    predictions = [column for column in table.columns if column.endswith("_prediction")]
    checked = slice(None, None, CHECK_EVERY)
    return {
        "rows": rows,
        "models": len(predictions),
        "upload_mb": round(len(body) / 1e6, 1),
        "download_mb": round(len(text) / 1e6, 1),
        "seconds": round(seconds, 2),
        "first_byte_seconds": round(first_byte, 2),
        "rows_per_second": round(rows / seconds),
        "worker_cpu_seconds": round(cpu, 1),
        "rows_per_cpu_second": round(rows / cpu) if cpu else None,
        "every_row_every_model": bool(len(table) == rows and table[predictions].notna().all().all()),
        "error_trailer": next((line for line in text[-2000:].decode().splitlines() if line.startswith("#error")), None),
        "worker_rss_before_mb": round(before, 1),
        "worker_rss_peak_mb": round(rss.peak_mb, 1),
        "worker_vmhwm_mb": round(max(vm_kib(pid, "VmHWM") for pid in served.worker_pids()) / 1024, 1),
        "checked_rows": len(sent.iloc[checked]),
        "largest_difference": _differences(
            table.iloc[checked].reset_index(drop=True), pipelines, sent.iloc[checked].reset_index(drop=True)
        ),
    }


def run(options: Options) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    features = read_bundled(DATASET).drop(columns=[config_for(DATASET).data.target])
    with running_s3(export=True), tempfile.TemporaryDirectory() as workdir:
        registry, version = ensure_version(DATASET, Storage(), reuse=options.reuse_models)
        published = registry.load(version)
        names = [path.removeprefix("models/").removesuffix(".pkl") for path in published.files if path.endswith(".pkl")]
        pipelines = {name: pickle.loads(published.files[f"models/{name}.pkl"]) for name in names}
        config = write_config(Path(workdir) / "upload.yaml", str(registry.root), project=registry.project)
        with gunicorn(config, Path(workdir)) as served:
            fast_paths = wait_fast_paths(served)
            upload = measure_upload(served, features, options.pick(ROWS, 100_000), pipelines)
    return {
        "version": {"dataset": DATASET, "version": version},
        "server": f"gunicorn, {WORKERS} sync workers, batches in-process; the body sent chunked",
        "fast_paths": fast_paths,
        "upload": upload,
    }


def report(results: dict[str, Any]) -> None:
    up = results["upload"]
    show_table(
        f"big upload: {up['rows']:,} rows ({up['upload_mb']} MB) CSV in, CSV out ({up['download_mb']} MB), "
        f"{up['models']} models",
        ["seconds", "first byte s", "rows/s", "worker CPU s", "every row", "RSS before MB", "RSS peak MB", "VmHWM MB"],
        [
            [
                up["seconds"],
                up["first_byte_seconds"],
                up["rows_per_second"],
                up.get("worker_cpu_seconds"),
                up["every_row_every_model"],
                up["worker_rss_before_mb"],
                up["worker_rss_peak_mb"],
                up["worker_vmhwm_mb"],
            ]
        ],
    )

    differences = up.get("largest_difference", {})
    show_table(
        f"largest difference from the pickled pipelines on {up.get('checked_rows', 0):,} rows of the answer",
        ["model", "labels differing", "largest difference"],
        [
            [name, found.get("labels_differing", ""), max(v for k, v in found.items() if k.startswith("largest"))]
            for name, found in differences.items()
        ],
    )


def main(options: Options | None = None) -> None:
    print(f"wrote {run_part('upload', options, run, report)}")


if __name__ == "__main__":
    main()
