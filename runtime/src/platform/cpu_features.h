// Every question pionnx asks about the CPU it runs on, asked in one place:
// cpuid on x86-64, AT_HWCAP on 32-bit ARM Linux, the cache sizes (NEON is part of every
// aarch64 CPU), and the PIONNX_* environment variables that hold a kernel
// family below its fastest path (PIONNX_SGEMM=avx2, PIONNX_QGEMM=generic,
// PIONNX_FASTMATH=generic, ...), so any machine can run, test and time every
// path its CPU has.
//
// Kernel families (kernels/simd/) list their paths and ask cpu_features()
// which ones run here; nothing else in the runtime calls cpuid, getauxval or
// getenv for a kernel choice.
#pragma once
#include <string>
#include <vector>

namespace pionnx {
namespace platform {

struct CpuFeatures {
  // x86-64 (all false elsewhere).
  bool sse2 = false, avx2 = false, fma = false;
  // F16C (vcvtps2ph / vcvtph2ps: float <-> half, 8 lanes), cpuid leaf 1 ECX bit 29; with AVX enabled by the OS.
  bool f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false, avx512vnni = false;
  // AMX tiles with int8 dot products (TDPBUSD), enabled by the OS for this
  // process: on Linux the 8 KiB tile state is granted on request
  // (arch_prctl ARCH_REQ_XCOMP_PERM, kernel 5.16+), asked for at detection.
  bool amx_int8 = false;
  // ARM: Advanced SIMD (armv7: reported by the kernel in AT_HWCAP; aarch64:
  // always).
  bool neon = false;
  // aarch64: every core is an in-order Arm Cortex-A53, A55 or A35 (Linux's
  // /proc/cpuinfo: implementer 0x41, part 0xd03, 0xd05 or 0xd04), where the
  // SGEMM takes the kernel scheduled for in-order issue (sgemm_ukernel_neon_a53).
  // A big.LITTLE system, whose threads may run on the big cores, does not count.
  bool arm_in_order = false;
  // Data cache sizes in bytes as one core sees them (L3: the slice its cores
  // share), 0 where unknown: Linux's /sys/devices/system/cpu/cpu0/cache, then
  // sysconf. GEMM block sizes derive from these (kernels/simd/sgemm.cc).
  int64_t l1d = 0, l2 = 0, l3 = 0;
};

// Detected once, on first use.
const CpuFeatures& cpu_features();

// Whether every "CPU part" line of a /proc/cpuinfo text names an in-order Arm
// core (implementer 0x41; Cortex-A53 0xd03, A35 0xd04, A55 0xd05); false when
// there is no such line (x86, or an emulator showing its host's file).
// CpuFeatures::arm_in_order on aarch64 Linux.
bool cpuinfo_in_order_arm(const std::string& cpuinfo);

// A kernel family's choice among its paths.
struct PathChoice {
  std::vector<std::string> available;  // paths this CPU can run, portable first
  std::string active;                  // the one in use
};

// `ladder`: every path the family knows, portable first; `runs[i]`: whether this
// CPU can run ladder[i] (ladder[0], the portable one, always can). Picks the
// fastest runnable path or, with the environment variable `env_var` set, the
// fastest runnable one not above the path it names. An unknown name is
// reported on stderr and ignored. `preferred` (empty: every path) narrows the
// choice to paths tuned for this CPU where several run on it (aarch64's 8x12
// kernel and the in-order cores' 8x8 one): a runnable path that is not
// preferred is taken only when the variable names it.
PathChoice choose_path(const char* family, const char* env_var, const std::vector<std::string>& ladder,
                       const std::vector<bool>& runs, const std::vector<bool>& preferred = {});

}  // namespace platform
}  // namespace pionnx
