"""Capacity: the scheduler simulated with its own policy (simulation), and the closed-form model (model)."""
