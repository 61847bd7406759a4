// The checker's core: decodes each frame once, keeps the connections' shared
// views and recent frames, and hands every event to the judges in order
// (D73). The rules themselves live in the judges (judge_*.cpp).
#include "conformance/checker/session_checker.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "conformance/checker/judge.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/json.hpp"
#include "protocol/rules.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr std::size_t kContextFrames = 5;

std::string side_name(Sender s) { return s == Sender::Client ? "client" : "server"; }
std::string other_side(Sender s) { return s == Sender::Client ? "server" : "client"; }

std::string json_of_frame(const DecodedFrame& d, std::uint8_t code) {
  if (d.message) return dump_json(message_to_json(*d.message));
  return "{\"msg_type\":" + std::to_string(code) + ",\"undecodable\":true}";
}

}  // namespace

std::string Judge::json_of(const Message& m) { return dump_json(message_to_json(m)); }

std::string format_check_finding(const CheckFinding& f) {
  char t[32];
  std::snprintf(t, sizeof t, "%.3fs", static_cast<double>(f.t) / 1e9);  // display only
  return std::string(f.finding.rule) + " (" + std::string(level_name(f.finding.level)) +
         ") t=" + t + " conn " + std::to_string(f.conn) + ": " + f.finding.message;
}

struct SessionChecker::Impl final : FindingSink {
  struct RecentFrame {  // kept decoded; its line rendered once, when a finding's is first read
    Sender from;
    Seen seen;
    std::uint8_t code;  // the frame's first byte (0 when empty)
    std::shared_ptr<const DecodedFrame> decoded;
    mutable std::shared_ptr<std::string> line;  // made when a finding first takes the frame
    const std::string& render() const;
  };
  struct Pending {  // a frame written, not yet recorded as read, with its decoding
    Bytes frame;
    std::shared_ptr<const DecodedFrame> decoded;
  };
  struct Conn {  // what the core itself keeps per connection
    bool client_spoke = false, server_spoke = false;
    std::deque<RecentFrame> recent;  // context of findings
    std::deque<Pending> pending[2];  // per sender: written frames awaiting their read (D83)
    std::size_t pending_bytes[2] = {0, 0};
  };
  std::shared_ptr<const DecodedFrame> decode(Conn& c, const FrameRecord& r);
  void written(Conn& c, Sender from, Bytes frame, std::shared_ptr<const DecodedFrame> d);

  explicit Impl(CheckerOptions o) : options(std::move(o)) {
    const JudgeDeps d{*this, options, views};
    for (auto make : {make_framing_judge,      make_handshake_judge,  make_connection_judge,
                      make_delta_judge,        make_shape_judge,      make_throttle_judge,
                      make_token_judge,        make_purge_judge,      make_timeseries_judge,
                      make_vclock_judge,       make_session_judge,    make_auth_judge,
                      make_delta_client_judge, make_ping_judge,       make_reconnect_judge,
                      make_flow_judge,         make_rate_judge,       make_presence_judge,
                      make_answers_judge,      make_definition_judge, make_resync_judge})
      add(make(d));
  }
  void add(std::unique_ptr<Judge> j) {
    for (auto& list : listeners) list.push_back(j.get());
    judges.push_back(std::move(j));
  }
  // Calls `call` on each judge that handles `ev`, in dispatch order; a judge
  // whose base version ran (Judge::ignores) is not called for `ev` again.
  template <class Call>
  void each(JudgeEvent ev, Call&& call) {
    auto& list = listeners[static_cast<std::size_t>(ev)];
    bool prune = false;
    for (Judge* j : list) {
      call(*j);
      prune = prune || j->ignores(ev);
    }
    if (prune) std::erase_if(list, [ev](const Judge* j) { return j->ignores(ev); });
  }

  void judge_report(std::string_view judge, std::span<const RuleDecl> declared,
                    std::string_view rule, Level level, std::string message, std::int64_t t,
                    std::uint64_t conn, const std::string& frame_json) override;
  void dispatch(const FrameRecord& r, const Message& m, Conn& c, const SessionView& view);
  void on_frame(const FrameRecord& r, Bytes* take);
  ContextLines context_of(std::uint64_t conn) const;

