// SPDX-License-Identifier: Apache-2.0
// state-prune plan | verify | apply: checkpoint-aligned cleanup (prefix deletion recorded in a
// control topic), the plan.json and control records of upstream's KafkaActionStateCleanupTool.
#include "cleanup.h"

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "aftk/actionstate/cleanup_plan.h"
#include "aftk/checkpoint/checkpoint.h"
#include "aftk/cli/kafka_options.h"
#include "aftk/json/writer.h"
#include "aftk/kafka/cleanup.h"

namespace aftk::tools::state_prune {

namespace {

using actionstate::CleanupPlan;
using actionstate::OffsetMap;

constexpr const char* kPlanDescription =
    R"(Write the cleanup plan (plan.json) for a checkpoint or savepoint, as upstream's
KafkaActionStateCleanupTool plan writes it: the per-partition minimum of its versioned recovery
markers. Nothing is deleted; review the plan, then verify and apply it.

Examples:
  state-prune plan --checkpoint ckpts/<job>/chk-42 --output plan.json
  state-prune plan --checkpoint s3-mnt/chk-42 --source-recovery-point s3://b/<job>/chk-42 \
      --output plan.json                     the path the job knows the checkpoint by
  state-prune plan --checkpoint chk-40 --checkpoint chk-42 --output plan.json
                                             from the oldest: both stay restorable
  state-prune plan -m markers.json --source-recovery-point chk-42 --output -

The plan file is created new, readable by its owner only; an existing file is never replaced.
The recovery point's text goes into the plan and its planId verbatim.)";

constexpr const char* kVerifyDescription =
    R"(Check a cleanup plan against the live topic without writing anything.

Examples:
  state-prune verify --plan plan.json -b kafka:9092
  state-prune verify --plan plan.json -b kafka:9092 --control-topic agent-state-cleanup --json

Checks: the topic exists; its id equals the plan's (librdkafka's standard and Java's URL-safe
base64 compared alike); the partition set; cleanup.policy=compact,delete with both retentions
-1; each offset within the partition's [log start, end]; and with --control-topic, that the
control topic is sound and the plan is there already or moves the boundary only forward.)";

constexpr const char* kApplyDescription =
    R"(Apply a cleanup plan through the control topic, record for record as upstream's
coordinator does: append COMMITTED, delete the records before the boundary on every partition,
verify the log start offsets, append APPLIED. Without --apply only the checks and the steps are
shown.

Examples:
  state-prune apply --plan plan.json --control-topic agent-state-cleanup -b kafka:9092
  state-prune apply --plan plan.json --control-topic agent-state-cleanup -b kafka:9092 --apply

Deleted records are gone: a restore from a checkpoint older than the plan's recovery point fails
(the job refuses offsets below the committed boundary). After a failure at any step, run the same
command again: a COMMITTED plan is resumed with the same boundary, an APPLIED one is left alone.)";

constexpr const char* kExitFooter =
    "Exit status: 0 done; 1 an input, the topic or the broker failed us; 2 usage error; 3 checks\n"
    "failed or confirmation needed; 4 the plan is COMMITTED but not yet APPLIED (run again).\n"
    "See state-prune(1), CHECKPOINT-ALIGNED CLEANUP.";

struct PlanOptions {
  std::vector<std::string> checkpoints;
  std::vector<std::string> markers;
  checkpoint::OperatorSelector selector;
  std::string source_recovery_point;
  std::string output;
  bool quiet = false;
};

// One recovery point given on the command line and its plan.
struct Point {
  std::string path;
  CleanupPlan plan;
};

Result<std::vector<actionstate::RecoveryMarker>> markers_of(const std::string& path,
                                                            bool is_checkpoint,
                                                            const checkpoint::OperatorSelector& sel,
                                                            const cli::Io& io) {
  if (!is_checkpoint) return actionstate::read_marker_file(path);
  AFTK_TRY_ASSIGN(checkpoint::CheckpointMarkers found,
                  checkpoint::read_recovery_markers(path, sel));
  cli::note(io, fmt::format("{} recovery markers from checkpoint {} in '{}' (operator {})",
                            found.elements.size(), found.checkpoint_id, path, found.operator_id));
  return found.markers();
}

