# x86_64 wheels at the manylinux_2_31 floor (`nox -s build_cross`): the host's
# architecture, but bullseye's gcc 10 and glibc 2.31 rather than the host's own.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(PIONNX_CROSS_TRIPLE x86_64-linux-gnu)
include("${CMAKE_CURRENT_LIST_DIR}/gcc10-bullseye.cmake")
