// Connection: one open connection per client (CONN-3) and the server's side
// of keepalive: every Ping answered (PING-2), no Pong answered (PING-3), and
// no session closed as idle soon after a Ping (PING-4, from the server's
// "idle_close" note: the wire does not say why a connection ended).
// Owns the view's client_key, the client's lite_id once it is known.
#include <algorithm>
#include <deque>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kConnectionRules[] = {
    {"CONN-3"}, {"PING-2"}, {"PING-3"}, {"PING-4", Scope::Simulator}};
constexpr std::size_t kMaxPongsRead = 1024;

class ConnectionJudge final : public Judge {
 public:
  explicit ConnectionJudge(const JudgeDeps& d)
      : Judge(d.sink, "connection"), views_(d.views), options_(d.options) {}
  std::span<const RuleDecl> rules() const override { return kConnectionRules; }

  void client_wrote(const FrameEvent& e) override;
  void server_read(const FrameEvent& e) override {
    const auto* ping = std::get_if<PingPong>(&e.m);
    if (ping && !ping->is_pong) {
      conns_[e.r.conn].pings.emplace_back(ping->timestamp_ms, e.r.t);
      conns_[e.r.conn].last_ping_read = e.r.t;
    }
    if (ping && ping->is_pong) {  // PING-3: owed no answer
      auto& pongs = conns_[e.r.conn].pongs_read;
      pongs.push_back(ping->timestamp_ms);
      if (pongs.size() > kMaxPongsRead) pongs.pop_front();
    }
  }
  void server_wrote(const FrameEvent& e) override;
  void noted(const StateNote& n) override;
  void closed(std::uint64_t conn, std::int64_t) override {
    conns_[conn].pings.clear();
    conns_[conn].pongs_read.clear();
  }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override {
    const auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    const auto& pings = it->second.pings;
    const auto old = std::count_if(pings.begin(), pings.end(),
                                   [&](const auto& p) { return p.second <= cutoff; });
    if (old > 0)
      report("PING-2", Level::Must, std::to_string(old) + " Ping(s) never answered", t, conn, "");
  }

 private:
  struct State {
    std::deque<std::pair<std::uint64_t, std::int64_t>> pings;  // PING-2: timestamp, read at
    std::deque<std::uint64_t> pongs_read;                      // PING-3: their timestamps
    std::optional<std::int64_t> last_ping_read;                // PING-4
    bool conn3_reported = false;
  };
  Views& views_;
  const CheckerOptions& options_;
  std::map<std::uint64_t, State> conns_;
  std::map<std::string, std::uint64_t> live_conn_;  // CONN-3: client -> its newest connection
};

void ConnectionJudge::client_wrote(const FrameEvent& e) {
  State& s = conns_[e.r.conn];
  const std::string& key = e.view.client_key;
  // CONN-3: a client whose newer connection is open still writing on an older
  // one has two at once. (A crashed client writes nothing more: no finding.)
  if (auto live = live_conn_.find(key);
      live != live_conn_.end() && live->second != e.r.conn && !s.conn3_reported) {
    auto newer = views_.find(live->second);
    if (newer != views_.end() && !newer->second.closed) {
      flag(e, "CONN-3", Level::Must,
           "client " + key + " wrote on connection " + std::to_string(e.r.conn) +
               " while its newer connection " + std::to_string(live->second) + " is open");
      s.conn3_reported = true;
    }
  }
  if (const auto* h = std::get_if<Handshake>(&e.m); h && !h->lite_id.empty()) {
    views_[e.r.conn].client_key = h->lite_id;
    live_conn_[h->lite_id] = e.r.conn;
  }
}

void ConnectionJudge::server_wrote(const FrameEvent& e) {
  const auto* pong = std::get_if<PingPong>(&e.m);
  if (!pong || !pong->is_pong) return;
  auto& pings = conns_[e.r.conn].pings;
  if (pings.empty()) {
    auto& pongs = conns_[e.r.conn].pongs_read;
    const auto echo = std::find(pongs.begin(), pongs.end(), pong->timestamp_ms);
    if (echo != pongs.end()) {  // an answer to the client's Pong
      flag(e, "PING-3", Level::Must,
           "Pong echoing the client's Pong " + std::to_string(pong->timestamp_ms) +
               " (a Pong the server reads draws no frame)");
      pongs.erase(echo);
      return;
    }
    flag(e, "PING-2", Level::Should, "Pong without an unanswered Ping");
    return;
  }
  if (pings.front().first != pong->timestamp_ms) {
    flag(e, "PING-2", Level::Must,
         "Pong timestamp " + std::to_string(pong->timestamp_ms) + " does not echo the Ping's " +
             std::to_string(pings.front().first));
  }
  e.facts.ping_read_at = pings.front().second;  // THROTTLE-5
  pings.pop_front();
}

// PING-4: a session closed as idle within the idle timeout of a Ping it read.
void ConnectionJudge::noted(const StateNote& n) {
  const auto idle = options_.server_profile.idle_timeout_ns;
  if (n.side != Sender::Server || !n.is("idle_close") || !idle) return;
  const auto it = conns_.find(n.conn);
  if (it == conns_.end() || !it->second.last_ping_read) return;
  const std::int64_t since = n.t - *it->second.last_ping_read;
  const std::int32_t ppm =
      options_.server_profile.clock_drift_ppm.value_or(static_cast<int>(kDefaultDriftPpm));
  if (since < shortest_ns(*idle, ppm) - 5'000'000) {
    report("PING-4", Level::Must,
           "session closed as idle " + ms_text(since) + " after the server read a Ping (idle " +
               "timeout " + ms_text(*idle) + "; a Ping is activity)",
           n.t, n.conn, "");
  }
}

}  // namespace

std::unique_ptr<Judge> make_connection_judge(const JudgeDeps& d) {
  return std::make_unique<ConnectionJudge>(d);
}

}  // namespace syncsim::conformance
