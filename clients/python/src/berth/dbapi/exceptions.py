"""PEP 249's exception hierarchy, and the mapping from Berth's errors onto it.

A database's own error is classed by its code, as the native drivers do: PostgreSQL's SQLSTATE by
its class (psycopg2's table: 22 → DataError, 23 → IntegrityError, 42 → ProgrammingError, ...),
MySQL/MariaDB's errno by PyMySQL's table (1062 → IntegrityError, 1064 → ProgrammingError, ...).
Without an engine code Berth's kind decides: an invalid request is a ProgrammingError, an
unavailable Berth or database, a timeout, a cancel, a refused sign-in are OperationalErrors,
``unimplemented`` is NotSupportedError, ``internal`` InternalError.

Every exception raised from a BerthError keeps it as ``berth_error`` and copies its ``code``,
``kind``, ``reason``, ``engine_code`` and ``request_id``; ``sqlstate`` (PostgreSQL) or ``errno``
(MySQL) hold the engine code in the native drivers' spelling.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from ..errors import BerthError


class Warning(Exception):  # noqa: A001 - the name PEP 249 prescribes
    """Important warnings (not raised by this driver: the engines' warnings are not forwarded)."""


class Error(Exception):
    """Base of every error of this module."""

    berth_error: Optional[BerthError] = None
    code = ""
    kind = ""
    reason = ""
    engine_code = ""
    request_id = ""
    sqlstate: Optional[str] = None
    errno: Optional[int] = None


class InterfaceError(Error):
    """Misuse of the interface: a closed cursor or connection, a bad argument to this module."""


class DatabaseError(Error):
    """Errors related to the database."""


class DataError(DatabaseError):
    """The data: division by zero, a value out of range, a string too long..."""


class OperationalError(DatabaseError):
    """The database's operation, not the caller's doing: a lost connection, a timeout, a cancel..."""


class IntegrityError(DatabaseError):
    """The relational integrity: a duplicate key, a foreign key, a NOT NULL or CHECK constraint."""


class InternalError(DatabaseError):
    """The database (or Berth) is in an internal error state: an aborted transaction, a fault."""


class ProgrammingError(DatabaseError):
    """The statement: a syntax error, an unknown table, wrong parameters."""


class NotSupportedError(DatabaseError):
    """A method or API the database (or Berth) does not support."""


# psycopg2's mapping of SQLSTATE classes (psycopg/error_type.c), and the odd exact code.
_SQLSTATE_CLASSES: Dict[str, Type[Error]] = {
    "02": DataError,
    "07": DatabaseError,
    "08": OperationalError,
    "09": InternalError,
    "0A": NotSupportedError,
    "0B": InternalError,
    "0F": InternalError,
    "0L": InternalError,
    "0P": InternalError,
    "20": ProgrammingError,
    "21": ProgrammingError,
    "22": DataError,
    "23": IntegrityError,
    "24": InternalError,
    "25": InternalError,
    "26": InternalError,
    "27": OperationalError,
    "28": OperationalError,
    "2B": InternalError,
    "2D": InternalError,
    "2F": InternalError,
    "34": ProgrammingError,
    "38": InternalError,
    "39": InternalError,
    "3B": InternalError,
    "3D": ProgrammingError,
    "3F": ProgrammingError,
    "40": OperationalError,
    "42": ProgrammingError,
    "44": ProgrammingError,
    "53": OperationalError,
    "54": OperationalError,
    "55": OperationalError,
    "57": OperationalError,
    "58": OperationalError,
    "72": OperationalError,
    "F0": InternalError,
    "HV": OperationalError,
    "P0": InternalError,
    "XX": InternalError,
}


def _errnos(cls: Type[Error], *codes: int) -> Dict[int, Type[Error]]:
    return {c: cls for c in codes}


# PyMySQL's table (pymysql/err.py), with the MariaDB and MySQL 8 codes it lacks.
_MYSQL_ERRNOS: Dict[int, Type[Error]] = {
    **_errnos(
        DataError, 1138, 1171, 1263, 1264, 1265, 1292, 1364, 1365, 1366, 1367, 1406, 1441, 1690, 3140
    ),
    **_errnos(IntegrityError, 1022, 1048, 1062, 1169, 1215, 1216, 1217, 1451, 1452, 1557, 1586, 3819, 4025),
    **_errnos(
        ProgrammingError,
        1007, 1008, 1049, 1050, 1051, 1052, 1054, 1060, 1061, 1064, 1068, 1072, 1091, 1102, 1103,
        1110, 1111, 1112, 1113, 1146, 1149, 1166, 1179, 1210, 1305, 1582, 1583, 1630,
    ),
    **_errnos(NotSupportedError, 1196, 1235, 1286, 1289),
    **_errnos(
        OperationalError, 1040, 1044, 1045, 1053, 1142, 1143, 1205, 1213, 1317, 1927, 2006, 2013, 3024
    ),
}

_KINDS: Dict[str, Type[Error]] = {
    "validation_failed": ProgrammingError,
    "not_found": ProgrammingError,
    "unimplemented": NotSupportedError,
    "internal": InternalError,
    "query_failed": DatabaseError,
}


def error_class(err: BerthError, engine: str) -> Type[Error]:
    code = err.engine_code
    if code and engine == "postgresql" and len(code) == 5:
        return _SQLSTATE_CLASSES.get(code[:2].upper(), DatabaseError)
    if code and engine == "mysql" and code.isdigit():
        errno = int(code)
        return _MYSQL_ERRNOS.get(errno, InternalError if errno < 1000 else OperationalError)
    if err.code == "INVALID_ARGUMENT":
        return ProgrammingError
    return _KINDS.get(err.kind, OperationalError)


def from_berth_error(err: BerthError, engine: str) -> Error:
    """The PEP 249 exception for a BerthError (the caller raises it ``from`` the original)."""
    cls = error_class(err, engine)
    out = cls(str(err))
    out.berth_error = err
    out.code = err.code
    out.kind = err.kind
    out.reason = err.reason
    out.engine_code = err.engine_code
    out.request_id = err.request_id
    if err.engine_code and engine == "postgresql":
        out.sqlstate = err.engine_code
    elif err.engine_code.isdigit() and engine == "mysql":
        out.errno = int(err.engine_code)
    return out


__all__ = [
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Warning",
]
