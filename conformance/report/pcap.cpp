// pcap (nanosecond, LINKTYPE_RAW: IPv4 packets) of TCP segments carrying frames.
#include "conformance/report/pcap.hpp"

#include <algorithm>
#include <array>
#include <ostream>

namespace syncsim::conformance::report {

namespace {

constexpr std::uint32_t kLinkTypeRaw = 101;
constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kPsh = 0x08, kAck = 0x10;

struct Endpoint {
  std::uint32_t ip = 0;
  std::uint16_t port = 0;
  std::uint32_t seq = 0;  // next sequence number this end sends
};

struct Conn {
  Endpoint client, server;
  bool open = false, closed = false;
};

class Writer {
 public:
  Writer(std::ostream& out, const PcapOptions& o) : out_(out), o_(o) {
    put32(0xa1b23c4d);  // nanosecond timestamps
    put16(2);
    put16(4);
    put32(0);       // thiszone
    put32(0);       // sigfigs
    put32(262144);  // snaplen
    put32(kLinkTypeRaw);
  }

  // One TCP segment from `a` to `b` (a's seq advances by the payload; SYN and FIN count one).
  void segment(std::int64_t t, Endpoint& a, const Endpoint& b, std::uint8_t flags,
               const std::uint8_t* data, std::size_t n) {
    t = std::max(t, last_t_);
    last_t_ = t;
    std::vector<std::uint8_t> p(40 + n);
    // IPv4
    p[0] = 0x45;
    store16(&p[2], static_cast<std::uint16_t>(p.size()));
    store16(&p[4], ip_id_++);
    store16(&p[6], 0x4000);  // don't fragment
    p[8] = 64;
    p[9] = 6;  // TCP
    store32(&p[12], a.ip);
    store32(&p[16], b.ip);
    store16(&p[10], checksum(p.data(), 20, 0));
    // TCP
    std::uint8_t* tcp = &p[20];
    store16(tcp + 0, a.port);
    store16(tcp + 2, b.port);
    store32(tcp + 4, a.seq);
    store32(tcp + 8, (flags & kAck) ? b.seq : 0);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    store16(tcp + 14, 65535);
    if (n > 0) std::copy(data, data + n, tcp + 20);
    // Pseudo-header sum: addresses, protocol, TCP length.
    std::uint32_t pseudo = (a.ip >> 16) + (a.ip & 0xffff) + (b.ip >> 16) + (b.ip & 0xffff) + 6 +
                           static_cast<std::uint32_t>(20 + n);
    store16(tcp + 16, checksum(tcp, 20 + n, pseudo));
    a.seq += static_cast<std::uint32_t>(n) + ((flags & (kSyn | kFin)) ? 1 : 0);

    const std::int64_t ns = o_.unix_epoch_ns + t;
    put32(static_cast<std::uint32_t>(ns / 1'000'000'000));
    put32(static_cast<std::uint32_t>(ns % 1'000'000'000));
    put32(static_cast<std::uint32_t>(p.size()));
    put32(static_cast<std::uint32_t>(p.size()));
    out_.write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size()));
  }

 private:
  static void store16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
  }
  static void store32(std::uint8_t* p, std::uint32_t v) {
    store16(p, static_cast<std::uint16_t>(v >> 16));
    store16(p + 2, static_cast<std::uint16_t>(v));
  }
  static std::uint16_t checksum(const std::uint8_t* p, std::size_t n, std::uint32_t sum) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
      sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
  }
  // The pcap headers are little-endian (the magic says so).
  void put32(std::uint32_t v) {
    const std::array<char, 4> b{static_cast<char>(v), static_cast<char>(v >> 8),
                                static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
    out_.write(b.data(), 4);
  }
  void put16(std::uint16_t v) {
    const std::array<char, 2> b{static_cast<char>(v), static_cast<char>(v >> 8)};
    out_.write(b.data(), 2);
  }

  std::ostream& out_;
  const PcapOptions& o_;
  std::int64_t last_t_ = 0;
  std::uint16_t ip_id_ = 1;
};

}  // namespace

bool write_pcap(std::ostream& out, const PcapInput& in, const PcapOptions& o,
                std::size_t* frames_out) {
  Writer w(out, o);
  std::map<std::uint64_t, Conn> conns;
  std::map<std::string, std::uint32_t> client_ips;
  // Frames and ends in time order (ends after the frames of the same instant).
  struct Item {
    std::int64_t t;
    std::uint64_t conn;
    const FrameRecord* frame;  // nullptr: the connection ends
  };
  std::vector<Item> items;
  for (const auto& r : in.frames)
    if (r.seen != Seen::Received) items.push_back({r.t, r.conn, &r});
  for (const auto& [conn, t] : in.closed_at) items.push_back({t, conn, nullptr});
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.t < b.t || (a.t == b.t && a.frame && !b.frame);
  });
  std::size_t frames = 0;
  for (const auto& it : items) {
    auto [pos, fresh] = conns.try_emplace(it.conn);
    Conn& c = pos->second;
    if (fresh) {
      const auto named = in.clients.find(it.conn);
      const std::string name =
          named == in.clients.end() ? "conn " + std::to_string(it.conn) : named->second;
      auto [ip, added] = client_ips.try_emplace(name, 0);
      if (added) ip->second = 0x0a000101 + static_cast<std::uint32_t>(client_ips.size() - 1);
      c.client.ip = ip->second;
      c.server.ip = 0x0a000001;  // 10.0.0.1
      if (it.conn > 0xffff && it.conn <= 0xffffffffULL) {
        const auto a = static_cast<std::uint16_t>(it.conn >> 16);
        const auto b = static_cast<std::uint16_t>(it.conn & 0xffff);
        c.server.port = std::min(a, b);
        c.client.port = std::max(a, b);
      } else {
        c.server.port = o.server_port;
        c.client.port = static_cast<std::uint16_t>(40000 + it.conn % 20000);
      }
      c.client.seq = 1000;
      c.server.seq = 5000;
    }
    if (c.closed && !it.frame) continue;
    if (!c.open) {
      c.open = true;
      w.segment(it.t - 3, c.client, c.server, kSyn, nullptr, 0);
      w.segment(it.t - 2, c.server, c.client, kSyn | kAck, nullptr, 0);
      w.segment(it.t - 1, c.client, c.server, kAck, nullptr, 0);
    }
    if (!it.frame) {
      c.closed = true;
      w.segment(it.t, c.client, c.server, kFin | kAck, nullptr, 0);
      w.segment(it.t, c.server, c.client, kFin | kAck, nullptr, 0);
      w.segment(it.t, c.client, c.server, kAck, nullptr, 0);
      continue;
    }
    const bool by_client = it.frame->from == protocol::Sender::Client;
    Endpoint& a = by_client ? c.client : c.server;
    Endpoint& b = by_client ? c.server : c.client;
    const auto& bytes = it.frame->frame;
    std::size_t off = 0;
    do {
      const std::size_t n = std::min<std::size_t>(o.mss, bytes.size() - off);
      w.segment(it.t, a, b, kPsh | kAck, bytes.data() + off, n);
      off += n;
    } while (off < bytes.size());
    w.segment(it.t, b, a, kAck, nullptr, 0);
    ++frames;
  }
  if (frames_out) *frames_out = frames;
  return static_cast<bool>(out);
}

}  // namespace syncsim::conformance::report
