"""ONNX node conformance: the cases recorded as passing (tests/data/onnx_conformance_passing.txt) must
keep passing. Regenerate the record with
`python -m graphc.onnx.conformance --write tests/data/onnx_conformance_passing.txt` (every passing case)."""
import os

import pytest

from graphc.onnx import conformance

RECORD = os.path.join(os.path.dirname(__file__), "data", "onnx_conformance_passing.txt")
# A quick subset for `make test`: elementwise, matmul, shape and reduction ops, conv, normalization,
# control flow, recurrence and quantization (about 115 cases; the whole record runs in `make test-slow`).
FAST_OPS = {"Add", "Relu", "Gemm", "Reshape", "Transpose", "Concat", "ReduceMean", "Softmax", "Where", "Conv",
            "LayerNormalization", "Loop", "Scan", "LSTM", "QuantizeLinear"}


def _recorded():
    with open(RECORD) as f:
        return {line.strip() for line in f if line.strip()}


def _check(ops):
    cases = dict(conformance.select(ops=ops))
    expected = sorted(_recorded() & set(cases))
    assert expected, f"no recorded passing cases for {sorted(ops)}"
    results = conformance.run(expected, jobs=2, timeout=120)
    regressions = {n: r for n, r in results.items() if r is not None}
    assert not regressions, f"{len(regressions)} conformance regressions: {regressions}"


def test_recorded_cases_only_name_claimed_ops():
    cases = dict(conformance.select(ops=set(conformance.claimed_ops())))
    unknown = _recorded() - set(cases)
    assert not unknown, f"recorded cases that are not node tests of claimed ops: {sorted(unknown)}"


def test_fast_subset_has_no_regressions():
    _check(FAST_OPS)


@pytest.mark.slow
def test_all_claimed_ops_have_no_regressions():
    _check(set(conformance.claimed_ops()))
