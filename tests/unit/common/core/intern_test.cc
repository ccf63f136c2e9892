// Interned Symbols and Labels: value semantics, LabelsBuilder rules, what
// sweepInterned() frees and keeps, and concurrent interning racing a sweeper.
// Built and run under ThreadSanitizer in CI (KM_TEST_SUBSET=tsan).
//
// The pools are process-wide, so tests that count entries sweep first and
// compare against that baseline; gtest runs the tests of one binary one at a
// time.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "kubemetrics/labels.h"
#include "kubemetrics/symbol.h"

#if defined(__SANITIZE_THREAD__)
#define KM_INTERN_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KM_INTERN_TEST_TSAN 1
#endif
#endif

namespace kubemetrics {
namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Symbol

TEST(SymbolTest, SameTextGivesSameHandle) {
  const Symbol a = Symbol::intern("namespace");
  const Symbol b = Symbol::intern(std::string("name") + "space");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.id(), b.id());
  EXPECT_EQ(a.view(), "namespace");
  EXPECT_EQ(b.str(), "namespace");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(std::hash<Symbol>()(a), std::hash<Symbol>()(b));
}

TEST(SymbolTest, DifferentTextsGiveDifferentHandles) {
  const Symbol a = Symbol::intern("pod");
  const Symbol b = Symbol::intern("Pod");
  const Symbol c = Symbol::intern("pod ");
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a.id(), b.id());
  EXPECT_EQ(c.view(), "pod ");
}

TEST(SymbolTest, TextWithEmbeddedNulIsKeptWhole) {
  const std::string text("a\0b", 3);
  const Symbol s = Symbol::intern(text);
  EXPECT_EQ(s.view(), text);
  EXPECT_NE(s, Symbol::intern("a"));
}

TEST(SymbolTest, EmptyTextIsTheNullHandle) {
  const Symbol def;
  const Symbol empty = Symbol::intern("");
  EXPECT_TRUE(def.empty());
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(def, empty);
  EXPECT_EQ(empty.id(), nullptr);
  EXPECT_EQ(empty.view(), "");
  EXPECT_EQ(empty.str(), "");
  EXPECT_NE(empty, Symbol::intern("x"));
}

TEST(SymbolTest, CopyAndMoveKeepTheHandle) {
  Symbol a = Symbol::intern("container");
  const void* id = a.id();
  Symbol copy(a);
  EXPECT_EQ(copy.id(), id);
  Symbol moved(std::move(copy));
  EXPECT_EQ(moved.id(), id);
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is null
  Symbol assigned;
  assigned = a;
  EXPECT_EQ(assigned.id(), id);
  const Symbol& alias = assigned;
  assigned = alias;  // self-assignment keeps it
  EXPECT_EQ(assigned.view(), "container");
  Symbol move_assigned = Symbol::intern("other");
  move_assigned = std::move(assigned);
  EXPECT_EQ(move_assigned.id(), id);
  EXPECT_EQ(move_assigned.view(), "container");
}

TEST(SymbolTest, WorksAsHashKey) {
  std::unordered_set<Symbol> set;
  set.insert(Symbol::intern("a"));
  set.insert(Symbol::intern("b"));
  set.insert(Symbol::intern("a"));
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(set.count(Symbol::intern("b")), 1u);
}

TEST(SymbolTest, LongAndBinaryTextsAreKeptWhole) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  const std::string long_text(100'000, 'q');
  const Symbol a = Symbol::intern(binary);
  const Symbol b = Symbol::intern(long_text);
  EXPECT_EQ(a.view(), binary);
  EXPECT_EQ(b.view(), long_text);
  EXPECT_EQ(Symbol::intern(std::string(binary)), a);
  EXPECT_NE(Symbol::intern(long_text.substr(1)), b);
}

TEST(SymbolTest, HandleIsA32BitId) {
  // The memory budget per series counts on this: a Label is two ids.
  EXPECT_EQ(sizeof(Symbol), 4u);
  EXPECT_EQ(sizeof(Label), 8u);
}

// ---------------------------------------------------------------------------
// Labels and LabelsBuilder

