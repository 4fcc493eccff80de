// See proto_mutator.h.
#include "proto_mutator.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace pionnx_fuzz {
namespace {

struct Field {
  uint32_t number = 0;
  int wire = 0;             // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  uint64_t value = 0;       // varint, fixed32, fixed64
  std::string bytes;        // length-delimited payload that is not a message
  std::vector<Field> kids;  // length-delimited payload that decodes as a message
  bool message = false;
};

constexpr int kMaxDepth = 12;

bool read_varint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) return false;
    const uint8_t b = *p++;
    *v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool decode(const uint8_t* p, const uint8_t* end, std::vector<Field>& out, int depth) {
  while (p < end) {
    uint64_t key;
    if (!read_varint(p, end, &key)) return false;
    Field f;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    if (f.number == 0) return false;
    switch (f.wire) {
      case 0:
        if (!read_varint(p, end, &f.value)) return false;
        break;
      case 1:
        if (end - p < 8) return false;
        std::memcpy(&f.value, p, 8);
        p += 8;
        break;
      case 5: {
        if (end - p < 4) return false;
        uint32_t v;
        std::memcpy(&v, p, 4);
        f.value = v;
        p += 4;
        break;
      }
      case 2: {
        uint64_t len;
        if (!read_varint(p, end, &len) || len > static_cast<uint64_t>(end - p)) return false;
        if (depth < kMaxDepth && len > 0 && decode(p, p + len, f.kids, depth + 1)) {
          f.message = true;
        } else {
          f.kids.clear();
          f.bytes.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
        }
        p += len;
        break;
      }
      default: return false;  // groups and bad wire types: leave those to byte mutation
    }
    out.push_back(std::move(f));
  }
  return true;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void encode(const std::vector<Field>& fields, std::string& out) {
  for (const Field& f : fields) {
    put_varint(out, (static_cast<uint64_t>(f.number) << 3) | static_cast<uint64_t>(f.wire));
    switch (f.wire) {
      case 0: put_varint(out, f.value); break;
      case 1: out.append(reinterpret_cast<const char*>(&f.value), 8); break;
      case 5: {
        const uint32_t v = static_cast<uint32_t>(f.value);
        out.append(reinterpret_cast<const char*>(&v), 4);
        break;
      }
      case 2: {
        std::string payload;
        if (f.message) encode(f.kids, payload);
        else payload = f.bytes;
        put_varint(out, payload.size());
        out += payload;
        break;
      }
    }
  }
}

struct Site {
  std::vector<Field>* parent;
  size_t index;
};

void collect(std::vector<Field>& fields, std::vector<Site>& sites) {
  for (size_t i = 0; i < fields.size(); ++i) {
    sites.push_back({&fields, i});
    if (fields[i].message) collect(fields[i].kids, sites);
  }
}

// Values that break size arithmetic, axes, dtypes and counts.
const uint64_t kInterestingVarints[] = {
    0,
    1,
    2,
    3,
    7,
    16,
    17,
    63,
    64,
    127,
    128,
    255,
    256,
    1023,
    1024,
    65535,
    65536,
    (1ull << 31) - 1,
    1ull << 31,
    (1ull << 32) - 1,
    1ull << 32,
    1ull << 40,
    1ull << 62,
    (1ull << 63) - 1,
    1ull << 63,
    ~0ull /* -1 */,
    ~0ull - 1 /* -2 */,
    ~0ull - 2,
    static_cast<uint64_t>(-64),
    static_cast<uint64_t>(-(1ll << 31)),
};

uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

size_t mutate_protobuf(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937 rng(seed);
  std::vector<Field> root;
  if (rng() % 4 == 0 || !decode(data, data + size, root, 0) || root.empty())
    return LLVMFuzzerMutate(data, size, max_size);
  std::vector<Site> sites;
  collect(root, sites);
  // Every non-message byte string (names, raw data), for rewiring.
  std::vector<std::string> strings;
  for (const Site& s : sites)
    if ((*s.parent)[s.index].wire == 2 && !(*s.parent)[s.index].message) strings.push_back((*s.parent)[s.index].bytes);

  const int rounds = 1 + static_cast<int>(rng() % 3);
  for (int r = 0; r < rounds; ++r) {
    const Site site = sites[rng() % sites.size()];
    std::vector<Field>& parent = *site.parent;
    if (site.index >= parent.size()) continue;  // an earlier round removed it
    Field& f = parent[site.index];
    switch (rng() % 8) {
      case 0:  // drop the field
        parent.erase(parent.begin() + static_cast<std::ptrdiff_t>(site.index));
        sites.clear();
        collect(root, sites);
        if (sites.empty()) return LLVMFuzzerMutate(data, size, max_size);
        break;
      case 1:  // repeat it (a second output, a second dim, a duplicate attribute)
        parent.insert(parent.begin() + static_cast<std::ptrdiff_t>(site.index), f);
        sites.clear();
        collect(root, sites);
        break;
      default:
        if (f.wire == 0) {
          const int how = static_cast<int>(rng() % 3);
          if (how == 0)
            f.value = kInterestingVarints[rng() % (sizeof kInterestingVarints / sizeof kInterestingVarints[0])];
          else if (how == 1) f.value += (rng() % 2 ? 1 : static_cast<uint64_t>(-1));
          else f.value = rng() % 32;  // small: dtype codes, axes, enum values
        } else if (f.wire == 5) {
          const float specials[] = {0.f, -1.f, 1e30f, -1e30f, 1e-30f, 0.5f, 2.f};
          const uint32_t nan = 0x7FC00000u, inf = 0x7F800000u;
          const int k = static_cast<int>(rng() % 9);
          f.value = k < 7 ? float_bits(specials[k]) : (k == 7 ? nan : inf);
        } else if (f.wire == 1) {
          f.value ^= 1ull << (rng() % 64);
        } else if (f.wire == 2 && !f.message) {
          if (!strings.empty() && rng() % 2) {
            f.bytes = strings[rng() % strings.size()];  // rewire: another name (or raw data)
          } else {
            std::string b = f.bytes;
            const size_t cap = std::min<size_t>(b.size() * 2 + 16, 4096);
            b.resize(cap);
            b.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(&b[0]), f.bytes.size(), cap));
            f.bytes = b;
          }
        } else if (f.wire == 2 && f.message && !f.kids.empty() && rng() % 2) {
          // Swap two fields of one message (order-dependent decoders).
          std::swap(f.kids[rng() % f.kids.size()], f.kids[rng() % f.kids.size()]);
        }
        break;
    }
  }
  std::string out;
  encode(root, out);
  if (out.empty() || out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

}  // namespace pionnx_fuzz
