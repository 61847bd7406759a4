// faulty_probe: drives a faulty_server (its sync port, its admin port, its
// JWT secret) through what today's `syncsim check --server` never asks, one
// probe per rule, and prints PASS or FAIL per rule. It proves the clean
// faulty_server really does these things and that its defects there are
// observable on the wire: the input for new check cases (issue 16). It is
// not a checker: one scripted expectation per rule, nothing else judged.
//
// Usage: faulty_probe --port N --admin-port N --jwt-secret S [--only RULE]
// Exit: 0 every probe passed, 1 one failed, 2 bad options or no connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocol/base64url.hpp"
#include "protocol/codec.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/frame_stream.hpp"

using namespace syncsim::protocol;

namespace {

using Clock = std::chrono::steady_clock;
std::string g_secret;
int g_port = 0, g_admin = 0;

std::int64_t unix_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string mint(std::uint32_t tenant, std::int64_t exp, const std::string& sub = "probe") {
  const std::string claims = "{\"sub\":\"" + sub + "\",\"tenant_id\":" + std::to_string(tenant) +
                             ",\"exp\":" + std::to_string(exp) + "}";
  const std::string part =
      base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), g_secret.data(), static_cast<int>(g_secret.size()),
       reinterpret_cast<const unsigned char*>(part.data()), part.size(), mac, &len);
  return part + "." + base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

int dial(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

struct Got {
  Message msg;
  Bytes frame;
};

class Session {
 public:
  Session() : fd_(dial(g_port)) {}
  ~Session() { close(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool ok() const { return fd_ >= 0; }
  void send(const Message& m) {
    const Bytes f = encode_frame(m);
    if (fd_ >= 0 && ::send(fd_, f.data(), f.size(), MSG_NOSIGNAL) < 0) close();
  }
  // The first frame matching `want` within ms; frames before it are dropped.
  template <class T>
  std::optional<Got> wait(int ms, std::function<bool(const T&)> want = {}) {
    const auto end = Clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      while (!inbox_.empty()) {
        Got g = std::move(inbox_.front());
        inbox_.pop_front();
        const auto* t = std::get_if<T>(&g.msg);
        if (t && (!want || want(*t))) return g;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left.count() <= 0 || !read(static_cast<int>(left.count()))) return std::nullopt;
    }
  }
  // Every frame that arrives within ms.
  std::vector<Got> drain(int ms) {
    const auto end = Clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (left.count() <= 0 || !read(static_cast<int>(left.count()))) break;
    }
    std::vector<Got> out(inbox_.begin(), inbox_.end());
    inbox_.clear();
    return out;
  }
  bool handshake(const std::string& token, const std::string& lite_id = "",
                 std::uint64_t epoch = 0) {
    Handshake h;
    h.jwt_token = token;
    h.client_version = "faulty-probe";
    h.lite_id = lite_id;
    h.epoch = epoch;
    h.wire_version = 1;
    send(h);
    const auto a = wait<HandshakeAck>(1000);
    last_ack = a ? std::optional<HandshakeAck>(std::get<HandshakeAck>(a->msg)) : std::nullopt;
    return a && last_ack->success;
  }
  bool subscribe(const std::string& id, const std::string& coll) {
    ShapeSubscribe s;
    s.shape.shape_id = id;
    s.shape.shape_type = shape_type::Document{coll, {}};
    send(s);
    return wait<ShapeSnapshot>(1000).has_value();
  }
  std::optional<HandshakeAck> last_ack;

 private:
  bool read(int ms) {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    std::uint8_t buf[65536];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) {
      close();
      return false;
    }
    stream_.feed(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)));
    for (;;) {
      const StreamEvent ev = stream_.next();
      if (ev.kind == StreamEvent::Kind::NeedMore) break;
      if (ev.kind != StreamEvent::Kind::Frame) continue;
      Bytes f{ev.msg_type};
      for (int i = 0; i < 4; ++i) f.push_back(static_cast<std::uint8_t>(ev.body.size() >> (8 * i)));
      f.insert(f.end(), ev.body.begin(), ev.body.end());
      const DecodedBody d = decode_body(ev.msg_type, ev.body);
      if (d.valid()) inbox_.push_back(Got{*d.message, std::move(f)});
    }
    return true;
  }
  int fd_;
  FrameStream stream_;
  std::deque<Got> inbox_;
};

