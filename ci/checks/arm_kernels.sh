#!/usr/bin/env bash
# Cross-builds tests/cpp/sgemm_check, qgemm_check, fastmath_check,
# depthwise_check, nchwc_check and thread_pool_check (the float and the
# integer GEMM, the vector math, the depthwise rows, the blocked NCHWc
# convolutions and pools, the pool's two-pass regions) for armv7
# (and aarch64 when that cross compiler is installed) with the wheel's flags
# and runs them under qemu-user (the pool's check on the host too):
# correctness of every micro-kernel against a naive reference, run-time NEON
# detection on CPUs with and without NEON, and the generic/NEON wall-clock
# ratio of a ResNet-50-sized GEMM. The armv7 and the aarch64 halves run at once
# (ARM_CHECKS_SERIAL=1: one after the other).
#   apt-get install -y g++-arm-linux-gnueabihf qemu-user-static [g++-aarch64-linux-gnu]
#   bash ci/checks/arm_kernels.sh [M N K]        (default 64 3136 576)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${SGEMM_CHECK_OUT:-/tmp/sgemm_check_arm}"
M="${1:-64}" N="${2:-3136}" K="${3:-576}"
mkdir -p "$out"
qemu_arm="$(command -v qemu-arm-static || command -v qemu-arm)"
qemu_a64="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
inc=(-I"$root/runtime/include" -I"$root/runtime/src")
common=(-std=c++17 -O2 -Wall -Wextra -Wno-unused-parameter "${inc[@]}")
lib_srcs=(runtime/src/kernels/simd/sgemm.cc runtime/src/platform/cpu_features.cc runtime/src/kernels/simd/sgemm_avx2.cc
          runtime/src/kernels/simd/sgemm_avx512.cc runtime/src/platform/thread_pool.cc
          runtime/src/platform/file_io.cc tests/cpp/sgemm_check.cc)
cd "$root"

# armv7: everything at the armhf baseline (no NEON) except the NEON file of each family.
cxx=arm-linux-gnueabihf-g++
read -r -a base < runtime/cmake/armv7-baseline-flags.txt  # the wheels' armv7 baseline
# compile_armv7 ARRAY NEON_SRC SRC...: each SRC at the baseline into $out/armv7_<name>.o,
# appended to the array named ARRAY; NEON_SRC with NEON on top, into $out/armv7_<name>.o
# but not appended (the link lines name it).
compile_armv7() {
  local -n compiled="$1"
  local neon_src="$2" src o
  shift 2
  for src in "$@"; do
    o="$out/armv7_$(basename "${src%.cc}").o"
    "$cxx" "${common[@]}" "${base[@]}" -c "$src" -o "$o"
    compiled+=("$o")
  done
  "$cxx" "${common[@]}" "${base[@]}" -march=armv7-a -mfpu=neon \
    -c "$neon_src" -o "$out/armv7_$(basename "${neon_src%.cc}").o"
}
# The integer GEMM's x86 kernel files: "not here" stubs on ARM (qgemm_neon.cc is its only NEON file).
qgemm_x86=(runtime/src/kernels/simd/qgemm_sse2.cc runtime/src/kernels/simd/qgemm_avx2.cc
           runtime/src/kernels/simd/qgemm_vnni.cc runtime/src/kernels/simd/qgemm_amx.cc)
