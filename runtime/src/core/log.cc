#include "pionnx/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "core/utf8.h"
#include "pionnx/status.h"

namespace pionnx {

namespace {
std::atomic<int> g_default_severity{static_cast<int>(Severity::Warning)};
std::mutex g_write;  // one message per line, also from several sessions at once

// Names quoted from a model may hold any bytes: the line written is UTF-8,
// with a byte that does not start a valid sequence (or a control byte)
// written as \xNN.
std::string printable(const std::string& s) {
  std::string out;
  static const char kHex[] = "0123456789abcdef";
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  };
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    const uint32_t rune = decode_utf8(s.data(), s.size(), i, &len);
    if (rune == kBadRune || rune < 0x20 || rune == 0x7f) {
      escape(static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    out.append(s, i, len);
    i += len;
  }
  return out;
}
}  // namespace

void set_default_logger_severity(int severity) {
  PIONNX_ENFORCE(severity >= 0 && severity <= 4, InvalidArgument,
                 "logger severity must be 0 (verbose), 1 (info), 2 (warning), 3 (error) or 4 (fatal), got ", severity);
  g_default_severity.store(severity, std::memory_order_relaxed);
}

int default_logger_severity() { return g_default_severity.load(std::memory_order_relaxed); }

bool Logger::enabled(Severity s) const {
  const int threshold = severity >= 0 ? severity : default_logger_severity();
  return static_cast<int>(s) >= threshold;
}

void Logger::log(Severity s, const std::string& message) const {
  if (!enabled(s)) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  static const char kLetters[] = "VIWEF";
  std::lock_guard<std::mutex> lock(g_write);
  std::fprintf(stderr, "%s.%03d [%c:pionnx:%s] %s\n", stamp, static_cast<int>(ms), kLetters[static_cast<int>(s)],
               printable(logid).c_str(), printable(message).c_str());
  std::fflush(stderr);
}

}  // namespace pionnx
