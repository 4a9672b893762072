// SPDX-License-Identifier: Apache-2.0
// One table of per-thread scratch parsers (see detail/scratch.h).
#include "aftk/detail/scratch.h"

#include <array>
#include <cstddef>

namespace aftk::detail {

ParseScratch& thread_scratch(ParseSite site) {
  thread_local std::array<ParseScratch, static_cast<std::size_t>(ParseSite::kCount)> scratch;
  return scratch[static_cast<std::size_t>(site)];
}

}  // namespace aftk::detail
