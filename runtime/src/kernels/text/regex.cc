// RegexFullMatch (opset 20): true where a whole string element matches an
// RE2-syntax pattern.
//
// pionnx has its own matcher instead of std::regex or RE2: std::regex needs
// std::locale, which breaks (std::bad_cast) when the wheel's statically linked
// libstdc++ meets the process's own, its ECMAScript grammar is not RE2's, and
// it backtracks exponentially; RE2 itself (with abseil) is too large for the
// armv7l wheel. So: a recursive-descent parser for an RE2 subset builds an
// AST, a Thompson construction compiles it to a small program (class, split,
// jump, zero-width assertion, match), and a Pike VM runs that program over the
// element's code points keeping a set of states, never backtracking: time is
// linear in (input length x program size), and the program size is capped.
//
// Input is UTF-8: the VM steps one code point at a time, and a byte that does
// not start a valid UTF-8 sequence matches nothing (as in RE2, whose `.` and
// classes only match valid UTF-8). \d \s \w \b and the POSIX classes are ASCII,
// as in RE2. (?i) folds ASCII letters, plus K/k/U+212A and S/s/U+017F (RE2's
// folding of ASCII letters); a non-ASCII character in a literal or class under
// (?i) is NotImplemented, because RE2 would fold it with Unicode tables.
// Not supported: \p{..} \pN \P.. (Unicode classes) and \C (any byte) are
// NotImplemented; what RE2 itself rejects (backreferences, lookaround, \Z,
// possessive and stacked quantifiers, counts over 1000) is InvalidGraph.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/utf8.h"
#include "kernels/base/kernel.h"
#include "platform/thread_pool.h"

namespace pionnx {

namespace {

// kMaxRune, kBadRune, decode_utf8: core/utf8.h. An input byte that is not
// valid UTF-8 decodes to kBadRune and matches nothing.
constexpr size_t kMaxInst = 10000;  // program size cap (counted repetitions are expanded)
constexpr int kMaxRepeat = 1000;    // RE2's largest {n,m} count
// Group nesting. RE2 allows 1000; the parser and the compiler recurse per
// level (about four frames), which at 1000 overflowed the stack of an
// AddressSanitizer build (nox -s sanitize), so pionnx stops at 250.
constexpr int kMaxDepth = 250;

bool is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

// ---- character classes: sorted, disjoint, non-adjacent code point ranges

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

void normalize(Ranges& r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& x : r) {
    if (!out.empty() && x.first <= out.back().second + 1) out.back().second = std::max(out.back().second, x.second);
    else out.push_back(x);
  }
  r = std::move(out);
}

void negate(Ranges& r) {
  normalize(r);
  Ranges out;
  uint32_t next = 0;
  for (const auto& x : r) {
    if (x.first > next) out.emplace_back(next, x.first - 1);
    next = x.second + 1;
  }
  if (next <= kMaxRune) out.emplace_back(next, kMaxRune);
  r = std::move(out);
}

// Adds the case variants (?i) matches: ASCII letters, and the two non-ASCII
// members of their case orbits (U+212A KELVIN SIGN ~ k, U+017F LONG S ~ s).
void fold(Ranges& r) {
  auto has = [&](uint32_t c) {
    for (const auto& x : r)
      if (x.first <= c && c <= x.second) return true;
    return false;
  };
  Ranges add;
  for (const auto& x : r) {
    uint32_t lo = std::max<uint32_t>(x.first, 'a'), hi = std::min<uint32_t>(x.second, 'z');
    if (lo <= hi) add.emplace_back(lo - 32, hi - 32);
    lo = std::max<uint32_t>(x.first, 'A'), hi = std::min<uint32_t>(x.second, 'Z');
    if (lo <= hi) add.emplace_back(lo + 32, hi + 32);
  }
  const uint32_t orbits[2][3] = {{'K', 'k', 0x212A}, {'S', 's', 0x17F}};
  for (const auto& o : orbits)
    if (has(o[0]) || has(o[1]) || has(o[2]))
      for (uint32_t c : o) add.emplace_back(c, c);
  r.insert(r.end(), add.begin(), add.end());
  normalize(r);
}

struct CharClass {
  uint64_t ascii[2] = {0, 0};
  Ranges ranges;

