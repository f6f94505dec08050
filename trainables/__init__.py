"""Ray Tune trainables: plain functions `params -> None`, one per kind of trial.

They are the only code that talks to Tune per epoch (trainables.reporting); everything
else they call is the Ray-free training code of asib_sweeps.
"""

from trainables.distill import distill
from trainables.finetune import finetune
from trainables.tune_trial import tune_trial

__all__ = ["distill", "finetune", "tune_trial"]
