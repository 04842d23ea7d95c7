"""Optimizers and Saver, TF1 style. An update is graph ops (assign_sub and friends), so one
`sess.run([train_op, loss])` runs forward, backward and update as compiled kernels."""
import os
import tempfile

import numpy as np

from .errors import GraphcError
from .ops import cast, convert_to_tensor, sqrt, square
from .ops.state import assign, assign_add, assign_sub, group  # noqa: F401
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
        from .autodiff import gradients
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


class AdagradOptimizer(Optimizer):
    """acc += g^2; var -= lr * g / sqrt(acc)."""

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"):
        super().__init__(learning_rate, name)
        self.initial = initial_accumulator_value

    def _apply(self, g, v):
        acc = assign_add(self._slot(v, "accumulator", self.initial), square(g))
        return [assign_sub(v, g * self._lr(v) / sqrt(acc))]


class AdadeltaOptimizer(Optimizer):
    """Zeiler's Adadelta: running averages of squared gradients and squared updates."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-8, use_locking=False, name="Adadelta"):
        super().__init__(learning_rate, name)
        self.rho, self.epsilon = rho, epsilon

    def _apply(self, g, v):
        acc, acc_update = self._slot(v, "accum"), self._slot(v, "accum_update")
        acc_t = assign(acc, acc * self.rho + square(g) * (1.0 - self.rho))
        update = sqrt(acc_update + self.epsilon) / sqrt(acc_t + self.epsilon) * g
        acc_update_t = assign(acc_update, acc_update * self.rho + square(update) * (1.0 - self.rho))
        return [acc_update_t, assign_sub(v, update * self._lr(v))]


def _proximal(prox, lr, l1, l2):
    """TF's proximal step on prox = var - lr * step: soft-threshold by lr*l1, shrink by 1 + lr*l2."""
    from .ops import abs as _abs, maximum, sign
    if l1 > 0:
        prox = sign(prox) * maximum(_abs(prox) - lr * l1, 0.0)
    return prox / (1.0 + lr * l2) if l2 > 0 else prox


class ProximalGradientDescentOptimizer(Optimizer):
    """Gradient descent followed by TF's proximal step for l1/l2 regularization."""

    def __init__(self, learning_rate, l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 use_locking=False, name="ProximalGradientDescent"):
        super().__init__(learning_rate, name)
        self.l1, self.l2 = l1_regularization_strength, l2_regularization_strength

    def _apply(self, g, v):
        lr = self._lr(v)
        return [assign(v, _proximal(v.value() - g * lr, lr, self.l1, self.l2))]


class ProximalAdagradOptimizer(AdagradOptimizer):
    """Adagrad followed by the proximal step."""

    def __init__(self, learning_rate, initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, use_locking=False, name="ProximalAdagrad"):
        super().__init__(learning_rate, initial_accumulator_value, name=name)
        self.l1, self.l2 = l1_regularization_strength, l2_regularization_strength

    def _apply(self, g, v):
        acc = assign_add(self._slot(v, "accumulator", self.initial), square(g))
        lr = self._lr(v) / sqrt(acc)
        return [assign(v, _proximal(v.value() - g * lr, lr, self.l1, self.l2))]


class FtrlOptimizer(Optimizer):
    """FTRL-Proximal (McMahan et al.), TF1's update with learning_rate_power -0.5."""

    def __init__(self, learning_rate, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0, use_locking=False, name="Ftrl",
                 **unused):
        super().__init__(learning_rate, name)
        if learning_rate_power != -0.5:
            raise NotImplementedError("FtrlOptimizer with learning_rate_power other than -0.5")
        self.initial, self.l1, self.l2 = initial_accumulator_value, l1_regularization_strength, l2_regularization_strength

    def _apply(self, g, v):
        from .ops import abs as _abs, sign, where, greater
        acc, linear = self._slot(v, "accum", self.initial), self._slot(v, "linear")
        lr = self._lr(v)
        new_acc = acc + square(g)
        sigma = (sqrt(new_acc) - sqrt(acc.value())) / lr
        linear_t = assign(linear, linear + g - sigma * v.value())
        acc_t = assign(acc, new_acc)
        quadratic = sqrt(acc_t) / lr + 2.0 * self.l2
        value = (sign(linear_t) * self.l1 - linear_t) / quadratic
        return [assign(v, where(greater(_abs(linear_t), self.l1), value, value * 0.0))]


