"""Codegen: lower op groups to TVM TE, schedule them per target, build one module per graph."""
