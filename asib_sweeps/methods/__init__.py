"""KD methods, one module each; importing this package registers all of them."""

from asib_sweeps.methods import asib  # noqa: F401
from asib_sweeps.methods import at  # noqa: F401
from asib_sweeps.methods import avg_kd  # noqa: F401
from asib_sweeps.methods import ce  # noqa: F401
from asib_sweeps.methods import crd  # noqa: F401
from asib_sweeps.methods import dkd  # noqa: F401
from asib_sweeps.methods import fitnet  # noqa: F401
from asib_sweeps.methods import kd  # noqa: F401
from asib_sweeps.methods.registry import create_method, list_methods

__all__ = ["create_method", "list_methods"]
