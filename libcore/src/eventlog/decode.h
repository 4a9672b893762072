// SPDX-License-Identifier: Apache-2.0
// Record decoding straight from a padded buffer (the reader's), without a copy.
#pragma once

#include <simdjson.h>

#include "aftk/eventlog/record.h"

namespace aftk::eventlog::detail {

/// Decodes one record from its JSON text (one line, or a pretty-printed block), which already
/// has simdjson's padding after it. Fills every field but raw/line/offset/source. Errors:
/// CORRUPT_RECORD naming what is wrong (bad JSON, no timestamp, no event type).
Status decode_padded(simdjson::ondemand::parser& parser, simdjson::padded_string_view text,
                     Record& out);

}  // namespace aftk::eventlog::detail
