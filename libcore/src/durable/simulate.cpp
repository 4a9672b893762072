// SPDX-License-Identifier: Apache-2.0
// The crash simulation: a synthetic agent on the operator's write sequence, recovered from
// checkpoints, checked against a ledger of every durable call's executions.
#include "aftk/durable/simulate.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>

#include "aftk/actionstate/ids.h"
#include "aftk/actionstate/key.h"
#include "aftk/durable/context.h"
#include "aftk/durable/runner.h"
#include "aftk/json/writer.h"

namespace aftk::durable {

using namespace actionstate;

std::string_view crash_kind_name(CrashKind kind) {
  switch (kind) {
    case CrashKind::kBeforeCall:
      return "before-call";
    case CrashKind::kWindow:
      return "window";
    case CrashKind::kMidAction:
      return "mid-action";
    case CrashKind::kAfterCompletion:
      return "after-completion";
    case CrashKind::kCheckpoint:
      return "checkpoint";
  }
  return "?";
}

Result<CrashKind> parse_crash_kind(std::string_view name) {
  for (auto k : kAllCrashKinds)
    if (crash_kind_name(k) == name) return k;
  return fail(Errc::kInvalidArgument, fmt::format("unknown crash point '{}' (before-call, window, "
                                                  "mid-action, after-completion, checkpoint)",
                                                  name));
}

Result<ChosenCrash> parse_chosen_crash(std::string_view text) {
  ChosenCrash c;
  const auto colon = text.find(':');
  AFTK_TRY_ASSIGN(c.kind, parse_crash_kind(text.substr(0, colon)));
  if (colon != std::string_view::npos) {
    std::int64_t n = 0;
    if (!is_canonical_seq(text.substr(colon + 1), &n) || n < 1)
      return fail(Errc::kInvalidArgument,
                  fmt::format("'{}': the occurrence after ':' must be a number >= 1", text));
    c.occurrence = static_cast<std::uint64_t>(n);
  }
  return c;
}

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

std::uint64_t splitmix(std::uint64_t x) {
  x += kGolden;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A stable hash (FNV-1a, then mixed): std::hash differs between standard libraries.
std::uint64_t stable_hash(std::uint64_t seed, std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull ^ splitmix(seed);
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return splitmix(h);
}

double unit(std::uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

struct Rng {
  std::uint64_t state;
  std::uint64_t next() { return splitmix(state += kGolden); }
  double uniform() { return unit(next()); }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

constexpr std::string_view kModule = "replay_sim.agent";
constexpr std::string_view kToolRequest = "tool_request";
constexpr std::string_view kInputType = "_input_event";
constexpr std::string_view kOutputType = "_output_event";

// Crashes are errors of this code; anything else is a real store error.
constexpr std::string_view kCrashMessage = "simulated crash";

struct Effect {
  std::string key;
  std::int64_t seq = 0;
  std::string action;
  std::string function_id;
  std::uint64_t executions = 0;
  std::optional<Outcome> last;
  std::uint64_t window_credits = 0;   // crashes in this call's window not yet followed by a re-run
  std::uint64_t cleanup_credits = 0;  // drops of its persisted outcome not yet followed by a re-run
  bool in_final_path = false;
};

struct Checkpoint {
  std::int64_t id = 0;
  size_t pos = 0;
  std::map<std::string, std::int64_t> next_seq;
  std::map<std::string, std::int64_t> last_completed;
  RecoveryMarker marker;
};

Result<std::uint64_t> total_records(LogStore& store) {
  AFTK_TRY_ASSIGN(const OffsetMap end, store.end_offsets());
  std::uint64_t n = 0;
  for (const auto& [p, o] : end) n += static_cast<std::uint64_t>(o);
  return n;
}

class Simulation {
 public:
  Simulation(const SimulationOptions& o, LogStore& store, const ReopenStore& reopen)
      : o_(o), store_(&store), reopen_(reopen), rng_{o.seed} {}

  Result<SimulationReport> run();

 private:
  std::string action_id(const std::string& key, std::int64_t seq, std::string_view action) const {
    return fmt::format("{}\x1f{}\x1f{}", key, seq, action);
  }
  void configure_store();
  Status maybe_crash(CrashKind kind, std::int64_t call_index);
  Status checkpoint();
  Status recover();
  Status process_input(size_t index);
  Result<ActionResult> run_action(const std::string& key, std::int64_t seq, const Event& trigger,
                                  const std::string& action);
  Outcome execute_effect(const std::string& effect_id, std::int64_t call_index);
  Outcome reconcile_effect(const std::string& effect_id, std::int64_t call_index);
  std::string next_event_id() {
    return name_uuid_from_bytes(fmt::format("replay-sim/{}/event/{}", o_.seed, event_counter_++));
  }
  void check_outcome();

  const SimulationOptions& o_;
  LogStore* store_;
  const ReopenStore& reopen_;
  Rng rng_;
  SimulationReport rep_;

  std::vector<std::string> keys_;
  std::vector<std::pair<int, int>> order_;  // (key index, input number)
  std::map<std::string, std::string> action_uuid_;
  std::map<std::string, std::string> action_by_uuid_;

  // Operator state: lost on a crash, restored from a checkpoint.
  size_t pos_ = 0;
  std::map<std::string, std::int64_t> next_seq_;
  std::map<std::string, std::int64_t> last_completed_;
  std::unique_ptr<CheckpointManager> manager_;
  std::unique_ptr<ActionRunner> runner_;
  std::optional<Checkpoint> latest_;  // the last completed checkpoint
  std::int64_t next_checkpoint_id_ = 1;
  int since_checkpoint_ = 0;
  bool need_checkpoint_ = true;

  // The world outside the process: what every call did, and the crash bookkeeping.
  std::unordered_map<std::string, Effect> effects_;
  std::unordered_map<std::string, std::vector<std::string>> action_effects_;
  std::map<std::string, std::vector<std::string>> final_paths_;  // action id -> effect ids
  std::map<CrashKind, std::uint64_t> opportunities_;
  bool crashed_ = false;
  std::uint64_t event_counter_ = 0;

  // What runs now, for the probe.
  std::string cur_key_, cur_action_;
  std::int64_t cur_seq_ = -1, cur_call_index_ = -1;
  std::string cur_effect_;
  bool cur_reconcilable_ = false;
  bool completed_now_ = false;
  bool tail_ = false;
};

void Simulation::configure_store() {
  store_->set_cleanup_rule(o_.cleanup);
  store_->set_write_profile(o_.profile);
  store_->set_drop_observer([this](const StateCache::Entry& e) {
    ++rep_.states_dropped;
    auto a = action_by_uuid_.find(e.key.action_uuid);
    if (a == action_by_uuid_.end()) return;
    auto effects = action_effects_.find(action_id(e.key.business_key, e.key.seq, a->second));
    if (effects == action_effects_.end()) return;
    for (const auto& id : effects->second) {
      auto& eff = effects_.at(id);
      if (eff.executions > 0) ++eff.cleanup_credits;
    }
  });
  runner_ = std::make_unique<ActionRunner>(*store_);
  runner_->set_profile(o_.profile);
  runner_->set_probe([this](const ProbeInfo& p) -> Status {
    switch (p.point) {
      case Point::kActionStarted:
        return maybe_crash(CrashKind::kMidAction, -1);
      case Point::kBeforeCall:
        cur_call_index_ = p.call_index;
        return maybe_crash(CrashKind::kBeforeCall, p.call_index);
      case Point::kAfterCall:
        return maybe_crash(CrashKind::kWindow, p.call_index);
      case Point::kAfterPersist:
        return maybe_crash(CrashKind::kMidAction, p.call_index);
      case Point::kActionCompleted:
        completed_now_ = true;  // stored as completed, whatever happens next
        return maybe_crash(CrashKind::kAfterCompletion, -1);
    }
    return {};
  });
  manager_ = std::make_unique<CheckpointManager>(store_);
}

Status Simulation::maybe_crash(CrashKind kind, std::int64_t call_index) {
  const std::uint64_t n = ++opportunities_[kind];
  const double draw = rng_.uniform();  // drawn at every opportunity so runs stay comparable
  if (tail_) {  // the in-flight input: die at its first window that leaves a PENDING slot
    if (kind != CrashKind::kWindow || !(cur_reconcilable_ || cur_action_ == "act")) return {};
    tail_ = false;
    rep_.in_flight = true;
    crashed_ = true;
    return fail(Errc::kInterrupted, std::string(kCrashMessage));
  }
  bool crash = std::any_of(o_.chosen.begin(), o_.chosen.end(), [&](const ChosenCrash& c) {
    return c.kind == kind && c.occurrence == n;
  });
  crash = crash || (rep_.crashes < o_.max_crashes && draw < o_.crash_rate);
  if (!crash) return {};
  ++rep_.crashes;
  ++rep_.crashes_by_kind[kind];
  crashed_ = true;
  if (o_.keep_crash_log) {
    CrashRecord r{rep_.crashes, kind, {}, -1, {}, call_index, 0};
    if (kind != CrashKind::kCheckpoint) {
      r.key = cur_key_;
      r.seq = cur_seq_;
      r.action = cur_action_;
    }
    rep_.crash_log.push_back(std::move(r));
  }
  // Only a call without reconciler re-runs after dying in its window; a reconciler closes it.
  if (kind == CrashKind::kWindow && !cur_reconcilable_ && !cur_effect_.empty())
    ++effects_.at(cur_effect_).window_credits;
  return fail(Errc::kInterrupted, std::string(kCrashMessage));
}

Status Simulation::checkpoint() {
  const std::int64_t id = next_checkpoint_id_++;
  ++rep_.checkpoints;
  AFTK_TRY_ASSIGN(auto snap, manager_->snapshot(id, last_completed_));
  Checkpoint c{id, pos_, next_seq_, last_completed_, snap.marker.value_or(RecoveryMarker{})};
  cur_key_.clear();
  cur_action_.clear();
  cur_seq_ = -1;
  if (auto st = maybe_crash(CrashKind::kCheckpoint, -1); !st) {
    // The job manager may or may not have completed the checkpoint before the process died.
    if (rng_.uniform() < 0.5) {
      latest_ = std::move(c);
      ++rep_.checkpoints_completed;
    }
    return st;
  }
  latest_ = std::move(c);
  ++rep_.checkpoints_completed;
  PruneOptions prune;
  prune.tombstones = o_.tombstones;
  AFTK_TRY_ASSIGN(const size_t pruned, manager_->notify_complete(id, prune));
  rep_.states_pruned += pruned;
  since_checkpoint_ = 0;
  need_checkpoint_ = false;
  return {};
}

Status Simulation::recover() {
  crashed_ = false;
  if (reopen_) {
    AFTK_TRY_ASSIGN(store_, reopen_());
  }
  configure_store();
  std::vector<RecoveryMarker> markers;
  if (latest_) {
    pos_ = latest_->pos;
    next_seq_ = latest_->next_seq;
    last_completed_ = latest_->last_completed;
    markers.push_back(latest_->marker);
    need_checkpoint_ = false;
  } else {  // no checkpoint completed: the job starts over
    pos_ = 0;
    next_seq_.clear();
    last_completed_.clear();
    need_checkpoint_ = true;
  }
  since_checkpoint_ = 0;
  if (o_.keep_crash_log && !rep_.crash_log.empty())
    rep_.crash_log.back().restored_checkpoint = latest_ ? latest_->id : 0;
  RebuildOptions rebuild;
  rebuild.validate = false;
  AFTK_TRY(manager_->recover(markers, rebuild));
  return {};
}

Outcome Simulation::execute_effect(const std::string& effect_id, std::int64_t call_index) {
  cur_effect_ = effect_id;
  Effect& e = effects_.at(effect_id);
  ++e.executions;
  if (e.executions > 1) {
    Duplicate d{e.key, e.seq, e.action, call_index, e.function_id, {}, e.executions};
    if (e.window_credits > 0) {
      --e.window_credits;
      d.cause = "window";
      ++rep_.window_duplicates;
    } else if (e.cleanup_credits > 0) {
      --e.cleanup_credits;
      d.cause = "cleanup";
      ++rep_.cleanup_duplicates;
    } else {
      d.cause = "unexplained";
      ++rep_.unexplained_duplicates;
    }
    rep_.duplicates.push_back(std::move(d));
  }
  // Whether this execution fails is a property of the execution, so a re-run may differ.
  const std::string attempt = fmt::format("{}#{}", effect_id, e.executions);
  if (unit(stable_hash(o_.seed, attempt)) < o_.fail_rate) {
    JavaException ex{"java.io.IOException", std::nullopt};
    if (e.executions % 2 == 1)
      ex.message = fmt::format("{} failed on attempt {}", e.function_id, e.executions);
    e.last = Outcome::thrown(java_exception_payload(ex));
  } else {
    std::string payload;
    json::append_string(payload,
                        fmt::format("{}/{}/{}#{}", e.key, e.seq, e.function_id, e.executions));
    e.last = Outcome::returned(std::move(payload));
  }
  return *e.last;
}

Outcome Simulation::reconcile_effect(const std::string& effect_id, std::int64_t call_index) {
  cur_effect_ = effect_id;
  const Effect& e = effects_.at(effect_id);
  // The reconciler asks the outside world: done before means its outcome, else do it now.
  if (e.executions > 0) return *e.last;
  return execute_effect(effect_id, call_index);
}

Result<ActionResult> Simulation::run_action(const std::string& key, std::int64_t seq,
                                            const Event& trigger, const std::string& action) {
  AFTK_TRY_ASSIGN(const StateKey state_key,
                  make_key_v03(key, seq, trigger, action_uuid_.at(action)));
  cur_key_ = key;
  cur_seq_ = seq;
  cur_action_ = action;
  cur_call_index_ = -1;
  cur_effect_.clear();
  const std::string aid = action_id(key, seq, action);
  std::vector<std::string> path;
  std::vector<CallId> calls;
  ++rep_.action_runs;
  ActionBody body = [&](ActionScope& scope) -> Status {
    std::vector<std::string> results;
    bool previous_failed = false;
    for (int site = 0; site < o_.calls; ++site) {
      if (previous_failed) {  // the agent's error handling skips the step after a failure
        previous_failed = false;
        results.push_back("skipped");
        continue;
      }
      const std::string fid = fmt::format("{}.tools.{}_step{}", kModule, action, site);
      const std::string digest =
          to_hex(sha256(fmt::format("{}|{}|{}|{}", key, seq, action, site))).substr(0, 16);
      const std::string eid = fmt::format("{}\x1f{}", aid, site);
      auto [it, inserted] = effects_.try_emplace(eid);
      if (inserted) {
        it->second.key = key;
        it->second.seq = seq;
        it->second.action = action;
        it->second.function_id = fid;
        action_effects_[aid].push_back(eid);
      }
      path.push_back(eid);
      if (o_.record_traces) calls.push_back({fid, digest});
      const bool reconcilable =
          unit(stable_hash(o_.seed, fmt::format("{}#{}", action, site))) < o_.reconcile_rate;
      cur_reconcilable_ = reconcilable;
      const CallId id{fid, digest};
      auto call = [&] { return execute_effect(eid, cur_call_index_); };
      Result<Outcome> r =
          reconcilable ? scope.durable_execute(
                             id, call, [&] { return reconcile_effect(eid, cur_call_index_); })
                       : scope.durable_execute(id, call);
      cur_effect_.clear();
      AFTK_TRY(r);
      previous_failed = r->is_thrown();
      results.push_back(r->is_thrown() ? "failed" : *r->result());
    }
    std::string list = "[";
    for (size_t i = 0; i < results.size(); ++i) {
      if (i) list.push_back(',');
      if (results[i] == "failed" || results[i] == "skipped")
        json::append_string(list, results[i]);
      else
        list += results[i];  // already JSON
    }
    list.push_back(']');
    Event out;
    out.id = next_event_id();
    if (action == "plan" && o_.chain) {
      out.class_name = std::string(kEventClass);
      out.type = std::string(kToolRequest);
      std::string attrs = "{\"key\":";
      json::append_string(attrs, key);
      attrs += fmt::format(",\"seq\":{},\"results\":{}}}", seq, list);
      out.attributes = std::move(attrs);
    } else {
      out.class_name = std::string(kOutputEventClass);
      out.type = std::string(kOutputType);
      out.attributes = "{\"output\":" + list + "}";
    }
    scope.send_event(std::move(out));
    scope.update_short_term({fmt::format("{}.last", action), MemoryValue::null()});
    return {};
  };
  completed_now_ = false;
  auto result = runner_->run(state_key, trigger, action, body);
  cur_effect_.clear();
  const bool halting =
      !result && crashed_ && o_.halt_after_crashes > 0 && rep_.crashes >= o_.halt_after_crashes;
  if (completed_now_ || (halting && o_.record_traces)) {
    if (completed_now_) final_paths_[aid] = path;
    if (o_.record_traces)
      rep_.traces.push_back(
          {key, seq, action, action_uuid_.at(action), state_key.event_uuid, std::move(calls), {}});
  }
  if (!result) return result;
  rep_.calls_executed += result->stats.executed;
  rep_.calls_replayed += result->stats.replayed;
  rep_.reconciled += result->stats.reconciled;
  if (result->reused) ++rep_.actions_reused;
  // Whatever credits are left were not needed: this action's outcome is settled.
  for (const auto& eid : action_effects_[aid]) {
    auto& e = effects_.at(eid);
    e.window_credits = 0;
    e.cleanup_credits = 0;
  }
  return result;
}

Status Simulation::process_input(size_t index) {
  const auto [k, j] = order_[index];
  const std::string& key = keys_[static_cast<size_t>(k)];
  // messageSequenceNumber: 0 for a key's first input, then +1 per input.
  auto it = next_seq_.find(key);
  const std::int64_t seq = it == next_seq_.end() ? 0 : it->second;
  next_seq_[key] = seq + 1;
  ++rep_.inputs_processed;

  Event input;
  input.class_name = std::string(kInputEventClass);
  input.type = std::string(kInputType);
  input.id = name_uuid_from_bytes(fmt::format("replay-sim/{}/input/{}/{}", o_.seed, key, j));
  std::string attrs = "{\"input\":";
  json::append_string(attrs, fmt::format("{} #{}", key, j));
  attrs.push_back('}');
  input.attributes = std::move(attrs);

  std::deque<std::pair<Event, std::string>> queue;
  queue.emplace_back(std::move(input), "plan");
  while (!queue.empty()) {
    auto [trigger, action] = std::move(queue.front());
    queue.pop_front();
    AFTK_TRY_ASSIGN(ActionResult r, run_action(key, seq, trigger, action));
    for (auto& e : r.output_events)
      if (e.type == kToolRequest) queue.emplace_back(std::move(e), "act");
  }
  last_completed_[key] = seq;
  return {};
}

void Simulation::check_outcome() {
  for (const auto& [k, j] : order_) {
    const std::string& key = keys_[static_cast<size_t>(k)];
    const std::int64_t seq = j;  // inputs of a key are processed in order: seq == input number
    std::vector<std::string> actions{"plan"};
    if (o_.chain) actions.push_back("act");
    for (const auto& action : actions) {
      auto path = final_paths_.find(action_id(key, seq, action));
      if (path == final_paths_.end()) {
        rep_.lost.push_back({key, seq, action, -1, {}, "the action never completed"});
        continue;
      }
      for (size_t i = 0; i < path->second.size(); ++i) {
        auto& e = effects_.at(path->second[i]);
        e.in_final_path = true;
        ++rep_.effects;
        if (e.executions == 0)
          rep_.lost.push_back({key, seq, action, static_cast<std::int64_t>(i), e.function_id,
                               "its recorded outcome was used but the call never ran"});
      }
    }
  }
  for (const auto& [id, e] : effects_)
    if (!e.in_final_path) rep_.orphaned += e.executions;
}

Result<SimulationReport> Simulation::run() {
  if (o_.keys < 1 || o_.inputs < 1 || o_.calls < 0 || o_.checkpoint_every < 1)
    return fail(Errc::kInvalidArgument,
                "keys and inputs must be >= 1, calls >= 0, checkpoint interval >= 1");
  if (!(o_.crash_rate >= 0 && o_.crash_rate <= 0.5))
    return fail(Errc::kInvalidArgument,
                fmt::format("crash rate {} is outside [0, 0.5]", o_.crash_rate));
  if (!(o_.fail_rate >= 0 && o_.fail_rate <= 1) ||
      !(o_.reconcile_rate >= 0 && o_.reconcile_rate <= 1))
    return fail(Errc::kInvalidArgument, "failure and reconciler rates must lie in [0, 1]");

  for (int i = 0; i < o_.keys; ++i) {
    switch (i % 3) {
      case 0:
        keys_.push_back(fmt::format("user-{}", i));
        break;
      case 1:
        keys_.push_back(fmt::format("order_{}", i));
        break;
      default:
        keys_.push_back(fmt::format("tenant_eu_{}", i));
        break;
    }
  }
  std::vector<int> slots;
  for (int k = 0; k < o_.keys; ++k)
    for (int j = 0; j < o_.inputs; ++j) slots.push_back(k);
  for (size_t i = slots.size(); i > 1; --i) std::swap(slots[i - 1], slots[rng_.below(i)]);
  std::vector<int> seen(static_cast<size_t>(o_.keys), 0);
  for (int k : slots) order_.emplace_back(k, seen[static_cast<size_t>(k)]++);
  rep_.inputs = order_.size();

  const std::map<std::string, std::string> triggers{{"plan", std::string(kInputType)},
                                                    {"act", std::string(kToolRequest)}};
  for (const auto& [name, trigger] : triggers) {
    const auto uuid = action_uuid_legacy(
        python_action_hash({name, std::string(kModule), "SimAgent." + name, {trigger}}));
    action_uuid_[name] = uuid;
    action_by_uuid_[uuid] = name;
  }

  configure_store();
  AFTK_TRY_ASSIGN(const std::uint64_t records_before, total_records(*store_));
  while (pos_ < order_.size()) {
    Status st;
    if (need_checkpoint_ || since_checkpoint_ >= o_.checkpoint_every) {
      st = checkpoint();
    } else {
      st = process_input(pos_);
      if (st) {
        ++pos_;
        ++since_checkpoint_;
      }
    }
    if (st) continue;
    if (!crashed_) return fail(st.error());
    if (o_.halt_after_crashes > 0 && rep_.crashes >= o_.halt_after_crashes) {
      rep_.halted = true;
      break;
    }
    AFTK_TRY(recover());
  }
  if (!rep_.halted) check_outcome();
  if (!rep_.halted && o_.leave_in_flight) {
    // One more input for the first key; it is not part of the checked workload.
    order_.emplace_back(0, o_.inputs);
    tail_ = true;
    Status st = process_input(order_.size() - 1);
    tail_ = false;
    if (!st && !crashed_) return fail(st.error());
  }
  AFTK_TRY_ASSIGN(const std::uint64_t records_after, total_records(*store_));
  rep_.persists = records_after - records_before;
  AFTK_TRY(store_->flush());
  rep_.live_states = store_->cache().size();
  return std::move(rep_);
}

}  // namespace

Result<SimulationReport> simulate(const SimulationOptions& options, LogStore& store,
                                  const ReopenStore& reopen) {
  Simulation sim(options, store, reopen);
  return sim.run();
}

}  // namespace aftk::durable
