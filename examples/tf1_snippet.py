"""The TF1 introduction snippet, unchanged but for its import, checked against numpy."""
import numpy as np

import graphc.compat.v1 as tf

np.random.seed(0)
N, D = 3000, 4000

with tf.device('/cpu:0'):
    x = tf.placeholder(tf.float32)
    y = tf.placeholder(tf.float32)
    z = tf.placeholder(tf.float32)

    a = x * y
    b = a + z
    c = tf.reduce_sum(b)

grad_x, grad_y, grad_z = tf.gradients(c, [x, y, z])

with tf.Session() as sess:
    values = {
        x: np.random.randn(N, D),
        y: np.random.randn(N, D),
        z: np.random.randn(N, D),
    }
    out = sess.run([c, grad_x, grad_y, grad_z], feed_dict=values)
    c_val, grad_x_val, grad_y_val, grad_z_val = out

xv, yv, zv = (values[t].astype(np.float32) for t in (x, y, z))
print("c      rel. error vs numpy: %.2e" % abs(c_val / (xv * yv + zv).astype(np.float64).sum() - 1))
print("grad_x max error vs numpy: %.2e" % np.abs(grad_x_val - yv).max())
print("grad_y max error vs numpy: %.2e" % np.abs(grad_y_val - xv).max())
print("grad_z max error vs numpy: %.2e" % np.abs(grad_z_val - 1).max())
