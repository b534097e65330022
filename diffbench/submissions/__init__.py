"""Submissions: checking a run's result and storing it on the leaderboard, torch-free.

``diffbench submit RESULT`` checks a run's ``result.json`` against the schema and the protocol
(the checks themselves are :mod:`diffbench.results`) and stores it, content-addressed, under
``leaderboard/submissions/<task>/``, optionally as a bundle with each seed's checkpoint
(``bundle``) that ``diffbench verify`` re-scores; ``submit --check`` re-checks a stored one.
``diffbench schema`` prints the JSON Schema of ``result.json``. The site is built from what
is stored here by :mod:`diffbench.leaderboard`.

Modules: ``submit`` (storing a submission), ``checks`` (the checks a submission passes),
``stored`` (where submissions are stored, loading and re-checking them), ``bundle`` (checkpoint
bundles and their verification records), ``commands`` (the CLI).

Imports are lazy: importing this package costs nothing.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "Submission": ".stored",
    "check_result": ".checks",
    "default_leaderboard_dir": ".stored",
    "load_submissions": ".stored",
    "read_json_strict": ".submit",
    "resolve_leaderboard_dir": ".stored",
    "submit": ".submit",
    "schema_text": ".commands",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
