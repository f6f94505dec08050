"""The model zoo: every architecture behind one interface (`ZooModel`).

Importing this package imports each zoo module, whose `@register_model`
decorators fill the registry that `create_model` and `list_models` read.
"""

from asib_sweeps.models import cifar_resnet, mobilenetv2, timm_backed, tiny, vgg, wrn  # noqa: F401
from asib_sweeps.models.factory import create_model
from asib_sweeps.models.interface import ModelOutput, ZooModel
from asib_sweeps.models.registry import list_models, register_model
from asib_sweeps.models.weights import PretrainedWeightsError

__all__ = [
    "ModelOutput",
    "PretrainedWeightsError",
    "ZooModel",
    "create_model",
    "list_models",
    "register_model",
]
