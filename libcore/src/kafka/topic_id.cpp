// SPDX-License-Identifier: Apache-2.0
// One MetadataRequest v12 over a plain TCP connection, to learn a topic's id.
#include "aftk/kafka/topic_id.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

namespace aftk::kafka {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void put16(std::string& b, std::uint16_t v) {
  b.push_back(static_cast<char>(v >> 8));
  b.push_back(static_cast<char>(v));
}
void put32(std::string& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>(v >> s));
}
void put_uvarint(std::string& b, std::uint64_t v) {
  while (v >= 0x80) {
    b.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  b.push_back(static_cast<char>(v));
}

// A bounds-checked reader of the response; any overrun marks it bad.
struct Reader {
  std::string_view d;
  size_t i = 0;
  bool bad = false;
  bool need(size_t n) {
    if (i + n > d.size()) bad = true;
    return !bad;
  }
  std::uint64_t be(size_t n) {
    if (!need(n)) return 0;
    std::uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v = (v << 8) | static_cast<std::uint8_t>(d[i + k]);
    i += n;
    return v;
  }
  std::uint64_t uvarint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!need(1)) return 0;
      const auto c = static_cast<std::uint8_t>(d[i++]);
      v |= static_cast<std::uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
    }
    bad = true;
    return 0;
  }
  std::string_view bytes(size_t n) {
    if (!need(n)) return {};
    auto s = d.substr(i, n);
    i += n;
    return s;
  }
  // Compact (nullable) string: length + 1, 0 for null.
  std::string_view compact_string() {
    const auto n = uvarint();
    return n == 0 ? std::string_view() : bytes(static_cast<size_t>(n - 1));
  }
  void skip_tags() {
    const auto n = uvarint();
    for (std::uint64_t t = 0; t < n && !bad; ++t) {
      uvarint();
      bytes(static_cast<size_t>(uvarint()));
    }
  }
  void skip_int32_array() {
    const auto n = uvarint();
    if (n > 0) bytes(static_cast<size_t>((n - 1) * 4));
  }
};

std::string uuid_text(std::string_view raw) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : raw) {
    acc = (acc << 8) | static_cast<std::uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;  // 16 bytes: 22 characters, no padding (Kafka's Uuid.toString)
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<std::int64_t>(0, left));
}

Status wait_fd(int fd, short events, Clock::time_point deadline, std::string_view what) {
  pollfd p{fd, events, 0};
  const int rc = ::poll(&p, 1, remaining_ms(deadline));
  if (rc == 0) return fail(Errc::kTimeout, fmt::format("{}: no answer in time", what));
  if (rc < 0) return fail(Errc::kIo, fmt::format("{}: {}", what, std::strerror(errno)));
  return {};
}

