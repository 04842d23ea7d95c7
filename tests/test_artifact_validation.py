"""Artifacts are checked before anything in them runs: the manifest's own digest, member sizes before
inflating, plan.json against itself, the manifest and the weights, kernel names against kernels.so, and
(optionally) an Ed25519 signature. Every failure is an ArtifactError naming what is wrong."""
import hashlib
import json
import zipfile

import numpy as np
import pytest

import graphc as gc
from graphc.runtime.artifact import ArtifactError, generate_key

from test_artifact import _rewrite, _rewrite_all, mlp


@pytest.fixture(scope="module")
def artifact(mlp_gca):
    """(path, x value, expected y) of a two-kernel MLP artifact (conftest.mlp_gca)."""
    return mlp_gca


def _plan(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("plan.json"))


def _with_plan(artifact, tmp_path, edit):
    """The artifact with plan.json changed by `edit(plan)`, its hashes recomputed as a tamperer would."""
    def change(data):
        p = json.loads(data)
        edit(p)
        return json.dumps(p).encode()
    return _rewrite_all(artifact[0], tmp_path / "tampered.gca", {"plan.json": change})


def test_untampered_artifact_loads_and_runs(artifact):
    path, xv, want = artifact
    np.testing.assert_allclose(gc.runtime.load(path).run({"x": xv})["y"], want, rtol=1e-5, atol=1e-5)
    assert len(_plan(path)["calls"]) >= 2  # the call-order cases below need two kernels


def test_manifest_is_covered_by_its_digest(artifact, tmp_path):
    def empty_features(data):
        m = json.loads(data)
        m["target"]["host_features"] = []  # would skip the CPU check
        return json.dumps(m).encode()
    bad = _rewrite(artifact[0], tmp_path / "bad.gca", "manifest.json", empty_features)
    with pytest.raises(ArtifactError, match="manifest.json does not match its sha256"):
        gc.runtime.load(bad)
    with zipfile.ZipFile(artifact[0]) as src, zipfile.ZipFile(tmp_path / "nodigest.gca", "w") as dst:
        for name in src.namelist():
            if name != "manifest.sha256":
                dst.writestr(name, src.read(name))
    with pytest.raises(ArtifactError, match="lacks its member manifest.sha256"):
        gc.runtime.load(tmp_path / "nodigest.gca")