std::string admin(const std::string& line) {
  const int fd = dial(g_admin);
  if (fd < 0) return "no admin port";
  const std::string l = line + "\n";
  ::send(fd, l.data(), l.size(), MSG_NOSIGNAL);
  std::string reply;
  char c = 0;
  pollfd p{fd, POLLIN, 0};
  while (reply.size() < 200 && ::poll(&p, 1, 1000) > 0 && ::read(fd, &c, 1) == 1 && c != '\n')
    reply += c;
  ::close(fd);
  return reply;
}

DeltaPush push(const std::string& coll, std::uint64_t id, std::uint64_t peer = 77) {
  DeltaPush p;
  p.collection = coll;
  p.document_id = "d" + std::to_string(id);
  p.delta = {1, 2, static_cast<std::uint8_t>(id)};
  p.peer_id = peer;
  p.mutation_id = id;
  p.checksum = crc32c(p.delta);
  return p;
}

template <class T>
std::size_t count(const std::vector<Got>& v) {
  std::size_t n = 0;
  for (const Got& g : v) n += std::holds_alternative<T>(g.msg) ? 1 : 0;
  return n;
}

// Each probe returns "" when the rule held, else what went wrong.
using Probe = std::function<std::string()>;
struct Entry {
  const char* rule;
  const char* what;
  Probe run;
};

