// SPDX-License-Identifier: Apache-2.0
// Durable execution: upstream's scenarios (spec section 7), a randomized comparison with a
// reference model, and crash simulations.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "aftk/actionstate/file_store.h"
#include "aftk/actionstate/ids.h"
#include "aftk/actionstate/key.h"
#include "aftk/durable/context.h"
#include "aftk/durable/runner.h"

using namespace aftk;
using namespace aftk::actionstate;
using namespace aftk::durable;

namespace {

template <class R>
std::string error_text(const R& r) {
  return r ? std::string() : r.error().to_string();
}

const CallId kF{"mod.f", "0123456789abcdef"};
const CallId kG{"mod.g", "fedcba9876543210"};
const CallId kH{"mod.h", "1111111111111111"};

// A context whose persists are counted and whose states are kept.
struct Fixture {
  ActionState state;
  std::vector<ActionState> persisted;
  DurableExecutionContext make() {
    return DurableExecutionContext(state, [this](const ActionState& s) {
      persisted.push_back(s);
      return Status{};
    });
  }
};

DurableExecutionContext::Callable returning(std::string payload, int* runs) {
  return [payload, runs] {
    ++*runs;
    return Outcome::returned(payload);
  };
}
DurableExecutionContext::Callable throwing(std::string cls, std::optional<std::string> msg,
                                           int* runs) {
  return [cls, msg, runs] {
    ++*runs;
    return Outcome::thrown(java_exception_payload({cls, msg}));
  };
}

std::string temp_path(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("aftk-durable-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  return p.string();
}

Event input_event(const std::string& attributes, const std::string& id) {
  Event e;
  e.class_name = std::string(kInputEventClass);
  e.id = id;
  e.type = "_input_event";
  e.attributes = attributes;
  return e;
}

}  // namespace

// ---- DurableExecutionContextTest -------------------------------------------------------------

TEST_CASE("DurableExecutionContext.a hit returns [true, result, null] and advances the index") {
  Fixture fx;
  fx.state.call_results.push_back(
      CallResult::success(kF.function_id, kF.args_digest, std::string("\"ok\"")));
  auto ctx = fx.make();
  auto hit = ctx.match_next_or_clear(kF);
  REQUIRE(hit.has_value());
  CHECK(hit->result_payload == std::optional<std::string>("\"ok\""));
  CHECK_FALSE(hit->exception_payload.has_value());
  CHECK(ctx.current_index() == 1);
  CHECK(fx.persisted.empty());
}

TEST_CASE("DurableExecutionContext.a miss past the recorded results returns nothing") {
  Fixture fx;
  auto ctx = fx.make();
  CHECK_FALSE(ctx.match_next_or_clear(kF).has_value());
  CHECK(ctx.current_index() == 0);
  CHECK(fx.persisted.empty());
}

TEST_CASE("DurableExecutionContext.a mismatch clears from the index without persisting") {
  Fixture fx;
  fx.state.call_results = {CallResult::success(kF.function_id, kF.args_digest, std::string("1")),
                           CallResult::success(kG.function_id, kG.args_digest, std::string("2")),
                           CallResult::success(kH.function_id, kH.args_digest, std::string("3"))};
  auto ctx = fx.make();
  REQUIRE(ctx.match_next_or_clear(kF));
  CHECK_FALSE(ctx.match_next_or_clear(kH));  // kG was recorded at index 1
  CHECK(fx.state.call_results.size() == 1);
  CHECK(fx.persisted.empty());
  CHECK(ctx.stats().truncations == 1);
  // The next record persists the truncation together with the new result.
  REQUIRE(ctx.record_call_completion(kH, Outcome::returned(std::string("9"))));
  REQUIRE(fx.persisted.size() == 1);
  CHECK(fx.persisted[0].call_results.size() == 2);
  CHECK(fx.persisted[0].call_results[1].function_id == kH.function_id);
}

TEST_CASE("DurableExecutionContext.each record persists and advances") {
  Fixture fx;
  auto ctx = fx.make();
  REQUIRE(ctx.record_call_completion(kF, Outcome::returned(std::string("1"))));
  REQUIRE(ctx.record_call_completion(kG, Outcome::thrown("boom")));
  CHECK(ctx.current_index() == 2);
  REQUIRE(fx.persisted.size() == 2);
  CHECK(fx.persisted[0].call_results.size() == 1);
  CHECK(fx.persisted[1].call_results[1].status == CallStatus::kFailed);
  CHECK(fx.persisted[1].call_results[1].exception_payload == std::optional<std::string>("boom"));
}

TEST_CASE("DurableExecutionContext.a recorded exception is replayed, not re-run") {
  Fixture fx;
  int runs = 0;
  {
    auto ctx = fx.make();
    auto first = ctx.execute(kF, throwing("java.io.IOException", "disk full", &runs));
    REQUIRE(first);
    CHECK(first->is_thrown());
  }
  auto ctx = fx.make();
  auto again = ctx.execute(kF, throwing("java.io.IOException", "other", &runs));
  REQUIRE(again);
  CHECK(runs == 1);
  REQUIRE(again->is_thrown());
  auto e = parse_java_exception(*again->exception());
  REQUIRE(e);
  CHECK(java_replay_message(*e) == "java.io.IOException: disk full");
}

TEST_CASE("DurableExecutionException.JSON has exceptionClass and message, a null message too") {
  CHECK(java_exception_payload({"java.lang.IllegalStateException", "bad \"state\""}) ==
        R"({"exceptionClass":"java.lang.IllegalStateException","message":"bad \"state\""})");
  const auto null_message =
      java_exception_payload({"java.lang.NullPointerException", std::nullopt});
  CHECK(null_message == R"({"exceptionClass":"java.lang.NullPointerException","message":null})");
  auto parsed = parse_java_exception(null_message);
  REQUIRE(parsed);
  CHECK_FALSE(parsed->message.has_value());
  CHECK(java_replay_message(*parsed) == "java.lang.NullPointerException: null");
  CHECK(parse_java_exception(R"({"exceptionClass":"X","extra":1})")->exception_class == "X");
  CHECK_FALSE(parse_java_exception("[]"));
  CHECK_FALSE(parse_java_exception(R"({"message":"m"})"));
  CHECK_FALSE(parse_java_exception("{\"exceptionClass\":"));
}

