"""Rules of the source tree's structure (README "Where changes go"), checked on the source."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = {"graphc": "graphc", "graphc.passes": "passes", "graphc.codegen": "codegen", "graphc.runtime": "runtime",
            "graphc.models": "models"}
DEVICE_LAYER = {"codegen/target.py", "runtime/device.py", "graphc/devices.py", "graphc/tvm_runtime.py"}


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


def module_name(path):
    """The dotted module name of a source file (its package's __init__ for one)."""
    folder, *rest = pathlib.PurePosixPath(path).with_suffix("").parts
    package = next(p for p, f in PACKAGES.items() if f == folder)
    parts = package.split(".") + [p for p in rest if p != "__init__"]
    return ".".join(parts)


def imports_of(path, text, modules):
    """The graphc modules `path` imports, at module level or inside functions (lazy imports count)."""
    import ast
    name = module_name(path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `import graphc.passes.x` names a module; `graphc.x.func` does not
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def import_graph():
    """{module: modules it imports} over the graphc package."""
    files = dict(source_files())
    modules = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, text, modules) for p, text in files.items()}


def test_imports_go_one_way():
    graph = import_graph()
    bad = [f"{m} imports {t}" for m, ts in graph.items() for t in sorted(ts)
           if (m.startswith("graphc.passes") and t.startswith(("graphc.codegen", "graphc.runtime")))
           or (m.startswith("graphc.codegen") and t.startswith("graphc.runtime"))]
    assert not bad, "passes/ imports nothing from codegen/ or runtime/, codegen/ nothing from runtime/:\n" + \
        "\n".join(bad)


def test_no_import_cycles_outside_the_ops():
    import networkx as nx
    g = nx.DiGraph([(m, t) for m, ts in import_graph().items() for t in ts])
    cycles = [sorted(c) for c in nx.strongly_connected_components(g)
              if len(c) > 1 and not all(m.startswith("graphc.ops") for m in c)]
    assert not cycles, "import cycles (lazy imports count):\n" + "\n".join(" <-> ".join(c) for c in cycles)
