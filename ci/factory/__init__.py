"""The wheel factory, one module per step: the cross path (`build_cross`, `cross_build`,
`cross_toolchain`), the emulated path (`build_armv7`, cibuildwheel's `build_deps`, `repair` and
`wheel_tests` inside the armv7 containers), the host and images they need (`host`, `images`), and
the release and its checks (`release`, `reproducible`, `abi3_check`, `wheel_equivalence`).

The modules that run inside the test containers (`wheel_tests`, `smoke`, `tiny_model`) use only the
standard library, numpy and the installed wheel: there the project is mounted at /project and run
with PYTHONPATH=/project.
"""
