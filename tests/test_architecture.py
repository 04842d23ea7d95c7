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
