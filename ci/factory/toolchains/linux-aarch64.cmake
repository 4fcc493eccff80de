# aarch64 wheels on an x86-64 host (`nox -s build_cross`): armv8-a, NEON always there.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(PIONNX_CROSS_TRIPLE aarch64-linux-gnu)
include("${CMAKE_CURRENT_LIST_DIR}/gcc10-bullseye.cmake")
