"""Deployable artifacts (.gca): one zip holding the kernel library, the plan, the weights and a manifest.

Members: kernels.so (TVM export_library; CUDA device code is embedded in it), plan.json (kernel calls,
buffers, arena layout), weights.safetensors (constants by buffer id), manifest.json (format version,
versions, target with its CPU features, input/output signatures, size and sha256 of every other member),
manifest.sha256 (the manifest's own digest) and, when signed, manifest.sig (an Ed25519 signature of
the manifest, which covers every member through its hashes).
Loading needs only this module, the executor and TVM's runtime library (runtime/tvm_runtime.py): never
graphc.passes, graphc.codegen nor the `tvm` package. Everything is checked before any native code runs.
"""
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import asdict

import numpy as np

from graphc.errors import DeviceError, FeedError, GraphcError

from graphc import tvm_runtime
from graphc.files import sha256_file
from graphc.host import checked_num_threads, cpu_name, missing_features
from graphc.version import __version__

from .elf import ELFError, exported_symbols
from .plan import CONST, FEED, TEMP, Buffer, Call, Plan

FORMAT_VERSION = 3  # 2: member sizes and the manifest's own digest; 3: the plan's index checks
MEMBERS = ("kernels.so", "plan.json", "weights.safetensors")
MANIFEST, MANIFEST_DIGEST, SIGNATURE = "manifest.json", "manifest.sha256", "manifest.sig"
MAX_MANIFEST_BYTES = 16 << 20  # the manifest and the plan are small JSON: refuse to inflate more than this
MAX_PLAN_BYTES = 256 << 20


class ArtifactError(GraphcError, ValueError):
    """An artifact file is corrupted, truncated, too new, or built for hardware this machine lacks."""


def export_executable(exe, path, inputs, outputs, sign_key=None):
    """Write `exe` (a compiled Executable) to the artifact file `path`; inputs/outputs: [(name, shape, dtype)].
    With `sign_key` (an Ed25519 private key, or the path of its PEM file) the manifest is signed."""
    import tvm
    from safetensors.numpy import save_file

    from graphc.dtypes import as_storage
    plan = exe.plan
    signer = _private_key(sign_key) if sign_key is not None else None
    from graphc.host import host_cpu, host_features
    tmp = tempfile.mkdtemp(prefix="graphc-export-")
    try:
        files = {m: os.path.join(tmp, m) for m in MEMBERS}
        host = next((c for c in plan.calls if c.host_op), None)
        if host is not None:  # a collective needs an MPI job, a loop its sub-executables: kernels only here
            raise ArtifactError(f"cannot export: the plan runs host op {host.host_op} ({host.kernel}); "
                                "artifacts run kernels only")
        if exe.module is None:
            raise ArtifactError("nothing to export: the compiled graph has no kernels")
        from graphc.codegen.cache import library_file
        module = exe.checked_module()  # the kernels check their arguments: plan.json could be edited
        if library_file(module):  # loaded from the kernel cache: that file is the library
            shutil.copyfile(library_file(module), files["kernels.so"])
        else:
            module.export_library(files["kernels.so"])
        plan_json = {"target": plan.target, "buffers": [asdict(b) for b in plan.buffers],
                     "calls": [asdict(c) for c in plan.calls], "fetches": list(plan.fetches),
                     "arena_bytes": plan.arena_bytes, "variable_reads": plan.variable_reads,
                     "variable_writes": plan.variable_writes, "index_checks": plan.index_checks}
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
            "sizes": {m: os.path.getsize(p) for m, p in files.items()},
        }
        manifest_bytes = json.dumps(manifest, indent=1).encode()
        # write next to the destination, then rename: a reader never sees a half-written file
        fd, partial = tempfile.mkstemp(prefix=".partial-", suffix=".gca", dir=os.path.dirname(os.path.abspath(path)))
        os.close(fd)
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(MANIFEST, manifest_bytes)
                z.writestr(MANIFEST_DIGEST, hashlib.sha256(manifest_bytes).hexdigest())
                if signer is not None:
                    z.writestr(SIGNATURE, signer.sign(manifest_bytes))
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


