"""Jobs for tests/test_embedded_mode.py, importable by dotted name as real jobs are."""
import threading

RUNS: list = []


def record_thread(n: int) -> None:
    RUNS.append((n, threading.current_thread().name))


def fail_twice(name: str) -> None:
    attempt = sum(1 for run_name, _ in RUNS if run_name == name) + 1
    RUNS.append((name, attempt))
    if attempt <= 2:
        raise RuntimeError(f"{name} attempt {attempt} fails")
