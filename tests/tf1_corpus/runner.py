"""Runs the TF1 corpus under TensorFlow's tf.compat.v1 and under graphc and compares final metrics.

Each corpus script names its source and its metric in its header (`# metric: <regex with one group>`);
the metric is the group of the last stdout line the regex matches. A script runs in a subprocess, in a
fresh temporary folder, with a timeout. The scripts train from unseeded random initializations, so runs
differ even under one framework: TensorFlow runs each script `--tf-runs` times (default 3) and its reference
is the range [min, max] of those runs' metrics. A graphc result matches when it lies within the tolerance of
that range: |graphc - nearest end| <= max(REL_TOL * |that end|, ABS_TOL), one tolerance for every script.

    python tests/tf1_corpus/runner.py [--jobs 2] [--backends tensorflow,graphc] [--tf-runs 3] [--timeout 600] [names...]

`--save out.json` keeps every outcome (all of TensorFlow's runs); `--reuse out.json` (repeatable) takes
outcomes from such files instead of running again, for scripts whose text is unchanged since (e.g.
TensorFlow's, which rarely change); a script with fewer saved TensorFlow runs than `--tf-runs` runs the rest
(`--no-run`: none; the table of what was saved).
"""
import argparse
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
REL_TOL = 0.10
ABS_TOL = 0.05
DEFAULT_TIMEOUT = 600
BACKENDS = ("tensorflow", "graphc")
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)|[A-Za-z_][\w.]*Error)\b.*")


@dataclasses.dataclass
class Script:
    """One corpus file: its path, source line, metric pattern and timeout."""
    path: Path
    source: str
    metric: re.Pattern
    timeout: int

    @property
    def name(self):
        return self.path.stem

    @property
    def digest(self):
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]


@dataclasses.dataclass
class Outcome:
    """One script under one backend: the metric it printed, or why there is none."""
    metric: float | None = None
    error: str | None = None
    seconds: float = 0.0


def header_field(text, field):
    """The value of `# <field>: value` in a script's leading comment block, or None."""
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.startswith(f"# {field}:"):
            return line.split(":", 1)[1].strip()
    return None


def discover(names=()):
    """The corpus scripts (files whose header names a tf1-corpus source), optionally only `names`."""
    scripts = []
    for path in sorted(CORPUS.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        source = header_field(text, "tf1-corpus source")
        if source is None or (names and path.stem not in names):
            continue
        metric = header_field(text, "metric")
        if metric is None:
            raise ValueError(f"{path.name}: header has no '# metric: <regex>' line")
        scripts.append(Script(path, source, re.compile(metric), int(header_field(text, "timeout") or DEFAULT_TIMEOUT)))
    unknown = set(names) - {s.name for s in scripts}
    if unknown:
        raise ValueError(f"no corpus script named {sorted(unknown)}; see {CORPUS}")
    return scripts


def extract_metric(pattern, stdout):
    """The float in `pattern`'s group on the last stdout line it matches, or None."""
    value = None
    for line in stdout.splitlines():
        m = pattern.search(line.strip())
        if m:
            try:
                value = float(m.group(1))
            except ValueError:
                pass
    return value


def failure_reason(stderr):
    """The first line of the exception that ended a script (the last traceback's final line)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    last_tb = max((i for i, ln in enumerate(lines) if ln.startswith("Traceback")), default=None)
    if last_tb is not None:
        for ln in lines[last_tb + 1:]:
            if _EXCEPTION_LINE.match(ln):
                return ln.strip()
    return lines[-1].strip() if lines else "exited with an error and no message"


def run_script(script, backend, timeout=None):
    """Runs one script under one backend in a fresh folder; its metric or the reason it has none."""
    env = dict(os.environ, TF1_CORPUS_BACKEND=backend, PYTHONUNBUFFERED="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(CORPUS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    timeout = timeout or script.timeout
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"tf1corpus-{script.name}-") as work:
        try:
            proc = subprocess.run([sys.executable, str(script.path)], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Outcome(error=f"timed out after {timeout} s", seconds=time.monotonic() - start)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        return Outcome(error=failure_reason(proc.stderr), seconds=seconds)
    metric = extract_metric(script.metric, proc.stdout)
    if metric is None:
        return Outcome(error=f"ran, but printed no line matching the metric /{script.metric.pattern}/",
                       seconds=seconds)
    return Outcome(metric=metric, seconds=seconds)


def matches(low, high, value):
    """Whether `value` is within the corpus tolerance of TensorFlow's range [low, high] (its runs' metrics)."""
    nearest = min(max(value, low), high)
    return abs(value - nearest) <= max(REL_TOL * abs(nearest), ABS_TOL)


def saved_runs(entry):
    """The outcomes in one saved (script, backend) entry: a list under "runs", or one outcome (older files)."""
    entry = {k: v for k, v in entry.items() if k != "digest"}
    return [Outcome(**run) for run in entry["runs"]] if "runs" in entry else [Outcome(**entry)]


def load_reused(paths, scripts, backends):
    """Outcomes saved by earlier --save runs, for scripts whose text is unchanged: {(name, backend): [Outcome]}
    (a later file's runs added to an earlier one's)."""
    reused = {}
    for path in paths:
        saved = json.loads(Path(path).read_text())
        for s in scripts:
            for b in backends:
                entry = saved.get(s.name, {}).get(b)
                if entry and entry.get("digest") == s.digest:
                    runs = reused.setdefault((s.name, b), [])
                    runs.extend(o for o in saved_runs(entry) if o not in runs)  # a run saved in two files counts once
    return reused


def format_runs(outcomes):
    """A table cell: the one metric, or TensorFlow's 'min..max' over its runs, or '-' when none ran."""
    values = [o.metric for o in outcomes if o.metric is not None]
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:.4g}" if low == high else f"{low:.4g}..{high:.4g}"


