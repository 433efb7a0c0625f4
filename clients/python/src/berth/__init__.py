"""Berth's Python SDK: statements, streamed results and sessions over gRPC, and a DB-API 2.0 driver
(:mod:`berth.dbapi`).

    from berth import BerthClient

    with BerthClient("http://127.0.0.1:9090", token=TOKEN) as berth:
        berth.query(CONNECTION_ID, "SELECT $1::int + 1", [41]).scalar()   # 42
"""

from ._retry import RetryPolicy
from ._transport import TlsConfig, __version__
from .client import BerthClient
from .errors import BerthError
from .results import Column, Completion, Result, RowStream
from .session import Session, Transaction
from .values import Json

__all__ = [
    "BerthClient",
    "BerthError",
    "Column",
    "Completion",
    "Json",
    "Result",
    "RetryPolicy",
    "RowStream",
    "Session",
    "TlsConfig",
    "Transaction",
    "__version__",
]
