"""Run plugin code in a child process with a time limit (``diffbench models`` and ``check-model``).

A plugin is code from another package: importing it or building its model may call ``sys.exit``,
kill its process, print to stdout or loop forever. :func:`survey_plugins` and
:func:`check_model_isolated` therefore import, build and check plugins (and, for ``check-model``,
any model that is not a built-in) in one child process, ``python -m diffbench.models.isolation``,
that runs the jobs one after the other and answers one JSON line per job on a private copy of its
stdout (what the plugin prints goes to its stderr, which the parent keeps aside). Each job gets
``timeout`` seconds, counted from the end of the previous one (the child's own start-up, importing
torch, is not counted against a plugin). A job that runs out of time or takes its process down is
reported as that plugin's one-line error, and a fresh child takes up the jobs after it, so one
plugin never hides the others.
"""

from __future__ import annotations

import json
import math
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import asdict
from typing import IO, TYPE_CHECKING, Any

from diffbench.errors import DiffbenchError

if TYPE_CHECKING:
    from diffbench.models.report import CheckReport

DEFAULT_TIMEOUT = 60.0
"""Seconds a plugin gets to be imported and built (``models``) or checked (``check-model``)."""

STARTUP_TIMEOUT = 600.0
"""Seconds the child gets to import torch and diffbench before it runs any plugin code."""