def _zip_with_zeros(src_path, out, name, nbytes, skip=()):
    """Copy an artifact, adding (or replacing) member `name` with `nbytes` zero bytes, streamed."""
    with zipfile.ZipFile(src_path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for n in src.namelist():
            if n != name and n not in skip:
                dst.writestr(n, src.read(n))
        with dst.open(name, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(nbytes >> 20):
                f.write(chunk)
    return str(out)


def test_oversized_members_are_refused_before_they_are_inflated(artifact, tmp_path, monkeypatch):
    from graphc.runtime import artifact as art
    extracted = []
    real_extract = art._extract
    monkeypatch.setattr(art, "_extract", lambda p, z, m, *a: (extracted.append(m), real_extract(p, z, m, *a)))
    big = _zip_with_zeros(artifact[0], tmp_path / "big.gca", "weights.safetensors", 512 << 20)
    with pytest.raises(ArtifactError, match="member weights.safetensors is 536870912 bytes, its manifest says"):
        gc.runtime.load(big)
    assert extracted == ["kernels.so", "plan.json", "weights.safetensors"]  # refused on its zip entry's size
    extra = _zip_with_zeros(artifact[0], tmp_path / "extra.gca", "junk.bin", 1 << 20)
    extracted.clear()
    with pytest.raises(ArtifactError, match=r"holds members \['junk.bin'\] besides its own"):
        gc.runtime.load(extra)
    assert extracted == []
    huge_manifest = _zip_with_zeros(artifact[0], tmp_path / "manifest.gca", "manifest.json", 17 << 20)
    with pytest.raises(ArtifactError, match="member manifest.json is 17825792 bytes, more than"):
        gc.runtime.load(huge_manifest)


def _reverse_calls(p):
    p["calls"].reverse()


def _drop_first_call(p):
    del p["calls"][0]


def _drop_last_call(p):
    del p["calls"][-1]


def _const_to_temp(p):
    b = next(b for b in p["buffers"] if b["kind"] == "const")
    b["kind"], b["offset"] = "temp", -1


def _no_fetches(p):
    p["fetches"] = []


def _arg_out_of_range(p):
    p["calls"][0]["args"][0] = len(p["buffers"]) + 5


def _negative_arg(p):
    p["calls"][0]["args"][0] = -1


def _offset_past_arena(p):
    b = next(b for b in p["buffers"] if b["kind"] == "temp")
    b["offset"] = p["arena_bytes"] + 64


def _huge_arena(p):
    p["arena_bytes"] = 1 << 50


def _feed_shape(p):
    b = next(b for b in p["buffers"] if b["kind"] == "feed")
    b["shape"] = [4, 8]


def _buffer_kind(p):
    p["buffers"][0]["kind"] = "weird"


def _buffer_id(p):
    p["buffers"][0]["id"] = "0"


def _dtype(p):
    p["buffers"][0]["dtype"] = "float33"


def _write_a_feed(p):
    feed = next(b["id"] for b in p["buffers"] if b["kind"] == "feed")
    p["calls"][0]["args"][-1] = feed


def _kernel_name(p):
    p["calls"][0]["kernel"] = "no_such_kernel"


def _num_inputs(p):
    p["calls"][0]["num_inputs"] = 99


def _target(p):
    p["target"] = "cuda"


def _variables(p):
    p["variable_reads"] = ["w"]


def _missing_key(p):
    del p["calls"]


def _no_index_checks(p):
    del p["index_checks"]


def _index_check_of_a_feed(p):
    feed = next(b["id"] for b in p["buffers"] if b["kind"] == "feed")
    p["index_checks"] = [[feed, "gather 'g'", [5]]]


def _index_check_malformed(p):
    p["index_checks"] = [[0, "gather 'g'", [-5]]]


@pytest.mark.parametrize("edit, message", [
    (_reverse_calls, "reads temporaries .* before any call writes them"),
    (_drop_first_call, "reads temporaries .* before any call writes them"),
    (_drop_last_call, "fetches temporaries .* that no call writes"),
    (_const_to_temp, "weights do not match the plan's constants|before any call writes them"),
    (_no_fetches, "fetches \\[\\] that differ from the manifest's outputs"),
    (_arg_out_of_range, "malformed call at index 0"),
    (_negative_arg, "malformed call at index 0"),
    (_offset_past_arena, "past its end"),
    (_huge_arena, "more than all its temporaries take"),
    (_feed_shape, "feeds .* differ from the manifest's inputs"),
    (_buffer_kind, "malformed buffer at index 0"),
    (_buffer_id, "malformed buffer at index 0"),
    (_dtype, "malformed buffer at index 0"),
    (_write_a_feed, "writes a feed or a constant"),
    (_kernel_name, "lacks kernels \\['no_such_kernel'\\]"),
    (_num_inputs, "malformed call at index 0"),
    (_target, "targets 'cuda' but the manifest says 'cpu'"),
    (_variables, "reads or writes variables"),
    (_missing_key, "plan lacks calls"),
    (_no_index_checks, "plan lacks index_checks"),
    (_index_check_of_a_feed, "index check 0 .* which no call writes as an int64 scalar"),
    (_index_check_malformed, "malformed index check at index 0"),
])
def test_inconsistent_plans_are_refused(artifact, tmp_path, edit, message):
    with pytest.raises(ArtifactError, match=message):
        gc.runtime.load(_with_plan(artifact, tmp_path, edit))


@pytest.mark.parametrize("member, data, message", [
    ("plan.json", b"\xff\xfe not utf-8", "cannot read its plan"),
    ("plan.json", b"{\"buffers\": [", "cannot read its plan"),
    ("plan.json", b"[]", "plan is not a JSON object"),
    ("plan.json", b"[" * 100000, "cannot read its plan"),
    ("weights.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}", "cannot read its weights"),
    ("weights.safetensors", b"", "cannot read its weights"),
    ("kernels.so", b"\x7fELF not really", "kernels.so is not a shared library"),
    ("kernels.so", b"\x7fELF\x02\x01" + bytes(58), "kernels.so is not a shared library"),
])
def test_garbage_members_with_matching_hashes_are_refused(artifact, tmp_path, member, data, message):
    bad = _rewrite_all(artifact[0], tmp_path / "bad.gca", {member: lambda _: data})
    with pytest.raises(ArtifactError, match=message):
        gc.runtime.load(bad)


def _with_manifest(artifact, tmp_path, data):
    return _rewrite_all(artifact[0], tmp_path / "bad.gca", {"manifest.json": lambda _: data})


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["inputs"][0].update(dtype="float33"), "manifest's inputs are malformed"),
    (lambda m: m["outputs"][0].update(shape=[-1]), "manifest's outputs are malformed"),
    (lambda m: m["target"].update(kind="tpu"), "target .* is malformed"),
    (lambda m: m["sha256"].pop("kernels.so"), "sha256 must list exactly"),
    (lambda m: m["sizes"].update({"kernels.so": "big"}), "manifest is malformed"),
    (lambda m: m["outputs"][0].update(shape=[7, 7]), "fetches .* differ from the manifest's outputs"),
])
def test_malformed_manifests_are_refused(artifact, tmp_path, edit, message):
    with zipfile.ZipFile(artifact[0]) as z:
        m = json.loads(z.read("manifest.json"))
    edit(m)
    with pytest.raises(ArtifactError, match=message):
        gc.runtime.load(_with_manifest(artifact, tmp_path, json.dumps(m).encode()))


