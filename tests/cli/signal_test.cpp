// SPDX-License-Identifier: Apache-2.0
// One SIGINT or SIGTERM ends a tool blocked on a FIFO or a pipe with exit 130: each tool runs in
// a forked child through cli::main, the process entry point that installs the handlers.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "../../tools/eventlog-dump/eventlog_dump.h"
#include "../../tools/replay-sim/replay_sim.h"
#include "../../tools/state-inspect/state_inspect.h"
#include "../../tools/state-prune/state_prune.h"
#include "../../tools/state-rebuild/state_rebuild.h"
#include "aftk/cli/tool.h"

namespace {

using namespace std::chrono_literals;

struct Tool {
  const char* name;
  aftk::cli::ToolMain main;
  std::vector<std::string> args;  // "IN" stands for the input path
  bool reads_stdin = true;        // takes '-' (FileStore::open does not, yet)
};

std::vector<Tool> tools() {
  namespace t = aftk::tools;
  return {
      {"eventlog-dump", t::eventlog_dump::main, {"IN"}},
      {"state-inspect", t::state_inspect::main, {"IN"}},
      {"state-rebuild", t::state_rebuild::main, {"--from-beginning", "IN"}, false},
      {"state-prune", t::state_prune::main, {"--completed", "IN"}, false},
      {"replay-sim", t::replay_sim::main, {"replay", "IN", "--trace", "/dev/null"}, false},
  };
}

// 'S' while the process sleeps in a system call (our read or open), from /proc/PID/stat.
char process_state(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return '?';
  char state = '?';
  int ignored = 0;
  char name[256];
  if (std::fscanf(f, "%d (%255[^)]) %c", &ignored, name, &state) != 3) state = '?';
  std::fclose(f);
  return state;
}

// Forks, runs `tool` with stdin from `stdin_fd` (when >= 0) and stdout to `out`.
pid_t spawn(const Tool& tool, const std::string& input, int stdin_fd,
            const std::string& out = "/dev/null") {
  std::fflush(nullptr);  // or the child writes the parent's buffered output too
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int null = ::open("/dev/null", O_WRONLY);
  ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), STDOUT_FILENO);
  ::dup2(null, STDERR_FILENO);
  if (stdin_fd >= 0) ::dup2(stdin_fd, STDIN_FILENO);
  std::vector<std::string> args{tool.name};
  for (const auto& a : tool.args) args.push_back(a == "IN" ? input : a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::_exit(aftk::cli::main(static_cast<int>(args.size()), argv.data(), tool.name, tool.main));
}

// Waits until the child sleeps in its blocking call, sends one `sig`, and returns the exit
// status (-1: still running after 3 s, then killed; -2: ended by a signal).
int interrupt(pid_t pid, int sig) {
  for (int i = 0; i < 300 && process_state(pid) != 'S'; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(300ms);  // well inside the read, past the handlers' install
  ::kill(pid, sig);
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

std::string fifo_path() {
  char dir[] = "/tmp/aftk-signal-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/in.fifo";
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  return path;
}

}  // namespace

TEST_CASE("Signals.one SIGINT ends a tool reading a FIFO nobody writes, with 130") {
  for (const auto& tool : tools()) {
    CAPTURE(tool.name);
    const std::string fifo = fifo_path();
    const pid_t pid = spawn(tool, fifo, -1);
    // Opening the FIFO's write end (which never writes) waits until the tool has opened it, so
    // the tool is then blocked in its read.
    int writer = -1;
    for (int i = 0; i < 500 && writer < 0; ++i) {
      writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (writer < 0) std::this_thread::sleep_for(10ms);
    }
    CHECK(writer >= 0);
    CHECK(interrupt(pid, SIGINT) == 130);
    if (writer >= 0) ::close(writer);
    ::unlink(fifo.c_str());
  }
}

TEST_CASE("Signals.one SIGTERM ends a tool waiting to open a FIFO, with 130") {
  for (const auto& tool : tools()) {
    CAPTURE(tool.name);
    const std::string fifo = fifo_path();
    const pid_t pid = spawn(tool, fifo, -1);
    CHECK(interrupt(pid, SIGTERM) == 130);
    ::unlink(fifo.c_str());
  }
}

TEST_CASE("Signals.one SIGINT ends a tool reading a silent pipe on stdin, with 130") {
  for (const auto& tool : tools()) {
    if (!tool.reads_stdin) continue;
    CAPTURE(tool.name);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = spawn(tool, "-", fds[0]);
    ::close(fds[0]);
    CHECK(interrupt(pid, SIGINT) == 130);
    ::close(fds[1]);
  }
}

TEST_CASE("Signals.eventlog-dump --follow DIR waits on an empty directory and reads new logs") {
  char dir[] = "/tmp/aftk-follow-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string out = std::string(dir) + ".out";
  const Tool tool{"eventlog-dump", aftk::tools::eventlog_dump::main, {"--json", "-f", "IN"}};
  const pid_t pid = spawn(tool, dir, -1, out);
  std::this_thread::sleep_for(500ms);
  int status = 0;
  CHECK(::waitpid(pid, &status, WNOHANG) == 0);  // still following, not ended at once
  const std::string log = std::string(dir) + "/events-job-op-0.log";
  const std::string record =
      R"({"timestamp":"2026-11-18T11:06:43.916Z","eventId":"e1","eventType":"later",)"
      R"("eventAttributes":{}})";
  std::FILE* f = std::fopen(log.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fprintf(f, "%s\n", record.c_str());
  std::fclose(f);
  std::this_thread::sleep_for(1s);
  CHECK(interrupt(pid, SIGINT) == 130);
  std::FILE* in = std::fopen(out.c_str(), "r");
  REQUIRE(in != nullptr);
  char buf[4096] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, in);
  std::fclose(in);
  CHECK(std::string(buf, n) == record + "\n");
  ::unlink(log.c_str());
  ::unlink(out.c_str());
  ::rmdir(dir);
}

TEST_CASE("Signals.state-prune --apply interrupted before its first tombstone exits 130, unwritten") {
  char dir[] = "/tmp/aftk-prune-signal-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/state.jsonl";
  const char* data = std::getenv("AFTK_TESTDATA");
  const std::string golden =
      std::string(data ? data : "tests/data") + "/dumps/golden-main-8ad3a32.jsonl";
  std::string before;
  {
    std::FILE* in = std::fopen(golden.c_str(), "rb");
    REQUIRE(in != nullptr);
    char buf[65536];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, in)) > 0;) before.append(buf, n);
    std::fclose(in);
    std::FILE* out = std::fopen(path.c_str(), "wb");
    REQUIRE(out != nullptr);
    std::fwrite(before.data(), 1, before.size(), out);
    std::fclose(out);
  }
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    // The signal arrives once the handlers are in place, before the plan is applied: the flag
    // is set when state-prune reaches its first tombstone.
    aftk::cli::install_signal_handlers();
    ::raise(SIGINT);
    std::vector<std::string> args{"state-prune", "--completed", "--apply", "--yes", path};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::_exit(aftk::cli::main(static_cast<int>(args.size()), argv.data(), "state-prune",
                            aftk::tools::state_prune::main));
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  std::string after;
  std::FILE* in = std::fopen(path.c_str(), "rb");
  REQUIRE(in != nullptr);
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, in)) > 0;) after.append(buf, n);
  std::fclose(in);
  CHECK(after == before);
  ::unlink(path.c_str());
  ::rmdir(dir);
}
