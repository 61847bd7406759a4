#include "sim/world.hpp"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <cstring>
#include <set>
#include <sstream>

#include "protocol/assert.hpp"
#include "protocol/frame_splitter.hpp"
#include "sim/detail/io_state.hpp"
#include "sim/frame_fate.hpp"
#include "sim/wide_int.hpp"

namespace syncsim::sim {

using boost::system::error_code;
namespace aerr = boost::asio::error;
using detail::Completion;
using detail::ConnEnd;
using detail::LifeRef;

Duration sample_latency(const LinkParams& p, Prng& rng) {
  Duration d = p.latency;
  if (p.jitter > 0) d += rng.between(0, p.jitter);
  if (!p.tail.is_never() && rng.chance(p.tail)) d += rng.exponential(p.tail_mean);
  return d;
}

std::string_view stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Quiescent: return "quiescent";
    case StopReason::TimeReached: return "time reached";
    case StopReason::PredicateMet: return "condition met";
    case StopReason::BudgetExhausted: return "event budget exhausted";
    case StopReason::Stalled: return "stalled (too many events at one instant)";
    case StopReason::Deadlock: return "deadlock (nothing pending, condition not met)";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Internal state
// ---------------------------------------------------------------------------

namespace detail {

inline constexpr std::uint64_t kUnordered = UINT64_MAX;

struct Unit {
  std::vector<std::uint8_t> bytes;
  bool fin = false;
  std::uint64_t seq = kUnordered;  // byte-stream units are delivered in seq order
  // A relayed frame: how many byte-stream units were written before it. It
  // is never read before them, so it cannot land inside a frame of theirs.
  std::uint64_t after_seq = 0;
};

// One direction of a connection: bytes written by `from`, read by `to`.
struct Pipe {
  NodeId from = 0, to = 0;
  std::vector<std::uint8_t> rx;  // arrived, unread: rx[rx_off..]
  std::size_t rx_off = 0;
  std::size_t in_flight = 0;
  Time last_arrival = 0;         // byte-stream order: arrivals never overtake
  Time last_relay_arrival = -1;  // the latest arrival of a relayed frame
  bool fin_sent = false, fin_arrived = false;
  bool peer_gone = false;  // data reached a closed end: the writer gets broken_pipe
  std::vector<boost::asio::mutable_buffer> read_bufs;
  Completion<error_code, std::size_t> read_op;
  std::vector<boost::asio::const_buffer> write_bufs;
  Completion<error_code, std::size_t> write_op;
  protocol::FrameSplitter relay;        // frame relay: splits what `from` writes
  bool relay_off = false;               // not frames after all (FRAME-9): pass bytes through
  std::deque<Unit> held;                // waiting for a partition to heal
  std::uint64_t next_send_seq = 0;      // byte stream: numbering of units as written
  std::uint64_t next_recv_seq = 0;      // the next unit the reader may see
  std::map<std::uint64_t, Unit> early;  // arrived ahead of a unit still delayed
  std::deque<Unit> after_stream;        // relayed frames waiting for earlier stream units
  std::size_t read_limit = SIZE_MAX;    // an injected short read: the next read's most bytes
  std::size_t write_limit = SIZE_MAX;   // an injected short write

  std::size_t unread() const { return rx.size() - rx_off; }
  // A unit left the wire (arrived, dropped or rescheduled): n of its bytes
  // stop counting against the window.
  void landed(std::size_t n) {
    SYNCSIM_ASSERT_MSG(n <= in_flight, "more bytes landed than were in flight");
    in_flight -= n;
  }
};

struct Connection {
  std::uint64_t id = 0;
  std::uint16_t port[2] = {0, 0};  // side 0: ephemeral; side 1: the listening port
  Pipe pipe[2];                    // pipe[s] carries what side s writes
  LifeRef life[2];
  bool closed[2] = {false, false};
  bool reset = false;
};

void SocketState::drop_handlers() {
  connect_op.drop();
  if (end) {
    end.conn->pipe[1 - end.side].read_op.drop();
    end.conn->pipe[end.side].write_op.drop();
  }
}

}  // namespace detail

struct World::Impl {
  struct Node {
    std::string name;
    NodeClock clock;
    BootFn boot_fn;
    LifeRef life;
    std::unique_ptr<boost::asio::io_context> ioc;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::shared_ptr<void> process;
    Disk disk;
    std::map<std::string, Prng, std::less<>> rngs;
    std::vector<std::weak_ptr<detail::IoState>> io;
    std::map<std::uint16_t, std::weak_ptr<detail::AcceptorState>> listeners;
    bool ready = false;
    bool up = false;
    std::uint16_t next_ephemeral = 40000;
    Host host;
  };
  using Dir = std::pair<NodeId, NodeId>;

  World& w;
  std::vector<std::unique_ptr<Node>> nodes;
  std::map<Dir, LinkParams> links;
  std::map<Dir, Prng> link_rngs;
  std::map<Dir, Time> busy_until;  // bandwidth: when the direction's wire is free
  std::set<Dir> blocked;
  std::map<Dir, Time> clogged_until;
  std::map<std::uint64_t, std::weak_ptr<detail::Connection>> conns;
  std::vector<NodeId> ready;
  std::uint64_t next_conn = 1;
  std::uint64_t next_timer = 1;
  Prng fault_rng;

  explicit Impl(World& world) : w(world), fault_rng(Prng::stream(world.seed(), "faults")) {}

  Node& node(NodeId id) { return *nodes.at(id); }
  const std::string& name(NodeId id) { return nodes.at(id)->name; }

  // Read-only view: an unconfigured direction uses the default link.
  const LinkParams& link(NodeId from, NodeId to) const {
    auto it = links.find({from, to});
    return it == links.end() ? w.default_link_ : it->second;
  }
  LinkParams& configure(NodeId from, NodeId to) {
    auto it = links.find({from, to});
    if (it == links.end()) it = links.emplace(Dir{from, to}, w.default_link_).first;
    return it->second;
  }
  Prng& link_rng(NodeId from, NodeId to) {
    auto it = link_rngs.find({from, to});
    if (it == link_rngs.end()) {
      it = link_rngs
               .emplace(Dir{from, to},
                        Prng::stream(w.seed(), "link/" + name(from) + "->" + name(to)))
               .first;
    }
    return it->second;
  }
  bool is_blocked(NodeId from, NodeId to) const { return blocked.count({from, to}) > 0; }

