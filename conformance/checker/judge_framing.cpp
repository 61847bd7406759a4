// Framing and encoding: everything one frame shows alone (decode_frame and
// validate(): ENC-*, FRAME-*, value rules), judged on the writer; what one
// WebSocket message shows (FRAME-4, FRAME-6, FRAME-7, FRAME-9); and what the
// receiver of a frame or message it must ignore does: hanging up right after
// it, having written nothing since, is closing because of it (FRAME-3,
// FRAME-5, FRAME-7, FRAME-10, ENC-11). The server answers WebSocket Pings
// and ends the session on a Close (FRAME-12).
#include <algorithm>
#include <deque>

#include "conformance/checker/judge.hpp"
#include "protocol/frame_header.hpp"

namespace syncsim::conformance {

using namespace protocol;

namespace {

constexpr std::size_t kMaxPings = 64;  // unanswered WebSocket Pings kept per connection

// Judged here beyond what decode_frame and validate() cite.
constexpr std::string_view kOwnRules[] = {"FRAME-3",  "FRAME-4",  "FRAME-5", "FRAME-7",
                                          "FRAME-10", "FRAME-12", "ENC-11"};

class FramingJudge final : public Judge {
 public:
  explicit FramingJudge(const JudgeDeps& d) : Judge(d.sink, "framing"), options_(d.options) {
    for (const auto id : frame_rules()) rules_.push_back(RuleDecl{id, Scope::Trace});
    for (const auto id : kOwnRules) {
      if (std::none_of(rules_.begin(), rules_.end(), [&](const RuleDecl& r) { return r.id == id; }))
        rules_.push_back(RuleDecl{id, Scope::Trace});
    }
  }
  std::span<const RuleDecl> rules() const override { return rules_; }

  void decoded(const FrameRecord& r, const DecodedFrame& d) override {
    if (r.seen != Seen::Received) written(r, d);
    if (r.seen != Seen::Written) read(r, d);
  }
  void ws_message(const WsRecord& w) override {
    if (w.seen != Seen::Received) ws_written(w);
    if (w.seen != Seen::Written) ws_read(w);
  }
  void hung_up(std::uint64_t conn, Sender side, std::int64_t t) override;
  void closed(std::uint64_t conn, std::int64_t) override { conns_.erase(conn); }
  void finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) override;

 private:
  struct Ignorable {  // the last frame or message a side read that it must ignore
    Sender from = Sender::Client;
    std::int64_t t = 0;
    bool exact = false;  // read time and hang-up time are the reader's own (the simulator)
    std::string_view rule;
    std::string what;
  };
  bool exact(Seen seen) const { return exact_read(seen, options_); }
  struct State {
    std::optional<Ignorable> ignorable;
    std::deque<std::pair<Bytes, std::int64_t>> pings;  // client WebSocket Pings, unanswered
    std::optional<std::int64_t> client_close;          // the client's WebSocket Close
  };

  void written(const FrameRecord& r, const DecodedFrame& d);
  void read(const FrameRecord& r, const DecodedFrame& d);
  void ws_written(const WsRecord& w);
  void ws_read(const WsRecord& w);
  void spoke(std::uint64_t conn, Sender from, std::int64_t t);

  static std::string undecodable(const Bytes& frame) {
    return "{\"msg_type\":" + std::to_string(frame.empty() ? 0 : frame[0]) +
           ",\"undecodable\":true}";
  }
  static std::string ws_json(const WsRecord& w) {
    return "{\"ws\":\"" + std::string(ws_kind_name(w.kind)) +
           "\",\"bytes\":" + std::to_string(w.payload.size()) + "}";
  }

