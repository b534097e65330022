"""The one way diffbench reads a YAML file a user hands it (tasks, studies, ``--config``).

:func:`load_yaml` reads at most :data:`MAX_YAML_BYTES` bytes, insists on UTF-8, parses one
document with PyYAML's safe loader and returns plain data (``dict``, ``list``, ``str``,
``int``, ``float``, ``bool``, ``None``). It refuses, each with a one-line
:class:`~diffbench.errors.DiffbenchError`:

- anchors and aliases (``&a`` / ``*a``, and the ``<<`` merges built on them): a few lines of
  aliases can stand for billions of nodes (the "billion laughs"), and no diffbench file needs them;
- nesting deeper than :data:`MAX_YAML_DEPTH` (PyYAML would recurse until it crashes);
- tags that build anything but plain data (``!!python/...``, ``!!binary``, ``!!set``,
  ``!!omap``, ``!!pairs``); timestamps stay the text they were written as;
- integers too long to convert (Python's 4300-digit limit) and more than one document.

Examples
--------
>>> loads_yaml("name: smoke\\nlattice: 32\\nwhen: 2026-01-02\\n", "task file t.yaml")
{'name': 'smoke', 'lattice': 32, 'when': '2026-01-02'}
>>> loads_yaml("a: &x [1, 2]\\nb: *x\\n", "task file t.yaml")
Traceback (most recent call last):
...
diffbench.errors.DiffbenchError: task file t.yaml uses YAML anchors or aliases (&name / *name), which task files may not (line 1); write the values out
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .errors import DiffbenchError

#: The largest YAML file read (1 MiB; diffbench's own files are a few kB).
MAX_YAML_BYTES = 1 << 20
#: The deepest nesting of mappings and lists accepted.
MAX_YAML_DEPTH = 64

_REFUSED_TAGS = ("binary", "set", "omap", "pairs")


class _Refused(Exception):
    """Raised inside the loader; turned into a DiffbenchError with the file's name."""

    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.line = None if mark is None else mark.line + 1


class _PlainLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors, aliases, deep nesting or non-plain types."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused("uses YAML anchors or aliases (&name / *name), which {kind} may not", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(f"nests deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return loader.construct_scalar(node)


def _refuse(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raise _Refused(f"uses the tag {node.tag}, which builds no plain data", node.start_mark)


_PlainLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
for _tag in _REFUSED_TAGS:
    _PlainLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)


def first_line(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    text = str(problem) if problem else (str(exc).splitlines() or ["parse error"])[0]
    text = " ".join(text.split())[:200]
    return f"{text} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else text


def loads_yaml(text: str | bytes, where: str, kind: str = "task files") -> Any:
    """Parse YAML ``text`` (``bytes`` must be UTF-8) into plain data.

    ``where`` names the source in errors (``"task file path/x.yaml"``); ``kind`` names what
    may not use anchors (``"task files"``, ``"study files"``, ``"config files"``).

    >>> loads_yaml(b"caf\\xe9: 1\\n", "config file c.yaml", "config files")
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: config file c.yaml is not UTF-8 text (byte 0xe9 at offset 3); save it as UTF-8
    """
    if isinstance(text, bytes):
        if len(text) > MAX_YAML_BYTES:
            raise DiffbenchError(f"{where} is {len(text)} bytes; at most {MAX_YAML_BYTES} bytes are read")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DiffbenchError(
                f"{where} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
            ) from None
    elif len(text) > MAX_YAML_BYTES:
        raise DiffbenchError(f"{where} is {len(text)} characters; at most {MAX_YAML_BYTES} are read")
    loader = None
    try:
        loader = _PlainLoader(text)  # the reader refuses control characters here already
        return loader.get_single_data()
    except _Refused as exc:
        line = f" (line {exc.line})" if exc.line is not None else ""
        hint = "; write the values out" if "anchors" in str(exc) else ""
        raise DiffbenchError(f"{where} {str(exc).format(kind=kind)}{line}{hint}") from None
    except yaml.YAMLError as exc:
        raise DiffbenchError(f"{where} is not valid YAML: {first_line(exc)}") from None
    except (ValueError, RecursionError) as exc:
        # ValueError: an integer past Python's digit limit; RecursionError: nesting in a scalar
        # (e.g. a huge flow key) that the depth bound above did not see.
        text = " ".join(str(exc).split())[:160]
        raise DiffbenchError(f"{where} is not valid YAML: {text}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(path: str | os.PathLike[str], what: str = "task file", kind: str = "task files") -> Any:
    """Read and parse the YAML file at ``path``: ``what`` names it in errors.

    >>> load_yaml("/no/such/file.yaml")
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: task file /no/such/file.yaml does not exist
    """
    where = f"{what} {path}"
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise DiffbenchError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise DiffbenchError(f"{where} is a directory, not a YAML file") from None
    except OSError as exc:
        raise DiffbenchError(f"cannot read {where}: {exc.strerror or exc}") from None
    if len(data) > MAX_YAML_BYTES:
        size = p.stat().st_size if p.is_file() else len(data)
        raise DiffbenchError(f"{where} is {size} bytes; at most {MAX_YAML_BYTES} bytes are read")
    return loads_yaml(data, where, kind)
