// SPDX-License-Identifier: Apache-2.0
// Runs a tool in-process with an argv array, capturing stdout and stderr.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "aftk/cli/tool.h"

namespace aftk::test {

struct ToolRun {
  int rc = -1;
  std::string out;
  std::string err;
};

template <class Main>
ToolRun run_tool(Main main_fn, const std::string& tool, std::vector<std::string> args) {
  ToolRun r;
  char* out_buf = nullptr;
  char* err_buf = nullptr;
  size_t out_len = 0, err_len = 0;
  std::FILE* out = open_memstream(&out_buf, &out_len);
  std::FILE* err = open_memstream(&err_buf, &err_len);
  cli::Io io;
  io.tool = tool;
  io.out = out;
  io.err = err;
  std::vector<const char*> argv{tool.c_str()};
  for (const auto& a : args) argv.push_back(a.c_str());
  r.rc = main_fn(static_cast<int>(argv.size()), argv.data(), io);
  std::fclose(out);
  std::fclose(err);
  r.out.assign(out_buf, out_len);
  r.err.assign(err_buf, err_len);
  std::free(out_buf);
  std::free(err_buf);
  return r;
}

inline std::string data_dir() {
  const char* d = std::getenv("AFTK_TESTDATA");
  return d ? d : "tests/data";
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Compares with a golden file; with AFTK_UPDATE_GOLDEN=1 set, rewrites it instead.
inline bool matches_golden(const std::string& actual, const std::string& name) {
  const char* src = std::getenv("AFTK_SOURCE_ROOT");
  const std::string path = std::string(src ? src : ".") + "/tests/cli/golden/" + name;
  if (const char* u = std::getenv("AFTK_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return true;
  }
  return read_file(path) == actual;
}

}  // namespace aftk::test
