"""The declarations everything else reads, free of torch: methods (`methods.py`, with their settings
sections in `method_settings.py` and `asib_settings.py`) and data sources (`data_sources.py`).

The config, the studies' plans and `asib-sweep --dry-run` read only this package; the
implementations (losses, readers) are named as "module:attribute" and imported when a run
uses them.
"""