TEST_CASE("DurableExecutionContext.a recorded null result replays as null (Java would throw)") {
  Fixture fx;
  fx.state.call_results.push_back(
      CallResult::success(kF.function_id, kF.args_digest, std::nullopt));
  auto ctx = fx.make();
  int runs = 0;
  auto r = ctx.execute(kF, returning("x", &runs));
  REQUIRE(r);
  CHECK(runs == 0);
  CHECK_FALSE(r->is_thrown());
  CHECK_FALSE(r->result().has_value());
}

// ---- RunnerContextImplDurableExecuteTest: persist counts ------------------------------------

TEST_CASE("RunnerContextImpl.persist counts per case match upstream's table") {
  int runs = 0, reconciles = 0;
  const auto reconciler = [&] {
    ++reconciles;
    return Outcome::returned(std::string("\"reconciled\""));
  };
  SUBCASE("legacy call: 1") {
    Fixture fx;
    auto ctx = fx.make();
    REQUIRE(ctx.execute(kF, returning("1", &runs)));
    CHECK(fx.persisted.size() == 1);
    CHECK(fx.persisted[0].call_results[0].status == CallStatus::kSucceeded);
  }
  SUBCASE("reconcilable success: 2 (PENDING, then SUCCEEDED)") {
    Fixture fx;
    auto ctx = fx.make();
    REQUIRE(ctx.execute(kF, returning("1", &runs), reconciler));
    REQUIRE(fx.persisted.size() == 2);
    CHECK(fx.persisted[0].call_results[0].status == CallStatus::kPending);
    CHECK(fx.persisted[1].call_results[0].status == CallStatus::kSucceeded);
    CHECK(reconciles == 0);
  }
  SUBCASE("reconcilable failure: 2 (PENDING, then FAILED)") {
    Fixture fx;
    auto ctx = fx.make();
    auto r = ctx.execute(kF, throwing("java.lang.RuntimeException", "x", &runs), reconciler);
    REQUIRE(r);
    CHECK(r->is_thrown());
    REQUIRE(fx.persisted.size() == 2);
    CHECK(fx.persisted[1].call_results[0].status == CallStatus::kFailed);
  }
  SUBCASE("replay: 0") {
    Fixture fx;
    fx.state.call_results = {CallResult::success(kF.function_id, kF.args_digest, std::string("1")),
                             CallResult::success(kG.function_id, kG.args_digest, std::string("2"))};
    auto ctx = fx.make();
    REQUIRE(ctx.execute(kF, returning("x", &runs)));
    REQUIRE(ctx.execute(kG, returning("x", &runs), reconciler));
    CHECK(fx.persisted.empty());
    CHECK(runs == 0);
    CHECK(reconciles == 0);
  }
  SUBCASE("pending slot, then reconcile: 1") {
    Fixture fx;
    fx.state.call_results = {CallResult::pending(kF.function_id, kF.args_digest)};
    auto ctx = fx.make();
    auto r = ctx.execute(kF, returning("x", &runs), reconciler);
    REQUIRE(r);
    CHECK(r->result() == std::optional<std::string>("\"reconciled\""));
    CHECK(runs == 0);
    CHECK(reconciles == 1);
    REQUIRE(fx.persisted.size() == 1);
    CHECK(fx.persisted[0].call_results[0].status == CallStatus::kSucceeded);
  }
  SUBCASE("pending slot, reconciler fails: 1, persisted as FAILED") {
    Fixture fx;
    fx.state.call_results = {CallResult::pending(kF.function_id, kF.args_digest)};
    auto ctx = fx.make();
    auto r = ctx.execute(kF, returning("x", &runs),
                         throwing("java.lang.IllegalStateException", std::nullopt, &reconciles));
    REQUIRE(r);
    CHECK(r->is_thrown());
    REQUIRE(fx.persisted.size() == 1);
    CHECK(fx.persisted[0].call_results[0].status == CallStatus::kFailed);
  }
  SUBCASE("mismatched pending slot: 3 (clear, PENDING, terminal)") {
    Fixture fx;
    fx.state.call_results = {CallResult::pending(kG.function_id, kG.args_digest)};
    auto ctx = fx.make();
    REQUIRE(ctx.execute(kF, returning("1", &runs), reconciler));
    REQUIRE(fx.persisted.size() == 3);
    CHECK(fx.persisted[0].call_results.empty());
    CHECK(fx.persisted[1].call_results[0].status == CallStatus::kPending);
    CHECK(fx.persisted[2].call_results[0].function_id == kF.function_id);
    CHECK(reconciles == 0);
    CHECK(runs == 1);
  }
}

TEST_CASE("DurableExecutionContext.primitives refuse what upstream refuses") {
  Fixture fx;
  fx.state.call_results = {CallResult::success(kF.function_id, kF.args_digest, std::string("1"))};
  auto ctx = fx.make();
  CHECK(ctx.append_pending_call(kF).error().code == Errc::kConflict);
  CHECK(ctx.finalize_current_call(kF, Outcome::returned()).error().code ==
        Errc::kConflict);  // not PENDING
  REQUIRE(ctx.match_next_or_clear(kF));
  CHECK(ctx.finalize_current_call(kF, Outcome::returned()).error().code ==
        Errc::kConflict);  // no slot
  REQUIRE(ctx.append_pending_call(kG));
  CHECK(ctx.finalize_current_call(kH, Outcome::returned()).error().code ==
        Errc::kConflict);  // other call
  CHECK(fx.persisted.size() == 1);
}

