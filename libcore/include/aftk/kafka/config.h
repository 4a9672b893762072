// SPDX-License-Identifier: Apache-2.0
// Kafka client settings shared by every tool, resolved kcat-style from files, flags and environment.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aftk/result.h"

struct rd_kafka_conf_s;

namespace aftk::kafka {

/// True for properties whose values must never be printed (passwords, secrets, private keys).
bool is_secret(std::string_view key) noexcept;

/// One librdkafka property and where it came from ("-X", "/etc/x.properties:3", "$AFTK_BROKERS").
struct Setting {
  std::string key;
  std::string value;
  std::string origin;
};

/// An ordered set of librdkafka properties; setting a key again replaces it (the later source wins).
class ClientConfig {
 public:
  /// Sets `key` (aliases such as metadata.broker.list fold into bootstrap.servers).
  void set(std::string key, std::string value, std::string origin = {});
  /// The value of `key`, if set.
  std::optional<std::string> get(std::string_view key) const;
  /// bootstrap.servers, or empty.
  std::string brokers() const { return get("bootstrap.servers").value_or(""); }
  const std::vector<Setting>& settings() const { return settings_; }

  /// Reads a Java-style properties file (`key=value` or `key: value`, `#`/`!` comments) into this
  /// config. Errors: IO when unreadable, INVALID_ARGUMENT naming file:line for a malformed line.
  Status merge_file(const std::string& path);

  /// "key=value (origin)" lines with secrets shown as "***"; for diagnostics.
  std::vector<std::string> describe() const;

  /// `text` (librdkafka's reason for a failure, say) with the value of every secret setting
  /// replaced by "***".
  std::string redact_secrets(std::string text) const;

  /// The settings a client made from this config would have: librdkafka's defaults overlaid
  /// with every setting here, as (key, value) pairs in librdkafka's order (global properties,
  /// then topic properties), every secret's value shown as "[redacted]". What `-X dump`
  /// prints. Errors: as to_rdkafka.
  Result<std::vector<std::pair<std::string, std::string>>> effective() const;

  /// A librdkafka configuration holding every setting. Errors: INVALID_ARGUMENT naming the key,
  /// its origin and librdkafka's reason (secret values never appear in it).
  Result<rd_kafka_conf_s*> to_rdkafka() const;

 private:
  std::vector<Setting> settings_;
};

/// Where the settings come from, in the order they apply (later wins).
struct Sources {
  /// $AFTK_KAFKA_CONFIG, else ~/.config/aftk/kafka.properties when it exists; "" to skip.
  std::optional<std::string> default_file;
  std::vector<std::string> files;      // -F, in order
  std::string brokers;                 // -b, else $AFTK_BROKERS
  std::vector<std::string> overrides;  // -X key=value, in order
};

/// Sources with default_file and brokers filled from the environment ($AFTK_KAFKA_CONFIG,
/// $HOME/.config/aftk/kafka.properties, $AFTK_BROKERS), to be completed with the flags.
Sources sources_from_environment();

/// Builds the config: defaults, the default file, -F files, brokers, then -X overrides.
/// Errors: IO for an unreadable file (a missing default file is fine, a missing $AFTK_KAFKA_CONFIG
/// or -F file is not), INVALID_ARGUMENT for `-X` without '=' or a malformed file line.
Result<ClientConfig> resolve(const Sources& sources);

/// Writes librdkafka's table of configuration properties (what `-X list` shows).
void list_properties(std::FILE* out);

/// Owns an rd_kafka_conf_t until handed to rd_kafka_new.
struct ConfDeleter {
  void operator()(rd_kafka_conf_s* conf) const noexcept;
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_s, ConfDeleter>;

/// Sets one property on a librdkafka conf. Errors: INVALID_ARGUMENT with the key and reason, the
/// value hidden for secrets.
Status set_property(rd_kafka_conf_s* conf, std::string_view key, std::string_view value,
                    std::string_view origin = {});

}  // namespace aftk::kafka
