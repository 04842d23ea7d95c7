"""Helpers every benchmark shares."""
import time

import numpy as np


def median_seconds(fn, repeat=30, warmup=5, clock=time.perf_counter):
    """Median time of fn() by `clock` (wall time by default) over `repeat` runs after `warmup` runs
    (the machine is noisy)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return float(np.median(times))