  void mark_ready(NodeId id) {
    Node& n = node(id);
    if (!n.ready) {
      n.ready = true;
      ready.push_back(id);
    }
  }

  void register_io(const LifeRef& life, const std::shared_ptr<detail::IoState>& s) {
    Node& n = node(life->node);
    if (n.life != life) return;
    if (n.io.size() >= 64 && n.io.size() == n.io.capacity()) {
      std::erase_if(n.io, [](const auto& wp) { return wp.expired(); });
    }
    n.io.push_back(s);
  }

  Trace& tr(std::string_view ev) { return w.trace_.begin(w.now(), ev); }

  // Counts an operation of `node`; true when the fail plan makes it fail.
  bool inject(NodeId node, IoOp op) {
    if (!w.fail_plan_.hit(op, node)) return false;
    tr("inject-fail")
        .node(name(node))
        .str("op", io_op_name(op))
        .str("how", fail_how_name(w.fail_plan_.how))
        .num("nth", w.fail_plan_.nth)
        .end();
    return true;
  }

  // ---- sending ---------------------------------------------------------------

  void schedule_unit(const std::shared_ptr<detail::Connection>& c, int side, detail::Unit unit,
                     Time arrival) {
    detail::Pipe& p = c->pipe[side];
    p.in_flight += unit.bytes.size();
    w.loop_.at(arrival, [this, wc = std::weak_ptr<detail::Connection>(c), side,
                         u = std::move(unit)]() mutable {
      if (auto conn = wc.lock()) arrive(conn, side, std::move(u));
    });
  }

  // A relayed frame or junk: stream bytes written after it arrive after it,
  // once the relay is off again, so it never lands inside one of their frames.
  void schedule_relayed(const std::shared_ptr<detail::Connection>& c, int side, detail::Unit unit,
                        Time arrival) {
    detail::Pipe& p = c->pipe[side];
    p.last_relay_arrival = std::max(p.last_relay_arrival, arrival);
    schedule_unit(c, side, std::move(unit), arrival);
  }

  Time wire_time(NodeId from, NodeId to, std::size_t n, const LinkParams& lp) {
    if (lp.bandwidth_bytes_per_s == 0) return w.now();
    Time& busy = busy_until[{from, to}];
    const Time start = std::max(busy, w.now());
    busy = start + static_cast<Duration>(static_cast<u128>(n) * kSecond / lp.bandwidth_bytes_per_s);
    return busy;
  }