TEST_CASE("DurableExecutionContext.a persist error stops the call and is handed back") {
  ActionState state;
  DurableExecutionContext ctx(
      state, [](const ActionState&) -> Status { return fail(Errc::kIo, "disk gone"); });
  int runs = 0;
  auto r = ctx.execute(kF, returning("1", &runs));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kIo);
  CHECK(runs == 1);
}

TEST_CASE("DurableExecutionContext.the probe sees each point and can stop there") {
  ActionState state;
  std::vector<std::string> seen;
  DurableExecutionContext ctx(
      state, [](const ActionState&) { return Status{}; },
      [&](const ProbeInfo& p) -> Status {
        seen.push_back(std::string(point_name(p.point)) + "@" + std::to_string(p.call_index));
        if (p.point == Point::kAfterCall && p.call_index == 1)
          return fail(Errc::kInterrupted, "crash");
        return {};
      });
  int runs = 0;
  REQUIRE(ctx.execute(kF, returning("1", &runs)));
  auto r = ctx.execute(kG, returning("2", &runs), returning("r", &runs));
  CHECK(r.error().code == Errc::kInterrupted);
  CHECK(seen == std::vector<std::string>{"before-call@0", "after-call@0", "after-persist@0",
                                         "before-call@1", "after-call@1"});
  REQUIRE(state.call_results.size() == 2);
  CHECK(state.call_results[1].is_pending());  // the crash left the PENDING slot
}

// ---- Randomized: the context against a small reference model ---------------------------------

namespace {

struct ModelSlot {
  CallId id;
  bool pending = false;
  Outcome outcome;
  bool operator==(const ModelSlot&) const = default;
};

struct Step {
  CallId id;
  bool reconcilable = false;
  Outcome on_call, on_reconcile;  // what the call and the reconciler produce in this attempt
};

struct ModelRun {
  std::vector<ModelSlot> persisted;              // the last state written
  std::vector<std::optional<Outcome>> outcomes;  // per step reached; nullopt when it crashed there
  int calls = 0, reconciles = 0, persists = 0;
  bool crashed = false;
};

// The documented algorithm over plain data: replay by index, truncate on mismatch (written
// with the next record), PENDING before a reconcilable call, reconciler on a matching PENDING.
ModelRun model(std::vector<ModelSlot> slots, const std::vector<Step>& program, int crash_at_probe) {
  ModelRun m;
  m.persisted = slots;
  int probes = 0;
  const auto probe = [&] { return ++probes == crash_at_probe; };
  const auto persist = [&] {
    ++m.persists;
    m.persisted = slots;
  };
  size_t idx = 0;
  for (const auto& step : program) {
    ModelSlot* slot = idx < slots.size() ? &slots[idx] : nullptr;
    const bool same = slot && slot->id == step.id;
    if (same &&
        (!step.reconcilable || !slot->pending)) {  // replay (a PENDING slot replays as null)
      m.outcomes.push_back(slot->pending ? Outcome::returned() : slot->outcome);
      ++idx;
      continue;
    }
    Outcome out;
    if (!step.reconcilable) {
      slots.resize(std::min(slots.size(), idx));
      if (probe()) break;
      out = step.on_call;
      ++m.calls;
      if (probe()) break;
      slots.push_back({step.id, false, out});
      persist();
    } else {
      bool reconcile = same;  // a matching slot here is PENDING
      if (!reconcile) {
        if (slot) {
          slots.resize(idx);
          persist();
        }
        slots.push_back({step.id, true, Outcome::returned()});
        persist();
      }
      if (probe()) break;
      out = reconcile ? step.on_reconcile : step.on_call;
      ++(reconcile ? m.reconciles : m.calls);
      if (probe()) break;
      slots[idx] = {step.id, false, out};
      persist();
    }
    ++idx;
    m.outcomes.push_back(out);
    if (probe()) break;
  }
  m.crashed = crash_at_probe > 0 && probes >= crash_at_probe;
  return m;
}

std::vector<ModelSlot> slots_of(const ActionState& s) {
  std::vector<ModelSlot> out;
  for (const auto& r : s.call_results) {
    ModelSlot m{{r.function_id, r.args_digest}, r.is_pending(), {}};
    if (!r.is_pending())
      m.outcome = r.exception_payload ? Outcome::thrown(*r.exception_payload)
                                      : Outcome::returned(r.result_payload);
    out.push_back(m);
  }
  return out;
}

}  // namespace

