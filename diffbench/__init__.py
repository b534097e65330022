"""diffbench: a reproducible benchmark for neural surrogates of steady-state diffusion.

The package follows the data flow, one direction only::

    physics -> solver -> data -> models -> protocol (results) -> evaluation -> training
    -> trust -> pipeline -> studies -> benchmarking -> leaderboard
"""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