  const CheckerOptions& options_;
  std::vector<RuleDecl> rules_;
  std::map<std::uint64_t, State> conns_;
};

void FramingJudge::written(const FrameRecord& r, const DecodedFrame& d) {
  spoke(r.conn, r.from, r.t);
  Findings found = d.findings;
  if (d.message) validate(*d.message, r.from, found, 0);
  if (r.from == Sender::Server && d.message && std::holds_alternative<DeltaPush>(*d.message)) {
    // validate() judges a DeltaPush by the client's rules (DELTA-1/2); the
    // server's own (§5.3.6: mutation_id 0, empty delta, checksum 0 allowed)
    // are DELTA-17, judged by the delta judge (D74).
    std::erase_if(found,
                  [](const Finding& f) { return f.rule == "DELTA-1" || f.rule == "DELTA-2"; });
  }
  if (found.empty()) return;
  const std::string json = d.message ? json_of(*d.message) : undecodable(r.frame);
  const char* side = r.from == Sender::Client ? "client frame: " : "server frame: ";
  for (auto& f : found) report(f.rule, f.level, side + f.message, r.t, r.conn, json);
}

// A frame its receiver must ignore (FRAME-3, FRAME-10) or accept as it is
// (ENC-11): remembered until the receiver writes or hangs up.
void FramingJudge::read(const FrameRecord& r, const DecodedFrame& d) {
  const std::uint8_t code = r.frame.empty() ? 0 : r.frame[0];
  // A header over the limit or a cut frame ends the connection by right (FRAME-8/9).
  if (std::any_of(d.findings.begin(), d.findings.end(), [](const Finding& f) {
        return f.problem == Problem::FrameTooLarge || f.problem == Problem::Truncated;
      }))
    return;
  std::string_view rule;
  if (r.frame.size() >= kFrameHeaderSize && !is_known_code(code)) {
    rule = "FRAME-3";
  } else if (!d.message || has_must(d.findings)) {  // outside the envelope: undecodable
    rule = "FRAME-10";
  } else if (std::any_of(d.findings.begin(), d.findings.end(), [](const Finding& f) {
               return f.problem == Problem::NonMinimalHeader ||
                      f.problem == Problem::TrailingBodyBytes;
             })) {
    rule = "ENC-11";
  } else {
    // A good frame read since: a hang-up may answer it, not the one before.
    const auto it = conns_.find(r.conn);
    if (it != conns_.end() && it->second.ignorable && it->second.ignorable->from == r.from)
      it->second.ignorable.reset();
    return;
  }
  conns_[r.conn].ignorable =
      Ignorable{r.from, r.t, exact(r.seen), rule, "a frame of code " + std::to_string(code)};
}

// A side that writes a frame kept the connection after what it read.
void FramingJudge::spoke(std::uint64_t conn, Sender from, std::int64_t) {
  const auto it = conns_.find(conn);
  if (it != conns_.end() && it->second.ignorable && it->second.ignorable->from != from)
    it->second.ignorable.reset();
}

// FRAME-4/6/7/9: what the sender put in one WebSocket message.
void FramingJudge::ws_written(const WsRecord& w) {
  const char* side = w.from == Sender::Client ? "client " : "server ";
  const std::string size = std::to_string(w.payload.size());
  const MessageFrame m = frame_of_message(w.payload);
  if (w.kind == WsKind::Text) {
    if (m.kind == MessageFrame::Kind::Frame && is_known_code(m.header.msg_type))
      report("FRAME-7", Level::Must, side + std::string("sent a sync frame in a text message"), w.t,
             w.conn, ws_json(w));
    return;
  }
  if (w.kind != WsKind::Binary) return;
  spoke(w.conn, w.from, w.t);
  if (m.kind == MessageFrame::Kind::TooLarge) {
    report("FRAME-9", Level::Must, side + std::string("message declares a frame over 16 MiB"), w.t,
           w.conn, ws_json(w));
  } else if (m.kind == MessageFrame::Kind::Short) {
    report("FRAME-4", Level::Must,
           side + ("binary message of " + size + " bytes does not hold a whole frame"), w.t, w.conn,
           ws_json(w));
  } else if (m.trailing > 0) {
    const auto rest = std::span(w.payload).subspan(w.payload.size() - m.trailing);
    if (frame_of_message(rest).kind == MessageFrame::Kind::Frame) {
      report("FRAME-4", Level::Must,
             side + ("binary message of " + size + " bytes holds more than one frame"), w.t, w.conn,
             ws_json(w));
    } else {
      report("FRAME-6", Level::Should,
             side + ("binary message has " + std::to_string(m.trailing) + " bytes after its frame"),
             w.t, w.conn, ws_json(w));
    }
  }
  // FRAME-12: a server still sending sync frames well after the client's Close.
  State& s = conns_[w.conn];
  if (w.from == Sender::Server && s.client_close &&
      w.t - *s.client_close > options_.hangup_window_ns) {
    report("FRAME-12", Level::Must,
           "the server sent a sync frame " + ms_text(w.t - *s.client_close) +
               " after the client's WebSocket Close: it did not end the session",
           w.t, w.conn, ws_json(w));
    s.client_close.reset();
  }
}

// What the receiver got: messages it must ignore (FRAME-5, FRAME-7), and the
// control frames FRAME-12 makes the server answer.
void FramingJudge::ws_read(const WsRecord& w) {
  State& s = conns_[w.conn];
  const bool client = w.from == Sender::Client;
  switch (w.kind) {
    case WsKind::Binary:
      if (frame_of_message(w.payload).kind == MessageFrame::Kind::Short)
        s.ignorable = Ignorable{w.from, w.t, exact(w.seen), "FRAME-5", "a short binary message"};
      break;
    case WsKind::Text:
      s.ignorable = Ignorable{w.from, w.t, exact(w.seen), "FRAME-7", "a text message"};
      break;
    case WsKind::Ping:
      if (!client) break;
      s.pings.emplace_back(w.payload, w.t);
      if (s.pings.size() > kMaxPings) s.pings.pop_front();
      break;
    case WsKind::Pong: {
      if (client) break;
      // A Pong may answer only the latest of several Pings (RFC 6455 5.5.3).
      const auto it = std::find_if(s.pings.begin(), s.pings.end(),
                                   [&](const auto& p) { return p.first == w.payload; });
      if (it != s.pings.end()) s.pings.erase(s.pings.begin(), it + 1);
      break;
    }
    case WsKind::Close:
      if (client && !s.client_close) s.client_close = w.t;
      break;
  }
}

void FramingJudge::hung_up(std::uint64_t conn, Sender side, std::int64_t t) {
  const auto it = conns_.find(conn);
  if (it == conns_.end() || !it->second.ignorable) return;
  const Ignorable ig = *it->second.ignorable;
  it->second.ignorable.reset();
  // The simulator's reader hangs up in the instant it reads; a tap sees both late.
  if (ig.from == side || !hung_up_on_it(ig.t, ig.exact, t, options_)) return;
  report(ig.rule, Level::Must,
         std::string(side == Sender::Client ? "the client" : "the server") + " hung up " +
             ms_text(t - ig.t) + " after reading " + ig.what +
             " it must ignore, having written nothing since",
         t, conn, "");
}

void FramingJudge::finish(std::uint64_t conn, std::int64_t t, std::int64_t cutoff) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  State& s = it->second;
  if (!s.pings.empty() && s.pings.front().second <= cutoff) {
    report("FRAME-12", Level::Must, "a WebSocket Ping of the client was never answered with a Pong",
           t, conn, "");
    s.pings.clear();
  }
  if (s.client_close && *s.client_close <= cutoff) {
    report("FRAME-12", Level::Must,
           "the session did not end after the client's WebSocket Close (" +
               ms_text(t - *s.client_close) + " ago)",
           t, conn, "");
    s.client_close.reset();
  }
}

}  // namespace

std::unique_ptr<Judge> make_framing_judge(const JudgeDeps& d) {
  return std::make_unique<FramingJudge>(d);
}

}  // namespace syncsim::conformance
