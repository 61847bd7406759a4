// The HTML report: one file, no fetches. Summary and filters at the top
// (the script reads #verdict=FAIL&rule=DELTA-9 from the address too), then
// one section per case with its notes, findings, an SVG sequence diagram
// (faults drawn on it) and the wire log with findings inline.
#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <set>

#include "conformance/report/markup.hpp"
#include "conformance/report/report.hpp"

namespace syncsim::conformance::report {

namespace {

std::string esc(std::string_view s) { return escape_markup(s); }

std::string seconds(std::int64_t ns) {
  if (ns < 0) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.6f", static_cast<double>(ns) / 1e9);  // display only
  return b;
}

std::string slug(std::string_view s) {
  std::string o = "case-";
  for (const char ch : s) {
    const bool ok =
        (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    o += ok ? ch : '-';
  }
  return o;
}

std::string verdict_class(std::string_view v) {
  std::string o = "v-";
  for (const char ch : v) o += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  return o;
}

std::string level_text(const CheckFinding& f) {
  return std::string(protocol::level_name(f.finding.level));
}

const char* kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:0 24px 48px;color:#1d2330;background:#fafbfc}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:17px;margin:0}
code,pre,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.facts{color:#555;margin:4px 0 12px}.facts span{margin-right:16px}
.bar{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0}
.pill{padding:3px 10px;border-radius:12px;font-weight:600;color:#fff;font-size:12px}
.v-pass{background:#2e7d32}.v-fail{background:#c62828}.v-xfail{background:#6a1b9a}
.v-xpass{background:#ef6c00}.v-timeout{background:#ad1457}.v-unsupported{background:#757575}
.v-unreachable{background:#4e342e}.v-deviation{background:#00838f}
#filters{position:sticky;top:0;background:#fafbfc;padding:8px 0;border-bottom:1px solid #ddd;z-index:2}
#filters label{margin-right:12px}#filters input[type=text]{width:160px}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:top}
#index td,#index th{border-bottom:1px solid #eee}
section.case{background:#fff;border:1px solid #dde;border-radius:6px;margin:14px 0;padding:0 12px}
section.case>details>summary{cursor:pointer;padding:10px 0;display:flex;gap:10px;align-items:center}
.notes li{color:#b71c1c}.repro{background:#f3f4f8;padding:6px;border-radius:4px}
.wire td{border-bottom:1px solid #f0f0f0;white-space:nowrap}.wire td.d{white-space:normal;word-break:break-all}
.wire tr.lost td{color:#c62828}.wire tr.duplicate td{color:#ef6c00}.wire tr.reordered td{color:#6a1b9a}
.wire tr.altered td{color:#795548}.wire tr.event td{background:#fff8e1}
.wire tr.finding td{background:#ffebee;color:#b71c1c;white-space:normal}
.fate{font-weight:600}.muted{color:#888}
svg.seq{background:#fff;border:1px solid #eee;margin:8px 0;max-width:100%}
.hidden{display:none}
)";

// Filters: verdict checkboxes, a rule ID box, "with findings only"; the
// address's #verdict=A,B&rule=X&findings=1 sets them on load (&open=1 opens
// every case, &open=0 closes them).
const char* kScript = R"(
(function(){
  var cases=[].slice.call(document.querySelectorAll('section.case'));
  var boxes=[].slice.call(document.querySelectorAll('#filters input.verdict'));
  var rule=document.getElementById('rule'),only=document.getElementById('only-findings');
  var shown=document.getElementById('shown');
  function apply(){
    var want={};boxes.forEach(function(b){if(b.checked)want[b.value]=1;});
    var r=rule.value.trim().toUpperCase(),n=0;
    cases.forEach(function(c){
      var ok=want[c.dataset.verdict]===1;
      if(ok&&r){ok=(' '+c.dataset.rules+' ').indexOf(' '+r)>=0;}
      if(ok&&only.checked){ok=c.dataset.findings!=='0';}
      c.classList.toggle('hidden',!ok);
      var row=document.getElementById('row-'+c.id);if(row)row.classList.toggle('hidden',!ok);
      if(ok)n++;
    });
    shown.textContent='showing '+n+' of '+cases.length+' case(s)';
    shown.dataset.count=n;
  }
  var h=location.hash.replace(/^#/,'');
  if(h.indexOf('=')>0){
    h.split('&').forEach(function(kv){
      var p=kv.split('='),k=p[0],v=decodeURIComponent(p[1]||'');
      if(k==='verdict'){var set=v.toUpperCase().split(',');boxes.forEach(function(b){b.checked=set.indexOf(b.value)>=0;});}
      if(k==='rule')rule.value=v;
      if(k==='findings')only.checked=v==='1';
      if(k==='open')[].forEach.call(document.querySelectorAll('section.case>details'),function(d){d.open=v==='1';});
    });
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  rule.addEventListener('input',apply);only.addEventListener('change',apply);
  apply();
  document.body.dataset.ready='1';
})();
)";

// ---- the sequence diagram ------------------------------------------------------

struct Diagram {
  const ReportCase& c;
  const ReportLimits& limits;

  void write(std::ostream& out) const {
    const auto& lanes = c.lifelines;
    if (lanes.empty()) return;
    // The rows drawn: the first frames (and the events among them).
    std::vector<const WireRow*> drawn;
    std::size_t arrows = 0;
    bool truncated = false;
    for (const auto& r : c.rows) {
      if (r.kind == WireRow::Kind::Frame && arrows++ >= limits.arrows_per_diagram) {
        truncated = true;
        break;
      }
      drawn.push_back(&r);
    }
    // Times unknown (live cases): the row order is the time.
    const bool timed =
        std::any_of(drawn.begin(), drawn.end(), [](const WireRow* r) { return r->sent_ns >= 0; });
    auto when = [&](const WireRow* r, bool read) -> std::int64_t {
      if (!timed) return static_cast<std::int64_t>(r - c.rows.data());
      return read && r->read_ns >= 0 ? r->read_ns : std::max<std::int64_t>(r->sent_ns, 0);
    };
    // Every send, read, event and finding gets its own row, in time order
    // (ties: sends before their reads, frames before findings), so frames
    // of the same instant do not draw over each other.
    using Point = std::pair<std::int64_t, std::size_t>;  // (time, tie order)
    std::vector<Point> points;
    const auto send_point = [&](std::size_t i) { return Point{when(drawn[i], false), 2 * i}; };
    const auto read_point = [&](std::size_t i) { return Point{when(drawn[i], true), 2 * i + 1}; };
    for (std::size_t i = 0; i < drawn.size(); ++i) {
      points.push_back(send_point(i));
      if (drawn[i]->read_ns >= 0 || !timed) points.push_back(read_point(i));
    }
    std::int64_t last = 0;
    for (const auto& p : points) last = std::max(last, p.first);
    std::vector<std::pair<const CheckFinding*, Point>> marks;
    for (const auto& f : c.findings) {
      if (timed && f.t <= last && marks.size() < 50) {
        marks.push_back({&f, Point{f.t, 2 * drawn.size() + marks.size()}});
        points.push_back(marks.back().second);
      }
    }
    std::sort(points.begin(), points.end());
    std::map<Point, int> y_of;
    int y = 56;
    for (const auto& p : points) {
      y_of[p] = y;
      y += 18;
    }
    const int height = y + 24, lane_gap = 240;
    const int width = 160 + lane_gap * static_cast<int>(lanes.size() - 1);
    auto x_of = [&](const std::string& name) {
      const auto it = std::find(lanes.begin(), lanes.end(), name);
      return 80 + lane_gap * static_cast<int>(it == lanes.end() ? 0 : it - lanes.begin());
    };
    out << "<svg class=\"seq\" role=\"img\" aria-label=\"sequence diagram\" width=\"" << width
        << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << ' ' << height << "\">\n"
        << "<defs><marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" "
           "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" "
           "fill=\"context-stroke\"/></marker></defs>\n";
    for (const auto& l : lanes) {
      const int x = x_of(l);
      out << "<rect x=\"" << x - 60
          << "\" y=\"8\" width=\"120\" height=\"26\" rx=\"4\" "
             "fill=\"#e8eaf6\" stroke=\"#5c6bc0\"/><text x=\""
          << x << "\" y=\"26\" text-anchor=\"middle\" font-size=\"13\">" << esc(l)
          << "</text><line x1=\"" << x << "\" y1=\"34\" x2=\"" << x << "\" y2=\"" << height - 8
          << "\" stroke=\"#9fa8da\" stroke-dasharray=\"4 3\"/>\n";
    }
    for (std::size_t i = 0; i < drawn.size(); ++i) {
      const WireRow* r = drawn[i];
      if (r->kind == WireRow::Kind::Event) {
        const int ey = y_of[send_point(i)];
        out << "<g class=\"ev\"><line x1=\"10\" y1=\"" << ey << "\" x2=\"" << width - 10
            << "\" y2=\"" << ey
            << "\" stroke=\"#f9a825\" stroke-width=\"2\" stroke-dasharray=\"6 3\"/><text x=\"12\" "
               "y=\""
            << ey - 3 << "\" font-size=\"11\" fill=\"#e65100\">" << esc(r->name) << ' '
            << esc(r->from) << "</text><title>" << esc(r->name + " " + r->from + " " + r->detail)
            << "</title></g>\n";
        continue;
      }
      const int x1 = x_of(r->from), x2 = x_of(r->to);
      const int y1 = y_of[send_point(i)];
      const bool lost = r->fate == "lost";
      const int y2 = lost ? y1 + 8 : (r->read_ns >= 0 || !timed ? y_of[read_point(i)] : y1);
      const char* colour = lost                     ? "#c62828"
                           : r->fate == "duplicate" ? "#ef6c00"
                           : r->fate == "reordered" ? "#6a1b9a"
                           : r->fate == "altered"   ? "#795548"
                                                    : "#37474f";
      // A lost frame stops a third of the way, short of any lifeline between.
      const int xe = lost ? x1 + (x2 - x1) / 3 : x2;
      const int ye = lost ? y1 + 4 : y2;
      out << "<g class=\"msg" << (r->fate.empty() ? "" : " " + r->fate) << "\"><line x1=\"" << x1
          << "\" y1=\"" << y1 << "\" x2=\"" << xe << "\" y2=\"" << ye << "\" stroke=\"" << colour
          << "\" stroke-width=\"1.4\""
          << (r->fate == "duplicate" ? " stroke-dasharray=\"5 3\"" : "")
          << (lost ? "" : " marker-end=\"url(#ah)\"") << "/>";
      if (lost) {
        out << "<text x=\"" << xe << "\" y=\"" << ye + 5
            << "\" text-anchor=\"middle\" font-size=\"14\" fill=\"#c62828\">&#x2715;</text>";
      }
      const int lx = x1 < x2 ? x1 + 6 : x1 - 6;
      out << "<text x=\"" << lx << "\" y=\"" << y1 - 3 << "\" font-size=\"11\" text-anchor=\""
          << (x1 < x2 ? "start" : "end") << "\" fill=\"" << colour << "\">" << esc(r->name)
          << (r->fate.empty() || r->fate == "tap" ? ""
              : lost                              ? " to " + esc(r->to) + " (lost)"
                                                  : " (" + r->fate + ")")
          << "</text><title>" << esc(seconds(r->sent_ns) + " " + r->name + " " + r->detail)
          << "</title></g>\n";
    }
    // A client finding is marked on the lifeline of its connection's client.
    std::map<std::uint64_t, std::string> client_of;
    for (const auto& r : c.rows) {
      if (r.kind == WireRow::Kind::Frame && !r.to.empty())
        client_of.emplace(r.conn, r.from == lanes.back() ? r.to : r.from);
    }
    for (const auto& [f, at] : marks) {
      const auto it = client_of.find(f->conn);
      const auto blamed = f->blamed == protocol::Sender::Server || it == client_of.end()
                              ? lanes.back()
                              : it->second;
      out << "<g class=\"finding-mark\"><circle cx=\"" << x_of(blamed) << "\" cy=\"" << y_of[at]
          << "\" r=\"6\" fill=\"#c62828\"/><text x=\"" << x_of(blamed) + 9 << "\" y=\""
          << y_of[at] + 4 << "\" font-size=\"11\" fill=\"#c62828\">"
          << esc(std::string(f->finding.rule)) << "</text><title>" << esc(format_check_finding(*f))
          << "</title></g>\n";
    }
    if (truncated) {
      out << "<text x=\"10\" y=\"" << height - 6 << "\" font-size=\"11\" fill=\"#888\">first "
          << limits.arrows_per_diagram << " frames drawn; the wire log below goes on</text>\n";
    }
    out << "</svg>\n";
  }
};

void write_finding_row(std::ostream& out, const CheckFinding& f) {
  out << "<tr class=\"finding\"><td class=\"mono\">" << seconds(f.t) << "</td><td colspan=\"5\">"
      << "<b>" << esc(std::string(f.finding.rule)) << " (" << level_text(f) << ")</b> conn "
      << f.conn << ": " << esc(f.finding.message);
  if (!f.frame.empty() || !f.context.empty()) {
    out << "<details><summary>frame and the " << f.context.size() << " before it</summary><pre>";
    for (const auto& c : f.context) out << esc(c) << "\n";
    out << "<b>" << esc(f.frame) << "</b></pre></details>";
  }
  out << "</td></tr>\n";
}

void write_wire_log(std::ostream& out, const ReportCase& c) {
  // Findings go after the last row sent at or before their time; findings
  // of untimed cases (and past the log's end) go after the last row.
  const bool timed =
      std::any_of(c.rows.begin(), c.rows.end(), [](const WireRow& r) { return r.sent_ns >= 0; });
  std::vector<const CheckFinding*> findings;
  for (const auto& f : c.findings) findings.push_back(&f);
  std::stable_sort(findings.begin(), findings.end(),
                   [](const CheckFinding* a, const CheckFinding* b) { return a->t < b->t; });
  std::size_t next = 0;
  out << "<table class=\"wire\"><thead><tr><th>sent s</th><th>read s</th><th>from</th><th>to</th>"
         "<th>message</th><th>decoded</th></tr></thead><tbody>\n";
  for (std::size_t i = 0; i < c.rows.size(); ++i) {
    const auto& r = c.rows[i];
    if (timed) {
      while (next < findings.size() && r.sent_ns >= 0 && findings[next]->t < r.sent_ns)
        write_finding_row(out, *findings[next++]);
    }
    const bool event = r.kind == WireRow::Kind::Event;
    out << "<tr class=\"" << (event ? "event" : r.fate) << "\"><td class=\"mono\">"
        << seconds(r.sent_ns) << "</td><td class=\"mono\">"
        << (event              ? ""
            : r.fate == "lost" ? "lost"
                               : seconds(r.read_ns))
        << "</td><td>" << esc(r.from) << "</td><td>" << esc(event ? "" : r.to) << "</td><td>"
        << esc(r.name);
    if (!r.fate.empty() && r.fate != "tap")
      out << " <span class=\"fate\">" << esc(r.fate) << "</span>";
    out << "</td><td class=\"d mono\">" << esc(r.detail) << "</td></tr>\n";
  }
  while (next < findings.size()) write_finding_row(out, *findings[next++]);
  if (c.rows_omitted > 0) {
    out << "<tr><td colspan=\"6\" class=\"muted\">" << c.rows_omitted
        << " more row(s) not shown (the report keeps the first of each case)</td></tr>\n";
  }
  out << "</tbody></table>\n";
}

void write_case(std::ostream& out, const ReportCase& c, const ReportLimits& limits) {
  std::set<std::string> rules;
  if (!c.rule.empty()) rules.insert(c.rule);
  std::size_t must = 0;
  for (const auto& f : c.findings) {
    rules.insert(std::string(f.finding.rule));
    must += f.finding.level == protocol::Level::Must;
  }
  std::string rule_list;
  for (const auto& r : rules) rule_list += (rule_list.empty() ? "" : " ") + r;
  // Open: what needs reading (failures, and caught bugs with their findings).
  const bool open = (c.verdict != "PASS" && c.verdict != "UNSUPPORTED") || must > 0;
  out << "<section class=\"case\" id=\"" << slug(c.id) << "\" data-verdict=\"" << esc(c.verdict)
      << "\" data-rules=\"" << esc(rule_list) << "\" data-findings=\"" << c.findings.size()
      << "\">\n<details" << (open ? " open" : "") << "><summary><span class=\"pill "
      << verdict_class(c.verdict) << "\">" << esc(c.verdict) << "</span><h2>" << esc(c.title)
      << "</h2>";
  if (!c.rule.empty()) out << "<code>" << esc(c.rule) << "</code>";
  out << "<span class=\"muted\">" << c.frames << " frames, " << c.findings.size() << " finding(s), "
      << must << " MUST</span></summary>\n";
  if (!c.notes.empty()) {
    out << "<ul class=\"notes\">";
    for (const auto& n : c.notes) out << "<li>" << esc(n) << "</li>";
    out << "</ul>\n";
  }
  if (!c.reproduce.empty())
    out << "<div class=\"repro mono\">reproduce: " << esc(c.reproduce) << "</div>\n";
  if (!c.has_log) {
    out << "<p class=\"muted\">wire log left out: the report keeps the logs of the first runs "
           "of each scenario and of every failure, up to its bound</p>\n";
  } else {
    Diagram{c, limits}.write(out);
    write_wire_log(out, c);
  }
  out << "</details>\n</section>\n";
}

}  // namespace

void write_html(std::ostream& out, const Report& report, const ReportLimits& limits) {
  std::map<std::string, std::size_t> counts;
  for (const auto& c : report.cases) counts[c.verdict]++;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width\"><title>"
      << esc(report.title) << "</title><style>" << kStyle << "</style></head><body>\n"
      << "<h1>" << esc(report.title) << "</h1>\n<div class=\"facts\">";
  if (!report.command.empty()) out << "<span class=\"mono\">" << esc(report.command) << "</span>";
  for (const auto& [k, v] : report.facts)
    out << "<span>" << esc(k) << ": <b>" << esc(v) << "</b></span>";
  out << "</div>\n<div class=\"bar\" id=\"summary\">";
  for (const auto& [v, n] : counts) {
    out << "<span class=\"pill " << verdict_class(v) << "\" data-verdict=\"" << esc(v) << "\">"
        << esc(v) << " " << n << "</span>";
  }
  out << "<span>" << report.cases.size() << " case(s)</span></div>\n<div id=\"filters\">";
  for (const auto& [v, n] : counts) {
    out << "<label><input type=\"checkbox\" class=\"verdict\" value=\"" << esc(v) << "\" checked> "
        << esc(v) << "</label>";
  }
  out << "<label>rule <input type=\"text\" id=\"rule\" placeholder=\"e.g. DELTA-9\"></label>"
         "<label><input type=\"checkbox\" id=\"only-findings\"> with findings only</label>"
         "<span id=\"shown\" class=\"muted\"></span></div>\n";
  out << "<table id=\"index\"><thead><tr><th>case</th><th>verdict</th><th>rule</th>"
         "<th>frames</th><th>findings</th></tr></thead><tbody>\n";
  for (const auto& c : report.cases) {
    out << "<tr id=\"row-" << slug(c.id) << "\"><td><a href=\"#" << slug(c.id) << "\">"
        << esc(c.title) << "</a></td><td><span class=\"pill " << verdict_class(c.verdict) << "\">"
        << esc(c.verdict) << "</span></td><td><code>" << esc(c.rule) << "</code></td><td>"
        << c.frames << "</td><td>" << c.findings.size() << "</td></tr>\n";
  }
  out << "</tbody></table>\n";
  for (const auto& c : report.cases) write_case(out, c, limits);
  out << "<script>" << kScript << "</script>\n</body></html>\n";
}

}  // namespace syncsim::conformance::report
