from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from adaptml.cli import app
from adaptml.errors import NoPublishedVersion
from adaptml.registry import Registry
from adaptml.signing import SIGNING_KEY_ENV, Keys, env_values
from adaptml.storage import Storage

from .conftest import ConfigFactory, upload_csv, write_yaml

KEYS = env_values(Keys.generate())  # `adaptml train` as a publisher runs it: with a signing key


def _invoke(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["train", str(path)], env={SIGNING_KEY_ENV: KEYS[SIGNING_KEY_ENV]})
    return result.exit_code, result.stdout, result.stderr


def test_train_command_shows_leaderboard_version_report_and_leakage(
    storage: Storage, make_config: ConfigFactory, raw_frame: pd.DataFrame, tmp_path: Path
) -> None:
    cfg = make_config(models=["ridge", "lightgbm"], selection={"enabled": True})
    upload_csv(storage, cfg.data.uri, raw_frame.assign(price_in_cents=raw_frame["price"] * 100))  # a planted leak
    path = write_yaml(tmp_path / "config.yaml", cfg)

    code, out, err = _invoke(path)
    assert code == 0, err
    version = Registry(cfg.registry, cfg.project, storage=storage).latest().version
    assert "leaderboard (rmse, lower is better" in out and "ensemble" in out and "dummy" in out
    assert f"published version: {version}" in out
    assert f"EDA report: s3://{cfg.registry[5:]}/demo/versions/{version}/eda/report.html" in out
    assert "leakage suspect:" in out and "price_in_cents" in out
    assert "cleaning Column dropped: row_id: ID-like" in out
    assert "selection dropped " in out  # some features, or none and why
    assert "top features of " in out and "permutation importance on the test split" in out and "  1. " in out
    assert "adaptml serve --config CONFIG" in out and "adaptml predict CONFIG INPUT.csv" in out
    rows = Registry(cfg.registry, cfg.project, storage=storage).load().manifest["fit_rows"]
    assert f"published models fitted on {rows:,} rows (refit on every row after ranking)" in out

    code, out, _ = _invoke(path)
    assert code == 0 and "up to date" in out and f"version: {version}" in out
    assert Registry(cfg.registry, cfg.project, storage=storage).versions() == [version]


def _one_row(frame: pd.DataFrame) -> bytes:
    return frame.head(1).to_csv(index=False).encode()


BAD_DATA = {
    "missing target column": (
        lambda f: f.drop(columns=["price"]).to_csv(index=False).encode(),
        "target column 'price'",
    ),
    "target all missing": (lambda f: f.assign(price="?").to_csv(index=False).encode(), "has no values"),
    "one-row file": (_one_row, "only 1 usable row(s)"),
    "empty file": (lambda f: b"", "the file is empty"),
    "not a table": (lambda f: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x01", "not a readable table"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_ends_with_one_line_error_and_publishes_nothing(
    storage: Storage, make_config: ConfigFactory, raw_frame: pd.DataFrame, tmp_path: Path, case: str
) -> None:
    make_data, message = BAD_DATA[case]
    cfg = make_config()
    storage.put_bytes(cfg.data.uri, make_data(raw_frame))
    code, out, err = _invoke(write_yaml(tmp_path / "config.yaml", cfg))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    registry = Registry(cfg.registry, cfg.project, storage=storage)
    assert registry.versions() == []
    with pytest.raises(NoPublishedVersion):
        registry.latest()