int run_plan(int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", "state-prune plan"};
  PlanOptions o;
  app.description(kPlanDescription);
  app.add_option("--checkpoint", o.checkpoints,
                 "Flink checkpoint or savepoint directory to plan from; repeatable");
  app.add_option("-m,--markers", o.markers,
                 "Recovery marker file (JSON) or checkpoint directory; repeatable");
  auto* uid = app.add_option("--operator-uid", o.selector.uid,
                             "In checkpoints, the operator holding the markers, by its uid");
  app.add_option("--operator-uid-hash", o.selector.uid_hash,
                 "In checkpoints, that operator by its id (uid hash, 32 hex digits)")
      ->excludes(uid);
  app.add_option("--source-recovery-point", o.source_recovery_point,
                 "TEXT: the recovery point as the plan names it (default: the path given)");
  app.add_option("--output", o.output, "FILE: the plan to create ('-': standard output)")
      ->required();
  app.add_flag("-q,--quiet", o.quiet, "No notes on stderr");
  app.footer(kExitFooter);
  if (auto rc = cli::parse(app, argc, argv, io)) return *rc;
  io.quiet = o.quiet;
  return cli::guarded(io, [&]() -> int {
    if (o.checkpoints.size() + o.markers.size() == 0) {
      cli::error(io, "give the recovery point: --checkpoint DIR or -m markers.json");
      return cli::kExitUsage;
    }
    if (!o.source_recovery_point.empty() && o.checkpoints.size() + o.markers.size() > 1) {
      cli::error(io, "--source-recovery-point names one recovery point; give one --checkpoint "
                     "or -m with it");
      return cli::kExitUsage;
    }
    if (o.output != "-") {
      std::error_code ec;
      if (std::filesystem::exists(std::filesystem::symlink_status(o.output, ec))) {
        cli::error(io, fmt::format("cannot write cleanup plan '{}': file exists (a plan is "
                                   "never overwritten)",
                                   o.output));
        return cli::kExitFailure;
      }
    }
    std::vector<Point> points;
    const auto add = [&](const std::string& path, bool is_ckpt) -> int {
      if (is_ckpt && !checkpoint::is_checkpoint(path)) {
        cli::error(io, fmt::format("'{}' is not a checkpoint or savepoint directory (no "
                                   "_metadata)",
                                   path));
        return cli::kExitFailure;
      }
      auto m = markers_of(path, is_ckpt, o.selector, io);
      if (!m) return cli::report_error(io, m.error());
      const std::string point = o.source_recovery_point.empty() ? path : o.source_recovery_point;
      auto plan = actionstate::plan_from_markers(*m, point);
      if (!plan) {
        auto e = plan.error();
        if (e.where.empty()) e.where = path;
        return cli::report_error(io, e);
      }
      points.push_back({path, std::move(*plan)});
      return cli::kExitOk;
    };
    for (const auto& c : o.checkpoints)
      if (int rc = add(c, true)) return rc;
    for (const auto& m : o.markers)
      if (int rc = add(m, checkpoint::is_checkpoint(m))) return rc;

    // Several recovery points: the plan of the oldest, the one at or below every other on
    // every partition, keeps every one of them restorable.
    const Point* chosen = &points[0];
    if (points.size() > 1) {
      for (const auto& p : points) {
        if (p.plan.topic != points[0].plan.topic || p.plan.topic_id != points[0].plan.topic_id) {
          cli::error(io, fmt::format("'{}' and '{}' hold markers of different topics ('{}' id {}, "
                                     "'{}' id {})",
                                     points[0].path, p.path, points[0].plan.topic,
                                     points[0].plan.topic_id, p.plan.topic, p.plan.topic_id));
          return cli::kExitFailure;
        }
      }
      chosen = nullptr;
      for (const auto& p : points) {
        bool oldest = true;
        for (const auto& q : points)
          oldest = oldest && actionstate::advances_or_equals(q.plan.offsets, p.plan.offsets);
        if (oldest) {
          chosen = &p;
          break;
        }
      }
      if (chosen == nullptr) {
        cli::error(io, "no recovery point given is at or below all the others on every "
                       "partition (or their partition sets differ), so no one plan keeps them "
                       "all restorable; plan from one of them");
        return cli::kExitFailure;
      }
      cli::note(io, fmt::format("planning from the oldest recovery point, '{}': a restore from "
                                "any of the {} given stays possible after the cleanup",
                                chosen->path, points.size()));
    }
    const CleanupPlan& plan = chosen->plan;
    if (o.output == "-") {
      std::fputs(actionstate::to_plan_json(plan).c_str(), io.out);
    } else {
      if (auto w = actionstate::write_cleanup_plan_file(o.output, plan); !w)
        return cli::report_error(io, w.error());
      std::error_code ec;
      const auto abs = std::filesystem::absolute(o.output, ec);
      // The line upstream's tool prints, so that scripts written for it read ours alike.
      fmt::print(io.out, "Created cleanup plan {} at {}\n", plan.plan_id,
                 ec ? o.output : abs.string());
    }
    std::int64_t below = 0;
    for (const auto& [p, off] : plan.offsets) below += off;
    cli::note(io, fmt::format("plan {}: topic '{}' (id {}), {} partitions; up to {} records lie "
                              "below the boundary (fewer where the log starts later); nothing "
                              "deleted yet",
                              plan.plan_id, plan.topic, plan.topic_id, plan.offsets.size(), below));
    return cli::kExitOk;
  });
}

