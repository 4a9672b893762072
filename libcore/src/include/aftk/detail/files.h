// SPDX-License-Identifier: Apache-2.0
// Whole-file reads and complete writes, shared by the readers of small files (markers, plans)
// and the atomic writers (snapshot export, plan files).
#pragma once

#include <string>
#include <string_view>

#include "aftk/result.h"

namespace aftk::detail {

/// The whole of a small file. `what` names it in errors: "cannot read WHAT 'PATH': reason". A
/// directory is refused by name (it would otherwise read as empty).
Result<std::string> read_small_file(const std::string& path, std::string_view what);

/// Writes all of `data` to `fd`, retrying short writes and EINTR. False with errno set on failure.
bool write_all(int fd, std::string_view data);

}  // namespace aftk::detail