# ---- mixed precision ------------------------------------------------------------------------------
MIXED_PRECISION = "graphc_mixed_precision"  # graph collection: the dtype passes/mixed_precision.py uses


class MixedPrecisionOptimizer(Optimizer):
    """`optimizer` on a graph whose matmuls and convolutions compute in float16 or bfloat16 (see
    passes/mixed_precision.py) while its variables stay float32. For float16, dynamic loss scaling:
    the loss is multiplied by `loss_scale` before differentiation and the gradients divided by it; a
    step whose gradients overflow (inf or NaN) changes no variable and multiplies the scale by
    `backoff`; after `growth_interval` good steps in a row the scale grows by `growth_factor`."""

    def __init__(self, optimizer, dtype="float16", initial_scale=2.0 ** 15, growth_interval=2000,
                 growth_factor=2.0, backoff=0.5, name="MixedPrecision"):
        from . import dtypes
        super().__init__(optimizer.learning_rate, name)
        self.optimizer, self.dtype = optimizer, dtypes.as_dtype(dtype)
        if self.dtype not in (dtypes.float16, dtypes.bfloat16):
            raise ValueError(f"mixed_precision: dtype must be float16 or bfloat16, got {self.dtype.name}")
        if initial_scale <= 0 or growth_interval < 1 or growth_factor < 1 or not 0 < backoff < 1:
            raise ValueError("mixed_precision: need initial_scale > 0, growth_interval >= 1, growth_factor >= 1 "
                             f"and 0 < backoff < 1; got {initial_scale}, {growth_interval}, {growth_factor}, {backoff}")
        self.scaled = self.dtype == dtypes.float16
        self.initial_scale, self.growth_interval = float(initial_scale), int(growth_interval)
        self.growth_factor, self.backoff = float(growth_factor), float(backoff)
        self.loss_scale = self.good_steps = None  # variables, made with the first gradients

    def compute_gradients(self, loss, var_list=None, **unused):
        """The inner optimizer's gradients of the (scaled) loss, unscaled; marks the graph mixed precision."""
        graph = loss.graph
        if graph.get_collection(MIXED_PRECISION) not in ([], [self.dtype.name]):
            raise ValueError(f"the graph already computes in {graph.get_collection(MIXED_PRECISION)[-1]}")
        if not graph.get_collection(MIXED_PRECISION):
            graph.add_to_collection(MIXED_PRECISION, self.dtype.name)
        if not self.scaled:
            return self.optimizer.compute_gradients(loss, var_list)
        with graph.as_default():
            if self.loss_scale is None:
                self.loss_scale = Variable(np.array(self.initial_scale, np.float32), trainable=False,
                                           name=f"{self.name}/loss_scale")
                self.good_steps = Variable(np.array(0, np.int32), trainable=False, name=f"{self.name}/good_steps")
            scale = self.loss_scale.value()
            pairs = self.optimizer.compute_gradients(loss * cast(scale, loss.dtype), var_list)
            return [(None if g is None else g / cast(scale, g.dtype), v) for g, v in pairs]

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """The inner update when every gradient is finite (float16: else no variable changes), and the
        loss scale's update."""
        if not self.scaled:
            return self.optimizer.apply_gradients(grads_and_vars, global_step, name)
        from .ops import abs as _abs, less_equal, logical_and, reduce_max, where
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("no gradients: the loss does not depend on any of the variables")
        graph = pairs[0][0].graph
        with graph.as_default():
            finite = None
            for g, _ in pairs:  # NaN compares false, so a NaN or inf anywhere makes this false
                ok = less_equal(reduce_max(_abs(cast(g, "float32"))), float(np.finfo(np.float32).max))
                finite = ok if finite is None else logical_and(finite, ok)
            start = len(graph.nodes)
            inner = self.optimizer.apply_gradients(pairs, global_step, name)
            update = _only_if(finite, inner, graph.nodes[start:])
            scale, good = self.loss_scale.value(), self.good_steps.value()
            grown = less_equal(float(self.growth_interval), cast(good + 1, "float32"))
            new_scale = where(finite, where(grown, scale * self.growth_factor, scale), scale * self.backoff)
            new_good = where(finite, where(grown, good * 0, good + 1), good * 0)
            return group([update, assign(self.loss_scale, new_scale), assign(self.good_steps, new_good)],
                         name=name or self.name)

    def _apply(self, g, v):
        return self.optimizer._apply(g, v)


