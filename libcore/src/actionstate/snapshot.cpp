// SPDX-License-Identifier: Apache-2.0
// The atomic snapshot export: temporary file, fsync, rename.
#include "aftk/actionstate/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "aftk/actionstate/file_store.h"
#include "aftk/detail/files.h"

namespace aftk::actionstate {

namespace {

Unexpected io_error(std::string_view what, const std::string& path, int err) {
  return fail(Errc::kIo, fmt::format("cannot {} '{}': {}", what, path, std::strerror(err)));
}

}  // namespace

Result<std::uint64_t> export_snapshot(const StateCache& cache, const std::string& path) {
  std::vector<const StateCache::Entry*> entries;
  entries.reserve(cache.size());
  cache.for_each([&](const StateCache::Entry& e) { entries.push_back(&e); });
  std::sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
    return std::pair(a->position.partition, a->position.offset) <
           std::pair(b->position.partition, b->position.offset);
  });

  const std::string tmp = path + ".tmp";
  // Owner-only: a snapshot holds every state's inputs and call results.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("write", tmp, errno);
  const auto fail = [&](std::string_view what, const std::string& name) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return io_error(what, name, err);
  };
  std::string buf;
  for (const auto* e : entries) {
    const std::string key = e->key.to_string();
    const RecordPosition& at = e->position;
    append_dump_line(buf, TopicRecord{at.partition, at.offset, at.timestamp, key, e->value});
    if (buf.size() >= (1u << 20)) {
      if (!detail::write_all(fd, buf)) return fail("write", tmp);
      buf.clear();
    }
  }
  if (!detail::write_all(fd, buf)) return fail("write", tmp);
  if (::fsync(fd) != 0) return fail("write", tmp);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("write", tmp, err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("write", path, err);
  }
  return static_cast<std::uint64_t>(entries.size());
}

}  // namespace aftk::actionstate
