// A deliberately simple sync server over raw TCP (PROTOCOL.md §2.4) with one
// bug chosen by --bug, so the tests can prove that `syncsim check` catches each
// bug over a real socket and cites the right rule. It shares nothing with the
// reference server: only the protocol library (codec, frame stream, CRC32C).
//
// Simplifications, none of which `syncsim check` exercises: trust mode only
// (any token is accepted, no JWT keys, so every TokenRefresh fails), no fork
// detection, no ShapeDelta fan-out and empty snapshot data, no presence, no
// rate limiting, no clock-skew warnings, no Throttle pacing (nothing it would
// pace is ever sent), timeseries never accepted.
//
// Usage: faulty_server --port N [--bug NAME] [--port-file PATH]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <list>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/frame_stream.hpp"

using namespace syncsim::protocol;

namespace {

enum class Bug {
  None,
  NoPong,
  AckDuplicateWithLsn,
  AcceptBadChecksum,
  AcksOutOfOrder,
  SnapshotWrongId,
  CloseOnUnknownCode,
  AcceptEmptyDelta
};
struct BugName {
  const char* name;
  Bug bug;
};
constexpr BugName kBugs[] = {{"none", Bug::None},
                             {"no-pong", Bug::NoPong},
                             {"ack-duplicate-with-lsn", Bug::AckDuplicateWithLsn},
                             {"accept-bad-checksum", Bug::AcceptBadChecksum},
                             {"acks-out-of-order", Bug::AcksOutOfOrder},
                             {"snapshot-wrong-id", Bug::SnapshotWrongId},
                             {"close-on-unknown-code", Bug::CloseOnUnknownCode},
                             {"accept-empty-delta", Bug::AcceptEmptyDelta}};

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxConns = 64;
constexpr std::uint32_t kMaxBody = 1u << 20;  // a lower limit than 16 MiB is allowed (§2.5)
constexpr std::size_t kMaxOutbox = 4u << 20;  // a client that never reads is dropped
constexpr auto kIdleTimeout = std::chrono::seconds(300);    // SESSION-3
constexpr auto kHoldAcks = std::chrono::milliseconds(200);  // acks-out-of-order only
constexpr std::uint16_t kWireVersion = 4;                   // HS-5

struct Conn {
  int fd = -1;
  std::string session_id;
  FrameStream stream{DecodeLimits{kMaxBody}};
  Bytes out;  // encoded frames not yet written
  bool authed = false;
  bool dead = false;
  std::map<std::uint64_t, std::uint64_t> dedup;  // peer_id -> highest accepted mutation_id
  std::map<std::string, std::string> shapes;     // shape_id -> collection ("" for Graph)
  std::map<std::string, std::uint64_t> clock;    // the session's server clock (VCLOCK-1)
  std::vector<Bytes> held;                       // acks held back by acks-out-of-order
  Clock::time_point held_since, last_seen = Clock::now();
};

class Server {
 public:
  explicit Server(Bug bug) : bug_(bug) {}

  void on_bytes(Conn& c, std::span<const std::uint8_t> bytes) {
    c.last_seen = Clock::now();
    c.stream.feed(bytes);
    for (;;) {
      const StreamEvent ev = c.stream.next();
      if (ev.kind == StreamEvent::Kind::NeedMore) return;
      if (ev.kind == StreamEvent::Kind::Closed || ev.fatal) {
        c.dead = true;  // FRAME-9: nothing sensible follows a refused header
        return;
      }
      if (ev.kind == StreamEvent::Kind::Error) {  // unknown code: the stream skips it (FRAME-3)
        if (bug_ == Bug::CloseOnUnknownCode) {
          c.dead = true;
          return;
        }
        continue;
      }
      const DecodedBody d = decode_body(ev.msg_type, ev.body);
      if (d.valid()) handle(c, *d.message);  // an undecodable body is ignored (FRAME-10)
    }
  }

  // acks-out-of-order: held acks leave in reverse once three wait, or after a pause.
  void release_held(Conn& c, bool force) {
    if (c.held.empty() || (!force && c.held.size() < 3 && Clock::now() - c.held_since < kHoldAcks))
      return;
    for (auto it = c.held.rbegin(); it != c.held.rend(); ++it)
      c.out.insert(c.out.end(), it->begin(), it->end());
    c.held.clear();
  }

  std::uint64_t next_connection() { return ++accepted_; }

 private:
  static void send(Conn& c, const Message& m) { append_frame(m, c.out); }