# The thread pool's two-pass regions (DynamicQuantizeLinear's range, then its quantize): on the
# host under ThreadSanitizer, and on ARM, whose memory order is weaker than x86's.
pool_srcs=(tests/cpp/thread_pool_check.cc runtime/src/platform/thread_pool.cc runtime/src/platform/file_io.cc)
# The vector math (exp, tanh, erf, sigmoid, GELU, softmax's pieces) against libm in double, and
# the depthwise 3x3 rows (stride 1, dilated, stride 2) against a double sum. Each family is
# kernels/simd/FAMILY.cc (the driver and the portable code), FAMILY_avx2.cc and, where the family
# has one, FAMILY_avx512.cc ("not here" stubs on ARM) and FAMILY_neon.cc, checked by tests/cpp/CHECK.cc on each path: NEON where the CPU has it,
# the portable (VFP) code on the NEON-less CPU and forced by the family's variable.
simd=runtime/src/kernels/simd
x86_files() {  # FAMILY: its x86 table files (AVX2, and AVX-512 where it has one), "not here" stubs on ARM
  local f
  for f in "$simd/${1}_avx2.cc" "$simd/${1}_avx512.cc"; do [[ -f "$f" ]] && echo "$f"; done
  return 0
}
family_check_armv7() {  # FAMILY CHECK ENV_VAR [PATH: the NEON path's name, for a family that takes it only when named]
  local family="$1" check="$2" var="$3" named="${4:-}" cpu
  local family_objs=() x86=() pick=()
  [[ -n "$named" ]] && pick=("$var=$named")
  mapfile -t x86 < <(x86_files "$family")
  # core/dtype.cc: the half conversions' exact scalar forms (elementwise_math's portable table uses them).
  compile_armv7 family_objs "$simd/${family}_neon.cc" "$simd/$family.cc" "${x86[@]}" runtime/src/core/dtype.cc \
    "tests/cpp/$check.cc"
  $cxx "${base[@]}" "${family_objs[@]}" "$out/armv7_${family}_neon.o" "$out/armv7_cpu_features.o" \
    "$out/armv7_file_io.o" "$out/armv7_thread_pool.o" -o "$out/${check}_armv7" -pthread
  if arm-linux-gnueabihf-objdump -d "$out/armv7_$family.o" | grep -qE '\bq[0-9]+\b'; then
    echo "$family.o uses NEON registers: the baseline flags leaked" >&2; exit 1
  fi
  for cpu in cortex-a15 cortex-a8 cortex-r5f; do
    echo "== qemu-arm -cpu $cpu ${pick[*]} $check"
    env "${pick[@]}" "$qemu_arm" -cpu "$cpu" -L /usr/arm-linux-gnueabihf "$out/${check}_armv7"
  done
  env "$var=generic" "$qemu_arm" -cpu cortex-a15 -L /usr/arm-linux-gnueabihf "$out/${check}_armv7"
}
family_check_aarch64() {  # FAMILY CHECK ENV_VAR [PATH]
  local family="$1" check="$2" var="$3" named="${4:-}" x86=() pick=()
  [[ -n "$named" ]] && pick=("$var=$named")
  mapfile -t x86 < <(x86_files "$family")
  aarch64-linux-gnu-g++ "${common[@]}" -Wno-psabi "$simd/$family.cc" "${x86[@]}" \
    "$simd/${family}_neon.cc" runtime/src/platform/cpu_features.cc runtime/src/platform/file_io.cc \
    runtime/src/platform/thread_pool.cc runtime/src/core/dtype.cc "tests/cpp/$check.cc" -o "$out/${check}_aarch64" \
    -pthread
  echo "== qemu-aarch64 ${pick[*]} $check"
  env "${pick[@]}" "$qemu_a64" -L /usr/aarch64-linux-gnu "$out/${check}_aarch64"
  env "$var=generic" "$qemu_a64" -L /usr/aarch64-linux-gnu "$out/${check}_aarch64"
}

armv7_checks() {
  # --- armv7: the float GEMM, then the integer GEMM, the families and the pool.
  objs=()
  compile_armv7 objs runtime/src/kernels/simd/sgemm_neon.cc "${lib_srcs[@]}"
  $cxx "${base[@]}" "${objs[@]}" "$out/armv7_sgemm_neon.o" -o "$out/sgemm_check_armv7" -pthread
  # The portable kernel must stay NEON-free: no q registers outside sgemm_neon.o.
  if arm-linux-gnueabihf-objdump -d "$out/armv7_sgemm.o" | grep -qE '\bq[0-9]+\b'; then
    echo "sgemm.o uses NEON registers: the baseline flags leaked" >&2; exit 1
  fi
  echo "armv7: sgemm.o has no NEON instructions (the no-NEON baseline)"

  run_arm() {  # cpu, args...
    local cpu="$1"; shift
    echo "== qemu-arm -cpu $cpu $*"
    "$qemu_arm" -cpu "$cpu" -L /usr/arm-linux-gnueabihf "$out/sgemm_check_armv7" "$@"
  }
  run_arm cortex-a15
  run_arm cortex-a8
  # No NEON: cortex-r5f is ARMv7 with VFPv3-D16 but no Advanced SIMD (the
  # closest qemu-arm has to an armhf board without NEON; arm1176 is ARMv6
  # and cannot run armv7-a code).
  run_arm cortex-r5f || echo "(cortex-r5f run failed: see above)"
  run_arm cortex-a15 --bench "$M" "$N" "$K"

  # --- the integer GEMM the same way.
  qobjs=()
  compile_armv7 qobjs runtime/src/kernels/simd/qgemm_neon.cc \
    runtime/src/kernels/simd/qgemm.cc "${qgemm_x86[@]}" tests/cpp/qgemm_check.cc
  sobjs=()
  for o in "${objs[@]}"; do [[ "$o" == *sgemm_check.o ]] || sobjs+=("$o"); done
  $cxx "${base[@]}" "${qobjs[@]}" "$out/armv7_qgemm_neon.o" "${sobjs[@]}" "$out/armv7_sgemm_neon.o" \
    -o "$out/qgemm_check_armv7" -pthread
  if arm-linux-gnueabihf-objdump -d "$out/armv7_qgemm.o" | grep -qE '\bq[0-9]+\b'; then
    echo "qgemm.o uses NEON registers: the baseline flags leaked" >&2; exit 1
  fi
  for cpu in cortex-a15 cortex-a8 cortex-r5f; do
    echo "== qemu-arm -cpu $cpu qgemm_check"
    "$qemu_arm" -cpu "$cpu" -L /usr/arm-linux-gnueabihf "$out/qgemm_check_armv7"
  done
  PIONNX_QGEMM=generic "$qemu_arm" -cpu cortex-a15 -L /usr/arm-linux-gnueabihf "$out/qgemm_check_armv7"
  "$qemu_arm" -cpu cortex-a15 -L /usr/arm-linux-gnueabihf "$out/qgemm_check_armv7" --bench "$M" "$N" "$K"
  PIONNX_QGEMM=generic "$qemu_arm" -cpu cortex-a15 -L /usr/arm-linux-gnueabihf "$out/qgemm_check_armv7" \
    --bench "$M" "$N" "$K"

  family_check_armv7 elementwise_math fastmath_check PIONNX_FASTMATH
  family_check_armv7 depthwise depthwise_check PIONNX_DEPTHWISE
  # The blocked (NCHWc, "pack4") convolutions, pools and reorders: their NEON path runs only when named.
  family_check_armv7 conv_nchwc nchwc_check PIONNX_NCHWC neon

  # The thread pool.
  $cxx "${common[@]}" "${base[@]}" "${pool_srcs[@]}" -o "$out/thread_pool_check_armv7" -pthread
  echo "== qemu-arm -cpu cortex-a15 thread_pool_check"
  "$qemu_arm" -cpu cortex-a15 -L /usr/arm-linux-gnueabihf "$out/thread_pool_check_armv7"
}