TEST_CASE(
    "DurableExecutionContext.random programs, code changes and crashes agree with the reference "
    "model") {
  std::mt19937_64 rng(20261126);
  const std::vector<CallId> pool{
      kF, kG, kH, CallId::java("java.call"), {std::nullopt, std::nullopt}};
  const auto outcome = [&](int n) {
    switch (rng() % 4) {
      case 0:
        return Outcome::thrown(
            java_exception_payload({"java.lang.RuntimeException", "e" + std::to_string(n)}));
      case 1:
        return Outcome::returned();
      default:
        return Outcome::returned(std::to_string(n));
    }
  };
  int trials = 0, crashes = 0, mismatches = 0, replays = 0;
  for (int trial = 0; trial < 3000; ++trial, ++trials) {
    std::vector<Step> program(rng() % 7);
    for (auto& st : program) {
      st.id = pool[rng() % pool.size()];
      st.reconcilable = rng() % 3 == 0;
    }
    ActionState stored;  // what the store holds between attempts
    for (int attempt = 0; attempt < 6; ++attempt) {
      if (attempt > 0 && !program.empty() && rng() % 3 == 0) {  // new code: one call changes
        program[rng() % program.size()].id = pool[rng() % pool.size()];
        ++mismatches;
      }
      for (auto& st : program) {
        st.on_call = outcome(trial * 100 + attempt * 10);
        st.on_reconcile = outcome(trial * 100 + attempt * 10 + 5);
      }
      const int crash_at =
          attempt < 5 && rng() % 2 ? 1 + static_cast<int>(rng() % (3 * program.size() + 1)) : 0;
      const ModelRun expect = model(slots_of(stored), program, crash_at);

      ActionState working = stored;
      ActionState last_written = stored;
      int persists = 0, calls = 0, reconciles = 0, probes = 0;
      DurableExecutionContext ctx(
          working,
          [&](const ActionState& s) {
            ++persists;
            last_written = s;
            return Status{};
          },
          [&](const ProbeInfo&) -> Status {
            if (++probes == crash_at) return fail(Errc::kInterrupted, "crash");
            return {};
          });
      std::vector<std::optional<Outcome>> got;
      bool crashed = false;
      for (const auto& st : program) {
        const auto call = [&] {
          ++calls;
          return st.on_call;
        };
        const auto rec = [&] {
          ++reconciles;
          return st.on_reconcile;
        };
        auto r = st.reconcilable ? ctx.execute(st.id, call, rec) : ctx.execute(st.id, call);
        if (!r) {
          crashed = true;
          break;
        }
        got.push_back(*r);
      }
      replays += static_cast<int>(ctx.stats().replayed);
      INFO("trial " << trial << " attempt " << attempt << " crash at probe " << crash_at);
      REQUIRE(crashed == expect.crashed);
      // The model records the outcome of a step before its after-persist probe; a crash there
      // still returns nothing to the caller.
      auto expected_outcomes = expect.outcomes;
      if (crashed && expected_outcomes.size() > got.size()) expected_outcomes.resize(got.size());
      REQUIRE(got == expected_outcomes);
      REQUIRE(calls == expect.calls);
      REQUIRE(reconciles == expect.reconciles);
      REQUIRE(persists == expect.persists);
      REQUIRE(slots_of(last_written) == expect.persisted);
      stored = last_written;
      if (crashed)
        ++crashes;
      else
        break;
    }
  }
  MESSAGE(trials << " programs, " << crashes << " crashes, " << mismatches << " code changes, "
                 << replays << " replays");
  CHECK(crashes > 1000);
  CHECK(replays > 1000);
}

// ---- ActionExecutionOperatorTest and DurableExecutionManagerTest -----------------------------

namespace {

struct Op {
  std::unique_ptr<LogStore> store;
  std::string action_uuid = action_uuid_from_name("process");
  int supplier_runs = 0;

  StateKey key(const std::string& bk, std::int64_t seq, const Event& e) {
    return make_key_v03(bk, seq, e, action_uuid).value();
  }
  // An action with a durable call, a durable call that raises, and a reconcilable call.
  ActionBody body() {
    return [this](ActionScope& s) -> Status {
      AFTK_TRY_ASSIGN(auto a, s.durable_execute(CallId::java("sync"), [this] {
        ++supplier_runs;
        return Outcome::returned(std::string("42"));
      }));
      AFTK_TRY_ASSIGN(auto b, s.durable_execute(CallId::java("raises"), [this] {
        ++supplier_runs;
        return Outcome::thrown(java_exception_payload({"java.io.IOException", std::nullopt}));
      }));
      AFTK_TRY_ASSIGN(auto c, s.durable_execute(
                                  CallId::java("reconcilable"),
                                  [this] {
                                    ++supplier_runs;
                                    return Outcome::returned(std::string("\"done\""));
                                  },
                                  [] { return Outcome::returned(std::string("\"found\"")); }));
      Event out;
      out.class_name = std::string(kOutputEventClass);
      out.id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
      out.type = "_output_event";
      out.attributes = "{\"output\":" + a.result().value_or("null") + "}";
      s.send_event(out);
      s.update_short_term({"stm.last", MemoryValue::null()});
      CHECK(b.is_thrown());
      CHECK_FALSE(c.is_thrown());
      return {};
    };
  }
};

}  // namespace

