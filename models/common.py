"""What every model of the zoo shares: the result record, the training loop, the character-model
evaluation, and the datasets that ship inside installed packages (scikit-learn digits, numpy's docstrings)."""
import dataclasses
import time

import numpy as np
from tqdm import tqdm

import graphc as gc


@dataclasses.dataclass
class Result:
    """A finished run: the metric against its bar, the losses seen, and what `export` needs."""
    name: str
    metric: str
    value: object  # a float, or text when the metric has several parts
    target: str
    ok: bool
    losses: list
    session: object = None   # the Session holding the trained variables (caller closes it)
    outputs: list = None     # inference fetches
    feeds: dict = None       # placeholder -> example array, for the inference fetches
    extra: dict = dataclasses.field(default_factory=dict)

    def line(self):
        """`NAME: METRIC=VALUE (target TARGET) ok|FAILED`, the last line `train` prints."""
        value = f"{self.value:.4g}" if isinstance(self.value, float) else self.value
        return f"{self.name}: {self.metric}={value} (target {self.target}) {'ok' if self.ok else 'FAILED'}"


PRECISION = {"dtype": "float32"}  # `train --precision`: what with_precision() wraps optimizers for


def with_precision(optimizer):
    """`optimizer`, in mixed precision (graphc.train.mixed_precision) when `--precision` asked for it."""
    import graphc as gc
    dtype = PRECISION["dtype"]
    return optimizer if dtype == "float32" else gc.train.mixed_precision(optimizer, dtype)


def progress(steps, desc, enabled=True):
    """The tqdm bar a training loop iterates over."""
    return tqdm(range(steps), desc=desc, disable=not enabled, leave=False, mininterval=0.5)


@dataclasses.dataclass
class Trained:
    """What `train_loop` did: the losses, and the time it took after the first step (which compiles)."""
    losses: list
    wall: float = 0.0  # seconds
    cpu: float = 0.0   # seconds of this process's CPU time (all threads)

    def times(self):
        """The times as `extra` entries."""
        return {"steps": len(self.losses), "train_seconds": f"{self.wall:.1f} wall, {self.cpu:.1f} cpu"}


def start_session(model):
    """A Session on `model["graph"]` with `model["init"]` run."""
    sess = gc.Session(graph=model["graph"])
    sess.run(model["init"])
    return sess


def train_loop(step, steps, desc, progress_bar=True, cpu_budget=None):
    """Call `step(i)`, which runs one training step and returns its loss, for i < steps under a tqdm bar;
    stop early once `cpu_budget` seconds of CPU time have passed after the first step (which compiles).
    CPU time, not wall time: on a shared machine the wall clock mostly measures the other jobs."""
    trained = Trained([])
    for i in progress(steps, desc, progress_bar):
        trained.losses.append(float(step(i)))
        if i == 0:
            wall, cpu = time.perf_counter(), time.process_time()
        trained.wall, trained.cpu = time.perf_counter() - wall, time.process_time() - cpu
        if cpu_budget and trained.cpu > cpu_budget:
            break
    return trained


def quick_result(name, losses, session, outputs, feeds, extra=None, window=5):
    """The Result of a --quick run: the last loss against the first, ok when the loss fell."""
    return Result(name, "loss", losses[-1], f"< first {losses[0]:.3f}", loss_fell(losses, window), losses,
                  session, outputs, feeds, extra or {})


def loss_fell(losses, window=5):
    """True when the mean of the last `window` losses is below the mean of the first `window`."""
    k = max(1, min(window, len(losses) // 2))
    return float(np.mean(losses[-k:])) < float(np.mean(losses[:k]))


def digits(size=8, seed=0):
    """scikit-learn's 8x8 digits scaled to [0, 1], upsampled (bilinear) to size x size; a 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    if size != 8:
        images = _resize(images, size)
    return train_test_split(images, data.target.astype(np.int32), test_size=0.25, random_state=seed,
                            stratify=data.target)


def _resize(images, size):
    """Bilinear resize of [N, h, w] images to [N, size, size] (align corners)."""
    h = images.shape[1]
    pos = np.linspace(0, h - 1, size)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, h - 1)
    frac = (pos - lo).astype(np.float32)
    rows = images[:, lo, :] * (1 - frac)[None, :, None] + images[:, hi, :] * frac[None, :, None]
    return rows[:, :, lo] * (1 - frac)[None, None, :] + rows[:, :, hi] * frac[None, None, :]


def numpy_corpus(max_chars=None):
    """Real English prose: the docstrings of the installed numpy's public functions, in a fixed order,
    reduced to printable ASCII."""
    import inspect
    import numpy
    seen, parts = set(), []
    for name in sorted(numpy.__all__):  # fixed; dir(numpy) grows as submodules get imported
        obj = getattr(numpy, name, None)
        doc = inspect.getdoc(obj) if obj is not None else None
        if not doc or doc in seen or len(doc) < 200:  # by text: getdoc's strings are fresh, their ids reused
            continue
        seen.add(doc)
        # the prose before the parameter tables reads most like English
        parts.append(doc.split("\nParameters\n")[0].split("\nExamples\n")[0].strip())
    text = "\n\n".join(parts)
    text = "".join(c if 32 <= ord(c) < 127 or c == "\n" else " " for c in text)
    return text[:max_chars] if max_chars else text


class CharData:
    """A character corpus as integer ids, split 90/10 into train and validation."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        ids = np.array([self.index[c] for c in text], np.int32)
        cut = int(len(ids) * 0.9)
        self.train, self.valid = ids[:cut], ids[cut:]

    @property
    def vocab(self):
        """Number of distinct characters."""
        return len(self.chars)

    def unigram_entropy(self):
        """Cross-entropy (nats/char) on validation of the train-set character frequencies."""
        counts = np.bincount(self.train, minlength=self.vocab) + 1.0
        p = counts / counts.sum()
        return float(-np.log(p[self.valid]).mean())

    def batch(self, rng, batch, steps, split="train"):
        """`batch` random windows: inputs [batch, steps] and next-character targets [batch, steps]."""
        ids = self.train if split == "train" else self.valid
        start = rng.integers(0, len(ids) - steps - 1, batch)
        window = ids[start[:, None] + np.arange(steps + 1)]
        return window[:, :-1], window[:, 1:]

    def decode(self, ids):
        """Characters of the ids."""
        return "".join(self.chars[i] for i in ids)


def validation_loss(sess, model, data, batch, batches=8, seed=1):
    """Mean cross-entropy (nats/char) of a character model over fixed random validation windows."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(batches):
        x, y = data.batch(rng, batch, model["x"].shape[1], "valid")
        values.append(sess.run(model["loss"], {model["x"]: x, model["y"]: y}))
    return float(np.mean(values))


def char_model_result(name, quick, sess, model, data, batch, trained, text, feeds):
    """The Result of a character model: validation cross-entropy against 65% of the unigram entropy."""
    baseline = data.unigram_entropy()
    valid = validation_loss(sess, model, data, batch)
    extra = {"unigram_entropy": f"{baseline:.3f}", "valid_xent": f"{valid:.4f}", **trained.times(), "sample": text}
    if quick:
        return quick_result(name, trained.losses, sess, [model["probs"]], feeds, extra, window=3)
    return Result(name, "valid_xent", valid, f"<= {0.65 * baseline:.3f}", valid <= 0.65 * baseline, trained.losses,
                  sess, [model["probs"]], feeds, extra)
