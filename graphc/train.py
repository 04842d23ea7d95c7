"""Optimizers and Saver, TF1 style. An update is graph ops (assign_sub and friends), so one
`sess.run([train_op, loss])` runs forward, backward and update as compiled kernels."""
import os
import tempfile

import numpy as np

from .errors import GraphcError
from .ops import cast, convert_to_tensor, sqrt, square
from .ops.state import assign, assign_add, assign_sub, group
from .variables import Variable, global_variables, trainable_variables


class Optimizer:
    """Base: subclasses define `_apply(grad, var)` returning the update ops for one variable."""

    def __init__(self, learning_rate, name):
        self.learning_rate = learning_rate
        self.name = name
        self._slots = {}

    def _slot(self, var, slot, initial=0.0):
        """A per-variable state variable (momentum, Adam moments...)."""
        key = (var.var_name, slot)
        if key not in self._slots:
            value = np.full(tuple(var.shape), initial, var.dtype.np)
            self._slots[key] = Variable(value, trainable=False, name=f"{var.op.name}/{self.name}/{slot}")
        return self._slots[key]

    def _lr(self, var):
        return cast(convert_to_tensor(self.learning_rate), var.dtype) \
            if not isinstance(self.learning_rate, (int, float)) else self.learning_rate

    def compute_gradients(self, loss, var_list=None, **unused):
        """[(gradient, variable)] for the trainable variables (or var_list); gradient None if unused."""
        from . import gradients
        var_list = list(var_list) if var_list is not None else trainable_variables(loss.graph)
        if not var_list:
            raise ValueError("no variables to optimize: create tf.Variable(...)s or pass var_list")
        grads = gradients(loss, [v.value() for v in var_list])
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """An op applying each (gradient, variable) update, and incrementing global_step."""
        updates = []
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("no gradients: the loss does not depend on any of the variables")
        for g, v in pairs:
            updates.extend(self._apply(g, v))
        updates.extend(self._finish())
        if global_step is not None:
            updates.append(assign_add(global_step, 1))
        return group(updates, name=name or self.name)

    def minimize(self, loss, global_step=None, var_list=None, name=None, **unused):
        """compute_gradients then apply_gradients."""
        return self.apply_gradients(self.compute_gradients(loss, var_list), global_step, name)

    def _finish(self):
        return []



def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """TF's clip_by_global_norm: (each t * clip_norm / max(global_norm, clip_norm), global_norm), where
    global_norm is the L2 norm of all the tensors together; None entries stay None."""
    from .ops import maximum, reduce_sum
    present = [convert_to_tensor(t) for t in t_list if t is not None]
    if not present:
        raise ValueError("clip_by_global_norm got no tensors (every entry is None)")
    if use_norm is None:
        total = reduce_sum(square(present[0]))
        for t in present[1:]:
            total = total + reduce_sum(square(t))
        use_norm = sqrt(total)
    scale = clip_norm / maximum(use_norm, clip_norm)
    return [None if t is None else convert_to_tensor(t) * cast(scale, convert_to_tensor(t).dtype)
            for t in t_list], use_norm