TEST_CASE(
    "ActionExecutionOperator.write sequence, skip when completed, lineage, replay after a crash") {
  for (const bool file : {false, true}) {
    CAPTURE(file);
    Op op;
    const std::string path = temp_path("operator.jsonl");
    if (file)
      op.store = FileStore::open(path).value();
    else
      op.store = std::make_unique<MemoryStore>();
    const Event trigger =
        input_event(R"({"input":"hello"})", "11111111-2222-3333-4444-555555555555");
    const StateKey key = op.key("user_42", 0, trigger);
    ActionRunner runner(*op.store);

    // First run crashes right after the reconcilable call ran, before it was finalized.
    runner.set_probe([](const ProbeInfo& p) -> Status {
      if (p.point == Point::kAfterCall && p.call_index == 2)
        return fail(Errc::kInterrupted, "crash");
      return {};
    });
    auto crashed = runner.run(key, trigger, "process", op.body());
    REQUIRE_FALSE(crashed);
    CHECK(op.supplier_runs == 3);
    // Writes so far: new state, sync, raises, PENDING.
    auto end = op.store->end_offsets().value();
    std::int64_t records = 0;
    for (auto& [p, o] : end) records += o;
    CHECK(records == 4);

    // Recover from a checkpoint taken before the input (marker = end offsets then: all zero).
    CheckpointManager manager(op.store.get());
    std::vector<RecoveryMarker> markers{RecoveryMarker::legacy({{0, 0}})};
    if (file) {  // a new process: reopen the file
      op.store = FileStore::open(path).value();
      manager = CheckpointManager(op.store.get());
    }
    OffsetMap zero;
    for (std::int32_t p = 0; p < op.store->num_partitions(); ++p) zero[p] = 0;
    markers = {RecoveryMarker::legacy(zero)};
    REQUIRE(manager.recover(markers));
    ActionRunner again(*op.store);
    auto done = again.run(key, trigger, "process", op.body());
    REQUIRE_MESSAGE(done, error_text(done));
    CHECK_FALSE(done->reused);
    CHECK(op.supplier_runs == 3);  // nothing re-ran: two replays and one reconcile
    CHECK(done->stats.replayed == 2);
    CHECK(done->stats.reconciled == 1);
    REQUIRE(done->output_events.size() == 1);
    CHECK(done->output_events[0].upstream_event_id == trigger.id);
    CHECK(done->output_events[0].upstream_action_name == std::optional<std::string>("process"));
    CHECK(done->output_events[0].attributes == "{\"output\":42}");
    auto stored = op.store->get(key).value();
    REQUIRE(stored);
    CHECK(stored->completed);
    CHECK(stored->call_results.empty());

    // Completed: skipped, outputs re-emitted with their ids, lineage rebound.
    const Event retrigger =
        input_event(R"({"input":"hello"})", "99999999-2222-3333-4444-555555555555");
    auto reused = again.run(key, retrigger, "process", op.body());
    REQUIRE(reused);
    CHECK(reused->reused);
    CHECK(op.supplier_runs == 3);
    REQUIRE(reused->output_events.size() == 1);
    CHECK(reused->output_events[0].id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    CHECK(reused->output_events[0].upstream_event_id == retrigger.id);
    CHECK(reused->short_term_memory_updates.size() == 1);
  }
}

TEST_CASE("DurableExecutionManager.no store: every call is a no-op") {
  CheckpointManager m(nullptr);
  CHECK_FALSE(m.enabled());
  auto s = m.snapshot(1, {{"k", 3}});
  REQUIRE(s);
  CHECK_FALSE(s->marker.has_value());
  CHECK(m.pending() == 0);
  CHECK(m.notify_complete(1).value() == 0);
  CHECK(m.recover(std::vector<RecoveryMarker>{RecoveryMarker::legacy({{0, 5}})})->records == 0);
}

TEST_CASE(
    "DurableExecutionManager.snapshot, notify prunes only that checkpoint, abort prunes nothing, "
    "recovery rebuilds") {
  MemoryStore store(2);
  const Event e = input_event(R"({"input":"x"})", "11111111-2222-3333-4444-555555555555");
  const std::string action = action_uuid_from_name("a");
  for (const char* bk : {"k1", "k_2"})
    for (int seq = 0; seq < 4; ++seq)
      REQUIRE(store.put(make_key_v03(bk, seq, e, action).value(), ActionState(e)));
  CheckpointManager m(&store);
  auto s1 = m.snapshot(1, {{"k1", 0}, {"k_2", 1}});
  REQUIRE(s1);
  CHECK(s1->marker->offsets == store.end_offsets().value());
  CHECK(s1->last_completed == std::map<std::string, std::int64_t>{{"k1", 0}, {"k_2", 1}});
  REQUIRE(m.snapshot(2, {{"k1", 2}, {"k_2", 3}}));
  REQUIRE(m.snapshot(3, {{"k1", 3}}));
  CHECK(store.cache().size() == 8);  // nothing pruned before a checkpoint completes
  CHECK(m.notify_complete(1).value() == 3);
  CHECK(store.cache().size() == 5);
  CHECK(m.pending() == 2);
  m.notify_aborted(3);
  CHECK(m.pending() == 1);
  CHECK(store.cache().size() == 5);          // abort pruned nothing
  CHECK(m.notify_complete(3).value() == 0);  // forgotten
  CHECK(m.notify_complete(2).value() == 4);
  CHECK(store.cache().size() == 1);  // k1 seq 3 is still in flight
  CHECK(m.pending() == 0);
  // A checkpoint that covers every key's last sequence leaves the cache empty.
  REQUIRE(m.snapshot(4, {{"k1", 3}}));
  CHECK(m.notify_complete(4).value() == 1);
  CHECK(store.cache().empty());
  // Recovery rebuilds from the markers: records written after checkpoint 1's marker only.
  REQUIRE(store.put(make_key_v03("k1", 4, e, action).value(), ActionState(e)));
  auto report = m.recover(std::vector<RecoveryMarker>{*s1->marker});
  REQUIRE(report);
  CHECK(report->records == 1);
  CHECK(store.cache().size() == 1);
}

TEST_CASE(
    "StateCache.cleanup rules: upstream drops later sequences when chained actions share one; "
    "on-miss does not") {
  MemoryStore store(1);
  const Event e = input_event(R"({"input":"x"})", "11111111-2222-3333-4444-555555555555");
  const auto a = make_key_v03("k", 0, e, action_uuid_from_name("a")).value();
  const auto b = make_key_v03("k", 0, e, action_uuid_from_name("b")).value();
  const auto later = make_key_v03("k", 1, e, action_uuid_from_name("a")).value();
  size_t dropped = 0;
  store.set_drop_observer([&](const StateCache::Entry&) { ++dropped; });
  SUBCASE("upstream") {
    for (auto* k : {&a, &b, &later}) REQUIRE(store.put(*k, ActionState(e)));
    CHECK(store.get(a).value().has_value());
    CHECK(dropped == 1);
    CHECK_FALSE(store.get(later).value().has_value());
  }
  SUBCASE("on-miss") {
    store.set_cleanup_rule(StateCache::CleanupRule::kOnMiss);
    for (auto* k : {&a, &b, &later}) REQUIRE(store.put(*k, ActionState(e)));
    CHECK(store.get(a).value().has_value());
    CHECK(dropped == 0);
    CHECK(store.get(later).value().has_value());
    CHECK_FALSE(
        store.get(make_key_v03("k", 0, e, action_uuid_from_name("c")).value()).value().has_value());
    CHECK(dropped == 1);  // a miss still drops later sequences
  }
}

// ---- Crash simulations -----------------------------------------------------------------------

#include "aftk/durable/simulate.h"

namespace {
SimulationReport run_sim(const SimulationOptions& o) {
  MemoryStore store(8);
  auto r = simulate(o, store);
  REQUIRE_MESSAGE(r.has_value(), error_text(r));
  return std::move(r).value();
}
std::string describe(const SimulationReport& r) {
  std::string s = fmt::format("crashes {} lost {} dups w{} c{} u{}", r.crashes, r.lost.size(),
                              r.window_duplicates, r.cleanup_duplicates, r.unexplained_duplicates);
  for (const auto& d : r.duplicates)
    if (d.cause == "unexplained")
      s += fmt::format("\n  {} seq {} {} call {}", d.key, d.seq, d.action, d.call_index);
  for (const auto& l : r.lost)
    s += fmt::format("\n  lost {} seq {} {} call {}: {}", l.key, l.seq, l.action, l.call_index,
                     l.reason);
  return s;
}
}  // namespace

TEST_CASE("Simulation.a chosen crash in the window of a call without reconciler re-runs it once") {
  SimulationOptions o;
  o.seed = 3;
  o.crash_rate = 0;
  o.reconcile_rate = 0;
  o.chosen = {{CrashKind::kWindow, 2}};
  auto r = run_sim(o);
  INFO(describe(r));
  CHECK(r.ok());
  CHECK(r.crashes == 1);
  REQUIRE(r.duplicates.size() == 1);
  CHECK(r.duplicates[0].cause == "window");
  CHECK(r.duplicates[0].execution == 2);
  CHECK(r.window_duplicates == 1);
  REQUIRE(r.crash_log.size() == 1);
  CHECK(r.crash_log[0].kind == CrashKind::kWindow);
  CHECK(r.crash_log[0].key == r.duplicates[0].key);
  CHECK(r.crash_log[0].seq == r.duplicates[0].seq);
  CHECK(r.crash_log[0].call_index == r.duplicates[0].call_index);
}

TEST_CASE("Simulation.a reconciler closes the window") {
  SimulationOptions o;
  o.seed = 3;
  o.crash_rate = 0;
  o.reconcile_rate = 1;
  o.chosen = {{CrashKind::kWindow, 2}, {CrashKind::kBeforeCall, 5}};
  auto r = run_sim(o);
  INFO(describe(r));
  CHECK(r.ok());
  CHECK(r.crashes == 2);
  CHECK(r.duplicates.empty());
  CHECK(r.reconciled == 2);
}

TEST_CASE("Simulation.without crashes every call runs once and nothing is reused") {
  SimulationOptions o;
  o.seed = 11;
  o.crash_rate = 0;
  auto r = run_sim(o);
  CHECK(r.ok());
  CHECK(r.crashes == 0);
  CHECK(r.duplicates.empty());
  CHECK(r.orphaned == 0);
  CHECK(r.calls_executed == r.effects);
  CHECK(r.actions_reused == 0);
  CHECK(r.inputs_processed == r.inputs);
}

TEST_CASE("Simulation.deterministic for a seed") {
  SimulationOptions o;
  o.seed = 42;
  o.keys = 6;
  o.inputs = 5;
  o.crash_rate = 0.05;
  auto a = run_sim(o), b = run_sim(o);
  CHECK(a.crashes == b.crashes);
  CHECK(a.calls_executed == b.calls_executed);
  CHECK(a.persists == b.persists);
  REQUIRE(a.duplicates.size() == b.duplicates.size());
  for (size_t i = 0; i < a.duplicates.size(); ++i)
    CHECK(a.duplicates[i].key == b.duplicates[i].key);
  o.seed = 43;
  auto c = run_sim(o);
  CHECK(
      (c.crashes != a.crashes || c.calls_executed != a.calls_executed || c.persists != a.persists));
}

TEST_CASE(
    "Simulation.over 10,000 crash points: nothing lost, no duplicate outside the window (on-miss "
    "cleanup)") {
  std::uint64_t crashes = 0, window = 0, runs = 0;
  std::map<CrashKind, std::uint64_t> kinds;
  for (std::uint64_t seed = 1; crashes < 10000; ++seed, ++runs) {
    SimulationOptions o;
    o.seed = seed;
    o.keys = 5;
    o.inputs = 6;
    o.calls = 3;
    o.crash_rate = 0.04;
    o.checkpoint_every = 1 + static_cast<int>(seed % 5);
    o.tombstones = seed % 2 == 0;
    o.cleanup = StateCache::CleanupRule::kOnMiss;
    o.keep_crash_log = false;
    auto r = run_sim(o);
    INFO("seed " << seed << ": " << describe(r));
    REQUIRE(r.lost.empty());
    REQUIRE(r.unexplained_duplicates == 0);
    REQUIRE(r.cleanup_duplicates == 0);
    REQUIRE(r.orphaned == 0);
    crashes += r.crashes;
    window += r.window_duplicates;
    for (auto [k, n] : r.crashes_by_kind) kinds[k] += n;
  }
  MESSAGE(runs << " runs, " << crashes << " crashes, " << window
               << " duplicates inside the window");
  CHECK(crashes >= 10000);
  CHECK(window > 0);
  for (auto k : kAllCrashKinds) CHECK(kinds[k] > 0);
}

TEST_CASE(
    "Simulation.upstream's cleanup rule re-runs calls of later inputs; each such duplicate is "
    "attributed") {
  std::uint64_t cleanup = 0, crashes = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    SimulationOptions o;
    o.seed = seed;
    o.keys = 3;
    o.inputs = 6;
    o.checkpoint_every = 6;
    o.crash_rate = 0.03;
    o.keep_crash_log = false;
    auto r = run_sim(o);
    INFO("seed " << seed << ": " << describe(r));
    REQUIRE(r.lost.empty());
    REQUIRE(r.unexplained_duplicates == 0);
    cleanup += r.cleanup_duplicates;
    crashes += r.crashes;
  }
  MESSAGE(crashes << " crashes, " << cleanup << " duplicates from the divergence cleanup");
  CHECK(cleanup > 0);
}