  explicit CharClass(Ranges r) : ranges(std::move(r)) {
    for (const auto& x : ranges)
      for (uint32_t c = x.first; c <= x.second && c < 128; ++c) ascii[c >> 6] |= uint64_t{1} << (c & 63);
  }
  bool matches(uint32_t c) const {
    if (c < 128) return (ascii[c >> 6] >> (c & 63)) & 1;
    auto it = std::upper_bound(ranges.begin(), ranges.end(), std::make_pair(c, kBadRune));
    return it != ranges.begin() && c <= std::prev(it)->second;
  }
};

// ---- AST

enum class Op : uint8_t { Empty, Class, Assert, Concat, Alt, Repeat };
enum Assertion : int { kBeginText, kEndText, kBeginLine, kEndLine, kWordBoundary, kNotWordBoundary };

struct Ast {
  Op op;
  int arg;       // Class: index into the class table; Assert: the Assertion; Repeat: 1 for {n,m}
  int min, max;  // Repeat; max -1 = unbounded
  std::vector<int> kids;
  Ast(Op o, int a = 0, int lo = 0, int hi = 0, std::vector<int> k = {})
      : op(o), arg(a), min(lo), max(hi), kids(std::move(k)) {}
};

struct Flags {
  bool fold = false, dot_nl = false, multiline = false;  // (?U) is accepted: greed does not change a full match
};

class Parser {
 public:
  Parser(const std::string& pattern, const std::string& where) : p_(pattern), where_(where) {}

  // The root node; nodes and classes hold the rest.
  int parse() {
    int root = alternation(0);
    if (i_ < p_.size()) invalid(i_, "unbalanced parenthesis: unexpected ')'");
    return root;
  }

  std::vector<Ast> nodes;
  std::vector<CharClass> classes;

 private:
  [[noreturn]] void invalid(size_t at, const std::string& what) const {
    throw InvalidGraph(str_cat(where_, ": pattern '", p_, "': ", what, " (at offset ", at, ")"));
  }
  [[noreturn]] void unsupported(size_t at, const std::string& what) const {
    throw NotImplemented(str_cat(where_, ": pattern '", p_, "': ", what, " (at offset ", at,
                                 ") is not supported by pionnx's RE2-subset matcher"));
  }

  bool at(char c, size_t k = 0) const { return i_ + k < p_.size() && p_[i_ + k] == c; }

  int add(Ast a) {
    nodes.push_back(std::move(a));
    return static_cast<int>(nodes.size()) - 1;
  }
  int add_class(Ranges r) {
    normalize(r);
    classes.emplace_back(std::move(r));
    return add({Op::Class, static_cast<int>(classes.size()) - 1});
  }

  int alternation(int depth) {
    if (depth > kMaxDepth) invalid(i_, "groups nested more than " + std::to_string(kMaxDepth) + " deep");
    std::vector<int> alts{concat(depth)};
    while (at('|')) {
      ++i_;
      alts.push_back(concat(depth));
    }
    return alts.size() == 1 ? alts[0] : add({Op::Alt, 0, 0, 0, std::move(alts)});
  }

  int concat(int depth) {
    std::vector<int> items;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      int a;
      if (at('\\') && at('Q', 1)) {  // \Q...\E: literal text; a quantifier applies to its last character
        i_ += 2;
        std::vector<int> lits;
        while (i_ < p_.size() && !(at('\\') && at('E', 1))) {
          size_t at_ = i_;
          lits.push_back(literal(pattern_rune(), at_));
        }
        if (i_ < p_.size()) i_ += 2;
        if (lits.empty()) continue;
        items.insert(items.end(), lits.begin(), lits.end() - 1);
        a = lits.back();
      } else {
        a = atom(depth);
        if (a < 0) continue;  // a flag group such as (?i)
      }
      items.push_back(quantifiers(a));
    }
    if (items.empty()) return add({Op::Empty});
    return items.size() == 1 ? items[0] : add({Op::Concat, 0, 0, 0, std::move(items)});
  }

