"""The training pipeline as Luigi tasks over an S3 run workspace, and the runner behind ``adaptml train``."""

import os

# OpenMP threads that spin while they wait starve each other on a busy machine (LightGBM ran 5-10x slower with 2
# threads on 2 shared cores); waiting passively costs little on an idle one. It only takes effect when set before
# the first OpenMP library (scikit-learn, LightGBM, XGBoost) loads, which importing this package precedes in the CLI.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from adaptml.pipeline.runner import TrainResult, train, train_command  # noqa: E402 - after the OpenMP setting

__all__ = ["TrainResult", "train", "train_command"]
