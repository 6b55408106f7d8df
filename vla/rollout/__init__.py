"""The rollout engine: the one episode loop, result type, worker pool and seed functions behind
every command that drives the simulator, and demonstration generation on it (``generate``:
scripted experts -> a LeRobot dataset; ``learner``: the DAgger learner of ``--learner`` runs).

    vla eval ---------------\\
    vla data generate -------+--> jobs (seeds: vla.rollout.jobs) --> pool.run_jobs (workers)
    vla sim run, expert -----/        worker: sim.make -> episode.run_episode -> EpisodeResult
    benchmark (suite_run)

``episode`` and ``pool`` need only numpy and the standard library; ``jobs`` and ``suite_run``
import ``sim`` (the engines and splits are its lists); ``generate`` writes through ``vla.data``
and ``learner`` loads a ``vla.policy.Policy``. This layer sits above the data and the policy:
neither imports it (tests/test_layering.py).
"""

from vla.rollout.episode import EpisodeResult, run_episode

__all__ = ["EpisodeResult", "run_episode"]