  // {n} {n,} {n,m} at i_: true (i_ past it) with the counts, or false
  // (i_ unchanged) when the text there is not a repetition, which RE2 then
  // reads as a literal '{'.
  bool braces(int* lo, int* hi) {
    size_t j = i_ + 1;
    auto digit = [&](size_t k) { return k < p_.size() && p_[k] >= '0' && p_[k] <= '9'; };
    auto number = [&](int* v) {  // as RE2: no leading zeros, below 10^8
      if (!digit(j) || (p_[j] == '0' && digit(j + 1))) return false;
      int x = 0;
      while (digit(j)) {
        if (x >= 100000000) return false;
        x = x * 10 + (p_[j++] - '0');
      }
      *v = x;
      return true;
    };
    if (!number(lo)) return false;
    *hi = *lo;
    if (j < p_.size() && p_[j] == ',') {
      ++j;
      if (j < p_.size() && p_[j] == '}') *hi = -1;
      else if (!number(hi)) return false;
    }
    if (j >= p_.size() || p_[j] != '}') return false;
    i_ = j + 1;
    return true;
  }

  int quantifiers(int a) {
    size_t first_op = i_;
    bool repeated = false;
    while (i_ < p_.size()) {
      int lo, hi;
      char c = p_[i_];
      bool counted = c == '{';
      if (c == '*') lo = 0, hi = -1, ++i_;
      else if (c == '+') lo = 1, hi = -1, ++i_;
      else if (c == '?') lo = 0, hi = 1, ++i_;
      else if (c != '{' || !braces(&lo, &hi)) break;
      if (at('?')) ++i_;  // lazy: the same full-match result
      std::string op = p_.substr(first_op, i_ - first_op);
      if (repeated) invalid(first_op, "bad repetition operator '" + op + "' (quantifiers cannot be stacked)");
      if (lo > kMaxRepeat || hi > kMaxRepeat)
        invalid(first_op, "bad repetition operator '" + op + "' (counts go up to 1000)");
      if (hi >= 0 && hi < lo) invalid(first_op, "bad repetition operator '" + op + "' (max below min)");
      repeated = true;
      a = add({Op::Repeat, counted ? 1 : 0, lo, hi, {a}});
      if (counted && repeat_budget(a, kMaxRepeat) == 0)
        invalid(first_op, "bad repetition operator '" + op + "' (nested counts multiply to more than 1000)");
    }
    return a;
  }

  // RE2's limit on nested counted repetitions: 1000 divided by each count
  // ({n,m}: m, {n,}: n) on the way down; 0 somewhere means too many.
  int repeat_budget(int node, int budget) const {
    const Ast& a = nodes[node];
    if (a.op == Op::Repeat && a.arg == 1) {
      int m = a.max < 0 ? a.min : a.max;
      if (m > 0) budget /= m;
    }
    int least = budget;
    for (int k : a.kids) least = std::min(least, repeat_budget(k, budget));
    return least;
  }

  // One code point of the pattern's own text (which must be UTF-8).
  uint32_t pattern_rune() {
    size_t len;
    uint32_t r = decode_utf8(p_.data(), p_.size(), i_, &len);
    if (r == kBadRune) invalid(i_, "invalid UTF-8 in the pattern");
    i_ += len;
    return r;
  }

  void check_fold(size_t at_, uint32_t hi) const {
    if (flags_.fold && hi >= 0x80 && hi != 0x17F && hi != 0x212A)
      unsupported(at_, "case-insensitive matching of a non-ASCII character");
  }

  int literal(uint32_t r, size_t at_) {
    check_fold(at_, r);
    Ranges rr{{r, r}};
    if (flags_.fold) fold(rr);
    return add_class(std::move(rr));
  }

  int atom(int depth) {
    size_t start = i_;
    char c = p_[i_];
    switch (c) {
      case '(': return group(depth);
      case '[': return char_class();
      case '.':
        ++i_;
        return add_class(flags_.dot_nl ? Ranges{{0, kMaxRune}} : Ranges{{0, '\n' - 1}, {'\n' + 1, kMaxRune}});
      case '^': ++i_; return add({Op::Assert, flags_.multiline ? kBeginLine : kBeginText});
      case '$': ++i_; return add({Op::Assert, flags_.multiline ? kEndLine : kEndText});
      case '*':
      case '+':
      case '?': invalid(start, std::string("missing argument to repetition operator '") + c + "'");
      case '{': {
        int lo, hi;
        if (braces(&lo, &hi))
          invalid(start, "missing argument to repetition operator '" + p_.substr(start, i_ - start) + "'");
        ++i_;
        return literal('{', start);
      }
      case '\\': break;
      default: return literal(pattern_rune(), start);
    }
    // An escape outside a class.
    if (i_ + 1 >= p_.size()) invalid(start, "trailing backslash at end of pattern");
    char e = p_[i_ + 1];
    switch (e) {
      case 'A': i_ += 2; return add({Op::Assert, kBeginText});
      case 'z': i_ += 2; return add({Op::Assert, kEndText});
      case 'b': i_ += 2; return add({Op::Assert, kWordBoundary});
      case 'B': i_ += 2; return add({Op::Assert, kNotWordBoundary});
      default: break;
    }
    Ranges r;
    if (perl_class(&r)) return add_class(std::move(r));
    return literal(escape(), start);
  }