Result<std::string> ask(const std::string& host, const std::string& port, const std::string& topic,
                        Clock::time_point deadline) {
  const std::string what = fmt::format("cannot ask {}:{} for the id of topic '{}'", host, port, topic);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return fail(Errc::kIo, fmt::format("{}: {}", what, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
  Fd s;
  s.fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return fail(Errc::kIo, fmt::format("{}: {}", what, std::strerror(errno)));
  if (::connect(s.fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
    return fail(Errc::kIo, fmt::format("{}: {}", what, std::strerror(errno)));
  }
  AFTK_TRY(wait_fd(s.fd, POLLOUT, deadline, what));
  int soerr = 0;
  socklen_t len = sizeof soerr;
  ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) return fail(Errc::kIo, fmt::format("{}: {}", what, std::strerror(soerr)));

  // Header v2 (api key 3 Metadata, version 12), then the body: one topic by name.
  std::string body;
  put16(body, 3);
  put16(body, 12);
  put32(body, 1);          // correlation id
  put16(body, 4);
  body += "aftk";          // client id (a classic nullable string in header v2)
  put_uvarint(body, 0);    // header tags
  put_uvarint(body, 2);    // topics: one
  body.append(16, '\0');   // topic id: zero, look up by name
  put_uvarint(body, topic.size() + 1);
  body += topic;
  put_uvarint(body, 0);    // topic tags
  body.push_back(0);       // allow_auto_topic_creation = false
  body.push_back(0);       // include_topic_authorized_operations = false
  put_uvarint(body, 0);    // tags
  std::string msg;
  put32(msg, static_cast<std::uint32_t>(body.size()));
  msg += body;
  for (size_t sent = 0; sent < msg.size();) {
    AFTK_TRY(wait_fd(s.fd, POLLOUT, deadline, what));
    const ssize_t n = ::send(s.fd, msg.data() + sent, msg.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return fail(Errc::kIo, fmt::format("{}: {}", what, std::strerror(errno)));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string in;
  size_t want = 4;
  while (in.size() < want) {
    AFTK_TRY(wait_fd(s.fd, POLLIN, deadline, what));
    char buf[65536];
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n == 0) return fail(Errc::kIo, fmt::format("{}: the broker closed the connection (not a plaintext listener?)", what));
    if (n < 0 && errno != EAGAIN) return fail(Errc::kIo, fmt::format("{}: {}", what, std::strerror(errno)));
    if (n > 0) in.append(buf, static_cast<size_t>(n));
    if (want == 4 && in.size() >= 4) {
      Reader r{in};
      want = 4 + r.be(4);
      if (want > (64u << 20)) return fail(Errc::kCorruptRecord, fmt::format("{}: response of {} bytes", what, want));
    }
  }
  Reader r{std::string_view(in).substr(4, want - 4)};
  r.be(4);         // correlation id
  r.skip_tags();   // response header v1
  r.be(4);         // throttle
  const auto brokers = r.uvarint();
  for (std::uint64_t b = 1; b < brokers && !r.bad; ++b) {
    r.be(4);
    r.compact_string();
    r.be(4);
    r.compact_string();
    r.skip_tags();
  }
  r.compact_string();  // cluster id
  r.be(4);             // controller id
  const auto topics = r.uvarint();
  for (std::uint64_t t = 1; t < topics && !r.bad; ++t) {
    const auto err = static_cast<std::int16_t>(r.be(2));
    const std::string name(r.compact_string());
    const std::string_view id = r.bytes(16);
    if (r.bad) break;
    if (name != topic) continue;
    if (err == 3) return fail(Errc::kNotFound, fmt::format("topic '{}' does not exist", topic));
    if (err != 0) {
      return fail(Errc::kKafka, fmt::format("{}: broker error {} ({})", what, err,
                                            rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))));
    }
    if (std::all_of(id.begin(), id.end(), [](char c) { return c == 0; })) {
      return fail(Errc::kUnsupported, fmt::format("{}: the broker reports no topic id", what));
    }
    return uuid_text(id);
  }
  if (r.bad) return fail(Errc::kCorruptRecord, fmt::format("{}: malformed Metadata response", what));
  return fail(Errc::kNotFound, fmt::format("topic '{}' does not exist", topic));
}

}  // namespace

Result<std::string> fetch_topic_id(const ClientConfig& config, const std::string& topic,
                                   std::chrono::milliseconds timeout) {
  std::string proto = config.get("security.protocol").value_or("plaintext");
  std::transform(proto.begin(), proto.end(), proto.begin(), [](unsigned char c) { return std::tolower(c); });
  if (proto != "plaintext") {
    return fail(Errc::kUnsupported,
                fmt::format("reading topic ids needs librdkafka 2.4 or a plaintext listener (security.protocol={})", proto));
  }
  const auto deadline = Clock::now() + timeout;
  std::optional<Error> last;
  std::string servers = config.brokers();
  size_t start = 0;
  while (start < servers.size()) {
    size_t comma = servers.find(',', start);
    std::string hp = servers.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? servers.size() : comma + 1;
    hp.erase(0, hp.find_first_not_of(' '));
    if (auto p = hp.find("://"); p != std::string::npos) hp = hp.substr(p + 3);
    const auto colon = hp.rfind(':');
    if (hp.empty() || colon == std::string::npos) continue;
    std::string host = hp.substr(0, colon), port = hp.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto id = ask(host, port, topic, deadline);
    if (id || id.error().code == Errc::kNotFound) return id;
    last = id.error();
  }
  if (last) return fail(std::move(*last));
  return fail(Errc::kInvalidArgument, "no bootstrap brokers to ask for the topic id");
}

}  // namespace aftk::kafka
