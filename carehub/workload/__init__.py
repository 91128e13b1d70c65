"""Supervisor figures: workload per care manager, team totals and prevention coverage."""
