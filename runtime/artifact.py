"""Deployable artifacts (.gca): one zip holding the kernel library, the plan, the weights and a manifest.

Members: kernels.so (TVM export_library; CUDA device code is embedded in it), plan.json (kernel calls,
buffers, arena layout), weights.safetensors (constants by buffer id) and manifest.json (format version,
versions, target with its CPU features, input/output signatures, sha256 of every other member).
Loading needs only this module, the executor and TVM's runtime: never graphc.passes or graphc.codegen.
"""
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import asdict

import numpy as np

from graphc.errors import DeviceError, FeedError, GraphcError

from graphc.files import sha256_file
from graphc.host import host_cpu, host_features
from graphc.version import __version__

from .plan import Buffer, Call, Plan

FORMAT_VERSION = 1
MEMBERS = ("kernels.so", "plan.json", "weights.safetensors")


class ArtifactError(GraphcError, ValueError):
    """An artifact file is corrupted, truncated, too new, or built for hardware this machine lacks."""


def export_executable(exe, path, inputs, outputs):
    """Write `exe` (a compiled Executable) to the artifact file `path`; inputs/outputs: [(name, shape, dtype)]."""
    import tvm
    from safetensors.numpy import save_file

    from graphc.dtypes import as_storage
    plan = exe.plan
    tmp = tempfile.mkdtemp(prefix="graphc-export-")
    try:
        files = {m: os.path.join(tmp, m) for m in MEMBERS}
        if exe.module is None:
            raise ArtifactError("nothing to export: the compiled graph has no kernels")
        from graphc.codegen.cache import library_file
        if library_file(exe.module):  # loaded from the kernel cache: that file is the library
            shutil.copyfile(library_file(exe.module), files["kernels.so"])
        else:
            exe.module.export_library(files["kernels.so"])
        plan_json = {"target": plan.target, "buffers": [asdict(b) for b in plan.buffers],
                     "calls": [asdict(c) for c in plan.calls], "fetches": list(plan.fetches),
                     "arena_bytes": plan.arena_bytes, "variable_reads": plan.variable_reads,
                     "variable_writes": plan.variable_writes}
        with open(files["plan.json"], "w") as f:
            json.dump(plan_json, f)
        # narrow types (bfloat16, float8, ...) are written as their bits; the executor reads them so
        save_file({str(k): as_storage(np.require(v, requirements="C")) for k, v in plan.constants.items()},
                  files["weights.safetensors"])
        manifest = {
            "format": "graphc-artifact", "format_version": FORMAT_VERSION,
            "graphc_version": __version__, "tvm_version": tvm.__version__,
            "target": {"kind": plan.target, "host_mcpu": host_cpu(), "host_features": list(host_features())},
            "inputs": [{"name": n, "shape": list(s), "dtype": str(d)} for n, s, d in inputs],
            "outputs": [{"name": n, "shape": list(s), "dtype": str(d)} for n, s, d in outputs],
            "sha256": {m: sha256_file(p) for m, p in files.items()},
        }
        # write next to the destination, then rename: a reader never sees a half-written file
        fd, partial = tempfile.mkstemp(prefix=".partial-", suffix=".gca", dir=os.path.dirname(os.path.abspath(path)))
        os.close(fd)
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("manifest.json", json.dumps(manifest, indent=1))
                for m, p in files.items():
                    z.write(p, m)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(partial, 0o666 & ~umask)  # mkstemp makes it private; an artifact is an ordinary file
            os.replace(partial, path)
        except BaseException:
            os.unlink(partial)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def read_manifest(path):
    """The manifest of artifact `path`, after checking the file is a readable graphc artifact."""
    if not os.path.isfile(path):
        raise ArtifactError(f"artifact {path!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise ArtifactError(f"{path!r} is not a graphc artifact: not a zip file (corrupted or truncated?)")
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read("manifest.json"))
    except KeyError:
        raise ArtifactError(f"{path!r} is not a graphc artifact: it has no manifest.json") from None
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError) as e:
        raise ArtifactError(f"artifact {path!r} is corrupted: cannot read its manifest ({e})") from None
    if manifest.get("format") != "graphc-artifact":
        raise ArtifactError(f"{path!r} is not a graphc artifact (manifest format {manifest.get('format')!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArtifactError(f"artifact {path!r} has format version {version!r}; this graphc reads versions "
                            f"up to {FORMAT_VERSION}: upgrade graphc to load it")
    missing = [k for k in ("graphc_version", "tvm_version", "target", "inputs", "outputs", "sha256")
               if k not in manifest]
    if missing:
        raise ArtifactError(f"artifact {path!r} is corrupted: its manifest lacks {', '.join(missing)}")
    return manifest


