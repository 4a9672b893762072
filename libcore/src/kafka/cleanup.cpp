// SPDX-License-Identifier: Apache-2.0
// Verifying and applying cleanup plans: the control-topic protocol of upstream's coordinator.
#include "aftk/kafka/cleanup.h"

#include <librdkafka/rdkafka.h>

#include <mutex>
#include <thread>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "aftk/json/base64.h"
#include "aftk/kafka/topic_id.h"

namespace aftk::kafka {

using actionstate::CleanupPlan;
using actionstate::CleanupStatus;
using actionstate::ControlRecord;
using actionstate::ControlState;
using actionstate::OffsetMap;

namespace {

struct Delivery {
  int err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
  std::int64_t offset = -1;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Delivery*>(opaque);
  d->err = m->err;
  d->offset = m->offset;
}

std::string offsets_text(const OffsetMap& m) {
  std::string out = "{";
  for (const auto& [p, o] : m) {
    if (out.size() > 1) out += ", ";
    fmt::format_to(std::back_inserter(out), "{}={}", p, o);
  }
  return out + "}";
}

std::string partitions_text(const OffsetMap& m) {
  std::string out = "[";
  for (const auto& [p, o] : m) {
    if (out.size() > 1) out += ", ";
    out += std::to_string(p);
  }
  return out + "]";
}

std::string partitions_text(std::int32_t n) {
  OffsetMap m;
  for (std::int32_t p = 0; p < n; ++p) m[p] = 0;
  return partitions_text(m);
}

bool same_partitions(const OffsetMap& plan, std::int32_t live) {
  if (plan.size() != static_cast<size_t>(live)) return false;
  for (const auto& [p, o] : plan)
    if (p < 0 || p >= live) return false;
  return true;
}

// What a topic is now: its id as Kafka's Uuid text and its partition count.
struct TopicShape {
  std::string id;
  std::int32_t partitions = 0;
};

}  // namespace

std::string_view step_name(CleanupStep step) {
  switch (step) {
    case CleanupStep::kCommitted:
      return "committed";
    case CleanupStep::kDeleted:
      return "deleted";
    case CleanupStep::kVerified:
      return "verified";
    case CleanupStep::kApplied:
      return "applied";
  }
  return "?";
}

bool VerifyReport::ok() const {
  for (const auto& c : checks)
    if (!c.ok) return false;
  return true;
}

std::string cleanup_config_problem(const std::string& topic,
                                   const std::map<std::string, std::string>& configs) {
  const auto get = [&](const char* k) {
    const auto it = configs.find(k);
    return it == configs.end() ? std::string("(unset)") : it->second;
  };
  std::set<std::string> policies;
  std::stringstream ss(get("cleanup.policy"));
  for (std::string item; std::getline(ss, item, ',');) {
    const auto a = item.find_first_not_of(" \t");
    const auto b = item.find_last_not_of(" \t");
    policies.insert(a == std::string::npos ? "" : item.substr(a, b - a + 1));
  }
  if (policies == std::set<std::string>{"compact", "delete"} && get("retention.ms") == "-1" &&
      get("retention.bytes") == "-1")
    return {};
  return fmt::format("topic '{}' has cleanup.policy={} retention.ms={} retention.bytes={}; "
                     "checkpoint-aligned cleanup needs cleanup.policy=compact,delete with "
                     "retention.ms=-1 and retention.bytes=-1",
                     topic, get("cleanup.policy"), get("retention.ms"), get("retention.bytes"));
}

struct CleanupCoordinator::Impl {
  ClientConfig config;
  CleanupOptions o;
  Handle admin;
  Handle producer;
  Delivery delivery;

  Result<TopicShape> shape(const std::string& topic) {
    AFTK_TRY_ASSIGN(TopicInfo info, describe_topic(admin.get(), topic, o.timeout));
    AFTK_TRY_ASSIGN(std::string id, fetch_topic_id(config, topic, o.timeout));
    return TopicShape{json::normalize_topic_id(id), info.partitions};
  }

