"""Real child processes and a webhook receiver, shared by the tests and the benchmarks (entry-point level)."""