# ---- signing (optional: the `cryptography` package, extra `sign`) ---------------------------------
def _crypto():
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise ArtifactError("signing artifacts needs the `cryptography` package: pip install 'graphc[sign]'") from None
    return serialization, ed25519


def _read_key_bytes(key):
    if isinstance(key, (str, os.PathLike)):
        try:
            with open(key, "rb") as f:
                return f.read()
        except OSError as e:
            raise ArtifactError(f"cannot read key file {os.fspath(key)!r}: {e.strerror}") from None
    return key


def _private_key(key):
    """An Ed25519 private key from a key object, PEM bytes or a PEM file path."""
    serialization, ed25519 = _crypto()
    key = _read_key_bytes(key)
    if isinstance(key, bytes):
        try:
            key = serialization.load_pem_private_key(key, password=None)
        except (ValueError, TypeError) as e:
            raise ArtifactError(f"the signing key is not an unencrypted PEM private key ({e})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ArtifactError(f"artifacts are signed with Ed25519 keys; got {type(key).__name__}")
    return key


def _public_key(key):
    """An Ed25519 public key from a key object (public or private), PEM bytes or a PEM file path."""
    serialization, ed25519 = _crypto()
    key = _read_key_bytes(key)
    if isinstance(key, bytes):
        try:
            key = serialization.load_pem_public_key(key)
        except (ValueError, TypeError):
            key = _private_key(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        key = key.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ArtifactError(f"trusted keys must be Ed25519 public keys; got {type(key).__name__}")
    return key


def generate_key(path):
    """Write a new Ed25519 private key to `path` (PEM, mode 600) and its public key to `path`.pub."""
    serialization, ed25519 = _crypto()
    key = ed25519.Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(path + ".pub", "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def _check_signature(path, z, manifest_bytes, trusted_keys):
    from cryptography.exceptions import InvalidSignature
    keys = [_public_key(k) for k in ([trusted_keys] if isinstance(trusted_keys, (str, bytes, os.PathLike))
                                     or not hasattr(trusted_keys, "__iter__") else trusted_keys)]
    if not keys:
        raise ArtifactError("trusted_keys is empty: give at least one Ed25519 public key")
    if SIGNATURE not in z.namelist():
        raise ArtifactError(f"artifact {path!r} is not signed, and trusted keys were given: refusing it")
    signature = _read_member(path, z, SIGNATURE, 1024)
    for key in keys:
        try:
            key.verify(signature, manifest_bytes)
            return
        except InvalidSignature:
            pass
    raise ArtifactError(f"artifact {path!r} is not signed by any of the trusted keys (or was changed after "
                        "signing): refusing it")


# ---- reading and checking --------------------------------------------------------------------------
def _read_member(path, z, name, limit):
    """Member `name`'s bytes, refusing (before inflating) one larger than `limit` bytes."""
    try:
        info = z.getinfo(name)
    except KeyError:
        raise ArtifactError(f"artifact {path!r} lacks its member {name}") from None
    if info.file_size > limit:
        raise ArtifactError(f"artifact {path!r} is corrupted: member {name} is {info.file_size} bytes, "
                            f"more than the {limit} it may have")
    try:
        with z.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as e:
        raise ArtifactError(f"artifact {path!r} is corrupted: member {name} is unreadable ({e})") from None
    if len(data) > limit:
        raise ArtifactError(f"artifact {path!r} is corrupted: member {name} is larger than its zip entry says")
    return data


def _is_shape(v):
    return isinstance(v, list) and all(type(d) is int and d >= 0 for d in v)


def _check_manifest(path, m):
    """Raise ArtifactError unless manifest `m` has every field, each of the right type."""
    from graphc.dtypes import ALL

    from .device import TARGET_KINDS
    bad = ArtifactError(f"artifact {path!r} is corrupted: its manifest is malformed")
    target = m["target"]
    if not (isinstance(target, dict) and target.get("kind") in TARGET_KINDS
            and isinstance(target.get("host_mcpu"), str) and isinstance(target.get("host_features"), list)
            and all(isinstance(f, str) for f in target["host_features"])):
        raise ArtifactError(f"artifact {path!r} is corrupted: its manifest's target {target!r} is malformed")
    for kind in ("inputs", "outputs"):
        sigs = m[kind]
        if not isinstance(sigs, list) or not all(
                isinstance(s, dict) and isinstance(s.get("name"), str) and _is_shape(s.get("shape"))
                and s.get("dtype") in ALL for s in sigs):
            raise ArtifactError(f"artifact {path!r} is corrupted: its manifest's {kind} are malformed")
        if len({s["name"] for s in sigs}) != len(sigs):
            raise ArtifactError(f"artifact {path!r} is corrupted: its manifest repeats an {kind[:-1]} name")
    for field in ("sha256", "sizes"):
        if not isinstance(m[field], dict) or set(m[field]) != set(MEMBERS):
            raise ArtifactError(f"artifact {path!r} is corrupted: its manifest's {field} must list exactly "
                                f"{', '.join(MEMBERS)}")
    if not all(isinstance(v, str) and len(v) == 64 for v in m["sha256"].values()) or \
            not all(type(v) is int and v >= 0 for v in m["sizes"].values()):
        raise bad


def read_manifest(path, trusted_keys=None):
    """The manifest of artifact `path`, after checking the file is a readable graphc artifact (and, with
    `trusted_keys`, that one of them signed it)."""
    if not os.path.isfile(path):
        raise ArtifactError(f"artifact {path!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise ArtifactError(f"{path!r} is not a graphc artifact: not a zip file (corrupted or truncated?)")
    try:
        with zipfile.ZipFile(path) as z:
            if MANIFEST not in z.namelist():
                raise ArtifactError(f"{path!r} is not a graphc artifact: it has no manifest.json")
            data = _read_member(path, z, MANIFEST, MAX_MANIFEST_BYTES)
            try:
                manifest = json.loads(data)
            except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise ArtifactError(f"artifact {path!r} is corrupted: cannot read its manifest ({e})") from None
            if not isinstance(manifest, dict):
                raise ArtifactError(f"artifact {path!r} is corrupted: its manifest is not a JSON object")
            if manifest.get("format") != "graphc-artifact":
                raise ArtifactError(f"{path!r} is not a graphc artifact (manifest format {manifest.get('format')!r})")
            version = manifest.get("format_version")
            if type(version) is not int or version > FORMAT_VERSION:
                raise ArtifactError(f"artifact {path!r} has format version {version!r}; this graphc reads versions "
                                    f"up to {FORMAT_VERSION}: upgrade graphc to load it")
            if version < FORMAT_VERSION:
                raise ArtifactError(f"artifact {path!r} has format version {version}, from before artifacts "
                                    f"carried member sizes, a manifest digest and index checks: export it again")
            digest = _read_member(path, z, MANIFEST_DIGEST, 64)
            if digest != hashlib.sha256(data).hexdigest().encode():
                raise ArtifactError(f"artifact {path!r} is corrupted: manifest.json does not match its sha256 in "
                                    f"{MANIFEST_DIGEST}")
            if trusted_keys is not None:
                _check_signature(path, z, data, trusted_keys)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        raise ArtifactError(f"artifact {path!r} is corrupted: cannot read its manifest ({e})") from None
    missing = [k for k in ("graphc_version", "tvm_version", "target", "inputs", "outputs", "sha256", "sizes")
               if k not in manifest]
    if missing:
        raise ArtifactError(f"artifact {path!r} is corrupted: its manifest lacks {', '.join(missing)}")
    _check_manifest(path, manifest)
    return manifest


def check_runnable(manifest, device=None):
    """Raise unless this machine can run an artifact with this manifest (on `device`, if given)."""
    target = manifest["target"]
    kind = target["kind"]
    from .device import check_device
    check_device(kind, device)
    missing = missing_features(target["host_features"])
    if missing:
        raise DeviceError(f"the artifact's kernels were built for CPU {target['host_mcpu']!r}, and this CPU "
                          f"({cpu_name()!r}) lacks its features {', '.join(missing)}: recompile it on this machine")


def _extract(path, z, member, dest, manifest):
    """Copy `member` to file `dest`, refusing it (before inflating) when its size differs from the
    manifest's and when its bytes do not match the manifest's sha256."""
    size = manifest["sizes"][member]
    try:
        info = z.getinfo(member)
    except KeyError:
        raise ArtifactError(f"artifact {path!r} lacks its member {member}") from None
    if info.file_size != size:
        raise ArtifactError(f"artifact {path!r} is corrupted: member {member} is {info.file_size} bytes, its "
                            f"manifest says {size}")
    h, n = hashlib.sha256(), 0
    try:
        with z.open(info) as src, open(dest, "wb") as dst:
            while n <= size:
                chunk = src.read(min(1 << 20, size + 1 - n))
                if not chunk:
                    break
                h.update(chunk)
                dst.write(chunk)
                n += len(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError) as e:
        raise ArtifactError(f"artifact {path!r} is corrupted: member {member} is unreadable ({e})") from None
    if n != size or h.hexdigest() != manifest["sha256"][member]:
        raise ArtifactError(f"artifact {path!r} is corrupted: member {member} does not match its sha256 "
                            "in the manifest")


def _plan_from_json(path, p, manifest, weights):
    """The Plan in plan.json `p`, after checking it against itself, the manifest and the weights."""
    from graphc.dtypes import ALL, storage_name

    def bad(why):
        return ArtifactError(f"artifact {path!r} is corrupted: its plan {why}")

    if not isinstance(p, dict):
        raise bad("is not a JSON object")
    missing = [k for k in ("target", "buffers", "calls", "fetches", "arena_bytes", "index_checks") if k not in p]
    if missing:
        raise bad(f"lacks {', '.join(missing)}")
    if p["target"] != manifest["target"]["kind"]:
        raise bad(f"targets {p['target']!r} but the manifest says {manifest['target']['kind']!r}")
    if p.get("variable_reads") or p.get("variable_writes"):
        raise ArtifactError(f"artifact {path!r} reads or writes variables "
                            f"{(p.get('variable_reads') or []) + (p.get('variable_writes') or [])}: export "
                            "with their values frozen as constants")
    if not isinstance(p["buffers"], list) or not isinstance(p["calls"], list) or not isinstance(p["fetches"], list):
        raise bad("has buffers, calls or fetches that are not lists")
    buffers = []
    for i, b in enumerate(p["buffers"]):
        if not (isinstance(b, dict) and type(b.get("id")) is int and b["id"] == i
                and b.get("kind") in (FEED, CONST, TEMP) and _is_shape(b.get("shape"))
                and b.get("dtype") in ALL and isinstance(b.get("name"), str)
                and type(b.get("feed_index", -1)) is int and type(b.get("offset", -1)) is int
                and set(b) <= {"id", "shape", "dtype", "kind", "name", "feed_index", "var_name", "offset"}):
            raise bad(f"has a malformed buffer at index {i}")
        buffers.append(Buffer(**{**b, "shape": tuple(b["shape"])}))
    n = len(buffers)
    arena = p["arena_bytes"]
    temps = [b for b in buffers if b.kind == TEMP]
    if type(arena) is not int or arena < 0 or arena > sum(b.nbytes + 64 for b in temps):
        raise bad(f"has arena_bytes {arena!r}, more than all its temporaries take")
    for b in temps:
        if b.offset >= 0 and b.offset + b.nbytes > arena:
            raise bad(f"places buffer {b.id} ({b.nbytes} bytes) at arena offset {b.offset}, past its end {arena}")
    feeds = sorted((b for b in buffers if b.kind == FEED), key=lambda b: b.feed_index)
    want = [(s["name"], tuple(s["shape"]), s["dtype"]) for s in manifest["inputs"]]
    if [b.feed_index for b in feeds] != list(range(len(want))) or \
            [(b.shape, b.dtype) for b in feeds] != [(s, d) for _, s, d in want]:
        raise bad(f"has feeds {[(b.shape, b.dtype) for b in feeds]} that differ from the manifest's inputs {want}")
    fetches = p["fetches"]
    outs = [(tuple(s["shape"]), s["dtype"]) for s in manifest["outputs"]]
    if not all(type(f) is int and 0 <= f < n for f in fetches) or \
            [(buffers[f].shape, buffers[f].dtype) for f in fetches] != outs:
        raise bad(f"has fetches {fetches} that differ from the manifest's outputs {outs}")
    calls, written = [], set()
    for k, c in enumerate(p["calls"]):
        if not (isinstance(c, dict) and isinstance(c.get("kernel"), str) and isinstance(c.get("args"), list)
                and all(type(a) is int and 0 <= a < n for a in c["args"]) and type(c.get("num_inputs")) is int
                and 0 <= c["num_inputs"] <= len(c["args"])
                and set(c) <= {"kernel", "args", "num_inputs", "host_op", "attrs"}):
            raise bad(f"has a malformed call at index {k}")
        if c.get("host_op") or c.get("attrs"):  # collectives need an MPI job: artifacts hold kernels only
            raise bad(f"has a host op ({c.get('host_op')!r}) at call {k}; artifacts run kernels only")
        ins, outs_ = c["args"][:c["num_inputs"]], c["args"][c["num_inputs"]:]
        unset = [a for a in ins if buffers[a].kind == TEMP and a not in written]
        if unset:
            raise bad(f"call {k} ({c['kernel']}) reads temporaries {unset} before any call writes them")
        if any(buffers[a].kind != TEMP for a in outs_):
            raise bad(f"call {k} ({c['kernel']}) writes a feed or a constant")
        written.update(outs_)
        calls.append(Call(**c))
    unset = [f for f in fetches if buffers[f].kind == TEMP and f not in written]
    if unset:
        raise bad(f"fetches temporaries {unset} that no call writes")
    index_checks = _index_checks(p["index_checks"], buffers, written, bad)
    consts = {b.id: b for b in buffers if b.kind == CONST}
    if set(weights) != {str(i) for i in consts}:
        raise ArtifactError(f"artifact {path!r} is corrupted: its weights do not match the plan's constants")
    constants = {}
    for i, b in consts.items():
        w = weights[str(i)]
        if w.shape != b.shape or w.dtype.name != storage_name(b.dtype):
            raise ArtifactError(f"artifact {path!r} is corrupted: weight {i} is {w.dtype}{list(w.shape)}, the "
                                f"plan's constant is {b.dtype}{list(b.shape)}")
        constants[i] = w
    return Plan(p["target"], buffers, calls, fetches, constants, arena, [], [], index_checks)


def _index_checks(checks, buffers, written, bad):
    """The plan's index checks [buffer id, what, dims], each an int64 scalar that a call writes."""
    if not isinstance(checks, list):
        raise bad("has index_checks that are not a list")
    for k, c in enumerate(checks):
        if not (isinstance(c, list) and len(c) == 3 and type(c[0]) is int and 0 <= c[0] < len(buffers)
                and isinstance(c[1], str) and len(c[1]) <= 1024 and isinstance(c[2], list) and c[2]
                and all(type(d) is int and d >= 0 for d in c[2])):
            raise bad(f"has a malformed index check at index {k}")
        b = buffers[c[0]]
        if b.kind != TEMP or b.shape != () or b.dtype != "int64" or c[0] not in written:
            raise bad(f"index check {k} ({c[1]}) reads buffer {c[0]}, which no call writes as an int64 scalar")
    return checks


class Runner:
    """A loaded artifact: `run(feeds)` with feeds as {name: array} or a list in input order; safe to
    call from any number of threads (each concurrent run takes its own executor, as a Session's do).

    Its kernel library stays loaded until the Runner is freed or closed (`close()`, or `with`)."""

    def __init__(self, manifest, plan, module, num_threads=None, path="<artifact>"):
        from .executor import ExecutorPool
        self.manifest, self.path = manifest, path
        self.inputs = [(i["name"], tuple(i["shape"]), i["dtype"]) for i in manifest["inputs"]]
        self.outputs = [(o["name"], tuple(o["shape"]), o["dtype"]) for o in manifest["outputs"]]
        self.module = module  # keeps the kernel library loaded
        self.executors = ExecutorPool(plan, module, num_threads)
        self.executors.release(self.executors.acquire())  # the first executor now: a broken plan fails at load

    def close(self):
        """Unload the kernel library and free the buffers (the Runner cannot run after this)."""
        self.executors = self.module = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

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
        executors = self.executors
        if executors is None:
            raise GraphcError("this loaded artifact was closed: load it again to run it")
        feeds_list = self._feed_list(feeds)
        try:
            values = executors.run(feeds_list)
        except (GraphcError, MemoryError):
            raise
        except Exception as e:  # TVM's argument checks: a kernel got buffers unlike those it was built for
            raise ArtifactError(f"artifact {self.path!r} is corrupted: a kernel refused the buffers its plan gives "
                                f"it ({type(e).__name__}: {str(e).strip()[:500]})") from None
        if isinstance(feeds, dict):
            return {name: v for (name, _, _), v in zip(self.outputs, values)}
        return values


def load(path, device=None, num_threads=None, trusted_keys=None):
    """Load artifact `path` after verifying its manifest, every member's size and hash, its plan and this
    machine's hardware (and, with `trusted_keys`, its signature); `num_threads` caps its kernels' threads."""
    path = os.fspath(path)
    checked_num_threads(num_threads)
    manifest = read_manifest(path, trusted_keys)
    check_runnable(manifest, device)
    tmp = tempfile.mkdtemp(prefix="graphc-load-")
    try:
        files = {m: os.path.join(tmp, m) for m in MEMBERS}  # fixed names: nothing in the zip chooses where
        try:
            with zipfile.ZipFile(path) as z:
                extra = sorted(set(z.namelist()) - set(MEMBERS) - {MANIFEST, MANIFEST_DIGEST, SIGNATURE})
                if extra:
                    raise ArtifactError(f"artifact {path!r} is corrupted: it holds members {extra} besides its own")
                if manifest["sizes"]["plan.json"] > MAX_PLAN_BYTES:
                    raise ArtifactError(f"artifact {path!r} is corrupted: its plan.json is larger than "
                                        f"{MAX_PLAN_BYTES} bytes")
                for m in MEMBERS:
                    _extract(path, z, m, files[m], manifest)
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise ArtifactError(f"artifact {path!r} is corrupted: {e}") from None
        except OSError as e:
            raise ArtifactError(f"cannot extract artifact {path!r}: {e}") from None
        try:
            return _load_members(path, manifest, files, num_threads)
        except GraphcError:
            raise
        except Exception as e:  # safetensors, TVM or anything else a crafted member provokes
            raise ArtifactError(f"artifact {path!r} is corrupted: {type(e).__name__}: {e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the loaded library stays mapped until it is unloaded


def _load_members(path, manifest, files, num_threads):
    from safetensors.numpy import load_file
    with open(files["plan.json"], "rb") as f:
        try:
            p = json.loads(f.read())
        except (ValueError, RecursionError) as e:
            raise ArtifactError(f"artifact {path!r} is corrupted: cannot read its plan ({e})") from None
    try:
        weights = load_file(files["weights.safetensors"])
    except Exception as e:  # SafetensorError and friends
        raise ArtifactError(f"artifact {path!r} is corrupted: cannot read its weights ({e})") from None
    plan = _plan_from_json(path, p, manifest, weights)
    try:  # read from the ELF file: a library without the plan's kernels is refused before dlopen runs it
        exported = exported_symbols(files["kernels.so"])
    except ELFError as e:
        raise ArtifactError(f"artifact {path!r} is corrupted: its kernels.so is not a shared library ({e})") from None
    absent = sorted({c.kernel for c in plan.calls if "__tvm_ffi_" + c.kernel not in exported})
    if absent:
        raise ArtifactError(f"artifact {path!r} is corrupted: its kernel library lacks kernels {absent}")
    module = tvm_runtime.load_module(files["kernels.so"])  # dlopen: the file may go after
    absent = sorted({c.kernel for c in plan.calls if not module.implements_function(c.kernel)})
    if absent:
        raise ArtifactError(f"artifact {path!r} is corrupted: its kernel library lacks kernels {absent}")
    return Runner(manifest, plan, module, num_threads, path)
