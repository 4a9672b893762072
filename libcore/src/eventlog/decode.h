// SPDX-License-Identifier: Apache-2.0
// Record decoding straight from a padded buffer (the reader's), without a copy.
#pragma once

#include <simdjson.h>

#include "aftk/eventlog/record.h"

namespace aftk::eventlog::detail {

/// As decode_record, on text that already has simdjson's padding after it.
Status decode_padded(simdjson::ondemand::parser& parser, simdjson::padded_string_view text,
                     Record& out);

}  // namespace aftk::eventlog::detail
