"""The TF1 names scripts use: dtype strings, shapeless placeholders, tf.nn, rnn cells, layers, tf.train."""
import numpy as np
import pytest

import graphc.compat.v1 as tf

from conftest import assert_close


def _run(fetches, feed=None, init=False):
    with tf.Session() as sess:
        if init:
            sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def test_seed_snippet_with_shapeless_placeholders():
    x, y = tf.placeholder(tf.float32), tf.placeholder(tf.float32)
    m = tf.nn.relu(tf.matmul(x, tf.transpose(y)))
    rng = np.random.default_rng(0)
    xv, yv = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((5, 4)).astype(np.float32)
    with tf.Session() as sess:
        assert_close(sess.run(m, {x: xv, y: yv}), np.maximum(xv @ yv.T, 0))
        y3 = rng.standard_normal((2, 3, 4)).astype(np.float32)  # another rank: another specialization
        assert_close(sess.run(tf.transpose(y), {y: y3}), y3.transpose(2, 1, 0))


def test_tf_dtype_strings_and_feed_conversion():
    x = tf.placeholder("float", [None, 2])
    i = tf.placeholder("int", [None])
    assert x.dtype == tf.float32 and i.dtype == tf.int32
    assert tf.cast(i, "float").dtype == tf.float32 and tf.constant(1, "double").dtype == tf.float64
    assert tf.Variable(tf.zeros([2]), dtype="float").dtype == tf.float32
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(i * 2, {i: np.array([1.7, 2.2, -1.5])}), [2, 4, -2])
    img = tf.placeholder("float", [None, 5, 5, 1])
    f = tf.Variable(tf.ones([3, 3, 1, 2]))
    out = _run(tf.nn.conv2d(img, f, [1, 1, 1, 1], "VALID"), {img: np.ones((1, 5, 5, 1))}, init=True)
    assert out.dtype == np.float32 and np.all(out == 9)


def test_nn_composites_against_numpy():
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((4, 6)).astype(np.float32) * 3
    x = tf.placeholder(tf.float32, [None, 6])
    b = rng.standard_normal(6).astype(np.float32)
    got = _run([tf.nn.bias_add(x, b), tf.nn.leaky_relu(x, 0.1), tf.nn.elu(x), tf.nn.selu(x), tf.nn.softplus(x),
                tf.nn.l2_normalize(x, 1), *tf.nn.moments(x, [0]), tf.nn.relu6(x), tf.nn.softsign(x)], {x: xv})
    x64 = xv.astype(np.float64)
    want = [xv + b, np.where(xv > 0, xv, 0.1 * xv), np.where(xv > 0, xv, np.expm1(x64)),
            1.0507009873554805 * np.where(xv > 0, xv, 1.6732632423543772 * np.expm1(x64)), np.logaddexp(0, x64),
            x64 / np.sqrt((x64 ** 2).sum(1, keepdims=True)), x64.mean(0), x64.var(0), np.clip(xv, 0, 6),
            xv / (1 + np.abs(xv))]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # several compiled signatures: over 20 s on a shared machine