  CheckerOptions options;
  Views views;
  std::map<std::uint64_t, Conn> conns;
  std::vector<std::unique_ptr<Judge>> judges;
  std::array<std::vector<Judge*>, kJudgeEvents> listeners;  // per event: judges that handle it
  std::vector<CheckFinding> findings;
  std::vector<std::string> internal_errors;
  std::uint64_t frames = 0;
  std::optional<std::uint64_t> current;  // the connection whose recent frames give context
  std::optional<Sender> current_from;    // sender of the frame being judged
};

// D83: a frame recorded written and then read is decoded once. decode_frame
// is a function of the bytes alone, so the read record reuses the written
// one's decoding when the bytes match; frames the relay dropped age out.
std::shared_ptr<const DecodedFrame> SessionChecker::Impl::decode(Conn& c, const FrameRecord& r) {
  if (r.seen == Seen::Received) {
    const int side = r.from == Sender::Client ? 0 : 1;
    auto& q = c.pending[side];
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (it->frame != r.frame) continue;
      auto d = std::move(it->decoded);
      c.pending_bytes[side] -= it->frame.size();
      q.erase(it);
      return d;
    }
  }
  return std::make_shared<const DecodedFrame>(decode_frame(r.frame));
}

// A written frame awaits its read. A reader may lag far behind a burst of
// frames: up to kMaxPending of them are kept, or at least kMinPending while
// they hold more than kMaxPendingBytes.
void SessionChecker::Impl::written(Conn& c, Sender from, Bytes frame,
                                   std::shared_ptr<const DecodedFrame> d) {
  constexpr std::size_t kMaxPending = 256, kMinPending = 16;
  constexpr std::size_t kMaxPendingBytes = 4u << 20;
  const int side = from == Sender::Client ? 0 : 1;
  auto& q = c.pending[side];
  auto& bytes = c.pending_bytes[side];
  bytes += frame.size();
  q.push_back(Pending{std::move(frame), std::move(d)});
  while (q.size() > kMaxPending || (q.size() > kMinPending && bytes > kMaxPendingBytes)) {
    bytes -= q.front().frame.size();
    q.pop_front();
  }
}

void SessionChecker::Impl::judge_report(std::string_view judge, std::span<const RuleDecl> declared,
                                        std::string_view rule, Level level, std::string message,
                                        std::int64_t t, std::uint64_t conn,
                                        const std::string& frame_json) {
  if (std::none_of(declared.begin(), declared.end(),
                   [&](const RuleDecl& d) { return d.id == rule; })) {
    internal_errors.push_back("judge \"" + std::string(judge) + "\" reported " + std::string(rule) +
                              ", which it does not declare");
  }
  CheckFinding f;
  f.finding = Finding{rule, level, Problem::ValueConstraint, 0, std::move(message)};
  f.t = t;
  f.conn = conn;
  f.frame = frame_json;
  const Rule* info = find_rule(rule);
  f.blamed = info && info->binds == Binds::Client   ? Sender::Client
             : info && info->binds == Binds::Server ? Sender::Server
                                                    : current_from.value_or(Sender::Server);
  if (current) f.context = context_of(*current);  // rendered only when a report shows it
  findings.push_back(std::move(f));
}

const std::string& SessionChecker::Impl::RecentFrame::render() const {
  if (line->empty()) {
    const char* verb = seen == Seen::Received ? " read " : seen == Seen::Written ? " wrote " : " ";
    *line = (seen == Seen::Received ? other_side(from) : side_name(from)) + verb +
            json_of_frame(*decoded, code);
  }
  return *line;
}

// The connection's recent frames as they are now, rendered when first read.
ContextLines SessionChecker::Impl::context_of(std::uint64_t conn) const {
  const auto it = conns.find(conn);
  if (it == conns.end()) return {};
  for (const auto& kept : it->second.recent) {  // its line is shared with later findings
    if (!kept.line) kept.line = std::make_shared<std::string>();
  }
  std::vector<RecentFrame> before(it->second.recent.begin(), it->second.recent.end());
  return ContextLines::deferred([before = std::move(before)] {
    std::vector<std::string> out;
    out.reserve(before.size());
    for (const auto& f : before) out.push_back(f.render());
    return out;
  });
}