TEST_CASE("Simulation.on the file store, reopened after every crash; the dump stays readable") {
  const std::string path = temp_path("sim.jsonl");
  auto store = FileStore::open(path).value();
  SimulationOptions o;
  o.seed = 5;
  o.keys = 4;
  o.inputs = 4;
  o.crash_rate = 0.05;
  o.cleanup = StateCache::CleanupRule::kOnMiss;
  std::unique_ptr<FileStore> current;
  auto r = simulate(o, *store, [&]() -> Result<LogStore*> {
    AFTK_TRY_ASSIGN(current, FileStore::open(path));
    return static_cast<LogStore*>(current.get());
  });
  REQUIRE_MESSAGE(r.has_value(), error_text(r));
  INFO(describe(*r));
  CHECK(r->ok());
  CHECK(r->crashes > 0);
  FileStoreOptions ro;
  ro.read_only = true;
  auto reread = FileStore::open(path, ro).value();
  CHECK(reread->problems().empty());
  auto all = reread->load_all();
  REQUIRE(all);
  CHECK(all->problems.empty());
  CHECK(all->records == r->persists);
}

TEST_CASE("Simulation.halting at a crash leaves the incomplete state behind") {
  SimulationOptions o;
  o.seed = 9;
  o.crash_rate = 0;
  o.reconcile_rate = 1;
  o.chosen = {{CrashKind::kWindow, 4}};
  o.halt_after_crashes = 1;
  MemoryStore store(4);
  auto r = simulate(o, store);
  REQUIRE(r);
  CHECK(r->halted);
  CHECK(r->lost.empty());  // not checked when halted
  size_t pending = 0;
  store.cache().for_each([&](const StateCache::Entry& e) {
    auto s = Decoder().decode(e.value);
    if (s && s->pending_calls() > 0) ++pending;
  });
  CHECK(pending == 1);
}