def test_batch_norm_lrn_topk_embedding_and_losses():
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((2, 3, 3, 7)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3, 3, 7])
    mean, var = tf.nn.moments(x, [0, 1, 2])
    bn = tf.nn.batch_normalization(x, mean, var, 0.5, 2.0, 1e-3)
    lrn = tf.nn.local_response_normalization(x, depth_radius=2, bias=1.0, alpha=0.5, beta=0.75)
    logits = tf.placeholder(tf.float32)  # shapeless: the sparse loss must not need the class count
    labels = tf.placeholder(tf.int32, [None])
    lv, yv = rng.standard_normal((5, 4)).astype(np.float32), np.array([0, 3, 1, 1, 2], np.int32)
    sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    topk = tf.nn.in_top_k(tf.constant(lv), labels, 2)
    table = rng.standard_normal((10, 3)).astype(np.float32)
    emb = tf.nn.embedding_lookup(tf.constant(table), labels)
    wce = tf.nn.weighted_cross_entropy_with_logits(targets=tf.constant((lv > 0).astype(np.float32)),
                                                   logits=tf.constant(lv), pos_weight=3.0)
    got = _run([bn, lrn, sparse, topk, emb, wce], {x: xv, logits: lv, labels: yv})
    m, v = xv.mean((0, 1, 2)), xv.var((0, 1, 2))
    np.testing.assert_allclose(got[0], (xv - m) / np.sqrt(v + 1e-3) * 2 + 0.5, rtol=1e-4, atol=1e-4)
    sq = np.pad(xv ** 2, [(0, 0)] * 3 + [(2, 2)])
    window = sum(sq[..., k:k + 7] for k in range(5))
    np.testing.assert_allclose(got[1], xv / (1 + 0.5 * window) ** 0.75, rtol=1e-4, atol=1e-5)
    logp = lv - np.log(np.exp(lv).sum(1, keepdims=True))
    np.testing.assert_allclose(got[2], -logp[np.arange(5), yv], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[3], [(lv[r] > lv[r, yv[r]]).sum() < 2 for r in range(5)])
    np.testing.assert_array_equal(got[4], table[yv])
    z = (lv > 0).astype(np.float64)
    np.testing.assert_allclose(got[5], 3 * z * np.log1p(np.exp(-lv)) + (1 - z) * np.log1p(np.exp(lv)),
                               rtol=1e-4, atol=1e-5)


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    x = tf.placeholder(tf.float32, [2, 8, 8, 3])
    y = tf.placeholder(tf.float32, [2, 4, 4, 4])
    conv = tf.nn.conv2d(x, w, [1, 2, 2, 1], "SAME")
    tconv = tf.nn.conv2d_transpose(y, w, [2, 8, 8, 3], [1, 2, 2, 1], "SAME")
    yv = rng.standard_normal((2, 4, 4, 4)).astype(np.float32)
    c, t = _run([conv, tconv], {x: xv, y: yv})
    assert t.shape == (2, 8, 8, 3)
    np.testing.assert_allclose((c * yv).sum(), (xv * t).sum(), rtol=1e-4)


def _np_lstm(xs, kernel, bias, n, forget_bias=1.0):
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c = h = np.zeros((xs.shape[0], n))
    outs = []
    for t in range(xs.shape[1]):
        i, j, f, o = np.split(np.concatenate([xs[:, t], h], 1) @ kernel + bias, 4, 1)
        c = c * sig(f + forget_bias) + sig(i) * np.tanh(j)
        h = np.tanh(c) * sig(o)
        outs.append(h)
    return np.stack(outs, 1), c, h


