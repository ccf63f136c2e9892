#include "kubemetrics/symbol.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "common/core/intern_pool.h"
#include "common/core/symbol_prefetch.h"

namespace kubemetrics {
namespace detail {
namespace {

// One allocation per text: this header, then the bytes (no terminator).
// Texts of 4 GiB or more (far beyond any scrape's body limit) keep their
// size in a size_t after the header instead.
struct SymbolNode {
  std::atomic<std::uint32_t> refs{0};
  std::uint32_t size = 0;  // kLongText: see above

  static constexpr std::uint32_t kLongText = 0xffffffff;

  std::string_view text() const {
    const auto* bytes = reinterpret_cast<const char*>(this + 1);
    if (size != kLongText) return {bytes, size};
    std::size_t long_size;
    std::memcpy(&long_size, bytes, sizeof long_size);
    return {bytes + sizeof long_size, long_size};
  }

  static SymbolNode* create(std::string_view text) {
    const bool long_text = text.size() >= kLongText;
    const std::size_t prefix = long_text ? sizeof(std::size_t) : 0;
    void* memory = ::operator new(sizeof(SymbolNode) + prefix + text.size());
    auto* node = new (memory) SymbolNode();
    auto* bytes = reinterpret_cast<char*>(node + 1);
    if (long_text) {
      node->size = kLongText;
      const std::size_t long_size = text.size();
      std::memcpy(bytes, &long_size, sizeof long_size);
    } else {
      node->size = static_cast<std::uint32_t>(text.size());
    }
    std::memcpy(bytes + prefix, text.data(), text.size());
    return node;
  }
  static void destroy(SymbolNode* node) {
    node->~SymbolNode();
    ::operator delete(node);
  }
};

std::uint64_t hashText(std::string_view text) { return std::hash<std::string_view>()(text); }

// The id table: id -> node, read without a lock by every handle operation.
// Two levels so that it grows without moving: a directory of chunks, each
// allocated when first needed and never freed (like the pool). The
// directory is zero-initialized static storage, so the untouched part costs
// address space only.
//
// A slot holds the node's address, or for a free id the next free id of the
// same shard, as (id << 1) | 1. Slots are written under the mutex of the
// id's shard and read by holders of a handle to that id: whoever holds one
// got it from intern() or from another holder, so the write happens before
// the read, and the slot cannot change while any handle exists (the node's
// count is not zero, so sweep() leaves it).
constexpr unsigned kChunkBits = 14;  // 16,384 slots (128 KiB) a chunk
constexpr std::size_t kChunkSlots = std::size_t{1} << kChunkBits;
constexpr std::size_t kChunks = (std::size_t{1} << 32) / kChunkSlots;

constinit std::array<std::atomic<std::uintptr_t*>, kChunks> id_chunks{};

std::uintptr_t& slotOf(std::uint32_t id) {
  return id_chunks[id >> kChunkBits].load(std::memory_order_acquire)[id & (kChunkSlots - 1)];
}

SymbolNode* nodeOf(std::uint32_t id) { return reinterpret_cast<SymbolNode*>(slotOf(id)); }

// A shard's part of the id space: ids `k * kShards + shard + 1` (0 is "").
struct IdSpace {
  std::uint32_t next = 0;       // k of the next id never used
  std::uint32_t free_head = 0;  // the last freed id, 0 when none
};

struct SymbolTraits {
  using Ref = std::uint32_t;  // the id
  using Key = std::string_view;
  using ShardState = IdSpace;
  static std::atomic<std::uint32_t>& refs(Ref id) { return nodeOf(id)->refs; }
  static std::uint64_t hash(Ref id) { return hashText(nodeOf(id)->text()); }
  static bool equals(Ref id, const Key& key) { return nodeOf(id)->text() == key; }
  static void destroy(Ref id, IdSpace& ids) {
    std::uintptr_t& slot = slotOf(id);
    SymbolNode::destroy(reinterpret_cast<SymbolNode*>(slot));
    slot = (std::uintptr_t{ids.free_head} << 1) | 1;
    ids.free_head = id;
  }
};

using SymbolPool = InternPool<SymbolTraits>;

// Creates the node for `text` and gives it an id of shard `shard`.
std::uint32_t makeSymbol(std::string_view text, IdSpace& ids, std::size_t shard) {
  const bool reuse = ids.free_head != 0;
  std::uint32_t id = ids.free_head;
  if (!reuse) {
    const std::uint64_t fresh = std::uint64_t{ids.next} * SymbolPool::kShards + shard + 1;
    // 4 G texts would need hundreds of GiB first; running out is a bug.
    if (fresh > std::numeric_limits<std::uint32_t>::max()) std::abort();
    id = static_cast<std::uint32_t>(fresh);
    std::atomic<std::uintptr_t*>& chunk = id_chunks[id >> kChunkBits];
    if (chunk.load(std::memory_order_acquire) == nullptr) {
      // Shards share chunks: the first to need one installs it.
      auto fresh_chunk = std::make_unique<std::uintptr_t[]>(kChunkSlots);
      std::uintptr_t* expected = nullptr;
      if (chunk.compare_exchange_strong(expected, fresh_chunk.get(), std::memory_order_acq_rel)) {
        fresh_chunk.release();  // never freed, like the pool
      }
    }
  }
  SymbolNode* node = SymbolNode::create(text);  // may throw: take the id only after
  std::uintptr_t& slot = slotOf(id);
  if (reuse) {
    ids.free_head = static_cast<std::uint32_t>(slot >> 1);
  } else {
    ++ids.next;
  }
  slot = reinterpret_cast<std::uintptr_t>(node);
  return id;
}

SymbolPool& symbolPool() {
  // Leaked on purpose: handles in static objects may outlive any destructor
  // order we could choose.
  static auto* pool = new SymbolPool();
  return *pool;
}

}  // namespace

std::size_t sweepSymbols() { return symbolPool().sweep(); }

}  // namespace detail

Symbol Symbol::intern(std::string_view text) {
  if (text.empty()) return Symbol();
  return Symbol(detail::symbolPool().intern(text, detail::hashText(text),
                                            [&](detail::IdSpace& ids, std::size_t shard) {
                                              return detail::makeSymbol(text, ids, shard);
                                            }));
}

Symbol::Symbol(const Symbol& other) noexcept : id_(other.id_) { detail::SymbolPool::acquire(id_); }

Symbol& Symbol::operator=(const Symbol& other) noexcept {
  detail::SymbolPool::acquire(other.id_);
  detail::SymbolPool::release(id_);
  id_ = other.id_;
  return *this;
}

Symbol& Symbol::operator=(Symbol&& other) noexcept {
  if (this != &other) {
    detail::SymbolPool::release(id_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

Symbol::~Symbol() { detail::SymbolPool::release(id_); }

std::string_view Symbol::view() const {
  return id_ != 0 ? detail::nodeOf(id_)->text() : std::string_view();
}

std::size_t internedSymbolCount() { return detail::symbolPool().size(); }

void prefetchSymbolSlots(std::span<const Label> labels) {
  for (const Label& label : labels) {
    for (const Symbol* symbol : {&label.name, &label.value}) {
      const auto id = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(symbol->id()));
      if (id != 0) __builtin_prefetch(&detail::slotOf(id));
    }
  }
}

void prefetchSymbolTexts(std::span<const Label> labels) {
  for (const Label& label : labels) {
    for (const Symbol* symbol : {&label.name, &label.value}) {
      const auto id = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(symbol->id()));
      if (id != 0) __builtin_prefetch(detail::nodeOf(id));
    }
  }
}

}  // namespace kubemetrics
