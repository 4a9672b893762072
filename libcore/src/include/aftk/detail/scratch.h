// SPDX-License-Identifier: Apache-2.0
// The simdjson parsers libcore keeps per thread, all in one place.
#pragma once

#include <simdjson.h>

#include "aftk/json/normalize.h"

namespace aftk::detail {

/// Who parses with a thread's scratch parser. Each site has its own, because one parse may run
/// while another is still in progress on the same thread (a record's metadata read while the
/// record is being read), and an on-demand parser serves one document at a time.
enum class ParseSite {
  kNormalize,      // json::normalize of a text
  kEventFilter,    // a field path selected by an event-log filter
  kEventDom,       // an event-log document built into a tree
  kTraceMetadata,  // a Trace Log entry's entityMetadata, inside a record being read
  kCount,
};

/// A parser and the padded copy of the text it reads.
struct ParseScratch {
  simdjson::ondemand::parser parser;
  json::PaddedBuffer buffer;
};

/// This thread's scratch for `site`; made on first use, kept until the thread ends, so a hot
/// loop reuses one parser's buffers instead of allocating per record.
ParseScratch& thread_scratch(ParseSite site);

}  // namespace aftk::detail
