# armv7l (armhf) wheels on an x86-64 host (`nox -s build_cross`). Debian's armhf
# g++ already defaults to the armv7 baseline pionnx ships for (armv7-a,
# VFPv3-D16, hard float, no NEON; runtime/cmake/armv7-baseline-flags.txt);
# runtime/CMakeLists.txt checks it and compiles only the NEON kernel files
# with -mfpu=neon.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(PIONNX_CROSS_TRIPLE arm-linux-gnueabihf)
include("${CMAKE_CURRENT_LIST_DIR}/gcc10-bullseye.cmake")
