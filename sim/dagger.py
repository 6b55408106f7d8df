"""DAgger data collection: the learner drives, the scripted expert labels every state it visits.

    obs_t --expert.resync() if the learner drove step t-1--> expert.select_action -> label_t
         \\-> learner.select_action -> proposal_t
    executed_t = label_t on an ``expert_prob`` fraction of control blocks, else proposal_t
    recorded: (obs_t, label_t)   (vla.rollout.episode.run_episode with execute=driver.executed_action)

Behaviour cloning only ever sees the expert's own states (and DART's small perturbations of
them); a policy's mistakes take it to states no demonstration covers, and it compounds from
there. DAgger (Ross et al., 2011) labels the learner's own states with the expert's action, so
the next round learns the corrections it needs. The scripted experts are closed loop on
privileged state, so they can label any state; ``resync`` keeps their phase bookkeeping true to
the state the learner left the arm in.

Control passes in blocks of ``block`` steps, so the learner runs its chunks the way it does when
deployed (the default execution horizon re-plans every 2 steps) rather than alternating every
step with the expert.
"""

from __future__ import annotations

import numpy as np


class DaggerDriver:
    """An agent for ``run_episode``: ``select_action`` returns the expert's label (what gets
    recorded); ``executed_action`` returns what the arm actually executes."""

    def __init__(self, expert, learner, expert_prob: float = 0.5, block: int = 4, seed: int = 0):
        if not 0.0 <= expert_prob <= 1.0:
            raise ValueError(f"expert_prob is a probability: use 0..1, got {expert_prob}")
        if block < 1:
            raise ValueError(f"block must be >= 1 control step, got {block}")
        self.expert, self.learner = expert, learner
        self.expert_prob, self.block, self.seed = float(expert_prob), int(block), int(seed)
        self.reset()

    def reset(self) -> None:
        self.expert.reset()
        self.learner.reset()
        self.rng = np.random.default_rng([self.seed, 0xDA66E4])
        self.expert_drives = True
        # per step of the episode: the action executed (before any DART noise), and whether the
        # learner chose it (``take_over`` replays an episode from these)
        self.executed: list[np.ndarray] = []
        self.learner_drove_at: list[bool] = []

    @property
    def step(self) -> int:
        """Control steps taken so far this episode."""
        return len(self.executed)

    @property
    def learner_steps(self) -> int:
        """Steps whose executed action was the learner's."""
        return sum(self.learner_drove_at)

    def select_action(self, obs) -> np.ndarray:
        if self.step % self.block == 0:
            self.expert_drives = bool(self.rng.random() < self.expert_prob)
        learner_drove_last = bool(self.learner_drove_at) and self.learner_drove_at[-1]
        if learner_drove_last and hasattr(self.expert, "resync"):  # Meta-World's are stateless
            self.expert.resync()
        label = np.asarray(self.expert.select_action(obs), dtype=np.float32)
        # the learner sees every observation, so its chunk broker stays in step either way
        proposal = np.asarray(self.learner.select_action(obs), dtype=np.float32)
        if proposal.shape != label.shape:
            raise ValueError(
                f"the learner acts in {proposal.shape}, the expert in {label.shape}: DAgger needs "
                "a checkpoint trained on this suite's action space"
            )
        self.executed.append(label if self.expert_drives else proposal)
        self.learner_drove_at.append(not self.expert_drives)
        return label

    def executed_action(self, label: np.ndarray) -> np.ndarray:
        """The action to execute for the label ``select_action`` just returned."""
        if not self.executed:
            raise RuntimeError("executed_action() before select_action()")
        return self.executed[-1]


def handover_steps(learner_drove_at: list[bool]) -> list[int]:
    """Steps at which a stretch of learner control ended and the expert drove next: the states
    the learner left the arm in, with steps left in the episode."""
    drove = learner_drove_at
    return [t for t in range(1, len(drove)) if drove[t - 1] and not drove[t]]


def take_over(env, expert, seed: int, executed, learner_drove_at, t0: int, resync: bool = True):
    """Label-quality probe: does the expert finish the task from the state a DAgger episode
    reached at step ``t0``?

    Replays the episode (reset with ``seed``) with its executed actions up to ``t0`` while the
    expert labels along, exactly as in the DAgger run (``resync`` after every learner step),
    then lets the expert drive until the episode ends (success or the env's step limit). With
    ``resync=False`` the expert never resyncs: the same states, its own stale bookkeeping.
    Returns (success, steps the expert drove)."""
    obs, info = env.reset(seed=int(seed))
    expert.reset()
    t, done = 0, False
    while not done:
        if t > 0 and resync and t <= t0 and learner_drove_at[t - 1]:
            expert.resync()
        label = expert.select_action(obs)
        action = executed[t] if t < t0 else label
        obs, _, terminated, truncated, info = env.step(np.asarray(action, np.float32))
        t += 1
        done = terminated or truncated
    return bool(info["is_success"]), max(0, t - t0)