  void handle(Conn& c, const Message& m) {
    if (const auto* h = std::get_if<Handshake>(&m)) return handshake(c, *h);
    if (const auto* p = std::get_if<DeltaPush>(&m)) return push(c, *p);
    if (const auto* ping = std::get_if<PingPong>(&m)) {
      // PING-2; a Pong from the client needs no answer (PING-3).
      if (!ping->is_pong && !(bug_ == Bug::NoPong && c.authed))
        send(c, PingPong{ping->timestamp_ms, true});
      return;
    }
    if (const auto* ts = std::get_if<TimeseriesPush>(&m)) {
      send(c, TimeseriesAck{ts->collection, 0, ts->sample_count, 0});  // TS-2, TS-5
      return;
    }
    if (!c.authed) return;  // SESSION-6: before the handshake only Handshake and Ping count
    if (const auto* sub = std::get_if<ShapeSubscribe>(&m)) {
      std::string coll;
      if (const auto* d = std::get_if<shape_type::Document>(&sub->shape.shape_type))
        coll = d->collection;
      if (const auto* v = std::get_if<shape_type::Vector>(&sub->shape.shape_type))
        coll = v->collection;
      c.shapes[sub->shape.shape_id] = coll;
      snapshot(c, sub->shape.shape_id, coll);
    } else if (const auto* un = std::get_if<ShapeUnsubscribe>(&m)) {
      c.shapes.erase(un->shape_id);  // SHAPE-6: no answer
    } else if (const auto* rq = std::get_if<ResyncRequest>(&m)) {
      for (const auto& [id, coll] : c.shapes)  // RESYNC-8: fresh snapshots, in shape_id order
        if (rq->collection.empty() || rq->collection == coll) snapshot(c, id, coll);
    } else if (const auto* tr = std::get_if<TokenRefresh>(&m)) {
      // TOKEN-1: no key is configured, so no token can validate (AUTH-2).
      send(c,
           TokenRefreshAck{false,
                           tr->new_token.empty() ? "empty token"
                                                 : "JWT algorithm not supported or not configured",
                           0});
    } else if (const auto* vc = std::get_if<VectorClockSync>(&m)) {
      for (const auto& [k, v] : vc->clocks) c.clock[k] = std::max(c.clock[k], v);
      send(c, VectorClockSync{c.clock, 0});
    }
    // Throttle, PresenceUpdate and frames in the wrong direction: ignored (FRAME-11).
  }

  void handshake(Conn& c, const Handshake& h) {
    const unsigned v = h.wire_version == 0 ? 1 : h.wire_version;  // 0 is a legacy 1 (HS-3)
    HandshakeAck a{false, c.session_id, c.clock, std::nullopt, false, kWireVersion};
    if (v > kWireVersion) {  // HS-4, checked before the token
      a.error = "incompatible wire version: version compatibility: remote wire version " +
                std::to_string(v) + " is newer than local 4; upgrade this node";
    } else {
      a.success = true;  // trust mode: any token (AUTH-1)
    }
    c.authed = a.success;  // a failed handshake leaves the session unauthenticated (HS-4)
    send(c, a);
  }

  // The validation order of §5.3.2 (steps 1-4 and 8; no rate limit or policies).
  void push(Conn& c, const DeltaPush& p) {
    DeltaReject rej{p.mutation_id, {}, std::nullopt};
    const std::uint32_t crc = crc32c(p.delta);
    if (!c.authed) {
      rej.reason = "not authenticated";
      rej.compensation = compensation::PermissionDenied{};
    } else if (p.delta.empty() && bug_ != Bug::AcceptEmptyDelta) {
      rej.reason = "empty delta";
    } else if (p.checksum != 0 && crc != p.checksum && bug_ != Bug::AcceptBadChecksum) {
      char text[80];
      std::snprintf(text, sizeof text, "CRC32C mismatch: expected 0x%08x, computed 0x%08x",
                    p.checksum, crc);
      rej.reason = text;
      rej.compensation = compensation::IntegrityViolation{};
    }
    if (!rej.reason.empty()) return send(c, rej);

    DeltaAck ack{p.mutation_id, 0, std::nullopt};
    const auto seen = c.dedup.find(p.peer_id);
    const bool duplicate = seen != c.dedup.end() && p.mutation_id <= seen->second;
    if (!duplicate || bug_ == Bug::AckDuplicateWithLsn) ack.lsn = ++lsn_[p.collection];  // §1.1
    if (!duplicate) c.dedup[p.peer_id] = p.mutation_id;
    if (bug_ != Bug::AcksOutOfOrder) return send(c, ack);
    if (c.held.empty()) c.held_since = Clock::now();
    c.held.push_back(encode_frame(ack));
    release_held(c, false);
  }