  // Byte-stream carriage: random segmentation, in-order arrival.
  void send_stream(const std::shared_ptr<detail::Connection>& c, int side, const std::uint8_t* data,
                   std::size_t n, bool fin) {
    detail::Pipe& p = c->pipe[side];
    const LinkParams& lp = link(p.from, p.to);
    Prng& rng = link_rng(p.from, p.to);
    std::size_t off = 0;
    do {
      const std::size_t seg =
          fin ? 0
              : std::min<std::size_t>(n - off,
                                      1 + rng.below(std::max<std::uint32_t>(lp.max_segment, 1)));
      detail::Unit u;
      u.bytes.assign(data + off, data + off + seg);
      u.fin = fin;
      u.seq = p.next_send_seq++;  // TCP order survives any delay (partition release, retransmit)
      off += seg;
      Time t = wire_time(p.from, p.to, seg, lp) + sample_latency(lp, rng);
      if (!fin && rng.chance(lp.segment_loss)) {
        t += lp.retransmit_delay;
        tr("loss")
            .conn(c->id)
            .node(name(p.from))
            .num("bytes", static_cast<std::uint64_t>(seg))
            .str("repair", "retransmit")
            .end();
      }
      if (!fin && seg > 0 && rng.chance(lp.segment_corrupt)) {
        const auto bit = rng.below(seg * 8);
        u.bytes[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        tr("corrupt").conn(c->id).node(name(p.from)).num("bit", bit).end();
      }
      t = std::max({t, p.last_arrival, p.last_relay_arrival + 1});
      p.last_arrival = t;
      schedule_unit(c, side, std::move(u), t);
    } while (off < n);
  }

  // Frame relay: whole frames, each dropped, corrupted, duplicated or delayed.
  // A header over FRAME-9's limit means the writer is not sending frames:
  // the relay stops and the bytes from that header on pass as a stream.
  void send_frames(const std::shared_ptr<detail::Connection>& c, int side, const std::uint8_t* data,
                   std::size_t n) {
    detail::Pipe& p = c->pipe[side];
    const bool framed = p.relay.feed(std::span(data, n));
    for (protocol::Bytes frame; p.relay.pop(frame);) relay_frame(c, side, std::move(frame));
    if (framed) return;
    p.relay_off = true;
    tr("relay-off").conn(c->id).node(name(p.from)).end();
    const protocol::Bytes rest = p.relay.take_rest();
    send_stream(c, side, rest.data(), rest.size(), false);
  }

  void relay_frame(const std::shared_ptr<detail::Connection>& c, int side, protocol::Bytes frame) {
    detail::Pipe& p = c->pipe[side];
    Prng& rng = link_rng(p.from, p.to);
    const LinkParams& lp = link(p.from, p.to);  // per frame: drop_next counts down
    const auto len = static_cast<std::uint32_t>(frame.size() - protocol::kFrameHeaderSize);
    detail::Unit u;
    u.bytes = std::move(frame);
    u.after_seq = p.next_send_seq;
    const std::uint64_t type = u.bytes[0];
    const FrameFate fate = frame_fate(lp, rng, static_cast<std::uint8_t>(type), len);
    // A frame the relay slips in first (FRAME-3, FRAME-10).
    const auto inject = [&](const auto& bytes) {
      detail::Unit junk;
      junk.bytes.assign(bytes.begin(), bytes.end());
      junk.after_seq = u.after_seq;
      tr("inject").conn(c->id).node(name(p.from)).num("msg_type", bytes[0]).end();
      const std::size_t size = junk.bytes.size();
      schedule_relayed(c, side, std::move(junk), wire_time(p.from, p.to, size, lp));
    };
    if (fate.unknown_before) inject(*fate.unknown_before);
    if (fate.undecodable_before) inject(*fate.undecodable_before);
    // A relay forwards in the order it read: jitter alone never reorders
    // (only the reorder fault does; the protocol needs order, D120).
    const auto in_order = [&p](Time t) {
      t = std::max(t, p.last_arrival);
      p.last_arrival = t;
      return t;
    };
    if (!fate.faulty_type) {  // not a faulty type: passes as it is
      schedule_relayed(c, side, std::move(u),
                       in_order(wire_time(p.from, p.to, 5 + len, lp) + fate.latency));
      return;
    }
    if (fate.dropped) {
      if (fate.used_drop_next) {
        auto& left = configure(p.from, p.to).drop_next;
        SYNCSIM_ASSERT_MSG(left > 0, "drop_next counted below zero");
        --left;
      }
      tr("drop")
          .conn(c->id)
          .node(name(p.from))
          .num("msg_type", type)
          .num("bytes", static_cast<std::uint64_t>(u.bytes.size()))
          .end();
      if (w.options_.on_frame_dropped) w.options_.on_frame_dropped(u.bytes);
      return;
    }
    if (fate.corrupt_bit) {
      const auto bit = *fate.corrupt_bit;
      std::vector<std::uint8_t> before;
      if (w.options_.on_frame_corrupted) before = u.bytes;
      u.bytes[5 + bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      if (w.options_.on_frame_corrupted) w.options_.on_frame_corrupted(before, u.bytes);
      tr("corrupt").conn(c->id).node(name(p.from)).num("msg_type", type).num("bit", bit).end();
    }
    Time t = wire_time(p.from, p.to, u.bytes.size(), lp) + fate.latency;
    if (!fate.reorder_extra) {
      t = in_order(t);
    } else {
      t += *fate.reorder_extra;
      tr("reorder")
          .conn(c->id)
          .node(name(p.from))
          .num("msg_type", type)
          .num("delay", *fate.reorder_extra)
          .end();
    }
    if (fate.duplicate_extra) {
      tr("duplicate").conn(c->id).node(name(p.from)).num("msg_type", type).end();
      schedule_relayed(c, side, detail::Unit{u.bytes, false, detail::kUnordered, u.after_seq},
                       t + *fate.duplicate_extra);
    }
    schedule_relayed(c, side, std::move(u), t);
  }

  void emit(const std::shared_ptr<detail::Connection>& c, int side, const std::uint8_t* data,
            std::size_t n) {
    detail::Pipe& p = c->pipe[side];
    tr("send").conn(c->id).node(name(p.from)).num("bytes", static_cast<std::uint64_t>(n)).end();
    // A frame the relay has begun is finished by it, even if the relay was
    // turned off meanwhile: its bytes are not lost (D120).
    if ((link(p.from, p.to).frame_faults || p.relay.partial() > 0) && !p.relay_off) {
      send_frames(c, side, data, n);
    } else {
      send_stream(c, side, data, n, false);
    }
  }

  // ---- arriving --------------------------------------------------------------

  void arrive(const std::shared_ptr<detail::Connection>& c, int side, detail::Unit u) {
    detail::Pipe& p = c->pipe[side];
    if (c->reset) {
      p.landed(u.bytes.size());
      return;
    }
    if (is_blocked(p.from, p.to)) {
      // Only what the relay carried is lost: bytes of the stream that were
      // on the way when the relay came on are held, as TCP holds them.
      if (u.seq == detail::kUnordered && !u.fin) {
        p.landed(u.bytes.size());
        if (w.options_.on_frame_dropped) w.options_.on_frame_dropped(u.bytes);
        tr("drop")
            .conn(c->id)
            .node(name(p.from))
            .str("why", "partition")
            .num("bytes", static_cast<std::uint64_t>(u.bytes.size()))
            .end();
      } else {
        tr("hold")
            .conn(c->id)
            .node(name(p.from))
            .str("why", "partition")
            .num("bytes", static_cast<std::uint64_t>(u.bytes.size()))
            .end();
        p.held.push_back(std::move(u));
      }
      return;
    }
    if (auto it = clogged_until.find({p.from, p.to});
        it != clogged_until.end() && it->second > w.now()) {
      p.landed(u.bytes.size());
      schedule_unit(c, side, std::move(u), it->second);
      return;
    }
    deliver(c, side, std::move(u));
  }

  void deliver(const std::shared_ptr<detail::Connection>& c, int side, detail::Unit u) {
    detail::Pipe& p = c->pipe[side];
    if (u.seq != detail::kUnordered) {
      // Byte stream: a unit that overtook an earlier one waits for it.
      if (u.seq != p.next_recv_seq) {
        p.early.emplace(u.seq, std::move(u));
        return;
      }
      ++p.next_recv_seq;
      deliver_one(c, side, std::move(u));
      deliver_after_stream(c, side);
      for (auto it = p.early.find(p.next_recv_seq); it != p.early.end();
           it = p.early.find(p.next_recv_seq)) {
        detail::Unit next = std::move(it->second);
        p.early.erase(it);
        ++p.next_recv_seq;
        deliver_one(c, side, std::move(next));
        deliver_after_stream(c, side);  // each at its place among the stream units
      }
      return;
    }
    if (u.after_seq > p.next_recv_seq || !p.after_stream.empty()) {
      p.after_stream.push_back(std::move(u));  // behind stream bytes still on the way
      return;
    }
    deliver_one(c, side, std::move(u));
  }

  // Relayed frames whose earlier stream units have all been read.
  void deliver_after_stream(const std::shared_ptr<detail::Connection>& c, int side) {
    detail::Pipe& p = c->pipe[side];
    while (!p.after_stream.empty() && p.after_stream.front().after_seq <= p.next_recv_seq) {
      detail::Unit next = std::move(p.after_stream.front());
      p.after_stream.pop_front();
      deliver_one(c, side, std::move(next));
    }
  }

  void deliver_one(const std::shared_ptr<detail::Connection>& c, int side, detail::Unit u) {
    detail::Pipe& p = c->pipe[side];
    const int to_side = 1 - side;
    p.landed(u.bytes.size());
    const LifeRef& receiver = c->life[to_side];
    if (!receiver || !receiver->alive || c->closed[to_side]) {
      if (!u.fin && !u.bytes.empty()) {
        p.peer_gone = true;
        tr("drop")
            .conn(c->id)
            .node(name(p.to))
            .str("why", "closed")
            .num("bytes", static_cast<std::uint64_t>(u.bytes.size()))
            .end();
      }
      return;
    }
    if (u.fin) {
      p.fin_arrived = true;
      tr("deliver-eof").conn(c->id).node(name(p.to)).end();
    } else {
      const std::size_t n = u.bytes.size();
      if (p.unread() == 0 && p.rx.capacity() < n) {
        p.rx = std::move(u.bytes);  // nothing unread: the unit's buffer becomes rx, no copy
        p.rx_off = 0;
      } else {
        p.rx.insert(p.rx.end(), u.bytes.begin(), u.bytes.end());
      }
      tr("deliver").conn(c->id).node(name(p.to)).num("bytes", static_cast<std::uint64_t>(n)).end();
    }
    satisfy_read(c, side);
  }

  void release_held(NodeId from, NodeId to) {
    for (auto& [id, wc] : conns) {
      auto c = wc.lock();
      if (!c) continue;
      for (int s = 0; s < 2; ++s) {
        detail::Pipe& p = c->pipe[s];
        if (p.from != from || p.to != to || p.held.empty()) continue;
        std::deque<detail::Unit> held = std::move(p.held);
        p.held.clear();
        const LinkParams& lp = link(from, to);
        Prng& rng = link_rng(from, to);
        for (auto& u : held) {
          p.landed(u.bytes.size());
          const Time t = std::max(
              {w.now() + sample_latency(lp, rng), p.last_arrival, p.last_relay_arrival + 1});
          p.last_arrival = t;
          schedule_unit(c, s, std::move(u), t);
        }
      }
    }
  }

  // ---- reading and writing ---------------------------------------------------

  // The fail plan on a read or write of `node`: true when it completed `done`
  // (an error, a reset); a short read or write only caps the operation.
  bool fail_rw(const std::shared_ptr<detail::Connection>& c, detail::Pipe& p, NodeId node, IoOp op,
               Completion<error_code, std::size_t>& done) {
    if (!inject(node, op)) return false;
    switch (w.fail_plan_.how) {
      case FailHow::Error: done.post(w.fail_plan_.error, 0); return true;
      case FailHow::Reset:
        reset(c);
        done.post(aerr::connection_reset, 0);
        return true;
      case FailHow::ShortRead: p.read_limit = 1; return false;
      case FailHow::ShortWrite: p.write_limit = 1; return false;
    }
    return false;
  }

  void satisfy_read(const std::shared_ptr<detail::Connection>& c, int side) {
    detail::Pipe& p = c->pipe[side];
    if (!p.read_op) return;
    if (c->reset) {
      p.read_op.post(aerr::connection_reset, 0);
      return;
    }
    if (p.unread() > 0) {
      std::size_t copied = 0;
      for (auto& b : p.read_bufs) {
        const std::size_t k = std::min({b.size(), p.unread(), p.read_limit - copied});
        std::memcpy(b.data(), p.rx.data() + p.rx_off, k);
        p.rx_off += k;
        copied += k;
        if (p.unread() == 0 || copied == p.read_limit) break;
      }
      p.read_limit = SIZE_MAX;
      if (p.rx_off == p.rx.size()) {
        p.rx.clear();
        p.rx_off = 0;
      } else if (p.rx_off > (1u << 16) && p.rx_off * 2 > p.rx.size()) {
        p.rx.erase(p.rx.begin(), p.rx.begin() + static_cast<std::ptrdiff_t>(p.rx_off));
        p.rx_off = 0;
      }
      p.read_bufs.clear();
      p.read_op.post(error_code{}, copied);
      resume_write(c, side);
      return;
    }
    if (p.fin_arrived) {
      p.read_bufs.clear();
      p.read_op.post(aerr::eof, 0);
    }
  }

  std::size_t window_space(const detail::Pipe& p, const LinkParams& lp) const {
    const std::size_t used = p.in_flight + p.unread();
    return used >= lp.window ? 0 : lp.window - used;
  }

  // Writes what fits now; returns bytes written.
  std::size_t write_now(const std::shared_ptr<detail::Connection>& c, int side,
                        const std::vector<boost::asio::const_buffer>& bufs) {
    detail::Pipe& p = c->pipe[side];
    std::size_t space = std::min(window_space(p, link(p.from, p.to)), p.write_limit);
    // One buffer (the usual write) is sent from where it lies; several are gathered.
    std::vector<std::uint8_t> gathered;
    const std::uint8_t* data = nullptr;
    std::size_t n = 0;
    if (bufs.size() == 1) {
      data = static_cast<const std::uint8_t*>(bufs[0].data());
      n = std::min(space, bufs[0].size());
    } else {
      for (const auto& b : bufs) {
        const std::size_t k = std::min(space, b.size());
        const auto* src = static_cast<const std::uint8_t*>(b.data());
        gathered.insert(gathered.end(), src, src + k);
        space -= k;
        if (space == 0) break;
      }
      data = gathered.data();
      n = gathered.size();
    }
    if (n > 0) {
      p.write_limit = SIZE_MAX;
      emit(c, side, data, n);
    }
    return n;
  }

  void resume_write(const std::shared_ptr<detail::Connection>& c, int reader_side_pipe) {
    detail::Pipe& p = c->pipe[reader_side_pipe];
    if (!p.write_op) return;
    const std::size_t n = write_now(c, reader_side_pipe, p.write_bufs);
    if (n > 0) {
      p.write_bufs.clear();
      p.write_op.post(error_code{}, n);
    }
  }

  void reset(const std::shared_ptr<detail::Connection>& c) {
    if (c->reset) return;
    c->reset = true;
    tr("reset").conn(c->id).end();
    for (int s = 0; s < 2; ++s) {
      detail::Pipe& p = c->pipe[s];
      if (p.read_op) p.read_op.post(aerr::connection_reset, 0);
      if (p.write_op) p.write_op.post(aerr::connection_reset, 0);
      p.held.clear();
      p.after_stream.clear();
    }
  }

  // Closes one end. FIN follows the data already sent.
  void close_end(const std::shared_ptr<detail::Connection>& c, int side, std::string_view why) {
    if (c->closed[side]) return;
    c->closed[side] = true;
    tr("close").conn(c->id).node(name(c->pipe[side].from)).str("why", why).end();
    if (c->pipe[1 - side].read_op) c->pipe[1 - side].read_op.post(aerr::operation_aborted, 0);
    if (c->pipe[side].write_op) c->pipe[side].write_op.post(aerr::operation_aborted, 0);
    if (!c->reset && !c->pipe[side].fin_sent) {
      c->pipe[side].fin_sent = true;
      send_stream(c, side, nullptr, 0, true);
    }
  }

  // ---- nodes -----------------------------------------------------------------

  void crash(NodeId id) {
    Node& n = node(id);
    if (!n.up) return;
    n.up = false;
    n.life->alive = false;
    tr("crash").node(n.name).num("boot", n.life->boot).end();
    for (auto& [cid, wc] : conns) {
      auto c = wc.lock();
      if (!c) continue;
      for (int s = 0; s < 2; ++s) {
        if (c->life[s] == n.life) close_end(c, s, "crash");
      }
    }
    for (auto& [port, wa] : n.listeners) {
      if (auto a = wa.lock()) a->open = false;
    }
    n.listeners.clear();
    for (auto& wp : n.io) {
      if (auto s = wp.lock()) s->drop_handlers();
    }
    n.io.clear();
    n.process.reset();  // the app's objects go; their handlers never run
    n.work.reset();
    n.ioc.reset();
    n.ready = false;
    std::erase(ready, id);
  }

  void boot(NodeId id) {
    Node& n = node(id);
    // One thread polls it, ever: no scheduler locking (2.5 % of a busy network's instructions).
    n.ioc = std::make_unique<boost::asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE);
    n.work.emplace(n.ioc->get_executor());
    auto life = std::make_shared<detail::NodeLife>();
    life->world = &w;
    life->node = id;
    life->boot = n.life ? n.life->boot + 1 : 1;
    life->ioc = n.ioc.get();
    n.life = life;
    n.host.life_ = life;
    n.up = true;
    tr("boot").node(n.name).num("boot", life->boot).end();
    if (n.boot_fn) n.process = n.boot_fn(n.host);
    mark_ready(id);
  }

  void prune_conns() {
    if (conns.size() < 256) return;
    std::erase_if(conns, [](const auto& kv) { return kv.second.expired(); });
  }
};

// ---------------------------------------------------------------------------
// detail:: entry points used by the I/O objects
// ---------------------------------------------------------------------------

namespace detail {

void mark_ready(const NodeLife& life) { life.world->impl().mark_ready(life.node); }

void register_io(const LifeRef& life, const std::shared_ptr<IoState>& state) {
  if (life && life->alive) life->world->impl().register_io(life, state);
}

Time node_steady_now(const NodeLife& life) {
  World& w = *life.world;
  return w.clock(life.node).steady(w.now());
}

void socket_read(SocketState& s, std::vector<boost::asio::mutable_buffer> bufs,
                 Completion<error_code, std::size_t> done) {
  if (!s.life->alive) return;
  if (!s.open || !s.end) return done.post(aerr::bad_descriptor, 0);
  auto& c = s.end.conn;
  Pipe& p = c->pipe[1 - s.end.side];
  if (c->reset) return done.post(aerr::connection_reset, 0);
  if (p.read_op) return done.post(aerr::in_progress, 0);
  auto& impl = s.life->world->impl();
  if (impl.fail_rw(c, p, s.life->node, IoOp::Read, done)) return;
  if (boost::asio::buffer_size(bufs) == 0) return done.post(error_code{}, 0);
  p.read_bufs = std::move(bufs);
  p.read_op = std::move(done);
  impl.satisfy_read(c, 1 - s.end.side);
}

void socket_write(SocketState& s, std::vector<boost::asio::const_buffer> bufs,
                  Completion<error_code, std::size_t> done) {
  if (!s.life->alive) return;
  if (!s.open || !s.end) return done.post(aerr::bad_descriptor, 0);
  auto& c = s.end.conn;
  Pipe& p = c->pipe[s.end.side];
  if (c->reset) return done.post(aerr::connection_reset, 0);
  if (p.peer_gone) return done.post(aerr::broken_pipe, 0);
  if (p.write_op) return done.post(aerr::in_progress, 0);
  auto& impl = s.life->world->impl();
  if (impl.fail_rw(c, p, s.life->node, IoOp::Write, done)) return;
  if (boost::asio::buffer_size(bufs) == 0) return done.post(error_code{}, 0);
  const std::size_t n = impl.write_now(c, s.end.side, bufs);
  if (n > 0) return done.post(error_code{}, n);
  p.write_bufs = std::move(bufs);  // window full: wait for the reader
  p.write_op = std::move(done);
}

void socket_close(SocketState& s) {
  if (!s.open) {
    s.connect_op.post(aerr::operation_aborted);
    return;
  }
  s.open = false;
  if (s.life->alive && s.end) s.life->world->impl().close_end(s.end.conn, s.end.side, "close");
}

std::uint64_t socket_conn_id(const SocketState& s) { return s.end ? s.end.conn->id : 0; }

std::pair<std::string, std::uint16_t> socket_endpoint(const SocketState& s, bool remote) {
  const Connection& c = *s.end.conn;
  const int side = remote ? 1 - s.end.side : s.end.side;
  const NodeId node = c.pipe[side].from;  // the writer of pipe[side] is that side's node
  return {s.life->world->impl().name(node), c.port[side]};
}

void socket_connect(const std::shared_ptr<SocketState>& s, const std::string& target,
                    std::uint16_t port) {
  if (!s->life->alive) return;
  World& w = *s->life->world;
  auto& impl = w.impl();
  const NodeId from = s->life->node;
  const auto to = w.find_node(target);
  impl.tr("connect")
      .node(impl.name(from))
      .str("to", target)
      .num("port", static_cast<std::uint64_t>(port))
      .end();
  if (impl.inject(from, IoOp::Connect)) return s->connect_op.post(w.fail_plan().error);
  if (!to) return s->connect_op.post(aerr::host_not_found);
  if (impl.is_blocked(from, *to)) {
    w.after(w.options().connect_timeout, [ws = std::weak_ptr<SocketState>(s)] {
      if (auto st = ws.lock()) st->connect_op.post(aerr::timed_out);
    });
    return;
  }
  const Duration there = sample_latency(impl.link(from, *to), impl.link_rng(from, *to));
  w.after(there, [&w, ws = std::weak_ptr<SocketState>(s), from, to = *to, port] {
    auto st = ws.lock();
    if (!st || !st->life->alive) return;
    auto& im = w.impl();
    const Duration back = sample_latency(im.link(to, from), im.link_rng(to, from));
    auto& n = im.node(to);
    auto it = n.listeners.find(port);
    auto acc = it == n.listeners.end() ? nullptr : it->second.lock();
    if (!n.up || !acc || !acc->open || acc->backlog.size() >= w.options().accept_backlog) {
      im.tr("refused").node(im.name(to)).num("port", static_cast<std::uint64_t>(port)).end();
      w.after(back, [ws] {
        if (auto s2 = ws.lock()) s2->connect_op.post(aerr::connection_refused);
      });
      return;
    }
    auto c = std::make_shared<Connection>();
    c->id = im.next_conn++;
    auto& client = im.node(from);
    c->port[0] = client.next_ephemeral;
    client.next_ephemeral = client.next_ephemeral == 65535 ? 40000 : client.next_ephemeral + 1;
    c->port[1] = port;
    c->pipe[0].from = from;
    c->pipe[0].to = to;
    c->pipe[1].from = to;
    c->pipe[1].to = from;
    c->life[0] = st->life;
    c->life[1] = n.life;
    im.conns[c->id] = c;
    im.prune_conns();
    im.tr("accept")
        .conn(c->id)
        .node(n.name)
        .str("from", im.name(from))
        .num("port", static_cast<std::uint64_t>(port))
        .end();
    ConnEnd server_end{c, 1};
    if (acc->accept_op) {
      acc->accept_op.post(error_code{}, std::move(server_end));
    } else {
      acc->backlog.push_back(std::move(server_end));
    }
    w.after(back, [ws, c] {
      auto s2 = ws.lock();
      if (!s2) {
        // The connecting socket is gone: its end closes.
        c->life[0]->world->impl().close_end(c, 0, "abandoned");
        return;
      }
      s2->end = ConnEnd{c, 0};
      s2->open = true;
      c->life[0]
          ->world->impl()
          .tr("connected")
          .conn(c->id)
          .node(c->life[0]->world->impl().name(c->pipe[0].from))
          .end();
      s2->connect_op.post(error_code{});
    });
  });
}

bool acceptor_listen(const std::shared_ptr<AcceptorState>& a, error_code& ec) {
  auto& impl = a->life->world->impl();
  auto& n = impl.node(a->life->node);
  auto it = n.listeners.find(a->port);
  if (it != n.listeners.end() && !it->second.expired() && it->second.lock()->open) {
    ec = aerr::address_in_use;
    return false;
  }
  n.listeners[a->port] = a;
  a->open = true;
  impl.tr("listen").node(n.name).num("port", static_cast<std::uint64_t>(a->port)).end();
  return true;
}

void acceptor_accept(AcceptorState& a, Completion<error_code, ConnEnd> done) {
  if (!a.life->alive) return;
  if (!a.open) return done.post(aerr::bad_descriptor, ConnEnd{});
  if (a.accept_op) return done.post(aerr::in_progress, ConnEnd{});
  World& w = *a.life->world;
  if (w.impl().inject(a.life->node, IoOp::Accept)) return done.post(w.fail_plan().error, ConnEnd{});
  if (!a.backlog.empty()) {
    ConnEnd e = std::move(a.backlog.front());
    a.backlog.pop_front();
    return done.post(error_code{}, std::move(e));
  }
  a.accept_op = std::move(done);
}

void acceptor_close(AcceptorState& a) {
  if (!a.open) return;
  a.open = false;
  if (a.life->alive) {
    auto& impl = a.life->world->impl();
    auto& n = impl.node(a.life->node);
    if (auto it = n.listeners.find(a.port);
        it != n.listeners.end() && it->second.lock().get() == &a) {
      n.listeners.erase(it);
    }
    for (auto& e : a.backlog) impl.close_end(e.conn, e.side, "not accepted");
  }
  a.backlog.clear();
  a.accept_op.post(aerr::operation_aborted, ConnEnd{});
}

void timer_arm(const std::shared_ptr<TimerState>& t) {
  if (!t->life->alive) return;
  World& w = *t->life->world;
  if (!t->waiters.empty() && w.impl().inject(t->life->node, IoOp::Wait)) {
    auto failed = std::move(t->waiters.back());  // the wait just started
    t->waiters.pop_back();
    failed.post(w.fail_plan().error);
    if (t->waiters.empty()) return;
  }
  if (w.loop().is_pending(t->event)) return;  // already armed for this deadline
  auto& impl = w.impl();
  if (t->id == 0) t->id = impl.next_timer++;
  const Time when = w.clock(t->life->node).true_at_steady(t->deadline_steady);
  impl.tr("timer-arm").node(impl.name(t->life->node)).num("timer", t->id).num("at", when).end();
  t->event = w.at(when, [wt = std::weak_ptr<TimerState>(t)] {
    auto st = wt.lock();
    if (!st || !st->life->alive) return;
    auto& im = st->life->world->impl();
    im.tr("timer-fire").node(im.name(st->life->node)).num("timer", st->id).end();
    auto waiters = std::move(st->waiters);
    st->waiters.clear();
    for (auto& c : waiters) c.post(error_code{});
  });
}

std::size_t timer_cancel(TimerState& t) {
  if (!t.life || !t.life->alive) {
    t.waiters.clear();
    return 0;
  }
  World& w = *t.life->world;
  w.loop().cancel(t.event);
  const std::size_t n = t.waiters.size();
  if (n > 0) {
    auto& impl = w.impl();
    impl.tr("timer-cancel")
        .node(impl.name(t.life->node))
        .num("timer", t.id)
        .num("waiters", static_cast<std::uint64_t>(n))
        .end();
  }
  auto waiters = std::move(t.waiters);
  t.waiters.clear();
  for (auto& c : waiters) c.post(aerr::operation_aborted);
  return n;
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Host
// ---------------------------------------------------------------------------

const std::string& Host::name() const { return world_->impl().name(id_); }
Time Host::steady_now() const { return world_->clock(id_).steady(world_->now()); }
Time Host::system_now() const { return world_->clock(id_).system(world_->now()); }
std::int64_t Host::system_now_ms() const {
  const Time s = system_now();
  const std::int64_t ms = s >= 0 ? s / kMillisecond : -((-s + kMillisecond - 1) / kMillisecond);
  return world_->options().unix_epoch_ms + ms;
}
Prng& Host::rng(std::string_view label) {
  auto& n = world_->impl().node(id_);
  auto it = n.rngs.find(label);
  if (it == n.rngs.end()) {
    it = n.rngs
             .emplace(std::string(label),
                      Prng::stream(world_->seed(), "node/" + n.name + "/" + std::string(label)))
             .first;
  }
  return it->second;
}
Disk& Host::disk() { return world_->impl().node(id_).disk; }

// ---------------------------------------------------------------------------
// World
// ---------------------------------------------------------------------------

World::World(WorldOptions options)
    : options_(options), trace_(options.trace_out), impl_(std::make_unique<Impl>(*this)) {}

World::~World() {
  // Processes go first, while the io_contexts they use still exist.
  for (auto& n : impl_->nodes) {
    if (n->life) n->life->alive = false;
    for (auto& wp : n->io) {
      if (auto s = wp.lock()) s->drop_handlers();
    }
    n->process.reset();
  }
  loop_.clear();  // pending events may hold handlers bound to the io_contexts
  for (auto& n : impl_->nodes) {
    n->work.reset();
    n->ioc.reset();
  }
}

NodeId World::add_node(const std::string& name, BootFn boot_fn, ClockParams clock) {
  const bool ok_name = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (!ok_name) throw std::invalid_argument("node name must be [A-Za-z0-9._-]+: '" + name + "'");
  if (find_node(name)) throw std::invalid_argument("duplicate node name: " + name);
  const auto id = static_cast<NodeId>(impl_->nodes.size());
  auto n = std::make_unique<Impl::Node>();
  n->name = name;
  n->clock = NodeClock(clock, now());
  n->boot_fn = std::move(boot_fn);
  n->host.world_ = this;
  n->host.id_ = id;
  impl_->nodes.push_back(std::move(n));
  trace_.begin(now(), "node")
      .node(name)
      .num("offset", clock.offset)
      .num("drift_ppm", clock.drift_ppm)
      .end();
  boot(id);
  return id;
}

std::optional<NodeId> World::find_node(std::string_view name) const {
  for (std::size_t k = 0; k < impl_->nodes.size(); ++k) {
    if (impl_->nodes[k]->name == name) return static_cast<NodeId>(k);
  }
  return std::nullopt;
}
std::size_t World::node_count() const { return impl_->nodes.size(); }
Host& World::host(NodeId id) { return impl_->node(id).host; }
NodeClock& World::clock(NodeId id) { return impl_->node(id).clock; }
bool World::is_up(NodeId id) const { return impl_->nodes.at(id)->up; }
void World::boot(NodeId id) { impl_->boot(id); }
void World::crash(NodeId id) { impl_->crash(id); }

void World::restart(NodeId id, bool wipe_disk) {
  impl_->crash(id);
  auto& n = impl_->node(id);
  if (wipe_disk) n.disk.clear();
  trace_.begin(now(), "restart").node(n.name).boolean("wipe", wipe_disk).end();
  impl_->boot(id);
}

void World::clock_jump(NodeId id, Duration delta) {
  clock(id).jump(delta);
  trace_.begin(now(), "clock-jump").node(impl_->name(id)).num("delta", delta).end();
}

void World::set_drift(NodeId id, std::int32_t ppm) {
  clock(id).set_drift(ppm, now());
  trace_.begin(now(), "clock-drift").node(impl_->name(id)).num("ppm", ppm).end();
}

LinkParams& World::link(NodeId from, NodeId to) { return impl_->configure(from, to); }

void World::partition(NodeId a, NodeId b, bool one_way) {
  impl_->blocked.insert({a, b});
  if (!one_way) impl_->blocked.insert({b, a});
  trace_.begin(now(), "partition")
      .str("a", impl_->name(a))
      .str("b", impl_->name(b))
      .boolean("one_way", one_way)
      .end();
}

void World::heal(NodeId a, NodeId b) {
  impl_->blocked.erase({a, b});
  impl_->blocked.erase({b, a});
  trace_.begin(now(), "heal").str("a", impl_->name(a)).str("b", impl_->name(b)).end();
  impl_->release_held(a, b);
  impl_->release_held(b, a);
}

void World::heal_all() {
  const auto dirs = impl_->blocked;
  impl_->blocked.clear();
  trace_.begin(now(), "heal-all").end();
  for (const auto& [from, to] : dirs) impl_->release_held(from, to);
}

bool World::blocked(NodeId from, NodeId to) const { return impl_->is_blocked(from, to); }

void World::clog(NodeId from, NodeId to, Duration for_how_long) {
  Time& until = impl_->clogged_until[{from, to}];
  until = std::max(until, now() + for_how_long);
  trace_.begin(now(), "clog")
      .str("from", impl_->name(from))
      .str("to", impl_->name(to))
      .num("until", until)
      .end();
}

bool World::reset_connection(std::uint64_t conn_id) {
  auto it = impl_->conns.find(conn_id);
  if (it == impl_->conns.end()) return false;
  auto c = it->second.lock();
  if (!c || c->reset) return false;
  impl_->reset(c);
  return true;
}

std::vector<std::uint64_t> World::connection_ids() const {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, wc] : impl_->conns) {
    if (auto c = wc.lock(); c && !c->reset && !(c->closed[0] && c->closed[1])) ids.push_back(id);
  }
  return ids;
}

std::vector<std::uint64_t> World::connection_ids_of(NodeId node) const {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, wc] : impl_->conns) {
    auto c = wc.lock();
    if (!c || c->reset || (c->closed[0] && c->closed[1])) continue;
    if (c->pipe[0].from == node || c->pipe[1].from == node) ids.push_back(id);
  }
  return ids;
}

