// pionnx's messages: onnxruntime's severities (0 verbose, 1 info, 2 warning,
// 3 error, 4 fatal), written to stderr as
//   2026-12-03 11:40:00.123 [W:pionnx:logid] message
// A session filters its messages at its own level (SessionOptions.
// log_severity_level), or at the default level when that is -1 (the default;
// set_default_logger_severity, 2 = warnings and worse at start).
#pragma once
#include <string>

namespace pionnx {

enum class Severity { Verbose = 0, Info = 1, Warning = 2, Error = 3, Fatal = 4 };

// The level sessions with log_severity_level -1 filter at (0..4).
void set_default_logger_severity(int severity);
int default_logger_severity();

// Where a session's messages go: its level (-1: the default's) and its logid.
struct Logger {
  int severity = -1;
  std::string logid;

  bool enabled(Severity s) const;
  void log(Severity s, const std::string& message) const;
};

}  // namespace pionnx
