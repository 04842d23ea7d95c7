"""The numpy reference interpreter: the oracle for tests and for constant folding, never the
execution path of Session.run."""
import numpy as np

from .errors import FeedError
from .graph import Tensor, needed_nodes


def evaluate(fetches, feed_dict=None):
    """Values of `fetches` (a tensor or list of tensors) computed with each op's numpy reference."""
    single = isinstance(fetches, Tensor)
    fetch_list = [fetches] if single else list(fetches)
    values = {id(t): np.asarray(v, dtype=t.dtype.np) for t, v in (feed_dict or {}).items()}
    for node in needed_nodes([t.node for t in fetch_list], set(values)):
        if all(id(t) in values for t in node.outputs):
            continue
        if node.opdef.feed:
            raise FeedError(f"you must feed a value for placeholder '{node.name}'")
        out = node.opdef.reference(node.attrs, *[values[id(t)] for t in node.inputs])
        outs = out if isinstance(out, (list, tuple)) else [out]
        for t, v in zip(node.outputs, outs):
            values[id(t)] = np.asarray(v)
    results = [values[id(t)] for t in fetch_list]
    return results[0] if single else results
