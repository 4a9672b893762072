// SPDX-License-Identifier: Apache-2.0
#include "aftk/detail/files.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace aftk::detail {

Result<std::string> read_small_file(const std::string& path, std::string_view what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return fail(Errc::kIo, fmt::format("cannot read {} '{}': is a directory", what, path));
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(Errc::kIo,
                fmt::format("cannot read {} '{}': {}", what, path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail(Errc::kIo, fmt::format("cannot read {} '{}'", what, path));
  return ss.str();
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace aftk::detail
