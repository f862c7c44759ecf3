// Test helper: a copy of a .sparq file with some tensors left out or its metadata edited,
// to build the broken models that load and run errors must name.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "formats/sparq_reader.h"
#include "formats/sparq_writer.h"

namespace sparq::test {

// Rewrites `src` into `dst` keeping the tensors `keep` accepts, with the metadata edited.
inline void rewrite_sparq(const std::string& src, const std::string& dst, bool (*keep)(const std::string&),
                          void (*edit)(nlohmann::json&)) {
  auto r = formats::SparqReader::open(src);
  ASSERT_TRUE(r.ok()) << r.error().message();
  auto w = formats::SparqWriter::create(dst);
  ASSERT_TRUE(w.ok()) << w.error().message();
  for (const formats::TensorView& t : (*r)->tensors()) {
    if (keep(t.desc.name)) {
      ASSERT_TRUE((*w)->add_tensor(t.desc, t.payload).ok());
    }
  }
  nlohmann::json meta = (*r)->metadata();
  edit(meta);
  ASSERT_TRUE((*w)->finish(meta).ok());
}

}  // namespace sparq::test