  // \d \D \s \S \w \W at i_ (a backslash): appends its ranges (folded under
  // (?i) before negation, as RE2 does) and moves past it.
  bool perl_class(Ranges* out) {
    if (!at('\\') || i_ + 1 >= p_.size()) return false;
    char e = p_[i_ + 1];
    Ranges r;
    switch (e) {
      case 'd':
      case 'D': r = {{'0', '9'}}; break;
      case 's':
      case 'S': r = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}}; break;
      case 'w':
      case 'W': r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}; break;
      case 'p':
      case 'P': unsupported(i_, std::string("Unicode character class \\") + e);
      case 'C': unsupported(i_, "\\C (any single byte)");
      default: return false;
    }
    i_ += 2;
    if (flags_.fold) fold(r);
    if (e == 'D' || e == 'S' || e == 'W') negate(r);
    out->insert(out->end(), r.begin(), r.end());
    return true;
  }

  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // A character escape at i_ (a backslash): its code point.
  uint32_t escape() {
    size_t start = i_;
    ++i_;
    if (i_ >= p_.size()) invalid(start, "trailing backslash at end of pattern");
    char c = p_[i_];
    auto octal = [&](char d) { return d >= '0' && d <= '7'; };
    if (c >= '1' && c <= '9' && !(c <= '7' && i_ + 1 < p_.size() && octal(p_[i_ + 1])))
      invalid(start, std::string("backreference \\") + c + " (RE2 has no backreferences)");
    if (c >= '0' && c <= '7') {  // octal: \0, \0N, \0NN, \NN, \NNN
      uint32_t v = 0;
      for (int k = 0; k < 3 && i_ < p_.size() && octal(p_[i_]); ++k) v = v * 8 + (p_[i_++] - '0');
      return v;
    }
    ++i_;
    switch (c) {
      case 'a': return 7;
      case 'f': return '\f';
      case 't': return '\t';
      case 'n': return '\n';
      case 'r': return '\r';
      case 'v': return '\v';
      case 'x': {
        uint32_t v = 0;
        if (at('{')) {
          size_t j = i_ + 1;
          int digits = 0;
          while (j < p_.size() && hex_digit(p_[j]) >= 0 && v <= kMaxRune) v = v * 16 + hex_digit(p_[j++]), ++digits;
          if (digits == 0 || j >= p_.size() || p_[j] != '}' || v > kMaxRune)
            invalid(start, "invalid escape sequence \\x{...}");
          i_ = j + 1;
          return v;
        }
        if (i_ + 1 >= p_.size() || hex_digit(p_[i_]) < 0 || hex_digit(p_[i_ + 1]) < 0)
          invalid(start, "invalid escape sequence \\x (needs two hex digits or \\x{...})");
        v = hex_digit(p_[i_]) * 16 + hex_digit(p_[i_ + 1]);
        i_ += 2;
        return v;
      }
      default: break;
    }
    auto u = static_cast<unsigned char>(c);
    bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (u < 0x80 && !alnum) return u;  // escaped punctuation (and other non-word ASCII) is itself
    if (c == 'Z') invalid(start, "\\Z is not RE2 syntax (use \\z)");
    if (u >= 0x80) invalid(start, "invalid escape sequence (backslash before a non-ASCII character)");
    invalid(start, std::string("invalid escape sequence \\") + c);
  }

  int char_class() {
    size_t open = i_++;
    bool neg = at('^');
    if (neg) ++i_;
    Ranges r;
    bool first = true;
    while (true) {
      if (i_ >= p_.size()) invalid(open, "missing closing ] of character class");
      if (at(']') && !first) {
        ++i_;
        break;
      }
      first = false;
      if (at('[') && at(':', 1) && posix_class(&r)) continue;
      if (perl_class(&r)) continue;
      size_t item = i_;
      uint32_t lo = class_char(), hi = lo;
      if (at('-') && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;
        hi = class_char();
        if (hi < lo) invalid(item, "invalid character class range '" + p_.substr(item, i_ - item) + "'");
      }
      if (lo != hi && flags_.fold && hi >= 0x80) unsupported(item, "case-insensitive matching of a non-ASCII range");
      check_fold(item, hi);
      r.emplace_back(lo, hi);
    }
    if (flags_.fold) fold(r);
    if (neg) negate(r);
    return add_class(std::move(r));
  }

  uint32_t class_char() {
    if (at('\\')) {
      if (i_ + 1 < p_.size() && std::string("dDsSwWpPC").find(p_[i_ + 1]) != std::string::npos)
        invalid(i_, "a class such as \\d cannot end a character class range");
      return escape();
    }
    return pattern_rune();
  }

  // [:name:] or [:^name:] at i_: appends it and moves past it; false (i_
  // unchanged) when no ":]" follows, which makes the '[' a literal.
  bool posix_class(Ranges* out) {
    size_t end = p_.find(":]", i_ + 2);
    if (end == std::string::npos) return false;
    std::string name = p_.substr(i_ + 2, end - i_ - 2);
    bool neg = !name.empty() && name[0] == '^';
    if (neg) name.erase(0, 1);
    static const struct {
      const char* name;
      Ranges r;
    } kPosix[] = {
        {"alnum", {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}}},
        {"alpha", {{'A', 'Z'}, {'a', 'z'}}},
        {"ascii", {{0, 0x7F}}},
        {"blank", {{'\t', '\t'}, {' ', ' '}}},
        {"cntrl", {{0, 0x1F}, {0x7F, 0x7F}}},
        {"digit", {{'0', '9'}}},
        {"graph", {{'!', '~'}}},
        {"lower", {{'a', 'z'}}},
        {"print", {{' ', '~'}}},
        {"punct", {{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}}},
        {"space", {{'\t', '\r'}, {' ', ' '}}},
        {"upper", {{'A', 'Z'}}},
        {"word", {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}},
        {"xdigit", {{'0', '9'}, {'A', 'F'}, {'a', 'f'}}},
    };
    for (const auto& c : kPosix) {
      if (name != c.name) continue;
      Ranges r = c.r;
      if (flags_.fold) fold(r);
      if (neg) negate(r);
      out->insert(out->end(), r.begin(), r.end());
      i_ = end + 2;
      return true;
    }
    invalid(i_, "invalid character class range '" + p_.substr(i_, end + 2 - i_) + "'");
  }

  // A group at i_ ('('): its node, or -1 for a flag setting such as (?i),
  // which applies to the rest of the enclosing group.
  int group(int depth) {
    size_t open = i_++;
    if (at('?')) {
      ++i_;
      if (at('P') && at('<', 1)) {
        ++i_;
      } else if (at('P')) {
        invalid(open, at('=', 1) ? "named backreference (?P=name) (RE2 has no backreferences)"
                                 : "invalid named capture group");
      } else if (at('<') && (at('=', 1) || at('!', 1))) {
        invalid(open, "lookbehind (?<= or (?<! (RE2 has no lookaround)");
      } else if (at('=') || at('!')) {
        invalid(open, "lookahead (?= or (?! (RE2 has no lookaround)");
      }
      if (at('<')) {  // (?P<name>re) or (?<name>re)
        size_t j = ++i_;
        // Word characters; non-ASCII (Unicode letters in newer RE2) passes too, names are unused.
        while (j < p_.size() && (is_word_byte(static_cast<unsigned char>(p_[j])) || (p_[j] & 0x80))) ++j;
        if (j == i_ || j >= p_.size() || p_[j] != '>') invalid(open, "invalid named capture group");
        i_ = j + 1;
        return group_body(open, depth, flags_);
      }
      Flags f = flags_;
      bool minus = false, any = false, after_minus = false;
      while (true) {
        if (i_ >= p_.size()) invalid(open, "unbalanced parenthesis: missing ')'");
        char c = p_[i_++];
        if (c == ':' || c == ')') {
          if ((minus && !after_minus) || (c == ')' && !any))
            invalid(open, "invalid flag group '" + p_.substr(open, i_ - open) + "'");
          if (c == ':') return group_body(open, depth, f);
          flags_ = f;
          return -1;
        }
        bool on = !minus;
        if (c == 'i') f.fold = on;
        else if (c == 's') f.dot_nl = on;
        else if (c == 'm') f.multiline = on;
        else if (c == 'U') (void)on;
        else if (c == '-' && !minus) {
          minus = true;
          continue;
        } else {
          invalid(i_ - 1, "invalid or unsupported flag in group '" + p_.substr(open, i_ - open) + "'");
        }
        any = true;
        after_minus = minus;
      }
    }
    return group_body(open, depth, flags_);
  }

  int group_body(size_t open, int depth, const Flags& inner) {
    Flags outer = flags_;
    flags_ = inner;
    int r = alternation(depth + 1);
    if (!at(')')) invalid(open, "unbalanced parenthesis: missing ')'");
    ++i_;
    flags_ = outer;
    return r;
  }

  const std::string& p_;
  const std::string& where_;
  size_t i_ = 0;
  Flags flags_;
};

