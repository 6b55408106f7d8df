"""Settings of the policy server (``ServerConfig``), validated on creation, and the token file."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from vla.serving.protocol import DEFAULT_MAX_INSTRUCTION_CHARS, DEFAULT_MAX_MESSAGE_BYTES

MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: treat as reachable from outside
        return False


def read_token_file(path: str | Path) -> str:
    """Read a token (first line, stripped) from a file; raise ValueError naming the fix."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(
            f"token file {p} does not exist; create it, e.g. `openssl rand -hex 32 > {p}`"
        )
    token = p.read_text(encoding="utf-8").strip().splitlines()[0:1]
    if not token or len(token[0].strip()) < MIN_TOKEN_CHARS:
        raise ValueError(
            f"token file {p} must hold a token of at least {MIN_TOKEN_CHARS} characters "
            f"on its first line, e.g. `openssl rand -hex 32 > {p}`"
        )
    return token[0].strip()


@dataclass(frozen=True)
class ServerConfig:
    """Network, batching and limit settings of the policy server (validated on creation)."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = field(default=None, repr=False)  # never in logs or tracebacks
    max_batch: int = 16
    batch_window_ms: float = 0.0  # idle server: 0 = dispatch at once (batcher.py)
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_instruction_chars: int = DEFAULT_MAX_INSTRUCTION_CHARS
    max_connections: int = 64
    idle_timeout_s: float = 120.0  # a connection silent this long is closed
    evict_idle_s: float = 5.0  # when full, a connection idle this long gives way to a new one
    handshake_timeout_s: float = 10.0
    openpi: bool = True  # also serve openpi clients (openpi.py)
    temporal_ensemble: bool = False  # per-connection ACT-style ensembling for the step op
    certfile: str | None = None  # TLS (wss://): PEM certificate chain; needs keyfile
    keyfile: str | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.port <= 65535):
            raise ValueError(f"port must be in 0..65535 (0 = any free port), got {self.port}")
        if self.token is not None and len(self.token) < MIN_TOKEN_CHARS:
            raise ValueError(f"the token must have at least {MIN_TOKEN_CHARS} characters")
        if not is_loopback(self.host) and self.token is None:
            raise ValueError(
                f"refusing to bind to non-loopback host {self.host!r} without a token: "
                "pass --token-file FILE (clients then send the token) or bind to 127.0.0.1"
            )
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")
        if self.batch_window_ms < 0:
            raise ValueError(f"batch_window_ms must be >= 0, got {self.batch_window_ms}")
        if self.max_message_bytes < 1024:
            raise ValueError(f"max_message_bytes must be >= 1024, got {self.max_message_bytes}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {self.max_connections}")
        for name in ("idle_timeout_s", "evict_idle_s", "handshake_timeout_s"):
            value = getattr(self, name)
            if not (0 < value < float("inf")):  # inf or NaN would switch the limit off
                raise ValueError(f"{name} must be a finite number of seconds > 0, got {value}")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("TLS needs both a certificate file and a key file")
        for f in (self.certfile, self.keyfile):
            if f is not None and not Path(f).is_file():
                raise ValueError(f"TLS file {f} does not exist")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None for plain ws://."""
        if self.certfile is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.certfile, self.keyfile)
        return ctx
