// A bounds-checked reader for the protobuf wire format. Every read checks
// the remaining length; a malformed message throws InvalidProtobuf with the
// absolute byte offset, never reads past the buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "pionnx/status.h"

namespace pionnx {
namespace proto {

enum WireType { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

class WireReader {
 public:
  WireReader(const uint8_t* data, size_t size, size_t base = 0)
      : p_(data), end_(data + size), begin_(data), base_(base) {}

  bool done() const { return p_ >= end_; }
  size_t offset() const { return base_ + static_cast<size_t>(p_ - begin_); }

  // Reads the next field key; false at the end of the message.
  bool next(uint32_t* field, int* wire) {
    if (done()) return false;
    size_t at = offset();
    uint64_t key = varint();
    *field = static_cast<uint32_t>(key >> 3);
    *wire = static_cast<int>(key & 7);
    if (*field == 0) fail(at, "field number 0");
    return true;
  }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) fail(offset(), "truncated varint");
      uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail(offset(), "varint longer than 10 bytes");
  }
  uint32_t fixed32() {
    need(4);
    uint32_t v;
    std::memcpy(&v, p_, 4);
    p_ += 4;
    return v;
  }
  uint64_t fixed64() {
    need(8);
    uint64_t v;
    std::memcpy(&v, p_, 8);
    p_ += 8;
    return v;
  }
  float float32() {
    uint32_t b = fixed32();
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
  double float64() {
    uint64_t b = fixed64();
    double d;
    std::memcpy(&d, &b, 8);
    return d;
  }
  // A length-delimited field as a sub-reader positioned on its payload.
  WireReader sub() {
    size_t at = offset();
    uint64_t len = varint();
    if (len > static_cast<uint64_t>(end_ - p_))
      fail(at, str_cat("length ", len, " runs past the end of the data (", end_ - p_, " bytes left)"));
    WireReader r(p_, static_cast<size_t>(len), offset());
    p_ += len;
    return r;
  }
  std::string bytes() { return std::string(bytes_view()); }
  // The field's bytes in place: valid while the buffer being read is.
  std::string_view bytes_view() {
    WireReader r = sub();
    return std::string_view(reinterpret_cast<const char*>(r.p_), static_cast<size_t>(r.end_ - r.p_));
  }
  const uint8_t* data() const { return p_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  // Groups nested deeper than this are refused: a hostile file must not
  // overflow the stack (100,000 nested start-group tags fit in 100 KB).
  static constexpr int kMaxGroupDepth = 64;

  void skip(int wire, int depth = 0) {
    switch (wire) {
      case kVarint: varint(); return;
      case kFixed64:
        need(8);
        p_ += 8;
        return;
      case kFixed32:
        need(4);
        p_ += 4;
        return;
      case kLengthDelimited: sub(); return;
      case kStartGroup: {
        // Groups are obsolete but legal: skip to the matching end tag.
        if (depth >= kMaxGroupDepth)
          fail(offset(), str_cat("groups nested too deeply (more than ", kMaxGroupDepth, " levels)"));
        uint32_t f;
        int w;
        while (next(&f, &w)) {
          if (w == kEndGroup) return;
          skip(w, depth + 1);
        }
        fail(offset(), "unterminated group");
      }
      default: fail(offset(), str_cat("invalid wire type ", wire));
    }
  }

  [[noreturn]] static void fail(size_t at, const std::string& what) {
    throw InvalidProtobuf(str_cat("malformed ONNX protobuf at byte ", at, ": ", what));
  }

 private:
  void need(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) fail(offset(), str_cat("truncated: need ", n, " bytes"));
  }
  const uint8_t* p_;
  const uint8_t* end_;
  const uint8_t* begin_;
  size_t base_;
};

}  // namespace proto
}  // namespace pionnx
