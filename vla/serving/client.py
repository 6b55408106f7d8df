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
from websockets.frames import CloseCode
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


class _ClosedIdle(PolicyServerError):
    """The server closed this connection as idle (close code 1001): reconnect and retry."""


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
        """Connect (``wss://`` when ``ssl_context`` is given) and fetch the policy metadata.

        A connection the server closed for idleness (or to admit another robot while this one
        was idle) is opened again on the next call, once; ``reconnects`` counts them.
        """
        self._headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        self.uri = f"{'wss' if ssl_context is not None else 'ws'}://{host}:{port}"
        self.timeout = timeout
        self._max_size = max_message_bytes
        self._ssl = ssl_context
        self.reconnects = 0
        self._stack = ExitStack()
        self._connect()

    def _connect(self) -> None:
        # entering connect() as a context works on websockets 12..17+ (17.1 deprecates the
        # plain call); ExitStack keeps the connection open past __init__
        self._stack.close()
        self._stack = ExitStack()
        try:
            self._ws = self._stack.enter_context(
                connect(
                    self.uri,
                    additional_headers=self._headers,
                    max_size=self._max_size,
                    compression=None,
                    open_timeout=self.timeout,
                    subprotocols=[VLA_SUBPROTOCOL],  # else the server may take us for openpi
                    ssl=self._ssl,
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
            hint = "" if self._ssl is not None else "; if the server uses TLS, pass ssl_context"
            raise PolicyServerError(
                f"WebSocket handshake with {self.uri} failed: {exc}{hint}", code="handshake"
            ) from None
        self._sent_task: str | None = None  # a new connection has no instruction yet
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
        return self._request(lambda: {"op": "stats"})["stats"]

    def reset(self) -> None:
        """Start a new episode: the server forgets this connection's current chunk."""
        self._request(lambda: {"op": "reset"})

    def close(self) -> None:
        """Close the connection (also on leaving a ``with`` block)."""
        self._stack.close()

    def __enter__(self) -> PolicyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals ----------------------------------------------------------------------
    def _observe(self, op: str, obs: dict[str, Any]) -> dict[str, Any]:
        def request() -> dict[str, Any]:
            payload = dict(obs)
            if TASK in payload and payload[TASK] == self._sent_task:
                del payload[TASK]  # the server still has it for this connection
            return {"op": op, "obs": payload}

        reply = self._request(request)
        if obs.get(TASK) is not None:
            self._sent_task = obs[TASK]
        return reply

    def _request(self, make: Any) -> dict[str, Any]:
        """``_call(make())``, reconnecting once when the server had closed an idle connection
        (the request is rebuilt: the new connection has no instruction yet)."""
        try:
            return self._call(make())
        except _ClosedIdle as exc:
            try:
                self._connect()
            except PolicyServerError as again:
                raise PolicyServerError(f"{exc}; reconnecting failed: {again}", "closed") from None
            self.reconnects += 1
            return self._call(make())

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            self._ws.send(codec.encode(request))
            reply = codec.decode(self._ws.recv(timeout=self.timeout))
        except ConnectionClosed as exc:
            if exc.rcvd and exc.rcvd.code == 1009:
                reason = "message too big for the server"
            else:  # e.g. "idle for 120 s (idle_timeout_s)": the server's close reason
                reason = (exc.rcvd.reason if exc.rcvd else "") or exc
            error = _ClosedIdle if exc.rcvd and exc.rcvd.code == CloseCode.GOING_AWAY else None
            raise (error or PolicyServerError)(
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
