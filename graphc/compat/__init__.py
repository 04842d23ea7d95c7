"""Compatibility front ends: `import graphc.compat.v1 as tf` for TensorFlow 1.x scripts."""