void World::random_partitions(Duration mean_interval, Duration mean_duration, Ratio one_way,
                              Time until) {
  if (node_count() < 2 || mean_interval <= 0) return;
  const Time t = now() + impl_->fault_rng.exponential(mean_interval);
  if (t >= until) return;
  at(t, [this, mean_interval, mean_duration, one_way, until] {
    Prng& r = impl_->fault_rng;
    const auto n = node_count();
    const auto a = static_cast<NodeId>(r.below(n));
    auto b = static_cast<NodeId>(r.below(n - 1));
    if (b >= a) ++b;
    const bool ow = r.chance(one_way);
    partition(a, b, ow);
    after(std::max<Duration>(1, r.exponential(mean_duration)), [this, a, b] { heal(a, b); });
    random_partitions(mean_interval, mean_duration, one_way, until);
  });
}

void World::poll_ready() {
  while (!impl_->ready.empty()) {
    std::vector<NodeId> batch;
    batch.swap(impl_->ready);
    std::sort(batch.begin(), batch.end());  // a fixed order: node id
    for (NodeId id : batch) {
      auto& n = impl_->node(id);
      n.ready = false;
      if (n.up && n.ioc) n.ioc->poll();
    }
  }
}

RunResult World::run() { return run_loop(kTimeMax, nullptr); }
RunResult World::run_until(Time t) { return run_loop(t, nullptr); }
RunResult World::run_until(const std::function<bool()>& done) { return run_loop(kTimeMax, &done); }

