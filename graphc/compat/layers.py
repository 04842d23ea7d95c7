"""tf.layers: functional layers that create their variables with get_variable under a scope named
after the layer ('dense', 'dense_1', ... unless `name` is given; `reuse=True` shares by name)."""
import numpy as np

from graphc import ops as _ops
from graphc.initializers import glorot_uniform_initializer, ones_initializer, zeros_initializer
from graphc.ops import convert_to_tensor, matmul, reshape
from graphc.variables import get_variable, variable_scope

UPDATE_OPS = "update_ops"


def _activate(y, activation):
    return activation(y) if activation is not None else y


def _pair(v):
    return [int(v)] * 2 if np.ndim(v) == 0 else [int(a) for a in v]


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None, bias_initializer=None,
          kernel_regularizer=None, bias_regularizer=None, trainable=True, name=None, reuse=None, **unused):
    """activation(inputs @ kernel + bias) over the last dim of inputs."""
    x = convert_to_tensor(inputs)
    with variable_scope(name, default_name="dense", reuse=reuse):
        kernel = get_variable("kernel", [int(x.shape[-1]), units], x.dtype,
                              kernel_initializer or glorot_uniform_initializer(), trainable=trainable)
        if x.ndim == 2 or sum(d is None for d in x.shape[:-1]) > 1:
            y = matmul(x, kernel)  # (several leading dims unknown when built: a matmul broadcast over them)
        else:  # [..., depth]: a matmul over the flattened leading dims
            flat = matmul(reshape(x, [-1, int(x.shape[-1])]), kernel)
            y = reshape(flat, [-1 if d is None else d for d in x.shape[:-1]] + [units])
        if use_bias:
            y = y + get_variable("bias", [units], x.dtype, bias_initializer or zeros_initializer(),
                                 trainable=trainable)
    return _activate(y, activation)


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
           dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer=None, bias_initializer=None,
           trainable=True, name=None, reuse=None, **unused):
    """A 2-D convolution layer (NHWC), with bias and activation."""
    from graphc.compat.nn import bias_add
    x = convert_to_tensor(inputs)
    fmt = "NHWC" if data_format == "channels_last" else "NCHW"
    channels = int(x.shape[-1] if fmt == "NHWC" else x.shape[1])
    with variable_scope(name, default_name="conv2d", reuse=reuse):
        kernel = get_variable("kernel", _pair(kernel_size) + [channels, filters], x.dtype,
                              kernel_initializer or glorot_uniform_initializer(), trainable=trainable)
        y = _ops.conv2d(x, kernel, strides=_pair(strides), padding=padding.upper(), data_format=fmt,
                        dilations=_pair(dilation_rate))
        if use_bias:
            y = bias_add(y, get_variable("bias", [filters], x.dtype, bias_initializer or zeros_initializer(),
                                         trainable=trainable), fmt)
    return _activate(y, activation)


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                     activation=None, use_bias=True, kernel_initializer=None, bias_initializer=None, trainable=True,
                     name=None, reuse=None, **unused):
    """A 2-D transposed convolution layer (NHWC), with bias and activation."""
    from graphc.compat.nn import bias_add, conv2d_transpose as _ct
    x = convert_to_tensor(inputs)
    if data_format != "channels_last":
        raise NotImplementedError("layers.conv2d_transpose with channels_first")
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(strides)
    n, h, w, c = x.shape
    if padding.lower() == "same":
        oh, ow = h * sh, w * sw
    else:
        oh, ow = (h - 1) * sh + kh, (w - 1) * sw + kw
    with variable_scope(name, default_name="conv2d_transpose", reuse=reuse):
        kernel = get_variable("kernel", [kh, kw, filters, int(c)], x.dtype,
                              kernel_initializer or glorot_uniform_initializer(), trainable=trainable)
        y = _ct(x, kernel, [n, oh, ow, filters], [1, sh, sw, 1], padding.upper())
        if use_bias:
            y = bias_add(y, get_variable("bias", [filters], x.dtype, bias_initializer or zeros_initializer(),
                                         trainable=trainable))
    return _activate(y, activation)


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Max over pool_size windows (NHWC)."""
    fmt = "NHWC" if data_format == "channels_last" else "NCHW"
    return _ops.max_pool2d(inputs, _pair(pool_size), _pair(strides), padding.upper(), data_format=fmt)


def average_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Mean over pool_size windows (NHWC; padding not counted)."""
    fmt = "NHWC" if data_format == "channels_last" else "NCHW"
    return _ops.avg_pool2d(inputs, _pair(pool_size), _pair(strides), padding.upper(), data_format=fmt)


