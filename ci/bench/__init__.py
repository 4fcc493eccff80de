"""Measurements: pionnx against onnxruntime and tract (`run`, `nox -s bench`), the benchmark models
(`models`), and the NEON/portable SGEMM ratio of an armv7l wheel under QEMU (`neon_ratio`)."""