// --- verify and apply ------------------------------------------------------------------------

struct KafkaCommand {
  std::string plan_path;
  std::string topic;
  std::string control_topic;
  std::int32_t replication_factor = 1;
  cli::KafkaOptions kafka;
  cli::OutputOptions output;
  bool apply = false;
  bool yes = false;
};

void print_checks(const cli::Io& io, cli::Format format, bool color,
                  const std::vector<kafka::CleanupCheck>& checks) {
  if (format == cli::Format::kTable) {
    cli::Table t;
    t.add_column("CHECK");
    t.add_column("OK");
    t.add_column("DETAIL");
    for (const auto& c : checks) t.add_row({c.name, c.ok ? "yes" : "NO", c.detail});
    t.print(io.out, color);
    return;
  }
  std::string line;
  for (const auto& c : checks) {
    line.clear();
    json::Writer(line)
        .begin_object()
        .field("check", c.name)
        .field("ok", c.ok)
        .field("detail", c.detail)
        .end_object();
    cli::write_json(io, format, line);
  }
}

// The test hook: AFTK_TEST_CLEANUP_STOP_AFTER=committed|deleted|verified|applied stops apply
// right after that step, as a crash there would.
std::function<Status(kafka::CleanupStep)> stop_hook() {
  const char* env = std::getenv("AFTK_TEST_CLEANUP_STOP_AFTER");
  if (env == nullptr || *env == '\0') return {};
  const std::string stop = env;
  return [stop](kafka::CleanupStep s) -> Status {
    if (kafka::step_name(s) != stop) return {};
    return fail(Errc::kInterrupted,
                fmt::format("stopped after step '{}' (AFTK_TEST_CLEANUP_STOP_AFTER)", stop));
  };
}

