"""The default session stack (`with sess.as_default()`, `Tensor.eval()`)."""
import threading

from .errors import GraphcError


class _Stack(threading.local):
    def __init__(self):
        self.stack = []


_sessions = _Stack()


def push(sess):
    _sessions.stack.append(sess)


def pop(sess):
    if _sessions.stack and _sessions.stack[-1] is sess:
        _sessions.stack.pop()


def default_session():
    """The innermost session entered with `with`, for Tensor.eval and Node.run."""
    if not _sessions.stack:
        raise GraphcError("no default session: use `with graphc.Session() as sess:` or pass session=")
    return _sessions.stack[-1]
