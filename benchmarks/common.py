"""Helpers every benchmark shares."""
import time

import numpy as np


def median_seconds(fn, repeat=30, warmup=5):
    """Median wall time of fn() over `repeat` runs after `warmup` runs (the machine is noisy)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))
