"""tf.nn.rnn_cell / tf.contrib.rnn: RNN cells and the functions that run them over time.

Cells create their variables (with get_variable, under the scope they are first called in) on their
first call and reuse them after, as TF1's layer-style cells do. dynamic_rnn unrolls over a time dim known
when the graph is built, and runs a run-time while_loop over one known only when fed; sequence_length masks
steps past each sequence's end (outputs 0, state kept).
"""
import collections

from graphc import dtypes
from graphc import ops as _ops
from graphc.initializers import constant_initializer, zeros_initializer
from graphc.ops import cast, concat, convert_to_tensor, matmul, sigmoid, split, stack, tanh, unstack
from graphc.ops._base import constant_value
from graphc.variables import get_variable, variable_scope

LSTMStateTuple = collections.namedtuple("LSTMStateTuple", ("c", "h"))


class RNNCell:
    """Base: `cell(inputs, state) -> (output, new_state)`; subclasses give sizes and `_step`."""

    _default_name = "rnn_cell"

    def __init__(self, name=None):
        self.name = name
        self._vars = None

    @property
    def state_size(self):
        raise NotImplementedError

    @property
    def output_size(self):
        raise NotImplementedError

    def zero_state(self, batch_size, dtype):
        """Zeros of the state's structure for `batch_size` rows (an int, a tensor the graph determines,
        or a [batch, ...] tensor whose rows to match)."""
        dtype = dtypes.as_dtype(dtype)
        if hasattr(batch_size, "node"):
            value = constant_value(batch_size)
            if value is not None:
                batch_size = int(value)
            elif batch_size.ndim == 0:
                raise ValueError(f"zero_state: batch size {batch_size.name} is not known when the graph is built; "
                                 "pass an int (or let static_rnn/dynamic_rnn build the initial state)")
        return _map_state(lambda size: _rows_of_zeros(batch_size, size, dtype), self.state_size)

    def _variable(self, name, shape, initializer=None):
        return get_variable(name, shape, initializer=initializer)

    def __call__(self, inputs, state, scope=None):
        inputs = convert_to_tensor(inputs)
        if self._vars is None:
            with variable_scope(scope or self.name or self._default_name):
                self._vars = self._build(int(inputs.shape[-1]), inputs.dtype)
        return self._step(inputs, state)


def _rows_of_zeros(batch, size, dtype):
    """Zeros [batch, size]; `batch` an int or a tensor whose first dim gives the rows."""
    if isinstance(batch, int):
        return _ops.zeros([batch, size], dtype)
    return _ops.zeros_like(cast(batch[:, :1], dtype)) * _ops.zeros([1, size], dtype)


class BasicRNNCell(RNNCell):
    """h' = activation(W [x, h] + b)."""

    _default_name = "basic_rnn_cell"

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None):
        super().__init__(name)
        self.num_units, self.activation = num_units, activation or tanh

    state_size = property(lambda self: self.num_units)
    output_size = property(lambda self: self.num_units)

    def _build(self, depth, dtype):
        return (self._variable("kernel", [depth + self.num_units, self.num_units]),
                self._variable("bias", [self.num_units], zeros_initializer()))

    def _step(self, x, h):
        kernel, bias = self._vars
        out = self.activation(matmul(concat([x, h], 1), kernel) + bias)
        return out, out


class GRUCell(RNNCell):
    """Gated recurrent unit (Cho et al.), TF1's variable layout: gates/{kernel,bias}, candidate/{kernel,bias}."""

    _default_name = "gru_cell"

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
                 name=None, dtype=None):
        super().__init__(name)
        self.num_units, self.activation = num_units, activation or tanh
        self.kernel_initializer = kernel_initializer

    state_size = property(lambda self: self.num_units)
    output_size = property(lambda self: self.num_units)

    def _build(self, depth, dtype):
        n = self.num_units
        with variable_scope("gates"):
            gates = (self._variable("kernel", [depth + n, 2 * n], self.kernel_initializer),
                     self._variable("bias", [2 * n], constant_initializer(1.0)))
        with variable_scope("candidate"):
            cand = (self._variable("kernel", [depth + n, n], self.kernel_initializer),
                    self._variable("bias", [n], zeros_initializer()))
        return gates, cand

    def _step(self, x, h):
        (gk, gb), (ck, cb) = self._vars
        r, u = split(sigmoid(matmul(concat([x, h], 1), gk) + gb), 2, 1)
        c = self.activation(matmul(concat([x, r * h], 1), ck) + cb)
        new_h = u * h + (1.0 - u) * c
        return new_h, new_h