@pytest.mark.slow  # several compiled signatures: over 20 s on a shared machine
def test_dynamic_rnn_lstm_matches_numpy_and_masks_by_length():
    rng = np.random.default_rng(4)
    xv = rng.standard_normal((3, 5, 2)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 5, 2])
    cell = tf.nn.rnn_cell.BasicLSTMCell(4)
    out, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    lengths = tf.placeholder(tf.int32, [None])
    out2, state2 = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)  # the same weights
    kernel, bias = tf.trainable_variables()
    assert kernel.name.startswith("rnn/basic_lstm_cell/kernel") and len(tf.trainable_variables()) == 2
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        o, c, h, o2, h2, kv, bv = sess.run([out, state.c, state.h, out2, state2.h, kernel, bias],
                                           {x: xv, lengths: [5, 2, 3]})
    wo, wc, wh = _np_lstm(xv.astype(np.float64), kv, bv, 4)
    for g, w in ((o, wo), (c, wc), (h, wh)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    for r, n in enumerate([5, 2, 3]):
        part, _, ph = _np_lstm(xv[r:r + 1, :n].astype(np.float64), kv, bv, 4)
        np.testing.assert_allclose(o2[r, :n], part[0], rtol=1e-4, atol=1e-5)
        assert np.all(o2[r, n:] == 0)
        np.testing.assert_allclose(h2[r], ph[0], rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # several compiled signatures: over 20 s on a shared machine
def test_cells_stack_wrap_and_train():
    rng = np.random.default_rng(5)
    xv = rng.standard_normal((8, 6, 3)).astype(np.float32)
    target = xv.sum((1, 2))[:, None].astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 6, 3])
    cells = tf.contrib.rnn.MultiRNNCell([tf.contrib.rnn.GRUCell(5),
                                         tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicRNNCell(5),
                                                                       output_keep_prob=1.0)])
    outs, states = tf.contrib.rnn.static_rnn(cells, tf.unstack(x, axis=1), dtype=tf.float32)
    (fw, bw), _ = tf.nn.bidirectional_dynamic_rnn(tf.nn.rnn_cell.LSTMCell(3), tf.nn.rnn_cell.LSTMCell(3), x,
                                                  dtype=tf.float32)
    pred = tf.layers.dense(tf.concat([outs[-1], fw[:, -1], bw[:, 0]], 1), 1)
    loss = tf.reduce_mean(tf.square(pred - target))
    step = tf.train.AdamOptimizer(0.02).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: xv})
        for _ in range(60):
            sess.run(step, {x: xv})
        assert sess.run(loss, {x: xv}) < 0.5 * first
    assert len(states) == 2 and len(outs) == 6


@pytest.mark.slow  # several compiled signatures: over 20 s on a shared machine
def test_layers_and_batch_norm_update_ops():
    rng = np.random.default_rng(6)
    xv = rng.standard_normal((4, 8, 8, 2)).astype(np.float32) * 2 + 1
    x = tf.placeholder(tf.float32, [None, 8, 8, 2])
    training = tf.placeholder(tf.bool, [])
    h = tf.layers.conv2d(x, 3, 3, padding="same", activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.layers.average_pooling2d(h, 2, 2)
    h = tf.layers.conv2d_transpose(h, 2, 2, strides=2, padding="same")
    bn = tf.layers.batch_normalization(x, momentum=0.5, training=training)
    flat = tf.layers.flatten(tf.layers.dropout(h, 0.5, training=training))
    out = tf.layers.dense(flat, 3, name="head")
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    names = [v.name for v in tf.trainable_variables()]
    assert "conv2d/kernel:0" in names and "head/kernel:0" in names and "conv2d_transpose/bias:0" in names
    mm = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        o, b = sess.run([out, bn], {x: xv, training: False})
        assert o.shape == (4, 3)
        np.testing.assert_allclose(b, xv / np.sqrt(1 + 1e-3), rtol=1e-4)  # moving stats 0 and 1
        with tf.control_dependencies(updates):
            train_bn = tf.identity(bn)
        tb = sess.run(train_bn, {x: xv, training: True})
        np.testing.assert_allclose(tb.mean((0, 1, 2)), 0, atol=1e-4)
        np.testing.assert_allclose(sess.run(mm), 0.5 * xv.mean((0, 1, 2)), rtol=1e-4)


_SLOW = pytest.mark.slow


@pytest.mark.parametrize("make", [
    lambda: tf.train.AdagradOptimizer(0.5), lambda: tf.train.FtrlOptimizer(0.5),
    pytest.param(lambda: tf.train.GradientDescentOptimizer(0.1), marks=_SLOW),
    pytest.param(lambda: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True), marks=_SLOW),
    pytest.param(lambda: tf.train.AdadeltaOptimizer(1.0, epsilon=1e-2), marks=_SLOW),
    pytest.param(lambda: tf.train.RMSPropOptimizer(0.05), marks=_SLOW),
    pytest.param(lambda: tf.train.AdamOptimizer(0.1), marks=_SLOW),
    pytest.param(lambda: tf.train.ProximalGradientDescentOptimizer(0.1, l1_regularization_strength=0.001),
                 marks=_SLOW),
    pytest.param(lambda: tf.train.ProximalAdagradOptimizer(0.5), marks=_SLOW)])