  // The plan's topic as it is now must be the one the plan was made for.
  Status check_identity(const CleanupPlan& plan, std::string_view when) {
    AFTK_TRY_ASSIGN(TopicShape s, shape(plan.topic));
    if (s.id != plan.topic_id)
      return fail(Errc::kConflict,
                  fmt::format("topic '{}' has id {} {}, but cleanup plan {} expects {} (was the "
                              "topic recreated?)",
                              plan.topic, s.id, when, plan.plan_id, plan.topic_id));
    if (!same_partitions(plan.offsets, s.partitions))
      return fail(Errc::kConflict,
                  fmt::format("topic '{}' has partitions {} {}, but cleanup plan {} expects {}",
                              plan.topic, partitions_text(s.partitions), when, plan.plan_id,
                              partitions_text(plan.offsets)));
    return {};
  }

  Status check_config(const std::string& topic) {
    AFTK_TRY_ASSIGN(auto configs, topic_configs(admin.get(), topic, o.timeout));
    if (auto why = cleanup_config_problem(topic, configs); !why.empty())
      return fail(Errc::kConflict, why);
    return {};
  }

  // The control topic's shape: one partition, cleanup.policy exactly compact.
  Status check_control_shape() {
    AFTK_TRY_ASSIGN(TopicInfo info, describe_topic(admin.get(), o.control_topic, o.timeout));
    if (info.partitions != 1)
      return fail(Errc::kConflict,
                  fmt::format("cleanup control topic '{}' has {} partitions; it must have "
                              "exactly one",
                              o.control_topic, info.partitions));
    AFTK_TRY_ASSIGN(auto configs, topic_configs(admin.get(), o.control_topic, o.timeout));
    const auto it = configs.find("cleanup.policy");
    const std::string policy = it == configs.end() ? "(unset)" : it->second;
    if (policy != "compact")
      return fail(Errc::kConflict,
                  fmt::format("cleanup control topic '{}' has cleanup.policy={}; it must be "
                              "exactly compact",
                              o.control_topic, policy));
    return {};
  }