@pytest.mark.parametrize("data, message", [
    (b"\xff\xfe", "cannot read its manifest"), (b"[1, 2]", "not a JSON object"),
    (b"{\"format\": \"graphc-artifact\", \"format_version\": 3}", "manifest lacks graphc_version"),
    (b"{\"format\": \"graphc-artifact\", \"format_version\": 1}", "format version 1, from before"),
])
def test_unreadable_manifests_are_refused(artifact, tmp_path, data, message):
    with pytest.raises(ArtifactError, match=message):
        gc.runtime.load(_with_manifest(artifact, tmp_path, data))


# ---- signatures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    return generate_key(str(d / "a.pem")), generate_key(str(d / "b.pem"))


@pytest.fixture(scope="module")
def signed(artifact, keys, tmp_path_factory):
    rng = np.random.default_rng(0)
    with gc.Graph().as_default():
        x, y, ref = mlp(rng)
        xv = rng.standard_normal((3, 8)).astype(np.float32)
        path = tmp_path_factory.mktemp("signed") / "signed.gca"
        gc.compile(y, {x: xv}).export(str(path), sign_key=keys[0])
    return path, xv, ref(xv).astype(np.float32)


def test_signed_artifact_loads_with_its_key_and_is_refused_with_others(signed, keys, artifact):
    path, xv, want = signed
    for trusted in ([keys[0] + ".pub"], keys[0] + ".pub", [keys[1] + ".pub", keys[0] + ".pub"]):
        np.testing.assert_allclose(gc.runtime.load(path, trusted_keys=trusted).run({"x": xv})["y"], want,
                                   rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gc.runtime.load(path).run({"x": xv})["y"], want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ArtifactError, match="not signed by any of the trusted keys"):
        gc.runtime.load(path, trusted_keys=[keys[1] + ".pub"])
    with pytest.raises(ArtifactError, match="is not signed, and trusted keys were given"):
        gc.runtime.load(artifact[0], trusted_keys=[keys[0] + ".pub"])
    with pytest.raises(ArtifactError, match="trusted_keys is empty"):
        gc.runtime.load(path, trusted_keys=[])
    with pytest.raises(ArtifactError, match="cannot read key file"):
        gc.runtime.load(path, trusted_keys=["/nonexistent.pub"])


