"""The learner of a DAgger generation run (``vla data generate --learner CKPT``).

    parent: LearnerSpec (validated: folder, probability, block, device) --check_learner-->
            the checkpoint's metadata (no weights) against the suite, image size and rate
    worker: load_learner(spec) once per process -> Policy
            dagger_rollout(env, expert, spec, seed) -> sim.dagger.DaggerDriver in
            vla.rollout.episode.run_episode: the learner drives some blocks, every label is the expert's

The spec travels in each ``EpisodeJob`` (it is small and picklable); the policy itself is
loaded in the worker, once, and cached for the worker's lifetime.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vla.rollout.episode import run_episode

DEVICES = ("cpu", "cuda", "auto")


@dataclass(frozen=True)
class LearnerSpec:
    """A DAgger learner: a Policy folder, how often the expert drives, and where it runs."""

    path: str  # a Policy checkpoint folder (config.json, model.safetensors, ...)
    expert_prob: float = 0.5  # fraction of control blocks the expert drives (1: plain expert)
    block: int = 4  # control steps per block: who drives is drawn once per block
    device: str = "cpu"  # cpu, cuda or auto (cuda when available)
    text_cache: str | None = None  # MiniLM instruction states, for a machine without MiniLM

    def __post_init__(self) -> None:
        folder = Path(self.path)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"--learner {self.path}: not a policy checkpoint folder (no config.json); pass the "
                "folder written by `vla train` (e.g. checkpoints/pick_place_v7 or <run>/final)"
            )
        if not 0.0 <= self.expert_prob <= 1.0:
            raise ValueError(
                f"--expert-prob is the fraction of blocks the expert drives: use 0..1 (e.g. 0.5), "
                f"got {self.expert_prob}"
            )
        if self.block < 1:
            raise ValueError(f"--dagger-block must be >= 1 control step, got {self.block}")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ValueError(f"--learner-device must be one of {DEVICES} (or cuda:N), "
                             f"got {self.device!r}")  # fmt: skip
        if self.text_cache is not None and not Path(self.text_cache).is_file():
            raise FileNotFoundError(
                f"--text-cache {self.text_cache}: no such file; write it with `vla text-cache`"
            )

    def identity(self) -> dict[str, Any]:
        """What a resumed run must share: the same learner, mixed with the expert the same way.
        The path is absolute so a resume from another directory still matches."""
        return {"path": str(Path(self.path).resolve()), "expert_prob": self.expert_prob,
                "block": self.block}  # fmt: skip


def check_learner(spec: LearnerSpec, suite: str, image_size, control_hz: float) -> None:
    """Raise naming the fix when the checkpoint cannot act in this suite (read without weights,
    in the parent, before any worker starts)."""
    from sim.tasks import suite_format
    from vla.policy.checkpoint import PolicyMeta

    meta = PolicyMeta.read(Path(spec.path))
    fmt = suite_format(suite)
    if meta.action_space != fmt.action_space or len(meta.action_names) != len(fmt.action_names):
        raise ValueError(
            f"--learner {spec.path} acts in {meta.action_space!r} ({len(meta.action_names)}-D) but "
            f"suite {suite!r} in {fmt.action_space!r} ({len(fmt.action_names)}-D): pass a "
            f"checkpoint trained on {suite!r} data"
        )
    if tuple(meta.image_size) != tuple(image_size):
        h, w = meta.image_size
        raise ValueError(
            f"--learner {spec.path} sees {h}x{w} images, the dataset renders "
            f"{tuple(image_size)}: pass --image-size {h} {w}"
        )
    if abs(float(meta.control_hz) - float(control_hz)) > 1e-6:
        raise ValueError(
            f"--learner {spec.path} was trained at {meta.control_hz} Hz, suite {suite!r} runs "
            f"at {control_hz} Hz: pass a checkpoint trained on this suite's data"
        )


_LEARNERS: dict[LearnerSpec, Any] = {}  # per process: the loaded policy of each spec


def resolve_device(device: str, option: str = "--learner-device") -> str:
    """``device`` with "auto" resolved; a CUDA device on a machine without one is refused,
    naming ``option`` (the command-line flag that set it)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"{option} {device}: no CUDA device here; use cpu or auto")
    return device


def load_learner(spec: LearnerSpec):
    """The spec's Policy, loaded once per process. In a worker process torch gets one thread:
    W workers share the cores (see vla.eval.runner.init_worker for the measured difference)."""
    policy = _LEARNERS.get(spec)
    if policy is None:
        import torch

        from vla.policy import Policy

        if mp.parent_process() is not None:
            torch.set_num_threads(1)
        policy = Policy.from_pretrained(spec.path, device=resolve_device(spec.device),
                                        text_cache=spec.text_cache)  # fmt: skip
        _LEARNERS[spec] = policy
    return policy


def dagger_rollout(env, expert, spec: LearnerSpec, seed: int, action_noise: float = 0.0,
                   learner=None):  # fmt: skip
    """One DAgger episode: (vla.rollout.EpisodeResult with the expert's labels, the
    sim.dagger.DaggerDriver that ran it: steps the learner drove, executed actions). DART noise,
    if any, perturbs whatever drives. ``learner`` overrides the spec's policy (tests)."""
    from sim.dagger import DaggerDriver

    learner = load_learner(spec) if learner is None else learner
    driver = DaggerDriver(expert, learner, spec.expert_prob, spec.block, seed=seed)
    result = run_episode(env, driver, seed=seed, record=True, action_noise=action_noise,
                         execute=driver.executed_action)  # fmt: skip
    return result, driver
