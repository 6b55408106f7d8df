"""The chunk executor (vla/robot/chunks.py): open loop and temporal ensembling, push and pull."""

from __future__ import annotations

import numpy as np
import pytest

from vla.robot.chunks import ChunkBroker, ChunkExecutor

H, D = 5, 3


def test_chunk_executes_first_k_then_asks_again():
    s = ChunkExecutor(3, action_dim=7)
    assert s.needs_chunk()
    chunk = np.arange(8 * 7, dtype=np.float32).reshape(8, 7)
    s.push(chunk)
    assert len(s) == 3 and not s.needs_chunk()
    np.testing.assert_array_equal(s.peek_all(), chunk[:3])
    for i in range(3):
        np.testing.assert_array_equal(s.pop(), chunk[i])
    assert s.needs_chunk() and s.chunks_received == 1
    with pytest.raises(IndexError, match="push"):
        s.pop()


def test_push_replaces_the_queue_and_flush_drops_everything():
    s = ChunkExecutor(8, action_dim=7)
    s.push(np.zeros((8, 7)))
    s.pop()
    s.push(np.ones((8, 7)))  # a new chunk replaces what is left of the old one
    assert len(s) == 8 and np.all(s.peek_all() == 1.0)
    assert s.flush() == 8 and s.needs_chunk() and s.peek_all().shape == (0, 7)
    assert s.chunks_received == 2
    s.reset()
    assert s.chunks_received == 0 and len(s) == 0


def test_bad_chunks_raise():
    s = ChunkExecutor(4, action_dim=7)
    with pytest.raises(ValueError, match=r"\(H, 7\)"):
        s.push(np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"\(H, 7\) with H >= 1"):
        s.push(np.zeros((0, 7)))
    with pytest.raises(ValueError, match="non-finite"):
        s.push(np.full((4, 7), np.nan))
    with pytest.raises(ValueError, match="execute_steps"):
        ChunkExecutor(0, action_dim=7)
    assert s.chunks_received == 0 and s.needs_chunk()  # nothing of a refused chunk is kept
    s.push(np.ones(7))  # one action is a chunk of one
    assert len(s) == 1
    with pytest.raises(ValueError, match=r"\(H, D\)"):  # no action_dim: any D, still 2-D
        ChunkExecutor(4).push(np.zeros((2, 3, 4)))


def test_pull_adapter_passes_non_finite_actions_through():
    broker = ChunkBroker(lambda o: np.full((2, 3), np.nan), 2)
    assert np.isnan(broker.select_action({})).all()
    with pytest.raises(ValueError, match="execution_horizon"):
        ChunkBroker(lambda o: None, 0)


def expected_actions(chunks: list[np.ndarray], steps: int, k: int, ensemble: bool, decay: float):
    """What should come out at each step, written out directly from the definitions.

    Open loop: chunk j is predicted at step j * k and step t executes chunks[t // k][t % k].
    Ensembling: chunk j is predicted at step j; step t averages chunks[j][t - j] over the chunks
    with 0 <= t - j < H, the i-th oldest weighted exp(-decay * i) (float64 here).
    """
    if not ensemble:
        return [chunks[t // k][t % k].astype(np.float32) for t in range(steps)]
    out = []
    for t in range(steps):
        js = [j for j in range(t + 1) if t - j < len(chunks[j])]
        w = [np.exp(-decay * i) for i in range(len(js))]
        out.append(sum(wi * chunks[j][t - j] for wi, j in zip(w, js, strict=True)) / sum(w))
    return out


@pytest.mark.parametrize(
    ("k", "ensemble", "decay"),
    [(1, False, 0.01), (3, False, 0.01), (H, False, 0.01), (2, True, 0.0), (3, True, 0.5),
     (1, True, -0.3)],
)  # fmt: skip
def test_pull_and_push_give_the_same_actions(k: int, ensemble: bool, decay: float):
    rng = np.random.default_rng(k + 10 * ensemble)
    steps = 13
    chunks = [rng.normal(size=(H, D)) for _ in range(steps)]  # float64, cast on the way in

    served = iter(chunks)
    predicted = []
    broker = ChunkBroker(lambda o: predicted.append(o["t"]) or next(served), k, ensemble, decay)
    pulled = [broker.select_action({"t": t}) for t in range(steps)]

    ex = ChunkExecutor(k, action_dim=D, temporal_ensemble=ensemble, ensemble_decay=decay)
    pushed, pushed_at = [], []
    for t in range(steps):
        if ex.needs_chunk():
            ex.push(chunks[len(pushed_at)])
            pushed_at.append(t)
        pushed.append(ex.pop())

    expected = expected_actions(chunks, steps, k, ensemble, decay)
    every = list(range(steps)) if ensemble else list(range(0, steps, k))
    assert predicted == pushed_at == every  # re-planned on the same steps
    for t in range(steps):
        assert pulled[t].dtype == pushed[t].dtype == np.float32 and pulled[t].shape == (D,)
        np.testing.assert_array_equal(pulled[t], pushed[t])
        if ensemble:
            np.testing.assert_allclose(pushed[t], expected[t], rtol=1e-6, atol=1e-6)
        else:
            np.testing.assert_array_equal(pushed[t], expected[t])


def test_ensemble_weights_older_chunks_more_and_peeks_ahead():
    ex = ChunkExecutor(1, action_dim=1, temporal_ensemble=True, ensemble_decay=np.log(2))
    ex.push(np.zeros((3, 1)))
    np.testing.assert_array_equal(ex.pop(), [0.0])
    assert ex.needs_chunk() and len(ex) == 2
    ex.push(np.full((3, 1), 3.0))
    assert not ex.needs_chunk() and len(ex) == 3  # covered up to the new chunk's end
    # step 1: weights 1 (older) and 1/2 -> (0 + 1.5) / 1.5; step 2 likewise; step 3: new only
    np.testing.assert_allclose(ex.peek_all(), [[1.0], [1.0], [3.0]], rtol=1e-6)
    ex.push(np.full((3, 1), 6.0))  # a second push in the same step replaces the first
    assert ex.chunks_received == 3 and len(ex) == 3
    np.testing.assert_allclose(ex.pop(), [2.0], rtol=1e-6)  # (0 + 3) / 1.5
    # no chunk for this step (inference too slow): the queued ones still cover it
    assert ex.needs_chunk()
    np.testing.assert_allclose(ex.pop(), [2.0], rtol=1e-6)  # chunk 0 covers steps 0..2
    np.testing.assert_allclose(ex.pop(), [6.0], rtol=1e-6)  # step 3: the step-1 chunk only
    assert len(ex) == 0 and ex.flush() == 0
    with pytest.raises(IndexError):
        ex.pop()