// ---- program and Pike VM

struct Inst {
  enum Kind : uint8_t { kClass, kSplit, kJmp, kAssert, kMatch } kind;
  int arg;   // kClass: class index; kAssert: the Assertion
  int x, y;  // kJmp: x; kSplit: x and y. kClass and kAssert continue at the next instruction.
  Inst(Kind k, int a = 0, int x_ = 0) : kind(k), arg(a), x(x_), y(0) {}
};

// A set of program counters with O(1) insert, lookup and clear.
struct SparseSet {
  std::vector<int> dense, sparse;
  int n = 0;
  explicit SparseSet(size_t cap) : dense(cap), sparse(cap) {}
  bool contains(int v) const { return sparse[v] < n && dense[sparse[v]] == v; }
  void insert(int v) { sparse[v] = n, dense[n++] = v; }
};

class Regex {
 public:
  Regex(const std::string& pattern, const std::string& where) {
    Parser parser(pattern, where);
    int root = parser.parse();
    nodes_ = std::move(parser.nodes);
    classes_ = std::move(parser.classes);
    where_ = str_cat(where, ": pattern '", pattern, "'");
    emit(root);
    push({Inst::kMatch});
    nodes_.clear();
  }

  size_t size() const { return prog_.size(); }

  struct Scratch {
    SparseSet a, b;
    std::vector<int> stack;
    explicit Scratch(size_t n) : a(n), b(n) {}
  };