def _only_if(condition, op, made):
    """A copy of `op` (a group of updates built from the nodes `made`) whose every assignment writes
    the variable's own value back where `condition` is false: the step is skipped, slots and global
    step included."""
    from .ops import where
    made_ids = {id(n) for n in made}
    copies = {}

    def copy(node):
        if id(node) not in made_ids or node.opdef.variable:
            return node
        if id(node) in copies:
            return copies[id(node)]
        inputs = [copy(t.node).outputs[t.index] for t in node.inputs]
        controls = [copy(c) for c in node.control_inputs]
        if node.opdef.writes_input is not None:
            ref, value = inputs
            new_value = {"assign": value, "assign_sub": ref - value, "assign_add": ref + value}[node.op]
            result = assign(ref, where(condition, new_value, ref)).node
        else:
            result = node.graph.create_node(node.op, inputs, node.attrs, node.name, control_inputs=controls)
        copies[id(node)] = result
        return result
    return copy(op)


def mixed_precision(optimizer, dtype="float16", **loss_scaling):
    """`optimizer` training in mixed precision: matmuls and convolutions in `dtype` ("float16" or
    "bfloat16"), float32 master weights, reductions and softmax; float16 with dynamic loss scaling
    (`initial_scale`, `growth_interval`, `growth_factor`, `backoff`: see MixedPrecisionOptimizer)."""
    return MixedPrecisionOptimizer(optimizer, dtype, **loss_scaling)


# ---- global step and learning-rate schedules ----------------------------------------------------
GLOBAL_STEP = "global_step"


def get_global_step(graph=None):
    """The graph's global step variable, or None."""
    from .graph import get_default_graph
    found = (graph or get_default_graph()).get_collection(GLOBAL_STEP)
    return found[0] if found else None


def create_global_step(graph=None):
    """A new int64 global step variable (starting at 0), in the GLOBAL_STEP collection."""
    from .graph import get_default_graph
    g = graph or get_default_graph()
    if get_global_step(g) is not None:
        raise ValueError("the graph already has a global step")
    with g.as_default():
        step = Variable(np.array(0, np.int64), trainable=False, name="global_step")
    g.add_to_collection(GLOBAL_STEP, step)
    return step


def get_or_create_global_step(graph=None):
    """The graph's global step, created if needed."""
    return get_global_step(graph) or create_global_step(graph)


def _step_float(global_step):
    from .dtypes import float32
    return cast(convert_to_tensor(global_step), float32)


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """lr * decay_rate ^ (step / decay_steps), the exponent floored when staircase."""
    from .ops import floor, pow as _pow
    p = _step_float(global_step) / float(decay_steps)
    return learning_rate * _pow(convert_to_tensor(float(decay_rate)), floor(p) if staircase else p)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """lr / (1 + decay_rate * step / decay_steps)."""
    from .ops import floor
    p = _step_float(global_step) / float(decay_steps)
    return learning_rate / ((floor(p) if staircase else p) * float(decay_rate) + 1.0)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """lr * exp(-decay_rate * step / decay_steps)."""
    from .ops import exp, floor
    p = _step_float(global_step) / float(decay_steps)
    return learning_rate * exp((floor(p) if staircase else p) * -float(decay_rate))


def polynomial_decay(learning_rate, global_step, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                     name=None):
    """(lr - end) * (1 - min(step, decay_steps) / decay_steps) ^ power + end."""
    from .ops import ceil, maximum, minimum, pow as _pow
    step = _step_float(global_step)
    if cycle:
        steps = maximum(ceil(step / float(decay_steps)), 1.0) * float(decay_steps)
    else:
        steps, step = float(decay_steps), minimum(step, float(decay_steps))
    return _pow(1.0 - step / steps, convert_to_tensor(float(power))) * (learning_rate - end_learning_rate) \
        + end_learning_rate


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None):
    """lr * ((1 - alpha) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2 + alpha)."""
    from .ops import cos, minimum
    p = minimum(_step_float(global_step), float(decay_steps)) / float(decay_steps)
    return learning_rate * ((cos(p * np.pi) + 1.0) * (0.5 * (1.0 - alpha)) + alpha)