class BasicLSTMCell(RNNCell):
    """LSTM without peepholes: i, j, f, o = split(W [x, h] + b); c' = c sig(f + forget_bias) + sig(i) tanh(j)."""

    _default_name = "basic_lstm_cell"

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None, name=None,
                 dtype=None, initializer=None, num_proj=None, use_peepholes=False, cell_clip=None, **unused):
        super().__init__(name)
        if use_peepholes or cell_clip is not None:
            raise NotImplementedError("LSTMCell with use_peepholes or cell_clip")
        self.num_units, self.forget_bias = num_units, forget_bias
        self.state_is_tuple, self.activation = state_is_tuple, activation or tanh
        self.initializer, self.num_proj = initializer, num_proj

    @property
    def state_size(self):
        h = self.num_proj or self.num_units
        return LSTMStateTuple(self.num_units, h) if self.state_is_tuple else self.num_units + h

    output_size = property(lambda self: self.num_proj or self.num_units)

    def _build(self, depth, dtype):
        h = self.num_proj or self.num_units
        weights = (self._variable("kernel", [depth + h, 4 * self.num_units], self.initializer),
                   self._variable("bias", [4 * self.num_units], zeros_initializer()))
        if self.num_proj:
            with variable_scope("projection"):
                weights += (self._variable("kernel", [self.num_units, self.num_proj], self.initializer),)
        return weights

    def _step(self, x, state):
        if self.state_is_tuple:
            c, h = state
        else:
            c, h = split(state, [self.num_units, self.output_size], 1)
        kernel, bias = self._vars[:2]
        i, j, f, o = split(matmul(concat([x, h], 1), kernel) + bias, 4, 1)
        new_c = c * sigmoid(f + self.forget_bias) + sigmoid(i) * self.activation(j)
        new_h = self.activation(new_c) * sigmoid(o)
        if self.num_proj:
            new_h = matmul(new_h, self._vars[2])
        new_state = LSTMStateTuple(new_c, new_h) if self.state_is_tuple else concat([new_c, new_h], 1)
        return new_h, new_state


class LSTMCell(BasicLSTMCell):
    """tf.nn.rnn_cell.LSTMCell (optionally with a projection, num_proj)."""

    _default_name = "lstm_cell"


class MultiRNNCell(RNNCell):
    """Cells stacked: each one's output is the next one's input; the state is a tuple of theirs."""

    _default_name = "multi_rnn_cell"

    def __init__(self, cells, state_is_tuple=True):
        super().__init__(None)
        self.cells = list(cells)

    state_size = property(lambda self: tuple(c.state_size for c in self.cells))
    output_size = property(lambda self: self.cells[-1].output_size)

    def __call__(self, inputs, state, scope=None):
        new_states = []
        with variable_scope(scope or self._default_name):
            for k, (cell, s) in enumerate(zip(self.cells, state)):
                with variable_scope(f"cell_{k}"):
                    inputs, s = cell(inputs, s)
                new_states.append(s)
        return inputs, tuple(new_states)


