"""The TF1 corpus runner, and a few quick corpus scripts run under graphc (the full comparison with
TensorFlow is `make tf1-corpus`)."""
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "tf1_corpus"))
import runner  # noqa: E402


def test_corpus_headers_name_source_metric_and_edits():
    scripts = runner.discover()
    assert len(scripts) >= 30
    repos = {re.match(r"https://github.com/([^ ]+) @", s.source).group(1) for s in scripts}
    assert len(repos) >= 3
    for s in scripts:
        text = s.path.read_text(encoding="utf-8")
        assert runner.header_field(text, "edits"), s.name
        assert s.metric.groups == 1, f"{s.name}: the metric regex needs exactly one group"
        assert "import tensorflow" not in text, f"{s.name} imports TensorFlow directly"


def test_metric_is_the_last_matching_line():
    pattern = re.compile(r"^Accuracy: ([-\d.e+]+)")
    assert runner.extract_metric(pattern, "Accuracy: 0.5\nx\nAccuracy: 0.75\nAccuracy: n/a\n") == 0.75
    assert runner.extract_metric(pattern, "nothing here") is None


def test_failure_reason_is_the_exceptions_first_line():
    stderr = ("warning: noise\nTraceback (most recent call last):\n  File \"x.py\", line 1\n"
              "AttributeError: module 'graphc.compat.v1' has no attribute 'contrib'\nmore\n")
    assert runner.failure_reason(stderr) == "AttributeError: module 'graphc.compat.v1' has no attribute 'contrib'"


def test_tolerance_is_relative_or_absolute():
    assert runner.matches(0.9, 0.9, 0.86) and not runner.matches(0.9, 0.9, 0.8)
    assert runner.matches(100.0, 100.0, 91.0) and not runner.matches(100.0, 100.0, 89.0)


def test_match_is_within_tolerance_of_tensorflows_range():
    assert runner.matches(0.3, 0.6, 0.45)                                   # inside the range
    assert runner.matches(0.3, 0.6, 0.65) and not runner.matches(0.3, 0.6, 0.67)   # 10% above the max
    assert runner.matches(30.0, 60.0, 27.5) and not runner.matches(30.0, 60.0, 26.0)  # 10% below the min


def test_reuse_reads_saved_runs_and_older_single_outcomes(tmp_path):
    script, = runner.discover(["nlintz_00_multiply"])
    new = {script.name: {"tensorflow": {"digest": script.digest, "runs": [{"metric": 9.0}, {"error": "boom"}]}}}
    old = {script.name: {"tensorflow": {"digest": script.digest, "metric": 8.0, "error": None, "seconds": 1.0},
                         "graphc": {"digest": "stale", "metric": 1.0}}}
    (tmp_path / "new.json").write_text(runner.json.dumps(new))
    (tmp_path / "old.json").write_text(runner.json.dumps(old))
    paths = [tmp_path / "new.json", tmp_path / "old.json", tmp_path / "new.json"]  # a file twice counts once
    reused = runner.load_reused(paths, [script], ["tensorflow", "graphc"])
    assert [o.metric for o in reused[script.name, "tensorflow"]] == [9.0, None, 8.0]
    assert (script.name, "graphc") not in reused                            # its text changed since
    assert runner.format_runs(reused[script.name, "tensorflow"]) == "8..9"


@pytest.mark.parametrize("name, expected", [
    ("nlintz_00_multiply", 9.0),             # the script prints "%f should equal 9.0"
    ("golbin_linear_regression", 2.5),       # trained on y = x, it predicts Y for X = 2.5
])
def test_quick_corpus_script_runs_under_graphc(name, expected):
    script, = runner.discover([name])
    out = runner.run_script(script, "graphc", timeout=300)
    assert out.error is None, out.error
    assert abs(out.metric - expected) <= 0.1 * abs(expected)


def test_no_run_prints_the_table_of_saved_outcomes(tmp_path, capsys):
    script, = runner.discover(["nlintz_00_multiply"])
    saved = {script.name: {"tensorflow": {"digest": script.digest, "runs": [{"metric": 9.0}, {"metric": 8.0}]},
                           "graphc": {"digest": script.digest, "runs": [{"metric": 8.5}]}}}
    (tmp_path / "saved.json").write_text(runner.json.dumps(saved))
    runner.main(["--no-run", "--reuse", str(tmp_path / "saved.json"), script.name])
    out = capsys.readouterr().out
    assert "8..9" in out and "1/1 run, 1 match" in out
