"""The rollout engine: the one episode loop, result type, worker pool and seed functions behind
every command that drives the simulator.

    vla eval ---------------\\
    vla data generate -------+--> jobs (seeds: vla.rollout.jobs) --> pool.run_jobs (workers)
    vla sim run, expert -----/        worker: sim.make -> episode.run_episode -> EpisodeResult
    benchmark (suite_run)

``episode`` and ``pool`` need only numpy and the standard library; ``jobs`` and ``suite_run``
import ``sim`` (the engines and splits are its lists).
"""

from vla.rollout.episode import EpisodeResult, run_episode

__all__ = ["EpisodeResult", "run_episode"]
