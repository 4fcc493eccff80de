# Shared part of the cross toolchain files of `nox -s build_cross`
# (linux-armv7l.cmake, linux-aarch64.cmake, linux-x86_64.cmake set the target,
# then include this). The compiler is Debian bullseye's gcc 10 from the folder
# ci/factory/cross_toolchain.py unpacks (PIONNX_TOOLCHAIN): its glibc 2.31 and the
# static libstdc++ built against it set the wheels' floor, manylinux_2_31.
# The folder is the sysroot, so the target's glibc is the folder's, never the
# host's (whose /usr/<triple> may hold a newer one).
if(NOT DEFINED ENV{PIONNX_TOOLCHAIN} OR NOT EXISTS "$ENV{PIONNX_TOOLCHAIN}/usr/bin/${PIONNX_CROSS_TRIPLE}-g++-10")
  message(FATAL_ERROR "PIONNX_TOOLCHAIN must name the gcc 10 folder ci/factory/cross_toolchain.py makes "
                      "(with usr/bin/${PIONNX_CROSS_TRIPLE}-g++-10); got '$ENV{PIONNX_TOOLCHAIN}'")
endif()
set(PIONNX_TOOLCHAIN "$ENV{PIONNX_TOOLCHAIN}")
set(CMAKE_C_COMPILER "${PIONNX_TOOLCHAIN}/usr/bin/${PIONNX_CROSS_TRIPLE}-gcc-10")
set(CMAKE_CXX_COMPILER "${PIONNX_TOOLCHAIN}/usr/bin/${PIONNX_CROSS_TRIPLE}-g++-10")
set(CMAKE_SYSROOT "${PIONNX_TOOLCHAIN}")

# The assembler and linker: the host's (binutils-<triple>; for x86_64 the host's
# own as/ld, found on PATH). The folder's binutils 2.35 would need shared
# libraries a newer host does not have; neither tool sets the glibc floor.
if(NOT CMAKE_SYSTEM_PROCESSOR STREQUAL "x86_64")
  foreach(lang C CXX)
    set(CMAKE_${lang}_FLAGS_INIT "-B/usr/${PIONNX_CROSS_TRIPLE}/bin/")
  endforeach()
endif()
foreach(tool ar ranlib strip nm objcopy objdump)
  string(TOUPPER "${tool}" TOOL)
  set(CMAKE_${TOOL} "/usr/bin/${PIONNX_CROSS_TRIPLE}-${tool}" CACHE FILEPATH "")
endforeach()

# Programs (the host Python, cmake's helpers) from the host; headers and
# libraries from the toolchain folder only; packages (nanobind's CMake files,
# which the host Python reports) from either.
set(CMAKE_FIND_ROOT_PATH "${PIONNX_TOOLCHAIN}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
