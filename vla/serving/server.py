"""WebSocket policy server: many robots, one policy, batched forwards, no pickle.

    robot ──ws(msgpack)──> handshake: token check (constant time) ──> per-connection Session
                           frame -> size limit -> decode -> parse -> validate every field
                           act/step -> MicroBatcher -> policy.predict_batch -> reply

Each connection has its own :class:`Session` (the last instruction, so a robot may send it only
when it changes, and its own chunk broker for ``step``). A malformed request gets an error reply
and the connection stays open; a frame above the size limit closes only that connection (code
1009). Binds to loopback by default and refuses any other address without a token; with a
certificate it speaks TLS (wss://), which any non-loopback deployment should use.

Limits, so that no client can starve the others: a connection silent for ``idle_timeout_s``
is closed; when ``max_connections`` are open, a new robot evicts the connection idle longest
(idle at least ``evict_idle_s``, never one awaiting a reply) or gets HTTP 503; frames above
``max_message_bytes`` close their connection; at most ``RECV_QUEUE`` frames wait per
connection (websockets stops reading the socket beyond that). Instructions are measured in
model tokens when they change, before any forward (an over-long one is a ``bad_request``).

Worst-case memory: the model and its runtime, plus per connection ``RECV_QUEUE`` received
frames of at most ``max_message_bytes`` waiting, and the one being answered with its decoded
copy; plus the instruction cache (``InstructionEmbeddings.max_cached`` entries of at most
``max_text_tokens`` x 384 fp16 values):

    peak ~ model + max_connections * (RECV_QUEUE + 2) * max_message_bytes + text cache
         = model + 64 * 4 * 1 MiB + 1024 * 32 * 768 B ~ model + 256 MiB + 25 MiB  (defaults)

glibc's per-thread malloc arenas add fragmentation on top (benchmarks/serve_fuzz.py: RSS rose
over five rounds of 2,000 hostile frames with Python's traced memory flat; with
``MALLOC_ARENA_MAX=2`` in the environment it levels off after the second round).

openpi clients (``openpi.py``) are served on the same port: a connection that offers no
subprotocol and sends nothing for ``OPENPI_PROBE_S`` gets the metadata on connect, as openpi's
server sends it, and is answered in openpi's shape from then on.

``vla serve --workers N`` runs N such servers in N processes on one port (``workers.py``): one
process's event loop nears its core's limit around 128 robots at 30 Hz, whatever the model.

``vla serve`` loads the policy with ``policy_adapter.load_policy``: ``FastPolicy`` (fp16, CUDA
graphs, batch buckets up to ``max_batch``) on CUDA, the plain ``Policy`` on CPU or with
``--no-fast``. Start it with ``vla serve --checkpoint PATH`` or, in Python::

    server = PolicyServer(policy, ServerConfig(port=0))
    handle = server.start_in_thread()   # handle.port, handle.stop()
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from vla.robot.chunks import ChunkBroker
from vla.serving import codec, openpi
from vla.serving.batcher import MicroBatcher
from vla.serving.config import MIN_TOKEN_CHARS, ServerConfig, is_loopback, read_token_file
from vla.serving.policy_adapter import instruction_meter, server_metadata, spec_from_policy
from vla.serving.protocol import (
    VLA_SUBPROTOCOL,
    ObservationSpec,
    RequestError,
    error_reply,
    parse_request,
    validate_observation,
)
from vla.serving.worker_slot import PUBLISH_S, WorkerSlot

log = logging.getLogger("vla.serving")
__all__ = [  # the settings live in config.py; importing them from here keeps working
    "MIN_TOKEN_CHARS", "PolicyServer", "ServerConfig", "ServerHandle", "is_loopback",
    "read_token_file",
]  # fmt: skip
RECV_QUEUE = 2  # frames buffered per connection; a robot waits for each reply anyway
# a client that offers no subprotocol and says nothing this long is taken for an openpi client
# (which waits for the metadata first); our raw-protocol clients send at once
OPENPI_PROBE_S = 0.3


class _NeedChunk(Exception):
    """Raised inside the broker when it wants a new chunk (fetched asynchronously, then retried)."""


class Session:
    """State of one robot connection: its last instruction and its own chunk broker.

    The broker is ``vla.robot.chunks.ChunkBroker`` (the one ``Policy.select_action`` uses). Its
    ``predict`` hands over a chunk fetched beforehand through the batcher; when the broker asks
    without one, ``_NeedChunk`` aborts the call before any broker state changes, the server
    awaits a batched forward, and the call is repeated.
    """

    def __init__(self, execution_horizon: int, temporal_ensemble: bool) -> None:
        self.task: str | None = None  # last instruction sent on this connection
        self.requests = 0
        self.errors = 0
        self.last_active = time.monotonic()  # last request received or reply sent
        self.busy = False  # a request of this connection is being answered
        self.closing = False  # chosen for eviction
        self._chunk: np.ndarray | None = None
        self.broker = ChunkBroker(self._take_chunk, execution_horizon, temporal_ensemble)

    def _take_chunk(self, obs: dict) -> np.ndarray:
        if self._chunk is None:
            raise _NeedChunk
        chunk, self._chunk = self._chunk, None
        return chunk

    async def step(self, obs: dict, forward) -> np.ndarray:
        """One action for this control step; ``forward(obs)`` is awaited only when needed."""
        try:
            return self.broker.select_action(obs)
        except _NeedChunk:
            self._chunk = await forward(obs)
            return self.broker.select_action(obs)


@dataclass
class ServerHandle:
    """A server running in a background thread (tests, notebooks)."""

    port: int
    thread: threading.Thread
    _loop: asyncio.AbstractEventLoop
    _stop: asyncio.Event
    server: PolicyServer = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout)


class PolicyServer:
    """Serves one policy (anything with ``predict_batch`` and ``metadata``) over WebSocket."""

    def __init__(self, policy: Any, config: ServerConfig | None = None,
                 worker: WorkerSlot | None = None) -> None:  # fmt: skip
        """``worker``: this server is one of ``vla serve --workers N`` (vla/serving/workers.py):
        the connection cap and ``stats`` then count every worker."""
        self.policy = policy
        self.config = config or ServerConfig()
        self.worker = worker
        spec = spec_from_policy(policy)
        self.spec = ObservationSpec(
            spec.camera_names, spec.image_size, spec.state_dim, self.config.max_instruction_chars
        )
        if self.spec.request_bytes > self.config.max_message_bytes:
            raise ValueError(
                f"a request for this policy takes up to {self.spec.request_bytes} bytes, over "
                f"max_message_bytes={self.config.max_message_bytes}: pass --max-message-bytes "
                f"{2 * self.spec.request_bytes}"
            )
        self.metadata = server_metadata(policy, self.spec)
        # openpi clients get this on connect; "ok"/"metadata" also make it our metadata reply,
        # for a client of ours that was slower than OPENPI_PROBE_S (see _handle)
        self._hello = {**self.metadata, "ok": True, "metadata": self.metadata}
        self._measure = instruction_meter(policy)
        self.batcher: MicroBatcher | None = None
        self._sessions: dict[ServerConnection, Session] = {}
        self.closed_idle = 0
        self.evicted = 0

    @property
    def _connections(self) -> int:
        """This process's connections (what its batcher waits for)."""
        return len(self._sessions)

    def _all_connections(self) -> int:
        """Connections of the whole server, every worker's (what the cap counts)."""
        if self.worker is None:
            return self._connections
        self._publish()
        return self.worker.shared.connections()

    def _publish(self) -> None:
        """Copy this worker's counters into the shared table."""
        b = self.batcher.stats if self.batcher is not None else None
        self.worker.shared.write(self.worker.index, {
            "forwards": b.forwards if b else 0, "requests": b.requests if b else 0,
            "forward_s": b.forward_s if b else 0.0, "connections": self._connections,
            "closed_idle": self.closed_idle, "evicted": self.evicted, "pid": os.getpid(),
        })  # fmt: skip

    # ---- handshake ----------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Any) -> Any:
        if request.path == "/healthz":  # as openpi's server: a liveness probe, no handshake
            return connection.respond(HTTPStatus.OK, "OK\n")
        if self._all_connections() >= self.config.max_connections and not self._evict_one():
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        if self.config.token is None:
            return None
        got = request.headers.get("Authorization", "")
        # "Bearer" is our client's scheme, "Api-Key" openpi's (its api_key argument)
        ok = any(
            hmac.compare_digest(got.encode("utf-8"), f"{scheme} {self.config.token}".encode())
            for scheme in ("Bearer", "Api-Key")
        )
        if not ok:
            log.warning(
                "rejected a connection from %s: missing or wrong token", connection.remote_address
            )
            return connection.respond(HTTPStatus.UNAUTHORIZED, "missing or wrong token\n")
        return None

    def _evict_one(self) -> bool:
        """Close the connection idle longest (>= evict_idle_s, not awaiting a reply) to make
        room; False when every connection is active."""
        now = time.monotonic()
        idle = [
            (now - s.last_active, ws)
            for ws, s in self._sessions.items()
            if not s.busy and not s.closing and now - s.last_active >= self.config.evict_idle_s
        ]
        if not idle:
            return False
        idle_s, ws = max(idle, key=lambda x: x[0])
        self._sessions[ws].closing = True
        self.evicted += 1
        log.info("closing %s, idle %.0f s, to admit another robot", ws.remote_address, idle_s)
        reason = f"idle {idle_s:.0f} s: closed to admit another robot"
        asyncio.get_running_loop().create_task(ws.close(CloseCode.GOING_AWAY, reason))
        return True

    # ---- per-connection loop ------------------------------------------------------------
    async def _recv(self, ws: ServerConnection, session: Session, timeout: float) -> Any:
        """The next message, or None when the connection stayed silent for ``timeout``."""
        try:
            message = await asyncio.wait_for(ws.recv(), timeout)  # recv is cancellation-safe
        except TimeoutError:
            return None
        session.last_active = time.monotonic()
        return message

    async def _handle(self, ws: ServerConnection) -> None:
        session = Session(self.metadata["execution_horizon"], self.config.temporal_ensemble)
        self._sessions[ws] = session
        if self.worker is not None:
            self._publish()
        log.info("robot connected from %s", ws.remote_address)
        idle = self.config.idle_timeout_s
        try:
            openpi_client = False
            if ws.subprotocol == VLA_SUBPROTOCOL or not self.config.openpi:
                first = await self._recv(ws, session, idle)
            else:
                first = await self._recv(ws, session, OPENPI_PROBE_S)
                if first is None:  # silent: an openpi client waiting for the metadata
                    await ws.send(openpi.encode(self._hello))
                    first = await self._recv(ws, session, idle)
                    if _is_metadata_request(first):  # ours, late: the hello was its reply
                        first = await self._recv(ws, session, idle)
                    else:
                        openpi_client = True
            serve = self._serve_openpi if openpi_client else self._serve_vla
            await serve(ws, session, first)
        except ConnectionClosed as exc:
            log.info("connection from %s closed: %s", ws.remote_address, exc)
        finally:
            del self._sessions[ws]
            if self.worker is not None:
                self._publish()

    async def _serve_vla(self, ws: ServerConnection, session: Session, message: Any) -> None:
        while message is not None:
            reply = await self._dispatch(message, session)
            await ws.send(codec.encode(reply))
            session.last_active = time.monotonic()
            message = await self._recv(ws, session, self.config.idle_timeout_s)
        await self._close_idle(ws)

    async def _serve_openpi(self, ws: ServerConnection, session: Session, message: Any) -> None:
        while message is not None:
            await ws.send(await self._openpi_infer(message, session))
            session.last_active = time.monotonic()
            message = await self._recv(ws, session, self.config.idle_timeout_s)
        await self._close_idle(ws)

    async def _close_idle(self, ws: ServerConnection) -> None:
        self.closed_idle += 1
        timeout = self.config.idle_timeout_s
        log.info("closing %s: no request for %g s", ws.remote_address, timeout)
        await ws.close(CloseCode.GOING_AWAY, f"idle for {timeout:g} s (idle_timeout_s)")

    async def _observe(self, raw_obs: Any, session: Session) -> dict:
        """Validate an observation and measure a new instruction in model tokens."""
        obs = validate_observation(raw_obs, self.spec, session.task)
        if obs["task"] != session.task and self._measure is not None:
            loop = asyncio.get_running_loop()
            try:  # in a thread: the first instruction MiniLM has not seen loads its tokenizer
                await loop.run_in_executor(None, self._measure, obs["task"])
            except (ValueError, KeyError) as exc:  # too long, or no embedding and no MiniLM
                raise RequestError(str(exc)) from None
        return obs

    async def _dispatch(self, message: Any, session: Session) -> dict[str, Any]:
        session.requests += 1
        session.busy = True
        try:
            if isinstance(message, str):
                raise RequestError("send binary msgpack frames, not text")
            try:
                request = codec.decode(message, max_len=self.config.max_message_bytes)
            except codec.CodecError as exc:
                raise RequestError(str(exc)) from None
            op, raw_obs = parse_request(request)
            if op == "metadata":
                return {"ok": True, "metadata": self.metadata}
            if op == "stats":
                return {"ok": True, "stats": self.stats()}
            if op == "reset":
                session.broker.reset()
                return {"ok": True}
            obs = await self._observe(raw_obs, session)
            if op == "act":
                reply = {"ok": True, "actions": await self._forward(obs)}
            else:
                reply = {"ok": True, "action": await session.step(obs, self._forward)}
            session.task = obs["task"]  # remembered only once the policy accepted it
            return reply
        except Exception as exc:
            return error_reply(*self._refusal(exc, session))
        finally:
            session.busy = False

    async def _openpi_infer(self, message: Any, session: Session) -> bytes | str:
        """One openpi request: the action chunk in openpi's reply shape, or the error as text
        (openpi's client raises a text frame as the server's error)."""
        session.requests += 1
        session.busy = True
        try:
            if isinstance(message, str):
                raise RequestError("send binary msgpack frames, not text")
            try:
                request = codec.decode(message, max_len=self.config.max_message_bytes)
            except codec.CodecError as exc:
                raise RequestError(str(exc)) from None
            obs = await self._observe(openpi.observation(request), session)
            start = time.perf_counter()
            actions = await self._forward(obs)
            session.task = obs["task"]
            infer_ms = 1e3 * (time.perf_counter() - start)
            return openpi.encode({"actions": actions, "server_timing": {"infer_ms": infer_ms}})
        except Exception as exc:
            message, code = self._refusal(exc, session)
            return f"{code}: {message}"
        finally:
            session.busy = False

    def _refusal(self, exc: Exception, session: Session) -> tuple[str, str]:
        """(message, code) for a request that failed with ``exc``."""
        session.errors += 1
        if isinstance(exc, RequestError):
            return str(exc), "bad_request"
        if isinstance(exc, (ValueError, KeyError, TypeError)):  # the policy refused this input
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            return f"the policy refused the observation: {message}", "bad_request"
        log.error("policy forward failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
        return f"policy error: {type(exc).__name__}: {exc}", "internal"

    def stats(self) -> dict[str, Any]:
        """Server-wide counters: forwards run, requests answered, mean batch, seconds spent in
        ``predict_batch`` (total and mean per forward), open connections, connections closed
        for silence and evicted to admit another. Under ``--workers N``: summed over the
        workers, with each one's own under ``workers``."""
        if self.worker is not None:
            self._publish()
            return self.worker.shared.total()
        b = self.batcher.stats if self.batcher is not None else None
        return {
            "forwards": b.forwards if b else 0,
            "requests": b.requests if b else 0,
            "mean_batch": b.mean_batch if b else 0.0,
            "forward_s": b.forward_s if b else 0.0,
            "mean_forward_ms": b.mean_forward_ms if b else 0.0,
            "connections": self._connections,
            "closed_idle": self.closed_idle,
            "evicted": self.evicted,
        }

    async def _forward(self, obs: dict) -> np.ndarray:
        assert self.batcher is not None, "the server is not running"
        return await self.batcher.submit(obs)

    # ---- running --------------------------------------------------------------------------
    async def serve(self, stop: asyncio.Event, ready: Any = None) -> None:
        """Serve until ``stop`` is set; call ``ready(port)`` once listening."""
        self.batcher = MicroBatcher(
            self.policy.predict_batch,
            self.config.max_batch,
            self.config.batch_window_ms / 1e3,
            expected=lambda: self._connections,
        )
        self.batcher.start()
        if not is_loopback(self.config.host) and self.config.certfile is None:
            log.warning(
                "serving on %s without TLS: the token and observations cross the network in "
                "clear text; pass a certificate (--tls-cert/--tls-key) or use an SSH tunnel",
                self.config.host,
            )
        try:
            async with serve(
                self._handle,
                self.config.host,
                self.config.port,
                max_size=self.config.max_message_bytes,
                process_request=self._process_request,
                compression=None,  # no per-message deflate: CPU cost and decompression bombs
                max_queue=RECV_QUEUE,
                open_timeout=self.config.handshake_timeout_s,  # slow or stalled handshakes
                select_subprotocol=_select_subprotocol,
                ssl=self.config.ssl_context(),
                reuse_port=self.worker is not None,  # every worker binds the same port
            ) as server:
                port = next(iter(server.sockets)).getsockname()[1]
                if self.worker is None:
                    scheme = "wss" if self.config.certfile else "ws"
                    log.info("serving on %s:%d (%s://)", self.config.host, port, scheme)
                else:  # the parent says "serving on" once every worker listens
                    log.info("worker %d/%d listening", self.worker.index + 1, self.worker.count)
                    asyncio.get_running_loop().create_task(self._publish_every(PUBLISH_S))
                if ready is not None:
                    ready(port)
                await stop.wait()
        finally:
            await self.batcher.close()

    async def _publish_every(self, period_s: float) -> None:
        while True:
            self._publish()
            await asyncio.sleep(period_s)

    def serve_forever(self, ready: Any = None) -> None:
        """Block serving until interrupted (Ctrl-C); ``ready(port)`` once listening."""
        asyncio.run(self.serve(asyncio.Event(), ready))

    def start_in_thread(self, timeout: float = 30.0) -> ServerHandle:
        """Start serving in a daemon thread; return once it listens (``handle.port``)."""
        started = threading.Event()
        box: dict[str, Any] = {}

        def _ready(port: int) -> None:
            box["port"] = port
            started.set()

        def _main() -> None:
            async def runner() -> None:
                box["loop"] = asyncio.get_running_loop()
                box["stop"] = asyncio.Event()
                await self.serve(box["stop"], _ready)

            try:
                asyncio.run(runner())
            except BaseException as exc:  # surface bind errors to the caller
                box["error"] = exc
                started.set()

        thread = threading.Thread(target=_main, name="policy-server", daemon=True)
        thread.start()
        if not started.wait(timeout):
            raise TimeoutError("the policy server did not start listening in time")
        if "error" in box:
            err = box["error"]
            raise RuntimeError(f"the policy server failed to start: {err}") from err
        return ServerHandle(box["port"], thread, box["loop"], box["stop"], self)


def _select_subprotocol(connection: ServerConnection, offered: Any) -> str | None:
    """Ours when offered; no subprotocol otherwise (openpi's client and raw clients offer
    none, and websockets would refuse them by default)."""
    return VLA_SUBPROTOCOL if VLA_SUBPROTOCOL in offered else None


def _is_metadata_request(message: Any) -> bool:
    """Whether a raw frame is exactly our ``{"op": "metadata"}`` request."""
    if not isinstance(message, bytes) or len(message) > 64:
        return False
    try:
        return codec.decode(message) == {"op": "metadata"}
    except codec.CodecError:
        return False
