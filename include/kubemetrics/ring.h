#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

namespace kubemetrics {

/// A bounded, lock-free multi-producer multi-consumer ring (Vyukov's bounded
/// MPMC queue): every cell carries a sequence number that tells producers and
/// consumers whose turn it is, so neither side takes a mutex and each
/// operation is one CAS on the shared head or tail plus one release store on
/// the cell.
///
/// Memory orders: a producer claims a cell with a relaxed CAS on `tail_`,
/// writes the item, then publishes it with a release store of the cell's
/// sequence; a consumer's acquire load of that sequence makes the item
/// visible, and its own release store hands the cell back to producers.
///
/// Full: tryPush() returns false and leaves the ring untouched; the caller
/// owns the policy (the pipeline drops newest by default, or pops the oldest
/// to make room) and counts what it drops. Empty: tryPop() returns nullopt;
/// waitPop() sleeps until a push or the timeout. Sleeping uses an event
/// count: a consumer registers in `sleepers_` before its last look, and a
/// producer that sees a sleeper after publishing takes the sleep mutex to
/// notify. A busy pipeline has no sleepers, so pushes and pops there never
/// touch a mutex; an idle one costs no CPU.
///
/// Any number of producers and consumers. Items keep FIFO order per producer
/// as observed by any one consumer. T must be trivially copyable (the
/// pipeline stores batch pointers). Capacity is rounded up to a power of two.
template <class T>
class BoundedRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit BoundedRing(std::size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1),
        cells_(std::make_unique<Cell[]>(mask_ + 1)) {
    for (std::size_t i = 0; i <= mask_; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
  }
  BoundedRing(const BoundedRing&) = delete;
  BoundedRing& operator=(const BoundedRing&) = delete;

  /// Appends `item`; false when the ring is full.
  bool tryPush(T item) {
    Cell* cell;
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      cell = &cells_[pos & mask_];
      const std::size_t seq = cell->sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        return false;  // the cell still holds an item a lap behind: full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
    cell->item = item;
    cell->sequence.store(pos + 1, std::memory_order_release);
    // Pairs with the fence in waitPop(): either the sleeper sees this item
    // or this load sees the sleeper.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_relaxed) > 0) {
      std::lock_guard<std::mutex> lock(sleep_mu_);
      wake_.notify_one();
    }
    return true;
  }

  /// Removes the oldest item; nullopt when the ring is empty.
  std::optional<T> tryPop() {
    Cell* cell;
    std::size_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      cell = &cells_[pos & mask_];
      const std::size_t seq = cell->sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
      if (diff == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        return std::nullopt;  // nothing published in this cell yet: empty
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
    T item = cell->item;
    cell->sequence.store(pos + mask_ + 1, std::memory_order_release);
    return item;
  }

  /// Like tryPop(), but when empty sleeps until a push, wakeAll() or
  /// `timeout`; nullopt when nothing arrived.
  std::optional<T> waitPop(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    // A wakeAll() after this point ends the call, even one that lands before
    // we sleep. Without it a woken consumer could not tell wakeAll() from a
    // lost race for a pushed item and would sleep again until the timeout.
    const std::uint64_t epoch = wake_epoch_.load(std::memory_order_relaxed);
    for (;;) {
      if (auto item = spinPop()) return item;
      std::unique_lock<std::mutex> lock(sleep_mu_);
      if (wake_epoch_.load(std::memory_order_relaxed) != epoch) return tryPop();
      sleepers_.fetch_add(1, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      auto item = tryPop();
      const bool timed_out = !item && wake_.wait_until(lock, until) == std::cv_status::timeout;
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      if (item) return item;
      if (timed_out || wake_epoch_.load(std::memory_order_relaxed) != epoch) return tryPop();
    }
  }

  /// Ends every waitPop() call in progress (used at shutdown); each returns
  /// an item if one is there, else nullopt.
  void wakeAll() {
    std::lock_guard<std::mutex> lock(sleep_mu_);
    wake_epoch_.fetch_add(1, std::memory_order_relaxed);
    wake_.notify_all();
  }

  std::size_t capacity() const { return mask_ + 1; }
  /// How many yields the next waitPop() spins for before it sleeps.
  int spinsForTest() const { return spins_.load(std::memory_order_relaxed); }
  /// Items in the ring; exact only when no thread is pushing or popping.
  std::size_t sizeApprox() const {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    const std::size_t head = head_.load(std::memory_order_relaxed);
    return tail >= head ? tail - head : 0;
  }

 private:
  static constexpr int kMaxSpins = 64;
  static constexpr int kMinSpins = 2;

  // Looks for an item, then again after each of up to spins_ yields of the
  // CPU. When producers and consumers run at the same pace the next item is
  // usually a few hundred nanoseconds away, and sleeping would make every
  // push pay for a wake-up. But when items come seldom (a proxy's requests,
  // a scrape's batches) each yield in vain is a system call, costly under a
  // hypervisor (3% of the agent's CPU as a remote-write proxy on a cloud
  // VM), and the push that ends the sleep wakes the consumer anyway. So the
  // spin adapts: back to its full length when spinning found an item,
  // halved (down to kMinSpins) when it did not.
  std::optional<T> spinPop() {
    if (auto item = tryPop()) return item;
    const int spins = spins_.load(std::memory_order_relaxed);
    for (int spin = 0; spin < spins; ++spin) {
      std::this_thread::yield();
      if (auto item = tryPop()) {
        if (spins != kMaxSpins) spins_.store(kMaxSpins, std::memory_order_relaxed);
        return item;
      }
    }
    if (spins != kMinSpins) spins_.store(std::max(spins / 2, kMinSpins), std::memory_order_relaxed);
    return std::nullopt;
  }

  struct alignas(64) Cell {
    std::atomic<std::size_t> sequence{0};
    T item{};
  };

  const std::size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> sleepers_{0};
  // How long waitPop() spins before it sleeps (spinPop()); shared by the
  // consumers, as they see the same pace of pushes.
  std::atomic<int> spins_{kMaxSpins};
  // Bumped by wakeAll() under sleep_mu_, so sleepers read it race-free there.
  std::atomic<std::uint64_t> wake_epoch_{0};
  std::mutex sleep_mu_;
  std::condition_variable wake_;
};

}  // namespace kubemetrics