def test_signed_artifact_changed_after_signing_is_refused(signed, keys, tmp_path):
    def scale_weights(data):  # a plausible, consistent tamper: everything rehashed, the signature kept
        return data[:-4] + bytes(4)
    bad = _rewrite_all(signed[0], tmp_path / "bad.gca", {"weights.safetensors": scale_weights})
    with zipfile.ZipFile(bad) as z:
        assert "manifest.sig" in z.namelist()
        m = z.read("manifest.json")
        assert z.read("manifest.sha256") == hashlib.sha256(m).hexdigest().encode()
    with pytest.raises(ArtifactError, match="not signed by any of the trusted keys"):
        gc.runtime.load(bad, trusted_keys=[keys[0] + ".pub"])


def test_encrypted_member_is_refused(artifact, tmp_path):
    data = bytearray(artifact[0].read_bytes())
    at = data.index(b"PK\x01\x02")  # the first central directory entry: mark its member encrypted
    data[at + 8] |= 0x1
    (tmp_path / "enc.gca").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="corrupted"):
        gc.runtime.load(tmp_path / "enc.gca")


def test_another_models_kernel_library_is_refused_before_it_is_loaded(artifact, tmp_path, monkeypatch):
    """A kernels.so replaced (hashes recomputed) by a library without the plan's kernels never gets dlopen()ed:
    its exported symbols are read from the ELF file first."""
    from graphc import tvm_runtime
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(np.float32, [3, 8], name="x")
        other = tmp_path / "other.gca"
        gc.compile({"y": gc.sqrt(gc.abs(x))}, {x: artifact[1]}).export(str(other))
    with zipfile.ZipFile(other) as z:
        library = z.read("kernels.so")
    bad = _rewrite_all(artifact[0], tmp_path / "bad.gca", {"kernels.so": lambda _: library})
    loaded = []
    monkeypatch.setattr(tvm_runtime, "load_module", lambda path: loaded.append(path))
    with pytest.raises(ArtifactError, match="its kernel library lacks kernels"):
        gc.runtime.load(bad)
    assert loaded == []


def test_kernel_refusing_its_plan_arguments_is_an_artifact_error(artifact, tmp_path):
    """Arguments swapped in the plan (consistent for the plan's checks): TVM's argument check in the kernel is
    reported as an ArtifactError, not a raw ValueError."""
    def swap(p):
        c = next(c for c in p["calls"] if c["num_inputs"] >= 2 and len({
            tuple(p["buffers"][a]["shape"]) for a in c["args"][:2]}) == 2)
        c["args"][0], c["args"][1] = c["args"][1], c["args"][0]
    runner = gc.runtime.load(_with_plan(artifact, tmp_path, swap))
    with pytest.raises(ArtifactError, match="a kernel refused the buffers its plan gives it"):
        runner.run({"x": artifact[1]})


def test_a_sessions_executable_exports_kernels_that_check_their_arguments(tmp_path):
    """A Session builds its kernels without TVM's argument checks (its own plan feeds them); exported, they
    are built again with the checks, so an edited plan is refused as above rather than run unchecked."""
    from test_artifact import mlp
    rng = np.random.default_rng(0)
    with gc.Graph().as_default():
        x, y, ref = mlp(rng)
        xv = rng.standard_normal((3, 8)).astype(np.float32)
        with gc.Session() as sess:
            exe = sess.compiled(y, {x: xv})
            assert not exe.checked
            exe.export(str(tmp_path / "session.gca"))
    (got,) = gc.runtime.load(str(tmp_path / "session.gca")).run({"x": xv}).values()  # unnamed: output_0
    np.testing.assert_allclose(got, ref(xv), rtol=1e-5, atol=1e-5)
    test_kernel_refusing_its_plan_arguments_is_an_artifact_error((str(tmp_path / "session.gca"), xv), tmp_path)
