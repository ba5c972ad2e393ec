"""The training pipeline as Luigi tasks over an S3 run workspace, and the runner behind ``adaptml train``."""

from adaptml.pipeline.runner import TrainResult, train, train_command

__all__ = ["TrainResult", "train", "train_command"]
