from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from adaptml.pipeline import train
from adaptml.registry import Registry
from adaptml.storage import Storage
from training.frames import messy_frame

from .conftest import ConfigFactory, upload_csv

SCRIPT = """
import json, pickle, sys
import pandas as pd
rows = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
out = {}
for path in sys.argv[2:]:
    with open(path, "rb") as handle:
        model = pickle.load(handle)
    out[path] = {"labels": [str(v) for v in model.predict(rows)], "proba": model.predict_proba(rows).tolist(),
                 "classes": [str(c) for c in model.classes_]}
print(json.dumps(out))
"""


def test_a_published_model_predicts_raw_rows_in_a_fresh_process(
    storage: Storage, make_config: ConfigFactory, tmp_path: Path
) -> None:
    raw = messy_frame(240, classify=True)
    cfg = make_config(data={"target": "label"}, models=["ridge", "random_forest", "lightgbm", "xgboost"])
    upload_csv(storage, cfg.data.uri, raw)
    result = train(cfg, storage=storage)
    loaded = Registry(cfg.registry, cfg.project, storage=storage).load(result.version)

    original = tmp_path / "original.csv"
    original.write_bytes(storage.get_bytes(cfg.data.uri))
    rows = pd.read_csv(original, dtype=str, keep_default_na=False).head(7)  # the file's text, untouched
    rows.loc[0, "city"] = "atlantis"  # a category never seen in training
    rows.loc[1, ["x", "member", "signup"]] = ["", " ?", "not_applicable"]  # missing values and raw markers
    rows_csv = tmp_path / "rows.csv"
    rows.to_csv(rows_csv, index=False)
    paths = []
    for name in result.leaderboard["model"]:
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(loaded.files[f"models/{name}.pkl"])
        paths.append(str(path))

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(rows_csv), *paths], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    assert len(answers) == len(paths) >= 6  # four models, the dummy and the ensemble
    for answer in answers.values():
        assert answer["classes"] == ["<=50K", ">50K"]
        assert set(answer["labels"]) <= {"<=50K", ">50K"} and len(answer["labels"]) == 7
        proba = np.asarray(answer["proba"])
        assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)
