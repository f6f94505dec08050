"""ASIB multi-teacher knowledge distillation: method, training loop and CLIs.

Nothing in this package imports Ray except the CLI's launch code.
"""

__version__ = "0.1.0"
