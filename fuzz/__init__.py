"""graphc's fuzzers (`make fuzz`; a short run in `make test`): random graphs against the numpy reference,
mutated ONNX models, tampered artifacts and a concurrency stress test. Every case runs in a worker process
with a timeout; a run ends with counts per outcome and fails on any crash, hang, wrong result or unclear
exception."""