# --- aarch64 (NEON always on), when the cross compiler is there; and the pool on the host.
aarch64_checks() {
  g++ "${common[@]}" -fsanitize=thread "${pool_srcs[@]}" -o "$out/thread_pool_check_host" -pthread
  echo "== host (ThreadSanitizer) thread_pool_check"
  "$out/thread_pool_check_host"
  if ! command -v aarch64-linux-gnu-g++ >/dev/null || [ -z "$qemu_a64" ]; then
    echo "aarch64: no aarch64-linux-gnu-g++ or qemu-aarch64: its checks are SKIPPED"
    return 0
  fi
  aarch64-linux-gnu-g++ "${common[@]}" "${lib_srcs[@]}" runtime/src/kernels/simd/sgemm_neon.cc \
    -o "$out/sgemm_check_aarch64" -pthread
  echo "== qemu-aarch64"
  "$qemu_a64" -L /usr/aarch64-linux-gnu "$out/sgemm_check_aarch64"
  "$qemu_a64" -L /usr/aarch64-linux-gnu "$out/sgemm_check_aarch64" --bench "$M" "$N" "$K"
  aarch64-linux-gnu-g++ "${common[@]}" runtime/src/kernels/simd/qgemm.cc runtime/src/kernels/simd/qgemm_neon.cc \
    "${qgemm_x86[@]}" \
    runtime/src/kernels/simd/sgemm.cc runtime/src/platform/cpu_features.cc runtime/src/kernels/simd/sgemm_avx2.cc \
    runtime/src/kernels/simd/sgemm_avx512.cc \
    runtime/src/kernels/simd/sgemm_neon.cc runtime/src/platform/thread_pool.cc runtime/src/platform/file_io.cc \
    tests/cpp/qgemm_check.cc -o "$out/qgemm_check_aarch64" -pthread
  "$qemu_a64" -L /usr/aarch64-linux-gnu "$out/qgemm_check_aarch64"
  PIONNX_QGEMM=generic "$qemu_a64" -L /usr/aarch64-linux-gnu "$out/qgemm_check_aarch64"
  family_check_aarch64 elementwise_math fastmath_check PIONNX_FASTMATH
  family_check_aarch64 depthwise depthwise_check PIONNX_DEPTHWISE
  family_check_aarch64 conv_nchwc nchwc_check PIONNX_NCHWC neon
  aarch64-linux-gnu-g++ "${common[@]}" "${pool_srcs[@]}" -o "$out/thread_pool_check_aarch64" -pthread
  echo "== qemu-aarch64 thread_pool_check"
  "$qemu_a64" -L /usr/aarch64-linux-gnu "$out/thread_pool_check_aarch64"
}

# The two halves at once (each compiles, then runs single-threaded qemu processes; serially they
# took 12 minutes of a 2-core CI run), each into its own log, printed whole when both are done.
# ARM_CHECKS_SERIAL=1 runs them one after the other, straight to the terminal.
if [[ "${ARM_CHECKS_SERIAL:-0}" == 1 ]]; then
  armv7_checks
  aarch64_checks
  exit 0
fi
t0=$SECONDS
armv7_checks >"$out/armv7.log" 2>&1 &
armv7_pid=$!
aarch64_checks >"$out/aarch64.log" 2>&1 &
aarch64_pid=$!
armv7_rc=0 aarch64_rc=0
wait "$armv7_pid" || armv7_rc=$?
wait "$aarch64_pid" || aarch64_rc=$?
for half in armv7 aarch64; do
  echo "======== $half ($out/$half.log)"
  cat "$out/$half.log"
done
echo "arm_kernels: armv7 rc $armv7_rc, aarch64 (and the host's pool check) rc $aarch64_rc, $((SECONDS - t0)) s"
[[ $armv7_rc == 0 && $aarch64_rc == 0 ]]