class GradientDescentOptimizer(Optimizer):
    """var -= lr * grad."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(learning_rate, name)

    def _apply(self, g, v):
        return [assign_sub(v, g * self._lr(v))]


class MomentumOptimizer(Optimizer):
    """accum = momentum * accum + grad; var -= lr * accum (Nesterov: lr * (grad + momentum * accum))."""

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(learning_rate, name)
        self.momentum, self.use_nesterov = momentum, use_nesterov

    def _apply(self, g, v):
        accum = self._slot(v, "momentum")
        new_accum = assign(accum, accum * self.momentum + g)
        step = (g + new_accum * self.momentum) if self.use_nesterov else new_accum
        return [assign_sub(v, step * self._lr(v))]


class AdamOptimizer(Optimizer):
    """Adam with TF1's bias correction folded into the step size."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, use_locking=False, name="Adam"):
        super().__init__(learning_rate, name)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self._powers = None

    def _beta_powers(self, v):
        if self._powers is None:
            self._powers = (Variable(np.array(self.beta1, v.dtype.np), trainable=False, name=f"{self.name}/beta1_power"),
                            Variable(np.array(self.beta2, v.dtype.np), trainable=False, name=f"{self.name}/beta2_power"))
        return self._powers

    def _apply(self, g, v):
        b1p, b2p = self._beta_powers(v)
        m, s = self._slot(v, "m"), self._slot(v, "v")
        lr_t = self._lr(v) * sqrt(1.0 - b2p.value()) / (1.0 - b1p.value())
        m_t = assign(m, m * self.beta1 + g * (1.0 - self.beta1))
        s_t = assign(s, s * self.beta2 + square(g) * (1.0 - self.beta2))
        return [assign_sub(v, lr_t * m_t / (sqrt(s_t) + self.epsilon))]

    def _finish(self):
        # read-before-write ordering makes every update above use the powers of this step
        b1p, b2p = self._powers
        return [assign(b1p, b1p * self.beta1), assign(b2p, b2p * self.beta2)]


class RMSPropOptimizer(Optimizer):
    """ms = decay*ms + (1-decay)*g^2; mom = momentum*mom + lr*g/sqrt(ms+eps); var -= mom (ms starts at 1, as TF1)."""

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False,
                 centered=False, name="RMSProp"):
        super().__init__(learning_rate, name)
        if centered:
            raise NotImplementedError("RMSPropOptimizer(centered=True) is not supported")
        self.decay, self.momentum, self.epsilon = decay, momentum, epsilon

    def _apply(self, g, v):
        ms, mom = self._slot(v, "rms", 1.0), self._slot(v, "momentum")
        ms_t = assign(ms, ms * self.decay + square(g) * (1.0 - self.decay))
        mom_t = assign(mom, mom * self.momentum + g * self._lr(v) / sqrt(ms_t + self.epsilon))
        return [assign_sub(v, mom_t)]


class SaverError(GraphcError, ValueError):
    """A checkpoint does not match the variables it is restored into."""


class Saver:
    """Saves and restores variable values to one safetensors file."""

    def __init__(self, var_list=None, **unused):
        self._var_list = var_list

    def _variables(self):
        """(checkpoint key, variable) pairs: a dict var_list names the keys, as in TF1."""
        vs = self._var_list if self._var_list is not None else global_variables()
        return list(vs.items()) if isinstance(vs, dict) else [(v.var_name, v) for v in vs]

    def save(self, sess, save_path, global_step=None, **unused):
        """Write every variable's current value to `save_path`; returns the path written."""
        from safetensors.numpy import save_file
        if global_step is not None:
            save_path = f"{save_path}-{int(global_step)}"
        variables = self._variables()
        values = sess.run([v.value() for _, v in variables])
        tensors = {key: np.require(val, requirements="C") for (key, _), val in zip(variables, values)}
        directory = os.path.dirname(os.path.abspath(save_path))
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        os.close(fd)
        try:  # write then rename: a crash never leaves a half-written checkpoint
            save_file(tensors, tmp)
            os.replace(tmp, save_path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return save_path

    def restore(self, sess, save_path):
        """Load every variable's value from `save_path`, checking names, shapes and dtypes."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
        if not os.path.exists(save_path):
            raise SaverError(f"checkpoint {save_path!r} does not exist")
        try:
            saved = load_file(save_path)
        except (SafetensorError, OSError, ValueError) as e:
            raise SaverError(f"checkpoint {save_path!r} is not a readable safetensors file: {e}") from None
        for key, v in self._variables():
            if key not in saved:
                raise SaverError(f"checkpoint {save_path!r} has no value for variable '{key}' "
                                 f"(it has: {sorted(saved)[:10]})")
            value = saved[key]
            if tuple(value.shape) != tuple(v.shape) or value.dtype != v.dtype.np:
                raise SaverError(f"variable '{v.var_name}' is {v.dtype.name}{list(v.shape)} in the graph but "
                                 f"{value.dtype}{list(value.shape)} in {save_path!r}")
            sess.set_variable(v.var_name, value)
