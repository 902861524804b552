// 8-bit PNG files written by hand for the image tests: stored (uncompressed) deflate blocks, so
// any colour type can be written (OpenCV cannot write palette or grey + alpha PNGs) and the
// decoded pixels must match exactly. Shared by folder_test.cpp and images_test.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace crest::test_png {

inline std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const unsigned char byte : bytes) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline void put_be32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xFF);
}

inline void put_chunk(std::string& out, const std::string& type, const std::string& data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  out += type + data;
  put_be32(out, crc32(type + data));
}

// A PNG of `color_type` (0 grey, 2 RGB, 3 palette, 4 grey + alpha) from interleaved 8-bit
// `samples` (`channels` per pixel), with a PLTE chunk when `palette` is given.
inline std::string encode_png(int width, int height, int color_type, int channels,
                              const std::vector<std::uint8_t>& samples,
                              const std::string& palette = "") {
  std::string raw;  // each row: filter type 0, then the samples
  for (int y = 0; y < height; ++y) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(samples.data()) +
                   static_cast<std::size_t>(y * width * channels),
               static_cast<std::size_t>(width * channels));
  }
  std::string zlib = "\x78\x01";
  for (std::size_t pos = 0; pos < raw.size() || pos == 0; pos += 65535) {
    const std::size_t len = std::min<std::size_t>(65535, raw.size() - pos);
    zlib += static_cast<char>(pos + len >= raw.size() ? 1 : 0);  // stored block, final flag
    zlib += static_cast<char>(len & 0xFF);
    zlib += static_cast<char>(len >> 8);
    zlib += static_cast<char>(~len & 0xFF);
    zlib += static_cast<char>((~len >> 8) & 0xFF);
    zlib += raw.substr(pos, len);
  }
  std::uint32_t a = 1;
  std::uint32_t b = 0;
  for (const unsigned char byte : raw) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  put_be32(zlib, (b << 16) | a);
  std::string header;
  put_be32(header, static_cast<std::uint32_t>(width));
  put_be32(header, static_cast<std::uint32_t>(height));
  header += '\x08';  // bit depth
  header += static_cast<char>(color_type);
  header += std::string(3, '\0');  // compression, filter, interlace
  std::string png = "\x89PNG\r\n\x1a\n";
  put_chunk(png, "IHDR", header);
  if (!palette.empty()) put_chunk(png, "PLTE", palette);
  put_chunk(png, "IDAT", zlib);
  put_chunk(png, "IEND", "");
  return png;
}

}  // namespace crest::test_png
