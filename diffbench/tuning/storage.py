"""Where a search lives: the Optuna RDB storage that workers share (``--storage``), the file
lock that serialises claiming trials on SQLite, and the heartbeats that tell a dead worker's
trial from a running one.

A worker records its trial's heartbeat every :data:`HEARTBEAT_S` seconds while it trains. A
trial left RUNNING without one for :data:`GRACE_S` seconds belongs to a worker that died
(killed, out of memory, node lost): the next worker to claim a trial fails it and queues its
parameters again as a new trial (Optuna's ``RetryHeartbeatStaleTrialCallback``, at most
:data:`MAX_RETRIES` times), and the lost trial does not count toward ``--trials``.

>>> shown_url("postgresql://me:secret@db.example/optuna")
'postgresql://me:***@db.example/optuna'
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError

#: A trial's worker records a heartbeat in the storage every HEARTBEAT_S seconds while it trains;
#: a RUNNING trial without one for GRACE_S seconds belongs to a worker that died (killed, out of
#: memory, node lost): the next claim fails it and trains its parameters again as a new trial.
HEARTBEAT_S = 30
GRACE_S = 300
#: How many times one trial's parameters are retried after their worker died.
MAX_RETRIES = 2


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message`` (what a FAIL trial records).

    >>> one_line(RuntimeError("boom\\nmore"))
    'RuntimeError: boom'
    """
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:limit]


def shown_url(url: str) -> str:
    """A storage URL fit to print: the password hidden.

    >>> shown_url("postgresql://me:secret@db/optuna")
    'postgresql://me:***@db/optuna'
    """
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL at all: show nothing of it
        return "<not a database URL>"


def open_storage(url: str) -> Any:
    """An Optuna RDB storage for ``url``, or a one-line error naming the URL (password hidden)
    and what is allowed. SQLite waits up to 60 s for another worker's write, and workers create
    its tables one at a time (under the lock beside the database). Heartbeats are on
    (:data:`HEARTBEAT_S`, :data:`GRACE_S`): a stale trial is failed and retried with the same
    parameters (Optuna's ``RetryHeartbeatStaleTrialCallback``, at most :data:`MAX_RETRIES` times)."""
    import optuna
    from sqlalchemy.engine import make_url

    if not isinstance(url, str) or not url:
        raise DiffbenchError(f"--storage must be a database URL such as sqlite:///path/to/study.db, got {url!r}")
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001
        raise DiffbenchError(
            f"--storage {url!r} is not a database URL; use sqlite:///path/to/study.db (a file) or a server's "
            "URL such as postgresql://user@host/db"
        ) from None
    sqlite = parsed.get_backend_name() == "sqlite"
    engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}} if sqlite else {"pool_pre_ping": True}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sqlite and parsed.database and parsed.database != ":memory:" and not Path(parsed.database).parent.is_dir():
        # checked before the lock below, which would create the folder
        raise DiffbenchError(
            f"cannot open the Optuna storage {shown_url(url)} (no folder {Path(parsed.database).parent.name!r}); "
            "its folder must exist and be writable"
        )
    try:
        # Two workers creating one SQLite file's tables at once collide (alembic_version: UNIQUE constraint
        # failed): the lock beside the database that serialises claiming trials serialises this too.
        with claim_lock(url) if sqlite else contextlib.nullcontext(), experimental_quiet():
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES),
            )
    except Exception as exc:  # noqa: BLE001 - drivers raise many types: missing module, refused connection, bad file
        hint = (
            "its folder must exist and be writable"
            if sqlite
            else "the server must be reachable and its driver installed"
        )
        raise DiffbenchError(
            f"cannot open the Optuna storage {shown_url(url)} ({one_line(exc, 160)}); {hint}"
        ) from None


@contextlib.contextmanager
def experimental_quiet() -> Any:
    """Optuna's heartbeat API is marked experimental (since 2.8/2.9); its warning on every claim
    would bury the search's log."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def claim_lock(url: str) -> Any:
    """A file lock beside a SQLite database (serialises claiming the next trial), else nothing."""
    from filelock import FileLock
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return FileLock(f"{parsed.database}.claim.lock")
    return contextlib.nullcontext()


def record_heartbeat(search: Any, trial: Any) -> None:
    """Tell the storage that ``trial``'s worker is alive (``search``: a :class:`~diffbench.tuning.search.Search`;
    Optuna keeps the trial's id private)."""
    search.rdb.record_heartbeat(trial._trial_id)


@contextlib.contextmanager
def heartbeat(search: Any, trial: Any) -> Any:
    """Record ``trial``'s heartbeat every :data:`HEARTBEAT_S` seconds while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed beat is retried; GRACE_S allows several
                record_heartbeat(search, trial)
            if stop.wait(HEARTBEAT_S):
                return

    thread = threading.Thread(target=beat, name=f"diffbench-tune-heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def lost_trials(trials: list[Any]) -> dict[int, int]:
    """``{lost trial number: number of its retry}``: trials failed for want of a heartbeat
    whose parameters were trained again (they do not count toward ``--trials``)."""
    out: dict[int, int] = {}
    for t in trials:
        history = t.system_attrs.get("retry_history")
        if isinstance(history, list) and history:
            out[int(history[-1])] = t.number
    return out
