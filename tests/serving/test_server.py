"""The real policy server on loopback with the real client: actions, concurrency, auth, binding."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from fake_policy import TOKEN, FakePolicy, make_obs

from vla.constants import TASK
from vla.serving.client import AuthenticationError, PolicyClient, PolicyServerError
from vla.serving.server import PolicyServer, ServerConfig, read_token_file

REPO = Path(__file__).resolve().parents[2]


def test_actions_equal_calling_the_policy(server, fake_policy: FakePolicy) -> None:
    with PolicyClient(port=server.port) as client:
        assert client.metadata["camera_names"] == ["scene", "wrist"]
        assert client.metadata["chunk_size"] == 4
        for seed in range(5):
            obs = make_obs(seed)
            chunk = client.act(obs)
            assert chunk.dtype == np.float32 and chunk.shape == (4, 7)
            np.testing.assert_array_equal(chunk, fake_policy.act(obs))


def test_step_uses_a_per_connection_broker(server, fake_policy: FakePolicy) -> None:
    obs_a, obs_b = make_obs(1), make_obs(2)
    with PolicyClient(port=server.port) as a, PolicyClient(port=server.port) as b:
        expected_a, expected_b = fake_policy.act(obs_a), fake_policy.act(obs_b)
        # n_action_steps = 2: actions 0 and 1 of a chunk, then a re-plan; robots do not interfere
        got_a = [a.select_action(obs_a) for _ in range(3)]
        got_b = b.select_action(obs_b)
        np.testing.assert_array_equal(got_a[0], expected_a[0])
        np.testing.assert_array_equal(got_a[1], expected_a[1])
        np.testing.assert_array_equal(got_a[2], expected_a[0])
        np.testing.assert_array_equal(got_b, expected_b[0])
        a.reset()  # drops a's half-executed chunk
        np.testing.assert_array_equal(a.select_action(obs_a), expected_a[0])


def test_instruction_is_cached_per_connection(server, fake_policy: FakePolicy) -> None:
    obs = make_obs(3, task="stack the green cube")
    no_task = {k: v for k, v in obs.items() if k != TASK}
    with PolicyClient(port=server.port) as client:
        with pytest.raises(PolicyServerError, match="missing 'task'"):
            client.act(no_task)
        client.act(obs)
        np.testing.assert_array_equal(client.act(no_task), fake_policy.act(obs))
    with PolicyClient(port=server.port) as other:  # a new connection starts without one
        with pytest.raises(PolicyServerError, match="missing 'task'"):
            other.act(no_task)


def test_concurrent_clients_are_batched_and_correct() -> None:
    policy = FakePolicy(delay_s=0.02)  # a slow forward lets requests pile up into batches
    handle = PolicyServer(policy, ServerConfig(port=0, batch_window_ms=10)).start_in_thread()
    n_robots, n_requests = 6, 5
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_robots)

    def robot(i: int) -> None:
        try:
            with PolicyClient(port=handle.port) as client:
                barrier.wait()
                for j in range(n_requests):
                    obs = make_obs(100 * i + j, task=f"robot {i}")
                    np.testing.assert_array_equal(client.act(obs), policy.act(obs))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=robot, args=(i,)) for i in range(n_robots)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with PolicyClient(port=handle.port) as observer:
        stats = observer.stats()
    handle.stop()
    assert stats["requests"] == n_robots * n_requests and stats["connections"] == 1
    assert stats["forwards"] == len(policy.batch_sizes) and stats["mean_batch"] > 1
    assert not errors, errors
    assert sum(policy.batch_sizes) == n_robots * n_requests
    assert max(policy.batch_sizes) > 1, policy.batch_sizes
    assert len(policy.batch_sizes) < n_robots * n_requests


def test_wrong_or_missing_token_is_rejected(token_server) -> None:
    with pytest.raises(AuthenticationError, match="missing or wrong token"):
        PolicyClient(port=token_server.port)
    with pytest.raises(AuthenticationError):
        PolicyClient(port=token_server.port, token=TOKEN[:-1] + "X")
    with PolicyClient(port=token_server.port, token=TOKEN) as client:
        assert client.act(make_obs(0)).shape == (4, 7)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "robot-server.local"])
def test_non_loopback_bind_without_token_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="refusing to bind"):
        ServerConfig(host=host)
    config = ServerConfig(host=host, token=TOKEN)
    assert config.host == host and TOKEN not in repr(config)


def test_loopback_hosts_need_no_token() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert ServerConfig(host=host).token is None


def test_bad_configs_name_the_fix(tmp_path) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        ServerConfig(token="short")
    with pytest.raises(ValueError, match="max_batch"):
        ServerConfig(max_batch=0)
    with pytest.raises(ValueError, match="does not exist"):
        read_token_file(tmp_path / "missing")
    (tmp_path / "t").write_text("tiny\n")
    with pytest.raises(ValueError, match="at least 16"):
        read_token_file(tmp_path / "t")
    (tmp_path / "t").write_text(TOKEN + "\n")
    assert read_token_file(tmp_path / "t") == TOKEN


def test_policy_without_metadata_is_refused() -> None:
    class NoMeta:
        def predict_batch(self, observations):
            return np.zeros((len(observations), 1, 7), np.float32)

    with pytest.raises(TypeError, match="metadata"):
        PolicyServer(NoMeta())


def test_client_module_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import vla.serving.client\n"
        "bad = [m for m in ('torch', 'transformers', 'pickle5') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_temporal_ensemble_predicts_every_step() -> None:
    policy = FakePolicy()
    config = ServerConfig(port=0, temporal_ensemble=True)
    handle = PolicyServer(policy, config).start_in_thread()
    try:
        obs = make_obs(4)
        with PolicyClient(port=handle.port) as client:
            first = client.select_action(obs)
            second = client.select_action(obs)
        chunk = policy.act(obs)
        np.testing.assert_allclose(first, chunk[0])
        # step 1 averages chunk[1] (older, weight 1) and the new chunk[0] (weight e^-0.01)
        w = np.exp(-0.01)
        np.testing.assert_allclose(second, (chunk[1] + w * chunk[0]) / (1 + w), rtol=1e-5)
        assert sum(policy.batch_sizes) == 2  # a forward on every step
    finally:
        handle.stop()


class PickyPolicy(FakePolicy):
    """Refuses (ValueError) any batch holding an instruction with 'juggle' in it."""

    attempts: list[int]

    def predict_batch(self, observations: list[dict]) -> np.ndarray:
        self.attempts = [*getattr(self, "attempts", []), len(observations)]
        if any("juggle" in o[TASK] for o in observations):
            raise ValueError("instruction has 40 tokens, over the model's max_text_tokens=32")
        return super().predict_batch(observations)


def test_one_bad_request_does_not_sink_its_batch() -> None:
    policy = PickyPolicy(delay_s=0.05)
    handle = PolicyServer(policy, ServerConfig(port=0, batch_window_ms=300)).start_in_thread()
    barrier, out = threading.Barrier(3), {}

    def robot(i: int, task: str) -> None:
        with PolicyClient(port=handle.port) as client:
            barrier.wait()
            try:
                out[i] = client.act(make_obs(i, task=task))
            except PolicyServerError as exc:
                out[i] = exc

    threads = [threading.Thread(target=robot, args=(i, t)) for i, t in
               enumerate(["pick the cube", "juggle the cube", "stack the cube"])]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    handle.stop()
    assert isinstance(out[1], PolicyServerError) and out[1].code == "bad_request"
    assert "max_text_tokens" in str(out[1])
    np.testing.assert_array_equal(out[0], policy.act(make_obs(0, task="pick the cube")))
    np.testing.assert_array_equal(out[2], policy.act(make_obs(2, task="stack the cube")))
    assert max(policy.attempts) >= 2  # they shared a forward, which failed, then ran one by one
    assert sorted(policy.batch_sizes) == [1, 1]


def test_cli_refuses_public_bind_without_token(tmp_path) -> None:
    cmd = [sys.executable, "-m", "vla.cli.main", "serve", "--checkpoint", str(tmp_path),
           "--host", "0.0.0.0"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 2
    assert "refusing to bind to non-loopback host '0.0.0.0' without a token" in out.stderr
    assert "Traceback" not in out.stderr
