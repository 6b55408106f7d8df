"""Robot-side client of the policy server. Needs only numpy, msgpack and websockets (no torch).

    from vla.serving.client import PolicyClient

    with PolicyClient("127.0.0.1", 8000, token=None) as client:
        client.reset()                       # new episode
        chunk = client.act(obs)              # (H, 7) float32 action chunk
        action = client.select_action(obs)   # (7,) one action; the server re-plans as needed

``obs`` is the observation dict of the simulators and the dataset format:
Across a network, serve with TLS and pass ``ssl_context=ssl.create_default_context(
cafile="server.pem")`` (the URI becomes ``wss://``) so the token never travels in clear text.

``observation.images.<camera>`` uint8 (H, W, 3) for every camera in ``client.metadata``,
``observation.state`` float32 (S,), and ``task`` (the instruction). The client sends the
instruction only when it changes; the server remembers it for the connection.

The module (and ``codec``/``protocol`` it imports) can be copied onto a robot as is.
"""

from __future__ import annotations

import ssl
from contextlib import ExitStack
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from vla.serving import codec
from vla.serving.protocol import DEFAULT_MAX_MESSAGE_BYTES, TASK, VLA_SUBPROTOCOL


class PolicyServerError(RuntimeError):
    """The server answered a request with an error (``code``: bad_request, internal, ...)."""

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.code = code


class AuthenticationError(PolicyServerError):
    """The server refused the connection: missing or wrong token."""


class PolicyClient:
    """Synchronous client: one WebSocket connection to one policy server = one robot."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        token: str | None = None,
        timeout: float = 30.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Connect (``wss://`` when ``ssl_context`` is given) and fetch the policy metadata."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        self.uri = f"{'wss' if ssl_context is not None else 'ws'}://{host}:{port}"
        self.timeout = timeout
        # entering connect() as a context works on websockets 12..17+ (17.1 deprecates the
        # plain call); ExitStack keeps the connection open past __init__
        self._stack = ExitStack()
        try:
            self._ws = self._stack.enter_context(
                connect(
                    self.uri,
                    additional_headers=headers,
                    max_size=max_message_bytes,
                    compression=None,
                    open_timeout=timeout,
                    subprotocols=[VLA_SUBPROTOCOL],  # else the server may take us for openpi
                    ssl=ssl_context,
                )
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise AuthenticationError(
                    f"{self.uri} refused the connection: missing or wrong token "
                    "(pass token=... with the server's token)",
                    code="unauthorized",
                ) from None
            raise PolicyServerError(f"{self.uri} refused the connection: HTTP {status}") from None
        except InvalidHandshake as exc:
            hint = "" if ssl_context is not None else "; if the server uses TLS, pass ssl_context"
            raise PolicyServerError(
                f"WebSocket handshake with {self.uri} failed: {exc}{hint}", code="handshake"
            ) from None
        self._sent_task: str | None = None
        self.metadata: dict[str, Any] = self._call({"op": "metadata"})["metadata"]

    # ---- public API ---------------------------------------------------------------------
    def act(self, obs: dict[str, Any]) -> np.ndarray:
        """Send one observation; return the policy's (H, A) float32 action chunk."""
        return self._observe("act", obs)["actions"]

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """Send one observation; return one (A,) action from this connection's chunk broker."""
        return self._observe("step", obs)["action"]

    def stats(self) -> dict[str, Any]:
        """Server-wide counters (forwards, requests, mean_batch, connections)."""
        return self._call({"op": "stats"})["stats"]

    def reset(self) -> None:
        """Start a new episode: the server forgets this connection's current chunk."""
        self._call({"op": "reset"})

    def close(self) -> None:
        """Close the connection (also on leaving a ``with`` block)."""
        self._stack.close()

    def __enter__(self) -> PolicyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals ----------------------------------------------------------------------
    def _observe(self, op: str, obs: dict[str, Any]) -> dict[str, Any]:
        payload = dict(obs)
        task = payload.get(TASK)
        if task is not None and task == self._sent_task:
            del payload[TASK]  # the server still has it for this connection
        reply = self._call({"op": op, "obs": payload})
        if task is not None:
            self._sent_task = task
        return reply

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            self._ws.send(codec.encode(request))
            reply = codec.decode(self._ws.recv(timeout=self.timeout))
        except ConnectionClosed as exc:
            if exc.rcvd and exc.rcvd.code == 1009:
                reason = "message too big for the server"
            else:  # e.g. "idle for 120 s (idle_timeout_s)": the server's close reason
                reason = (exc.rcvd.reason if exc.rcvd else "") or exc
            raise PolicyServerError(
                f"connection to {self.uri} closed: {reason}", "closed"
            ) from None
        except TimeoutError:
            raise PolicyServerError(
                f"no reply from {self.uri} within {self.timeout} s", "timeout"
            ) from None
        if not isinstance(reply, dict) or "ok" not in reply:
            raise PolicyServerError(f"malformed reply from {self.uri}: {reply!r:.200}", "protocol")
        if not reply["ok"]:
            raise PolicyServerError(str(reply.get("error")), str(reply.get("code", "bad_request")))
        return reply
