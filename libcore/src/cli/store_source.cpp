// SPDX-License-Identifier: Apache-2.0
// Opening the store a command works on.
#include "aftk/cli/store_source.h"

#include "aftk/actionstate/file_store.h"

namespace aftk::cli {

void add_store_source(CLI::App& app, StoreSource& source) {
  app.add_option("FILE", source.file, "Topic-dump file (the embedded default store)")->required();
  app.add_option("--partitions", source.partitions, "Partitions of the topic the dump stands for")
      ->default_val(64)
      ->check(CLI::Range(1, 100000));
}

Result<std::unique_ptr<actionstate::LogStore>> open_store(const StoreSource& source, bool read_only) {
  actionstate::FileStoreOptions o;
  o.num_partitions = source.partitions;
  o.create = false;
  o.read_only = read_only;
  AFTK_TRY_ASSIGN(auto store, actionstate::FileStore::open(source.file, o));
  return std::unique_ptr<actionstate::LogStore>(std::move(store));
}

}  // namespace aftk::cli
