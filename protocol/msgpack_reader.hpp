// A bounds-checked MessagePack token reader that keeps what a schema decoder
// needs to judge a body against the zerompk profile (PROTOCOL.md §3): the exact
// marker byte, its offset, and whether the header was minimal. msgpack-cxx's
// object model discards markers and offsets, so decoding reads tokens here;
// encoding uses msgpack-cxx's packer (codec.cpp).
//
// The reader never allocates and never reads past its input; every token
// consumes at least one byte, so a loop over tokens ends.
#pragma once

#include <cstddef>
#include <cstdint>

namespace syncsim::protocol {

enum class MpFamily : unsigned char {
  Nil,
  Bool,
  Uint,   // positive fixint, cc, cd, ce, cf
  Int,    // negative fixint, d0, d1, d2, d3 (value may be non-negative)
  Float,  // ca, cb
  Str,    // fixstr, d9, da, db
  Bin,    // c4, c5, c6
  Array,  // fixarray, dc, dd
  Map,    // fixmap, de, df
  Ext,    // d4-d8, c7-c9
  Never,  // c1
};

struct MpToken {
  MpFamily family = MpFamily::Nil;
  std::uint8_t marker = 0;
  std::size_t offset = 0;              // of the marker byte
  std::uint64_t u = 0;                 // Uint value
  std::int64_t i = 0;                  // Int value
  bool boolean = false;                // Bool value
  std::uint32_t length = 0;            // Str/Bin/Ext byte length, Array elements, Map pairs
  const std::uint8_t* data = nullptr;  // Str/Bin/Ext payload
  bool minimal = true;                 // smallest header of its family for this value
};

class MpReader {
 public:
  MpReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  // Reads the next token. Returns false when the input ends inside it;
  // position() is then unchanged.
  bool next(MpToken& t);

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return size_ - pos_; }
  bool at_end() const { return pos_ == size_; }
  // The next marker byte without consuming it, or -1 at the end.
  int peek() const { return pos_ < size_ ? data_[pos_] : -1; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace syncsim::protocol