def check_timeout(timeout: Any) -> float:
    """``timeout`` as seconds, refused unless a positive finite number.

    Examples
    --------
    >>> check_timeout(5)
    5.0
    >>> check_timeout(0)
    Traceback (most recent call last):
    diffbench.errors.DiffbenchError: --timeout must be a positive number of seconds, got 0
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise DiffbenchError(f"--timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def survey_plugins(in_channels: int, lattice: int, *, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
    """Every plugin entry point imported and built in a child process: one row each, broken or not.

    Parameters
    ----------
    in_channels, lattice : int
        What each model is built for (its parameter count may depend on them).
    timeout : float
        Seconds each plugin gets to import and build.

    Returns
    -------
    list of dict
        ``{"name", "kind": "plugin", "package", "version", "class_path", "description",
        "parameters", "error"}`` per entry point, in :func:`~diffbench.models.plugins.discover_plugins`
        order; ``error`` is one line naming the plugin (an import that raised or exited, a name
        clash, a constructor that failed, the time limit, a process that died), else None.
    """
    from diffbench.models.plugins import discover_plugins
    from diffbench.models.registry import PLUGIN, plugin_name_problem

    timeout = check_timeout(timeout)
    entries = discover_plugins()
    rows: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    labels: list[str] = []
    for entry in entries:
        rows.append(
            {
                "name": entry.name,
                "kind": PLUGIN,
                "package": entry.package,
                "version": entry.version,
                "class_path": entry.value,
                "description": "",
                "parameters": None,
                "error": plugin_name_problem(entry, entries),
            }
        )
        if rows[-1]["error"] is None:
            jobs.append(
                {
                    "kind": "survey",
                    "row": len(rows) - 1,
                    "name": entry.name,
                    "value": entry.value,
                    "package": entry.package,
                    "version": entry.version,
                    "in_channels": in_channels,
                    "lattice": lattice,
                }
            )
            labels.append(entry.label)
    for job, answer in zip(jobs, run_jobs(jobs, labels, timeout)):
        rows[job["row"]].update({key: answer.get(key) for key in ("description", "parameters", "error")})
        rows[job["row"]]["description"] = rows[job["row"]]["description"] or ""
    return rows


def check_model_isolated(
    name: str,
    in_channels: int,
    lattice: int,
    *,
    overrides: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> CheckReport:
    """:func:`~diffbench.models.check.check_model` in a child process, given ``timeout`` seconds.

    Returns
    -------
    CheckReport
        As ``check_model`` returns it.

    Raises
    ------
    DiffbenchError
        The check's own one-line error, or that the model did not finish within ``timeout``
        seconds, or that its process died (with its exit status and last line of output).

    Examples
    --------
    >>> check_model_isolated("diffbench.models.resnet:DilatedResNet", 1, 16,
    ...                      overrides={"hidden_channels": 4, "n_blocks": 1}).passed
    True
    """
    from diffbench.models.plugins import describe_plugin
    from diffbench.models.report import CheckReport, CheckResult

    timeout = check_timeout(timeout)
    job = {
        "kind": "check",
        "name": name,
        "in_channels": in_channels,
        "lattice": lattice,
        "overrides": dict(overrides or {}),
    }
    try:
        json.dumps(job)
    except (TypeError, ValueError) as exc:
        raise DiffbenchError(f"model arguments must be JSON values, got {overrides!r:.200}") from exc
    # the label of a timeout or a crash; torch-free: this process need not import torch at all
    (answer,) = run_jobs([job], [describe_plugin(name) if isinstance(name, str) else repr(name)], timeout)
    if answer.get("error") is not None:
        raise DiffbenchError(answer["error"])
    report = dict(answer["report"])
    report["results"] = [CheckResult(**result) for result in report["results"]]
    return CheckReport(**report)


def run_jobs(jobs: list[dict[str, Any]], labels: list[str], timeout: float) -> list[dict[str, Any]]:
    """Run ``jobs`` in child processes, ``timeout`` seconds each; one answer dict per job, in order.

    An answer holds the job's results, or ``"error"``: one line that starts with the job's label.
    """
    answers: list[dict[str, Any] | None] = [None] * len(jobs)
    index = 0
    while index < len(jobs):
        child = _Child(jobs[index:])
        try:
            ready = child.next(STARTUP_TIMEOUT)
            if ready is _TIMEOUT:
                raise DiffbenchError(
                    f"the child process that runs plugin code did not start within {STARTUP_TIMEOUT:g} s"
                )
            if not isinstance(ready, dict) or not ready.get("ready"):
                raise DiffbenchError(f"the child process that runs plugin code did not start: it {child.failure()}")
            while index < len(jobs):
                answer = child.next(timeout)
                if isinstance(answer, dict):
                    answers[index] = answer
                    index += 1
                    continue
                if answer is _TIMEOUT:
                    problem = (
                        f"did not finish within {timeout:g} s (--timeout): importing, building or checking "
                        "it hangs or needs more time on this machine"
                    )
                else:
                    problem = f"stopped: the process running it {child.failure()}"
                answers[index] = {"error": f"{labels[index]} {problem}"}
                index += 1
                break  # the child is gone or stuck: a fresh one takes the next job
        finally:
            child.close()
    return [answer or {} for answer in answers]


_TIMEOUT = object()
_EOF = object()


class _Child:
    """One ``python -m diffbench.models.isolation`` process and a thread reading its answers."""

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self.jobs = jobs
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close())
        self.answers: queue.Queue[Any] = queue.Queue()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "diffbench.models.isolation"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            start_new_session=os.name == "posix",  # a group of its own: kill() ends what a plugin spawned too
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"sys_path": sys.path, "jobs": jobs}).encode())
            self.process.stdin.close()
        except BrokenPipeError:  # the child died at once; failure() says why
            pass

    def close(self) -> None:
        """Kill the child if it still runs, reap it, drop its output."""
        self.kill()
        self.process.wait()
        self.reader.join(timeout=5)  # EOF follows the exit (unless a forked grandchild holds the pipe)
        if not self.reader.is_alive() and self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()

    def kill(self) -> None:
        """Kill the child and, on POSIX, every process in its group."""
        if os.name == "posix":
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        elif self.process.poll() is None:
            self.process.kill()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.answers.put(json.loads(line))
            except ValueError:
                continue  # not ours: the answers go to a private descriptor, but be safe
        self.answers.put(_EOF)

    def next(self, timeout: float) -> Any:
        """The next answer, ``_TIMEOUT`` (the child is then killed) or ``_EOF`` (it ended)."""
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            return _TIMEOUT

    def failure(self) -> str:
        """Why the child stopped answering: ``"exited with status 5 (last output: ...)"``."""
        status = self.process.wait()
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        self.stderr.seek(0)
        lines = [line.strip() for line in self.stderr.read().decode(errors="replace").splitlines() if line.strip()]
        last = f" (last output: {lines[-1][:200]!r})" if lines else ""
        return f"{how}{last}"


def _answer(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in the child; any exception but Ctrl-C becomes the answer's one-line error."""
    from diffbench.models.check import check_model
    from diffbench.models.classpath import one_line, reraise_interrupt
    from diffbench.models.plugins import PluginEntry, load_plugin
    from diffbench.models.registry import (
        count_parameters,
        create,
        describe_model,
        first_line,
    )

    label = f"model '{job['name']}'"
    try:
        label = describe_model(job["name"])
        if job["kind"] == "survey":
            entry = PluginEntry(job["name"], job["value"], job["package"], job["version"])
            import inspect

            description = first_line(inspect.getdoc(load_plugin(entry)))
            model = create(job["name"], in_channels=job["in_channels"], lattice=job["lattice"])
            return {"description": description, "parameters": count_parameters(model), "error": None}
        report = check_model(job["name"], job["in_channels"], job["lattice"], overrides=job["overrides"])
        return {"report": asdict(report), "error": None}
    except DiffbenchError as exc:
        return {"error": str(exc)}
    except BaseException as exc:  # noqa: BLE001 (SystemExit included)
        reraise_interrupt(exc)
        return {"error": f"{label}: {one_line(exc)}"}


def _main() -> None:
    """The child: read the jobs on stdin, answer one JSON line each on a private copy of stdout."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what plugins print (even from C) goes to stderr, never into the answers
    sys.stdout = sys.stderr
    payload = json.loads(sys.stdin.read())
    sys.path[:] = payload["sys_path"]
    import torch  # noqa: F401  (the start-up the time limit does not count)

    import diffbench.models.check  # noqa: F401

    def send(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    send({"ready": True})
    for job in payload["jobs"]:
        send(_answer(job))


if __name__ == "__main__":  # pragma: no cover  (run as a child by run_jobs)
    _main()