def test_optimizers_minimize_a_quadratic(make):
    w = tf.Variable(np.array([3.0, -2.0], np.float32))
    loss = tf.reduce_sum(tf.square(w - np.array([1.0, 1.0], np.float32)))
    gs = tf.train.get_or_create_global_step()
    step = make().minimize(loss, global_step=gs)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss)
        for _ in range(40):
            sess.run(step)
        assert sess.run(loss) < 0.2 * first and sess.run(gs) == 40


def test_adagrad_step_matches_formula():
    w = tf.Variable(np.array([1.0, -2.0], np.float32))
    step = tf.train.AdagradOptimizer(0.3, initial_accumulator_value=0.1).minimize(tf.reduce_sum(w * w))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step)
        g = 2 * np.array([1.0, -2.0])
        np.testing.assert_allclose(sess.run(w), [1.0, -2.0] - 0.3 * g / np.sqrt(0.1 + g * g), rtol=1e-5)


def test_learning_rate_schedules_and_clipping():
    gs = tf.placeholder(tf.int32, [])
    lrs = [tf.train.exponential_decay(0.1, gs, 10, 0.5), tf.train.exponential_decay(0.1, gs, 10, 0.5, staircase=True),
           tf.train.polynomial_decay(0.1, gs, 20, 0.01, power=2.0), tf.train.inverse_time_decay(0.1, gs, 10, 0.5),
           tf.train.natural_exp_decay(0.1, gs, 10, 0.5), tf.train.cosine_decay(0.1, gs, 20),
           tf.train.piecewise_constant(gs, [5, 12], [1.0, 0.5, 0.1])]
    got = _run(lrs, {gs: 15})
    want = [0.1 * 0.5 ** 1.5, 0.1 * 0.5, (0.09 * (1 - 15 / 20) ** 2) + 0.01, 0.1 / (1 + 0.5 * 1.5),
            0.1 * np.exp(-0.75), 0.1 * 0.5 * (1 + np.cos(np.pi * 0.75)), 0.1]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    a, b = np.array([3.0, 4.0], np.float32), np.array([12.0], np.float32)
    clipped, norm = tf.clip_by_global_norm([tf.constant(a), tf.constant(b)], 6.5)
    c = _run(clipped + [norm, tf.clip_by_norm(tf.constant(a), 1.0), tf.clip_by_value(tf.constant(a), 3.5, 3.7)])
    np.testing.assert_allclose(c[2], 13.0, rtol=1e-6)
    np.testing.assert_allclose(c[0], a / 2, rtol=1e-6)
    np.testing.assert_allclose(c[1], b / 2, rtol=1e-6)
    np.testing.assert_allclose(c[3], a / 5, rtol=1e-6)
    np.testing.assert_allclose(c[4], [3.5, 3.7], rtol=1e-6)


def test_saver_keeps_the_newest_checkpoints(tmp_path):
    w = tf.Variable(np.zeros(2, np.float32))
    bump = w.assign_add(np.ones(2, np.float32))
    saver = tf.train.Saver(max_to_keep=2)
    prefix = str(tmp_path / "model")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(4):
            sess.run(bump)
            saver.save(sess, prefix, global_step=step)
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [p.rsplit("-", 1)[1] for p in state.all_model_checkpoint_paths] == ["2", "3"]
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix + "-3"
    assert not (tmp_path / "model-0").exists()
    with tf.Session() as sess:
        saver.restore(sess, tf.train.latest_checkpoint(str(tmp_path)))
        np.testing.assert_array_equal(sess.run(w), [4, 4])