  // Creates the control topic when missing, then checks its shape.
  Status ensure_control() {
    auto info = describe_topic(admin.get(), o.control_topic, o.timeout);
    if (!info && info.error().code == Errc::kNotFound) {
      AFTK_TRY(create_topic(admin.get(), o.control_topic, 1, o.replication_factor,
                            {{"cleanup.policy", "compact"}}, o.timeout));
      // Metadata may lag the creation for a moment.
      for (int i = 0; i < 50; ++i) {
        info = describe_topic(admin.get(), o.control_topic, o.timeout);
        if (info || info.error().code != Errc::kNotFound) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    if (!info) return fail(std::move(info).error());
    return check_control_shape();
  }

  // Every record of the control topic from its start to the end offset taken now, folded.
  Result<ControlState> read_control() {
    AFTK_TRY_ASSIGN(Watermarks w, watermarks(admin.get(), o.control_topic, 1, o.timeout));
    ControlState state;
    if (w.low[0] >= w.high[0]) return state;
    ReadOptions ro;
    ro.workers = 1;
    ro.idle_timeout = o.timeout;
    std::mutex mu;
    AFTK_TRY(read_exact(config, o.control_topic, {{0, w.low[0], w.high[0]}}, ro,
                        [&](unsigned, const RecordView& r) -> Status {
                          const std::string key(r.key);
                          std::optional<std::string> value;
                          if (r.value != nullptr) value.emplace(r.value, r.value_size);
                          std::lock_guard lock(mu);
                          return actionstate::fold_control_record(
                              state, &key, value ? &*value : nullptr,
                              fmt::format("control topic '{}' partition 0 offset {}",
                                          o.control_topic, r.offset));
                        }));
    return state;
  }

  Status append(const ControlRecord& rec) {
    if (!producer) {
      ClientConfig pcfg = config;
      if (!pcfg.get("message.timeout.ms") && !pcfg.get("delivery.timeout.ms"))
        pcfg.set("message.timeout.ms", std::to_string(o.timeout.count()), "default");
      AFTK_TRY_ASSIGN(producer,
                      make_producer(pcfg, {{"acks", "all"}, {"enable.idempotence", "true"}},
                                    [&](rd_kafka_conf_t* c) {
                                      rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
                                      rd_kafka_conf_set_opaque(c, &delivery);
                                    }));
    }
    const std::string value = actionstate::control_record_value(rec);
    const std::string& key = rec.plan.plan_id;
    const std::string what = fmt::format("cannot append the {} record of plan {} to control "
                                         "topic '{}'",
                                         actionstate::status_name(rec.status), key,
                                         o.control_topic);
    delivery = Delivery{};
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer.get(), RD_KAFKA_V_TOPIC(o.control_topic.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return fail(kafka_error(err, what));
    const rd_kafka_resp_err_t ferr =
        rd_kafka_flush(producer.get(), static_cast<int>(o.timeout.count()));
    if (delivery.err == RD_KAFKA_RESP_ERR__IN_PROGRESS) {
      // Unknown outcome: the record may still land. A rerun reads the control topic first, so
      // a COMMITTED that did land is resumed, not written again.
      rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(producer.get(), 0);
      return fail(kafka_error(
          ferr == RD_KAFKA_RESP_ERR_NO_ERROR ? RD_KAFKA_RESP_ERR__TIMED_OUT : ferr,
          what + " (not acknowledged in time)", {}, true));
    }
    if (delivery.err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return fail(kafka_error(producer.get(), delivery.err, what, {}, true));
    return {};
  }

  Status step(CleanupStep s) { return o.after_step ? o.after_step(s) : Status{}; }
};

CleanupCoordinator::CleanupCoordinator(ClientConfig config, CleanupOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->o = std::move(options);
}

CleanupCoordinator::~CleanupCoordinator() {
  if (impl_ && impl_->producer) rd_kafka_flush(impl_->producer.get(), 5000);
}

Result<std::unique_ptr<CleanupCoordinator>> CleanupCoordinator::open(const ClientConfig& config,
                                                                     CleanupOptions options) {
  std::unique_ptr<CleanupCoordinator> c(new CleanupCoordinator(config, std::move(options)));
  AFTK_TRY_ASSIGN(c->impl_->admin, make_producer(config, {}));
  return c;
}

Result<VerifyReport> CleanupCoordinator::verify(const CleanupPlan& plan) {
  Impl& m = *impl_;
  VerifyReport rep;
  const auto add = [&](std::string name, bool ok, std::string detail) {
    rep.checks.push_back({std::move(name), ok, std::move(detail)});
  };
  auto info = describe_topic(m.admin.get(), plan.topic, m.o.timeout);
  if (!info) {
    if (info.error().code != Errc::kNotFound) return fail(std::move(info).error());
    add("topic", false, fmt::format("topic '{}' does not exist", plan.topic));
    return rep;
  }
  add("topic", true, fmt::format("topic '{}' exists", plan.topic));

  AFTK_TRY_ASSIGN(std::string live, fetch_topic_id(m.config, plan.topic, m.o.timeout));
  rep.live_topic_id = json::normalize_topic_id(live);
  const std::string want = json::normalize_topic_id(plan.topic_id);
  if (rep.live_topic_id != want)
    add("topic-id", false,
        fmt::format("topic '{}' has id {}, the plan expects {} (was the topic recreated?)",
                    plan.topic, rep.live_topic_id, plan.topic_id));
  else if (want != plan.topic_id)
    add("topic-id", false,
        fmt::format("the plan holds the topic id as {}, not as Kafka's Uuid text {}: the ids "
                    "match, but upstream compares the text and would refuse it",
                    plan.topic_id, want));
  else
    add("topic-id", true, fmt::format("id {}", rep.live_topic_id));

  const bool parts_ok = same_partitions(plan.offsets, info->partitions);
  add("partitions", parts_ok,
      parts_ok ? fmt::format("{} partitions", info->partitions)
               : fmt::format("topic '{}' has partitions {}, the plan names {}", plan.topic,
                             partitions_text(info->partitions), partitions_text(plan.offsets)));

  AFTK_TRY_ASSIGN(auto configs, topic_configs(m.admin.get(), plan.topic, m.o.timeout));
  const std::string config_problem = cleanup_config_problem(plan.topic, configs);
  add("config", config_problem.empty(),
      config_problem.empty() ? "cleanup.policy=compact,delete, retention.ms=-1, "
                               "retention.bytes=-1"
                             : config_problem);

  AFTK_TRY_ASSIGN(Watermarks w,
                  watermarks(m.admin.get(), plan.topic, info->partitions, m.o.timeout));
  std::string out_of_range;
  size_t bad = 0;
  for (const auto& [p, off] : plan.offsets) {
    if (p >= info->partitions) continue;  // reported under partitions
    const auto lo = w.low[static_cast<size_t>(p)], hi = w.high[static_cast<size_t>(p)];
    if (off >= lo && off <= hi) continue;
    if (bad++ < 5)
      fmt::format_to(std::back_inserter(out_of_range),
                     "{}partition {} offset {} is outside [{}, {}]",
                     out_of_range.empty() ? "" : "; ", p, off, lo, hi);
  }
  if (bad > 5) fmt::format_to(std::back_inserter(out_of_range), "; and {} more", bad - 5);
  add("offsets", bad == 0,
      bad == 0 ? fmt::format("every offset within the available range") : out_of_range);

  if (m.o.control_topic.empty()) {
    add("control-topic", true,
        "not given: the plan was not compared with committed cleanup boundaries");
    return rep;
  }
  if (m.o.control_topic == plan.topic) {
    add("control-topic", false, "the control topic must differ from the data topic");
    return rep;
  }
  auto cinfo = describe_topic(m.admin.get(), m.o.control_topic, m.o.timeout);
  if (!cinfo) {
    if (cinfo.error().code != Errc::kNotFound) return fail(std::move(cinfo).error());
    add("control-topic", true,
        fmt::format("control topic '{}' does not exist yet; apply creates it", m.o.control_topic));
    add("boundary", true, "no committed boundary: the plan is the first");
    return rep;
  }
  if (auto s = m.check_control_shape(); !s) {
    add("control-topic", false, s.error().message);
    return rep;
  }
  auto state = m.read_control();
  if (!state) {
    add("control-topic", false, state.error().to_string());
    return rep;
  }
  add("control-topic", true,
      fmt::format("control topic '{}': {} plan(s)", m.o.control_topic, state->operations.size()));
  if (auto s = actionstate::check_operations(*state, plan.topic, plan.topic_id, plan.offsets); !s) {
    add("boundary", false, s.error().message);
  } else if (const auto* op = state->find(plan.plan_id)) {
    // A plan already in the control topic is resumed or left alone, never checked against the
    // offsets again: a later plan may have moved the log start past it.
    for (auto& c : rep.checks)
      if (c.name == "offsets" && !c.ok) {
        c.ok = true;
        c.detail = fmt::format("not checked: the plan is {} already ({})",
                               actionstate::status_name(op->status), c.detail);
      }
    add("boundary", op->plan == plan,
        op->plan == plan ? fmt::format("plan {} is {} already", plan.plan_id,
                                       actionstate::status_name(op->status))
                         : fmt::format("the control topic holds another plan under id {}",
                                       plan.plan_id));
  } else {
    const OffsetMap b = state->boundary();
    const bool fwd = actionstate::advances_or_equals(plan.offsets, b);
    add("boundary", fwd,
        fwd ? fmt::format("moves the committed boundary {} forward", offsets_text(b))
            : fmt::format("plan {} does not advance the committed boundary {}: its offsets are {}",
                          plan.plan_id, offsets_text(b), offsets_text(plan.offsets)));
  }
  rep.control = std::move(*state);
  return rep;
}

Status CleanupCoordinator::apply(const CleanupPlan& plan, ApplyProgress& progress) {
  Impl& m = *impl_;
  progress = {};
  AFTK_TRY(actionstate::validate_plan(plan));
  if (m.o.control_topic.find_first_not_of(" \t") == std::string::npos)
    return fail(Errc::kInvalidArgument, "the cleanup control topic must not be blank");
  if (m.o.control_topic == plan.topic)
    return fail(Errc::kInvalidArgument,
                fmt::format("the cleanup control topic must differ from the data topic '{}'",
                            plan.topic));
  if (json::normalize_topic_id(plan.topic_id) != plan.topic_id)
    return fail(Errc::kInvalidArgument,
                fmt::format("plan {} holds topic id {} in another form than Kafka's Uuid text "
                            "({}); the job's recovery compares the text and would refuse it",
                            plan.plan_id, plan.topic_id, json::normalize_topic_id(plan.topic_id)));

  AFTK_TRY(m.check_identity(plan, "now"));
  AFTK_TRY(m.check_config(plan.topic));
  AFTK_TRY(m.ensure_control());

  AFTK_TRY_ASSIGN(ControlState ops, m.read_control());
  AFTK_TRY(actionstate::check_operations(ops, plan.topic, plan.topic_id, plan.offsets));
  if (const auto* existing = ops.find(plan.plan_id)) {
    if (!(existing->plan == plan))
      return fail(Errc::kConflict, fmt::format("the control record of plan {} does not match the "
                                               "plan given",
                                               plan.plan_id));
    if (existing->status == CleanupStatus::kApplied) {
      progress.already_applied = true;
      progress.committed = true;
      progress.boundary = ops.boundary();
      return {};
    }
    progress.committed = true;
  } else {
    const OffsetMap current = ops.boundary();
    if (!actionstate::advances_or_equals(plan.offsets, current))
      return fail(Errc::kConflict,
                  fmt::format("cleanup plan {} does not advance the committed boundary {}",
                              plan.plan_id, offsets_text(current)));
    AFTK_TRY(m.check_identity(plan, "before the commit"));
    AFTK_TRY_ASSIGN(Watermarks w, watermarks(m.admin.get(), plan.topic,
                                             static_cast<std::int32_t>(plan.offsets.size()),
                                             m.o.timeout));
    AFTK_TRY(m.check_identity(plan, "before the commit"));
    for (const auto& [p, off] : plan.offsets) {
      const auto lo = w.low[static_cast<size_t>(p)], hi = w.high[static_cast<size_t>(p)];
      if (off < lo || off > hi)
        return fail(Errc::kConflict,
                    fmt::format("cannot commit the cleanup boundary of topic '{}': offset {} is "
                                "outside the available range [{}, {}]",
                                plan.topic, off, lo, hi),
                    fmt::format("partition {} offset {}", p, off));
    }
    AFTK_TRY(m.check_config(plan.topic));
    AFTK_TRY(m.append({CleanupStatus::kCommitted, plan}));
    progress.committed = progress.committed_now = true;
    AFTK_TRY(m.step(CleanupStep::kCommitted));
  }

  AFTK_TRY_ASSIGN(ops, m.read_control());
  AFTK_TRY(actionstate::check_operations(ops, plan.topic, plan.topic_id, plan.offsets));
  const OffsetMap target = ops.boundary();
  progress.boundary = target;
  AFTK_TRY(m.check_identity(plan, "before the deletion"));
  AFTK_TRY(m.check_config(plan.topic));
  AFTK_TRY(m.check_identity(plan, "before the deletion"));
  AFTK_TRY(delete_records(m.admin.get(), plan.topic, target, m.o.timeout));
  progress.deleted = true;
  AFTK_TRY(m.step(CleanupStep::kDeleted));
  AFTK_TRY_ASSIGN(Watermarks after, watermarks(m.admin.get(), plan.topic,
                                               static_cast<std::int32_t>(target.size()),
                                               m.o.timeout));
  for (const auto& [p, t] : target) {
    const auto lo = after.low[static_cast<size_t>(p)];
    if (lo < t)
      return fail(Errc::kConflict,
                  fmt::format("cleanup of topic '{}' asked for offset {} but the log now starts "
                              "at {}",
                              plan.topic, t, lo),
                  fmt::format("partition {}", p));
  }
  AFTK_TRY(m.check_identity(plan, "after the deletion"));
  progress.verified = true;
  AFTK_TRY(m.step(CleanupStep::kVerified));
  AFTK_TRY(m.check_identity(plan, "after the deletion"));
  AFTK_TRY(m.check_config(plan.topic));

  for (const auto& op : ops.operations) {
    if (op.status != CleanupStatus::kCommitted) continue;
    AFTK_TRY(m.append({CleanupStatus::kApplied, op.plan}));
    ++progress.applied_records;
  }
  return m.step(CleanupStep::kApplied);
}

}  // namespace aftk::kafka
