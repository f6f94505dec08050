"""The training loop shared by teacher fine-tuning and every KD method."""

from asib_sweeps.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from asib_sweeps.training.run import NonFiniteLossError, TrainingRun

__all__ = ["CheckpointError", "NonFiniteLossError", "TrainingRun", "load_checkpoint", "save_checkpoint"]