def save(path, scripts, backends, results):
    """Writes the outcomes so far to `path` (JSON: script -> backend -> {"runs": [...], "digest": ...})."""
    saved = {}
    for s in scripts:
        for b in backends:
            if (s.name, b) in results:
                runs = [dataclasses.asdict(o) for o in results[s.name, b]]
                saved.setdefault(s.name, {})[b] = {"runs": runs, "digest": s.digest}
    Path(path).write_text(json.dumps(saved, indent=1, ensure_ascii=False))


def main(argv=None):
    """Runs the corpus and prints a table and `N/M run, K match` with the reason for every failure."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="only these scripts (file stems)")
    ap.add_argument("--jobs", type=int, default=2, help="scripts run at once")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: tensorflow,graphc")
    ap.add_argument("--tf-runs", type=int, default=3, help="TensorFlow runs per script; its reference is their range")
    ap.add_argument("--timeout", type=int, default=None, help="seconds per script run (default: header or 600)")
    ap.add_argument("--save", help="write every outcome to this JSON file")
    ap.add_argument("--reuse", action="append", default=[],
                    help="outcomes from an earlier --save, reused for unchanged scripts (repeatable)")
    ap.add_argument("--no-run", action="store_true", help="run nothing: the table of the reused outcomes only")
    args = ap.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    for b in backends:
        if b not in BACKENDS:
            ap.error(f"unknown backend {b!r}; expected some of {','.join(BACKENDS)}")
    if args.tf_runs < 1:
        ap.error(f"--tf-runs must be at least 1, got {args.tf_runs}")
    wanted = {"tensorflow": args.tf_runs, "graphc": 1}
    scripts = discover(args.names)
    results = {key: runs[:wanted[key[1]]] for key, runs in load_reused(args.reuse, scripts, backends).items()}
    jobs = [(s, b) for s in scripts for b in backends
            for _ in range(wanted[b] - len(results.get((s.name, b), [])))]
    if args.no_run:
        for s, b in jobs:
            results.setdefault((s.name, b), []) or results[s.name, b].append(Outcome(error="no saved outcome"))
        jobs = []

    def run_job(job):
        out = run_script(job[0], job[1], args.timeout)
        print(f"  {job[0].name} [{job[1]}]: {out.error or out.metric} ({out.seconds:.0f} s)", flush=True)
        return out
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for (s, b), out in zip(jobs, pool.map(run_job, jobs)):
            results.setdefault((s.name, b), []).append(out)
            if args.save:  # after every run, so an interrupted corpus run keeps what it did
                save(args.save, scripts, backends, results)
    if args.save:
        save(args.save, scripts, backends, results)
    print(f"{'script':40s} " + " ".join(f"{b:>17s}" for b in backends) + "  result")
    ran = {b: 0 for b in backends}
    matched = 0
    failures = []
    for s in scripts:
        outs = {b: results[s.name, b] for b in backends}
        for b, runs in outs.items():
            ran[b] += any(o.error is None for o in runs)
            for i, o in enumerate(runs):
                if o.error is not None:
                    which = f" run {i + 1}/{len(runs)}" if len(runs) > 1 else ""
                    failures.append(f"{s.name} [{b}{which}]: {o.error}")
        verdict = ""
        if set(backends) == set(BACKENDS):
            tf_values = [o.metric for o in outs["tensorflow"] if o.metric is not None]
            g = outs["graphc"][0].metric
            if tf_values and g is not None:
                ok = matches(min(tf_values), max(tf_values), g)
                matched += ok
                verdict = "match" if ok else "differ"
            else:
                verdict = "failed"
        cells = " ".join(f"{format_runs(runs):>17s}" for runs in outs.values())
        print(f"{s.name:40s} {cells}  {verdict}")
    print()
    for line in failures:
        print("FAIL", line)
    print()
    for b in backends:
        print(f"{b}: {ran[b]}/{len(scripts)} run")
    if "graphc" in backends:
        summary = f"{ran['graphc']}/{len(scripts)} run"
        if "tensorflow" in backends:
            summary += (f", {matched} match (within max({REL_TOL:.0%} relative, {ABS_TOL} absolute) of the range"
                        f" of TensorFlow's runs, up to {args.tf_runs} a script)")
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
