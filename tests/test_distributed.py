"""graphc.distributed: collectives as host ops, allreduce bucketing, and 2-process jobs through `graphc launch`
(loopback and shared memory only; tests/dist_worker.py is what each rank runs)."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import graphc as gc
import graphc.distributed as hvd
from graphc.launch import rank_environment

WORKER = os.path.join(os.path.dirname(__file__), "dist_worker.py")


def _run(args, tmp_path, timeout=240, threads="1"):
    """Run a command with TVM_NUM_THREADS=threads in folder tmp_path."""
    env = dict(os.environ, TVM_NUM_THREADS=threads)
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


def _launch(n, args, tmp_path, threads="1", per_rank=False, **kw):
    """`graphc launch -n n python dist_worker.py args`, each rank with `threads` kernel threads."""
    line = [sys.executable, "-m", "graphc.cli", "launch", "-n", str(n)] + (["--threads", threads] if per_rank else [])
    return _run(line + ["python", WORKER, *args], tmp_path, threads=str(n * int(threads)), **kw)


def test_collectives_in_a_single_process_job():
    hvd.init()
    assert (hvd.rank(), hvd.size(), hvd.local_rank(), hvd.local_size()) == (0, 1, 0, 1)
    x = gc.placeholder(gc.float32, [2, 3])
    value = np.arange(6, dtype="float32").reshape(2, 3)
    with gc.Session() as sess:
        avg, total, gathered, bcast = sess.run([hvd.allreduce(x), hvd.allreduce(x, op=hvd.Sum), hvd.allgather(x),
                                                hvd.broadcast(x, 0)], {x: value})
    for got in (avg, total, gathered, bcast):
        np.testing.assert_array_equal(got, value)
    with pytest.raises(ValueError, match="root rank 1"):
        hvd.broadcast(x, 1)


def _mlp_step(optimizer):
    x = gc.placeholder(gc.float32, [8, 6], name="x")
    w1 = gc.Variable(np.linspace(-1, 1, 60, dtype="float32").reshape(6, 10), name="w1")
    w2 = gc.Variable(np.linspace(1, -1, 30, dtype="float32").reshape(10, 3), name="w2")
    b2 = gc.Variable(np.zeros(3, "float32"), name="b2")
    loss = gc.reduce_mean(gc.square(gc.matmul(gc.tanh(gc.matmul(x, w1)), w2) + b2))
    return x, loss, optimizer.minimize(loss), [w1, w2, b2]


def test_distributed_optimizer_buckets_gradients_and_matches_the_wrapped_optimizer():
    feed = np.random.default_rng(0).normal(size=(8, 6)).astype("float32")
    results = {}
    for fusion_bytes in (None, 100):
        gc.reset_default_graph()
        opt = gc.train.MomentumOptimizer(0.05, 0.9)
        if fusion_bytes is not None:
            opt = hvd.DistributedOptimizer(opt, fusion_bytes=fusion_bytes)
        x, loss, train, variables = _mlp_step(opt)
        with gc.Session() as sess:
            sess.run(gc.global_variables_initializer())
            exe = sess.compiled([train, loss], {x: feed})
            losses = [sess.run([train, loss], {x: feed})[1] for _ in range(3)]
            results[fusion_bytes] = (losses, sess.run(variables), exe.kernels)
    for fusion_bytes in (100,):
        for got, want in zip(results[fusion_bytes][1], results[None][1]):
            np.testing.assert_array_equal(got, want)  # size 1: averaging is the identity
    starts = lambda kernels: [i for i, k in enumerate(kernels) if "allreduce_start" in k]
    waits = lambda kernels: [i for i, k in enumerate(kernels) if "allreduce_wait" in k]
    kernels = results[100][2]
    assert len(starts(kernels)) == 3 and len(waits(kernels)) == 3  # gradients of 12, 120, 240 bytes: 3 buckets
    # the first bucket is in flight while the rest of the backward pass runs; waits come after every start
    assert starts(kernels)[1] > starts(kernels)[0] + 1 and min(waits(kernels)) > max(starts(kernels))


def test_memory_plan_keeps_a_bucket_in_flight_alive():
    x, loss, train, _ = _mlp_step(hvd.DistributedOptimizer(gc.train.GradientDescentOptimizer(0.1), fusion_bytes=100))
    with gc.Session() as sess:
        sess.run(gc.global_variables_initializer())
        plan = sess.compiled([train, loss], {x: np.ones((8, 6), "float32")}).plan
    buffers = plan.buffers
    for i, call in enumerate(plan.calls):
        if call.host_op != "allreduce_start":
            continue
        flat = buffers[call.args[-1]]
        assert flat.offset >= 0, "the bucket buffer is planned in the arena"
        end = next(j for j, c in enumerate(plan.calls) if c.host_op == "allreduce_wait" and c.args[0] == flat.id)
        for c in plan.calls[i + 1:end]:  # nothing written while MPI owns the bucket may overlap it
            for b in (buffers[a] for a in c.args[c.num_inputs:]):
                if b.offset >= 0:
                    assert b.offset + b.nbytes <= flat.offset or flat.offset + flat.nbytes <= b.offset, (c.kernel, b.name)


def test_launch_splits_threads_between_local_ranks():
    env = rank_environment(2, None, base={"TVM_NUM_THREADS": "4"})
    assert env["TVM_NUM_THREADS"] == "2" and env["UCX_TLS"] == "self,sm"
    assert rank_environment(4, ["a", "b"], base={"TVM_NUM_THREADS": "4"})["TVM_NUM_THREADS"] == "2"
    assert rank_environment(3, None, base={"TVM_NUM_THREADS": "2"})["TVM_NUM_THREADS"] == "1"


def test_two_processes_train_like_one(tmp_path):
    """2 ranks on halves of the same global batches end with the weights of 1 process on the whole batches."""
    sys.path.insert(0, os.path.dirname(WORKER))
    try:
        import dist_worker
    finally:
        sys.path.pop(0)
    dist_worker.train(str(tmp_path / "one"))  # this process: a 1-process job
    # the ranks take this process's kernel threads, so they find its kernels in the kernel cache
    two = _launch(2, ["train", "two"], tmp_path, threads=os.environ.get("TVM_NUM_THREADS", str(os.cpu_count())),
                  per_rank=True)
    assert two.returncode == 0, two.stdout + two.stderr
    want = np.load(tmp_path / "one.rank0.npz")
    rank0, rank1 = np.load(tmp_path / "two.rank0.npz"), np.load(tmp_path / "two.rank1.npz")
    for name in want:
        np.testing.assert_allclose(rank0[name], want[name], rtol=0, atol=1e-5)
        np.testing.assert_array_equal(rank0[name], rank1[name])  # ranks agree bitwise


def test_ranks_with_different_graphs_fail_at_the_first_collective(tmp_path):
    job = _launch(2, ["mismatch"], tmp_path, timeout=120)
    assert job.returncode != 0
    assert "ranks run different graphs" in job.stderr and "rank 1 has allreduce_start average float32[4]" in job.stderr, \
        job.stderr
    assert "graphc launch: the job failed" in job.stderr


def test_a_killed_rank_ends_the_job_with_an_error_naming_it(tmp_path):
    t0 = time.monotonic()
    job = _launch(2, ["kill"], tmp_path, timeout=120)
    seconds = time.monotonic() - t0
    assert job.returncode != 0 and seconds < 30
    assert "rank 1 (pid" in job.stderr and "SIGKILL" in job.stderr, job.stderr
