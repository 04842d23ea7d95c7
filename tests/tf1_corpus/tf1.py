"""The one import a corpus script changes: `from tf1 import tf` is graphc.compat.v1, or TensorFlow's
tf.compat.v1 when TF1_CORPUS_BACKEND=tensorflow (the runner sets it for the reference run)."""
import os
import types

BACKEND = os.environ.get("TF1_CORPUS_BACKEND", "graphc")

if BACKEND == "tensorflow":
    # tf.layers and tf.nn.rnn_cell live in Keras 2 (the tf-keras package) since TF 2.16
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow.compat.v1 as tf
    tf.disable_v2_behavior()
    tf.logging.set_verbosity(tf.logging.ERROR)
    # TF2 removed tf.contrib; in TF 1.x tf.contrib.rnn's cells were the same classes as tf.nn.rnn_cell's
    _rnn = types.SimpleNamespace(**{k: getattr(tf.nn.rnn_cell, k) for k in dir(tf.nn.rnn_cell)
                                    if not k.startswith("_")})
    _rnn.static_rnn = tf.nn.static_rnn
    _rnn.static_bidirectional_rnn = tf.nn.static_bidirectional_rnn
    # ... and tf.contrib.layers.flatten was tf.layers.flatten
    tf.contrib = types.SimpleNamespace(rnn=_rnn, layers=types.SimpleNamespace(flatten=tf.layers.flatten))
elif BACKEND == "graphc":
    import graphc.compat.v1 as tf  # noqa: F401
else:
    raise ValueError(f"TF1_CORPUS_BACKEND={BACKEND!r}: expected 'graphc' or 'tensorflow'")
