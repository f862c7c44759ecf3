// Q and K weights from llama.cpp (GGUF, architecture llama) and Meta / llama2.c checkpoints
// rotate interleaved pairs (rows 2j, 2j+1 of a head); Hugging Face, and so sparq, rotates
// halves (rows j, j + head_dim/2). The same rows, reordered within each head: HF's permute
// (and llama.cpp's convert script) maps HF row h·d + i·d/2 + j to row h·d + 2j + i, and
// importing undoes it. Rows move whole, so the reordering applies as well to quantized rows
// (their blocks never straddle rows) as to f32 values.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace sparq::runtime {

// For each row of the half-split (HF) layout, the interleaved row it comes from, for
// `heads` heads of `head_dim` rows (even).
std::vector<uint64_t> half_split_rows_from_interleaved(uint64_t heads, uint64_t head_dim);

// `data` holds rows of `row_bytes` bytes; returns row r = data's row source_rows[r].
std::vector<uint8_t> gather_rows(std::span<const uint8_t> data, uint64_t row_bytes,
                                 std::span<const uint64_t> source_rows);

}  // namespace sparq::runtime
