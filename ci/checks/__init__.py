"""The checks beside the test suite: every kernel path and emulated CPUs (`cpu_matrix`), the
sanitizers (`sanitize`), fuzzing (`fuzz`), the run-time kernel choice (`simd_dispatch`), the ARM
GEMM kernels under qemu-user (`arm_kernels.sh`), conformance cases by name for kernel work
(`node_check`), and the test modules these reuse, loaded by path (`suite`)."""
