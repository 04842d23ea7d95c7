"""Helpers every benchmark shares."""
import time

import numpy as np


def sample_seconds(fn, repeat=30, warmup=5, clock=time.perf_counter, min_seconds=0.0):
    """Times of fn() by `clock` (wall time by default): `repeat` runs after `warmup` runs, more while
    they add up to less than `min_seconds` (so millisecond workloads are timed over a long window)."""
    for _ in range(warmup):
        fn()
    times = []
    while len(times) < repeat or sum(times) < min_seconds:
        t = clock()
        fn()
        times.append(clock() - t)
    return times


def median_seconds(fn, repeat=30, warmup=5, clock=time.perf_counter, min_seconds=0.0):
    """Median time of fn() over sample_seconds' runs (the machine is noisy)."""
    return float(np.median(sample_seconds(fn, repeat, warmup, clock, min_seconds)))
