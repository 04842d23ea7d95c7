"""Rules of the source tree's structure (README "Where changes go"), checked on the source."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = {"graphc": "graphc", "graphc.passes": "passes", "graphc.codegen": "codegen", "graphc.runtime": "runtime",
            "graphc.models": "models"}
DEVICE_LAYER = {"codegen/target.py", "runtime/device.py", "graphc/devices.py"}


def source_files():
    """(path relative to the root, text) of every module of the graphc package."""
    for folder in PACKAGES.values():
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text()


def test_only_targets_and_the_device_layer_tell_cpu_from_cuda():
    compare = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](cpu|cuda|gpu)["']|["'](cpu|cuda|gpu)["']\s*(==|!=)""")
    found = [f"{path}:{i + 1}: {line.strip()}" for path, text in source_files() if path not in DEVICE_LAYER
             for i, line in enumerate(text.splitlines()) if compare.search(line)]
    assert not found, "compare target kinds only in codegen/target.py or the device layer:\n" + "\n".join(found)


def test_every_registry_refuses_a_second_entry():
    import pytest

    from graphc.codegen.lower import get_lowering, lowering
    from graphc.codegen.schedule.cpu import BLOCK_SCHEDULES
    from graphc.codegen.schedule.kinds import GEMM
    from graphc.codegen.target import TARGET_KINDS
    from graphc.onnx.convert import CONVERTERS
    from graphc.onnx.exporter import EMITTERS
    from graphc.registry import get_op, register_op
    get_lowering("add")  # loads every lowering family
    with pytest.raises(ValueError, match="op add has two definitions"):
        register_op("add", infer=None, reference=None, pattern=get_op("add").pattern)
    with pytest.raises(ValueError, match="op add has two lowerings"):
        lowering("add")(lambda node, a, b: a)
    with pytest.raises(ValueError, match="block kind gemm has two CPU block schedules"):
        BLOCK_SCHEDULES[GEMM] = BLOCK_SCHEDULES[GEMM]
    with pytest.raises(ValueError, match="ONNX op Relu has two converters"):
        CONVERTERS.update(Relu=CONVERTERS["Relu"])
    with pytest.raises(ValueError, match="graphc op add has two ONNX emitters"):
        EMITTERS["add"] = EMITTERS["add"]
    with pytest.raises(ValueError, match="target kind cpu has two constructors"):
        TARGET_KINDS["cpu"] = TARGET_KINDS["cpu"]
