# Cross-compiling the armv7l (armhf) wheel on an x86-64 host: Debian's
# arm-linux-gnueabihf cross g++ (apt-get install g++-arm-linux-gnueabihf)
# against a Debian armhf root file system (PIONNX_SYSROOT: its glibc, kernel
# and Python headers, unpacked by ci/armv7_images.py without emulation).
# Debian's armhf g++ already defaults to the armv7 baseline pionnx ships for
# (armv7-a, VFPv3-D16, hard float, no NEON); runtime/CMakeLists.txt checks it
# and compiles only the NEON kernel files with -mfpu=neon.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)

set(PIONNX_CROSS_TRIPLE arm-linux-gnueabihf)
set(CMAKE_C_COMPILER ${PIONNX_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${PIONNX_CROSS_TRIPLE}-g++)

if(NOT DEFINED ENV{PIONNX_SYSROOT} OR NOT IS_DIRECTORY "$ENV{PIONNX_SYSROOT}/usr/include")
  message(FATAL_ERROR "PIONNX_SYSROOT must name an armhf root file system with usr/include "
                      "(ci/armv7_images.py makes one); got '$ENV{PIONNX_SYSROOT}'")
endif()
set(CMAKE_SYSROOT "$ENV{PIONNX_SYSROOT}")

# Programs (the host Python, cmake's helpers) from the host; headers and
# libraries from the target only; packages (nanobind's CMake files, which the
# host Python reports) from either.
set(CMAKE_FIND_ROOT_PATH "$ENV{PIONNX_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