@pytest.mark.slow  # several compiled signatures: over 20 s on a shared machine
def test_sampled_losses_train_embeddings():
    vocab, dim = 50, 8
    emb = tf.Variable(tf.random_uniform([vocab, dim], -1.0, 1.0, seed=1))
    nce_w = tf.Variable(tf.truncated_normal([vocab, dim], stddev=0.3, seed=2))
    nce_b = tf.Variable(tf.zeros([vocab]))
    inputs = tf.placeholder(tf.int32, [None])
    labels = tf.placeholder(tf.int32, [None, 1])
    embedded = tf.nn.embedding_lookup(emb, inputs)
    nce = tf.reduce_mean(tf.nn.nce_loss(nce_w, nce_b, labels, embedded, 10, vocab))
    ssm = tf.reduce_mean(tf.nn.sampled_softmax_loss(nce_w, nce_b, labels, embedded, 10, vocab))
    step = tf.train.GradientDescentOptimizer(0.5).minimize(nce + ssm)
    ids = np.arange(20, dtype=np.int32)
    feed = {inputs: ids, labels: ((ids + 1) % vocab)[:, None]}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = np.mean([sess.run(nce + ssm, feed) for _ in range(5)])
        for _ in range(150):
            sess.run(step, feed)
        last = np.mean([sess.run(nce + ssm, feed) for _ in range(5)])
    assert last < 0.5 * first


def test_app_flags_config_and_interactive_session():
    tf.app.flags.DEFINE_integer("tf1core_test_steps", 7, "steps")
    assert tf.app.flags.FLAGS.tf1core_test_steps == 7
    config = tf.ConfigProto(allow_soft_placement=True, gpu_options=tf.GPUOptions(allow_growth=True))
    config.gpu_options.per_process_gpu_memory_fraction = 0.5
    sess = tf.InteractiveSession(config=config)
    a = tf.constant(2.0) * 3.0
    v = tf.Variable(1.0)
    tf.global_variables_initializer().run()
    assert a.eval() == 6.0 and v.eval() == 1.0
    sess.close()
    assert tf.arg_max(tf.constant([[1, 5, 2]]), 1).eval(session=tf.Session())[0] == 1


def test_range_static_and_from_a_fed_batch_size():
    x = tf.placeholder(tf.float32, [None, 3])
    index = tf.range(0, tf.shape(x)[0]) * 5 + 1            # length known once x is fed (aymeric_dynamic_rnn)
    with tf.Session() as sess:
        got = sess.run([index, tf.range(7), tf.range(1.0, 2.0, 0.25), tf.range(tf.shape(x)[0], 0, -2)],
                       {x: np.zeros((4, 3), np.float32)})
    want = [np.arange(4) * 5 + 1, np.arange(7), np.arange(1.0, 2.0, 0.25), np.arange(4, 0, -2)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w)
    assert got[0].dtype == np.int32 and got[2].dtype == np.float32


def test_softmax_cross_entropy_casts_labels_to_the_logits_type():
    # aymeric_dataset_api: float64 one-hot labels from tf.data against float32 logits (TF casts them)
    logits = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.float64, [None, 3])
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=labels))
    grad = tf.gradients(loss, logits)[0]
    lv, yv = np.array([[1, 2, 0.5], [0.1, -1, 2]], np.float32), np.eye(3)[[1, 2]]
    with tf.Session() as sess:
        got_loss, got_grad = sess.run([loss, grad], {logits: lv, labels: yv})
    p = np.exp(lv) / np.exp(lv).sum(1, keepdims=True)
    np.testing.assert_allclose(got_loss, -(yv * np.log(p)).sum(1).mean(), rtol=1e-6)
    np.testing.assert_allclose(got_grad, (p - yv) / 2, rtol=1e-5, atol=1e-7)