RunResult World::run_loop(Time until, const std::function<bool()>* done) {
  RunResult r;
  const std::uint64_t start = loop_.executed();
  Time instant = now();
  std::uint64_t at_instant = 0;
  poll_ready();
  for (;;) {
    if (done && (*done)()) {
      r.reason = StopReason::PredicateMet;
      break;
    }
    const Time next = loop_.next_time();
    if (next == kTimeMax || next > until) {
      if (until != kTimeMax) {
        loop_.advance_to(until);
        r.reason = StopReason::TimeReached;
      } else {
        r.reason = done ? StopReason::Deadlock : StopReason::Quiescent;
      }
      break;
    }
    if (loop_.executed() - start >= options_.max_events) {
      r.reason = StopReason::BudgetExhausted;
      break;
    }
    if (next == instant) {
      if (++at_instant > options_.max_events_per_instant) {
        r.reason = StopReason::Stalled;
        break;
      }
    } else {
      instant = next;
      at_instant = 0;
    }
    loop_.step();
    poll_ready();
  }
  r.now = now();
  r.events = loop_.executed() - start;
  // The waiting I/O explains a run that stopped short; a run that reached
  // its time or predicate needs no list (and callers stepping in small
  // slices would pay a walk over every connection per slice).
  if (r.reason == StopReason::TimeReached || r.reason == StopReason::PredicateMet) return r;
  for (const auto& n : impl_->nodes) {
    if (!n->up) continue;
    for (const auto& [id, wc] : impl_->conns) {
      auto c = wc.lock();
      if (!c) continue;
      for (int s = 0; s < 2; ++s) {
        if (c->life[s] != n->life) continue;
        if (c->pipe[1 - s].read_op)
          r.pending_ops.push_back(n->name + ": read on conn " + std::to_string(id));
        if (c->pipe[s].write_op)
          r.pending_ops.push_back(n->name + ": write on conn " + std::to_string(id));
      }
    }
    for (const auto& [port, wa] : n->listeners) {
      if (auto a = wa.lock(); a && a->accept_op)
        r.pending_ops.push_back(n->name + ": accept on port " + std::to_string(port));
    }
  }
  return r;
}