std::vector<std::pair<std::string, std::string>> pairsOf(const Labels& labels) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Label& l : labels) out.emplace_back(l.name.str(), l.value.str());
  return out;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(LabelsTest, BuildSortsByName) {
  const Labels labels = LabelsBuilder()
                            .set("pod", "web-1")
                            .set("cluster", "prod")
                            .set("namespace", "default")
                            .build();
  EXPECT_EQ(pairsOf(labels),
            (Pairs{{"cluster", "prod"}, {"namespace", "default"}, {"pod", "web-1"}}));
  EXPECT_EQ(labels.size(), 3u);
  EXPECT_FALSE(labels.empty());
}

TEST(LabelsTest, SortIsByteWise) {
  const Labels labels =
      LabelsBuilder().set("b", "1").set("B", "2").set("a_", "3").set("a", "4").build();
  EXPECT_EQ(pairsOf(labels), (Pairs{{"B", "2"}, {"a", "4"}, {"a_", "3"}, {"b", "1"}}));
}

TEST(LabelsTest, LastSetWins) {
  LabelsBuilder b;
  b.set("job", "a").set("instance", "x").set("job", "b");
  EXPECT_EQ(b.get("job"), "b");
  const Labels labels = b.set("job", "c").build();
  EXPECT_EQ(pairsOf(labels), (Pairs{{"instance", "x"}, {"job", "c"}}));
}

TEST(LabelsTest, LastSetWinsWithSymbols) {
  const Symbol job = Symbol::intern("job");
  const Labels labels =
      LabelsBuilder().set(job, Symbol::intern("first")).set(job, Symbol::intern("second")).build();
  EXPECT_EQ(pairsOf(labels), (Pairs{{"job", "second"}}));
}

TEST(LabelsTest, EmptyValuesAreDropped) {
  const Labels labels =
      LabelsBuilder().set("a", "1").set("b", "").set("c", "3").set("", "nameless").build();
  EXPECT_EQ(pairsOf(labels), (Pairs{{"a", "1"}, {"c", "3"}}));
  EXPECT_FALSE(labels.contains("b"));
  // Setting a value to "" removes the label.
  const Labels removed = LabelsBuilder().set("a", "1").set("a", "").build();
  EXPECT_TRUE(removed.empty());
  EXPECT_EQ(removed, Labels());
}

TEST(LabelsTest, EmptySetIsTheNullHandle) {
  const Labels built = LabelsBuilder().build();
  const Labels def;
  EXPECT_TRUE(built.empty());
  EXPECT_EQ(built, def);
  EXPECT_EQ(built.id(), nullptr);
  EXPECT_EQ(built.size(), 0u);
  EXPECT_EQ(built.begin(), built.end());
  EXPECT_EQ(built.get("x"), "");
}

TEST(LabelsTest, SetIfAbsentKeepsExistingValue) {
  const Symbol ns = Symbol::intern("namespace");
  const Symbol pod = Symbol::intern("pod");
  LabelsBuilder b;
  b.set("namespace", "kube-system");
  b.setIfAbsent(ns, Symbol::intern("default"));
  b.setIfAbsent(pod, Symbol::intern("web-1"));
  EXPECT_EQ(b.get("namespace"), "kube-system");
  EXPECT_EQ(b.get("pod"), "web-1");
  // A label set to "" counts as absent (it would be dropped by build()).
  b.set("node", "");
  b.setIfAbsent(Symbol::intern("node"), Symbol::intern("n1"));
  EXPECT_EQ(pairsOf(b.build()),
            (Pairs{{"namespace", "kube-system"}, {"node", "n1"}, {"pod", "web-1"}}));
}

TEST(LabelsTest, EraseRemovesTheLabel) {
  LabelsBuilder b;
  b.set("a", "1").set("b", "2").set("c", "3");
  b.erase("b").erase("not-there");
  EXPECT_EQ(b.get("b"), "");
  EXPECT_EQ(pairsOf(b.build()), (Pairs{{"a", "1"}, {"c", "3"}}));
}

