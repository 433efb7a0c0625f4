"""paramstyle "pyformat": ``%s`` with a sequence, ``%(name)s`` with a mapping, as psycopg2 and
PyMySQL take them, so their code runs unchanged.

The placeholders become the engine's own (``$1`` on PostgreSQL, ``?`` on MySQL/MariaDB, ``@p1`` on SQL
Server, ``:1`` on Oracle) and the values travel beside the SQL, bound by the database: nothing is ever
interpolated into the SQL text. As with those drivers, when parameters are given every literal ``%``
in the statement is written ``%%`` (``LIKE 'a%%'``); with ``parameters=None`` the SQL is sent as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Dict, List, Tuple

from .exceptions import ProgrammingError

_PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?(?P<conv>.?)", re.S)

_MARKERS: Dict[str, Callable[[int], str]] = {
    "postgresql": lambda n: f"${n}",
    "mysql": lambda n: "?",
    "sqlserver": lambda n: f"@p{n}",
    "oracle": lambda n: f":{n}",
}


def translate(operation: str, parameters: Any, engine: str) -> Tuple[str, List[Any]]:
    """The statement with the engine's placeholders, and its values in binding order."""
    if not isinstance(operation, str):
        raise ProgrammingError(f"The operation must be a str, not {type(operation).__name__}")
    if parameters is None:
        return operation, []
    if isinstance(parameters, Mapping):
        named = True
    elif isinstance(parameters, Sequence) and not isinstance(parameters, (str, bytes, bytearray)):
        named = False
    else:
        raise ProgrammingError(
            f"Parameters must be a sequence (for %s) or a mapping (for %(name)s), not {type(parameters).__name__}"
        )
    marker = _MARKERS.get(engine)
    if marker is None:
        raise ProgrammingError(f"No placeholder syntax is known for the engine {engine!r}")
    # On MySQL every ? takes its own value; elsewhere a repeated name reuses its number.
    repeats = engine == "mysql"
    values: List[Any] = []
    numbers: Dict[str, int] = {}
    out: List[str] = []
    last = 0
    for m in _PLACEHOLDER.finditer(operation):
        out.append(operation[last : m.start()])
        last = m.end()
        name, conv = m.group("name"), m.group("conv")
        if name is None and conv == "%":
            out.append("%")
            continue
        if conv != "s":
            raise ProgrammingError(
                f"Unsupported placeholder {m.group(0)!r} at position {m.start()}: "
                "use %s, %(name)s, or %% for a literal %"
            )
        if (name is not None) != named:
            raise ProgrammingError(
                "Use %(name)s placeholders with a mapping of parameters, %s with a sequence"
                if named
                else "%(name)s placeholders need a mapping of parameters"
            )
        if named:
            if name not in parameters:
                raise ProgrammingError(f"No parameter named {name!r}")
            if repeats or name not in numbers:
                values.append(parameters[name])
                numbers[name] = len(values)
            out.append(marker(numbers[name]))
        else:
            if len(values) >= len(parameters):
                raise ProgrammingError(f"Not enough parameters: {len(parameters)} given for more placeholders")
            values.append(parameters[len(values)])
            out.append(marker(len(values)))
    out.append(operation[last:])
    if not named and len(values) != len(parameters):
        raise ProgrammingError(f"{len(parameters)} parameters given for {len(values)} placeholders")
    return "".join(out), values
