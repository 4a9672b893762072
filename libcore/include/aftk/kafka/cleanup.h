// SPDX-License-Identifier: Apache-2.0
// Checkpoint-aligned cleanup on a live topic: verifying a plan and applying it through the
// control topic, record for record as upstream's KafkaActionStateCleanupCoordinator does.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aftk/actionstate/cleanup_plan.h"
#include "aftk/kafka/client.h"
#include "aftk/kafka/config.h"
#include "aftk/result.h"

namespace aftk::kafka {

/// The steps of apply after which a crash leaves something behind; the test hook names them.
enum class CleanupStep { kCommitted, kDeleted, kVerified, kApplied };

/// "committed", "deleted", "verified", "applied".
std::string_view step_name(CleanupStep step);

struct CleanupOptions {
  std::string control_topic;  // kafkaActionStateCleanupControlTopic; may be empty for verify
  std::int32_t replication_factor = 1;  // when apply creates the control topic
  std::chrono::milliseconds timeout{30000};  // each Kafka call, as upstream's 30 s
  /// Called after each step of apply; an error it returns stops apply there, as a crash would
  /// (tests use it to check that a rerun completes).
  std::function<Status(CleanupStep)> after_step;
};

/// One check of verify: what was checked, whether it held, and what was seen.
struct CleanupCheck {
  /// "topic", "topic-id", "partitions", "config", "offsets", "control-topic" or "boundary"
  std::string name;
  bool ok = false;
  std::string detail;
};

struct VerifyReport {
  std::vector<CleanupCheck> checks;
  std::string live_topic_id;   // as Kafka's Uuid.toString prints it; empty when unknown
  std::optional<actionstate::ControlState> control;  // when the control topic was read
  bool ok() const;
};

/// What apply did, kept up to date while it runs, so a failure can say how far it got.
struct ApplyProgress {
  bool already_applied = false;  // the control topic said APPLIED: nothing was done
  bool committed = false;        // the plan is COMMITTED in the control topic (this run or before)
  bool committed_now = false;    // this run appended the COMMITTED record
  bool deleted = false;          // DeleteRecords returned for every partition
  bool verified = false;         // every log start offset was at or past the boundary
  std::size_t applied_records = 0;  // APPLIED records appended
  actionstate::OffsetMap boundary;  // the boundary deleted up to (maximum over the control topic)
};

/// Verifies and applies cleanup plans against one cluster.
class CleanupCoordinator {
 public:
  /// Connects an admin handle (a producer follows only when apply writes). Errors:
  /// INVALID_ARGUMENT (bad settings), KAFKA.
  static Result<std::unique_ptr<CleanupCoordinator>> open(const ClientConfig& config,
                                                          CleanupOptions options);
  ~CleanupCoordinator();

  /// Checks `plan` against the live topic without writing: the topic exists, its id equals the
  /// plan's (standard and URL-safe base64 compared alike; an id the plan holds in another form
  /// than Kafka's Uuid text fails, as upstream compares the text), the partition set, the data
  /// topic's configuration (cleanup.policy exactly compact,delete, both retentions -1), each
  /// offset within [log start, end], and with a control topic: its shape, its records, and
  /// that the plan is already there or moves the committed boundary only forward. Problems are
  /// checks that fail; errors are what stopped the checking: KAFKA, TIMEOUT, UNSUPPORTED (the
  /// topic id cannot be read), CONFLICT/INVALID_ARGUMENT (an unreadable control topic).
  Result<VerifyReport> verify(const actionstate::CleanupPlan& plan);

  /// Applies `plan` as upstream's coordinator does: checks the topic, reads the control topic,
  /// appends COMMITTED (a new plan must not move the boundary back and must be within the
  /// available offsets), re-reads it, deletes up to the boundary on every partition of the
  /// plan, verifies the log start offsets, and appends APPLIED for every operation still
  /// COMMITTED. Rerunning after a failure at any step resumes with the same boundary. Creates
  /// the control topic when missing (one partition, cleanup.policy=compact). Before COMMITTED
  /// nothing is written. Errors: CONFLICT (the topic or control topic disagree with the plan,
  /// a plan that does not advance, incomparable committed plans), INVALID_ARGUMENT, KAFKA,
  /// TIMEOUT, or the after_step hook's error; `progress` says how far it got.
  Status apply(const actionstate::CleanupPlan& plan, ApplyProgress& progress);

 private:
  CleanupCoordinator(ClientConfig config, CleanupOptions options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Whether the data topic's configuration allows prefix cleanup: cleanup.policy exactly
/// {compact, delete} (in any order), retention.ms and retention.bytes both -1. Returns the
/// reason when not, empty when it does.
std::string cleanup_config_problem(const std::string& topic,
                                   const std::map<std::string, std::string>& configs);

}  // namespace aftk::kafka
