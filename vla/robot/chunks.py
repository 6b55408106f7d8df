"""Action chunks to one action per control step, for the simulator and the robot alike.

    chunk (H, D) --push--> ChunkExecutor --pop--> action (D,) float32, one per control step

A policy predicts H actions at a time; the robot executes one per control period.
:class:`ChunkExecutor` is push-based: the caller asks :meth:`~ChunkExecutor.needs_chunk`, runs the
policy on the newest observation when it says so, pushes the chunk and pops this step's action
(the ROS policy loop, ``vla.ros_core.policy_loop``). :class:`ChunkBroker` is the pull adapter for
a ``predict(obs) -> (H, D)`` callable (``Policy``, ``FastPolicy``, ``OnnxPolicy``, the server).

Open loop (receding horizon): the first K = ``execute_steps`` actions of a chunk are executed,
then a new chunk is asked for; a push replaces whatever is queued.
Temporal ensembling (ACT, Zhao et al. 2023): a chunk is asked for every step and kept whole (K
plays no part); the action for step t is the weighted mean of every chunk that covers t, the i-th
oldest weighted ``exp(-ensemble_decay * i)`` (older predictions weigh more with positive decay,
as in ACT).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class ChunkExecutor:
    """Chunks in (:meth:`push`), one action per control step out (:meth:`pop`).

    ``action_dim`` (optional) is checked on every push; ``require_finite`` refuses chunks with
    NaN or inf. ``len()`` is the number of steps, this one included, that the queued chunks cover.
    """

    def __init__(
        self,
        execute_steps: int,
        action_dim: int | None = None,
        temporal_ensemble: bool = False,
        ensemble_decay: float = 0.01,
        require_finite: bool = True,
    ):
        if execute_steps < 1:
            raise ValueError(f"execute_steps must be >= 1, got {execute_steps}")
        self.execute_steps = execute_steps
        self.action_dim = action_dim
        self.temporal_ensemble = temporal_ensemble
        self.ensemble_decay = ensemble_decay
        self.require_finite = require_finite
        self.reset()

    def reset(self) -> None:
        """Forget queued actions, past chunks and the chunk count (call at every episode start)."""
        # (step of the chunk's first action, chunk), oldest first; only chunks that still cover
        # the current step or a later one (open loop: at most one)
        self._chunks: list[tuple[int, np.ndarray]] = []
        self._step = 0
        self.chunks_received = 0

    def __len__(self) -> int:
        return max((s + len(c) for s, c in self._chunks), default=self._step) - self._step

    def needs_chunk(self) -> bool:
        """Time to run the policy on the newest observation: open loop, when the queue is empty;
        ensembling, when no chunk was pushed yet for this step."""
        if self.temporal_ensemble:
            return not self._chunks or self._chunks[-1][0] != self._step
        return not self._chunks

    def push(self, chunk) -> None:
        """Queue a chunk (H, D) predicted for this step; a single action (D,) is a chunk of one.
        Open loop: replaces the queue with its first ``execute_steps`` actions. Ensembling: joins
        the chunks averaged from this step on (a second push in the same step replaces the first).
        """
        chunk = np.asarray(chunk, dtype=np.float32)
        if chunk.ndim == 1:
            chunk = chunk[None]
        dim = self.action_dim
        if chunk.ndim != 2 or len(chunk) == 0 or (dim is not None and chunk.shape[1] != dim):
            raise ValueError(
                f"policy returned a chunk of shape {chunk.shape}; expected "
                f"(H, {'D' if dim is None else dim}) with H >= 1"
            )
        if self.require_finite and not np.all(np.isfinite(chunk)):
            raise ValueError("policy returned non-finite actions; refusing to queue them")
        if self.temporal_ensemble:
            self._chunks = [(s, c) for s, c in self._chunks if s != self._step]
            self._chunks.append((self._step, chunk))
        else:
            self._chunks = [(self._step, chunk[: self.execute_steps])]
        self.chunks_received += 1

    def pop(self) -> np.ndarray:
        """This step's action (D,) float32; moves on to the next step."""
        if not self._chunks:
            raise IndexError("no queued action; call push() with a new chunk first")
        action = self._action(self._step)
        self._step += 1
        self._chunks = [(s, c) for s, c in self._chunks if self._step - s < len(c)]
        return action

    def peek_all(self) -> np.ndarray:
        """The actions (N, D) of the steps the queue covers, without consuming them (trajectory
        look-ahead; ensembling: the mean of the chunks queued so far for each step)."""
        if not self._chunks:
            return np.zeros((0, self.action_dim or 0), dtype=np.float32)
        return np.stack([self._action(t) for t in range(self._step, self._step + len(self))])

    def flush(self) -> int:
        """Drop every queued action (a stop must never replay old ones); returns how many."""
        n = len(self)
        self._chunks = []
        return n

    def _action(self, t: int) -> np.ndarray:
        if not self.temporal_ensemble:
            s, chunk = self._chunks[0]
            return chunk[t - s]
        preds = np.stack([c[t - s] for s, c in self._chunks if t - s < len(c)])  # (n, D)
        w = np.exp(-self.ensemble_decay * np.arange(len(preds)))
        return ((w[:, None] * preds).sum(0).astype(np.float32) / w.sum()).astype(np.float32)


class ChunkBroker:
    """Pull adapter over :class:`ChunkExecutor`: ``select_action(obs)`` calls
    ``predict(obs) -> (H, D)`` whenever the executor needs a chunk. Chunks are not checked for
    finiteness (what the policy predicts is what comes out)."""

    def __init__(
        self,
        predict: Callable[[dict], np.ndarray],
        execution_horizon: int,
        temporal_ensemble: bool = False,
        ensemble_decay: float = 0.01,
    ):
        if execution_horizon < 1:  # named as the broker's callers know it
            raise ValueError(f"execution_horizon must be >= 1, got {execution_horizon}")
        self.predict = predict
        self.executor = ChunkExecutor(execution_horizon, None, temporal_ensemble, ensemble_decay,
                                      require_finite=False)  # fmt: skip

    @property
    def execution_horizon(self) -> int:
        return self.executor.execute_steps

    @property
    def temporal_ensemble(self) -> bool:
        return self.executor.temporal_ensemble

    @property
    def ensemble_decay(self) -> float:
        return self.executor.ensemble_decay

    def reset(self) -> None:
        """Forget queued actions and past chunks (call at every episode start)."""
        self.executor.reset()

    def select_action(self, obs: dict) -> np.ndarray:
        """The action (D,) float32 for this control step. ``predict`` runs before any state
        changes: if it raises, the call can be repeated as if it had not happened."""
        if self.executor.needs_chunk():
            self.executor.push(self.predict(obs))
        return self.executor.pop()