std::string World::describe() const {
  std::ostringstream o;
  auto ratio = [](Ratio x) { return std::to_string(x.num) + "/" + std::to_string(x.den); };
  auto link_text = [&](const LinkParams& l) {
    std::ostringstream s;
    s << "latency=" << l.latency << "ns jitter=" << l.jitter << "ns tail=" << ratio(l.tail) << "@"
      << l.tail_mean << "ns bandwidth=" << l.bandwidth_bytes_per_s << "B/s mss=" << l.max_segment
      << " loss=" << ratio(l.segment_loss) << " rto=" << l.retransmit_delay
      << "ns seg_corrupt=" << ratio(l.segment_corrupt)
      << " frame_faults=" << (l.frame_faults ? "on" : "off") << " drop=" << ratio(l.frame_drop)
      << " dup=" << ratio(l.frame_duplicate) << " reorder=" << ratio(l.frame_reorder) << "/"
      << l.reorder_window << "ns corrupt=" << ratio(l.frame_corrupt) << " window=" << l.window;
    return s.str();
  };
  o << "seed=" << options_.seed << " max_events=" << options_.max_events
    << " max_events_per_instant=" << options_.max_events_per_instant
    << " connect_timeout=" << options_.connect_timeout << "ns backlog=" << options_.accept_backlog
    << " unix_epoch_ms=" << options_.unix_epoch_ms << "\n";
  o << "default link: " << link_text(default_link_) << "\n";
  for (const auto& n : impl_->nodes) {
    o << "node " << n->name << ": clock offset=" << n->clock.offset()
      << "ns drift=" << n->clock.drift_ppm() << "ppm\n";
  }
  for (const auto& [dir, l] : impl_->links) {
    o << "link " << impl_->nodes[dir.first]->name << "->" << impl_->nodes[dir.second]->name << ": "
      << link_text(l) << "\n";
  }
  return o.str();
}

}  // namespace syncsim::sim