  // True when the whole of s matches.
  bool full_match(const std::string& s, Scratch& sc) const {
    const char* d = s.data();
    size_t n = s.size();
    SparseSet *cur = &sc.a, *next = &sc.b;
    cur->n = 0;
    close(*cur, 0, d, n, 0, sc.stack);
    for (size_t pos = 0; pos < n;) {
      if (cur->n == 0) return false;
      size_t len;
      uint32_t r = decode_utf8(d, n, pos, &len);
      pos += len;
      next->n = 0;
      for (int k = 0; k < cur->n; ++k) {
        int pc = cur->dense[k];
        const Inst& in = prog_[pc];
        if (in.kind == Inst::kClass && classes_[in.arg].matches(r)) close(*next, pc + 1, d, n, pos, sc.stack);
      }
      std::swap(cur, next);
    }
    return cur->contains(static_cast<int>(prog_.size()) - 1);
  }

 private:
  static bool holds(int a, const char* d, size_t n, size_t pos) {
    switch (a) {
      case kBeginText: return pos == 0;
      case kEndText: return pos == n;
      case kBeginLine: return pos == 0 || d[pos - 1] == '\n';
      case kEndLine: return pos == n || d[pos] == '\n';
      default: {
        bool before = pos > 0 && is_word_byte(static_cast<unsigned char>(d[pos - 1]));
        bool after = pos < n && is_word_byte(static_cast<unsigned char>(d[pos]));
        return (before != after) == (a == kWordBoundary);
      }
    }
  }