def flatten(inputs, name=None, data_format="channels_last"):
    """[batch, ...] as [batch, product of the rest]."""
    x = convert_to_tensor(inputs)
    rest = x.shape[1:]
    if any(d is None for d in rest):
        raise ValueError(f"flatten needs the non-batch dims of {x.name} known, got {list(x.shape)}")
    return reshape(x, [-1, int(np.prod(rest))])


def _is_static(flag):
    return isinstance(flag, (bool, np.bool_, int))


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """Dropout with drop probability `rate` when `training` (a bool or a boolean tensor), else inputs."""
    x = convert_to_tensor(inputs)
    if _is_static(training):
        return _ops.dropout(x, rate=rate, noise_shape=noise_shape, seed=seed) if training else x
    return _ops.where(convert_to_tensor(training), _ops.dropout(x, rate=rate, noise_shape=noise_shape, seed=seed), x)


def batch_normalization(inputs, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                        beta_initializer=None, gamma_initializer=None, moving_mean_initializer=None,
                        moving_variance_initializer=None, training=False, trainable=True, name=None, reuse=None,
                        **unused):
    """Batch normalization over every axis but `axis`: batch statistics when training (and assign ops
    that update the moving averages, added to the UPDATE_OPS collection), moving averages otherwise."""
    from graphc.compat.nn import batch_normalization as _bn, moments
    from graphc.ops.state import assign
    x = convert_to_tensor(inputs)
    rank = x.ndim
    axis = axis % rank
    depth = int(x.shape[axis])
    reduce_axes = [a for a in range(rank) if a != axis]
    shape = [depth if a == axis else 1 for a in range(rank)]
    with variable_scope(name, default_name="batch_normalization", reuse=reuse):
        gamma = get_variable("gamma", [depth], x.dtype, gamma_initializer or ones_initializer(),
                             trainable=trainable) if scale else None
        beta = get_variable("beta", [depth], x.dtype, beta_initializer or zeros_initializer(),
                            trainable=trainable) if center else None
        moving_mean = get_variable("moving_mean", [depth], x.dtype, moving_mean_initializer or zeros_initializer(),
                                   trainable=False)
        moving_var = get_variable("moving_variance", [depth], x.dtype,
                                  moving_variance_initializer or ones_initializer(), trainable=False)

    def normalized(mean, var):
        return _bn(x, reshape(mean, shape), reshape(var, shape), None if beta is None else reshape(beta, shape),
                   None if gamma is None else reshape(gamma, shape), epsilon)
    inference = normalized(moving_mean, moving_var)
    if _is_static(training) and not training:
        return inference
    mean, var = moments(x, reduce_axes)
    graph = x.graph
    n = float(np.prod([x.shape[a] for a in reduce_axes])) if all(x.shape[a] is not None for a in reduce_axes) else None
    unbiased = var * (n / (n - 1)) if n and n > 1 else var  # TF's moving variance uses the unbiased estimate
    new_mean = moving_mean * momentum + mean * (1.0 - momentum)
    new_var = moving_var * momentum + unbiased * (1.0 - momentum)
    if not _is_static(training):
        flag = convert_to_tensor(training)
        new_mean, new_var = _ops.where(flag, new_mean, moving_mean.value()), _ops.where(flag, new_var, moving_var.value())
    for var_, value in ((moving_mean, new_mean), (moving_var, new_var)):
        graph.add_to_collection(UPDATE_OPS, assign(var_, value).node)
    train_out = normalized(mean, var)
    return train_out if _is_static(training) else _ops.where(convert_to_tensor(training), train_out, inference)