def piecewise_constant(x, boundaries, values, name=None):
    """values[i] where boundaries[i-1] < x <= boundaries[i] (values[0] up to the first boundary)."""
    from .ops import where, greater
    step = convert_to_tensor(x)
    out = convert_to_tensor(values[-1])
    for b, v in reversed(list(zip(boundaries, values[:-1]))):
        out = where(greater(step, convert_to_tensor(b, step.dtype)), out, convert_to_tensor(v, out.dtype))
    return out


# ---- checkpoints ---------------------------------------------------------------------------------
CHECKPOINT_INDEX = "checkpoint"  # the file in a checkpoint folder naming the saved paths, newest last


class CheckpointState:
    """What get_checkpoint_state returns: the newest path and every kept one."""

    def __init__(self, model_checkpoint_path, all_model_checkpoint_paths):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = all_model_checkpoint_paths


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The CheckpointState of a folder a Saver wrote into, or None."""
    import json
    index = os.path.join(checkpoint_dir, latest_filename or CHECKPOINT_INDEX)
    if not os.path.exists(index):
        return None
    with open(index) as f:
        paths = json.load(f)["all_model_checkpoint_paths"]
    paths = [p if os.path.isabs(p) else os.path.join(checkpoint_dir, p) for p in paths]
    return CheckpointState(paths[-1], paths) if paths else None


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The newest checkpoint path a Saver wrote into `checkpoint_dir`, or None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    return state.model_checkpoint_path if state else None


def checkpoint_exists(path):
    """Whether a checkpoint was written at `path`."""
    return os.path.exists(path)


class SaverError(GraphcError, ValueError):
    """A checkpoint does not match the variables it is restored into."""


class Saver:
    """Saves and restores variable values to one safetensors file."""

    def __init__(self, var_list=None, max_to_keep=5, **unused):
        self._var_list = var_list
        self.max_to_keep = max_to_keep

    def _variables(self):
        """(checkpoint key, variable) pairs: a dict var_list names the keys, as in TF1."""
        vs = self._var_list if self._var_list is not None else global_variables()
        return list(vs.items()) if isinstance(vs, dict) else [(v.var_name, v) for v in vs]

    def save(self, sess, save_path, global_step=None, **unused):
        """Write every variable's current value to `save_path`; returns the path written."""
        from safetensors.numpy import save_file
        if global_step is not None:
            if hasattr(global_step, "_as_graph_element") or hasattr(global_step, "node"):
                global_step = sess.run(global_step)
            save_path = f"{save_path}-{int(global_step)}"
        variables = self._variables()
        values = sess.run([v.value() for _, v in variables])
        tensors = {key: np.require(val, requirements="C") for (key, _), val in zip(variables, values)}
        directory = os.path.dirname(os.path.abspath(save_path))
        os.makedirs(directory, exist_ok=True)  # as TF's checkpoint writer: './model/dnn.ckpt' makes ./model
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        os.close(fd)
        try:  # write then rename: a crash never leaves a half-written checkpoint
            save_file(tensors, tmp)
            os.replace(tmp, save_path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        self._record(save_path)
        return save_path

    def _record(self, save_path):
        """Note `save_path` in its folder's checkpoint index, deleting checkpoints beyond max_to_keep."""
        import json
        directory = os.path.dirname(os.path.abspath(save_path))
        state = get_checkpoint_state(directory)
        paths = [p for p in (state.all_model_checkpoint_paths if state else []) if p != os.path.abspath(save_path)]
        paths.append(os.path.abspath(save_path))
        if self.max_to_keep:
            for old in paths[:-self.max_to_keep]:
                if os.path.exists(old):
                    os.remove(old)
            paths = paths[-self.max_to_keep:]
        with open(os.path.join(directory, CHECKPOINT_INDEX), "w") as f:
            json.dump({"model_checkpoint_path": paths[-1], "all_model_checkpoint_paths": paths}, f)

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