class DropoutWrapper(RNNCell):
    """A cell with dropout on its inputs, outputs and state (keep probabilities; 1 keeps all)."""

    def __init__(self, cell, input_keep_prob=1.0, output_keep_prob=1.0, state_keep_prob=1.0, seed=None, **unused):
        super().__init__(None)
        self.cell, self.seed = cell, seed
        self.input_keep_prob, self.output_keep_prob, self.state_keep_prob = \
            input_keep_prob, output_keep_prob, state_keep_prob

    state_size = property(lambda self: self.cell.state_size)
    output_size = property(lambda self: self.cell.output_size)

    def zero_state(self, batch_size, dtype):
        return self.cell.zero_state(batch_size, dtype)

    def _drop(self, x, keep):
        if isinstance(keep, (int, float)) and keep == 1:
            return x
        return _ops.dropout(x, keep, seed=self.seed)

    def __call__(self, inputs, state, scope=None):
        out, new_state = self.cell(self._drop(convert_to_tensor(inputs), self.input_keep_prob), state, scope)
        if not (isinstance(self.state_keep_prob, (int, float)) and self.state_keep_prob == 1):
            new_state = _map_state(lambda s: self._drop(s, self.state_keep_prob), new_state)
        return self._drop(out, self.output_keep_prob), new_state


def _map_state(fn, state):
    """fn on every leaf of a (nested, possibly named) tuple state."""
    if isinstance(state, tuple):
        items = [_map_state(fn, s) for s in state]
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    return fn(state)


def _map2(fn, a, b):
    if isinstance(a, tuple):
        items = [_map2(fn, x, y) for x, y in zip(a, b)]
        return type(a)(*items) if hasattr(a, "_fields") else tuple(items)
    return fn(a, b)


def _initial_state(cell, first_input, initial_state, dtype):
    if initial_state is not None:
        return initial_state
    x = convert_to_tensor(first_input)
    batch = x.shape[0] if x.shape is not None and x.shape[0] is not None else x
    return cell.zero_state(batch, dtype or x.dtype)


def _masked_step(cell, x, state, t, length):
    """One step of `cell`; with sequence lengths, rows past their end output 0 and keep their state."""
    out, new_state = cell(x, state)
    if length is not None:
        alive = _ops.expand_dims(cast(_ops.greater(length, cast(t, x.dtype)), x.dtype), 1)
        out = out * alive
        new_state = _map2(lambda n, o: n * alive + o * (1.0 - alive), new_state, state)
    return out, new_state


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """Run `cell` over the list `inputs` ([batch, depth] each): (outputs list, final state)."""
    inputs = [convert_to_tensor(x) for x in inputs]
    state = _initial_state(cell, inputs[0], initial_state, dtype)
    length = None if sequence_length is None else cast(convert_to_tensor(sequence_length), inputs[0].dtype)
    outputs = []
    with variable_scope(scope or "rnn"):
        for t, x in enumerate(inputs):
            out, state = _masked_step(cell, x, state, t, length)
            outputs.append(out)
    return outputs, state


def _run_time_rnn(cell, inputs, initial_state, dtype, sequence_length, scope):
    """Run `cell` over time-major `inputs` [time, batch, ...] whose time dim is known only at run time, as
    TF's dynamic_rnn does: step 0 is built in the graph (creating the cell's variables), the other steps
    are one run-time while_loop that writes each step's output into its row of a [time, batch, units]
    buffer (TF's TensorArray). Returns (outputs [time, batch, units], final state)."""
    from graphc.nest import flatten, pack
    from graphc.ops.loop import while_loop
    length = None if sequence_length is None else cast(convert_to_tensor(sequence_length), inputs.dtype)
    steps = _ops.shape(inputs)[0]
    step_index = _ops.cumsum(_ops.ones_like(inputs[:, 0, 0])) - 1.0  # [time]: 0, 1, 2, ...

    def write(buffer, t, out):
        row = cast(_ops.equal(step_index, cast(t, inputs.dtype)), out.dtype)
        return buffer + _ops.reshape(row, [-1, 1, 1]) * _ops.expand_dims(out, 0)
    with variable_scope(scope or "rnn"):
        first = _ops.gather(inputs, 0)
        out, state0 = _masked_step(cell, first, _initial_state(cell, first, initial_state, dtype), 0, length)
        empty = _ops.zeros_like(cast(inputs[:, :, :1], out.dtype)) * _ops.zeros([1, 1, out.shape[-1]], out.dtype)

        def body(values):
            t, state = values[0], pack(state0, values[1:-1])
            out, state = _masked_step(cell, _ops.gather(inputs, t), state, t, length)
            return [t + 1] + [convert_to_tensor(s) for s in flatten(state)] + [write(values[-1], t, out)]
        values = while_loop(lambda v: v[0] < steps, body, [convert_to_tensor(1)] +
                            [convert_to_tensor(s) for s in flatten(state0)] + [write(empty, 0, out)])
    return values[-1], pack(state0, values[1:-1])


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None, parallel_iterations=None,
                swap_memory=False, time_major=False, scope=None):
    """Run `cell` over inputs [batch, time, depth] ([time, batch, depth] if time_major): (outputs of the same
    layout, final state). Unrolled over a time dim known when the graph is built; a run-time loop otherwise."""
    inputs = convert_to_tensor(inputs)
    time_axis = 0 if time_major else 1
    if inputs.shape is None:
        raise ValueError(f"dynamic_rnn needs the rank of its inputs {inputs.name} known when the graph is built "
                         "(to find the time dim); give the placeholder a shape such as [None, None, depth]")
    if inputs.shape[time_axis] is None:
        swap = [1, 0] + list(range(2, len(inputs.shape)))
        outputs, state = _run_time_rnn(cell, inputs if time_major else _ops.transpose(inputs, swap),
                                       initial_state, dtype, sequence_length, scope)
        return (outputs if time_major else _ops.transpose(outputs, swap)), state
    steps = unstack(inputs, axis=time_axis)
    outputs, state = static_rnn(cell, steps, initial_state, dtype, sequence_length, scope)
    return stack(outputs, axis=time_axis), state


