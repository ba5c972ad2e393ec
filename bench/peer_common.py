"""What every peer script shares (they run inside their own bench/.venvs/<peer>, which has no adaptml and no
bench package: the scripts import this file from their own folder).

Arguments: ``TRAIN TEST TARGET TASK METRIC BUDGET_S OUT.json [PREDICTIONS.npy]``. TRAIN and TEST are the frozen
corpus files (CSV, read as pandas reads any CSV) or parquet frames; rows whose target is missing are dropped from
both; class labels get one spelling (``1``, ``1.0`` and ``'1'`` all read ``'1'``, as bench/corpus/scoring.py
spells them). The peer writes its facts to OUT.json (with ``classes``) and its test-row output to PREDICTIONS.npy:
probabilities (rows, classes) or regression predictions.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

STARTED_UNIX = time.time()  # the script's start, before the peer library is imported


def label_text(value: Any) -> str:
    if isinstance(value, float) and float(value).is_integer():
        return str(int(value))
    return str(value)


def read_frame(path: str, target: str, task: str) -> Any:
    import pandas as pd

    if path.endswith(".parquet"):
        frame = pd.read_parquet(path)
    else:
        try:
            frame = pd.read_csv(path, low_memory=False)
        except pd.errors.ParserError:  # some pandas releases' C parser overflows on long free-text cells
            frame = pd.read_csv(path, engine="python")
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if task == "regression":
        frame[target] = frame[target].astype(float)
    else:
        frame[target] = [label_text(v.item() if hasattr(v, "item") else v) for v in frame[target]]
    return frame


def arguments() -> dict[str, Any]:
    names = ("train", "test", "target", "task", "metric", "budget", "out")
    values = dict(zip(names, sys.argv[1:8], strict=True))
    return {**values, "budget": float(values["budget"]), "predictions": sys.argv[8] if len(sys.argv) > 8 else None}


def finish(args: dict[str, Any], facts: dict[str, Any], output: Any) -> None:
    """Write OUT.json and, when asked, the predictions; print the facts."""
    import numpy as np

    if args["predictions"]:
        np.save(args["predictions"], np.asarray(output, dtype=float), allow_pickle=False)
    facts = {**facts, "script_started_unix": STARTED_UNIX, "time_budget_s": args["budget"], "metric": args["metric"]}
    with open(args["out"], "w") as handle:
        json.dump(facts, handle, indent=2, default=str)
    print(json.dumps(facts, default=str))
