"""Identity-like ops: identity (a named copy) and stop_gradient (a wall for autodiff)."""
from ..registry import Example, Pattern, register_op
from ._base import convert_to_tensor, make, rand, same_type


def _examples(rng):
    return [Example([rand(rng, (3, 4))]), Example([rand(rng, (5,), "int32")]), Example([rand(rng, ())])]


identity_op = register_op("identity", moves_bits=True, noop_when_same_type=True, pattern=Pattern.ELEMWISE, infer=same_type,
                          reference=lambda attrs, x: x.copy(), examples=_examples,
                          gradient=lambda n, dys: [dys[0]])
stop_gradient_op = register_op("stop_gradient", moves_bits=True, noop_when_same_type=True, pattern=Pattern.ELEMWISE, infer=same_type,
                               reference=lambda attrs, x: x.copy(), examples=_examples, differentiable=False)


def identity(input, name=None):
    """The same value as `input`, as a new tensor."""
    return make("identity", [convert_to_tensor(input)], None, name)


def stop_gradient(input, name=None):
    """The same value as `input`; gradients do not flow through it."""
    return make("stop_gradient", [convert_to_tensor(input)], None, name)
