#!/bin/sh
# graphc GPU check bundle: install the carried TVM runtime, check every case against its reference,
# time the models against PyTorch, print one table (JSON to $OUT/gpu_bundle.json when OUT is set).
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q GPU; then
    echo "graphc gpu-bundle: no NVIDIA GPU found (nvidia-smi lists none); this bundle needs one" >&2
    exit 2
fi
SITE="$HERE/site"
if [ ! -d "$SITE/tvm_ffi" ]; then
    "$PY" -m pip install -q --no-index --no-deps --target "$SITE" "$HERE"/wheels/*.whl
fi
export TVM_USE_RUNTIME_LIB=1
export PYTHONPATH="$HERE/py:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$HERE/py/tvm/lib:$SITE/tvm_ffi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$PY" "$HERE/check.py" "$@"
