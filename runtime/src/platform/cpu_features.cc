// See cpu_features.h. Compiled at the baseline of every target (no -mavx2,
// no -mfpu=neon), so it is safe to call on any CPU the wheel installs on.
#include "platform/cpu_features.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#if defined(__linux__)
#include <unistd.h>
#endif

#if defined(__arm__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <sys/syscall.h>
#define PIONNX_DETECT_AMX 1
#define PIONNX_HAVE_CPUID 1
#endif

namespace pionnx {
namespace platform {

namespace {

// One line of a /sys file, "" when it cannot be read.
std::string sys_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// "32K", "512K", "32768K", "8M" -> bytes; 0 when it does not parse.
int64_t parse_size(const std::string& s) {
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || v <= 0) return 0;
  const char unit = *end;
  return unit == 'K' ? v << 10 : unit == 'M' ? v << 20 : unit == 'G' ? v << 30 : v;
}

// The data caches of cpu0: sysfs gives what one core sees (on a many-core
// part, the L3 slice its core complex shares, where sysconf reports the
// whole package); sysconf fills what sysfs lacks (glibc reads cpuid).
void detect_caches(CpuFeatures& f) {
#if defined(__linux__)
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string level = sys_line(dir + "level"), type = sys_line(dir + "type");
    if (level.empty()) break;
    if (type == "Instruction") continue;
    const int64_t size = parse_size(sys_line(dir + "size"));
    if (level == "1") f.l1d = size;
    else if (level == "2") f.l2 = size;
    else if (level == "3") f.l3 = size;
  }
#if defined(_SC_LEVEL1_DCACHE_SIZE)
  if (f.l1d == 0) f.l1d = std::max<long>(0, sysconf(_SC_LEVEL1_DCACHE_SIZE));
  if (f.l2 == 0) f.l2 = std::max<long>(0, sysconf(_SC_LEVEL2_CACHE_SIZE));
  if (f.l3 == 0) f.l3 = std::max<long>(0, sysconf(_SC_LEVEL3_CACHE_SIZE));
#endif
#else
  (void)f;
#endif
}

#if defined(PIONNX_DETECT_AMX)
// AMX-TILE and AMX-INT8 in cpuid leaf 7, the tile state enabled in XCR0
// (bits 17 and 18), and Linux's permission for this process to use it. The
// permission is for the whole process and enlarges its signal frames (an
// alternate signal stack set up afterwards must hold the 8 KiB of tile
// state); it is asked for whatever PIONNX_QGEMM says, as onnxruntime and
// PyTorch ask at start-up, so that simd_paths() names what the CPU runs in
// every process (the CPU matrix compares them across processes).
bool detect_amx_int8() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25))) return false;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE: xgetbv is there
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & (3u << 17)) != (3u << 17)) return false;
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.sse2 = __builtin_cpu_supports("sse2");
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
#if defined(PIONNX_HAVE_CPUID)
  {
    unsigned a = 0, b = 0, c = 0, d = 0;
    // VEX-encoded, so only where the OS saves the AVX state too (__builtin_cpu_supports checks that for AVX2).
    f.f16c = f.avx2 && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
  }
#endif
#if defined(PIONNX_DETECT_AMX)
  f.amx_int8 = detect_amx_int8();
#endif
#elif defined(__aarch64__)
  f.neon = true;  // Advanced SIMD is mandatory in ARMv8-A
#if defined(__linux__)
  {
    std::ifstream in("/proc/cpuinfo");
    f.arm_in_order = cpuinfo_in_order_arm(std::string(std::istreambuf_iterator<char>(in), {}));
  }
#endif
#elif defined(__arm__) && defined(__linux__)
  constexpr unsigned long kHwcapNeon = 1ul << 12;  // HWCAP_NEON, <asm/hwcap.h>
  f.neon = (getauxval(AT_HWCAP) & kHwcapNeon) != 0;
#endif
  detect_caches(f);
  return f;
}

}  // namespace

bool cpuinfo_in_order_arm(const std::string& cpuinfo) {
  std::istringstream lines(cpuinfo);
  std::string line;
  int parts = 0;
  bool all = true;
  auto value = [](const std::string& l) { return std::strtoul(l.c_str() + l.find(':') + 1, nullptr, 0); };
  while (std::getline(lines, line)) {
    if (line.rfind("CPU implementer", 0) == 0) {
      all = all && value(line) == 0x41;
    } else if (line.rfind("CPU part", 0) == 0) {
      const unsigned long part = value(line);
      all = all && (part == 0xd03 || part == 0xd04 || part == 0xd05);
      ++parts;
    }
  }
  return parts > 0 && all;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

PathChoice choose_path(const char* family, const char* env_var, const std::vector<std::string>& ladder,
                       const std::vector<bool>& runs, const std::vector<bool>& preferred) {
  PathChoice out;
  size_t cap = ladder.size() - 1;
  bool named = false;
  const char* env = std::getenv(env_var);
  if (env && *env) {
    size_t i = 0;
    while (i < ladder.size() && ladder[i] != env) ++i;
    if (i < ladder.size()) {
      cap = i;
      named = true;
    } else {
      std::string known;
      for (const std::string& name : ladder) known += (known.empty() ? "" : ", ") + name;
      std::fprintf(stderr, "pionnx: %s=%s names no %s path (%s); using the fastest this CPU runs\n", env_var, env,
                   family, known.c_str());
    }
  }
  size_t pick = 0;
  for (size_t i = 0; i < ladder.size(); ++i) {
    if (!runs[i] && i != 0) continue;
    out.available.push_back(ladder[i]);
    const bool wanted = preferred.empty() || preferred[i] || (named && i == cap);
    if (i <= cap && wanted) pick = i;
  }
  out.active = ladder[pick];
  return out;
}

}  // namespace platform
}  // namespace pionnx
