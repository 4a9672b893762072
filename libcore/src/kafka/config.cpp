// SPDX-License-Identifier: Apache-2.0
// Kafka client settings: properties files, -b/-X flags, environment, secret redaction.
#include "aftk/kafka/config.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace aftk::kafka {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A view, not a moved-through string: g++ 12 at -O3 called the moved-in parameter "maybe
// uninitialized" in the comparison (a false positive, but an error under -Werror).
std::string_view canonical_key(std::string_view key) {
  return key == "metadata.broker.list" ? std::string_view("bootstrap.servers") : key;
}

// Hides a secret's value wherever librdkafka quoted it back in an error message. The search
// resumes after each mask, so a value that occurs in the mask itself ("*") cannot match again.
std::string redact(std::string message, std::string_view key, std::string_view value) {
  if (!is_secret(key) || value.empty()) return message;
  constexpr std::string_view kMask = "***";
  for (size_t pos = 0; (pos = message.find(value, pos)) != std::string::npos;
       pos += kMask.size()) {
    message.replace(pos, value.size(), kMask);
  }
  return message;
}

}  // namespace

bool is_secret(std::string_view key) noexcept {
  static constexpr std::array<std::string_view, 5> kExact = {
      "sasl.jaas.config", "sasl.oauthbearer.config", "ssl.key.pem", "ssl_key", "ssl.keystore.key"};
  for (auto k : kExact) {
    if (key == k) return true;
  }
  return key.find("password") != std::string_view::npos ||
         key.find("secret") != std::string_view::npos ||
         key.find("token") != std::string_view::npos;
}

void ClientConfig::set(std::string key, std::string value, std::string origin) {
  key = std::string(canonical_key(key));
  for (auto& s : settings_) {
    if (s.key == key) {
      s.value = std::move(value);
      s.origin = std::move(origin);
      return;
    }
  }
  settings_.push_back(Setting{std::move(key), std::move(value), std::move(origin)});
}

std::optional<std::string> ClientConfig::get(std::string_view key) const {
  std::string_view k = canonical_key(key);
  for (const auto& s : settings_) {
    if (s.key == k) return s.value;
  }
  return std::nullopt;
}

Status ClientConfig::merge_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(Errc::kIo, fmt::format("cannot read Kafka config '{}': {}", path,
                                       std::strerror(errno)));
  }
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    std::string_view l = trim(line);
    if (l.empty() || l.front() == '#' || l.front() == '!') continue;
    // librdkafka takes C strings: a NUL would cut the value short without a word.
    if (l.find('\0') != std::string_view::npos) {
      return fail(Errc::kInvalidArgument,
                  fmt::format("cannot read Kafka config '{}': a NUL byte in the line", path),
                  fmt::format("{}:{}", path, lineno));
    }
    size_t sep = l.find_first_of("=:");
    if (sep == std::string_view::npos || trim(l.substr(0, sep)).empty()) {
      return fail(Errc::kInvalidArgument,
                  fmt::format("cannot read Kafka config '{}': expected key=value", path),
                  fmt::format("{}:{}", path, lineno));
    }
    set(std::string(trim(l.substr(0, sep))), std::string(trim(l.substr(sep + 1))),
        fmt::format("{}:{}", path, lineno));
  }
  if (in.bad()) {
    return fail(Errc::kIo, fmt::format("cannot read Kafka config '{}': {}", path,
                                       std::strerror(errno)));
  }
  return {};
}

std::string ClientConfig::redact_secrets(std::string text) const {
  for (const auto& s : settings_) text = redact(std::move(text), s.key, s.value);
  return text;
}

std::vector<std::string> ClientConfig::describe() const {
  std::vector<std::string> out;
  out.reserve(settings_.size());
  for (const auto& s : settings_) {
    std::string v = is_secret(s.key) ? std::string("***") : s.value;
    out.push_back(s.origin.empty() ? fmt::format("{}={}", s.key, v)
                                   : fmt::format("{}={} ({})", s.key, v, s.origin));
  }
  return out;
}

void ConfDeleter::operator()(rd_kafka_conf_s* conf) const noexcept {
  if (conf != nullptr) rd_kafka_conf_destroy(conf);
}

Status set_property(rd_kafka_conf_s* conf, std::string_view key, std::string_view value,
                    std::string_view origin) {
  char errstr[512];
  std::string k(key), v(value);
  if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    return fail(Errc::kInvalidArgument,
                fmt::format("invalid Kafka setting '{}': {}", k, redact(errstr, key, value)),
                std::string(origin));
  }
  return {};
}

Result<rd_kafka_conf_s*> ClientConfig::to_rdkafka() const {
  ConfPtr conf(rd_kafka_conf_new());
  for (const auto& s : settings_) {
    AFTK_TRY(set_property(conf.get(), s.key, s.value, s.origin));
  }
  return conf.release();
}

Result<std::vector<std::pair<std::string, std::string>>> ClientConfig::effective() const {
  AFTK_TRY_ASSIGN(rd_kafka_conf_s * raw, to_rdkafka());
  ConfPtr conf(raw);
  std::vector<std::pair<std::string, std::string>> out;
  // librdkafka's dumps alternate key and value; the count is of both.
  const auto take = [&](const char** kv, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) {
      std::string key(canonical_key(kv[i]));  // librdkafka names the alias's original
      std::string value = kv[i + 1] != nullptr ? kv[i + 1] : "";
      if (is_secret(key) && !value.empty()) value = "[redacted]";
      out.emplace_back(std::move(key), std::move(value));
    }
    rd_kafka_conf_dump_free(kv, n);
  };
  size_t n = 0;
  const char** global = rd_kafka_conf_dump(conf.get(), &n);
  take(global, n);
  if (rd_kafka_topic_conf_t* topic = rd_kafka_conf_get_default_topic_conf(conf.get())) {
    const char** kv = rd_kafka_topic_conf_dump(topic, &n);
    take(kv, n);
  }
  return out;
}

Sources sources_from_environment() {
  Sources src;
  if (const char* f = std::getenv("AFTK_KAFKA_CONFIG"); f != nullptr && *f != '\0') {
    src.default_file = f;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    std::string p = std::string(home) + "/.config/aftk/kafka.properties";
    std::error_code ec;
    if (std::filesystem::exists(p, ec)) src.default_file = p;
  }
  if (const char* b = std::getenv("AFTK_BROKERS"); b != nullptr) src.brokers = b;
  return src;
}

Result<ClientConfig> resolve(const Sources& sources) {
  ClientConfig cfg;
  // Defaults for a tool that reads or writes a few records and exits.
  cfg.set("client.id", "aftk", "default");
  cfg.set("socket.connection.setup.timeout.ms", "10000", "default");
  if (sources.default_file && !sources.default_file->empty()) {
    AFTK_TRY(cfg.merge_file(*sources.default_file));
  }
  for (const auto& f : sources.files) AFTK_TRY(cfg.merge_file(f));
  if (!sources.brokers.empty()) cfg.set("bootstrap.servers", sources.brokers, "brokers");
  for (const auto& x : sources.overrides) {
    size_t eq = x.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(Errc::kInvalidArgument,
                  fmt::format("-X expects key=value (or 'list'), got '{}'",
                              is_secret(x) ? std::string("***") : x));
    }
    cfg.set(x.substr(0, eq), x.substr(eq + 1), "-X");
  }
  return cfg;
}

void list_properties(std::FILE* out) { rd_kafka_conf_properties_show(out); }

}  // namespace aftk::kafka
