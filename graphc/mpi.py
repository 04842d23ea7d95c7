"""The MPI process group under graphc.distributed: init, rank and size, and the array collectives the
runtime calls between kernels (runtime/collectives.py) and the collective ops' references use. Below both
graphc.ops (graphc/ops/collective.py) and the graphc.distributed API, which re-exports it."""
import os
import socket
import sys
import time

import numpy as np

from .errors import GraphcError

Average, Sum = "average", "sum"
FUSION_BYTES = 64 << 20   # gradients are allreduced in buckets of about this many bytes (tensor fusion)
# Seconds a collective may wait for the other ranks before this rank gives up (a dead or hung peer)
TIMEOUT_S = float(os.environ.get("GRAPHC_COLLECTIVE_TIMEOUT", "120"))
# Environment variables that MPI launchers set in the processes they start
_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS", "HYDI_CONTROL_FD")


class DistributedError(GraphcError, RuntimeError):
    """A collective failed: another rank died, hung, or runs a different graph."""


class _SingleProcess:
    """The communicator of a process started without MPI: rank 0 of 1."""
    rank, size = 0, 1


class _State:
    comm = None
    local_rank, local_size = 0, 1


def _launched_by_mpi():
    return os.environ.get("GRAPHC_MPI") == "1" or any(v in os.environ for v in _LAUNCHER_VARS)


def init():
    """Join the job: MPI when started by an MPI launcher, else a single process (rank 0 of 1)."""
    if _State.comm is not None:
        return
    if not _launched_by_mpi():
        _State.comm = _SingleProcess()
        return
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.rank)
    _State.comm, _State.local_rank, _State.local_size = comm, local.rank, local.size
    _record_start()
    sys.excepthook = _abort_on_uncaught


def _comm():
    if _State.comm is None:  # running or building a collective joins the job, as init() would
        init()
    return _State.comm


def is_initialized():
    """Whether init() has been called."""
    return _State.comm is not None


def rank():
    """This process's rank in the job, 0 .. size()-1."""
    return _comm().rank


def size():
    """The number of processes in the job."""
    return _comm().size


def local_rank():
    """This process's rank among the processes on its machine."""
    _comm()
    return _State.local_rank


def local_size():
    """The number of processes of the job on this machine."""
    _comm()
    return _State.local_size


# ---- what the runtime calls (runtime/collectives.py) --------------------------------------------
def start_allreduce(buffer):
    """Start summing `buffer` (a C-contiguous numpy array) over all ranks in place; a request for wait()."""
    comm = _comm()
    if comm.size == 1:
        return None
    from mpi4py import MPI
    return comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)


def wait(request, what):
    """Wait for `request` (from a start_ function); a DistributedError after TIMEOUT_S seconds."""
    if request is None:
        return
    deadline = time.monotonic() + TIMEOUT_S
    pause = 0.0
    while not request.Test():  # Test also progresses the operation (MPI has no progress thread here)
        if time.monotonic() > deadline:
            raise DistributedError(
                f"rank {rank()} of {size()}: {what} did not complete within {TIMEOUT_S:g} s "
                "(GRAPHC_COLLECTIVE_TIMEOUT): another rank has died, hangs, or runs a different graph")
        time.sleep(pause)
        pause = min(pause + 1e-5, 1e-3)


def allreduce_array(x, op):
    """Blocking allreduce of numpy array `x` (op 'sum' or 'average'); a new array."""
    buf = np.require(x, requirements=["C", "W"]).copy()
    wait(start_allreduce(buf), f"allreduce of a {buf.dtype}{list(buf.shape)}")
    return buf / np.asarray(size(), buf.dtype) if op == Average and size() > 1 else buf


def allgather_array(x):
    """Every rank's numpy array `x` concatenated along axis 0 in rank order."""
    comm = _comm()
    x = np.array(x, order="C")
    if comm.size == 1:
        return x.copy()
    out = np.empty((comm.size * x.shape[0],) + x.shape[1:], x.dtype)
    wait(comm.Iallgather(x, out), f"allgather of a {x.dtype}{list(x.shape)}")
    return out


def broadcast_array(x, root):
    """Rank `root`'s numpy array `x`, on every rank (a new array)."""
    comm = _comm()
    if not 0 <= root < comm.size:
        raise DistributedError(f"broadcast from root rank {root}: the job has ranks 0..{comm.size - 1}")
    buf = np.array(x, order="C")
    if comm.size > 1:
        wait(comm.Ibcast(buf, root=root), f"broadcast of a {buf.dtype}{list(buf.shape)} from rank {root}")
    return buf


def check_same_collectives(signature):
    """Raise a DistributedError, on every rank, unless all ranks will run the same collectives
    (`signature`: a list of strings, one per collective, e.g. 'allreduce sum float32[64,10]')."""
    comm = _comm()
    if comm.size == 1:
        return
    import hashlib
    digest = np.frombuffer(hashlib.sha256("\n".join(signature).encode()).digest(), np.uint8)
    digests = np.empty((comm.size, digest.size), np.uint8)
    wait(comm.Iallgather(digest, digests), "the exchange of collective signatures")
    if (digests == digests[0]).all():
        return
    everyone = comm.allgather(signature)  # every rank is alive and here: a blocking exchange is safe
    for r, theirs in enumerate(everyone):
        if theirs != everyone[0]:
            k = next((i for i, (a, b) in enumerate(zip(everyone[0], theirs)) if a != b), min(len(theirs), len(everyone[0])))
            mine = everyone[0][k] if k < len(everyone[0]) else "nothing"
            other = theirs[k] if k < len(theirs) else "nothing"
            raise DistributedError(f"ranks run different graphs: at collective {k}, rank 0 has {mine} but rank {r} "
                                   f"has {other}; every rank must build the same model")


# ---- faults -----------------------------------------------------------------------------------
def _status_path(what):
    folder = os.environ.get("GRAPHC_LAUNCH_DIR")
    return os.path.join(folder, f"rank{_State.comm.rank}.{what}") if folder else None


def _record_start():
    """Tell `graphc launch` which process is this rank (it names ranks, not pids, when one dies)."""
    path = _status_path("pid")
    if path:
        with open(path, "w") as f:
            f.write(f"{os.getpid()} {socket.gethostname()}\n")


def _abort_on_uncaught(kind, value, tb):
    """An exception no one caught on one rank stops the whole job (the others would wait forever)."""
    sys.__excepthook__(kind, value, tb)
    message = f"{kind.__name__}: {value}"
    path = _status_path("error")
    if path:
        with open(path, "w") as f:
            f.write(message + "\n")
    sys.stderr.write(f"graphc.distributed: rank {rank()} of {size()} failed ({message}); aborting the job\n")
    sys.stderr.flush()
    _State.comm.Abort(1)