def check_runnable(manifest, device=None):
    """Raise unless this machine can run an artifact with this manifest (on `device`, if given)."""
    target = manifest["target"]
    kind = target["kind"]
    from .device import check_device
    check_device(kind, device)
    missing = sorted(set(target["host_features"]) - set(host_features()))
    if missing:
        raise DeviceError(f"the artifact's kernels were built for CPU {target['host_mcpu']!r}, and this CPU "
                          f"({host_cpu()!r}) lacks its features {', '.join(missing)}: recompile it on this machine")


class Runner:
    """A loaded artifact: `run(feeds)` with feeds as {name: array} or a list in input order."""

    def __init__(self, manifest, plan, module):
        from .executor import Executor
        self.manifest = manifest
        self.inputs = [(i["name"], tuple(i["shape"]), i["dtype"]) for i in manifest["inputs"]]
        self.outputs = [(o["name"], tuple(o["shape"]), o["dtype"]) for o in manifest["outputs"]]
        self.module = module  # keeps the kernel library loaded
        self.executor = Executor(plan, module)

    def _feed_list(self, feeds):
        names = [n for n, _, _ in self.inputs]
        if isinstance(feeds, dict):
            unknown = sorted(set(feeds) - set(names))
            missing = [n for n in names if n not in feeds]
            if unknown or missing:
                raise FeedError(f"feeds must be exactly the inputs {names}; missing {missing}, unknown {unknown}")
            feeds = [feeds[n] for n in names]
        if len(feeds) != len(names):
            raise FeedError(f"expected {len(names)} inputs {names}, got {len(feeds)}")
        out = []
        for (name, shape, dtype), a in zip(self.inputs, feeds):
            a = np.asarray(a)
            if a.shape != shape:
                raise FeedError(f"input {name!r} has shape {a.shape}; the artifact expects {shape}")
            if a.dtype != np.dtype(dtype):
                if not np.can_cast(a.dtype, dtype, casting="same_kind"):
                    raise FeedError(f"input {name!r} has dtype {a.dtype}; the artifact expects {dtype}")
                a = a.astype(dtype)
            out.append(np.require(a, requirements="C"))
        return out

    def run(self, feeds):
        """Outputs for `feeds`: a dict by output name when feeds is a dict, else a list."""
        values = self.executor.run(self._feed_list(feeds))
        if isinstance(feeds, dict):
            return {name: v for (name, _, _), v in zip(self.outputs, values)}
        return values


def load(path, device=None):
    """Load artifact `path` after verifying its manifest, member hashes and this machine's hardware."""
    import tvm
    from safetensors.numpy import load_file

    manifest = read_manifest(path)
    tmp = tempfile.mkdtemp(prefix="graphc-load-")
    try:
        with zipfile.ZipFile(path) as z:
            for m in MEMBERS:  # fixed names only: nothing in the zip chooses where files go
                try:
                    with z.open(m) as src, open(os.path.join(tmp, m), "wb") as dst:
                        shutil.copyfileobj(src, dst)
                except KeyError:
                    raise ArtifactError(f"artifact {path!r} lacks its member {m}") from None
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
                    raise ArtifactError(f"artifact {path!r} is corrupted: member {m} is unreadable ({e})") from None
                if sha256_file(os.path.join(tmp, m)) != manifest["sha256"].get(m):
                    raise ArtifactError(f"artifact {path!r} is corrupted: member {m} does not match its sha256 "
                                        "in the manifest")
        check_runnable(manifest, device)
        with open(os.path.join(tmp, "plan.json")) as f:
            p = json.load(f)
        weights = load_file(os.path.join(tmp, "weights.safetensors"))
        buffers = [Buffer(**{**b, "shape": tuple(b["shape"])}) for b in p["buffers"]]
        plan = Plan(p["target"], buffers, [Call(**c) for c in p["calls"]], p["fetches"],
                    {int(k): v for k, v in weights.items()}, p["arena_bytes"], p["variable_reads"],
                    p["variable_writes"])
        if plan.variable_reads:
            raise ArtifactError(f"artifact {path!r} reads variables {plan.variable_reads}: export with their "
                                "values frozen as constants")
        module = tvm.runtime.load_module(os.path.join(tmp, "kernels.so"))  # dlopen: the file may go after
        return Runner(manifest, plan, module)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
