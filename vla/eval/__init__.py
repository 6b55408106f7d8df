"""Closed-loop evaluation in simulation: ``vla eval`` (runner, report, Wilson intervals)."""
