"""The gRPC channel: where Berth is, TLS, the bearer token, and the calls' shared options."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple, Union
from urllib.parse import urlsplit

import grpc
import grpc.experimental

from .errors import client_error

__version__ = "0.1.0"

PemSource = Union[bytes, str, None]
TokenSource = Union[str, Callable[[], str], None]


@dataclass(frozen=True)
class TlsConfig:
    """TLS to Berth. Each of ``ca``, ``cert``, ``key`` is PEM bytes or a file path.

    ``ca`` absent: the system's roots. ``cert`` and ``key`` together: a client certificate (mutual
    TLS). ``server_name``: the name to verify when it is not the host dialled.
    """

    ca: PemSource = None
    cert: PemSource = None
    key: PemSource = None
    server_name: Optional[str] = None


def _pem(source: PemSource, what: str) -> Optional[bytes]:
    if source is None:
        return None
    if isinstance(source, bytes):
        return source
    if isinstance(source, str) and source.lstrip().startswith("-----BEGIN"):
        return source.encode()
    try:
        with open(os.fspath(source), "rb") as f:
            return f.read()
    except OSError as err:
        raise client_error(
            "INVALID_ARGUMENT", f"Cannot read the TLS {what} file {source!r}: {err.strerror}", "tls_file_unreadable"
        ) from None


def _tls_config(tls: Union[bool, dict, TlsConfig, None]) -> Optional[TlsConfig]:
    if tls is None or tls is False:
        return None
    if tls is True:
        return TlsConfig()
    if isinstance(tls, TlsConfig):
        return tls
    if isinstance(tls, dict):
        unknown = set(tls) - {"ca", "cert", "key", "server_name"}
        if unknown:
            raise client_error(
                "INVALID_ARGUMENT", f"Unknown TLS option(s): {', '.join(sorted(unknown))}", "invalid_tls_option"
            )
        return TlsConfig(**tls)
    raise client_error("INVALID_ARGUMENT", "tls must be True, a dict or a TlsConfig", "invalid_tls_option")


def parse_target(url_or_target: str, tls: Union[bool, dict, TlsConfig, None]) -> Tuple[str, Optional[TlsConfig]]:
    """``http://host:port`` (plain), ``https://host:port`` (TLS), or a gRPC target ``host:port``."""
    if not isinstance(url_or_target, str) or not url_or_target.strip():
        raise client_error("INVALID_ARGUMENT", "Give Berth's address: a URL or host:port", "missing_target")
    text = url_or_target.strip()
    config = _tls_config(tls)
    if "://" not in text or text.startswith(("unix:", "dns:", "ipv4:", "ipv6:")):
        return text, config
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "grpc", "grpcs"):
        raise client_error(
            "INVALID_ARGUMENT", f"Unsupported scheme {scheme!r}: use http://, https:// or host:port", "invalid_url"
        )
    secure = scheme in ("https", "grpcs")
    if not parts.hostname:
        raise client_error("INVALID_ARGUMENT", f"No host in {text!r}", "invalid_url")
    try:
        port = parts.port or (443 if secure else 80)
    except ValueError:
        raise client_error("INVALID_ARGUMENT", f"Invalid port in {text!r}", "invalid_url") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if secure and config is None:
        config = TlsConfig()
    if not secure and config is not None and scheme == "http":
        raise client_error("INVALID_ARGUMENT", "An http:// URL is plain text: use https:// with tls", "invalid_url")
    return f"{host}:{port}", config


def open_channel(
    target: str,
    tls: Optional[TlsConfig],
    *,
    max_message_bytes: int,
    options: Optional[List[Tuple[str, object]]] = None,
) -> grpc.Channel:
    opts: List[Tuple[str, object]] = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.primary_user_agent", f"berth-python/{__version__}"),
        # A restarted Berth is found again within seconds, not after gRPC's default backoff (up to 2 min).
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 5000),
        # Execute streams read on the thread that asks (no channel-wide spin thread); it also avoids
        # grpcio 1.51's lost read on a call that fails before it is sent (see _receiver.py).
        (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1),
        # Keeps long, quiet session streams alive through proxies and NAT.
        ("grpc.keepalive_time_ms", 30000),
        ("grpc.keepalive_timeout_ms", 10000),
    ]
    if tls is None:
        return grpc.insecure_channel(target, options=opts + list(options or []))
    if tls.server_name:
        opts.append(("grpc.ssl_target_name_override", tls.server_name))
    if (tls.cert is None) != (tls.key is None):
        raise client_error("INVALID_ARGUMENT", "A client certificate needs both cert and key", "invalid_tls_option")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_pem(tls.ca, "CA"),
        private_key=_pem(tls.key, "key"),
        certificate_chain=_pem(tls.cert, "certificate"),
    )
    return grpc.secure_channel(target, credentials, options=opts + list(options or []))


def auth_metadata(token: TokenSource) -> Tuple[Tuple[str, str], ...]:
    if token is None:
        return ()
    value = token() if callable(token) else token
    if not value:
        return ()
    return (("authorization", f"Bearer {value}"),)
