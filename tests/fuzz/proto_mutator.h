// A schema-less, structure-aware mutator for protobuf messages (ONNX models),
// for libFuzzer's LLVMFuzzerCustomMutator.
#pragma once
#include <cstddef>
#include <cstdint>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace pionnx_fuzz {

// Mutates the protobuf message in data[0, size) in place (at most max_size
// bytes) and returns its new size. Decodes the wire format into a tree
// (length-delimited fields that decode as messages become subtrees), applies
// one structural mutation, re-encodes with correct lengths; when the input
// does not decode, or one time in four, uses libFuzzer's byte mutations.
size_t mutate_protobuf(uint8_t* data, size_t size, size_t max_size, unsigned int seed);

}  // namespace pionnx_fuzz