TEST(LabelsTest, GetReturnsValueOrEmpty) {
  const Labels labels =
      LabelsBuilder().set("job", "kubelet").set("instance", "10.0.0.1:10250").build();
  EXPECT_EQ(labels.get("job"), "kubelet");
  EXPECT_EQ(labels.get("instance"), "10.0.0.1:10250");
  EXPECT_EQ(labels.get("missing"), "");
  EXPECT_EQ(labels.get(""), "");
  EXPECT_TRUE(labels.contains("job"));
  EXPECT_FALSE(labels.contains("missing"));
  LabelsBuilder b;
  EXPECT_EQ(b.get("job"), "");
  b.set("job", "x");
  EXPECT_EQ(b.get("job"), "x");
}

TEST(LabelsTest, EqualSetsShareOneNode) {
  const Labels a = LabelsBuilder().set("x", "1").set("y", "2").build();
  const Labels b = LabelsBuilder().set("y", "2").set("x", "1").build();  // other order
  const Labels c = LabelsBuilder().set("x", "1").set("y", "3").build();
  const Labels d = LabelsBuilder().set("x", "1").build();
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.id(), b.id());
  EXPECT_EQ(a.items().data(), b.items().data());  // literally the same storage
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  EXPECT_EQ(std::hash<Labels>()(a), std::hash<Labels>()(b));
  std::unordered_set<Labels> set{a, b, c, d};
  EXPECT_EQ(set.size(), 3u);
}

TEST(LabelsTest, ResetStartsFromABaseSet) {
  const Labels base = LabelsBuilder().set("job", "node").set("instance", "a:1").build();
  LabelsBuilder b(base);
  b.set("cluster", "prod").set("job", "node2");
  const Labels derived = b.build();
  EXPECT_EQ(pairsOf(derived), (Pairs{{"cluster", "prod"}, {"instance", "a:1"}, {"job", "node2"}}));
  EXPECT_EQ(pairsOf(base), (Pairs{{"instance", "a:1"}, {"job", "node"}}));  // unchanged
  b.reset(base);
  EXPECT_EQ(b.build(), base);
  b.clear();
  EXPECT_TRUE(b.build().empty());
}