TEST_CASE("Simulation.options out of range are errors") {
  MemoryStore store(1);
  SimulationOptions o;
  o.keys = 0;
  CHECK(simulate(o, store).error().code == Errc::kInvalidArgument);
  o.keys = 1;
  o.crash_rate = 0.9;
  CHECK(simulate(o, store).error().code == Errc::kInvalidArgument);
  CHECK(parse_chosen_crash("window:3")->occurrence == 3);
  CHECK(parse_chosen_crash("checkpoint")->kind == CrashKind::kCheckpoint);
  CHECK_FALSE(parse_chosen_crash("window:0"));
  CHECK_FALSE(parse_chosen_crash("explode:1"));
}

// ---- Divergence ------------------------------------------------------------------------------

#include "aftk/durable/divergence.h"

namespace {
std::vector<CallResult> record(std::initializer_list<CallId> ids) {
  std::vector<CallResult> out;
  for (const auto& id : ids)
    out.push_back(CallResult::success(id.function_id, id.args_digest, std::string("1")));
  return out;
}
}  // namespace

TEST_CASE("Divergence.first divergent index, cause and calls that would run again") {
  const CallId a{"m.a", "aaaaaaaaaaaaaaaa"}, b{"m.b", "bbbbbbbbbbbbbbbb"},
      c{"m.c", "cccccccccccccccc"};
  const CallId x{"m.x", "xxxxxxxxxxxxxxxx"}, b_args{"m.b", "0000000000000000"},
      b_renamed{"m.b2", "bbbbbbbbbbbbbbbb"};
  const auto rec = record({a, b, c});
  SUBCASE("same calls") {
    auto d = compare_calls(rec, std::vector<CallId>{a, b, c});
    CHECK_FALSE(d.diverged());
    CHECK(d.replayed == 3);
    CHECK(d.runs == 0);
  }
  SUBCASE("more calls than recorded: new calls, no divergence") {
    auto d = compare_calls(rec, std::vector<CallId>{a, b, c, x});
    CHECK_FALSE(d.diverged());
    CHECK(d.runs == 1);
    CHECK(d.re_executes == 0);
  }
  SUBCASE("arguments changed") {
    auto d = compare_calls(rec, std::vector<CallId>{a, b_args, c});
    CHECK(d.first_index == 1);
    CHECK(d.cause == Cause::kArgumentsChanged);
    CHECK(d.runs == 2);
    CHECK(d.re_executes == 1);  // c ran before and runs again
    CHECK(d.recorded == b);
    CHECK(d.traced == b_args);
  }
  SUBCASE("function renamed") {
    auto d = compare_calls(rec, std::vector<CallId>{a, b_renamed, c});
    CHECK(d.cause == Cause::kFunctionRenamed);
    CHECK(d.re_executes == 1);
  }
  SUBCASE("call inserted") {
    auto d = compare_calls(rec, std::vector<CallId>{a, x, b, c});
    CHECK(d.first_index == 1);
    CHECK(d.cause == Cause::kCallInserted);
    CHECK(d.runs == 3);
    CHECK(d.re_executes == 2);
  }
  SUBCASE("call removed") {
    auto d = compare_calls(rec, std::vector<CallId>{a, c});
    CHECK(d.first_index == 1);
    CHECK(d.cause == Cause::kCallRemoved);
    CHECK(d.re_executes == 1);
  }
  SUBCASE("trace ends early: removed, nothing re-runs") {
    auto d = compare_calls(rec, std::vector<CallId>{a});
    CHECK(d.first_index == 1);
    CHECK(d.cause == Cause::kCallRemoved);
    CHECK(d.runs == 0);
    CHECK_FALSE(d.traced.has_value());
  }
  SUBCASE("another call: replaced; Java ids share the empty digest, so no rename is claimed") {
    CHECK(compare_calls(rec, std::vector<CallId>{x}).cause == Cause::kCallReplaced);
    auto java = record({CallId::java("a"), CallId::java("b")});
    CHECK(compare_calls(java, std::vector<CallId>{CallId::java("a"), CallId::java("z")}).cause ==
          Cause::kCallReplaced);
  }
  SUBCASE("PENDING slots replay into a reconciler and never count as re-executions") {
    std::vector<CallResult> r{CallResult::pending(a.function_id, a.args_digest)};
    auto d = compare_calls(r, std::vector<CallId>{a});
    CHECK(d.pending == 1);
    auto changed = compare_calls(r, std::vector<CallId>{x, a});
    CHECK(changed.cause == Cause::kCallInserted);
    CHECK(changed.re_executes == 0);
  }
}

