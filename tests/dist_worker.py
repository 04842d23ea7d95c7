"""What each rank runs in tests/test_distributed.py (through `graphc launch`, or alone as a 1-process job).

    dist_worker.py train OUT   an MLP trained on fixed global batches; rank r writes OUT.rank<r>.npz
    dist_worker.py mismatch    rank 1 allreduces a tensor of another shape than rank 0
    dist_worker.py kill        rank 1 is killed (SIGKILL) while rank 0 waits in an allreduce
"""
import os
import signal
import sys

import numpy as np

import graphc as gc
import graphc.distributed as hvd

GLOBAL_BATCH, STEPS = 32, 4


def train(out):
    """Each rank trains on its slice of the same global batches; weights start from rank 0's (broadcast)."""
    rank, size = hvd.rank(), hvd.size()
    data = np.random.default_rng(0)
    xs = data.normal(size=(STEPS, GLOBAL_BATCH, 16)).astype("float32")
    ys = data.integers(0, 5, size=(STEPS, GLOBAL_BATCH)).astype("int32")
    gc.set_random_seed(100 + rank)  # different initial weights on every rank: the broadcast must fix them
    x = gc.placeholder(gc.float32, [None, 16], name="x")
    y = gc.placeholder(gc.int32, [None], name="y")
    w1 = gc.Variable(gc.initializers.random_normal_initializer(stddev=0.3)([16, 24]), name="w1")
    b1 = gc.Variable(np.zeros(24, "float32"), name="b1")
    w2 = gc.Variable(gc.initializers.random_normal_initializer(stddev=0.3)([24, 5]), name="w2")
    b2 = gc.Variable(np.zeros(5, "float32"), name="b2")
    logits = gc.matmul(gc.relu(gc.matmul(x, w1) + b1), w2) + b2
    loss = gc.reduce_mean(-gc.reduce_sum(gc.one_hot(y, 5) * gc.log_softmax(logits), axis=1))
    # small buckets: the 4 gradients travel in several non-blocking allreduces
    opt = hvd.DistributedOptimizer(gc.train.MomentumOptimizer(0.1, 0.9), fusion_bytes=1024)
    train_op = opt.minimize(loss)
    shard = slice(rank * GLOBAL_BATCH // size, (rank + 1) * GLOBAL_BATCH // size)
    with gc.Session() as sess:
        sess.run(gc.global_variables_initializer())
        sess.run(hvd.broadcast_global_variables(0))
        for step in range(STEPS):
            sess.run(train_op, {x: xs[step, shard], y: ys[step, shard]})
        values = sess.run([w1, b1, w2, b2])
    np.savez(f"{out}.rank{rank}.npz", w1=values[0], b1=values[1], w2=values[2], b2=values[3])


def mismatch():
    """Ranks whose graphs disagree: rank 1's tensor has another shape."""
    x = gc.placeholder(gc.float32, [3 + hvd.rank()], name="gradient")
    with gc.Session() as sess:
        sess.run(hvd.allreduce(x), {x: np.ones(3 + hvd.rank(), "float32")})


def kill():
    """Rank 1 dies without a word while rank 0 waits for it in an allreduce."""
    x = gc.placeholder(gc.float32, [3], name="x")
    if hvd.rank() == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    with gc.Session() as sess:
        sess.run(hvd.allreduce(x), {x: np.ones(3, "float32")})


if __name__ == "__main__":
    hvd.init()
    mode = sys.argv[1]
    {"train": lambda: train(sys.argv[2]), "mismatch": mismatch, "kill": kill}[mode]()
    print(f"rank {hvd.rank()} done", flush=True)