  void snapshot(Conn& c, const std::string& id, const std::string& coll) {
    // SHAPE-4: data is opaque; an empty MessagePack array with doc_count 0.
    const auto lsn = coll.empty() ? lsn_.end() : lsn_.find(coll);
    send(c, ShapeSnapshot{bug_ == Bug::SnapshotWrongId ? id + "-other" : id, Bytes{0x90},
                          lsn == lsn_.end() ? 0 : lsn->second, 0});
  }

  Bug bug_;
  std::uint64_t accepted_ = 0;
  std::map<std::string, std::uint64_t> lsn_;  // collection -> last LSN (one tenant: 0)
};

// Writes what the socket takes now; the rest waits for POLLOUT. Also tried on a
// connection about to close, so answers already made still leave.
void flush(Conn& c) {
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    if (n <= 0) {
      c.dead = true;
      break;
    }
    c.out.erase(c.out.begin(), c.out.begin() + n);
  }
  if (c.out.size() > kMaxOutbox) c.dead = true;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "faulty_server: %s\nusage: faulty_server --port N [--bug NAME] "
               "[--port-file PATH]\nbugs:",
               why);
  for (const auto& b : kBugs) std::fprintf(stderr, " %s", b.name);
  std::fprintf(stderr, "\n");
  return 2;
}

int run(int argc, char** argv) {
  long port = -1;
  Bug bug = Bug::None;
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage(("missing value after " + arg).c_str());
    const char* value = argv[++i];
    if (arg == "--port") {
      char* end = nullptr;
      port = std::strtol(value, &end, 10);
      if (*value == '\0' || *end != '\0' || port < 0 || port > 65535) return usage("bad --port");
    } else if (arg == "--bug") {
      const auto* b = std::find_if(std::begin(kBugs), std::end(kBugs), [&](const BugName& x) {
        return std::strcmp(x.name, value) == 0;
      });
      if (b == std::end(kBugs))
        return usage(("unknown bug \"" + std::string(value) + "\"").c_str());
      bug = b->bug;
    } else if (arg == "--port-file") {
      port_file = value;
    } else {
      return usage(("unknown option " + arg).c_str());
    }
  }
  if (port < 0) return usage("--port is required");

  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(lfd, 16) != 0 || ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("faulty_server: listen");
    return 1;
  }
  const unsigned actual = ntohs(addr.sin_port);
  if (!port_file.empty()) {  // written whole, then renamed: readers never see a partial file
    const std::string tmp = port_file + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f || std::fprintf(f, "%u\n", actual) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), port_file.c_str()) != 0) {
      std::perror("faulty_server: port file");
      return 1;
    }
  }
  std::printf("%u\n", actual);
  std::fflush(stdout);

  Server server(bug);
  std::list<Conn> conns;
  std::vector<pollfd> fds;
  std::vector<std::uint8_t> buf(64 * 1024);
  for (;;) {
    fds.assign(1, pollfd{lfd, POLLIN, 0});
    bool holding = false;
    for (const Conn& c : conns) {
      fds.push_back(pollfd{c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
      holding = holding || !c.held.empty();
    }
    if (::poll(fds.data(), fds.size(), holding ? 10 : 1000) < 0 && errno != EINTR) {
      std::perror("faulty_server: poll");
      return 1;
    }
    std::size_t i = 1;  // conns and fds[1..] are in the same order
    for (Conn& c : conns) {
      const short ev = fds[i++].revents;
      if (ev & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = ::read(c.fd, buf.data(), buf.size());
        if (n > 0) {
          server.on_bytes(c,
                          std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          c.dead = true;  // end of stream (mid-frame: a FRAME-8 truncation) or an error
        }
      }
      server.release_held(c, c.dead);
      flush(c);
      if (Clock::now() - c.last_seen > kIdleTimeout) c.dead = true;
    }
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->dead) ::close(it->fd);
      it = it->dead ? conns.erase(it) : std::next(it);
    }
    if (fds[0].revents & POLLIN) {
      sockaddr_in peer{};
      socklen_t plen = sizeof peer;
      const int fd =
          ::accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0 && conns.size() >= kMaxConns) {
        ::close(fd);  // full: closed at once, without a frame (SESSION-2)
      } else if (fd >= 0) {
        Conn& c = conns.emplace_back();
        c.fd = fd;
        // SESSION-1: Origin's form, sync-<peer ip>:<peer port>-<n>.
        char ip[INET_ADDRSTRLEN] = "?";
        ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        c.session_id = "sync-" + std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port)) +
                       "-" + std::to_string(server.next_connection());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a vanished client is a failed write, not a death
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "faulty_server: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "faulty_server: unknown error\n");
  }
  return 1;
}
