// SPDX-License-Identifier: Apache-2.0
// A topic's id (Kafka's Uuid), read with a raw Metadata request: librdkafka 2.0.2 has no API
// for it (rd_kafka_TopicDescription_topic_id arrived in 2.4).
#pragma once

#include <chrono>
#include <string>

#include "aftk/kafka/config.h"
#include "aftk/result.h"

namespace aftk::kafka {

/// The topic id as Kafka's Uuid.toString() prints it (URL-safe base64, no padding, 22
/// characters), asked of the first bootstrap broker that answers with MetadataRequest v12.
/// Only plaintext listeners: with security.protocol other than plaintext this is UNSUPPORTED.
/// Errors: UNSUPPORTED, NOT_FOUND (no such topic), KAFKA (broker error code), IO, TIMEOUT.
Result<std::string> fetch_topic_id(const ClientConfig& config, const std::string& topic,
                                   std::chrono::milliseconds timeout);

}  // namespace aftk::kafka
