"""Studies: a YAML names models x tasks x train fractions x seeds; ``diffbench
study NAME`` runs (or resumes) every run through the run pipeline (``runner``) and writes
the table, summary and plots (``analysis``, ``plots``; the data-scaling analysis: ``scaling``); ``spec`` reads the study YAMLs;
``launch`` submits one job per run through submitit (local processes or a SLURM job array).
The shipped studies are the ``*.yaml`` files in this folder.

>>> from diffbench.studies import load_study, study_names

Imports are lazy: importing this package costs nothing until a name is used.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "StudySpec": ".spec",
    "load_study": ".spec",
    "study_names": ".spec",
    "run_study": ".runner",
    "LAUNCHERS": ".launch",
    "launch_study": ".launch",
    "fit_log_law": ".scaling",
    "row_interval": ".scaling",
    "verdict": ".scaling",
    "write_outputs": ".analysis",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
