// Connection: one open connection per client (CONN-3) and keepalive
// (PING-2). Owns the view's client_key, the client's lite_id once it is known.
#include <deque>

#include "conformance/checker/judge.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr RuleDecl kConnectionRules[] = {{"CONN-3"}, {"PING-2"}};

class ConnectionJudge final : public Judge {
 public:
  explicit ConnectionJudge(const JudgeDeps& d) : Judge(d.sink, "connection"), views_(d.views) {}
  std::span<const RuleDecl> rules() const override { return kConnectionRules; }

  void client_wrote(const FrameEvent& e) override;
  void server_read(const FrameEvent& e) override {
    if (const auto* ping = std::get_if<PingPong>(&e.m); ping && !ping->is_pong)
      conns_[e.r.conn].pings.emplace_back(ping->timestamp_ms, e.r.t);
  }
  void server_wrote(const FrameEvent& e) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_[conn].pings.clear(); }
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
    bool conn3_reported = false;
  };
  Views& views_;
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

}  // namespace

std::unique_ptr<Judge> make_connection_judge(const JudgeDeps& d) {
  return std::make_unique<ConnectionJudge>(d);
}

}  // namespace syncsim::conformance
