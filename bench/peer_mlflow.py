"""Run inside bench/.venvs/mlflow: save a pickled adaptml pipeline as an MLflow sklearn model directory.

``python peer_mlflow.py MODEL.pkl OUT_DIR`` — the model is saved as a whole (SchemaCoercer first), without a
signature, so MLflow's scoring server does no schema enforcement of its own: its fastest configuration.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main() -> None:
    import mlflow.sklearn

    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    with source.open("rb") as handle:
        model = pickle.load(handle)  # noqa: S301 - our own freshly trained model
    mlflow.sklearn.save_model(model, str(target), serialization_format="pickle")
    print(f"saved {type(model).__name__} to {target}")


if __name__ == "__main__":
    main()