int run_kafka_command(bool is_apply, int argc, const char* const* argv, cli::Io& io) {
  CLI::App app{"", is_apply ? "state-prune apply" : "state-prune verify"};
  KafkaCommand o;
  app.description(is_apply ? kApplyDescription : kVerifyDescription);
  app.add_option("--plan", o.plan_path, "FILE: the cleanup plan (plan.json)")->required();
  if (!is_apply)
    app.add_option("-t,--topic", o.topic, "The action-state topic (default: the plan's)");
  auto* control = app.add_option("--control-topic", o.control_topic,
                                 "TOPIC: the cleanup control topic "
                                 "(kafkaActionStateCleanupControlTopic)");
  if (is_apply) {
    control->required();
    app.add_option("--replication-factor", o.replication_factor,
                   "N: replication factor when the control topic is created (default 1)")
        ->check(CLI::Range(1, 32767));
    app.add_flag("--apply", o.apply, "Write: commit the plan and delete the records");
    app.add_flag("-y,--yes", o.yes, "With --apply, do not ask for confirmation");
  }
  cli::add_kafka_options(app, o.kafka);
  cli::add_output_options(app, o.output);
  app.footer(kExitFooter);
  if (auto rc = cli::parse(app, argc, argv, io)) return *rc;
  io.quiet = o.output.quiet;
  return cli::guarded(io, [&]() -> int {
    if (auto rc = cli::handle_kafka_args(o.kafka, io)) return *rc;
    auto plan = actionstate::read_cleanup_plan_file(o.plan_path);
    if (!plan) return cli::report_error(io, plan.error());
    auto config = cli::resolve_kafka(o.kafka);
    if (!config) return cli::report_error(io, config.error());
    if (config->brokers().empty()) {
      cli::error(io, "no brokers: give -b BROKERS (or set $AFTK_BROKERS)");
      return cli::kExitUsage;
    }
    const cli::Format format = cli::resolve_format(o.output, io);
    const bool color = cli::resolve_color(o.output, io);
    kafka::CleanupOptions copts;
    copts.control_topic = o.control_topic;
    copts.replication_factor = o.replication_factor;
    copts.after_step = stop_hook();
    auto coord = kafka::CleanupCoordinator::open(*config, copts);
    if (!coord) return cli::report_error(io, coord.error());

    if (!is_apply || !o.apply) {
      std::vector<kafka::CleanupCheck> checks;
      std::optional<actionstate::CleanupStatus> known;  // the plan's status in the control topic
      if (!o.topic.empty() && o.topic != plan->topic) {
        checks.push_back({"topic", false,
                          fmt::format("the plan is for topic '{}', not '{}'", plan->topic,
                                      o.topic)});
      } else {
        auto rep = (*coord)->verify(*plan);
        if (!rep) return cli::report_error(io, rep.error());
        checks = rep->checks;
        if (rep->control)
          if (const auto* op = rep->control->find(plan->plan_id)) known = op->status;
      }
      print_checks(io, format, color, checks);
      bool ok = true;
      for (const auto& c : checks) ok = ok && c.ok;
      if (!ok) {
        cli::error(io, fmt::format("cleanup plan {} does not fit the live topic", plan->plan_id));
        return cli::kExitProblems;
      }
      cli::note(io, fmt::format("cleanup plan {} fits topic '{}'", plan->plan_id, plan->topic));
      if (is_apply && known == actionstate::CleanupStatus::kApplied)
        cli::note(io, "nothing written; the plan is APPLIED already: --apply would do nothing");
      else if (is_apply && known)
        cli::note(io, fmt::format("nothing written; the plan is COMMITTED: --apply resumes it "
                                  "(delete the records before the boundary in {} partitions of "
                                  "'{}', verify, append APPLIED)",
                                  plan->offsets.size(), plan->topic));
      else if (is_apply)
        cli::note(io, fmt::format("nothing written; with --apply: append COMMITTED to '{}', "
                                  "delete the records before the boundary in {} partitions of "
                                  "'{}', verify, append APPLIED",
                                  o.control_topic, plan->offsets.size(), plan->topic));
      return cli::kExitOk;
    }

    if (!o.yes) {
      if (!io.err_tty || !io.in_tty) {
        cli::error(io, "--apply needs confirmation: give --yes when running without a terminal");
        return cli::kExitProblems;
      }
      if (!cli::confirm(io, fmt::format("delete the records before plan {}'s boundary in {} "
                                        "partitions of topic '{}'?",
                                        plan->plan_id, plan->offsets.size(), plan->topic))) {
        cli::note(io, "nothing written");
        return cli::kExitProblems;
      }
    }
    kafka::ApplyProgress progress;
    auto st = (*coord)->apply(*plan, progress);
    if (!st) {
      const int rc = cli::report_error(io, st.error());
      if (!progress.committed) {
        cli::note(io, "nothing written");
        return rc;
      }
      cli::error(io, fmt::format("cleanup plan {} is COMMITTED in '{}' but not APPLIED{}; run the "
                                 "same command again to finish",
                                 plan->plan_id, o.control_topic,
                                 progress.deleted ? " (records deleted)" : ""));
      return cli::kExitPartial;
    }
    if (progress.already_applied)
      cli::note(io, fmt::format("cleanup plan {} was APPLIED already: nothing to do",
                                plan->plan_id));
    else
      cli::note(io, fmt::format("topic '{}' now starts at the committed boundary in all {} "
                                "partitions{}",
                                plan->topic, progress.boundary.size(),
                                progress.committed_now ? "" : " (resumed a COMMITTED plan)"));
    // The line upstream's tool prints.
    fmt::print(io.out, "Cleanup plan {} is APPLIED\n", plan->plan_id);
    return cli::kExitOk;
  });
}

}  // namespace

bool is_cleanup_command(std::string_view word) {
  return word == "plan" || word == "verify" || word == "apply";
}

int cleanup_main(int argc, const char* const* argv, cli::Io& io) {
  const std::string_view cmd = argv[0];
  if (cmd == "plan") return run_plan(argc, argv, io);
  return run_kafka_command(cmd == "apply", argc, argv, io);
}

}  // namespace aftk::tools::state_prune
