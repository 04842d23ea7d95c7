# tf1-corpus source: https://github.com/nlintz/TensorFlow-Tutorials @ d6bdab7df4, 00_multiply.py (no license stated in the repository)
# metric: ^([-\d.e+]+) should equal 9.0
# edits: import (each marked 'corpus edit' below)

from tf1 import tf  # corpus edit: import (graphc.compat.v1, or TensorFlow's tf.compat.v1)

a = tf.placeholder("float") # Create a symbolic variable 'a'
b = tf.placeholder("float") # Create a symbolic variable 'b'

y = tf.multiply(a, b) # multiply the symbolic variables

with tf.Session() as sess: # create a session to evaluate the symbolic expressions
    print("%f should equal 2.0" % sess.run(y, feed_dict={a: 1, b: 2})) # eval expressions with parameters for a and b
    print("%f should equal 9.0" % sess.run(y, feed_dict={a: 3, b: 3}))