def _reverse_steps(steps, sequence_length):
    """The time steps reversed; with sequence_length, only each sequence's first `length` steps are."""
    if sequence_length is None:
        return steps[::-1]
    n = len(steps)
    length = cast(convert_to_tensor(sequence_length), dtypes.int32)
    out = []
    for t in range(n):
        src = _ops.where(_ops.less(t, length), length - 1 - t, _ops.zeros_like(length) + t)
        picked = None
        for k, x in enumerate(steps):
            hit = _ops.expand_dims(cast(_ops.equal(src, k), x.dtype), 1)
            picked = x * hit if picked is None else picked + x * hit
        out.append(picked)
    return out


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None, initial_state_fw=None,
                              initial_state_bw=None, dtype=None, parallel_iterations=None, swap_memory=False,
                              time_major=False, scope=None):
    """A forward and a backward dynamic_rnn: ((outputs_fw, outputs_bw), (state_fw, state_bw))."""
    inputs = convert_to_tensor(inputs)
    time_axis = 0 if time_major else 1
    if inputs.shape is None or inputs.shape[time_axis] is None:
        raise ValueError(f"bidirectional_dynamic_rnn needs the time dim of {inputs.name} known when built")
    steps = unstack(inputs, axis=time_axis)
    with variable_scope(scope or "bidirectional_rnn"):
        out_fw, state_fw = static_rnn(cell_fw, steps, initial_state_fw, dtype, sequence_length, "fw")
        out_bw, state_bw = static_rnn(cell_bw, _reverse_steps(steps, sequence_length), initial_state_bw, dtype,
                                      sequence_length, "bw")
    out_bw = _reverse_steps(out_bw, sequence_length)
    return (stack(out_fw, axis=time_axis), stack(out_bw, axis=time_axis)), (state_fw, state_bw)


def static_bidirectional_rnn(cell_fw, cell_bw, inputs, initial_state_fw=None, initial_state_bw=None, dtype=None,
                             sequence_length=None, scope=None):
    """Forward and backward static_rnn over the list `inputs`: (outputs [fw, bw] concatenated, fw state, bw state)."""
    inputs = [convert_to_tensor(x) for x in inputs]
    with variable_scope(scope or "bidirectional_rnn"):
        out_fw, state_fw = static_rnn(cell_fw, inputs, initial_state_fw, dtype, sequence_length, "fw")
        out_bw, state_bw = static_rnn(cell_bw, _reverse_steps(inputs, sequence_length), initial_state_bw, dtype,
                                      sequence_length, "bw")
    out_bw = _reverse_steps(out_bw, sequence_length)
    return [concat([f, b], 1) for f, b in zip(out_fw, out_bw)], state_fw, state_bw
