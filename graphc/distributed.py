"""Data-parallel training across processes, Horovod-style, on MPI (mpi4py):

    import graphc.distributed as hvd
    hvd.init()
    opt = hvd.DistributedOptimizer(graphc.train.AdamOptimizer(1e-3))   # gradients averaged across ranks
    train_op = opt.minimize(loss)
    sess.run(hvd.broadcast_global_variables(0))                       # once, after initialization

Run it with `graphc launch -n 4 python train.py` (or a cluster's mpirun/srun). The collectives are graph
ops (graphc/ops/collective.py) that the runtime executes between kernels (runtime/collectives.py).
A process started without an MPI launcher is rank 0 of 1 and never loads MPI. Building or running a
collective calls init() if the script has not.
"""
from .mpi import (FUSION_BYTES, TIMEOUT_S, Average, DistributedError, Sum, init, is_initialized,  # noqa: F401
                  local_rank, local_size, rank, size)


# ---- graph ops --------------------------------------------------------------------------------
def allreduce(tensor, op=Average, name=None):
    """The sum (op=Sum) or mean (op=Average) of `tensor` over all ranks, as a graph op."""
    from .ops.collective import allreduce as _allreduce
    return _allreduce(tensor, op, name=name)


def allgather(tensor, name=None):
    """Every rank's `tensor` concatenated along axis 0 in rank order (same shape on every rank)."""
    from .ops.collective import allgather as _allgather
    return _allgather(tensor, name=name)


def broadcast(tensor, root_rank=0, name=None):
    """Rank `root_rank`'s value of `tensor`, on every rank."""
    from .ops.collective import broadcast as _broadcast
    return _broadcast(tensor, root_rank, name=name)


def broadcast_global_variables(root_rank=0, name=None):
    """An op that sets every global variable to its value on `root_rank` (run once after initializing)."""
    from .ops.state import assign, group
    from .variables import global_variables
    return group([assign(v, broadcast(v.value(), root_rank)) for v in global_variables()],
                 name=name or "broadcast_global_variables")


class DistributedOptimizer:
    """Wraps a graphc optimizer: its gradients are averaged (or summed) over all ranks before they are
    applied. Gradients are allreduced in buckets of about `fusion_bytes` (passes/fuse_allreduce.py)."""

    def __init__(self, optimizer, op=Average, fusion_bytes=FUSION_BYTES, name=None):
        self.optimizer, self.op, self.fusion_bytes = optimizer, op, int(fusion_bytes)
        self.name = name or f"Distributed{optimizer.name}"

    def compute_gradients(self, loss, var_list=None, **kwargs):
        """The wrapped optimizer's (gradient, variable) pairs, each gradient allreduced over the ranks."""
        from .ops.collective import allreduce as _allreduce
        pairs = self.optimizer.compute_gradients(loss, var_list, **kwargs)
        return [(None if g is None else _allreduce(g, self.op, fusion_bytes=self.fusion_bytes), v) for g, v in pairs]

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """The wrapped optimizer's update op."""
        return self.optimizer.apply_gradients(grads_and_vars, global_step, name)

    def minimize(self, loss, global_step=None, var_list=None, name=None, **unused):
        """compute_gradients (allreduced) then apply_gradients."""
        return self.apply_gradients(self.compute_gradients(loss, var_list), global_step, name)

    def __getattr__(self, attr):  # learning_rate, slots... of the wrapped optimizer
        if attr == "optimizer":
            raise AttributeError(attr)
        return getattr(self.optimizer, attr)