std::vector<Entry> probes() {
  const std::int64_t hour = unix_s() + 3600;
  return {
      {"HS-9", "the same lite_id and epoch again is refused as a fork",
       [=]() -> std::string {
         Session a, b;
         if (!a.handshake(mint(1, hour), "probe-lite-9", 5)) return std::string("first refused");
         b.handshake(mint(1, hour), "probe-lite-9", 5);
         return b.last_ack && b.last_ack->fork_detected ? "" : "no fork_detected";
       }},
      {"HS-10", "after a fork refusal a push is rejected \"not authenticated\"",
       [=]() -> std::string {
         Session a, b;
         a.handshake(mint(1, hour), "probe-lite-10", 5);
         b.handshake(mint(1, hour), "probe-lite-10", 5);
         b.send(push("p_hs10", 1));
         const auto r = b.wait<DeltaReject>(500);
         return r && std::get<DeltaReject>(r->msg).reason == "not authenticated"
                    ? ""
                    : "the push was not rejected";
       }},
      {"SHAPE-7", "the writer's own subscription receives its write (§1.1)",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         a.subscribe("s", "p_echo");
         a.send(push("p_echo", 1));
         return a.wait<ShapeDelta>(500) ? "" : "no ShapeDelta to the writer";
       }},
      {"SHAPE-3", "a ShapeSnapshot comes before any ShapeDelta of the shape",
       [=]() -> std::string {
         admin("write 1 p_snap d1 0102");
         Session a;
         a.handshake(mint(1, hour));
         ShapeSubscribe s;
         s.shape.shape_id = "s";
         s.shape.shape_type = shape_type::Document{"p_snap", {}};
         a.send(s);
         const auto all = a.drain(300);
         for (const Got& g : all) {
           if (std::holds_alternative<ShapeSnapshot>(g.msg)) return std::string();
           if (std::holds_alternative<ShapeDelta>(g.msg)) return std::string("a delta came first");
         }
         return std::string("no snapshot");
       }},
      {"SHAPE-6", "no ShapeDelta after ShapeUnsubscribe",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         a.subscribe("s", "p_unsub");
         a.send(ShapeUnsubscribe{"s"});
         a.drain(100);
         admin("write 1 p_unsub d1 0102");
         return count<ShapeDelta>(a.drain(300)) == 0 ? "" : "a ShapeDelta came";
       }},
      {"THROTTLE-4", "Throttle{rate 2}: at most 2 data frames a second; release flushes the rest",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         a.subscribe("s", "p_thr");
         a.send(Throttle{true, 5000, 2});
         a.drain(100);
         for (int i = 0; i < 6; ++i) admin("write 1 p_thr d" + std::to_string(i) + " 01");
         const std::size_t paced = count<ShapeDelta>(a.drain(600));
         if (paced > 2) return "paced " + std::to_string(paced) + " deltas in 0.6 s";
         a.send(Throttle{false, 0, 0});
         const std::size_t rest = count<ShapeDelta>(a.drain(300));
         return paced + rest == 6 ? "" : "after the release only " + std::to_string(paced + rest);
       }},
      {"TOKEN-9", "a token past exp + 60 s during the session: pushes rejected \"token expired\"",
       [=]() -> std::string {
         Session a;
         if (!a.handshake(mint(1, unix_s() - 59))) return std::string("handshake refused");
         ::usleep(2'200'000);
         a.send(push("p_tok", 1));
         const auto r = a.wait<DeltaReject>(500);
         return r && std::get<DeltaReject>(r->msg).reason == "token expired"
                    ? ""
                    : "the push was not rejected";
       }},
      {"TOKEN-1", "a TokenRefresh with another tenant's token is refused \"tenant mismatch\"",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         a.send(TokenRefresh{mint(2, hour)});
         const auto r = a.wait<TokenRefreshAck>(500);
         return r && !std::get<TokenRefreshAck>(r->msg).success ? "" : "accepted";
       }},
      {"PURGE-1", "purge: notice to the tenant's session, none to another tenant's",
       [=]() -> std::string {
         Session a, b;
         a.handshake(mint(1, hour));
         b.handshake(mint(2, hour));
         a.send(push("p_purge1", 1));
         a.wait<DeltaAck>(500);
         admin("purge 1 p_purge1");
         if (!a.wait<CollectionPurged>(500)) return std::string("no notice to the tenant");
         return count<CollectionPurged>(b.drain(200)) == 0 ? "" : "notice to another tenant";
       }},
      {"PURGE-2", "purge_lsn is above every acknowledged LSN of the collection",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         a.send(push("p_purge2", 1));
         const auto ack = a.wait<DeltaAck>(500);
         admin("purge 1 p_purge2");
         const auto n = a.wait<CollectionPurged>(500);
         if (!ack || !n) return std::string("no ack or no notice");
         return std::get<CollectionPurged>(n->msg).purge_lsn > std::get<DeltaAck>(ack->msg).lsn
                    ? ""
                    : "purge_lsn not above the acked lsn";
       }},
      {"PURGE-4", "a push to a purged collection is rejected \"collection purged\"",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         admin("write 1 p_purge4 d1 01");
         admin("purge 1 p_purge4");
         a.send(push("p_purge4", 1));
         const auto r = a.wait<DeltaReject>(500);
         return r && std::get<DeltaReject>(r->msg).reason == "collection purged" ? ""
                                                                                 : "not rejected";
       }},
      {"PRES-2", "a PresenceBroadcast goes to the other peers, not to the sender",
       [=]() -> std::string {
         Session a, b;
         a.handshake(mint(1, hour, "ann"));
         b.handshake(mint(1, hour, "bob"));
         b.send(PresenceUpdate{"ch2", {1}});
         b.drain(100);
         a.send(PresenceUpdate{"ch2", {2}});
         const bool to_b = count<PresenceBroadcast>(b.drain(200)) == 1;
         const bool to_a = count<PresenceBroadcast>(a.drain(100)) != 0;
         return to_b && !to_a ? "" : to_a ? "echoed to the sender" : "nothing to the other peer";
       }},
      {"PRES-5", "a peer's disconnect sends PresenceLeave to the others",
       [=]() -> std::string {
         Session a, b;
         a.handshake(mint(1, hour, "ann"));
         b.handshake(mint(1, hour, "bob"));
         a.send(PresenceUpdate{"ch5", {1}});
         b.send(PresenceUpdate{"ch5", {2}});
         a.drain(100);
         b.close();
         return a.wait<PresenceLeave>(700) ? "" : "no PresenceLeave";
       }},
      {"TS-3", "TimeseriesAck counts the samples both Gorilla blocks hold (App. B vectors)",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         TimeseriesPush t;
         t.lite_id = "probe";
         t.collection = "cpu";
         t.ts_block = {3, 0, 0, 0, 0, 0, 0, 0, 0,    0,    3, 0xe8,
                       0, 0, 0, 0, 0, 0, 0, 0, 0xe3, 0xe8, 0};
         t.val_block = {3,    0, 0, 0, 0, 0, 0, 0,    0,    0,    0,    0,   0x3f,
                        0xf8, 0, 0, 0, 0, 0, 0, 0x80, 0x98, 0x26, 0x7f, 0xfc};
         t.sample_count = 5;  // two more than the blocks hold
         a.send(t);
         const auto r = a.wait<TimeseriesAck>(500);
         if (!r) return std::string("no ack");
         const auto& k = std::get<TimeseriesAck>(r->msg);
         return k.accepted == 3 && k.rejected == 2 ? "" : "accepted " + std::to_string(k.accepted);
       }},
      {"TS-4", "a TimeseriesAck accepting samples has a positive lsn",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         TimeseriesPush t;
         t.collection = "cpu";
         t.ts_block = {3, 0, 0, 0, 0, 0, 0, 0, 0,    0,    3, 0xe8,
                       0, 0, 0, 0, 0, 0, 0, 0, 0xe3, 0xe8, 0};
         t.val_block = t.ts_block;
         t.sample_count = 3;
         a.send(t);
         const auto r = a.wait<TimeseriesAck>(500);
         return r && std::get<TimeseriesAck>(r->msg).lsn > 0 ? "" : "lsn 0";
       }},
      {"DEF-4", "a definition reaches its tenant's sessions and no other tenant's",
       [=]() -> std::string {
         Session a, b;
         a.handshake(mint(1, hour));
         b.handshake(mint(2, hour));
         admin("define 1 function probe_fn put {\"body\":1}");
         if (!a.wait<DefinitionSync>(500)) return std::string("not sent to the tenant");
         return count<DefinitionSync>(b.drain(200)) == 0 ? "" : "sent to another tenant";
       }},
      {"VCLOCK-1", "VectorClockSync keeps the maximum per key",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         a.send(VectorClockSync{{{"k", 5}}, 9});
         a.wait<VectorClockSync>(500);
         a.send(VectorClockSync{{{"k", 3}}, 9});
         const auto r = a.wait<VectorClockSync>(500);
         return r && std::get<VectorClockSync>(r->msg).clocks.at("k") == 5 ? "" : "not the max";
       }},
      {"ENC-3", "a clock_skew_warning_ms >= 128 uses a signed marker (d1..d3)",
       [=]() -> std::string {
         Session a;
         a.handshake(mint(1, hour));
         DeltaPush p = push("p_skew", 1);
         p.device_valid_time_ms = (unix_s() - 2 * 86400) * 1000;
         a.send(p);
         const auto r = a.wait<DeltaAck>(500);
         if (!r || !std::get<DeltaAck>(r->msg).clock_skew_warning_ms) return std::string("no skew");
         // body: 93 <mutation_id 01> <lsn 01> <skew>: the skew's marker is the 4th body byte.
         const std::uint8_t marker = r->frame.at(5 + 3);
         char text[32];
         std::snprintf(text, sizeof text, "marker 0x%02x", marker);
         return marker >= 0xd1 && marker <= 0xd3 ? "" : text;
       }},
  };
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--port") g_port = std::atoi(argv[i + 1]);
    if (a == "--admin-port") g_admin = std::atoi(argv[i + 1]);
    if (a == "--jwt-secret") g_secret = argv[i + 1];
    if (a == "--only") only = argv[i + 1];
  }
  if (g_port <= 0 || g_admin <= 0 || g_secret.empty()) {
    std::fprintf(stderr,
                 "usage: faulty_probe --port N --admin-port N --jwt-secret S [--only RULE]\n");
    return 2;
  }
  if (dial(g_port) < 0) {
    std::fprintf(stderr, "faulty_probe: cannot connect to port %d\n", g_port);
    return 2;
  }
  int failed = 0;
  for (const Entry& e : probes()) {
    if (!only.empty() && only != e.rule) continue;
    const std::string why = e.run();
    std::printf("  %-5s %-11s %s%s%s\n", why.empty() ? "PASS" : "FAIL", e.rule, e.what,
                why.empty() ? "" : ": ", why.c_str());
    failed += why.empty() ? 0 : 1;
  }
  std::fflush(stdout);
  return failed == 0 ? 0 : 1;
}
