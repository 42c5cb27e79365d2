"""Benchmarks, seeding and load tools (``python -m bench --help``); results go to BENCHMARKS.md.

Nothing here is imported by the service. Every server these tools start and every request they
send stays on the loopback interface, and every run is bounded in count and time.
"""
