"""KD methods, one module each; importing this package registers all of them.

The import order is the registration order: the order of `method.name`'s choices,
of the config sections and of the SOTA study's arms (hence no import sorting here).
"""

# ruff: noqa: I001
from asib_sweeps.methods import ce  # noqa: F401
from asib_sweeps.methods import kd  # noqa: F401
from asib_sweeps.methods import avg_kd  # noqa: F401
from asib_sweeps.methods import ca_mkd  # noqa: F401
from asib_sweeps.methods import ebkd  # noqa: F401
from asib_sweeps.methods import ae_kd  # noqa: F401
from asib_sweeps.methods import fitnet  # noqa: F401
from asib_sweeps.methods import at  # noqa: F401
from asib_sweeps.methods import crd  # noqa: F401
from asib_sweeps.methods import dkd  # noqa: F401
from asib_sweeps.methods import dist  # noqa: F401
from asib_sweeps.methods import nkd  # noqa: F401
from asib_sweeps.methods import asib  # noqa: F401
from asib_sweeps.methods.registry import create_method, list_methods, method_class, method_names

__all__ = ["create_method", "list_methods", "method_class", "method_names"]