// A well-formed frame, to every judge as written and/or as read.
void SessionChecker::Impl::dispatch(const FrameRecord& r, const Message& m, Conn& c,
                                    const SessionView& view) {
  FrameFacts facts;
  const bool written = r.seen != Seen::Received;
  const bool read = r.seen != Seen::Written;
  const bool client = r.from == Sender::Client;
  bool& spoke = client ? c.client_spoke : c.server_spoke;
  const FrameEvent e{r, m, view, facts, !spoke};
  if (written) {
    if (client)
      each(JudgeEvent::ClientWrote, [&](Judge& j) { j.client_wrote(e); });
    else
      each(JudgeEvent::ServerWrote, [&](Judge& j) { j.server_wrote(e); });
    spoke = true;
  }
  if (read) {
    if (client)
      each(JudgeEvent::ServerRead, [&](Judge& j) { j.server_read(e); });
    else
      each(JudgeEvent::ClientRead, [&](Judge& j) { j.client_read(e); });
  }
}

SessionChecker::SessionChecker(CheckerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
SessionChecker::~SessionChecker() = default;
SessionChecker::SessionChecker(SessionChecker&&) noexcept = default;
SessionChecker& SessionChecker::operator=(SessionChecker&&) noexcept = default;

void SessionChecker::add_judge(
    const std::function<std::unique_ptr<Judge>(const JudgeDeps&)>& make) {
  impl_->add(make(JudgeDeps{*impl_, impl_->options, impl_->views}));
}

void SessionChecker::set_tap_tolerance_ns(std::int64_t ns) { impl_->options.tap_tolerance_ns = ns; }
std::int64_t SessionChecker::tap_tolerance_ns() const { return impl_->options.tap_tolerance_ns; }

const std::vector<CheckFinding>& SessionChecker::findings() const { return impl_->findings; }
std::uint64_t SessionChecker::frames() const { return impl_->frames; }
const std::vector<std::string>& SessionChecker::internal_errors() const {
  return impl_->internal_errors;
}

std::size_t SessionChecker::must_count() const {
  return static_cast<std::size_t>(
      std::count_if(impl_->findings.begin(), impl_->findings.end(),
                    [](const CheckFinding& f) { return f.finding.level == Level::Must; }));
}

std::vector<DeclaredRule> SessionChecker::declared_rules() {
  const SessionChecker probe;
  std::vector<DeclaredRule> out;
  for (const auto& j : probe.impl_->judges) {
    for (const auto& d : j->rules()) out.push_back(DeclaredRule{j->name(), d.id, d.scope});
  }
  return out;
}

const std::vector<std::string_view>& SessionChecker::session_rules() {
  static const std::vector<std::string_view> kRules = [] {
    std::vector<std::string_view> out;
    for (const auto& d : declared_rules()) {
      if (d.judge != "framing" && std::find(out.begin(), out.end(), d.rule) == out.end())
        out.push_back(d.rule);
    }
    return out;
  }();
  return kRules;
}

void SessionChecker::on_frame(const FrameRecord& r) { impl_->on_frame(r, nullptr); }
void SessionChecker::on_frame(FrameRecord&& r) { impl_->on_frame(r, &r.frame); }

// `take`, when set, is r.frame, which may be moved from once judged.
void SessionChecker::Impl::on_frame(const FrameRecord& r, Bytes* take) {
  ++frames;
  SessionView& view = views[r.conn];
  if (view.client_key.empty()) view.client_key = "conn:" + std::to_string(r.conn);
  Conn& c = conns[r.conn];
  current = r.conn;
  current_from.reset();
  each(JudgeEvent::Deadlines, [&](Judge& j) { j.deadlines(r.conn, r.t); });
  current_from = r.from;
  auto decoded = decode(c, r);
  const DecodedFrame& d = *decoded;
  each(JudgeEvent::Decoded, [&](Judge& j) { j.decoded(r, d); });
  if (d.message && !has_must(d.findings)) dispatch(r, *d.message, c, view);
  c.recent.push_back(
      RecentFrame{r.from, r.seen, r.frame.empty() ? std::uint8_t{0} : r.frame[0], decoded, {}});
  if (c.recent.size() > kContextFrames) c.recent.pop_front();
  if (r.seen == Seen::Written)
    written(c, r.from, take ? std::move(*take) : r.frame, std::move(decoded));
  current.reset();
  current_from.reset();
}

void SessionChecker::on_purge(std::uint32_t tenant, const std::string& collection, std::int64_t t) {
  impl_->each(JudgeEvent::Purged, [&](Judge& j) { j.purged(tenant, collection, t); });
}

void SessionChecker::on_note(const StateNote& note) {
  Impl& im = *impl_;
  if (note.conn != 0) im.current = note.conn;
  im.current_from = note.side;  // a rule binding both is blamed on the side that noted
  im.each(JudgeEvent::Noted, [&](Judge& j) { j.noted(note); });
  im.current.reset();
  im.current_from.reset();
}

std::string_view ws_kind_name(WsKind k) {
  switch (k) {
    case WsKind::Binary: return "binary";
    case WsKind::Text: return "text";
    case WsKind::Ping: return "ping";
    case WsKind::Pong: return "pong";
    case WsKind::Close: return "close";
  }
  return "binary";
}

void SessionChecker::on_ws_message(const WsRecord& r) {
  Impl& im = *impl_;
  SessionView& view = im.views[r.conn];
  if (view.client_key.empty()) view.client_key = "conn:" + std::to_string(r.conn);
  im.current = r.conn;
  im.each(JudgeEvent::Deadlines, [&](Judge& j) { j.deadlines(r.conn, r.t); });
  im.current_from = r.from;
  im.each(JudgeEvent::WsMessage, [&](Judge& j) { j.ws_message(r); });
  im.current.reset();
  im.current_from.reset();
  if (r.kind != WsKind::Binary) return;
  // The receiver parses the message's first frame only (§2.3).
  const MessageFrame m = frame_of_message(r.payload);
  if (m.kind != MessageFrame::Kind::Frame) return;
  on_frame(FrameRecord{r.t, r.conn, r.from, Bytes(m.frame.begin(), m.frame.end()), r.seen});
}

void SessionChecker::on_hangup(std::uint64_t conn, Sender side, std::int64_t t) {
  Impl& im = *impl_;
  if (!im.views.count(conn)) return;
  im.current = conn;
  im.current_from = side;
  im.each(JudgeEvent::HungUp, [&](Judge& j) { j.hung_up(conn, side, t); });
  im.current.reset();
  im.current_from.reset();
}

void SessionChecker::on_close(std::uint64_t conn, std::int64_t t) {
  Impl& im = *impl_;
  const auto it = im.views.find(conn);
  if (it == im.views.end()) return;
  im.current = conn;
  im.each(JudgeEvent::Deadlines, [&](Judge& j) { j.deadlines(conn, t); });
  im.current.reset();
  im.each(JudgeEvent::Closed,
          [&](Judge& j) { j.closed(conn, t); });  // answers are owed only while it lives
  it->second.closed = true;
}

void SessionChecker::finish(std::int64_t t, std::int64_t grace_ns) {
  impl_->options.grace_ns = grace_ns;
  finish(t);
}

void SessionChecker::finish(std::int64_t t) {
  Impl& im = *impl_;
  const std::int64_t cutoff = t - im.options.grace_ns;  // younger requests may still be in flight
  for (const auto& entry : im.views) {
    // A plain variable: clang 14's lambdas cannot capture a structured binding.
    const std::uint64_t conn = entry.first;
    im.current = conn;
    im.each(JudgeEvent::Deadlines, [&](Judge& j) { j.deadlines(conn, t); });
    im.each(JudgeEvent::Finish, [&](Judge& j) { j.finish(conn, t, cutoff); });
    im.current.reset();
  }
}

}  // namespace syncsim::conformance
