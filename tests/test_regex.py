"""RegexFullMatch: pionnx's own linear-time RE2-subset matcher (runtime/src/kernels/text/regex.cc).

Python's re is the oracle where its syntax and RE2's agree (with re.ASCII, since RE2's \\d \\w \\s \\b
are ASCII); RE2-only behaviour is written out. A backtracking engine would hang on the nested
quantifier cases, which pytest-timeout stops.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from onnx import TensorProto, helper

import pionnx


def model(pattern: str | None, rank: int = 1, elem_type: int = TensorProto.STRING) -> bytes:
    attrs = {} if pattern is None else {"pattern": pattern}
    node = helper.make_node("RegexFullMatch", ["X"], ["Y"], **attrs)
    graph = helper.make_graph(
        [node],
        "regex",
        [helper.make_tensor_value_info("X", elem_type, [None] * rank)],
        [helper.make_tensor_value_info("Y", TensorProto.BOOL, [None] * rank)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString()


def session(pattern: str | None, rank: int = 1, threads: int = 1, **kw) -> pionnx.InferenceSession:
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    return pionnx.InferenceSession(model(pattern, rank, **kw), sess_options=opts)


def full_match(pattern: str, strings, threads: int = 1) -> np.ndarray:
    x = np.array(strings, dtype=object)
    (y,) = session(pattern, x.ndim, threads).run(None, {"X": x})
    assert y.dtype == np.bool_ and y.shape == x.shape
    return y


# Patterns whose meaning is the same in RE2 and in Python's re (flags re.ASCII), each with strings.
AGREE = [
    ("", ["", "a"]),
    ("a", ["", "a", "aa", "b"]),
    ("abc", ["abc", "ab", "abcd", "xabc"]),
    ("a|b|c", ["a", "b", "c", "d", "ab", ""]),
    ("ab|cd|", ["ab", "cd", "", "abcd", "a"]),
    ("a*", ["", "a", "aaaa", "aab"]),
    ("a+", ["", "a", "aaa", "ba"]),
    ("a?", ["", "a", "aa"]),
    ("a{2}", ["a", "aa", "aaa"]),
    ("a{2,}", ["a", "aa", "aaaaa", "aab"]),
    ("a{2,3}", ["a", "aa", "aaa", "aaaa"]),
    ("a{0,2}b", ["b", "ab", "aab", "aaab"]),
    ("(ab){2,3}", ["ab", "abab", "ababab", "abababab", "aba"]),
    ("(?:a|bc){0}x", ["x", "ax"]),
    ("a*?b", ["b", "aaab", "aaa"]),
    ("a+?", ["", "a", "aaa"]),
    ("a??b", ["b", "ab", "aab"]),
    ("a{1,2}?c", ["ac", "aac", "aaac"]),
    ("(a|ab)(c|bcd)(d*)", ["abcd", "abcdd", "acd", "abc", "ab"]),
    ("(?:a|b)*c", ["c", "abababc", "abd"]),
    (r"(?P<word>[a-z]+)-(?P<num>\d+)", ["abc-123", "abc-", "-1", "ABC-1"]),
    ("((a)|b)+", ["abab", "aac", ""]),
    ("x*y*z*", ["", "xz", "zyx"]),
    (".", ["", "a", "\n", "\r", "é", "日", "😀", "ab"]),
    ("...", ["日本語", "abc", "ab", "a😀b"]),
    ("(?s).", ["\n", "a"]),
    ("a.c", ["abc", "a\nc", "aéc", "ac"]),
    (".*", ["", "anything", "two\nlines"]),
    ("(?s).*", ["two\nlines"]),
    ("[abc]", ["a", "c", "d", ""]),
    ("[a-z]+", ["hello", "Hello", "héllo"]),
    ("[^a-z]+", ["ABC", "abc", "123", "\n", "é", "日本"]),
    ("[a-cx-z]*", ["abxyz", "abd"]),
    ("[]a]", ["]", "a", "b"]),
    ("[^]a]", ["]", "a", "b"]),
    ("[a-]", ["-", "a", "b"]),
    ("[-a]", ["-", "a", "b"]),
    (r"[\d.]+", ["3.14", "3,14"]),
    (r"[\w-]+", ["a-b_c", "a b"]),
    (r"[\s]", [" ", "\t", "x"]),
    (r"[^\d]", ["5", "x", "\n"]),
    (r"[\D\s]+", ["ab c", "a1"]),
    (r"[\^\]\-\\]+", ["^]-\\", "a"]),
    (r"\d+", ["0123", "12a", "", "٣"]),
    (r"\D+", ["abc", "a1"]),
    (r"\w+", ["hello_World9", "hello world", "é"]),
    (r"\W", [" ", "a", "é", "_", "\n"]),
    (r"\s+", [" \t\r\n\f", "a", " a"]),
    (r"\S+", ["abc", "a b"]),
    (r"\.\*\+\?\(\)\[\]\{\}\|\^\$\\", [".*+?()[]{}|^$\\", "x"]),
    (r"\t\n\r\f", ["\t\n\r\f"]),
    (r"\x41\x62", ["Ab", "ab"]),
    (r"\101", ["A", "a"]),
    (r"\-\#\ \:", ["-# :"]),
    ("^abc$", ["abc", "xabc"]),
    ("a^b", ["ab"]),
    (r"\bfoo\b", ["foo", "foox"]),
    (r"foo\b.*", ["foo bar", "foobar", "foo"]),
    (r"a\Bb", ["ab"]),
    (r".*\bcat\b.*", ["the cat sat", "concatenate", "cat", "cat!"]),
    (r"\b", [""]),
    ("(?i)hello", ["HELLO", "hElLo", "help"]),
    ("(?i)[a-c]+", ["ABCabc", "abd"]),
    ("(?i)[^a]", ["A", "a", "b", "B"]),
    (r"(?i)\W", ["a", "K", " "]),
    ("x(?i:ab)y", ["xABy", "XABy", "xaBy", "xABY"]),
    ("(?m)a$\nb", ["a\nb"]),
    ("(?m)a\n^b$", ["a\nb"]),
    ("(?m)^$", ["", "\n"]),
    ("(?m)(^a$\n?)+", ["a\na\na", "a\nab"]),
    (
        r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)",
        [
            "account@gmail.com",
            "account@hotmail.com",
            "not email",
            "account2@yahoo.com",
            " a@gmail.com ",
            "x" * 25 + "@gmail.com",
            "x" * 26 + "@gmail.com",
        ],
    ),
    (r"www\.[\w.-]+\.\bcom\b", ["www.google.com", "www.facebook.com", "www.bbc.co.uk", "www..com"]),
    ("(a*)*b", ["aaab", "aaa", "b"]),
    ("(a|aa)*", ["a" * 7, "a" * 7 + "b"]),
    ("(x+x+)+y", ["xxxxy", "xxxx"]),
    ("(a*)+", ["", "aaa"]),
    ("(?:(?:a?)*)*b", ["b", "aab"]),
]


@pytest.mark.parametrize(("pattern", "strings"), AGREE, ids=[repr(p) for p, _ in AGREE])
def test_agrees_with_python_re(pattern, strings):
    expected = [re.fullmatch(pattern, s, re.ASCII) is not None for s in strings]
    assert full_match(pattern, strings).tolist() == expected


# (pattern, string, RE2's answer) where Python's re disagrees or has no such syntax.
RE2_ONLY = [
    ("a$\n", "a\n", False),  # without (?m), $ is only the very end of the text
    ("(?m)a$\n", "a\n", True),
    ("a{,2}", "a{,2}", True),  # not a repetition: literal text
    ("a{,2}", "aa", False),
    ("a{", "a{", True),
    ("{", "{", True),
    ("x{2", "x{2", True),
    ("x{2}{", "xx{", True),
    ("x{02}", "x{02}", True),  # RE2 reads a count with a leading zero as literal text
    ("x{1,02}", "x{1,02}", True),
    ("x{2,}", "xxxxx", True),
    ("(a{10}b{10}){10}", "a" * 10 + "b" * 10, False),
    ("(a{10}b{10}){1,10}", "a" * 10 + "b" * 10, True),
    ("(?P<名前>a)", "a", True),
    (r"\x{65e5}", "日", True),
    (r"\x{1F600}", "😀", True),
    ("[[:alpha:]]+", "abcXYZ", True),
    ("[[:alpha:]]+", "abc1", False),
    ("[[:^digit:]]+", "ab", True),
    ("[[:^digit:]]+", "a1", False),
    ("[[:digit:][:upper:]]+", "A1B2", True),
    ("[[:punct:]]+", "!?.,", True),
    ("[[:xdigit:]]+", "DEADbeef", True),
    ("[[:xdigit:]]+", "g", False),
    ("[[:space:]]", "\v", True),
    ("(?i)[[:lower:]]+", "ABC", True),
    (r"\s", "\v", False),  # RE2's \s has no \v
    (r"\Qa.b*c\E", "a.b*c", True),
    (r"\Qa.b\E", "axb", False),
    (r"\Qab\E+", "abbb", True),
    (r"\Qab", "ab", True),
    ("(?i)k", "\u212a", True),  # RE2 folds the Kelvin sign with k
    ("(?i)S", "\u017f", True),  # and long s with s
    ("a(?i)b|c", "aB", True),  # (?i) lasts to the end of the group, across |
    ("a(?i)b|c", "C", True),
    ("a(?i)b|c", "AB", False),
    ("(a(?i)b)c", "aBc", True),
    ("(a(?i)b)c", "aBC", False),
    ("(?i:a)(?-i)b", "Ab", True),
    ("(?i)a(?-i:b)", "AB", False),
    ("(?U)a+", "aaa", True),
    ("(?s:.)", "\n", True),
    ("(?s)(?-s:.)", "\n", False),
    ("(?sm-i:^a.b$)", "a\nb", True),
    (r"\Aabc\z", "abc", True),
    (r"a\z", "a\n", False),
    ("(?<name>a)b", "ab", True),
    (r"\B", "", True),
    ("(?:^)*a", "a", True),
    ("(?:$)+", "", True),
    (r"\0", "\0", True),
    (r"\a\v", "\a\v", True),
    (r"\_", "_", True),
    ("ab*?c", "abbc", True),
    ("a{1000}", "a" * 1000, True),
    ("a{1000}", "a" * 999, False),
    ("(" * 250 + "a" + ")" * 250, "a", True),  # the deepest nesting allowed (RE2: 1000)
    ("(?:" * 250 + "a|b" + ")" * 250, "b", True),
    ("[^a]", "😀", True),
    ("日本+", "日本本", True),
    ("[日本]+", "本日", True),
    ("[あ-ん]+", "ひらがな", True),
    ("[あ-ん]+", "カタカナ", False),
]


@pytest.mark.parametrize(("pattern", "string", "expected"), RE2_ONLY, ids=[f"{p!r}~{s!r}" for p, s, _ in RE2_ONLY])
def test_re2_semantics(pattern, string, expected):
    assert full_match(pattern, [string]).tolist() == [expected]


def test_conformance_patterns():
    y = full_match(r"www\.[\w.-]+\.\bcom\b", ["www.google.com", "www.facebook.com", "www.bbc.co.uk"])
    assert y.tolist() == [True, True, False]
    y = full_match(
        r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)",
        [["account@gmail.com", "account@hotmail.com"], ["not email", "account2@yahoo.com"]],
    )
    assert y.tolist() == [[True, False], [False, True]]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("(a*)*b", "a" * 10_000, False),
        ("(a*)*b", "a" * 10_000 + "b", True),
        ("(a|aa)+$", "a" * 10_000 + "!", False),
        ("(x+x+)+y", "x" * 10_000, False),
        ("(.*a){20}", "a" * 5_000, True),
        ("(.*a){20}", "b" * 5_000, False),
    ],
    ids=["star-star-miss", "star-star-hit", "alt-miss", "plus-plus-miss", "count-hit", "count-miss"],
)
def test_nested_quantifiers_are_linear(pattern, text, expected):
    assert full_match(pattern, [text]).tolist() == [expected]


def test_shapes_and_threads():
    rng = random.Random(7)
    strings = ["".join(rng.choice("ab\n é") for _ in range(rng.randrange(8))) for _ in range(2 * 3 * 40)]
    x = np.array(strings, dtype=object).reshape(2, 3, 40)
    for pattern in ["(a|b)*", "a.*b", "[^a]*", r"\w*\s?\w*", "(?s)a.*", "(a|é)+b?", "(ab|ba)*(?:\n|$)"]:
        expected = np.array([re.fullmatch(pattern, s, re.ASCII) is not None for s in strings]).reshape(x.shape)
        for threads in (1, 2):
            np.testing.assert_array_equal(full_match(pattern, x, threads=threads), expected, err_msg=pattern)


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3)])
def test_empty_tensors(shape):
    x = np.empty(shape, dtype=object)
    (y,) = session("a+", len(shape)).run(None, {"X": x})
    assert y.dtype == np.bool_ and y.shape == shape


def test_session_runs_again():
    sess = session("[0-9]{2,3}")
    assert sess.run(None, {"X": np.array(["1", "12", "123", "1234"], dtype=object)})[0].tolist() == [
        False,
        True,
        True,
        False,
    ]
    assert sess.run(None, {"X": np.array(["99"], dtype=object)})[0].tolist() == [True]


ERRORS = [
    ("(ab", pionnx.InvalidGraph, "missing ')'"),
    ("a(b(c)", pionnx.InvalidGraph, "missing ')'"),
    ("ab)", pionnx.InvalidGraph, "unexpected ')'"),
    ("a**", pionnx.InvalidGraph, "bad repetition operator"),
    ("a+*", pionnx.InvalidGraph, "bad repetition operator"),
    ("a{2}{3}", pionnx.InvalidGraph, "bad repetition operator"),
    ("a{2,1}", pionnx.InvalidGraph, "bad repetition operator"),
    ("a{1001}", pionnx.InvalidGraph, "bad repetition operator"),
    ("*a", pionnx.InvalidGraph, "missing argument to repetition operator"),
    ("a|+", pionnx.InvalidGraph, "missing argument to repetition operator"),
    ("{2}", pionnx.InvalidGraph, "missing argument to repetition operator"),
    ("[a", pionnx.InvalidGraph, "missing closing ]"),
    ("[z-a]", pionnx.InvalidGraph, "invalid character class range"),
    ("[[:foo:]]", pionnx.InvalidGraph, "invalid character class range"),
    (r"(a)\1", pionnx.InvalidGraph, "backreference"),
    ("(?P<n>a)(?P=n)", pionnx.InvalidGraph, "backreference"),
    ("(?=a)a", pionnx.InvalidGraph, "lookahead"),
    ("(?<!a)b", pionnx.InvalidGraph, "lookbehind"),
    (r"a\Z", pionnx.InvalidGraph, r"\Z is not RE2 syntax"),
    (r"\q", pionnx.InvalidGraph, r"invalid escape sequence \q"),
    (r"\x4", pionnx.InvalidGraph, "invalid escape sequence"),
    (r"\x{110000}", pionnx.InvalidGraph, "invalid escape sequence"),
    ("a\\", pionnx.InvalidGraph, "trailing backslash"),
    ("(?x)a", pionnx.InvalidGraph, "flag"),
    ("(?i-)a", pionnx.InvalidGraph, "invalid flag group"),
    ("(?P<>a)", pionnx.InvalidGraph, "invalid named capture group"),
    ("(a{100}){100}", pionnx.InvalidGraph, "nested counts multiply to more than 1000"),
    ("(?:abcdefghijk){1000}", pionnx.InvalidGraph, "pattern too large"),
    ("(" * 251 + ")" * 251, pionnx.InvalidGraph, "nested more than 250"),
    ("(" * 5000 + ")" * 5000, pionnx.InvalidGraph, "nested more than 250"),
    (r"\p{L}", pionnx.NotImplemented, r"Unicode character class \p"),
    (r"\pL+", pionnx.NotImplemented, r"Unicode character class \p"),
    (r"[\P{Greek}]", pionnx.NotImplemented, r"Unicode character class \P"),
    (r"\C", pionnx.NotImplemented, r"\C"),
    ("(?i)é", pionnx.NotImplemented, "case-insensitive matching of a non-ASCII character"),
]


@pytest.mark.parametrize(("pattern", "error", "message"), ERRORS, ids=[p[:20] for p, _, _ in ERRORS])
def test_bad_patterns_fail_at_session_creation(pattern, error, message):
    with pytest.raises(error) as info:
        session(pattern)
    text = str(info.value)
    assert message in text
    assert "RegexFullMatch" in text and "pattern" in text


def test_missing_pattern_attribute():
    with pytest.raises(pionnx.InvalidGraph, match="pattern"):
        session(None)


def test_non_string_input():
    with pytest.raises((pionnx.InvalidArgument, pionnx.InvalidGraph), match="string") as info:
        sess = session("a", elem_type=TensorProto.FLOAT)
        sess.run(None, {"X": np.zeros(3, dtype=np.float32)})
    assert "RegexFullMatch" in str(info.value)