def test_dropout_with_a_shapeless_keep_prob_keeps_the_input_shape():
    # nlintz_05: conv2d after dropout(x, tf.placeholder("float")) needs the rank of x
    x = tf.placeholder(tf.float32, [None, 4, 4, 1])
    keep = tf.placeholder("float")
    y = tf.nn.dropout(x, keep)
    assert y.shape.as_list() == [None, 4, 4, 1]
    out = tf.nn.conv2d(y, tf.ones([2, 2, 1, 1]), strides=[1, 1, 1, 1], padding="VALID")
    xv = np.random.default_rng(0).uniform(size=(2, 4, 4, 1)).astype(np.float32)
    with tf.Session() as sess:
        got = sess.run(out, {x: xv, keep: 1.0})
    want = xv[:, :-1, :-1] + xv[:, 1:, :-1] + xv[:, :-1, 1:] + xv[:, 1:, 1:]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_saver_creates_the_checkpoint_folder(tmp_path):
    # golbin_saver: saver.save(sess, './model/dnn.ckpt') before ./model exists (TF creates it)
    v = tf.Variable(np.arange(3, dtype=np.float32))
    saver = tf.train.Saver([v])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model" / "dnn.ckpt"), global_step=7)
        sess.run(v.assign(np.zeros(3, np.float32)))
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(v), np.arange(3, dtype=np.float32))
    assert tf.train.latest_checkpoint(str(tmp_path / "model")) == path


@pytest.mark.slow  # compiles two loops and their gradients: over 20 s on a shared machine
def test_dynamic_rnn_over_a_time_dim_known_only_when_fed():
    """A run-time loop (golbin_seq2seq's [None, None, depth] inputs): values against numpy for two fed
    lengths, and gradients equal to the unrolled dynamic_rnn's with the same weights."""
    rng = np.random.default_rng(7)
    cell = tf.nn.rnn_cell.BasicLSTMCell(4)
    x = tf.placeholder(tf.float32, [None, None, 2])
    lengths = tf.placeholder(tf.int32, [None])
    out, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
    fixed = tf.placeholder(tf.float32, [None, 5, 2])
    out_u, state_u = tf.nn.dynamic_rnn(cell, fixed, sequence_length=lengths, dtype=tf.float32)  # the same weights
    weights = tf.placeholder(tf.float32, [None, None, 4])
    wrt = tf.trainable_variables()
    grads = tf.gradients(tf.reduce_sum(out * weights) + tf.reduce_sum(state.c), wrt + [x])
    grads_u = tf.gradients(tf.reduce_sum(out_u * weights) + tf.reduce_sum(state_u.c), wrt + [fixed])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kv, bv = sess.run(wrt)
        for steps, lens in ((5, [5, 2, 3]), (2, [2, 2, 1])):
            xv = rng.standard_normal((3, steps, 2)).astype(np.float32)
            o, h = sess.run([out, state.h], {x: xv, lengths: lens})
            for r, n in enumerate(lens):
                part, _, ph = _np_lstm(xv[r:r + 1, :n].astype(np.float64), kv, bv, 4)
                np.testing.assert_allclose(o[r, :n], part[0], rtol=1e-4, atol=1e-5)
                assert np.all(o[r, n:] == 0)
                np.testing.assert_allclose(h[r], ph[0], rtol=1e-4, atol=1e-5)
        xv = rng.standard_normal((3, 5, 2)).astype(np.float32)
        wv = rng.standard_normal((3, 5, 4)).astype(np.float32)
        got = sess.run(grads, {x: xv, lengths: [5, 2, 3], weights: wv})
        want = sess.run(grads_u, {fixed: xv, lengths: [5, 2, 3], weights: wv})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_dense_over_several_leading_dims_unknown_when_built():
    x = tf.placeholder(tf.float32, [None, None, 3])
    y = tf.layers.dense(x, 2)
    kernel, bias = tf.trainable_variables()
    xv = np.random.default_rng(8).standard_normal((2, 4, 3)).astype(np.float32)
    yv, kv, bv = _run([y, kernel, bias], {x: xv}, init=True)
    np.testing.assert_allclose(yv, xv @ kv + bv, rtol=1e-5, atol=1e-6)