TEST(LabelsTest, BuilderIsReusableAfterBuild) {
  LabelsBuilder b;
  const Labels first = b.set("b", "2").set("a", "1").build();
  const Labels second = b.set("c", "3").build();
  EXPECT_EQ(pairsOf(first), (Pairs{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(pairsOf(second), (Pairs{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
}

TEST(LabelsTest, CopyAndMoveKeepTheHandle) {
  Labels a = LabelsBuilder().set("k", "v").build();
  const void* id = a.id();
  Labels copy(a);
  Labels moved(std::move(copy));
  EXPECT_EQ(moved.id(), id);
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is null
  Labels assigned;
  assigned = a;
  const Labels& alias = assigned;
  assigned = alias;  // self-assignment keeps it
  EXPECT_EQ(assigned.id(), id);
  Labels move_assigned = LabelsBuilder().set("k", "w").build();
  move_assigned = std::move(assigned);
  EXPECT_EQ(move_assigned.id(), id);
  EXPECT_EQ(move_assigned.get("k"), "v");
}

TEST(LabelsTest, LargeSetsKeepEveryLabel) {
  LabelsBuilder b;
  for (int i = 299; i >= 0; --i) {
    char name[16];
    std::snprintf(name, sizeof name, "label_%03d", i);
    b.set(name, std::to_string(i));
  }
  const Labels labels = b.build();
  ASSERT_EQ(labels.size(), 300u);
  for (int i = 0; i < 300; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "label_%03d", i);
    EXPECT_EQ(labels.items()[i].name.view(), name);
    EXPECT_EQ(labels.get(name), std::to_string(i));
  }
  EXPECT_EQ(LabelsBuilder(labels).build(), labels);
}

TEST(LabelsTest, SortedInputKeepsItsOrder) {
  // build() skips the sort when labels arrive sorted; both ways agree.
  const Labels sorted = LabelsBuilder().set("a", "1").set("b", "2").set("c", "3").build();
  const Labels reversed = LabelsBuilder().set("c", "3").set("b", "2").set("a", "1").build();
  EXPECT_EQ(sorted, reversed);
  EXPECT_EQ(pairsOf(sorted), (Pairs{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
  // Names sharing a first byte, and one a prefix of another.
  const Labels shared = LabelsBuilder().set("ab", "1").set("a", "2").set("aa", "3").build();
  EXPECT_EQ(pairsOf(shared), (Pairs{{"a", "2"}, {"aa", "3"}, {"ab", "1"}}));
  // Bytes above 0x7f sort after ASCII, as in std::string's <.
  const Labels high = LabelsBuilder().set("\xc3\xa9", "1").set("z", "2").build();
  EXPECT_EQ(pairsOf(high), (Pairs{{"z", "2"}, {"\xc3\xa9", "1"}}));
}

// ---------------------------------------------------------------------------
// sweepInterned()

TEST(SweepInternedTest, FreesUnreferencedSymbols) {
  sweepInterned();
  const std::size_t base = internedSymbolCount();
  {
    std::vector<Symbol> held;
    for (int i = 0; i < 100; ++i) held.push_back(Symbol::intern("sweep-sym-" + std::to_string(i)));
    held.push_back(Symbol::intern("sweep-sym-0"));  // not a new text
    EXPECT_EQ(internedSymbolCount(), base + 100);
    EXPECT_EQ(sweepInterned(), 0u);  // all referenced
    EXPECT_EQ(internedSymbolCount(), base + 100);
  }
  EXPECT_EQ(internedSymbolCount(), base + 100);  // dropping handles frees nothing yet
  EXPECT_EQ(sweepInterned(), 100u);
  EXPECT_EQ(internedSymbolCount(), base);
  EXPECT_EQ(sweepInterned(), 0u);
}

TEST(SweepInternedTest, NeverFreesReferencedSymbols) {
  sweepInterned();
  const std::size_t base = internedSymbolCount();
  const Symbol kept = Symbol::intern("sweep-kept");
  const void* id = kept.id();
  { const Symbol dropped = Symbol::intern("sweep-dropped"); }
  EXPECT_EQ(internedSymbolCount(), base + 2);
  EXPECT_EQ(sweepInterned(), 1u);
  EXPECT_EQ(internedSymbolCount(), base + 1);
  EXPECT_EQ(kept.view(), "sweep-kept");
  EXPECT_EQ(Symbol::intern("sweep-kept").id(), id);  // still the pooled one
  EXPECT_EQ(internedSymbolCount(), base + 1);
  // A swept text comes back as a fresh entry when interned again.
  const Symbol again = Symbol::intern("sweep-dropped");
  EXPECT_EQ(again.view(), "sweep-dropped");
  EXPECT_EQ(internedSymbolCount(), base + 2);
}

TEST(SweepInternedTest, FreesUnreferencedLabelSetsThenTheirTexts) {
  sweepInterned();
  const std::size_t base_sets = internedLabelSetCount();
  const std::size_t base_syms = internedSymbolCount();
  std::optional<Labels> labels;
  {
    LabelsBuilder b;
    b.set("sweep-n1", "sweep-v1").set("sweep-n2", "sweep-v2").set("sweep-n3", "sweep-v3");
    labels = b.build();
    EXPECT_EQ(LabelsBuilder()
                  .set("sweep-n2", "sweep-v2")
                  .set("sweep-n1", "sweep-v1")
                  .set("sweep-n3", "sweep-v3")
                  .build(),
              *labels);
  }
  EXPECT_EQ(internedLabelSetCount(), base_sets + 1);
  EXPECT_EQ(internedSymbolCount(), base_syms + 6);
  // Only the set references the texts now: nothing may go.
  EXPECT_EQ(sweepInterned(), 0u);
  EXPECT_EQ(internedLabelSetCount(), base_sets + 1);
  EXPECT_EQ(internedSymbolCount(), base_syms + 6);
  EXPECT_EQ(labels->get("sweep-n2"), "sweep-v2");
  // Dropping the set frees it and, in the same sweep, its texts.
  labels.reset();
  EXPECT_EQ(sweepInterned(), 7u);
  EXPECT_EQ(internedLabelSetCount(), base_sets);
  EXPECT_EQ(internedSymbolCount(), base_syms);
}

TEST(SweepInternedTest, KeepsTextsReferencedOutsideASweptSet) {
  sweepInterned();
  const std::size_t base_sets = internedLabelSetCount();
  const std::size_t base_syms = internedSymbolCount();
  const Symbol name = Symbol::intern("sweep-keep-name");
  { const Labels gone = LabelsBuilder().set("sweep-keep-name", "sweep-keep-value").build(); }
  EXPECT_EQ(internedLabelSetCount(), base_sets + 1);
  EXPECT_EQ(sweepInterned(), 2u);  // the set and its value text
  EXPECT_EQ(internedLabelSetCount(), base_sets);
  EXPECT_EQ(internedSymbolCount(), base_syms + 1);
  EXPECT_EQ(name.view(), "sweep-keep-name");
  EXPECT_EQ(Symbol::intern("sweep-keep-name"), name);
}

TEST(SweepInternedTest, KeepsLabelSetsHeldByCopies) {
  sweepInterned();
  const std::size_t base_sets = internedLabelSetCount();
  Labels copy;
  {
    const Labels original = LabelsBuilder().set("sweep-copy", "1").build();
    copy = original;
  }
  EXPECT_EQ(sweepInterned(), 0u);
  EXPECT_EQ(internedLabelSetCount(), base_sets + 1);
  EXPECT_EQ(copy.get("sweep-copy"), "1");
  EXPECT_EQ(LabelsBuilder().set("sweep-copy", "1").build(), copy);
}

TEST(SweepInternedTest, SurvivorsStayFindableAfterPartialSweeps) {
  // Enough entries to grow every shard's table several times; sweeping a
  // scattered part of them shifts survivors in their tables, and sweeping
  // most of them shrinks the tables. Each survivor must still be found
  // (same handle) and each swept text come back as a new entry.
  sweepInterned();
  const std::size_t base_sets = internedLabelSetCount();
  const std::size_t base_syms = internedSymbolCount();
  constexpr int kCount = 20'000;
  const auto text = [](int i) { return "partial-" + std::to_string(i); };
  std::vector<Symbol> symbols;
  std::vector<Labels> sets;
  for (int i = 0; i < kCount; ++i) {
    symbols.push_back(Symbol::intern(text(i)));
    sets.push_back(LabelsBuilder().set("partial", text(i)).set("job", "partial").build());
  }
  EXPECT_EQ(internedSymbolCount(), base_syms + kCount + 2);  // and "partial", "job"
  EXPECT_EQ(internedLabelSetCount(), base_sets + kCount);
  for (const int keep_one_in : {3, 7, 50}) {
    std::size_t kept = 0;
    for (int i = 0; i < kCount; ++i) {
      if ((i * 7919) % keep_one_in != 0) {
        symbols[i] = Symbol();
        sets[i] = Labels();
      } else if (!symbols[i].empty()) {
        ++kept;
      }
    }
    sweepInterned();
    EXPECT_EQ(internedLabelSetCount(), base_sets + kept) << keep_one_in;
    EXPECT_EQ(internedSymbolCount(), base_syms + kept + 2) << keep_one_in;
    for (int i = 0; i < kCount; ++i) {
      if (symbols[i].empty()) continue;
      ASSERT_EQ(symbols[i].view(), text(i));
      ASSERT_EQ(Symbol::intern(text(i)), symbols[i]) << i;
      ASSERT_EQ(LabelsBuilder().set("job", "partial").set("partial", text(i)).build(), sets[i])
          << i;
      ASSERT_EQ(sets[i].get("partial"), text(i));
    }
    EXPECT_EQ(internedSymbolCount(), base_syms + kept + 2);  // nothing new
  }
  // Swept texts and sets come back as new entries, with their contents.
  std::vector<std::pair<int, Labels>> again;
  for (int i = 0; i < kCount; i += 97) {
    if (symbols[i].empty()) {
      again.emplace_back(i, LabelsBuilder().set("partial", text(i)).set("job", "partial").build());
    }
  }
  ASSERT_FALSE(again.empty());
  for (const auto& [i, set] : again) {
    EXPECT_EQ(set.get("partial"), text(i));
    EXPECT_EQ(set.get("job"), "partial");
  }
  again.clear();
  symbols.clear();
  sets.clear();
  sweepInterned();
  EXPECT_EQ(internedLabelSetCount(), base_sets);
  EXPECT_EQ(internedSymbolCount(), base_syms);
}

// ---------------------------------------------------------------------------
// Concurrency: 4 interning threads and a sweeper.

#if defined(KM_INTERN_TEST_TSAN)
constexpr int kIterations = 20'000;
#else
constexpr int kIterations = 100'000;
#endif
constexpr int kWorkers = 4;
constexpr int kShared = 16;  // texts and sets every worker interns
constexpr int kWindow = 32;  // handles each worker keeps alive for a while
constexpr int kSlots = 8;    // sets passed between workers

struct Failures {
  std::atomic<std::uint64_t> symbol_text{0};      // a Symbol's text changed
  std::atomic<std::uint64_t> symbol_identity{0};  // equal texts gave unequal handles
  std::atomic<std::uint64_t> labels_content{0};   // a Labels' contents changed
  std::atomic<std::uint64_t> labels_identity{0};  // equal sets gave unequal handles
};

std::string sharedText(int k) { return "shared-text-" + std::to_string(k); }

TEST(InternConcurrencyTest, InterningRacesSweeperSafely) {
  sweepInterned();
  const std::size_t base_sets = internedLabelSetCount();
  const std::size_t base_syms = internedSymbolCount();
  const auto deadline = Clock::now() + std::chrono::seconds(90);

  // Handles held for the whole test: interning the same texts must keep
  // returning these, however often the sweeper runs.
  std::vector<Symbol> pinned;
  for (int k = 0; k < kShared; ++k) pinned.push_back(Symbol::intern(sharedText(k)));
  Labels pinned_set = LabelsBuilder().set("job", "pinned").set("instance", "pinned:1").build();

  // Sets handed from worker to worker, so handles are copied and dropped on
  // threads other than the one that interned them.
  std::mutex slots_mu;
  std::array<Labels, kSlots> slots;

  Failures failures;
  std::atomic<int> workers_running{kWorkers};
  std::atomic<bool> timed_out{false};
  std::atomic<std::uint64_t> swept{0};
  std::atomic<std::uint64_t> sweeps{0};

  std::thread sweeper([&] {
    // Bounded in count as well as time.
    for (int i = 0; i < 1'000'000 && workers_running.load() > 0; ++i) {
      if (Clock::now() >= deadline) {
        timed_out.store(true);
        break;
      }
      swept.fetch_add(sweepInterned());
      sweeps.fetch_add(1);
      std::this_thread::yield();
    }
  });

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::vector<std::pair<Symbol, std::string>> symbols(kWindow);
      std::vector<std::pair<Labels, std::string>> sets(kWindow);
      LabelsBuilder builder;
      for (int i = 0; i < kIterations; ++i) {
        if (i % 256 == 0 && Clock::now() >= deadline) {
          timed_out.store(true);
          break;
        }
        const int k = i % kShared;
        // Same text from every thread: must be the pinned handle.
        const Symbol shared = Symbol::intern(sharedText(k));
        if (shared != pinned[k]) failures.symbol_identity.fetch_add(1);
        if (shared.view() != sharedText(k)) failures.symbol_text.fetch_add(1);

        // A text of this thread that cycles (freed and re-interned over and
        // over) and one never seen again (certainly freed).
        const std::string own_text = "worker-" + std::to_string(w) + "-" + std::to_string(i % 97);
        const std::string unique_text = "unique-" + std::to_string(w) + "-" + std::to_string(i);
        Symbol own = Symbol::intern(own_text);
        const Symbol unique = Symbol::intern(unique_text);
        if (Symbol::intern(own_text) != own) failures.symbol_identity.fetch_add(1);
        if (unique.view() != unique_text) failures.symbol_text.fetch_add(1);

        // A set shared by all threads and one of this thread.
        builder.clear();
        builder.set("job", sharedText(k))
            .set("instance", own_text)
            .set("node", "n" + std::to_string(i % 3));
        const Labels set = builder.build();
        builder.clear();
        builder.set("node", "n" + std::to_string(i % 3))
            .set("instance", own_text)
            .set("job", sharedText(k));
        if (builder.build() != set) failures.labels_identity.fetch_add(1);
        if (set.get("job") != sharedText(k) || set.get("instance") != own_text || set.size() != 3) {
          failures.labels_content.fetch_add(1);
        }
        if (LabelsBuilder().set("instance", "pinned:1").set("job", "pinned").build() !=
            pinned_set) {
          failures.labels_identity.fetch_add(1);
        }

        // Keep a window of handles alive across sweeps, checking the one that
        // is about to be replaced.
        auto& [old_sym, old_sym_text] = symbols[i % kWindow];
        if (old_sym.view() != old_sym_text) failures.symbol_text.fetch_add(1);
        old_sym = std::move(own);
        old_sym_text = own_text;
        auto& [old_set, old_set_job] = sets[i % kWindow];
        if (old_set.get("job") != old_set_job) failures.labels_content.fetch_add(1);
        old_set = set;
        old_set_job = sharedText(k);

        // Swap a set with the other workers.
        Labels from_other;
        {
          std::lock_guard<std::mutex> lock(slots_mu);
          from_other = std::exchange(slots[(i + w) % kSlots], set);
        }
        if (!from_other.empty()) {
          LabelsBuilder rebuilt;
          for (const Label& l : from_other) rebuilt.set(l.name, l.value);
          if (rebuilt.build() != from_other) failures.labels_identity.fetch_add(1);
          if (from_other.size() != 3 || from_other.get("job").substr(0, 12) != "shared-text-") {
            failures.labels_content.fetch_add(1);
          }
        }
      }
      workers_running.fetch_sub(1);
    });
  }
  for (std::thread& t : workers) t.join();
  sweeper.join();

  EXPECT_FALSE(timed_out.load()) << "did not finish in time";
  EXPECT_EQ(failures.symbol_text.load(), 0u);
  EXPECT_EQ(failures.symbol_identity.load(), 0u);
  EXPECT_EQ(failures.labels_content.load(), 0u);
  EXPECT_EQ(failures.labels_identity.load(), 0u);
  EXPECT_GT(sweeps.load(), 0u);
  EXPECT_GT(swept.load(), 0u) << "the sweeper never freed anything while workers ran";
  for (int k = 0; k < kShared; ++k) EXPECT_EQ(pinned[k].view(), sharedText(k));
  EXPECT_EQ(pinned_set.get("job"), "pinned");

  // Dropping every handle returns the pools to where they started.
  for (Labels& slot : slots) slot = Labels();
  pinned.clear();
  pinned_set = Labels();
  sweepInterned();
  EXPECT_EQ(internedLabelSetCount(), base_sets);
  EXPECT_EQ(internedSymbolCount(), base_syms);
}

TEST(InternConcurrencyTest, ManyNewTextsFromManyThreads) {
  // Threads creating texts at once grow the pools' tables and the symbol id
  // table together (its chunks are shared between shards).
  sweepInterned();
  const std::size_t base_syms = internedSymbolCount();
#if defined(KM_INTERN_TEST_TSAN)
  constexpr int kPerThread = 10'000;
#else
  constexpr int kPerThread = 40'000;
#endif
  const auto text = [](int w, int i) {
    return "many-" + std::to_string(w) + "-" + std::to_string(i);
  };
  std::vector<std::vector<Symbol>> held(kWorkers);
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < kPerThread; ++i) held[w].push_back(Symbol::intern(text(w, i)));
    });
  }
  for (std::thread& t : workers) t.join();
  workers.clear();
  EXPECT_EQ(internedSymbolCount(), base_syms + kWorkers * kPerThread);
  // Each thread checks another's handles.
  std::atomic<int> mismatches{0};
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      const int other = (w + 1) % kWorkers;
      for (int i = 0; i < kPerThread; ++i) {
        if (held[other][i].view() != text(other, i) ||
            Symbol::intern(text(other, i)) != held[other][i]) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  held.clear();
  EXPECT_EQ(sweepInterned(), static_cast<std::size_t>(kWorkers * kPerThread));
  EXPECT_EQ(internedSymbolCount(), base_syms);
}

}  // namespace
}  // namespace kubemetrics