TEST_CASE("Trace.lines parse; bad ones name the field") {
  auto e = parse_trace_line(
      R"({"key":"order_7","seq":3,"action":"plan","calls":[{"functionId":"m.f","argsDigest":"ab"},["m.g",null]]})");
  REQUIRE(e);
  CHECK(e->key == "order_7");
  CHECK(e->seq == 3);
  REQUIRE(e->calls.size() == 2);
  CHECK(e->calls[1] == CallId{"m.g", std::nullopt});
  CHECK(parse_trace_line(R"({"seq":1,"action":"a","calls":[]})").error().message ==
        "missing \"key\"");
  CHECK(parse_trace_line(R"({"key":"k","seq":-1,"action":"a","calls":[]})").error().message ==
        "\"seq\" is not a non-negative integer");
  CHECK(
      parse_trace_line(R"({"key":"k","seq":1,"action":"a","calls":[["only"]]})").error().message ==
      "calls[0] must be [functionId, argsDigest]");
  CHECK(parse_trace_line(R"({"key":"k","seq":1,"action":"a","calls":[{"argsDigest":"x"}]})")
            .error()
            .message == "calls[0] has no \"functionId\"");
  CHECK_FALSE(parse_trace_line("{\"key\":"));
  CHECK_FALSE(parse_trace_line("[]"));
}

TEST_CASE("ReplayChecker.finds the state by key, seq and action; completed and missing states") {
  MemoryStore store(4);
  const Event e = input_event(R"({"input":"x"})", "11111111-2222-3333-4444-555555555555");
  const CallId a{"m.a", "aaaaaaaaaaaaaaaa"}, b{"m.b", "bbbbbbbbbbbbbbbb"};
  ActionState open(e);
  open.call_results = record({a, b});
  REQUIRE(store.put(make_key_v03("user_1", 0, e, action_uuid_from_name("plan")).value(), open));
  ActionState done(e);
  done.mark_completed();
  REQUIRE(store.put(make_key_v03("user_1", 1, e, action_uuid_from_name("plan")).value(), done));
  ReplayChecker checker(store);
  TraceEntry t{"user_1", 0, "plan", std::nullopt, std::nullopt, {a, {"m.b", "changed"}}, ""};
  auto c = checker.check(t);
  CHECK(c.status == ReplayCheck::Status::kDiverges);
  CHECK(c.divergence.first_index == 1);
  CHECK(c.recorded == 2);
  t.calls = {a, b};
  CHECK(checker.check(t).status == ReplayCheck::Status::kReplays);
  t.seq = 1;
  CHECK(checker.check(t).status == ReplayCheck::Status::kCompleted);
  t.seq = 2;
  auto none = checker.check(t);
  CHECK(none.status == ReplayCheck::Status::kNoState);
  CHECK(none.divergence.runs == 2);
  t.seq = 0;
  t.action = "act";
  CHECK(checker.check(t).status == ReplayCheck::Status::kNoState);
}

// ---- Event-log input --------------------------------------------------------------------------

#include <cstdlib>

#include "aftk/durable/logged.h"

TEST_CASE("LoggedExecution.derived from the golden event log and found in the golden store") {
  const char* data = std::getenv("AFTK_TESTDATA");
  const std::string root = data ? data : "tests/data";
  const std::string log = root +
                          "/golden/flink-agents-main-8ad3a32/eventlog/"
                          "events-3f2a6c1e9b8d47a0a1b2c3d4e5f60718-action-execute-operator-0.log";
  std::vector<std::string> problems;
  auto executions = derive_executions({log}, &problems);
  REQUIRE_MESSAGE(executions.has_value(), error_text(executions));
  CHECK(problems.empty());
  REQUIRE(executions->size() == 2);
  const auto& process = (*executions)[0];
  CHECK(process.action == "process");
  CHECK(process.trigger_type == std::optional<std::string>("_input_event"));
  // The spec's verified vector: {"input":"hello"} -> b6dc5e36-...
  CHECK(process.event_uuid == std::optional<std::string>("b6dc5e36-12ea-3bb2-8ca3-e0ea9865efcf"));
  CHECK(process.events_sent == 2);
  CHECK((*executions)[1].action == "summarize");

  FileStoreOptions ro;
  ro.read_only = true;
  auto store = FileStore::open(root + "/dumps/golden-main-8ad3a32.jsonl", ro);
  REQUIRE(store.has_value());
  REQUIRE((*store)->load_all().has_value());
  LoggedChecker checker(**store);
  auto c = checker.check(process);
  CHECK(c.status == LoggedCheck::Status::kCompleted);
  REQUIRE(c.entry != nullptr);
  CHECK(c.entry->key.business_key == "user-42");
  CHECK(c.by_event_only);  // a 0.3-style key hashes the Python action: matched by event alone
  CHECK(checker.check((*executions)[1]).status == LoggedCheck::Status::kNoState);
  LoggedExecution orphan;
  orphan.action = "x";
  orphan.trigger_id = "not-in-the-log";
  CHECK(checker.check(orphan).status == LoggedCheck::Status::kUnknown);
  CHECK_FALSE(derive_executions({"/nonexistent.log"}).has_value());
}
