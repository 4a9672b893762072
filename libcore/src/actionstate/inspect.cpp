// SPDX-License-Identifier: Apache-2.0
// Decoding and filtering the live states of a dump or a cache for listing.
#include "aftk/actionstate/inspect.h"

#include <algorithm>

#include <fmt/format.h>

#include "aftk/json/writer.h"

namespace aftk::actionstate {

InspectSummary inspect_cache(const StateCache& cache, const InspectOptions& options,
                             const std::function<void(const InspectedState&)>& visit) {
  InspectSummary summary;
  summary.live = cache.size();
  Decoder decoder(options.decode);
  InspectedState item;
  ActionState scratch;
  cache.for_each([&](const StateCache::Entry& e) {
    if (!options.business_keys.empty() &&
        std::find(options.business_keys.begin(), options.business_keys.end(), e.key.identity()) ==
            options.business_keys.end())
      return;
    if (options.seq && e.key.seq != *options.seq) return;
    item.entry = &e;
    item.deviations.clear();
    item.error.reset();
    auto st = decoder.decode(e.value, scratch, &item.deviations);
    if (st) {
      if (options.only_pending && scratch.pending_calls() == 0) return;
      if (options.only_incomplete && scratch.completed) return;
      item.state = scratch;
    } else {
      item.state.reset();
      item.error = st.error();
      item.error->where = fmt::format("partition {} offset {}", e.position.partition, e.position.offset);
    }
    ++summary.listed;
    if (item.error) ++summary.corrupt;
    if (!item.deviations.empty()) ++summary.deviating;
    visit(item);
  });
  return summary;
}

void write_key_fields(json::Writer& w, const StateKey& k) {
  w.field("format", key_format_name(k.format));
  if (k.format == KeyFormat::kV03) {
    w.field("businessKey", k.business_key);
  } else {
    w.key("businessKey").null().field("businessKeyId", k.business_key_id);
    w.field("keyGroup", k.key_group);
  }
  w.field("seq", k.seq).field("eventUUID", k.event_uuid).field("actionUUID", k.action_uuid);
}

void append_state_json(std::string& out, const InspectedState& s, bool include_state) {
  const auto& e = *s.entry;
  const auto& k = e.key;
  json::Writer w(out);
  w.begin_object()
      .field("partition", e.position.partition)
      .field("offset", e.position.offset)
      .field("key", k.to_string());
  write_key_fields(w, k);
  if (s.state) {
    w.field("completed", s.state->completed)
        .field("callResults", s.state->call_results.size())
        .field("pendingCalls", s.state->pending_calls());
    if (!s.deviations.empty()) {
      w.key("deviations").begin_array();
      for (const auto& d : s.deviations)
        w.begin_object().field("path", d.path).field("message", d.message).end_object();
      w.end_array();
    }
    if (include_state) {
      // The exact bytes upstream writes, not the listing's escaping.
      encode(*s.state, w.key("state").raw_target());
    }
  } else {
    w.key("completed").null().key("callResults").null().key("pendingCalls").null();
    w.key("error")
        .begin_object()
        .field("code", errc_name(s.error->code))
        .field("message", s.error->message)
        .end_object();
    w.field("value", e.value);
  }
  w.end_object();
}

}  // namespace aftk::actionstate
