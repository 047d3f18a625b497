"""twin: a capacity digital twin for connected-fitness platforms.

The package is laid out by concept: `config` reads scenario files, `sim` holds the
engines, `analytic` the queueing formulas they are checked against, `report` renders
results, and `cli` is the only place that prints or exits.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