  // Adds pc and everything reachable from it without consuming input at pos.
  void close(SparseSet& set, int pc, const char* d, size_t n, size_t pos, std::vector<int>& stack) const {
    stack.push_back(pc);
    while (!stack.empty()) {
      int p = stack.back();
      stack.pop_back();
      if (set.contains(p)) continue;
      set.insert(p);
      const Inst& in = prog_[p];
      if (in.kind == Inst::kJmp) stack.push_back(in.x);
      else if (in.kind == Inst::kSplit) stack.push_back(in.y), stack.push_back(in.x);
      else if (in.kind == Inst::kAssert && holds(in.arg, d, n, pos)) stack.push_back(p + 1);
    }
  }

  int pc() const { return static_cast<int>(prog_.size()); }
  int push(Inst in) {
    PIONNX_ENFORCE(prog_.size() < kMaxInst, InvalidGraph, where_, ": pattern too large (it compiles to more than ",
                   kMaxInst, " instructions; counted repetitions such as {n,m} are expanded)");
    prog_.push_back(in);
    return pc() - 1;
  }

  // Thompson construction, laid out linearly.
  void emit(int node) {
    const Ast& a = nodes_[node];
    switch (a.op) {
      case Op::Empty: return;
      case Op::Class: push({Inst::kClass, a.arg}); return;
      case Op::Assert: push({Inst::kAssert, a.arg}); return;
      case Op::Concat:
        for (int k : a.kids) emit(k);
        return;
      case Op::Alt: {
        std::vector<int> jumps;
        for (size_t k = 0; k + 1 < a.kids.size(); ++k) {
          int split = push({Inst::kSplit});
          prog_[split].x = pc();
          emit(a.kids[k]);
          jumps.push_back(push({Inst::kJmp}));
          prog_[split].y = pc();
        }
        emit(a.kids.back());
        for (int j : jumps) prog_[j].x = pc();
        return;
      }
      case Op::Repeat: {
        int kid = a.kids[0];
        if (a.max < 0) {
          for (int k = 0; k + 1 < a.min; ++k) emit(kid);
          if (a.min == 0) {  // x*: L: split L+1, end; x; jmp L
            int split = push({Inst::kSplit});
            prog_[split].x = pc();
            emit(kid);
            push({Inst::kJmp, 0, split});
            prog_[split].y = pc();
          } else {  // the last required copy loops: L: x; split L, end
            int loop = pc();
            emit(kid);
            int split = push({Inst::kSplit, 0, loop});
            prog_[split].y = pc();
          }
          return;
        }
        for (int k = 0; k < a.min; ++k) emit(kid);
        std::vector<int> skips;  // x{0,k} as k optional copies, each skipping to the end
        for (int k = a.min; k < a.max; ++k) {
          int split = push({Inst::kSplit});
          prog_[split].x = pc();
          skips.push_back(split);
          emit(kid);
        }
        for (int s : skips) prog_[s].y = pc();
        return;
      }
    }
  }

  std::vector<Ast> nodes_;  // only while compiling
  std::vector<CharClass> classes_;
  std::vector<Inst> prog_;
  std::string where_;
};

class RegexFullMatch : public Kernel {
 public:
  explicit RegexFullMatch(const KernelInfo& info) : re_(pattern(info.node), info.node.describe()) {}

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    PIONNX_ENFORCE(x.dtype() == DType::String, InvalidArgument, ctx.node().describe(),
                   ": input must be a string tensor, got ", dtype_name(x.dtype()));
    Tensor& y = ctx.output(0, DType::Bool, x.shape());
    const std::string* in = x.data<std::string>();
    bool* out = y.data<bool>();
    if (x.numel() == 0) return;
    ctx.pool().parallel_for(x.numel(), 64, [&](int64_t begin, int64_t end) {
      Regex::Scratch scratch(re_.size());
      for (int64_t i = begin; i < end; ++i) out[i] = re_.full_match(in[i], scratch);
    });
  }

 private:
  static std::string pattern(const Node& n) {
    n.require("pattern");
    return n.attr_s("pattern", "");
  }

  Regex re_;
};

}  // namespace

void register_regex(KernelRegistry& r) { r.add_all("", {impl<RegexFullMatch>("RegexFullMatch")}); }

}  // namespace pionnx
