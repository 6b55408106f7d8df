"""What `vla eval` drives: a policy checkpoint or the scripted expert, behind one interface.

An *agent source* is built once per worker process (the checkpoint is loaded once) and hands
out an agent per environment: the same ``Policy`` object for a checkpoint, a fresh
``sim.experts.make_expert(env)`` for ``--checkpoint expert``. Agents have ``reset()`` and
``select_action(obs) -> (7,)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXPERT = "expert"


class AgentSource:
    """Loads the checkpoint once; ``agent_for(env)`` returns the agent for one environment."""

    def __init__(
        self,
        checkpoint: str,
        device: str = "cpu",
        execution_horizon: int | None = None,
        temporal_ensemble: bool = False,
        text_cache: str | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.policy: Any = None
        if checkpoint != EXPERT:
            from vla.policy import Policy

            self.policy = Policy.from_pretrained(
                Path(checkpoint), device=device, execution_horizon=execution_horizon,
                temporal_ensemble=temporal_ensemble, text_cache=text_cache,
            )  # fmt: skip

    @property
    def is_expert(self) -> bool:
        return self.policy is None

    def agent_for(self, env: Any) -> Any:
        if self.policy is not None:
            return self.policy
        from sim.experts import make_expert

        return make_expert(env)

    def check_compatible(self, interface: dict[str, Any]) -> None:
        """Raise ValueError naming both sides if the checkpoint does not fit the environment."""
        if self.policy is not None:
            self.policy.check_compatible(**interface)


def checkpoint_image_size(checkpoint: str) -> tuple[int, int] | None:
    """The (H, W) a checkpoint was trained on (None for the expert), read without the weights."""
    if checkpoint == EXPERT:
        return None
    from vla.policy.checkpoint import PolicyMeta

    path = Path(checkpoint)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{path} is not a policy checkpoint (no config.json): pass the folder written by "
            "`vla train` (e.g. <output_dir>/final), or `expert` for the scripted expert"
        )
    meta = PolicyMeta.read(path)
    return (int(meta.image_size[0]), int(meta.image_size[1]))
