// A run as a packet capture: the frames each side wrote become the payload
// of TCP segments between made-up hosts, so Wireshark, tshark or tcpdump open
// a simulated run like a real one (and the dissector in wireshark/ decodes it).
//
// Hosts: the server is 10.0.0.1, the clients 10.0.1.1, 10.0.1.2, ... in order
// of appearance. Ports: a connection id of the reference runtimes is
// (min port << 16 | max port) (D53); the lower is taken as the server's. Any
// other id gets the server port of PcapOptions and client port 40000 + id.
// Each connection opens with a three-way handshake just before its first
// frame and ends with FIN/ACK when the trace says its last end closed (a
// frame written after that is still shown); every segment is acknowledged. Frames larger than the
// MSS are cut into several segments. Timestamps: nanosecond pcap, the run's t = 0 at
// `unix_epoch_ns`.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "conformance/checker/session_checker.hpp"

namespace syncsim::conformance::report {

struct PcapOptions {
  std::int64_t unix_epoch_ns = 1'750'000'000'000'000'000;  // the simulator's default epoch
  std::uint16_t server_port = 9091;                        // FRAME-14: raw TCP
  std::uint32_t mss = 1460;
};

struct PcapInput {
  std::vector<FrameRecord> frames;                  // Received records are skipped
  std::map<std::uint64_t, std::int64_t> closed_at;  // connection -> when its last end closed
  std::map<std::uint64_t, std::string> clients;     // connection -> client name
};

// Writes the capture; false when the stream failed. Returns the number of
// frames written in `frames_out` when given.
bool write_pcap(std::ostream& out, const PcapInput& in, const PcapOptions& o = {},
                std::size_t* frames_out = nullptr);

}  // namespace syncsim::conformance::report
